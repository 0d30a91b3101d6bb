//! Randomness and SDES key material of the media engine: ICE credentials, SDES master
//! keys (RFC 4568 §6.1 `inline:` key ‖ salt, base64 per RFC 4648 §4), RTP re-origination
//! starting points (RFC 3550 §5.1), all from the OS CSPRNG.

use media_plane::ice::{LocalCredentials, LOCAL_CREDENTIALS_RANDOM_LEN};
use media_plane::srtp::{ReOriginator, SrtpConfig, SrtpContext, SrtpSuite};

use crate::media::MediaError;
use crate::sdp::{Crypto, CryptoSuite};

/// SDES suites the IMS leg offers, in preference order: AES_CM_128_HMAC_SHA1_80 first
/// (what every IMS network supports), then the AEAD suites (RFC 7714) the SDP module knows.
pub(super) const OFFERED_SUITES: [CryptoSuite; 3] = [
    CryptoSuite::AesCm128HmacSha1_80,
    CryptoSuite::AeadAes128Gcm,
    CryptoSuite::AeadAes256Gcm,
];

/// Fills `buf` from the OS CSPRNG. A failing OS RNG is a temporary refusal (503), never a
/// weak key.
pub(super) fn random(buf: &mut [u8]) -> Result<(), MediaError> {
    getrandom::fill(buf).map_err(|e| {
        tracing::error!(error = %e, "OS random source failed");
        MediaError::Busy
    })
}

/// Fresh local ICE credentials: 8-character ufrag, 24-character password (48 and 144
/// random bits; RFC 8445 §5.3 asks for at least 24 and 128).
pub(super) fn ice_credentials() -> Result<LocalCredentials, MediaError> {
    let mut r = [0u8; LOCAL_CREDENTIALS_RANDOM_LEN];
    random(&mut r)?;
    Ok(LocalCredentials::from_random(&r))
}

/// A re-originator with a random SSRC, first sequence number and timestamp.
pub(super) fn reoriginator() -> Result<ReOriginator, MediaError> {
    let mut r = [0u8; 10];
    random(&mut r)?;
    let ssrc = u32::from_be_bytes([r[0], r[1], r[2], r[3]]);
    let seq = u16::from_be_bytes([r[4], r[5]]);
    let ts = u32::from_be_bytes([r[6], r[7], r[8], r[9]]);
    Ok(ReOriginator::new(ssrc, seq, ts))
}

/// The SRTP engine's suite for an SDES suite.
pub(super) fn srtp_suite(suite: CryptoSuite) -> Option<SrtpSuite> {
    SrtpSuite::from_sdes_name(suite.as_str())
}

/// One fresh master key ‖ salt per offered suite, base64 (the `inline:` value).
pub(super) fn sdes_keys() -> Result<Vec<(CryptoSuite, String)>, MediaError> {
    OFFERED_SUITES
        .iter()
        .filter_map(|&s| srtp_suite(s).map(|srtp| (s, srtp)))
        .map(|(s, srtp)| {
            let mut key = vec![0u8; srtp.key_len() + srtp.salt_len()];
            random(&mut key)?;
            Ok((s, base64_encode(&key)))
        })
        .collect()
}

/// An SRTP context from one `a=crypto` line's master key and salt.
pub(super) fn srtp_context(crypto: &Crypto) -> Result<SrtpContext, MediaError> {
    let refused = |why: &str| MediaError::Refused(format!("{}: {why}", crypto.suite.as_str()));
    let suite = srtp_suite(crypto.suite).ok_or_else(|| refused("suite not supported"))?;
    let material = base64_decode(&crypto.key_b64).ok_or_else(|| refused("key is not base64"))?;
    if material.len() != suite.key_len() + suite.salt_len() {
        return Err(refused("wrong key length"));
    }
    let (key, salt) = material.split_at(suite.key_len());
    SrtpContext::new(suite, key, salt, SrtpConfig::default()).map_err(|e| refused(&e.to_string()))
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// RFC 4648 §4 base64 with padding.
pub(super) fn base64_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(B64[((n >> (18 - 6 * i)) & 0x3f) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// RFC 4648 §4 base64, padding optional (RFC 4568 keys are written with or without it).
pub(super) fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let text = text.trim_end_matches('=');
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0u32;
    for c in text.bytes() {
        let v = B64.iter().position(|&b| b == c)?;
        acc = (acc << 6) | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    // RFC 4648 §3.5: a single leftover character cannot encode a byte.
    (bits < 6).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4648 §10 test vectors.
    #[test]
    fn rfc4648_base64_vectors() {
        let vectors = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, encoded) in vectors {
            assert_eq!(base64_encode(plain.as_bytes()), encoded);
            assert_eq!(base64_decode(encoded).unwrap(), plain.as_bytes());
        }
        assert_eq!(base64_decode("Zm9vYg").unwrap(), b"foob", "unpadded");
        assert_eq!(base64_decode("Z"), None, "one leftover character");
        assert_eq!(base64_decode("Zm9*"), None, "not base64");
    }

    #[test]
    fn sdes_keys_have_each_suites_length_and_differ() {
        let a = sdes_keys().unwrap();
        let b = sdes_keys().unwrap();
        assert_eq!(a[0].0, CryptoSuite::AesCm128HmacSha1_80, "offered first");
        assert_eq!(a[0].1.len(), 40, "30 octets of key and salt");
        for (suite, key) in &a {
            let c = Crypto {
                tag: 1,
                suite: *suite,
                key_b64: key.clone(),
            };
            srtp_context(&c).unwrap();
        }
        assert_ne!(a, b);
        let short = Crypto {
            tag: 1,
            suite: CryptoSuite::AesCm128HmacSha1_80,
            key_b64: "Zm9v".into(),
        };
        assert!(matches!(srtp_context(&short), Err(MediaError::Refused(_))));
    }
}
