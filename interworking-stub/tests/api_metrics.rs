//! The API's metrics in the default prometheus registry: WebSocket channels open, events
//! delivered and failed by transport. One test in its own binary, so the process-wide
//! values it reads move only by what it does.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod common;

use std::time::Duration;

use axum::http::{Method, StatusCode};
use axum::routing::post;
use axum::Router;
use common::*;
use futures_util::StreamExt;
use interworking_stub::subscriptions::DeliveryOptions;
use interworking_stub::{router_with_channels, ChannelOptions};
use serde_json::json;
use sip_proxy::call::{CallEvent, CallId};
use sip_proxy::gateway::GatewayEvent;

/// The value of `name` (with `transport` = `label`, when set) in the default registry.
fn value(name: &str, label: Option<&str>) -> f64 {
    let families = prometheus::gather();
    let Some(family) = families.iter().find(|f| f.name() == name) else {
        return 0.0;
    };
    family
        .get_metric()
        .iter()
        .filter(|m| {
            label.is_none_or(|l| {
                m.get_label()
                    .iter()
                    .any(|p| p.name() == "transport" && p.value() == l)
            })
        })
        // The unset one of the two reads 0.
        .map(|m| m.get_gauge().get_value() + m.get_counter().get_value())
        .sum()
}

/// Waits (at most 5 s) until `name` reaches `want`: the server task updates it right
/// after the effect the client sees.
async fn reaches(name: &str, label: Option<&str>, want: f64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while value(name, label) != want {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{name}{{{label:?}}} is {} instead of {want}",
            value(name, label)
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A sink that answers every POST with `status`.
async fn sink(status: u16) -> String {
    let app = Router::new().route(
        "/sink",
        post(move || async move { StatusCode::from_u16(status).unwrap() }),
    );
    format!("http://{}/sink", serve(app).await)
}

async fn subscribe(app: &Router, token: &str, sink: &str) {
    let body = json!({
        "protocol": "HTTP", "sink": sink,
        "types": ["org.camaraproject.webrtc-events.v0.session-invitation"],
    });
    let (s, created) = call(
        app,
        Method::POST,
        "/webrtc-events/v0.2/subscriptions",
        Some(token),
        &[],
        Some(body),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
}

#[tokio::test]
async fn sockets_open_and_events_delivered_and_failed_are_counted() {
    const OPEN: &str = "rtcgate_api_websocket_channels_open";
    const DELIVERED: &str = "rtcgate_api_events_delivered_total";
    const FAILED: &str = "rtcgate_api_events_failed_total";
    let (link, core) = FakeCore::start();
    let channels = ChannelOptions {
        delivery: DeliveryOptions {
            retry_base: Duration::from_millis(10),
            attempts: 1,
        },
        ..ChannelOptions::default()
    };
    let app = router_with_channels(options(), link, channels);
    let addr = serve(app.clone()).await;
    // Registered with the router: exported at 0 before anything happened.
    assert_eq!(value(OPEN, None), 0.0);
    for name in [DELIVERED, FAILED] {
        for transport in ["websocket", "sink"] {
            let families = prometheus::gather();
            let family = families.iter().find(|f| f.name() == name).unwrap();
            assert!(family
                .get_metric()
                .iter()
                .any(|m| m.get_label().iter().any(|l| l.value() == transport)));
        }
    }

    let t = token(&app, "+15550001").await;
    let (s, body) = call(
        &app,
        Method::POST,
        "/notificationchannel/v0.1/phone-1/channels",
        Some(&t),
        &[],
        Some(json!({ "channelType": "WebSockets" })),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    let url = body["channelData"]["channelURL"].as_str().unwrap();
    let path = url.split_once("/notificationchannel").unwrap().1;
    let url = format!("ws://{addr}/notificationchannel{path}?access_token={t}");
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    reaches(OPEN, None, 1.0).await;

    subscribe(&app, &t, &sink(204).await).await;
    subscribe(&app, &t, &sink(400).await).await;
    let before = [
        value(DELIVERED, Some("websocket")),
        value(DELIVERED, Some("sink")),
        value(FAILED, Some("sink")),
    ];
    core.send(GatewayEvent::Call(CallEvent::Incoming {
        call: CallId(1 << 63 | 1),
        from: "+15557777".into(),
        to: "+15550001".into(),
        offer: "v=0\r\n".into(),
    }))
    .await;
    let frame = tokio::time::timeout(Duration::from_secs(5), ws.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(frame.to_text().unwrap().contains("session-invitation"));
    reaches(DELIVERED, Some("websocket"), before[0] + 1.0).await;
    reaches(DELIVERED, Some("sink"), before[1] + 1.0).await;
    // 400 is not retried: the event is given up on.
    reaches(FAILED, Some("sink"), before[2] + 1.0).await;
    assert_eq!(value(FAILED, Some("websocket")), 0.0);

    ws.close(None).await.unwrap();
    reaches(OPEN, None, 0.0).await;
}
