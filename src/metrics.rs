//! Node-level metrics and the Prometheus exposition (see `docs/metrics.md`).
//!
//! Every subsystem registers its metrics in the `prometheus` default registry; with the
//! crate's `process` feature that registry also carries the `process_*` collector (CPU
//! seconds, resident memory, open fds). `/metrics` encodes the whole registry.

use std::sync::LazyLock;

use prometheus::{
    register_int_counter, register_int_gauge, register_int_gauge_vec, Encoder, IntCounter,
    IntGauge, IntGaugeVec, TextEncoder,
};

use crate::lifecycle::Lifecycle;

/// `rtcgate_build_info{version, backend}`: always 1; the labels carry the facts.
static BUILD_INFO: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    register_int_gauge_vec!(
        "rtcgate_build_info",
        "Build facts of the running binary; the value is always 1.",
        &["version", "rustc_edition"]
    )
    .expect("invariant: registered once under a unique name")
});

static READY: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    register_int_gauge_vec!(
        "rtcgate_subsystem_ready",
        "1 when the subsystem has started, else 0.",
        &["subsystem"]
    )
    .expect("invariant: registered once under a unique name")
});

static DRAINING: LazyLock<IntGauge> = LazyLock::new(|| {
    register_int_gauge!("rtcgate_draining", "1 while the node drains, else 0.")
        .expect("invariant: registered once under a unique name")
});

static ACTIVE: LazyLock<IntGauge> = LazyLock::new(|| {
    register_int_gauge!(
        "rtcgate_drain_tracked_active",
        "Units of work (calls) a drain would wait for."
    )
    .expect("invariant: registered once under a unique name")
});

/// Counts SIGHUP log-level reloads.
pub(crate) static LOG_RELOADS: LazyLock<IntCounter> = LazyLock::new(|| {
    register_int_counter!(
        "rtcgate_log_reloads_total",
        "Log filter reloads (SIGHUP), successful or not; see the log for failures."
    )
    .expect("invariant: registered once under a unique name")
});

/// `rtcgate_media_workers{backend}`: media worker threads by the socket backend that runs
/// them (`io_uring` or `epoll`; `media.backend = auto` picks at start).
pub(crate) static MEDIA_BACKEND: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    register_int_gauge_vec!(
        "rtcgate_media_workers",
        "Media worker threads, by the socket backend that runs them (io_uring or epoll).",
        &["backend"]
    )
    .expect("invariant: registered once under a unique name")
});

/// Registers the node metrics so they appear from the first scrape.
pub(crate) fn init() {
    BUILD_INFO
        .with_label_values(&[env!("CARGO_PKG_VERSION"), "2021"])
        .set(1);
    LazyLock::force(&DRAINING);
    LazyLock::force(&ACTIVE);
    LazyLock::force(&LOG_RELOADS);
}

/// The Prometheus text exposition of every registered metric.
pub(crate) fn render(lifecycle: &Lifecycle) -> String {
    for (name, ready) in lifecycle.subsystems() {
        READY.with_label_values(&[name]).set(i64::from(ready));
    }
    DRAINING.set(i64::from(lifecycle.is_draining()));
    ACTIVE.set(i64::try_from(lifecycle.active()).unwrap_or(i64::MAX));
    let mut out = Vec::new();
    // Encoding into a Vec fails only on invalid metric families, which the registry
    // rejects at registration.
    if let Err(e) = TextEncoder::new().encode(&prometheus::gather(), &mut out) {
        tracing::error!(error = %e, "metrics encoding failed");
    }
    String::from_utf8(out).unwrap_or_default()
}
