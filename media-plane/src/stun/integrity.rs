//! MESSAGE-INTEGRITY (RFC 8489 §14.5) and FINGERPRINT (RFC 8489 §14.7) computations.
//!
//! Both cover the message "up to" their own attribute, but with the header's length field
//! set as if the message ended right after their own attribute. Rather than copying the
//! message, the header is patched on the stack and the rest is fed to the MAC/CRC as is.

use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;

use super::header::HEADER_LEN;
use super::{StunError, FINGERPRINT_LEN, FINGERPRINT_XOR, MESSAGE_INTEGRITY_LEN};

type HmacSha1 = Hmac<Sha1>;

/// Returns `msg[..20]` with the length field replaced by `length`.
fn patched_header(msg: &[u8], length: usize) -> Result<[u8; HEADER_LEN], StunError> {
    let mut header = [0u8; HEADER_LEN];
    let src = msg.get(..HEADER_LEN).ok_or(StunError::Truncated {
        len: msg.len(),
        needed: HEADER_LEN,
    })?;
    header.copy_from_slice(src);
    let length = u16::try_from(length).map_err(|_| StunError::BufferTooSmall)?;
    header[2..4].copy_from_slice(&length.to_be_bytes());
    Ok(header)
}

fn mac_over(key: &[u8], msg: &[u8], mi_offset: usize) -> Result<HmacSha1, StunError> {
    // RFC 8489 §14.5: the length field counts up to the end of MESSAGE-INTEGRITY.
    let header = patched_header(msg, mi_offset + MESSAGE_INTEGRITY_LEN - HEADER_LEN)?;
    let body = msg
        .get(HEADER_LEN..mi_offset)
        .ok_or(StunError::IntegrityMissing)?;
    // HMAC accepts keys of any length; this cannot fail, but it is peer-independent either way.
    let mut mac = HmacSha1::new_from_slice(key).map_err(|_| StunError::IntegrityMismatch)?;
    mac.update(&header);
    mac.update(body);
    Ok(mac)
}

/// HMAC-SHA1 of `msg[..mi_offset]` with the length adjusted (RFC 8489 §14.5).
pub(crate) fn compute_integrity(
    key: &[u8],
    msg: &[u8],
    mi_offset: usize,
) -> Result<[u8; 20], StunError> {
    let tag = mac_over(key, msg, mi_offset)?.finalize().into_bytes();
    let mut out = [0u8; 20];
    out.copy_from_slice(&tag);
    Ok(out)
}

/// Verifies `expected` in constant time against the HMAC of `msg[..mi_offset]`.
pub(crate) fn verify_integrity(
    key: &[u8],
    msg: &[u8],
    mi_offset: usize,
    expected: &[u8],
) -> Result<(), StunError> {
    mac_over(key, msg, mi_offset)?
        .verify_slice(expected)
        .map_err(|_| StunError::IntegrityMismatch)
}

/// CRC-32 of `msg[..fp_offset]` with the length adjusted to end after FINGERPRINT,
/// XOR 0x5354554e (RFC 8489 §14.7).
pub(crate) fn compute_fingerprint(msg: &[u8], fp_offset: usize) -> Result<u32, StunError> {
    let header = patched_header(msg, fp_offset + FINGERPRINT_LEN - HEADER_LEN)?;
    let body = msg
        .get(HEADER_LEN..fp_offset)
        .ok_or(StunError::FingerprintMissing)?;
    let mut crc = crc32fast::Hasher::new();
    crc.update(&header);
    crc.update(body);
    Ok(crc.finalize() ^ FINGERPRINT_XOR)
}
