//! Every vector of `tests/data/srtp/vectors.json` (RFC 3711 B.2/B.3, RFC 7714 §16-17,
//! libsrtp known-answer packets): protect(plaintext) == protected and
//! unprotect(protected) == plaintext, with the KDF for `key_type: master` and session
//! keys loaded directly for `key_type: session`.

use media_plane::srtp::{SessionKeys, SrtpConfig, SrtpContext, SrtpSuite};
use serde_json::Value;

fn hex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit"))
        .collect()
}

fn field<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str()
        .unwrap_or_else(|| panic!("{}: missing {k}", v["id"]))
}

fn vectors() -> Vec<Value> {
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/srtp/vectors.json"
    ))
    .expect("vectors.json is in the test data");
    let doc: Value = serde_json::from_slice(&bytes).expect("valid JSON");
    doc["vectors"].as_array().expect("vectors array").clone()
}

fn suite_of(v: &Value) -> SrtpSuite {
    let s = field(v, "suite");
    let name = s.split_whitespace().next().unwrap_or_default();
    match name {
        "NULL" => SrtpSuite::NullHmacSha1_80,
        _ => SrtpSuite::from_sdes_name(name).unwrap_or_else(|| panic!("unknown suite {s}")),
    }
}

/// Session keys as the vector gives them (same keys for SRTP and SRTCP: each vector
/// exercises only one of the two).
fn session_keys(v: &Value) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    if v["key_type"] == "session" {
        return (
            hex(field(v, "session_key")),
            hex(field(v, "session_salt")),
            Vec::new(),
        );
    }
    let d = &v["derived_session_keys"];
    let get = |k: &str| d[k].as_str().map(hex).unwrap_or_default();
    (get("k_e"), get("k_s"), get("k_a"))
}

fn contexts(v: &Value) -> Vec<(&'static str, SrtpContext)> {
    let suite = suite_of(v);
    let mut out = Vec::new();
    if v["key_type"] == "master" {
        let make = || {
            SrtpContext::new(
                suite,
                &hex(field(v, "master_key")),
                &hex(field(v, "master_salt")),
                SrtpConfig::default(),
            )
            .expect("master key and salt fit the suite")
        };
        out.push(("kdf", make()));
    }
    let (k, s, a) = session_keys(v);
    // The NULL suite publishes only k_a; its (unused) cipher key is all zero.
    let k = if k.is_empty() {
        vec![0; suite.key_len()]
    } else {
        k
    };
    let s = if s.is_empty() {
        vec![0; suite.salt_len()]
    } else {
        s
    };
    let keys = SessionKeys {
        rtp_key: &k,
        rtp_salt: &s,
        rtp_auth_key: &a,
        rtcp_key: &k,
        rtcp_salt: &s,
        rtcp_auth_key: &a,
    };
    out.push((
        "session",
        SrtpContext::from_session_keys(suite, &keys, SrtpConfig::default())
            .expect("session keys fit"),
    ));
    out
}

fn check_packet(v: &Value) {
    let id = field(v, "id");
    let plain = hex(field(v, "plaintext"));
    let protected = hex(field(v, "protected"));
    let rtcp = v["kind"] == "srtcp_packet";
    for (how, mut tx) in contexts(v) {
        let mut buf = vec![0u8; plain.len() + 64];
        buf[..plain.len()].copy_from_slice(&plain);
        let n = if rtcp {
            let index = v["srtcp_index"].as_u64().expect("srtcp_index") as u32;
            let e = v["e_flag"].as_u64().expect("e_flag") == 1;
            tx.protect_rtcp_with_index(&mut buf, plain.len(), index, e)
        } else {
            let roc = v["roc"].as_u64().expect("roc") as u32;
            tx.protect_rtp_with_roc(&mut buf, plain.len(), roc)
        }
        .unwrap_or_else(|e| panic!("{id} ({how}): protect: {e}"));
        assert_eq!(
            hex_of(&buf[..n]),
            hex_of(&protected),
            "{id} ({how}): protect"
        );

        let (_, mut rx) = contexts(v)
            .into_iter()
            .find(|(h, _)| *h == how)
            .expect("same keys");
        let mut buf = protected.clone();
        let m = if rtcp {
            rx.unprotect_rtcp(&mut buf, protected.len())
        } else {
            rx.unprotect_rtp(&mut buf, protected.len())
        }
        .unwrap_or_else(|e| panic!("{id} ({how}): unprotect: {e}"));
        assert_eq!(hex_of(&buf[..m]), hex_of(&plain), "{id} ({how}): unprotect");
    }
}

fn hex_of(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// RFC 3711 B.2 through the public API: an RTP packet with SSRC 0, SEQ 0, ROC 0 and a
/// zero payload encrypts to the keystream itself (IV = k_s * 2^16).
fn check_keystream(v: &Value) {
    let key = hex(field(v, "session_key"));
    let salt = hex(field(v, "session_salt"));
    let keys = SessionKeys {
        rtp_key: &key,
        rtp_salt: &salt,
        rtp_auth_key: &[0; 20],
        rtcp_key: &key,
        rtcp_salt: &salt,
        rtcp_auth_key: &[0; 20],
    };
    let mut ctx = SrtpContext::from_session_keys(
        SrtpSuite::AesCm128HmacSha1_80,
        &keys,
        SrtpConfig::default(),
    )
    .expect("B.2 key fits");
    let blocks = v["keystream_segment_length_blocks"]
        .as_u64()
        .expect("blocks") as usize;
    let mut buf = vec![0u8; 12 + blocks * 16 + 10];
    buf[0] = 0x80;
    ctx.protect_rtp(&mut buf, 12 + blocks * 16)
        .expect("protect");
    let ks = &buf[12..12 + blocks * 16];
    let list = v["blocks"].as_array().expect("blocks list");
    assert_eq!(list.len(), 6);
    for b in list {
        let j = b["block_index"].as_u64().expect("index") as usize;
        assert_eq!(
            hex_of(&ks[j * 16..j * 16 + 16]),
            field(b, "keystream"),
            "block {j}"
        );
    }
    assert_eq!(hex_of(&ks[..48]), field(v, "keystream_first_48_octets"));
}

/// RFC 3711 B.3 through the public API: a context keyed from the master key protects
/// exactly like one loaded with the printed session keys (first 160 bits of k_a).
fn check_kdf(v: &Value) {
    let derived = v["derived"].as_array().expect("derived keys");
    let get = |label: &str| {
        derived
            .iter()
            .find(|d| d["label"] == label)
            .map(|d| hex(field(d, "output")))
            .expect("label present")
    };
    let (k_e, k_a, k_s) = (get("0x00"), get("0x01"), get("0x02"));
    assert_eq!(k_a.len(), 94);
    let suite = SrtpSuite::AesCm128HmacSha1_80;
    let keys = SessionKeys {
        rtp_key: &k_e,
        rtp_salt: &k_s,
        rtp_auth_key: &k_a[..20],
        rtcp_key: &k_e,
        rtcp_salt: &k_s,
        rtcp_auth_key: &k_a[..20],
    };
    let mut by_session =
        SrtpContext::from_session_keys(suite, &keys, SrtpConfig::default()).expect("fits");
    let mut by_master = SrtpContext::new(
        suite,
        &hex(field(v, "master_key")),
        &hex(field(v, "master_salt")),
        SrtpConfig::default(),
    )
    .expect("fits");
    let pkt = hex("800f1234decafbadcafebabeabababababababababababababababab");
    let (mut a, mut b) = (pkt.clone(), pkt.clone());
    a.resize(pkt.len() + 10, 0);
    b.resize(pkt.len() + 10, 0);
    let n = by_session.protect_rtp(&mut a, pkt.len()).expect("protect");
    let m = by_master.protect_rtp(&mut b, pkt.len()).expect("protect");
    assert_eq!(hex_of(&a[..n]), hex_of(&b[..m]));
}

#[test]
fn every_conformance_vector() {
    let vs = vectors();
    assert_eq!(vs.len(), 16, "the conformance set has 16 vectors");
    let mut seen = Vec::new();
    for v in &vs {
        match v["kind"].as_str() {
            Some("aes_cm_keystream") => check_keystream(v),
            Some("key_derivation") => check_kdf(v),
            Some("srtp_packet") | Some("srtcp_packet") => check_packet(v),
            other => panic!("unknown vector kind {other:?}"),
        }
        seen.push(field(v, "id").to_owned());
    }
    assert_eq!(seen.len(), 16);
}
