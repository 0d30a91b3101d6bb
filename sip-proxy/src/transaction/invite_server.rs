//! INVITE server transaction (RFC 3261 §17.2.1, Figure 7, as updated by RFC 6026 §7.1).
//!
//! ```text
//!  Proceeding ──300-699──► Completed ──ACK──► Confirmed ──Timer I──► Terminated
//!     │ 2xx                  │ Timer G: retransmit final (UDP), Timer H: no ACK
//!     └──────► Accepted ──Timer L──► Terminated     (INVITE retransmissions absorbed)
//! ```

use std::time::Instant;

use super::timers::{due, earliest, Backoff, Timer, TimerConfig};
use super::{Action, TransactionState};

pub(crate) struct InviteServer {
    state: TransactionState,
    reliable: bool,
    cfg: TimerConfig,
    last_response: Option<Vec<u8>>,
    timer_g: Option<Backoff>,
    timer_h: Option<Instant>,
    timer_i: Option<Instant>,
    timer_l: Option<Instant>,
}

impl InviteServer {
    pub(crate) fn new(reliable: bool, cfg: TimerConfig) -> Self {
        InviteServer {
            state: TransactionState::Proceeding,
            reliable,
            cfg,
            last_response: None,
            timer_g: None,
            timer_h: None,
            timer_i: None,
            timer_l: None,
        }
    }

    pub(crate) fn state(&self) -> TransactionState {
        self.state
    }

    pub(crate) fn next_timeout(&self) -> Option<Instant> {
        earliest(&[
            self.timer_g.map(|b| b.at),
            self.timer_h,
            self.timer_i,
            self.timer_l,
        ])
    }

    /// A response from the TU. Returns false when the state does not allow it.
    pub(crate) fn send_response(
        &mut self,
        now: Instant,
        status: u16,
        bytes: Vec<u8>,
        out: &mut Vec<Action>,
    ) -> bool {
        use TransactionState::*;
        match (self.state, status) {
            (Proceeding, 100..=199) => {}
            (Proceeding, 200..=299) => {
                // RFC 6026 §7.1: Accepted; Timer L = 64·T1.
                self.state = Accepted;
                self.timer_l = Some(now + self.cfg.t64());
            }
            // RFC 6026 §7.1: the TU retransmits its 2xx through the transaction.
            (Accepted, 200..=299) => {}
            (Proceeding, _) => {
                // RFC 3261 §17.2.1: Completed; Timer G (unreliable) at T1, Timer H at 64·T1.
                self.state = Completed;
                self.timer_g = (!self.reliable).then(|| Backoff::start(now, self.cfg.t1));
                self.timer_h = Some(now + self.cfg.t64());
            }
            _ => return false,
        }
        out.push(Action::Send(bytes.clone()));
        self.last_response = Some(bytes);
        true
    }

    /// A retransmission of the INVITE: resend the last response, except in Accepted where
    /// it is absorbed (RFC 6026 §7.1).
    pub(crate) fn on_retransmission(&mut self, out: &mut Vec<Action>) {
        if matches!(
            self.state,
            TransactionState::Proceeding | TransactionState::Completed
        ) {
            if let Some(r) = &self.last_response {
                out.push(Action::Send(r.clone()));
            }
        }
    }

    /// An ACK matching this transaction (a non-2xx ACK).
    pub(crate) fn on_ack(&mut self, now: Instant) {
        if self.state == TransactionState::Completed {
            // RFC 3261 §17.2.1: Confirmed; Timer I = T4 (unreliable) or 0.
            self.state = TransactionState::Confirmed;
            self.timer_g = None;
            self.timer_h = None;
            self.timer_i = Some(now + self.cfg.t4_or_zero(self.reliable));
        }
    }

    pub(crate) fn on_timeout(&mut self, now: Instant, out: &mut Vec<Action>) {
        if let Some(g) = self.timer_g.as_mut().filter(|g| g.at <= now) {
            // Timer G: retransmit the final response, min(2·interval, T2).
            if let Some(r) = &self.last_response {
                out.push(Action::Send(r.clone()));
            }
            g.double(now, Some(self.cfg.t2));
        }
        if due(self.timer_h, now) {
            // Timer H: the ACK never came.
            self.terminate();
            out.push(Action::Timeout(Timer::H));
        }
        if due(self.timer_i, now) || due(self.timer_l, now) {
            self.terminate();
        }
    }

    pub(crate) fn on_transport_error(&mut self, out: &mut Vec<Action>) {
        out.push(Action::TransportError);
        self.terminate();
    }

    fn terminate(&mut self) {
        self.state = TransactionState::Terminated;
        self.timer_g = None;
        self.timer_h = None;
        self.timer_i = None;
        self.timer_l = None;
    }
}
