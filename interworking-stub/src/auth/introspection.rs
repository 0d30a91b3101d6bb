//! Opaque tokens checked at the operator's RFC 7662 introspection endpoint, with a short
//! cache of positive and negative answers.
//!
//! ```text
//!  token ──► cache (SHA-256 of the token) ──hit──► Identity / 401
//!              │ miss
//!              ▼
//!  POST url  Authorization: Basic client_id:client_secret   (RFC 7662 §2.1)
//!            token=…&token_type_hint=access_token
//!     ◄── 200 {active, exp?, scope?, <phone claim>, …}      (RFC 7662 §2.2)
//!              │ cached for cache_ttl, never past exp; errors of the endpoint → 503, not cached
//! ```

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::http::header;
use serde_json::{Map, Value};

use super::claims::{self, Expect};
use super::jwt::unix_now;
use super::{AuthFuture, Authenticator, Identity, DEFAULT_PHONE_CLAIM};
use crate::ApiError;

/// Introspection mode settings.
#[derive(Clone)]
pub struct IntrospectionOptions {
    /// The introspection endpoint (`https://idp.example.net/oauth2/introspect`).
    pub url: String,
    /// rtcgate's client id at the authorization server.
    pub client_id: String,
    /// rtcgate's client secret (never logged).
    pub client_secret: String,
    /// The member of the answer that carries the phone number (`+…` or `tel:+…`).
    pub phone_claim: String,
    /// How long an answer is reused (never past the token's `exp`).
    pub cache_ttl: Duration,
    /// Clock skew allowed on `exp` and `nbf`.
    pub leeway: Duration,
    /// Timeout of each introspection request.
    pub http_timeout: Duration,
}

impl IntrospectionOptions {
    /// The defaults for an endpoint and client: claim `phone_number`, answers cached
    /// 30 s, 60 s leeway, 5 s timeout.
    pub fn new(
        url: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> Self {
        IntrospectionOptions {
            url: url.into(),
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            phone_claim: DEFAULT_PHONE_CLAIM.to_owned(),
            cache_ttl: Duration::from_secs(30),
            leeway: Duration::from_secs(60),
            http_timeout: Duration::from_secs(5),
        }
    }
}

impl fmt::Debug for IntrospectionOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IntrospectionOptions")
            .field("url", &self.url)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("phone_claim", &self.phone_claim)
            .field("cache_ttl", &self.cache_ttl)
            .field("leeway", &self.leeway)
            .field("http_timeout", &self.http_timeout)
            .finish()
    }
}

/// The most answers kept; past it the cache is emptied (tokens are cheap to recheck).
const MAX_CACHED: usize = 10_000;

type Answer = Result<Identity, ApiError>;

/// Checks tokens at an RFC 7662 endpoint.
#[derive(Debug)]
pub struct Introspector {
    opts: IntrospectionOptions,
    http: reqwest::Client,
    /// Answers by SHA-256 of the token (raw tokens are not kept), until when they hold.
    cache: Mutex<HashMap<[u8; 32], (Answer, Instant)>>,
}

/// `application/x-www-form-urlencoded` (WHATWG URL §5.2) of one value.
fn form_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                out.push(char::from(b))
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// What an introspection answer means at `now` (Unix seconds), and how long (seconds)
/// that may be reused given `ttl`. Pure.
fn judge(answer: &Map<String, Value>, opts: &IntrospectionOptions, now: u64) -> (Answer, u64) {
    let ttl = opts.cache_ttl.as_secs();
    // RFC 7662 §2.2: `active` is required; anything but true is an inactive token.
    if answer.get("active").and_then(Value::as_bool) != Some(true) {
        let inactive = ApiError::Unauthenticated("the token is not active".into());
        return (Err(inactive), ttl);
    }
    let expect = Expect {
        issuer: None,
        audience: None,
        exp_required: false,
        phone_claim: &opts.phone_claim,
        leeway: opts.leeway.as_secs(),
    };
    let result = claims::identity(answer, now, &expect);
    let until_exp = match claims::numeric_date(answer, "exp") {
        Ok(Some(exp)) => exp.saturating_sub(now),
        _ => ttl,
    };
    (result, ttl.min(until_exp))
}

impl Introspector {
    /// An introspector for `opts`.
    pub fn new(opts: IntrospectionOptions) -> Self {
        let http = reqwest::Client::builder()
            .timeout(opts.http_timeout)
            .build()
            .unwrap_or_default();
        Introspector {
            opts,
            http,
            cache: Mutex::new(HashMap::new()),
        }
    }

    fn cached(&self, key: &[u8; 32]) -> Option<Answer> {
        let cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        match cache.get(key) {
            Some((answer, until)) if *until > Instant::now() => Some(answer.clone()),
            _ => None,
        }
    }

    fn remember(&self, key: [u8; 32], answer: &Answer, secs: u64) {
        if secs == 0 {
            return;
        }
        let now = Instant::now();
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        if cache.len() >= MAX_CACHED {
            cache.retain(|_, (_, until)| *until > now);
            if cache.len() >= MAX_CACHED {
                cache.clear();
            }
        }
        cache.insert(key, (answer.clone(), now + Duration::from_secs(secs)));
    }

    /// One POST to the endpoint; `Unavailable` when it cannot answer.
    async fn ask(&self, token: &str) -> Result<Map<String, Value>, ApiError> {
        let unavailable = |why: String| {
            tracing::warn!(error = %why, "token introspection failed");
            ApiError::Unavailable {
                message: "the token introspection endpoint cannot be reached".into(),
                retry_after_secs: 5,
            }
        };
        let body = format!("token={}&token_type_hint=access_token", form_encode(token));
        // RFC 6749 §2.3.1: the client id and secret are form-encoded inside Basic.
        let response = self
            .http
            .post(&self.opts.url)
            .basic_auth(
                form_encode(&self.opts.client_id),
                Some(form_encode(&self.opts.client_secret)),
            )
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| unavailable(e.to_string()))?;
        if !response.status().is_success() {
            return Err(unavailable(format!("HTTP {}", response.status())));
        }
        let bytes = super::read_answer(response).await.map_err(unavailable)?;
        serde_json::from_slice(&bytes).map_err(|e| unavailable(format!("bad answer: {e}")))
    }

    async fn check(&self, token: &str) -> Answer {
        let digest = ring::digest::digest(&ring::digest::SHA256, token.as_bytes());
        let mut key = [0u8; 32];
        key.copy_from_slice(digest.as_ref());
        if let Some(answer) = self.cached(&key) {
            return answer;
        }
        let answer = self.ask(token).await?;
        let (result, secs) = judge(&answer, &self.opts, unix_now());
        self.remember(key, &result, secs);
        result
    }
}

impl Authenticator for Introspector {
    fn authenticate<'a>(&'a self, token: &'a str) -> AuthFuture<'a> {
        Box::pin(self.check(token))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn opts() -> IntrospectionOptions {
        IntrospectionOptions::new("http://127.0.0.1:1/introspect", "rtcgate", "s3cret")
    }

    fn judge_json(v: Value, now: u64) -> (Answer, u64) {
        judge(v.as_object().unwrap_or(&Map::new()), &opts(), now)
    }

    #[test]
    fn active_answers_are_cached_until_exp_at_most() {
        let (who, secs) = judge_json(
            json!({"active": true, "exp": 1010, "scope": "a", "phone_number": "+15550001"}),
            1000,
        );
        assert_eq!(
            who.map(|w| w.phone_number).ok().as_deref(),
            Some("+15550001")
        );
        assert_eq!(secs, 10, "never past exp");
        let (_, secs) = judge_json(json!({"active": true, "phone_number": "+15550001"}), 1000);
        assert_eq!(secs, 30);
    }

    #[test]
    fn inactive_and_numberless_answers_are_401() {
        for answer in [
            json!({"active": false}),
            json!({"active": "true", "phone_number": "+15550001"}),
            json!({"active": true}),
            json!({"active": true, "exp": 900, "phone_number": "+15550001"}),
        ] {
            let (result, _) = judge_json(answer.clone(), 1000);
            assert!(
                matches!(result, Err(ApiError::Unauthenticated(_))),
                "{answer}"
            );
        }
    }

    #[test]
    fn form_encoding_escapes_reserved_bytes() {
        assert_eq!(form_encode("a b+c/=é"), "a+b%2Bc%2F%3D%C3%A9");
        assert!(!format!("{:?}", opts()).contains("s3cret"));
    }
}
