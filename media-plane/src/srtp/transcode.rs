//! Re-origination and the transcode primitive: unprotect with leg A, rewrite the RTP
//! header for leg B, protect with leg B — all in the same buffer.
//!
//! ```text
//! ingress (leg A)                    ReOriginator                      egress (leg B)
//! SSRC a1, seq 100..        ─►  out index = in index + offset   ─►  SSRC E, seq/ROC continuous
//! SSRC a2, seq 7..  (change) ─►  new epoch: offset so that the   ─►  SSRC E, next seq, ts + step
//!                                first packet is max_out + 1
//! ```
//!
//! The gateway owns the egress SSRC, sequence numbers, ROC and timestamps of each leg,
//! so the far end sees one continuous stream whatever the near end does.

use super::replay::{estimate_index, MAX_SRTP_INDEX};
use super::{SrtpContext, SrtpError};
use crate::rtp::RtpHeaderMut;

/// Ingress stream the current mapping applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Epoch {
    in_ssrc: u32,
    /// First ingress index of the epoch; older packets cannot be mapped.
    in_first: u64,
    /// Highest ingress index (ROC || seq) of the epoch, for RFC 3711 §3.3.1 estimation.
    in_top: u64,
    /// Ingress timestamp of `in_top`.
    in_top_ts: u32,
    /// egress index = ingress index + `index_offset` (mod 2^48).
    index_offset: u64,
    /// egress timestamp = ingress timestamp + `ts_offset` (mod 2^32).
    ts_offset: u32,
}

/// Egress re-originator of one leg: the SSRC, sequence numbers, ROC and timestamps the
/// far end sees.
///
/// Rules:
/// - Within one ingress SSRC, the egress index (ROC * 2^16 + SEQ) is the ingress index
///   plus a fixed offset, so loss and reordering pass through unchanged and the ROC
///   rolls over exactly when the egress sequence number wraps.
/// - Any other ingress SSRC starts a new epoch: its first packet gets the egress index
///   after the highest one sent so far and the egress timestamp of the last packet
///   plus the last observed timestamp step (default [`ReOriginator::DEFAULT_TS_STEP`]).
///   A late packet of the previous SSRC starts yet another epoch the same way, so the
///   egress never repeats an index. A packet of the current epoch older than its first
///   packet is refused with [`SrtpError::StaleEpoch`] (it would reuse an index).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReOriginator {
    ssrc: u32,
    /// Egress index of the next epoch's first packet (= highest sent + 1).
    next_index: u64,
    /// Egress timestamp of the highest egress index sent, once something was sent.
    last_ts: Option<u32>,
    first_ts: u32,
    ts_step: u32,
    epoch: Option<Epoch>,
}

impl ReOriginator {
    /// 20 ms at 8 kHz (G.711), the timestamp step assumed before one is observed.
    pub const DEFAULT_TS_STEP: u32 = 160;

    /// A re-originator sending as `ssrc`, starting at sequence number `first_seq` (ROC 0)
    /// and timestamp `first_ts`. The caller picks random values (RFC 3550 §5.1); the
    /// core has no RNG.
    pub fn new(ssrc: u32, first_seq: u16, first_ts: u32) -> Self {
        Self {
            ssrc,
            next_index: u64::from(first_seq),
            last_ts: None,
            first_ts,
            ts_step: Self::DEFAULT_TS_STEP,
            epoch: None,
        }
    }

    /// Sets the timestamp step used across an SSRC change until one is observed.
    pub fn with_ts_step(mut self, step: u32) -> Self {
        self.ts_step = step;
        self
    }

    /// The egress SSRC.
    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// The egress sequence number the next new-epoch packet would get.
    pub fn next_seq(&self) -> u16 {
        self.next_index as u16
    }

    /// The egress rollover counter of the highest packet sent so far.
    pub fn roc(&self) -> u32 {
        (self.next_index.saturating_sub(1) >> 16) as u32
    }

    /// Rewrites SSRC, sequence number and timestamp of the RTP header at the start of
    /// `pkt` (in place) and returns the egress packet index (ROC * 2^16 + SEQ).
    pub fn rewrite(&mut self, pkt: &mut [u8]) -> Result<u64, SrtpError> {
        let mut h = RtpHeaderMut::parse(pkt)?;
        let (in_ssrc, seq, ts) = {
            let v = h.as_view();
            (v.ssrc(), v.sequence_number(), v.timestamp())
        };
        let (out_index, out_ts) = self.advance(in_ssrc, seq, ts)?;
        h.set_ssrc(self.ssrc);
        h.set_sequence_number(out_index as u16);
        h.set_timestamp(out_ts);
        Ok(out_index)
    }

    /// The state step of [`Self::rewrite`] for an ingress packet with these header
    /// fields: returns its egress index and timestamp. On error nothing changed.
    #[inline]
    pub(super) fn advance(
        &mut self,
        in_ssrc: u32,
        seq: u16,
        ts: u32,
    ) -> Result<(u64, u32), SrtpError> {
        let (mut epoch, in_index) = match self.epoch {
            Some(e) if e.in_ssrc == in_ssrc => {
                let i = estimate_index(Some(e.in_top), seq).map_err(|_| SrtpError::StaleEpoch)?;
                if i < e.in_first {
                    return Err(SrtpError::StaleEpoch);
                }
                (e, i)
            }
            _ => {
                let i = u64::from(seq);
                let out_ts = match self.last_ts {
                    Some(t) => t.wrapping_add(self.ts_step),
                    None => self.first_ts,
                };
                let e = Epoch {
                    in_ssrc,
                    in_first: i,
                    in_top: i,
                    in_top_ts: ts,
                    index_offset: self.next_index.wrapping_sub(i) & MAX_SRTP_INDEX,
                    ts_offset: out_ts.wrapping_sub(ts),
                };
                (e, i)
            }
        };
        let out_index = in_index.wrapping_add(epoch.index_offset) & MAX_SRTP_INDEX;
        let out_ts = ts.wrapping_add(epoch.ts_offset);
        if in_index > epoch.in_top {
            // Learn the timestamp step from consecutive packets (RFC 3550 §5.1).
            let step = ts.wrapping_sub(epoch.in_top_ts);
            if in_index == epoch.in_top + 1 && step != 0 && step < 1 << 31 {
                self.ts_step = step;
            }
            epoch.in_top = in_index;
            epoch.in_top_ts = ts;
        }
        if out_index >= self.next_index || self.last_ts.is_none() {
            self.next_index = out_index + 1;
            self.last_ts = Some(out_ts);
        }
        self.epoch = Some(epoch);
        Ok((out_index, out_ts))
    }
}

fn check_room(buf: &[u8], needed: usize) -> Result<(), SrtpError> {
    if buf.len() < needed {
        return Err(SrtpError::BufferTooSmall {
            needed,
            available: buf.len(),
        });
    }
    Ok(())
}

/// SRTP (leg A) → SRTP (leg B) in place: unprotect with `ingress`, re-originate the
/// header, protect with `egress`. Returns the egress length. `buf` needs room for
/// the egress tag; that is checked first, so `BufferTooSmall` changes nothing. After a
/// successful unprotect, a `StaleEpoch` error leaves `buf` decrypted (drop it).
///
/// AES-CM on both legs takes the one-pass path of `srtp::fused` (both HMACs side by
/// side, one combined keystream); the result and the error cases are the same.
pub fn srtp_to_srtp(
    ingress: &mut SrtpContext,
    reorig: &mut ReOriginator,
    egress: &mut SrtpContext,
    buf: &mut [u8],
    len: usize,
) -> Result<usize, SrtpError> {
    srtp_to_srtp_mapped(ingress, reorig, egress, buf, len, |pt| pt)
}

/// [`srtp_to_srtp`] that also maps the payload type for leg B (`map_pt` gets the
/// ingress PT, 7 bits, and returns the egress one): telephone-event and codecs often
/// have other numbers on the two legs. The PT is in the authenticated, unencrypted
/// header, so it is rewritten with SSRC, sequence number and timestamp.
pub fn srtp_to_srtp_mapped(
    ingress: &mut SrtpContext,
    reorig: &mut ReOriginator,
    egress: &mut SrtpContext,
    buf: &mut [u8],
    len: usize,
    map_pt: impl Fn(u8) -> u8,
) -> Result<usize, SrtpError> {
    let out_max =
        len.saturating_sub(ingress.suite().srtp_tag_len()) + egress.suite().srtp_tag_len();
    check_room(buf, out_max)?;
    if let Some(done) = super::fused::aes_cm_to_aes_cm(ingress, reorig, egress, buf, len, &map_pt) {
        return done;
    }
    let plain = ingress.unprotect_rtp(buf, len)?;
    set_pt(&mut buf[..plain], &map_pt);
    let index = reorig.rewrite(&mut buf[..plain])?;
    egress.protect_rtp_with_roc(buf, plain, (index >> 16) as u32)
}

/// RFC 3550 §5.1: the PT is the low 7 bits of octet 1, beside the marker bit.
fn set_pt(pkt: &mut [u8], map_pt: &impl Fn(u8) -> u8) {
    if let Some(b) = pkt.get_mut(1) {
        *b = mapped_pt_octet(*b, map_pt);
    }
}

/// The RTP header's second octet with its payload type mapped and the marker bit kept.
pub(super) fn mapped_pt_octet(octet: u8, map_pt: &impl Fn(u8) -> u8) -> u8 {
    (octet & 0x80) | (map_pt(octet & 0x7f) & 0x7f)
}

/// SRTP (leg A) → RTP (leg B) in place. Returns the RTP length.
pub fn srtp_to_rtp(
    ingress: &mut SrtpContext,
    reorig: &mut ReOriginator,
    buf: &mut [u8],
    len: usize,
) -> Result<usize, SrtpError> {
    let plain = ingress.unprotect_rtp(buf, len)?;
    reorig.rewrite(&mut buf[..plain])?;
    Ok(plain)
}

/// RTP (leg A) → SRTP (leg B) in place. Returns the SRTP length. RTP carries no
/// authentication: the caller latches and filters the source address (design brief,
/// "Security").
pub fn rtp_to_srtp(
    reorig: &mut ReOriginator,
    egress: &mut SrtpContext,
    buf: &mut [u8],
    len: usize,
) -> Result<usize, SrtpError> {
    check_room(buf, len + egress.suite().srtp_tag_len())?;
    let pkt = buf.get_mut(..len).ok_or(SrtpError::Truncated)?;
    let index = reorig.rewrite(pkt)?;
    egress.protect_rtp_with_roc(buf, len, (index >> 16) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkt(ssrc: u32, seq: u16, ts: u32) -> [u8; 12] {
        let mut p = [0u8; 12];
        p[0] = 0x80;
        p[2..4].copy_from_slice(&seq.to_be_bytes());
        p[4..8].copy_from_slice(&ts.to_be_bytes());
        p[8..12].copy_from_slice(&ssrc.to_be_bytes());
        p
    }

    fn fields(p: &[u8; 12]) -> (u32, u16, u32) {
        let h = crate::rtp::RtpHeader::parse(p).expect("valid");
        (h.ssrc(), h.sequence_number(), h.timestamp())
    }

    #[test]
    fn ssrc_change_keeps_egress_continuous() {
        let mut r = ReOriginator::new(0xE, 65_534, 1_000);
        let mut out = Vec::new();
        for (ssrc, seq, ts) in [(1, 10, 5_000), (1, 11, 5_160), (2, 900, 77), (2, 901, 237)] {
            let mut p = pkt(ssrc, seq, ts);
            let index = r.rewrite(&mut p).expect("in order");
            out.push((index, fields(&p)));
        }
        assert_eq!(
            out,
            vec![
                (65_534, (0xE, 65_534, 1_000)),
                (65_535, (0xE, 65_535, 1_160)),
                (65_536, (0xE, 0, 1_320)),
                (65_537, (0xE, 1, 1_480)),
            ]
        );
        assert_eq!(r.roc(), 1);
        // Reordering inside an epoch passes through; before its first packet it cannot.
        let mut p = pkt(2, 899, 0);
        assert_eq!(r.rewrite(&mut p), Err(SrtpError::StaleEpoch));
        let mut p = pkt(2, 903, 557);
        assert_eq!(r.rewrite(&mut p), Ok(65_539));
        let mut p = pkt(2, 902, 397);
        assert_eq!(r.rewrite(&mut p), Ok(65_538));
        assert_eq!(fields(&p), (0xE, 2, 1_640));
    }

    #[test]
    fn ingress_wrap_maps_to_egress_index() {
        let mut r = ReOriginator::new(9, 100, 0);
        let mut p = pkt(1, 65_535, 0);
        assert_eq!(r.rewrite(&mut p), Ok(100));
        let mut p = pkt(1, 0, 160);
        assert_eq!(r.rewrite(&mut p), Ok(101));
    }
}
