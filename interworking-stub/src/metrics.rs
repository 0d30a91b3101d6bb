//! API metrics (see `docs/metrics.md`).

use std::sync::LazyLock;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use prometheus::{register_int_counter_vec, register_int_gauge, IntCounterVec, IntGauge};

static REQUESTS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "rtcgate_api_requests_total",
        "API requests by route template and HTTP status code.",
        &["route", "status"]
    )
    .expect("invariant: the metric is registered once, under a unique name")
});

static SOCKETS: LazyLock<IntGauge> = LazyLock::new(|| {
    register_int_gauge!(
        "rtcgate_api_websocket_channels_open",
        "WebSocket connections open on notification channels."
    )
    .expect("invariant: the metric is registered once, under a unique name")
});

static DELIVERED: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "rtcgate_api_events_delivered_total",
        "CloudEvents delivered, by transport (websocket, sink).",
        &["transport"]
    )
    .expect("invariant: the metric is registered once, under a unique name")
});

static FAILED: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "rtcgate_api_events_failed_total",
        "CloudEvents that could not be delivered, by transport (websocket, sink).",
        &["transport"]
    )
    .expect("invariant: the metric is registered once, under a unique name")
});

/// How an event left the gateway (the `transport` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transport {
    /// A text frame on a notification channel's socket.
    WebSocket,
    /// A POST to an event subscription's sink.
    Sink,
}

impl Transport {
    fn label(self) -> &'static str {
        match self {
            Transport::WebSocket => "websocket",
            Transport::Sink => "sink",
        }
    }
}

/// Counts one event delivered (`true`) or given up on (`false`) over `transport`.
pub(crate) fn event_sent(transport: Transport, delivered: bool) {
    let counter = if delivered { &DELIVERED } else { &FAILED };
    counter.with_label_values(&[transport.label()]).inc();
}

/// Holds `rtcgate_api_websocket_channels_open` up by one while it lives.
#[derive(Debug)]
pub(crate) struct OpenSocket(());

impl OpenSocket {
    /// A socket was accepted.
    pub(crate) fn open() -> Self {
        SOCKETS.inc();
        OpenSocket(())
    }
}

impl Drop for OpenSocket {
    fn drop(&mut self) {
        SOCKETS.dec();
    }
}

/// The route template a response was produced by, carried from inside routing (where
/// axum knows it) out to [`count_request`] (which also sees 404s and drain refusals).
#[derive(Debug, Clone)]
struct RouteLabel(String);

/// Route layer: tags the response with the matched route template.
pub(crate) async fn tag_route(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned());
    let mut response = next.run(req).await;
    if let Some(route) = route {
        response.extensions_mut().insert(RouteLabel(route));
    }
    response
}

/// Outermost layer: counts every request under its route template (never the raw path,
/// which carries ids), so the label set stays bounded. Requests that matched no route,
/// or were refused before routing, count as `unmatched`.
pub(crate) async fn count_request(req: Request, next: Next) -> Response {
    let response = next.run(req).await;
    let route = response
        .extensions()
        .get::<RouteLabel>()
        .map_or("unmatched", |r| r.0.as_str());
    REQUESTS
        .with_label_values(&[route, response.status().as_str()])
        .inc();
    response
}

/// Registers the metrics that are otherwise registered on first use, so they are exported
/// (at 0) from the start.
pub(crate) fn register() {
    LazyLock::force(&REQUESTS);
    LazyLock::force(&SOCKETS);
    for transport in [Transport::WebSocket, Transport::Sink] {
        DELIVERED.with_label_values(&[transport.label()]);
        FAILED.with_label_values(&[transport.label()]);
    }
}
