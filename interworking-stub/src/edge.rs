//! The API's edge: the layers every request passes before the drain gate and the routes,
//! and their settings.
//!
//! ```text
//!  count_request ─► cors ─► x-correlator ─► rate limit ─► drain gate ─► body limit ─► routes
//!  (metrics)        (cors.rs) (correlator.rs) (limits.rs)
//! ```
//!
//! CORS is outermost so that every answer a browser application gets (a bad correlator's
//! 400, a 429, a 503) carries its `Access-Control-Allow-Origin` and can be read; the
//! correlator comes next so that refusals of the rate limit and the drain gate echo it.

use axum::middleware;
use axum::Router;

use crate::cors::{Cors, CorsOptions};
use crate::limits::{LimitOptions, RateLimiter};

/// Cross-origin and limit settings (see [`crate::router_with_edge`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EdgeOptions {
    /// Allowed origins (CORS and the WebSocket upgrade's `Origin` check).
    pub cors: CorsOptions,
    /// Rate limits and registration and call caps.
    pub limits: LimitOptions,
}

/// Wraps `app` (routes, drain gate) in the edge layers.
pub(crate) fn wrap(app: Router, opts: &EdgeOptions) -> Router {
    app.layer(middleware::from_fn_with_state(
        RateLimiter::new(&opts.limits),
        crate::limits::rate_limit,
    ))
    .layer(middleware::from_fn(crate::correlator::echo))
    .layer(middleware::from_fn_with_state(
        Cors::new(&opts.cors),
        crate::cors::cors,
    ))
}
