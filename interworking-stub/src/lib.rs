//! # interworking-stub — the JSON side of rtcgate
//!
//! ```text
//!   web app ── REST (CAMARA-style) ──┐
//!   web app ── WebSocket channel ────┼──► api router ──► B2BUA commands (sip-proxy)
//!                                    │         ▲
//!   CloudEvents sinks ◄──────────────┘         └── call events (JSON) ◄── sip-proxy
//! ```
//!
//! Entry point: [`router`] builds the axum router the binary serves on the API listener.
#![warn(missing_docs)]
