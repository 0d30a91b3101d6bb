//! # dtls — DTLS-SRTP for the WebRTC leg (RFC 5763, RFC 5764, RFC 8842)
//!
//! ```text
//!   demux (first byte 20..=63, RFC 7983) ──► DTLS session of the call (slow path)
//!                                              │ handshake over webrtc-dtls
//!   SDP a=fingerprint (RFC 8122) ──────────────┤ peer certificate checked (RFC 5763 §5)
//!   SDP a=setup → DtlsRole (RFC 8842 §5)  ─────┘
//!                                              ▼
//!                    EXTRACTOR-dtls_srtp (RFC 5764 §4.2) → two SrtpContexts
//! ```
//!
//! | file | what |
//! | --- | --- |
//! | `mod.rs` | [`DtlsCertificate`], the SDP fingerprint ([`format_sdp_fingerprint`], [`Fingerprint`]), [`DtlsRole`], [`DtlsError`], [`DtlsCounters`] |
//! | `session.rs` | [`DtlsSession`]: the per-call session (`new` → `handle_datagram`* → `start(DtlsParams)` → `next_output`/`poll_output` → [`DtlsOutput`]: `Transmit` or [`DtlsEvent`] `Connected(DtlsKeys)` / `Failed` / `Closed`) |
//! | `conn.rs` | the webrtc-util `Conn` over bounded channels that webrtc-dtls runs on |
//! | `record.rs` | the RFC 6347 §4.1 framing check applied to every datagram before the library sees it |
//!
//! Usage by a driver (the media worker's slow path):
//!
//! ```text
//!  let mut s = DtlsSession::new(cert.clone());          // at leg allocation
//!  s.handle_datagram(dtls_bytes);                       // from demux; held until start
//!  s.start(DtlsParams::new(role, Fingerprint::parse_sdp(fp)?))?;  // SDP answer processed
//!  while let Some(out) = s.next_output().await { Transmit → socket, Event → call }
//! ```
#![forbid(unsafe_code)]

mod conn;
mod record;
mod session;

pub use session::{
    DtlsEvent, DtlsKeys, DtlsOutput, DtlsParams, DtlsSession, DEFAULT_HANDSHAKE_TIMEOUT,
    DEFAULT_PROFILES, MAX_DTLS_DATAGRAM_LEN, MAX_HELD_DATAGRAMS,
};

use sha2::{Digest, Sha256};

use crate::srtp::{SrtpError, SrtpSuite};

/// Which side of the DTLS handshake we play, from the SDP offer/answer (RFC 8842 §5):
/// `a=setup:active` on our side → [`DtlsRole::Client`], `passive` → [`DtlsRole::Server`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DtlsRole {
    /// We send the ClientHello (`a=setup:active`).
    Client,
    /// We wait for the peer's ClientHello (`a=setup:passive`).
    Server,
}

/// Errors of the DTLS-SRTP layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DtlsError {
    /// The peer's certificate does not hash to the SDP `a=fingerprint` (RFC 5763 §5).
    #[error("peer certificate does not match the SDP fingerprint")]
    FingerprintMismatch,
    /// The SDP `a=fingerprint` value could not be parsed, or uses a hash we do not support.
    #[error("unsupported or malformed SDP fingerprint: {0}")]
    BadFingerprint(String),
    /// The peer presented no certificate.
    #[error("peer presented no certificate")]
    NoPeerCertificate,
    /// The certificate could not be generated or loaded.
    #[error("certificate: {0}")]
    Certificate(String),
    /// The handshake failed for another reason (the DTLS library's message).
    #[error("DTLS handshake failed: {0}")]
    Handshake(String),
    /// The handshake did not complete within `DtlsParams::handshake_timeout`.
    #[error("DTLS handshake timed out")]
    HandshakeTimeout,
    /// No SRTP protection profile in common, or the peer sent no use_srtp
    /// (RFC 5764 §4.1.1).
    #[error("no SRTP protection profile in common with the peer")]
    NoSrtpProfile,
    /// A configured suite has no DTLS-SRTP profile webrtc-dtls supports.
    #[error("{0} cannot be negotiated over DTLS-SRTP")]
    UnsupportedProfile(SrtpSuite),
    /// `DtlsSession::start` was called twice.
    #[error("DTLS session already started")]
    AlreadyStarted,
    /// `DtlsSession::start` was called outside a tokio runtime.
    #[error("DTLS session started outside a tokio runtime")]
    NoRuntime,
    /// The exported keys could not build SRTP contexts.
    #[error("SRTP keys from DTLS: {0}")]
    Srtp(#[from] SrtpError),
}

/// Counters of the DTLS layer, read by the metrics exporter (plain fields, like
/// `ice::IceCounters`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DtlsCounters {
    /// Handshakes that completed with SRTP keys.
    pub handshakes_ok: u64,
    /// Handshakes refused because of a fingerprint mismatch.
    pub handshakes_failed_fingerprint: u64,
    /// Handshakes that failed for another reason.
    pub handshakes_failed_other: u64,
    /// Sum of successful handshake durations, in microseconds.
    pub handshake_micros_total: u64,
    /// DTLS datagrams dropped before the library saw them (counted per datagram):
    /// malformed framing, stray after establishment, over the hold bound before `start`,
    /// or a full queue. Records that pass the framing check but fail the library's MAC
    /// check are discarded by webrtc-dtls without a count.
    pub records_dropped: u64,
}

/// Formats a SHA-256 certificate fingerprint for SDP (RFC 8122 §5):
/// `sha-256 AB:CD:…`, upper-case hex pairs separated by colons.
pub fn format_sdp_fingerprint(cert_der: &[u8]) -> String {
    let digest = Sha256::digest(cert_der);
    let hex: Vec<String> = digest.iter().map(|b| format!("{b:02X}")).collect();
    format!("sha-256 {}", hex.join(":"))
}

/// A parsed SDP `a=fingerprint` value (only `sha-256`, the hash every browser uses).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    sha256: [u8; 32],
}

impl Fingerprint {
    /// Parses `sha-256 AB:CD:…` (hash name case-insensitive, RFC 8122 §5).
    pub fn parse_sdp(value: &str) -> Result<Self, DtlsError> {
        let bad = || DtlsError::BadFingerprint(value.to_owned());
        let (hash, hex) = value.trim().split_once(' ').ok_or_else(bad)?;
        if !hash.eq_ignore_ascii_case("sha-256") {
            return Err(bad());
        }
        let mut sha256 = [0u8; 32];
        let mut n = 0;
        for pair in hex.trim().split(':') {
            let byte = u8::from_str_radix(pair, 16).map_err(|_| bad())?;
            if pair.len() != 2 || n == 32 {
                return Err(bad());
            }
            sha256[n] = byte;
            n += 1;
        }
        if n != 32 {
            return Err(bad());
        }
        Ok(Self { sha256 })
    }

    /// Checks a peer certificate (DER) against this fingerprint (RFC 5763 §5).
    pub fn verify(&self, cert_der: &[u8]) -> Result<(), DtlsError> {
        let digest = Sha256::digest(cert_der);
        if digest.as_slice() == self.sha256.as_slice() {
            Ok(())
        } else {
            Err(DtlsError::FingerprintMismatch)
        }
    }
}

/// Our DTLS certificate: ECDSA P-256, self-signed, generated at start (RFC 8827 §6.5).
#[derive(Clone)]
pub struct DtlsCertificate {
    inner: webrtc_dtls::crypto::Certificate,
    fingerprint: String,
}

impl std::fmt::Debug for DtlsCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DtlsCertificate")
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

impl DtlsCertificate {
    /// Generates a fresh ECDSA P-256 self-signed certificate.
    pub fn generate() -> Result<Self, DtlsError> {
        // rcgen's simple self-signed certificate is ECDSA P-256 with SHA-256.
        let inner =
            webrtc_dtls::crypto::Certificate::generate_self_signed(vec!["rtcgate".to_owned()])
                .map_err(|e| DtlsError::Certificate(e.to_string()))?;
        let der = inner
            .certificate
            .first()
            .ok_or_else(|| DtlsError::Certificate("no certificate generated".to_owned()))?;
        let fingerprint = format_sdp_fingerprint(der.as_ref());
        Ok(Self { inner, fingerprint })
    }

    /// The SDP `a=fingerprint` value of this certificate (`sha-256 AB:CD:…`).
    pub fn sdp_fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The webrtc-dtls certificate, for the session's DTLS config.
    pub(crate) fn as_webrtc(&self) -> &webrtc_dtls::crypto::Certificate {
        &self.inner
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // test code: a panic is the failure report
mod tests {
    use super::*;

    #[test]
    fn sdp_fingerprint_format_rfc8122() {
        let fp = format_sdp_fingerprint(b"any certificate bytes");
        let hex = fp.strip_prefix("sha-256 ").unwrap_or_default();
        // 32 pairs + 31 colons = 95 characters.
        assert_eq!(hex.len(), 95, "{fp}");
        for pair in hex.split(':') {
            assert_eq!(pair.len(), 2);
            assert!(pair
                .chars()
                .all(|c| c.is_ascii_digit() || ('A'..='F').contains(&c)));
        }
        let parsed = Fingerprint::parse_sdp(&fp);
        assert!(matches!(parsed, Ok(ref f) if f.verify(b"any certificate bytes").is_ok()));
        assert!(matches!(
            parsed.map(|f| f.verify(b"another certificate")),
            Ok(Err(DtlsError::FingerprintMismatch))
        ));
    }

    #[test]
    fn malformed_fingerprints_are_refused() {
        for bad in ["", "sha-1 AB:CD", "sha-256 AB:CD", "sha-256 ZZ", "sha-256"] {
            assert!(matches!(
                Fingerprint::parse_sdp(bad),
                Err(DtlsError::BadFingerprint(_))
            ));
        }
    }

    #[test]
    fn generated_certificate_has_sdp_fingerprint() {
        let cert = DtlsCertificate::generate().unwrap();
        assert_eq!(cert.sdp_fingerprint().len(), "sha-256 ".len() + 95);
    }
}
