//! The one error type of the SRTP layer.

use crate::rtp::RtpError;

/// Why an SRTP/SRTCP operation failed.
///
/// Every variant leaves the context exactly as it was before the call (RFC 3711 §3.3:
/// state is updated only after a packet authenticates). `unprotect` leaves the
/// caller's buffer unmodified on error, with one exception: `AuthFailed` on the AEAD
/// suites, where the GCM backend has overwritten the payload (it decrypts while it
/// authenticates, then clears what failed). The data path drops the packet and counts the
/// variant; none of them ends a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SrtpError {
    /// The packet is shorter than its header plus the trailer/tag the suite needs.
    #[error("packet truncated")]
    Truncated,
    /// The RTP/RTCP version field is not 2.
    #[error("RTP/RTCP version {0} is not 2")]
    BadVersion(u8),
    /// The authentication tag does not verify (or the AEAD tag is wrong).
    #[error("authentication failed")]
    AuthFailed,
    /// The packet index was already received (RFC 3711 §3.3.2).
    #[error("replayed packet")]
    Replayed,
    /// The packet index is older than the replay window (RFC 3711 §3.3.2).
    #[error("packet older than the replay window")]
    TooOld,
    /// Master Key Identifiers (RFC 3711 §3.1) are not supported; configure the peer
    /// without MKI (`a=crypto` without `|MKI:len`).
    #[error("MKI is not supported")]
    MkiUnsupported,
    /// The caller's buffer has no room for the authentication tag / SRTCP trailer.
    #[error("buffer too small: need {needed} octets, have {available}")]
    BufferTooSmall {
        /// Octets the output needs.
        needed: usize,
        /// Octets the buffer has.
        available: usize,
    },
    /// A key or salt has the wrong length for the suite.
    #[error("wrong key or salt length for the suite")]
    BadKeyLength,
    /// The replay window size is below the RFC 3711 §3.3.2 minimum of 64.
    #[error("replay window of {0} packets is below the minimum of 64")]
    WindowTooSmall(usize),
    /// The stream's 48-bit SRTP index or 31-bit SRTCP index is exhausted; the keys must
    /// be renewed (RFC 3711 §9.2).
    #[error("SRTP/SRTCP index exhausted; re-key")]
    IndexExhausted,
    /// The packet belongs to an ingress SSRC epoch before the current one, or precedes
    /// the first packet of the current epoch; re-originating it would reuse an egress
    /// sequence number (see [`super::ReOriginator`]).
    #[error("packet precedes the current SSRC epoch")]
    StaleEpoch,
}

impl From<RtpError> for SrtpError {
    fn from(e: RtpError) -> Self {
        match e {
            RtpError::BadVersion(v) => SrtpError::BadVersion(v),
            // RtpError is non_exhaustive only toward other crates; every other cause is a
            // header that does not fit.
            RtpError::Truncated => SrtpError::Truncated,
        }
    }
}
