//! The 20-byte STUN header (RFC 8489 §5).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |0 0|     STUN Message Type     |         Message Length        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                         Magic Cookie                          |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                     Transaction ID (96 bits)                  |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!
//! Message Type:  M11 M10 M9 M8 M7 C1 M6 M5 M4 C0 M3 M2 M1 M0
//! ```

use super::StunError;

/// Size of the STUN header.
pub const HEADER_LEN: usize = 20;
/// The fixed magic cookie (RFC 8489 §5).
pub const MAGIC_COOKIE: u32 = 0x2112_A442;

/// The message class, the two C bits of the message type (RFC 8489 §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    /// `0b00`
    Request,
    /// `0b01`
    Indication,
    /// `0b10`
    SuccessResponse,
    /// `0b11`
    ErrorResponse,
}

impl Class {
    fn bits(self) -> u16 {
        match self {
            Class::Request => 0b00,
            Class::Indication => 0b01,
            Class::SuccessResponse => 0b10,
            Class::ErrorResponse => 0b11,
        }
    }

    fn from_bits(bits: u16) -> Self {
        match bits & 0b11 {
            0b00 => Class::Request,
            0b01 => Class::Indication,
            0b10 => Class::SuccessResponse,
            _ => Class::ErrorResponse,
        }
    }
}

/// The 12-bit STUN method (RFC 8489 §5, §18.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Method(pub u16);

impl Method {
    /// Binding, the only method RFC 8489 defines and the only one ICE uses.
    pub const BINDING: Method = Method(0x001);
}

/// The 96-bit transaction ID.
pub type TransactionId = [u8; 12];

/// The parsed fixed header. Parsing it checks only what RFC 8489 §5 fixes; the
/// attributes are checked by [`super::Message::parse`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Request, indication or response.
    pub class: Class,
    /// The method.
    pub method: Method,
    /// The message-length field: bytes after the header.
    pub length: u16,
    /// The transaction ID.
    pub transaction_id: TransactionId,
}

impl Header {
    /// Parses and checks the header at the start of `buf`: the leading zero bits and the
    /// magic cookie (RFC 8489 §5). The length field is returned as is.
    pub fn parse(buf: &[u8]) -> Result<Self, StunError> {
        let Some(h) = buf.get(..HEADER_LEN) else {
            return Err(StunError::Truncated {
                len: buf.len(),
                needed: HEADER_LEN,
            });
        };
        let message_type = u16::from_be_bytes([h[0], h[1]]);
        if message_type & 0xC000 != 0 {
            return Err(StunError::NotStun);
        }
        if u32::from_be_bytes([h[4], h[5], h[6], h[7]]) != MAGIC_COOKIE {
            return Err(StunError::NotStun);
        }
        let mut transaction_id = [0u8; 12];
        transaction_id.copy_from_slice(&h[8..20]);
        let (class, method) = split_type(message_type);
        Ok(Header {
            class,
            method,
            length: u16::from_be_bytes([h[2], h[3]]),
            transaction_id,
        })
    }

    /// Writes the header into `out[..20]`.
    pub(crate) fn write(&self, out: &mut [u8; HEADER_LEN]) {
        out[0..2].copy_from_slice(&join_type(self.class, self.method).to_be_bytes());
        out[2..4].copy_from_slice(&self.length.to_be_bytes());
        out[4..8].copy_from_slice(&MAGIC_COOKIE.to_be_bytes());
        out[8..20].copy_from_slice(&self.transaction_id);
    }
}

/// Splits the 14-bit message type into class and method (RFC 8489 §5, Figure 3).
fn split_type(t: u16) -> (Class, Method) {
    let class = ((t >> 7) & 0b10) | ((t >> 4) & 0b01);
    let method = (t & 0x000F) | ((t >> 1) & 0x0070) | ((t >> 2) & 0x0F80);
    (Class::from_bits(class), Method(method))
}

/// Interleaves class and method into the message type (RFC 8489 §5, Figure 3).
fn join_type(class: Class, method: Method) -> u16 {
    let m = method.0 & 0x0FFF;
    let c = class.bits();
    (m & 0x000F) | ((m & 0x0070) << 1) | ((m & 0x0F80) << 2) | ((c & 0b01) << 4) | ((c & 0b10) << 7)
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 8489 §5: "a Binding request has class=0b00 (request) and method=0b000000000001
    // (Binding) and is encoded into the first 16 bits as 0x0001. A Binding response has
    // class=0b10 (success response) and method=0b000000000001, and is encoded into the
    // first 16 bits as 0x0101."
    #[test]
    fn rfc8489_s5_type_encoding() {
        assert_eq!(join_type(Class::Request, Method::BINDING), 0x0001);
        assert_eq!(join_type(Class::SuccessResponse, Method::BINDING), 0x0101);
        assert_eq!(join_type(Class::ErrorResponse, Method::BINDING), 0x0111);
        assert_eq!(join_type(Class::Indication, Method::BINDING), 0x0011);
        for t in 0..0x4000u16 {
            let (c, m) = split_type(t);
            assert_eq!(join_type(c, m), t);
        }
    }

    #[test]
    fn header_rejects_bad_cookie_and_leading_bits() {
        let mut h = [0u8; 20];
        h[1] = 1;
        h[4..8].copy_from_slice(&MAGIC_COOKIE.to_be_bytes());
        assert!(Header::parse(&h).is_ok());
        h[0] = 0x80;
        assert_eq!(Header::parse(&h), Err(StunError::NotStun));
        h[0] = 0;
        h[7] ^= 1;
        assert_eq!(Header::parse(&h), Err(StunError::NotStun));
        assert!(matches!(
            Header::parse(&h[..19]),
            Err(StunError::Truncated { .. })
        ));
    }
}
