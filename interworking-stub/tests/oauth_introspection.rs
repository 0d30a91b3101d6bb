//! Introspection mode against an RFC 7662 endpoint served by the test: client
//! credentials checked, answers by token, hits counted to prove the cache.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
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
use futures_util::{SinkExt, StreamExt};
use interworking_stub::auth::IntrospectionOptions;
use interworking_stub::{router, router_with_channels, ApiOptions, AuthMode, ChannelOptions};
use serde_json::{json, Value};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;
use tower::ServiceExt;

const REG: &str = "/webrtc-registration/v0.3/sessions";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The endpoint: `good`, `short` (exp in 2 s), `readonly` and `revoked` tokens; `broken`
/// makes it fail with 500; `revocable` is a channel user's token, active until
/// `revoked` is set, and `fresh` another token of the same number.
#[derive(Clone, Default)]
struct Endpoint {
    hits: Arc<AtomicUsize>,
    revoked: Arc<AtomicBool>,
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
        Some("revocable") if ep.revoked.load(Ordering::SeqCst) => json!({"active": false}),
        Some("revocable" | "fresh") => json!({"active": true, "exp": now() + 600,
                                "scope": "notification-channel:create notification-channel:read",
                                "phone_number": "+15550004"}),
        _ => json!({"active": false}),
    };
    Json(answer).into_response()
}

async fn start(cache_ttl: Duration) -> (Router, Endpoint) {
    let (opts, ep) = endpoint(cache_ttl).await;
    (router(opts), ep)
}

/// The introspection endpoint, served, and API options that use it.
async fn endpoint(cache_ttl: Duration) -> (ApiOptions, Endpoint) {
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
    let api = ApiOptions {
        draining,
        retry_after_secs: 30,
        dev_tokens: false,
        auth: AuthMode::Introspection(opts),
    };
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

/// The next frame that is not a ping or pong, at most 5 s; `pings` counts the pings.
async fn next_frame(ws: &mut Ws, pings: &mut usize) -> Message {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("a frame within 5 s")
            .expect("the socket is open")
            .unwrap();
        match msg {
            Message::Ping(_) => *pings += 1,
            Message::Pong(_) => {}
            other => return other,
        }
    }
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A revoked (or expired) token closes its WebSocket at the next ping with 1008; the
/// channel stays, so a fresh token of the same number reconnects to it.
#[tokio::test]
async fn a_revoked_token_closes_its_socket_and_the_channel_waits_for_a_fresh_one() {
    let (opts, ep) = endpoint(Duration::ZERO).await;
    let (link, _core) = common::FakeCore::start();
    let app = router_with_channels(
        opts,
        link,
        ChannelOptions {
            ping_interval: Duration::from_millis(50),
            ..ChannelOptions::default()
        },
    );
    let addr = common::serve(app.clone()).await.to_string();
    let (status, body) = common::call(
        &app,
        Method::POST,
        "/notificationchannel/v0.1/phone-1/channels",
        Some("revocable"),
        &[("host", &addr)],
        Some(json!({ "channelType": "WebSockets" })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let url = body["channelData"]["channelURL"]
        .as_str()
        .unwrap()
        .to_owned();
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("{url}?access_token=revocable"))
        .await
        .unwrap();

    // While the token is good the socket outlives several pings (each re-checks it).
    let hits = ep.hits();
    let mut pings = 0;
    while pings < 3 {
        let msg = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("pings keep coming")
            .expect("the socket is open")
            .unwrap();
        assert!(matches!(msg, Message::Ping(_)), "{msg:?}");
        pings += 1;
    }
    ws.send(Message::text(
        json!({"id": 1, "op": "GET /nowhere"}).to_string(),
    ))
    .await
    .unwrap();
    let Message::Text(reply) = next_frame(&mut ws, &mut pings).await else {
        panic!("a reply");
    };
    assert_eq!(
        serde_json::from_str::<Value>(reply.as_str()).unwrap()["status"],
        404
    );
    assert!(ep.hits() >= hits + 2, "the pings asked the endpoint again");

    ep.revoked.store(true, Ordering::SeqCst);
    let mut ignored = 0;
    let closed = tokio::time::timeout(Duration::from_secs(5), next_frame(&mut ws, &mut ignored));
    match closed.await.expect("closed within 5 s of the revocation") {
        Message::Close(Some(frame)) => assert_eq!(u16::from(frame.code), 1008),
        other => panic!("expected a 1008 close, got {other:?}"),
    }

    // The channel is still there for its grace period.
    let (mut again, _) = tokio_tungstenite::connect_async(format!("{url}?access_token=fresh"))
        .await
        .expect("the channel accepts a fresh token of the same number");
    again
        .send(Message::text(
            json!({"id": "x", "op": "GET /nowhere"}).to_string(),
        ))
        .await
        .unwrap();
    let Message::Text(reply) = next_frame(&mut again, &mut ignored).await else {
        panic!("a reply");
    };
    assert_eq!(
        serde_json::from_str::<Value>(reply.as_str()).unwrap()["id"],
        "x"
    );
}
