//! SIP transport metrics (see `docs/metrics.md`). Labels have small fixed value sets.

use std::sync::LazyLock;

use prometheus::{register_int_counter_vec, register_int_gauge, IntCounterVec, IntGauge};

use crate::endpoint::EndpointEvent;
use crate::transaction::Transport;

fn counter(name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    register_int_counter_vec!(name, help, labels)
        .expect("invariant: each metric is registered once, under a unique name")
}

static RECEIVED: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter(
        "rtcgate_sip_messages_received_total",
        "SIP messages received, by transport and kind (request, response, malformed).",
        &["transport", "kind"],
    )
});

static ANSWERED: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter(
        "rtcgate_sip_responses_sent_total",
        "Final responses the gateway sent to requests it received, by status class (2xx…6xx).",
        &["class"],
    )
});

static MALFORMED: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter(
        "rtcgate_sip_malformed_total",
        "Malformed SIP input, by transport and outcome (answered_400, answered_505, dropped, framing).",
        &["transport", "outcome"],
    )
});

static TRANSACTION_FAILURES: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter(
        "rtcgate_sip_transaction_failures_total",
        "Transactions that timed out or hit a transport error.",
        &["kind"],
    )
});

static TCP_CONNECTIONS: LazyLock<IntGauge> = LazyLock::new(|| {
    register_int_gauge!("rtcgate_sip_tcp_connections", "Open SIP TCP connections.")
        .expect("invariant: registered once, under a unique name")
});

static TCP_REFUSED: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter(
        "rtcgate_sip_tcp_connections_closed_total",
        "SIP TCP connections closed by the gateway, by reason (limit, idle, framing).",
        &["reason"],
    )
});

/// Registers every SIP metric so each appears from the first scrape.
pub(crate) fn init() {
    LazyLock::force(&RECEIVED);
    LazyLock::force(&ANSWERED);
    LazyLock::force(&MALFORMED);
    LazyLock::force(&TRANSACTION_FAILURES);
    LazyLock::force(&TCP_CONNECTIONS);
    LazyLock::force(&TCP_REFUSED);
}

fn transport_label(t: Transport) -> &'static str {
    match t {
        Transport::Udp => "udp",
        Transport::Tcp => "tcp",
        Transport::Tls => "tls",
        Transport::Ws => "ws",
        Transport::Wss => "wss",
    }
}

/// Counts one endpoint event that came from a message on `transport`.
pub(crate) fn record(transport: Transport, event: &EndpointEvent) {
    let t = transport_label(transport);
    match event {
        EndpointEvent::Malformed { answered } => {
            RECEIVED.with_label_values(&[t, "malformed"]).inc();
            let outcome = match answered {
                Some(505) => "answered_505",
                Some(_) => "answered_400",
                None => "dropped",
            };
            MALFORMED.with_label_values(&[t, outcome]).inc();
        }
        EndpointEvent::Request { .. } => RECEIVED.with_label_values(&[t, "request"]).inc(),
        EndpointEvent::Response { .. } => RECEIVED.with_label_values(&[t, "response"]).inc(),
        EndpointEvent::Answered { status } => {
            let class = ["1xx", "2xx", "3xx", "4xx", "5xx", "6xx"]
                .get(usize::from(status / 100).saturating_sub(1))
                .copied()
                .unwrap_or("other");
            ANSWERED.with_label_values(&[class]).inc();
        }
        EndpointEvent::TransactionFailed => TRANSACTION_FAILURES.with_label_values(&["any"]).inc(),
    }
}

/// A stream that could not be framed.
pub(crate) fn framing_error(transport: Transport) {
    RECEIVED
        .with_label_values(&[transport_label(transport), "malformed"])
        .inc();
    MALFORMED
        .with_label_values(&[transport_label(transport), "framing"])
        .inc();
}

pub(crate) fn tcp_opened() {
    TCP_CONNECTIONS.inc();
}

pub(crate) fn tcp_closed() {
    TCP_CONNECTIONS.dec();
}

pub(crate) fn tcp_closed_by_us(reason: &'static str) {
    TCP_REFUSED.with_label_values(&[reason]).inc();
}
