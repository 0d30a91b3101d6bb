//! # rtcgate — the binary's library: CLI, config, lifecycle, admin listener
//!
//! ```text
//!   CLI ─► config (TOML + RTCGATE_* env) ─► logging ─► listeners ─► signal / drain loop
//!                                                      │
//!            admin (metrics, health, drain) ◄──────────┤
//!            api (interworking-stub router) ◄──────────┘
//! ```
//!
//! Exit status: 0 after a clean stop (drain finished), 1 when the node cannot start
//! (a port is taken) or a drain had to abandon work, 2 for an invalid config, 130 when a
//! second SIGTERM/SIGINT cut a drain short.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod admin;
pub mod config;
mod gateway;
pub mod lifecycle;
mod logging;
mod metrics;
mod web;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};
use tokio::net::TcpListener;
use tokio::signal::unix::{signal, SignalKind};

use crate::config::Config;
use crate::lifecycle::{DrainOutcome, DrainTimes, Lifecycle};

/// Default config path, relative to the working directory.
const DEFAULT_CONFIG: &str = "config/rtcgate.toml";

/// How long subsystems get to end calls once the drain deadline has passed.
const END_GRACE: Duration = Duration::from_secs(5);

/// The command line.
#[derive(Debug, Parser)]
#[command(
    name = "rtcgate",
    about = "WebRTC to IMS gateway",
    disable_version_flag = true
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gateway.
    Run {
        /// The config file.
        #[arg(long, short, default_value = DEFAULT_CONFIG)]
        config: PathBuf,
    },
    /// Validate a config file and print the effective config (secrets masked).
    CheckConfig {
        /// The config file.
        #[arg(default_value = DEFAULT_CONFIG)]
        path: PathBuf,
    },
    /// Print the version.
    Version,
}

/// Parses `std::env::args` and runs it.
pub fn main() -> ExitCode {
    main_with(Cli::parse())
}

/// Runs the command line: what `main` does.
pub fn main_with(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Version => {
            println!("rtcgate {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Command::CheckConfig { path } => match load_config(&path) {
            Ok(cfg) => {
                print!("{}", cfg.to_masked_toml());
                eprintln!("rtcgate: {} is valid", path.display());
                ExitCode::SUCCESS
            }
            Err(code) => code,
        },
        Command::Run { config } => match load_config(&config) {
            Ok(cfg) => run(cfg, config),
            Err(code) => code,
        },
    }
}

fn load_config(path: &Path) -> Result<Config, ExitCode> {
    config::load(path, std::env::vars()).map_err(|e| {
        eprintln!("rtcgate: invalid config: {e}");
        ExitCode::from(2)
    })
}

fn run(cfg: Config, config_path: PathBuf) -> ExitCode {
    let log = match logging::init(&cfg.log) {
        Ok(handle) => handle,
        Err(e) => {
            eprintln!("rtcgate: cannot set up logging: {e}");
            return ExitCode::from(2);
        }
    };
    metrics::init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(serve(cfg, config_path, log))
}

async fn bind(name: &'static str, addr: SocketAddr) -> Result<TcpListener, ExitCode> {
    match TcpListener::bind(addr).await {
        Ok(listener) => {
            let local = listener.local_addr().unwrap_or(addr);
            // Our own listening addresses are configuration, not personal data: not redacted.
            tracing::info!(listener = name, addr = %local, "listening");
            Ok(listener)
        }
        Err(e) => {
            tracing::error!(listener = name, addr = %addr, error = %e, "cannot bind");
            Err(ExitCode::FAILURE)
        }
    }
}

async fn serve(cfg: Config, config_path: PathBuf, log: logging::LogHandle) -> ExitCode {
    let lifecycle = Arc::new(Lifecycle::new());
    lifecycle.register("admin");
    lifecycle.register("api");
    lifecycle.register("sip");
    lifecycle.register("media");

    // Signals first, so a SIGTERM during start-up is not the default (instant) death.
    let mut signals = match Signals::new() {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot install signal handlers");
            return ExitCode::FAILURE;
        }
    };

    // Files named by the config are read before anything binds: a bad one is a config
    // error (exit 2) with nothing left listening.
    let sip_tls = match (cfg.sip.tls_listen, &cfg.sip.tls_cert, &cfg.sip.tls_key) {
        (Some(listen), Some(cert), Some(key)) => {
            match sip_proxy::transport::tls::server_config(cert, key) {
                Ok(config) => Some(sip_proxy::transport::TlsListener { listen, config }),
                Err(e) => {
                    eprintln!("rtcgate: invalid config: sip.tls_cert / sip.tls_key: {e}");
                    return ExitCode::from(2);
                }
            }
        }
        _ => None,
    };
    let sip_tls_client = match tls_client(&cfg) {
        Ok(client) => client,
        Err(e) => {
            eprintln!("rtcgate: invalid config: sip.tls_ca / sip.tls_client_cert / sip.tls_client_key: {e}");
            return ExitCode::from(2);
        }
    };

    let admin_listener = match bind("admin", cfg.admin.listen).await {
        Ok(l) => l,
        Err(code) => return code,
    };
    let api_listener = match bind("api", cfg.api.listen).await {
        Ok(l) => l,
        Err(code) => return code,
    };

    let admin_app = admin::router(lifecycle.clone());
    tokio::spawn(async move {
        if let Err(e) = axum::serve(admin_listener, admin_app).await {
            tracing::error!(error = %e, "admin listener stopped");
        }
    });
    lifecycle.set_ready("admin", true);

    // The lab's bound address is the gateway's next hop in lab mode (its port may be 0).
    let mut cfg = cfg;
    if cfg.sip.mode == config::SipMode::Lab {
        match start_lab(&cfg, &lifecycle).await {
            Ok(bound) => cfg.lab.listen = bound,
            Err(e) => {
                tracing::error!(error = %e, "cannot start the lab IMS");
                return ExitCode::FAILURE;
            }
        }
    }

    let (engine, media_events) = match sip_proxy::media_engine::MediaEngine::start(
        media_engine_config(&cfg),
        tokio::runtime::Handle::current(),
    ) {
        Ok(started) => started,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the media plane");
            return ExitCode::FAILURE;
        }
    };
    for (kind, addr) in engine.backends().into_iter().zip(engine.web_addresses()) {
        metrics::MEDIA_BACKEND
            .with_label_values(&[kind.as_str()])
            .inc();
        tracing::info!(listener = "webrtc_media", addr = %addr, backend = kind.as_str(), "listening");
    }
    lifecycle.set_ready("media", true);

    let mut sip = sip_transport_config(&cfg, cfg.sip.udp_listen, cfg.sip.tcp_listen);
    sip.tls = sip_tls;
    sip.tls_client = sip_tls_client;
    let gw = match gateway::start(&cfg, sip, &lifecycle, seed(), engine, media_events).await {
        Ok(gw) => gw,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the SIP gateway");
            return ExitCode::FAILURE;
        }
    };
    log_bound("sip_udp", gw.listeners.udp);
    log_bound("sip_tcp", gw.listeners.tcp);
    log_bound("sip_tls", gw.listeners.tls);
    lifecycle.set_ready("sip", true);

    let api_app = web::routes().merge(interworking_stub::router_with_edge(
        api_options(&cfg, &lifecycle),
        Some(gw.link),
        channel_options(&cfg),
        edge_options(&cfg),
    ));
    // The source address feeds the per-address rate limit.
    let api_service = api_app.into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move {
        if let Err(e) = axum::serve(api_listener, api_service).await {
            tracing::error!(error = %e, "api listener stopped");
        }
    });
    lifecycle.set_ready("api", true);
    tracing::info!(version = env!("CARGO_PKG_VERSION"), mode = ?cfg.sip.mode, "rtcgate started");

    let times = DrainTimes {
        deadline: Duration::from_secs(cfg.admin.drain_deadline_secs),
        linger: Duration::from_secs(cfg.admin.drain_linger_secs),
        end_grace: END_GRACE,
    };
    let outcome = run_until_drained(&lifecycle, &mut signals, times, &config_path, &log).await;
    match outcome {
        DrainOutcome::Finished | DrainOutcome::EndedAtDeadline => {
            tracing::info!(outcome = ?outcome, "drained; exiting");
            ExitCode::SUCCESS
        }
        DrainOutcome::Abandoned { active } => {
            tracing::error!(
                active,
                "drain deadline passed with work still active; exiting"
            );
            ExitCode::FAILURE
        }
    }
}

/// Outbound TLS toward the next hop (RFC 3261 §26.3.1): the roots in `sip.tls_ca`, an
/// optional client certificate, and the name the next hop's certificate must carry
/// (`sip.tls_server_name`, else the host of `sip.next_hop`). `None` without `tls_ca`:
/// TLS targets are then refused by the transport.
fn tls_client(
    cfg: &Config,
) -> Result<Option<sip_proxy::transport::TlsClient>, sip_proxy::transport::tls::TlsError> {
    let Some(ca) = &cfg.sip.tls_ca else {
        return Ok(None);
    };
    let client_cert = cfg
        .sip
        .tls_client_cert
        .as_deref()
        .zip(cfg.sip.tls_client_key.as_deref());
    let config = sip_proxy::transport::tls::client_config(ca, client_cert)?;
    let server_name = cfg.sip.tls_server_name.clone().unwrap_or_else(|| {
        cfg.sip
            .next_hop
            .as_deref()
            .and_then(sip_proxy::resolve::NextHop::parse)
            .map_or_else(|| "localhost".to_owned(), |h| h.host)
    });
    Ok(Some(sip_proxy::transport::TlsClient {
        config,
        server_name,
    }))
}

fn log_bound(listener: &'static str, addr: Option<SocketAddr>) {
    if let Some(addr) = addr {
        tracing::info!(listener, addr = %addr, "listening");
    }
}

/// The in-process lab IMS: its echo RTP socket and its own SIP listener (UDP and TCP on
/// `lab.listen`), so SIP tools can register to it and call its numbers.
async fn start_lab(cfg: &Config, lifecycle: &Lifecycle) -> std::io::Result<SocketAddr> {
    let echo = sip_proxy::transport::start_echo(SocketAddr::new(cfg.lab.listen.ip(), 0)).await?;
    log_bound("lab_echo_rtp", Some(echo));
    let lab_config = sip_proxy::lab::LabConfig {
        echo_number: cfg.lab.echo_number.clone(),
        busy_number: cfg.lab.busy_number.clone(),
        decline_number: cfg.lab.decline_number.clone(),
        no_answer_number: cfg.lab.no_answer_number.clone(),
        echo_rtp: echo,
        answer_delay: Duration::from_millis(300),
        no_answer_after: Duration::from_secs(10),
        timers: sip_timers(cfg),
        local_host: cfg.lab.listen.to_string(),
    };
    let listen = Some(cfg.lab.listen);
    let transport = sip_transport_config(cfg, listen, listen);
    let seed = seed();
    let make_lab = |bound: &sip_proxy::transport::SipListeners| {
        // The Via the lab writes when it forwards names the port it really got.
        let local_host = bound
            .udp
            .map_or(lab_config.local_host.clone(), |a| a.to_string());
        sip_proxy::lab::LabIms::new(
            sip_proxy::lab::LabConfig {
                local_host,
                ..lab_config
            },
            seed,
        )
    };
    let (bound, _) =
        sip_proxy::transport::start(transport, lifecycle.draining_rx(), seed, make_lab).await?;
    log_bound("lab_udp", bound.udp);
    log_bound("lab_tcp", bound.tcp);
    Ok(bound.udp.or(bound.tcp).unwrap_or(cfg.lab.listen))
}

/// The API's options from `[api]` and `[api.auth]`.
fn api_options(cfg: &Config, lifecycle: &Lifecycle) -> interworking_stub::ApiOptions {
    use interworking_stub::auth::{IntrospectionOptions, JwtOptions};
    let a = &cfg.api.auth;
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    let auth = match a.mode {
        config::AuthKind::Dev => interworking_stub::AuthMode::Dev,
        config::AuthKind::Jwt => {
            let mut o = JwtOptions::new(text(&a.issuer), text(&a.audience));
            o.phone_claim = a.phone_claim.clone();
            o.discovery_url = a.discovery_url.clone();
            interworking_stub::AuthMode::Jwt(o)
        }
        config::AuthKind::Introspection => {
            let mut o = IntrospectionOptions::new(
                text(&a.introspection_url),
                text(&a.client_id),
                text(&a.client_secret),
            );
            o.phone_claim = a.phone_claim.clone();
            interworking_stub::AuthMode::Introspection(o)
        }
    };
    interworking_stub::ApiOptions {
        draining: lifecycle.draining_rx(),
        retry_after_secs: cfg.api.retry_after_secs,
        // Dev tokens only while nobody but this machine can reach the API.
        dev_tokens: a.mode == config::AuthKind::Dev && cfg.api.listen.ip().is_loopback(),
        auth,
    }
}

/// The WebSocket channel's options from `[api]`.
fn channel_options(cfg: &Config) -> interworking_stub::ChannelOptions {
    interworking_stub::ChannelOptions {
        grace: Duration::from_secs(cfg.api.channel_grace_secs),
        public_url: cfg.api.public_url.clone(),
        ..Default::default()
    }
}

/// CORS and limits from `[api.cors]` and `[api.limits]`.
fn edge_options(cfg: &Config) -> interworking_stub::EdgeOptions {
    use interworking_stub::limits::{LimitOptions, Rate};
    let l = &cfg.api.limits;
    let rate = |burst: u32, per_second: f64| {
        (burst > 0 && per_second > 0.0).then_some(Rate { burst, per_second })
    };
    interworking_stub::EdgeOptions {
        cors: interworking_stub::cors::CorsOptions {
            allowed_origins: cfg.api.cors.allowed_origins.clone(),
            allow_same_origin: cfg.api.cors.allow_same_origin,
            max_age_secs: cfg.api.cors.max_age_secs,
        },
        limits: LimitOptions {
            max_registrations_per_user: l.max_registrations_per_user,
            max_registrations_per_device: l.max_registrations_per_device,
            max_calls_per_registration: l.max_calls_per_registration,
            per_token: rate(l.bearer_burst, l.bearer_rate_per_sec),
            per_address: rate(l.address_burst, l.address_rate_per_sec),
        },
    }
}

/// The media plane's settings from `[media]`.
fn media_engine_config(cfg: &Config) -> sip_proxy::media_engine::MediaEngineConfig {
    use media_plane::datapath::Backend;
    let workers = match cfg.media.workers {
        0 => std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get),
        n => n,
    };
    sip_proxy::media_engine::MediaEngineConfig {
        workers,
        backend: match cfg.media.backend {
            config::MediaBackend::Auto => Backend::Auto,
            config::MediaBackend::IoUring => Backend::IoUring,
            config::MediaBackend::Epoll => Backend::Epoll,
        },
        web_listen: cfg.media.webrtc_listen,
        web_public_ip: cfg.media.webrtc_public_ip,
        ims_ip: cfg.media.ims_address,
        ims_ports: cfg.media.ims_port_min..=cfg.media.ims_port_max,
        ims_srtp: cfg.media.ims_srtp,
        quarantine: Duration::from_secs(cfg.media.port_quarantine_secs),
        inactivity: Duration::from_secs(cfg.media.inactivity_secs),
        web_ports: match (
            cfg.media.webrtc_ports,
            cfg.media.webrtc_port_min,
            cfg.media.webrtc_port_max,
        ) {
            (config::WebrtcPorts::PerCall, Some(min), Some(max)) => {
                sip_proxy::media_engine::WebPorts::PerCall(min..=max)
            }
            _ => sip_proxy::media_engine::WebPorts::Shared,
        },
        ..Default::default()
    }
}

pub(crate) fn sip_timers(cfg: &Config) -> sip_proxy::transaction::TimerConfig {
    let ms = Duration::from_millis;
    sip_proxy::transaction::TimerConfig {
        t1: ms(cfg.sip.t1_ms),
        t2: ms(cfg.sip.t2_ms),
        t4: ms(cfg.sip.t4_ms),
    }
}

fn sip_transport_config(
    cfg: &Config,
    udp: Option<SocketAddr>,
    tcp: Option<SocketAddr>,
) -> sip_proxy::transport::TransportConfig {
    sip_proxy::transport::TransportConfig {
        udp,
        tcp,
        tls: None,
        tls_client: None,
        max_message_bytes: cfg.sip.max_message_bytes,
        max_tcp_connections: cfg.sip.max_tcp_connections,
        tcp_idle_timeout: Duration::from_secs(cfg.sip.tcp_idle_timeout_secs),
        endpoint: sip_proxy::endpoint::EndpointConfig {
            timers: sip_timers(cfg),
            retry_after_secs: cfg.api.retry_after_secs,
            server: "rtcgate".into(),
        },
    }
}

/// Seed for identifiers the sans-IO cores derive (tags): the clock's nanoseconds mixed
/// with the process id. Not a secret; uniqueness across restarts is what matters.
fn seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    nanos ^ (u64::from(std::process::id()) << 32)
}

struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> std::io::Result<Self> {
        Ok(Self {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
            hup: signal(SignalKind::hangup())?,
        })
    }
}

/// Waits for a drain (admin or signal), runs it, and returns how it ended. A second
/// SIGTERM or SIGINT exits at once; SIGHUP reloads the log level at any time.
async fn run_until_drained(
    lifecycle: &Lifecycle,
    signals: &mut Signals,
    times: DrainTimes,
    config_path: &Path,
    log: &logging::LogHandle,
) -> DrainOutcome {
    let mut draining = lifecycle.draining_rx();
    // Leave this loop as soon as a drain starts, so a second stop signal is seen by the
    // loop below (and exits at once) instead of being taken as another first one.
    loop {
        tokio::select! {
            _ = signals.term.recv() => break start_drain(lifecycle, "SIGTERM"),
            _ = signals.int.recv() => break start_drain(lifecycle, "SIGINT"),
            _ = signals.hup.recv() => reload_log_level(config_path, log),
            _ = draining.wait_for(|d| *d) => break,
        }
    }
    let drain = lifecycle.drain(times);
    tokio::pin!(drain);
    loop {
        tokio::select! {
            outcome = &mut drain => return outcome,
            _ = signals.term.recv() => exit_now("SIGTERM"),
            _ = signals.int.recv() => exit_now("SIGINT"),
            _ = signals.hup.recv() => reload_log_level(config_path, log),
        }
    }
}

fn start_drain(lifecycle: &Lifecycle, source: &str) {
    if lifecycle.start_drain() {
        tracing::info!(source, "drain started");
    }
}

fn exit_now(source: &str) -> ! {
    tracing::warn!(source, "second stop signal during drain; exiting now");
    std::process::exit(130);
}

/// SIGHUP: re-read `log.level` (file and environment) and apply it. Nothing else in the
/// config is reloaded; a bad file leaves the current level in place.
fn reload_log_level(config_path: &Path, log: &logging::LogHandle) {
    metrics::LOG_RELOADS.inc();
    match config::load(config_path, std::env::vars()) {
        Ok(cfg) => match log.set_level(&cfg.log.level) {
            Ok(()) => tracing::info!(level = %cfg.log.level, "log level reloaded"),
            Err(e) => tracing::warn!(error = %e, "log level not reloaded"),
        },
        Err(e) => tracing::warn!(error = %e, "log level not reloaded: config invalid"),
    }
}
