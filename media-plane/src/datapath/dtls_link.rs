//! The hand-over between a call's [`DtlsSession`] (on the control plane's tokio runtime)
//! and the worker thread that owns the call's web leg.
//!
//! ```text
//!  worker thread (sans-IO)                          control plane (tokio)
//!  ───────────────────────                          ─────────────────────
//!  web port: DTLS datagram (RFC 7983 20..=63)
//!    └─ DtlsLink::inbound.try_send ──bounded, per call──► DtlsPort::run ─► DtlsSession::handle_datagram
//!  Worker::poll_transmit ◄──bounded, per worker── wake ◄── DtlsOutput::Transmit
//!    (backend sends from the web port)
//!  Command::InstallWebKeys ◄──── WorkerHandle::send ◄──── DtlsEvent::Connected(keys)
//! ```
//!
//! The control plane creates both ends with [`WorkerHandle::dtls_link`], gives the
//! [`DtlsLink`] to the worker inside [`super::WebRtcLeg`] ([`Command::StartWebRtc`]),
//! and runs [`DtlsPort::run`] with the call's session on its runtime. The worker never
//! waits on either queue: a full inbound queue drops the datagram and counts it
//! (`WebPortCounters::dtls_queue_full`); a full transmit queue drops the datagram on the
//! control-plane side ([`DtlsPort::transmit_dropped`]). DTLS retransmits both ways
//! (RFC 6347 §4.2.4), so a drop costs time, not the handshake.

use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::worker::WakerSlot;
use super::{CallId, Command, DatapathError, WorkerHandle};
use crate::dtls::{DtlsError, DtlsEvent, DtlsKeys, DtlsOutput, DtlsSession};

/// DTLS datagrams queued per call from the worker toward its session.
pub const DTLS_INBOUND_QUEUE: usize = 32;
/// DTLS datagrams queued per worker from the sessions toward the web port.
pub const DTLS_TRANSMIT_QUEUE: usize = 256;
/// How long [`DtlsPort::run`] keeps retrying [`Command::InstallWebKeys`] on a full
/// command queue before it gives up on the call.
const INSTALL_RETRY_FOR: Duration = Duration::from_secs(2);
const INSTALL_RETRY_EVERY: Duration = Duration::from_millis(2);

/// The worker's end: where the web port puts the call's DTLS datagrams.
#[derive(Debug)]
pub struct DtlsLink {
    pub(super) inbound: mpsc::Sender<Vec<u8>>,
}

/// The control plane's end of one call's DTLS hand-over.
#[derive(Debug)]
pub struct DtlsPort {
    call: CallId,
    inbound: mpsc::Receiver<Vec<u8>>,
    transmit: SyncSender<(CallId, Vec<u8>)>,
    waker: Arc<WakerSlot>,
    transmit_dropped: u64,
}

/// Why [`DtlsPort::run`] returned.
#[derive(Debug)]
#[non_exhaustive]
pub enum DtlsEnd {
    /// The handshake failed (fingerprint mismatch, timeout, …); the call has no keys.
    Failed(DtlsError),
    /// The peer closed DTLS after the keys were installed (the keys stay valid).
    Closed,
    /// The worker let go of the call (released, or the worker stopped).
    Released,
}

impl WorkerHandle {
    /// Creates the two ends of `call`'s DTLS hand-over (see the module doc).
    pub fn dtls_link(&self, call: CallId) -> (DtlsLink, DtlsPort) {
        let (tx, rx) = mpsc::channel(DTLS_INBOUND_QUEUE);
        let port = DtlsPort {
            call,
            inbound: rx,
            transmit: self.transmit.clone(),
            waker: Arc::clone(&self.waker),
            transmit_dropped: 0,
        };
        (DtlsLink { inbound: tx }, port)
    }
}

impl DtlsPort {
    /// Datagrams the session wanted to send that the worker's transmit queue had no room
    /// for.
    pub fn transmit_dropped(&self) -> u64 {
        self.transmit_dropped
    }

    /// The next DTLS datagram the worker received for this call; `None` once the worker
    /// let go of the call. Cancel-safe.
    pub async fn recv(&mut self) -> Option<Vec<u8>> {
        self.inbound.recv().await
    }

    /// The next DTLS datagram if one is queued, without waiting.
    pub fn try_recv(&mut self) -> Option<Vec<u8>> {
        self.inbound.try_recv().ok()
    }

    /// True once the worker let go of the call (released, or the worker stopped).
    pub fn is_released(&self) -> bool {
        self.inbound.is_closed()
    }

    /// Queues a datagram for the web port and wakes the worker's backend. Never waits.
    pub fn transmit(&mut self, datagram: Vec<u8>) -> Result<(), DatapathError> {
        match self.transmit.try_send((self.call, datagram)) {
            Ok(()) => {
                self.waker.wake();
                Ok(())
            }
            Err(TrySendError::Full(_)) => {
                self.transmit_dropped += 1;
                Err(DatapathError::QueueFull)
            }
            Err(TrySendError::Disconnected(_)) => Err(DatapathError::WorkerGone),
        }
    }

    /// The control plane's thin driver of one call's DTLS-SRTP: datagrams from the
    /// worker into `session`, its datagrams back to the web port, and its keys into the
    /// call's web leg ([`Command::InstallWebKeys`] through `handle`). `session` may be
    /// started already or not (early datagrams are held by the session). Runs until the
    /// handshake fails, the peer closes, or the worker lets go of the call.
    pub async fn run(mut self, mut session: DtlsSession, handle: WorkerHandle) -> DtlsEnd {
        loop {
            tokio::select! {
                d = self.inbound.recv() => match d {
                    Some(d) => session.handle_datagram(&d),
                    None => return DtlsEnd::Released,
                },
                out = session.next_output() => match out {
                    None => return DtlsEnd::Closed,
                    Some(DtlsOutput::Transmit(d)) => {
                        if self.transmit(d) == Err(DatapathError::WorkerGone) {
                            return DtlsEnd::Released;
                        }
                    }
                    Some(DtlsOutput::Event(DtlsEvent::Connected(keys))) => {
                        if !self.install(&handle, *keys).await {
                            return DtlsEnd::Released;
                        }
                    }
                    Some(DtlsOutput::Event(DtlsEvent::Failed(e))) => {
                        tracing::warn!(call = self.call, error = %e, "DTLS-SRTP handshake failed");
                        return DtlsEnd::Failed(e);
                    }
                    Some(DtlsOutput::Event(_)) => return DtlsEnd::Closed,
                },
            }
        }
    }

    /// Sends the keys to the worker, retrying a full command queue for a while (keys are
    /// not something to drop).
    async fn install(&self, handle: &WorkerHandle, keys: DtlsKeys) -> bool {
        let mut cmd = Command::InstallWebKeys {
            call: self.call,
            suite: keys.suite,
            inbound: Box::new(keys.inbound),
            outbound: Box::new(keys.outbound),
        };
        let give_up = tokio::time::Instant::now() + INSTALL_RETRY_FOR;
        loop {
            match handle.send_returning(cmd) {
                Ok(()) => {
                    tracing::info!(call = self.call, suite = ?keys.suite, "DTLS-SRTP keys to the data path");
                    return true;
                }
                Err((DatapathError::QueueFull, back)) if tokio::time::Instant::now() < give_up => {
                    cmd = back;
                    tokio::time::sleep(INSTALL_RETRY_EVERY).await;
                }
                Err((e, _)) => {
                    tracing::warn!(call = self.call, error = %e, "DTLS-SRTP keys not installed");
                    return false;
                }
            }
        }
    }
}
