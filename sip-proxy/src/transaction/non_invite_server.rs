//! Non-INVITE server transaction (RFC 3261 §17.2.2, Figure 8).
//!
//! ```text
//!  Trying ──1xx──► Proceeding ──200-699──► Completed ──Timer J──► Terminated
//!  (retransmissions: absorbed in Trying, answered with the last response afterwards)
//! ```

use std::time::Instant;

use super::timers::{due, TimerConfig};
use super::{Action, TransactionState};

pub(crate) struct NonInviteServer {
    state: TransactionState,
    reliable: bool,
    cfg: TimerConfig,
    last_response: Option<Vec<u8>>,
    timer_j: Option<Instant>,
}

impl NonInviteServer {
    pub(crate) fn new(reliable: bool, cfg: TimerConfig) -> Self {
        NonInviteServer {
            state: TransactionState::Trying,
            reliable,
            cfg,
            last_response: None,
            timer_j: None,
        }
    }

    pub(crate) fn state(&self) -> TransactionState {
        self.state
    }

    pub(crate) fn next_timeout(&self) -> Option<Instant> {
        self.timer_j
    }

    pub(crate) fn send_response(
        &mut self,
        now: Instant,
        status: u16,
        bytes: Vec<u8>,
        out: &mut Vec<Action>,
    ) -> bool {
        use TransactionState::*;
        match (self.state, status) {
            (Trying | Proceeding, 100..=199) => self.state = Proceeding,
            (Trying | Proceeding, _) => {
                // RFC 3261 §17.2.2: Completed; Timer J = 64·T1 (unreliable) or 0.
                self.state = Completed;
                self.timer_j = Some(now + self.cfg.timer_j(self.reliable));
            }
            _ => return false,
        }
        out.push(Action::Send(bytes.clone()));
        self.last_response = Some(bytes);
        true
    }

    pub(crate) fn on_retransmission(&mut self, out: &mut Vec<Action>) {
        if let (Some(r), TransactionState::Proceeding | TransactionState::Completed) =
            (&self.last_response, self.state)
        {
            out.push(Action::Send(r.clone()));
        }
    }

    pub(crate) fn on_timeout(&mut self, now: Instant) {
        if due(self.timer_j, now) {
            self.state = TransactionState::Terminated;
            self.timer_j = None;
        }
    }

    pub(crate) fn on_transport_error(&mut self, out: &mut Vec<Action>) {
        out.push(Action::TransportError);
        self.state = TransactionState::Terminated;
        self.timer_j = None;
    }
}
