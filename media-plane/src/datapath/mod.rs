//! The packet data path: the sans-IO session core of a call, the worker that holds the
//! calls of one thread (and the WebRTC leg of each on the shared web port), the socket
//! backends that drive it, and the IMS-leg port allocator.
//!
//! ```text
//!  web port ─► demux (RFC 7983) ─┬ STUN ─► call's IceLiteAgent ─► reply in place (Action::Forward to the source)
//!                                ├ DTLS ─► bounded per-call queue ─► DtlsPort::run (control plane's tokio)
//!                                │          ◄─ Worker::poll_transmit ◄─ session's datagrams   keys ─► Command::InstallWebKeys
//!                                └ SRTP ─► Session::handle_rtp ─► unprotect · PT map · ReOriginator · protect ─► IMS leg
//!  IMS leg (SRTP/RTP) ─► Session::handle_rtp ─► (same, other direction) ─► web leg (latched by ICE)
//!
//!  control plane ──Command──► WorkerHandle ─► [backend thread: sockets + Worker] ─WorkerEvent─► RunningWorker::events
//! ```
//!
//! - [`Session`]: two legs, per-direction [`crate::srtp::ReOriginator`], latching,
//!   drop counters, inactivity events; in place in the caller's buffer, no allocation.
//!   A web leg in [`LegCrypto::AwaitingDtls`] drops both directions until its keys come.
//! - [`Worker`] / [`WorkerHandle`]: the calls of one thread and their bounded command
//!   queue; it names the IMS-leg sockets its backend must own ([`SocketOp`]).
//! - `webrtc.rs`: the shared web port: [`Command::StartWebRtc`] with a [`WebRtcLeg`]
//!   (ICE credentials + [`DtlsLink`]) gives a call an ICE-lite agent, registered by local
//!   ufrag; only an authenticated check latches the 5-tuple and sets the web remote;
//!   ICE events reach the control plane as [`WorkerEvent::Ice`] (consent lost included);
//!   junk is counted in [`WebPortCounters`]. Calls without a WebRTC leg keep their fixed
//!   web remote.
//! - Per-call web ports, the alternative to the shared one: [`Command::OpenWebPort`]
//!   gives a call's web leg its own port ([`SocketOp::OpenWeb`], bound on the shared web
//!   socket's IP by either backend, closed on release); the same demux runs on it, but
//!   only for that call.
//! - `dtls_link.rs`: [`WorkerHandle::dtls_link`] makes the two ends of a call's DTLS
//!   hand-over; [`DtlsPort::run`] is the control plane's driver of the `DtlsSession`.
//! - [`backend`]: [`spawn`] runs a worker on a thread over epoll + recvmmsg/sendmmsg
//!   (or io_uring, [`Backend`]); their system calls go through the crate's private `sys`
//!   module, the only `unsafe` in the crate. Each loop
//!   turn a backend drains [`Worker::poll_transmit`] and sends from the web socket.
//! - [`PortAllocator`]: even IMS-leg ports (or every port, for per-call web ports) over a
//!   range, with quarantine after release; an IMS port's RTCP port+1 is never handed out
//!   on its own, so it rests and returns with its RTP port.
//! - [`metrics`]: the worker's counters as plain data ([`WorkerMetrics`]: totals the worker
//!   thread stores at its bookkeeping, at least every 50 ms with calls, read by an
//!   exporter; no metrics library here).
//!
//! - `rtcp.rs`, `session_rtcp.rs`: RTCP is terminated per leg and the gateway reports for
//!   itself ([`Command::ConfigureRtcp`] → [`Session::set_rtcp`]): SR/RR + SDES CNAME per
//!   leg every 2.5–7.5 s ([`Worker::poll_rtcp`], drained by the backends each loop turn,
//!   SRTCP on SRTP legs), the peer's SR noted for LSR/DLSR. The web leg muxes; the IMS
//!   leg uses its RTP port with [`ImsRtcp::Mux`], else a socket on port+1
//!   ([`SocketOp::OpenRtcp`]) that sends to the far end's `a=rtcp:` or RTP port+1.
//!
//! Not yet: RTCP feedback (RFC 4585) and XR; reports do not follow `b=RS`/`b=RR`
//! (RFC 3556) bandwidth modifiers.

pub mod backend;
mod calls;
mod dtls_link;
mod events;
pub mod metrics;
mod ports;
mod rtcp;
mod session;
mod tones;
mod webrtc;
mod worker;

pub use backend::{spawn, Backend, BackendConfig, BackendKind, BackendStats, RunningWorker};
pub use dtls_link::{DtlsEnd, DtlsLink, DtlsPort, DTLS_INBOUND_QUEUE, DTLS_TRANSMIT_QUEUE};
pub use metrics::{Direction, MediaTally, MetricsSnapshot, WorkerMetrics};
pub use ports::PortAllocator;
pub use rtcp::{ImsRtcp, RtcpConfig};
pub use session::{
    Action, DropCounters, DropReason, LegConfig, LegCrypto, LegSide, PtMap, RtcpTransmit, Session,
    SessionEvent,
};
pub use tones::{ToneRequest, INTER_EVENT_GAP, MAX_QUEUED_TONES};
pub use webrtc::{WebPortCounters, WebRtcLeg};
pub use worker::{CallId, Command, SocketOp, Worker, WorkerEvent, WorkerHandle};

/// Errors of the data-path layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DatapathError {
    /// No IMS-leg (or per-call web) port is free (the call core answers 503).
    #[error("no media port available")]
    PortsExhausted,
    /// The configured port range holds no usable port (no even port for IMS legs).
    #[error("port range {0}..={1} holds no usable port")]
    InvalidPortRange(u16, u16),
    /// The worker's command queue is full (the call core answers 503).
    #[error("media worker queue full")]
    QueueFull,
    /// The worker has stopped.
    #[error("media worker gone")]
    WorkerGone,
    /// Another live call of the worker (or its web leg) already uses this local port.
    #[error("media port {0} already in use by this worker")]
    PortInUse(u16),
    /// The IMS-leg socket could not be bound on `port`.
    #[error("cannot bind media port {port}: {kind}")]
    Bind {
        /// The local port.
        port: u16,
        /// The OS error.
        kind: std::io::ErrorKind,
    },
    /// A backend's set-up system call failed (`op` names it).
    #[error("media backend: {op} failed: {kind}")]
    Io {
        /// The call that failed, e.g. `epoll_create1`.
        op: &'static str,
        /// The OS error.
        kind: std::io::ErrorKind,
    },
    /// The requested backend is not available on this host (io_uring blocked or absent).
    #[error("media backend {0} unavailable")]
    BackendUnavailable(&'static str),
}
