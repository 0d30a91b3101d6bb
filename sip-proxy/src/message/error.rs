//! The message-layer error and its mapping to a SIP status — the one place where a parse
//! failure becomes a response code (RFC 3261 §8.2, §16.3, §21.4.1, §21.5.6).

use super::HeaderName;

/// Why a datagram is not an acceptable SIP message.
///
/// A malformed request is answered with [`Error::status`] (statelessly, see
/// `transaction::stateless`); a malformed response is always dropped (RFC 3261 §18.1.2,
/// RFC 4475 §3.1.2.5, §3.1.2.19).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The header section has no end (no empty line and no final CRLF).
    #[error("header section is not terminated")]
    Truncated,
    /// The start line is neither a Request-Line nor a Status-Line (RFC 3261 §7.1, §7.2).
    #[error("malformed start line")]
    BadStartLine,
    /// The SIP-Version is not `SIP/2.0` (answered 505, RFC 3261 §21.5.6).
    #[error("unsupported SIP version")]
    UnsupportedVersion,
    /// The Request-URI does not parse, or carries headers (RFC 4475 §3.1.2.11).
    #[error("malformed Request-URI")]
    BadRequestUri,
    /// A header line has no colon or its name is not a token.
    #[error("malformed header line")]
    BadHeaderLine,
    /// A header the stack relies on has a malformed value.
    #[error("malformed {0:?} header")]
    BadHeader(HeaderName),
    /// A mandatory header is missing (RFC 3261 §8.1.1, RFC 4475 §3.3.1).
    #[error("missing {0:?} header")]
    MissingHeader(HeaderName),
    /// A single-valued header appears more than once (RFC 4475 §3.3.8, §3.3.9).
    #[error("more than one {0:?} header")]
    DuplicateHeader(HeaderName),
    /// Content-Length is larger than the datagram's remaining octets (RFC 4475 §3.1.2.2).
    #[error("body shorter than Content-Length")]
    BodyTruncated,
    /// The CSeq method differs from the request method (RFC 4475 §3.1.2.17–18).
    #[error("CSeq method does not match the request method")]
    CSeqMethodMismatch,
}

impl Error {
    /// The status of the stateless answer to a request that failed with this error.
    /// This match is the single mapping from message errors to SIP status codes.
    pub fn status(&self) -> u16 {
        match self {
            // RFC 3261 §21.5.6: 505 Version Not Supported.
            Error::UnsupportedVersion => 505,
            // RFC 3261 §21.4.1: 400 Bad Request for any syntax error.
            Error::Truncated
            | Error::BadStartLine
            | Error::BadRequestUri
            | Error::BadHeaderLine
            | Error::BadHeader(_)
            | Error::MissingHeader(_)
            | Error::DuplicateHeader(_)
            | Error::BodyTruncated
            | Error::CSeqMethodMismatch => 400,
        }
    }
}

/// The default reason phrase for a status code (RFC 3261 §21 and extensions).
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Trying",
        180 => "Ringing",
        181 => "Call Is Being Forwarded",
        182 => "Queued",
        183 => "Session Progress",
        200 => "OK",
        202 => "Accepted",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        415 => "Unsupported Media Type",
        416 => "Unsupported URI Scheme",
        420 => "Bad Extension",
        421 => "Extension Required",
        422 => "Session Interval Too Small",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        483 => "Too Many Hops",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        491 => "Request Pending",
        500 => "Server Internal Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        504 => "Server Time-out",
        505 => "Version Not Supported",
        513 => "Message Too Large",
        600 => "Busy Everywhere",
        603 => "Decline",
        _ => "Unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Table test: every error variant and the status it maps to.
    #[test]
    fn error_status_table() {
        let table = [
            (Error::Truncated, 400),
            (Error::BadStartLine, 400),
            (Error::UnsupportedVersion, 505),
            (Error::BadRequestUri, 400),
            (Error::BadHeaderLine, 400),
            (Error::BadHeader(HeaderName::Via), 400),
            (Error::MissingHeader(HeaderName::CallId), 400),
            (Error::DuplicateHeader(HeaderName::CSeq), 400),
            (Error::BodyTruncated, 400),
            (Error::CSeqMethodMismatch, 400),
        ];
        for (err, status) in table {
            assert_eq!(err.status(), status, "{err:?}");
        }
    }

    #[test]
    fn reasons() {
        assert_eq!(reason_phrase(505), "Version Not Supported");
        assert_eq!(reason_phrase(299), "Unknown");
    }
}
