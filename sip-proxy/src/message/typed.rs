//! Typed views of header values, parsed on demand from the raw bytes (RFC 3261 §20, §25.1).
//!
//! Every view borrows from the header it was parsed from and reads through folded lines
//! and LWS. Parsing never panics; a malformed value gives `None`.

use super::scan::{self, Params};
use super::uri::{self, Uri};
use super::Method;

/// The magic cookie that marks an RFC 3261 branch (RFC 3261 §8.1.1.7).
pub const BRANCH_MAGIC_COOKIE: &[u8] = b"z9hG4bK";

/// One Via value: `SIP/2.0/UDP host:port;branch=…;received=…;rport` (RFC 3261 §20.42).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Via<'s> {
    /// Transport token as received (`UDP`, `TCP`, `TLS`, `SCTP`, `WS`, or an extension).
    pub transport: &'s [u8],
    /// sent-by host.
    pub host: &'s [u8],
    /// sent-by port.
    pub port: Option<u16>,
    /// via-params.
    pub params: Params<'s>,
}

impl<'s> Via<'s> {
    /// Parses one Via value (no commas).
    pub fn parse(s: &'s [u8]) -> Option<Self> {
        let mut i = scan::skip_lws(s, 0);
        // sent-protocol = protocol-name SLASH protocol-version SLASH transport
        let mut parts = [&s[0..0]; 3];
        for (n, part) in parts.iter_mut().enumerate() {
            if n > 0 {
                i = scan::skip_lws(s, i);
                if s.get(i) != Some(&b'/') {
                    return None;
                }
                i = scan::skip_lws(s, i + 1);
            }
            let end = scan::token_end(s, i);
            if end == i {
                return None;
            }
            *part = &s[i..end];
            i = end;
        }
        if !parts[0].eq_ignore_ascii_case(b"SIP") || parts[1] != b"2.0" {
            return None;
        }
        let after = scan::skip_lws(s, i);
        if after == i {
            return None; // LWS is required before sent-by
        }
        let (host, port, end) = parse_sent_by(s, after)?;
        let params = scan::parse_header_params(s, end)?;
        Some(Via {
            transport: parts[2],
            host,
            port,
            params,
        })
    }

    /// The branch parameter.
    pub fn branch(&self) -> Option<&'s [u8]> {
        self.params.value("branch")
    }

    /// Whether the branch starts with the RFC 3261 magic cookie and has something after it
    /// (RFC 3261 §17.2.3; RFC 4475 §3.2.1 treats a bare cookie as no branch).
    pub fn has_rfc3261_branch(&self) -> bool {
        self.branch().is_some_and(|b| {
            b.len() > BRANCH_MAGIC_COOKIE.len() && b.starts_with(BRANCH_MAGIC_COOKIE)
        })
    }

    /// The `received` parameter (RFC 3261 §18.2.1).
    pub fn received(&self) -> Option<&'s [u8]> {
        self.params.value("received")
    }

    /// The `rport` parameter (RFC 3581): `Some(None)` when present without a value.
    pub fn rport(&self) -> Option<Option<u16>> {
        self.params.get("rport").map(|v| {
            v.and_then(|p| scan::parse_u64_max(p, 65535))
                .and_then(|p| u16::try_from(p).ok())
        })
    }

    /// The `maddr` parameter.
    pub fn maddr(&self) -> Option<&'s [u8]> {
        self.params.value("maddr")
    }

    /// Whether the transport is reliable (TCP, TLS, SCTP, WS, WSS) — RFC 3261 §17.1.1.2.
    pub fn is_reliable(&self) -> bool {
        !self.transport.eq_ignore_ascii_case(b"UDP")
    }
}

/// `sent-by = host [ COLON port ]` with LWS allowed around the colon.
fn parse_sent_by(s: &[u8], i: usize) -> Option<(&[u8], Option<u16>, usize)> {
    let mut j = i;
    if s.get(j) == Some(&b'[') {
        j += s[j..].iter().position(|b| *b == b']')? + 1;
    } else {
        while s
            .get(j)
            .is_some_and(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.'))
        {
            j += 1;
        }
    }
    let (host, _) = uri::parse_hostport(&s[i..j]).ok()?;
    let k = scan::skip_lws(s, j);
    if s.get(k) != Some(&b':') {
        return Some((host, None, j));
    }
    let p = scan::skip_lws(s, k + 1);
    let mut e = p;
    while s.get(e).is_some_and(u8::is_ascii_digit) {
        e += 1;
    }
    let port = scan::parse_u64_max(&s[p..e], 65535).and_then(|v| u16::try_from(v).ok())?;
    Some((host, Some(port), e))
}

/// A name-addr or addr-spec with header parameters: From, To, Contact, Route, Record-Route,
/// P-Asserted-Identity, P-Preferred-Identity, Path, Service-Route (RFC 3261 §25.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameAddr<'s> {
    /// The display name as received (quotes kept for a quoted string).
    pub display_name: Option<&'s [u8]>,
    /// The raw URI bytes.
    pub uri_raw: &'s [u8],
    /// The parsed URI.
    pub uri: Uri<'s>,
    /// Header parameters (`tag`, `expires`, `q`, …), never URI parameters.
    pub params: Params<'s>,
}

impl<'s> NameAddr<'s> {
    /// Parses one value (no commas between values).
    pub fn parse(s: &'s [u8]) -> Option<Self> {
        let start = scan::skip_lws(s, 0);
        let (display_name, lt) = display_name(s, start)?;
        let (uri_raw, after) = match lt {
            Some(lt) => {
                let close = lt + 1 + s[lt + 1..].iter().position(|b| *b == b'>')?;
                (&s[lt + 1..close], close + 1)
            }
            None => {
                // addr-spec form: the URI ends at the first ';' or LWS, and may not carry
                // '?' or ',' (RFC 3261 §20: those require angle brackets).
                let end = start
                    + s[start..]
                        .iter()
                        .position(|b| matches!(b, b';' | b' ' | b'\t' | b'\r'))
                        .unwrap_or(s.len() - start);
                let raw = &s[start..end];
                if raw.contains(&b'?') || raw.contains(&b',') {
                    return None;
                }
                (raw, end)
            }
        };
        let uri = Uri::parse(uri_raw).ok()?;
        let params = scan::parse_header_params(s, after)?;
        Some(NameAddr {
            display_name,
            uri_raw,
            uri,
            params,
        })
    }

    /// The `tag` parameter (RFC 3261 §19.3).
    pub fn tag(&self) -> Option<&'s [u8]> {
        self.params.value("tag")
    }

    /// The display name without quotes and with quoted-pairs decoded.
    pub fn display_name_unquoted(&self) -> Option<Vec<u8>> {
        let d = self.display_name?;
        if d.first() != Some(&b'"') {
            return Some(d.to_vec());
        }
        let inner = scan::unquote(d);
        let mut out = Vec::with_capacity(inner.len());
        let mut it = inner.iter();
        while let Some(b) = it.next() {
            match (b, it.clone().next()) {
                (b'\\', Some(n)) => {
                    out.push(*n);
                    it.next();
                }
                _ => out.push(*b),
            }
        }
        Some(out)
    }
}

/// Scans an optional display name from `i`; returns it and the index of `<` when the value
/// is in name-addr form.
fn display_name(s: &[u8], i: usize) -> Option<(Option<&[u8]>, Option<usize>)> {
    match s.get(i) {
        Some(b'"') => {
            let end = scan::quoted_string_end(s, i)?;
            let lt = scan::skip_lws(s, end);
            (s.get(lt) == Some(&b'<')).then_some((Some(&s[i..end]), Some(lt)))
        }
        Some(b'<') => Some((None, Some(i))),
        _ => {
            // display-name = *(token LWS); RFC 4475 §3.1.1.6 allows no LWS before '<'.
            let mut j = i;
            let mut last_token_end = i;
            loop {
                let e = scan::token_end(s, j);
                if e == j {
                    break;
                }
                last_token_end = e;
                j = scan::skip_lws(s, e);
            }
            if j > i && s.get(j) == Some(&b'<') {
                Some((Some(&s[i..last_token_end]), Some(j)))
            } else {
                Some((None, None))
            }
        }
    }
}

/// `CSeq: 4711 INVITE` (RFC 3261 §20.16).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CSeq<'s> {
    /// Sequence number, at most 2^31-1 per RFC 3261 §8.1.1.5 but accepted up to 2^32-1.
    pub seq: u32,
    /// The method token as received.
    pub method: &'s [u8],
}

impl<'s> CSeq<'s> {
    /// Parses a CSeq value; overlarge numbers are refused (RFC 4475 §3.1.2.4).
    pub fn parse(s: &'s [u8]) -> Option<Self> {
        let i = scan::skip_lws(s, 0);
        let mut e = i;
        while s.get(e).is_some_and(u8::is_ascii_digit) {
            e += 1;
        }
        let seq = u32::try_from(scan::parse_u64_max(&s[i..e], u64::from(u32::MAX))?).ok()?;
        let m = scan::skip_lws(s, e);
        if m == e {
            return None;
        }
        let method = scan::trim_lws(&s[m..]);
        scan::is_token(method).then_some(CSeq { seq, method })
    }

    /// The method as a [`Method`].
    pub fn method(&self) -> Method {
        Method::from_bytes(self.method)
    }
}

/// `RAck: 776656 1 INVITE` (RFC 3262 §7.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RAck<'s> {
    /// The RSeq being acknowledged.
    pub rseq: u32,
    /// The CSeq number of the INVITE.
    pub cseq: u32,
    /// The CSeq method.
    pub method: &'s [u8],
}

impl<'s> RAck<'s> {
    /// Parses an RAck value.
    pub fn parse(s: &'s [u8]) -> Option<Self> {
        let i = scan::skip_lws(s, 0);
        let e = i + s[i..].iter().take_while(|b| b.is_ascii_digit()).count();
        let rseq = u32::try_from(scan::parse_u64_max(&s[i..e], u64::from(u32::MAX))?).ok()?;
        let c = CSeq::parse(&s[e..])?;
        Some(RAck {
            rseq,
            cseq: c.seq,
            method: c.method,
        })
    }
}

/// A decimal header value bounded by `max` (Max-Forwards ≤ 255, Content-Length, RSeq,
/// Expires, Min-SE …). `None` when malformed or too large.
pub fn parse_number(s: &[u8], max: u64) -> Option<u64> {
    scan::parse_u64_max(scan::trim_lws(s), max)
}

/// `Session-Expires: 1800;refresher=uac` (RFC 4028 §4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionExpires<'s> {
    /// Interval in seconds.
    pub delta: u32,
    /// Parameters (`refresher`).
    pub params: Params<'s>,
}

impl<'s> SessionExpires<'s> {
    /// Parses Session-Expires (and Min-SE, which has the same shape).
    pub fn parse(s: &'s [u8]) -> Option<Self> {
        let i = scan::skip_lws(s, 0);
        let e = i + s[i..].iter().take_while(|b| b.is_ascii_digit()).count();
        let delta = u32::try_from(scan::parse_u64_max(&s[i..e], u64::from(u32::MAX))?).ok()?;
        Some(SessionExpires {
            delta,
            params: scan::parse_header_params(s, e)?,
        })
    }

    /// The `refresher` parameter (`uac` or `uas`).
    pub fn refresher(&self) -> Option<&'s [u8]> {
        self.params.value("refresher")
    }
}

/// A media type `type/subtype;params` (Content-Type, Accept values; RFC 3261 §20.15).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaType<'s> {
    /// Top-level type.
    pub kind: &'s [u8],
    /// Subtype.
    pub subtype: &'s [u8],
    /// Parameters.
    pub params: Params<'s>,
}

impl<'s> MediaType<'s> {
    /// Parses one media type.
    pub fn parse(s: &'s [u8]) -> Option<Self> {
        let i = scan::skip_lws(s, 0);
        let e = scan::token_end(s, i);
        let slash = scan::skip_lws(s, e);
        if e == i || s.get(slash) != Some(&b'/') {
            return None;
        }
        let j = scan::skip_lws(s, slash + 1);
        let f = scan::token_end(s, j);
        if f == j {
            return None;
        }
        Some(MediaType {
            kind: &s[i..e],
            subtype: &s[j..f],
            params: scan::parse_header_params(s, f)?,
        })
    }

    /// Whether this is `kind/subtype`, case-insensitively.
    pub fn is(&self, kind: &str, subtype: &str) -> bool {
        self.kind.eq_ignore_ascii_case(kind.as_bytes())
            && self.subtype.eq_ignore_ascii_case(subtype.as_bytes())
    }

    /// Whether this range (`*/*`, `application/*`) covers `kind/subtype`.
    pub fn matches(&self, kind: &str, subtype: &str) -> bool {
        (self.kind == b"*" || self.kind.eq_ignore_ascii_case(kind.as_bytes()))
            && (self.subtype == b"*" || self.subtype.eq_ignore_ascii_case(subtype.as_bytes()))
    }
}

/// An authentication challenge or credentials: `Digest realm="x", nonce="y", …`
/// (RFC 3261 §25.1 `challenge`/`credentials`, RFC 7616 §3.3–3.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthParams<'s> {
    /// The scheme (`Digest`, or an unknown one kept as received).
    pub scheme: &'s [u8],
    /// The comma-separated `name=value` pairs (quotes kept on values).
    pub params: Params<'s>,
}

impl<'s> AuthParams<'s> {
    /// Parses WWW-Authenticate, Proxy-Authenticate, Authorization or Proxy-Authorization.
    pub fn parse(s: &'s [u8]) -> Option<Self> {
        let i = scan::skip_lws(s, 0);
        let e = scan::token_end(s, i);
        if e == i {
            return None;
        }
        let rest = scan::trim_lws(&s[e..]);
        let mut params = Vec::new();
        if !rest.is_empty() {
            for item in scan::split_commas(rest)? {
                let n_end = scan::token_end(item, 0);
                let eq = scan::skip_lws(item, n_end);
                if n_end == 0 || item.get(eq) != Some(&b'=') {
                    return None;
                }
                let v = scan::trim_lws(&item[eq + 1..]);
                if v.first() == Some(&b'"') && scan::quoted_string_end(v, 0) != Some(v.len()) {
                    return None;
                }
                params.push(scan::Param {
                    name: &item[..n_end],
                    value: Some(v),
                });
            }
        }
        Some(AuthParams {
            scheme: &s[i..e],
            params: Params(params),
        })
    }

    /// Whether the scheme is Digest.
    pub fn is_digest(&self) -> bool {
        self.scheme.eq_ignore_ascii_case(b"Digest")
    }
}

/// An option-tag or method list (Require, Supported, Proxy-Require, Unsupported, Allow).
/// `None` when an element is not a token.
pub fn parse_token_list(values: &[&[u8]]) -> Option<Vec<Vec<u8>>> {
    values
        .iter()
        .map(|v| {
            let t = scan::trim_lws(v);
            scan::is_token(t).then(|| t.to_vec())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folded_via() {
        let v = Via::parse(b"SIP  /   2.0\r\n /UDP\r\n    192.0.2.2;branch=390skdjuw").unwrap();
        assert_eq!(v.transport, b"UDP");
        assert_eq!(v.host, b"192.0.2.2");
        assert_eq!(v.branch(), Some(&b"390skdjuw"[..]));
        assert!(!v.has_rfc3261_branch());
        let v = Via::parse(b"SIP/2.0/UDP [2001:db8::9]:5070;rport;received=192.0.2.1").unwrap();
        assert_eq!(
            (v.host, v.port, v.rport()),
            (&b"[2001:db8::9]"[..], Some(5070), Some(None))
        );
        assert!(Via::parse(b"SIP/2.0/UDP 192.0.2.15;;").is_none());
        assert!(Via::parse(b"SIP/3.0/UDP h").is_none());
    }

    #[test]
    fn name_addr_forms() {
        let n = NameAddr::parse(
            b"\"J Rosenberg \\\\\\\"\"       <sip:jdrosen@example.com>\r\n  ;\r\n  tag = 98asjd8",
        )
        .unwrap();
        assert_eq!(n.tag(), Some(&b"98asjd8"[..]));
        assert_eq!(n.display_name_unquoted().unwrap(), b"J Rosenberg \\\"");
        let n = NameAddr::parse(b"caller<sip:caller@example.com>;tag=323").unwrap();
        assert_eq!(n.display_name, Some(&b"caller"[..]));
        let n = NameAddr::parse(b"sip:+19725552222@gw1.example.net;unknownparam").unwrap();
        assert!(n.params.contains("unknownparam"));
        assert!(n.uri.as_sip().unwrap().params.0.is_empty());
        assert!(NameAddr::parse(b"\"Mr. J. User <sip:j.user@example.com>").is_none());
        assert!(NameAddr::parse(b"Bell, Alexander <sip:a.g.bell@bell-tel.com>").is_none());
        assert!(NameAddr::parse(b"\"W\" < sip:t.watson@example.org >").is_none());
        assert!(NameAddr::parse(b"sip:user@example.com?Route=%3Csip:x%3E").is_none());
    }

    #[test]
    fn cseq_and_rack() {
        let c = CSeq::parse(b"0009\r\n  INVITE").unwrap();
        assert_eq!((c.seq, c.method()), (9, Method::Invite));
        assert!(CSeq::parse(b"36893488147419103232 REGISTER").is_none());
        let r = RAck::parse(b"776656 1 INVITE").unwrap();
        assert_eq!((r.rseq, r.cseq, r.method), (776656, 1, &b"INVITE"[..]));
    }

    #[test]
    fn auth_params() {
        let a = AuthParams::parse(
            b"Digest realm=\"http-auth@example.org\", qop=\"auth, auth-int\", algorithm=SHA-256",
        )
        .unwrap();
        assert!(a.is_digest());
        assert_eq!(a.params.value("qop"), Some(&b"auth, auth-int"[..]));
        assert_eq!(a.params.value("algorithm"), Some(&b"SHA-256"[..]));
    }

    #[test]
    fn media_and_session_expires() {
        let m = MediaType::parse(b"application/sdp ; charset=x").unwrap();
        assert!(m.is("Application", "SDP"));
        let s = SessionExpires::parse(b"1800;refresher=uac").unwrap();
        assert_eq!((s.delta, s.refresher()), (1800, Some(&b"uac"[..])));
    }
}
