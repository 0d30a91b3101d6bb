//! SRTP key derivation (RFC 3711 §4.3) with the AES-CM PRF and a key derivation rate of 0.
//!
//! ```text
//! key_id = label || r,  r = index DIV kdr = 0 when kdr = 0      (RFC 3711 §4.3.1)
//! x      = key_id XOR master_salt   (key_id right-aligned in the 112-bit salt)
//! out    = AES-CM(master_key, IV = x * 2^16), first n octets    (RFC 3711 §4.3.3)
//! ```
//!
//! The AEAD suites use the same PRF with the 96-bit master salt right-padded with two
//! zero octets, and keep the first 96 bits of the derived salt (RFC 7714 §11).

use super::cipher::AesCtr;
use super::{SrtpError, SrtpSuite};

/// RFC 3711 §4.3.2 key derivation labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Label {
    RtpEncryption = 0x00,
    RtpAuth = 0x01,
    RtpSalt = 0x02,
    RtcpEncryption = 0x03,
    RtcpAuth = 0x04,
    RtcpSalt = 0x05,
}

/// Session keys for one of SRTP or SRTCP, held inline (no heap).
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct SessionKeyMaterial {
    pub(crate) key: [u8; 32],
    pub(crate) key_len: usize,
    pub(crate) salt: [u8; 14],
    pub(crate) auth: [u8; 20],
}

impl std::fmt::Debug for SessionKeyMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.write_str("SessionKeyMaterial(..)")
    }
}

impl SessionKeyMaterial {
    pub(crate) fn key(&self) -> &[u8] {
        &self.key[..self.key_len]
    }

    /// Loads session keys given directly (e.g. test vectors that publish session keys).
    pub(crate) fn from_parts(
        suite: SrtpSuite,
        key: &[u8],
        salt: &[u8],
        auth: &[u8],
    ) -> Result<Self, SrtpError> {
        if key.len() != suite.key_len()
            || salt.len() != suite.salt_len()
            || auth.len() != suite.auth_key_len()
        {
            return Err(SrtpError::BadKeyLength);
        }
        let mut m = SessionKeyMaterial {
            key: [0; 32],
            key_len: key.len(),
            salt: [0; 14],
            auth: [0; 20],
        };
        m.key[..key.len()].copy_from_slice(key);
        m.salt[..salt.len()].copy_from_slice(salt);
        m.auth[..auth.len()].copy_from_slice(auth);
        Ok(m)
    }
}

/// The PRF keyed with a master key and salt.
pub(crate) struct Kdf {
    prf: AesCtr,
    salt: [u8; 14],
}

impl Kdf {
    pub(crate) fn new(
        suite: SrtpSuite,
        master_key: &[u8],
        master_salt: &[u8],
    ) -> Result<Self, SrtpError> {
        if master_key.len() != suite.key_len() || master_salt.len() != suite.salt_len() {
            return Err(SrtpError::BadKeyLength);
        }
        let mut salt = [0u8; 14];
        // RFC 7714 §11: a 96-bit master salt is padded with two zero octets on the right.
        salt[..master_salt.len()].copy_from_slice(master_salt);
        Ok(Self {
            prf: AesCtr::new(master_key)?,
            salt,
        })
    }

    /// Fills `out` with PRF output for `label` (RFC 3711 §4.3.1, §4.3.3).
    pub(crate) fn derive(&self, label: Label, out: &mut [u8]) {
        let mut iv = [0u8; 16];
        iv[..14].copy_from_slice(&self.salt);
        // key_id = label || r (48 bits, zero for kdr 0) sits in octets 7..14 of x.
        iv[7] ^= label as u8;
        out.fill(0);
        self.prf.apply_keystream(iv, out);
    }

    /// Session keys for SRTP (`rtcp == false`) or SRTCP.
    pub(crate) fn session(&self, suite: SrtpSuite, rtcp: bool) -> SessionKeyMaterial {
        let (enc, auth, salt) = if rtcp {
            (Label::RtcpEncryption, Label::RtcpAuth, Label::RtcpSalt)
        } else {
            (Label::RtpEncryption, Label::RtpAuth, Label::RtpSalt)
        };
        let mut m = SessionKeyMaterial {
            key: [0; 32],
            key_len: suite.key_len(),
            salt: [0; 14],
            auth: [0; 20],
        };
        self.derive(enc, &mut m.key[..suite.key_len()]);
        self.derive(salt, &mut m.salt[..suite.salt_len()]);
        self.derive(auth, &mut m.auth[..suite.auth_key_len()]);
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("test hex"))
            .collect()
    }

    /// RFC 3711 Appendix B.3: key derivation test vectors.
    #[test]
    fn rfc3711_b3_key_derivation() {
        let kdf = Kdf::new(
            SrtpSuite::AesCm128HmacSha1_80,
            &hex("e1f97a0d3e018be0d64fa32c06de4139"),
            &hex("0ec675ad498afeebb6960b3aabe6"),
        )
        .expect("B.3 lengths");
        let mut k_e = [0u8; 16];
        kdf.derive(Label::RtpEncryption, &mut k_e);
        assert_eq!(k_e[..], hex("c61e7a93744f39ee10734afe3ff7a087")[..]);
        let mut k_s = [0u8; 14];
        kdf.derive(Label::RtpSalt, &mut k_s);
        assert_eq!(k_s[..], hex("30cbbc08863d8c85d49db34a9ae1")[..]);
        let mut k_a = [0u8; 94];
        kdf.derive(Label::RtpAuth, &mut k_a);
        assert_eq!(
            k_a[..],
            hex(concat!(
                "cebe321f6ff7716b6fd4ab49af256a156d38baa48f0a0acf3c34e2359e6cdbce",
                "e049646c43d9327ad175578ef7227098",
                "6371c10c9a369ac2f94a8c5fbcdddc256d6e919a48b610ef17c2041e47403576",
                "6b68642c59bbfc2f34db60dbdfb2"
            ))[..]
        );
    }
}
