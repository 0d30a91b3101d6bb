//! The sans-IO worker: the calls of one data-path thread and their control queue.
//!
//! The control plane sends [`Command`]s through a bounded queue ([`WorkerHandle::send`]
//! never blocks: a full queue is [`DatapathError::QueueFull`], mapped to 503 by the
//! call core). The worker drains it between packet batches.
//! Routing: IMS-leg packets by local port; web-leg packets by the latched remote
//! (the shared-port ICE/STUN routing via `demux::DemuxTable` is the next step).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::time::{Duration, Instant};

use super::{Action, DatapathError, DropReason, LegConfig, LegSide, Session, SessionEvent};

/// Identifies a call's media session inside the gateway.
pub type CallId = u64;

/// A control-plane command for a worker.
#[derive(Debug)]
#[non_exhaustive]
pub enum Command {
    /// Creates the session of `call`; its IMS leg receives on local port `ims_port`.
    Allocate {
        /// The call.
        call: CallId,
        /// Web leg parameters (keys from DTLS-SRTP).
        web: Box<LegConfig>,
        /// IMS leg parameters (SDES keys or RTP, remote from SDP).
        ims: Box<LegConfig>,
        /// Local IMS-leg port (from [`super::PortAllocator`]).
        ims_port: u16,
    },
    /// Sets a leg's remote (ICE nomination, or a new SDP).
    Update {
        /// The call.
        call: CallId,
        /// The leg.
        leg: LegSide,
        /// New remote.
        remote: SocketAddr,
    },
    /// Ends the session.
    Release {
        /// The call.
        call: CallId,
    },
}

/// The control plane's end of a worker's queue.
#[derive(Debug, Clone)]
pub struct WorkerHandle {
    tx: SyncSender<Command>,
}

impl WorkerHandle {
    /// Queues `cmd` without blocking.
    pub fn send(&self, cmd: Command) -> Result<(), DatapathError> {
        self.tx.try_send(cmd).map_err(|e| match e {
            TrySendError::Full(_) => DatapathError::QueueFull,
            TrySendError::Disconnected(_) => DatapathError::WorkerGone,
        })
    }
}

/// The calls of one worker thread.
#[derive(Debug)]
pub struct Worker {
    rx: Receiver<Command>,
    sessions: HashMap<CallId, Session>,
    by_ims_port: HashMap<u16, CallId>,
    by_web_remote: HashMap<SocketAddr, CallId>,
    web_port: u16,
    inactivity: Duration,
}

impl Worker {
    /// A worker whose web legs share local port `web_port`, with a command queue of
    /// `queue` entries.
    pub fn new(web_port: u16, inactivity: Duration, queue: usize) -> (Self, WorkerHandle) {
        let (tx, rx) = sync_channel(queue);
        let w = Self {
            rx,
            sessions: HashMap::new(),
            by_ims_port: HashMap::new(),
            by_web_remote: HashMap::new(),
            web_port,
            inactivity,
        };
        (w, WorkerHandle { tx })
    }

    /// Applies every queued command.
    pub fn drain_commands(&mut self, now: Instant) {
        while let Ok(cmd) = self.rx.try_recv() {
            self.apply(now, cmd);
        }
    }

    fn apply(&mut self, now: Instant, cmd: Command) {
        match cmd {
            Command::Allocate {
                call,
                web,
                ims,
                ims_port,
            } => {
                self.release(call);
                if let Some(r) = web.remote {
                    self.by_web_remote.insert(r, call);
                }
                self.by_ims_port.insert(ims_port, call);
                let s = Session::new(now, *web, *ims, self.inactivity);
                self.sessions.insert(call, s);
            }
            Command::Update { call, leg, remote } => {
                if let Some(s) = self.sessions.get_mut(&call) {
                    if leg == LegSide::Web {
                        if let Some(old) = s.remote(LegSide::Web) {
                            self.by_web_remote.remove(&old);
                        }
                        self.by_web_remote.insert(remote, call);
                    }
                    s.set_remote(leg, remote);
                }
            }
            Command::Release { call } => self.release(call),
        }
    }

    fn release(&mut self, call: CallId) {
        if self.sessions.remove(&call).is_some() {
            self.by_ims_port.retain(|_, c| *c != call);
            self.by_web_remote.retain(|_, c| *c != call);
        }
    }

    /// Number of live sessions.
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    /// True when no session is live.
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// The session of `call`, for counters.
    pub fn session(&self, call: CallId) -> Option<&Session> {
        self.sessions.get(&call)
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
        let (side, call) = if local.port() == self.web_port {
            match self.by_web_remote.get(&remote) {
                Some(&c) => (LegSide::Web, c),
                None => return Action::Drop(DropReason::UnknownSource),
            }
        } else {
            match self.by_ims_port.get(&local.port()) {
                Some(&c) => (LegSide::Ims, c),
                None => return Action::Drop(DropReason::UnknownSource),
            }
        };
        let Some(s) = self.sessions.get_mut(&call) else {
            return Action::Drop(DropReason::UnknownSource);
        };
        s.handle_rtp(now, side, remote, buf, len)
    }

    /// The next session event, with its call.
    pub fn poll_event(&mut self, now: Instant) -> Option<(CallId, SessionEvent)> {
        self.sessions
            .iter_mut()
            .find_map(|(c, s)| s.poll_event(now).map(|e| (*c, e)))
    }

    /// The earliest session deadline.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.sessions
            .values()
            .filter_map(Session::poll_timeout)
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datapath::{LegCrypto, PtMap};
    use crate::srtp::ReOriginator;

    fn leg(remote: u16) -> Box<LegConfig> {
        Box::new(LegConfig {
            crypto: LegCrypto::Rtp,
            remote: Some(SocketAddr::from(([127, 0, 0, 1], remote))),
            egress_pt: PtMap::default(),
            reoriginator: ReOriginator::new(1, 1, 1),
        })
    }

    #[test]
    fn queue_full_routing_and_release() {
        let t0 = Instant::now();
        let (mut w, h) = Worker::new(4000, Duration::from_secs(5), 1);
        let alloc = |call| Command::Allocate {
            call,
            web: leg(5000),
            ims: leg(6000),
            ims_port: 10000,
        };
        h.send(alloc(1)).unwrap();
        assert_eq!(h.send(alloc(2)), Err(DatapathError::QueueFull));
        w.drain_commands(t0);
        assert_eq!(w.len(), 1);
        let local = SocketAddr::from(([127, 0, 0, 1], 10000));
        let mut buf = [0u8; 64];
        buf[0] = 0x80;
        let from = SocketAddr::from(([127, 0, 0, 1], 6000));
        assert_eq!(
            w.handle_datagram(t0, local, from, &mut buf, 20),
            Action::Forward {
                leg: LegSide::Web,
                to: SocketAddr::from(([127, 0, 0, 1], 5000)),
                len: 20
            }
        );
        h.send(Command::Release { call: 1 }).unwrap();
        w.drain_commands(t0);
        assert!(w.is_empty());
        assert_eq!(
            w.handle_datagram(t0, local, from, &mut buf, 20),
            Action::Drop(DropReason::UnknownSource)
        );
        drop(w);
        assert_eq!(
            h.send(Command::Release { call: 1 }),
            Err(DatapathError::WorkerGone)
        );
    }
}
