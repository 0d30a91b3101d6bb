//! Small vectors next to the code; the full conformance set runs in
//! `tests/srtp_vectors.rs`.

use super::*;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("test hex"))
        .collect()
}

fn round_trip(ctx_tx: &mut SrtpContext, ctx_rx: &mut SrtpContext, plain: &str, protected: &str) {
    let (plain, protected) = (hex(plain), hex(protected));
    let mut buf = [0u8; 256];
    buf[..plain.len()].copy_from_slice(&plain);
    let n = ctx_tx.protect_rtp(&mut buf, plain.len()).expect("protect");
    assert_eq!(buf[..n], protected[..]);
    let m = ctx_rx.unprotect_rtp(&mut buf, n).expect("unprotect");
    assert_eq!(buf[..m], plain[..]);
}

/// libsrtp `srtp_validate()`: AES_CM_128_HMAC_SHA1_80 from the RFC 3711 B.3 master key.
#[test]
fn libsrtp_aes_cm_128_hmac_sha1_80() {
    let make = || {
        SrtpContext::new(
            SrtpSuite::AesCm128HmacSha1_80,
            &hex("e1f97a0d3e018be0d64fa32c06de4139"),
            &hex("0ec675ad498afeebb6960b3aabe6"),
            SrtpConfig::default(),
        )
        .expect("valid keys")
    };
    round_trip(
        &mut make(),
        &mut make(),
        "800f1234decafbadcafebabeabababababababababababababababab",
        "800f1234decafbadcafebabe4e55dc4ce79978d88ca4d215949d2402b78d6acc99ea179b8dbb",
    );
}

/// RFC 7714 §16.1.1 / §16.1.2: AEAD_AES_128_GCM with session keys.
#[test]
fn rfc7714_16_1_aead_aes_128_gcm() {
    let key = hex("000102030405060708090a0b0c0d0e0f");
    let salt = hex("517569642070726f2071756f");
    let keys = SessionKeys {
        rtp_key: &key,
        rtp_salt: &salt,
        rtp_auth_key: &[],
        rtcp_key: &key,
        rtcp_salt: &salt,
        rtcp_auth_key: &[],
    };
    let make = || {
        SrtpContext::from_session_keys(SrtpSuite::AeadAes128Gcm, &keys, SrtpConfig::default())
            .expect("valid keys")
    };
    round_trip(
        &mut make(),
        &mut make(),
        "8040f17b8041f8d35501a0b247616c6c696120657374206f6d6e69732064697669736120696e207061727465732074726573",
        "8040f17b8041f8d35501a0b2f24de3a3fb34de6cacba861c9d7e4bcabe633bd50d294e6f42a5f47a51c7d19b36de3adf8833899d7f27beb16a9152cf765ee4390cce",
    );
}

#[test]
fn mki_is_refused_when_the_context_is_built() {
    let r = SrtpContext::new(
        SrtpSuite::AesCm128HmacSha1_80,
        &[0; 16],
        &[0; 14],
        SrtpConfig {
            mki_len: 4,
            ..SrtpConfig::default()
        },
    );
    assert_eq!(r.err(), Some(SrtpError::MkiUnsupported));
    let r = SrtpContext::new(
        SrtpSuite::AeadAes128Gcm,
        &[0; 16],
        &[0; 14],
        SrtpConfig::default(),
    );
    assert_eq!(r.err(), Some(SrtpError::BadKeyLength));
}
