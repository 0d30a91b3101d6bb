//! Digest client flows (RFC 3261 §22, RFC 7616, RFC 8760): strongest algorithm, 401 and
//! 407, stale nonces, rejected credentials, per-realm credentials, nonce counts.

use sip_proxy::auth::digest::{
    response_digest, Algorithm, Challenge, Credentials, DigestClient, DigestError,
};
use sip_proxy::message::builder::{response_to, RequestBuilder};
use sip_proxy::message::typed::AuthParams;
use sip_proxy::message::{Header, HeaderName, Method, Request, Response};

fn register(extra: &[Header<'static>]) -> Request<'static> {
    let mut b = RequestBuilder::new(Method::Register, "sip:ims.example.net")
        .header("Via", "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKr1")
        .header("From", "<sip:+15551234@ims.example.net>;tag=f1")
        .header("To", "<sip:+15551234@ims.example.net>")
        .header("Call-ID", "reg-1")
        .header("CSeq", "1 REGISTER");
    for h in extra {
        b = b.header(
            std::str::from_utf8(h.name()).expect("header names are ASCII"),
            h.value.to_vec(),
        );
    }
    b.build()
}

fn challenge(req: &Request<'_>, status: u16, header: &str, values: &[&str]) -> Response<'static> {
    let mut r = response_to(req, status, Some(b"t"));
    for v in values {
        r.add_header(header, v.as_bytes().to_vec());
    }
    r
}

fn param(h: &Header<'_>, name: &str) -> Vec<u8> {
    AuthParams::parse(&h.value)
        .expect("credentials parse")
        .params
        .value(name)
        .expect("parameter present")
        .to_vec()
}

#[test]
fn picks_sha256_over_md5_and_computes_a_verifiable_response() {
    let mut c = DigestClient::new();
    c.set_credentials("ims.example.net", "user@ims.example.net", "secret");
    let req = register(&[]);
    let resp = challenge(
        &req,
        401,
        "WWW-Authenticate",
        &[
            "Digest realm=\"ims.example.net\", nonce=\"n1\", qop=\"auth\", algorithm=MD5",
            "Digest realm=\"ims.example.net\", nonce=\"n1\", qop=\"auth\", algorithm=SHA-256, opaque=\"op\"",
        ],
    );
    let headers = c.answer(&req, &resp, "cn1").unwrap();
    assert_eq!(headers.len(), 1);
    let h = &headers[0];
    assert_eq!(h.kind(), HeaderName::Authorization);
    assert_eq!(param(h, "algorithm"), b"SHA-256");
    assert_eq!(param(h, "nc"), b"00000001");
    assert_eq!(param(h, "opaque"), b"op");
    assert_eq!(param(h, "uri"), b"sip:ims.example.net");
    // The server side recomputes the same response.
    let ch = Challenge {
        realm: "ims.example.net".into(),
        nonce: "n1".into(),
        opaque: Some("op".into()),
        algorithm: Algorithm::Sha256,
        qop_auth: true,
        stale: false,
        proxy: false,
    };
    let creds = Credentials {
        username: "user@ims.example.net".into(),
        password: "secret".into(),
    };
    let expected = response_digest(&ch, &creds, b"REGISTER", b"sip:ims.example.net", 1, "cn1");
    assert_eq!(param(h, "response"), expected.as_bytes());
}

#[test]
fn proxy_challenge_answered_in_proxy_authorization() {
    let mut c = DigestClient::new();
    c.set_credentials("pcscf", "u", "p");
    let req = register(&[]);
    let resp = challenge(
        &req,
        407,
        "Proxy-Authenticate",
        &["Digest realm=\"pcscf\", nonce=\"x\""],
    );
    let h = c.answer(&req, &resp, "c").unwrap();
    assert_eq!(h[0].kind(), HeaderName::ProxyAuthorization);
    // No qop offered: RFC 2069 form, no nc/cnonce.
    assert!(AuthParams::parse(&h[0].value)
        .unwrap()
        .params
        .value("nc")
        .is_none());
    assert_eq!(param(&h[0], "algorithm"), b"MD5");
}

#[test]
fn stale_nonce_is_answered_again_but_a_second_plain_challenge_is_a_rejection() {
    let mut c = DigestClient::new();
    c.set_credentials("r", "u", "p");
    let first = register(&[]);
    let resp = challenge(
        &first,
        401,
        "WWW-Authenticate",
        &["Digest realm=\"r\", nonce=\"a\", qop=auth"],
    );
    let creds = c.answer(&first, &resp, "c1").unwrap();
    let second = register(&creds);
    let stale = challenge(
        &second,
        401,
        "WWW-Authenticate",
        &["Digest realm=\"r\", nonce=\"b\", qop=auth, stale=true"],
    );
    let again = c.answer(&second, &stale, "c2").unwrap();
    assert_eq!(param(&again[0], "nonce"), b"b");
    assert_eq!(param(&again[0], "nc"), b"00000001", "new nonce restarts nc");
    let wrong = challenge(
        &second,
        401,
        "WWW-Authenticate",
        &["Digest realm=\"r\", nonce=\"c\", qop=auth"],
    );
    assert_eq!(
        c.answer(&second, &wrong, "c3"),
        Err(DigestError::CredentialsRejected("r".into()))
    );
}

#[test]
fn per_realm_credentials() {
    let mut c = DigestClient::new();
    c.set_credentials("a.example", "ua", "pa");
    let req = register(&[]);
    let unknown = challenge(
        &req,
        401,
        "WWW-Authenticate",
        &["Digest realm=\"b.example\", nonce=\"n\""],
    );
    assert_eq!(
        c.answer(&req, &unknown, "c"),
        Err(DigestError::NoCredentials("b.example".into()))
    );
    let both = challenge(
        &req,
        401,
        "WWW-Authenticate",
        &[
            "Digest realm=\"b.example\", nonce=\"n\"",
            "Digest realm=\"a.example\", nonce=\"m\"",
        ],
    );
    let h = c.answer(&req, &both, "c").unwrap();
    assert_eq!(h.len(), 1);
    assert_eq!(param(&h[0], "username"), b"ua");
    let basic = challenge(
        &req,
        401,
        "WWW-Authenticate",
        &["Basic realm=\"a.example\""],
    );
    assert_eq!(c.answer(&req, &basic, "c"), Err(DigestError::NoChallenge));
}

#[test]
fn nonce_reuse_increments_nc() {
    let mut c = DigestClient::new();
    c.set_credentials("r", "u", "p");
    let req = register(&[]);
    let resp = challenge(
        &req,
        401,
        "WWW-Authenticate",
        &["Digest realm=\"r\", nonce=\"a\", qop=\"auth,auth-int\""],
    );
    c.answer(&req, &resp, "c1").unwrap();
    let next = c
        .authorization("r", b"REGISTER", b"sip:ims.example.net", "c2")
        .unwrap();
    assert_eq!(param(&next, "nc"), b"00000002");
    assert_eq!(param(&next, "qop"), b"auth");
}

#[test]
fn quoted_username_is_escaped() {
    let mut c = DigestClient::new();
    c.set_credentials("r", "a\"b", "p");
    let req = register(&[]);
    let resp = challenge(
        &req,
        401,
        "WWW-Authenticate",
        &["Digest realm=\"r\", nonce=\"a\""],
    );
    let h = c.answer(&req, &resp, "c").unwrap();
    assert_eq!(param(&h[0], "username"), b"a\\\"b");
}
