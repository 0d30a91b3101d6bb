//! Limits: request rate per bearer token and per source address (token buckets), and the
//! registration and call caps the routes enforce.
//!
//! ```text
//!  request ── source IP bucket ── token bucket ──► drain gate ──► routes
//!               │ empty               │ empty
//!               └──── 429 TOO_MANY_REQUESTS + Retry-After ◄──┘
//!  POST registration ── per user / per device caps ── 403 MAX_REGISTRATION_PER_{USER,DEVICE}
//!  POST call ── concurrent calls of the registration ── 429 QUOTA_EXCEEDED
//! ```
//!
//! The bucket ([`TokenBucket`]) is a pure state machine: it is handed `now` and never
//! reads the clock itself. The source address comes from axum's `ConnectInfo<SocketAddr>`
//! (the binary serves with `into_make_service_with_connect_info`); without it only the
//! token is limited.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::ApiError;

/// How many keys a limiter tracks before it forgets the idle (full) buckets.
const MAX_KEYS: usize = 65_536;

/// A token-bucket rate: `burst` requests at once, refilled at `per_second`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// Requests allowed back to back (the bucket's size).
    pub burst: u32,
    /// Requests per second the bucket refills by (may be fractional).
    pub per_second: f64,
}

/// The API's limits. Every cap of 0 means "no limit".
#[derive(Debug, Clone, PartialEq)]
pub struct LimitOptions {
    /// Registrations one phone number may hold at once (all devices).
    pub max_registrations_per_user: usize,
    /// Registrations one `deviceId` may hold at once (all numbers).
    pub max_registrations_per_device: usize,
    /// Calls placed through one registration that may be in progress at once.
    pub max_calls_per_registration: usize,
    /// Requests per bearer token; `None`: unlimited.
    pub per_token: Option<Rate>,
    /// Requests per source IP address; `None`: unlimited.
    pub per_address: Option<Rate>,
}

impl Default for LimitOptions {
    fn default() -> Self {
        LimitOptions {
            max_registrations_per_user: 10,
            max_registrations_per_device: 5,
            max_calls_per_registration: 4,
            per_token: Some(Rate {
                burst: 100,
                per_second: 20.0,
            }),
            per_address: Some(Rate {
                burst: 400,
                per_second: 100.0,
            }),
        }
    }
}

/// One token bucket (sans-IO: the caller passes the time).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TokenBucket {
    tokens: f64,
    at: Instant,
}

impl TokenBucket {
    /// A full bucket of `rate` at `now`.
    pub fn full(rate: &Rate, now: Instant) -> Self {
        TokenBucket {
            tokens: f64::from(rate.burst),
            at: now,
        }
    }

    fn refill(&mut self, rate: &Rate, now: Instant) {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate.per_second.max(0.0)).min(f64::from(rate.burst));
        self.at = self.at.max(now);
    }

    /// Takes one token at `now`; when the bucket is empty, how long until it holds one.
    pub fn take(&mut self, rate: &Rate, now: Instant) -> Result<(), Duration> {
        self.refill(rate, now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return Ok(());
        }
        let missing = 1.0 - self.tokens;
        let wait = if rate.per_second > 0.0 {
            Duration::try_from_secs_f64(missing / rate.per_second).unwrap_or(Duration::MAX)
        } else {
            Duration::MAX
        };
        Err(wait)
    }

    /// Whether the bucket is full again at `now` (it can be forgotten).
    fn is_full(&self, rate: &Rate, now: Instant) -> bool {
        let mut b = *self;
        b.refill(rate, now);
        b.tokens >= f64::from(rate.burst)
    }
}

/// Buckets by key, bounded to [`MAX_KEYS`].
#[derive(Debug)]
struct Buckets<K> {
    rate: Rate,
    map: Mutex<HashMap<K, TokenBucket>>,
}

impl<K: Hash + Eq> Buckets<K> {
    fn new(rate: Rate) -> Self {
        Buckets {
            rate,
            map: Mutex::new(HashMap::new()),
        }
    }

    fn take(&self, key: K, now: Instant) -> Result<(), Duration> {
        let rate = self.rate;
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= MAX_KEYS && !map.contains_key(&key) {
            map.retain(|_, b| !b.is_full(&rate, now));
            if map.len() >= MAX_KEYS {
                // Every tracked key is busy: a new key is not tracked rather than letting
                // the table grow without bound (the address limit still applies).
                return Ok(());
            }
        }
        map.entry(key)
            .or_insert_with(|| TokenBucket::full(&rate, now))
            .take(&rate, now)
    }
}

/// The per-token and per-address limiters of one router.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    tokens: Option<Buckets<String>>,
    addresses: Option<Buckets<IpAddr>>,
}

impl RateLimiter {
    pub(crate) fn new(opts: &LimitOptions) -> Arc<Self> {
        Arc::new(RateLimiter {
            tokens: opts.per_token.map(Buckets::new),
            addresses: opts.per_address.map(Buckets::new),
        })
    }
}

/// The bearer token of a request: the `Authorization` header, else the `access_token`
/// query parameter (the WebSocket upgrade).
fn token_of(req: &Request) -> Option<String> {
    if let Some(v) = req.headers().get(header::AUTHORIZATION) {
        return v.to_str().ok().map(str::to_owned);
    }
    req.uri()
        .query()?
        .split('&')
        .find_map(|kv| kv.strip_prefix("access_token="))
        .map(str::to_owned)
}

fn too_many(wait: Duration, what: &str) -> Response {
    // Retry-After is whole seconds (RFC 9110 §10.2.3): round up, at least 1.
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    ApiError::TooManyRequests {
        message: format!("too many requests from this {what}"),
        retry_after_secs: u32::try_from(secs.max(1)).unwrap_or(u32::MAX),
    }
    .into_response()
}

/// Middleware: one token from the source address's bucket, then from the token's.
pub(crate) async fn rate_limit(
    State(limiter): State<Arc<RateLimiter>>,
    req: Request,
    next: Next,
) -> Response {
    let now = Instant::now();
    if let (Some(buckets), Some(ConnectInfo(addr))) = (
        &limiter.addresses,
        req.extensions().get::<ConnectInfo<SocketAddr>>(),
    ) {
        if let Err(wait) = buckets.take(addr.ip(), now) {
            return too_many(wait, "address");
        }
    }
    if let (Some(buckets), Some(token)) = (&limiter.tokens, token_of(&req)) {
        if let Err(wait) = buckets.take(token, now) {
            return too_many(wait, "token");
        }
    }
    next.run(req).await
}

/// The registration caps: `of_user` and `of_device` registrations exist already.
pub(crate) fn check_registrations(
    opts: &LimitOptions,
    of_user: usize,
    of_device: usize,
) -> Result<(), ApiError> {
    let cap = |max: usize, n: usize| max != 0 && n >= max;
    if cap(opts.max_registrations_per_user, of_user) {
        return Err(ApiError::MaxRegistrationPerUser(format!(
            "this user already holds {} registrations, the most allowed",
            opts.max_registrations_per_user
        )));
    }
    if cap(opts.max_registrations_per_device, of_device) {
        return Err(ApiError::MaxRegistrationPerDevice(format!(
            "this device already holds {} registrations, the most allowed",
            opts.max_registrations_per_device
        )));
    }
    Ok(())
}

/// The call cap: `active` calls of the registration are in progress.
pub(crate) fn check_calls(max: usize, active: usize) -> Result<(), ApiError> {
    if max != 0 && active >= max {
        return Err(ApiError::QuotaExceeded(format!(
            "at most {max} calls may be in progress per registration"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: Rate = Rate {
        burst: 3,
        per_second: 2.0,
    };

    #[test]
    fn a_bucket_allows_its_burst_then_refills_at_its_rate() {
        let t0 = Instant::now();
        let mut b = TokenBucket::full(&RATE, t0);
        for _ in 0..3 {
            assert_eq!(b.take(&RATE, t0), Ok(()));
        }
        assert_eq!(b.take(&RATE, t0), Err(Duration::from_millis(500)));
        // Half a token after 250 ms: still 250 ms to wait.
        let t1 = t0 + Duration::from_millis(250);
        assert_eq!(b.take(&RATE, t1), Err(Duration::from_millis(250)));
        let t2 = t0 + Duration::from_millis(500);
        assert_eq!(b.take(&RATE, t2), Ok(()));
        // Never more than the burst, however long it rested.
        let t3 = t2 + Duration::from_secs(3600);
        for _ in 0..3 {
            assert_eq!(b.take(&RATE, t3), Ok(()));
        }
        assert!(b.take(&RATE, t3).is_err());
    }

    #[test]
    fn a_zero_rate_never_refills() {
        let rate = Rate {
            burst: 1,
            per_second: 0.0,
        };
        let t0 = Instant::now();
        let mut b = TokenBucket::full(&rate, t0);
        assert_eq!(b.take(&rate, t0), Ok(()));
        assert_eq!(
            b.take(&rate, t0 + Duration::from_secs(60)),
            Err(Duration::MAX)
        );
    }

    #[test]
    fn keys_have_their_own_buckets() {
        let buckets = Buckets::new(Rate {
            burst: 1,
            per_second: 1.0,
        });
        let t0 = Instant::now();
        assert!(buckets.take("a", t0).is_ok());
        assert!(buckets.take("a", t0).is_err());
        assert!(buckets.take("b", t0).is_ok());
    }

    #[test]
    fn caps_of_zero_are_off() {
        let opts = LimitOptions {
            max_registrations_per_user: 0,
            max_registrations_per_device: 0,
            ..LimitOptions::default()
        };
        assert!(check_registrations(&opts, 1000, 1000).is_ok());
        assert!(check_calls(0, 1000).is_ok());
        assert!(check_calls(2, 1).is_ok());
        assert!(check_calls(2, 2).is_err());
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        let r = too_many(Duration::from_millis(1500), "token");
        assert_eq!(r.headers()[header::RETRY_AFTER], "2");
        let r = too_many(Duration::from_millis(10), "token");
        assert_eq!(r.headers()[header::RETRY_AFTER], "1");
    }
}
