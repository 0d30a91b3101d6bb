//! ICE credentials: `a=ice-ufrag` / `a=ice-pwd` (RFC 8839 §5.4, RFC 8445 §5.3).
//!
//! ```text
//! ice-ufrag = 4*256ice-char    ice-pwd = 22*256ice-char
//! ice-char  = ALPHA / DIGIT / "+" / "/"
//! ```
//! Local credentials live inline (no heap) so an agent per call stays small; they need at
//! least 24 bits of randomness for the ufrag and 128 for the password (RFC 8445 §5.3).

use std::fmt;

use super::IceError;

/// The 64 ice-chars, indexed by 6 random bits.
const ICE_CHARS: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Characters in a local ufrag: 8 × 6 = 48 random bits (RFC 8445 §5.3 asks for ≥ 24).
pub const LOCAL_UFRAG_LEN: usize = 8;
/// Characters in a local password: 24 × 6 = 144 random bits (RFC 8445 §5.3 asks for ≥ 128).
pub const LOCAL_PWD_LEN: usize = 24;
/// Random bytes [`LocalCredentials::from_random`] consumes (6 bits of each are used).
pub const LOCAL_CREDENTIALS_RANDOM_LEN: usize = LOCAL_UFRAG_LEN + LOCAL_PWD_LEN;

fn is_ice_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'+' || b == b'/'
}

fn ascii(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).expect("invariant: local credentials are made of ASCII ice-chars")
}

/// A local ufrag, stored inline; `Copy` so events and lookup tables can carry it freely.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct LocalUfrag([u8; LOCAL_UFRAG_LEN]);

impl LocalUfrag {
    /// The ufrag as text.
    pub fn as_str(&self) -> &str {
        ascii(&self.0)
    }
}

impl fmt::Debug for LocalUfrag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LocalUfrag({})", self.as_str())
    }
}

impl fmt::Display for LocalUfrag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// This side's ufrag and password for one call (one ICE generation).
#[derive(Clone, PartialEq, Eq)]
pub struct LocalCredentials {
    ufrag: LocalUfrag,
    pwd: [u8; LOCAL_PWD_LEN],
}

impl LocalCredentials {
    /// Builds credentials from 32 random bytes supplied by the caller (from the OS RNG in
    /// production, fixed bytes in tests). The low 6 bits of each byte pick one of the 64
    /// ice-chars, so each character carries 6 uniformly random bits.
    pub fn from_random(random: &[u8; LOCAL_CREDENTIALS_RANDOM_LEN]) -> Self {
        let mut ufrag = [0u8; LOCAL_UFRAG_LEN];
        let mut pwd = [0u8; LOCAL_PWD_LEN];
        let (u, p) = random.split_at(LOCAL_UFRAG_LEN);
        for (dst, r) in ufrag.iter_mut().zip(u).chain(pwd.iter_mut().zip(p)) {
            *dst = ICE_CHARS[usize::from(r & 0x3f)];
        }
        LocalCredentials {
            ufrag: LocalUfrag(ufrag),
            pwd,
        }
    }

    /// The ufrag, for `a=ice-ufrag` and the demultiplexer's table.
    pub fn ufrag(&self) -> LocalUfrag {
        self.ufrag
    }

    /// The password, for `a=ice-pwd`; also the MESSAGE-INTEGRITY key of checks we answer.
    pub fn pwd(&self) -> &str {
        ascii(&self.pwd)
    }
}

impl fmt::Debug for LocalCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalCredentials")
            .field("ufrag", &self.ufrag.as_str())
            .field("pwd", &"<redacted>")
            .finish()
    }
}

/// The browser's ufrag and password, from its SDP.
#[derive(Clone, PartialEq, Eq)]
pub struct RemoteCredentials {
    ufrag: Box<str>,
    pwd: Box<str>,
}

impl RemoteCredentials {
    /// Checks the RFC 8839 §5.4 grammar: ufrag 4-256 ice-chars, pwd 22-256 ice-chars.
    pub fn new(ufrag: &str, pwd: &str) -> Result<Self, IceError> {
        let ok = |s: &str, min: usize| (min..=256).contains(&s.len()) && s.bytes().all(is_ice_char);
        if !ok(ufrag, 4) {
            return Err(IceError::InvalidUfrag);
        }
        if !ok(pwd, 22) {
            return Err(IceError::InvalidPwd);
        }
        Ok(RemoteCredentials {
            ufrag: ufrag.into(),
            pwd: pwd.into(),
        })
    }

    /// The remote ufrag.
    pub fn ufrag(&self) -> &str {
        &self.ufrag
    }

    /// The remote password. A lite agent never sends checks, so it only matters for
    /// telling an ICE restart (RFC 8445 §9) from a re-offer.
    pub fn pwd(&self) -> &str {
        &self.pwd
    }
}

impl fmt::Debug for RemoteCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteCredentials")
            .field("ufrag", &self.ufrag)
            .field("pwd", &"<redacted>")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_credentials_are_rfc8839_ice_chars() {
        for seed in 0..=255u8 {
            let random: [u8; 32] =
                std::array::from_fn(|i| seed.wrapping_mul(31).wrapping_add(i as u8 * 7));
            let c = LocalCredentials::from_random(&random);
            assert_eq!(c.ufrag().as_str().len(), LOCAL_UFRAG_LEN);
            assert_eq!(c.pwd().len(), LOCAL_PWD_LEN);
            assert!(RemoteCredentials::new(c.ufrag().as_str(), c.pwd()).is_ok());
        }
        let a = LocalCredentials::from_random(&[0; 32]);
        let b = LocalCredentials::from_random(&[1; 32]);
        assert_ne!(a, b);
        assert_eq!(a.ufrag().as_str(), "AAAAAAAA");
        assert!(
            !format!("{a:?}").contains(a.pwd()),
            "Debug must not print the password"
        );
    }

    #[test]
    fn remote_credentials_grammar() {
        assert!(RemoteCredentials::new("abcd", "0123456789012345678901").is_ok());
        assert_eq!(
            RemoteCredentials::new("abc", "0123456789012345678901"),
            Err(IceError::InvalidUfrag)
        );
        assert_eq!(
            RemoteCredentials::new("ab:d", "0123456789012345678901"),
            Err(IceError::InvalidUfrag)
        );
        assert_eq!(
            RemoteCredentials::new("abcd", "short"),
            Err(IceError::InvalidPwd)
        );
        assert_eq!(
            RemoteCredentials::new("abcd", &"x".repeat(257)),
            Err(IceError::InvalidPwd)
        );
    }
}
