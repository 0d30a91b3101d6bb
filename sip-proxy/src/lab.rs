//! The lab IMS: a minimal in-process IMS core for trying rtcgate on one machine.
//!
//! ```text
//!  REGISTER            ─► 200 OK (binding kept until it expires)
//!  INVITE echo number  ─► 180, 200 after `answer_delay` with an SDP pointing at the echo
//!                         RTP socket, which sends every packet back to where it came from
//!  INVITE busy / decline / no-answer ─► 486 / 603 / 180 then 408 after `no_answer_after`
//!  INVITE a registered number ─► forwarded to its binding (Via added, responses relayed);
//!                         ACK and BYE addressed to that number follow the same way
//!  INVITE other        ─► 404
//!  CANCEL ─► 487 for the pending INVITE; BYE ─► 200 in a lab dialog, else 481
//! ```
//!
//! It is a [`TransactionUser`] behind its own [`Endpoint`](crate::endpoint::Endpoint) on
//! its own port, so SIP tools (SIPp) can register to it and call through it, and the
//! gateway reaches it like any next hop. Echoing SRTP: the echo number answers an SDES
//! offer with the offerer's own key, so the packets it sends back authenticate at the
//! offerer.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::call::number_of;
use crate::endpoint::TransactionUser;
use crate::ids::IdGen;
use crate::message::builder::response_to;
use crate::message::validate::{Role, UaPolicy};
use crate::message::{Method, Request, Response};
use crate::sdp::{Attribute, Attributes, Media, SessionDescription};
use crate::transaction::{
    TimerConfig, TransactionEvent, TransactionId, TransactionLayer, Uas2xxAction, Uas2xxRetransmit,
};

/// The lab's numbers and timings.
#[derive(Debug, Clone)]
pub struct LabConfig {
    /// Answers and echoes media.
    pub echo_number: String,
    /// Answers 486.
    pub busy_number: String,
    /// Answers 603.
    pub decline_number: String,
    /// Rings, then 408.
    pub no_answer_number: String,
    /// The echo RTP socket's address, written into the echo number's SDP.
    pub echo_rtp: SocketAddr,
    /// How long the echo number rings before answering.
    pub answer_delay: Duration,
    /// How long the no-answer number rings before 408.
    pub no_answer_after: Duration,
    /// RFC 3261 timers (for the 2xx retransmission schedule).
    pub timers: TimerConfig,
    /// The lab's own SIP `host:port`, for the Via it adds when it forwards.
    pub local_host: String,
}

#[derive(Debug)]
struct Pending {
    invite: Request<'static>,
    tag: String,
    /// When to send the final response, and which.
    at: Instant,
    status: u16,
    sdp: Option<String>,
}

/// A 2xx the lab sent and resends until its ACK arrives (RFC 3261 §13.3.1.4).
#[derive(Debug)]
struct Answered {
    tx: TransactionId,
    response: Response<'static>,
    schedule: Uas2xxRetransmit,
}

/// A request the lab forwarded to a registered user: its client transaction answers the
/// server transaction it came in on.
#[derive(Debug)]
struct Forwarded {
    server_tx: TransactionId,
    request: Request<'static>,
    target: crate::transaction::Target,
}

/// The lab IMS transaction user.
#[derive(Debug)]
pub struct LabIms {
    cfg: LabConfig,
    ids: IdGen,
    /// Registered numbers: their contact URI and when the binding expires.
    bindings: HashMap<String, (Vec<u8>, Instant)>,
    /// Forwarded requests by client transaction.
    forwarded: HashMap<TransactionId, Forwarded>,
    pending: HashMap<TransactionId, Pending>,
    /// (Call-ID, our tag) of answered calls, for BYE.
    dialogs: HashSet<(Vec<u8>, Vec<u8>)>,
    /// 2xx responses waiting for their ACK, by (Call-ID, our tag).
    unacked: HashMap<(Vec<u8>, Vec<u8>), Answered>,
}

impl LabIms {
    /// A lab with no registrations.
    pub fn new(cfg: LabConfig, seed: u64) -> Self {
        Self {
            cfg,
            ids: IdGen::new(seed),
            bindings: HashMap::new(),
            forwarded: HashMap::new(),
            pending: HashMap::new(),
            dialogs: HashSet::new(),
            unacked: HashMap::new(),
        }
    }

    /// Whether `number` has a live binding.
    pub fn is_registered(&self, number: &str, now: Instant) -> bool {
        self.bindings
            .get(number)
            .is_some_and(|(_, until)| *until > now)
    }

    fn register(
        &mut self,
        now: Instant,
        tx: TransactionId,
        req: &Request<'_>,
        layer: &mut TransactionLayer,
    ) {
        let Some(number) = req.headers.to().and_then(|t| number_of(t.uri_raw)) else {
            let _ = layer.send_response(
                now,
                tx,
                &response_to(req, 404, Some(self.ids.hex().as_bytes())),
            );
            return;
        };
        let contact = req
            .headers
            .contacts()
            .and_then(|c| c.into_iter().next().map(|c| c.uri_raw.to_vec()));
        let param = req.headers.contacts().and_then(|c| {
            c.first()
                .and_then(|c| c.params.value("expires"))
                .map(<[u8]>::to_vec)
        });
        let asked = param
            .and_then(|v| String::from_utf8(v).ok()?.parse::<u32>().ok())
            .or_else(|| req.headers.expires())
            .unwrap_or(3600);
        let granted = asked.min(3600);
        let mut resp = response_to(req, 200, Some(self.ids.hex().as_bytes()));
        match (&contact, granted) {
            (Some(uri), 1..) => {
                let until = now + Duration::from_secs(u64::from(granted));
                self.bindings.insert(number, (uri.clone(), until));
            }
            _ => {
                self.bindings.remove(&number);
            }
        }
        if let Some(uri) = contact.filter(|_| granted > 0) {
            resp.add_header(
                "Contact",
                [
                    b"<".as_slice(),
                    &uri,
                    format!(">;expires={granted}").as_bytes(),
                ]
                .concat(),
            );
        }
        resp.add_header("Expires", granted.to_string());
        let _ = layer.send_response(now, tx, &resp);
    }

    fn invite(
        &mut self,
        now: Instant,
        tx: TransactionId,
        req: &Request<'_>,
        layer: &mut TransactionLayer,
    ) {
        let tag = self.ids.hex();
        let to = number_of(&req.uri).unwrap_or_default();
        let (status, at, sdp) = if to == self.cfg.echo_number {
            match echo_answer(req, self.cfg.echo_rtp, self.ids.next_u64() >> 1) {
                Some(sdp) => (200, now + self.cfg.answer_delay, Some(sdp)),
                None => (488, now, None),
            }
        } else if to == self.cfg.busy_number {
            (486, now, None)
        } else if to == self.cfg.decline_number {
            (603, now, None)
        } else if to == self.cfg.no_answer_number {
            (408, now + self.cfg.no_answer_after, None)
        } else if self.is_registered(&to, now) {
            self.forward(now, Some(tx), req, &to, layer);
            return;
        } else {
            (404, now, None)
        };
        if at > now {
            let _ = layer.send_response(now, tx, &response_to(req, 180, Some(tag.as_bytes())));
        }
        let pending = Pending {
            invite: req.clone().into_owned(),
            tag,
            at,
            status,
            sdp,
        };
        if at > now {
            self.pending.insert(tx, pending);
        } else {
            self.finish(now, tx, pending, layer);
        }
    }

    fn finish(
        &mut self,
        now: Instant,
        tx: TransactionId,
        p: Pending,
        layer: &mut TransactionLayer,
    ) {
        let mut resp = response_to(&p.invite, p.status, Some(p.tag.as_bytes()));
        let Some(sdp) = p.sdp else {
            let _ = layer.send_response(now, tx, &resp);
            return;
        };
        resp.add_header("Contact", format!("<sip:lab@{}>", self.cfg.echo_rtp.ip()));
        resp.set_body("application/sdp", sdp.into_bytes());
        let _ = layer.send_response(now, tx, &resp);
        let key = (
            p.invite.headers.call_id().unwrap_or_default().to_vec(),
            p.tag.into_bytes(),
        );
        self.dialogs.insert(key.clone());
        let schedule = Uas2xxRetransmit::start(now, &self.cfg.timers);
        self.unacked.insert(
            key,
            Answered {
                tx,
                response: resp,
                schedule,
            },
        );
    }

    /// Whether `req` is addressed to a registered web user (a lab-grade route by number:
    /// the lab adds no Record-Route, so in-dialog requests that come back to it are
    /// routed by their Request-URI's number).
    fn routes_to_user(&self, req: &Request<'_>, now: Instant) -> bool {
        number_of(&req.uri).is_some_and(|n| self.is_registered(&n, now))
    }

    /// Forwards `req` to `number`'s binding: Request-URI replaced by the contact, our
    /// Via on top, Max-Forwards decremented (RFC 3261 §16.6). `tx` is the server
    /// transaction to relay responses to; `None` for an ACK, sent statelessly.
    fn forward(
        &mut self,
        now: Instant,
        tx: Option<TransactionId>,
        req: &Request<'_>,
        number: &str,
        layer: &mut TransactionLayer,
    ) {
        let refuse = |layer: &mut TransactionLayer, status| {
            if let Some(tx) = tx {
                let _ = layer.send_response(now, tx, &response_to(req, status, None));
            }
        };
        let Some((contact, _)) = self.bindings.get(number) else {
            return refuse(layer, 480);
        };
        let target = std::str::from_utf8(contact)
            .ok()
            .and_then(crate::resolve::NextHop::parse)
            .and_then(|hop| crate::resolve::static_target(&hop));
        let Some(target) = target else {
            return refuse(layer, 480);
        };
        let max_forwards = req.headers.max_forwards().unwrap_or(70);
        if max_forwards == 0 {
            return refuse(layer, 483);
        }
        let mut fwd = req.clone().into_owned();
        fwd.uri = std::borrow::Cow::Owned(contact.clone());
        let via = format!(
            "SIP/2.0/{} {};branch={};rport",
            target.transport.via_name(),
            self.cfg.local_host,
            self.ids.branch()
        );
        fwd.headers.push_front(crate::message::Header::new(
            b"Via".to_vec(),
            via.into_bytes(),
        ));
        fwd.headers.set(
            crate::message::HeaderName::MaxForwards,
            (max_forwards - 1).to_string().into_bytes(),
        );
        match tx {
            None => layer.send_stateless(target, fwd.to_bytes()),
            Some(server_tx) => match layer.send_request(now, &fwd, target) {
                Ok(client_tx) => {
                    self.forwarded.insert(
                        client_tx,
                        Forwarded {
                            server_tx,
                            request: fwd,
                            target,
                        },
                    );
                }
                Err(_) => refuse(layer, 500),
            },
        }
    }

    /// A response to a forwarded request: our Via removed, relayed upstream.
    fn relay(
        &mut self,
        now: Instant,
        tx: TransactionId,
        resp: &Response<'_>,
        layer: &mut TransactionLayer,
    ) {
        let Some(f) = self.forwarded.get(&tx) else {
            return;
        };
        let mut up = resp.clone().into_owned();
        if let Some(first) = up
            .headers
            .0
            .iter()
            .position(|h| h.kind() == crate::message::HeaderName::Via)
        {
            up.headers.0.remove(first);
        }
        let _ = layer.send_response(now, f.server_tx, &up);
    }

    fn bye(
        &mut self,
        now: Instant,
        tx: TransactionId,
        req: &Request<'_>,
        layer: &mut TransactionLayer,
    ) {
        let key = (
            req.headers.call_id().unwrap_or_default().to_vec(),
            req.headers
                .to()
                .and_then(|t| t.tag())
                .unwrap_or_default()
                .to_vec(),
        );
        let status = if self.dialogs.remove(&key) { 200 } else { 481 };
        let _ = layer.send_response(now, tx, &response_to(req, status, None));
    }
}

/// The echo number's answer: the first G.711 codec offered (and telephone-event), RTP/AVP
/// or RTP/SAVP as offered, the offerer's own SDES key, media at the echo socket.
fn echo_answer(req: &Request<'_>, echo: SocketAddr, session_id: u64) -> Option<String> {
    let offer = SessionDescription::parse(std::str::from_utf8(&req.body).ok()?).ok()?;
    let (_, audio) = offer.audio()?;
    let codecs = crate::sdp::attrs::codecs(audio);
    let codec = codecs
        .iter()
        .find(|c| c.is("PCMU", 8000) || c.is("PCMA", 8000))?;
    let mut chosen = vec![codec.clone()];
    chosen.extend(
        codecs
            .iter()
            .find(|c| c.is("telephone-event", 8000))
            .cloned(),
    );
    let mut attributes: Vec<Attribute> = chosen
        .iter()
        .map(|c| Attribute::value("rtpmap", c.to_string()))
        .collect();
    attributes.push(Attribute::flag("sendrecv"));
    if audio.proto.contains("SAVP") {
        attributes.push(Attribute::value("crypto", audio.attr("crypto")?.to_owned()));
    }
    let ip = if echo.is_ipv4() { "IP4" } else { "IP6" };
    let media = Media {
        kind: "audio".into(),
        port: echo.port(),
        port_count: None,
        proto: audio.proto.clone(),
        formats: chosen.iter().map(|c| c.pt.to_string()).collect(),
        title: None,
        connection: None,
        bandwidth: Vec::new(),
        attributes,
    };
    let sdp = SessionDescription {
        origin: format!("lab {session_id} 1 IN {ip} {}", echo.ip()),
        session_name: "lab echo".into(),
        extra: Vec::new(),
        connection: Some(crate::sdp::Connection {
            addr_type: ip.into(),
            address: echo.ip().to_string(),
        }),
        bandwidth: Vec::new(),
        timing: vec![('t', "0 0".into())],
        attributes: Vec::new(),
        media: vec![media],
    };
    Some(sdp.to_string())
}

impl TransactionUser for LabIms {
    type Command = std::convert::Infallible;
    type Event = std::convert::Infallible;

    fn handle_command(
        &mut self,
        _now: Instant,
        command: Self::Command,
        _layer: &mut TransactionLayer,
    ) {
        match command {}
    }

    fn poll_event(&mut self) -> Option<Self::Event> {
        None
    }

    fn policy(&self) -> UaPolicy {
        UaPolicy::gateway(Role::Registrar)
    }

    fn on_request(
        &mut self,
        now: Instant,
        tx: TransactionId,
        req: &Request<'_>,
        layer: &mut TransactionLayer,
    ) -> bool {
        match req.method {
            Method::Register => self.register(now, tx, req, layer),
            Method::Invite if req.headers.to().is_some_and(|t| t.tag().is_none()) => {
                self.invite(now, tx, req, layer)
            }
            _ if self.routes_to_user(req, now) => {
                let number = number_of(&req.uri).unwrap_or_default();
                self.forward(now, Some(tx), req, &number, layer);
            }
            Method::Bye => self.bye(now, tx, req, layer),
            _ => return false,
        }
        true
    }

    fn on_ack(&mut self, now: Instant, ack: &Request<'_>, layer: &mut TransactionLayer) {
        if self.routes_to_user(ack, now) {
            let number = number_of(&ack.uri).unwrap_or_default();
            return self.forward(now, None, ack, &number, layer);
        }
        let key = (
            ack.headers.call_id().unwrap_or_default().to_vec(),
            ack.headers
                .to()
                .and_then(|t| t.tag())
                .unwrap_or_default()
                .to_vec(),
        );
        self.unacked.remove(&key);
    }

    fn on_cancel(&mut self, now: Instant, invite_tx: TransactionId, layer: &mut TransactionLayer) {
        // A forwarded INVITE: the CANCEL follows it; the callee's 487 is relayed back.
        let forwarded = self
            .forwarded
            .values()
            .find(|f| f.server_tx == invite_tx)
            .map(|f| (f.request.clone(), f.target));
        if let Some((invite, target)) = forwarded {
            let _ = layer.send_request(now, &crate::message::builder::cancel_for(&invite), target);
            return;
        }
        if let Some(p) = self.pending.remove(&invite_tx) {
            let resp = response_to(&p.invite, 487, Some(p.tag.as_bytes()));
            let _ = layer.send_response(now, invite_tx, &resp);
        }
    }

    fn on_response(
        &mut self,
        now: Instant,
        tx: TransactionId,
        resp: &Response<'_>,
        layer: &mut TransactionLayer,
    ) {
        self.relay(now, tx, resp, layer);
    }

    fn on_transaction_event(
        &mut self,
        _now: Instant,
        event: &TransactionEvent,
        _layer: &mut TransactionLayer,
    ) {
        if let TransactionEvent::Terminated { id, .. } = event {
            self.pending.remove(id);
            self.forwarded.remove(id);
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        let pending = self.pending.values().map(|p| p.at);
        let resends = self
            .unacked
            .values()
            .filter_map(|a| a.schedule.poll_timeout());
        pending.chain(resends).min()
    }

    fn handle_timeout(&mut self, now: Instant, layer: &mut TransactionLayer) {
        let due: Vec<TransactionId> = self
            .pending
            .iter()
            .filter(|(_, p)| p.at <= now)
            .map(|(id, _)| *id)
            .collect();
        for tx in due {
            if let Some(p) = self.pending.remove(&tx) {
                self.finish(now, tx, p, layer);
            }
        }
        self.bindings.retain(|_, (_, until)| *until > now);
        self.unacked
            .retain(|_, a| match a.schedule.handle_timeout(now) {
                Uas2xxAction::Resend => {
                    let _ = layer.send_response(now, a.tx, &a.response);
                    true
                }
                Uas2xxAction::Wait => true,
                // No ACK within 64·T1: the caller is gone; the lab forgets the answer.
                Uas2xxAction::GiveUp => false,
            });
    }
}
