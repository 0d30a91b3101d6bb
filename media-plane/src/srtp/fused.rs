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
//! length. The arithmetic is one CPU kernel ([`crate::sys::cm_x2`]: AES-NI rounds and two
//! SHA-NI chains side by side, everything in registers); this module is the protocol
//! around it. On a CPU without AES-NI and SHA-NI it declines and the caller takes the
//! general path (unprotect, rewrite, protect).
//!
//! RFC 3711 §3.3 order is kept where it matters: the index and the replay check come
//! before any crypto, and no state (ROC, replay window, re-originator, egress index)
//! changes unless tag A verifies. The keystream XOR is computed alongside the
//! authentication instead of after it; if tag A fails, the XOR and the header rewrite
//! are undone, so the buffer is as it came in, and nothing of the unauthenticated
//! plaintext was ever exposed (`buf` only ever held C or C').

use super::context::{cm_iv_u128, rtp_fields};
use super::transcode::ReOriginator;
use super::{SrtpContext, SrtpError};
use crate::sys::cm_x2::{self, Digest, Lane, Packet, FIXED_HEADER};

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
    let (keys_a, keys_b) = (cipher_a.round_keys_128()?, cipher_b.round_keys_128()?);
    let kernel = cm_x2::Kernel::best()?;
    let tag_a = ingress.suite().srtp_tag_len();
    let tag_b = egress.suite().srtp_tag_len();
    let (hdr_len, seq, ssrc) = match rtp_fields(buf, len) {
        Ok(f) => f,
        Err(e) => return Some(Err(e)),
    };
    let Some(body_end) = len.checked_sub(tag_a).filter(|&e| e >= hdr_len) else {
        return Some(Err(SrtpError::Truncated));
    };
    // The kernel reads and writes back whole 16-octet chunks.
    if buf.len() < body_end.next_multiple_of(16) {
        return None;
    }
    let index_a = match ingress.rtp_receive_index(ssrc, seq) {
        Ok(i) => i,
        Err(e) => return Some(Err(e)),
    };
    // Leg B's fixed header, computed in registers: the kernel writes it with the
    // packet's first chunk.
    let mut orig_header = [0u8; FIXED_HEADER];
    orig_header.copy_from_slice(&buf[..FIXED_HEADER]);
    let ts = u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]);
    let mut next = reorig.clone();
    let Ok((index_b, ts_b)) = next.advance(ssrc, seq, ts) else {
        // Refused before any crypto: the general path reports it after authenticating.
        return None;
    };
    let pt_octet = (buf[1] & 0x80) | (map_pt(buf[1] & 0x7f) & 0x7f);
    let new_header = u128::from(buf[0])
        | u128::from(pt_octet) << 8
        | u128::from((index_b as u16).swap_bytes()) << 16
        | u128::from(ts_b.swap_bytes()) << 32
        | u128::from(next.ssrc().swap_bytes()) << 64;
    let a = Lane {
        round_keys: keys_a,
        iv: cm_iv_u128(salt_a, ssrc, index_a),
        inner: mac_a.inner_state(),
        outer: mac_a.outer_state(),
        roc: (index_a >> 16) as u32,
    };
    let b = Lane {
        round_keys: keys_b,
        iv: cm_iv_u128(salt_b, next.ssrc(), index_b),
        inner: mac_b.inner_state(),
        outer: mac_b.outer_state(),
        roc: (index_b >> 16) as u32,
    };
    let mut packet = Packet {
        buf: &mut *buf,
        new_header,
        hdr_len,
        body_end,
    };
    let mut digests = [Digest::default(); 2];
    if !cm_x2::transcode_with(kernel, &a, &b, &mut packet, &mut digests) {
        // A layout the kernel does not take (it wrote nothing).
        return None;
    }
    let [digest_a, digest_b] = &digests;
    // Constant time: accumulate every difference (RFC 3711 §3.3 step 7 comparison).
    let received = &buf[body_end..len];
    let (full_a, full_b) = (digest_a.octets(), digest_b.octets());
    let diff = full_a[..tag_a]
        .iter()
        .zip(received)
        .fold(0u8, |d, (x, y)| d | (x ^ y));
    if std::hint::black_box(diff) != 0 {
        // Undo: C' ⊕ KS_B ⊕ KS_A = C, and the original header back.
        cipher_b.apply_keystream(b.iv.to_be_bytes(), &mut buf[hdr_len..body_end]);
        cipher_a.apply_keystream(a.iv.to_be_bytes(), &mut buf[hdr_len..body_end]);
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
