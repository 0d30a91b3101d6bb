//! # sip-proxy — the IMS side of rtcgate
//!
//! ```text
//!   JSON commands (interworking-stub)           SIP to/from the P-CSCF / IBCF
//!            │                                          ▲
//!            ▼                                          │
//!      B2BUA call core ── dialogs ── transactions ── transports (UDP/TCP/TLS)
//!            │
//!            ▼ media-control interface (implemented by media-plane)
//! ```
//!
//! The protocol layers are sans-IO: they take bytes and an explicit `now`, and hand back
//! what to send and when to wake up. The transport drivers are the only code here that
//! owns sockets. This crate knows nothing about HTTP.
#![warn(missing_docs)]
