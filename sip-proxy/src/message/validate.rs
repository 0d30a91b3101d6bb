//! Request and response validation above the parser: what a UAS, registrar or proxy
//! answers to a well-formed message it will not process (RFC 3261 §8.2, §16.3, §18.1.2;
//! RFC 4475 §3.1.1.2, §3.3).

use super::typed::MediaType;
use super::uri::Uri;
use super::{HeaderName, Method, Request, Response};

/// The role the element plays for this request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A user agent server (the B2BUA's inbound leg).
    Endpoint,
    /// A registrar (RFC 3261 §10.3).
    Registrar,
    /// A proxy (RFC 3261 §16.3).
    Proxy,
}

/// What this element supports.
#[derive(Debug, Clone)]
pub struct UaPolicy {
    /// The role.
    pub role: Role,
    /// Methods accepted; others get 405 when known, 501 when not (RFC 3261 §8.2.1).
    pub allow: Vec<Method>,
    /// Option tags understood (RFC 3261 §8.2.2.3).
    pub supported: Vec<&'static str>,
    /// Body types understood as `(type, subtype)` (RFC 3261 §8.2.3).
    pub accept: Vec<(&'static str, &'static str)>,
}

impl UaPolicy {
    /// The gateway's UAS policy: INVITE dialogs with 100rel, UPDATE, timers; SDP bodies.
    pub fn gateway(role: Role) -> Self {
        UaPolicy {
            role,
            allow: vec![
                Method::Invite,
                Method::Ack,
                Method::Bye,
                Method::Cancel,
                Method::Options,
                Method::Prack,
                Method::Update,
                Method::Info,
                Method::Message,
                Method::Notify,
            ]
            .into_iter()
            .chain((role == Role::Registrar).then_some(Method::Register))
            .collect(),
            supported: vec!["100rel", "timer", "replaces", "path", "outbound", "gruu"],
            accept: vec![("application", "sdp")],
        }
    }

    /// The value of an `Allow` header for this policy.
    pub fn allow_header(&self) -> Vec<u8> {
        join(self.allow.iter().map(Method::as_bytes))
    }
}

fn join<'x>(items: impl Iterator<Item = &'x [u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    for (n, i) in items.enumerate() {
        if n > 0 {
            out.extend_from_slice(b", ");
        }
        out.extend_from_slice(i);
    }
    out
}

/// The response to send instead of processing the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// Status code.
    pub status: u16,
    /// Headers the response must carry (`Allow`, `Unsupported`, `Accept`, `Warning`).
    pub headers: Vec<(&'static str, Vec<u8>)>,
}

impl Rejection {
    fn plain(status: u16) -> Self {
        Rejection {
            status,
            headers: Vec::new(),
        }
    }
}

/// Checks a parsed request against the policy, in the order of RFC 3261 §8.2 (UAS) or
/// §16.3 (proxy). `Ok` means: process it.
pub fn check_request(req: &Request<'_>, policy: &UaPolicy) -> Result<(), Rejection> {
    if policy.role == Role::Proxy {
        return check_proxy(req, policy);
    }
    // RFC 3261 §8.2.1: method inspection.
    if !policy.allow.contains(&req.method) {
        let status = if matches!(req.method, Method::Extension(_)) {
            501
        } else {
            405
        };
        return Err(Rejection {
            status,
            headers: vec![("Allow", policy.allow_header())],
        });
    }
    // RFC 3261 §8.2.2.1: Request-URI scheme (RFC 4475 §3.3.2–3).
    check_scheme(req)?;
    // RFC 3261 §10.3 step 5: a registrar's To must be a SIP or SIPS AOR (RFC 4475 §3.3.4).
    if policy.role == Role::Registrar && req.method == Method::Register {
        let to_is_sip = req.headers.to().is_some_and(|t| t.uri.is_sip());
        if !to_is_sip {
            return Err(Rejection::plain(400));
        }
    }
    // RFC 3261 §8.2.2.3: Require (RFC 4475 §3.3.5).
    unsupported(req, HeaderName::Require, policy)?;
    // RFC 3261 §8.2.3: content processing (RFC 4475 §3.3.6).
    check_content(req, policy)?;
    // RFC 3261 §21.4.7 (406): the answer would need a body the client cannot accept
    // (RFC 4475 §3.3.15).
    check_accept(req, policy)
}

/// RFC 3261 §16.3 request validation at a proxy.
fn check_proxy(req: &Request<'_>, policy: &UaPolicy) -> Result<(), Rejection> {
    check_scheme(req)?;
    // §16.3 step 3: Max-Forwards 0 → 483 (RFC 4475 §3.3.11).
    if req.headers.max_forwards() == Some(0) {
        return Err(Rejection::plain(483));
    }
    // §16.3 step 5: Proxy-Require (RFC 4475 §3.3.5).
    unsupported(req, HeaderName::ProxyRequire, policy)
}

fn check_scheme(req: &Request<'_>) -> Result<(), Rejection> {
    match req.uri() {
        Ok(Uri::Sip(_) | Uri::Tel(_)) => Ok(()),
        _ => Err(Rejection::plain(416)),
    }
}

fn unsupported(req: &Request<'_>, name: HeaderName, policy: &UaPolicy) -> Result<(), Rejection> {
    let Some(tags) = req.headers.tokens(name) else {
        return Err(Rejection::plain(400));
    };
    let unknown: Vec<&[u8]> = tags
        .iter()
        .filter(|t| {
            !policy
                .supported
                .iter()
                .any(|s| s.as_bytes().eq_ignore_ascii_case(t))
        })
        .map(Vec::as_slice)
        .collect();
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(Rejection {
            status: 420,
            headers: vec![("Unsupported", join(unknown.into_iter()))],
        })
    }
}

fn accept_header(policy: &UaPolicy) -> Vec<u8> {
    let items: Vec<Vec<u8>> = policy
        .accept
        .iter()
        .map(|(k, s)| format!("{k}/{s}").into_bytes())
        .collect();
    join(items.iter().map(Vec::as_slice))
}

fn check_content(req: &Request<'_>, policy: &UaPolicy) -> Result<(), Rejection> {
    let reject = || {
        Err(Rejection {
            status: 415,
            headers: vec![("Accept", accept_header(policy))],
        })
    };
    if let Some(enc) = req.headers.get(HeaderName::ContentEncoding) {
        if !enc.value.eq_ignore_ascii_case(b"identity") {
            return reject();
        }
    }
    if req.body.is_empty() {
        return Ok(());
    }
    match req.headers.content_type() {
        Some(ct) if policy.accept.iter().any(|(k, s)| ct.is(k, s)) => Ok(()),
        _ => reject(),
    }
}

fn check_accept(req: &Request<'_>, policy: &UaPolicy) -> Result<(), Rejection> {
    if !matches!(req.method, Method::Invite | Method::Options) {
        return Ok(());
    }
    let Some(values) = req.headers.values(HeaderName::Accept) else {
        return Err(Rejection::plain(400));
    };
    if values.is_empty() {
        return Ok(());
    }
    let ok = values
        .iter()
        .filter_map(|v| MediaType::parse(v))
        .any(|m| policy.accept.iter().any(|(k, s)| m.matches(k, s)));
    if ok || req.method == Method::Options {
        return Ok(());
    }
    Err(Rejection {
        status: 406,
        headers: vec![(
            "Warning",
            b"399 rtcgate \"only application/sdp can be answered\"".to_vec(),
        )],
    })
}

/// What to do with a parsed response before it reaches a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseVerdict {
    /// Hand it to the transaction layer.
    Process,
    /// Discard silently.
    Drop,
}

/// RFC 3261 §18.1.2: a UA discards a response with more than one Via; a proxy drops a
/// response whose next Via points at a broadcast address (RFC 4475 §3.3.10).
pub fn check_response(resp: &Response<'_>, role: Role) -> ResponseVerdict {
    let Some(vias) = resp.headers.vias() else {
        return ResponseVerdict::Drop;
    };
    let drop = match role {
        Role::Endpoint | Role::Registrar => vias.len() != 1,
        Role::Proxy => vias.get(1).is_none_or(|v| {
            let target = v.received().or(v.maddr()).unwrap_or(v.host);
            target == b"255.255.255.255"
        }),
    };
    if drop {
        ResponseVerdict::Drop
    } else {
        ResponseVerdict::Process
    }
}
