//! API metrics (see `docs/metrics.md`).

use std::sync::LazyLock;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use prometheus::{register_int_counter_vec, IntCounterVec};

static REQUESTS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "rtcgate_api_requests_total",
        "API requests by route template and HTTP status code.",
        &["route", "status"]
    )
    .expect("invariant: the metric is registered once, under a unique name")
});

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
