//! Shared test harness: the API router over the real sip-proxy call core (a
//! `GatewayUser` with `RecordingMedia` behind the real transport on loopback), and a
//! scripted IMS peer on a TCP socket the gateway connects to.

#![allow(clippy::unwrap_used, dead_code, unreachable_pub)] // test code

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::response::Response;
use axum::Router;
use interworking_stub::{router_with_calls, ApiOptions, CallLink};
use serde_json::{json, Value};
use sip_proxy::call::{CallCore, CallCoreConfig, CallEvent, CallId, CamaraStatus, IdentityHeader};
use sip_proxy::endpoint::EndpointConfig;
use sip_proxy::gateway::{GatewayEvent, GatewayUser};
use sip_proxy::media::RecordingMedia;
use sip_proxy::message::builder::response_to;
use sip_proxy::message::{Message, Request as SipRequest};
use sip_proxy::transaction::{Target, Transport};
use sip_proxy::transport::stream::{Frame, StreamFramer};
use sip_proxy::transport::{start, SipListeners, TransportConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tower::ServiceExt;

pub const CALLS: &str = "/webrtc-call-handling/v0.3/sessions";
pub const REG: &str = "/webrtc-registration/v0.3/sessions";
pub const OFFER: &str = include_str!("../data/chrome_offer.sdp");
pub const IMS_ANSWER: &str = include_str!("../data/ims_answer_sdes.sdp");

/// The API over a real call core whose next hop is `ims`.
pub struct Harness {
    pub app: Router,
    pub ims: TcpListener,
    pub sip: SipListeners,
}

pub fn options() -> ApiOptions {
    let (_, draining) = watch::channel(false);
    ApiOptions {
        draining,
        retry_after_secs: 30,
        dev_tokens: true,
        auth: Default::default(),
    }
}

impl Harness {
    pub async fn start() -> Self {
        let ims = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let core = CallCore::new(
            CallCoreConfig {
                next_hop: Target {
                    transport: Transport::Tcp,
                    addr: ims.local_addr().unwrap(),
                },
                local_host: "127.0.0.1:5060".into(),
                domain: "ims.example.net".into(),
                identity: IdentityHeader::Asserted,
                access_network_info: None,
                session_expires: 1800,
                timers: Default::default(),
                fallback_hops: Vec::new(),
            },
            RecordingMedia::srtp(),
            21,
        );
        let cfg = TransportConfig {
            udp: Some("127.0.0.1:0".parse().unwrap()),
            tcp: None,
            tls: None,
            tls_client: None,
            max_message_bytes: 65_535,
            max_tcp_connections: 16,
            tcp_idle_timeout: Duration::from_secs(30),
            endpoint: EndpointConfig::default(),
        };
        let (_, draining) = watch::channel(false);
        let (sip, channels) = start(cfg, draining, 22, |_| GatewayUser::new(core, None))
            .await
            .unwrap();
        let link = CallLink::start(channels.commands, channels.events);
        Harness {
            app: router_with_calls(options(), link),
            ims,
            sip,
        }
    }

    /// The gateway's SIP UDP address (for INVITEs from the IMS side).
    pub fn sip_udp(&self) -> SocketAddr {
        self.sip.udp.unwrap()
    }

    /// The IMS peer's end of the gateway's outbound connection.
    pub async fn accept(&self) -> ImsPeer {
        let (sock, _) = tokio::time::timeout(Duration::from_secs(5), self.ims.accept())
            .await
            .unwrap()
            .unwrap();
        ImsPeer {
            sock,
            framer: StreamFramer::new(65_535),
        }
    }
}

/// The far end of the gateway's TCP connection toward the IMS.
pub struct ImsPeer {
    sock: TcpStream,
    framer: StreamFramer,
}

impl ImsPeer {
    /// The next SIP request the gateway sends (at most 5 s).
    pub async fn request(&mut self) -> SipRequest<'static> {
        let mut buf = [0u8; 8192];
        loop {
            if let Some(Frame::Message(bytes)) = self.framer.next_frame().unwrap() {
                match Message::parse(&bytes).unwrap().into_owned() {
                    Message::Request(r) => return r,
                    Message::Response(_) => continue,
                }
            }
            let n = tokio::time::timeout(Duration::from_secs(5), self.sock.read(&mut buf))
                .await
                .unwrap()
                .unwrap();
            assert!(n > 0, "the gateway closed the connection");
            self.framer.push(&buf[..n]);
        }
    }

    /// Answers `req` with `status`, with the IMS answer SDP on a 200 to an INVITE.
    pub async fn respond(&mut self, req: &SipRequest<'_>, status: u16, sdp: bool) {
        let mut resp = response_to(req, status, Some(b"ims"));
        if status < 300 {
            resp.add_header("Contact", "<sip:far@127.0.0.1>");
        }
        if sdp {
            resp.set_body("application/sdp", IMS_ANSWER.as_bytes().to_vec());
        }
        self.sock.write_all(&resp.to_bytes()).await.unwrap();
    }
}

/// One request through the router: status and JSON body (`Null` when empty).
pub async fn call(
    app: &Router,
    method: Method,
    uri: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let req = match body {
        Some(b) => req
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(b.to_string())),
        None => req.body(Body::empty()),
    }
    .unwrap();
    json_response(app.clone().oneshot(req).await.unwrap()).await
}

/// A response's status and JSON body (`Null` when empty or not JSON).
pub async fn json_response(resp: Response) -> (StatusCode, Value) {
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// GET `uri` with `token`: status and JSON body.
pub async fn get(app: &Router, uri: &str, token: Option<&str>) -> (StatusCode, Value) {
    call(app, Method::GET, uri, token, &[], None).await
}

/// DELETE `uri` with `token`: status and JSON body.
pub async fn delete(app: &Router, uri: &str, token: Option<&str>) -> (StatusCode, Value) {
    call(app, Method::DELETE, uri, token, &[], None).await
}

/// Creates a call from `from` to `to` on registration `reg`: status and the session.
pub async fn create(
    app: &Router,
    token: &str,
    reg: &str,
    from: &str,
    to: &str,
) -> (StatusCode, Value) {
    call(
        app,
        Method::POST,
        CALLS,
        Some(token),
        &[("registrationId", reg)],
        Some(new_session(from, to)),
    )
    .await
}

/// A dev token for `number`.
pub async fn token(app: &Router, number: &str) -> String {
    let (status, body) = call(
        app,
        Method::POST,
        "/dev/token",
        None,
        &[],
        Some(json!({ "phoneNumber": number })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["access_token"].as_str().unwrap().to_owned()
}

/// Registers `device` for the token's number; returns the registrationId.
pub async fn register(app: &Router, token: &str, device: &str) -> String {
    let (status, body) = call(
        app,
        Method::POST,
        REG,
        Some(token),
        &[],
        Some(json!({ "deviceId": device })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["registrationId"].as_str().unwrap().to_owned()
}

/// A create body from `from` to `to`.
pub fn new_session(from: &str, to: &str) -> Value {
    json!({
        "originatorAddress": from,
        "receiverAddress": to,
        "offer": { "sdp": OFFER },
    })
}

/// Waits (at most 5 s) until GET shows `status`; returns the session.
pub async fn wait_status(app: &Router, token: &str, id: &str, status: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let (code, body) = call(
            app,
            Method::GET,
            &format!("{CALLS}/{id}"),
            Some(token),
            &[],
            None,
        )
        .await;
        assert_eq!(code, StatusCode::OK, "{body}");
        if body["status"] == status {
            return body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still {} instead of {status}",
            body["status"]
        );
        // The event that changes the status is in flight through the link task.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The CAMARA error code of an answer.
pub fn code(body: &Value) -> Option<&str> {
    body["code"].as_str()
}

/// Serves `app` on a loopback port.
pub async fn serve(app: Router) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// The call core's event: `call` now has `status`.
pub fn status(call: u64, status: CamaraStatus) -> GatewayEvent {
    GatewayEvent::Call(CallEvent::Status {
        call: CallId(call),
        status,
        reason: None,
        sdp: None,
    })
}

/// The call core's event: an IMS call `call` to +15550001 from +15557777 with `offer`.
pub fn incoming(call: u64, offer: &str) -> GatewayEvent {
    GatewayEvent::Call(CallEvent::Incoming {
        call: CallId(call),
        from: "+15557777".into(),
        to: "+15550001".into(),
        offer: offer.into(),
    })
}

/// A test task in the call core's place: the link's channels, with the test holding the
/// core's ends.
pub struct FakeCore {
    pub commands: tokio::sync::mpsc::Receiver<sip_proxy::gateway::GatewayCommand>,
    pub events: tokio::sync::mpsc::Sender<sip_proxy::gateway::GatewayEvent>,
}

impl FakeCore {
    pub fn start() -> (CallLink, FakeCore) {
        let (commands_tx, commands) = tokio::sync::mpsc::channel(64);
        let (events, events_rx) = tokio::sync::mpsc::channel(64);
        (
            CallLink::start(commands_tx, events_rx),
            FakeCore { commands, events },
        )
    }

    /// The next call command (registration commands skipped), at most 5 s.
    pub async fn next_call(&mut self) -> (u64, sip_proxy::call::Command) {
        loop {
            let cmd = tokio::time::timeout(Duration::from_secs(5), self.commands.recv())
                .await
                .expect("a command within 5 s")
                .unwrap();
            if let sip_proxy::gateway::GatewayCommand::Call { id, command } = cmd {
                return (id, command);
            }
        }
    }

    /// Answers command `id` with `Ok`.
    pub async fn ok(&self, id: u64) {
        self.send(sip_proxy::gateway::GatewayEvent::CallResult { id, result: Ok(()) })
            .await;
    }

    pub async fn send(&self, event: sip_proxy::gateway::GatewayEvent) {
        self.events.send(event).await.unwrap();
    }
}
