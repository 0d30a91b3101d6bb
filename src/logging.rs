//! `tracing` set-up: text or JSON lines, per-module levels, reload on SIGHUP.

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{reload, EnvFilter, Registry};

use crate::config::{LogConfig, LogFormat};

/// Changes the log filter of the running process.
pub(crate) struct LogHandle(reload::Handle<EnvFilter, Registry>);

impl LogHandle {
    /// Replaces the filter (`info,sip_proxy=debug`).
    pub(crate) fn set_level(&self, level: &str) -> Result<(), String> {
        let filter = EnvFilter::try_new(level).map_err(|e| e.to_string())?;
        self.0.reload(filter).map_err(|e| e.to_string())
    }
}

/// Installs the global subscriber. Logs go to stdout; a supervisor (systemd, a container
/// runtime) collects them.
pub(crate) fn init(cfg: &LogConfig) -> Result<LogHandle, String> {
    let filter = EnvFilter::try_new(&cfg.level).map_err(|e| e.to_string())?;
    let (filter, handle) = reload::Layer::new(filter);
    let registry = tracing_subscriber::registry().with(filter);
    let result = match cfg.format {
        LogFormat::Text => registry
            .with(tracing_subscriber::fmt::layer().with_ansi(false))
            .try_init(),
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(false),
            )
            .try_init(),
    };
    result.map_err(|e| e.to_string())?;
    media_plane::redact::set_enabled(cfg.redact);
    Ok(LogHandle(handle))
}
