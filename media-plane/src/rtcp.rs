//! RTCP compound packets the gateway writes and the one field it reads (RFC 3550 §6).
//!
//! What the gateway sends on each leg (RFC 3550 §6.1: every compound packet starts
//! with an SR or RR and carries an SDES CNAME):
//!
//! ```text
//!  SR (§6.4.1), PT = 200                      RR (§6.4.2), PT = 201
//!  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!  |V=2|P|  RC  | PT=200 |     length     |  |V=2|P|  RC  | PT=201 |     length     |
//!  |          SSRC of sender              |  |          SSRC of sender              |
//!  |   NTP timestamp, most significant    |  +======================================+
//!  |   NTP timestamp, least significant   |  |  report block 1 (below), RC of them  |
//!  |            RTP timestamp             |  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!  |        sender's packet count         |
//!  |        sender's octet count          |   report block (§6.4.1), 24 octets
//!  +======================================+  |              SSRC_n                  |
//!  |  report block 1 (right), RC of them  |  | fraction lost |  cumulative lost (24)|
//!  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+  |  extended highest sequence received  |
//!                                            |        interarrival jitter           |
//!  SDES (§6.5), PT = 202, one chunk          |          last SR (LSR)               |
//!  |V=2|P|  SC=1 | PT=202 |     length    |  |   delay since last SR (DLSR)         |
//!  |               SSRC                   |  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!  | CNAME=1 |  len  | text… | 0 … (pad to 32 bits, at least one null octet)
//! ```
//!
//! [`write_report`] fills a caller's buffer (no allocation); [`sender_info`] walks a
//! received compound packet (after SRTCP unprotect), checks it per RFC 3550 A.2 and
//! returns the SR's sender info, the only part the gateway uses (LSR, §6.4.1).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Why a received compound RTCP packet was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RtcpError {
    /// A packet or block ends before its length says, or the lengths of the packets do
    /// not add up to the datagram.
    #[error("RTCP packet truncated")]
    Truncated,
    /// A version field is not 2 (RFC 3550 §6.4.1).
    #[error("RTCP version {0} is not 2")]
    BadVersion(u8),
    /// The first packet is not an SR or RR, or it is padded (RFC 3550 A.2).
    #[error("not a compound RTCP packet")]
    NotCompound,
}

/// RTCP packet type of a sender report.
pub const PT_SR: u8 = 200;
/// RTCP packet type of a receiver report.
pub const PT_RR: u8 = 201;
/// RTCP packet type of source description.
pub const PT_SDES: u8 = 202;
/// SDES item type CNAME (RFC 3550 §6.5.1).
pub const SDES_CNAME: u8 = 1;
/// Longest CNAME an SDES item holds (its length is one octet).
pub const MAX_CNAME_LEN: usize = 255;
/// Size of one report block.
pub const REPORT_BLOCK_LEN: usize = 24;
/// Longest compound packet [`write_report`] writes: SR with one block and a 255-octet
/// CNAME (52 + 8 + 2 + 255 + 1, rounded up to 32 bits).
pub const MAX_REPORT_LEN: usize = 52 + 268;

/// Seconds from the NTP epoch (1900-01-01) to the Unix epoch (RFC 868).
const NTP_UNIX_OFFSET: u64 = 2_208_988_800;

/// An NTP timestamp (RFC 3550 §4): seconds since 1900 in the high 32 bits, the fraction
/// in the low 32 bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct NtpTime(pub u64);

impl NtpTime {
    /// The NTP time `since_unix` after the Unix epoch.
    pub fn from_unix(since_unix: Duration) -> Self {
        let secs = since_unix.as_secs().wrapping_add(NTP_UNIX_OFFSET);
        let frac = (u64::from(since_unix.subsec_nanos()) << 32) / 1_000_000_000;
        Self((secs << 32) | frac)
    }

    /// A wall-clock reading (drivers pass `SystemTime::now()`; the cores never read it).
    /// A clock before 1970 reads as the Unix epoch.
    pub fn from_system_time(t: SystemTime) -> Self {
        Self::from_unix(t.duration_since(UNIX_EPOCH).unwrap_or_default())
    }

    /// The middle 32 bits, as carried in LSR (RFC 3550 §6.4.1).
    pub fn middle(self) -> u32 {
        (self.0 >> 16) as u32
    }
}

/// The sender information of an SR (RFC 3550 §6.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SenderInfo {
    /// Wall-clock time when the report was sent.
    pub ntp: NtpTime,
    /// The same instant in the units of the sender's RTP timestamps.
    pub rtp_timestamp: u32,
    /// RTP data packets sent since transmission started (mod 2^32).
    pub packets: u32,
    /// Payload octets sent since transmission started (mod 2^32).
    pub octets: u32,
}

/// A reception report block (RFC 3550 §6.4.1) about one source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReportBlock {
    /// The source reported on.
    pub ssrc: u32,
    /// Fraction of packets lost since the previous report, in 1/256.
    pub fraction_lost: u8,
    /// Packets lost since reception started (24-bit signed on the wire, clamped).
    pub cumulative_lost: i32,
    /// Cycles (high 16 bits) and highest sequence number received (low 16).
    pub extended_highest_seq: u32,
    /// Interarrival jitter in RTP timestamp units (A.8).
    pub jitter: u32,
    /// Middle 32 bits of the NTP time of the last SR from the source (0: none).
    pub lsr: u32,
    /// Delay since that SR in 1/65536 s (0: none).
    pub dlsr: u32,
}

impl ReportBlock {
    fn write(&self, out: &mut [u8]) {
        let lost = self.cumulative_lost.clamp(-0x80_0000, 0x7f_ffff) as u32 & 0xff_ffff;
        put32(out, 0, self.ssrc);
        put32(out, 4, (u32::from(self.fraction_lost) << 24) | lost);
        put32(out, 8, self.extended_highest_seq);
        put32(out, 12, self.jitter);
        put32(out, 16, self.lsr);
        put32(out, 20, self.dlsr);
    }

    /// Reads a block from its 24 octets.
    pub fn parse(b: &[u8]) -> Result<Self, RtcpError> {
        let b = b.get(..REPORT_BLOCK_LEN).ok_or(RtcpError::Truncated)?;
        let word = get32(b, 4);
        // Sign-extend the 24-bit cumulative loss.
        let lost = ((word << 8) as i32) >> 8;
        Ok(Self {
            ssrc: get32(b, 0),
            fraction_lost: (word >> 24) as u8,
            cumulative_lost: lost,
            extended_highest_seq: get32(b, 8),
            jitter: get32(b, 12),
            lsr: get32(b, 16),
            dlsr: get32(b, 20),
        })
    }
}

fn put32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_be_bytes());
}

fn get32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Writes one RTCP header word: V = 2, P = 0, `count`, `pt`, length in words minus one.
fn header(out: &mut [u8], count: u8, pt: u8, len: usize) {
    out[0] = 0x80 | (count & 0x1f);
    out[1] = pt;
    out[2..4].copy_from_slice(&((len / 4 - 1) as u16).to_be_bytes());
}

/// What [`write_report`] puts into a compound packet.
#[derive(Debug, Clone, Copy)]
pub struct Report<'a> {
    /// The gateway's SSRC on the leg.
    pub ssrc: u32,
    /// `Some`: an SR (the gateway sent media on the leg); `None`: an RR.
    pub sender: Option<SenderInfo>,
    /// The reception report about the leg's peer, if it sent anything.
    pub block: Option<ReportBlock>,
    /// The CNAME (at most [`MAX_CNAME_LEN`] octets; longer is cut).
    pub cname: &'a [u8],
}

/// Writes `report` as SR-or-RR + SDES CNAME at the start of `buf`; returns its length,
/// or `None` if `buf` is shorter than that (at most [`MAX_REPORT_LEN`]).
pub fn write_report(buf: &mut [u8], report: &Report<'_>) -> Option<usize> {
    let cname = &report.cname[..report.cname.len().min(MAX_CNAME_LEN)];
    let rc = usize::from(report.block.is_some());
    let first_len = 8 + if report.sender.is_some() { 20 } else { 0 } + rc * REPORT_BLOCK_LEN;
    // Chunk: SSRC, type, length, text, then 1..=4 null octets to the next 32-bit boundary.
    let chunk = 4 + 2 + cname.len();
    let sdes_len = 4 + chunk + (4 - chunk % 4);
    let total = first_len + sdes_len;
    let out = buf.get_mut(..total)?;
    out.fill(0);
    let pt = if report.sender.is_some() {
        PT_SR
    } else {
        PT_RR
    };
    header(out, rc as u8, pt, first_len);
    put32(out, 4, report.ssrc);
    let mut at = 8;
    if let Some(s) = report.sender {
        put32(out, 8, (s.ntp.0 >> 32) as u32);
        put32(out, 12, s.ntp.0 as u32);
        put32(out, 16, s.rtp_timestamp);
        put32(out, 20, s.packets);
        put32(out, 24, s.octets);
        at = 28;
    }
    if let Some(b) = report.block {
        b.write(&mut out[at..at + REPORT_BLOCK_LEN]);
    }
    let sdes = &mut out[first_len..];
    header(sdes, 1, PT_SDES, sdes_len);
    put32(sdes, 4, report.ssrc);
    sdes[8] = SDES_CNAME;
    sdes[9] = cname.len() as u8;
    sdes[10..10 + cname.len()].copy_from_slice(cname);
    Some(total)
}

/// Checks the compound RTCP packet `pkt` (RFC 3550 A.2: version 2 throughout, the first
/// packet an SR or RR without padding, the lengths adding up to the datagram) and
/// returns the sender SSRC and sender info of its first packet if that is an SR.
pub fn sender_info(pkt: &[u8]) -> Result<Option<(u32, SenderInfo)>, RtcpError> {
    let first = pkt.get(..8).ok_or(RtcpError::Truncated)?;
    if first[0] & 0x20 != 0 || !matches!(first[1], PT_SR | PT_RR) {
        return Err(RtcpError::NotCompound);
    }
    let mut at = 0;
    while at < pkt.len() {
        let h = pkt.get(at..at + 4).ok_or(RtcpError::Truncated)?;
        if h[0] >> 6 != 2 {
            return Err(RtcpError::BadVersion(h[0] >> 6));
        }
        at += 4 * (usize::from(u16::from_be_bytes([h[2], h[3]])) + 1);
    }
    if at != pkt.len() {
        return Err(RtcpError::Truncated);
    }
    if first[1] != PT_SR {
        return Ok(None);
    }
    let words = usize::from(u16::from_be_bytes([first[2], first[3]]));
    if words < 6 {
        return Err(RtcpError::Truncated);
    }
    let info = SenderInfo {
        ntp: NtpTime((u64::from(get32(pkt, 8)) << 32) | u64::from(get32(pkt, 12))),
        rtp_timestamp: get32(pkt, 16),
        packets: get32(pkt, 20),
        octets: get32(pkt, 24),
    };
    Ok(Some((get32(pkt, 4), info)))
}

/// The body of the `rtcp_parse` fuzz target, shared with the corpus replay test.
pub mod fuzz {
    use super::{sender_info, write_report, Report, ReportBlock, MAX_REPORT_LEN};

    /// Feeds arbitrary bytes to the RTCP readers: [`sender_info`] (the compound check
    /// and SR sender info) and [`ReportBlock::parse`]. Never panics; what parses is
    /// written back with [`write_report`] and must read the same. Returns whether the
    /// input was an acceptable compound packet.
    pub fn parse_any(data: &[u8]) -> bool {
        let compound = sender_info(data);
        if let Ok(Some((ssrc, info))) = compound {
            let mut buf = [0u8; MAX_REPORT_LEN];
            let report = Report {
                ssrc,
                sender: Some(info),
                block: ReportBlock::parse(data.get(28..).unwrap_or_default()).ok(),
                cname: b"fuzz",
            };
            let n = write_report(&mut buf, &report).expect("MAX_REPORT_LEN holds any report");
            assert_eq!(
                sender_info(&buf[..n]),
                Ok(Some((ssrc, info))),
                "an SR written from what was read reads back the same"
            );
        }
        if let Ok(block) = ReportBlock::parse(data) {
            let mut buf = [0u8; MAX_REPORT_LEN];
            let report = Report {
                ssrc: 1,
                sender: None,
                block: Some(block),
                cname: b"",
            };
            let n = write_report(&mut buf, &report).expect("MAX_REPORT_LEN holds any report");
            assert_eq!(
                ReportBlock::parse(&buf[8..n]),
                Ok(block),
                "a block written from what was read reads back the same"
            );
        }
        compound.is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 3550 §6.4.1 / §6.5 layouts, octet by octet.
    #[test]
    fn sr_with_block_and_cname_layout() {
        let r = Report {
            ssrc: 0x0102_0304,
            sender: Some(SenderInfo {
                ntp: NtpTime(0xaabb_ccdd_eeff_0011),
                rtp_timestamp: 0x1122_3344,
                packets: 7,
                octets: 1120,
            }),
            block: Some(ReportBlock {
                ssrc: 0xcafe_babe,
                fraction_lost: 64,
                cumulative_lost: -2,
                extended_highest_seq: 0x0001_0005,
                jitter: 12,
                lsr: 0xccdd_eeff,
                dlsr: 0x0001_8000,
            }),
            cname: b"abc",
        };
        let mut buf = [0xffu8; MAX_REPORT_LEN];
        let n = write_report(&mut buf, &r).unwrap();
        #[rustfmt::skip]
        let expected: [u8; 52 + 16] = [
            0x81, 200, 0, 12,  1, 2, 3, 4,
            0xaa, 0xbb, 0xcc, 0xdd,  0xee, 0xff, 0x00, 0x11,
            0x11, 0x22, 0x33, 0x44,  0, 0, 0, 7,  0, 0, 0x04, 0x60,
            0xca, 0xfe, 0xba, 0xbe,  64, 0xff, 0xff, 0xfe,
            0, 1, 0, 5,  0, 0, 0, 12,  0xcc, 0xdd, 0xee, 0xff,  0, 1, 0x80, 0,
            // SDES: header, SSRC, CNAME "abc", 3 nulls to the 32-bit boundary.
            0x81, 202, 0, 3,  1, 2, 3, 4,  1, 3, b'a', b'b',  b'c', 0, 0, 0,
        ];
        assert_eq!(&buf[..n], &expected[..]);
        let (ssrc, info) = sender_info(&buf[..n]).unwrap().unwrap();
        assert_eq!((ssrc, info), (0x0102_0304, r.sender.unwrap()));
        assert_eq!(ReportBlock::parse(&buf[28..52]).unwrap(), r.block.unwrap());
    }

    #[test]
    fn rr_without_block_and_cname_padding() {
        let mut buf = [0u8; MAX_REPORT_LEN];
        for (len, sdes_words) in [(0, 3), (1, 3), (2, 4), (3, 4), (6, 5), (255, 67)] {
            let cname = [b'x'; 255];
            let r = Report {
                ssrc: 9,
                sender: None,
                block: None,
                cname: &cname[..len],
            };
            let n = write_report(&mut buf, &r).unwrap();
            assert_eq!(&buf[..8], &[0x80, 201, 0, 1, 0, 0, 0, 9], "RR, RC = 0");
            assert_eq!(n, 8 + 4 * sdes_words, "cname of {len}");
            assert_eq!(buf[n - 1], 0, "item list ends with a null octet");
            assert_eq!(
                u16::from_be_bytes([buf[10], buf[11]]) as usize,
                sdes_words - 1
            );
            assert_eq!(sender_info(&buf[..n]), Ok(None));
        }
        assert!(n_fits(MAX_REPORT_LEN));
        let r = Report {
            ssrc: 1,
            sender: None,
            block: None,
            cname: b"abc",
        };
        assert_eq!(write_report(&mut buf[..19], &r), None, "too short a buffer");
    }

    fn n_fits(cap: usize) -> bool {
        let mut buf = vec![0u8; cap];
        let r = Report {
            ssrc: 1,
            sender: Some(SenderInfo::default()),
            block: Some(ReportBlock::default()),
            cname: &[b'y'; 300],
        };
        write_report(&mut buf, &r) == Some(cap)
    }

    #[test]
    fn malformed_compounds_are_refused() {
        let mut buf = [0u8; 64];
        let r = Report {
            ssrc: 1,
            sender: Some(SenderInfo::default()),
            block: None,
            cname: b"c",
        };
        let n = write_report(&mut buf, &r).unwrap();
        assert!(sender_info(&buf[..n]).is_ok());
        assert_eq!(sender_info(&buf[..n - 4]), Err(RtcpError::Truncated));
        assert_eq!(sender_info(&buf[..4]), Err(RtcpError::Truncated));
        let mut sdes_first = buf;
        sdes_first[1] = PT_SDES;
        assert_eq!(sender_info(&sdes_first[..n]), Err(RtcpError::NotCompound));
        let mut bad_version = buf;
        bad_version[28] = 0x41;
        assert_eq!(
            sender_info(&bad_version[..n]),
            Err(RtcpError::BadVersion(1))
        );
    }

    #[test]
    fn ntp_from_unix_time() {
        // 1970-01-01 is 2 208 988 800 s after 1900-01-01; half a second is 2^31.
        let t = NtpTime::from_unix(Duration::from_millis(1500));
        assert_eq!(t.0 >> 32, NTP_UNIX_OFFSET + 1);
        assert_eq!(t.0 as u32, 1 << 31);
        assert_eq!(t.middle(), (((NTP_UNIX_OFFSET + 1) as u32) << 16) | 0x8000);
    }
}
