//! Replays every seed of the `srtp_unprotect` fuzz target
//! (`fuzz/corpus/srtp_unprotect/`) through its body,
//! `media_plane::srtp::fuzz::unprotect_any`, plus truncations and bit flips of each
//! seed, so the fuzzer's invariants also run in CI.

mod corpus;

use std::path::Path;

use media_plane::srtp::fuzz::unprotect_any;

#[test]
fn every_srtp_seed_runs_and_keys_seeds_authenticate() {
    let seeds = corpus::seeds("srtp_unprotect");
    assert!(
        seeds.len() >= 20,
        "corpus went missing: {} seeds",
        seeds.len()
    );
    for (name, bytes) in &seeds {
        let authentic = unprotect_any(bytes);
        // Seeds named srtp_*/srtcp_* were protected with the fuzz master key: exactly
        // their own suite and kind authenticates, so the fuzzer starts past the tag.
        let protected = ["srtp_", "srtcp_"].iter().any(|p| {
            Path::new(name)
                .file_name()
                .is_some_and(|f| f.to_string_lossy().starts_with(p))
        });
        if protected {
            assert!(authentic >= 1, "{name}: no suite authenticates it");
        } else {
            assert_eq!(authentic, 0, "{name}: unkeyed seed authenticated");
        }
    }
}

#[test]
fn truncations_and_bit_flips_of_every_seed() {
    for (_, bytes) in corpus::seeds("srtp_unprotect") {
        for cut in [1, 4, 8, 11, 12, 13, 20] {
            unprotect_any(&bytes[..bytes.len().saturating_sub(cut)]);
        }
        for i in (0..bytes.len()).step_by(bytes.len() / 6 + 1) {
            let mut flipped = bytes.clone();
            flipped[i] ^= 1 << (i % 8);
            // A flip anywhere in an authenticated packet breaks its tag.
            assert_eq!(
                unprotect_any(&flipped),
                0,
                "flip at {i} still authenticates"
            );
        }
    }
}
