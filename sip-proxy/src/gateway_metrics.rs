//! Call and registration metrics of the [`crate::gateway::GatewayUser`] (see
//! `docs/metrics.md`). Label values come from small fixed sets: CAMARA status names,
//! registration states and event kinds; never numbers, addresses or call ids.
//!
//! Updating a process-wide counter is the one side effect the gateway user has besides
//! its outputs; it reads no clock and touches no socket, so the core stays sans-IO.

use std::sync::LazyLock;

use prometheus::{
    register_int_counter_vec, register_int_gauge, register_int_gauge_vec, IntCounterVec, IntGauge,
    IntGaugeVec,
};

use crate::call::CallEvent;
use crate::registration::{RegEvent, REGISTRATION_STATES};

static CALLS_STARTED: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "rtcgate_calls_started_total",
        "Calls started, by direction (outgoing: web to IMS; incoming: IMS to web).",
        &["direction"]
    )
    .expect("invariant: registered once, under a unique name")
});

static CALL_STATUS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "rtcgate_call_status_total",
        "Call status changes reported to the web side, by CAMARA status.",
        &["status"]
    )
    .expect("invariant: registered once, under a unique name")
});

static CALLS_ACTIVE: LazyLock<IntGauge> = LazyLock::new(|| {
    register_int_gauge!(
        "rtcgate_calls_active",
        "Calls the call core holds now (set up, ringing or connected)."
    )
    .expect("invariant: registered once, under a unique name")
});

static REG_EVENTS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "rtcgate_registration_events_total",
        "Registration outcomes toward the P-CSCF, by event (registered, failed, ended).",
        &["event"]
    )
    .expect("invariant: registered once, under a unique name")
});

static REGISTRATIONS: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    register_int_gauge_vec!(
        "rtcgate_registrations",
        "Numbers the registration client holds, by state (registering, registered, refreshing, deregistering).",
        &["state"]
    )
    .expect("invariant: registered once, under a unique name")
});

/// Registers every metric so each appears from the first scrape.
pub(crate) fn init() {
    LazyLock::force(&CALLS_STARTED);
    LazyLock::force(&CALL_STATUS);
    LazyLock::force(&CALLS_ACTIVE);
    LazyLock::force(&REG_EVENTS);
    LazyLock::force(&REGISTRATIONS);
}

/// A call the web side placed was accepted by the core.
pub(crate) fn outgoing_started() {
    CALLS_STARTED.with_label_values(&["outgoing"]).inc();
}

/// Counts one call event.
pub(crate) fn call_event(event: &CallEvent) {
    match event {
        CallEvent::Incoming { .. } => CALLS_STARTED.with_label_values(&["incoming"]).inc(),
        CallEvent::Status { status, .. } => {
            CALL_STATUS.with_label_values(&[status.as_str()]).inc();
        }
    }
}

/// Counts one registration event.
pub(crate) fn registration_event(event: &RegEvent) {
    let kind = match event {
        RegEvent::Registered { .. } => "registered",
        RegEvent::Failed { .. } => "failed",
        RegEvent::Ended { .. } => "ended",
    };
    REG_EVENTS.with_label_values(&[kind]).inc();
}

/// Sets the gauges from the core's current state; `registrations` in
/// [`REGISTRATION_STATES`] order.
pub(crate) fn set_active(calls: usize, registrations: [usize; 4]) {
    CALLS_ACTIVE.set(i64::try_from(calls).unwrap_or(i64::MAX));
    for (state, n) in REGISTRATION_STATES.into_iter().zip(registrations) {
        REGISTRATIONS
            .with_label_values(&[state])
            .set(i64::try_from(n).unwrap_or(i64::MAX));
    }
}
