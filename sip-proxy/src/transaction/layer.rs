//! The transaction layer: owns every client and server transaction, keyed by branch.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::Instant;

use super::invite_client::InviteClient;
use super::invite_server::InviteServer;
use super::non_invite_client::NonInviteClient;
use super::non_invite_server::NonInviteServer;
use super::{
    Action, Disposition, Error, RequestAction, ResponseAction, Target, TimerConfig,
    TransactionEvent, TransactionId, TransactionKey, TransactionState, Transmit,
};
use crate::message::builder::response_to;
use crate::message::{Method, Request, Response};

enum Machine {
    InviteClient(InviteClient),
    NonInviteClient(NonInviteClient),
    InviteServer(InviteServer),
    NonInviteServer(NonInviteServer),
}

impl Machine {
    fn state(&self) -> TransactionState {
        match self {
            Machine::InviteClient(m) => m.state(),
            Machine::NonInviteClient(m) => m.state(),
            Machine::InviteServer(m) => m.state(),
            Machine::NonInviteServer(m) => m.state(),
        }
    }

    fn next_timeout(&self) -> Option<Instant> {
        match self {
            Machine::InviteClient(m) => m.next_timeout(),
            Machine::NonInviteClient(m) => m.next_timeout(),
            Machine::InviteServer(m) => m.next_timeout(),
            Machine::NonInviteServer(m) => m.next_timeout(),
        }
    }
}

struct Entry {
    key: TransactionKey,
    server: bool,
    target: Target,
    machine: Machine,
    /// The deadline registered in `TransactionLayer::timers`.
    scheduled: Option<Instant>,
}

/// Every transaction of one SIP endpoint. Sans-IO: feed it messages, timer ticks and
/// transport errors with `now`; drain [`Self::poll_transmit`] and [`Self::poll_event`];
/// sleep until [`Self::poll_timeout`].
pub struct TransactionLayer {
    cfg: TimerConfig,
    send_100_trying: bool,
    next_id: u64,
    clients: HashMap<TransactionKey, TransactionId>,
    servers: HashMap<TransactionKey, TransactionId>,
    entries: HashMap<TransactionId, Entry>,
    /// Every live deadline, earliest first: `poll_timeout` is O(1) and `handle_timeout`
    /// visits only the due transactions.
    timers: BTreeSet<(Instant, TransactionId)>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<TransactionEvent>,
}

impl TransactionLayer {
    /// A layer with these timer values. INVITE server transactions answer 100 Trying at
    /// once (RFC 3261 §17.2.1: the TU is not known to answer within 200 ms).
    pub fn new(cfg: TimerConfig) -> Self {
        TransactionLayer {
            cfg,
            send_100_trying: true,
            next_id: 1,
            clients: HashMap::new(),
            servers: HashMap::new(),
            entries: HashMap::new(),
            timers: BTreeSet::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// Switches the automatic 100 Trying off (a TU that always answers within 200 ms).
    pub fn set_send_100_trying(&mut self, on: bool) {
        self.send_100_trying = on;
    }

    /// Number of live transactions.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no transaction is live.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The state of a live transaction.
    pub fn state(&self, id: TransactionId) -> Option<TransactionState> {
        self.entries.get(&id).map(|e| e.machine.state())
    }

    fn alloc(
        &mut self,
        key: TransactionKey,
        server: bool,
        target: Target,
        machine: Machine,
    ) -> TransactionId {
        let id = TransactionId(self.next_id);
        self.next_id += 1;
        if server {
            self.servers.insert(key.clone(), id);
        } else {
            self.clients.insert(key.clone(), id);
        }
        self.entries.insert(
            id,
            Entry {
                key,
                server,
                target,
                machine,
                scheduled: None,
            },
        );
        id
    }

    /// Starts a client transaction for `req` (INVITE or non-INVITE) and queues its first
    /// transmission to `target` (RFC 3261 §17.1).
    pub fn send_request(
        &mut self,
        now: Instant,
        req: &Request<'_>,
        target: Target,
    ) -> Result<TransactionId, Error> {
        if req.method == Method::Ack {
            return Err(Error::AckIsNotATransaction);
        }
        let key = TransactionKey::for_client_request(req).ok_or(Error::MissingBranch)?;
        if self.clients.contains_key(&key) {
            return Err(Error::DuplicateTransaction);
        }
        let mut out = Vec::new();
        let reliable = target.transport.is_reliable();
        let bytes = req.to_bytes();
        let machine = if req.method == Method::Invite {
            Machine::InviteClient(InviteClient::new(now, bytes, reliable, self.cfg, &mut out))
        } else {
            Machine::NonInviteClient(NonInviteClient::new(
                now, bytes, reliable, self.cfg, &mut out,
            ))
        };
        let id = self.alloc(key, false, target, machine);
        self.apply(id, out);
        Ok(id)
    }

    /// Queues bytes outside any transaction: the ACK for a 2xx (RFC 3261 §13.2.2.4) or a
    /// stateless answer.
    pub fn send_stateless(&mut self, target: Target, bytes: Vec<u8>) {
        self.transmits.push_back(Transmit {
            target,
            bytes,
            transaction: None,
        });
    }

    /// Matches a response to its client transaction (RFC 3261 §17.1.3).
    pub fn handle_response(&mut self, now: Instant, resp: &Response<'_>) -> ResponseAction {
        let Some(id) =
            TransactionKey::for_response(resp).and_then(|k| self.clients.get(&k).copied())
        else {
            return ResponseAction::Stray;
        };
        let mut out = Vec::new();
        let disposition = match self.entries.get_mut(&id).map(|e| &mut e.machine) {
            Some(Machine::InviteClient(m)) => m.on_response(now, resp, &mut out),
            Some(Machine::NonInviteClient(m)) => m.on_response(now, resp),
            _ => return ResponseAction::Stray,
        };
        self.apply(id, out);
        match disposition {
            Disposition::Deliver => ResponseAction::Deliver(id),
            Disposition::Absorbed => ResponseAction::Absorbed(id),
        }
    }

    /// Matches a request to a server transaction or creates one (RFC 3261 §17.2.3).
    /// `source` is where responses go (the connection, or the packet's source address,
    /// which honours `rport` per RFC 3581).
    pub fn handle_request(
        &mut self,
        now: Instant,
        req: &Request<'_>,
        source: Target,
    ) -> RequestAction {
        let Some(key) = TransactionKey::for_server(req) else {
            return RequestAction::StrayAck; // unreachable for parsed requests: Via is checked
        };
        if let Some(&id) = self.servers.get(&key) {
            return self.on_known_request(now, id, req);
        }
        if req.method == Method::Ack {
            return RequestAction::StrayAck;
        }
        let reliable = source.transport.is_reliable();
        let is_invite = req.method == Method::Invite;
        let machine = if is_invite {
            Machine::InviteServer(InviteServer::new(reliable, self.cfg))
        } else {
            Machine::NonInviteServer(NonInviteServer::new(reliable, self.cfg))
        };
        let cancels = (req.method == Method::Cancel)
            .then(|| self.servers.get(&key.with_method(Method::Invite)).copied())
            .flatten();
        let id = self.alloc(key, true, source, machine);
        if is_invite && self.send_100_trying {
            // RFC 3261 §17.2.1 / §8.2.6.1: 100 Trying, no To tag.
            let trying = response_to(req, 100, None);
            // A fresh Proceeding INVITE server transaction always accepts a 1xx.
            let _ = self.send_response(now, id, &trying);
        }
        RequestAction::New { id, cancels }
    }

    fn on_known_request(
        &mut self,
        now: Instant,
        id: TransactionId,
        req: &Request<'_>,
    ) -> RequestAction {
        let mut out = Vec::new();
        let action = match self.entries.get_mut(&id).map(|e| &mut e.machine) {
            Some(Machine::InviteServer(m)) if req.method == Method::Ack => {
                if m.state() == TransactionState::Accepted {
                    // RFC 6026 §7.1: an ACK matching an Accepted transaction goes to the TU.
                    return RequestAction::StrayAck;
                }
                m.on_ack(now);
                RequestAction::AckAbsorbed(id)
            }
            Some(Machine::InviteServer(m)) => {
                m.on_retransmission(&mut out);
                RequestAction::Retransmission(id)
            }
            Some(Machine::NonInviteServer(m)) => {
                m.on_retransmission(&mut out);
                RequestAction::Retransmission(id)
            }
            _ => RequestAction::StrayAck,
        };
        self.apply(id, out);
        action
    }

    /// Sends a response through server transaction `id` (RFC 3261 §17.2.1, §17.2.2).
    pub fn send_response(
        &mut self,
        now: Instant,
        id: TransactionId,
        resp: &Response<'_>,
    ) -> Result<(), Error> {
        let mut out = Vec::new();
        let bytes = resp.to_bytes();
        let ok = match self.entries.get_mut(&id).map(|e| &mut e.machine) {
            Some(Machine::InviteServer(m)) => m.send_response(now, resp.status, bytes, &mut out),
            Some(Machine::NonInviteServer(m)) => m.send_response(now, resp.status, bytes, &mut out),
            Some(_) => return Err(Error::InvalidState),
            None => return Err(Error::UnknownTransaction),
        };
        self.apply(id, out);
        if ok {
            Ok(())
        } else {
            Err(Error::InvalidState)
        }
    }

    /// The transport failed to send for transaction `id` (RFC 3261 §17.1.4, §17.2.4).
    pub fn handle_transport_error(&mut self, _now: Instant, id: TransactionId) {
        let mut out = Vec::new();
        match self.entries.get_mut(&id).map(|e| &mut e.machine) {
            Some(Machine::InviteClient(m)) => m.on_transport_error(&mut out),
            Some(Machine::NonInviteClient(m)) => m.on_transport_error(&mut out),
            Some(Machine::InviteServer(m)) => m.on_transport_error(&mut out),
            Some(Machine::NonInviteServer(m)) => m.on_transport_error(&mut out),
            None => return,
        }
        self.apply(id, out);
    }

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        let due: Vec<TransactionId> = self
            .timers
            .iter()
            .take_while(|(t, _)| *t <= now)
            .map(|(_, id)| *id)
            .collect();
        for id in due {
            let mut out = Vec::new();
            match self.entries.get_mut(&id).map(|e| &mut e.machine) {
                Some(Machine::InviteClient(m)) => m.on_timeout(now, &mut out),
                Some(Machine::NonInviteClient(m)) => m.on_timeout(now, &mut out),
                Some(Machine::InviteServer(m)) => m.on_timeout(now, &mut out),
                Some(Machine::NonInviteServer(m)) => m.on_timeout(now),
                None => continue,
            }
            self.apply(id, out);
        }
    }

    /// When [`Self::handle_timeout`] must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.first().map(|(t, _)| *t)
    }

    /// The next message to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event for the TU.
    pub fn poll_event(&mut self) -> Option<TransactionEvent> {
        self.events.pop_front()
    }

    /// Turns a machine's actions into transmits and events; removes a terminated machine.
    fn apply(&mut self, id: TransactionId, actions: Vec<Action>) {
        let Some(entry) = self.entries.get_mut(&id) else {
            return;
        };
        let next = entry.machine.next_timeout();
        if next != entry.scheduled {
            if let Some(old) = entry.scheduled {
                self.timers.remove(&(old, id));
            }
            if let Some(n) = next {
                self.timers.insert((n, id));
            }
            entry.scheduled = next;
        }
        for a in actions {
            match a {
                Action::Send(bytes) => self.transmits.push_back(Transmit {
                    target: entry.target,
                    bytes,
                    transaction: Some(id),
                }),
                Action::Timeout(timer) => self
                    .events
                    .push_back(TransactionEvent::Timeout { id, timer }),
                Action::TransportError => self
                    .events
                    .push_back(TransactionEvent::TransportError { id }),
            }
        }
        if entry.machine.state() == TransactionState::Terminated {
            let (key, server) = (entry.key.clone(), entry.server);
            if server {
                self.servers.remove(&key);
            } else {
                self.clients.remove(&key);
            }
            self.entries.remove(&id);
            self.events.push_back(TransactionEvent::Terminated { id });
        }
    }
}
