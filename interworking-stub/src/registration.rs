//! CAMARA WebRTC registration (`/webrtc-registration/v0.3/sessions`): a web user's device
//! registers the phone number its token stands for.
//!
//! ```text
//!  POST   /sessions {deviceId, registrationExpireTime?} → 200 RegistrationInformation
//!  GET    /sessions?deviceId=…                          → 200 [RegistrationInformation]
//!  GET    /sessions/{registrationId}                    → 200 RegistrationInformation
//!  PUT    /sessions/{registrationId}                    → 200 (expiry renewed from now)
//!  DELETE /sessions/{registrationId}                    → 204
//! ```

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::auth::{random_hex, scope, Identity};
use crate::{ApiError, ApiState};

/// Default and longest registration lifetime.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(3600);
const MAX_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// `POST` body.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreateBody {
    device_id: String,
    registration_expire_time: Option<String>,
}

/// CAMARA `RegistrationInformation`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct RegistrationInformation {
    registration_id: String,
    device_id: String,
    reg_info: RegInfo,
    expires_at: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct RegInfo {
    phone_number: String,
    reg_status: &'static str,
}

#[derive(Debug, Clone)]
struct Registration {
    device_id: String,
    phone_number: String,
    expires_at: SystemTime,
}

/// The registrations, in memory (one node; Redis later).
#[derive(Debug, Default)]
pub struct RegistrationStore {
    by_id: Mutex<HashMap<String, Registration>>,
}

impl RegistrationStore {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Registration>> {
        self.by_id.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Removes every registration of `number`; returns their ids and devices.
    pub(crate) fn remove_number(&self, number: &str) -> Vec<(String, String)> {
        let mut store = self.lock();
        let ids: Vec<String> = store
            .iter()
            .filter(|(_, r)| r.phone_number == number)
            .map(|(id, _)| id.clone())
            .collect();
        ids.into_iter()
            .filter_map(|id| store.remove(&id).map(|r| (id, r.device_id)))
            .collect()
    }

    /// The device of the caller's registration `id` (the `registrationId` header of a
    /// call): 404 when unknown or expired, 403 when another user's.
    pub(crate) fn device_of(&self, id: &str, who: &Identity) -> Result<String, ApiError> {
        let mut store = self.lock();
        Ok(own(&mut store, id, who)?.device_id.clone())
    }
}

fn rfc3339(t: SystemTime) -> String {
    OffsetDateTime::from(t).format(&Rfc3339).unwrap_or_default()
}

fn info(id: &str, r: &Registration) -> RegistrationInformation {
    RegistrationInformation {
        registration_id: id.to_owned(),
        device_id: r.device_id.clone(),
        reg_info: RegInfo {
            phone_number: r.phone_number.clone(),
            reg_status: "Registered",
        },
        expires_at: rfc3339(r.expires_at),
    }
}

/// The expiry asked for, bounded; `None` asks for the default.
fn expiry(now: SystemTime, asked: Option<&str>) -> Result<SystemTime, ApiError> {
    let Some(text) = asked else {
        return Ok(now + DEFAULT_LIFETIME);
    };
    let at = OffsetDateTime::parse(text, &Rfc3339).map_err(|_| {
        ApiError::InvalidArgument("registrationExpireTime must be an RFC 3339 date-time".into())
    })?;
    let at = SystemTime::from(at);
    if at <= now {
        return Err(ApiError::InvalidArgument(
            "registrationExpireTime is in the past".into(),
        ));
    }
    Ok(at.min(now + MAX_LIFETIME))
}

pub(crate) use crate::auth::identity;

/// `POST /webrtc-registration/v0.3/sessions`
pub(crate) async fn create(
    State(state): State<ApiState>,
    headers: HeaderMap,
    body: Result<Json<CreateBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let who = identity(&state, &headers, scope::REGISTRATION_CREATE).await?;
    let Json(body) = body?;
    if body.device_id.trim().is_empty() || body.device_id.len() > 256 {
        return Err(ApiError::InvalidArgument(
            "deviceId must be 1 to 256 characters".into(),
        ));
    }
    let now = SystemTime::now();
    let expires_at = expiry(now, body.registration_expire_time.as_deref())?;
    let mut store = state.registrations.lock();
    store.retain(|_, r| r.expires_at > now);
    let taken = store
        .values()
        .any(|r| r.device_id == body.device_id && r.phone_number == who.phone_number);
    if taken {
        return Err(ApiError::AlreadyExists(
            "this device already registered this number".into(),
        ));
    }
    let of_user = store
        .values()
        .filter(|r| r.phone_number == who.phone_number)
        .count();
    let of_device = store
        .values()
        .filter(|r| r.device_id == body.device_id)
        .count();
    crate::limits::check_registrations(&state.limits, of_user, of_device)?;
    let id = random_hex(16)?;
    let registration = Registration {
        device_id: body.device_id,
        phone_number: who.phone_number,
        expires_at,
    };
    let out = info(&id, &registration);
    if let Some(calls) = &state.calls {
        calls.user_registered(&registration.phone_number);
    }
    store.insert(id, registration);
    Ok((StatusCode::OK, Json(out)).into_response())
}

/// The registration `id` of the caller: 404 when unknown or expired, 403 when another
/// user's.
fn own<'a>(
    store: &'a mut HashMap<String, Registration>,
    id: &str,
    who: &Identity,
) -> Result<&'a mut Registration, ApiError> {
    let now = SystemTime::now();
    match store.get_mut(id) {
        Some(r) if r.expires_at <= now => Err(ApiError::NotFound("no such registration".into())),
        Some(r) if r.phone_number != who.phone_number => Err(ApiError::PermissionDenied(
            "the registration belongs to another user".into(),
        )),
        Some(r) => Ok(r),
        None => Err(ApiError::NotFound("no such registration".into())),
    }
}

/// `GET /webrtc-registration/v0.3/sessions/{registrationId}`
pub(crate) async fn get(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let who = identity(&state, &headers, scope::REGISTRATION_READ).await?;
    let mut store = state.registrations.lock();
    let r = own(&mut store, &id, &who)?;
    Ok(Json(info(&id, r)).into_response())
}

/// `PUT /webrtc-registration/v0.3/sessions/{registrationId}`: the expiry starts again
/// from the time of receipt.
pub(crate) async fn refresh(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let who = identity(&state, &headers, scope::REGISTRATION_UPDATE).await?;
    let mut store = state.registrations.lock();
    let r = own(&mut store, &id, &who)?;
    r.expires_at = SystemTime::now() + DEFAULT_LIFETIME;
    Ok(Json(info(&id, r)).into_response())
}

/// `DELETE /webrtc-registration/v0.3/sessions/{registrationId}`
pub(crate) async fn delete(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let who = identity(&state, &headers, scope::REGISTRATION_DELETE).await?;
    let mut store = state.registrations.lock();
    own(&mut store, &id, &who)?;
    store.remove(&id);
    let last = !store.values().any(|r| r.phone_number == who.phone_number);
    if let (true, Some(calls)) = (last, &state.calls) {
        calls.user_unregistered(&who.phone_number);
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `?deviceId=` of the listing.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListQuery {
    device_id: Option<String>,
}

/// `GET /webrtc-registration/v0.3/sessions?deviceId=…`: the caller's registrations.
pub(crate) async fn list(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Query(query): Query<ListQuery>,
) -> Result<Response, ApiError> {
    let who = identity(&state, &headers, scope::REGISTRATION_READ).await?;
    let now = SystemTime::now();
    let store = state.registrations.lock();
    let mut out: Vec<RegistrationInformation> = store
        .iter()
        .filter(|(_, r)| r.phone_number == who.phone_number && r.expires_at > now)
        .filter(|(_, r)| query.device_id.as_ref().is_none_or(|d| &r.device_id == d))
        .map(|(id, r)| info(id, r))
        .collect();
    out.sort_by(|a, b| a.registration_id.cmp(&b.registration_id));
    Ok(Json(out).into_response())
}
