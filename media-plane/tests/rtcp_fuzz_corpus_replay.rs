//! Replays every seed of the `rtcp_parse` fuzz target (`fuzz/corpus/rtcp_parse/`)
//! through its body, `media_plane::rtcp::fuzz::parse_any`, plus every truncation and
//! single-bit flip of each seed, so the fuzzer's invariants also run in CI.

use std::path::Path;

use media_plane::rtcp::fuzz::parse_any;

fn seeds() -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/rtcp_parse");
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
fn every_seed_runs_and_the_well_formed_ones_are_accepted() {
    let seeds = seeds();
    assert!(
        seeds.len() >= 10,
        "corpus went missing: {} seeds",
        seeds.len()
    );
    for (name, bytes) in &seeds {
        let accepted = parse_any(bytes);
        let file = Path::new(name)
            .file_name()
            .map(|f| f.to_string_lossy().into_owned());
        let well_formed = file
            .as_deref()
            .is_some_and(|f| f.starts_with("sr_") || f.starts_with("rr_"));
        assert_eq!(accepted, well_formed, "{name}");
    }
}

#[test]
fn every_truncation_and_bit_flip_of_every_seed_is_handled() {
    for (_, bytes) in seeds() {
        for cut in 0..bytes.len() {
            parse_any(&bytes[..cut]);
        }
        let mut flipped = bytes.clone();
        for i in 0..flipped.len() * 8 {
            flipped[i / 8] ^= 1 << (i % 8);
            parse_any(&flipped);
            flipped[i / 8] ^= 1 << (i % 8);
        }
    }
}
