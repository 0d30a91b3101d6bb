//! A non-browser web client of the running gateway, shared by the end-to-end tests
//! (tests/e2e_*.rs): the JSON API over reqwest (dev token, registration, calls), the
//! WebSocket notification channel over tokio-tungstenite (CloudEvents in order,
//! `channelseq` checked), and webrtc-rs's `RTCPeerConnection` as the browser, with one
//! PCMU track whose RTP payloads are compared with what comes back.
//!
//! Every wait is on an event (an HTTP answer, a WebSocket frame, a connection state, a
//! received RTP packet) under a guard deadline that only bounds a failure.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)] // each test file uses a part

pub mod sipp;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use webrtc::api::media_engine::{MediaEngine, MIME_TYPE_PCMU};
use webrtc::api::setting_engine::SettingEngine;
use webrtc::api::APIBuilder;
use webrtc::ice::mdns::MulticastDnsMode;
use webrtc::ice::network_type::NetworkType;
use webrtc::peer_connection::configuration::RTCConfiguration;
use webrtc::peer_connection::peer_connection_state::RTCPeerConnectionState;
use webrtc::peer_connection::sdp::session_description::RTCSessionDescription;
use webrtc::peer_connection::RTCPeerConnection;
use webrtc::rtp_transceiver::rtp_codec::RTCRtpCodecCapability;
use webrtc::track::track_local::track_local_static_rtp::TrackLocalStaticRTP;
use webrtc::track::track_local::TrackLocalWriter;

/// The bound on any single wait of these tests (a failure guard, never a pacing).
pub const GUARD: Duration = Duration::from_secs(20);

pub const EVENT_PREFIX: &str = "org.camaraproject.webrtc-events.v0.";

/// A user of the JSON API: its dev token, number and registration.
pub struct ApiUser {
    http: reqwest::Client,
    base: String,
    token: String,
    pub number: String,
    pub device: String,
    pub registration: String,
}

impl ApiUser {
    /// Gets a dev token for `number` and registers `device` at `api` (host:port).
    pub async fn register(api: std::net::SocketAddr, number: &str, device: &str) -> ApiUser {
        let http = reqwest::Client::new();
        let base = format!("http://{api}");
        let r = http
            .post(format!("{base}/dev/token"))
            .json(&json!({"phoneNumber": number}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "POST /dev/token");
        let t: Value = r.json().await.unwrap();
        assert_eq!(t["token_type"], "Bearer");
        let token = t["access_token"].as_str().unwrap().to_owned();
        let r = http
            .post(format!("{base}/webrtc-registration/v0.3/sessions"))
            .bearer_auth(&token)
            .json(&json!({"deviceId": device}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "POST registration");
        let reg: Value = r.json().await.unwrap();
        assert_eq!(reg["regInfo"]["phoneNumber"], number, "{reg}");
        assert_eq!(reg["regInfo"]["regStatus"], "Registered", "{reg}");
        ApiUser {
            http,
            base,
            token,
            number: number.to_owned(),
            device: device.to_owned(),
            registration: reg["registrationId"].as_str().unwrap().to_owned(),
        }
    }

    /// Opens a WebSocket notification channel for the device and connects to it.
    pub async fn channel(&self) -> Channel {
        let r = self
            .http
            .post(format!(
                "{}/notificationchannel/v0.1/{}/channels",
                self.base, self.device
            ))
            .bearer_auth(&self.token)
            .json(&json!({"channelType": "WebSockets"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "POST channel");
        let ch: Value = r.json().await.unwrap();
        let url = ch["channelData"]["channelURL"].as_str().unwrap();
        assert!(url.starts_with("ws://"), "{url}");
        let (ws, _) =
            tokio_tungstenite::connect_async(format!("{url}?access_token={}", self.token))
                .await
                .expect("the WebSocket upgrade succeeds");
        Channel { ws, last_seq: 0 }
    }

    /// Places a call to `receiver` (`tel:+…`) with `offer`; returns the mediaSessionId.
    pub async fn call(&self, receiver: &str, offer: &str) -> String {
        let r = self
            .http
            .post(format!("{}/webrtc-call-handling/v0.3/sessions", self.base))
            .bearer_auth(&self.token)
            .header("registrationId", &self.registration)
            .json(&json!({
                "originatorAddress": format!("tel:{}", self.number),
                "receiverAddress": receiver,
                "offer": {"sdp": offer},
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "POST call");
        let s: Value = r.json().await.unwrap();
        assert_eq!(s["status"], "Initial", "{s}");
        s["mediaSessionId"].as_str().unwrap().to_owned()
    }

    /// GET of a media session.
    pub async fn session(&self, id: &str) -> Value {
        let r = self
            .http
            .get(format!(
                "{}/webrtc-call-handling/v0.3/sessions/{id}",
                self.base
            ))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "GET session");
        r.json().await.unwrap()
    }

    /// PUT …/status with `body` (`{status, answer?}`); asserts 200.
    pub async fn put_status(&self, id: &str, body: Value) -> Value {
        let r = self
            .http
            .put(format!(
                "{}/webrtc-call-handling/v0.3/sessions/{id}/status",
                self.base
            ))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "PUT status {body}");
        r.json().await.unwrap()
    }

    /// PUT …/status Connected with `answer` (answering an incoming call).
    pub async fn answer(&self, id: &str, answer: &str) -> Value {
        self.put_status(
            id,
            json!({"status": "Connected", "answer": {"sdp": answer}}),
        )
        .await
    }

    /// DELETE of a media session (hang up).
    pub async fn hang_up(&self, id: &str) {
        let r = self
            .http
            .delete(format!(
                "{}/webrtc-call-handling/v0.3/sessions/{id}",
                self.base
            ))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204, "DELETE session");
    }
}

/// The notification channel: CloudEvents, one per text frame, `channelseq` from 1.
pub struct Channel {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    last_seq: u64,
}

impl Channel {
    /// The next CloudEvent (answering pings), checking `channelseq` counts up by one.
    pub async fn next_event(&mut self) -> Value {
        let next = async {
            loop {
                match self.ws.next().await {
                    Some(Ok(Message::Text(t))) => {
                        let v: Value = serde_json::from_str(&t).unwrap();
                        if v.get("specversion").is_some() {
                            return v;
                        }
                    }
                    Some(Ok(Message::Ping(p))) => self.ws.send(Message::Pong(p)).await.unwrap(),
                    Some(Ok(_)) => {}
                    other => panic!("the channel closed: {other:?}"),
                }
            }
        };
        let ev = tokio::time::timeout(GUARD, next)
            .await
            .expect("an event within the guard time");
        let seq = ev["channelseq"].as_u64().unwrap();
        assert_eq!(seq, self.last_seq + 1, "channelseq counts up: {ev}");
        self.last_seq = seq;
        assert_eq!(ev["specversion"], "1.0");
        ev
    }

    /// The next event, which must be of `kind` (`session-status`, …) for `session`.
    pub async fn expect(&mut self, kind: &str, session: Option<&str>) -> Value {
        let ev = self.next_event().await;
        assert_eq!(ev["type"], format!("{EVENT_PREFIX}{kind}"), "{ev}");
        if let Some(id) = session {
            assert_eq!(ev["data"]["mediaSessionId"], id, "{ev}");
        }
        ev
    }
}

/// The "browser": an RTCPeerConnection on loopback only, one PCMU track, what it hears.
pub struct Browser {
    pub pc: Arc<RTCPeerConnection>,
    pub track: Arc<TrackLocalStaticRTP>,
    heard: mpsc::UnboundedReceiver<Vec<u8>>,
    state: mpsc::UnboundedReceiver<RTCPeerConnectionState>,
    connected: bool,
    seq: u16,
}

impl Browser {
    pub async fn new() -> Browser {
        let mut media = MediaEngine::default();
        media.register_default_codecs().unwrap();
        let mut settings = SettingEngine::default();
        settings.set_include_loopback_candidate(true);
        settings.set_interface_filter(Box::new(|name: &str| name == "lo"));
        settings.set_network_types(vec![NetworkType::Udp4]);
        settings.set_ice_multicast_dns_mode(MulticastDnsMode::Disabled);
        let api = APIBuilder::new()
            .with_media_engine(media)
            .with_setting_engine(settings)
            .build();
        let pc = Arc::new(
            api.new_peer_connection(RTCConfiguration::default())
                .await
                .unwrap(),
        );
        let track = Arc::new(TrackLocalStaticRTP::new(
            RTCRtpCodecCapability {
                mime_type: MIME_TYPE_PCMU.to_owned(),
                clock_rate: 8000,
                channels: 1,
                ..Default::default()
            },
            "e2e-audio".to_owned(),
            "e2e".to_owned(),
        ));
        pc.add_track(track.clone()).await.unwrap();
        let (heard_tx, heard) = mpsc::unbounded_channel::<Vec<u8>>();
        pc.on_track(Box::new(move |remote, _, _| {
            let heard_tx = heard_tx.clone();
            Box::pin(async move {
                while let Ok((packet, _)) = remote.read_rtp().await {
                    if heard_tx.send(packet.payload.to_vec()).is_err() {
                        break;
                    }
                }
            })
        }));
        let (state_tx, state) = mpsc::unbounded_channel();
        pc.on_peer_connection_state_change(Box::new(move |s| {
            let _ = state_tx.send(s);
            Box::pin(async {})
        }));
        Browser {
            pc,
            track,
            heard,
            state,
            connected: false,
            seq: 0,
        }
    }

    /// Creates the offer with every candidate gathered (no trickle) and sets it.
    pub async fn offer(&self) -> String {
        let offer = self.pc.create_offer(None).await.unwrap();
        let mut gathered = self.pc.gathering_complete_promise().await;
        self.pc.set_local_description(offer).await.unwrap();
        let _ = gathered.recv().await;
        self.pc.local_description().await.unwrap().sdp
    }

    pub async fn accept_answer(&self, sdp: &str) {
        let answer = RTCSessionDescription::answer(sdp.to_owned()).unwrap();
        self.pc.set_remote_description(answer).await.unwrap();
    }

    /// Takes the gateway's offer and returns the browser's answer, candidates gathered.
    pub async fn answer(&self, offer: &str) -> String {
        let offer = RTCSessionDescription::offer(offer.to_owned()).unwrap();
        self.pc.set_remote_description(offer).await.unwrap();
        let answer = self.pc.create_answer(None).await.unwrap();
        let mut gathered = self.pc.gathering_complete_promise().await;
        self.pc.set_local_description(answer).await.unwrap();
        let _ = gathered.recv().await;
        self.pc.local_description().await.unwrap().sdp
    }

    /// Sends a PCMU packet every 20 ms, each with its own payload, until the peer
    /// connection is connected (ICE + DTLS-SRTP done) and `wanted` packets came back with
    /// payloads identical to ones sent. Returns how many packets were sent.
    pub async fn echo_check(&mut self, wanted: usize) -> usize {
        let mut sent: HashSet<Vec<u8>> = HashSet::new();
        let mut matched = 0;
        let run = async {
            let mut ptime = tokio::time::interval(Duration::from_millis(20));
            while !(self.connected && matched >= wanted) {
                tokio::select! {
                    s = self.state.recv() => match s.expect("peer connection alive") {
                        RTCPeerConnectionState::Connected => self.connected = true,
                        s @ (RTCPeerConnectionState::Failed | RTCPeerConnectionState::Closed) => {
                            panic!("ICE/DTLS with the gateway: {s}")
                        }
                        _ => {}
                    },
                    Some(p) = self.heard.recv() => {
                        assert!(sent.contains(&p), "a payload that was never sent came back: {p:02x?}");
                        matched += 1;
                    }
                    _ = ptime.tick() => {
                        self.seq = self.seq.wrapping_add(1);
                        let payload = payload(self.seq);
                        // webrtc-rs drops writes until its SRTP is up.
                        let _ = self.track.write(&rtp(0x0e2e_0001, self.seq, &payload)).await;
                        sent.insert(payload);
                    }
                }
            }
            sent.len()
        };
        match tokio::time::timeout(GUARD, run).await {
            Ok(n) => n,
            Err(_) => panic!(
                "no echo within {GUARD:?}: connected {}, {matched} of {wanted} back",
                self.connected
            ),
        }
    }

    pub async fn close(self) {
        self.pc.close().await.unwrap();
    }
}

/// 160 bytes of PCMU (20 ms), unique per sequence number.
fn payload(seq: u16) -> Vec<u8> {
    let mut p = b"e2e-".to_vec();
    p.extend_from_slice(&seq.to_be_bytes());
    p.resize(160, 0xd5);
    p[6..].iter_mut().enumerate().for_each(|(i, b)| {
        *b ^= (i as u8).wrapping_mul(seq as u8);
    });
    p
}

fn rtp(ssrc: u32, seq: u16, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, 0x00];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(payload);
    p
}
