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
    /// The resource exists already (one registration per device and number).
    #[error("{0}")]
    AlreadyExists(String),
    /// The request body is larger than the API accepts (256 KiB).
    #[error("the request body is too large")]
    PayloadTooLarge,
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
            ApiError::AlreadyExists(_) => (StatusCode::CONFLICT, "ALREADY_EXISTS"),
            ApiError::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE"),
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
            (ApiError::AlreadyExists("x".into()), 409, "ALREADY_EXISTS"),
            (ApiError::PayloadTooLarge, 413, "PAYLOAD_TOO_LARGE"),
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
    fn unavailable_carries_retry_after() {
        let r = ApiError::Unavailable {
            message: "draining".into(),
            retry_after_secs: 7,
        }
        .into_response();
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(r.headers()[header::RETRY_AFTER], "7");
    }
}
