//! Typed accessors on [`Headers`]: each parses the raw value when called.

use super::typed::{self, AuthParams, CSeq, MediaType, NameAddr, RAck, SessionExpires, Via};
use super::{HeaderName, Headers};

impl<'a> Headers<'a> {
    /// The top Via (RFC 3261 §8.2.6, §17.2.3).
    pub fn top_via(&self) -> Option<Via<'_>> {
        let h = self.get(HeaderName::Via)?;
        let first = super::scan::split_commas(&h.value)?.into_iter().next()?;
        Via::parse(first)
    }

    /// The raw bytes of the top Via value (the first comma-separated element).
    pub fn top_via_raw(&self) -> Option<&[u8]> {
        let h = self.get(HeaderName::Via)?;
        super::scan::split_commas(&h.value)?.into_iter().next()
    }

    /// Every Via value in order; `None` if one is malformed.
    pub fn vias(&self) -> Option<Vec<Via<'_>>> {
        self.values(HeaderName::Via)?
            .into_iter()
            .map(Via::parse)
            .collect()
    }

    /// From (RFC 3261 §20.20).
    pub fn from(&self) -> Option<NameAddr<'_>> {
        NameAddr::parse(&self.get(HeaderName::From)?.value)
    }

    /// To (RFC 3261 §20.39).
    pub fn to(&self) -> Option<NameAddr<'_>> {
        NameAddr::parse(&self.get(HeaderName::To)?.value)
    }

    /// Call-ID bytes (RFC 3261 §20.8).
    pub fn call_id(&self) -> Option<&[u8]> {
        self.get(HeaderName::CallId).map(|h| &*h.value)
    }

    /// CSeq (RFC 3261 §20.16).
    pub fn cseq(&self) -> Option<CSeq<'_>> {
        CSeq::parse(&self.get(HeaderName::CSeq)?.value)
    }

    /// Max-Forwards (RFC 3261 §20.22), 0–255.
    pub fn max_forwards(&self) -> Option<u8> {
        let v = typed::parse_number(&self.get(HeaderName::MaxForwards)?.value, 255)?;
        u8::try_from(v).ok()
    }

    /// Content-Length (RFC 3261 §20.14).
    pub fn content_length(&self) -> Option<u64> {
        typed::parse_number(
            &self.get(HeaderName::ContentLength)?.value,
            u64::from(u32::MAX),
        )
    }

    /// Content-Type (RFC 3261 §20.15).
    pub fn content_type(&self) -> Option<MediaType<'_>> {
        MediaType::parse(&self.get(HeaderName::ContentType)?.value)
    }

    /// Every name-addr value of a multi-valued address header (Contact, Route,
    /// Record-Route, Path, Service-Route, P-Asserted-Identity, …); `None` if one is
    /// malformed. A `Contact: *` yields an empty list.
    pub fn name_addrs(&self, name: HeaderName) -> Option<Vec<NameAddr<'_>>> {
        self.values(name)?
            .into_iter()
            .filter(|v| !(name == HeaderName::Contact && *v == b"*"))
            .map(NameAddr::parse)
            .collect()
    }

    /// Contact values (RFC 3261 §20.10).
    pub fn contacts(&self) -> Option<Vec<NameAddr<'_>>> {
        self.name_addrs(HeaderName::Contact)
    }

    /// Option tags or methods of a token-list header (Require, Supported, Proxy-Require,
    /// Unsupported, Allow). Empty when absent; `None` when malformed.
    pub fn tokens(&self, name: HeaderName) -> Option<Vec<Vec<u8>>> {
        typed::parse_token_list(&self.values(name)?)
    }

    /// Every challenge or credentials of an auth header (WWW-Authenticate,
    /// Proxy-Authenticate, Authorization, Proxy-Authorization). Each header line is one
    /// challenge (RFC 3261 §20.44 allows several lines).
    pub fn auth(&self, name: HeaderName) -> Vec<AuthParams<'_>> {
        self.get_all(name)
            .filter_map(|h| AuthParams::parse(&h.value))
            .collect()
    }

    /// RSeq (RFC 3262 §7.1).
    pub fn rseq(&self) -> Option<u32> {
        let v = typed::parse_number(&self.get(HeaderName::RSeq)?.value, u64::from(u32::MAX))?;
        u32::try_from(v).ok()
    }

    /// RAck (RFC 3262 §7.2).
    pub fn rack(&self) -> Option<RAck<'_>> {
        RAck::parse(&self.get(HeaderName::RAck)?.value)
    }

    /// Session-Expires (RFC 4028 §4).
    pub fn session_expires(&self) -> Option<SessionExpires<'_>> {
        SessionExpires::parse(&self.get(HeaderName::SessionExpires)?.value)
    }

    /// Min-SE in seconds (RFC 4028 §5).
    pub fn min_se(&self) -> Option<u32> {
        SessionExpires::parse(&self.get(HeaderName::MinSe)?.value).map(|s| s.delta)
    }

    /// Expires in seconds (RFC 3261 §20.19); overlarge values read as `None`, which callers
    /// treat as absent (RFC 4475 §3.1.2.4).
    pub fn expires(&self) -> Option<u32> {
        let v = typed::parse_number(&self.get(HeaderName::Expires)?.value, u64::from(u32::MAX))?;
        u32::try_from(v).ok()
    }
}
