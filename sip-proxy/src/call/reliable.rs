//! Reliable provisional responses of incoming calls (RFC 3262 §3): the gateway, as UAS,
//! sends its 180/183 with `Require: 100rel` and `RSeq`, resends them until the IMS side
//! PRACKs them, and holds back what must not overtake an unacknowledged one.
//!
//! ```text
//!  180/183 ─► Require: 100rel, RSeq: n ─► resend at T1, 3·T1, 7·T1, … (doubling, no cap)
//!     │ PRACK (RAck: n cseq INVITE) ─► 200, stop, send what was queued (next 1xx, the 2xx)
//!     │ PRACK with any other RAck   ─► 481
//!     │ 64·T1 without PRACK         ─► 504 to the INVITE, the call Failed
//! ```

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::{CallCore, CallError, CallId, CamaraStatus, Role};
use crate::ids::IdGen;
use crate::media::MediaControl;
use crate::message::builder::response_to;
use crate::message::{HeaderName, Request, Response};
use crate::transaction::{TimerConfig, TransactionId, TransactionLayer};

/// The status the gateway rejects an INVITE with when a reliable provisional response is
/// never PRACKed: RFC 3262 §3 asks for a 5xx; 504 Server Time-out (RFC 3261 §21.5.5)
/// says what happened — the peer did not answer in time.
pub(super) const NO_PRACK_STATUS: u16 = 504;

/// The 100rel state of one incoming call whose INVITE offered or required it.
#[derive(Debug)]
pub(super) struct Reliable {
    /// The RSeq of the next reliable provisional response.
    next_rseq: u32,
    /// The reliable provisional response sent and not yet PRACKed.
    outstanding: Option<Outstanding>,
    /// What the web side asked for while one was outstanding, in order.
    queued: VecDeque<Queued>,
}

#[derive(Debug)]
struct Outstanding {
    resp: Response<'static>,
    rseq: u32,
    next: Instant,
    interval: Duration,
    give_up_at: Instant,
}

/// Something held back until the outstanding provisional response is PRACKed.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Queued {
    /// A 180 or 183: RFC 3262 §3, no second reliable provisional response before the
    /// first is acknowledged.
    Provisional(u16),
    /// The browser's answer, sent as 2xx once the provisional response is acknowledged.
    Answer(String),
}

/// What a retransmission timer asks for.
enum Due {
    Wait,
    Resend,
    GiveUp,
}

impl Reliable {
    /// The 100rel state for `invite`, or `None` when it neither requires nor supports
    /// 100rel (its provisional responses then go unreliably, RFC 3262 §3).
    ///
    /// RFC 3262 §3: with `Require: 100rel` the UAS MUST send provisional responses
    /// reliably; with only `Supported: 100rel` it may choose. The gateway chooses to: a
    /// reliable 180/183 is the only way it learns the IMS side got the early dialog
    /// (and an answer in a 183), and it keeps both call directions alike.
    pub(super) fn for_invite(invite: &Request<'_>, ids: &mut IdGen) -> Option<Self> {
        let has_100rel = |name| {
            invite
                .headers
                .tokens(name)
                .is_some_and(|t| t.iter().any(|x| x.eq_ignore_ascii_case(b"100rel")))
        };
        if !has_100rel(HeaderName::Require) && !has_100rel(HeaderName::Supported) {
            return None;
        }
        // RFC 3262 §3: the first RSeq is chosen uniformly in 1 ..= 2^31 - 1.
        let span = (1u64 << 31) - 1;
        let first = u32::try_from(ids.next_u64() % span + 1).unwrap_or(1);
        Some(Reliable {
            next_rseq: first,
            outstanding: None,
            queued: VecDeque::new(),
        })
    }

    /// Whether a reliable provisional response awaits its PRACK.
    fn is_outstanding(&self) -> bool {
        self.outstanding.is_some()
    }

    /// Whether the browser's answer is held back.
    pub(super) fn answer_queued(&self) -> bool {
        self.queued.iter().any(|q| matches!(q, Queued::Answer(_)))
    }

    /// When the outstanding response must be resent or given up.
    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        self.outstanding.as_ref().map(|o| o.next.min(o.give_up_at))
    }

    fn due(&mut self, now: Instant) -> Due {
        let Some(o) = self.outstanding.as_mut() else {
            return Due::Wait;
        };
        if now >= o.give_up_at {
            self.outstanding = None;
            return Due::GiveUp;
        }
        if now < o.next {
            return Due::Wait;
        }
        // RFC 3262 §3: the interval starts at T1 and doubles, with no T2 cap.
        o.interval *= 2;
        o.next = now + o.interval;
        Due::Resend
    }
}

impl<M: MediaControl> CallCore<M> {
    /// Sends the 180/183 of an incoming call: reliably when its INVITE offered 100rel
    /// (held back while an earlier one is unacknowledged), plainly otherwise.
    pub(super) fn send_provisional(
        &mut self,
        now: Instant,
        call: CallId,
        status: u16,
        layer: &mut TransactionLayer,
    ) -> Result<(), CallError> {
        let mut resp = self.mt_response(call, status)?;
        let contact = self.contact(&self.user_of(call));
        let timers: TimerConfig = self.cfg.timers;
        let c = self.mt_call(call)?;
        let tx = c.invite_tx;
        if let Some(rel) = c.reliable.as_mut() {
            if rel.is_outstanding() {
                rel.queued.push_back(Queued::Provisional(status));
                return Ok(());
            }
            let rseq = rel.next_rseq;
            rel.next_rseq = rel.next_rseq.wrapping_add(1);
            resp.add_header("Require", "100rel");
            resp.add_header("RSeq", rseq.to_string());
            // RFC 3261 §12.1.1: the response that sets up the early dialog names where
            // in-dialog requests (the PRACK) go.
            resp.add_header(
                "Contact",
                format!("<{}>", String::from_utf8_lossy(&contact)),
            );
            rel.outstanding = Some(Outstanding {
                resp: resp.clone(),
                rseq,
                next: now + timers.t1,
                interval: timers.t1,
                give_up_at: now + timers.t64(),
            });
        }
        layer
            .send_response(now, tx, &resp)
            .map_err(|_| CallError::Transaction)?;
        if let Some(s) = CamaraStatus::from_sip(status) {
            self.emit(call, s, None, None);
        }
        Ok(())
    }

    /// Holds the browser's answer back while a reliable provisional response is
    /// unacknowledged. Returns whether it was held.
    ///
    /// RFC 3262 §3 forbids a 2xx before the PRACK when the unacknowledged response
    /// carried SDP and allows it otherwise; the gateway always waits, so the IMS side
    /// never sees its 2xx overtake a provisional response it still has to PRACK.
    pub(super) fn hold_answer(&mut self, call: CallId, browser_sdp: &str) -> bool {
        let Some(rel) = self.calls.get_mut(&call).and_then(|c| c.reliable.as_mut()) else {
            return false;
        };
        if !rel.is_outstanding() {
            return false;
        }
        rel.queued.push_back(Queued::Answer(browser_sdp.to_owned()));
        true
    }

    /// A PRACK inside the early dialog of `call` (RFC 3262 §3): 200 when its RAck names
    /// the outstanding reliable provisional response, which then stops; 481 otherwise.
    pub(super) fn on_prack(
        &mut self,
        now: Instant,
        call: CallId,
        tx: TransactionId,
        req: &Request<'_>,
        layer: &mut TransactionLayer,
    ) {
        let status = match req.headers.rack() {
            // RFC 3262 §7.2: a PRACK carries RAck.
            None => 400,
            Some(rack) => {
                let matched = self.calls.get_mut(&call).and_then(|c| {
                    let invite_seq = c.invite.headers.cseq()?.seq;
                    let rel = c.reliable.as_mut()?;
                    let o = rel.outstanding.as_ref()?;
                    let same = c.role == Role::Mt
                        && rack.rseq == o.rseq
                        && rack.cseq == invite_seq
                        && rack.method.eq_ignore_ascii_case(b"INVITE");
                    same.then(|| rel.outstanding = None)
                });
                if matched.is_some() {
                    200
                } else {
                    481
                }
            }
        };
        let _ = layer.send_response(now, tx, &response_to(req, status, None));
        if status == 200 {
            self.release_queued(now, call, layer);
        }
    }

    /// Sends what waited for the PRACK: further provisional responses (the next one
    /// becomes outstanding and stops the release), then the 2xx.
    fn release_queued(&mut self, now: Instant, call: CallId, layer: &mut TransactionLayer) {
        loop {
            let next = self
                .calls
                .get_mut(&call)
                .and_then(|c| c.reliable.as_mut())
                .filter(|r| !r.is_outstanding())
                .and_then(|r| r.queued.pop_front());
            match next {
                None => return,
                Some(Queued::Provisional(status)) => {
                    if let Err(e) = self.send_provisional(now, call, status, layer) {
                        tracing::warn!(call = call.0, error = %e, "queued provisional not sent");
                    }
                }
                Some(Queued::Answer(sdp)) => {
                    if let Err(e) = self.answer(now, call, &sdp, layer) {
                        tracing::warn!(call = call.0, error = %e, "queued answer refused");
                        self.reject(now, call, 500, "the answer could not be sent", layer);
                    }
                    return;
                }
            }
        }
    }

    /// When a reliable provisional response is next due.
    pub(super) fn reliable_timeout(&self) -> Option<Instant> {
        self.calls
            .values()
            .filter_map(|c| c.reliable.as_ref().and_then(Reliable::poll_timeout))
            .min()
    }

    /// Resends reliable provisional responses whose time has come; one never PRACKed
    /// within 64·T1 rejects its INVITE (RFC 3262 §3).
    pub(super) fn resend_reliable(&mut self, now: Instant, layer: &mut TransactionLayer) {
        let mut gave_up = Vec::new();
        for (id, c) in self.calls.iter_mut() {
            let Some(rel) = c.reliable.as_mut() else {
                continue;
            };
            match rel.due(now) {
                Due::Resend => {
                    if let Some(o) = rel.outstanding.as_ref() {
                        let _ = layer.send_response(now, c.invite_tx, &o.resp);
                    }
                }
                Due::GiveUp => gave_up.push(*id),
                Due::Wait => {}
            }
        }
        for call in gave_up {
            tracing::warn!(
                call = call.0,
                "no PRACK for a reliable provisional response"
            );
            self.reject(
                now,
                call,
                NO_PRACK_STATUS,
                "no PRACK from the IMS side",
                layer,
            );
        }
    }

    /// Rejects the INVITE of an incoming call with `status` and ends it as `Failed`.
    fn reject(
        &mut self,
        now: Instant,
        call: CallId,
        status: u16,
        why: &str,
        layer: &mut TransactionLayer,
    ) {
        if let (Ok(resp), Some(tx)) = (
            self.mt_response(call, status),
            self.calls.get(&call).map(|c| c.invite_tx),
        ) {
            let _ = layer.send_response(now, tx, &resp);
        }
        self.finish(call, CamaraStatus::Failed, Some(why.to_owned()));
    }
}
