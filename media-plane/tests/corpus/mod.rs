//! The fuzz targets' seed corpora (`fuzz/corpus/<target>/`), for the replay tests that
//! run each target's body in CI.
#![allow(dead_code)] // each replay test uses the part it needs

use std::path::Path;

/// Every seed of `target`'s corpus as (path, bytes), sorted by path.
pub(crate) fn seeds(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
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

/// The file name of a seed's path.
pub(crate) fn file_name(path: &str) -> String {
    Path::new(path)
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Calls `body` with every truncation of `bytes` and every single-bit flip of it.
pub(crate) fn every_truncation_and_bit_flip(bytes: &[u8], mut body: impl FnMut(&[u8])) {
    for cut in 0..bytes.len() {
        body(&bytes[..cut]);
    }
    let mut flipped = bytes.to_vec();
    for i in 0..flipped.len() * 8 {
        flipped[i / 8] ^= 1 << (i % 8);
        body(&flipped);
        flipped[i / 8] ^= 1 << (i % 8);
    }
}
