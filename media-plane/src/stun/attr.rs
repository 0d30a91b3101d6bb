//! STUN attributes: the TLV framing (RFC 8489 §14) and the typed values this crate uses.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |         Type                  |            Length             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                         Value (variable)                ....
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//! The value is padded to a multiple of 4 bytes; receivers ignore the padding bytes.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::header::{TransactionId, MAGIC_COOKIE};
use super::StunError;

/// Attribute type numbers (RFC 8489 §18.3, RFC 8445 §16.1).
pub mod attr_type {
    /// MAPPED-ADDRESS (RFC 8489 §14.1).
    pub const MAPPED_ADDRESS: u16 = 0x0001;
    /// USERNAME (RFC 8489 §14.3).
    pub const USERNAME: u16 = 0x0006;
    /// MESSAGE-INTEGRITY (RFC 8489 §14.5).
    pub const MESSAGE_INTEGRITY: u16 = 0x0008;
    /// ERROR-CODE (RFC 8489 §14.8).
    pub const ERROR_CODE: u16 = 0x0009;
    /// UNKNOWN-ATTRIBUTES (RFC 8489 §14.9).
    pub const UNKNOWN_ATTRIBUTES: u16 = 0x000A;
    /// REALM (RFC 8489 §14.9).
    pub const REALM: u16 = 0x0014;
    /// NONCE (RFC 8489 §14.10).
    pub const NONCE: u16 = 0x0015;
    /// MESSAGE-INTEGRITY-SHA256 (RFC 8489 §14.6).
    pub const MESSAGE_INTEGRITY_SHA256: u16 = 0x001C;
    /// PASSWORD-ALGORITHM (RFC 8489 §14.12).
    pub const PASSWORD_ALGORITHM: u16 = 0x001D;
    /// USERHASH (RFC 8489 §14.4).
    pub const USERHASH: u16 = 0x001E;
    /// XOR-MAPPED-ADDRESS (RFC 8489 §14.2).
    pub const XOR_MAPPED_ADDRESS: u16 = 0x0020;
    /// PRIORITY (RFC 8445 §7.1.1).
    pub const PRIORITY: u16 = 0x0024;
    /// USE-CANDIDATE (RFC 8445 §7.1.2).
    pub const USE_CANDIDATE: u16 = 0x0025;
    /// PASSWORD-ALGORITHMS (RFC 8489 §14.11).
    pub const PASSWORD_ALGORITHMS: u16 = 0x8002;
    /// ALTERNATE-DOMAIN (RFC 8489 §14.16).
    pub const ALTERNATE_DOMAIN: u16 = 0x8003;
    /// SOFTWARE (RFC 8489 §14.14).
    pub const SOFTWARE: u16 = 0x8022;
    /// ALTERNATE-SERVER (RFC 8489 §14.15).
    pub const ALTERNATE_SERVER: u16 = 0x8023;
    /// FINGERPRINT (RFC 8489 §14.7).
    pub const FINGERPRINT: u16 = 0x8028;
    /// ICE-CONTROLLED (RFC 8445 §7.1.3).
    pub const ICE_CONTROLLED: u16 = 0x8029;
    /// ICE-CONTROLLING (RFC 8445 §7.1.3).
    pub const ICE_CONTROLLING: u16 = 0x802A;

    /// RFC 8489 §14: types 0x0000-0x7FFF are comprehension-required.
    pub fn is_comprehension_required(t: u16) -> bool {
        t < 0x8000
    }

    /// Whether this agent understands a comprehension-required type. Anything else in
    /// 0x0000-0x7FFF triggers a 420 (RFC 8489 §6.3.1).
    pub fn is_known_required(t: u16) -> bool {
        matches!(
            t,
            MAPPED_ADDRESS
                | USERNAME
                | MESSAGE_INTEGRITY
                | ERROR_CODE
                | UNKNOWN_ATTRIBUTES
                | REALM
                | NONCE
                | MESSAGE_INTEGRITY_SHA256
                | PASSWORD_ALGORITHM
                | USERHASH
                | XOR_MAPPED_ADDRESS
                | PRIORITY
                | USE_CANDIDATE
        )
    }
}

/// One attribute as it is on the wire, borrowed from the datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawAttribute<'a> {
    /// The attribute type.
    pub attr_type: u16,
    /// The value, without padding.
    pub value: &'a [u8],
    /// The padding bytes as received (0-3 bytes; their content is meaningless).
    pub padding: &'a [u8],
    /// Offset of the attribute's type field from the start of the message.
    pub offset: usize,
}

impl RawAttribute<'_> {
    /// Bytes the attribute takes on the wire: 4-byte TLV header, value and padding.
    pub fn wire_len(&self) -> usize {
        4 + self.value.len() + self.padding.len()
    }
}

/// Iterator over the attributes of a message whose framing was already checked.
#[derive(Debug, Clone)]
pub struct AttributeIter<'a> {
    msg: &'a [u8],
    pos: usize,
}

impl<'a> AttributeIter<'a> {
    /// Iterates the attributes of `msg` (a whole message, header included).
    pub(crate) fn new(msg: &'a [u8]) -> Self {
        AttributeIter { msg, pos: 20 }
    }

    /// The next attribute, or the framing error that stops the walk.
    pub(crate) fn next_checked(&mut self) -> Option<Result<RawAttribute<'a>, StunError>> {
        let head = self.msg.get(self.pos..)?;
        if head.is_empty() {
            return None;
        }
        let Some(tl) = head.get(..4) else {
            self.pos = self.msg.len();
            return Some(Err(StunError::Truncated {
                len: self.msg.len(),
                needed: self.pos + 4,
            }));
        };
        let attr_type = u16::from_be_bytes([tl[0], tl[1]]);
        let len = usize::from(u16::from_be_bytes([tl[2], tl[3]]));
        let padded = (len + 3) & !3;
        let (Some(value), Some(padding)) = (head.get(4..4 + len), head.get(4 + len..4 + padded))
        else {
            self.pos = self.msg.len();
            return Some(Err(StunError::AttributeOverrun { attr_type }));
        };
        let attr = RawAttribute {
            attr_type,
            value,
            padding,
            offset: self.pos,
        };
        self.pos += 4 + padded;
        Some(Ok(attr))
    }
}

impl<'a> Iterator for AttributeIter<'a> {
    type Item = RawAttribute<'a>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_checked().and_then(Result::ok)
    }
}

/// The value of an ERROR-CODE attribute (RFC 8489 §14.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorCode<'a> {
    /// The code, 300-699 (class × 100 + number).
    pub code: u16,
    /// The reason phrase.
    pub reason: &'a str,
}

impl<'a> ErrorCode<'a> {
    /// RFC 8489 §14.8: 21 reserved bits, a 3-bit class (3-6), an 8-bit number (0-99),
    /// then a UTF-8 reason phrase of fewer than 128 characters (at most 763 bytes).
    pub(crate) fn decode(value: &'a [u8]) -> Result<Self, StunError> {
        let bad = StunError::BadAttribute {
            attr_type: attr_type::ERROR_CODE,
        };
        let (Some(head), Some(reason)) = (value.get(..4), value.get(4..)) else {
            return Err(bad);
        };
        let class = u16::from(head[2] & 0x07);
        let number = u16::from(head[3]);
        if !(3..=6).contains(&class) || number > 99 || reason.len() > 763 {
            return Err(bad);
        }
        let reason = std::str::from_utf8(reason).map_err(|_| bad)?;
        Ok(ErrorCode {
            code: class * 100 + number,
            reason,
        })
    }

    /// The standard reason phrase for the codes this crate sends (RFC 8489 §14.8,
    /// RFC 8445 §7.3.1.1).
    pub fn default_reason(code: u16) -> &'static str {
        match code {
            300 => "Try Alternate",
            400 => "Bad Request",
            401 => "Unauthenticated",
            420 => "Unknown Attribute",
            438 => "Stale Nonce",
            487 => "Role Conflict",
            500 => "Server Error",
            _ => "Error",
        }
    }
}

/// Decodes an XOR-MAPPED-ADDRESS value (RFC 8489 §14.2).
///
/// ```text
/// |0 0 0 0 0 0 0 0|    Family     |         X-Port                |
/// |                X-Address (Variable)
/// ```
pub(crate) fn decode_xor_address(
    value: &[u8],
    transaction_id: &TransactionId,
) -> Result<SocketAddr, StunError> {
    let bad = StunError::BadAttribute {
        attr_type: attr_type::XOR_MAPPED_ADDRESS,
    };
    let cookie = MAGIC_COOKIE.to_be_bytes();
    let (family, xport) = match value.get(..4) {
        Some(h) => (h[1], u16::from_be_bytes([h[2], h[3]])),
        None => return Err(bad),
    };
    let port = xport ^ (MAGIC_COOKIE >> 16) as u16;
    match (family, value.get(4..)) {
        (0x01, Some(a)) if a.len() == 4 => {
            let ip = [
                a[0] ^ cookie[0],
                a[1] ^ cookie[1],
                a[2] ^ cookie[2],
                a[3] ^ cookie[3],
            ];
            Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::from(ip)), port))
        }
        (0x02, Some(a)) if a.len() == 16 => {
            let mut ip = [0u8; 16];
            for (i, b) in ip.iter_mut().enumerate() {
                let k = if i < 4 {
                    cookie[i]
                } else {
                    transaction_id[i - 4]
                };
                *b = a[i] ^ k;
            }
            Ok(SocketAddr::new(IpAddr::V6(Ipv6Addr::from(ip)), port))
        }
        _ => Err(bad),
    }
}

/// Encodes an XOR-MAPPED-ADDRESS value into `out`, returning its length (8 or 20).
pub(crate) fn encode_xor_address(
    addr: SocketAddr,
    transaction_id: &TransactionId,
    out: &mut [u8; 20],
) -> usize {
    let cookie = MAGIC_COOKIE.to_be_bytes();
    out[0] = 0;
    out[2..4].copy_from_slice(&(addr.port() ^ (MAGIC_COOKIE >> 16) as u16).to_be_bytes());
    match addr.ip() {
        IpAddr::V4(ip) => {
            out[1] = 0x01;
            for (i, b) in ip.octets().iter().enumerate() {
                out[4 + i] = b ^ cookie[i];
            }
            8
        }
        IpAddr::V6(ip) => {
            out[1] = 0x02;
            for (i, b) in ip.octets().iter().enumerate() {
                let k = if i < 4 {
                    cookie[i]
                } else {
                    transaction_id[i - 4]
                };
                out[4 + i] = b ^ k;
            }
            20
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xor_address_roundtrip_v4_v6() {
        let tid = [7u8; 12];
        for addr in [
            "192.0.2.1:32853".parse::<SocketAddr>(),
            "[2001:db8::1]:9".parse::<SocketAddr>(),
        ] {
            let addr = addr.expect("literal address");
            let mut buf = [0u8; 20];
            let n = encode_xor_address(addr, &tid, &mut buf);
            assert_eq!(decode_xor_address(&buf[..n], &tid), Ok(addr));
        }
        assert!(decode_xor_address(&[0, 1, 0], &tid).is_err());
        assert!(decode_xor_address(&[0, 3, 0, 0, 1, 2, 3, 4], &tid).is_err());
        assert!(decode_xor_address(&[0, 2, 0, 0, 1, 2, 3, 4], &tid).is_err());
    }

    #[test]
    fn error_code_bounds() {
        assert_eq!(
            ErrorCode::decode(&[0, 0, 4, 87, b'R']),
            Ok(ErrorCode {
                code: 487,
                reason: "R"
            })
        );
        assert!(ErrorCode::decode(&[0, 0, 2, 0]).is_err());
        assert!(ErrorCode::decode(&[0, 0, 4, 100]).is_err());
        assert!(ErrorCode::decode(&[0, 0, 4]).is_err());
        assert!(ErrorCode::decode(&[0, 0, 4, 0, 0xff]).is_err());
    }
}
