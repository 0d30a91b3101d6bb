//! The one error type of the STUN layer.

/// Everything that can go wrong while parsing, verifying or writing a STUN message.
///
/// Which of these become a wire error code is decided by the ICE agent
/// (`ice::CheckFailure::error_code`), not here: most parse failures mean the datagram is
/// silently discarded (RFC 8489 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StunError {
    /// Fewer bytes than the 20-byte header, or than the header's length field announces.
    #[error("truncated STUN message: {len} bytes, needed {needed}")]
    Truncated {
        /// Bytes available.
        len: usize,
        /// Bytes the header or an attribute asked for.
        needed: usize,
    },
    /// The first two bits are not zero or the magic cookie is wrong (RFC 8489 §5): not STUN.
    #[error("not a STUN message (leading bits or magic cookie)")]
    NotStun,
    /// The length field is not a multiple of 4, or the datagram has trailing bytes
    /// (RFC 8489 §5: one message per UDP datagram).
    #[error("STUN length field {field} does not frame a {len}-byte datagram")]
    BadLength {
        /// The header's message-length field.
        field: u16,
        /// The datagram length.
        len: usize,
    },
    /// An attribute's length runs past the end of the message (RFC 8489 §14).
    #[error("STUN attribute {attr_type:#06x} overruns the message")]
    AttributeOverrun {
        /// The attribute type.
        attr_type: u16,
    },
    /// A known attribute has a value of the wrong size or content.
    #[error("malformed STUN attribute {attr_type:#06x}")]
    BadAttribute {
        /// The attribute type.
        attr_type: u16,
    },
    /// An attribute follows FINGERPRINT, which must be last (RFC 8489 §14.7).
    #[error("STUN attribute after FINGERPRINT")]
    FingerprintNotLast,
    /// FINGERPRINT is absent where it is required.
    #[error("STUN FINGERPRINT missing")]
    FingerprintMissing,
    /// FINGERPRINT does not match the message (RFC 8489 §14.7).
    #[error("STUN FINGERPRINT mismatch")]
    FingerprintMismatch,
    /// MESSAGE-INTEGRITY is absent where it is required.
    #[error("STUN MESSAGE-INTEGRITY missing")]
    IntegrityMissing,
    /// MESSAGE-INTEGRITY does not verify with the key (RFC 8489 §14.5).
    #[error("STUN MESSAGE-INTEGRITY mismatch")]
    IntegrityMismatch,
    /// The caller's output buffer cannot hold the message being written.
    #[error("output buffer too small for the STUN message")]
    BufferTooSmall,
    /// A value to write is longer than its attribute allows.
    #[error("value too long for STUN attribute {attr_type:#06x}")]
    ValueTooLong {
        /// The attribute type.
        attr_type: u16,
    },
}
