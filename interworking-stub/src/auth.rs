//! Bearer tokens (RFC 6750) and, in dev mode, the tokens rtcgate issues itself.
//!
//! `POST /dev/token {phoneNumber, scope?}` issues an opaque, unguessable token for a
//! phone number; it exists only when the API listens on loopback. Every other route
//! reads `Authorization: Bearer …` through an [`Authenticator`], so JWT/JWKS and RFC 7662
//! introspection can replace the dev tokens without touching the routes.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::http::{header, HeaderMap};

use crate::ApiError;

/// Who a request acts for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The phone number (`+…`) the token stands for.
    pub phone_number: String,
    /// Granted scopes.
    pub scopes: Vec<String>,
}

/// Turns a bearer token into an [`Identity`].
pub trait Authenticator: Send + Sync {
    /// The identity of a token, or why it is refused.
    fn authenticate(&self, token: &str) -> Result<Identity, ApiError>;
}

/// How long a dev token lives.
pub const DEV_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);

/// Tokens issued by `POST /dev/token`, kept in memory.
#[derive(Debug, Default)]
pub struct DevTokens {
    tokens: Mutex<HashMap<String, (Identity, Instant)>>,
}

impl DevTokens {
    /// Issues a token for `phone_number` with `scopes`.
    pub fn issue(&self, phone_number: &str, scopes: Vec<String>) -> Result<String, ApiError> {
        let token = random_hex(32)?;
        let identity = Identity {
            phone_number: phone_number.to_owned(),
            scopes,
        };
        let mut tokens = self.tokens.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        tokens.retain(|_, (_, until)| *until > now);
        tokens.insert(token.clone(), (identity, now + DEV_TOKEN_LIFETIME));
        Ok(token)
    }
}

impl Authenticator for DevTokens {
    fn authenticate(&self, token: &str) -> Result<Identity, ApiError> {
        let tokens = self.tokens.lock().unwrap_or_else(PoisonError::into_inner);
        match tokens.get(token) {
            Some((identity, until)) if *until > Instant::now() => Ok(identity.clone()),
            Some(_) => Err(ApiError::Unauthenticated("the token has expired".into())),
            None => Err(ApiError::Unauthenticated("unknown token".into())),
        }
    }
}

/// The bearer token of a request (RFC 6750 §2.1).
pub(crate) fn bearer(headers: &HeaderMap) -> Result<&str, ApiError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| ApiError::Unauthenticated("missing Authorization: Bearer token".into()))?;
    match value.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(token.trim())
        }
        _ => Err(ApiError::Unauthenticated(
            "the Authorization header is not a Bearer token".into(),
        )),
    }
}

/// `n` random bytes from the OS CSPRNG as hex.
pub(crate) fn random_hex(n: usize) -> Result<String, ApiError> {
    let mut bytes = vec![0u8; n];
    getrandom::fill(&mut bytes).map_err(|e| ApiError::Unavailable {
        message: format!("no randomness: {e}"),
        retry_after_secs: 1,
    })?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Whether `s` is an E.164 number as CAMARA writes it (`+` and up to 15 digits).
pub(crate) fn is_phone_number(s: &str) -> bool {
    s.strip_prefix('+')
        .is_some_and(|d| (4..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()))
}
