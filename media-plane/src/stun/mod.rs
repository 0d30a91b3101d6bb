//! STUN (RFC 8489): a zero-copy parser over a borrowed datagram and a writer into a
//! caller's buffer.
//!
//! ```text
//!   datagram ──► Header::parse ──► Message::parse ──► typed getters (USERNAME, PRIORITY, …)
//!   (&[u8])        20 bytes          one pass over        verify_integrity(key)
//!                                    the attributes        verify_fingerprint()
//!
//!   &mut [u8] ──► MessageWriter::new ──► attributes ──► message_integrity(key) ──► fingerprint()
//! ```
//!
//! Nothing here allocates: a [`Message`] holds offsets into the datagram, and a
//! [`MessageWriter`] fills the caller's buffer. Every parsing path returns a [`StunError`]
//! rather than panicking, whatever the bytes.
//!
//! Only what an ICE-lite agent needs is typed: USERNAME, MESSAGE-INTEGRITY (HMAC-SHA1),
//! FINGERPRINT, XOR-MAPPED-ADDRESS, PRIORITY, USE-CANDIDATE, ICE-CONTROLLING,
//! ICE-CONTROLLED, ERROR-CODE, UNKNOWN-ATTRIBUTES and SOFTWARE. Every other attribute is
//! still reachable raw through [`Message::attributes`].

mod attr;
mod error;
pub mod fuzz;
mod header;
mod integrity;
mod message;
mod writer;

pub use attr::{attr_type, AttributeIter, ErrorCode, RawAttribute};
pub use error::StunError;
pub use header::{Class, Header, Method, TransactionId, HEADER_LEN, MAGIC_COOKIE};
pub use message::{verify_trailing_fingerprint, IceRole, Message, MAX_UNKNOWN_ATTRIBUTES};
pub use writer::MessageWriter;

/// Length of the MESSAGE-INTEGRITY attribute on the wire, header included (RFC 8489 §14.5).
pub const MESSAGE_INTEGRITY_LEN: usize = 4 + 20;
/// Length of the FINGERPRINT attribute on the wire, header included (RFC 8489 §14.7).
pub const FINGERPRINT_LEN: usize = 4 + 4;
/// The value XORed into the CRC-32 of a FINGERPRINT (RFC 8489 §14.7).
pub const FINGERPRINT_XOR: u32 = 0x5354_554e;
