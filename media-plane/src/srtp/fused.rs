//! The AES-CM → AES-CM transcode in one pass over the packet (both legs
//! AES_CM_*_HMAC_SHA1_*), the common case toward SDES-SRTP IMS cores.
//!
//! ```text
//! buf:  header | payload C (leg A ciphertext)              | tag A
//!          │          │
//!          │          ├─ lane A: HMAC_A(header_A ‖ C ‖ ROC_A)          ─► compare with tag A
//!          │          └─ C' = C ⊕ KS_A ⊕ KS_B (in place, 64 octets at a time)
//!          └─ header rewritten for leg B
//!                     └─ lane B: HMAC_B(header_B ‖ C' ‖ ROC_B)          ─► tag B
//! ```
//!
//! Re-encrypting is `P = C ⊕ KS_A`, `C' = P ⊕ KS_B`, so `C' = C ⊕ (KS_A ⊕ KS_B)`: the two
//! keystreams need only the two IVs, and the two HMACs are independent chains of the same
//! length. Their SHA-1 blocks run side by side ([`crate::sys::sha1x2`]), which halves
//! the cost that dominates an AES-CM packet (8 latency-bound SHA-1 blocks).
//!
//! RFC 3711 §3.3 order is kept where it matters: the index and the replay check come
//! before any crypto, and no state (ROC, replay window, re-originator, egress index)
//! changes unless tag A verifies. The keystream XOR is computed alongside the
//! authentication instead of after it; if tag A fails, the XOR and the header rewrite
//! are undone, so the buffer is as it came in, and nothing of the unauthenticated
//! plaintext was ever exposed (`buf` only ever held C or C').

use aes::Block;

use super::cipher::{AesCtr, PreparedHmac};
use super::context::{cm_iv, rtp_fields};
use super::transcode::ReOriginator;
use super::{SrtpContext, SrtpError};
use crate::sys::sha1x2::compress2;

/// Octets of the RTP fixed header (RFC 3550 §5.1), the part the re-originator rewrites.
const FIXED_HEADER: usize = 12;
/// Counter blocks per refill: the AES-NI pipeline depth of `aes`.
const BATCH: usize = 8;
/// Counter blocks made before the first window: its 64 octets, less the header.
const FIRST_BATCH: usize = 4;

/// `KS_A ⊕ KS_B` laid out at the packet offsets it applies to (the payload starts at
/// `hdr_len`), in a ring of `RING` octets indexed by packet offset modulo `RING`. The
/// next batch is generated ahead of the SHA-1 work of the current window, so the CPU
/// overlaps the two (different units, no shared data).
struct DualKeystream<'a> {
    a: &'a AesCtr,
    b: &'a AesCtr,
    ctr_a: u128,
    ctr_b: u128,
    ring: [u8; RING],
    /// Packet offset up to which keystream has been generated.
    produced: usize,
    /// End of the payload (packet offset).
    end: usize,
}

/// Four 64-octet windows: room for the window in use and a batch ahead.
const RING: usize = 256;

impl<'a> DualKeystream<'a> {
    fn new(
        a: (&'a AesCtr, [u8; 16]),
        b: (&'a AesCtr, [u8; 16]),
        hdr_len: usize,
        end: usize,
    ) -> Self {
        let mut ks = Self {
            a: a.0,
            b: b.0,
            ctr_a: u128::from_be_bytes(a.1),
            ctr_b: u128::from_be_bytes(b.1),
            ring: [0; RING],
            produced: hdr_len,
            end,
        };
        // Only what the first window needs: this batch cannot overlap any SHA-1 work.
        ks.generate(FIRST_BATCH);
        ks
    }

    /// Generates the next batch if keystream is left to make and the ring has room
    /// for it beyond `consumed` (the packet offset up to which it has been used).
    fn prefetch(&mut self, consumed: usize) {
        if self.produced + 16 * BATCH <= consumed + RING {
            self.generate(BATCH);
        }
    }

    /// Generates up to `batch` more blocks (of each keystream).
    fn generate(&mut self, batch: usize) {
        if self.produced >= self.end {
            return;
        }
        let n = (self.end - self.produced).div_ceil(16).min(batch);
        let mut ka = [Block::default(); BATCH];
        let mut kb = [Block::default(); BATCH];
        for (x, y) in ka.iter_mut().zip(kb.iter_mut()).take(n) {
            *x = Block::from(self.ctr_a.to_be_bytes());
            *y = Block::from(self.ctr_b.to_be_bytes());
            // RFC 3711 §4.1.1: the counter runs modulo 2^128.
            self.ctr_a = self.ctr_a.wrapping_add(1);
            self.ctr_b = self.ctr_b.wrapping_add(1);
        }
        self.a.encrypt_blocks(&mut ka[..n]);
        self.b.encrypt_blocks(&mut kb[..n]);
        for (x, y) in ka.iter().zip(&kb).take(n) {
            let v =
                (u128::from_ne_bytes((*x).into()) ^ u128::from_ne_bytes((*y).into())).to_ne_bytes();
            let at = self.produced % RING;
            if let Some(slot) = self.ring.get_mut(at..at + 16) {
                slot.copy_from_slice(&v);
            } else {
                // The block straddles the end of the ring.
                let first = RING - at;
                self.ring[at..].copy_from_slice(&v[..first]);
                self.ring[..16 - first].copy_from_slice(&v[first..]);
            }
            self.produced += 16;
        }
    }

    /// The keystream at packet offsets `off..off + 16` (`off` a multiple of 16, at
    /// most `end`), as a little-endian `u128`; octets before the payload are zero on
    /// the first lap of the ring, octets past `end` are whatever the ring holds (the
    /// caller masks them).
    #[inline]
    fn chunk(&mut self, off: usize) -> u128 {
        if self.produced < (off + 16).min(self.end) {
            self.catch_up(off);
        }
        let at = off % RING;
        u128::from_le_bytes(self.ring[at..at + 16].try_into().unwrap_or([0; 16]))
    }

    #[cold]
    fn catch_up(&mut self, off: usize) {
        while self.produced < (off + 16).min(self.end) {
            self.prefetch(off);
        }
    }

    /// XORs the keystream for packet offsets `from..from + dst.len()` into `dst`.
    /// The range lies within one 64-octet window, so it never wraps the ring.
    fn apply(&mut self, from: usize, dst: &mut [u8]) {
        while self.produced < from + dst.len() {
            self.prefetch(from);
        }
        let at = from % RING;
        xor(dst, &self.ring[at..at + dst.len()]);
    }
}

/// `dst ^= src`, sixteen octets at a time.
fn xor(dst: &mut [u8], src: &[u8]) {
    let mut d = dst.chunks_exact_mut(16);
    let mut s = src.chunks_exact(16);
    for (d, s) in (&mut d).zip(&mut s) {
        let (Ok(dd), Ok(ss)) = (<&mut [u8; 16]>::try_from(d), <&[u8; 16]>::try_from(s)) else {
            unreachable!("chunks_exact yields 16 octets");
        };
        *dd = (u128::from_ne_bytes(*dd) ^ u128::from_ne_bytes(*ss)).to_ne_bytes();
    }
    for (d, s) in d.into_remainder().iter_mut().zip(s.remainder()) {
        *d ^= s;
    }
}

fn digest(state: [u32; 5]) -> [u8; 20] {
    let mut out = [0u8; 20];
    for (o, w) in out.chunks_exact_mut(4).zip(state) {
        o.copy_from_slice(&w.to_be_bytes());
    }
    out
}

/// RFC 2104 outer hash of both lanes: `H(K ⊕ opad ‖ inner)`, one block each.
fn outer2(
    mac_a: &PreparedHmac,
    inner_a: [u32; 5],
    mac_b: &PreparedHmac,
    inner_b: [u32; 5],
) -> ([u8; 20], [u8; 20]) {
    let block = |inner: [u32; 5]| {
        let mut b = [0u8; 64];
        b[..20].copy_from_slice(&digest(inner));
        b[20] = 0x80;
        b[56..].copy_from_slice(&((64u64 + 20) * 8).to_be_bytes());
        b
    };
    let (mut a, mut b) = (mac_a.outer_state(), mac_b.outer_state());
    compress2(&mut a, &block(inner_a), &mut b, &block(inner_b));
    (digest(a), digest(b))
}

/// The keys of one leg's AES-CM SRTP.
struct Leg<'a> {
    cipher: &'a AesCtr,
    mac: &'a PreparedHmac,
    iv: [u8; 16],
    roc: [u8; 4],
}

/// Mask of the low `n` octets of a little-endian `u128` (`n` ≤ 16).
fn low_octets(n: usize) -> u128 {
    match n {
        0 => 0,
        16.. => u128::MAX,
        _ => (1u128 << (8 * n)) - 1,
    }
}

/// The message tail of one lane — ROC, then the FIPS 180-4 §5.1.1 `0x80` octet — as
/// it falls into the 16-octet chunk at packet offset `off`, for a payload ending at
/// `body_end`.
fn tail_in_chunk(roc: &[u8; 4], body_end: usize, off: usize) -> u128 {
    let tail = u128::from(u32::from_le_bytes(*roc)) | 0x80 << 32;
    if body_end >= off {
        let shift = 8 * (body_end - off);
        if shift < 128 {
            tail << shift
        } else {
            0
        }
    } else {
        let shift = 8 * (off - body_end);
        if shift < 128 {
            tail >> shift
        } else {
            0
        }
    }
}

/// Computes HMAC_A over the packet as it is (with `orig_header` in place of the
/// rewritten fixed header) while turning the payload into leg B's ciphertext, and
/// HMAC_B over the result. Returns both full tags.
///
/// Windows are assembled sixteen octets at a time as `u128`s, with whole aligned
/// stores only: a byte-wise overlay followed by the SHA-1 kernel's 16-octet loads
/// would stall on store forwarding at every window. `buf` must hold 16 octets past
/// the last chunk that starts before `body_end` (the caller checks).
fn macs_and_recrypt(
    a: &Leg<'_>,
    b: &Leg<'_>,
    orig_header: &[u8; FIXED_HEADER],
    buf: &mut [u8],
    hdr_len: usize,
    body_end: usize,
) -> ([u8; 20], [u8; 20]) {
    let mut ks = DualKeystream::new((a.cipher, a.iv), (b.cipher, b.iv), hdr_len, body_end);
    let windows = (body_end + 4 + 9).div_ceil(64);
    let bits = ((64 + body_end as u64 + 4) * 8).swap_bytes();
    let mut orig = [0u8; 16];
    orig[..FIXED_HEADER].copy_from_slice(orig_header);
    let orig = u128::from_le_bytes(orig);
    let (mut sa, mut sb) = (a.mac.inner_state(), b.mac.inner_state());
    for w in 0..windows {
        let (mut wa, mut wb) = ([0u8; 64], [0u8; 64]);
        for q in 0..4 {
            let off = 64 * w + 16 * q;
            if off >= hdr_len && off + 16 <= body_end {
                // Payload only: no header, no tail, no mask.
                let slot = &mut buf[off..off + 16];
                let ca = u128::from_le_bytes((&*slot).try_into().unwrap_or([0; 16]));
                let cb = ca ^ ks.chunk(off);
                slot.copy_from_slice(&cb.to_le_bytes());
                wa[16 * q..16 * q + 16].copy_from_slice(&ca.to_le_bytes());
                wb[16 * q..16 * q + 16].copy_from_slice(&cb.to_le_bytes());
                continue;
            }
            let (mut ca, mut cb) = (0u128, 0u128);
            if off < body_end {
                let slot = &mut buf[off..off + 16];
                let raw = u128::from_le_bytes((&*slot).try_into().unwrap_or([0; 16]));
                let keep = low_octets(body_end - off);
                let k = ks.chunk(off) & keep & !low_octets(hdr_len.saturating_sub(off));
                // Octets past `body_end` (tag A, tailroom) are written back unchanged.
                slot.copy_from_slice(&(raw ^ k).to_le_bytes());
                ca = raw & keep;
                cb = ca ^ k;
                if off == 0 {
                    ca = (ca & !low_octets(FIXED_HEADER)) | orig;
                }
            }
            ca |= tail_in_chunk(&a.roc, body_end, off);
            cb |= tail_in_chunk(&b.roc, body_end, off);
            if w + 1 == windows && q == 3 {
                ca |= u128::from(bits) << 64;
                cb |= u128::from(bits) << 64;
            }
            wa[16 * q..16 * q + 16].copy_from_slice(&ca.to_le_bytes());
            wb[16 * q..16 * q + 16].copy_from_slice(&cb.to_le_bytes());
        }
        // Issue the AES work of the coming windows before this window's SHA-1.
        ks.prefetch(64 * w + 64);
        compress2(&mut sa, &wa, &mut sb, &wb);
    }
    outer2(a.mac, sa, b.mac, sb)
}

/// SRTP → SRTP when both legs are AES-CM: `None` when either is not (the caller takes
/// the general path), and also when the re-originator refuses the packet, so that a
/// forged packet is reported as `AuthFailed` by the general path rather than by its
/// header. Otherwise exactly what [`super::srtp_to_srtp_mapped`] returns.
pub(super) fn aes_cm_to_aes_cm(
    ingress: &mut SrtpContext,
    reorig: &mut ReOriginator,
    egress: &mut SrtpContext,
    buf: &mut [u8],
    len: usize,
    map_pt: &impl Fn(u8) -> u8,
) -> Option<Result<usize, SrtpError>> {
    let (cipher_a, mac_a, salt_a) = ingress.rtp_aes_cm()?;
    let (cipher_b, mac_b, salt_b) = egress.rtp_aes_cm()?;
    let tag_a = ingress.suite().srtp_tag_len();
    let tag_b = egress.suite().srtp_tag_len();
    let (hdr_len, seq, ssrc) = match rtp_fields(buf, len) {
        Ok(f) => f,
        Err(e) => return Some(Err(e)),
    };
    let Some(body_end) = len.checked_sub(tag_a).filter(|&e| e >= hdr_len) else {
        return Some(Err(SrtpError::Truncated));
    };
    // The window assembly reads and writes back whole 16-octet chunks.
    if buf.len() < body_end.next_multiple_of(16) {
        return None;
    }
    let index_a = match ingress.rtp_receive_index(ssrc, seq) {
        Ok(i) => i,
        Err(e) => return Some(Err(e)),
    };
    let mut next = reorig.clone();
    let mut orig_header = [0u8; FIXED_HEADER];
    orig_header.copy_from_slice(&buf[..FIXED_HEADER]);
    super::transcode::set_pt(&mut buf[..body_end], map_pt);
    let Ok(index_b) = next.rewrite(&mut buf[..body_end]) else {
        // `rewrite` wrote nothing; put the PT back for the general path.
        buf[..FIXED_HEADER].copy_from_slice(&orig_header);
        return None;
    };
    let a = Leg {
        cipher: cipher_a,
        mac: mac_a,
        iv: cm_iv(salt_a, ssrc, index_a),
        roc: ((index_a >> 16) as u32).to_be_bytes(),
    };
    let b = Leg {
        cipher: cipher_b,
        mac: mac_b,
        iv: cm_iv(salt_b, next.ssrc(), index_b),
        roc: ((index_b >> 16) as u32).to_be_bytes(),
    };
    let (full_a, full_b) = macs_and_recrypt(&a, &b, &orig_header, buf, hdr_len, body_end);
    // Constant time: accumulate every difference (RFC 3711 §3.3 step 7 comparison).
    let received = &buf[body_end..len];
    let diff = full_a[..tag_a]
        .iter()
        .zip(received)
        .fold(0u8, |d, (x, y)| d | (x ^ y));
    if std::hint::black_box(diff) != 0 {
        // Undo: C' ⊕ (KS_A ⊕ KS_B) = C, and the original header back.
        let mut ks = DualKeystream::new((a.cipher, a.iv), (b.cipher, b.iv), hdr_len, body_end);
        let mut from = hdr_len;
        while from < body_end {
            let to = (from / 64 + 1).saturating_mul(64).min(body_end);
            ks.apply(from, &mut buf[from..to]);
            ks.prefetch(to);
            from = to;
        }
        buf[..FIXED_HEADER].copy_from_slice(&orig_header);
        return Some(Err(SrtpError::AuthFailed));
    }
    buf[body_end..body_end + tag_b].copy_from_slice(&full_b[..tag_b]);
    let ssrc_b = next.ssrc();
    ingress.accept_rtp(ssrc, index_a);
    egress.accept_rtp(ssrc_b, index_b);
    *reorig = next;
    Some(Ok(body_end + tag_b))
}
