//! The API's one error type and its single mapping to HTTP status and CAMARA `ErrorInfo`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// Everything the API can refuse a request with. Mapped to the wire in exactly one place,
/// [`ApiError::status_and_code`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// No route or resource with that id.
    #[error("{0}")]
    NotFound(String),
    /// The request is malformed (bad JSON, missing field, bad value).
    #[error("{0}")]
    InvalidArgument(String),
    /// No bearer token, or an unknown or expired one.
    #[error("{0}")]
    Unauthenticated(String),
    /// The token's user may not touch this resource.
    #[error("{0}")]
    PermissionDenied(String),
    /// The request names an identity other than the token's (an `originatorAddress` that
    /// is not the caller's number).
    #[error("{0}")]
    InvalidTokenContext(String),
    /// The resource exists already (one registration per device and number).
    #[error("{0}")]
    AlreadyExists(String),
    /// The resource is not in a state for the operation (answering a call twice, putting
    /// an unanswered call on hold).
    #[error("{0}")]
    Conflict(String),
    /// A fault inside the gateway; the request may be retried.
    #[error("{0}")]
    Internal(String),
    /// The request body is larger than the API accepts (256 KiB).
    #[error("the request body is too large")]
    PayloadTooLarge,
    /// The user holds as many registrations as allowed (CAMARA `MAX_REGISTRATION_PER_USER`).
    #[error("{0}")]
    MaxRegistrationPerUser(String),
    /// The device holds as many registrations as allowed.
    #[error("{0}")]
    MaxRegistrationPerDevice(String),
    /// A quota is used up until something ends (concurrent calls per registration).
    #[error("{0}")]
    QuotaExceeded(String),
    /// The token or source address sent requests faster than its rate; retry after some
    /// seconds.
    #[error("{message}")]
    TooManyRequests {
        /// Human-readable reason.
        message: String,
        /// Seconds the client should wait (`Retry-After`).
        retry_after_secs: u32,
    },
    /// The node is draining or otherwise cannot take new work; retry after some seconds.
    #[error("{message}")]
    Unavailable {
        /// Human-readable reason.
        message: String,
        /// Seconds the client should wait (`Retry-After`).
        retry_after_secs: u32,
    },
}

/// CAMARA `ErrorInfo`.
#[derive(Debug, Serialize)]
pub struct ErrorInfo<'a> {
    /// HTTP status code, repeated in the body.
    pub status: u16,
    /// CAMARA error code (`NOT_FOUND`, `UNAVAILABLE`, …).
    pub code: &'a str,
    /// Human-readable detail.
    pub message: String,
}

impl ApiError {
    /// The HTTP status and CAMARA code of each error: the one table.
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "NOT_FOUND"),
            ApiError::InvalidArgument(_) => (StatusCode::BAD_REQUEST, "INVALID_ARGUMENT"),
            ApiError::Unauthenticated(_) => (StatusCode::UNAUTHORIZED, "UNAUTHENTICATED"),
            ApiError::PermissionDenied(_) => (StatusCode::FORBIDDEN, "PERMISSION_DENIED"),
            ApiError::InvalidTokenContext(_) => (StatusCode::FORBIDDEN, "INVALID_TOKEN_CONTEXT"),
            ApiError::AlreadyExists(_) => (StatusCode::CONFLICT, "ALREADY_EXISTS"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "CONFLICT"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL"),
            ApiError::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE"),
            ApiError::MaxRegistrationPerUser(_) => {
                (StatusCode::FORBIDDEN, "MAX_REGISTRATION_PER_USER")
            }
            ApiError::MaxRegistrationPerDevice(_) => {
                (StatusCode::FORBIDDEN, "MAX_REGISTRATION_PER_DEVICE")
            }
            ApiError::QuotaExceeded(_) => (StatusCode::TOO_MANY_REQUESTS, "QUOTA_EXCEEDED"),
            ApiError::TooManyRequests { .. } => {
                (StatusCode::TOO_MANY_REQUESTS, "TOO_MANY_REQUESTS")
            }
            ApiError::Unavailable { .. } => (StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE"),
        }
    }
}

impl From<axum::extract::rejection::JsonRejection> for ApiError {
    /// A body that is not the JSON expected: 413 when too large, else 400.
    fn from(rejection: axum::extract::rejection::JsonRejection) -> Self {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge
        } else {
            ApiError::InvalidArgument(rejection.body_text())
        }
    }
}

impl From<sip_proxy::call::CallError> for ApiError {
    /// A command the call core refused, as the web side sees it.
    fn from(e: sip_proxy::call::CallError) -> Self {
        use sip_proxy::call::CallError;
        match e {
            CallError::BadAddress(_) | CallError::BadDtmf(_) | CallError::Sdp(_) => {
                ApiError::InvalidArgument(e.to_string())
            }
            CallError::UnknownCall(_) => ApiError::Conflict("the session has ended".into()),
            CallError::WrongState(_) => {
                ApiError::Conflict("the session is not in a state for that".into())
            }
            CallError::Media(_) => ApiError::Unavailable {
                message: format!("no media resources: {e}"),
                retry_after_secs: 1,
            },
            _ => ApiError::Internal(e.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let body = ErrorInfo {
            status: status.as_u16(),
            code,
            message: self.to_string(),
        };
        let mut response = (status, axum::Json(body)).into_response();
        if let ApiError::Unavailable {
            retry_after_secs, ..
        }
        | ApiError::TooManyRequests {
            retry_after_secs, ..
        } = self
        {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_maps_to_its_status_and_code() {
        let table = [
            (ApiError::NotFound("x".into()), 404, "NOT_FOUND"),
            (
                ApiError::InvalidArgument("x".into()),
                400,
                "INVALID_ARGUMENT",
            ),
            (
                ApiError::Unauthenticated("x".into()),
                401,
                "UNAUTHENTICATED",
            ),
            (
                ApiError::PermissionDenied("x".into()),
                403,
                "PERMISSION_DENIED",
            ),
            (
                ApiError::InvalidTokenContext("x".into()),
                403,
                "INVALID_TOKEN_CONTEXT",
            ),
            (ApiError::AlreadyExists("x".into()), 409, "ALREADY_EXISTS"),
            (ApiError::Conflict("x".into()), 409, "CONFLICT"),
            (ApiError::Internal("x".into()), 500, "INTERNAL"),
            (ApiError::PayloadTooLarge, 413, "PAYLOAD_TOO_LARGE"),
            (
                ApiError::MaxRegistrationPerUser("x".into()),
                403,
                "MAX_REGISTRATION_PER_USER",
            ),
            (
                ApiError::MaxRegistrationPerDevice("x".into()),
                403,
                "MAX_REGISTRATION_PER_DEVICE",
            ),
            (ApiError::QuotaExceeded("x".into()), 429, "QUOTA_EXCEEDED"),
            (
                ApiError::TooManyRequests {
                    message: "slow down".into(),
                    retry_after_secs: 2,
                },
                429,
                "TOO_MANY_REQUESTS",
            ),
            (
                ApiError::Unavailable {
                    message: "draining".into(),
                    retry_after_secs: 7,
                },
                503,
                "UNAVAILABLE",
            ),
        ];
        for (err, status, code) in table {
            let (s, c) = err.status_and_code();
            assert_eq!((s.as_u16(), c), (status, code), "{err:?}");
        }
    }

    #[test]
    fn call_core_refusals_map_to_api_errors() {
        use sip_proxy::call::{CallError, CallId};
        use sip_proxy::media::MediaError;
        let table = [
            (CallError::BadAddress("x".into()), 400),
            (CallError::BadDtmf("x".into()), 400),
            (CallError::UnknownCall(CallId(1)), 409),
            (CallError::WrongState(CallId(1)), 409),
            (CallError::Media(MediaError::PortsExhausted), 503),
            (CallError::Exists(CallId(1)), 500),
            (CallError::Transaction, 500),
        ];
        for (e, status) in table {
            let api = ApiError::from(e.clone());
            assert_eq!(api.status_and_code().0.as_u16(), status, "{e:?}");
        }
    }

    #[test]
    fn unavailable_carries_retry_after() {
        let r = ApiError::Unavailable {
            message: "draining".into(),
            retry_after_secs: 7,
        }
        .into_response();
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(r.headers()[header::RETRY_AFTER], "7");
        let r = ApiError::TooManyRequests {
            message: "slow down".into(),
            retry_after_secs: 3,
        }
        .into_response();
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(r.headers()[header::RETRY_AFTER], "3");
    }
}
