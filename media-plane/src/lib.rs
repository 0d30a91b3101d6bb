//! # media-plane — everything that touches a media packet
//!
//! ```text
//!   browser (ICE-lite + DTLS-SRTP)                      IMS far end (SRTP/SDES or RTP)
//!        │ UDP                                                   ▲ UDP
//!        ▼                                                       │
//!   demux by first byte (RFC 7983) ──► STUN ──► ICE-lite agent   │
//!        │            └──────────────► DTLS ──► slow path (keys)─┤
//!        ▼ SRTP/SRTCP                                            │
//!   srtp engine: unprotect(leg A) → rewrite header → protect(leg B), in place
//! ```
//!
//! This crate knows nothing about SIP or HTTP. The call core in `sip-proxy` reaches it
//! through a media-control interface; packets never leave the worker thread that owns
//! their call.
//!
//! Entry points:
//! - [`redact`]: the one helper every layer uses to keep phone numbers, SIP URIs and IP
//!   addresses out of logs when the operator asks for it (it lives here because this is
//!   the crate every other crate already depends on).
//! - [`srtp`]: SRTP/SRTCP protect and unprotect in place, and the transcode primitive
//!   (`srtp::srtp_to_srtp`) the data path calls for every media packet; [`rtp`]: the
//!   zero-copy RTP/RTCP header views it uses.
#![warn(missing_docs)]

pub mod redact;
pub mod rtp;
pub mod srtp;
