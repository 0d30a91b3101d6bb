//! Datagram framing and start-line parsing (RFC 3261 §7, §18.3).

use std::borrow::Cow;

use super::scan;
use super::typed::{CSeq, NameAddr, Via};
use super::{Error, Header, HeaderName, Headers, Message, Method, Request, Response, Uri};

/// Upper bound accepted for Content-Length; larger values cannot fit a datagram anyway.
const MAX_CONTENT_LENGTH: u64 = 1 << 24;

/// The pieces of a datagram before the start line is interpreted.
pub(crate) struct Raw<'a> {
    pub(crate) start_line: &'a [u8],
    pub(crate) headers: Headers<'a>,
    /// Octets after the empty line, before Content-Length framing.
    pub(crate) rest: &'a [u8],
}

/// First occurrence of `needle` at or after `from` (SIMD search via `memchr`).
fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    memchr::memmem::find(hay.get(from..)?, needle).map(|p| p + from)
}

/// Splits start line, header lines and the rest (RFC 3261 §7.3.1 line folding).
pub(crate) fn split(datagram: &[u8]) -> Result<Raw<'_>, Error> {
    // RFC 3261 §7.5: ignore CRLFs preceding the start line.
    let mut s = datagram;
    while let Some(rest) = s.strip_prefix(b"\r\n") {
        s = rest;
    }
    let sl_end = find(s, b"\r\n", 0).ok_or(Error::Truncated)?;
    let start_line = &s[..sl_end];
    let hdr_start = sl_end + 2;
    let (hdr_end, rest) = if s.get(hdr_start..hdr_start + 2) == Some(b"\r\n") {
        (hdr_start, &s[hdr_start + 2..])
    } else {
        match find(s, b"\r\n\r\n", hdr_start) {
            Some(e) => (e + 2, &s[e + 4..]),
            // RFC 4475 §3.1.2.15 (baddn): a datagram ending in CRLF ends the header section.
            None if s.ends_with(b"\r\n") => (s.len(), &s[s.len()..]),
            None => return Err(Error::Truncated),
        }
    };
    let headers = split_headers(&s[hdr_start..hdr_end])?;
    Ok(Raw {
        start_line,
        headers,
        rest,
    })
}

/// `section` is the header lines, each ending in CRLF.
fn split_headers(section: &[u8]) -> Result<Headers<'_>, Error> {
    let mut headers = Vec::new();
    let mut line_start = 0;
    while line_start < section.len() {
        // A header ends at a CRLF not followed by SP/HT (RFC 3261 §7.3.1).
        let mut end = line_start;
        loop {
            end = find(section, b"\r\n", end).ok_or(Error::BadHeaderLine)?;
            if section.get(end + 2).is_some_and(|b| scan::is_wsp(*b)) {
                end += 2;
            } else {
                break;
            }
        }
        let line = &section[line_start..end];
        let colon = line
            .iter()
            .position(|b| *b == b':')
            .ok_or(Error::BadHeaderLine)?;
        let name = scan::trim_lws(&line[..colon]);
        if !scan::is_token(name) || !scan::is_token_char(line[0]) {
            return Err(Error::BadHeaderLine);
        }
        let value = scan::trim_lws(&line[colon + 1..]);
        headers.push(Header::new(name, value));
        line_start = end + 2;
    }
    Ok(Headers(headers))
}

pub(crate) fn parse_message(datagram: &[u8]) -> Result<Message<'_>, Error> {
    let raw = split(datagram)?;
    // The start line first, so a wrong version is answered 505 (RFC 4475 §3.1.2.16).
    if is_response_line(raw.start_line) {
        let (status, reason) = parse_status_line(raw.start_line)?;
        let body = frame_body(&raw.headers, raw.rest)?;
        check_common(&raw.headers)?;
        Ok(Message::Response(Response {
            status,
            reason: Cow::Borrowed(reason),
            headers: raw.headers,
            body,
        }))
    } else {
        let (method, uri) = parse_request_line(raw.start_line)?;
        let body = frame_body(&raw.headers, raw.rest)?;
        check_common(&raw.headers)?;
        check_cseq_method(&raw.headers, &method)?;
        Ok(Message::Request(Request {
            method,
            uri: Cow::Borrowed(uri),
            headers: raw.headers,
            body,
        }))
    }
}

/// A Status-Line starts with the SIP-Version, which is case-insensitive (RFC 3261 §7.1);
/// a Method is a token and cannot contain `/`.
pub(crate) fn is_response_line(line: &[u8]) -> bool {
    line.get(..4)
        .is_some_and(|p| p.eq_ignore_ascii_case(b"SIP/"))
}

/// `Status-Line = SIP-Version SP Status-Code SP Reason-Phrase` (RFC 3261 §7.2).
fn parse_status_line(line: &[u8]) -> Result<(u16, &[u8]), Error> {
    let version = line.get(..7).ok_or(Error::BadStartLine)?;
    if !version.eq_ignore_ascii_case(b"SIP/2.0") {
        return Err(Error::UnsupportedVersion);
    }
    let code = line.get(8..11).ok_or(Error::BadStartLine)?;
    if line.get(7) != Some(&b' ') || line.get(11) != Some(&b' ') {
        return Err(Error::BadStartLine);
    }
    let status = scan::parse_u64_max(code, 699)
        .filter(|c| *c >= 100)
        .and_then(|c| u16::try_from(c).ok())
        .ok_or(Error::BadStartLine)?;
    Ok((status, &line[12..]))
}

/// `Request-Line = Method SP Request-URI SP SIP-Version` with exactly one SP between the
/// elements (RFC 4475 §3.1.2.7–3.1.2.10 are rejected, not repaired).
fn parse_request_line(line: &[u8]) -> Result<(Method, &[u8]), Error> {
    let mut parts = line.split(|b| *b == b' ');
    let (Some(method), Some(uri), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Error::BadStartLine);
    };
    if !scan::is_token(method) {
        return Err(Error::BadStartLine);
    }
    if !version.eq_ignore_ascii_case(b"SIP/2.0") {
        let looks_like_sip = version.len() > 4 && version[..4].eq_ignore_ascii_case(b"SIP/");
        return Err(if looks_like_sip {
            Error::UnsupportedVersion
        } else {
            Error::BadStartLine
        });
    }
    match Uri::parse(uri) {
        // RFC 4475 §3.1.2.11: headers are not allowed in a Request-URI.
        Ok(Uri::Sip(u)) if u.headers.is_some() => Err(Error::BadRequestUri),
        Ok(_) => Ok((Method::from_bytes(method), uri)),
        Err(_) => Err(Error::BadRequestUri),
    }
}

/// Content-Length framing for a datagram (RFC 3261 §18.3, RFC 4475 §3.1.1.8, §3.1.2.2–3).
fn frame_body<'a>(headers: &Headers<'a>, rest: &'a [u8]) -> Result<Cow<'a, [u8]>, Error> {
    let mut lengths = headers.get_all(HeaderName::ContentLength);
    let Some(cl) = lengths.next() else {
        return Ok(Cow::Borrowed(rest)); // RFC 4475 §3.4.1: body is the rest of the datagram.
    };
    if lengths.next().is_some() {
        return Err(Error::DuplicateHeader(HeaderName::ContentLength));
    }
    let len = scan::parse_u64_max(&cl.value, MAX_CONTENT_LENGTH)
        .and_then(|l| usize::try_from(l).ok())
        .ok_or(Error::BadHeader(HeaderName::ContentLength))?;
    rest.get(..len)
        .map(Cow::Borrowed)
        .ok_or(Error::BodyTruncated)
}

/// The header checks shared by requests and responses (RFC 3261 §8.1.1, §8.2.2, §20).
fn check_common(headers: &Headers<'_>) -> Result<(), Error> {
    for name in [
        HeaderName::From,
        HeaderName::To,
        HeaderName::CallId,
        HeaderName::CSeq,
    ] {
        let mut it = headers.get_all(name);
        let first = it.next().ok_or(Error::MissingHeader(name))?;
        if it.next().is_some() {
            return Err(Error::DuplicateHeader(name));
        }
        let ok = match name {
            HeaderName::From | HeaderName::To => NameAddr::parse(&first.value).is_some(),
            HeaderName::CSeq => CSeq::parse(&first.value).is_some(),
            _ => is_call_id(&first.value),
        };
        if !ok {
            return Err(Error::BadHeader(name));
        }
    }
    let vias = headers
        .values(HeaderName::Via)
        .ok_or(Error::BadHeader(HeaderName::Via))?;
    if vias.is_empty() {
        return Err(Error::MissingHeader(HeaderName::Via));
    }
    if !vias.iter().all(|v| Via::parse(v).is_some()) {
        return Err(Error::BadHeader(HeaderName::Via));
    }
    let mut mf = headers.get_all(HeaderName::MaxForwards);
    if let Some(h) = mf.next() {
        if mf.next().is_some() {
            return Err(Error::DuplicateHeader(HeaderName::MaxForwards));
        }
        if super::typed::parse_number(&h.value, 255).is_none() {
            return Err(Error::BadHeader(HeaderName::MaxForwards));
        }
    }
    for name in [
        HeaderName::Contact,
        HeaderName::Route,
        HeaderName::RecordRoute,
    ] {
        let values = headers.values(name).ok_or(Error::BadHeader(name))?;
        let star = |v: &[u8]| name == HeaderName::Contact && v == b"*";
        if !values
            .iter()
            .all(|v| star(v) || NameAddr::parse(v).is_some())
        {
            return Err(Error::BadHeader(name));
        }
    }
    Ok(())
}

/// `callid = word [ "@" word ]`: non-empty, no LWS.
fn is_call_id(v: &[u8]) -> bool {
    !v.is_empty() && v.iter().all(|b| b.is_ascii_graphic())
}

fn check_cseq_method(headers: &Headers<'_>, method: &Method) -> Result<(), Error> {
    let cseq = headers.cseq().ok_or(Error::BadHeader(HeaderName::CSeq))?;
    if cseq.method == method.as_bytes() {
        Ok(())
    } else {
        Err(Error::CSeqMethodMismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPTIONS: &[u8] = b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";

    #[test]
    fn leading_crlf_and_trailing_octets() {
        let mut d = b"\r\n\r\n".to_vec();
        d.extend_from_slice(OPTIONS);
        d.extend_from_slice(b"garbage");
        let Message::Request(r) = Message::parse(&d).unwrap() else {
            panic!("request")
        };
        assert_eq!(r.method, Method::Options);
        assert!(r.body.is_empty());
    }

    #[test]
    fn status_line_rules() {
        assert_eq!(
            parse_status_line(b"SIP/2.0 200 OK").unwrap(),
            (200, &b"OK"[..])
        );
        assert_eq!(parse_status_line(b"SIP/2.0 180 ").unwrap(), (180, &b""[..]));
        assert!(parse_status_line(b"SIP/2.0 099 x").is_err());
        // RFC 3261 §7.1: the SIP-Version is case-insensitive.
        assert_eq!(
            parse_status_line(b"sip/2.0 200 OK").unwrap(),
            (200, &b"OK"[..])
        );
        assert!(parse_request_line(b"BYE sip:a@b Sip/2.0").is_ok());
        assert!(parse_status_line(b"SIP/2.0 4294967301 x").is_err());
        assert_eq!(
            parse_status_line(b"SIP/3.0 200 OK"),
            Err(Error::UnsupportedVersion)
        );
    }

    #[test]
    fn request_line_rules() {
        assert!(parse_request_line(b"INVITE sip:a@b SIP/2.0").is_ok());
        assert_eq!(
            parse_request_line(b"INVITE sip:a@b SIP/2.1"),
            Err(Error::UnsupportedVersion)
        );
        assert_eq!(
            parse_request_line(b"INVITE  sip:a@b SIP/2.0"),
            Err(Error::BadStartLine)
        );
        assert_eq!(
            parse_request_line(b"INVITE <sip:a@b> SIP/2.0"),
            Err(Error::BadRequestUri)
        );
        assert_eq!(
            parse_request_line(b"INVITE sip:a@b?X=y SIP/2.0"),
            Err(Error::BadRequestUri)
        );
    }

    #[test]
    fn never_panics_on_prefixes() {
        for n in 0..OPTIONS.len() {
            let _ = Message::parse(&OPTIONS[..n]);
        }
    }
}
