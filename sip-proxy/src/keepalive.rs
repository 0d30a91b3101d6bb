//! OPTIONS keep-alive toward the next hop (RFC 3261 §11): one OPTIONS every interval; any
//! response means the next hop is up, a transaction timeout or transport error means it
//! is down. Changes of state are reported, so the gateway can log them, export them and
//! refuse calls early while the next hop is gone.

use std::time::{Duration, Instant};

use crate::ids::IdGen;
use crate::message::builder::RequestBuilder;
use crate::message::{Method, Response};
use crate::transaction::{Target, TransactionEvent, TransactionId, TransactionLayer};

/// The next hop's health as the keep-alive sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextHopState {
    /// No probe answered yet.
    Unknown,
    /// The last probe got a response.
    Up,
    /// The last probe timed out or could not be sent.
    Down,
}

/// The keep-alive state machine.
#[derive(Debug)]
pub struct KeepAlive {
    target: Target,
    local_host: String,
    interval: Duration,
    next_probe: Instant,
    in_flight: Option<TransactionId>,
    state: NextHopState,
    changed: Option<NextHopState>,
    ids: IdGen,
    seq: u32,
}

impl KeepAlive {
    /// Probes `target` every `interval`, the first one at `now`.
    pub fn new(
        now: Instant,
        target: Target,
        local_host: &str,
        interval: Duration,
        seed: u64,
    ) -> Self {
        KeepAlive {
            target,
            local_host: local_host.to_owned(),
            interval,
            next_probe: now,
            in_flight: None,
            state: NextHopState::Unknown,
            changed: None,
            ids: IdGen::new(seed),
            seq: 0,
        }
    }

    /// The current state.
    pub fn state(&self) -> NextHopState {
        self.state
    }

    /// The state after its last change, once.
    pub fn poll_change(&mut self) -> Option<NextHopState> {
        self.changed.take()
    }

    /// When the next probe is due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.in_flight.is_none().then_some(self.next_probe)
    }

    /// Sends a probe when one is due.
    pub fn handle_timeout(&mut self, now: Instant, layer: &mut TransactionLayer) {
        if self.in_flight.is_some() || now < self.next_probe {
            return;
        }
        self.next_probe = now + self.interval;
        self.seq += 1;
        let uri = format!("sip:{}", self.target.addr);
        let options = RequestBuilder::new(Method::Options, uri.clone().into_bytes())
            .header(
                "Via",
                format!(
                    "SIP/2.0/{} {};branch={};rport",
                    self.target.transport.via_name(),
                    self.local_host,
                    self.ids.branch()
                ),
            )
            .header("Max-Forwards", "70")
            .header(
                "From",
                format!("<sip:keepalive@{}>;tag={}", self.local_host, self.ids.hex()),
            )
            .header("To", format!("<{uri}>"))
            .header("Call-ID", format!("{}@keepalive", self.ids.hex()))
            .header("CSeq", format!("{} OPTIONS", self.seq))
            .build();
        match layer.send_request(now, &options, self.target) {
            Ok(tx) => self.in_flight = Some(tx),
            Err(_) => self.set(NextHopState::Down),
        }
    }

    /// A response to a client transaction; returns whether it was the probe's.
    pub fn handle_response(&mut self, tx: TransactionId, resp: &Response<'_>) -> bool {
        if self.in_flight != Some(tx) {
            return false;
        }
        if resp.status >= 200 {
            // Any final response, even 4xx/5xx, shows the next hop is there (RFC 3261
            // §11.1); a 503 is still an answer, load is handled by failover.
            self.in_flight = None;
            self.set(NextHopState::Up);
        }
        true
    }

    /// A transaction event; returns whether it was the probe's.
    pub fn handle_transaction_event(&mut self, event: &TransactionEvent) -> bool {
        let (TransactionEvent::Timeout { id, .. } | TransactionEvent::TransportError { id, .. }) =
            event
        else {
            return false;
        };
        if self.in_flight != Some(*id) {
            return false;
        }
        self.in_flight = None;
        self.set(NextHopState::Down);
        true
    }

    fn set(&mut self, state: NextHopState) {
        if self.state != state {
            self.state = state;
            self.changed = Some(state);
        }
    }
}
