//! DTLS record framing check (RFC 6347 §4.1), sans-IO: decides, before the DTLS library
//! sees a datagram, whether it is worth handing over at all.
//!
//! ```text
//!  struct {                                  RFC 6347 §4.1
//!      ContentType    type;                  1 octet: 20 ccs, 21 alert, 22 handshake, 23 data
//!      ProtocolVersion version;              2 octets: {254,255} DTLS 1.0, {254,253} DTLS 1.2
//!      uint16         epoch;
//!      uint48         sequence_number;
//!      uint16         length;                at most 2^14 + 2048 (RFC 6347 §4.1, §4.1.2.5)
//!      opaque         fragment[length];
//!  } DTLSPlaintext;                          several records may share one datagram (§4.1.1)
//! ```
//!
//! Before the handshake completes every well-framed record passes. After it, only what
//! a correct peer can still send passes: encrypted (epoch ≥ 1) alerts and handshake
//! records, and an epoch-0 retransmission of the peer's last flight (handshake records and
//! a ChangeCipherSpec of exactly `01`). Everything else is stray: plaintext alerts anyone
//! on the path could forge, application data (rtcgate negotiates no data channel), and
//! unknown content types. RFC 6347 §4.1.2.7 lets a receiver discard invalid records
//! silently, so dropping them never ends a call.

/// Octets of the DTLS record header (RFC 6347 §4.1).
pub(crate) const RECORD_HEADER_LEN: usize = 13;
/// Largest record fragment a peer may send: 2^14 plaintext plus 2048 expansion
/// (RFC 6347 §4.1 via RFC 5246 §6.2.3).
const MAX_FRAGMENT_LEN: usize = (1 << 14) + 2048;

const CHANGE_CIPHER_SPEC: u8 = 20;
const ALERT: u8 = 21;
const HANDSHAKE: u8 = 22;
const APPLICATION_DATA: u8 = 23;

/// Why a datagram was not handed to the DTLS library.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RecordDrop {
    /// A header is truncated, or a length runs past the datagram, or is too large.
    Malformed,
    /// A version other than DTLS 1.0 / 1.2.
    BadVersion,
    /// A content type outside 20..=23.
    UnknownContentType,
    /// A well-framed record that no correct peer sends after the handshake.
    StrayAfterHandshake,
}

/// One record header, borrowed from the datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RecordHeader {
    content_type: u8,
    epoch: u16,
    length: usize,
}

fn parse_header(bytes: &[u8]) -> Result<RecordHeader, RecordDrop> {
    let h = bytes
        .get(..RECORD_HEADER_LEN)
        .ok_or(RecordDrop::Malformed)?;
    let content_type = h[0];
    if !(CHANGE_CIPHER_SPEC..=APPLICATION_DATA).contains(&content_type) {
        return Err(RecordDrop::UnknownContentType);
    }
    // DTLS 1.0 is 0xfeff, DTLS 1.2 is 0xfefd (RFC 6347 §4.1); a ClientHello's record may
    // carry 1.0 for compatibility (RFC 6347 §4.2.1).
    if h[1] != 0xfe || !(h[2] == 0xff || h[2] == 0xfd) {
        return Err(RecordDrop::BadVersion);
    }
    let epoch = u16::from_be_bytes([h[3], h[4]]);
    let length = usize::from(u16::from_be_bytes([h[11], h[12]]));
    if length > MAX_FRAGMENT_LEN {
        return Err(RecordDrop::Malformed);
    }
    Ok(RecordHeader {
        content_type,
        epoch,
        length,
    })
}

/// Whether a correct peer may still send this record once the handshake is over.
fn allowed_after_handshake(header: RecordHeader, fragment: &[u8]) -> bool {
    match (header.content_type, header.epoch) {
        // Encrypted alerts (close_notify) and handshake records (a retransmitted
        // Finished) are authenticated by the library.
        (ALERT | HANDSHAKE, 1..) => true,
        // The peer's last flight again (RFC 6347 §4.2.4): its epoch-0 handshake messages
        // and its ChangeCipherSpec, which is the single octet 1 (RFC 5246 §7.1).
        (HANDSHAKE, 0) => true,
        (CHANGE_CIPHER_SPEC, 0) => fragment == [1],
        _ => false,
    }
}

/// Checks every record of a datagram (RFC 6347 §4.1.1: records are packed back to back).
/// `established` applies the after-handshake rules. A datagram passes only whole.
pub(crate) fn check_datagram(datagram: &[u8], established: bool) -> Result<(), RecordDrop> {
    if datagram.is_empty() {
        return Err(RecordDrop::Malformed);
    }
    let mut rest = datagram;
    while !rest.is_empty() {
        let header = parse_header(rest)?;
        let end = RECORD_HEADER_LEN + header.length;
        let fragment = rest
            .get(RECORD_HEADER_LEN..end)
            .ok_or(RecordDrop::Malformed)?;
        if established && !allowed_after_handshake(header, fragment) {
            return Err(RecordDrop::StrayAfterHandshake);
        }
        rest = &rest[end..];
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(content_type: u8, epoch: u16, fragment: &[u8]) -> Vec<u8> {
        let mut r = vec![content_type, 0xfe, 0xfd];
        r.extend_from_slice(&epoch.to_be_bytes());
        r.extend_from_slice(&[0, 0, 0, 0, 0, 7]);
        let len = u16::try_from(fragment.len()).unwrap_or(u16::MAX);
        r.extend_from_slice(&len.to_be_bytes());
        r.extend_from_slice(fragment);
        r
    }

    #[test]
    fn rfc6347_4_1_framing() {
        let hs = record(HANDSHAKE, 0, &[1, 2, 3]);
        assert_eq!(check_datagram(&hs, false), Ok(()));
        // Two records back to back (RFC 6347 §4.1.1).
        let mut two = hs.clone();
        two.extend_from_slice(&record(HANDSHAKE, 1, &[9; 40]));
        assert_eq!(check_datagram(&two, false), Ok(()));
        // Truncated header, truncated fragment, trailing junk.
        assert_eq!(check_datagram(&hs[..12], false), Err(RecordDrop::Malformed));
        assert_eq!(
            check_datagram(&hs[..hs.len() - 1], false),
            Err(RecordDrop::Malformed)
        );
        let mut junk = hs.clone();
        junk.push(HANDSHAKE);
        assert_eq!(check_datagram(&junk, false), Err(RecordDrop::Malformed));
        assert_eq!(check_datagram(&[], false), Err(RecordDrop::Malformed));
    }

    #[test]
    fn version_and_content_type() {
        let mut v = record(HANDSHAKE, 0, &[1]);
        v[2] = 0xff; // DTLS 1.0 record version of a ClientHello
        assert_eq!(check_datagram(&v, false), Ok(()));
        v[1] = 0x03; // TLS, not DTLS
        assert_eq!(check_datagram(&v, false), Err(RecordDrop::BadVersion));
        let heartbeat = record(24, 1, &[1]);
        assert_eq!(
            check_datagram(&heartbeat, false),
            Err(RecordDrop::UnknownContentType)
        );
    }

    #[test]
    fn after_handshake_only_what_a_peer_may_still_send() {
        let ok = [
            record(ALERT, 1, &[0; 26]),
            record(HANDSHAKE, 1, &[0; 40]),
            record(HANDSHAKE, 0, &[0; 40]),
            record(CHANGE_CIPHER_SPEC, 0, &[1]),
        ];
        for r in &ok {
            assert_eq!(check_datagram(r, true), Ok(()));
        }
        let stray = [
            record(ALERT, 0, &[2, 40]),
            record(APPLICATION_DATA, 1, &[0; 30]),
            record(APPLICATION_DATA, 0, &[0; 30]),
            record(CHANGE_CIPHER_SPEC, 0, &[7, 7]),
            record(CHANGE_CIPHER_SPEC, 1, &[1]),
        ];
        for r in &stray {
            assert_eq!(check_datagram(r, false), Ok(()));
            assert_eq!(
                check_datagram(r, true),
                Err(RecordDrop::StrayAfterHandshake)
            );
        }
    }
}
