//! # The SRTP engine (RFC 3711, RFC 7714, RFC 6188)
//!
//! ```text
//!  &mut [u8] + len ──► SrtpContext::unprotect_rtp ──► ReOriginator::rewrite ──► SrtpContext::protect_rtp_with_roc
//!   (leg A, in place)   index → replay → auth → decrypt     SSRC/seq/ts/ROC         encrypt → tag into tailroom
//! ```
//!
//! - [`SrtpContext`]: one direction of one leg. Keys are derived (RFC 3711 §4.3, KDR 0)
//!   and scheduled once; per-SSRC ROC and replay windows live in a fixed table.
//! - [`ReOriginator`] and [`srtp_to_srtp`], [`srtp_to_rtp`], [`rtp_to_srtp`]: the
//!   transcode primitive of the media plane.
//! - [`SrtpError`]: the one error type of the layer.
//! - [`fuzz::unprotect_any`]: the fuzz target body.
//!
//! Nothing here allocates per packet (`tests/srtp_zero_alloc.rs` counts), copies the
//! payload, reads a clock or panics on peer bytes. MKI is not supported
//! ([`SrtpError::MkiUnsupported`]).
//!
//! ## Crypto backend: RustCrypto, chosen by measurement
//!
//! AES-CM uses the `aes` crate's block cipher with our own 8-block counter batching,
//! HMAC-SHA1 the `hmac`/`sha1` crates, AES-GCM the `aes-gcm` crate. All three pick
//! AES-NI, SHA-NI and PCLMULQDQ at run time (`cpufeatures`), with portable fallbacks;
//! nothing is compiled with `target-cpu=native`. `hmac`/`sha1` were already in the
//! crate for STUN, so SRTP and STUN share one SHA-1.
//!
//! MEASUREMENTS_GO_HERE

mod cipher;
mod context;
pub mod fuzz;
mod kdf;
mod replay;
mod stream;
mod suite;
mod transcode;

mod error;

pub use context::{SessionKeys, SrtpConfig, SrtpContext, SRTCP_TRAILER_LEN};
pub use error::SrtpError;
pub use replay::{DEFAULT_REPLAY_WINDOW, MIN_REPLAY_WINDOW};
pub use suite::SrtpSuite;
pub use transcode::{rtp_to_srtp, srtp_to_rtp, srtp_to_srtp, ReOriginator};

#[cfg(test)]
mod tests;
