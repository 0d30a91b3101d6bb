//! The worker's shared web port: the WebRTC leg of every call (RFC 7983 demux, ICE-lite,
//! the DTLS slow path, SRTP once keyed), sans-IO.
//!
//! ```text
//!  datagram on the web port ─► DemuxTable::route
//!    ├ STUN  (by USERNAME's local ufrag) ─► the call's IceLiteAgent::handle_stun
//!    │         reply written in place ─► Action::Forward { leg: Web, to: source }
//!    │         Connected / Nominated ─► latch the 5-tuple, set the session's web remote
//!    │         ConsentLost ─► unlatch, clear the web remote;  every event ─► WorkerEvent::Ice
//!    ├ DTLS  (latched 5-tuple) ─► copy into the call's bounded queue ─► DtlsPort (tokio)
//!    ├ SRTP/SRTCP (latched 5-tuple) ─► Session::handle_rtp (NoKeys until InstallWebKeys)
//!    └ else ─► counted in WebPortCounters, dropped; no call ends
//!  DtlsPort::transmit ─► worker-wide queue ─► Worker::poll_transmit ─► backend sends from the web port
//! ```
//!
//! A 5-tuple is latched only after the call's agent authenticated a check from it
//! (RFC 8445 §7.3, `demux` module doc), so DTLS and SRTP from anybody else never reach
//! a call. Calls without a WebRTC leg (web leg configured with a fixed remote) keep
//! being routed by that remote, as before.
//!
//! A call with its own web port (`Command::OpenWebPort`) goes through the same demux;
//! the caller names the port's owner and whatever the demux would give another call is
//! dropped (counted as `stun_unknown_ufrag` or `not_latched`). What the call sends
//! leaves from the port its selected pair was checked on.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::mpsc::Receiver;
use std::time::Instant;

use tokio::sync::mpsc::error::TrySendError;

use super::calls::{Calls, Slot};
use super::worker::Call;
use super::{Action, CallId, DropReason, DtlsLink, LegSide, WorkerEvent};
use crate::demux::{self, DemuxTable, Route};
use crate::ice::{IceEvent, IceLiteAgent, LocalCredentials, RemoteCredentials, MAX_REPLY_LEN};

/// DTLS datagrams a call holds while its web remote is unknown (a DTLS client's first
/// flight can be ready before ICE has said where to send it).
const MAX_HELD_TRANSMITS: usize = 8;

/// What the control plane gives the worker to make a call's web leg a WebRTC leg
/// ([`super::Command::StartWebRtc`]).
#[derive(Debug)]
pub struct WebRtcLeg {
    /// Our `a=ice-ufrag` / `a=ice-pwd` for this call.
    pub local: LocalCredentials,
    /// The browser's, from its SDP, when known.
    pub remote: Option<RemoteCredentials>,
    /// The worker's end of the call's DTLS hand-over ([`super::WorkerHandle::dtls_link`]).
    pub dtls: DtlsLink,
}

/// Counters of the shared web port (plain fields; the metrics exporter sums workers).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WebPortCounters {
    /// STUN replies (success or error responses) written in place.
    pub stun_replies: u64,
    /// ICE checks a call's agent accepted (answered with a success response).
    pub ice_checks_ok: u64,
    /// STUN the call's agent refused (bad integrity, wrong USERNAME, malformed, …); its
    /// reasons are in the agent's `IceCounters`.
    pub stun_refused: u64,
    /// STUN whose local ufrag no call owns.
    pub stun_unknown_ufrag: u64,
    /// STUN with no usable USERNAME (truncated, not a Binding request) from an
    /// unlatched address.
    pub stun_no_username: u64,
    /// DTLS or RTP/RTCP from a 5-tuple no authenticated check latched.
    pub not_latched: u64,
    /// ZRTP, TURN ChannelData, or a first byte no protocol claims (RFC 7983 §7).
    pub unknown_protocol: u64,
    /// DTLS datagrams dropped because the call's queue toward its session was full or
    /// the session had gone.
    pub dtls_queue_full: u64,
    /// DTLS datagrams handed to the call's session.
    pub dtls_to_session: u64,
    /// DTLS datagrams from a session with no live call or no room while unlatched.
    pub dtls_transmit_dropped: u64,
}

/// The WebRTC state of one call's web leg.
#[derive(Debug)]
pub(super) struct WebState {
    agent: IceLiteAgent,
    dtls: tokio::sync::mpsc::Sender<Vec<u8>>,
    /// DTLS datagrams waiting for the web remote.
    held: VecDeque<Vec<u8>>,
    /// The 5-tuple the session sends on (local, remote).
    selected: Option<(SocketAddr, SocketAddr)>,
}

impl WebState {
    pub(super) fn new(now: Instant, leg: WebRtcLeg) -> Self {
        Self {
            agent: IceLiteAgent::new(now, leg.local, leg.remote),
            dtls: leg.dtls.inbound,
            held: VecDeque::new(),
            selected: None,
        }
    }

    pub(super) fn agent(&self) -> &IceLiteAgent {
        &self.agent
    }

    pub(super) fn agent_mut(&mut self) -> &mut IceLiteAgent {
        &mut self.agent
    }
}

/// The shared web port of a worker.
#[derive(Debug)]
pub(super) struct WebPort {
    table: DemuxTable<CallId>,
    counters: WebPortCounters,
    transmit_rx: Receiver<(CallId, Vec<u8>)>,
    /// (local port, remote, datagram)
    ready: VecDeque<(u16, SocketAddr, Vec<u8>)>,
    current: Option<(u16, SocketAddr, Vec<u8>)>,
    scratch: [u8; MAX_REPLY_LEN],
}

/// Where [`WebPort::route`] sends a datagram.
pub(super) enum WebRoute {
    /// Handled here already.
    Done(Action),
    /// To the session of the call in this slot, as SRTP/SRTCP from its web leg.
    Media(Slot),
    /// Not a WebRTC call's: the caller tries its fixed-remote routing.
    Fallback,
}

impl WebPort {
    pub(super) fn new(transmit_rx: Receiver<(CallId, Vec<u8>)>) -> Self {
        Self {
            table: DemuxTable::new(),
            counters: WebPortCounters::default(),
            transmit_rx,
            ready: VecDeque::new(),
            current: None,
            scratch: [0; MAX_REPLY_LEN],
        }
    }

    pub(super) fn counters(&self) -> WebPortCounters {
        self.counters
    }

    /// Makes `id`'s web leg a WebRTC leg: its local ufrag now routes to it.
    pub(super) fn register(&mut self, id: CallId, state: &WebState) {
        let ufrag = state.agent.local_credentials().ufrag();
        if let Some(old) = self.table.register_ufrag(ufrag.as_str(), id) {
            if old != id {
                tracing::warn!(call = id, previous = old, "ICE ufrag taken over");
            }
        }
    }

    /// Forgets every ufrag and 5-tuple of `id`.
    pub(super) fn remove_call(&mut self, id: CallId) {
        self.table.remove_call(id);
    }

    /// Routes and, for STUN and DTLS, handles a datagram `buf[..len]` from `remote` on
    /// our `local` web address; `owner`: the call whose own port `local` is (nothing
    /// reaches another call), `None` on the shared port.
    #[allow(clippy::too_many_arguments)] // the datagram's context, as handle_datagram
    pub(super) fn route(
        &mut self,
        now: Instant,
        calls: &mut Calls,
        events: &mut VecDeque<WorkerEvent>,
        owner: Option<CallId>,
        local: SocketAddr,
        remote: SocketAddr,
        buf: &mut [u8],
        len: usize,
    ) -> WebRoute {
        let Some(packet) = buf.get(..len) else {
            return WebRoute::Done(Action::Drop(DropReason::TooShort));
        };
        let unknown = WebRoute::Done(Action::Drop(DropReason::UnknownSource));
        let route = self.table.route(local, remote, packet);
        if let Some(owner) = owner {
            match route {
                Route::Ice(id) if id != owner => {
                    self.counters.stun_unknown_ufrag += 1;
                    return unknown;
                }
                Route::Dtls(id) | Route::Srtp(id) | Route::Srtcp(id) if id != owner => {
                    self.counters.not_latched += 1;
                    return unknown;
                }
                _ => {}
            }
        }
        match route {
            Route::Ice(id) => {
                let Some(call) = calls.get_mut(id) else {
                    return unknown;
                };
                WebRoute::Done(self.stun(now, id, call, events, local, remote, buf, len))
            }
            Route::Dtls(id) => {
                let Some(web) = calls.get_mut(id).and_then(|c| c.web.as_mut()) else {
                    return unknown;
                };
                match web.dtls.try_send(packet.to_vec()) {
                    Ok(()) => self.counters.dtls_to_session += 1,
                    Err(TrySendError::Full(_) | TrySendError::Closed(_)) => {
                        self.counters.dtls_queue_full += 1
                    }
                }
                WebRoute::Done(Action::Consumed)
            }
            Route::Srtp(id) | Route::Srtcp(id) => match calls.slot(id) {
                Some(slot) => WebRoute::Media(slot),
                None => unknown,
            },
            Route::Drop(demux::DropReason::NotLatched) => match demux::classify(packet) {
                demux::PacketKind::Rtp | demux::PacketKind::Rtcp => WebRoute::Fallback,
                _ => {
                    self.counters.not_latched += 1;
                    unknown
                }
            },
            Route::Drop(reason) => {
                let c = &mut self.counters;
                match reason {
                    demux::DropReason::UnknownUfrag => c.stun_unknown_ufrag += 1,
                    demux::DropReason::NoUsername => c.stun_no_username += 1,
                    _ => c.unknown_protocol += 1,
                }
                unknown
            }
        }
    }

    /// Counts a datagram the fixed-remote routing did not claim either.
    pub(super) fn count_not_latched(&mut self) {
        self.counters.not_latched += 1;
    }

    #[allow(clippy::too_many_arguments)]
    fn stun(
        &mut self,
        now: Instant,
        id: CallId,
        call: &mut Call,
        events: &mut VecDeque<WorkerEvent>,
        local: SocketAddr,
        remote: SocketAddr,
        buf: &mut [u8],
        len: usize,
    ) -> Action {
        let Some(web) = call.web.as_mut() else {
            return Action::Drop(DropReason::UnknownSource);
        };
        let handled = web
            .agent
            .handle_stun(now, remote, local, &buf[..len], &mut self.scratch);
        match handled.failure() {
            Some(_) => self.counters.stun_refused += 1,
            None => self.counters.ice_checks_ok += 1,
        }
        let action = match handled.reply_len() {
            Some(n) if n <= buf.len() && n <= self.scratch.len() => {
                // The request is no longer needed: the reply goes out of the same buffer.
                buf[..n].copy_from_slice(&self.scratch[..n]);
                self.counters.stun_replies += 1;
                Action::Forward {
                    leg: LegSide::Web,
                    to: remote,
                    len: n,
                }
            }
            Some(_) => Action::Drop(DropReason::TooShort),
            None => Action::Drop(DropReason::Other),
        };
        self.drain_ice(id, call, events);
        action
    }

    /// Applies the agent's events to the demux table and the session, and reports them.
    pub(super) fn drain_ice(
        &mut self,
        id: CallId,
        call: &mut Call,
        events: &mut VecDeque<WorkerEvent>,
    ) {
        let Some(web) = call.web.as_mut() else {
            return;
        };
        while let Some(event) = web.agent.poll_event() {
            match event {
                IceEvent::Connected { local, remote } => {
                    self.table.latch(local, remote, id);
                    if web.selected.is_none() {
                        self.select(web, &mut call.session, local, remote);
                    }
                }
                IceEvent::Nominated { local, remote, .. } => {
                    self.table.latch(local, remote, id);
                    if web.selected != Some((local, remote)) {
                        if let Some((l, r)) = web.selected {
                            self.table.unlatch(l, r);
                        }
                        self.select(web, &mut call.session, local, remote);
                    }
                }
                IceEvent::ConsentLost { local, remote } => {
                    // RFC 7675 §5.1: stop sending; nothing from the pair reaches the call.
                    self.table.unlatch(local, remote);
                    web.selected = None;
                    call.session.clear_remote(LegSide::Web);
                }
                IceEvent::Restarted {
                    previous_local_ufrag,
                    local_ufrag,
                } => {
                    self.table.unregister_ufrag(previous_local_ufrag.as_str());
                    self.table.register_ufrag(local_ufrag.as_str(), id);
                }
            }
            events.push_back(WorkerEvent::Ice { call: id, event });
        }
    }

    fn select(
        &mut self,
        web: &mut WebState,
        session: &mut super::Session,
        local: SocketAddr,
        remote: SocketAddr,
    ) {
        web.selected = Some((local, remote));
        session.set_remote(LegSide::Web, remote);
        let port = local.port();
        self.ready
            .extend(web.held.drain(..).map(|d| (port, remote, d)));
    }

    /// The next DTLS datagram to send, with the local port to send it from: the port of
    /// the call's selected pair, else its own web port, else `shared` (see
    /// `Worker::poll_transmit_routed`).
    pub(super) fn poll_transmit(
        &mut self,
        calls: &mut Calls,
        shared: u16,
    ) -> Option<(u16, SocketAddr, &[u8])> {
        self.current = None;
        while self.current.is_none() {
            if let Some(t) = self.ready.pop_front() {
                self.current = Some(t);
                break;
            }
            let (id, d) = self.transmit_rx.try_recv().ok()?;
            let Some(call) = calls.get_mut(id) else {
                self.counters.dtls_transmit_dropped += 1;
                continue;
            };
            let own = call.web_port.unwrap_or(shared);
            match (call.session.remote(LegSide::Web), call.web.as_mut()) {
                (Some(to), Some(web)) => {
                    let port = web.selected.map_or(own, |(l, _)| l.port());
                    self.current = Some((port, to, d));
                }
                (None, Some(web)) if web.held.len() < MAX_HELD_TRANSMITS => web.held.push_back(d),
                _ => self.counters.dtls_transmit_dropped += 1,
            }
        }
        self.current
            .as_ref()
            .map(|(port, to, d)| (*port, *to, d.as_slice()))
    }
}

#[cfg(test)]
#[path = "webrtc_tests.rs"]
mod tests;
