//! The sans-IO worker: the calls of one data-path thread and their control queue.
//!
//! The control plane sends [`Command`]s through a bounded queue ([`WorkerHandle::send`]
//! never blocks: a full queue is [`DatapathError::QueueFull`], mapped to 503 by the
//! call core). The worker drains it between packet batches.
//! Routing: IMS-leg packets by local port (RTCP on an IMS port+1 to its call's
//! [`Session::handle_rtcp`]); web-port packets through `webrtc.rs` (RFC 7983
//! demux: STUN to the call's ICE-lite agent by local ufrag, DTLS to its slow path and
//! SRTP to its session by the 5-tuple an authenticated check latched), or, for a call
//! without a WebRTC leg, by the web remote configured at allocation.
//!
//! Per-call web ports ([`Command::OpenWebPort`]): a call's web leg may have its own
//! local UDP port instead of the shared one; datagrams on it go through the same demux
//! but only ever reach that call (STUN naming another call's ufrag, or a 5-tuple latched
//! by another call, is dropped), and what the leg sends leaves from that port.
//!
//! The worker owns no socket. It tells its backend which IMS-leg and per-call web
//! sockets to open and close ([`Worker::poll_socket_op`]); the backend reports a failed bind back
//! ([`Worker::socket_failed`]), which ends that call with
//! [`WorkerEvent::AllocateFailed`]. A backend installs a waker ([`Worker::set_waker`])
//! so that a queued command, or the last handle going away, interrupts its wait.
//!
//! Metrics: every routed datagram adds to the worker's plain [`MediaTally`] (per
//! direction: packets, bytes, drops by [`DropReason`]); the backend calls
//! [`Worker::publish_metrics`] whenever it does the worker's bookkeeping (not every loop
//! turn: `backend/mod.rs`, `Control`), which stores the totals into the
//! shared [`WorkerMetrics`] and, every [`ONE_WAY_INTERVAL`], samples the calls for
//! one-way media.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::mpsc::{sync_channel, Receiver, TryRecvError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::calls::{Calls, PortTable, PortUse, Slot};
use super::dtls_link::DTLS_TRANSMIT_QUEUE;
use super::metrics::{Direction, MediaTally, MetricsSnapshot, WorkerMetrics, ONE_WAY_INTERVAL};
use super::webrtc::{WebPort, WebPortCounters, WebRoute, WebState};
use super::{
    Action, BackendStats, DatapathError, DropReason, ImsRtcp, LegCrypto, LegSide, RtcpConfig,
    Session, WebRtcLeg,
};
use crate::ice::IceLiteAgent;
use crate::rtcp::NtpTime;

#[path = "worker_control.rs"]
mod control;
pub(super) use control::WakerSlot;
pub use control::{CallId, Command, SocketOp, WorkerEvent, WorkerHandle};

#[derive(Debug)]
pub(super) struct Call {
    pub(super) id: CallId,
    pub(super) session: Session,
    pub(super) ims_port: u16,
    /// The call's own web port ([`Command::OpenWebPort`]); `None`: the shared one.
    pub(super) web_port: Option<u16>,
    /// Set by [`Command::StartWebRtc`].
    pub(super) web: Option<Box<WebState>>,
    /// The IMS leg's RTCP port (port+1, [`Command::ConfigureRtcp`]).
    pub(super) rtcp_port: Option<u16>,
    /// Which of the IMS sockets the backend has bound, and whether Ready went out.
    pub(super) rtp_open: bool,
    pub(super) rtcp_open: bool,
    pub(super) ready_sent: bool,
}

/// The calls of one worker thread.
#[derive(Debug)]
pub struct Worker {
    rx: Receiver<Command>,
    calls: Calls,
    /// The calls' IMS RTP ports, IMS RTCP ports (port+1) and own web ports.
    ports: PortTable,
    /// Web legs with a fixed remote (no WebRTC): their remote and call.
    by_web_remote: HashMap<SocketAddr, Slot>,
    /// The calls' next RTCP reports as (due, slot), earliest first. Only
    /// [`Worker::poll_rtcp`] and [`Command::ConfigureRtcp`] move a call's deadline, and
    /// each pushes the new one, so every call with RTCP has an entry at its deadline;
    /// an entry that no longer matches its call's deadline (reconfigured, released,
    /// slot reused) is dropped when it comes up. A report costs O(log calls), not a
    /// scan of every call (1000 calls report a few hundred times a second).
    rtcp_deadlines: BinaryHeap<Reverse<(Instant, Slot)>>,
    web_port: u16,
    web: WebPort,
    inactivity: Duration,
    ops: VecDeque<SocketOp>,
    events: VecDeque<WorkerEvent>,
    /// A packet left a session with an event (relatching) that no deadline announces:
    /// the next [`Worker::poll_event`] scan must run ([`Worker::wants_attention`]).
    session_event: bool,
    /// The earliest deadline of [`Worker::poll_timeout`] as last scanned (`None`: scan
    /// again; `Some(None)`: none). Packets only move deadlines later, except what they
    /// announce (`session_event`, ICE events), and commands may change anything, so
    /// those clear it; until then [`Worker::poll_event`] skips its scans of the calls
    /// before this instant (with 1000 calls a scan is hundreds of µs of cache misses).
    timers: Option<Option<Instant>>,
    waker: Arc<WakerSlot>,
    stopped: bool,
    /// Per-packet totals (plain adds), published by [`Worker::publish_metrics`].
    tally: MediaTally,
    one_way: [u64; 2],
    one_way_detections: [u64; 2],
    next_sample: Option<Instant>,
    metrics: Arc<WorkerMetrics>,
}

impl Worker {
    /// A worker whose web legs share local port `web_port`, with a command queue of
    /// `queue` entries.
    pub fn new(web_port: u16, inactivity: Duration, queue: usize) -> (Self, WorkerHandle) {
        let (tx, rx) = sync_channel(queue);
        let (transmit, transmit_rx) = sync_channel(DTLS_TRANSMIT_QUEUE);
        let waker = Arc::new(WakerSlot::default());
        let w = Self {
            rx,
            calls: Calls::default(),
            ports: PortTable::default(),
            by_web_remote: HashMap::new(),
            rtcp_deadlines: BinaryHeap::new(),
            web_port,
            web: WebPort::new(transmit_rx),
            inactivity,
            ops: VecDeque::new(),
            events: VecDeque::new(),
            session_event: false,
            timers: None,
            waker: Arc::clone(&waker),
            stopped: false,
            tally: MediaTally::default(),
            one_way: [0; 2],
            one_way_detections: [0; 2],
            next_sample: None,
            metrics: Arc::new(WorkerMetrics::default()),
        };
        let h = WorkerHandle {
            tx: Some(tx),
            waker,
            transmit,
        };
        (w, h)
    }

    /// The shared local port of the web legs.
    pub fn web_port(&self) -> u16 {
        self.web_port
    }

    /// Installs the function every handle calls after queueing a command and when it is
    /// dropped. Only the first call has an effect; returns whether it was this one.
    pub fn set_waker(&self, wake: Arc<dyn Fn() + Send + Sync>) -> bool {
        self.waker.set(wake)
    }

    /// Applies every queued command, up to a [`Command::Stop`].
    pub fn drain_commands(&mut self, now: Instant) {
        while !self.stopped {
            match self.rx.try_recv() {
                Ok(cmd) => self.apply(now, cmd),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => self.stopped = true,
            }
        }
    }

    /// True once [`Command::Stop`] was applied or every handle is gone.
    pub fn is_stopped(&self) -> bool {
        self.stopped
    }

    fn apply(&mut self, now: Instant, cmd: Command) {
        self.timers = None;
        match cmd {
            Command::Allocate {
                call,
                web,
                ims,
                ims_port,
            } => {
                self.release(call);
                if self.port_taken(ims_port) {
                    self.events.push_back(WorkerEvent::AllocateFailed {
                        call,
                        error: DatapathError::PortInUse(ims_port),
                    });
                    return;
                }
                let remote = web.remote;
                let session = Session::new(now, *web, *ims, self.inactivity);
                let c = Call {
                    id: call,
                    session,
                    ims_port,
                    web_port: None,
                    web: None,
                    rtcp_port: None,
                    rtp_open: false,
                    rtcp_open: false,
                    ready_sent: false,
                };
                let slot = self.calls.insert(c);
                if let Some(r) = remote {
                    self.by_web_remote.insert(r, slot);
                }
                self.ports.set(ims_port, PortUse::Ims(slot));
                self.ops.push_back(SocketOp::Open {
                    call,
                    port: ims_port,
                });
            }
            Command::Update { call, leg, remote } => {
                let Some(slot) = self.calls.slot(call) else {
                    return;
                };
                if let Some(c) = self.calls.at_mut(slot) {
                    if leg == LegSide::Web && c.web.is_some() {
                        tracing::warn!(call, "web remote of a WebRTC leg is set by ICE only");
                        return;
                    }
                    if leg == LegSide::Web {
                        if let Some(old) = c.session.remote(LegSide::Web) {
                            self.by_web_remote.remove(&old);
                        }
                        self.by_web_remote.insert(remote, slot);
                    }
                    c.session.set_remote(leg, remote);
                }
            }
            Command::OpenWebPort { call, port } => self.open_web_port(call, port),
            Command::StartWebRtc { call, leg } => self.start_webrtc(now, call, *leg),
            Command::RemoteIceCredentials {
                call,
                remote,
                fresh_local,
            } => {
                if let Some(c) = self.calls.get_mut(call) {
                    if let Some(w) = c.web.as_mut() {
                        w.agent_mut()
                            .apply_remote_credentials(now, remote, fresh_local);
                    }
                    self.web.drain_ice(call, c, &mut self.events);
                }
            }
            Command::InstallWebKeys {
                call,
                suite,
                inbound,
                outbound,
            } => {
                if let Some(c) = self.calls.get_mut(call) {
                    let crypto = LegCrypto::Srtp { inbound, outbound };
                    c.session.set_crypto(LegSide::Web, crypto);
                    self.events
                        .push_back(WorkerEvent::WebKeysInstalled { call, suite });
                }
            }
            Command::ConfigureRtcp { call, rtcp } => self.configure_rtcp(now, call, *rtcp),
            Command::SetFlow {
                call,
                to_web,
                to_ims,
            } => {
                if let Some(c) = self.calls.get_mut(call) {
                    c.session.set_flow(to_web, to_ims);
                }
            }
            Command::SendTone { call, tone } => {
                if let Some(c) = self.calls.get_mut(call) {
                    if !c.session.send_tone(tone) {
                        tracing::warn!(
                            call,
                            event = tone.event,
                            "telephone-event queue full: dropped"
                        );
                    }
                }
            }
            Command::Release { call } => self.release(call),
            Command::Stop => self.stopped = true,
        }
    }

    /// True when `port` is the shared web port or a live call's IMS or web port.
    fn port_taken(&self, port: u16) -> bool {
        port == self.web_port || self.ports.contains(port)
    }

    fn configure_rtcp(&mut self, now: Instant, call: CallId, cfg: RtcpConfig) {
        let Some(slot) = self.calls.slot(call) else {
            return; // allocation failed, already reported
        };
        let Some(c) = self.calls.at(slot) else {
            return;
        };
        let want = match cfg.ims {
            ImsRtcp::Mux => None,
            // RFC 3550 §11: RTCP on the next higher (odd) port.
            ImsRtcp::Port { .. } => c.ims_port.checked_add(1),
        };
        let old = c.rtcp_port;
        if want != old {
            if let Some(port) = want.filter(|p| self.port_taken(*p)) {
                self.release(call);
                self.events.push_back(WorkerEvent::AllocateFailed {
                    call,
                    error: DatapathError::PortInUse(port),
                });
                return;
            }
            if let Some(port) = old {
                self.ports.clear(port);
                self.ops.push_back(SocketOp::Close { port });
            }
            if let Some(port) = want {
                self.ports.set(port, PortUse::Rtcp(slot));
                self.ops.push_back(SocketOp::OpenRtcp { call, port });
            }
        }
        if let Some(c) = self.calls.get_mut(call) {
            c.rtcp_port = want;
            c.rtcp_open = c.rtcp_open && want == old;
            c.session.set_rtcp(now, cfg);
            if let Some(due) = c.session.rtcp_timeout() {
                self.rtcp_deadlines.push(Reverse((due, slot)));
            }
        }
    }

    fn open_web_port(&mut self, call: CallId, port: u16) {
        let Some(slot) = self.calls.slot(call) else {
            return; // allocation failed, already reported
        };
        let Some(old) = self.calls.at(slot).map(|c| c.web_port) else {
            return;
        };
        if old == Some(port) {
            return;
        }
        if self.port_taken(port) {
            self.release(call);
            self.events.push_back(WorkerEvent::AllocateFailed {
                call,
                error: DatapathError::PortInUse(port),
            });
            return;
        }
        if let Some(old) = old {
            self.ports.clear(old);
            self.ops.push_back(SocketOp::Close { port: old });
        }
        self.ports.set(port, PortUse::Web(slot));
        if let Some(c) = self.calls.get_mut(call) {
            c.web_port = Some(port);
        }
        self.ops.push_back(SocketOp::OpenWeb { call, port });
    }

    fn start_webrtc(&mut self, now: Instant, call: CallId, leg: WebRtcLeg) {
        let Some(slot) = self.calls.slot(call) else {
            return; // allocation failed: dropping the link ends the DTLS driver
        };
        // The web remote comes from ICE now, and only from an authenticated check.
        self.by_web_remote.retain(|_, v| *v != slot);
        let Some(c) = self.calls.at_mut(slot) else {
            return;
        };
        c.session.clear_remote(LegSide::Web);
        c.session.set_crypto(LegSide::Web, LegCrypto::AwaitingDtls);
        self.web.remove_call(call);
        let state = WebState::new(now, leg);
        self.web.register(call, &state);
        c.web = Some(Box::new(state));
    }

    /// Forgets `call`; returns its sockets' ports (IMS, own web port, IMS RTCP port) if
    /// it had a session.
    fn forget(&mut self, call: CallId) -> Option<[Option<u16>; 3]> {
        // Every table entry naming the slot goes before the slot can be reused.
        let (slot, c) = self.calls.remove(call)?;
        self.web.remove_call(call);
        for p in [Some(c.ims_port), c.web_port, c.rtcp_port]
            .into_iter()
            .flatten()
        {
            self.ports.clear(p);
        }
        self.by_web_remote.retain(|_, v| *v != slot);
        Some([Some(c.ims_port), c.web_port, c.rtcp_port])
    }

    fn release(&mut self, call: CallId) {
        for port in self.forget(call).into_iter().flatten().flatten() {
            self.ops.push_back(SocketOp::Close { port });
        }
    }

    /// True when `port` is the shared web port or a live call's own web port (the
    /// backend binds those on the web IP).
    pub fn is_web_port(&self, port: u16) -> bool {
        port == self.web_port || matches!(self.ports.get(port), Some(PortUse::Web(_)))
    }

    /// The next socket the backend must open or close.
    pub fn poll_socket_op(&mut self) -> Option<SocketOp> {
        self.ops.pop_front()
    }

    /// The backend bound a socket of `call` on `port`: once its IMS-leg socket (and
    /// its RTCP socket, if one is configured) is bound, [`WorkerEvent::Ready`].
    pub fn socket_opened(&mut self, call: CallId, port: u16) {
        let Some(c) = self.calls.get_mut(call) else {
            return;
        };
        c.rtp_open |= c.ims_port == port;
        c.rtcp_open |= c.rtcp_port == Some(port);
        if !c.ready_sent && c.rtp_open && (c.rtcp_port.is_none() || c.rtcp_open) {
            c.ready_sent = true;
            let port = c.ims_port;
            self.events.push_back(WorkerEvent::Ready { call, port });
        }
    }

    /// The backend could not open the IMS-leg (or per-call web) socket of `call` on
    /// `port`: the call is released and [`WorkerEvent::AllocateFailed`] reports it.
    pub fn socket_failed(&mut self, call: CallId, port: u16, kind: std::io::ErrorKind) {
        let owns =
            |c: &Call| c.ims_port == port || c.web_port == Some(port) || c.rtcp_port == Some(port);
        if self.calls.get(call).is_some_and(owns) {
            // Its other sockets (if any) are closed; the failed one never opened.
            for other in self.forget(call).into_iter().flatten().flatten() {
                if other != port {
                    self.ops.push_back(SocketOp::Close { port: other });
                }
            }
            self.events.push_back(WorkerEvent::AllocateFailed {
                call,
                error: DatapathError::Bind { port, kind },
            });
        }
    }

    /// Number of live sessions.
    pub fn len(&self) -> usize {
        self.calls.len()
    }

    /// True when no session is live.
    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }

    /// The session of `call`, for counters.
    pub fn session(&self, call: CallId) -> Option<&Session> {
        self.calls.get(call).map(|c| &c.session)
    }

    /// The ICE-lite agent of `call`'s WebRTC leg, for counters.
    pub fn ice_agent(&self, call: CallId) -> Option<&IceLiteAgent> {
        self.calls.get(call)?.web.as_deref().map(WebState::agent)
    }

    /// Counters of the shared web port.
    pub fn web_counters(&self) -> WebPortCounters {
        self.web.counters()
    }

    /// Per-direction media totals so far (packets, bytes, drops by reason).
    pub fn media_tally(&self) -> MediaTally {
        self.tally
    }

    /// The counters this worker publishes ([`Worker::publish_metrics`]); take it before
    /// the worker moves to its backend thread and read it from anywhere.
    pub fn metrics(&self) -> Arc<WorkerMetrics> {
        Arc::clone(&self.metrics)
    }

    /// Publishes the worker's totals, with its backend's counters `io`, into
    /// [`Worker::metrics`]: Relaxed stores, no allocation. Backends call it once per loop
    /// turn. Every [`ONE_WAY_INTERVAL`] it also samples the calls for one-way media.
    pub fn publish_metrics(&mut self, now: Instant, io: &BackendStats) {
        if self.next_sample.is_none_or(|t| now >= t) {
            self.sample_one_way();
            self.next_sample = Some(now + ONE_WAY_INTERVAL);
        }
        self.metrics.publish(MetricsSnapshot {
            media: self.tally,
            sessions: self.calls.len() as u64,
            one_way: self.one_way,
            one_way_detections: self.one_way_detections,
            web: self.web.counters(),
            io: *io,
        });
    }

    fn sample_one_way(&mut self) {
        let mut n = [0u64; 2];
        for c in self.calls.values_mut() {
            for (k, flagged) in n.iter_mut().zip(c.session.take_one_way()) {
                *k += u64::from(flagged);
            }
        }
        for (total, k) in self.one_way_detections.iter_mut().zip(n) {
            *total += k;
        }
        self.one_way = n;
    }

    /// When the backend should wake to publish the next one-way sample even without
    /// input: while the worker has calls, or its last sample flagged any.
    pub fn metrics_timeout(&self) -> Option<Instant> {
        if self.calls.is_empty() && self.one_way == [0; 2] {
            return None;
        }
        self.next_sample
    }

    /// The next DTLS datagram a call's session wants sent: send it to the address from
    /// the web port's socket. Backends drain this every loop turn (after the wait: a
    /// session's datagram wakes the backend through the waker).
    pub fn poll_transmit(&mut self) -> Option<(SocketAddr, &[u8])> {
        self.poll_transmit_routed().map(|(_, to, d)| (to, d))
    }

    /// [`Worker::poll_transmit`], also naming the local port to send from (the shared
    /// web port or the call's own).
    pub fn poll_transmit_routed(&mut self) -> Option<(u16, SocketAddr, &[u8])> {
        self.web.poll_transmit(&mut self.calls, self.web_port)
    }

    /// Handles a datagram received on `local` from `remote`, in place.
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        buf: &mut [u8],
        len: usize,
    ) -> Action {
        self.handle_datagram_routed(now, local, remote, buf, len).0
    }

    /// [`Worker::handle_datagram`], also naming the local port of the socket that must
    /// send a [`Action::Forward`] (the shared web port, the call's own web port or its
    /// IMS port).
    pub fn handle_datagram_routed(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        buf: &mut [u8],
        len: usize,
    ) -> (Action, u16) {
        let unknown = (Action::Drop(DropReason::UnknownSource), 0);
        let port_use = self.ports.get(local.port());
        // A per-call web port only ever reaches its call.
        let owner = match port_use {
            Some(PortUse::Web(slot)) => Some(slot),
            _ => None,
        };
        let from_web = owner.is_some() || local.port() == self.web_port;
        let dir = Direction::from_ingress(if from_web { LegSide::Web } else { LegSide::Ims });
        let (side, slot) = if from_web {
            let owner_id = owner.and_then(|s| self.calls.at(s)).map(|c| c.id);
            let (calls, events) = (&mut self.calls, &mut self.events);
            match self
                .web
                .route(now, calls, events, owner_id, local, remote, buf, len)
            {
                WebRoute::Done(a) => {
                    // STUN replies and DTLS are not media; refused datagrams are drops.
                    if let Action::Drop(r) = a {
                        self.tally.dropped(dir, r);
                    }
                    return (a, local.port());
                }
                WebRoute::Media(slot) => (LegSide::Web, slot),
                WebRoute::Fallback => match self.by_web_remote.get(&remote) {
                    Some(&s) if owner.is_none_or(|o| o == s) => (LegSide::Web, s),
                    _ => {
                        self.web.count_not_latched();
                        self.tally.dropped(dir, DropReason::UnknownSource);
                        return unknown;
                    }
                },
            }
        } else {
            match port_use {
                Some(PortUse::Ims(slot)) => (LegSide::Ims, slot),
                Some(PortUse::Rtcp(slot)) => {
                    // The IMS leg's port+1: RTCP only, never forwarded.
                    let Some(c) = self.calls.at_mut(slot) else {
                        self.tally.dropped(dir, DropReason::UnknownSource);
                        return unknown;
                    };
                    let a = c.session.handle_rtcp(now, LegSide::Ims, remote, buf, len);
                    self.tally.note_drop(dir, a);
                    return (a, local.port());
                }
                _ => {
                    self.tally.dropped(dir, DropReason::UnknownSource);
                    return unknown;
                }
            }
        };
        let Some(c) = self.calls.at_mut(slot) else {
            self.tally.dropped(dir, DropReason::UnknownSource);
            return unknown;
        };
        let a = c.session.handle_rtp(now, side, remote, buf, len);
        self.session_event |= c.session.has_event();
        match a {
            Action::Forward { len, .. } => self.tally.forwarded(dir, len),
            Action::Drop(_) => self.tally.note_drop(dir, a),
            Action::Consumed => {}
        }
        let port = match a {
            Action::Forward {
                leg: LegSide::Web, ..
            } => c.web_port.unwrap_or(self.web_port),
            _ => c.ims_port,
        };
        (a, port)
    }

    /// The next RTCP report due at `now` (`wall`: the wall clock as NTP time), written
    /// into `buf` (512 octets hold any): send `buf[..len]` to the address from the
    /// socket on the local port named (the web port, the IMS port with rtcp-mux, or
    /// its port+1). Backends drain this every loop turn; [`Worker::poll_timeout`]
    /// includes the reports' deadlines. Slow path: one report per leg every few seconds.
    pub fn poll_rtcp(
        &mut self,
        now: Instant,
        wall: NtpTime,
        buf: &mut [u8],
    ) -> Option<(u16, SocketAddr, usize)> {
        while let Some(&Reverse((due, slot))) = self.rtcp_deadlines.peek() {
            if due > now {
                return None;
            }
            self.rtcp_deadlines.pop();
            let Some(c) = self.calls.at_mut(slot) else {
                continue;
            };
            if c.session.rtcp_timeout() != Some(due) {
                continue; // stale: the call's own entry is elsewhere in the heap
            }
            let sent = c.session.poll_rtcp(now, wall, buf);
            // A report, or a leg that could not send, moved the deadline: note the new one
            // (the other leg may be due too, then it comes up again at once).
            if let Some(next) = c.session.rtcp_timeout() {
                self.rtcp_deadlines.push(Reverse((next, slot)));
            }
            if let Some(t) = sent {
                self.tally.rtcp_sent(t.leg);
                let port = match t.leg {
                    LegSide::Web => c.web_port.unwrap_or(self.web_port),
                    LegSide::Ims => c.rtcp_port.unwrap_or(c.ims_port),
                };
                return Some((port, t.to, t.len));
            }
        }
        None
    }

    /// Whether [`Worker::poll_rtcp`] may have a report at `now` (backends skip reading
    /// the wall clock otherwise).
    pub fn rtcp_due(&self, now: Instant) -> bool {
        self.rtcp_deadlines
            .peek()
            .is_some_and(|Reverse((due, _))| *due <= now)
    }

    /// The next event: a failed allocation, an ICE event, installed keys, or a session
    /// event at `now` (which also advances the ICE agents' consent timers).
    pub fn poll_event(&mut self, now: Instant) -> Option<WorkerEvent> {
        if let Some(e) = self.events.pop_front() {
            self.timers = None;
            return Some(e);
        }
        let nothing_due = matches!(self.timers, Some(t) if t.is_none_or(|t| now < t));
        if nothing_due && !self.session_event {
            return None;
        }
        self.timers = None;
        for c in self.calls.values_mut() {
            let Some(w) = c.web.as_mut() else { continue };
            if w.agent().poll_timeout().is_some_and(|t| t <= now) {
                w.agent_mut().handle_timeout(now);
                self.web.drain_ice(c.id, c, &mut self.events);
            }
        }
        if let Some(e) = self.events.pop_front() {
            return Some(e);
        }
        let found = self.calls.values_mut().find_map(|c| {
            c.session
                .poll_event(now)
                .map(|event| WorkerEvent::Session { call: c.id, event })
        });
        if found.is_none() {
            self.session_event = false;
        }
        found
    }

    /// True when [`Worker::poll_event`] has something that no deadline
    /// ([`Worker::poll_timeout`]) announces: queued events (ICE, keys installed, failed
    /// allocations) or a session event a packet raised. O(1), for a driver to check
    /// every loop turn instead of scanning the calls.
    pub fn wants_attention(&self) -> bool {
        self.session_event || !self.events.is_empty()
    }

    /// The earliest session or ICE consent deadline: scanned once, then cached until
    /// a command, an event or a packet that announces a new deadline (see `timers`).
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        if let (Some(t), false) = (self.timers, self.session_event) {
            return t;
        }
        let ice = |c: &Call| c.web.as_deref().and_then(|w| w.agent().poll_timeout());
        let t = self
            .calls
            .values()
            .flat_map(|c| [c.session.poll_timeout(), ice(c)])
            .flatten()
            .min();
        self.timers = Some(t);
        t
    }
}

#[cfg(test)]
#[path = "worker_tests.rs"]
mod tests;
