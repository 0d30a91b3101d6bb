//! Calls the IMS side delivers to a web user (MT): INVITE in, `Incoming` event out, the
//! browser's progress and answer back as SIP responses (180/183 reliably when the INVITE
//! offers 100rel, RFC 3262: see `super::reliable`).

use std::time::Instant;

use super::outgoing::{ims_local, webrtc_local};
use super::{Call, CallCore, CallError, CallEvent, CallId, CamaraStatus, Phase, Role};
use crate::dialog::Dialog;
use crate::media::{MediaControl, MediaSessionId};
use crate::message::builder::response_to;
use crate::message::uri::Uri;
use crate::message::{HeaderName, Request};
use crate::sdp::{self, Origin, SessionDescription};
use crate::transaction::{TransactionId, TransactionLayer};

/// Ids of calls the core creates itself (MT) have the top bit set, so they never collide
/// with ids the web side picks for the calls it places.
const MT_ID_BIT: u64 = 1 << 63;

/// The E.164 number (`+…`) a SIP or tel URI addresses, if any.
pub fn number_of(uri: &[u8]) -> Option<String> {
    let number = match Uri::parse(uri).ok()? {
        Uri::Tel(t) => t.number.to_vec(),
        Uri::Sip(s) => {
            let user = s.user_unescaped()?;
            // RFC 3966 §5.1.4 parameters may ride in the user part (`+1555;npdi`).
            user.split(|&b| b == b';').next()?.to_vec()
        }
        Uri::Other { .. } => return None,
    };
    let text = String::from_utf8(number).ok()?;
    let digits: String = text
        .chars()
        .filter(|c| !matches!(c, '-' | '.' | '(' | ')'))
        .collect();
    let valid = digits.len() > 1
        && digits.starts_with('+')
        && digits[1..].bytes().all(|b| b.is_ascii_digit());
    valid.then_some(digits)
}

impl<M: MediaControl> CallCore<M> {
    /// Makes `number` reachable for incoming calls (a web user registered it).
    pub fn add_user(&mut self, number: &str) {
        self.users.insert(number.to_owned());
    }

    /// Makes `number` unreachable again.
    pub fn remove_user(&mut self, number: &str) {
        self.users.remove(number);
    }

    /// A new INVITE from the IMS side (its server transaction is `tx`). Answers it with an
    /// error when it cannot be delivered; otherwise emits [`CallEvent::Incoming`].
    pub fn handle_invite(
        &mut self,
        now: Instant,
        tx: TransactionId,
        req: &Request<'_>,
        layer: &mut TransactionLayer,
    ) {
        if let Err((status, why)) = self.accept_invite(tx, req) {
            tracing::info!(sip = status, why, "incoming call refused");
            let mut resp = response_to(req, status, Some(self.ids.hex().as_bytes()));
            if status == 488 {
                resp.add_header("Warning", format!("399 rtcgate \"{why}\""));
            }
            let _ = layer.send_response(now, tx, &resp);
        }
    }

    fn accept_invite(
        &mut self,
        tx: TransactionId,
        req: &Request<'_>,
    ) -> Result<(), (u16, &'static str)> {
        let to = number_of(&req.uri).ok_or((404, "not a phone number"))?;
        if !self.users.contains(&to) {
            // RFC 3261 §21.4.18: the user is known to the network but not registered here.
            return Err((480, "callee not registered"));
        }
        let from = req
            .headers
            .name_addrs(HeaderName::PAssertedIdentity)
            .and_then(|ids| ids.iter().find_map(|id| number_of(id.uri_raw)))
            .or_else(|| req.headers.from().and_then(|f| number_of(f.uri_raw)))
            .unwrap_or_else(|| "anonymous".to_owned());
        let text = std::str::from_utf8(&req.body).map_err(|_| (488, "SDP is not text"))?;
        if text.is_empty() {
            return Err((488, "offerless INVITE not supported"));
        }
        let ims_offer = SessionDescription::parse(text).map_err(|_| (400, "malformed SDP"))?;
        let call = CallId(MT_ID_BIT | self.next_mt);
        self.next_mt += 1;
        let media = MediaSessionId(call.0);
        let allocation = self
            .media
            .allocate(media)
            .map_err(|e| (e.sip_status(), "no media resources"))?;
        let origin = Origin {
            session_id: self.ids.next_u64() >> 1,
            version: 1,
        };
        let (browser_offer, pending_sdp) =
            match sdp::interwork::offer_from_ims(&ims_offer, &webrtc_local(&allocation, origin)) {
                Ok(done) => done,
                Err(e) => {
                    self.media.release(media);
                    return Err((e.sip_status(), "no codec or SRTP suite in common"));
                }
            };
        let local_tag = self.ids.hex();
        let dialog = Dialog::uas(req, local_tag.as_bytes(), &self.contact(&to))
            .map_err(|e| (e.status(), "dialog"))?;
        tracing::info!(call = call.0, to = %media_plane::redact::phone(&to), "incoming call");
        self.calls.insert(
            call,
            Call {
                role: Role::Mt,
                user: to.clone(),
                media,
                phase: Phase::Calling,
                invite: req.clone().into_owned(),
                invite_tx: tx,
                pending_sdp,
                allocation,
                origin,
                dialog: Some(dialog),
                answered: false,
                cancelling: false,
                cancel_sent: false,
                timer: None,
                local_ims_sdp: None,
                negotiated: None,
                reinvite: None,
                hop: 0,
                unacked: None,
                reliable: super::reliable::Reliable::for_invite(req, &mut self.ids),
            },
        );
        self.events.push_back(CallEvent::Incoming {
            call,
            from,
            to,
            offer: browser_offer.to_string(),
        });
        Ok(())
    }

    /// The browser rings (180) or reports progress (183) on an incoming call.
    pub(super) fn progress(
        &mut self,
        now: Instant,
        call: CallId,
        status: u16,
        layer: &mut TransactionLayer,
    ) -> Result<(), CallError> {
        let c = self.mt_call(call)?;
        let answering = c.reliable.as_ref().is_some_and(|r| r.answer_queued());
        if c.phase == Phase::Connected || answering {
            return Err(CallError::WrongState(call));
        }
        c.phase = Phase::Early;
        // RFC 3262 §3: reliably when the INVITE offered 100rel (super::reliable).
        self.send_provisional(now, call, status, layer)
    }

    /// The browser answers an incoming call with its SDP: 200 OK with the IMS answer.
    pub(super) fn answer(
        &mut self,
        now: Instant,
        call: CallId,
        browser_sdp: &str,
        layer: &mut TransactionLayer,
    ) -> Result<(), CallError> {
        let c = self.mt_call(call)?;
        let answering = c.reliable.as_ref().is_some_and(|r| r.answer_queued());
        if c.phase == Phase::Connected || answering {
            return Err(CallError::WrongState(call));
        }
        let browser_answer = SessionDescription::parse(browser_sdp)?;
        let ims = ims_local(&c.allocation, c.origin);
        let (ims_answer, negotiated) =
            sdp::interwork::answer_to_ims(&browser_answer, &c.pending_sdp, &ims)?;
        let media = c.media;
        // RFC 3262 §3: no 2xx overtakes an unacknowledged reliable provisional response;
        // the answer goes out when its PRACK arrives.
        if self.hold_answer(call, browser_sdp) {
            return Ok(());
        }
        self.media.update(media, &negotiated)?;
        let mut resp = self.mt_response(call, 200)?;
        resp.add_header(
            "Contact",
            format!(
                "<{}>",
                String::from_utf8_lossy(&self.contact(&self.user_of(call)))
            ),
        );
        let c = self.mt_call(call)?;
        let timer = super::session::timer_for_request(&c.invite, now);
        if let Some((value, _)) = &timer {
            resp.add_header("Session-Expires", value.clone());
            // RFC 4028 §9: Require: timer only toward a UAC that supports it.
            let supported = c.invite.headers.tokens(HeaderName::Supported);
            if supported.is_some_and(|t| t.iter().any(|x| x.eq_ignore_ascii_case(b"timer"))) {
                resp.add_header("Require", "timer");
            }
        }
        resp.set_body("application/sdp", ims_answer.to_string().into_bytes());
        c.phase = Phase::Connected;
        c.answered = true;
        c.timer = timer.map(|(_, t)| t);
        c.local_ims_sdp = Some(ims_answer);
        c.negotiated = Some(negotiated);
        if let Some(d) = c.dialog.as_mut() {
            d.on_local_response(200);
        }
        let tx = c.invite_tx;
        layer
            .send_response(now, tx, &resp)
            .map_err(|_| CallError::Transaction)?;
        // RFC 3261 §13.3.1.4: the UAS core resends its 2xx until the ACK arrives.
        let schedule = crate::transaction::Uas2xxRetransmit::start(now, &self.cfg.timers);
        if let Some(c) = self.calls.get_mut(&call) {
            c.unacked = Some((resp, schedule));
        }
        tracing::info!(call = call.0, "incoming call connected");
        self.emit(call, CamaraStatus::Connected, None, None);
        Ok(())
    }

    /// The browser declines an incoming call before answering: 603 Decline.
    pub(super) fn decline(&mut self, now: Instant, call: CallId, layer: &mut TransactionLayer) {
        if let (Ok(resp), Some(tx)) = (
            self.mt_response(call, 603),
            self.calls.get(&call).map(|c| c.invite_tx),
        ) {
            let _ = layer.send_response(now, tx, &resp);
        }
        self.finish(
            call,
            CamaraStatus::Declined,
            Some("declined by the callee".into()),
        );
    }

    /// A CANCEL matched the INVITE of server transaction `invite_tx` (the endpoint
    /// answered the CANCEL itself): 487 to the INVITE, `SessionCancelled` to the browser.
    pub fn handle_cancel(
        &mut self,
        now: Instant,
        invite_tx: TransactionId,
        layer: &mut TransactionLayer,
    ) {
        let found = self.calls.iter().find(|(_, c)| {
            c.role == Role::Mt && c.invite_tx == invite_tx && c.phase != Phase::Connected
        });
        let Some(call) = found.map(|(id, _)| *id) else {
            return;
        };
        if let Ok(resp) = self.mt_response(call, 487) {
            let _ = layer.send_response(now, invite_tx, &resp);
        }
        self.finish(
            call,
            CamaraStatus::SessionCancelled,
            Some("cancelled by the caller".into()),
        );
    }

    pub(super) fn mt_call(&mut self, call: CallId) -> Result<&mut Call, CallError> {
        match self.calls.get_mut(&call) {
            Some(c) if c.role == Role::Mt => Ok(c),
            Some(_) => Err(CallError::WrongState(call)),
            None => Err(CallError::UnknownCall(call)),
        }
    }

    /// A response to the call's INVITE carrying the dialog's local tag.
    pub(super) fn mt_response(
        &self,
        call: CallId,
        status: u16,
    ) -> Result<crate::message::Response<'static>, CallError> {
        let c = self.calls.get(&call).ok_or(CallError::UnknownCall(call))?;
        let tag = c
            .dialog
            .as_ref()
            .map(|d| d.id.local_tag.clone())
            .unwrap_or_default();
        let mut resp = response_to(&c.invite, status, Some(&tag));
        // RFC 3261 §12.1.1: a UAS copies every Record-Route of the request, in order,
        // into the responses that create the dialog (101-199 with a tag, and 2xx), so the
        // caller's route set runs through the same proxies.
        if (101..300).contains(&status) {
            for rr in c
                .invite
                .headers
                .iter()
                .filter(|h| h.kind() == HeaderName::RecordRoute)
            {
                resp.headers.push(rr.clone().into_owned());
            }
        }
        Ok(resp)
    }
}

impl<M: MediaControl> CallCore<M> {
    /// An ACK outside any transaction: the ACK for the 2xx of an incoming call stops its
    /// retransmission (RFC 3261 §13.3.1.4). Returns whether a call owned it.
    pub fn handle_ack(&mut self, ack: &Request<'_>) -> bool {
        let Some(id) = crate::dialog::DialogId::of_incoming(ack) else {
            return false;
        };
        let found = self
            .calls
            .values_mut()
            .find(|c| c.dialog.as_ref().is_some_and(|d| d.id == id));
        match found {
            Some(c) => {
                c.unacked = None;
                true
            }
            None => false,
        }
    }

    /// Resends unacknowledged 2xx responses whose time has come; a 2xx never ACKed within
    /// 64·T1 ends the call with BYE (RFC 3261 §13.3.1.4).
    pub(super) fn resend_unacked(&mut self, now: Instant, layer: &mut TransactionLayer) {
        let mut gave_up = Vec::new();
        for (id, c) in self.calls.iter_mut() {
            let Some((resp, schedule)) = c.unacked.as_mut() else {
                continue;
            };
            match schedule.handle_timeout(now) {
                crate::transaction::Uas2xxAction::Resend => {
                    let _ = layer.send_response(now, c.invite_tx, resp);
                }
                crate::transaction::Uas2xxAction::GiveUp => gave_up.push(*id),
                crate::transaction::Uas2xxAction::Wait => {}
            }
        }
        for call in gave_up {
            tracing::warn!(call = call.0, "no ACK for the 200 OK: ending the call");
            self.send_bye(now, call, layer);
            self.finish(
                call,
                CamaraStatus::Terminated,
                Some("no ACK from the IMS side".into()),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::number_of;

    #[test]
    fn numbers_are_read_from_sip_and_tel_uris() {
        assert_eq!(
            number_of(b"sip:+15550100@ims.example.net;user=phone").as_deref(),
            Some("+15550100")
        );
        assert_eq!(number_of(b"tel:+1-555-0100").as_deref(), Some("+15550100"));
        assert_eq!(
            number_of(b"sip:+15550100;npdi@ims.example.net").as_deref(),
            Some("+15550100")
        );
        assert_eq!(number_of(b"sip:alice@example.net"), None);
        assert_eq!(number_of(b"sip:+@example.net"), None);
        assert_eq!(number_of(b"mailto:x@y"), None);
    }
}
