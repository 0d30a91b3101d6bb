//! DTLS-SRTP glue (RFC 5764): protection profile numbers and the split of the exported
//! keying material into the two directions' master keys and salts.
//!
//! ```text
//! RFC 5764 §4.2, exporter label "EXTRACTOR-dtls_srtp", 2 * (key_len + salt_len) octets:
//!   client_write_SRTP_master_key | server_write_SRTP_master_key |
//!   client_write_SRTP_master_salt | server_write_SRTP_master_salt
//! ```
//!
//! The DTLS client's keys protect what the client sends; so when the gateway is the
//! DTLS server it unprotects with the client keys and protects with the server keys.

use super::{SrtpError, SrtpSuite};

/// The exporter label of RFC 5764 §4.2.
pub const DTLS_SRTP_EXPORTER_LABEL: &str = "EXTRACTOR-dtls_srtp";

impl SrtpSuite {
    /// The `SRTPProtectionProfile` number (RFC 5764 §4.1.2, RFC 7714 §14.2), for the
    /// profiles IANA registered; the AES-192/256-CM suites have none.
    pub fn dtls_profile(self) -> Option<u16> {
        match self {
            SrtpSuite::AesCm128HmacSha1_80 => Some(0x0001),
            SrtpSuite::AesCm128HmacSha1_32 => Some(0x0002),
            SrtpSuite::NullHmacSha1_80 => Some(0x0005),
            SrtpSuite::AeadAes128Gcm => Some(0x0007),
            SrtpSuite::AeadAes256Gcm => Some(0x0008),
            SrtpSuite::AesCm192HmacSha1_80
            | SrtpSuite::AesCm256HmacSha1_80
            | SrtpSuite::AesCm256HmacSha1_32 => None,
        }
    }

    /// The suite of a negotiated `SRTPProtectionProfile` number.
    pub fn from_dtls_profile(id: u16) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.dtls_profile() == Some(id))
    }

    /// Octets of keying material to export for this suite (RFC 5764 §4.2).
    pub fn dtls_keying_material_len(self) -> usize {
        2 * (self.key_len() + self.salt_len())
    }
}

/// Master key and salt of one direction, borrowed from the exported keying material.
#[derive(Clone, Copy)]
pub struct MasterKeys<'a> {
    /// Master key (`SrtpSuite::key_len` octets).
    pub key: &'a [u8],
    /// Master salt (`SrtpSuite::salt_len` octets).
    pub salt: &'a [u8],
}

impl std::fmt::Debug for MasterKeys<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKeys(..)")
    }
}

/// Splits RFC 5764 §4.2 keying material into `(client_write, server_write)`.
pub fn split_dtls_keying_material(
    suite: SrtpSuite,
    material: &[u8],
) -> Result<(MasterKeys<'_>, MasterKeys<'_>), SrtpError> {
    if material.len() != suite.dtls_keying_material_len() {
        return Err(SrtpError::BadKeyLength);
    }
    let (k, s) = (suite.key_len(), suite.salt_len());
    let (keys, salts) = material.split_at(2 * k);
    let (client_key, server_key) = keys.split_at(k);
    let (client_salt, server_salt) = salts.split_at(s);
    Ok((
        MasterKeys {
            key: client_key,
            salt: client_salt,
        },
        MasterKeys {
            key: server_key,
            salt: server_salt,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc5764_profile_numbers_round_trip() {
        assert_eq!(
            SrtpSuite::from_dtls_profile(0x0001),
            Some(SrtpSuite::AesCm128HmacSha1_80)
        );
        assert_eq!(
            SrtpSuite::from_dtls_profile(0x0008),
            Some(SrtpSuite::AeadAes256Gcm)
        );
        assert_eq!(SrtpSuite::from_dtls_profile(0x0003), None);
        for s in SrtpSuite::ALL {
            if let Some(id) = s.dtls_profile() {
                assert_eq!(SrtpSuite::from_dtls_profile(id), Some(s));
            }
        }
    }

    #[test]
    fn rfc5764_4_2_keying_material_layout() {
        let suite = SrtpSuite::AesCm128HmacSha1_80;
        // 16 + 16 key octets, then 14 + 14 salt octets, numbered 0..60.
        let material: Vec<u8> = (0..60).collect();
        let (c, s) = split_dtls_keying_material(suite, &material).expect("60 octets");
        assert_eq!((c.key[0], c.key.len()), (0, 16));
        assert_eq!((s.key[0], s.key.len()), (16, 16));
        assert_eq!((c.salt[0], c.salt.len()), (32, 14));
        assert_eq!((s.salt[0], s.salt.len()), (46, 14));
        assert_eq!(SrtpSuite::AeadAes256Gcm.dtls_keying_material_len(), 88);
        let short = split_dtls_keying_material(suite, &material[..59]);
        assert_eq!(short.err(), Some(SrtpError::BadKeyLength));
    }
}
