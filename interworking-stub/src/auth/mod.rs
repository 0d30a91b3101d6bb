//! Bearer tokens (RFC 6750) and the three ways rtcgate checks them.
//!
//! ```text
//!  Authorization: Bearer … ──► identity(state, headers, scope)
//!  ?access_token=… (WS)   ──► authorize(state, token, scope)
//!                                  │ Authenticator::authenticate(token)
//!          ┌───────────────────────┼───────────────────────────┐
//!      DevTokens              JwtAuthenticator          Introspector
//!   (POST /dev/token,     (JWKS via OpenID discovery,  (RFC 7662 POST with
//!    loopback only)        RS256/ES256, iss/aud/exp)    client credentials)
//!                                  │
//!                  Identity {phone_number, scopes} ──► scope check (403)
//! ```
//!
//! [`AuthMode`] (in [`crate::ApiOptions`]) picks the mode. Every route names the CAMARA
//! scope of its operation ([`scope`]); a token without it gets `403 PERMISSION_DENIED`
//! naming the scope. Missing, unknown, expired or foreign tokens get `401
//! UNAUTHENTICATED`.

mod claims;
pub mod introspection;
pub mod jwt;
pub mod scope;

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::http::{header, HeaderMap};

use crate::{ApiError, ApiState};

pub use introspection::{IntrospectionOptions, Introspector};
pub use jwt::{JwtAuthenticator, JwtOptions};

/// Who a request acts for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The phone number (`+…`) the token stands for.
    pub phone_number: String,
    /// Granted scopes.
    pub scopes: Vec<String>,
}

/// What [`Authenticator::authenticate`] returns.
pub type AuthFuture<'a> = Pin<Box<dyn Future<Output = Result<Identity, ApiError>> + Send + 'a>>;

/// Turns a bearer token into an [`Identity`].
pub trait Authenticator: Send + Sync {
    /// The identity of a token, or why it is refused: `Unauthenticated` for a token that
    /// is not good, `Unavailable` when the identity provider cannot be reached.
    fn authenticate<'a>(&'a self, token: &'a str) -> AuthFuture<'a>;
}

/// How the API checks bearer tokens; the binary maps its `[api.auth]` table onto this.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub enum AuthMode {
    /// Tokens rtcgate issues itself at `POST /dev/token` (only with
    /// [`crate::ApiOptions::dev_tokens`], i.e. on a loopback API).
    #[default]
    Dev,
    /// JWT access tokens (RFC 9068) signed by the operator's identity provider.
    Jwt(JwtOptions),
    /// Opaque tokens checked at an RFC 7662 introspection endpoint.
    Introspection(IntrospectionOptions),
}

/// The authenticator of `mode`; dev mode uses `dev`, the store `POST /dev/token` fills.
pub(crate) fn authenticator(mode: &AuthMode, dev: Arc<DevTokens>) -> Arc<dyn Authenticator> {
    match mode {
        AuthMode::Dev => dev,
        AuthMode::Jwt(opts) => Arc::new(JwtAuthenticator::new(opts.clone())),
        AuthMode::Introspection(opts) => Arc::new(Introspector::new(opts.clone())),
    }
}

/// The caller of a request that needs `scope`, from its `Authorization` header.
pub(crate) async fn identity(
    state: &ApiState,
    headers: &HeaderMap,
    scope: &str,
) -> Result<Identity, ApiError> {
    authorize(state, bearer(headers)?, scope).await
}

/// The identity of `token` if it grants `scope`: 401 when the token is not good, 403
/// `PERMISSION_DENIED` naming the scope when it lacks it.
pub(crate) async fn authorize(
    state: &ApiState,
    token: &str,
    scope: &str,
) -> Result<Identity, ApiError> {
    let who = state.auth.authenticate(token).await?;
    if who.scopes.iter().any(|s| s == scope) {
        Ok(who)
    } else {
        Err(ApiError::PermissionDenied(format!(
            "the access token lacks the scope {scope}"
        )))
    }
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

    fn check(&self, token: &str) -> Result<Identity, ApiError> {
        let tokens = self.tokens.lock().unwrap_or_else(PoisonError::into_inner);
        match tokens.get(token) {
            Some((identity, until)) if *until > Instant::now() => Ok(identity.clone()),
            Some(_) => Err(ApiError::Unauthenticated("the token has expired".into())),
            None => Err(ApiError::Unauthenticated("unknown token".into())),
        }
    }
}

impl Authenticator for DevTokens {
    fn authenticate<'a>(&'a self, token: &'a str) -> AuthFuture<'a> {
        let result = self.check(token);
        Box::pin(std::future::ready(result))
    }
}

/// The scopes of a `POST /dev/token` request: those asked for, else every scope.
pub(crate) fn dev_scopes(asked: Option<&str>) -> Vec<String> {
    match asked {
        Some(s) => s.split_whitespace().map(str::to_owned).collect(),
        None => scope::ALL.iter().map(|s| (*s).to_owned()).collect(),
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

/// The largest answer read from an identity provider (discovery, JWKS, introspection).
const MAX_IDP_ANSWER: usize = 1 << 20;

/// The body of an identity provider's answer, refused past [`MAX_IDP_ANSWER`] bytes
/// without reading the rest.
pub(crate) async fn read_answer(mut response: reqwest::Response) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
        if body.len() + chunk.len() > MAX_IDP_ANSWER {
            return Err(format!("answer over {MAX_IDP_ANSWER} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
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

/// The issue's default phone-number claim (OpenID Connect Core §5.1).
pub const DEFAULT_PHONE_CLAIM: &str = "phone_number";
