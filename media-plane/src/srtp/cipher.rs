//! Keyed crypto primitives, scheduled once per stream: AES counter mode (RFC 3711
//! §4.1.1), AES-GCM (RFC 7714) and a prepared HMAC-SHA1 state (RFC 3711 §4.2.1).
//!
//! The AES key schedule, the GHASH key and the HMAC inner/outer pads are computed in
//! the constructors; the per-packet functions only borrow them (HMAC starts from two
//! precomputed 20-octet SHA-1 states). Nothing here allocates.

use aes::cipher::{BlockEncrypt, KeyInit};
use aes::{Aes128Enc as Aes128, Aes192Enc as Aes192, Aes256Enc as Aes256, Block};
use ring::aead::{self, Aad, LessSafeKey, UnboundKey};

use super::SrtpError;

/// Counter blocks generated per AES call: enough to fill the AES-NI pipeline.
const CTR_BATCH: usize = 8;

/// An AES block cipher with its key schedule done. AES-128 also keeps the FIPS 197
/// round keys as octets, for the one-pass AES-CM transcode kernel
/// ([`crate::sys::cm_x2`]), which runs its own AES-NI rounds.
#[derive(Clone)]
pub(crate) enum AesCtr {
    Aes128(Aes128, RoundKeys128),
    Aes192(Aes192),
    Aes256(Aes256),
}

/// The eleven AES-128 round keys (FIPS 197 §5.2), round 0 first, each in the octet
/// order AES-NI loads them.
pub(crate) type RoundKeys128 = [[u8; 16]; 11];

impl AesCtr {
    pub(crate) fn new(key: &[u8]) -> Result<Self, SrtpError> {
        Ok(match key.len() {
            16 => {
                let cipher = Aes128::new_from_slice(key).map_err(|_| SrtpError::BadKeyLength)?;
                let mut k = [0u8; 16];
                k.copy_from_slice(key);
                AesCtr::Aes128(cipher, expand_aes128(&k))
            }
            24 => AesCtr::Aes192(Aes192::new_from_slice(key).map_err(|_| SrtpError::BadKeyLength)?),
            32 => AesCtr::Aes256(Aes256::new_from_slice(key).map_err(|_| SrtpError::BadKeyLength)?),
            _ => return Err(SrtpError::BadKeyLength),
        })
    }

    /// XORs the AES-CM keystream starting at counter block `iv` into `data`
    /// (RFC 3711 §4.1.1: block j is E(k_e, IV + j mod 2^128)).
    pub(crate) fn apply_keystream(&self, iv: [u8; 16], data: &mut [u8]) {
        match self {
            AesCtr::Aes128(c, _) => ctr_xor(c, iv, data),
            AesCtr::Aes192(c) => ctr_xor(c, iv, data),
            AesCtr::Aes256(c) => ctr_xor(c, iv, data),
        }
    }
}

impl AesCtr {
    /// The AES-128 round keys, `None` for the longer keys.
    pub(crate) fn round_keys_128(&self) -> Option<&RoundKeys128> {
        match self {
            AesCtr::Aes128(_, keys) => Some(keys),
            _ => None,
        }
    }
}

/// The AES S-box (FIPS 197 §5.1.1), computed rather than transcribed: walk the
/// multiplicative group of GF(2^8) with generator 3, so that `q` is always the inverse
/// of `p`, and apply the affine map to the inverse.
const SBOX: [u8; 256] = {
    let mut sbox = [0u8; 256];
    let (mut p, mut q) = (1u8, 1u8);
    loop {
        // p × 3 in GF(2^8) mod x^8 + x^4 + x^3 + x + 1.
        p = p ^ (p << 1) ^ if p & 0x80 != 0 { 0x1b } else { 0 };
        // q ÷ 3, i.e. q × 0xf6.
        q ^= q << 1;
        q ^= q << 2;
        q ^= q << 4;
        if q & 0x80 != 0 {
            q ^= 0x09;
        }
        let affine = q ^ q.rotate_left(1) ^ q.rotate_left(2) ^ q.rotate_left(3) ^ q.rotate_left(4);
        sbox[p as usize] = affine ^ 0x63;
        if p == 1 {
            break;
        }
    }
    // 0 has no inverse; the affine map of 0 is 0x63.
    sbox[0] = 0x63;
    sbox
};

/// AES-128 key expansion (FIPS 197 §5.2): `w[i] = w[i-4] ⊕ temp`, where every fourth
/// word's `temp` is SubWord(RotWord(w[i-1])) ⊕ Rcon.
pub(crate) fn expand_aes128(key: &[u8; 16]) -> RoundKeys128 {
    const RCON: [u8; 10] = [0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0x1b, 0x36];
    let mut w = [[0u8; 4]; 44];
    for (i, word) in key.chunks_exact(4).enumerate() {
        w[i].copy_from_slice(word);
    }
    for i in 4..44 {
        let mut temp = w[i - 1];
        if i % 4 == 0 {
            temp = [
                SBOX[temp[1] as usize] ^ RCON[i / 4 - 1],
                SBOX[temp[2] as usize],
                SBOX[temp[3] as usize],
                SBOX[temp[0] as usize],
            ];
        }
        for (j, t) in temp.iter().enumerate() {
            w[i][j] = w[i - 4][j] ^ t;
        }
    }
    let mut keys = [[0u8; 16]; 11];
    for (r, key) in keys.iter_mut().enumerate() {
        for (j, word) in w[4 * r..4 * r + 4].iter().enumerate() {
            key[4 * j..4 * j + 4].copy_from_slice(word);
        }
    }
    keys
}

fn ctr_xor<C: BlockEncrypt<BlockSize = aes::cipher::consts::U16>>(
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
            let ks: [u8; 16] = (*k).into();
            match <&mut [u8; 16]>::try_from(&mut *d) {
                Ok(full) => {
                    *full = (u128::from_ne_bytes(*full) ^ u128::from_ne_bytes(ks)).to_ne_bytes();
                }
                Err(_) => d.iter_mut().zip(ks).for_each(|(x, y)| *x ^= y),
            }
        }
    }
}

/// AES-GCM with the key schedule and GHASH key done, from `ring` (RFC 7714 uses a
/// 12-octet IV and, here, the full 16-octet tag).
#[derive(Clone)]
pub(crate) struct AesGcm(LessSafeKey);

impl AesGcm {
    pub(crate) fn new(key: &[u8]) -> Result<Self, SrtpError> {
        let alg = match key.len() {
            16 => &aead::AES_128_GCM,
            32 => &aead::AES_256_GCM,
            _ => return Err(SrtpError::BadKeyLength),
        };
        let key = UnboundKey::new(alg, key).map_err(|_| SrtpError::BadKeyLength)?;
        Ok(Self(LessSafeKey::new(key)))
    }

    /// Encrypts `data` in place and returns the tag.
    pub(crate) fn seal(
        &self,
        iv: &[u8; 12],
        aad: &[u8],
        data: &mut [u8],
    ) -> Result<[u8; 16], SrtpError> {
        let nonce = aead::Nonce::assume_unique_for_key(*iv);
        let tag = self
            .0
            .seal_in_place_separate_tag(nonce, Aad::from(aad), data)
            // Only fails for inputs beyond 2^36 octets, which no datagram reaches.
            .map_err(|_| SrtpError::Truncated)?;
        let mut out = [0u8; 16];
        out.copy_from_slice(tag.as_ref());
        Ok(out)
    }

    /// Verifies `tag` over `aad` and `data` and decrypts `data` in place. On failure
    /// `ring` overwrites `data` (it decrypts while it authenticates and then clears the
    /// unauthenticated plaintext), so the caller must drop the packet.
    pub(crate) fn open(
        &self,
        iv: &[u8; 12],
        aad: &[u8],
        data: &mut [u8],
        tag: &[u8],
    ) -> Result<(), SrtpError> {
        let nonce = aead::Nonce::assume_unique_for_key(*iv);
        let tag = aead::Tag::try_from(tag).map_err(|_| SrtpError::Truncated)?;
        self.0
            .open_in_place_separate_tag(nonce, Aad::from(aad), tag, data, 0..)
            .map(|_| ())
            .map_err(|_| SrtpError::AuthFailed)
    }
}

/// SHA-1 initial hash value (FIPS 180-4 §5.3.1).
const SHA1_H0: [u32; 5] = [
    0x6745_2301,
    0xefcd_ab89,
    0x98ba_dcfe,
    0x1032_5476,
    0xc3d2_e1f0,
];

/// HMAC-SHA1 (RFC 2104) keyed once: the SHA-1 states after the `key XOR ipad` and
/// `key XOR opad` blocks are computed here, so a packet costs only its own blocks plus
/// one outer block (4 compressions for a 172-octet RTP packet), with no hasher object
/// to clone and no buffering beyond one 64-octet stack block. The compression function
/// is the `sha1` crate's (SHA-NI when the CPU has it).
#[derive(Clone)]
pub(crate) struct PreparedHmac {
    inner: [u32; 5],
    outer: [u32; 5],
}

fn compress(state: &mut [u32; 5], block: &[u8; 64]) {
    sha1::block_api::compress(state, std::slice::from_ref(block));
}

/// SHA-1 of `a || b` continued from `state`, which has already absorbed `prefix_len`
/// octets (a whole number of blocks).
fn sha1_from(mut state: [u32; 5], prefix_len: u64, a: &[u8], b: &[u8]) -> [u8; 20] {
    let mut block = [0u8; 64];
    let mut fill = 0usize;
    for piece in [a, b] {
        let mut p = piece;
        if fill > 0 {
            let take = (64 - fill).min(p.len());
            block[fill..fill + take].copy_from_slice(&p[..take]);
            fill += take;
            p = &p[take..];
            if fill < 64 {
                continue;
            }
            compress(&mut state, &block);
        }
        while let Some((full, rest)) = p.split_first_chunk::<64>() {
            compress(&mut state, full);
            p = rest;
        }
        block[..p.len()].copy_from_slice(p);
        fill = p.len();
    }
    // FIPS 180-4 §5.1.1 padding: 0x80, zeros, 64-bit big-endian length in bits.
    let bits = (prefix_len + a.len() as u64 + b.len() as u64) * 8;
    block[fill] = 0x80;
    block[fill + 1..].fill(0);
    if fill >= 56 {
        compress(&mut state, &block);
        block.fill(0);
    }
    block[56..].copy_from_slice(&bits.to_be_bytes());
    compress(&mut state, &block);
    let mut out = [0u8; 20];
    for (o, w) in out.chunks_exact_mut(4).zip(state) {
        o.copy_from_slice(&w.to_be_bytes());
    }
    out
}

impl PreparedHmac {
    pub(crate) fn new(key: &[u8]) -> Result<Self, SrtpError> {
        // RFC 2104 §2: keys longer than the block are hashed first.
        let mut k0 = [0u8; 64];
        if key.len() > 64 {
            k0[..20].copy_from_slice(&sha1_from(SHA1_H0, 0, key, &[]));
        } else {
            k0[..key.len()].copy_from_slice(key);
        }
        let (mut inner, mut outer) = (SHA1_H0, SHA1_H0);
        let pad = |x: u8| {
            let mut b = k0;
            b.iter_mut().for_each(|v| *v ^= x);
            b
        };
        compress(&mut inner, &pad(0x36));
        compress(&mut outer, &pad(0x5c));
        Ok(Self { inner, outer })
    }

    /// The SHA-1 state after the `key XOR ipad` block.
    pub(crate) fn inner_state(&self) -> [u32; 5] {
        self.inner
    }

    /// The SHA-1 state after the `key XOR opad` block.
    pub(crate) fn outer_state(&self) -> [u32; 5] {
        self.outer
    }

    /// HMAC-SHA1(key, a || b), full 20 octets.
    pub(crate) fn tag(&self, a: &[u8], b: &[u8]) -> [u8; 20] {
        let inner = sha1_from(self.inner, 64, a, b);
        sha1_from(self.outer, 64, &inner, &[])
    }

    /// Constant-time check of a (truncated, leftmost) tag over `a || b`.
    pub(crate) fn verify(&self, a: &[u8], b: &[u8], tag: &[u8]) -> Result<(), SrtpError> {
        let full = self.tag(a, b);
        if tag.is_empty() || tag.len() > full.len() {
            return Err(SrtpError::AuthFailed);
        }
        // Accumulate every difference; no early exit on the first mismatch.
        let diff = full.iter().zip(tag).fold(0u8, |d, (x, y)| d | (x ^ y));
        if std::hint::black_box(diff) == 0 {
            Ok(())
        } else {
            Err(SrtpError::AuthFailed)
        }
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

    /// RFC 2202 §3 test cases 1, 2 and 6 (6: an 80-octet key, hashed first).
    #[test]
    fn aes_sbox_known_entries() {
        // FIPS 197 Figure 7.
        assert_eq!(SBOX[0x00], 0x63);
        assert_eq!(SBOX[0x01], 0x7c);
        assert_eq!(SBOX[0x53], 0xed);
        assert_eq!(SBOX[0xff], 0x16);
        let mut seen = [false; 256];
        for s in SBOX {
            assert!(!seen[s as usize], "the S-box is a permutation");
            seen[s as usize] = true;
        }
    }

    /// FIPS 197 Appendix A.1: the expansion of 2b7e1516 28aed2a6 abf71588 09cf4f3c.
    #[test]
    fn fips197_a1_key_expansion() {
        let key: [u8; 16] = hex("2b7e151628aed2a6abf7158809cf4f3c").try_into().unwrap();
        let keys = expand_aes128(&key);
        assert_eq!(keys[0], key);
        assert_eq!(keys[1].to_vec(), hex("a0fafe1788542cb123a339392a6c7605"));
        assert_eq!(keys[10].to_vec(), hex("d014f9a8c9ee2589e13f0cc8b6630ca6"));
    }

    #[test]
    fn rfc2202_hmac_sha1() {
        let cases: [(&[u8], &[u8], &str); 3] = [
            (
                &[0x0b; 20],
                b"Hi There",
                "b617318655057264e28bc0b6fb378c8ef146be00",
            ),
            (
                b"Jefe",
                b"what do ya want for nothing?",
                "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79",
            ),
            (
                &[0xaa; 80],
                b"Test Using Larger Than Block-Size Key - Hash Key First",
                "aa4ae5e15272d00e95705637ce8a3b55ed402112",
            ),
        ];
        for (key, data, want) in cases {
            let h = PreparedHmac::new(key).expect("any key length");
            assert_eq!(h.tag(data, &[])[..], hex(want)[..]);
            let (a, b) = data.split_at(data.len() / 2);
            assert_eq!(h.tag(a, b)[..], hex(want)[..]);
            assert_eq!(h.verify(a, b, &hex(want)[..10]), Ok(()));
            assert_eq!(
                h.verify(a, b, &hex(want)[1..11]),
                Err(SrtpError::AuthFailed)
            );
        }
    }

    /// Every length and split around the block and padding boundaries, against the
    /// `hmac` crate.
    #[test]
    fn hmac_matches_reference_at_every_boundary() {
        use hmac::{Hmac, Mac};
        let key = [0x42u8; 20];
        let h = PreparedHmac::new(&key).expect("20-octet key");
        let data: Vec<u8> = (0..200u32).map(|i| (i * 7) as u8).collect();
        for len in 0..data.len() {
            for split in [0, len / 3, len.saturating_sub(4), len] {
                let (a, b) = data[..len].split_at(split);
                let mut m = <Hmac<sha1::Sha1> as hmac::KeyInit>::new_from_slice(&key).expect("key");
                m.update(&data[..len]);
                let want: [u8; 20] = m.finalize().into_bytes().into();
                assert_eq!(h.tag(a, b), want, "len {len} split {split}");
            }
        }
    }
}
