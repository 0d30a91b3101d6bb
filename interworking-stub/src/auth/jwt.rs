//! JWT access tokens (RFC 7519, RFC 9068) signed by the operator's identity provider and
//! checked against its JWKS (RFC 7517), found through OpenID discovery
//! (`{issuer}/.well-known/openid-configuration` → `jwks_uri`, OpenID Connect Discovery
//! 1.0 §4).
//!
//! ```text
//!  token ──► parse (JWS compact, RFC 7515 §7.1) ──► key by kid ──► verify RS256/ES256
//!                                                     │ unknown kid / stale set
//!                                                     ▼ (at most once per min_refetch)
//!                                     discovery ──► jwks_uri ──► KeySet (cached)
//!        ──► claims: iss, aud, exp, nbf (leeway), phone claim, scope/scp ──► Identity
//! ```
//!
//! Signatures are verified with `ring` directly rather than through `jsonwebtoken`:
//! `ring` is already in the build (rustls uses it), it needs only a C compiler, and two
//! algorithms (RSASSA-PKCS1-v1_5 SHA-256, ECDSA P-256 SHA-256) are a few lines each,
//! whereas `jsonwebtoken` 10 would add a second crypto stack (`rsa`, `p256`, …) or
//! aws-lc-rs (cmake) for the same work.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::claims::{self, Expect};
use super::{AuthFuture, Authenticator, Identity, DEFAULT_PHONE_CLAIM};
use crate::ApiError;

/// JWT mode settings.
#[derive(Debug, Clone)]
pub struct JwtOptions {
    /// The `iss` tokens must carry (`https://idp.example.net/realms/rtc`).
    pub issuer: String,
    /// The `aud` tokens must carry (a string, or one of an array).
    pub audience: String,
    /// The claim that carries the phone number (`+…` or `tel:+…`).
    pub phone_claim: String,
    /// The OpenID discovery document; when unset,
    /// `{issuer}/.well-known/openid-configuration`.
    pub discovery_url: Option<String>,
    /// Clock skew allowed on `exp` and `nbf`.
    pub leeway: Duration,
    /// The shortest time between two JWKS fetches (a token with an unknown `kid` makes
    /// one only when the last was longer ago).
    pub min_refetch: Duration,
    /// How long a fetched key set is used before it is fetched again.
    pub max_key_age: Duration,
    /// Timeout of each discovery or JWKS request.
    pub http_timeout: Duration,
}

impl JwtOptions {
    /// The defaults for `issuer` and `audience`: claim `phone_number`, discovery under
    /// the issuer, 60 s leeway, refetch at most every 30 s, keys kept an hour, 5 s
    /// timeout.
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        JwtOptions {
            issuer: issuer.into(),
            audience: audience.into(),
            phone_claim: DEFAULT_PHONE_CLAIM.to_owned(),
            discovery_url: None,
            leeway: Duration::from_secs(60),
            min_refetch: Duration::from_secs(30),
            max_key_age: Duration::from_secs(3600),
            http_timeout: Duration::from_secs(5),
        }
    }

    /// The discovery URL, given or derived from the issuer.
    pub fn discovery(&self) -> String {
        match &self.discovery_url {
            Some(url) => url.clone(),
            None => format!(
                "{}/.well-known/openid-configuration",
                self.issuer.trim_end_matches('/')
            ),
        }
    }
}

/// The signature algorithms accepted (RFC 7518 §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Alg {
    Rs256,
    Es256,
}

/// A verification key of the JWKS.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Key {
    /// RSA modulus and exponent, big-endian without leading zeros (RFC 7518 §6.3.1).
    Rsa { n: Vec<u8>, e: Vec<u8> },
    /// A P-256 point, uncompressed (`04 ‖ x ‖ y`, RFC 7518 §6.2.1).
    P256 { point: Vec<u8> },
}

impl Key {
    fn alg(&self) -> Alg {
        match self {
            Key::Rsa { .. } => Alg::Rs256,
            Key::P256 { .. } => Alg::Es256,
        }
    }

    fn verifies(&self, input: &[u8], sig: &[u8]) -> bool {
        match self {
            Key::Rsa { n, e } => RsaPublicKeyComponents { n, e }
                .verify(&signature::RSA_PKCS1_2048_8192_SHA256, input, sig)
                .is_ok(),
            // RFC 7518 §3.4: the JWS signature is R ‖ S, 32 bytes each.
            Key::P256 { point } => {
                UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                    .verify(input, sig)
                    .is_ok()
            }
        }
    }
}

/// One JWK as published (RFC 7517 §4); unknown members ignored.
#[derive(Debug, Deserialize)]
struct Jwk {
    kty: String,
    kid: Option<String>,
    #[serde(rename = "use")]
    use_: Option<String>,
    alg: Option<String>,
    crv: Option<String>,
    n: Option<String>,
    e: Option<String>,
    x: Option<String>,
    y: Option<String>,
}

fn b64(s: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok()
}

fn strip_zeros(mut v: Vec<u8>) -> Vec<u8> {
    let zeros = v.iter().take_while(|b| **b == 0).count();
    v.drain(..zeros.min(v.len().saturating_sub(1)));
    v
}

impl Jwk {
    /// The verification key, when this JWK is one rtcgate can use.
    fn key(&self) -> Option<Key> {
        if self.use_.as_deref().is_some_and(|u| u != "sig") {
            return None;
        }
        let key = match (self.kty.as_str(), self.crv.as_deref()) {
            ("RSA", _) => Key::Rsa {
                n: strip_zeros(b64(self.n.as_deref()?)?),
                e: strip_zeros(b64(self.e.as_deref()?)?),
            },
            ("EC", Some("P-256")) => {
                let (x, y) = (b64(self.x.as_deref()?)?, b64(self.y.as_deref()?)?);
                if x.len() != 32 || y.len() != 32 {
                    return None;
                }
                Key::P256 {
                    point: [&[4u8][..], &x, &y].concat(),
                }
            }
            _ => return None,
        };
        let alg_ok = match self.alg.as_deref() {
            None => true,
            Some("RS256") => key.alg() == Alg::Rs256,
            Some("ES256") => key.alg() == Alg::Es256,
            Some(_) => false,
        };
        alg_ok.then_some(key)
    }
}

/// The usable keys of a JWKS, with their `kid`s.
#[derive(Debug, Default, Clone)]
struct KeySet {
    keys: Vec<(Option<String>, Key)>,
}

impl KeySet {
    /// Parses a JWKS document (RFC 7517 §5), keeping the keys rtcgate can use.
    fn parse(body: &[u8]) -> Result<KeySet, String> {
        #[derive(Deserialize)]
        struct Jwks {
            keys: Vec<Value>,
        }
        let jwks: Jwks = serde_json::from_slice(body).map_err(|e| format!("bad JWKS: {e}"))?;
        let keys = jwks
            .keys
            .into_iter()
            .filter_map(|k| serde_json::from_value::<Jwk>(k).ok())
            .filter_map(|k| Some((k.kid.clone(), k.key()?)))
            .collect();
        Ok(KeySet { keys })
    }

    /// The keys a token with `kid` and `alg` may be signed with.
    fn candidates<'a>(&'a self, kid: Option<&'a str>, alg: Alg) -> impl Iterator<Item = &'a Key> {
        self.keys
            .iter()
            .filter(move |(k, key)| key.alg() == alg && (kid.is_none() || k.as_deref() == kid))
            .map(|(_, key)| key)
    }
}

/// A parsed JWS compact serialization (RFC 7515 §7.1), not yet verified.
#[derive(Debug)]
struct Jws<'a> {
    /// `BASE64URL(header) . BASE64URL(payload)`, what the signature covers.
    signing_input: &'a str,
    alg: Alg,
    kid: Option<String>,
    claims: Map<String, Value>,
    signature: Vec<u8>,
}

fn malformed() -> ApiError {
    ApiError::Unauthenticated("the token is not a well-formed JWT".into())
}

impl<'a> Jws<'a> {
    fn parse(token: &'a str) -> Result<Jws<'a>, ApiError> {
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(malformed());
        };
        let header: Map<String, Value> =
            serde_json::from_slice(&b64(h).ok_or_else(malformed)?).map_err(|_| malformed())?;
        // RFC 7515 §4.1.11: extensions we do not understand make the token unusable.
        if header.contains_key("crit") {
            return Err(ApiError::Unauthenticated(
                "the token has critical header parameters".into(),
            ));
        }
        let alg = match header.get("alg").and_then(Value::as_str) {
            Some("RS256") => Alg::Rs256,
            Some("ES256") => Alg::Es256,
            _ => {
                return Err(ApiError::Unauthenticated(
                    "the token's alg is not RS256 or ES256".into(),
                ))
            }
        };
        let claims =
            serde_json::from_slice(&b64(p).ok_or_else(malformed)?).map_err(|_| malformed())?;
        Ok(Jws {
            signing_input: &token[..h.len() + 1 + p.len()],
            alg,
            kid: header.get("kid").and_then(Value::as_str).map(str::to_owned),
            claims,
            signature: b64(s).ok_or_else(malformed)?,
        })
    }
}

/// Why a token was not accepted against a key set.
#[derive(Debug)]
enum Rejection {
    /// No key of the set has the token's `kid` (and algorithm): worth a refetch.
    UnknownKey,
    /// Refused for good.
    Refused(ApiError),
}

/// The sans-IO core: checks `jws` against `keys` and `opts` at `now` (Unix seconds).
fn validate(
    jws: &Jws<'_>,
    keys: &KeySet,
    opts: &JwtOptions,
    now: u64,
) -> Result<Identity, Rejection> {
    let mut candidates = keys.candidates(jws.kid.as_deref(), jws.alg).peekable();
    if candidates.peek().is_none() {
        return Err(Rejection::UnknownKey);
    }
    let input = jws.signing_input.as_bytes();
    if !candidates.any(|key| key.verifies(input, &jws.signature)) {
        return Err(Rejection::Refused(ApiError::Unauthenticated(
            "the token's signature does not verify".into(),
        )));
    }
    let expect = Expect {
        issuer: Some(&opts.issuer),
        audience: Some(&opts.audience),
        exp_required: true,
        phone_claim: &opts.phone_claim,
        leeway: opts.leeway.as_secs(),
    };
    claims::identity(&jws.claims, now, &expect).map_err(Rejection::Refused)
}

/// The shortest gap between fetches while no key is known (the 503's `Retry-After`).
const RETRY_EMPTY: Duration = Duration::from_secs(5);

/// The key cache.
#[derive(Debug, Default)]
struct Cache {
    keys: Arc<KeySet>,
    /// When the set was last fetched successfully.
    fetched: Option<Instant>,
    /// When a fetch was last tried (rate limit).
    tried: Option<Instant>,
}

/// Checks JWT access tokens against the issuer's JWKS, cached.
#[derive(Debug)]
pub struct JwtAuthenticator {
    opts: JwtOptions,
    http: reqwest::Client,
    cache: Mutex<Cache>,
    /// One fetch at a time; others wait for it and use its result.
    refresh: tokio::sync::Mutex<()>,
}

impl JwtAuthenticator {
    /// An authenticator for `opts`; keys are fetched on the first token.
    pub fn new(opts: JwtOptions) -> Self {
        let http = reqwest::Client::builder()
            .timeout(opts.http_timeout)
            .build()
            .unwrap_or_default();
        JwtAuthenticator {
            opts,
            http,
            cache: Mutex::new(Cache::default()),
            refresh: tokio::sync::Mutex::new(()),
        }
    }

    fn snapshot(&self) -> (Arc<KeySet>, bool, bool) {
        let cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        let fresh = cache
            .fetched
            .is_some_and(|t| now.duration_since(t) < self.opts.max_key_age);
        // Without any key every token fails: retry sooner than min_refetch (at most
        // every RETRY_EMPTY), so a provider down at start-up is not a long outage.
        let gap = if cache.keys.keys.is_empty() {
            self.opts.min_refetch.min(RETRY_EMPTY)
        } else {
            self.opts.min_refetch
        };
        let may_try = cache.tried.is_none_or(|t| now.duration_since(t) >= gap);
        (cache.keys.clone(), fresh, may_try)
    }

    /// The key set, refetched first when `want_new` (an unknown kid) or stale, and the
    /// last attempt is older than `min_refetch`. Cancel-safe: a dropped call leaves the
    /// cache as it was or updated.
    async fn keys(&self, want_new: bool, seen: &Arc<KeySet>) -> Result<Arc<KeySet>, ApiError> {
        let _one = self.refresh.lock().await;
        let (keys, fresh, may_try) = self.snapshot();
        if !Arc::ptr_eq(&keys, seen) || (fresh && !want_new) || !may_try {
            // Another request refetched meanwhile, or the rate limit holds.
            return if keys.keys.is_empty() && !fresh {
                Err(unavailable())
            } else {
                Ok(keys)
            };
        }
        self.cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .tried = Some(Instant::now());
        match self.fetch().await {
            Ok(set) => {
                let set = Arc::new(set);
                let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
                cache.keys = set.clone();
                cache.fetched = Some(Instant::now());
                tracing::info!(keys = set.keys.len(), "JWKS fetched");
                Ok(set)
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot fetch the JWKS");
                if keys.keys.is_empty() {
                    Err(unavailable())
                } else {
                    Ok(keys)
                }
            }
        }
    }

    async fn get(&self, url: &str) -> Result<Vec<u8>, String> {
        let response = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        if !response.status().is_success() {
            return Err(format!("{url}: HTTP {}", response.status()));
        }
        super::read_answer(response)
            .await
            .map_err(|e| format!("{url}: {e}"))
    }

    /// Discovery, then the JWKS.
    async fn fetch(&self) -> Result<KeySet, String> {
        let discovery = self.opts.discovery();
        let doc: Value = serde_json::from_slice(&self.get(&discovery).await?)
            .map_err(|e| format!("{discovery}: {e}"))?;
        // OpenID Connect Discovery 1.0 §4.3: the document's issuer must be the one
        // configured, or its keys are another provider's.
        let issuer = doc.get("issuer").and_then(Value::as_str);
        if issuer != Some(self.opts.issuer.as_str()) {
            return Err(format!(
                "{discovery}: issuer {issuer:?} is not the configured one"
            ));
        }
        let jwks_uri = doc
            .get("jwks_uri")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("{discovery}: no jwks_uri"))?;
        KeySet::parse(&self.get(jwks_uri).await?)
    }

    async fn check(&self, token: &str) -> Result<Identity, ApiError> {
        let jws = Jws::parse(token)?;
        let (mut keys, fresh, _) = self.snapshot();
        if !fresh {
            keys = self.keys(false, &keys).await?;
        }
        match validate(&jws, &keys, &self.opts, unix_now()) {
            Err(Rejection::UnknownKey) => {}
            other => return other.map_err(refused),
        }
        let newer = self.keys(true, &keys).await?;
        validate(&jws, &newer, &self.opts, unix_now()).map_err(refused)
    }
}

fn refused(r: Rejection) -> ApiError {
    match r {
        Rejection::UnknownKey => {
            ApiError::Unauthenticated("the token is signed with an unknown key".into())
        }
        Rejection::Refused(e) => e,
    }
}

fn unavailable() -> ApiError {
    ApiError::Unavailable {
        message: "the identity provider's keys cannot be fetched".into(),
        retry_after_secs: RETRY_EMPTY.as_secs() as u32,
    }
}

/// Seconds since the Unix epoch.
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Authenticator for JwtAuthenticator {
    fn authenticate<'a>(&'a self, token: &'a str) -> AuthFuture<'a> {
        Box::pin(self.check(token))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jwks_keeps_only_usable_signing_keys() {
        let x = URL_SAFE_NO_PAD.encode([1u8; 32]);
        let doc = serde_json::json!({"keys": [
            {"kty": "EC", "crv": "P-256", "kid": "ec", "x": x, "y": x, "alg": "ES256"},
            {"kty": "EC", "crv": "P-384", "kid": "p384", "x": x, "y": x},
            {"kty": "RSA", "kid": "enc", "use": "enc", "n": "AQAB", "e": "AQAB"},
            {"kty": "RSA", "kid": "rs", "n": "AAEC", "e": "AQAB", "alg": "RS256"},
            {"kty": "RSA", "kid": "wrong-alg", "n": "AQAB", "e": "AQAB", "alg": "ES256"},
            {"kty": "oct", "k": "c2VjcmV0"},
        ]});
        let set = KeySet::parse(doc.to_string().as_bytes()).unwrap_or_default();
        let kids: Vec<_> = set.keys.iter().map(|(k, _)| k.as_deref()).collect();
        assert_eq!(kids, [Some("ec"), Some("rs")]);
        assert_eq!(
            set.keys[1].1,
            Key::Rsa {
                n: vec![1, 2],
                e: vec![1, 0, 1]
            },
            "leading zeros stripped"
        );
    }

    #[test]
    fn malformed_and_unsupported_tokens_are_401() {
        let none = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#),
            URL_SAFE_NO_PAD.encode("{}")
        );
        let hs = format!(
            "{}.{}.AA",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256"}"#),
            URL_SAFE_NO_PAD.encode("{}")
        );
        for token in ["", "a.b", "a.b.c.d", "!!.!!.!!", none.as_str(), hs.as_str()] {
            assert!(
                matches!(Jws::parse(token), Err(ApiError::Unauthenticated(_))),
                "{token}"
            );
        }
    }

    /// A valid ES256 token and the key set that verifies it.
    fn signed(claims: &Value) -> (String, KeySet) {
        use ring::rand::SystemRandom;
        use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
        let rng = SystemRandom::new();
        let alg = &ECDSA_P256_SHA256_FIXED_SIGNING;
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(alg, &rng).expect("P-256 keygen");
        let key = EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).expect("own key");
        let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"ES256","kid":"k"}"#);
        let input = format!("{header}.{}", URL_SAFE_NO_PAD.encode(claims.to_string()));
        let sig = key.sign(&rng, input.as_bytes()).expect("signing");
        let set = KeySet {
            keys: vec![(
                Some("k".into()),
                Key::P256 {
                    point: key.public_key().as_ref().to_vec(),
                },
            )],
        };
        (format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig)), set)
    }

    /// Never panic on peer input, never accept an altered token: every byte of a good token
    /// replaced by a few others, and every truncation.
    #[test]
    fn mutated_tokens_never_panic_nor_pass() {
        let opts = JwtOptions::new("https://idp.example", "rtcgate");
        let claims = serde_json::json!({"iss": "https://idp.example", "aud": "rtcgate",
            "exp": 2_000_000_000u64, "phone_number": "+15550001", "scope": "a"});
        let (token, keys) = signed(&claims);
        let now = 1_800_000_000;
        let accepts = |t: &str| {
            Jws::parse(t)
                .ok()
                .is_some_and(|jws| validate(&jws, &keys, &opts, now).is_ok())
        };
        assert!(accepts(&token), "the unaltered token");
        let original = Jws::parse(&token).expect("the token parses");
        let bytes = token.as_bytes();
        for i in 0..bytes.len() {
            for b in [b'A', b'-', b'.', b'=', 0xff] {
                if bytes[i] == b {
                    continue;
                }
                let mut altered = bytes.to_vec();
                altered[i] = b;
                let altered = String::from_utf8_lossy(&altered);
                // Only a token that decodes to the same signed bytes and signature
                // may pass (base64url spellings of the same bytes).
                let same = Jws::parse(&altered).ok().is_some_and(|a| {
                    a.signing_input == original.signing_input && a.signature == original.signature
                });
                assert!(same || !accepts(&altered), "byte {i} → {b}");
            }
            assert!(!accepts(&token[..i]), "truncated at {i}");
        }
    }

    #[test]
    fn discovery_defaults_under_the_issuer() {
        let opts = JwtOptions::new("https://idp.example/realms/rtc/", "rtcgate");
        assert_eq!(
            opts.discovery(),
            "https://idp.example/realms/rtc/.well-known/openid-configuration"
        );
    }
}
