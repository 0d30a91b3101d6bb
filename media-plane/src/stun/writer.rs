//! Writing a STUN message into a caller's buffer (RFC 8489 §5, §14), without allocating.

use std::net::SocketAddr;

use super::attr::{attr_type as at, encode_xor_address, RawAttribute};
use super::header::{Class, Header, Method, TransactionId, HEADER_LEN};
use super::{integrity, StunError, FINGERPRINT_LEN};

/// Builds a STUN message in place in `buf`. The header's length field is kept up to date
/// after every attribute, so the message is well formed at every step; [`finish`]
/// returns how many bytes to send.
///
/// Order: ordinary attributes, then [`message_integrity`], then [`fingerprint`]
/// (RFC 8489 §14.5, §14.7). Nothing can be written after FINGERPRINT.
///
/// [`finish`]: MessageWriter::finish
/// [`message_integrity`]: MessageWriter::message_integrity
/// [`fingerprint`]: MessageWriter::fingerprint
#[derive(Debug)]
pub struct MessageWriter<'b> {
    buf: &'b mut [u8],
    len: usize,
    transaction_id: TransactionId,
    sealed: bool,
}

impl<'b> MessageWriter<'b> {
    /// Starts a message with the given class, method and transaction ID.
    pub fn new(
        buf: &'b mut [u8],
        class: Class,
        method: Method,
        transaction_id: TransactionId,
    ) -> Result<Self, StunError> {
        let head: &mut [u8; HEADER_LEN] = buf
            .get_mut(..HEADER_LEN)
            .and_then(|h| h.try_into().ok())
            .ok_or(StunError::BufferTooSmall)?;
        Header {
            class,
            method,
            length: 0,
            transaction_id,
        }
        .write(head);
        Ok(MessageWriter {
            buf,
            len: HEADER_LEN,
            transaction_id,
            sealed: false,
        })
    }

    /// Bytes written so far (a complete message).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always false: a message has at least its header.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Reserves an attribute of `value_len` bytes plus padding and returns the value slot.
    /// Padding is zeroed (RFC 8489 §14: any value, ignored by receivers).
    fn reserve(&mut self, t: u16, value_len: usize) -> Result<&mut [u8], StunError> {
        if self.sealed {
            return Err(StunError::FingerprintNotLast);
        }
        let wire_len =
            u16::try_from(value_len).map_err(|_| StunError::ValueTooLong { attr_type: t })?;
        let padded = (value_len + 3) & !3;
        let end = self.len + 4 + padded;
        if end - HEADER_LEN > usize::from(u16::MAX) {
            return Err(StunError::ValueTooLong { attr_type: t });
        }
        let slot = self
            .buf
            .get_mut(self.len..end)
            .ok_or(StunError::BufferTooSmall)?;
        slot[0..2].copy_from_slice(&t.to_be_bytes());
        slot[2..4].copy_from_slice(&wire_len.to_be_bytes());
        slot[4 + value_len..].fill(0);
        self.len = end;
        self.set_length(end);
        Ok(&mut self.buf[end - padded..end - padded + value_len])
    }

    fn set_length(&mut self, total: usize) {
        // `reserve` keeps total - 20 within u16; saturate rather than panic regardless.
        let field = u16::try_from(total - HEADER_LEN).unwrap_or(u16::MAX);
        self.buf[2..4].copy_from_slice(&field.to_be_bytes());
    }

    /// Appends an attribute with `value`, zero-padded.
    pub fn attribute(&mut self, t: u16, value: &[u8]) -> Result<&mut Self, StunError> {
        self.reserve(t, value.len())?.copy_from_slice(value);
        Ok(self)
    }

    /// Copies an attribute byte for byte, padding included, as it was received.
    /// The padding must be as long as RFC 8489 §14 makes it (0-3 bytes).
    pub fn raw_attribute(&mut self, attr: &RawAttribute<'_>) -> Result<&mut Self, StunError> {
        let padding_len = attr.padding.len();
        if padding_len != (4 - attr.value.len() % 4) % 4 {
            return Err(StunError::BadAttribute {
                attr_type: attr.attr_type,
            });
        }
        self.attribute(attr.attr_type, attr.value)?;
        let end = self.len;
        self.buf[end - padding_len..end].copy_from_slice(attr.padding);
        Ok(self)
    }

    /// USERNAME (RFC 8489 §14.3).
    pub fn username(&mut self, username: &str) -> Result<&mut Self, StunError> {
        if username.len() > 513 {
            return Err(StunError::ValueTooLong {
                attr_type: at::USERNAME,
            });
        }
        self.attribute(at::USERNAME, username.as_bytes())
    }

    /// SOFTWARE (RFC 8489 §14.14).
    pub fn software(&mut self, software: &str) -> Result<&mut Self, StunError> {
        if software.len() > 763 {
            return Err(StunError::ValueTooLong {
                attr_type: at::SOFTWARE,
            });
        }
        self.attribute(at::SOFTWARE, software.as_bytes())
    }

    /// PRIORITY (RFC 8445 §7.1.1).
    pub fn priority(&mut self, priority: u32) -> Result<&mut Self, StunError> {
        self.attribute(at::PRIORITY, &priority.to_be_bytes())
    }

    /// USE-CANDIDATE (RFC 8445 §7.1.2).
    pub fn use_candidate(&mut self) -> Result<&mut Self, StunError> {
        self.attribute(at::USE_CANDIDATE, &[])
    }

    /// ICE-CONTROLLING with its tie-breaker (RFC 8445 §7.1.3).
    pub fn ice_controlling(&mut self, tie_breaker: u64) -> Result<&mut Self, StunError> {
        self.attribute(at::ICE_CONTROLLING, &tie_breaker.to_be_bytes())
    }

    /// ICE-CONTROLLED with its tie-breaker (RFC 8445 §7.1.3).
    pub fn ice_controlled(&mut self, tie_breaker: u64) -> Result<&mut Self, StunError> {
        self.attribute(at::ICE_CONTROLLED, &tie_breaker.to_be_bytes())
    }

    /// XOR-MAPPED-ADDRESS, IPv4 or IPv6 (RFC 8489 §14.2).
    pub fn xor_mapped_address(&mut self, addr: SocketAddr) -> Result<&mut Self, StunError> {
        let mut value = [0u8; 20];
        let n = encode_xor_address(addr, &self.transaction_id, &mut value);
        self.attribute(at::XOR_MAPPED_ADDRESS, &value[..n])
    }

    /// ERROR-CODE (RFC 8489 §14.8). `code` must be 300-699.
    pub fn error_code(&mut self, code: u16, reason: &str) -> Result<&mut Self, StunError> {
        let bad = StunError::ValueTooLong {
            attr_type: at::ERROR_CODE,
        };
        if !(300..700).contains(&code) || reason.len() > 763 {
            return Err(bad);
        }
        let slot = self.reserve(at::ERROR_CODE, 4 + reason.len())?;
        slot[0] = 0;
        slot[1] = 0;
        // Both fit in a byte: code / 100 is 3-6 and code % 100 is 0-99.
        slot[2] = u8::try_from(code / 100).unwrap_or(0);
        slot[3] = u8::try_from(code % 100).unwrap_or(0);
        slot[4..].copy_from_slice(reason.as_bytes());
        Ok(self)
    }

    /// UNKNOWN-ATTRIBUTES listing `types` (RFC 8489 §14.9), for a 420 response.
    pub fn unknown_attributes(&mut self, types: &[u16]) -> Result<&mut Self, StunError> {
        let slot = self.reserve(at::UNKNOWN_ATTRIBUTES, 2 * types.len())?;
        for (chunk, t) in slot.chunks_exact_mut(2).zip(types) {
            chunk.copy_from_slice(&t.to_be_bytes());
        }
        Ok(self)
    }

    /// MESSAGE-INTEGRITY: HMAC-SHA1 with `key` over the message so far, the length field
    /// counting MESSAGE-INTEGRITY itself (RFC 8489 §14.5).
    pub fn message_integrity(&mut self, key: &[u8]) -> Result<&mut Self, StunError> {
        let offset = self.len;
        self.reserve(at::MESSAGE_INTEGRITY, 20)?;
        let tag = integrity::compute_integrity(key, self.buf, offset)?;
        self.buf[offset + 4..offset + 24].copy_from_slice(&tag);
        Ok(self)
    }

    /// FINGERPRINT: CRC-32 of the message so far XOR 0x5354554e (RFC 8489 §14.7). Must be
    /// the last attribute; the writer refuses any after it.
    pub fn fingerprint(&mut self) -> Result<&mut Self, StunError> {
        let offset = self.len;
        self.reserve(at::FINGERPRINT, FINGERPRINT_LEN - 4)?;
        let crc = integrity::compute_fingerprint(self.buf, offset)?;
        self.buf[offset + 4..offset + 8].copy_from_slice(&crc.to_be_bytes());
        self.sealed = true;
        Ok(self)
    }

    /// Ends the message; returns its length in bytes, the prefix of the buffer to send.
    pub fn finish(self) -> usize {
        self.len
    }
}

#[cfg(test)]
mod tests {
    use super::super::{IceRole, Message};
    use super::*;

    #[test]
    fn write_then_parse_binding_request() {
        let mut buf = [0u8; 256];
        let mut w = MessageWriter::new(&mut buf, Class::Request, Method::BINDING, [9; 12])
            .expect("256 > 20");
        w.username("abcd:efgh")
            .and_then(|w| w.priority(0x6e00_01ff))
            .and_then(|w| w.ice_controlling(42))
            .and_then(|w| w.use_candidate())
            .and_then(|w| w.message_integrity(b"pass"))
            .and_then(|w| w.fingerprint())
            .expect("fits in 256 bytes");
        assert!(
            w.attribute(0x8050, b"x").is_err(),
            "nothing after FINGERPRINT"
        );
        let n = w.finish();
        let m = Message::parse(&buf[..n]).expect("own output parses");
        assert_eq!(m.username(), Some("abcd:efgh"));
        assert_eq!(m.priority(), Some(0x6e00_01ff));
        assert_eq!(m.ice_role(), Some(IceRole::Controlling(42)));
        assert!(m.use_candidate());
        assert_eq!(m.verify_integrity(b"pass"), Ok(()));
        assert_eq!(
            m.verify_integrity(b"wrong"),
            Err(StunError::IntegrityMismatch)
        );
        assert_eq!(m.verify_fingerprint(), Ok(()));
    }

    #[test]
    fn raw_attribute_with_wrong_padding_is_refused() {
        let mut buf = [0u8; 64];
        let mut w = MessageWriter::new(&mut buf, Class::Request, Method::BINDING, [0; 12])
            .expect("64 > 20");
        let attr = RawAttribute {
            attr_type: 0x8050,
            value: &[],
            padding: &[0; 40],
            offset: 0,
        };
        assert_eq!(
            w.raw_attribute(&attr).err(),
            Some(StunError::BadAttribute { attr_type: 0x8050 })
        );
        let attr = RawAttribute {
            value: b"abcde",
            padding: b"   ",
            ..attr
        };
        assert!(w.raw_attribute(&attr).is_ok());
        assert_eq!(w.finish(), 32);
    }

    #[test]
    fn small_buffer_is_an_error_not_a_panic() {
        let mut buf = [0u8; 30];
        assert!(
            MessageWriter::new(&mut buf[..19], Class::Request, Method::BINDING, [0; 12]).is_err()
        );
        let mut w = MessageWriter::new(&mut buf, Class::Request, Method::BINDING, [0; 12])
            .expect("30 > 20");
        assert_eq!(
            w.username("0123456789").err(),
            Some(StunError::BufferTooSmall)
        );
        assert_eq!(w.len(), 20);
    }
}
