//! The UAS core's 2xx retransmission (RFC 3261 §13.3.1.4, RFC 6026 §7.1): the INVITE
//! server transaction does not retransmit a 2xx; the TU does, end to end and on every
//! transport, until the ACK arrives.
//!
//! ```text
//!  2xx sent ─► resend at T1, 3·T1, 7·T1, … (interval doubles, capped at T2)
//!     │ ACK ─► stop                       │ 64·T1 without ACK ─► give up: send BYE
//! ```

use std::time::{Duration, Instant};

use super::TimerConfig;

/// What to do when [`Uas2xxRetransmit::handle_timeout`] fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uas2xxAction {
    /// Nothing is due yet.
    Wait,
    /// Send the 2xx again through the INVITE server transaction.
    Resend,
    /// 64·T1 passed without an ACK: the dialog is confirmed but the session SHOULD be
    /// ended with a BYE (RFC 3261 §13.3.1.4).
    GiveUp,
}

/// Retransmission schedule of one 2xx to an INVITE. Sans-IO: no clock inside.
#[derive(Debug, Clone, Copy)]
pub struct Uas2xxRetransmit {
    next: Option<Instant>,
    interval: Duration,
    give_up_at: Instant,
    t2: Duration,
}

impl Uas2xxRetransmit {
    /// Starts when the 2xx is first sent at `now`.
    pub fn start(now: Instant, cfg: &TimerConfig) -> Self {
        Uas2xxRetransmit {
            next: Some(now + cfg.t1),
            interval: cfg.t1,
            give_up_at: now + cfg.t64(),
            t2: cfg.t2,
        }
    }

    /// The next deadline, `None` once the ACK arrived or the schedule gave up.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.next.map(|n| n.min(self.give_up_at))
    }

    /// Fires the schedule at `now`.
    pub fn handle_timeout(&mut self, now: Instant) -> Uas2xxAction {
        let Some(next) = self.next else {
            return Uas2xxAction::Wait;
        };
        if now >= self.give_up_at {
            self.next = None;
            return Uas2xxAction::GiveUp;
        }
        if now < next {
            return Uas2xxAction::Wait;
        }
        self.interval = (self.interval * 2).min(self.t2);
        self.next = Some(now + self.interval);
        Uas2xxAction::Resend
    }

    /// The ACK for this 2xx arrived: stop.
    pub fn on_ack(&mut self) {
        self.next = None;
    }

    /// Whether retransmission is still running.
    pub fn is_active(&self) -> bool {
        self.next.is_some()
    }
}
