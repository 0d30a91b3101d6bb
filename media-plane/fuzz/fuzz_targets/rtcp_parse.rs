//! Arbitrary bytes into the RTCP readers (RFC 3550 §6.4, A.2): the compound check and
//! SR sender info, and report blocks. Never panics; what parses writes back and reads
//! the same. The body is `media_plane::rtcp::fuzz::parse_any`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    media_plane::rtcp::fuzz::parse_any(data);
});
