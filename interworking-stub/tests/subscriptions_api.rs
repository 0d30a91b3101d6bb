//! Event subscriptions: CloudEvents POSTed to a sink served by the test (an axum server on
//! loopback) with the sinkCredential bearer, retried with backoff, ended on 410, by
//! subscriptionMaxEvents and by DELETE; every refusal of the routes.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod common;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::routing::post;
use axum::Router;
use common::*;
use interworking_stub::subscriptions::DeliveryOptions;
use interworking_stub::{router_with_channels, ChannelOptions};
use serde_json::{json, Value};
use sip_proxy::call::CamaraStatus;
use tokio::sync::mpsc;

const SUBS: &str = "/webrtc-events/v0.2/subscriptions";
const STATUS: &str = "org.camaraproject.webrtc-events.v0.session-status";
const INVITATION: &str = "org.camaraproject.webrtc-events.v0.session-invitation";

/// What the sink saw of one POST.
#[derive(Debug)]
struct Delivered {
    authorization: Option<String>,
    content_type: Option<String>,
    event: Value,
}

#[derive(Clone)]
struct Sink {
    seen: mpsc::UnboundedSender<Delivered>,
    /// Statuses to answer with, in order; 204 once empty.
    script: Arc<Mutex<VecDeque<u16>>>,
}

async fn receive(State(sink): State<Sink>, headers: HeaderMap, body: String) -> StatusCode {
    let header = |n: &str| headers.get(n).map(|v| v.to_str().unwrap().to_owned());
    sink.seen
        .send(Delivered {
            authorization: header("authorization"),
            content_type: header("content-type"),
            event: serde_json::from_str(&body).unwrap(),
        })
        .unwrap();
    let next = sink.script.lock().unwrap().pop_front().unwrap_or(204);
    StatusCode::from_u16(next).unwrap()
}

/// A sink on loopback answering with `script`; returns its URL and what it sees.
async fn sink(script: &[u16]) -> (String, mpsc::UnboundedReceiver<Delivered>) {
    let (seen, rx) = mpsc::unbounded_channel();
    let app = Router::new()
        .route("/sink", post(receive))
        .with_state(Sink {
            seen,
            script: Arc::new(Mutex::new(script.iter().copied().collect())),
        });
    let addr = serve(app).await;
    (format!("http://{addr}/sink"), rx)
}

async fn next(rx: &mut mpsc::UnboundedReceiver<Delivered>) -> Delivered {
    tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("a delivery within 5 s")
        .unwrap()
}

fn app() -> (Router, FakeCore) {
    let (link, core) = FakeCore::start();
    let channels = ChannelOptions {
        delivery: DeliveryOptions {
            retry_base: Duration::from_millis(10),
            attempts: 3,
        },
        ..ChannelOptions::default()
    };
    (router_with_channels(options(), link, channels), core)
}

fn subscription(sink: &str, types: &[&str]) -> Value {
    json!({
        "protocol": "HTTP",
        "sink": sink,
        "sinkCredential": { "credentialType": "ACCESSTOKEN", "accessToken": "sink-secret", "accessTokenType": "bearer" },
        "types": types,
        "config": { "subscriptionDetail": { "deviceId": "phone-1" } },
    })
}

/// The offer of the IMS calls in this file.
const INCOMING_SDP: &str = "v=0\r\n";

#[tokio::test]
async fn events_reach_the_sink_with_its_bearer_and_failures_are_retried() {
    let (app, core) = app();
    let alice = token(&app, "+15550001").await;
    // The first attempt fails with 503, the retry succeeds.
    let (url, mut seen) = sink(&[503]).await;
    let (code, created) = call(
        &app,
        Method::POST,
        SUBS,
        Some(&alice),
        &[],
        Some(subscription(&url, &[INVITATION, STATUS])),
    )
    .await;
    assert_eq!(code, StatusCode::CREATED, "{created}");
    assert_eq!(created["status"], "ACTIVE");
    assert_eq!(created["sink"], url);
    assert!(created.get("sinkCredential").is_none(), "never echoed");
    assert_eq!(
        created["config"]["subscriptionDetail"]["deviceId"],
        "phone-1"
    );
    let id = created["id"].as_str().unwrap().to_owned();

    core.send(incoming(1 << 63 | 1, INCOMING_SDP)).await;
    core.send(status(1 << 63 | 1, CamaraStatus::SessionCancelled))
        .await;
    let first = next(&mut seen).await;
    let retried = next(&mut seen).await;
    assert_eq!(first.authorization.as_deref(), Some("Bearer sink-secret"));
    assert_eq!(
        first.content_type.as_deref(),
        Some("application/cloudevents+json")
    );
    assert_eq!(first.event["type"], INVITATION);
    assert_eq!(retried.event, first.event, "the same event again");
    let cancelled = next(&mut seen).await;
    assert_eq!(cancelled.event["type"], STATUS);
    assert_eq!(cancelled.event["data"]["status"], "SessionCancelled");
    assert_eq!(cancelled.event["data"]["sequenceNumber"], 2);

    let (code, got) = get(&app, &format!("{SUBS}/{id}"), Some(&alice)).await;
    assert_eq!((code, &got["id"]), (StatusCode::OK, &json!(id)));
    let (_, all) = get(&app, SUBS, Some(&alice)).await;
    assert_eq!(all.as_array().unwrap().len(), 1);

    // DELETE: the sink hears subscription-ended, then nothing more.
    let (code, _) = delete(&app, &format!("{SUBS}/{id}"), Some(&alice)).await;
    assert_eq!(code, StatusCode::NO_CONTENT);
    let ended = next(&mut seen).await;
    assert_eq!(
        ended.event["type"],
        "org.camaraproject.webrtc-events.v0.subscription-ended"
    );
    assert_eq!(
        ended.event["data"],
        json!({ "subscriptionId": id, "terminationReason": "SUBSCRIPTION_DELETED" })
    );
    let (code, _) = get(&app, &format!("{SUBS}/{id}"), Some(&alice)).await;
    assert_eq!(code, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_sink_answering_410_ends_the_subscription() {
    let (app, core) = app();
    let alice = token(&app, "+15550001").await;
    let (url, mut seen) = sink(&[410]).await;
    let (_, created) = call(
        &app,
        Method::POST,
        SUBS,
        Some(&alice),
        &[],
        Some(subscription(&url, &[INVITATION])),
    )
    .await;
    let id = created["id"].as_str().unwrap().to_owned();
    core.send(incoming(1 << 63 | 2, INCOMING_SDP)).await;
    assert_eq!(next(&mut seen).await.event["type"], INVITATION);
    // The subscription is gone once the 410 is handled.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let (code, _) = get(&app, &format!("{SUBS}/{id}"), Some(&alice)).await;
        if code == StatusCode::NOT_FOUND {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "still there");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Events after it go nowhere: the next one the sink sees would be this one.
    core.send(incoming(1 << 63 | 3, INCOMING_SDP)).await;
    let quiet = tokio::time::timeout(Duration::from_millis(200), seen.recv()).await;
    assert!(quiet.is_err(), "no delivery after 410");
}

#[tokio::test]
async fn types_and_devices_filter_and_max_events_ends_the_subscription() {
    let (app, core) = app();
    let alice = token(&app, "+15550001").await;
    let (url, mut seen) = sink(&[]).await;
    let mut body = subscription(&url, &[STATUS]);
    body["config"]["subscriptionMaxEvents"] = json!(1);
    let (_, created) = call(&app, Method::POST, SUBS, Some(&alice), &[], Some(body)).await;
    let id = created["id"].as_str().unwrap().to_owned();
    // The invitation is not a subscribed type; the status is, and it is the last.
    core.send(incoming(1 << 63 | 4, INCOMING_SDP)).await;
    core.send(status(1 << 63 | 4, CamaraStatus::Ringing)).await;
    let ringing = next(&mut seen).await;
    assert_eq!(ringing.event["data"]["status"], "Ringing");
    let ended = next(&mut seen).await;
    assert_eq!(
        ended.event["data"]["terminationReason"],
        "MAX_EVENTS_REACHED"
    );
    let (code, _) = get(&app, &format!("{SUBS}/{id}"), Some(&alice)).await;
    assert_eq!(code, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn subscription_routes_refuse_what_they_must() {
    let (app, _core) = app();
    let alice = token(&app, "+15550001").await;
    let bob = token(&app, "+15550002").await;
    let good = subscription("http://127.0.0.1:9/sink", &[STATUS]);
    let with = |f: &dyn Fn(&mut Value)| {
        let mut b = good.clone();
        f(&mut b);
        b
    };
    for body in [
        with(&|b| b["protocol"] = json!("MQTT3")),
        with(&|b| b["sink"] = json!("https://sink.example.net/")),
        with(&|b| b["sink"] = json!("not a url")),
        with(&|b| b["types"] = json!([])),
        with(&|b| b["types"] = json!(["org.example.other"])),
        with(&|b| b["types"] = json!(["org.camaraproject.webrtc-events.v0.subscription-ended"])),
        with(&|b| {
            b["sinkCredential"] =
                json!({ "credentialType": "PLAIN", "identifier": "a", "secret": "b" })
        }),
        with(&|b| b["config"]["subscriptionExpireTime"] = json!("2001-01-01T00:00:00Z")),
        with(&|b| b["config"]["subscriptionExpireTime"] = json!("soon")),
        with(&|b| b["config"]["subscriptionMaxEvents"] = json!(0)),
        json!({}),
    ] {
        let (code, answer) = call(
            &app,
            Method::POST,
            SUBS,
            Some(&alice),
            &[],
            Some(body.clone()),
        )
        .await;
        assert_eq!(
            (code, answer["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("INVALID_ARGUMENT")),
            "{body}"
        );
    }
    let (code, _) = call(&app, Method::POST, SUBS, None, &[], Some(good.clone())).await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);

    let (code, created) = call(&app, Method::POST, SUBS, Some(&alice), &[], Some(good)).await;
    assert_eq!(code, StatusCode::CREATED);
    let path = format!("{SUBS}/{}", created["id"].as_str().unwrap());
    for method in [Method::GET, Method::DELETE] {
        let (code, answer) = call(&app, method.clone(), &path, Some(&bob), &[], None).await;
        assert_eq!(
            (code, answer["code"].as_str()),
            (StatusCode::FORBIDDEN, Some("PERMISSION_DENIED")),
            "{method}"
        );
        let (code, _) = call(
            &app,
            method.clone(),
            &format!("{SUBS}/nope"),
            Some(&alice),
            &[],
            None,
        )
        .await;
        assert_eq!(code, StatusCode::NOT_FOUND, "{method}");
    }
    let (_, listed) = get(&app, SUBS, Some(&bob)).await;
    assert_eq!(listed, json!([]));
}

#[tokio::test]
async fn an_expiry_time_ends_the_subscription_with_a_reason() {
    let (app, _core) = app();
    let alice = token(&app, "+15550001").await;
    let (url, mut seen) = sink(&[]).await;
    let mut body = subscription(&url, &[STATUS]);
    // RFC 3339 with a fraction: a second and a half from now.
    let soon = time::OffsetDateTime::now_utc() + time::Duration::milliseconds(1500);
    body["config"]["subscriptionExpireTime"] = json!(soon
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap());
    let (code, created) = call(&app, Method::POST, SUBS, Some(&alice), &[], Some(body)).await;
    assert_eq!(code, StatusCode::CREATED, "{created}");
    assert!(created["expiresAt"].is_string());
    let ended = next(&mut seen).await;
    assert_eq!(
        ended.event["data"]["terminationReason"],
        "SUBSCRIPTION_EXPIRED"
    );
}
