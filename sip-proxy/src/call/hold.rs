//! Hold and resume asked by the browser: a re-INVITE toward IMS with the gateway's own
//! description set to `sendonly` (hold) or `sendrecv` (resume), and an answer for the
//! browser's re-offer that keeps its ICE and DTLS as they are.
//!
//! ```text
//!  Command::Hold/Resume (+ browser re-offer) ─► browser answer computed (not yet sent)
//!      ─► re-INVITE (o= version +1) ─2xx─► ACK, media flow updated, Hold/Resume event
//!                                    (carrying the browser answer)
//!                                  ─error─► description restored, nothing changes
//! ```

use std::borrow::Cow;
use std::time::Instant;

use super::outgoing::webrtc_local;
use super::session::set_direction;
use super::{CallCore, CallError, CallId, CamaraStatus, Phase, Purpose};
use crate::media::MediaControl;
use crate::message::{HeaderName, Method, Response};
use crate::sdp::{self, Direction, SessionDescription};
use crate::transaction::TransactionLayer;

/// A re-INVITE of ours waiting for its final response.
#[derive(Debug, Clone)]
pub(super) struct PendingReinvite {
    hold: bool,
    /// CSeq of the re-INVITE (the ACK repeats it).
    seq: u32,
    /// The direction to restore if the IMS side refuses.
    previous: Direction,
    /// The answer for the browser's re-offer, released with the event.
    browser_answer: Option<String>,
}

impl<M: MediaControl> CallCore<M> {
    /// The browser puts the call on hold (`hold`) or resumes it.
    pub(super) fn hold_or_resume(
        &mut self,
        now: Instant,
        call: CallId,
        hold: bool,
        browser_offer: Option<&str>,
        layer: &mut TransactionLayer,
    ) -> Result<(), CallError> {
        let via = self.via(call);
        let c = self
            .calls
            .get_mut(&call)
            .ok_or(CallError::UnknownCall(call))?;
        if c.phase != Phase::Connected || c.reinvite.is_some() {
            return Err(CallError::WrongState(call));
        }
        let negotiated = c.negotiated.as_ref().ok_or(CallError::WrongState(call))?;
        let browser_answer = match browser_offer {
            Some(text) => {
                let offer = SessionDescription::parse(text)?;
                let webrtc = webrtc_local(&c.allocation, c.origin);
                Some(sdp::interwork::reanswer_browser(&offer, &webrtc, negotiated)?.to_string())
            }
            None => None,
        };
        let local = c
            .local_ims_sdp
            .as_mut()
            .ok_or(CallError::WrongState(call))?;
        let previous = local
            .audio()
            .map_or(Direction::SendRecv, |(_, m)| Direction::of(m));
        // RFC 3264 §8.4: the holding side offers sendonly (or inactive when it was
        // receiving only); resuming offers sendrecv.
        set_direction(
            local,
            if hold {
                Direction::SendOnly
            } else {
                Direction::SendRecv
            },
        );
        let body = local.to_string().into_bytes();
        let dialog = c.dialog.as_mut().ok_or(CallError::WrongState(call))?;
        let mut reinvite = dialog.request(Method::Invite, &via);
        reinvite
            .headers
            .set(HeaderName::ContentType, b"application/sdp".to_vec());
        reinvite.headers.set(
            HeaderName::ContentLength,
            body.len().to_string().into_bytes(),
        );
        reinvite.body = Cow::Owned(body);
        c.reinvite = Some(PendingReinvite {
            hold,
            seq: dialog.local_seq,
            previous,
            browser_answer,
        });
        if let Err(e) = self.send(now, call, Purpose::Reinvite, &reinvite, layer) {
            self.restore(call);
            return Err(e);
        }
        Ok(())
    }

    /// The final response to our re-INVITE.
    pub(super) fn on_reinvite_response(
        &mut self,
        call: CallId,
        resp: &Response<'_>,
        layer: &mut TransactionLayer,
    ) {
        if resp.status < 200 {
            return;
        }
        if !(200..300).contains(&resp.status) {
            // RFC 3261 §14.1: a refused re-INVITE leaves the session as it was.
            tracing::warn!(
                call = call.0,
                sip = resp.status,
                "hold/resume refused by the IMS side"
            );
            self.restore(call);
            return;
        }
        let via = self.via(call);
        let target = self.target_of(call);
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        let Some(pending) = c.reinvite.take() else {
            return;
        };
        if let Some(dialog) = c.dialog.as_ref() {
            // RFC 3261 §13.2.2.4: the ACK for a 2xx is the core's, outside transactions.
            let ack = dialog.ack(pending.seq, &via);
            layer.send_stateless(target, ack.to_bytes());
        }
        if let Some(n) = c.negotiated.as_mut() {
            n.flow.to_ims = true;
            n.flow.to_webrtc = !pending.hold;
            let (media, negotiated) = (c.media, n.clone());
            if let Err(e) = self.media.update(media, &negotiated) {
                tracing::warn!(call = call.0, error = %e, "media update refused");
            }
        }
        let status = if pending.hold {
            CamaraStatus::Hold
        } else {
            CamaraStatus::Resume
        };
        self.emit(call, status, None, pending.browser_answer);
    }

    /// Puts the IMS-side description back as it was before a refused re-INVITE.
    fn restore(&mut self, call: CallId) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        if let (Some(pending), Some(local)) = (c.reinvite.take(), c.local_ims_sdp.as_mut()) {
            set_direction(local, pending.previous);
        }
    }

    /// Whether our own re-INVITE is in flight (a crossing IMS re-INVITE gets 491,
    /// RFC 3261 §14.2).
    pub(super) fn reinvite_pending(&self, call: CallId) -> bool {
        self.calls.get(&call).is_some_and(|c| c.reinvite.is_some())
    }
}
