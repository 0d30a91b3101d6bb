//! Keyed crypto primitives, scheduled once per stream: AES counter mode (RFC 3711
//! §4.1.1), AES-GCM (RFC 7714) and a prepared HMAC-SHA1 state (RFC 3711 §4.2.1).
//!
//! The AES key schedule, the GHASH key and the HMAC inner/outer pads are computed in
//! the constructors; the per-packet functions only borrow them (HMAC clones a ~200-octet
//! prepared state on the stack). Nothing here allocates.

use aes::cipher::{BlockCipherEncrypt, KeyInit};
use aes::{Aes128, Aes192, Aes256, Block};
use aes_gcm::aead::AeadInOut;
use aes_gcm::{Aes128Gcm, Aes256Gcm, Nonce, Tag};
use hmac::{Hmac, Mac};
use sha1::Sha1;

use super::SrtpError;

/// Counter blocks generated per AES call: enough to fill the AES-NI pipeline.
const CTR_BATCH: usize = 8;

/// An AES block cipher with its key schedule done.
#[derive(Clone)]
pub(crate) enum AesCtr {
    Aes128(Aes128),
    Aes192(Aes192),
    Aes256(Aes256),
}

impl AesCtr {
    pub(crate) fn new(key: &[u8]) -> Result<Self, SrtpError> {
        Ok(match key.len() {
            16 => AesCtr::Aes128(Aes128::new_from_slice(key).map_err(|_| SrtpError::BadKeyLength)?),
            24 => AesCtr::Aes192(Aes192::new_from_slice(key).map_err(|_| SrtpError::BadKeyLength)?),
            32 => AesCtr::Aes256(Aes256::new_from_slice(key).map_err(|_| SrtpError::BadKeyLength)?),
            _ => return Err(SrtpError::BadKeyLength),
        })
    }

    /// XORs the AES-CM keystream starting at counter block `iv` into `data`
    /// (RFC 3711 §4.1.1: block j is E(k_e, IV + j mod 2^128)).
    pub(crate) fn apply_keystream(&self, iv: [u8; 16], data: &mut [u8]) {
        match self {
            AesCtr::Aes128(c) => ctr_xor(c, iv, data),
            AesCtr::Aes192(c) => ctr_xor(c, iv, data),
            AesCtr::Aes256(c) => ctr_xor(c, iv, data),
        }
    }
}

fn ctr_xor<C: BlockCipherEncrypt<BlockSize = aes::cipher::consts::U16>>(
    cipher: &C,
    iv: [u8; 16],
    data: &mut [u8],
) {
    let mut counter = u128::from_be_bytes(iv);
    let mut blocks = [Block::default(); CTR_BATCH];
    for chunk in data.chunks_mut(16 * CTR_BATCH) {
        let n = chunk.len().div_ceil(16);
        for b in blocks.iter_mut().take(n) {
            *b = Block::from(counter.to_be_bytes());
            counter = counter.wrapping_add(1);
        }
        cipher.encrypt_blocks(&mut blocks[..n]);
        for (d, k) in chunk.chunks_mut(16).zip(blocks.iter()) {
            for (x, y) in d.iter_mut().zip(k.iter()) {
                *x ^= y;
            }
        }
    }
}

/// AES-GCM with the key schedule and GHASH key done (RFC 7714 uses a 12-octet IV and,
/// here, the full 16-octet tag).
#[derive(Clone)]
pub(crate) enum AesGcm {
    Aes128(Aes128Gcm),
    Aes256(Aes256Gcm),
}

impl AesGcm {
    pub(crate) fn new(key: &[u8]) -> Result<Self, SrtpError> {
        Ok(match key.len() {
            16 => {
                AesGcm::Aes128(Aes128Gcm::new_from_slice(key).map_err(|_| SrtpError::BadKeyLength)?)
            }
            32 => {
                AesGcm::Aes256(Aes256Gcm::new_from_slice(key).map_err(|_| SrtpError::BadKeyLength)?)
            }
            _ => return Err(SrtpError::BadKeyLength),
        })
    }

    /// Encrypts `data` in place and returns the tag.
    pub(crate) fn seal(
        &self,
        iv: &[u8; 12],
        aad: &[u8],
        data: &mut [u8],
    ) -> Result<[u8; 16], SrtpError> {
        let nonce = Nonce::from(*iv);
        let tag = match self {
            AesGcm::Aes128(c) => c.encrypt_inout_detached(&nonce, aad, data.into()),
            AesGcm::Aes256(c) => c.encrypt_inout_detached(&nonce, aad, data.into()),
        }
        // Only fails for inputs beyond 2^36 octets, which no datagram reaches.
        .map_err(|_| SrtpError::Truncated)?;
        Ok(tag.into())
    }

    /// Verifies `tag` over `aad` and `data`, then decrypts `data` in place; on failure
    /// `data` is untouched (the tag is checked before any keystream is applied).
    pub(crate) fn open(
        &self,
        iv: &[u8; 12],
        aad: &[u8],
        data: &mut [u8],
        tag: &[u8],
    ) -> Result<(), SrtpError> {
        let nonce = Nonce::from(*iv);
        let tag = Tag::try_from(tag).map_err(|_| SrtpError::Truncated)?;
        match self {
            AesGcm::Aes128(c) => c.decrypt_inout_detached(&nonce, aad, data.into(), &tag),
            AesGcm::Aes256(c) => c.decrypt_inout_detached(&nonce, aad, data.into(), &tag),
        }
        .map_err(|_| SrtpError::AuthFailed)
    }
}

/// HMAC-SHA1 keyed once; every packet starts from a copy of this prepared state.
#[derive(Clone)]
pub(crate) struct PreparedHmac(Hmac<Sha1>);

impl PreparedHmac {
    pub(crate) fn new(key: &[u8]) -> Result<Self, SrtpError> {
        Ok(Self(
            <Hmac<Sha1> as KeyInit>::new_from_slice(key).map_err(|_| SrtpError::BadKeyLength)?,
        ))
    }

    /// HMAC-SHA1(key, a || b), full 20 octets.
    pub(crate) fn tag(&self, a: &[u8], b: &[u8]) -> [u8; 20] {
        let mut m = self.0.clone();
        m.update(a);
        m.update(b);
        m.finalize().into_bytes().into()
    }

    /// Constant-time check of a (truncated, leftmost) tag over `a || b`.
    pub(crate) fn verify(&self, a: &[u8], b: &[u8], tag: &[u8]) -> Result<(), SrtpError> {
        let mut m = self.0.clone();
        m.update(a);
        m.update(b);
        m.verify_truncated_left(tag)
            .map_err(|_| SrtpError::AuthFailed)
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

    /// RFC 3711 Appendix B.2: AES-CM keystream, blocks 0-2 and 0xFEFF-0xFF01 of the
    /// 65282-block segment.
    #[test]
    fn rfc3711_b2_aes_cm_keystream() {
        let c = AesCtr::new(&hex("2b7e151628aed2a6abf7158809cf4f3c")).expect("16-octet key");
        let iv: [u8; 16] = hex("f0f1f2f3f4f5f6f7f8f9fafbfcfd0000")
            .try_into()
            .expect("16");
        let mut ks = vec![0u8; 65282 * 16];
        c.apply_keystream(iv, &mut ks);
        assert_eq!(
            ks[..48],
            hex("e03ead0935c95e80e166b16dd92b4eb4d23513162b02d0f72a43a2fe4a5f97ab41e95b3bb0a2e8dd477901e4fca894c0")[..]
        );
        assert_eq!(
            ks[0xfeff * 16..0xff02 * 16],
            hex("ec8cdf7398607cb0f2d21675ea9ea1e4362b7c3c6773516318a077d7fc5073ae6a2cc3787889374fbeb4c81b17ba6c44")[..]
        );
    }

    /// Counter blocks past a batch boundary and a partial last block.
    #[test]
    fn ctr_batches_match_single_blocks() {
        let c = AesCtr::new(&[7; 32]).expect("32-octet key");
        let mut long = [0u8; 16 * CTR_BATCH * 2 + 5];
        c.apply_keystream([0xff; 16], &mut long);
        let mut counter = [0xffu8; 16];
        for chunk in long.chunks(16) {
            let mut one = [0u8; 16];
            c.apply_keystream(counter, &mut one);
            assert_eq!(chunk, &one[..chunk.len()]);
            counter = u128::from_be_bytes(counter).wrapping_add(1).to_be_bytes();
        }
    }
}
