//! The packet data path: the sans-IO session core of a call and the IMS-leg port
//! allocator. The worker loop and the socket backends come later (see "Not yet").
//!
//! ```text
//!  web leg (SRTP) ──► Session::handle_rtp ──► unprotect · PT map · ReOriginator · protect ──► IMS leg (SRTP/RTP)
//!  IMS leg        ──► Session::handle_rtp ──► (same, other direction)                     ──► web leg
//! ```
//!
//! - [`Session`]: two legs, per-direction [`crate::srtp::ReOriginator`], latching,
//!   drop counters, inactivity events; in place in the caller's buffer, no allocation.
//! - [`PortAllocator`]: even IMS-leg ports over a range, with quarantine after release.
//!
//! - [`Worker`] / [`WorkerHandle`]: the calls of one thread and their bounded command
//!   queue.
//!
//! Not yet: STUN/ICE routing on the shared port (demux integration) and the epoll/io_uring
//! backends.

mod ports;
mod session;
mod worker;

pub use ports::PortAllocator;
pub use session::{
    Action, DropCounters, DropReason, LegConfig, LegCrypto, LegSide, PtMap, Session, SessionEvent,
};
pub use worker::{CallId, Command, Worker, WorkerHandle};

/// Errors of the data-path layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DatapathError {
    /// No IMS-leg port is free (the call core answers 503).
    #[error("no media port available")]
    PortsExhausted,
    /// The configured port range holds no even port.
    #[error("port range {0}..={1} holds no even port")]
    InvalidPortRange(u16, u16),
    /// The worker's command queue is full (the call core answers 503).
    #[error("media worker queue full")]
    QueueFull,
    /// The worker has stopped.
    #[error("media worker gone")]
    WorkerGone,
}
