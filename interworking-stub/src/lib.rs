//! # interworking-stub — the JSON side of rtcgate
//!
//! ```text
//!   web app ── REST (CAMARA-style) ──┐
//!   web app ── WebSocket channel ────┼──► api router ──► B2BUA commands (sip-proxy)
//!                                    │         ▲
//!   CloudEvents sinks ◄──────────────┘         └── call events (JSON) ◄── sip-proxy
//! ```
//!
//! Entry point: [`router`] builds the axum router the binary serves on the API listener.
//! Every request passes the drain gate (new work refused with 503 + Retry-After while the
//! node drains) and is counted in `rtcgate_api_requests_total`. Errors leave through
//! [`ApiError`], the one place that maps them to HTTP status and CAMARA `ErrorInfo`.
#![warn(missing_docs)]

mod error;
mod metrics;

pub use error::{ApiError, ErrorInfo};

use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use tokio::sync::watch;

/// What the API needs from the process around it.
#[derive(Debug, Clone)]
pub struct ApiOptions {
    /// True while the node drains.
    pub draining: watch::Receiver<bool>,
    /// Seconds a refused client is told to wait.
    pub retry_after_secs: u32,
}

/// The API router: routes, drain gate, request metrics.
pub fn router(opts: ApiOptions) -> Router {
    // The registration, call-handling, events and channel routes are added here by their
    // modules, each wrapped in `route_layer(metrics::tag_route)` so its template is counted.
    Router::new()
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(opts, drain_gate))
        .layer(middleware::from_fn(metrics::count_request))
}

async fn not_found() -> ApiError {
    ApiError::NotFound("no such resource".into())
}

/// While draining, requests that would start new work (POST, PUT: new registrations,
/// calls, channels, refreshes) are refused with 503 + Retry-After. GET and DELETE still
/// pass, so clients can read state and hang up.
async fn drain_gate(State(opts): State<ApiOptions>, req: Request, next: Next) -> Response {
    let starts_work = matches!(*req.method(), Method::POST | Method::PUT | Method::PATCH);
    if starts_work && *opts.draining.borrow() {
        return ApiError::Unavailable {
            message: "the gateway is draining; retry on another node".into(),
            retry_after_secs: opts.retry_after_secs,
        }
        .into_response();
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::{header, StatusCode};
    use tower::ServiceExt;

    fn app(draining: bool) -> (Router, watch::Sender<bool>) {
        let (tx, rx) = watch::channel(draining);
        (
            router(ApiOptions {
                draining: rx,
                retry_after_secs: 11,
            }),
            tx,
        )
    }

    fn req(method: Method) -> Request {
        Request::builder()
            .method(method)
            .uri("/webrtc-call-handling/v0.3/sessions")
            .body(Body::empty())
            .unwrap()
    }

    #[tokio::test]
    async fn draining_refuses_new_work_with_retry_after() {
        let (app, tx) = app(false);
        let before = app.clone().oneshot(req(Method::POST)).await.unwrap();
        assert_ne!(before.status(), StatusCode::SERVICE_UNAVAILABLE);

        tx.send_replace(true);
        let refused = app.clone().oneshot(req(Method::POST)).await.unwrap();
        assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(refused.headers()[header::RETRY_AFTER], "11");
        let body = axum::body::to_bytes(refused.into_body(), 1 << 16)
            .await
            .unwrap();
        let info: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(info["code"], "UNAVAILABLE");
        assert_eq!(info["status"], 503);

        // Hanging up and reading state still work while draining.
        let delete = app.clone().oneshot(req(Method::DELETE)).await.unwrap();
        assert_ne!(delete.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
}
