//! The registration API and dev tokens through the real router: every route and error.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use interworking_stub::{router, ApiOptions};
use serde_json::{json, Value};
use tokio::sync::watch;
use tower::ServiceExt;

const REG: &str = "/webrtc-registration/v0.3/sessions";

fn app(dev_tokens: bool) -> Router {
    let (_, draining) = watch::channel(false);
    router(ApiOptions {
        draining,
        retry_after_secs: 30,
        dev_tokens,
        auth: Default::default(),
    })
}

async fn call(
    app: &Router,
    method: Method,
    uri: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let req = match body {
        Some(b) => req
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(b.to_string())),
        None => req.body(Body::empty()),
    }
    .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn token(app: &Router, number: &str) -> String {
    let (status, body) = call(
        app,
        Method::POST,
        "/dev/token",
        None,
        Some(json!({ "phoneNumber": number })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    body["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn dev_tokens_are_issued_for_e164_numbers_on_a_loopback_api_only() {
    let app = app(true);
    let a = token(&app, "+15550001").await;
    let b = token(&app, "+15550001").await;
    assert_eq!(a.len(), 64, "32 random bytes");
    assert_ne!(a, b);
    let (status, body) = call(
        &app,
        Method::POST,
        "/dev/token",
        None,
        Some(json!({ "phoneNumber": "5550001" })),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("INVALID_ARGUMENT"))
    );
    let closed = self::app(false);
    let (status, _) = call(
        &closed,
        Method::POST,
        "/dev/token",
        None,
        Some(json!({ "phoneNumber": "+15550001" })),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn requests_without_a_valid_bearer_token_get_401() {
    let app = app(true);
    let (status, body) = call(&app, Method::GET, REG, None, None).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("UNAUTHENTICATED"))
    );
    let (status, _) = call(&app, Method::GET, REG, Some("not-a-token"), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn register_read_refresh_list_and_delete() {
    let app = app(true);
    let alice = token(&app, "+15550001").await;
    let (status, created) = call(
        &app,
        Method::POST,
        REG,
        Some(&alice),
        Some(json!({ "deviceId": "phone-1" })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    assert_eq!(
        created["regInfo"],
        json!({ "phoneNumber": "+15550001", "regStatus": "Registered" })
    );
    let id = created["registrationId"].as_str().unwrap().to_owned();
    let expires = created["expiresAt"].as_str().unwrap().to_owned();
    assert!(
        expires.ends_with('Z') && expires.contains('T'),
        "RFC 3339: {expires}"
    );

    let (status, body) = call(
        &app,
        Method::POST,
        REG,
        Some(&alice),
        Some(json!({ "deviceId": "phone-1" })),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("ALREADY_EXISTS"))
    );

    let (status, got) = call(
        &app,
        Method::GET,
        &format!("{REG}/{id}"),
        Some(&alice),
        None,
    )
    .await;
    assert_eq!(
        (status, &got["registrationId"]),
        (StatusCode::OK, &json!(id))
    );

    let (status, refreshed) = call(
        &app,
        Method::PUT,
        &format!("{REG}/{id}"),
        Some(&alice),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(refreshed["expiresAt"].as_str().unwrap() >= expires.as_str());

    call(
        &app,
        Method::POST,
        REG,
        Some(&alice),
        Some(json!({ "deviceId": "laptop" })),
    )
    .await;
    let (_, listed) = call(
        &app,
        Method::GET,
        &format!("{REG}?deviceId=phone-1"),
        Some(&alice),
        None,
    )
    .await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    let (_, all) = call(&app, Method::GET, REG, Some(&alice), None).await;
    assert_eq!(all.as_array().unwrap().len(), 2);

    let (status, _) = call(
        &app,
        Method::DELETE,
        &format!("{REG}/{id}"),
        Some(&alice),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = call(
        &app,
        Method::GET,
        &format!("{REG}/{id}"),
        Some(&alice),
        None,
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("NOT_FOUND"))
    );
}

#[tokio::test]
async fn another_users_registration_is_forbidden() {
    let app = app(true);
    let alice = token(&app, "+15550001").await;
    let bob = token(&app, "+15550002").await;
    let (_, created) = call(
        &app,
        Method::POST,
        REG,
        Some(&alice),
        Some(json!({ "deviceId": "phone-1" })),
    )
    .await;
    let id = created["registrationId"].as_str().unwrap();
    for method in [Method::GET, Method::PUT, Method::DELETE] {
        let (status, body) = call(
            &app,
            method.clone(),
            &format!("{REG}/{id}"),
            Some(&bob),
            None,
        )
        .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::FORBIDDEN, Some("PERMISSION_DENIED")),
            "{method}"
        );
    }
    let (_, listed) = call(&app, Method::GET, REG, Some(&bob), None).await;
    assert_eq!(listed, json!([]), "bob sees only his own");
}

#[tokio::test]
async fn bad_bodies_are_invalid_arguments_and_huge_ones_413() {
    let app = app(true);
    let alice = token(&app, "+15550001").await;
    for body in [
        json!({}),
        json!({ "deviceId": "" }),
        json!({ "deviceId": "d", "registrationExpireTime": "tomorrow" }),
        json!({ "deviceId": "d", "registrationExpireTime": "2001-01-01T00:00:00Z" }),
    ] {
        let (status, got) = call(&app, Method::POST, REG, Some(&alice), Some(body.clone())).await;
        assert_eq!(
            (status, got["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("INVALID_ARGUMENT")),
            "{body}"
        );
    }
    let huge = json!({ "deviceId": "x".repeat(300 * 1024) });
    let (status, _) = call(&app, Method::POST, REG, Some(&alice), Some(huge)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn requests_are_counted_under_their_route_template_not_their_ids() {
    let app = app(true);
    let alice = token(&app, "+15550001").await;
    call(
        &app,
        Method::GET,
        &format!("{REG}/nonexistent-id"),
        Some(&alice),
        None,
    )
    .await;
    let families = prometheus::gather();
    let family = families
        .iter()
        .find(|f| f.name() == "rtcgate_api_requests_total")
        .unwrap();
    let routes: Vec<String> = family
        .get_metric()
        .iter()
        .flat_map(|m| {
            m.get_label()
                .iter()
                .filter(|l| l.name() == "route")
                .map(|l| l.value().to_owned())
        })
        .collect();
    assert!(
        routes.contains(&format!("{REG}/{{registration_id}}")),
        "{routes:?}"
    );
    assert!(
        !routes.iter().any(|r| r.contains("nonexistent")),
        "ids never become labels"
    );
}
