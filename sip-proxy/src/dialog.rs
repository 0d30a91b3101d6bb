//! Dialogs (RFC 3261 §12): creation from 1xx/2xx with a To tag, route set from
//! Record-Route, remote target refresh, CSeq rules, in-dialog requests (ACK for 2xx, BYE,
//! re-INVITE, UPDATE, PRACK) and the early dialogs of a forked INVITE.
//!
//! ```text
//!  INVITE ──1xx+tag──► Early ──2xx──► Confirmed ──BYE──► Terminated
//!    │ (one early dialog per To tag when forked: ForkedDialogs)
//! ```
//! Sans-IO: values in, values out. Via branches and tags are supplied by the caller.

use std::collections::BTreeMap;

use crate::message::builder::RequestBuilder;
use crate::message::typed::NameAddr;
use crate::message::uri::Uri;
use crate::message::{HeaderName, Headers, Method, Request, Response};

/// RFC 3261 §12: Call-ID, local tag and remote tag.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DialogId {
    /// Call-ID.
    pub call_id: Vec<u8>,
    /// Our tag.
    pub local_tag: Vec<u8>,
    /// The peer's tag.
    pub remote_tag: Vec<u8>,
}

/// Dialog state (RFC 3261 §12.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DialogState {
    /// Created by a provisional response.
    Early,
    /// Created or confirmed by a 2xx.
    Confirmed,
    /// Ended by BYE or a final error on the early dialog.
    Terminated,
}

/// Dialog-layer errors, each answered with one status (see [`DialogError::status`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DialogError {
    /// The response has no To tag, so it creates no dialog (RFC 3261 §12.1.2).
    #[error("no To tag")]
    MissingToTag,
    /// A header needed to build the dialog state is missing or malformed.
    #[error("missing or malformed {0:?}")]
    BadHeader(HeaderName),
    /// The request's CSeq is lower than the remote sequence number (RFC 3261 §12.2.2).
    #[error("CSeq out of order")]
    OutOfOrder,
    /// The request does not belong to this dialog (RFC 3261 §12.2.2).
    #[error("request does not match the dialog")]
    NoMatch,
}

impl DialogError {
    /// The response a UAS sends for this error (the only mapping of this enum).
    pub fn status(&self) -> u16 {
        match self {
            DialogError::OutOfOrder => 500,
            DialogError::NoMatch => 481,
            DialogError::MissingToTag | DialogError::BadHeader(_) => 400,
        }
    }
}

/// The state of one dialog, as RFC 3261 §12.1 lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dialog {
    /// The dialog id.
    pub id: DialogId,
    /// Early, confirmed or terminated.
    pub state: DialogState,
    /// Local sequence number: the CSeq of our last request.
    pub local_seq: u32,
    /// Remote sequence number; `None` until the peer sends a request.
    pub remote_seq: Option<u32>,
    /// Our From/To value with our tag, as it goes in From.
    pub local_party: Vec<u8>,
    /// The peer's value with its tag, as it goes in To.
    pub remote_party: Vec<u8>,
    /// The remote target: the URI of the peer's Contact.
    pub remote_target: Vec<u8>,
    /// Route set, in the order Route headers are written.
    pub route_set: Vec<Vec<u8>>,
    /// Our Contact URI, written in target refresh requests.
    pub local_contact: Vec<u8>,
    /// Whether the dialog is secure (sips Request-URI, RFC 3261 §12.1.1).
    pub secure: bool,
}

fn header_value<'h>(h: &'h Headers<'_>, name: HeaderName) -> Result<&'h [u8], DialogError> {
    h.get(name)
        .map(|h| &*h.value)
        .ok_or(DialogError::BadHeader(name))
}

fn contact_uri(h: &Headers<'_>) -> Result<Vec<u8>, DialogError> {
    let contacts = h
        .contacts()
        .ok_or(DialogError::BadHeader(HeaderName::Contact))?;
    let c = contacts
        .first()
        .ok_or(DialogError::BadHeader(HeaderName::Contact))?;
    Ok(c.uri_raw.to_vec())
}

/// Record-Route values in received order (each comma element), as raw bytes.
fn record_routes(h: &Headers<'_>) -> Result<Vec<Vec<u8>>, DialogError> {
    let v = h
        .values(HeaderName::RecordRoute)
        .ok_or(DialogError::BadHeader(HeaderName::RecordRoute))?;
    Ok(v.into_iter().map(<[u8]>::to_vec).collect())
}

impl Dialog {
    /// UAC side (RFC 3261 §12.1.2): a dialog from a 1xx (not 100) or 2xx with a To tag to
    /// our `invite`. The route set is the Record-Route list reversed.
    pub fn uac(
        invite: &Request<'_>,
        resp: &Response<'_>,
        local_contact: &[u8],
    ) -> Result<Self, DialogError> {
        let to = resp
            .headers
            .to()
            .ok_or(DialogError::BadHeader(HeaderName::To))?;
        let remote_tag = to.tag().ok_or(DialogError::MissingToTag)?.to_vec();
        let from = invite
            .headers
            .from()
            .ok_or(DialogError::BadHeader(HeaderName::From))?;
        let local_tag = from
            .tag()
            .ok_or(DialogError::BadHeader(HeaderName::From))?
            .to_vec();
        let mut route_set = record_routes(&resp.headers)?;
        route_set.reverse();
        let cseq = invite
            .headers
            .cseq()
            .ok_or(DialogError::BadHeader(HeaderName::CSeq))?;
        Ok(Dialog {
            id: DialogId {
                call_id: header_value(&invite.headers, HeaderName::CallId)?.to_vec(),
                local_tag,
                remote_tag,
            },
            state: if resp.is_success() {
                DialogState::Confirmed
            } else {
                DialogState::Early
            },
            local_seq: cseq.seq,
            remote_seq: None,
            local_party: header_value(&invite.headers, HeaderName::From)?.to_vec(),
            remote_party: header_value(&resp.headers, HeaderName::To)?.to_vec(),
            remote_target: contact_uri(&resp.headers)?,
            route_set,
            local_contact: local_contact.to_vec(),
            secure: invite.uri.starts_with(b"sips:"),
        })
    }

    /// UAS side (RFC 3261 §12.1.1): a dialog from a dialog-creating request we answer
    /// with `local_tag`. The route set is the Record-Route list in order.
    pub fn uas(
        req: &Request<'_>,
        local_tag: &[u8],
        local_contact: &[u8],
    ) -> Result<Self, DialogError> {
        let from = req
            .headers
            .from()
            .ok_or(DialogError::BadHeader(HeaderName::From))?;
        let cseq = req
            .headers
            .cseq()
            .ok_or(DialogError::BadHeader(HeaderName::CSeq))?;
        let mut local_party = header_value(&req.headers, HeaderName::To)?.to_vec();
        local_party.extend_from_slice(b";tag=");
        local_party.extend_from_slice(local_tag);
        Ok(Dialog {
            id: DialogId {
                call_id: header_value(&req.headers, HeaderName::CallId)?.to_vec(),
                local_tag: local_tag.to_vec(),
                // RFC 3261 §12.1.1: an RFC 2543 peer may send no From tag; the tag is empty.
                remote_tag: from.tag().unwrap_or_default().to_vec(),
            },
            state: DialogState::Early,
            local_seq: 0,
            remote_seq: Some(cseq.seq),
            local_party,
            remote_party: header_value(&req.headers, HeaderName::From)?.to_vec(),
            remote_target: contact_uri(&req.headers)?,
            route_set: record_routes(&req.headers)?,
            local_contact: local_contact.to_vec(),
            secure: req.uri.starts_with(b"sips:"),
        })
    }

    /// A response to a request we sent inside this dialog (or to the INVITE that created
    /// it). A 2xx confirms an early dialog and recomputes its route set
    /// (RFC 3261 §13.2.2.4); a 2xx to a target refresh request updates the remote target
    /// (§12.2.1.2); a non-2xx final to the initial INVITE ends an early dialog.
    pub fn on_response(&mut self, method: &Method, resp: &Response<'_>) -> Result<(), DialogError> {
        if resp.is_success() {
            if self.state == DialogState::Early && *method == Method::Invite {
                let mut rs = record_routes(&resp.headers)?;
                rs.reverse();
                self.route_set = rs;
                self.state = DialogState::Confirmed;
            }
            if matches!(method, Method::Invite | Method::Update)
                && resp.headers.get(HeaderName::Contact).is_some()
            {
                self.remote_target = contact_uri(&resp.headers)?;
            }
            if *method == Method::Bye {
                self.state = DialogState::Terminated;
            }
        } else if resp.status >= 300
            && self.state == DialogState::Early
            && *method == Method::Invite
        {
            self.state = DialogState::Terminated;
        }
        Ok(())
    }

    /// A response we (the UAS) sent to the dialog-creating request: a 2xx confirms the
    /// dialog, a final error ends it (RFC 3261 §12.1.1).
    pub fn on_local_response(&mut self, status: u16) {
        match (self.state, status) {
            (DialogState::Early, 200..=299) => self.state = DialogState::Confirmed,
            (DialogState::Early, 300..=699) => self.state = DialogState::Terminated,
            _ => {}
        }
    }

    /// A request from the peer inside this dialog (RFC 3261 §12.2.2): checks the CSeq order,
    /// refreshes the remote target on re-INVITE/UPDATE, ends the dialog on BYE.
    pub fn on_request(&mut self, req: &Request<'_>) -> Result<(), DialogError> {
        if DialogId::of_incoming(req).as_ref() != Some(&self.id) {
            return Err(DialogError::NoMatch);
        }
        let seq = req
            .headers
            .cseq()
            .ok_or(DialogError::BadHeader(HeaderName::CSeq))?
            .seq;
        if !matches!(req.method, Method::Ack | Method::Cancel) {
            if self.remote_seq.is_some_and(|r| seq < r) {
                return Err(DialogError::OutOfOrder);
            }
            self.remote_seq = Some(seq);
        }
        match req.method {
            Method::Invite | Method::Update if req.headers.get(HeaderName::Contact).is_some() => {
                self.remote_target = contact_uri(&req.headers)?;
            }
            Method::Bye => self.state = DialogState::Terminated,
            _ => {}
        }
        Ok(())
    }

    /// A new in-dialog request (RFC 3261 §12.2.1.1): BYE, re-INVITE, UPDATE, INFO, …
    /// The local CSeq is incremented. `via` is the full top Via value with a fresh branch.
    pub fn request(&mut self, method: Method, via: &str) -> Request<'static> {
        self.local_seq = self.local_seq.wrapping_add(1);
        let seq = self.local_seq;
        self.build(method, via, seq).build()
    }

    /// The ACK for a 2xx to the INVITE with CSeq `invite_seq` (RFC 3261 §13.2.2.4): same
    /// CSeq number, method ACK, routed like any in-dialog request, new branch.
    pub fn ack(&self, invite_seq: u32, via: &str) -> Request<'static> {
        self.build(Method::Ack, via, invite_seq).build()
    }

    /// A PRACK for a reliable provisional response (RFC 3262 §7.2): `RAck: rseq cseq INVITE`.
    pub fn prack(&mut self, provisional: &Response<'_>, via: &str) -> Option<Request<'static>> {
        let rseq = provisional.headers.rseq()?;
        let cseq = provisional.headers.cseq()?;
        self.local_seq = self.local_seq.wrapping_add(1);
        let rack = format!(
            "{rseq} {} {}",
            cseq.seq,
            String::from_utf8_lossy(cseq.method)
        );
        Some(
            self.build(Method::Prack, via, self.local_seq)
                .header("RAck", rack)
                .build(),
        )
    }

    fn build(&self, method: Method, via: &str, seq: u32) -> RequestBuilder {
        let (uri, routes) = self.request_uri_and_routes();
        let target_refresh = matches!(method, Method::Invite | Method::Update);
        let mut b = RequestBuilder::new(method.clone(), uri)
            .header("Via", via)
            .header("Max-Forwards", "70")
            .header("From", self.local_party.clone())
            .header("To", self.remote_party.clone())
            .header("Call-ID", self.id.call_id.clone())
            .header("CSeq", format!("{seq} {method}"));
        for r in routes {
            b = b.header("Route", r);
        }
        if target_refresh {
            let mut c = b"<".to_vec();
            c.extend_from_slice(&self.local_contact);
            c.push(b'>');
            b = b.header("Contact", c);
        }
        b
    }

    /// RFC 3261 §12.2.1.1: loose routing when the first route has `lr`, strict routing
    /// otherwise (the first route becomes the Request-URI, the remote target the last Route).
    fn request_uri_and_routes(&self) -> (Vec<u8>, Vec<Vec<u8>>) {
        let Some(first) = self.route_set.first() else {
            return (self.remote_target.clone(), Vec::new());
        };
        let first_uri = NameAddr::parse(first).map(|n| (n.uri_raw.to_vec(), is_lr(&n.uri)));
        match first_uri {
            Some((_, true)) | None => (self.remote_target.clone(), self.route_set.clone()),
            Some((uri, false)) => {
                let mut routes: Vec<Vec<u8>> = self.route_set[1..].to_vec();
                let mut last = b"<".to_vec();
                last.extend_from_slice(&self.remote_target);
                last.push(b'>');
                routes.push(last);
                (uri, routes)
            }
        }
    }
}

fn is_lr(uri: &Uri<'_>) -> bool {
    uri.as_sip().is_some_and(|u| u.is_loose_route())
}

impl DialogId {
    /// The id of the dialog an incoming request belongs to, seen from our side
    /// (local tag = To tag, remote tag = From tag). `None` outside a dialog.
    pub fn of_incoming(req: &Request<'_>) -> Option<Self> {
        Some(DialogId {
            call_id: req.headers.call_id()?.to_vec(),
            local_tag: req.headers.to()?.tag()?.to_vec(),
            remote_tag: req.headers.from()?.tag().unwrap_or_default().to_vec(),
        })
    }
}

/// The dialogs created by one INVITE we sent (RFC 3261 §12.1.2, §13.2.2.4): a forked INVITE
/// yields one early dialog per To tag; each 2xx confirms (or creates) its own dialog.
#[derive(Debug, Clone, Default)]
pub struct ForkedDialogs {
    dialogs: BTreeMap<Vec<u8>, Dialog>,
}

impl ForkedDialogs {
    /// No dialog yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// A response to `invite`: creates or updates the dialog of its To tag and returns its
    /// id. 100 and responses without a To tag create nothing (`Ok(None)`).
    pub fn on_response(
        &mut self,
        invite: &Request<'_>,
        resp: &Response<'_>,
        local_contact: &[u8],
    ) -> Result<Option<DialogId>, DialogError> {
        if resp.status == 100 {
            return Ok(None);
        }
        let Some(tag) = resp.headers.to().and_then(|t| t.tag().map(<[u8]>::to_vec)) else {
            return Ok(None);
        };
        if resp.status >= 300 {
            // A final error ends every early dialog of this INVITE (RFC 3261 §12.1.2, §13.2.2.3).
            for d in self
                .dialogs
                .values_mut()
                .filter(|d| d.state == DialogState::Early)
            {
                d.state = DialogState::Terminated;
            }
            return Ok(self.dialogs.get(&tag).map(|d| d.id.clone()));
        }
        if let Some(d) = self.dialogs.get_mut(&tag) {
            d.on_response(&Method::Invite, resp)?;
            return Ok(Some(d.id.clone()));
        }
        let d = Dialog::uac(invite, resp, local_contact)?;
        let id = d.id.clone();
        self.dialogs.insert(tag, d);
        Ok(Some(id))
    }

    /// The dialog with this remote tag.
    pub fn get_mut(&mut self, remote_tag: &[u8]) -> Option<&mut Dialog> {
        self.dialogs.get_mut(remote_tag)
    }

    /// All dialogs, ordered by remote tag.
    pub fn iter(&self) -> impl Iterator<Item = &Dialog> {
        self.dialogs.values()
    }
}
