//! The WebSocket notification channel (the 2023 CAMARA notification-channel model): a
//! device opens a channel, connects to its URL, and receives its CloudEvents as text
//! frames; it may also send REST operations over the socket as JSON commands.
//!
//! ```text
//!  POST /notificationchannel/v0.1/{deviceId}/channels {channelType: "WebSockets"}
//!       → 201 {channelId, channelType, channelData: {channelURL: "ws://…/{channelId}"}}
//!  GET  {channelURL}[?access_token=…][&last_seq=N]   (Upgrade: websocket)
//!       ◄── one CloudEvent per text frame, `channelseq` 1, 2, …
//!       ──► {"id": 7, "op": "PUT /webrtc-call-handling/v0.3/sessions/…/status",
//!            "headers": {…}?, "body": {…}?}
//!       ◄── {"id": 7, "status": 200, "body": {…}}
//!  DELETE /notificationchannel/v0.1/{deviceId}/channels/{channelId} → 204
//! ```
//!
//! A channel with no socket for the grace period (default 30 s) is closed, and the calls
//! its device can no longer follow are ended. A client that reconnects within the grace
//! period with `?last_seq=N` gets every frame after N the channel still holds (the last
//! 1024); without `last_seq`, the frames no socket of the channel was sent yet.
//!
//! The socket's access token is checked again at every ping (default every 20 s): once
//! it has expired or been revoked (RFC 6750 §3.1 `invalid_token`), or lost the
//! `notification-channel:read` scope, the gateway closes the socket with code 1008
//! (policy violation). The channel itself stays for its grace period, so the client
//! reconnects with a fresh token and `last_seq` and loses no event. An identity
//! provider that cannot be reached does not close the socket.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use tower::ServiceExt;

use crate::auth::{authorize, bearer, scope};
use crate::registration::identity;
use crate::{ApiError, ApiState, MAX_BODY};

/// Notification-channel and sink-delivery settings.
#[derive(Debug, Clone)]
pub struct ChannelOptions {
    /// How long a channel lives without a socket before it closes and its calls end.
    pub grace: Duration,
    /// How often the gateway pings each socket; a socket that has not answered the
    /// previous ping by the next one is closed.
    pub ping_interval: Duration,
    /// The `ws://` or `wss://` base of `channelURL` (`wss://api.example.net`); when unset,
    /// `ws://` and the request's `Host`.
    pub public_url: Option<String>,
    /// Delivery to event-subscription sinks (retries, backoff).
    pub delivery: crate::subscriptions::DeliveryOptions,
}

impl Default for ChannelOptions {
    fn default() -> Self {
        ChannelOptions {
            grace: Duration::from_secs(30),
            ping_interval: Duration::from_secs(20),
            public_url: None,
            delivery: Default::default(),
        }
    }
}

/// `POST …/channels` body.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreateBody {
    channel_type: String,
}

/// A URL path segment: unreserved characters (RFC 3986 §2.3) kept, the rest escaped.
fn path_segment(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The base of channel URLs for this request.
fn ws_base(state: &ApiState, headers: &HeaderMap) -> Result<String, ApiError> {
    if let Some(base) = &state.channels.public_url {
        return Ok(base.trim_end_matches('/').to_owned());
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let valid = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b));
    if !valid {
        return Err(ApiError::InvalidArgument("bad Host header".into()));
    }
    Ok(format!("ws://{host}"))
}

/// `POST /notificationchannel/v0.1/{deviceId}/channels`
pub(crate) async fn create(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(device_id): Path<String>,
    body: Result<Json<CreateBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let who = identity(&state, &headers, scope::CHANNEL_CREATE).await?;
    let Json(body) = body?;
    if body.channel_type != "WebSockets" {
        return Err(ApiError::InvalidArgument(
            "channelType must be WebSockets".into(),
        ));
    }
    if device_id.is_empty() || device_id.len() > 256 {
        return Err(ApiError::InvalidArgument(
            "deviceId must be 1 to 256 characters".into(),
        ));
    }
    let base = ws_base(&state, &headers)?;
    let (id, epoch) = state.hub.open(&who.phone_number, &device_id)?;
    spawn_grace(state.clone(), id.clone(), epoch);
    let url = format!(
        "{base}/notificationchannel/v0.1/{}/channels/{id}",
        path_segment(&device_id)
    );
    let out = json!({
        "channelId": id,
        "channelType": "WebSockets",
        "channelData": { "channelURL": url },
    });
    Ok((StatusCode::CREATED, Json(out)).into_response())
}

/// The caller's channel: 404 when unknown or of another device, 403 when another user's.
fn own_channel(
    state: &ApiState,
    device_id: &str,
    channel_id: &str,
    number: &str,
) -> Result<(), ApiError> {
    let channels = state.hub.lock();
    match channels.get(channel_id) {
        Some(c) if c.device_id != device_id => {
            Err(ApiError::NotFound("no such notification channel".into()))
        }
        Some(c) if c.number != number => Err(ApiError::PermissionDenied(
            "the channel belongs to another user".into(),
        )),
        Some(_) => Ok(()),
        None => Err(ApiError::NotFound("no such notification channel".into())),
    }
}

/// `DELETE /notificationchannel/v0.1/{deviceId}/channels/{channelId}`: the channel
/// closes (its sockets too); its calls go on.
pub(crate) async fn delete(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path((device_id, channel_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let who = identity(&state, &headers, scope::CHANNEL_DELETE).await?;
    own_channel(&state, &device_id, &channel_id, &who.phone_number)?;
    state.hub.lock().remove(&channel_id);
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The upgrade's query.
#[derive(Debug, Deserialize)]
pub(crate) struct ConnectQuery {
    access_token: Option<String>,
    last_seq: Option<u64>,
}

/// `GET {channelURL}`: the WebSocket upgrade, authenticated by the `Authorization` header
/// or (browsers cannot set headers on a WebSocket) the `access_token` query parameter.
pub(crate) async fn connect(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path((device_id, channel_id)): Path<(String, String)>,
    query: Result<Query<ConnectQuery>, QueryRejection>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let Query(query) =
        query.map_err(|e| ApiError::InvalidArgument(format!("bad query: {}", e.body_text())))?;
    let token = match (
        headers.contains_key(header::AUTHORIZATION),
        query.access_token,
    ) {
        (false, Some(t)) => t,
        _ => bearer(&headers)?.to_owned(),
    };
    let who = authorize(&state, &token, scope::CHANNEL_READ).await?;
    own_channel(&state, &device_id, &channel_id, &who.phone_number)?;
    let upgrade = upgrade.map_err(|e| {
        ApiError::InvalidArgument(format!("not a WebSocket upgrade: {}", e.body_text()))
    })?;
    Ok(upgrade
        .max_message_size(MAX_BODY)
        .on_upgrade(move |socket| serve(socket, state, channel_id, token, query.last_seq)))
}

/// Registers a socket on channel `id`; returns where its replay starts, or `None` when
/// the channel is gone.
fn attach(state: &ApiState, id: &str, last_seq: Option<u64>) -> Option<u64> {
    let mut channels = state.hub.lock();
    let c = channels.get_mut(id)?;
    c.sockets += 1;
    c.idle_since = None;
    Some(last_seq.unwrap_or(c.delivered))
}

/// A socket of channel `id` ended; the last one starts the grace period.
fn detach(state: &ApiState, id: &str) {
    let epoch = {
        let mut channels = state.hub.lock();
        let Some(c) = channels.get_mut(id) else {
            return;
        };
        c.sockets = c.sockets.saturating_sub(1);
        if c.sockets > 0 {
            return;
        }
        c.idle_epoch += 1;
        c.idle_since = Some(Instant::now());
        c.idle_epoch
    };
    spawn_grace(state.clone(), id.to_owned(), epoch);
}

/// After the grace period, closes channel `id` if it stayed without a socket since
/// `epoch`, and ends the calls its device can no longer follow.
fn spawn_grace(state: ApiState, id: String, epoch: u64) {
    tokio::spawn(async move {
        tokio::time::sleep(state.channels.grace).await;
        let expired = {
            let mut channels = state.hub.lock();
            match channels.get(&id) {
                Some(c) if c.sockets == 0 && c.idle_epoch == epoch => {
                    channels.remove(&id).map(|c| (c.number, c.device_id))
                }
                _ => None,
            }
        };
        if let (Some((number, device)), Some(calls)) = (expired, &state.calls) {
            tracing::info!(channel = %id, "notification channel expired");
            calls.end_calls_of(&number, &device);
        }
    });
}

/// RFC 6455 §7.4.1: 1008, policy violation — the close code when the socket's access
/// token is no longer good.
const TOKEN_NO_LONGER_GOOD: u16 = 1008;

/// The socket's loop: frames out as they come, commands in, pings (each of which
/// re-checks the access token).
async fn serve(
    mut socket: WebSocket,
    state: ApiState,
    id: String,
    token: String,
    last_seq: Option<u64>,
) {
    let (Some(mut sent), Some(mut latest)) =
        (attach(&state, &id, last_seq), state.hub.subscribe(&id))
    else {
        return;
    };
    let _open = crate::metrics::OpenSocket::open();
    let mut ping = tokio::time::interval(state.channels.ping_interval);
    ping.tick().await;
    let mut pong_due = false;
    'socket: loop {
        latest.borrow_and_update();
        let Some(frames) = state.hub.frames_after(&id, sent) else {
            break;
        };
        for (seq, text) in frames {
            let delivered = socket.send(Message::Text(text.into())).await.is_ok();
            crate::metrics::event_sent(crate::metrics::Transport::WebSocket, delivered);
            if !delivered {
                break 'socket;
            }
            sent = seq;
        }
        tokio::select! {
            changed = latest.changed() => if changed.is_err() {
                // The channel was deleted or expired.
                let _ = socket.send(Message::Close(None)).await;
                break;
            },
            msg = socket.recv() => match msg {
                Some(Ok(Message::Text(text))) => {
                    let reply = dispatch(&state, &token, text.as_str()).await;
                    if socket.send(Message::Text(reply.into())).await.is_err() {
                        break;
                    }
                }
                Some(Ok(Message::Pong(_))) => pong_due = false,
                // Pings are answered by the WebSocket layer; binary frames mean nothing.
                Some(Ok(Message::Ping(_) | Message::Binary(_))) => {}
                Some(Ok(Message::Close(_)) | Err(_)) | None => break,
            },
            _ = ping.tick() => {
                if pong_due {
                    tracing::info!(channel = %id, "no pong: closing the socket");
                    break;
                }
                if let Err(e @ (ApiError::Unauthenticated(_) | ApiError::PermissionDenied(_))) =
                    authorize(&state, &token, scope::CHANNEL_READ).await
                {
                    tracing::info!(channel = %id, reason = %e, "access token no longer good: closing the socket");
                    let close = CloseFrame {
                        code: TOKEN_NO_LONGER_GOOD,
                        reason: "the access token expired, was revoked or lost its scope".into(),
                    };
                    let _ = socket.send(Message::Close(Some(close))).await;
                    break;
                }
                pong_due = true;
                if socket.send(Message::Ping(Default::default())).await.is_err() {
                    break;
                }
            }
        }
    }
    detach(&state, &id);
}

/// A REST operation sent over the socket.
#[derive(Debug, Deserialize)]
struct SocketCommand {
    /// Echoed in the reply.
    id: Value,
    /// `"<METHOD> <path>"`, e.g. `"POST /webrtc-call-handling/v0.3/sessions"`.
    op: String,
    /// Extra request headers (`registrationId`).
    #[serde(default)]
    headers: HashMap<String, String>,
    body: Option<Value>,
}

/// Runs one JSON command through the router as the socket's user; the reply carries the
/// command's `id`, the HTTP status and the body.
async fn dispatch(state: &ApiState, token: &str, text: &str) -> String {
    let (id, response) = match serde_json::from_str::<SocketCommand>(text) {
        Ok(cmd) => {
            let id = cmd.id.clone();
            let response = match command_request(token, cmd) {
                Ok(req) => match state.router.get() {
                    Some(router) => match router.clone().oneshot(req).await {
                        Ok(r) => r,
                        Err(never) => match never {},
                    },
                    None => ApiError::Internal("the router is not ready".into()).into_response(),
                },
                Err(e) => e.into_response(),
            };
            (id, response)
        }
        Err(e) => (
            Value::Null,
            ApiError::InvalidArgument(format!("a command is {{id, op, headers?, body?}}: {e}"))
                .into_response(),
        ),
    };
    let status = response.status().as_u16();
    let body = match axum::body::to_bytes(response.into_body(), 1 << 20).await {
        Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        Err(_) => Value::Null,
    };
    json!({ "id": id, "status": status, "body": body }).to_string()
}

/// The HTTP request a command stands for, with the socket's token.
fn command_request(token: &str, cmd: SocketCommand) -> Result<Request<Body>, ApiError> {
    let bad = |why: &str| ApiError::InvalidArgument(format!("op: {why}"));
    let (method, path) = cmd
        .op
        .split_once(' ')
        .ok_or_else(|| bad("\"<METHOD> <path>\""))?;
    let method = Method::from_bytes(method.as_bytes()).map_err(|_| bad("unknown method"))?;
    if !path.starts_with('/') {
        return Err(bad("the path must start with /"));
    }
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header(header::AUTHORIZATION, format!("Bearer {token}"));
    for (name, value) in &cmd.headers {
        if !name.eq_ignore_ascii_case("authorization") {
            req = req.header(name.as_str(), value.as_str());
        }
    }
    let body = match cmd.body {
        Some(b) => {
            req = req.header(header::CONTENT_TYPE, "application/json");
            Body::from(b.to_string())
        }
        None => Body::empty(),
    };
    req.body(body)
        .map_err(|e| ApiError::InvalidArgument(format!("bad command: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_ids_are_escaped_in_channel_urls() {
        assert_eq!(path_segment("phone-1"), "phone-1");
        assert_eq!(path_segment("a b/c"), "a%20b%2Fc");
    }
}
