//! Per-operation CAMARA scopes with dev tokens: every scope by default, only those asked
//! for otherwise, 403 naming the missing one (REST and the WebSocket upgrade).

#![allow(clippy::unwrap_used)] // test code

mod common;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use common::json_response;
use interworking_stub::{router, ApiOptions, AuthMode};
use serde_json::{json, Value};
use tokio::sync::watch;
use tower::ServiceExt;

const REG: &str = "/webrtc-registration/v0.3/sessions";

fn api() -> Router {
    let (_, draining) = watch::channel(false);
    router(ApiOptions {
        draining,
        retry_after_secs: 30,
        dev_tokens: true,
        auth: AuthMode::Dev,
    })
}

async fn send(
    app: &Router,
    method: Method,
    uri: &str,
    token: &str,
    body: Value,
) -> (StatusCode, Value) {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::from(body.to_string()))
        .unwrap();
    json_response(app.clone().oneshot(req).await.unwrap()).await
}

async fn token(app: &Router, scope: Option<&str>) -> String {
    let mut body = json!({"phoneNumber": "+15550001"});
    if let Some(s) = scope {
        body["scope"] = json!(s);
    }
    let (status, answer) = send(app, Method::POST, "/dev/token", "-", body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer["access_token"].as_str().unwrap().to_owned()
}

fn assert_denied(got: &(StatusCode, Value), scope: &str) {
    assert_eq!(got.0, StatusCode::FORBIDDEN, "{}", got.1);
    assert_eq!(got.1["code"], "PERMISSION_DENIED");
    let message = got.1["message"].as_str().unwrap();
    assert!(message.contains(scope), "{message} should name {scope}");
}

#[tokio::test]
async fn dev_tokens_carry_every_scope_unless_asked() {
    let app = api();
    let all = token(&app, None).await;
    let created = send(&app, Method::POST, REG, &all, json!({"deviceId": "d1"})).await;
    assert_eq!(created.0, StatusCode::OK, "{}", created.1);
    let id = created.1["registrationId"].as_str().unwrap().to_owned();

    let read_only = token(&app, Some("webrtc-registration:read")).await;
    let listed = send(&app, Method::GET, REG, &read_only, Value::Null).await;
    assert_eq!(listed.0, StatusCode::OK);
    let create = send(
        &app,
        Method::POST,
        REG,
        &read_only,
        json!({"deviceId": "d2"}),
    )
    .await;
    assert_denied(&create, "webrtc-registration:create");
    let one = format!("{REG}/{id}");
    assert_denied(
        &send(&app, Method::PUT, &one, &read_only, Value::Null).await,
        "webrtc-registration:update",
    );
    assert_denied(
        &send(&app, Method::DELETE, &one, &read_only, Value::Null).await,
        "webrtc-registration:delete",
    );
    let subs = "/webrtc-events/v0.2/subscriptions";
    assert_denied(
        &send(&app, Method::GET, subs, &read_only, Value::Null).await,
        "webrtc-events:read",
    );
}

#[tokio::test]
async fn channel_operations_and_the_upgrade_need_their_scopes() {
    let app = api();
    let none = token(&app, Some("webrtc-registration:read")).await;
    let channels = "/notificationchannel/v0.1/dev-1/channels";
    let create = send(
        &app,
        Method::POST,
        channels,
        &none,
        json!({"channelType": "WebSockets"}),
    )
    .await;
    assert_denied(&create, "notification-channel:create");

    // The upgrade's token from the query is checked for its scope before the channel.
    let upgrade = Request::builder()
        .uri(format!("{channels}/some-channel?access_token={none}"))
        .header(header::CONNECTION, "upgrade")
        .header(header::UPGRADE, "websocket")
        .header(header::SEC_WEBSOCKET_VERSION, "13")
        .header(header::SEC_WEBSOCKET_KEY, "dGhlIHNhbXBsZSBub25jZQ==")
        .body(Body::empty())
        .unwrap();
    let response = app.clone().oneshot(upgrade).await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    let body: Value = serde_json::from_slice(&bytes).unwrap();
    assert!(body["message"]
        .as_str()
        .unwrap()
        .contains("notification-channel:read"));

    let calls = "/webrtc-call-handling/v0.3/sessions/x";
    assert_denied(
        &send(&app, Method::GET, calls, &none, Value::Null).await,
        "webrtc-call-handling:read",
    );
}
