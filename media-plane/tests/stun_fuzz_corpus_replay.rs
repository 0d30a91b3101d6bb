//! Replays every seed of the `stun_parse` fuzz target (`fuzz/corpus/stun_parse/`)
//! through its body, `media_plane::stun::fuzz::roundtrip`, plus every truncation and
//! single-bit flip of each seed, so the invariants the fuzzer checks also run in CI.

use std::path::Path;

use media_plane::stun::{fuzz::roundtrip, Message};

fn seeds() -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/stun_parse");
    let mut out: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.expect("directory entry").path();
            let bytes = std::fs::read(&path).expect("seed file readable");
            (path.display().to_string(), bytes)
        })
        .collect();
    out.sort();
    out
}

#[test]
fn every_seed_roundtrips() {
    let seeds = seeds();
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
    for (_, bytes) in seeds() {
        for cut in 0..bytes.len() {
            roundtrip(&bytes[..cut]);
        }
        let mut flipped = bytes.clone();
        for i in 0..flipped.len() * 8 {
            flipped[i / 8] ^= 1 << (i % 8);
            roundtrip(&flipped);
            flipped[i / 8] ^= 1 << (i % 8);
        }
    }
}
