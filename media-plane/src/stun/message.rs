//! A parsed STUN message borrowing its datagram (RFC 8489 §5, §6.3, §14).

use std::net::SocketAddr;

use super::attr::{attr_type as at, decode_xor_address, AttributeIter, ErrorCode};
use super::header::{Class, Header, Method, TransactionId, HEADER_LEN};
use super::{integrity, StunError};

/// How many unknown comprehension-required attribute types a [`Message`] remembers for the
/// UNKNOWN-ATTRIBUTES of a 420 response. Further ones still make the message "unknown".
pub const MAX_UNKNOWN_ATTRIBUTES: usize = 8;

/// The ICE role attribute of a request (RFC 8445 §7.1.3), with its tie-breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IceRole {
    /// ICE-CONTROLLING: the sender believes it is controlling.
    Controlling(u64),
    /// ICE-CONTROLLED: the sender believes it is controlled.
    Controlled(u64),
}

/// A STUN message whose framing and known attributes were checked once by
/// [`Message::parse`]. Getters are then infallible and do not allocate.
///
/// RFC 8489 §14: only the first occurrence of an attribute is used. RFC 8489 §14.5:
/// attributes after MESSAGE-INTEGRITY, other than FINGERPRINT, are ignored.
#[derive(Debug, Clone)]
pub struct Message<'a> {
    buf: &'a [u8],
    header: Header,
    username: Option<&'a str>,
    priority: Option<u32>,
    use_candidate: bool,
    role: Option<IceRole>,
    xor_mapped_address: Option<SocketAddr>,
    error_code: Option<ErrorCode<'a>>,
    software: Option<&'a str>,
    unknown_attributes_attr: Option<&'a [u8]>,
    integrity: Option<(usize, &'a [u8])>,
    fingerprint: Option<(usize, u32)>,
    unknown: [u16; MAX_UNKNOWN_ATTRIBUTES],
    unknown_len: usize,
}

impl<'a> Message<'a> {
    /// Parses one STUN message that fills the whole of `buf` (one message per UDP
    /// datagram, RFC 8489 §6.2.1). Never panics, whatever the bytes.
    ///
    /// Checks the header (RFC 8489 §5), the attribute framing (§14), that FINGERPRINT is
    /// last (§14.7) and the values of the attributes this crate knows. It does not check
    /// MESSAGE-INTEGRITY or FINGERPRINT: call [`Message::verify_integrity`] and
    /// [`Message::verify_fingerprint`].
    pub fn parse(buf: &'a [u8]) -> Result<Self, StunError> {
        let header = Header::parse(buf)?;
        let total = HEADER_LEN + usize::from(header.length);
        if header.length % 4 != 0 || buf.len() > total {
            return Err(StunError::BadLength {
                field: header.length,
                len: buf.len(),
            });
        }
        if buf.len() < total {
            return Err(StunError::Truncated {
                len: buf.len(),
                needed: total,
            });
        }
        let mut msg = Message {
            buf,
            header,
            username: None,
            priority: None,
            use_candidate: false,
            role: None,
            xor_mapped_address: None,
            error_code: None,
            software: None,
            unknown_attributes_attr: None,
            integrity: None,
            fingerprint: None,
            unknown: [0; MAX_UNKNOWN_ATTRIBUTES],
            unknown_len: 0,
        };
        let mut iter = AttributeIter::new(buf);
        while let Some(attr) = iter.next_checked() {
            let attr = attr?;
            if msg.fingerprint.is_some() {
                return Err(StunError::FingerprintNotLast);
            }
            let bad = StunError::BadAttribute {
                attr_type: attr.attr_type,
            };
            if attr.attr_type == at::FINGERPRINT {
                let v: [u8; 4] = attr.value.try_into().map_err(|_| bad)?;
                msg.fingerprint = Some((attr.offset, u32::from_be_bytes(v)));
                continue;
            }
            if msg.integrity.is_some() {
                // RFC 8489 §14.5: ignore everything after MESSAGE-INTEGRITY but FINGERPRINT.
                continue;
            }
            msg.take(attr.attr_type, attr.value, attr.offset)?;
        }
        Ok(msg)
    }

    /// Records one attribute that precedes MESSAGE-INTEGRITY (first occurrence wins).
    fn take(&mut self, t: u16, value: &'a [u8], offset: usize) -> Result<(), StunError> {
        let bad = StunError::BadAttribute { attr_type: t };
        match t {
            at::MESSAGE_INTEGRITY => {
                if value.len() != 20 {
                    return Err(bad);
                }
                self.integrity = Some((offset, value));
            }
            // RFC 8489 §14.3 says fewer than 509 bytes; RFC 5389 allowed 513, which an
            // ICE "ufrag:ufrag" of 256 + 1 + 256 characters needs.
            at::USERNAME if self.username.is_none() => {
                if value.len() > 513 {
                    return Err(bad);
                }
                self.username = Some(std::str::from_utf8(value).map_err(|_| bad)?);
            }
            at::PRIORITY if self.priority.is_none() => {
                let v: [u8; 4] = value.try_into().map_err(|_| bad)?;
                self.priority = Some(u32::from_be_bytes(v));
            }
            at::USE_CANDIDATE => {
                if !value.is_empty() {
                    return Err(bad);
                }
                self.use_candidate = true;
            }
            at::ICE_CONTROLLING | at::ICE_CONTROLLED if self.role.is_none() => {
                let v: [u8; 8] = value.try_into().map_err(|_| bad)?;
                let tie = u64::from_be_bytes(v);
                self.role = Some(if t == at::ICE_CONTROLLING {
                    IceRole::Controlling(tie)
                } else {
                    IceRole::Controlled(tie)
                });
            }
            at::XOR_MAPPED_ADDRESS if self.xor_mapped_address.is_none() => {
                let tid = self.header.transaction_id;
                self.xor_mapped_address = Some(decode_xor_address(value, &tid)?);
            }
            at::ERROR_CODE if self.error_code.is_none() => {
                self.error_code = Some(ErrorCode::decode(value)?);
            }
            // RFC 8489 §14.14: fewer than 128 characters, at most 763 bytes.
            at::SOFTWARE if self.software.is_none() => {
                if value.len() > 763 {
                    return Err(bad);
                }
                self.software = Some(std::str::from_utf8(value).map_err(|_| bad)?);
            }
            at::UNKNOWN_ATTRIBUTES if self.unknown_attributes_attr.is_none() => {
                if !value.len().is_multiple_of(2) {
                    return Err(bad);
                }
                self.unknown_attributes_attr = Some(value);
            }
            t if at::is_comprehension_required(t) && !at::is_known_required(t) => {
                // RFC 8489 §6.3.1: remembered for a 420 (requests) or a discard (responses).
                if let Some(slot) = self.unknown.get_mut(self.unknown_len) {
                    *slot = t;
                }
                self.unknown_len = self.unknown_len.saturating_add(1);
            }
            _ => {}
        }
        Ok(())
    }

    /// The whole message as received.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.buf
    }

    /// The parsed header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The message class.
    pub fn class(&self) -> Class {
        self.header.class
    }

    /// The method.
    pub fn method(&self) -> Method {
        self.header.method
    }

    /// The transaction ID.
    pub fn transaction_id(&self) -> TransactionId {
        self.header.transaction_id
    }

    /// All attributes in wire order, including those after MESSAGE-INTEGRITY.
    pub fn attributes(&self) -> AttributeIter<'a> {
        AttributeIter::new(self.buf)
    }

    /// USERNAME (RFC 8489 §14.3).
    pub fn username(&self) -> Option<&'a str> {
        self.username
    }

    /// PRIORITY (RFC 8445 §7.1.1).
    pub fn priority(&self) -> Option<u32> {
        self.priority
    }

    /// Whether USE-CANDIDATE is present (RFC 8445 §7.1.2).
    pub fn use_candidate(&self) -> bool {
        self.use_candidate
    }

    /// ICE-CONTROLLING or ICE-CONTROLLED, whichever comes first (RFC 8445 §7.1.3).
    pub fn ice_role(&self) -> Option<IceRole> {
        self.role
    }

    /// XOR-MAPPED-ADDRESS, decoded (RFC 8489 §14.2).
    pub fn xor_mapped_address(&self) -> Option<SocketAddr> {
        self.xor_mapped_address
    }

    /// ERROR-CODE (RFC 8489 §14.8).
    pub fn error_code(&self) -> Option<ErrorCode<'a>> {
        self.error_code
    }

    /// SOFTWARE (RFC 8489 §14.14).
    pub fn software(&self) -> Option<&'a str> {
        self.software
    }

    /// The attribute types listed in an UNKNOWN-ATTRIBUTES attribute (RFC 8489 §14.9).
    pub fn unknown_attributes_listed(&self) -> impl Iterator<Item = u16> + 'a {
        self.unknown_attributes_attr
            .unwrap_or_default()
            .chunks_exact(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]))
    }

    /// Comprehension-required attribute types this parser does not understand, up to
    /// [`MAX_UNKNOWN_ATTRIBUTES`] of them (RFC 8489 §6.3.1).
    pub fn unknown_comprehension_required(&self) -> &[u16] {
        let n = self.unknown_len.min(MAX_UNKNOWN_ATTRIBUTES);
        &self.unknown[..n]
    }

    /// Whether MESSAGE-INTEGRITY is present.
    pub fn has_integrity(&self) -> bool {
        self.integrity.is_some()
    }

    /// Offset of MESSAGE-INTEGRITY from the start of the message, if present.
    pub fn integrity_offset(&self) -> Option<usize> {
        self.integrity.map(|(o, _)| o)
    }

    /// Verifies MESSAGE-INTEGRITY (HMAC-SHA1) with `key`, in constant time
    /// (RFC 8489 §14.5). For short-term credentials the key is the password
    /// (RFC 8489 §9.1.1; ICE passwords are ASCII, which SASLprep leaves unchanged).
    pub fn verify_integrity(&self, key: &[u8]) -> Result<(), StunError> {
        let (offset, value) = self.integrity.ok_or(StunError::IntegrityMissing)?;
        integrity::verify_integrity(key, self.buf, offset, value)
    }

    /// Whether FINGERPRINT is present.
    pub fn has_fingerprint(&self) -> bool {
        self.fingerprint.is_some()
    }

    /// Offset of FINGERPRINT from the start of the message, if present.
    pub fn fingerprint_offset(&self) -> Option<usize> {
        self.fingerprint.map(|(o, _)| o)
    }

    /// Verifies FINGERPRINT: CRC-32 XOR 0x5354554e (RFC 8489 §14.7).
    pub fn verify_fingerprint(&self) -> Result<(), StunError> {
        let (offset, value) = self.fingerprint.ok_or(StunError::FingerprintMissing)?;
        if integrity::compute_fingerprint(self.buf, offset)? == value {
            Ok(())
        } else {
            Err(StunError::FingerprintMismatch)
        }
    }
}

/// Verifies a FINGERPRINT that ends `buf`, without parsing the other attribute values:
/// for deciding whether a message that [`Message::parse`] refused for a bad attribute
/// value is still worth an error response (RFC 8489 §6.3: discard on a bad FINGERPRINT).
pub fn verify_trailing_fingerprint(buf: &[u8]) -> Result<(), StunError> {
    let mut iter = AttributeIter::new(buf);
    let mut last = None;
    while let Some(attr) = iter.next_checked() {
        last = Some(attr?);
    }
    match last {
        Some(a) if a.attr_type == at::FINGERPRINT => {
            let v: [u8; 4] = a.value.try_into().map_err(|_| StunError::BadAttribute {
                attr_type: at::FINGERPRINT,
            })?;
            if integrity::compute_fingerprint(buf, a.offset)? == u32::from_be_bytes(v) {
                Ok(())
            } else {
                Err(StunError::FingerprintMismatch)
            }
        }
        _ => Err(StunError::FingerprintMissing),
    }
}
