//! The admin listener: `/metrics`, `/healthz`, `/readyz`, `POST /admin/drain`.
//!
//! It binds the loopback by default and has no authentication of its own: expose it only
//! to the monitoring network (see `docs/operations.md`).

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

use crate::lifecycle::Lifecycle;

/// The admin router.
pub(crate) fn router(lifecycle: Arc<Lifecycle>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/admin/drain", post(drain))
        .with_state(lifecycle)
}

async fn metrics(State(lifecycle): State<Arc<Lifecycle>>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        crate::metrics::render(&lifecycle),
    )
}

async fn healthz() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

async fn readyz(State(lifecycle): State<Arc<Lifecycle>>) -> impl IntoResponse {
    match lifecycle.readiness() {
        Ok(()) => (StatusCode::OK, Json(json!({ "status": "ready" }))),
        Err(reasons) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "not ready", "reasons": reasons })),
        ),
    }
}

/// Starts a drain; the drain itself is run by the main task, which watches the flag.
async fn drain(State(lifecycle): State<Arc<Lifecycle>>) -> impl IntoResponse {
    let started = lifecycle.start_drain();
    if started {
        tracing::info!(source = "admin", "drain started");
    }
    (
        StatusCode::ACCEPTED,
        Json(
            json!({ "status": "draining", "already_draining": !started, "active": lifecycle.active() }),
        ),
    )
}
