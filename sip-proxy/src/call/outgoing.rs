//! Calls the browser originates (MO): INVITE toward IMS and everything that follows.

use std::time::Instant;

use super::{
    Call, CallCore, CallError, CallId, CamaraStatus, IdentityHeader, Phase, Purpose, Role,
};
use crate::dialog::{Dialog, DialogId};
use crate::media::{MediaAllocation, MediaControl, MediaSessionId, ANSWER_SETUP};
use crate::message::builder::{cancel_for, response_to, RequestBuilder};
use crate::message::{HeaderName, Method, Request, Response};
use crate::sdp::{self, ImsLocal, ImsSecurity, Origin, SessionDescription, WebrtcLocal};
use crate::transaction::{TransactionEvent, TransactionId, TransactionLayer};

impl<M: MediaControl> CallCore<M> {
    pub(super) fn originate(
        &mut self,
        now: Instant,
        call: CallId,
        from: &str,
        to: &str,
        offer: &str,
        layer: &mut TransactionLayer,
    ) -> Result<(), CallError> {
        if self.calls.contains_key(&call) {
            return Err(CallError::Exists(call));
        }
        let from_uri = self.sip_uri(from)?;
        let to_uri = self.sip_uri(to)?;
        let browser_offer = SessionDescription::parse(offer)?;
        let media_id = MediaSessionId(call.0);
        let allocation = self.media.allocate(media_id)?;
        let origin = Origin {
            session_id: self.ids.next_u64() >> 1,
            version: 1,
        };
        let ims = ims_local(&allocation, origin);
        let (ims_offer, pending_sdp) = match sdp::interwork::offer_to_ims(&browser_offer, &ims) {
            Ok(done) => done,
            Err(e) => {
                self.media.release(media_id);
                return Err(e.into());
            }
        };
        let invite = self.build_invite(call, from, &from_uri, &to_uri, ims_offer.to_string());
        let invite_tx = match self.send(now, call, Purpose::Invite, &invite, layer) {
            Ok(tx) => tx,
            Err(e) => {
                self.media.release(media_id);
                return Err(e);
            }
        };
        tracing::info!(call = call.0, to = %media_plane::redact::phone(to), "outgoing call: INVITE sent");
        self.calls.insert(
            call,
            Call {
                role: Role::Mo,
                user: from.to_owned(),
                media: media_id,
                phase: Phase::Calling,
                invite,
                invite_tx,
                pending_sdp,
                allocation,
                origin,
                dialog: None,
                answered: false,
                cancelling: false,
                cancel_sent: false,
                timer: None,
                local_ims_sdp: Some(ims_offer),
                negotiated: None,
                reinvite: None,
                hop: 0,
                unacked: None,
                reliable: None,
            },
        );
        Ok(())
    }

    fn build_invite(
        &mut self,
        call: CallId,
        user: &str,
        from_uri: &str,
        to_uri: &str,
        sdp: String,
    ) -> Request<'static> {
        let tag = self.ids.hex();
        let call_id = format!("{}{}", self.ids.hex(), self.ids.hex());
        let via = self.via(call);
        let contact = String::from_utf8_lossy(&self.contact(user)).into_owned();
        let identity = match self.cfg.identity {
            IdentityHeader::Preferred => "P-Preferred-Identity",
            IdentityHeader::Asserted => "P-Asserted-Identity",
        };
        let mut b = RequestBuilder::new(Method::Invite, to_uri.as_bytes().to_vec())
            .header("Via", via)
            .header("Max-Forwards", "70")
            .header("From", format!("<{from_uri}>;tag={tag}"))
            .header("To", format!("<{to_uri}>"))
            .header("Call-ID", call_id)
            .header("CSeq", "1 INVITE")
            .header("Contact", format!("<{contact}>"))
            .header("Allow", "INVITE, ACK, CANCEL, BYE, PRACK, UPDATE, OPTIONS")
            .header("Supported", "100rel, timer")
            .header("Session-Expires", self.cfg.session_expires.to_string())
            .header("Min-SE", "90")
            .header(identity, format!("<{from_uri}>"));
        // RFC 3608 §6 / TS 24.229 §5.1.2A.1.5: a registered user's requests carry its
        // Service-Route as preloaded Route headers, in order (CANCEL and a non-2xx ACK
        // copy them from the INVITE).
        let number = user.strip_prefix("tel:").unwrap_or(user);
        for route in self.service_routes.get(number).into_iter().flatten() {
            b = b.header("Route", String::from_utf8_lossy(route).into_owned());
        }
        if let Some(pani) = &self.cfg.access_network_info {
            b = b.header("P-Access-Network-Info", pani.clone());
        }
        b.body("application/sdp", sdp.into_bytes()).build()
    }

    pub(super) fn hangup(
        &mut self,
        now: Instant,
        call: CallId,
        layer: &mut TransactionLayer,
    ) -> Result<(), CallError> {
        let c = self
            .calls
            .get_mut(&call)
            .ok_or(CallError::UnknownCall(call))?;
        match (c.role, c.phase) {
            (_, Phase::Connected) => {
                self.send_bye(now, call, layer);
                self.finish(call, CamaraStatus::Terminated, Some("local hangup".into()));
            }
            (Role::Mt, _) => self.decline(now, call, layer),
            // RFC 3261 §9.1: no CANCEL before a provisional response; it goes out when one
            // arrives (or Timer B ends the INVITE).
            (Role::Mo, Phase::Calling) => c.cancelling = true,
            (Role::Mo, Phase::Early) => {
                c.cancelling = true;
                self.send_cancel(now, call, layer);
            }
        }
        Ok(())
    }

    fn send_cancel(&mut self, now: Instant, call: CallId, layer: &mut TransactionLayer) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        if c.cancel_sent {
            return;
        }
        c.cancel_sent = true;
        let cancel = cancel_for(&c.invite);
        // A CANCEL the layer refuses cannot be retried; Timer B still ends the INVITE.
        let _ = self.send(now, call, Purpose::Cancel, &cancel, layer);
    }

    pub(super) fn send_bye(&mut self, now: Instant, call: CallId, layer: &mut TransactionLayer) {
        let via = self.via(call);
        let Some(dialog) = self.calls.get_mut(&call).and_then(|c| c.dialog.as_mut()) else {
            return;
        };
        let bye = dialog.request(Method::Bye, &via);
        // Fire and forget: the call is over for us whatever the BYE's fate.
        if let Ok(tx) = layer.send_request(now, &bye, self.target_of(call)) {
            self.transactions.insert(tx, (call, Purpose::Bye));
        }
    }

    /// A response the transaction layer delivered for a client transaction of the core.
    pub fn handle_response(
        &mut self,
        now: Instant,
        tx: TransactionId,
        resp: &Response<'_>,
        layer: &mut TransactionLayer,
    ) {
        let Some(&(call, purpose)) = self.transactions.get(&tx) else {
            return;
        };
        if resp.status >= 200 && purpose != Purpose::Invite {
            self.transactions.remove(&tx);
        }
        match purpose {
            Purpose::Invite => self.on_invite_response(now, call, resp, layer),
            Purpose::Refresh => self.on_refresh_response(now, call, resp, layer),
            Purpose::Reinvite => self.on_reinvite_response(call, resp, layer),
            // A failed PRACK or CANCEL changes nothing the web side sees: the INVITE's
            // own final response decides (RFC 3262 §7.2, RFC 3261 §9.1).
            Purpose::Prack | Purpose::Cancel | Purpose::Bye => {}
        }
    }

    fn on_invite_response(
        &mut self,
        now: Instant,
        call: CallId,
        resp: &Response<'_>,
        layer: &mut TransactionLayer,
    ) {
        match resp.status {
            100 => {}
            101..=199 => self.on_provisional(now, call, resp, layer),
            200..=299 => self.on_success(now, call, resp, layer),
            422 if self.retry_with_min_se(now, call, resp, layer) => {}
            // RFC 3263 §4.3: a 503 from this next hop: try the next one.
            503 if self.retry_next_hop(now, call, layer) => {}
            _ => {
                let status = CamaraStatus::from_sip(resp.status).unwrap_or(CamaraStatus::Failed);
                tracing::info!(
                    call = call.0,
                    sip = resp.status,
                    status = status.as_str(),
                    "outgoing call failed"
                );
                self.finish(call, status, Some(format!("SIP {}", resp.status)));
            }
        }
    }

    /// RFC 4028 §7.3: a 422 names the smallest interval the IMS side accepts (Min-SE);
    /// the INVITE is sent again once with that interval, a new CSeq and a new branch.
    /// Returns false when the 422 cannot be honoured (no Min-SE, already retried).
    fn retry_with_min_se(
        &mut self,
        now: Instant,
        call: CallId,
        resp: &Response<'_>,
        layer: &mut TransactionLayer,
    ) -> bool {
        let Some(min_se) = resp.headers.min_se() else {
            return false;
        };
        let via = self.via(call);
        let Some(c) = self.calls.get_mut(&call) else {
            return false;
        };
        let seq = c.invite.headers.cseq().map_or(1, |s| s.seq);
        let asked = c.invite.headers.session_expires().map_or(0, |s| s.delta);
        if c.phase != Phase::Calling || min_se <= asked || min_se > 86_400 {
            return false;
        }
        let mut invite = c.invite.clone();
        invite.headers.set(HeaderName::Via, via.into_bytes());
        invite
            .headers
            .set(HeaderName::CSeq, format!("{} INVITE", seq + 1).into_bytes());
        invite
            .headers
            .set(HeaderName::SessionExpires, min_se.to_string().into_bytes());
        invite
            .headers
            .set(HeaderName::MinSe, min_se.to_string().into_bytes());
        match layer.send_request(now, &invite, self.target_of(call)) {
            Ok(tx) => {
                self.transactions.insert(tx, (call, Purpose::Invite));
                if let Some(c) = self.calls.get_mut(&call) {
                    c.invite = invite;
                    c.invite_tx = tx;
                }
                true
            }
            Err(_) => false,
        }
    }

    /// Sends the INVITE again to the call's next fallback hop (new branch, next CSeq),
    /// while nothing but 100 has come back. Returns false when no hop is left.
    fn retry_next_hop(&mut self, now: Instant, call: CallId, layer: &mut TransactionLayer) -> bool {
        let hops = 1 + self.cfg.fallback_hops.len();
        let Some(c) = self.calls.get_mut(&call) else {
            return false;
        };
        if c.phase != Phase::Calling || c.hop + 1 >= hops {
            return false;
        }
        c.hop += 1;
        let seq = c.invite.headers.cseq().map_or(1, |s| s.seq);
        let mut invite = c.invite.clone();
        invite
            .headers
            .set(HeaderName::CSeq, format!("{} INVITE", seq + 1).into_bytes());
        let via = self.via(call);
        invite.headers.set(HeaderName::Via, via.into_bytes());
        let target = self.target_of(call);
        tracing::info!(call = call.0, next_hop = %media_plane::redact::addr(target.addr), "trying the next hop");
        match layer.send_request(now, &invite, target) {
            Ok(tx) => {
                self.transactions.insert(tx, (call, Purpose::Invite));
                if let Some(c) = self.calls.get_mut(&call) {
                    c.invite = invite;
                    c.invite_tx = tx;
                }
                true
            }
            Err(_) => false,
        }
    }

    fn on_provisional(
        &mut self,
        now: Instant,
        call: CallId,
        resp: &Response<'_>,
        layer: &mut TransactionLayer,
    ) {
        let contact = self.contact(&self.user_of(call));
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        c.phase = Phase::Early;
        let has_tag = resp.headers.to().is_some_and(|t| t.tag().is_some());
        if c.dialog.is_none() && has_tag {
            c.dialog = Dialog::uac(&c.invite, resp, &contact).ok();
        }
        if c.cancelling {
            self.send_cancel(now, call, layer);
            return;
        }
        self.prack_if_reliable(now, call, resp, layer);
        let sdp = self.answer_if_offered(call, resp);
        if let Some(status) = CamaraStatus::from_sip(resp.status) {
            self.emit(call, status, None, sdp);
        } else if sdp.is_some() {
            self.emit(call, CamaraStatus::InProgress, None, sdp);
        }
    }

    /// RFC 3262 §4: a provisional response with `Require: 100rel` and RSeq is acknowledged
    /// with PRACK inside its early dialog.
    fn prack_if_reliable(
        &mut self,
        now: Instant,
        call: CallId,
        resp: &Response<'_>,
        layer: &mut TransactionLayer,
    ) {
        let reliable = resp
            .headers
            .tokens(HeaderName::Require)
            .is_some_and(|tags| tags.iter().any(|t| t.eq_ignore_ascii_case(b"100rel")));
        if !reliable {
            return;
        }
        let via = self.via(call);
        let Some(dialog) = self.calls.get_mut(&call).and_then(|c| c.dialog.as_mut()) else {
            return;
        };
        if let Some(prack) = dialog.prack(resp, &via) {
            let _ = self.send(now, call, Purpose::Prack, &prack, layer);
        }
    }

    /// The browser's answer, built from the first response with SDP; later SDP in the same
    /// dialog (a repeated answer in 200 OK) is not an answer again (RFC 3261 §13.2.1).
    fn answer_if_offered(&mut self, call: CallId, resp: &Response<'_>) -> Option<String> {
        let c = self.calls.get_mut(&call)?;
        if c.answered || resp.body.is_empty() {
            return None;
        }
        let text = std::str::from_utf8(&resp.body).ok()?;
        let ims_answer = SessionDescription::parse(text).ok()?;
        let ims = ims_local(&c.allocation, c.origin);
        let webrtc = webrtc_local(&c.allocation, c.origin);
        match sdp::interwork::answer_from_ims(&ims_answer, &c.pending_sdp, &ims, &webrtc) {
            Ok((browser_answer, negotiated)) => {
                c.answered = true;
                if let Err(e) = self.media.update(c.media, &negotiated) {
                    tracing::warn!(call = call.0, error = %e, "media update refused");
                }
                c.negotiated = Some(negotiated);
                Some(browser_answer.to_string())
            }
            Err(e) => {
                tracing::warn!(call = call.0, error = %e, "IMS answer not usable");
                None
            }
        }
    }

    fn on_success(
        &mut self,
        now: Instant,
        call: CallId,
        resp: &Response<'_>,
        layer: &mut TransactionLayer,
    ) {
        let contact = self.contact(&self.user_of(call));
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        if c.phase == Phase::Connected {
            // RFC 3261 §13.2.2.4: a retransmitted 2xx (our ACK was lost) is answered with
            // the same ACK again, and nothing else changes.
            let invite_seq = c.invite.headers.cseq().map_or(1, |s| s.seq);
            self.send_ack(call, invite_seq, layer);
            return;
        }
        // The 2xx may come from another fork than the early dialog: follow the one that
        // answered (RFC 3261 §13.2.2.4).
        let same = c.dialog.as_ref().map(|d| d.id.remote_tag.as_slice())
            == resp.headers.to().and_then(|t| t.tag());
        match (&mut c.dialog, same) {
            (Some(d), true) => {
                let _ = d.on_response(&Method::Invite, resp);
            }
            _ => c.dialog = Dialog::uac(&c.invite, resp, &contact).ok(),
        }
        c.phase = Phase::Connected;
        c.timer = super::session::timer_from_answer(resp, now);
        let invite_seq = c.invite.headers.cseq().map_or(1, |s| s.seq);
        let cancelling = c.cancelling;
        self.send_ack(call, invite_seq, layer);
        if cancelling {
            // RFC 3261 §9.1: the 2xx crossed our CANCEL; the call is up, so end it with BYE.
            self.send_bye(now, call, layer);
            self.finish(
                call,
                CamaraStatus::SessionCancelled,
                Some("cancelled".into()),
            );
            return;
        }
        let Some(sdp) = self
            .answer_if_offered(call, resp)
            .or_else(|| self.unanswered(call))
        else {
            // The 2xx had no usable answer: the media cannot flow; end the call cleanly.
            self.send_bye(now, call, layer);
            self.finish(
                call,
                CamaraStatus::Failed,
                Some("no usable SDP answer".into()),
            );
            return;
        };
        tracing::info!(call = call.0, "outgoing call connected");
        let sdp = (!sdp.is_empty()).then_some(sdp);
        self.emit(call, CamaraStatus::Connected, None, sdp);
    }

    /// `Some("")` when the browser already has its answer (from a 18x), `None` when it has
    /// none yet.
    fn unanswered(&self, call: CallId) -> Option<String> {
        self.calls
            .get(&call)
            .filter(|c| c.answered)
            .map(|_| String::new())
    }

    /// RFC 3261 §13.2.2.4: the ACK for a 2xx is built by the core, sent outside any
    /// transaction, and resent for every retransmitted 2xx (the layer hands those over).
    fn send_ack(&mut self, call: CallId, invite_seq: u32, layer: &mut TransactionLayer) {
        let via = self.via(call);
        let Some(dialog) = self.calls.get(&call).and_then(|c| c.dialog.as_ref()) else {
            return;
        };
        let ack = dialog.ack(invite_seq, &via);
        layer.send_stateless(self.target_of(call), ack.to_bytes());
    }

    /// A request inside one of the core's dialogs (the endpoint routes it here).
    /// Returns false when no call owns it.
    pub fn handle_request(
        &mut self,
        now: Instant,
        tx: TransactionId,
        req: &Request<'_>,
        layer: &mut TransactionLayer,
    ) -> bool {
        let Some(id) = DialogId::of_incoming(req) else {
            return false;
        };
        let Some(call) = self.call_of_dialog(&id) else {
            return false;
        };
        let accepted = self
            .calls
            .get_mut(&call)
            .and_then(|c| c.dialog.as_mut())
            .map(|d| d.on_request(req));
        let connected = self
            .calls
            .get(&call)
            .is_some_and(|c| c.phase == Phase::Connected);
        let status = match (&req.method, accepted) {
            (_, Some(Err(e))) => e.status(),
            (Method::Bye, _) => 200,
            (Method::Prack, _) => {
                self.on_prack(now, call, tx, req, layer);
                return true;
            }
            (Method::Invite | Method::Update, _) if connected => {
                self.on_target_refresh(now, call, tx, req, layer);
                return true;
            }
            // RFC 3311 §5.2: an UPDATE before answer would change the early session; the
            // gateway does not renegotiate early media.
            (Method::Invite | Method::Update, _) => 491,
            _ => 501,
        };
        let resp = response_to(req, status, None);
        let _ = layer.send_response(now, tx, &resp);
        if req.method == Method::Bye && status == 200 {
            tracing::info!(call = call.0, "remote hangup");
            self.finish(call, CamaraStatus::Terminated, Some("remote hangup".into()));
        }
        true
    }

    fn call_of_dialog(&self, id: &DialogId) -> Option<CallId> {
        self.calls
            .iter()
            .find(|(_, c)| c.dialog.as_ref().is_some_and(|d| d.id == *id))
            .map(|(k, _)| *k)
    }

    /// A transaction event from the layer: an INVITE that timed out (Timer B) or whose
    /// transport failed ends its call.
    pub fn handle_transaction_event(
        &mut self,
        now: Instant,
        event: &TransactionEvent,
        layer: &mut TransactionLayer,
    ) {
        let tx = match event {
            TransactionEvent::Timeout { id, .. } | TransactionEvent::TransportError { id, .. } => {
                *id
            }
            TransactionEvent::Terminated { id, .. } => {
                self.transactions.remove(id);
                return;
            }
        };
        let Some(&(call, purpose)) = self.transactions.get(&tx) else {
            return;
        };
        self.transactions.remove(&tx);
        let invite_open = self
            .calls
            .get(&call)
            .is_some_and(|c| c.invite_tx == tx && c.phase != Phase::Connected);
        if purpose == Purpose::Invite && invite_open {
            let cancelling = self.calls.get(&call).is_some_and(|c| c.cancelling);
            // RFC 3263 §4.3: a transport error or timeout moves the call to the next hop.
            if !cancelling && self.retry_next_hop(now, call, layer) {
                return;
            }
            let unreachable = matches!(event, TransactionEvent::TransportError { .. });
            let (status, reason) = match (cancelling, unreachable) {
                (true, _) => (CamaraStatus::SessionCancelled, "cancelled"),
                (false, true) => (CamaraStatus::Failed, "IMS next hop unreachable"),
                (false, false) => (CamaraStatus::Failed, "no response from the IMS"),
            };
            self.finish(call, status, Some(reason.into()));
        }
    }
}

pub(super) fn ims_local(a: &MediaAllocation, origin: Origin) -> ImsLocal {
    let security = if a.sdes_keys.is_empty() {
        ImsSecurity::Rtp
    } else {
        ImsSecurity::Sdes(a.sdes_keys.clone())
    };
    ImsLocal {
        origin,
        address: a.ims_address,
        security,
    }
}

pub(super) fn webrtc_local(a: &MediaAllocation, origin: Origin) -> WebrtcLocal {
    WebrtcLocal {
        origin,
        ice_ufrag: a.ice_ufrag.clone(),
        ice_pwd: a.ice_pwd.clone(),
        fingerprint: a.fingerprint.clone(),
        candidates: a.candidates.clone(),
        address: a.webrtc_address,
        answer_setup: ANSWER_SETUP,
    }
}
