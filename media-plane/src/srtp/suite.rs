//! SRTP protection profiles / SDES crypto suites and their parameters.
//!
//! | suite | RFC | cipher | master key/salt | SRTP tag | SRTCP tag |
//! | --- | --- | --- | --- | --- | --- |
//! | `AES_CM_128_HMAC_SHA1_80` | 3711, 4568 | AES-128-CM | 16 / 14 | 10 | 10 |
//! | `AES_CM_128_HMAC_SHA1_32` | 3711, 4568 | AES-128-CM | 16 / 14 | 4 | 10 |
//! | `AES_192_CM_HMAC_SHA1_80` | 6188 | AES-192-CM | 24 / 14 | 10 | 10 |
//! | `AES_256_CM_HMAC_SHA1_80` | 6188 | AES-256-CM | 32 / 14 | 10 | 10 |
//! | `AES_256_CM_HMAC_SHA1_32` | 6188 | AES-256-CM | 32 / 14 | 4 | 10 |
//! | `NULL_HMAC_SHA1_80` | 3711 §4.1.3 | none | 16 / 14 | 10 | 10 |
//! | `AEAD_AES_128_GCM` | 7714 | AES-128-GCM | 16 / 12 | 16 | 16 |
//! | `AEAD_AES_256_GCM` | 7714 | AES-256-GCM | 32 / 12 | 16 | 16 |
//!
//! RFC 4568 §6.2.1 / RFC 3711 §5.2: the `_32` suites shorten only the SRTP tag; SRTCP
//! always carries the 80-bit tag.

/// An SRTP protection profile (the `a=crypto` suite name, or the DTLS-SRTP profile).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SrtpSuite {
    /// `AES_CM_128_HMAC_SHA1_80` (RFC 3711 / RFC 4568).
    AesCm128HmacSha1_80,
    /// `AES_CM_128_HMAC_SHA1_32` (RFC 3711 / RFC 4568).
    AesCm128HmacSha1_32,
    /// `AES_192_CM_HMAC_SHA1_80` (RFC 6188).
    AesCm192HmacSha1_80,
    /// `AES_256_CM_HMAC_SHA1_80` (RFC 6188).
    AesCm256HmacSha1_80,
    /// `AES_256_CM_HMAC_SHA1_32` (RFC 6188).
    AesCm256HmacSha1_32,
    /// `NULL_HMAC_SHA1_80`: authentication only, payload in clear (RFC 3711 §4.1.3).
    NullHmacSha1_80,
    /// `AEAD_AES_128_GCM` with a 16-octet tag (RFC 7714).
    AeadAes128Gcm,
    /// `AEAD_AES_256_GCM` with a 16-octet tag (RFC 7714).
    AeadAes256Gcm,
}

impl SrtpSuite {
    /// Every suite, for tests and configuration listings.
    pub const ALL: [SrtpSuite; 8] = [
        SrtpSuite::AesCm128HmacSha1_80,
        SrtpSuite::AesCm128HmacSha1_32,
        SrtpSuite::AesCm192HmacSha1_80,
        SrtpSuite::AesCm256HmacSha1_80,
        SrtpSuite::AesCm256HmacSha1_32,
        SrtpSuite::NullHmacSha1_80,
        SrtpSuite::AeadAes128Gcm,
        SrtpSuite::AeadAes256Gcm,
    ];

    /// The SDES name (RFC 4568 §6.2, RFC 6188 §7, RFC 7714 §14.2).
    pub fn sdes_name(self) -> &'static str {
        match self {
            SrtpSuite::AesCm128HmacSha1_80 => "AES_CM_128_HMAC_SHA1_80",
            SrtpSuite::AesCm128HmacSha1_32 => "AES_CM_128_HMAC_SHA1_32",
            SrtpSuite::AesCm192HmacSha1_80 => "AES_192_CM_HMAC_SHA1_80",
            SrtpSuite::AesCm256HmacSha1_80 => "AES_256_CM_HMAC_SHA1_80",
            SrtpSuite::AesCm256HmacSha1_32 => "AES_256_CM_HMAC_SHA1_32",
            SrtpSuite::NullHmacSha1_80 => "NULL_HMAC_SHA1_80",
            SrtpSuite::AeadAes128Gcm => "AEAD_AES_128_GCM",
            SrtpSuite::AeadAes256Gcm => "AEAD_AES_256_GCM",
        }
    }

    /// Parses an SDES suite name (exact, case-sensitive as RFC 4568 §9.2 writes them).
    pub fn from_sdes_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.sdes_name() == name)
    }

    /// True for the RFC 7714 AEAD suites.
    pub fn is_aead(self) -> bool {
        matches!(self, SrtpSuite::AeadAes128Gcm | SrtpSuite::AeadAes256Gcm)
    }

    /// Master (and session) encryption key length in octets. The NULL suite still
    /// derives its authentication key from a 128-bit master key.
    pub fn key_len(self) -> usize {
        match self {
            SrtpSuite::AesCm128HmacSha1_80
            | SrtpSuite::AesCm128HmacSha1_32
            | SrtpSuite::NullHmacSha1_80
            | SrtpSuite::AeadAes128Gcm => 16,
            SrtpSuite::AesCm192HmacSha1_80 => 24,
            SrtpSuite::AesCm256HmacSha1_80
            | SrtpSuite::AesCm256HmacSha1_32
            | SrtpSuite::AeadAes256Gcm => 32,
        }
    }

    /// Master (and session) salt length: 112 bits for AES-CM (RFC 3711 §4.3.3), 96 bits
    /// for AEAD (RFC 7714 §12).
    pub fn salt_len(self) -> usize {
        if self.is_aead() {
            12
        } else {
            14
        }
    }

    /// HMAC-SHA1 session authentication key length (RFC 3711 §4.3.3); 0 for AEAD.
    pub fn auth_key_len(self) -> usize {
        if self.is_aead() {
            0
        } else {
            20
        }
    }

    /// SRTP authentication tag length in octets.
    pub fn srtp_tag_len(self) -> usize {
        match self {
            SrtpSuite::AesCm128HmacSha1_32 | SrtpSuite::AesCm256HmacSha1_32 => 4,
            SrtpSuite::AeadAes128Gcm | SrtpSuite::AeadAes256Gcm => 16,
            _ => 10,
        }
    }

    /// SRTCP authentication tag length in octets (80 bits even for the `_32` suites,
    /// RFC 4568 §6.2.1).
    pub fn srtcp_tag_len(self) -> usize {
        if self.is_aead() {
            16
        } else {
            10
        }
    }

    /// Whether the suite encrypts (everything but `NULL_HMAC_SHA1_80`).
    pub fn encrypts(self) -> bool {
        self != SrtpSuite::NullHmacSha1_80
    }
}

impl std::fmt::Display for SrtpSuite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.sdes_name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sdes_names_round_trip() {
        for s in SrtpSuite::ALL {
            assert_eq!(SrtpSuite::from_sdes_name(s.sdes_name()), Some(s));
        }
        assert_eq!(SrtpSuite::from_sdes_name("aes_cm_128_hmac_sha1_80"), None);
    }

    #[test]
    fn rfc4568_srtcp_tag_is_80_bits_for_32_bit_suites() {
        assert_eq!(SrtpSuite::AesCm128HmacSha1_32.srtp_tag_len(), 4);
        assert_eq!(SrtpSuite::AesCm128HmacSha1_32.srtcp_tag_len(), 10);
        assert_eq!(SrtpSuite::AeadAes256Gcm.srtcp_tag_len(), 16);
    }
}
