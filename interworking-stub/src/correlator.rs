//! `x-correlator` (CAMARA API design guide, "Correlation ID"): a request's correlation id
//! is echoed on its answer, errors included.
//!
//! ```text
//!  x-correlator: printable ASCII, at most 256 characters ──► routes ──► echoed
//!  x-correlator: anything else ────────────────────────────► 400 INVALID_ARGUMENT
//!  no x-correlator ─────────────────────────────────────────► routes (none added)
//! ```

use axum::extract::Request;
use axum::http::HeaderName;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::ApiError;

/// The header's name.
pub(crate) const X_CORRELATOR: HeaderName = HeaderName::from_static("x-correlator");
/// The longest correlator accepted.
const MAX_LEN: usize = 256;

/// Whether `value` is a correlator the API accepts and echoes: visible ASCII or space.
pub(crate) fn is_valid(value: &[u8]) -> bool {
    value.len() <= MAX_LEN && value.iter().all(|b| (0x20..=0x7e).contains(b))
}

/// Middleware: refuses a bad `x-correlator`, echoes a good one on the answer.
pub(crate) async fn echo(req: Request, next: Next) -> Response {
    let Some(value) = req.headers().get(&X_CORRELATOR).cloned() else {
        return next.run(req).await;
    };
    if !is_valid(value.as_bytes()) {
        return ApiError::InvalidArgument(format!(
            "x-correlator must be 0 to {MAX_LEN} printable ASCII characters"
        ))
        .into_response();
    }
    let mut response = next.run(req).await;
    response.headers_mut().insert(X_CORRELATOR, value);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn correlators_are_printable_and_short() {
        assert!(is_valid(b"b4333c46-49c0-4f62-80d7-f0ef930f1c46"));
        assert!(is_valid(b"a b:c;d/<e>{f}"));
        assert!(is_valid(&[b'x'; 256]));
        assert!(!is_valid(&[b'x'; 257]));
        assert!(!is_valid(b"tab\there"));
        assert!(!is_valid("caf\u{e9}".as_bytes()));
    }
}
