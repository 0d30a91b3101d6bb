//! JWT mode against an identity provider served by the test: OpenID discovery and a JWKS
//! on 127.0.0.1, keys made in the test (ES256 by ring; the RS256 key is a fixture,
//! because ring cannot generate RSA keys), tokens signed here.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, Method, Request, StatusCode};
use axum::routing::get;
use axum::{Json, Router};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use common::json_response;
use interworking_stub::auth::JwtOptions;
use interworking_stub::{router, ApiOptions, AuthMode};
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair, RsaKeyPair};
use serde_json::{json, Value};
use tokio::sync::watch;
use tower::ServiceExt;

const REG: &str = "/webrtc-registration/v0.3/sessions";
const AUDIENCE: &str = "rtcgate-api";
const RSA_PEM: &str = include_str!("data/oauth_rs256_key.pem");

/// A signing key and its public JWK.
enum Signer {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
}

struct TestKey {
    kid: String,
    signer: Signer,
}

/// One DER TLV (tag, contents, rest); enough for an RSAPublicKey.
fn tlv(der: &[u8]) -> (u8, &[u8], &[u8]) {
    let (tag, first) = (der[0], der[1]);
    let (len, start) = if first < 0x80 {
        (usize::from(first), 2)
    } else {
        let n = usize::from(first & 0x7f);
        let len = der[2..2 + n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, 2 + n)
    };
    (tag, &der[start..start + len], &der[start + len..])
}

impl TestKey {
    fn rsa(kid: &str) -> Self {
        let body: String = RSA_PEM
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        let der = STANDARD.decode(body).unwrap();
        TestKey {
            kid: kid.into(),
            signer: Signer::Rsa(RsaKeyPair::from_pkcs8(&der).unwrap()),
        }
    }

    fn ec(kid: &str) -> Self {
        let rng = SystemRandom::new();
        let alg = &signature::ECDSA_P256_SHA256_FIXED_SIGNING;
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(alg, &rng).unwrap();
        TestKey {
            kid: kid.into(),
            signer: Signer::Ec(EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).unwrap()),
        }
    }

    fn jwk(&self) -> Value {
        match &self.signer {
            Signer::Rsa(k) => {
                // RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }
                let (_, seq, _) = tlv(k.public().as_ref());
                let (_, n, rest) = tlv(seq);
                let (_, e, _) = tlv(rest);
                json!({"kty": "RSA", "kid": self.kid, "use": "sig", "alg": "RS256",
                       "n": URL_SAFE_NO_PAD.encode(n), "e": URL_SAFE_NO_PAD.encode(e)})
            }
            Signer::Ec(k) => {
                let point = k.public_key().as_ref();
                json!({"kty": "EC", "kid": self.kid, "crv": "P-256", "alg": "ES256",
                       "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
                       "y": URL_SAFE_NO_PAD.encode(&point[33..65])})
            }
        }
    }

    /// A compact JWS of `claims`, signed with this key but announcing `kid`.
    fn sign_as(&self, kid: &str, claims: &Value) -> String {
        let alg = match self.signer {
            Signer::Rsa(_) => "RS256",
            Signer::Ec(_) => "ES256",
        };
        let header = json!({"alg": alg, "kid": kid, "typ": "at+jwt"});
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let rng = SystemRandom::new();
        let sig = match &self.signer {
            Signer::Rsa(k) => {
                let mut sig = vec![0; k.public().modulus_len()];
                k.sign(
                    &signature::RSA_PKCS1_SHA256,
                    &rng,
                    input.as_bytes(),
                    &mut sig,
                )
                .unwrap();
                sig
            }
            Signer::Ec(k) => k.sign(&rng, input.as_bytes()).unwrap().as_ref().to_vec(),
        };
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
    }

    fn sign(&self, claims: &Value) -> String {
        self.sign_as(&self.kid, claims)
    }
}

/// The identity provider: discovery + JWKS, the JWKS replaceable, its fetches counted.
#[derive(Clone)]
struct Idp {
    issuer: String,
    jwks: Arc<Mutex<Value>>,
    jwks_hits: Arc<AtomicUsize>,
}

impl Idp {
    async fn start(keys: &[&TestKey]) -> Idp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        let idp = Idp {
            issuer,
            jwks: Arc::new(Mutex::new(Value::Null)),
            jwks_hits: Arc::new(AtomicUsize::new(0)),
        };
        idp.serve(keys);
        let app = Router::new()
            .route(
                "/.well-known/openid-configuration",
                get(|State(idp): State<Idp>| async move {
                    Json(json!({"issuer": idp.issuer, "jwks_uri": format!("{}/jwks", idp.issuer)}))
                }),
            )
            .route(
                "/jwks",
                get(|State(idp): State<Idp>| async move {
                    idp.jwks_hits.fetch_add(1, Ordering::SeqCst);
                    Json(idp.jwks.lock().unwrap().clone())
                }),
            )
            .with_state(idp.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        idp
    }

    /// From now on the JWKS holds `keys`.
    fn serve(&self, keys: &[&TestKey]) {
        let keys: Vec<Value> = keys.iter().map(|k| k.jwk()).collect();
        *self.jwks.lock().unwrap() = json!({ "keys": keys });
    }

    fn hits(&self) -> usize {
        self.jwks_hits.load(Ordering::SeqCst)
    }

    fn options(&self) -> JwtOptions {
        let mut opts = JwtOptions::new(self.issuer.clone(), AUDIENCE);
        opts.min_refetch = Duration::from_millis(300);
        opts
    }
}

fn api(opts: JwtOptions) -> Router {
    let (_, draining) = watch::channel(false);
    router(ApiOptions {
        draining,
        retry_after_secs: 30,
        dev_tokens: true,
        auth: AuthMode::Jwt(opts),
    })
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Claims that the API accepts for registration create.
fn claims(idp: &Idp) -> Value {
    json!({
        "iss": idp.issuer, "aud": [AUDIENCE, "other"], "sub": "user-1",
        "iat": now(), "nbf": now() - 5, "exp": now() + 600,
        "phone_number": "+15550001",
        "scope": "openid webrtc-registration:create webrtc-registration:read",
    })
}

/// `POST` a registration with `token`; the status and the body.
async fn register(app: &Router, token: Option<&str>, device: &str) -> (StatusCode, Value) {
    let mut req = Request::builder()
        .method(Method::POST)
        .uri(REG)
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let body = Body::from(json!({ "deviceId": device }).to_string());
    json_response(app.clone().oneshot(req.body(body).unwrap()).await.unwrap()).await
}

fn assert_401(got: &(StatusCode, Value), what: &str) {
    assert_eq!(got.0, StatusCode::UNAUTHORIZED, "{what}: {:?}", got.1);
    assert_eq!(got.1["code"], "UNAUTHENTICATED", "{what}");
}

#[tokio::test]
async fn rs256_and_es256_tokens_are_accepted() {
    let (rsa, ec) = (TestKey::rsa("rsa-1"), TestKey::ec("ec-1"));
    let idp = Idp::start(&[&rsa, &ec]).await;
    let app = api(idp.options());

    let (status, body) = register(&app, Some(&rsa.sign(&claims(&idp))), "dev-rsa").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["regInfo"]["phoneNumber"], "+15550001");

    let mut tel = claims(&idp);
    tel["phone_number"] = json!("tel:+15550002");
    tel["aud"] = json!(AUDIENCE);
    let (status, body) = register(&app, Some(&ec.sign(&tel)), "dev-ec").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["regInfo"]["phoneNumber"], "+15550002");
    assert_eq!(idp.hits(), 1, "the JWKS is fetched once and cached");
}

#[tokio::test]
async fn bad_tokens_are_401() {
    let (rsa, ec, stranger) = (
        TestKey::rsa("rsa-1"),
        TestKey::ec("ec-1"),
        TestKey::ec("ec-1"),
    );
    let idp = Idp::start(&[&rsa, &ec]).await;
    let app = api(idp.options());
    let with = |field: &str, value: Value| {
        let mut c = claims(&idp);
        c[field] = value;
        c
    };
    let cases = [
        ("expired", ec.sign(&with("exp", json!(now() - 120)))),
        ("not yet valid", ec.sign(&with("nbf", json!(now() + 300)))),
        (
            "wrong audience",
            rsa.sign(&with("aud", json!("someone-else"))),
        ),
        (
            "wrong issuer",
            ec.sign(&with("iss", json!("http://evil.example"))),
        ),
        ("bad signature", stranger.sign(&claims(&idp))),
        (
            "no phone number",
            ec.sign(&with("phone_number", json!("15550001"))),
        ),
        ("not a JWT", "opaque-token".to_owned()),
    ];
    for (what, token) in &cases {
        assert_401(&register(&app, Some(token), "dev").await, what);
    }
    // A token re-signed by another algorithm's key under the same kid.
    let alg_swap = rsa.sign_as("ec-1", &claims(&idp));
    assert_401(&register(&app, Some(&alg_swap), "dev").await, "alg swap");
    assert_401(&register(&app, None, "dev").await, "no token");

    // Small clock skew is within the leeway.
    let skewed = ec.sign(&with("exp", json!(now() - 10)));
    assert_eq!(register(&app, Some(&skewed), "dev").await.0, StatusCode::OK);
}

#[tokio::test]
async fn unknown_kid_refetches_rate_limited_then_rotation_is_accepted() {
    let (old, new) = (TestKey::ec("2026-11"), TestKey::rsa("2026-12"));
    let idp = Idp::start(&[&old]).await;
    let app = api(idp.options());
    assert_eq!(
        register(&app, Some(&old.sign(&claims(&idp))), "d1").await.0,
        StatusCode::OK
    );
    assert_eq!(idp.hits(), 1);

    // The provider has not published the new key yet: refused, and a burst of tokens
    // with the unknown kid makes at most one fetch per min_refetch.
    let token = new.sign(&claims(&idp));
    tokio::time::sleep(Duration::from_millis(350)).await;
    for _ in 0..5 {
        assert_401(&register(&app, Some(&token), "d2").await, "unknown kid");
    }
    assert_eq!(idp.hits(), 2, "one refetch for the burst");

    // Rotation: the provider now serves only the new key.
    idp.serve(&[&new]);
    assert_401(
        &register(&app, Some(&token), "d2").await,
        "inside the rate limit",
    );
    assert_eq!(idp.hits(), 2);
    tokio::time::sleep(Duration::from_millis(350)).await;
    let (status, body) = register(&app, Some(&token), "d2").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(idp.hits(), 3);
    // The old key is gone with the refetched set.
    let stale = old.sign(&claims(&idp));
    assert_401(&register(&app, Some(&stale), "d3").await, "rotated-out key");
}

#[tokio::test]
async fn a_token_without_the_operation_scope_is_403_naming_it() {
    let ec = TestKey::ec("ec-1");
    let idp = Idp::start(&[&ec]).await;
    let app = api(idp.options());
    let mut c = claims(&idp);
    c.as_object_mut().unwrap().remove("scope");
    c["scp"] = json!(["webrtc-registration:read"]);
    let (status, body) = register(&app, Some(&ec.sign(&c)), "dev").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["code"], "PERMISSION_DENIED");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("webrtc-registration:create"), "{message}");

    // `scp` as a string grants it.
    c["scp"] = json!("webrtc-registration:create");
    assert_eq!(
        register(&app, Some(&ec.sign(&c)), "dev").await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn an_unreachable_provider_is_503_and_dev_tokens_are_off() {
    let ec = TestKey::ec("ec-1");
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let app = api(JwtOptions::new(issuer.clone(), AUDIENCE));
    let c = json!({"iss": issuer, "aud": AUDIENCE, "exp": now() + 60,
                       "phone_number": "+15550001", "scope": "webrtc-registration:create"});
    let (status, body) = register(&app, Some(&ec.sign(&c)), "dev").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["code"], "UNAVAILABLE");

    let dev = Request::builder()
        .method(Method::POST)
        .uri("/dev/token")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(json!({"phoneNumber": "+15550001"}).to_string()))
        .unwrap();
    let response = app.clone().oneshot(dev).await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_discovery_document_of_another_issuer_is_not_trusted() {
    let ec = TestKey::ec("ec-1");
    let idp = Idp::start(&[&ec]).await;
    let mut opts = JwtOptions::new("https://idp.example.net", AUDIENCE);
    opts.discovery_url = Some(format!("{}/.well-known/openid-configuration", idp.issuer));
    let app = api(opts);
    let mut c = claims(&idp);
    c["iss"] = json!("https://idp.example.net");
    let (status, body) = register(&app, Some(&ec.sign(&c)), "dev").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(
        idp.hits(),
        0,
        "the JWKS of a mismatched discovery is not fetched"
    );
}

#[tokio::test]
async fn a_provider_without_keys_at_first_is_retried_until_it_has_them() {
    let ec = TestKey::ec("ec-1");
    let idp = Idp::start(&[]).await;
    *idp.jwks.lock().unwrap() = json!("not a JWKS");
    let app = api(idp.options());
    let token = ec.sign(&claims(&idp));
    let (status, body) = register(&app, Some(&token), "dev").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(
        register(&app, Some(&token), "dev").await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(idp.hits(), 1, "rate-limited while failing");

    idp.serve(&[&ec]);
    tokio::time::sleep(Duration::from_millis(350)).await;
    let (status, body) = register(&app, Some(&token), "dev").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(idp.hits(), 2);
}

#[tokio::test]
async fn an_oversized_jwks_is_not_read() {
    let ec = TestKey::ec("ec-1");
    let idp = Idp::start(&[&ec]).await;
    let mut jwks = json!({ "keys": [ec.jwk()] });
    jwks["padding"] = json!("x".repeat(2 << 20));
    *idp.jwks.lock().unwrap() = jwks;
    let app = api(idp.options());
    let (status, body) = register(&app, Some(&ec.sign(&claims(&idp))), "dev").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
}
