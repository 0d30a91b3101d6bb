//! Fuzz target for the SIP message parser: parse → print → parse must give the same
//! message, and nothing may panic. The body lives in the crate
//! (`sip_proxy::message::fuzz::roundtrip`) so `tests/fuzz_corpus_replay.rs` runs it too.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(e) = sip_proxy::message::fuzz::roundtrip(data) {
        panic!("round trip failed: {e:?}");
    }
});
