//! SIP, SIPS and tel URIs (RFC 3261 §19.1, §25.1; RFC 3966), parsed as borrowed views.
//!
//! ```text
//! sip:user:password@host:port;uri-parameters?headers
//! tel:+1-201-555-0123;phone-context=example.com
//! ```
//! Parts are kept escaped as received; [`SipUri::user_unescaped`] decodes `%HH` on demand.

use std::borrow::Cow;

use super::scan::{self, Param, Params};

/// A parsed URI: SIP/SIPS, tel, or any other absolute URI kept opaque (RFC 4475 §3.3.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Uri<'s> {
    /// `sip:` or `sips:`.
    Sip(SipUri<'s>),
    /// `tel:` (RFC 3966).
    Tel(TelUri<'s>),
    /// Any other scheme, e.g. `isbn:2983792873`.
    Other {
        /// The scheme as received.
        scheme: &'s [u8],
        /// Everything after the first `:`.
        rest: &'s [u8],
    },
}

/// A `sip:`/`sips:` URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipUri<'s> {
    /// `sips:` rather than `sip:`.
    pub secure: bool,
    /// User part, escaped as received.
    pub user: Option<&'s [u8]>,
    /// Password, escaped as received.
    pub password: Option<&'s [u8]>,
    /// Host name, IPv4 address or `[IPv6]` reference.
    pub host: &'s [u8],
    /// Port, when present.
    pub port: Option<u16>,
    /// URI parameters (`;transport=tcp;lr`).
    pub params: Params<'s>,
    /// The raw `?headers` part without the `?`.
    pub headers: Option<&'s [u8]>,
}

/// A `tel:` URI (RFC 3966).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelUri<'s> {
    /// The number, global (`+…`) or local, with visual separators as received.
    pub number: &'s [u8],
    /// Parameters such as `phone-context`.
    pub params: Params<'s>,
}

/// Why a URI was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UriError;

impl<'s> Uri<'s> {
    /// Parses an absolute URI. Never panics.
    pub fn parse(s: &'s [u8]) -> Result<Self, UriError> {
        let colon = s.iter().position(|b| *b == b':').ok_or(UriError)?;
        let (scheme, rest) = (&s[..colon], &s[colon + 1..]);
        let scheme_ok = scheme.first().is_some_and(u8::is_ascii_alphabetic)
            && scheme
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
        if !scheme_ok || rest.is_empty() || !rest.iter().all(|b| is_uric(*b)) || !escapes_ok(rest) {
            return Err(UriError);
        }
        if scheme.eq_ignore_ascii_case(b"sip") || scheme.eq_ignore_ascii_case(b"sips") {
            SipUri::parse_rest(scheme.len() == 4, rest).map(Uri::Sip)
        } else if scheme.eq_ignore_ascii_case(b"tel") {
            TelUri::parse_rest(rest).map(Uri::Tel)
        } else {
            Ok(Uri::Other { scheme, rest })
        }
    }

    /// The SIP URI, when this is one.
    pub fn as_sip(&self) -> Option<&SipUri<'s>> {
        match self {
            Uri::Sip(u) => Some(u),
            _ => None,
        }
    }

    /// Whether the scheme is `sip` or `sips`.
    pub fn is_sip(&self) -> bool {
        matches!(self, Uri::Sip(_))
    }
}

/// RFC 3261 §25.1 `unreserved` / `reserved` / `escaped` plus `[ ]` for IPv6 references and
/// `#` for opaque URIs: anything else (SP, `<`, `>`, `"`, CTL, non-ASCII) ends or breaks a URI.
fn is_uric(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'_'
                | b'.'
                | b'!'
                | b'~'
                | b'*'
                | b'\''
                | b'('
                | b')'
                | b';'
                | b'/'
                | b'?'
                | b':'
                | b'@'
                | b'&'
                | b'='
                | b'+'
                | b'$'
                | b','
                | b'%'
                | b'['
                | b']'
                | b'#'
        )
}

/// Every `%` starts a valid `%HH` escape.
fn escapes_ok(s: &[u8]) -> bool {
    s.iter().enumerate().all(|(i, b)| {
        *b != b'%'
            || (s.get(i + 1).and_then(scan::hex).is_some()
                && s.get(i + 2).and_then(scan::hex).is_some())
    })
}

impl<'s> SipUri<'s> {
    fn parse_rest(secure: bool, rest: &'s [u8]) -> Result<Self, UriError> {
        // userinfo ends at the first '@' (RFC 3261 §25.1: '@' is escaped inside it).
        let (user, password, hostpart) = match rest.iter().position(|b| *b == b'@') {
            Some(at) => {
                let info = &rest[..at];
                let (u, p) = match info.iter().position(|b| *b == b':') {
                    Some(c) => (&info[..c], Some(&info[c + 1..])),
                    None => (info, None),
                };
                if u.is_empty() {
                    return Err(UriError);
                }
                (Some(u), p, &rest[at + 1..])
            }
            None => (None, None, rest),
        };
        let (before_headers, headers) = match hostpart.iter().position(|b| *b == b'?') {
            Some(q) => (&hostpart[..q], Some(&hostpart[q + 1..])),
            None => (hostpart, None),
        };
        let hp_end = before_headers
            .iter()
            .position(|b| *b == b';')
            .unwrap_or(before_headers.len());
        let (host, port) = parse_hostport(&before_headers[..hp_end])?;
        let params = parse_uri_params(&before_headers[hp_end..])?;
        Ok(SipUri {
            secure,
            user,
            password,
            host,
            port,
            params,
            headers,
        })
    }

    /// The user part with `%HH` escapes decoded (escaped NULs kept, RFC 4475 §3.1.1.4).
    pub fn user_unescaped(&self) -> Option<Cow<'s, [u8]>> {
        self.user.map(scan::unescape)
    }

    /// Whether the `lr` parameter is present (RFC 3261 §19.1.1, loose routing).
    pub fn is_loose_route(&self) -> bool {
        self.params.contains("lr")
    }
}

/// `hostport = host [ ":" port ]` (RFC 3261 §25.1).
pub(crate) fn parse_hostport(s: &[u8]) -> Result<(&[u8], Option<u16>), UriError> {
    let (host, port) = if s.first() == Some(&b'[') {
        let close = s.iter().position(|b| *b == b']').ok_or(UriError)?;
        let inner = &s[1..close];
        if inner.is_empty()
            || !inner
                .iter()
                .all(|b| b.is_ascii_hexdigit() || matches!(b, b':' | b'.'))
        {
            return Err(UriError);
        }
        match &s[close + 1..] {
            [] => (&s[..=close], None),
            [b':', p @ ..] => (&s[..=close], Some(p)),
            _ => return Err(UriError),
        }
    } else {
        match s.iter().position(|b| *b == b':') {
            Some(c) => (&s[..c], Some(&s[c + 1..])),
            None => (s, None),
        }
    };
    let host_ok = host.first() == Some(&b'[')
        || (!host.is_empty()
            && host
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.')));
    if !host_ok {
        return Err(UriError);
    }
    let port = match port {
        Some(p) => Some(
            scan::parse_u64_max(p, u64::from(u16::MAX))
                .and_then(|v| u16::try_from(v).ok())
                .ok_or(UriError)?,
        ),
        None => None,
    };
    Ok((host, port))
}

/// `*( ";" uri-parameter )` with no LWS (RFC 3261 §25.1 `uri-parameters`).
fn parse_uri_params(s: &[u8]) -> Result<Params<'_>, UriError> {
    let mut out = Vec::new();
    if s.is_empty() {
        return Ok(Params(out));
    }
    for p in s[1..].split(|b| *b == b';') {
        let (name, value) = match p.iter().position(|b| *b == b'=') {
            Some(e) => (&p[..e], Some(&p[e + 1..])),
            None => (p, None),
        };
        if name.is_empty() || name.contains(&b'?') {
            return Err(UriError);
        }
        out.push(Param { name, value });
    }
    Ok(Params(out))
}

impl<'s> TelUri<'s> {
    fn parse_rest(rest: &'s [u8]) -> Result<Self, UriError> {
        let end = rest.iter().position(|b| *b == b';').unwrap_or(rest.len());
        let number = &rest[..end];
        let digits = number.strip_prefix(b"+").unwrap_or(number);
        let ok = !digits.is_empty()
            && digits.iter().all(|b| {
                b.is_ascii_hexdigit() || matches!(b, b'-' | b'.' | b'(' | b')' | b'*' | b'#')
            });
        if !ok {
            return Err(UriError);
        }
        Ok(TelUri {
            number,
            params: parse_uri_params(&rest[end..])?,
        })
    }

    /// Whether the number is global (`+` prefix, RFC 3966 §5.1.4).
    pub fn is_global(&self) -> bool {
        self.number.first() == Some(&b'+')
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sip_uri_parts() {
        let Uri::Sip(u) =
            Uri::parse(b"sips:alice:pw@[2001:db8::1]:5061;transport=tcp;lr?Subject=x").unwrap()
        else {
            panic!("not sip")
        };
        assert!(u.secure);
        assert_eq!(u.user, Some(&b"alice"[..]));
        assert_eq!(u.password, Some(&b"pw"[..]));
        assert_eq!(u.host, b"[2001:db8::1]");
        assert_eq!(u.port, Some(5061));
        assert_eq!(u.params.value("transport"), Some(&b"tcp"[..]));
        assert!(u.is_loose_route());
        assert_eq!(u.headers, Some(&b"Subject=x"[..]));
    }

    #[test]
    fn escaped_user_is_decoded_on_demand() {
        let Uri::Sip(u) = Uri::parse(b"sip:sips%3Auser%40example.com@example.net").unwrap() else {
            panic!("not sip")
        };
        assert_eq!(u.host, b"example.net");
        assert_eq!(&*u.user_unescaped().unwrap(), b"sips:user@example.com");
    }

    #[test]
    fn tel_and_other() {
        let Uri::Tel(t) = Uri::parse(b"tel:+1-201-555-0123;phone-context=example.com").unwrap()
        else {
            panic!("not tel")
        };
        assert!(t.is_global());
        assert_eq!(t.params.value("phone-context"), Some(&b"example.com"[..]));
        assert!(matches!(
            Uri::parse(b"isbn:2983792873"),
            Ok(Uri::Other { .. })
        ));
    }

    #[test]
    fn bad_uris() {
        for bad in [
            &b" sip:a@b"[..],
            b"sip:a@b c",
            b"<sip:a@b>",
            b"sip:",
            b"sip:a@b:99999",
            b"sip:%zz@b",
            b"nocolon",
        ] {
            assert!(
                Uri::parse(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
