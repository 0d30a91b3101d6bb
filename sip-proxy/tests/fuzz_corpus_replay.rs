//! Replays the `sip_message` fuzz corpus through the fuzz target's body, and a
//! deterministic set of mutations of it, so the parser's no-panic and round-trip
//! properties are checked on every `cargo test` (no fuzzer needed).

use sip_proxy::message::fuzz::roundtrip;

fn corpus() -> Vec<(String, Vec<u8>)> {
    let dir = format!("{}/fuzz/corpus/sip_message", env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.is_file())
        .map(|p| {
            (
                p.display().to_string(),
                std::fs::read(&p).expect("corpus file"),
            )
        })
        .collect();
    files.sort();
    files
}

#[test]
fn every_corpus_file_roundtrips() {
    let files = corpus();
    assert!(files.len() >= 51, "seeds missing: {}", files.len());
    for (name, bytes) in &files {
        assert_eq!(roundtrip(bytes), Ok(()), "{name}");
    }
}

/// Truncations at every offset and single-byte substitutions with the bytes that matter
/// to the grammar: none may panic, every parse must round-trip.
#[test]
fn mutated_corpus_roundtrips() {
    const BYTES: &[u8] = b"\r\n \t:;,\"<>%\\@=\x00\xff";
    let mut runs = 0usize;
    for (name, bytes) in corpus().iter().filter(|(_, b)| b.len() <= 1024) {
        for cut in 0..bytes.len() {
            assert_eq!(roundtrip(&bytes[..cut]), Ok(()), "{name} cut at {cut}");
            runs += 1;
        }
        let mut m = bytes.clone();
        for i in (0..bytes.len()).step_by(5) {
            for b in BYTES {
                m[i] = *b;
                assert_eq!(roundtrip(&m), Ok(()), "{name} byte {i} = {b:#04x}");
                runs += 1;
            }
            m[i] = bytes[i];
        }
    }
    assert!(runs > 50_000, "{runs}");
}
