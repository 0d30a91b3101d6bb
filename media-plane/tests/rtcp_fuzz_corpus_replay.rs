//! Replays every seed of the `rtcp_parse` fuzz target (`fuzz/corpus/rtcp_parse/`)
//! through its body, `media_plane::rtcp::fuzz::parse_any`, plus every truncation and
//! single-bit flip of each seed, so the fuzzer's invariants also run in CI.

mod corpus;

use media_plane::rtcp::fuzz::parse_any;

#[test]
fn every_seed_runs_and_the_well_formed_ones_are_accepted() {
    let seeds = corpus::seeds("rtcp_parse");
    assert!(
        seeds.len() >= 10,
        "corpus went missing: {} seeds",
        seeds.len()
    );
    for (name, bytes) in &seeds {
        let accepted = parse_any(bytes);
        let file = corpus::file_name(name);
        let well_formed = file.starts_with("sr_") || file.starts_with("rr_");
        assert_eq!(accepted, well_formed, "{name}");
    }
}

#[test]
fn every_truncation_and_bit_flip_of_every_seed_is_handled() {
    for (_, bytes) in corpus::seeds("rtcp_parse") {
        corpus::every_truncation_and_bit_flip(&bytes, |b| {
            parse_any(b);
        });
    }
}
