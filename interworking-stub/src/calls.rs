//! CAMARA WebRTC call handling (`/webrtc-call-handling/v0.3/sessions`): the routes that
//! place, answer, hold and end calls through the [`CallLink`].
//!
//! ```text
//!  POST   /sessions (header registrationId) {originatorAddress, receiverAddress,
//!         originatorName?, receiverName?, offer: {sdp}, clientCorrelator?}
//!                                             → 201 MediaSessionInformation (Initial)
//!  GET    /sessions/{mediaSessionId}          → 200 MediaSessionInformation
//!  PUT    /sessions/{mediaSessionId}/status {status, answer?, offer?}
//!                                             → 200 MediaSessionInformation
//!  DELETE /sessions/{mediaSessionId}          → 204 (cancel, decline or hang up)
//!  POST   /sessions/{mediaSessionId}/dtmf {digits, durationMs?}
//!                                             → 204 (RFC 4733 toward IMS; a gateway
//!                                               extension, CAMARA has no DTMF route)
//! ```

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

use crate::auth::{is_phone_number, scope, Identity};
use crate::call_link::{CallLink, NewCall, StatusUpdate};
use crate::registration::identity;
use crate::{ApiError, ApiState};

/// The largest SDP accepted in an offer or answer (issue contract: 64 KiB).
pub(crate) const MAX_SDP: usize = 64 * 1024;
/// The longest address, friendly name or client correlator accepted.
const MAX_TEXT: usize = 256;

/// CAMARA `SDPDescriptor` in a request.
#[derive(Debug, Deserialize)]
pub(crate) struct SdpBody {
    sdp: String,
}

/// `POST /sessions` body.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreateBody {
    originator_address: String,
    receiver_address: String,
    originator_name: Option<String>,
    receiver_name: Option<String>,
    offer: SdpBody,
    client_correlator: Option<String>,
}

/// `PUT /sessions/{mediaSessionId}/status` body.
#[derive(Debug, Deserialize)]
pub(crate) struct StatusBody {
    status: String,
    answer: Option<SdpBody>,
    offer: Option<SdpBody>,
}

/// `POST /sessions/{mediaSessionId}/dtmf` body.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct DtmfBody {
    /// `0`-`9`, `*`, `#`, `A`-`D`; at most 32.
    digits: String,
    /// Per digit, 40..=2000 ms; 100 when absent.
    duration_ms: Option<u32>,
}

/// Per-digit duration when the body names none.
const DEFAULT_DTMF_MS: u32 = 100;

/// Whether `address` is a CAMARA address the gateway can route: `tel:+` with 4–15 digits,
/// or `sip:user@host` without spaces or angle brackets.
pub(crate) fn is_address(address: &str) -> bool {
    if let Some(number) = address.strip_prefix("tel:") {
        return is_phone_number(number);
    }
    let Some(rest) = address.strip_prefix("sip:") else {
        return false;
    };
    let clean = !rest
        .bytes()
        .any(|b| b.is_ascii_whitespace() || b.is_ascii_control() || b == b'<' || b == b'>');
    let parts = rest.split_once('@');
    address.len() <= MAX_TEXT
        && clean
        && parts.is_some_and(|(user, host)| !user.is_empty() && !host.is_empty())
}

/// The phone number an address names: `tel:+…`, or `sip:+…@…` (parameters after `;`
/// in the user part dropped).
fn number_of(address: &str) -> Option<&str> {
    if let Some(number) = address.strip_prefix("tel:") {
        return Some(number);
    }
    let user = address.strip_prefix("sip:")?.split_once('@')?.0;
    let number = user.split(';').next()?;
    is_phone_number(number).then_some(number)
}

fn check_sdp(sdp: &str, field: &str) -> Result<(), ApiError> {
    if sdp.trim().is_empty() {
        return Err(ApiError::InvalidArgument(format!("{field}.sdp is empty")));
    }
    if sdp.len() > MAX_SDP {
        return Err(ApiError::InvalidArgument(format!(
            "{field}.sdp is larger than 64 KiB"
        )));
    }
    Ok(())
}

fn check_text(value: Option<&str>, field: &str) -> Result<(), ApiError> {
    match value {
        Some(v) if v.is_empty() || v.len() > MAX_TEXT => Err(ApiError::InvalidArgument(format!(
            "{field} must be 1 to {MAX_TEXT} characters"
        ))),
        _ => Ok(()),
    }
}

/// The caller and the call link, or why not (401 first, then 503 when this node has no
/// call core).
async fn caller(
    state: &ApiState,
    headers: &HeaderMap,
    scope: &str,
) -> Result<(Identity, CallLink), ApiError> {
    let who = identity(state, headers, scope).await?;
    let link = state.calls.clone().ok_or_else(|| ApiError::Unavailable {
        message: "call handling is not enabled on this node".into(),
        retry_after_secs: 30,
    })?;
    Ok((who, link))
}

/// Validates a create body into the call to place.
fn new_call(who: &Identity, device_id: String, body: CreateBody) -> Result<NewCall, ApiError> {
    for (field, value) in [
        ("originatorAddress", &body.originator_address),
        ("receiverAddress", &body.receiver_address),
    ] {
        if !is_address(value) {
            return Err(ApiError::InvalidArgument(format!(
                "{field} must be tel:+<digits> or sip:<user>@<host>"
            )));
        }
    }
    check_text(body.originator_name.as_deref(), "originatorName")?;
    check_text(body.receiver_name.as_deref(), "receiverName")?;
    check_text(body.client_correlator.as_deref(), "clientCorrelator")?;
    check_sdp(&body.offer.sdp, "offer")?;
    if number_of(&body.originator_address) != Some(who.phone_number.as_str()) {
        return Err(ApiError::InvalidTokenContext(
            "originatorAddress is not the phone number of the access token".into(),
        ));
    }
    Ok(NewCall {
        owner: who.phone_number.clone(),
        device_id,
        originator_address: body.originator_address,
        originator_name: body.originator_name,
        receiver_address: body.receiver_address,
        receiver_name: body.receiver_name,
        offer: body.offer.sdp,
        client_correlator: body.client_correlator,
        max_calls: 0,
    })
}

/// `POST /webrtc-call-handling/v0.3/sessions`
pub(crate) async fn create(
    State(state): State<ApiState>,
    headers: HeaderMap,
    body: Result<Json<CreateBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let (who, link) = caller(&state, &headers, scope::CALL_CREATE).await?;
    let Json(body) = body?;
    let registration_id = headers
        .get("registrationId")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::InvalidArgument("the registrationId header is missing".into()))?;
    let device_id = state.registrations.device_of(registration_id, &who)?;
    let mut call = new_call(&who, device_id, body)?;
    call.max_calls = state.limits.max_calls_per_registration;
    let (created, info) = link.originate(call).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(info)).into_response())
}

/// `GET /webrtc-call-handling/v0.3/sessions/{mediaSessionId}`
pub(crate) async fn get(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let (who, link) = caller(&state, &headers, scope::CALL_READ).await?;
    Ok(Json(link.get(&id, &who.phone_number)?).into_response())
}

/// `DELETE /webrtc-call-handling/v0.3/sessions/{mediaSessionId}`
pub(crate) async fn delete(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let (who, link) = caller(&state, &headers, scope::CALL_DELETE).await?;
    link.hangup(&id, &who.phone_number).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The update a status body asks for.
fn status_update(body: StatusBody) -> Result<StatusUpdate, ApiError> {
    let offer = match body.offer {
        Some(o) => {
            check_sdp(&o.sdp, "offer")?;
            Some(o.sdp)
        }
        None => None,
    };
    Ok(match body.status.as_str() {
        "InProgress" => StatusUpdate::Progress,
        "Ringing" => StatusUpdate::Ringing,
        "Connected" => {
            let answer = body.answer.ok_or_else(|| {
                ApiError::InvalidArgument("status Connected needs an answer".into())
            })?;
            check_sdp(&answer.sdp, "answer")?;
            StatusUpdate::Answer(answer.sdp)
        }
        "Hold" => StatusUpdate::Hold(offer),
        "Resume" => StatusUpdate::Resume(offer),
        other => {
            return Err(ApiError::InvalidArgument(format!(
                "status {other:?} cannot be set; use InProgress, Ringing, Connected, Hold or Resume (DELETE ends a session)"
            )))
        }
    })
}

/// `PUT /webrtc-call-handling/v0.3/sessions/{mediaSessionId}/status`
pub(crate) async fn update_status(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Json<StatusBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let (who, link) = caller(&state, &headers, scope::CALL_UPDATE).await?;
    let Json(body) = body?;
    let update = status_update(body)?;
    Ok(Json(link.update(&id, &who.phone_number, update).await?).into_response())
}

/// `POST /webrtc-call-handling/v0.3/sessions/{mediaSessionId}/dtmf`: the digits go to
/// the IMS side as RFC 4733 telephone-events, generated by the media plane (the call
/// core checks the digits, the duration and that the call is connected with
/// telephone-event negotiated: 400 or 409 otherwise).
pub(crate) async fn dtmf(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Json<DtmfBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let (who, link) = caller(&state, &headers, scope::CALL_UPDATE).await?;
    let Json(body) = body?;
    let duration_ms = body.duration_ms.unwrap_or(DEFAULT_DTMF_MS);
    link.dtmf(&id, &who.phone_number, body.digits, duration_ms)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_follow_the_camara_patterns() {
        for ok in [
            "tel:+15550001",
            "sip:+15550001@ims.example.net",
            "sip:alice@example.com",
        ] {
            assert!(is_address(ok), "{ok}");
        }
        for bad in [
            "+15550001",
            "tel:15550001",
            "tel:+1",
            "tel:+1555abc",
            "sip:@host",
            "sip:alice@",
            "sip:alice",
            "sip:a b@host",
            "sip:<a>@host",
            "mailto:a@b",
            "",
        ] {
            assert!(!is_address(bad), "{bad}");
        }
    }

    #[test]
    fn the_number_of_an_address() {
        assert_eq!(number_of("tel:+15550001"), Some("+15550001"));
        assert_eq!(number_of("sip:+15550001@ims"), Some("+15550001"));
        assert_eq!(number_of("sip:+15550001;npdi@ims"), Some("+15550001"));
        assert_eq!(number_of("sip:alice@ims"), None);
    }
}
