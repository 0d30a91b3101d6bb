//! Non-INVITE client transaction (RFC 3261 §17.1.2, Figure 6).
//!
//! ```text
//!  Trying ──1xx──► Proceeding ──200-699──► Completed ──Timer K──► Terminated
//!    │ Timer E: retransmit at T1, 2·T1, … capped by T2 (UDP; T2 once Proceeding)
//!    │ Timer F: timeout at 64·T1
//! ```

use std::time::Instant;

use super::timers::{due, earliest, Backoff, Timer, TimerConfig};
use super::{Action, Disposition, TransactionState};
use crate::message::Response;

pub(crate) struct NonInviteClient {
    state: TransactionState,
    request: Vec<u8>,
    reliable: bool,
    cfg: TimerConfig,
    timer_e: Option<Backoff>,
    timer_f: Option<Instant>,
    timer_k: Option<Instant>,
}

impl NonInviteClient {
    pub(crate) fn new(
        now: Instant,
        request: Vec<u8>,
        reliable: bool,
        cfg: TimerConfig,
        out: &mut Vec<Action>,
    ) -> Self {
        out.push(Action::Send(request.clone()));
        NonInviteClient {
            state: TransactionState::Trying,
            request,
            reliable,
            cfg,
            // RFC 3261 §17.1.2.2: Timer E (unreliable only) at T1, Timer F at 64·T1.
            timer_e: (!reliable).then(|| Backoff::start(now, cfg.t1)),
            timer_f: Some(now + cfg.t64()),
            timer_k: None,
        }
    }

    pub(crate) fn state(&self) -> TransactionState {
        self.state
    }

    pub(crate) fn next_timeout(&self) -> Option<Instant> {
        earliest(&[self.timer_e.map(|b| b.at), self.timer_f, self.timer_k])
    }

    pub(crate) fn on_response(&mut self, now: Instant, resp: &Response<'_>) -> Disposition {
        use TransactionState::*;
        match (self.state, resp.status) {
            (Trying | Proceeding, 100..=199) => {
                self.state = Proceeding;
                Disposition::Deliver
            }
            (Trying | Proceeding, _) => {
                // RFC 3261 §17.1.2.2: Completed; Timer K = T4 (unreliable) or 0.
                self.state = Completed;
                self.timer_e = None;
                self.timer_f = None;
                self.timer_k = Some(now + self.cfg.t4_or_zero(self.reliable));
                Disposition::Deliver
            }
            _ => Disposition::Absorbed,
        }
    }

    pub(crate) fn on_timeout(&mut self, now: Instant, out: &mut Vec<Action>) {
        if let Some(e) = self.timer_e.as_mut().filter(|e| e.at <= now) {
            out.push(Action::Send(self.request.clone()));
            // Timer E: min(2·interval, T2) in Trying; T2 in Proceeding.
            if self.state == TransactionState::Proceeding {
                e.interval = self.cfg.t2;
                e.at = now + self.cfg.t2;
            } else {
                e.double(now, Some(self.cfg.t2));
            }
        }
        if due(self.timer_f, now) {
            self.terminate();
            out.push(Action::Timeout(Timer::F));
        }
        if due(self.timer_k, now) {
            self.terminate();
        }
    }

    pub(crate) fn on_transport_error(&mut self, out: &mut Vec<Action>) {
        if matches!(
            self.state,
            TransactionState::Trying | TransactionState::Proceeding
        ) {
            out.push(Action::TransportError);
        }
        self.terminate();
    }

    fn terminate(&mut self) {
        self.state = TransactionState::Terminated;
        self.timer_e = None;
        self.timer_f = None;
        self.timer_k = None;
    }
}
