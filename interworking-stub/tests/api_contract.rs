//! The API contract around the routes: `x-correlator`, CORS and the WebSocket `Origin`
//! check, rate limits and caps, `GET /openapi.json`.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod common;

use std::collections::BTreeSet;
use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use common::*;
use interworking_stub::cors::CorsOptions;
use interworking_stub::limits::{LimitOptions, Rate};
use interworking_stub::{router_with_edge, ChannelOptions, EdgeOptions};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Error as WsError;
use tower::ServiceExt;

/// A router without call handling, with `edge`.
fn app_with(edge: EdgeOptions) -> Router {
    router_with_edge(options(), None, ChannelOptions::default(), edge)
}

/// No limits in the way of the test.
fn unlimited() -> LimitOptions {
    LimitOptions {
        per_token: None,
        per_address: None,
        ..LimitOptions::default()
    }
}

fn cors_app() -> Router {
    app_with(EdgeOptions {
        cors: CorsOptions {
            allowed_origins: vec![
                "https://app.example.net".into(),
                "http://localhost:*".into(),
            ],
            ..CorsOptions::default()
        },
        limits: unlimited(),
    })
}

/// One raw request: status, headers, JSON body (`Null` when empty).
async fn send(app: &Router, req: Request<Body>) -> (StatusCode, HeaderMap, Value) {
    let resp = app.clone().oneshot(req).await.unwrap();
    let (parts, body) = resp.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (parts.status, parts.headers, json)
}

fn get(uri: &str, headers: &[(&str, &str)]) -> Request<Body> {
    let mut req = Request::builder().uri(uri);
    for (n, v) in headers {
        req = req.header(*n, *v);
    }
    req.body(Body::empty()).unwrap()
}

// ---- x-correlator ---------------------------------------------------------------------

#[tokio::test]
async fn x_correlator_is_echoed_on_answers_and_errors() {
    let app = app_with(EdgeOptions {
        limits: unlimited(),
        ..EdgeOptions::default()
    });
    let id = "b4333c46-49c0-4f62-80d7-f0ef930f1c46";
    for (uri, status) in [
        ("/openapi.json", StatusCode::OK),
        ("/no/such/route", StatusCode::NOT_FOUND),
        (REG, StatusCode::UNAUTHORIZED),
    ] {
        let (s, h, _) = send(&app, get(uri, &[("x-correlator", id)])).await;
        assert_eq!(s, status, "{uri}");
        assert_eq!(h["x-correlator"], id, "{uri}");
    }
    // Without one, none is invented.
    let (_, h, _) = send(&app, get("/openapi.json", &[])).await;
    assert!(h.get("x-correlator").is_none());
    // A good one on a POST that fails validation, and on a success.
    let t = token(&app, "+15550001").await;
    let req = Request::builder()
        .method(Method::POST)
        .uri(REG)
        .header(header::AUTHORIZATION, format!("Bearer {t}"))
        .header(header::CONTENT_TYPE, "application/json")
        .header("x-correlator", "c-1")
        .body(Body::from(json!({ "deviceId": "" }).to_string()))
        .unwrap();
    let (s, h, body) = send(&app, req).await;
    assert_eq!(
        (s, code(&body)),
        (StatusCode::BAD_REQUEST, Some("INVALID_ARGUMENT"))
    );
    assert_eq!(h["x-correlator"], "c-1");
}

#[tokio::test]
async fn a_bad_x_correlator_is_refused_with_400() {
    let app = app_with(EdgeOptions::default());
    let long = "x".repeat(257);
    let (s, h, body) = send(&app, get("/openapi.json", &[("x-correlator", &long)])).await;
    assert_eq!(
        (s, code(&body)),
        (StatusCode::BAD_REQUEST, Some("INVALID_ARGUMENT"))
    );
    assert!(h.get("x-correlator").is_none(), "not echoed");
    let ok = "x".repeat(256);
    let (s, h, _) = send(&app, get("/openapi.json", &[("x-correlator", &ok)])).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(h["x-correlator"], ok.as_str());
    // Not printable ASCII: a tab, and UTF-8 bytes.
    let req = Request::builder()
        .uri("/openapi.json")
        .header(
            "x-correlator",
            axum::http::HeaderValue::from_bytes(b"a\tb").unwrap(),
        )
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&app, req).await.0, StatusCode::BAD_REQUEST);
    let req = Request::builder()
        .uri("/openapi.json")
        .header(
            "x-correlator",
            axum::http::HeaderValue::from_bytes("caf\u{e9}".as_bytes()).unwrap(),
        )
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&app, req).await.0, StatusCode::BAD_REQUEST);
}

// ---- CORS -----------------------------------------------------------------------------

fn preflight(origin: &str) -> Request<Body> {
    Request::builder()
        .method(Method::OPTIONS)
        .uri(REG)
        .header(header::ORIGIN, origin)
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
        .header(
            header::ACCESS_CONTROL_REQUEST_HEADERS,
            "authorization, content-type, x-correlator",
        )
        .body(Body::empty())
        .unwrap()
}

#[tokio::test]
async fn preflights_from_allowed_origins_are_answered_204() {
    let app = cors_app();
    for origin in [
        "https://app.example.net",
        "http://localhost:5173",
        "http://localhost",
    ] {
        let (s, h, _) = send(&app, preflight(origin)).await;
        assert_eq!(s, StatusCode::NO_CONTENT, "{origin}");
        assert_eq!(h[header::ACCESS_CONTROL_ALLOW_ORIGIN], origin);
        assert_eq!(h[header::ACCESS_CONTROL_ALLOW_CREDENTIALS], "true");
        let methods = h[header::ACCESS_CONTROL_ALLOW_METHODS].to_str().unwrap();
        for m in ["GET", "POST", "PUT", "DELETE"] {
            assert!(methods.contains(m), "{methods}");
        }
        let allowed = h[header::ACCESS_CONTROL_ALLOW_HEADERS]
            .to_str()
            .unwrap()
            .to_ascii_lowercase();
        for name in [
            "authorization",
            "content-type",
            "registrationid",
            "x-correlator",
        ] {
            assert!(allowed.contains(name), "{allowed}");
        }
        assert_eq!(h[header::ACCESS_CONTROL_MAX_AGE], "600");
        assert_eq!(h[header::VARY], "Origin");
    }
}

#[tokio::test]
async fn preflights_from_other_origins_get_403_and_no_cors_headers() {
    let app = cors_app();
    for origin in [
        "https://evil.example.net",
        "https://app.example.net:8443",
        "http://app.example.net",
        "https://localhost:5173",
        "null",
    ] {
        let (s, h, body) = send(&app, preflight(origin)).await;
        assert_eq!(
            (s, code(&body)),
            (StatusCode::FORBIDDEN, Some("PERMISSION_DENIED")),
            "{origin}"
        );
        assert!(h.get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
        assert!(h.get(header::ACCESS_CONTROL_ALLOW_CREDENTIALS).is_none());
        assert!(h.get(header::ACCESS_CONTROL_ALLOW_METHODS).is_none());
    }
}

#[tokio::test]
async fn simple_responses_carry_allow_origin_for_allowed_origins_only() {
    let app = cors_app();
    let (s, h, _) = send(
        &app,
        get("/openapi.json", &[("origin", "https://app.example.net")]),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        h[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "https://app.example.net"
    );
    assert_eq!(h[header::ACCESS_CONTROL_ALLOW_CREDENTIALS], "true");
    assert!(h[header::ACCESS_CONTROL_EXPOSE_HEADERS]
        .to_str()
        .unwrap()
        .contains("x-correlator"));
    assert_eq!(h[header::VARY], "Origin");
    // Errors too, so the application can read the ErrorInfo.
    let (s, h, _) = send(&app, get(REG, &[("origin", "http://localhost:3000")])).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(
        h[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "http://localhost:3000"
    );
    // Another origin: served, but without CORS headers (the browser withholds it).
    let (s, h, _) = send(
        &app,
        get("/openapi.json", &[("origin", "https://evil.example.net")]),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert!(h.get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
    // No Origin: a native client; no CORS headers.
    let (_, h, _) = send(&app, get("/openapi.json", &[])).await;
    assert!(h.get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
}

#[tokio::test]
async fn the_default_allows_the_apis_own_origin_and_loopback_ports() {
    let app = app_with(EdgeOptions::default());
    let host = [("host", "api.example.net:8080")];
    for origin in [
        "https://api.example.net:8080",
        "http://localhost:5173",
        "http://127.0.0.1:8081",
    ] {
        let mut req = preflight(origin);
        req.headers_mut()
            .insert(header::HOST, host[0].1.parse().unwrap());
        let (s, h, _) = send(&app, req).await;
        assert_eq!(s, StatusCode::NO_CONTENT, "{origin}");
        assert_eq!(h[header::ACCESS_CONTROL_ALLOW_ORIGIN], origin);
    }
    for origin in [
        "https://api.example.net",
        "http://127.0.0.2:8081",
        "https://app.example.net",
    ] {
        let mut req = preflight(origin);
        req.headers_mut()
            .insert(header::HOST, host[0].1.parse().unwrap());
        assert_eq!(send(&app, req).await.0, StatusCode::FORBIDDEN, "{origin}");
    }
}

/// A channel for a fresh token on the served `app`: (token, channelURL).
async fn channel(app: &Router) -> (String, String) {
    let t = token(app, "+15550001").await;
    let (s, body) = call(
        app,
        Method::POST,
        "/notificationchannel/v0.1/phone-1/channels",
        Some(&t),
        &[],
        Some(json!({ "channelType": "WebSockets" })),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    let url = body["channelData"]["channelURL"]
        .as_str()
        .unwrap()
        .to_owned();
    (t, url)
}

/// Upgrades to `url` with `origin`: the HTTP status of the handshake's answer.
async fn upgrade(url: &str, token: &str, origin: Option<&str>) -> u16 {
    let mut req = format!("{url}?access_token={token}")
        .into_client_request()
        .unwrap();
    if let Some(o) = origin {
        req.headers_mut().insert("origin", o.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(req).await {
        Ok((mut ws, resp)) => {
            ws.close(None).await.unwrap();
            resp.status().as_u16()
        }
        Err(WsError::Http(resp)) => resp.status().as_u16(),
        Err(e) => panic!("{e}"),
    }
}

#[tokio::test]
async fn websocket_upgrades_check_origin_against_the_same_list() {
    let app = cors_app();
    let addr = serve(app.clone()).await;
    let (t, url) = channel(&app).await;
    // The channel URL names the Host of the create request; point it at the server.
    let path = url.split_once("/notificationchannel").unwrap().1;
    let url = format!("ws://{addr}/notificationchannel{path}");
    assert_eq!(
        upgrade(&url, &t, Some("https://evil.example.net")).await,
        403
    );
    assert_eq!(
        upgrade(&url, &t, Some("https://app.example.net")).await,
        101
    );
    assert_eq!(upgrade(&url, &t, Some("http://localhost:5173")).await, 101);
    assert_eq!(
        upgrade(&url, &t, None).await,
        101,
        "native clients send no Origin"
    );
}

// ---- limits ---------------------------------------------------------------------------

fn limited(limits: LimitOptions) -> Router {
    app_with(EdgeOptions {
        limits,
        ..EdgeOptions::default()
    })
}

async fn register_status(app: &Router, t: &str, device: &str) -> (StatusCode, Option<String>) {
    let (s, body) = call(
        app,
        Method::POST,
        REG,
        Some(t),
        &[],
        Some(json!({ "deviceId": device })),
    )
    .await;
    (s, code(&body).map(str::to_owned))
}

#[tokio::test]
async fn registrations_are_capped_per_user_and_per_device() {
    let app = limited(LimitOptions {
        max_registrations_per_user: 2,
        max_registrations_per_device: 2,
        ..unlimited()
    });
    let a = token(&app, "+15550001").await;
    register(&app, &a, "phone").await;
    register(&app, &a, "laptop").await;
    assert_eq!(
        register_status(&app, &a, "tablet").await,
        (
            StatusCode::FORBIDDEN,
            Some("MAX_REGISTRATION_PER_USER".into())
        )
    );
    // The same device for two more numbers: the device's cap.
    let b = token(&app, "+15550002").await;
    let c = token(&app, "+15550003").await;
    register(&app, &b, "phone").await;
    assert_eq!(
        register_status(&app, &c, "phone").await,
        (
            StatusCode::FORBIDDEN,
            Some("MAX_REGISTRATION_PER_DEVICE".into())
        )
    );
    // Ending one frees its place.
    let (s, list) = call(&app, Method::GET, REG, Some(&a), &[], None).await;
    assert_eq!(s, StatusCode::OK);
    let id = list[0]["registrationId"].as_str().unwrap();
    let (s, _) = call(
        &app,
        Method::DELETE,
        &format!("{REG}/{id}"),
        Some(&a),
        &[],
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(register_status(&app, &a, "tablet").await.0, StatusCode::OK);
}

#[tokio::test]
async fn concurrent_calls_are_capped_per_registration() {
    let (link, mut core) = FakeCore::start();
    let app = router_with_edge(
        options(),
        Some(link),
        ChannelOptions::default(),
        EdgeOptions {
            limits: LimitOptions {
                max_calls_per_registration: 1,
                ..unlimited()
            },
            ..EdgeOptions::default()
        },
    );
    let t = token(&app, "+15550001").await;
    let phone = register(&app, &t, "phone").await;
    let laptop = register(&app, &t, "laptop").await;
    let place = |reg: String| {
        let app = app.clone();
        let t = t.clone();
        tokio::spawn(async move {
            call(
                &app,
                Method::POST,
                CALLS,
                Some(&t),
                &[("registrationId", &reg)],
                Some(new_session("tel:+15550001", "tel:+15550100")),
            )
            .await
        })
    };
    let first = place(phone.clone());
    let (id, _) = core.next_call().await;
    core.ok(id).await;
    assert_eq!(first.await.unwrap().0, StatusCode::CREATED);
    // The same registration again: refused before the call core hears of it.
    let (s, body) = place(phone.clone()).await.unwrap();
    assert_eq!(
        (s, code(&body)),
        (StatusCode::TOO_MANY_REQUESTS, Some("QUOTA_EXCEEDED"))
    );
    assert!(
        core.commands.try_recv().is_err(),
        "no command for a refused call"
    );
    // Another registration of the same user has its own quota.
    let other = place(laptop);
    let (id, _) = core.next_call().await;
    core.ok(id).await;
    assert_eq!(other.await.unwrap().0, StatusCode::CREATED);
}

#[tokio::test]
async fn requests_beyond_a_tokens_rate_get_429_with_retry_after() {
    let app = limited(LimitOptions {
        per_token: Some(Rate {
            burst: 3,
            per_second: 0.01,
        }),
        ..unlimited()
    });
    let a = token(&app, "+15550001").await;
    let b = token(&app, "+15550002").await;
    for _ in 0..3 {
        let (s, _) = call(&app, Method::GET, REG, Some(&a), &[], None).await;
        assert_eq!(s, StatusCode::OK);
    }
    let req = Request::builder()
        .uri(REG)
        .header(header::AUTHORIZATION, format!("Bearer {a}"))
        .header("x-correlator", "r-1")
        .body(Body::empty())
        .unwrap();
    let (s, h, body) = send(&app, req).await;
    assert_eq!(
        (s, code(&body)),
        (StatusCode::TOO_MANY_REQUESTS, Some("TOO_MANY_REQUESTS"))
    );
    assert_eq!(body["status"], 429);
    let wait: u64 = h[header::RETRY_AFTER].to_str().unwrap().parse().unwrap();
    assert!((1..=100).contains(&wait), "{wait}: one token takes 100 s");
    assert_eq!(h["x-correlator"], "r-1");
    // Another token is not held up.
    let (s, _) = call(&app, Method::GET, REG, Some(&b), &[], None).await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn requests_beyond_an_addresss_rate_get_429() {
    let app = limited(LimitOptions {
        per_address: Some(Rate {
            burst: 2,
            per_second: 0.01,
        }),
        ..unlimited()
    });
    let from = |ip: &str| {
        let mut req = get("/openapi.json", &[]);
        let addr: SocketAddr = format!("{ip}:40000").parse().unwrap();
        req.extensions_mut().insert(ConnectInfo(addr));
        req
    };
    assert_eq!(send(&app, from("192.0.2.1")).await.0, StatusCode::OK);
    assert_eq!(send(&app, from("192.0.2.1")).await.0, StatusCode::OK);
    let (s, h, body) = send(&app, from("192.0.2.1")).await;
    assert_eq!(
        (s, code(&body)),
        (StatusCode::TOO_MANY_REQUESTS, Some("TOO_MANY_REQUESTS"))
    );
    assert!(h.contains_key(header::RETRY_AFTER));
    // The address counts, not the port or the token.
    assert_eq!(send(&app, from("192.0.2.2")).await.0, StatusCode::OK);
}

// ---- OpenAPI --------------------------------------------------------------------------

/// `{registration_id}` and `{registrationId}` alike become `{}`.
fn template(path: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for c in path.chars() {
        match c {
            '{' => {
                inside = true;
                out.push_str("{}");
            }
            '}' => inside = false,
            _ if inside => {}
            _ => out.push(c),
        }
    }
    out
}

/// The route templates of `app`, read from its `Debug` form (axum lists its paths there).
fn router_paths(app: &Router) -> BTreeSet<String> {
    let text = format!("{app:?}");
    text.split('"')
        .skip(1)
        .step_by(2)
        .filter(|s| s.starts_with('/') && !s.contains("__private__"))
        .map(template)
        .collect()
}

#[tokio::test]
async fn openapi_json_describes_every_route() {
    let (link, _core) = FakeCore::start();
    let app = router_with_edge(
        options(),
        Some(link),
        ChannelOptions::default(),
        EdgeOptions::default(),
    );
    let (s, doc) = call(&app, Method::GET, "/openapi.json", None, &[], None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.0"));
    let documented: BTreeSet<String> = doc["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(|p| template(p))
        .collect();
    let mut routed = router_paths(&app);
    // axum's fallback registers `/` too: the API serves nothing there.
    let (s, root) = call(&app, Method::GET, "/", None, &[], None).await;
    assert_eq!((s, code(&root)), (StatusCode::NOT_FOUND, Some("NOT_FOUND")));
    routed.remove("/");
    assert!(routed.len() >= 10, "paths read from the router: {routed:?}");
    let missing: Vec<_> = routed.difference(&documented).collect();
    assert!(
        missing.is_empty(),
        "routes not in /openapi.json: {missing:?}"
    );
    let extra: Vec<_> = documented.difference(&routed).collect();
    assert!(
        extra.is_empty(),
        "documented paths with no route: {extra:?}"
    );
    // ErrorInfo is described, and error answers refer to it.
    let info = &doc["components"]["schemas"]["ErrorInfo"]["properties"];
    for field in ["status", "code", "message"] {
        assert!(info.get(field).is_some(), "{field}");
    }
    let text = doc.to_string();
    assert!(text.contains("#/components/schemas/ErrorInfo"));
    for schema in [
        "RegistrationInformation",
        "MediaSessionInformation",
        "NotificationChannel",
        "Subscription",
        "CloudEvent",
    ] {
        assert!(
            doc["components"]["schemas"].get(schema).is_some(),
            "{schema}"
        );
    }
}

#[tokio::test]
async fn a_429_carries_cors_headers_so_the_application_can_read_it() {
    let app = app_with(EdgeOptions {
        limits: LimitOptions {
            per_token: Some(Rate {
                burst: 1,
                per_second: 0.01,
            }),
            ..unlimited()
        },
        ..EdgeOptions::default()
    });
    let t = token(&app, "+15550001").await;
    let req = || {
        Request::builder()
            .uri(REG)
            .header(header::AUTHORIZATION, format!("Bearer {t}"))
            .header(header::ORIGIN, "http://localhost:5173")
            .body(Body::empty())
            .unwrap()
    };
    assert_eq!(send(&app, req()).await.0, StatusCode::OK);
    let (s, h, _) = send(&app, req()).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        h[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "http://localhost:5173"
    );
    assert!(h[header::ACCESS_CONTROL_EXPOSE_HEADERS]
        .to_str()
        .unwrap()
        .contains("retry-after"));
}

#[tokio::test]
async fn every_documented_operation_reaches_a_handler() {
    let (link, _core) = FakeCore::start();
    let app = router_with_edge(
        options(),
        Some(link),
        ChannelOptions::default(),
        EdgeOptions {
            limits: unlimited(),
            ..EdgeOptions::default()
        },
    );
    let (_, doc) = call(&app, Method::GET, "/openapi.json", None, &[], None).await;
    for (path, ops) in doc["paths"].as_object().unwrap() {
        let concrete = template(path).replace("{}", "x");
        for method in ops.as_object().unwrap().keys() {
            let m = Method::from_bytes(method.to_ascii_uppercase().as_bytes()).unwrap();
            let (s, body) = call(&app, m, &concrete, None, &[], None).await;
            assert_ne!(s, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
            assert_ne!(
                body["message"], "no such resource",
                "{method} {path} fell through to the fallback"
            );
        }
    }
}
