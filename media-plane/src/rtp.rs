//! Zero-copy RTP and RTCP header views (RFC 3550 §5.1, §6.4).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |V=2|P|X|  CC   |M|     PT      |       sequence number         |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                           timestamp                           |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |           synchronization source (SSRC) identifier            |
//! +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
//! |            contributing source (CSRC) identifiers             |
//! |                             ....                              |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |      defined by profile       |           length              |  (X = 1, RFC 3550 §5.3.1)
//! |                        header extension                       |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! [`RtpHeader::parse`] checks every length against the datagram once, so the accessors
//! afterwards never index out of bounds; [`RtpHeaderMut`] rewrites SSRC, sequence number
//! and timestamp in place. [`RtcpHeader`] is the same for the first RTCP header of a
//! (compound) packet. None of these allocate, copy or panic on peer bytes.

/// Why an RTP/RTCP header could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RtpError {
    /// The datagram ends before the header (fixed part, CSRCs or extension) does.
    #[error("RTP/RTCP header truncated")]
    Truncated,
    /// The version field is not 2 (RFC 3550 §5.1).
    #[error("RTP/RTCP version {0} is not 2")]
    BadVersion(u8),
}

/// Size of the fixed RTP header (RFC 3550 §5.1).
pub const RTP_FIXED_HEADER_LEN: usize = 12;
/// Size of the part of an RTCP packet SRTCP leaves in clear: the first header word and
/// the sender SSRC (RFC 3711 §3.4).
pub const RTCP_FIXED_HEADER_LEN: usize = 8;

/// Parsed layout of an RTP header: the bounds-checked lengths, shared by both views.
fn rtp_header_len(b: &[u8]) -> Result<usize, RtpError> {
    let first = *b.first().ok_or(RtpError::Truncated)?;
    if first >> 6 != 2 {
        return Err(RtpError::BadVersion(first >> 6));
    }
    if b.len() < RTP_FIXED_HEADER_LEN {
        return Err(RtpError::Truncated);
    }
    let cc = usize::from(first & 0x0f);
    let mut len = RTP_FIXED_HEADER_LEN + 4 * cc;
    if first & 0x10 != 0 {
        // RFC 3550 §5.3.1: 16-bit profile field, 16-bit length in 32-bit words.
        let ext = b.get(len..len + 4).ok_or(RtpError::Truncated)?;
        let words = usize::from(u16::from_be_bytes([ext[2], ext[3]]));
        len += 4 + 4 * words;
    }
    if b.len() < len {
        return Err(RtpError::Truncated);
    }
    Ok(len)
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// A read-only view of the RTP header at the start of a datagram.
///
/// Invariant: `buf.len() >= header_len >= 12`, checked by [`RtpHeader::parse`].
#[derive(Debug, Clone, Copy)]
pub struct RtpHeader<'a> {
    buf: &'a [u8],
    header_len: usize,
}

impl<'a> RtpHeader<'a> {
    /// Checks the version and that the fixed header, CSRC list and extension fit in `buf`.
    pub fn parse(buf: &'a [u8]) -> Result<Self, RtpError> {
        let header_len = rtp_header_len(buf)?;
        Ok(Self { buf, header_len })
    }

    /// RTP version (always 2 after a successful parse).
    pub fn version(&self) -> u8 {
        self.buf[0] >> 6
    }
    /// Padding bit (P).
    pub fn padding(&self) -> bool {
        self.buf[0] & 0x20 != 0
    }
    /// Extension bit (X).
    pub fn extension(&self) -> bool {
        self.buf[0] & 0x10 != 0
    }
    /// CSRC count (CC).
    pub fn csrc_count(&self) -> u8 {
        self.buf[0] & 0x0f
    }
    /// Marker bit (M).
    pub fn marker(&self) -> bool {
        self.buf[1] & 0x80 != 0
    }
    /// Payload type (PT).
    pub fn payload_type(&self) -> u8 {
        self.buf[1] & 0x7f
    }
    /// Sequence number.
    pub fn sequence_number(&self) -> u16 {
        be16(self.buf, 2)
    }
    /// Timestamp.
    pub fn timestamp(&self) -> u32 {
        be32(self.buf, 4)
    }
    /// Synchronization source.
    pub fn ssrc(&self) -> u32 {
        be32(self.buf, 8)
    }
    /// Length of the whole header: fixed part, CSRCs and extension.
    pub fn header_len(&self) -> usize {
        self.header_len
    }
    /// The bytes after the header (payload, padding, and for SRTP the tag).
    pub fn payload(&self) -> &'a [u8] {
        &self.buf[self.header_len..]
    }
}

/// A mutable view of the RTP header at the start of a datagram, for in-place rewriting.
///
/// Invariant: `buf.len() >= header_len >= 12`, checked by [`RtpHeaderMut::parse`].
#[derive(Debug)]
pub struct RtpHeaderMut<'a> {
    buf: &'a mut [u8],
    header_len: usize,
}

impl<'a> RtpHeaderMut<'a> {
    /// Same checks as [`RtpHeader::parse`].
    pub fn parse(buf: &'a mut [u8]) -> Result<Self, RtpError> {
        let header_len = rtp_header_len(buf)?;
        Ok(Self { buf, header_len })
    }

    /// A read-only view of the same header.
    pub fn as_view(&self) -> RtpHeader<'_> {
        RtpHeader {
            buf: self.buf,
            header_len: self.header_len,
        }
    }
    /// Sets the sequence number.
    pub fn set_sequence_number(&mut self, seq: u16) {
        self.buf[2..4].copy_from_slice(&seq.to_be_bytes());
    }
    /// Sets the timestamp.
    pub fn set_timestamp(&mut self, ts: u32) {
        self.buf[4..8].copy_from_slice(&ts.to_be_bytes());
    }
    /// Sets the SSRC.
    pub fn set_ssrc(&mut self, ssrc: u32) {
        self.buf[8..12].copy_from_slice(&ssrc.to_be_bytes());
    }
    /// Sets the marker bit.
    pub fn set_marker(&mut self, marker: bool) {
        self.buf[1] = (self.buf[1] & 0x7f) | if marker { 0x80 } else { 0 };
    }
    /// Sets the payload type (the high bit of `pt` is ignored).
    pub fn set_payload_type(&mut self, pt: u8) {
        self.buf[1] = (self.buf[1] & 0x80) | (pt & 0x7f);
    }
}

/// A read-only view of the first RTCP header of a (compound) RTCP packet
/// (RFC 3550 §6.4.1): `V P RC PT length` and the sender SSRC.
///
/// Invariant: `buf.len() >= 8`, checked by [`RtcpHeader::parse`].
#[derive(Debug, Clone, Copy)]
pub struct RtcpHeader<'a> {
    buf: &'a [u8],
}

impl<'a> RtcpHeader<'a> {
    /// Checks the version and that the first 8 octets are present.
    pub fn parse(buf: &'a [u8]) -> Result<Self, RtpError> {
        let first = *buf.first().ok_or(RtpError::Truncated)?;
        if first >> 6 != 2 {
            return Err(RtpError::BadVersion(first >> 6));
        }
        if buf.len() < RTCP_FIXED_HEADER_LEN {
            return Err(RtpError::Truncated);
        }
        Ok(Self { buf })
    }
    /// RTCP version (always 2 after a successful parse).
    pub fn version(&self) -> u8 {
        self.buf[0] >> 6
    }
    /// Padding bit.
    pub fn padding(&self) -> bool {
        self.buf[0] & 0x20 != 0
    }
    /// Reception report count / subtype field.
    pub fn count(&self) -> u8 {
        self.buf[0] & 0x1f
    }
    /// Packet type (200 = SR, 201 = RR, …).
    pub fn packet_type(&self) -> u8 {
        self.buf[1]
    }
    /// Length field: packet length in 32-bit words minus one.
    pub fn length_words(&self) -> u16 {
        be16(self.buf, 2)
    }
    /// SSRC of the sender of this RTCP packet.
    pub fn sender_ssrc(&self) -> u32 {
        be32(self.buf, 4)
    }
}

/// Rewrites the sender SSRC of the first RTCP header in place.
pub fn set_rtcp_sender_ssrc(buf: &mut [u8], ssrc: u32) -> Result<(), RtpError> {
    RtcpHeader::parse(buf)?;
    buf[4..8].copy_from_slice(&ssrc.to_be_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_fixed_header_fields() {
        let p = [
            0x80, 0xe0, 0x12, 0x34, 0xde, 0xca, 0xfb, 0xad, 0xca, 0xfe, 0xba, 0xbe, 0xab,
        ];
        let h = RtpHeader::parse(&p).expect("valid header");
        assert_eq!(h.version(), 2);
        assert!(!h.padding() && !h.extension());
        assert_eq!(h.csrc_count(), 0);
        assert!(h.marker());
        assert_eq!(h.payload_type(), 0x60);
        assert_eq!(h.sequence_number(), 0x1234);
        assert_eq!(h.timestamp(), 0xdecafbad);
        assert_eq!(h.ssrc(), 0xcafebabe);
        assert_eq!(h.header_len(), 12);
        assert_eq!(h.payload(), &[0xab]);
    }

    #[test]
    fn csrc_and_extension_lengths_are_bounds_checked() {
        // CC = 1, X = 1, extension of 1 word: 12 + 4 + 4 + 4 = 24 octets.
        let mut p = vec![0x91, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1];
        p.extend_from_slice(&[0, 0, 0, 9]); // CSRC
        p.extend_from_slice(&[0xbe, 0xde, 0, 1]); // extension header, 1 word
        assert_eq!(RtpHeader::parse(&p).err(), Some(RtpError::Truncated));
        p.extend_from_slice(&[1, 2, 3, 4]);
        assert_eq!(RtpHeader::parse(&p).map(|h| h.header_len()), Ok(24));
        for cut in 0..p.len() {
            assert!(RtpHeader::parse(&p[..cut]).is_err(), "cut at {cut}");
        }
        assert_eq!(
            RtpHeader::parse(&[0x40; 12]).err(),
            Some(RtpError::BadVersion(1))
        );
    }

    #[test]
    fn mutable_view_rewrites_in_place() {
        let mut p = [0x80, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        let mut h = RtpHeaderMut::parse(&mut p).expect("valid header");
        h.set_sequence_number(0xfffe);
        h.set_timestamp(7);
        h.set_ssrc(0x01020304);
        h.set_marker(true);
        h.set_payload_type(8);
        let v = h.as_view();
        assert_eq!(
            (v.sequence_number(), v.timestamp(), v.ssrc(), v.marker()),
            (0xfffe, 7, 0x01020304, true)
        );
        assert_eq!(v.payload_type(), 8);
    }

    #[test]
    fn rtcp_header_fields() {
        let mut p = [0x81, 0xc8, 0x00, 0x0b, 0xca, 0xfe, 0xba, 0xbe];
        let h = RtcpHeader::parse(&p).expect("valid header");
        assert_eq!((h.count(), h.packet_type(), h.length_words()), (1, 200, 11));
        assert_eq!(h.sender_ssrc(), 0xcafebabe);
        set_rtcp_sender_ssrc(&mut p, 1).expect("valid header");
        assert_eq!(RtcpHeader::parse(&p).map(|h| h.sender_ssrc()), Ok(1));
        assert_eq!(RtcpHeader::parse(&p[..7]).err(), Some(RtpError::Truncated));
    }
}
