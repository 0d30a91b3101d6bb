//! The worker's control vocabulary: the [`Command`]s the control plane queues, the
//! [`WorkerEvent`]s it gets back, the [`SocketOp`]s a backend applies, and the
//! [`WorkerHandle`] that queues commands and wakes the backend (`worker.rs` has the
//! worker itself).

use std::fmt;
use std::net::SocketAddr;
use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::{Arc, OnceLock};

use super::super::{
    DatapathError, LegConfig, LegSide, RtcpConfig, SessionEvent, ToneRequest, WebRtcLeg,
};
use crate::ice::{IceEvent, LocalCredentials, RemoteCredentials};
use crate::srtp::{SrtpContext, SrtpSuite};

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
        /// Local IMS-leg port (from [`crate::datapath::PortAllocator`]).
        ims_port: u16,
    },
    /// Sets a leg's remote (a new SDP). Ignored for the web leg of a WebRTC call
    /// ([`Command::StartWebRtc`]): its remote comes only from authenticated ICE checks.
    Update {
        /// The call.
        call: CallId,
        /// The leg.
        leg: LegSide,
        /// New remote.
        remote: SocketAddr,
    },
    /// Gives the web leg of `call` (allocated before, [`Command::StartWebRtc`] after) its
    /// own local UDP port instead of the shared web port: the backend binds it
    /// ([`SocketOp::OpenWeb`]) and [`Command::Release`] closes it. A port another call
    /// (or the shared port) uses ends the call with [`WorkerEvent::AllocateFailed`].
    OpenWebPort {
        /// The call.
        call: CallId,
        /// Local web port (from a [`crate::datapath::PortAllocator`] of the per-call range).
        port: u16,
    },
    /// Makes the web leg of `call` (allocated before) a WebRTC leg on the shared web
    /// port (or its own, [`Command::OpenWebPort`]): an ICE-lite agent with these credentials, the DTLS hand-over, and no SRTP
    /// until [`Command::InstallWebKeys`] (the leg's crypto becomes
    /// [`LegCrypto::AwaitingDtls`](crate::datapath::LegCrypto::AwaitingDtls)).
    StartWebRtc {
        /// The call.
        call: CallId,
        /// ICE credentials and the worker's end of the DTLS hand-over.
        leg: Box<WebRtcLeg>,
    },
    /// The browser's ICE credentials from a (new) SDP: set, unchanged, or an ICE restart
    /// with `fresh_local` as our new credentials (RFC 8445 §9).
    RemoteIceCredentials {
        /// The call.
        call: CallId,
        /// The browser's `a=ice-ufrag` / `a=ice-pwd`.
        remote: RemoteCredentials,
        /// Our credentials if this is a restart.
        fresh_local: LocalCredentials,
    },
    /// Installs the DTLS-SRTP keys of `call`'s web leg (sent by
    /// [`crate::datapath::DtlsPort::run`]); SRTP flows from now on.
    InstallWebKeys {
        /// The call.
        call: CallId,
        /// The negotiated profile.
        suite: SrtpSuite,
        /// Unprotects what the browser sends.
        inbound: Box<SrtpContext>,
        /// Protects what the gateway sends to the browser.
        outbound: Box<SrtpContext>,
    },
    /// Starts the gateway's RTCP for `call` (allocated before): reports on both legs,
    /// and with [`ImsRtcp::Port`](crate::datapath::ImsRtcp::Port) a socket on the IMS port+1 ([`SocketOp::OpenRtcp`]);
    /// [`WorkerEvent::Ready`] waits for it when both are queued together. A port+1 that
    /// another call of the worker uses, or that cannot be bound, ends the call with
    /// [`WorkerEvent::AllocateFailed`]. Sent again, it replaces the configuration
    /// (statistics restart; the port+1 socket is opened or closed to match).
    ConfigureRtcp {
        /// The call.
        call: CallId,
        /// CNAME, seed, clock rates, IMS RTCP arrangement.
        rtcp: Box<RtcpConfig>,
    },
    /// Opens or closes the media toward each leg (SDP direction, hold):
    /// [`Session::set_flow`](crate::datapath::Session::set_flow).
    SetFlow {
        /// The call.
        call: CallId,
        /// Media may be sent to the browser.
        to_web: bool,
        /// Media may be sent to the IMS side.
        to_ims: bool,
    },
    /// Queues a telephone-event the gateway sends toward the IMS leg of `call`
    /// ([`Session::send_tone`](crate::datapath::Session::send_tone); beyond [`crate::datapath::MAX_QUEUED_TONES`] waiting it is
    /// dropped with a warning).
    SendTone {
        /// The call.
        call: CallId,
        /// The event, its duration and the IMS leg's telephone-event PT and clock.
        tone: ToneRequest,
    },
    /// Ends the session.
    Release {
        /// The call.
        call: CallId,
    },
    /// Stops the worker: its backend closes every socket and its thread ends. Commands
    /// queued behind it are not applied.
    Stop,
}

/// Something a worker reports to the control plane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum WorkerEvent {
    /// The IMS-leg socket of `call` is bound: media flows from now on.
    Ready {
        /// The call.
        call: CallId,
        /// Its local IMS-leg port.
        port: u16,
    },
    /// An event of a call's session.
    Session {
        /// The call.
        call: CallId,
        /// What happened.
        event: SessionEvent,
    },
    /// An ICE event of a call's WebRTC leg: `Connected`/`Nominated` (the web remote is
    /// set), `ConsentLost` (RFC 7675: media to the browser stopped; the call decides
    /// whether to end), `Restarted`.
    Ice {
        /// The call.
        call: CallId,
        /// What happened.
        event: IceEvent,
    },
    /// [`Command::InstallWebKeys`] was applied: SRTP flows on the web leg.
    WebKeysInstalled {
        /// The call.
        call: CallId,
        /// The negotiated profile.
        suite: SrtpSuite,
    },
    /// [`Command::Allocate`] could not be carried out; the call has no session.
    AllocateFailed {
        /// The call.
        call: CallId,
        /// Why ([`DatapathError::PortInUse`], [`DatapathError::Bind`]).
        error: DatapathError,
    },
}

/// A change to the set of per-call sockets (IMS legs, per-call web ports) the backend
/// owns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocketOp {
    /// Bind a UDP socket on `port` for the IMS leg of `call`.
    Open {
        /// The call.
        call: CallId,
        /// Local port.
        port: u16,
    },
    /// Bind a UDP socket on `port`, on the IP of the shared web socket, for the web leg
    /// of `call` ([`Command::OpenWebPort`]).
    OpenWeb {
        /// The call.
        call: CallId,
        /// Local port.
        port: u16,
    },
    /// Bind a UDP socket on `port` (the IMS port+1, on the IMS IP) for the RTCP of
    /// `call`'s IMS leg ([`Command::ConfigureRtcp`] with [`ImsRtcp::Port`](crate::datapath::ImsRtcp::Port)).
    OpenRtcp {
        /// The call.
        call: CallId,
        /// Local port.
        port: u16,
    },
    /// Close the per-call socket (IMS leg, its RTCP port, or web port) on `port`.
    Close {
        /// Local port.
        port: u16,
    },
}

/// What wakes a backend out of its wait.
type WakeFn = Arc<dyn Fn() + Send + Sync>;

/// The waker slot shared by a worker and its handles; empty until a backend runs.
#[derive(Default)]
pub(in crate::datapath) struct WakerSlot(OnceLock<WakeFn>);

impl WakerSlot {
    pub(in crate::datapath) fn wake(&self) {
        if let Some(w) = self.0.get() {
            w();
        }
    }
}

impl WakerSlot {
    /// Installs `wake`; only the first call has an effect. Returns whether it was this one.
    pub(super) fn set(&self, wake: WakeFn) -> bool {
        self.0.set(wake).is_ok()
    }
}

impl fmt::Debug for WakerSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.get().is_some() {
            "WakerSlot(set)"
        } else {
            "WakerSlot(empty)"
        })
    }
}

/// The control plane's end of a worker's queue. Dropping the last handle stops the
/// worker, like [`Command::Stop`].
#[derive(Debug, Clone)]
pub struct WorkerHandle {
    // `Option` only so that `drop` can let go of the sender before it wakes the worker.
    pub(super) tx: Option<SyncSender<Command>>,
    pub(in crate::datapath) waker: Arc<WakerSlot>,
    /// The worker-wide DTLS transmit queue (see `dtls_link.rs`).
    pub(in crate::datapath) transmit: SyncSender<(CallId, Vec<u8>)>,
}

impl WorkerHandle {
    /// Queues `cmd` without blocking.
    pub fn send(&self, cmd: Command) -> Result<(), DatapathError> {
        self.send_returning(cmd).map_err(|(e, _)| e)
    }

    /// [`WorkerHandle::send`], giving the command back when it was not queued.
    pub fn send_returning(&self, cmd: Command) -> Result<(), (DatapathError, Command)> {
        let Some(tx) = self.tx.as_ref() else {
            return Err((DatapathError::WorkerGone, cmd));
        };
        tx.try_send(cmd).map_err(|e| match e {
            TrySendError::Full(c) => (DatapathError::QueueFull, c),
            TrySendError::Disconnected(c) => (DatapathError::WorkerGone, c),
        })?;
        self.waker.wake();
        Ok(())
    }
}

impl Drop for WorkerHandle {
    fn drop(&mut self) {
        // The sender goes first: a worker woken by the last handle sees the queue closed.
        drop(self.tx.take());
        self.waker.wake();
    }
}
