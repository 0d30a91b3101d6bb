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
//!
//! ## Entry points (sans-IO)
//!
//! ```text
//!  datagram ─► message::Message::parse ─► message::validate::check_request / check_response
//!                                            │
//!                                            ▼
//!            transaction::TransactionLayer::handle_request / handle_response (now, …)
//!               │ poll_transmit() → bytes + target      │ poll_event() → timeouts,
//!               ▼                                       ▼ transport errors
//!            transport driver                        dialog::Dialog, auth::digest (UAC)
//! ```
//!
//! - [`message`]: parse a borrowed datagram into a [`message::Request`] or
//!   [`message::Response`]; headers are kept as received and typed views are parsed on
//!   demand; printing writes into a caller's `Vec<u8>`.
//! - [`message::validate`]: what a UAS, registrar or proxy answers to a well-formed
//!   request it will not process (405/501, 416, 420, 415, 406, 483).
//! - [`transaction`]: RFC 3261 §17 client and server transactions with RFC 6026.
//! - [`endpoint`]: the sans-IO SIP endpoint behind the listeners (OPTIONS, drain 503,
//!   policy rejections, stateless 400/505).
//! - [`transport`]: the UDP/TCP drivers (the only sockets in this crate) and stream framing.
//! - [`sdp`]: SDP parse/print and the WebRTC ↔ IMS offer/answer interworking
//!   (golden-tested in `tests/sdp_golden.rs`).
//! - [`media::MediaControl`] is what the call core drives; [`media_engine::MediaEngine`]
//!   implements it over the media plane's workers (ICE-lite, DTLS-SRTP, SRTP/RTP toward
//!   IMS) and reports [`media::MediaEvent`]s on its bounded [`media_engine::MediaEvents`].
//!
//! ## Why not rsip
//!
//! `rsip` was the suggested starting point. Its headers are `String` newtypes with typed
//! views on demand, which is close to what we want, but it fails the conformance bar.
//! Feeding the 49 RFC 4475 messages to `rsip` 0.4.0 `SipMessage::try_from(&[u8])`
//! (checked while this crate was written):
//! - 4 of the 15 `valid` messages do not parse: `wsinv`, `esc01`, `longreq`, `semiuri`.
//! - Extension methods and unknown URI schemes are refused (`intmeth`, `esc02`, `unkscm`),
//!   so the UA cannot answer them with 501 or 416.
//! - Most `invalid` messages parse with no error (`clerr`, `ncl`, `badinv01`, `quotbal`,
//!   `ltgtruri`, `mismatch01`, `insuf`, `multi01`, `mcl01`, …).
//! - Printing a parsed message does not give back the received bytes for 9 of the
//!   messages it accepts (`transports`, `regaut01`, `regescrt`, …), so untouched headers
//!   are not forwarded byte for byte.
//! - Every header value is an owned, UTF-8 `String`. Header values and bodies are not
//!   always UTF-8 (`intmeth`, `mpart01`).
//!
//! The parser here is small (framing, start line, on-demand views). It borrows the
//! datagram, passes all 49 torture tests (`tests/rfc4475_torture.rs`) and is fuzzed as
//! parse → print → parse.
#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod auth;
pub mod call;
pub mod dialog;
pub mod endpoint;
pub mod gateway;
mod gateway_metrics;
pub mod ids;
pub mod keepalive;
pub mod lab;
pub mod media;
pub mod media_engine;
pub mod message;
pub mod registration;
pub mod resolve;
pub mod sdp;
pub mod transaction;
pub mod transport;
