//! Cross-origin use (the Fetch standard's CORS protocol) and the `Origin` check of the
//! WebSocket upgrade, against one list of allowed origins.
//!
//! ```text
//!  no Origin (native client) ───────────────────────────────► routes (no CORS headers)
//!  OPTIONS + Access-Control-Request-Method, origin allowed ──► 204 + Allow-* headers
//!                                           origin refused ──► 403, no CORS headers
//!  Upgrade: websocket, origin refused ───────────────────────► 403
//!  any other request ──► routes ──► + Allow-Origin / Allow-Credentials when allowed
//! ```
//!
//! An allowed origin is an exact origin (`https://app.example.net`), an origin with a port
//! wildcard (`http://localhost:*`: any port, or none), or, with
//! [`CorsOptions::allow_same_origin`], the API's own origin (an `Origin` whose host and
//! port are the request's `Host`). `*` is never answered: credentials are allowed, so
//! `Access-Control-Allow-Origin` repeats the request's origin.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::ApiError;

/// The methods the API's routes use.
const ALLOW_METHODS: &str = "GET, POST, PUT, DELETE, OPTIONS";
/// The request headers a browser application may send.
const ALLOW_HEADERS: &str = "authorization, content-type, registrationId, x-correlator";
/// The response headers a browser application may read beyond the safelisted ones.
const EXPOSE_HEADERS: &str = "x-correlator, retry-after";

/// Cross-origin settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorsOptions {
    /// Allowed origins: `scheme://host[:port]`, or `scheme://host:*` for any port.
    pub allowed_origins: Vec<String>,
    /// Also allow the API's own origin (the `Origin` names the request's `Host`).
    pub allow_same_origin: bool,
    /// How long a browser may cache a preflight answer (`Access-Control-Max-Age`).
    pub max_age_secs: u32,
}

impl Default for CorsOptions {
    /// The API's own origin, `http://localhost:*` and `http://127.0.0.1:*`.
    fn default() -> Self {
        CorsOptions {
            allowed_origins: vec!["http://localhost:*".into(), "http://127.0.0.1:*".into()],
            allow_same_origin: true,
            max_age_secs: 600,
        }
    }
}

/// The port part of an origin pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Port {
    /// `:*`: any port, or none.
    Any,
    /// Exactly this port (`None`: no port, the scheme's default).
    Exact(Option<u16>),
}

/// One parsed entry of [`CorsOptions::allowed_origins`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginPattern {
    scheme: String,
    host: String,
    port: Port,
}

/// `scheme://host[:port]` split into its parts (lowercase scheme and host); the port is
/// the text after the last `:` outside IPv6 brackets.
fn split_origin(s: &str) -> Option<(String, String, Option<&str>)> {
    let (scheme, rest) = s.split_once("://")?;
    let valid_scheme = !scheme.is_empty()
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b));
    if !valid_scheme || rest.is_empty() || rest.contains(['/', '?', '#', '@']) {
        return None;
    }
    let port_at = match rest.rfind(']') {
        Some(close) => rest[close..].find(':').map(|i| close + i),
        None => rest.rfind(':'),
    };
    let (host, port) = match port_at {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    };
    let valid_host = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-[]:".contains(&b));
    valid_host.then(|| (scheme.to_ascii_lowercase(), host.to_ascii_lowercase(), port))
}

impl OriginPattern {
    /// Parses `scheme://host[:port]` or `scheme://host:*`; the binary checks its
    /// configured list with this at start-up.
    pub fn parse(s: &str) -> Result<Self, String> {
        let bad = || format!("{s:?} is not an origin (scheme://host[:port] or scheme://host:*)");
        let (scheme, host, port) = split_origin(s).ok_or_else(bad)?;
        let port = match port {
            None => Port::Exact(None),
            Some("*") => Port::Any,
            Some(p) => Port::Exact(Some(p.parse().map_err(|_| bad())?)),
        };
        Ok(OriginPattern { scheme, host, port })
    }

    /// Whether the `Origin` header value `origin` matches.
    fn matches(&self, origin: &str) -> bool {
        let Some((scheme, host, port)) = split_origin(origin) else {
            return false;
        };
        let port = match port.map(str::parse::<u16>) {
            None => None,
            Some(Ok(p)) => Some(p),
            Some(Err(_)) => return false,
        };
        scheme == self.scheme
            && host == self.host
            && match self.port {
                Port::Any => true,
                Port::Exact(p) => p == port,
            }
    }
}

/// The compiled CORS policy of one router.
#[derive(Debug)]
pub(crate) struct Cors {
    patterns: Vec<OriginPattern>,
    same_origin: bool,
    max_age: HeaderValue,
}

impl Cors {
    /// Compiles `opts`; entries that do not parse are logged and ignored (the binary
    /// refuses them earlier, with [`OriginPattern::parse`]).
    pub(crate) fn new(opts: &CorsOptions) -> Arc<Self> {
        let patterns = opts
            .allowed_origins
            .iter()
            .filter_map(|s| match OriginPattern::parse(s) {
                Ok(p) => Some(p),
                Err(e) => {
                    tracing::warn!("cors: {e}: ignored");
                    None
                }
            })
            .collect();
        Arc::new(Cors {
            patterns,
            same_origin: opts.allow_same_origin,
            max_age: HeaderValue::from(opts.max_age_secs),
        })
    }

    /// Whether the request's `origin` may use the API; `host` is the authority the request
    /// was sent to.
    fn allows(&self, origin: &str, host: Option<&str>) -> bool {
        if self.patterns.iter().any(|p| p.matches(origin)) {
            return true;
        }
        let own = split_origin(origin)
            .zip(host)
            .is_some_and(|((_, h, p), host)| {
                let authority = match p {
                    Some(p) => format!("{h}:{p}"),
                    None => h,
                };
                authority.eq_ignore_ascii_case(host)
            });
        self.same_origin && own
    }
}

fn is_websocket_upgrade(headers: &HeaderMap) -> bool {
    headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

fn refused(what: &str) -> Response {
    ApiError::PermissionDenied(format!("{what} from this origin is not allowed")).into_response()
}

/// Middleware: answers preflights, refuses cross-origin WebSocket upgrades from origins
/// not on the list, and marks the responses of allowed origins.
pub(crate) async fn cors(State(cors): State<Arc<Cors>>, req: Request, next: Next) -> Response {
    let Some(origin) = req.headers().get(header::ORIGIN).cloned() else {
        // Not a browser (or a same-origin GET): nothing to decide.
        return next.run(req).await;
    };
    // HTTP/1.1 names the authority in `Host`, HTTP/2 in `:authority` (the URI's).
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()));
    let allowed = origin.to_str().is_ok_and(|o| cors.allows(o, host));
    let preflight = req.method() == Method::OPTIONS
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    let mut response = if preflight {
        if !allowed {
            return with_vary(refused("cross-origin use"));
        }
        let mut r = StatusCode::NO_CONTENT.into_response();
        let h = r.headers_mut();
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static(ALLOW_METHODS),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static(ALLOW_HEADERS),
        );
        h.insert(header::ACCESS_CONTROL_MAX_AGE, cors.max_age.clone());
        r
    } else if !allowed && is_websocket_upgrade(req.headers()) {
        // RFC 6455 §10.2: a server that serves browsers checks Origin on the handshake.
        return with_vary(refused("a WebSocket"));
    } else {
        next.run(req).await
    };
    if allowed {
        let h = response.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        h.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
        if !preflight {
            h.insert(
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static(EXPOSE_HEADERS),
            );
        }
    }
    with_vary(response)
}

/// The answer depends on `Origin` (Fetch §3.2.5: caches must key on it).
fn with_vary(mut r: Response) -> Response {
    r.headers_mut()
        .append(header::VARY, HeaderValue::from_static("Origin"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_parse_exact_origins_and_port_wildcards() {
        let p = OriginPattern::parse("http://localhost:*").unwrap_or_else(|e| panic!("{e}"));
        assert!(p.matches("http://localhost:5173"));
        assert!(p.matches("http://localhost"));
        assert!(!p.matches("https://localhost:5173"));
        assert!(!p.matches("http://localhost.evil.net:5173"));
        assert!(!p.matches("http://localhost:99999"));
        let p = OriginPattern::parse("https://App.Example.net").unwrap_or_else(|e| panic!("{e}"));
        assert!(p.matches("https://app.example.net"));
        assert!(!p.matches("https://app.example.net:8443"));
        let p = OriginPattern::parse("http://[::1]:*").unwrap_or_else(|e| panic!("{e}"));
        assert!(p.matches("http://[::1]:3000"));
        for bad in [
            "localhost",
            "http://",
            "http://a/b",
            "http://a:x",
            "*",
            "http://u@a",
        ] {
            assert!(OriginPattern::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_same_origin_is_the_request_host() {
        let cors = Cors::new(&CorsOptions {
            allowed_origins: vec![],
            allow_same_origin: true,
            max_age_secs: 1,
        });
        let host = Some("api.example.net:8080");
        assert!(cors.allows("https://api.example.net:8080", host));
        assert!(!cors.allows("https://api.example.net", host));
        assert!(!cors.allows("null", host));
        assert!(!cors.allows("https://api.example.net:8080", None));
    }
}
