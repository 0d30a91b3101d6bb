//! SIP transports: the only code in this crate that owns sockets.
//!
//! ```text
//!   UDP socket ──datagram──────────────┐
//!   TCP/TLS accept ─► per-connection reader │  (StreamFramer: Content-Length framing, limits,
//!                  ─► framed message ───┤   idle timeout, CRLF keep-alive pongs)
//!                                       ▼
//!                             endpoint task (owns the sans-IO Endpoint)
//!                                       │ poll_transmit
//!                  UDP send_to ◄────────┴──────► per-connection writer (bounded queue)
//! ```
//!
//! One task owns the [`Endpoint`](crate::endpoint::Endpoint); readers hand it messages
//! over a bounded channel, so a flood on one connection cannot grow memory without bound.

mod dns;
mod driver;
mod metrics;
pub mod stream;
pub mod tls;

pub use dns::DnsResolver;
pub use driver::{
    start, start_echo, SipListeners, TlsClient, TlsListener, TransportConfig, UserChannels,
};
