//! Stateless answers to requests that do not parse (RFC 3261 §8.2, §16.3 step 1,
//! RFC 4475 §3.1.2): 400 Bad Request or 505 Version Not Supported, built from the raw
//! header lines so that the answer still reaches the sender. Malformed responses get no
//! answer (RFC 3261 §18.1.2).

use crate::message::{reason_phrase, Error, HeaderName};

/// The bytes of the stateless response to a request datagram that failed with `err`, or
/// `None` when no answer must be sent (a response, or no Via to answer along).
/// `to_tag` is added to a To header that has none (RFC 3261 §8.2.6.2).
pub fn reject_malformed(datagram: &[u8], err: Error, to_tag: &[u8]) -> Option<Vec<u8>> {
    let raw = crate::message::split_raw(datagram).ok()?;
    if crate::message::is_response_line(raw.start_line) {
        return None;
    }
    raw.headers.get(HeaderName::Via)?;
    let status = err.status();
    let mut out = format!("SIP/2.0 {status} {}\r\n", reason_phrase(status)).into_bytes();
    for h in raw.headers.iter() {
        let kind = h.kind();
        if !matches!(
            kind,
            HeaderName::Via
                | HeaderName::From
                | HeaderName::To
                | HeaderName::CallId
                | HeaderName::CSeq
        ) {
            continue;
        }
        out.extend_from_slice(h.name());
        out.extend_from_slice(b": ");
        out.extend_from_slice(&h.value);
        if kind == HeaderName::To && !h.value.windows(4).any(|w| w.eq_ignore_ascii_case(b"tag=")) {
            out.extend_from_slice(b";tag=");
            out.extend_from_slice(to_tag);
        }
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"Content-Length: 0\r\n\r\n");
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Message;

    #[test]
    fn bad_version_gets_505() {
        let d = b"OPTIONS sip:a@b SIP/7.0\r\nVia: SIP/7.0/UDP c;branch=z9hG4bKx\r\nTo: <sip:a@b>\r\nFrom: <sip:c@d>;tag=1\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\n\r\n";
        let err = Message::parse(d).unwrap_err();
        let out = reject_malformed(d, err, b"s1").unwrap();
        assert!(out.starts_with(b"SIP/2.0 505 Version Not Supported\r\n"));
        assert!(out.windows(18).any(|w| w == b"To: <sip:a@b>;tag="));
    }

    #[test]
    fn responses_and_garbage_get_nothing() {
        assert!(reject_malformed(
            b"SIP/2.0 200 OK\r\nVia: x\r\n\r\n",
            Error::BadStartLine,
            b"t"
        )
        .is_none());
        assert!(reject_malformed(b"\x00\x01garbage", Error::Truncated, b"t").is_none());
    }
}
