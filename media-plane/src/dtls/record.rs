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

/// Largest ClientHello body reassembled (a post-quantum key share makes Chromium's
/// ~1.4 KB, sent in two fragments); larger ones are left to the library.
const MAX_HELLO_LEN: usize = 1 << 14;

/// What [`HelloAssembly::add`] made of the datagrams so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Hello {
    /// Part of a ClientHello is still missing.
    Incomplete,
    /// The ClientHello is complete: its `use_srtp` profile ids in the client's order
    /// (`None`: no such extension, or a body that does not parse).
    Complete(Option<Vec<u16>>),
    /// Not a ClientHello (or one too large to reassemble): leave it to the library.
    Unusable,
}

/// Reassembles the client's first ClientHello from its handshake fragments (RFC 6347
/// §4.2.3) to read its `use_srtp` extension (RFC 5764 §4.1.1).
///
/// ```text
///  record header (13) | handshake: msg_type 1, length (3), message_seq (2),
///  fragment_offset (3), fragment_length (3), fragment     RFC 6347 §4.2.2
///  ClientHello: client_version (2), random (32), session_id <0..32>,
///  cookie <0..2^8-1>, cipher_suites <2..2^16-2>, compression_methods <1..2^8-1>,
///  extensions <0..2^16-1>: { type (2), length (2), data }   RFC 6347 §4.2.1, RFC 5246 §7.4.1.2
///  use_srtp (type 14): profiles <2..2^16-1> of uint16, mki <0..255>   RFC 5764 §4.1.1
/// ```
#[derive(Debug, Default)]
pub(crate) struct HelloAssembly {
    /// `(length, message_seq)` of the ClientHello being assembled.
    target: Option<(usize, u16)>,
    body: Vec<u8>,
    have: Vec<bool>,
}

impl HelloAssembly {
    /// Adds the handshake records of one datagram.
    pub(crate) fn add(&mut self, datagram: &[u8]) -> Hello {
        let mut rest = datagram;
        while !rest.is_empty() {
            let Ok(header) = parse_header(rest) else {
                return Hello::Unusable;
            };
            let Some(fragment) = rest.get(RECORD_HEADER_LEN..RECORD_HEADER_LEN + header.length)
            else {
                return Hello::Unusable;
            };
            rest = &rest[RECORD_HEADER_LEN + header.length..];
            if header.content_type != HANDSHAKE || header.epoch != 0 {
                return Hello::Unusable;
            }
            if let Err(()) = self.fragment(fragment) {
                return Hello::Unusable;
            }
        }
        match self.target {
            Some(_) if self.have.iter().all(|h| *h) => {
                Hello::Complete(use_srtp_profiles(&self.body))
            }
            Some(_) => Hello::Incomplete,
            None => Hello::Unusable,
        }
    }

    /// One handshake message fragment (several may share a record).
    fn fragment(&mut self, mut record: &[u8]) -> Result<(), ()> {
        let u24 =
            |b: &[u8]| (usize::from(b[0]) << 16) | (usize::from(b[1]) << 8) | usize::from(b[2]);
        while !record.is_empty() {
            let hs = record.get(..12).ok_or(())?;
            let (msg_type, length, seq) =
                (hs[0], u24(&hs[1..4]), u16::from_be_bytes([hs[4], hs[5]]));
            let (offset, len) = (u24(&hs[6..9]), u24(&hs[9..12]));
            let data = record.get(12..12 + len).ok_or(())?;
            record = &record[12 + len..];
            if msg_type != 1 || length > MAX_HELLO_LEN || offset + len > length {
                return Err(());
            }
            match self.target {
                None => {
                    self.target = Some((length, seq));
                    self.body = vec![0; length];
                    self.have = vec![false; length];
                }
                // A retransmission or the cookie-bearing second ClientHello: the first
                // one decides.
                Some((l, s)) if (l, s) != (length, seq) => continue,
                Some(_) => {}
            }
            self.body[offset..offset + len].copy_from_slice(data);
            self.have[offset..offset + len].fill(true);
        }
        Ok(())
    }
}

/// The `use_srtp` profile ids of a ClientHello body, in the client's order.
fn use_srtp_profiles(mut body: &[u8]) -> Option<Vec<u16>> {
    let mut take = |n: usize| -> Option<&[u8]> {
        let (head, tail) = (body.get(..n)?, body.get(n..)?);
        body = tail;
        Some(head)
    };
    take(2 + 32)?;
    let n = usize::from(*take(1)?.first()?);
    take(n)?; // session_id
    let n = usize::from(*take(1)?.first()?);
    take(n)?; // cookie
    let n = take(2)?;
    take(usize::from(u16::from_be_bytes([n[0], n[1]])))?; // cipher_suites
    let n = usize::from(*take(1)?.first()?);
    take(n)?; // compression_methods
    let n = take(2)?;
    let mut exts = take(usize::from(u16::from_be_bytes([n[0], n[1]])))?;
    while exts.len() >= 4 {
        let kind = u16::from_be_bytes([exts[0], exts[1]]);
        let len = usize::from(u16::from_be_bytes([exts[2], exts[3]]));
        let data = exts.get(4..4 + len)?;
        if kind == 14 {
            let n = usize::from(u16::from_be_bytes([*data.first()?, *data.get(1)?]));
            let ids = data.get(2..2 + n)?;
            return Some(
                ids.chunks_exact(2)
                    .map(|c| u16::from_be_bytes([c[0], c[1]]))
                    .collect(),
            );
        }
        exts = &exts[4 + len..];
    }
    None
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

    /// A DTLS 1.2 ClientHello with session id, cookie, two suites and the extensions
    /// `extended_master_secret` and `use_srtp` [0x0001, 0x0007], in one record.
    fn client_hello(cookie: &[u8]) -> Vec<u8> {
        let mut body = vec![0xfe, 0xfd];
        body.extend([7u8; 32]);
        body.extend([2, 0xaa, 0xbb]);
        body.push(cookie.len() as u8);
        body.extend(cookie);
        body.extend([0, 4, 0xc0, 0x2b, 0xc0, 0x2f, 1, 0]);
        let exts = [
            &[0x00, 0x17, 0, 0][..],
            &[0x00, 0x0e, 0, 7, 0, 4, 0x00, 0x01, 0x00, 0x07, 0][..],
        ]
        .concat();
        body.extend((exts.len() as u16).to_be_bytes());
        body.extend(exts);
        let n = body.len();
        let mut hs = vec![
            1,
            0,
            (n >> 8) as u8,
            n as u8,
            0,
            0,
            0,
            0,
            0,
            0,
            (n >> 8) as u8,
            n as u8,
        ];
        hs.extend(body);
        let mut rec = vec![22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0];
        rec.extend((hs.len() as u16).to_be_bytes());
        rec.extend(hs);
        rec
    }

    fn profiles_of(datagrams: &[&[u8]]) -> Hello {
        let mut a = HelloAssembly::default();
        let mut last = Hello::Unusable;
        for d in datagrams {
            last = a.add(d);
        }
        last
    }

    /// `hello` (one record) split into two records of two datagrams at body offset `at`.
    fn fragmented(hello: &[u8], at: usize) -> (Vec<u8>, Vec<u8>) {
        let hs = &hello[13..];
        let body = &hs[12..];
        let part = |off: usize, data: &[u8]| {
            let mut h = hs[..6].to_vec();
            h.extend(&(off as u32).to_be_bytes()[1..]);
            h.extend(&(data.len() as u32).to_be_bytes()[1..]);
            h.extend(data);
            let mut rec = hello[..11].to_vec();
            rec.extend((h.len() as u16).to_be_bytes());
            rec.extend(h);
            rec
        };
        (part(0, &body[..at]), part(at, &body[at..]))
    }

    #[test]
    fn use_srtp_profiles_of_a_client_hello() {
        let want = Hello::Complete(Some(vec![0x0001, 0x0007]));
        for cookie in [&[][..], &[9u8; 32][..]] {
            let ch = client_hello(cookie);
            assert_eq!(check_datagram(&ch, false), Ok(()));
            assert_eq!(profiles_of(&[&ch]), want);
            // Every truncation and bit flip is read without a panic.
            for cut in 0..ch.len() {
                assert_ne!(profiles_of(&[&ch[..cut]]), want, "cut at {cut}");
            }
            let mut flipped = ch.clone();
            for i in 0..flipped.len() * 8 {
                flipped[i / 8] ^= 1 << (i % 8);
                let _ = profiles_of(&[&flipped]);
                flipped[i / 8] ^= 1 << (i % 8);
            }
        }
    }

    /// Chromium's ClientHello (a ~1.2 KB post-quantum key share) comes in two
    /// fragments; they are reassembled in either order, and a retransmission of the
    /// first changes nothing.
    #[test]
    fn a_fragmented_client_hello_is_reassembled() {
        let ch = client_hello(&[]);
        let (first, second) = fragmented(&ch, 40);
        assert_eq!(profiles_of(&[&first]), Hello::Incomplete);
        let want = Hello::Complete(Some(vec![0x0001, 0x0007]));
        assert_eq!(profiles_of(&[&first, &second]), want);
        assert_eq!(profiles_of(&[&second, &first]), want);
        assert_eq!(profiles_of(&[&first, &first, &second]), want);
        // Both fragments as two records of one datagram.
        assert_eq!(profiles_of(&[&[first, second].concat()]), want);
        // Not a ClientHello.
        let mut alert = ch.clone();
        alert[0] = 21;
        assert_eq!(profiles_of(&[&alert]), Hello::Unusable);
    }

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
