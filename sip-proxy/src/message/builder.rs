//! Building new requests and responses (RFC 3261 §8.1.1, §8.2.6).
//!
//! The built messages own their bytes (`'static`); Content-Length is always written.

use std::borrow::Cow;

use super::{reason_phrase, Header, HeaderName, Headers, Method, Request, Response};

/// Builds a request: start line, headers in the order given, body, Content-Length.
#[derive(Debug, Clone)]
pub struct RequestBuilder {
    req: Request<'static>,
}

impl RequestBuilder {
    /// Starts a request for `method` to `uri` (the caller supplies a valid URI).
    pub fn new(method: Method, uri: impl Into<Vec<u8>>) -> Self {
        RequestBuilder {
            req: Request {
                method,
                uri: Cow::Owned(uri.into()),
                headers: Headers::new(),
                body: Cow::Borrowed(b""),
            },
        }
    }

    /// Appends a header line.
    pub fn header(mut self, name: &str, value: impl Into<Vec<u8>>) -> Self {
        self.req
            .headers
            .push(Header::new(name.as_bytes().to_vec(), value.into()));
        self
    }

    /// Sets the body and its Content-Type.
    pub fn body(mut self, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        self.req
            .headers
            .set(HeaderName::ContentType, content_type.as_bytes().to_vec());
        self.req.body = Cow::Owned(body.into());
        self
    }

    /// Finishes the request, writing Content-Length last (RFC 3261 §20.14).
    pub fn build(mut self) -> Request<'static> {
        let len = self.req.body.len().to_string().into_bytes();
        self.req.headers.set(HeaderName::ContentLength, len);
        self.req
    }
}

/// A response to `req` (RFC 3261 §8.2.6.2): Via, From, Call-ID and CSeq copied as received,
/// To copied with `to_tag` added when the request's To has no tag, Content-Length 0. The
/// reason phrase is the default for `status`.
pub fn response_to(req: &Request<'_>, status: u16, to_tag: Option<&[u8]>) -> Response<'static> {
    let mut headers = Headers::new();
    for h in req.headers.iter() {
        match h.kind() {
            HeaderName::Via | HeaderName::From | HeaderName::CallId | HeaderName::CSeq => {
                headers.push(h.clone().into_owned());
            }
            HeaderName::To => {
                let mut value = h.value.to_vec();
                let has_tag = req.headers.to().is_some_and(|t| t.tag().is_some());
                if let (Some(tag), false, true) = (to_tag, has_tag, status > 100) {
                    value.extend_from_slice(b";tag=");
                    value.extend_from_slice(tag);
                }
                headers.push(Header::new(h.name().to_vec(), value));
            }
            // RFC 3261 §8.2.6.1: 100 Trying copies Timestamp.
            HeaderName::Other if status == 100 && h.name().eq_ignore_ascii_case(b"Timestamp") => {
                headers.push(h.clone().into_owned());
            }
            _ => {}
        }
    }
    headers.push(Header::new(&b"Content-Length"[..], &b"0"[..]));
    Response {
        status,
        reason: Cow::Borrowed(reason_phrase(status).as_bytes()),
        headers,
        body: Cow::Borrowed(b""),
    }
}

/// A CANCEL for `req` (RFC 3261 §9.1): same Request-URI, Call-ID, From, To and CSeq
/// number, the request's top Via only (same branch, so it matches the same server
/// transaction's key), its Route headers.
pub fn cancel_for(req: &Request<'_>) -> Request<'static> {
    let to = req.headers.get(HeaderName::To).cloned();
    same_transaction_request(req, Method::Cancel, to)
}

/// A request that shares `req`'s transaction identity: the top Via only, Route, From,
/// Call-ID, the given To, `CSeq: <req's number> <method>`, Max-Forwards 70, no body
/// (RFC 3261 §9.1 CANCEL, §17.1.1.3 ACK for a non-2xx).
pub(crate) fn same_transaction_request(
    req: &Request<'_>,
    method: Method,
    to: Option<Header<'_>>,
) -> Request<'static> {
    let mut headers = Headers::new();
    if let Some(via) = req.headers.top_via_raw() {
        headers.push(Header::new(&b"Via"[..], via.to_vec()));
    }
    for h in req.headers.iter() {
        if matches!(
            h.kind(),
            HeaderName::Route | HeaderName::From | HeaderName::CallId
        ) {
            headers.push(h.clone().into_owned());
        }
    }
    if let Some(to) = to {
        headers.push(to.into_owned());
    }
    let seq = req.headers.cseq().map_or(0, |c| c.seq);
    headers.push(Header::new(
        &b"CSeq"[..],
        format!("{seq} {method}").into_bytes(),
    ));
    headers.push(Header::new(&b"Max-Forwards"[..], &b"70"[..]));
    headers.push(Header::new(&b"Content-Length"[..], &b"0"[..]));
    Request {
        method,
        uri: Cow::Owned(req.uri.to_vec()),
        headers,
        body: Cow::Borrowed(b""),
    }
}

impl Response<'_> {
    /// Appends a header line before Content-Length.
    pub fn add_header(&mut self, name: &str, value: impl Into<Vec<u8>>) {
        let header = Header::new(name.as_bytes().to_vec(), value.into());
        match self
            .headers
            .0
            .iter()
            .position(|h| h.kind() == HeaderName::ContentLength)
        {
            Some(pos) => self.headers.0.insert(pos, header),
            None => self.headers.push(header),
        }
    }

    /// Sets the body, its Content-Type and Content-Length.
    pub fn set_body(&mut self, content_type: &str, body: Vec<u8>) {
        self.headers
            .set(HeaderName::ContentType, content_type.as_bytes().to_vec());
        self.headers.set(
            HeaderName::ContentLength,
            body.len().to_string().into_bytes(),
        );
        self.body = Cow::Owned(body);
    }
}

/// A branch parameter value from caller-supplied randomness: the magic cookie followed by
/// 16 hex digits (RFC 3261 §8.1.1.7). The sans-IO core never draws randomness itself.
pub fn branch_from(random: u64) -> String {
    format!("z9hG4bK{random:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Message;

    #[test]
    fn built_request_parses() {
        let req = RequestBuilder::new(Method::Invite, "sip:bob@example.com")
            .header(
                "Via",
                format!("SIP/2.0/UDP 192.0.2.1;branch={}", branch_from(7)),
            )
            .header("Max-Forwards", "70")
            .header("From", "<sip:alice@example.com>;tag=a1")
            .header("To", "<sip:bob@example.com>")
            .header("Call-ID", "c1")
            .header("CSeq", "1 INVITE")
            .body("application/sdp", b"v=0\r\n".to_vec())
            .build();
        let bytes = req.to_bytes();
        let Message::Request(parsed) = Message::parse(&bytes).unwrap() else {
            panic!("request")
        };
        assert_eq!(parsed, req);
        assert_eq!(parsed.headers.content_length(), Some(5));
    }

    #[test]
    fn cancel_matches_the_invite() {
        let inv = RequestBuilder::new(Method::Invite, "sip:bob@example.com")
            .header("Via", "SIP/2.0/UDP h;branch=z9hG4bKc1")
            .header("Via", "SIP/2.0/UDP upstream;branch=z9hG4bKup")
            .header("Route", "<sip:p1;lr>")
            .header("From", "<sip:a@b>;tag=1")
            .header("To", "<sip:bob@example.com>")
            .header("Call-ID", "c9")
            .header("CSeq", "7 INVITE")
            .body("application/sdp", b"v=0\r\n".to_vec())
            .build();
        let cancel = cancel_for(&inv);
        let bytes = cancel.to_bytes();
        let Message::Request(c) = Message::parse(&bytes).unwrap() else {
            panic!("request")
        };
        assert_eq!(c.method, Method::Cancel);
        assert_eq!(c.uri, inv.uri);
        assert_eq!(c.headers.vias().unwrap().len(), 1);
        assert_eq!(
            c.headers.top_via().unwrap().branch(),
            Some(&b"z9hG4bKc1"[..])
        );
        assert_eq!(
            (
                c.headers.cseq().unwrap().seq,
                c.headers.cseq().unwrap().method
            ),
            (7, &b"CANCEL"[..])
        );
        assert_eq!(c.headers.name_addrs(HeaderName::Route).unwrap().len(), 1);
        assert!(c.body.is_empty());
    }

    #[test]
    fn response_copies_and_tags() {
        let req = RequestBuilder::new(Method::Options, "sip:bob@example.com")
            .header("v", "SIP/2.0/UDP h;branch=z9hG4bKx")
            .header("From", "<sip:a@b>;tag=1")
            .header("t", "<sip:bob@example.com>")
            .header("i", "c1")
            .header("CSeq", "2 OPTIONS")
            .build();
        let resp = response_to(&req, 200, Some(b"t9"));
        let bytes = resp.to_bytes();
        let Message::Response(p) = Message::parse(&bytes).unwrap() else {
            panic!("response")
        };
        assert_eq!(p.status, 200);
        assert_eq!(p.headers.to().unwrap().tag(), Some(&b"t9"[..]));
        assert_eq!(p.headers.call_id(), Some(&b"c1"[..]));
        assert_eq!(p.headers.cseq().unwrap().seq, 2);
    }
}
