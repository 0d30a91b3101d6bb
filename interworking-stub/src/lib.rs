//! # interworking-stub — the JSON side of rtcgate
//!
//! ```text
//!   web app ── REST (CAMARA-style) ──┐
//!   web app ── WebSocket channel ────┼──► api router ──► calls ──► CallLink ──► GatewayCommand
//!                                    │         ▲                      │          (sip-proxy)
//!   CloudEvents sinks ◄──────────────┘         └── sessions ◄── link task ◄── GatewayEvent
//! ```
//!
//! Entry points: [`router`] builds the axum router the binary serves on the API listener;
//! [`router_with_calls`] (or [`router_with_channels`], to set the [`ChannelOptions`]) adds
//! call handling and notification channels through a [`CallLink`] started over the
//! gateway's user channels ([`CallLink::start`]); [`router_with_edge`] also sets the
//! [`EdgeOptions`] (CORS origins, rate limits, registration and call caps).
//!
//! | module | what |
//! | --- | --- |
//! | [`auth`] | bearer tokens, per-operation scopes; dev tokens (`POST /dev/token`), JWT/JWKS, RFC 7662 introspection |
//! | [`registration`] | `/webrtc-registration/v0.3/sessions` over an in-memory store |
//! | [`calls`] | `/webrtc-call-handling/v0.3/sessions`: create, read, status, delete |
//! | [`call_link`] | the task between the routes and the call core: correlation, sessions |
//! | [`events`] | CloudEvents (`session-invitation`, `session-status`, `registration-ends`) and the hub that routes them to channels |
//! | [`subscriptions`] | `/webrtc-events/v0.2/subscriptions`: CloudEvents POSTed to HTTP sinks, retries, 410 |
//! | [`channel`] | `/notificationchannel/v0.1`: WebSocket channels, replay by `channelseq`, grace period, JSON commands |
//! | `error` | [`ApiError`], the one mapping to HTTP status and CAMARA `ErrorInfo` |
//! | `edge` | [`EdgeOptions`] and the order of the layers in front of the routes |
//! | [`cors`] | allowed origins: preflights, `Access-Control-*`, the WebSocket `Origin` check |
//! | `correlator` | `x-correlator`: validated, echoed on every answer |
//! | [`limits`] | token buckets per token and per source address; registration and call caps |
//! | `openapi` | `GET /openapi.json`, the OpenAPI 3.0 description of every route |
//!
//! Every request passes CORS, the `x-correlator` check, the rate limits and the drain gate
//! (new work refused with 503 + Retry-After while the node drains), and is counted in
//! `rtcgate_api_requests_total`.
#![warn(missing_docs)]

pub mod auth;
pub mod call_link;
pub mod calls;
pub mod channel;
mod correlator;
pub mod cors;
mod edge;
mod error;
pub mod events;
pub mod limits;
mod metrics;
mod openapi;
pub mod registration;
pub mod subscriptions;

pub use auth::AuthMode;
pub use call_link::CallLink;
pub use channel::ChannelOptions;
pub use edge::EdgeOptions;
pub use error::{ApiError, ErrorInfo};

use std::sync::{Arc, OnceLock};

use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::Method;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use tokio::sync::watch;

use crate::auth::{Authenticator, DevTokens};
use crate::events::EventHub;
use crate::registration::RegistrationStore;
use crate::subscriptions::{DeliveryOptions, SubscriptionStore};

/// The largest request body (issue contract: over 256 KiB → 413).
pub(crate) const MAX_BODY: usize = 256 * 1024;

/// What the API needs from the process around it.
#[derive(Debug, Clone)]
pub struct ApiOptions {
    /// True while the node drains.
    pub draining: watch::Receiver<bool>,
    /// Seconds a refused client is told to wait.
    pub retry_after_secs: u32,
    /// Serve `POST /dev/token` (only ever true when the API listens on loopback).
    pub dev_tokens: bool,
    /// How bearer tokens are checked (dev tokens, JWT/JWKS or introspection).
    pub auth: AuthMode,
}

/// What every handler shares.
#[derive(Clone)]
pub struct ApiState {
    opts: ApiOptions,
    dev: Arc<DevTokens>,
    auth: Arc<dyn Authenticator>,
    registrations: Arc<RegistrationStore>,
    /// The call core, when this node serves calls.
    calls: Option<CallLink>,
    hub: Arc<EventHub>,
    channels: ChannelOptions,
    /// The router itself, for commands sent over a notification channel.
    router: Arc<OnceLock<Router>>,
    subscriptions: Arc<SubscriptionStore>,
    /// The HTTP client of sink deliveries.
    sinks: reqwest::Client,
    delivery: DeliveryOptions,
    /// Registration and call caps.
    limits: limits::LimitOptions,
}

/// The API router without call handling: the call routes answer 503 `UNAVAILABLE`.
pub fn router(opts: ApiOptions) -> Router {
    build(
        opts,
        None,
        ChannelOptions::default(),
        EdgeOptions::default(),
    )
}

/// The API router with call handling through `calls` (see [`CallLink::start`]) and
/// notification channels with the default [`ChannelOptions`].
pub fn router_with_calls(opts: ApiOptions, calls: CallLink) -> Router {
    build(
        opts,
        Some(calls),
        ChannelOptions::default(),
        EdgeOptions::default(),
    )
}

/// The API router with call handling and notification channels configured.
pub fn router_with_channels(opts: ApiOptions, calls: CallLink, channels: ChannelOptions) -> Router {
    build(opts, Some(calls), channels, EdgeOptions::default())
}

/// The API router with everything configured: call handling when `calls` is set (else
/// the call routes answer 503), notification channels, CORS and limits.
pub fn router_with_edge(
    opts: ApiOptions,
    calls: Option<CallLink>,
    channels: ChannelOptions,
    edge: EdgeOptions,
) -> Router {
    build(opts, calls, channels, edge)
}

/// Routes, drain gate, edge layers (CORS, correlator, rate limits), request metrics, body
/// limit.
fn build(
    opts: ApiOptions,
    calls: Option<CallLink>,
    channels: ChannelOptions,
    edge: EdgeOptions,
) -> Router {
    metrics::register();
    let dev = Arc::new(DevTokens::default());
    let (registrations, hub) = match &calls {
        Some(link) => (link.registrations(), link.hub()),
        None => Default::default(),
    };
    let state = ApiState {
        opts: opts.clone(),
        auth: auth::authenticator(&opts.auth, dev.clone()),
        dev,
        registrations,
        calls,
        hub,
        delivery: channels.delivery.clone(),
        channels,
        router: Arc::new(OnceLock::new()),
        subscriptions: Arc::new(SubscriptionStore::default()),
        sinks: reqwest::Client::new(),
        limits: edge.limits.clone(),
    };
    let slot = state.router.clone();
    let reg = "/webrtc-registration/v0.3/sessions";
    let call = "/webrtc-call-handling/v0.3/sessions";
    let chan = "/notificationchannel/v0.1";
    let subs = "/webrtc-events/v0.2/subscriptions";
    let app = Router::new()
        .route("/dev/token", post(dev_token))
        .route("/openapi.json", get(openapi::serve))
        .route(reg, post(registration::create).get(registration::list))
        .route(
            &format!("{reg}/{{registration_id}}"),
            get(registration::get)
                .put(registration::refresh)
                .delete(registration::delete),
        )
        .route(call, post(calls::create))
        .route(
            &format!("{call}/{{media_session_id}}"),
            get(calls::get).delete(calls::delete),
        )
        .route(
            &format!("{call}/{{media_session_id}}/status"),
            put(calls::update_status),
        )
        .route(
            &format!("{call}/{{media_session_id}}/dtmf"),
            post(calls::dtmf),
        )
        .route(
            &format!("{chan}/{{device_id}}/channels"),
            post(channel::create),
        )
        .route(
            &format!("{chan}/{{device_id}}/channels/{{channel_id}}"),
            get(channel::connect).delete(channel::delete),
        )
        .route(subs, post(subscriptions::create).get(subscriptions::list))
        .route(
            &format!("{subs}/{{subscription_id}}"),
            get(subscriptions::get).delete(subscriptions::delete),
        )
        .route_layer(middleware::from_fn(metrics::tag_route))
        .fallback(not_found)
        .with_state(state)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(middleware::from_fn_with_state(opts, drain_gate));
    let app = edge::wrap(app, &edge).layer(middleware::from_fn(metrics::count_request));
    // Only this function sets it, once.
    let _ = slot.set(app.clone());
    app
}

/// `POST /dev/token` body.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DevTokenBody {
    phone_number: String,
    scope: Option<String>,
}

/// `POST /dev/token {phoneNumber, scope?}` → `{access_token, token_type, expires_in}`.
async fn dev_token(
    State(state): State<ApiState>,
    body: Result<Json<DevTokenBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    if !state.opts.dev_tokens || !matches!(state.opts.auth, AuthMode::Dev) {
        return Err(ApiError::NotFound(
            "dev tokens are only issued on a loopback API in dev auth mode".into(),
        ));
    }
    let Json(body) = body?;
    if !auth::is_phone_number(&body.phone_number) {
        return Err(ApiError::InvalidArgument(
            "phoneNumber must be E.164 (+ and digits)".into(),
        ));
    }
    let scopes = auth::dev_scopes(body.scope.as_deref());
    let token = state.dev.issue(&body.phone_number, scopes)?;
    let lifetime = auth::DEV_TOKEN_LIFETIME.as_secs();
    Ok(Json(serde_json::json!({ "access_token": token, "token_type": "Bearer", "expires_in": lifetime })).into_response())
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
                dev_tokens: true,
                auth: AuthMode::Dev,
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
