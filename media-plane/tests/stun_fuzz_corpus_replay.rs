//! Replays every seed of the `stun_parse` fuzz target (`fuzz/corpus/stun_parse/`)
//! through its body, `media_plane::stun::fuzz::roundtrip`, plus every truncation and
//! single-bit flip of each seed, so the invariants the fuzzer checks also run in CI.

mod corpus;

use media_plane::stun::{fuzz::roundtrip, Message};

#[test]
fn every_seed_roundtrips() {
    let seeds = corpus::seeds("stun_parse");
    assert!(
        seeds.len() >= 10,
        "corpus went missing: {} seeds",
        seeds.len()
    );
    let mut parsed = 0;
    for (_, bytes) in &seeds {
        if Message::parse(bytes).is_ok() {
            parsed += 1;
        }
        roundtrip(bytes);
    }
    // Most seeds are valid messages, so the write → parse half is exercised too.
    assert!(parsed >= 10, "only {parsed} seeds parse");
}

#[test]
fn every_truncation_and_bit_flip_of_every_seed_is_handled() {
    for (_, bytes) in corpus::seeds("stun_parse") {
        corpus::every_truncation_and_bit_flip(&bytes, roundtrip);
    }
}
