//! The body of the `stun_parse` fuzz target (`media-plane/fuzz/`), kept in the crate so
//! the seed corpus is also replayed by an ordinary test
//! (`tests/stun_fuzz_corpus_replay.rs`).

use super::{Message, MessageWriter};

/// Parse → write → parse (house style habit 7). Panics only if an invariant of this
/// module breaks, which is what the fuzzer looks for:
/// - parsing never panics;
/// - a message that parses is re-written byte for byte by copying its attributes raw,
///   and the copy parses to the same typed values;
/// - a message re-written from its typed values parses to the same typed values;
/// - integrity and fingerprint checks return a result, never panic.
pub fn roundtrip(data: &[u8]) {
    let Ok(msg) = Message::parse(data) else {
        return;
    };
    let _ = msg.verify_integrity(b"fuzz-key");
    let _ = msg.verify_fingerprint();
    let _ = msg.unknown_attributes_listed().count();

    // Raw copy: every attribute, padding included, so the bytes must come back exactly.
    let mut copy = vec![0u8; data.len()];
    let mut w = MessageWriter::new(&mut copy, msg.class(), msg.method(), msg.transaction_id())
        .expect("invariant: a parsed message has a 20-byte header");
    for attr in msg.attributes() {
        w.raw_attribute(&attr)
            .expect("invariant: attributes of a parsed message fit its own length");
    }
    let n = w.finish();
    assert_eq!(&copy[..n], data, "raw re-encoding differs");

    // Typed re-encoding of what this crate understands.
    let mut typed = [0u8; 4096];
    let mut w = MessageWriter::new(&mut typed, msg.class(), msg.method(), msg.transaction_id())
        .expect("invariant: 4096 > 20");
    let ok = (|| {
        if let Some(u) = msg.username() {
            w.username(u)?;
        }
        if let Some(s) = msg.software() {
            w.software(s)?;
        }
        if let Some(p) = msg.priority() {
            w.priority(p)?;
        }
        if msg.use_candidate() {
            w.use_candidate()?;
        }
        match msg.ice_role() {
            Some(super::IceRole::Controlling(t)) => {
                w.ice_controlling(t)?;
            }
            Some(super::IceRole::Controlled(t)) => {
                w.ice_controlled(t)?;
            }
            None => {}
        }
        if let Some(a) = msg.xor_mapped_address() {
            w.xor_mapped_address(a)?;
        }
        if let Some(e) = msg.error_code() {
            w.error_code(e.code, e.reason)?;
        }
        w.message_integrity(b"fuzz-key")?.fingerprint()?;
        Ok::<(), super::StunError>(())
    })();
    ok.expect("invariant: typed values of a parsed message can be written back");
    let n = w.finish();
    let again = Message::parse(&typed[..n]).expect("invariant: own output parses");
    assert_eq!(again.username(), msg.username());
    assert_eq!(again.software(), msg.software());
    assert_eq!(again.priority(), msg.priority());
    assert_eq!(again.use_candidate(), msg.use_candidate());
    assert_eq!(again.ice_role(), msg.ice_role());
    assert_eq!(again.xor_mapped_address(), msg.xor_mapped_address());
    assert_eq!(again.error_code(), msg.error_code());
    assert_eq!(again.verify_integrity(b"fuzz-key"), Ok(()));
    assert_eq!(again.verify_fingerprint(), Ok(()));
}
