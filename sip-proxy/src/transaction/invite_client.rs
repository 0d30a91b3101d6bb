//! INVITE client transaction (RFC 3261 §17.1.1, Figure 5, as updated by RFC 6026 §7.2).
//!
//! ```text
//!  Calling ──1xx──► Proceeding ──300-699 (send ACK)──► Completed ──Timer D──► Terminated
//!     │ Timer A: retransmit (UDP)   │ 2xx                        ▲
//!     │ Timer B: timeout            └──────────► Accepted ──Timer M──┘
//! ```

use std::time::Instant;

use super::timers::{due, earliest, Backoff, Timer, TimerConfig};
use super::{Action, Disposition, TransactionState};
use crate::message::{HeaderName, Message, Method, Request, Response};

pub(crate) struct InviteClient {
    state: TransactionState,
    request: Vec<u8>,
    reliable: bool,
    cfg: TimerConfig,
    timer_a: Option<Backoff>,
    timer_b: Option<Instant>,
    timer_d: Option<Instant>,
    timer_m: Option<Instant>,
    ack: Option<Vec<u8>>,
}

impl InviteClient {
    pub(crate) fn new(
        now: Instant,
        request: Vec<u8>,
        reliable: bool,
        cfg: TimerConfig,
        out: &mut Vec<Action>,
    ) -> Self {
        out.push(Action::Send(request.clone()));
        InviteClient {
            state: TransactionState::Calling,
            request,
            reliable,
            cfg,
            // RFC 3261 §17.1.1.2: Timer A (unreliable only) at T1, Timer B at 64·T1.
            timer_a: (!reliable).then(|| Backoff::start(now, cfg.t1)),
            timer_b: Some(now + cfg.t64()),
            timer_d: None,
            timer_m: None,
            ack: None,
        }
    }

    pub(crate) fn state(&self) -> TransactionState {
        self.state
    }

    pub(crate) fn next_timeout(&self) -> Option<Instant> {
        earliest(&[
            self.timer_a.map(|b| b.at),
            self.timer_b,
            self.timer_d,
            self.timer_m,
        ])
    }

    pub(crate) fn on_response(
        &mut self,
        now: Instant,
        resp: &Response<'_>,
        out: &mut Vec<Action>,
    ) -> Disposition {
        use TransactionState::*;
        match (self.state, resp.status) {
            (Calling | Proceeding, 100..=199) => {
                self.state = Proceeding;
                self.timer_a = None;
                self.timer_b = None;
                Disposition::Deliver
            }
            (Calling | Proceeding, 200..=299) => {
                // RFC 6026 §7.2: Accepted; Timer M = 64·T1.
                self.enter(Accepted);
                self.timer_m = Some(now + self.cfg.t64());
                Disposition::Deliver
            }
            // RFC 6026 §7.2: 2xx retransmissions go to the TU, which re-sends its ACK.
            (Accepted, 200..=299) => Disposition::Deliver,
            (Calling | Proceeding, _) => {
                self.enter(Completed);
                self.timer_d = Some(now + self.cfg.timer_d(self.reliable));
                self.ack = self.build_ack(resp);
                if let Some(ack) = &self.ack {
                    out.push(Action::Send(ack.clone()));
                }
                Disposition::Deliver
            }
            // RFC 3261 §17.1.1.2: a retransmitted final response gets the ACK again.
            (Completed, 300..=699) => {
                if let Some(ack) = &self.ack {
                    out.push(Action::Send(ack.clone()));
                }
                Disposition::Absorbed
            }
            _ => Disposition::Absorbed,
        }
    }

    fn enter(&mut self, state: TransactionState) {
        self.state = state;
        self.timer_a = None;
        self.timer_b = None;
    }

    pub(crate) fn on_timeout(&mut self, now: Instant, out: &mut Vec<Action>) {
        if let Some(a) = self.timer_a.as_mut().filter(|a| a.at <= now) {
            // RFC 3261 §17.1.1.2: Timer A — retransmit, double the interval (no cap).
            out.push(Action::Send(self.request.clone()));
            a.double(now, None);
        }
        if due(self.timer_b, now) {
            // Timer B: inform the TU of the timeout.
            self.terminate();
            out.push(Action::Timeout(Timer::B));
        }
        if due(self.timer_d, now) || due(self.timer_m, now) {
            self.terminate();
        }
    }

    pub(crate) fn on_transport_error(&mut self, out: &mut Vec<Action>) {
        if matches!(self.state, TransactionState::Calling) {
            out.push(Action::TransportError);
        }
        self.terminate();
    }

    fn terminate(&mut self) {
        self.state = TransactionState::Terminated;
        self.timer_a = None;
        self.timer_b = None;
        self.timer_d = None;
        self.timer_m = None;
    }

    /// RFC 3261 §17.1.1.3: the ACK for a non-2xx final response.
    fn build_ack(&self, resp: &Response<'_>) -> Option<Vec<u8>> {
        let Ok(Message::Request(inv)) = Message::parse(&self.request) else {
            return None;
        };
        Some(ack_for_non2xx(&inv, resp).to_bytes())
    }
}

/// The ACK for a non-2xx final response (RFC 3261 §17.1.1.3): same Request-URI, Call-ID,
/// From and CSeq number as the INVITE, To from the response, the INVITE's top Via only,
/// its Route headers.
pub fn ack_for_non2xx(invite: &Request<'_>, resp: &Response<'_>) -> Request<'static> {
    let to = resp.headers.get(HeaderName::To).cloned();
    crate::message::builder::same_transaction_request(invite, Method::Ack, to)
}
