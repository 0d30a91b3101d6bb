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
use crate::sys::cm_x2::{self, low_octets, Digest, Lane, Packet, FIXED_HEADER};

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
    // Both fit the first 16 octets of a digest (AES-CM tags are 10 or 4 octets).
    if tag_a == 0 || tag_a > 16 || tag_b > 16 {
        return None;
    }
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
    // Kept for the undo: the kernel writes leg B's header with the first chunk.
    let mut orig_header = [0u8; FIXED_HEADER];
    orig_header.copy_from_slice(&buf[..FIXED_HEADER]);
    let ts = u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]);
    let mut next = reorig.clone();
    let Ok((index_b, ts_b)) = next.advance(ssrc, seq, ts) else {
        // Refused before any crypto: the general path reports it after authenticating.
        return None;
    };
    // Leg B's fixed header, computed in registers.
    let pt_octet = super::transcode::mapped_pt_octet(buf[1], map_pt);
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
    // Tag A as received, read before the kernel writes around it: the 16 octets that
    // end the packet (len ≥ 12 + tag_a ≥ 16), its tag in the top `tag_a` of them.
    let tail16 = len.checked_sub(16).and_then(|at| buf.get(at..len))?;
    let received = u128::from_le_bytes(tail16.try_into().unwrap_or([0; 16])) >> (8 * (16 - tag_a));
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
    // Constant time (RFC 3711 §3.3 step 7): one masked XOR of the whole tag.
    let expected = u128::from_le_bytes(digests[0].head) & low_octets(tag_a);
    if std::hint::black_box(expected ^ received) != 0 {
        // Undo: C' ⊕ KS_B ⊕ KS_A = C, and the original header back.
        cipher_b.apply_keystream(b.iv.to_be_bytes(), &mut buf[hdr_len..body_end]);
        cipher_a.apply_keystream(a.iv.to_be_bytes(), &mut buf[hdr_len..body_end]);
        buf[..FIXED_HEADER].copy_from_slice(&orig_header);
        return Some(Err(SrtpError::AuthFailed));
    }
    let tag = &digests[1].head;
    match tag_b {
        // The two AES-CM tag lengths as fixed-size copies (no call to `memcpy`).
        10 => buf[body_end..body_end + 10].copy_from_slice(&tag[..10]),
        4 => buf[body_end..body_end + 4].copy_from_slice(&tag[..4]),
        n => buf[body_end..body_end + n].copy_from_slice(&tag[..n]),
    }
    let ssrc_b = next.ssrc();
    ingress.accept_rtp(ssrc, index_a);
    egress.accept_rtp(ssrc_b, index_b);
    *reorig = next;
    Some(Ok(body_end + tag_b))
}
