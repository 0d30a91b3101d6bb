//! CAMARA event subscriptions (`/webrtc-events/v0.2/subscriptions`): the caller's events
//! POSTed as CloudEvents to an HTTP sink, with the `sinkCredential` bearer token.
//!
//! ```text
//!  POST   /subscriptions {protocol: "HTTP", sink, sinkCredential?, types,
//!                         config: {subscriptionDetail?: {deviceId?},
//!                                  subscriptionExpireTime?, subscriptionMaxEvents?}}
//!                                        → 201 Subscription (status ACTIVE)
//!  GET    /subscriptions                 → 200 [Subscription]
//!  GET    /subscriptions/{id}            → 200 Subscription
//!  DELETE /subscriptions/{id}            → 204, then `subscription-ended` to the sink
//!
//!  EventHub ── queue (1024) ──► delivery task ── POST sink (application/cloudevents+json,
//!       Authorization: Bearer <accessToken>) ── 2xx: next; 410: subscription ends;
//!       5xx, 408, 429, no answer: retried with doubling backoff; other 4xx: dropped
//! ```
//!
//! A subscription also ends when `subscriptionExpireTime` passes or after
//! `subscriptionMaxEvents` events; the sink then gets `subscription-ended` with the
//! `terminationReason`. Only `http://` sinks for now: TLS toward sinks is not built.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use tokio::sync::mpsc;

use crate::auth::{random_hex, scope};
use crate::events::{Audience, CloudEvent, EventType, Subscriber};
use crate::registration::identity;
use crate::{ApiError, ApiState};

/// Events queued per subscription before new ones are dropped.
const QUEUE: usize = 1024;
/// How long one POST to a sink may take.
const SINK_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// How the gateway delivers to sinks.
#[derive(Debug, Clone)]
pub struct DeliveryOptions {
    /// The wait before the first retry; it doubles per attempt (at most 30 s).
    pub retry_base: Duration,
    /// Attempts per event, the first included.
    pub attempts: u32,
}

impl Default for DeliveryOptions {
    fn default() -> Self {
        DeliveryOptions {
            retry_base: Duration::from_millis(500),
            attempts: 5,
        }
    }
}

/// CAMARA `SinkCredential` (only `ACCESSTOKEN` with a bearer token is accepted).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SinkCredential {
    credential_type: String,
    access_token: Option<String>,
    access_token_type: Option<String>,
}

/// `config` of the request.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Config {
    subscription_detail: Option<Detail>,
    subscription_expire_time: Option<String>,
    subscription_max_events: Option<u64>,
}

/// `config.subscriptionDetail`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Detail {
    device_id: Option<String>,
}

/// `POST` body (CAMARA `SubscriptionRequest`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreateBody {
    protocol: String,
    sink: String,
    sink_credential: Option<SinkCredential>,
    types: Vec<String>,
    #[serde(default)]
    config: Config,
}

/// A subscription as GET shows it.
#[derive(Debug, Clone)]
struct Record {
    owner: String,
    view: Value,
}

/// The subscriptions, in memory.
#[derive(Debug, Default)]
pub struct SubscriptionStore {
    by_id: Mutex<HashMap<String, Record>>,
}

impl SubscriptionStore {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Record>> {
        self.by_id.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn rfc3339(t: SystemTime) -> String {
    OffsetDateTime::from(t).format(&Rfc3339).unwrap_or_default()
}

/// The types a subscription may ask for (`subscription-ended` always comes).
const TYPES: [EventType; 3] = [
    EventType::SessionInvitation,
    EventType::SessionStatus,
    EventType::RegistrationEnds,
];

/// What a valid request subscribes.
struct Plan {
    token: Option<String>,
    expires_at: Option<SystemTime>,
    max_events: Option<u64>,
    device: Option<String>,
}

fn validate(body: &CreateBody, now: SystemTime) -> Result<Plan, ApiError> {
    let bad = |m: &str| Err(ApiError::InvalidArgument(m.into()));
    if body.protocol != "HTTP" {
        return bad("protocol must be HTTP");
    }
    let authority = body.sink.strip_prefix("http://").unwrap_or_default();
    let host = authority.split('/').next().unwrap_or_default();
    if host.is_empty() || body.sink.len() > 2048 || body.sink.contains(char::is_whitespace) {
        return bad("sink must be an http:// URL (TLS toward sinks is not supported yet)");
    }
    if body.types.is_empty()
        || !body
            .types
            .iter()
            .all(|t| TYPES.iter().any(|k| k.as_str() == t))
    {
        return bad("types must name org.camaraproject.webrtc-events.v0 event types");
    }
    let token = match &body.sink_credential {
        None => None,
        Some(c) => {
            let bearer = c
                .access_token_type
                .as_deref()
                .is_none_or(|t| t.eq_ignore_ascii_case("bearer"));
            match (&c.access_token, c.credential_type.as_str(), bearer) {
                (Some(t), "ACCESSTOKEN", true) if !t.is_empty() => Some(t.clone()),
                _ => return bad("sinkCredential must be an ACCESSTOKEN with a bearer accessToken"),
            }
        }
    };
    let expires_at = match &body.config.subscription_expire_time {
        None => None,
        Some(text) => {
            let at = OffsetDateTime::parse(text, &Rfc3339).map_err(|_| {
                ApiError::InvalidArgument("subscriptionExpireTime must be RFC 3339".into())
            })?;
            let at = SystemTime::from(at);
            if at <= now {
                return bad("subscriptionExpireTime is in the past");
            }
            Some(at)
        }
    };
    if body.config.subscription_max_events == Some(0) {
        return bad("subscriptionMaxEvents must be at least 1");
    }
    let device = body
        .config
        .subscription_detail
        .as_ref()
        .and_then(|d| d.device_id.clone());
    Ok(Plan {
        token,
        expires_at,
        max_events: body.config.subscription_max_events,
        device,
    })
}

/// `POST /webrtc-events/v0.2/subscriptions`
pub(crate) async fn create(
    State(state): State<ApiState>,
    headers: HeaderMap,
    body: Result<Json<CreateBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let who = identity(&state, &headers, scope::EVENTS_CREATE).await?;
    let Json(body) = body?;
    let now = SystemTime::now();
    let plan = validate(&body, now)?;
    let id = random_hex(16)?;
    let mut config = json!({});
    if let Some(d) = &plan.device {
        config["subscriptionDetail"] = json!({ "deviceId": d });
    }
    if let Some(t) = plan.expires_at {
        config["subscriptionExpireTime"] = rfc3339(t).into();
    }
    if let Some(n) = plan.max_events {
        config["subscriptionMaxEvents"] = n.into();
    }
    let mut view = json!({
        "id": id,
        "protocol": "HTTP",
        "sink": body.sink,
        "types": body.types,
        "config": config,
        "startsAt": rfc3339(now),
        "status": "ACTIVE",
    });
    if let Some(t) = plan.expires_at {
        view["expiresAt"] = rfc3339(t).into();
    }
    let (queue, events) = mpsc::channel(QUEUE);
    state.hub.subscribers().insert(
        id.clone(),
        Subscriber {
            to: Audience {
                number: who.phone_number.clone(),
                device: plan.device.clone(),
            },
            types: body.types.clone(),
            queue,
        },
    );
    state.subscriptions.lock().insert(
        id.clone(),
        Record {
            owner: who.phone_number,
            view: view.clone(),
        },
    );
    let delivery = Delivery {
        state: state.clone(),
        id,
        sink: body.sink,
        token: plan.token,
        opts: state.delivery.clone(),
    };
    tokio::spawn(delivery.run(events, plan.expires_at, plan.max_events));
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

/// The caller's subscription `id`: 404 when unknown, 403 when another user's.
fn own(state: &ApiState, id: &str, owner: &str) -> Result<Value, ApiError> {
    match state.subscriptions.lock().get(id) {
        None => Err(ApiError::NotFound("no such subscription".into())),
        Some(r) if r.owner != owner => Err(ApiError::PermissionDenied(
            "the subscription belongs to another user".into(),
        )),
        Some(r) => Ok(r.view.clone()),
    }
}

/// `GET /webrtc-events/v0.2/subscriptions/{subscriptionId}`
pub(crate) async fn get(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let who = identity(&state, &headers, scope::EVENTS_READ).await?;
    Ok(Json(own(&state, &id, &who.phone_number)?).into_response())
}

/// `GET /webrtc-events/v0.2/subscriptions`: the caller's.
pub(crate) async fn list(
    State(state): State<ApiState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let who = identity(&state, &headers, scope::EVENTS_READ).await?;
    let mut out: Vec<Value> = state
        .subscriptions
        .lock()
        .values()
        .filter(|r| r.owner == who.phone_number)
        .map(|r| r.view.clone())
        .collect();
    out.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
    Ok(Json(out).into_response())
}

/// `DELETE /webrtc-events/v0.2/subscriptions/{subscriptionId}`: delivery stops after
/// the queued events and a `subscription-ended` (`SUBSCRIPTION_DELETED`).
pub(crate) async fn delete(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let who = identity(&state, &headers, scope::EVENTS_DELETE).await?;
    own(&state, &id, &who.phone_number)?;
    state.subscriptions.lock().remove(&id);
    // Dropping the queue's sender ends the delivery task once the queue is drained.
    state.hub.subscribers().remove(&id);
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// What became of one event.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Delivered,
    /// 410: the sink wants no more.
    Gone,
    /// Given up after the retries, or refused for good.
    Dropped,
}

/// One subscription's delivery task.
struct Delivery {
    state: ApiState,
    id: String,
    sink: String,
    token: Option<String>,
    opts: DeliveryOptions,
}

impl Delivery {
    async fn run(
        self,
        mut events: mpsc::Receiver<CloudEvent>,
        expires_at: Option<SystemTime>,
        max_events: Option<u64>,
    ) {
        let expiry = async {
            match expires_at.and_then(|t| t.duration_since(SystemTime::now()).ok()) {
                Some(left) => tokio::time::sleep(left).await,
                None if expires_at.is_some() => {}
                None => std::future::pending().await,
            }
        };
        tokio::pin!(expiry);
        let mut delivered = 0u64;
        loop {
            tokio::select! {
                event = events.recv() => match event {
                    Some(event) => match self.post(&event).await {
                        Outcome::Delivered => {
                            delivered += 1;
                            if max_events.is_some_and(|m| delivered >= m) {
                                self.end("MAX_EVENTS_REACHED").await;
                                return;
                            }
                        }
                        Outcome::Gone => {
                            tracing::info!(subscription = %self.id, "sink answered 410: subscription ended");
                            self.forget();
                            return;
                        }
                        Outcome::Dropped => {}
                    },
                    None => {
                        self.notify_ended("SUBSCRIPTION_DELETED").await;
                        return;
                    }
                },
                () = &mut expiry => {
                    self.end("SUBSCRIPTION_EXPIRED").await;
                    return;
                }
            }
        }
    }

    fn forget(&self) {
        self.state.hub.subscribers().remove(&self.id);
        self.state.subscriptions.lock().remove(&self.id);
    }

    async fn end(&self, reason: &str) {
        self.forget();
        self.notify_ended(reason).await;
    }

    async fn notify_ended(&self, reason: &str) {
        let event = CloudEvent::new(
            EventType::SubscriptionEnded,
            format!("/webrtc-events/v0.2/subscriptions/{}", self.id),
            json!({ "subscriptionId": self.id, "terminationReason": reason }),
        );
        self.post(&event).await;
    }

    /// POSTs `event` to the sink, retrying with doubling backoff; counts the outcome.
    async fn post(&self, event: &CloudEvent) -> Outcome {
        let outcome = self.attempt(event).await;
        let delivered = matches!(outcome, Outcome::Delivered);
        crate::metrics::event_sent(crate::metrics::Transport::Sink, delivered);
        outcome
    }

    /// The attempts of [`Self::post`].
    async fn attempt(&self, event: &CloudEvent) -> Outcome {
        let body = match serde_json::to_string(event) {
            Ok(b) => b,
            Err(_) => return Outcome::Dropped,
        };
        let mut wait = self.opts.retry_base;
        for attempt in 1..=self.opts.attempts.max(1) {
            let mut req = self
                .state
                .sinks
                .post(&self.sink)
                .header(header::CONTENT_TYPE, "application/cloudevents+json")
                .timeout(SINK_TIMEOUT)
                .body(body.clone());
            if let Some(t) = &self.token {
                req = req.bearer_auth(t);
            }
            let retry = match req.send().await {
                Ok(resp) if resp.status().is_success() => return Outcome::Delivered,
                Ok(resp) if resp.status() == StatusCode::GONE => return Outcome::Gone,
                Ok(resp) => {
                    let s = resp.status();
                    let transient = s.is_server_error()
                        || s == StatusCode::TOO_MANY_REQUESTS
                        || s == StatusCode::REQUEST_TIMEOUT;
                    tracing::debug!(subscription = %self.id, status = s.as_u16(), attempt, "sink refused");
                    transient
                }
                Err(e) => {
                    tracing::debug!(subscription = %self.id, error = %e, attempt, "sink unreachable");
                    true
                }
            };
            if !retry || attempt == self.opts.attempts {
                break;
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(MAX_BACKOFF);
        }
        tracing::warn!(subscription = %self.id, "event not delivered to the sink");
        Outcome::Dropped
    }
}
