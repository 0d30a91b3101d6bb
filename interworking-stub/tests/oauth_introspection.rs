//! Introspection mode against an RFC 7662 endpoint served by the test: client
//! credentials checked, answers by token, hits counted to prove the cache.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use common::json_response;
use interworking_stub::auth::IntrospectionOptions;
use interworking_stub::{router, ApiOptions, AuthMode};
use serde_json::{json, Value};
use tokio::sync::watch;
use tower::ServiceExt;

const REG: &str = "/webrtc-registration/v0.3/sessions";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The endpoint: `good`, `short` (exp in 2 s), `readonly` and `revoked` tokens; `broken`
/// makes it fail with 500.
#[derive(Clone, Default)]
struct Endpoint {
    hits: Arc<AtomicUsize>,
}

async fn introspect(State(ep): State<Endpoint>, headers: HeaderMap, body: String) -> Response {
    ep.hits.fetch_add(1, Ordering::SeqCst);
    let basic = format!("Basic {}", STANDARD.encode("rtcgate:s3cret%2B"));
    if headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        != Some(&basic)
    {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let form: Vec<(&str, &str)> = body
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .collect();
    let token = form.iter().find(|(k, _)| *k == "token").map(|(_, v)| *v);
    let answer = match token {
        Some("good") => json!({"active": true, "client_id": "web", "exp": now() + 600,
                               "scope": "webrtc-registration:create", "phone_number": "+15550002"}),
        Some("short") => json!({"active": true, "exp": now() + 2,
                                "scope": "webrtc-registration:create", "phone_number": "tel:+15550003"}),
        Some("readonly") => json!({"active": true, "scope": "webrtc-registration:read",
                                   "phone_number": "+15550002"}),
        Some("broken") => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        _ => json!({"active": false}),
    };
    Json(answer).into_response()
}

async fn start(cache_ttl: Duration) -> (Router, Endpoint) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/introspect", listener.local_addr().unwrap());
    let ep = Endpoint::default();
    let app = Router::new()
        .route("/introspect", post(introspect))
        .with_state(ep.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    // `+` in the secret proves the RFC 6749 §2.3.1 form-encoding inside Basic.
    let mut opts = IntrospectionOptions::new(url, "rtcgate", "s3cret+");
    opts.cache_ttl = cache_ttl;
    opts.leeway = Duration::ZERO;
    let (_, draining) = watch::channel(false);
    let api = router(ApiOptions {
        draining,
        retry_after_secs: 30,
        dev_tokens: false,
        auth: AuthMode::Introspection(opts),
    });
    (api, ep)
}

impl Endpoint {
    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

async fn register(app: &Router, token: &str, device: &str) -> (StatusCode, Value) {
    let req = Request::builder()
        .method(Method::POST)
        .uri(REG)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::from(json!({ "deviceId": device }).to_string()))
        .unwrap();
    json_response(app.clone().oneshot(req).await.unwrap()).await
}

#[tokio::test]
async fn an_active_token_is_accepted_and_its_answer_cached() {
    let (app, ep) = start(Duration::from_secs(1)).await;
    let (status, body) = register(&app, "good", "d1").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["regInfo"]["phoneNumber"], "+15550002");
    assert_eq!(register(&app, "good", "d2").await.0, StatusCode::OK);
    assert_eq!(ep.hits(), 1, "the second request used the cache");

    // After cache_ttl the endpoint is asked again.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(register(&app, "good", "d3").await.0, StatusCode::OK);
    assert_eq!(ep.hits(), 2);
}

#[tokio::test]
async fn the_cache_never_outlives_exp() {
    let (app, ep) = start(Duration::from_secs(10)).await;
    let (status, body) = register(&app, "short", "d1").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["regInfo"]["phoneNumber"], "+15550003");
    // Cached at most until exp (≤ 2 s), shorter than cache_ttl (10 s): asked again.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let _ = register(&app, "short", "d2").await;
    assert_eq!(ep.hits(), 2);
}

#[tokio::test]
async fn an_inactive_token_is_401_and_that_is_cached_too() {
    let (app, ep) = start(Duration::from_secs(30)).await;
    for _ in 0..3 {
        let (status, body) = register(&app, "revoked", "d1").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert_eq!(body["code"], "UNAUTHENTICATED");
    }
    assert_eq!(ep.hits(), 1);
}

#[tokio::test]
async fn a_missing_scope_is_403_and_a_failing_endpoint_503_uncached() {
    let (app, ep) = start(Duration::from_secs(30)).await;
    let (status, body) = register(&app, "readonly", "d1").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["code"], "PERMISSION_DENIED");
    assert!(body["message"]
        .as_str()
        .unwrap()
        .contains("webrtc-registration:create"));

    for _ in 0..2 {
        let (status, body) = register(&app, "broken", "d1").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    }
    assert_eq!(ep.hits(), 3, "failures are not cached");
}
