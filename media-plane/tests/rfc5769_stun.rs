//! RFC 5769 "Test Vectors for STUN", sections 2.1-2.4, against `media_plane::stun`.
//!
//! Data: `tests/data/stun/rfc5769.json`, a byte-exact copy of the shared conformance file
//! (see its README for provenance). Each vector must parse, its MESSAGE-INTEGRITY and
//! FINGERPRINT must verify, and re-encoding must reproduce the bytes.

use std::net::{IpAddr, SocketAddr};

use media_plane::stun::{attr_type, Class, IceRole, Message, MessageWriter, Method, StunError};
use serde_json::Value;

fn hex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit in test data"))
        .collect()
}

fn vector(name: &str) -> Value {
    let data: Value = serde_json::from_slice(include_bytes!("data/stun/rfc5769.json"))
        .expect("rfc5769.json is JSON");
    data["vectors"]
        .as_array()
        .expect("vectors array")
        .iter()
        .find(|v| v["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("vector {name} missing"))
}

fn field<'v>(v: &'v Value, k: &str) -> &'v str {
    v[k].as_str().unwrap_or_else(|| panic!("field {k} missing"))
}

/// Checks what every vector shares: framing, the header fields, the attribute list, the
/// integrity with the given key, FINGERPRINT where present, and byte-exact re-encoding
/// (raw attribute copy, then MESSAGE-INTEGRITY and FINGERPRINT recomputed by the writer).
fn check_common(v: &Value) -> Vec<u8> {
    let bytes = hex(field(v, "hex"));
    assert_eq!(
        bytes.len() as u64,
        v["length_bytes"].as_u64().expect("length_bytes")
    );
    let msg = Message::parse(&bytes).expect("vector parses");
    let ty = u16::from_str_radix(field(v, "message_type").trim_start_matches("0x"), 16)
        .expect("message_type hex");
    let class = if ty == 0x0001 {
        Class::Request
    } else {
        Class::SuccessResponse
    };
    assert_eq!(msg.class(), class);
    assert_eq!(msg.method(), Method::BINDING);
    assert_eq!(
        msg.transaction_id().to_vec(),
        hex(field(v, "transaction_id"))
    );
    assert_eq!(
        usize::from(msg.header().length),
        v["stun_message_length_field"]
            .as_u64()
            .expect("length field") as usize
    );

    // The attribute list, as the JSON lays it out.
    let expected = v["attributes"].as_array().expect("attributes");
    let got: Vec<_> = msg.attributes().collect();
    assert_eq!(got.len(), expected.len());
    for (a, e) in got.iter().zip(expected) {
        assert_eq!(a.offset as u64, e["offset"].as_u64().expect("offset"));
        assert_eq!(format!("{:#06x}", a.attr_type), field(e, "type"));
        assert_eq!(a.value, hex(field(e, "value_hex")).as_slice());
        assert_eq!(a.padding, hex(field(e, "padding_hex")).as_slice());
    }

    // MESSAGE-INTEGRITY with the published key; a flipped key bit fails.
    let key = hex(field(v, "hmac_key_hex"));
    let mi = &v["message_integrity"];
    assert_eq!(
        msg.integrity_offset().map(|o| o as u64),
        mi["attribute_offset"].as_u64()
    );
    assert_eq!(msg.verify_integrity(&key), Ok(()));
    let mut wrong = key.clone();
    wrong[0] ^= 1;
    assert_eq!(
        msg.verify_integrity(&wrong),
        Err(StunError::IntegrityMismatch)
    );

    // FINGERPRINT where present.
    let fp = &v["fingerprint"];
    if fp["present"].as_bool() == Some(true) {
        assert_eq!(
            msg.fingerprint_offset().map(|o| o as u64),
            fp["attribute_offset"].as_u64()
        );
        assert_eq!(msg.verify_fingerprint(), Ok(()));
    } else {
        assert!(!msg.has_fingerprint());
        assert_eq!(msg.verify_fingerprint(), Err(StunError::FingerprintMissing));
    }

    // Re-encoding: copy the attributes before MESSAGE-INTEGRITY raw (padding bytes as
    // received: RFC 5769 pads with 0x20, which any value allows), let the writer compute
    // MESSAGE-INTEGRITY and FINGERPRINT, and compare every byte.
    let mut out = vec![0u8; 512];
    let mut w = MessageWriter::new(&mut out, msg.class(), msg.method(), msg.transaction_id())
        .expect("512 > 20");
    for a in msg.attributes() {
        if a.attr_type == attr_type::MESSAGE_INTEGRITY {
            break;
        }
        w.raw_attribute(&a).expect("fits");
    }
    w.message_integrity(&key).expect("fits");
    if msg.has_fingerprint() {
        w.fingerprint().expect("fits");
    }
    let n = w.finish();
    assert_eq!(&out[..n], bytes.as_slice(), "re-encoding differs");

    // Tampering with any covered byte breaks integrity (and the fingerprint, if present).
    let mut tampered = bytes.clone();
    tampered[24] ^= 0x01;
    let t = Message::parse(&tampered).expect("value byte change keeps framing");
    assert_eq!(t.verify_integrity(&key), Err(StunError::IntegrityMismatch));
    if msg.has_fingerprint() {
        assert_eq!(t.verify_fingerprint(), Err(StunError::FingerprintMismatch));
    }
    bytes
}

/// RFC 5769 §2.1: Binding request, short-term credentials.
#[test]
fn rfc5769_s2_1_sample_request() {
    let v = vector("sample_request");
    let bytes = check_common(&v);
    let msg = Message::parse(&bytes).expect("parses");
    assert_eq!(msg.software(), Some(field(&v, "software")));
    assert_eq!(msg.username(), Some(field(&v, "username")));
    assert_eq!(msg.priority(), Some(0x6e00_01ff));
    assert_eq!(
        msg.ice_role(),
        Some(IceRole::Controlled(0x932f_f9b1_5126_3b36))
    );
    assert!(!msg.use_candidate());
    // The short-term key is the password itself.
    assert_eq!(
        msg.verify_integrity(field(&v, "password").as_bytes()),
        Ok(())
    );
}

fn check_response(name: &str) {
    let v = vector(name);
    let bytes = check_common(&v);
    let msg = Message::parse(&bytes).expect("parses");
    assert_eq!(msg.software(), Some(field(&v, "software")));
    let ma = &v["mapped_address"];
    let ip: IpAddr = field(ma, "ip").parse().expect("ip");
    let port = ma["port"].as_u64().expect("port") as u16;
    assert_eq!(msg.xor_mapped_address(), Some(SocketAddr::new(ip, port)));

    // The typed writer reproduces everything except SOFTWARE's padding (zero here, 0x20
    // in the RFC); both are valid, and the result parses to the same values.
    let mut out = [0u8; 256];
    let mut w = MessageWriter::new(&mut out, msg.class(), msg.method(), msg.transaction_id())
        .expect("fits");
    w.software(field(&v, "software"))
        .and_then(|w| w.xor_mapped_address(SocketAddr::new(ip, port)))
        .and_then(|w| w.message_integrity(field(&v, "password").as_bytes()))
        .and_then(|w| w.fingerprint())
        .expect("fits");
    let n = w.finish();
    assert_eq!(n, bytes.len());
    let again = Message::parse(&out[..n]).expect("own output parses");
    assert_eq!(again.xor_mapped_address(), Some(SocketAddr::new(ip, port)));
    assert_eq!(
        again.verify_integrity(field(&v, "password").as_bytes()),
        Ok(())
    );
    assert_eq!(again.verify_fingerprint(), Ok(()));
    // Same bytes apart from the padding octet of SOFTWARE (offset 35) and the MAC/CRC.
    assert_eq!(&out[..35], &bytes[..35]);
    assert_eq!(&out[36..48], &bytes[36..48]);
}

/// RFC 5769 §2.2: Binding success response, IPv4 XOR-MAPPED-ADDRESS 192.0.2.1:32853.
#[test]
fn rfc5769_s2_2_ipv4_response() {
    check_response("ipv4_response");
}

/// RFC 5769 §2.3: Binding success response, IPv6 XOR-MAPPED-ADDRESS
/// [2001:db8:1234:5678:11:2233:4455:6677]:32853.
#[test]
fn rfc5769_s2_3_ipv6_response() {
    check_response("ipv6_response");
}

/// RFC 5769 §2.4: request with long-term credentials; the key is
/// MD5(username ":" realm ":" SASLprep(password)) as given in the data file.
#[test]
fn rfc5769_s2_4_long_term_request() {
    let v = vector("request_long_term_auth");
    let bytes = check_common(&v);
    let msg = Message::parse(&bytes).expect("parses");
    assert_eq!(msg.username(), Some(field(&v, "username")));
    let realm = msg
        .attributes()
        .find(|a| a.attr_type == attr_type::REALM)
        .expect("REALM present");
    assert_eq!(realm.value, field(&v, "realm").as_bytes());
    let nonce = msg
        .attributes()
        .find(|a| a.attr_type == attr_type::NONCE)
        .expect("NONCE present");
    assert_eq!(nonce.value, field(&v, "nonce").as_bytes());
    // The password alone is not the long-term key.
    assert_eq!(
        msg.verify_integrity(field(&v, "password").as_bytes()),
        Err(StunError::IntegrityMismatch)
    );
    assert!(msg.unknown_comprehension_required().is_empty());
}

/// Every truncation of every vector is rejected without panicking.
#[test]
fn rfc5769_truncations_are_errors() {
    for name in [
        "sample_request",
        "ipv4_response",
        "ipv6_response",
        "request_long_term_auth",
    ] {
        let bytes = hex(field(&vector(name), "hex"));
        for cut in 0..bytes.len() {
            assert!(
                Message::parse(&bytes[..cut]).is_err(),
                "{name} cut at {cut}"
            );
        }
        let mut longer = bytes.clone();
        longer.extend_from_slice(&[0, 0, 0, 0]);
        assert!(matches!(
            Message::parse(&longer),
            Err(StunError::BadLength { .. })
        ));
    }
}
