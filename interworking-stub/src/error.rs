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
            ApiError::Unavailable { .. } => (StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE"),
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
