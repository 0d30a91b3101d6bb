//! Arbitrary bytes into SRTP and SRTCP unprotect of every suite (RFC 3711, RFC 7714):
//! never panics, a failure never changes the buffer, protect → unprotect round-trips,
//! and the same bytes transcoded to AES-CM (the one-pass path for AES-CM input) too.
//! The body is `media_plane::srtp::fuzz::unprotect_any`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    media_plane::srtp::fuzz::unprotect_any(data);
});
