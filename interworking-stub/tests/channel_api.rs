//! The WebSocket notification channel: CloudEvents in order (from the real call core and
//! from a test task in the core's place), replay on reconnect, the grace period, JSON
//! commands over the socket, ping/pong and every refusal of the channel routes.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod common;

use std::time::Duration;

use axum::http::{Method, StatusCode};
use axum::Router;
use common::*;
use futures_util::{SinkExt, StreamExt};
use interworking_stub::{router_with_calls, router_with_channels, ChannelOptions};
use serde_json::{json, Value};
use sip_proxy::call::{CallId, CamaraStatus, Command};
use sip_proxy::gateway::GatewayEvent;
use sip_proxy::message::Method as SipMethod;
use sip_proxy::registration::{EndReason, RegEvent};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Opens a channel for `device`; returns its id and URL.
async fn open_channel(app: &Router, token: &str, device: &str, host: &str) -> (String, String) {
    let (status, body) = call(
        app,
        Method::POST,
        &format!("/notificationchannel/v0.1/{device}/channels"),
        Some(token),
        &[("host", host)],
        Some(json!({ "channelType": "WebSockets" })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["channelType"], "WebSockets");
    let id = body["channelId"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 32, "16 random bytes");
    let url = body["channelData"]["channelURL"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        url,
        format!("ws://{host}/notificationchannel/v0.1/{device}/channels/{id}")
    );
    (id, url)
}

async fn connect(url: &str, token: &str, last_seq: Option<u64>) -> Ws {
    let url = match last_seq {
        Some(n) => format!("{url}?access_token={token}&last_seq={n}"),
        None => format!("{url}?access_token={token}"),
    };
    tokio_tungstenite::connect_async(url).await.unwrap().0
}

/// The status the upgrade was refused with.
async fn refused(url: &str, token: Option<&str>) -> u16 {
    let mut req = url.into_client_request().unwrap();
    if let Some(t) = token {
        req.headers_mut()
            .insert("authorization", format!("Bearer {t}").parse().unwrap());
    }
    match tokio_tungstenite::connect_async(req).await {
        Err(WsError::Http(resp)) => resp.status().as_u16(),
        Ok(_) => panic!("the upgrade was accepted"),
        Err(e) => panic!("{e}"),
    }
}

/// The next text frame as JSON (pings and pongs skipped), at most 5 s.
async fn frame(ws: &mut Ws) -> Value {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("a frame within 5 s")
            .unwrap()
            .unwrap();
        if let Message::Text(t) = msg {
            return serde_json::from_str(t.as_str()).unwrap();
        }
    }
}

fn assert_cloudevent(e: &Value, kind: &str, channelseq: u64) {
    assert_eq!(e["specversion"], "1.0", "{e}");
    assert_eq!(
        e["type"],
        format!("org.camaraproject.webrtc-events.v0.{kind}"),
        "{e}"
    );
    assert_eq!(e["datacontenttype"], "application/json");
    assert!(e["id"].is_string() && e["source"].is_string() && e["time"].is_string());
    assert_eq!(e["channelseq"], channelseq, "{e}");
}

#[tokio::test]
async fn an_outgoing_calls_events_arrive_in_order_on_the_devices_channel() {
    let h = Harness::start().await;
    let addr = serve(h.app.clone()).await.to_string();
    let alice = token(&h.app, "+15550001").await;
    let reg = register(&h.app, &alice, "phone-1").await;
    let (_, url) = open_channel(&h.app, &alice, "phone-1", &addr).await;
    let mut ws = connect(&url, &alice, None).await;

    let (_, created) = create(&h.app, &alice, &reg, "tel:+15550001", "tel:+15550100").await;
    let id = created["mediaSessionId"].as_str().unwrap().to_owned();
    let mut ims = h.accept().await;
    let invite = ims.request().await;
    ims.respond(&invite, 180, false).await;
    ims.respond(&invite, 200, true).await;
    assert_eq!(ims.request().await.method, SipMethod::Ack);

    let ringing = frame(&mut ws).await;
    assert_cloudevent(&ringing, "session-status", 1);
    assert_eq!(
        ringing["source"],
        format!("/webrtc-call-handling/v0.3/sessions/{id}")
    );
    assert_eq!(
        ringing["data"],
        json!({ "mediaSessionId": id, "status": "Ringing", "sequenceNumber": 1 })
    );
    let connected = frame(&mut ws).await;
    assert_cloudevent(&connected, "session-status", 2);
    assert_eq!(connected["data"]["status"], "Connected");
    assert_eq!(connected["data"]["sequenceNumber"], 2);
    let answer = connected["data"]["answer"]["sdp"].as_str().unwrap();
    assert!(answer.contains("UDP/TLS/RTP/SAVPF"));

    // Hang up over the socket: the reply, then the event.
    let op = json!({ "id": "bye-1", "op": format!("DELETE {CALLS}/{id}") });
    ws.send(Message::text(op.to_string())).await.unwrap();
    assert_eq!(
        frame(&mut ws).await,
        json!({ "id": "bye-1", "status": 204, "body": null })
    );
    let terminated = frame(&mut ws).await;
    assert_cloudevent(&terminated, "session-status", 3);
    assert_eq!(terminated["data"]["status"], "Terminated");
    assert_eq!(terminated["data"]["sequenceNumber"], 3);
    assert_eq!(ims.request().await.method, SipMethod::Bye);
}

/// The router over a test task in the call core's place, served on loopback.
async fn fake(channels: ChannelOptions) -> (Router, FakeCore, String) {
    let (link, core) = FakeCore::start();
    let app = router_with_channels(options(), link, channels);
    let addr = serve(app.clone()).await.to_string();
    (app, core, addr)
}

/// The offer of the IMS calls in this file.
const INCOMING_SDP: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\n";

#[tokio::test]
async fn an_incoming_call_is_answered_over_the_socket_and_a_reconnect_replays_what_it_missed() {
    let (app, mut core, addr) = fake(ChannelOptions::default()).await;
    let alice = token(&app, "+15550001").await;
    register(&app, &alice, "phone-1").await;
    let (_, url) = open_channel(&app, &alice, "phone-1", &addr).await;
    let mut ws = connect(&url, &alice, None).await;

    core.send(incoming(1 << 63 | 1, INCOMING_SDP)).await;
    let invitation = frame(&mut ws).await;
    assert_cloudevent(&invitation, "session-invitation", 1);
    let data = &invitation["data"];
    assert_eq!(data["sequenceNumber"], 1, "the callee's invitation is 1");
    assert_eq!(data["status"], "Initial");
    assert_eq!(data["originatorAddress"], "tel:+15557777");
    assert_eq!(data["receiverAddress"], "tel:+15550001");
    assert!(data["offer"]["sdp"].as_str().unwrap().starts_with("v=0"));
    let id = data["mediaSessionId"].as_str().unwrap().to_owned();

    // Answer with a JSON command; the fake core accepts and reports Connected.
    let op = json!({
        "id": 7,
        "op": format!("PUT {CALLS}/{id}/status"),
        "body": { "status": "Connected", "answer": { "sdp": OFFER } },
    });
    ws.send(Message::text(op.to_string())).await.unwrap();
    let (cmd, command) = core.next_call().await;
    assert!(matches!(command, Command::Answer { call: CallId(c), .. } if c == 1 << 63 | 1));
    core.ok(cmd).await;
    core.send(status(1 << 63 | 1, CamaraStatus::Connected))
        .await;
    let reply = frame(&mut ws).await;
    assert_eq!(
        (&reply["id"], &reply["status"]),
        (&json!(7), &json!(200)),
        "{reply}"
    );
    assert_eq!(reply["body"]["status"], "Connected");
    assert_eq!(reply["body"]["answer"]["sdp"], OFFER);
    let connected = frame(&mut ws).await;
    assert_cloudevent(&connected, "session-status", 2);
    assert_eq!(connected["data"]["sequenceNumber"], 2);

    // The socket drops; two events happen while it is away.
    ws.close(None).await.unwrap();
    drop(ws);
    core.send(status(1 << 63 | 1, CamaraStatus::Hold)).await;
    core.send(status(1 << 63 | 1, CamaraStatus::Resume)).await;
    // A GET proves the link applied both before the reconnect.
    wait_status(&app, &alice, &id, "Resume").await;

    let mut ws = connect(&url, &alice, Some(2)).await;
    let hold = frame(&mut ws).await;
    assert_cloudevent(&hold, "session-status", 3);
    assert_eq!(hold["data"]["status"], "Hold");
    let resume = frame(&mut ws).await;
    assert_cloudevent(&resume, "session-status", 4);
    assert_eq!(resume["data"]["sequenceNumber"], 4);

    // A second socket asking from the start gets every frame the channel holds.
    let mut again = connect(&url, &alice, Some(0)).await;
    let seqs: Vec<Value> = [
        frame(&mut again).await,
        frame(&mut again).await,
        frame(&mut again).await,
        frame(&mut again).await,
    ]
    .iter()
    .map(|f| f["channelseq"].clone())
    .collect();
    assert_eq!(seqs, vec![json!(1), json!(2), json!(3), json!(4)]);
}

#[tokio::test]
async fn a_channel_left_without_a_socket_past_the_grace_period_ends_its_calls() {
    let (app, mut core, addr) = fake(ChannelOptions {
        grace: Duration::from_millis(200),
        ..ChannelOptions::default()
    })
    .await;
    let alice = token(&app, "+15550001").await;
    register(&app, &alice, "phone-1").await;
    let (_, url) = open_channel(&app, &alice, "phone-1", &addr).await;
    let mut ws = connect(&url, &alice, None).await;
    core.send(incoming(1 << 63 | 5, INCOMING_SDP)).await;
    let invitation = frame(&mut ws).await;
    let id = invitation["data"]["mediaSessionId"]
        .as_str()
        .unwrap()
        .to_owned();
    ws.close(None).await.unwrap();

    // The call is hung up when the grace period ends, not before.
    let (cmd, command) = core.next_call().await;
    assert_eq!(
        command,
        Command::Hangup {
            call: CallId(1 << 63 | 5)
        }
    );
    core.ok(cmd).await;
    core.send(status(1 << 63 | 5, CamaraStatus::Declined)).await;
    wait_status(&app, &alice, &id, "Declined").await;
    assert_eq!(
        refused(&url, Some(&alice)).await,
        404,
        "the channel is gone"
    );
}

#[tokio::test]
async fn a_reconnect_within_the_grace_period_keeps_the_call() {
    let (app, mut core, addr) = fake(ChannelOptions {
        grace: Duration::from_millis(300),
        ..ChannelOptions::default()
    })
    .await;
    let alice = token(&app, "+15550001").await;
    register(&app, &alice, "phone-1").await;
    let (_, url) = open_channel(&app, &alice, "phone-1", &addr).await;
    let mut ws = connect(&url, &alice, None).await;
    core.send(incoming(1 << 63 | 6, INCOMING_SDP)).await;
    frame(&mut ws).await;
    ws.close(None).await.unwrap();
    let mut ws = connect(&url, &alice, Some(1)).await;
    // Well past the grace period of the first socket's departure.
    let quiet = tokio::time::timeout(Duration::from_millis(600), core.next_call()).await;
    assert!(quiet.is_err(), "no command: the call was kept");
    core.send(status(1 << 63 | 6, CamaraStatus::SessionCancelled))
        .await;
    let cancelled = frame(&mut ws).await;
    assert_cloudevent(&cancelled, "session-status", 2);
}

#[tokio::test]
async fn a_network_deregistration_ends_the_registration_with_an_event() {
    let (app, core, addr) = fake(ChannelOptions::default()).await;
    let alice = token(&app, "+15550001").await;
    let reg = register(&app, &alice, "phone-1").await;
    let (_, url) = open_channel(&app, &alice, "phone-1", &addr).await;
    let mut ws = connect(&url, &alice, None).await;
    core.send(GatewayEvent::Registration(RegEvent::Ended {
        number: "+15550001".into(),
        reason: EndReason::Network,
    }))
    .await;
    let ends = frame(&mut ws).await;
    assert_cloudevent(&ends, "registration-ends", 1);
    assert_eq!(
        ends["data"],
        json!({ "registrationId": reg, "deviceId": "phone-1" })
    );
    let (status, _) = get(&app, &format!("{REG}/{reg}"), Some(&alice)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_gateway_pings_and_answers_pings() {
    let (app, _core, addr) = fake(ChannelOptions {
        ping_interval: Duration::from_millis(50),
        ..ChannelOptions::default()
    })
    .await;
    let alice = token(&app, "+15550001").await;
    let (_, url) = open_channel(&app, &alice, "phone-1", &addr).await;
    let mut ws = connect(&url, &alice, None).await;
    ws.send(Message::Ping(b"hi".to_vec().into())).await.unwrap();
    let (mut saw_ping, mut saw_pong) = (false, false);
    while !(saw_ping && saw_pong) {
        let msg = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        match msg {
            Message::Ping(_) => saw_ping = true,
            Message::Pong(p) => {
                assert_eq!(&p[..], b"hi");
                saw_pong = true;
            }
            other => panic!("{other:?}"),
        }
    }
    // The client library answers the pings, so the socket stays open past several.
    ws.send(Message::text(
        json!({"id": 1, "op": "GET /nowhere"}).to_string(),
    ))
    .await
    .unwrap();
    assert_eq!(frame(&mut ws).await["status"], 404);
}

#[tokio::test]
async fn channel_routes_and_socket_commands_refuse_what_they_must() {
    let (app, _core, addr) = fake(ChannelOptions::default()).await;
    let alice = token(&app, "+15550001").await;
    let bob = token(&app, "+15550002").await;
    let chan = "/notificationchannel/v0.1/phone-1/channels";
    for (token, body, want) in [
        (
            None,
            json!({ "channelType": "WebSockets" }),
            StatusCode::UNAUTHORIZED,
        ),
        (
            Some(&alice),
            json!({ "channelType": "LongPolling" }),
            StatusCode::BAD_REQUEST,
        ),
        (Some(&alice), json!({}), StatusCode::BAD_REQUEST),
    ] {
        let (status, _) = call(
            &app,
            Method::POST,
            chan,
            token.map(String::as_str),
            &[],
            Some(body),
        )
        .await;
        assert_eq!(status, want);
    }
    let (status, _) = call(
        &app,
        Method::POST,
        chan,
        Some(&alice),
        &[("host", "evil/path")],
        Some(json!({ "channelType": "WebSockets" })),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let (id, url) = open_channel(&app, &alice, "phone-1", &addr).await;
    assert_eq!(refused(&url, None).await, 401);
    assert_eq!(refused(&url, Some("bogus")).await, 401);
    assert_eq!(refused(&url, Some(&bob)).await, 403);
    assert_eq!(refused(&url.replace(&id, "0000"), Some(&alice)).await, 404);
    assert_eq!(
        refused(&url.replace("phone-1", "laptop"), Some(&alice)).await,
        404
    );
    // Not an upgrade at all.
    let path = format!("{chan}/{id}");
    let (status, body) = get(&app, &path, Some(&alice)).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, Some("INVALID_ARGUMENT"))
    );

    let mut ws = connect(&url, &alice, None).await;
    for (text, want_id, want_status, want_code) in [
        ("not json".to_owned(), Value::Null, 400, Some("INVALID_ARGUMENT")),
        (json!({ "id": 1, "op": "GET" }).to_string(), json!(1), 400, Some("INVALID_ARGUMENT")),
        (json!({ "id": 2, "op": "GET nowhere" }).to_string(), json!(2), 400, Some("INVALID_ARGUMENT")),
        (json!({ "id": 3, "op": format!("GET {CALLS}/none") }).to_string(), json!(3), 404, Some("NOT_FOUND")),
        (
            json!({ "id": 4, "op": format!("POST {CALLS}"), "body": new_session("tel:+15550001", "tel:+15550100") }).to_string(),
            json!(4),
            400,
            Some("INVALID_ARGUMENT"),
        ),
    ] {
        ws.send(Message::text(text.clone())).await.unwrap();
        let reply = frame(&mut ws).await;
        assert_eq!(
            (&reply["id"], reply["status"].as_u64(), reply["body"]["code"].as_str()),
            (&want_id, Some(want_status), want_code),
            "{text}"
        );
    }

    // Deleting the channel closes its socket.
    let (status, _) = delete(&app, &path, Some(&bob)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = delete(&app, &path, Some(&alice)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let end = tokio::time::timeout(Duration::from_secs(5), ws.next())
        .await
        .unwrap();
    assert!(matches!(end, Some(Ok(Message::Close(_))) | None), "{end:?}");
}

#[tokio::test]
async fn without_a_host_the_channel_url_names_localhost_or_the_public_url() {
    let (link, _core) = FakeCore::start();
    let app = router_with_calls(options(), link);
    let alice = token(&app, "+15550001").await;
    let (_, body) = call(
        &app,
        Method::POST,
        "/notificationchannel/v0.1/phone-1/channels",
        Some(&alice),
        &[],
        Some(json!({ "channelType": "WebSockets" })),
    )
    .await;
    assert!(body["channelData"]["channelURL"]
        .as_str()
        .unwrap()
        .starts_with("ws://localhost/notificationchannel/v0.1/phone-1/channels/"));
    let (link, _core) = FakeCore::start();
    let app = router_with_channels(
        options(),
        link,
        ChannelOptions {
            public_url: Some("wss://api.example.net/".into()),
            ..ChannelOptions::default()
        },
    );
    let alice = token(&app, "+15550001").await;
    let (_, body) = call(
        &app,
        Method::POST,
        "/notificationchannel/v0.1/phone%201/channels",
        Some(&alice),
        &[],
        Some(json!({ "channelType": "WebSockets" })),
    )
    .await;
    assert!(
        body["channelData"]["channelURL"]
            .as_str()
            .unwrap()
            .starts_with("wss://api.example.net/notificationchannel/v0.1/phone%201/channels/"),
        "{body}"
    );
}
