//! STUN parse → write → parse (RFC 8489); the body is `media_plane::stun::fuzz::roundtrip`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    media_plane::stun::fuzz::roundtrip(data);
});
