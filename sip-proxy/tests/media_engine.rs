//! The media engine behind the call core's `MediaControl`: allocation, release, port
//! exhaustion and quarantine through the trait, and one real call's media with the
//! engine driven directly (no SIP): webrtc-rs's `RTCPeerConnection` is the browser, a
//! UDP socket on loopback is the IMS far end, and the SDP between them goes through the
//! `sdp` interworking functions exactly as the call core uses them (MO: browser offer →
//! `offer_to_ims`, IMS answer → `answer_from_ims` → `Negotiated` → `update`). The same
//! call runs on a per-call web port (`WebPorts::PerCall`) on epoll and io_uring.
//!
//! ```text
//!  RTCPeerConnection ◄─ICE-lite + DTLS-SRTP─► MediaEngine worker (web port) ◄─SRTP/RTP─► IMS socket
//!                                  MediaEvents: IceConnected, DtlsConnected
//! ```
//!
//! Every wait is on an event (engine events, datagrams, the browser's track) under one
//! guard deadline; media is sent every 20 ms, as RTP is, until the other side saw it.
#![allow(clippy::unwrap_used)]

mod media_harness;
#[path = "../../media-plane/tests/webrtc_browser/mod.rs"]
mod webrtc_browser;

use std::net::{SocketAddr, UdpSocket as StdUdpSocket};
use std::time::Duration;

use media_harness::{free_even_port, ims_answer, locals};
use media_plane::datapath::backend::io_uring_available;
use media_plane::datapath::{Backend, BackendKind};
use media_plane::rtp::RtpHeader;
use media_plane::srtp::{SrtpConfig, SrtpContext, SrtpSuite};
use sip_proxy::media::{MediaControl, MediaError, MediaEvent, MediaSessionId};
use sip_proxy::media_engine::{MediaEngine, MediaEngineConfig, MediaEvents, WebPorts};
use sip_proxy::sdp::interwork::{answer_from_ims, answer_to_ims, offer_from_ims, offer_to_ims};
use sip_proxy::sdp::{
    CryptoSuite, ImsSecurity, SessionDescription, Setup, TelephoneEvent, WebrtcLocal,
};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use webrtc::dtls_transport::dtls_role::DTLSRole;
use webrtc::ice_transport::ice_connection_state::RTCIceConnectionState;
use webrtc::peer_connection::offer_answer_options::RTCOfferOptions;
use webrtc::peer_connection::sdp::session_description::RTCSessionDescription;
use webrtc::track::track_local::track_local_static_rtp::TrackLocalStaticRTP;
use webrtc::track::track_local::TrackLocalWriter;
use webrtc_browser::{browser, browser_answering_as, heard, local_offer, rtp};

const GUARD: Duration = Duration::from_secs(20);
const FROM_BROWSER: &[u8] = b"browser->IMS PCMU payload";
const FROM_IMS: &[u8] = b"IMS->browser PCMU payload";

fn config(backend: Backend, ports: std::ops::RangeInclusive<u16>) -> MediaEngineConfig {
    MediaEngineConfig {
        backend,
        ims_ports: ports,
        ..MediaEngineConfig::default()
    }
}

async fn engine(cfg: MediaEngineConfig) -> (MediaEngine, MediaEvents) {
    MediaEngine::start(cfg, tokio::runtime::Handle::current()).expect("engine starts")
}

async fn stop(engine: MediaEngine) {
    let stats = tokio::task::spawn_blocking(move || engine.shutdown())
        .await
        .expect("join");
    for s in stats {
        s.expect("backend thread ends cleanly");
    }
}

// ─── allocation through the trait ───────────────────────────────────────────────────────

#[tokio::test]
async fn allocate_gives_fresh_credentials_keys_and_the_workers_address() {
    let mut cfg = config(Backend::Epoll, 41_000..=41_003);
    cfg.workers = 2;
    let (mut e, _events) = engine(cfg).await;
    let web = e.web_addresses();
    assert_eq!(web.len(), 2);
    let a = e.allocate(MediaSessionId(1)).unwrap();
    let b = e.allocate(MediaSessionId(2)).unwrap();
    assert_eq!(a.ice_ufrag.len(), 8, "RFC 8445 §5.3: ≥ 24 bits");
    assert_eq!(a.ice_pwd.len(), 24, "RFC 8445 §5.3: ≥ 128 bits");
    assert_ne!(a.ice_ufrag, b.ice_ufrag);
    assert_ne!(a.ice_pwd, b.ice_pwd);
    assert_eq!(a.fingerprint.hash, "sha-256");
    assert_eq!(
        format!("{} {}", a.fingerprint.hash, a.fingerprint.value),
        e.fingerprint()
    );
    assert_eq!(
        (a.webrtc_address, b.webrtc_address),
        (web[0], web[1]),
        "round robin over the workers"
    );
    let port = a.webrtc_address.port();
    assert!(
        a.candidates[0].ends_with(&format!("127.0.0.1 {port} typ host")),
        "{:?}",
        a.candidates
    );
    assert_eq!(a.ims_address, "127.0.0.1:41000".parse().unwrap());
    assert_eq!(b.ims_address, "127.0.0.1:41002".parse().unwrap());
    assert_eq!(
        a.sdes_keys[0].0,
        CryptoSuite::AesCm128HmacSha1_80,
        "offered first"
    );
    assert_eq!(
        a.sdes_keys[0].1.len(),
        40,
        "base64 of a 30-octet key ‖ salt"
    );
    assert_ne!(a.sdes_keys, b.sdes_keys);

    let r = e.restart_webrtc(MediaSessionId(1)).unwrap();
    assert_ne!(
        r.ice_ufrag, a.ice_ufrag,
        "a restart brings new ICE credentials"
    );
    assert_eq!(r.ims_address, a.ims_address, "the IMS leg is untouched");
    assert_eq!(r.sdes_keys, a.sdes_keys);
    assert_eq!(
        e.send_dtmf(MediaSessionId(1), '5', 100),
        Err(MediaError::Refused("media not negotiated yet".into())),
        "no DTMF before the call's media is installed"
    );
    stop(e).await;
}

#[tokio::test]
async fn exhaustion_release_and_quarantine() {
    let mut cfg = config(Backend::Epoll, 41_010..=41_013);
    cfg.quarantine = Duration::from_secs(3600);
    let (mut e, _events) = engine(cfg).await;
    e.allocate(MediaSessionId(1)).unwrap();
    e.allocate(MediaSessionId(2)).unwrap();
    let full = e.allocate(MediaSessionId(3));
    assert_eq!(full, Err(MediaError::PortsExhausted));
    assert_eq!(full.unwrap_err().sip_status(), 503);
    e.release(MediaSessionId(1));
    e.release(MediaSessionId(1)); // idempotent
    e.release(MediaSessionId(99)); // never allocated
    assert_eq!(e.sessions(), 1);
    assert_eq!(
        e.allocate(MediaSessionId(3)),
        Err(MediaError::PortsExhausted),
        "a released port rests in quarantine"
    );
    assert_eq!(
        e.send_dtmf(MediaSessionId(1), '1', 100),
        Err(MediaError::UnknownSession)
    );
    assert_eq!(
        e.restart_webrtc(MediaSessionId(1)),
        Err(MediaError::UnknownSession)
    );
    stop(e).await;
}

#[tokio::test]
async fn without_quarantine_a_released_port_is_reused() {
    let mut cfg = config(Backend::Epoll, 41_020..=41_021);
    cfg.quarantine = Duration::ZERO;
    cfg.ims_srtp = false;
    let (mut e, _events) = engine(cfg).await;
    let a = e.allocate(MediaSessionId(1)).unwrap();
    assert!(a.sdes_keys.is_empty(), "plain RTP toward IMS");
    assert_eq!(
        e.allocate(MediaSessionId(2)),
        Err(MediaError::PortsExhausted)
    );
    e.release(MediaSessionId(1));
    let b = e.allocate(MediaSessionId(2)).unwrap();
    assert_eq!(b.ims_address, a.ims_address);
    stop(e).await;
}

#[tokio::test]
async fn workers_take_consecutive_web_ports() {
    // A free pair of ports: retried, since another process may take one meanwhile.
    for _ in 0..20 {
        let p = StdUdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if p == u16::MAX {
            continue;
        }
        let mut cfg = config(Backend::Epoll, 41_040..=41_041);
        cfg.workers = 2;
        cfg.web_listen = SocketAddr::from(([127, 0, 0, 1], p));
        let Ok((e, _events)) = MediaEngine::start(cfg, tokio::runtime::Handle::current()) else {
            continue;
        };
        let ports: Vec<u16> = e.web_addresses().iter().map(|a| a.port()).collect();
        assert_eq!(ports, [p, p + 1]);
        stop(e).await;
        return;
    }
    panic!("no two consecutive free ports");
}

#[tokio::test]
async fn web_ports_inside_the_ims_range_are_refused_at_start() {
    let mut cfg = config(Backend::Epoll, 41_050..=41_059);
    cfg.workers = 2;
    cfg.web_listen = "127.0.0.1:41049".parse().unwrap();
    assert!(MediaEngine::start(cfg, tokio::runtime::Handle::current()).is_err());
}

#[tokio::test]
async fn a_wildcard_ims_address_is_refused_at_start() {
    let mut cfg = config(Backend::Epoll, 41_030..=41_031);
    cfg.ims_ip = "0.0.0.0".parse().unwrap();
    let r = MediaEngine::start(cfg, tokio::runtime::Handle::current());
    assert!(r.is_err());
}

#[tokio::test]
async fn per_call_web_ports_exhaust_cleanly_and_come_back() {
    let mut cfg = config(Backend::Epoll, 41_060..=41_069);
    cfg.web_ports = WebPorts::PerCall(41_070..=41_071);
    cfg.quarantine = Duration::ZERO;
    let (mut e, _events) = engine(cfg).await;
    let shared = e.web_addresses()[0];
    let a1 = e.allocate(MediaSessionId(1)).unwrap();
    let a2 = e.allocate(MediaSessionId(2)).unwrap();
    let ports = [a1.webrtc_address.port(), a2.webrtc_address.port()];
    assert_eq!(ports, [41_070, 41_071], "odd ports too");
    assert_eq!(a1.webrtc_address.ip(), shared.ip());
    assert!(
        a1.candidates[0].contains(" 41070 typ host"),
        "{:?}",
        a1.candidates
    );
    let full = e.allocate(MediaSessionId(3));
    assert_eq!(full, Err(MediaError::PortsExhausted));
    assert_eq!(full.unwrap_err().sip_status(), 503);
    assert_eq!(e.sessions(), 2, "the refused call holds nothing");
    e.release(MediaSessionId(1));
    let a3 = e.allocate(MediaSessionId(3)).unwrap();
    assert_eq!(a3.webrtc_address.port(), 41_070, "released, no quarantine");
    stop(e).await;
}

#[tokio::test]
async fn per_call_web_ports_overlapping_the_ims_range_are_refused_at_start() {
    let mut cfg = config(Backend::Epoll, 41_080..=41_089);
    cfg.web_ports = WebPorts::PerCall(41_089..=41_095);
    assert!(MediaEngine::start(cfg, tokio::runtime::Handle::current()).is_err());
}

// ─── one real call ──────────────────────────────────────────────────────────────────────

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn b64_encode(data: &[u8]) -> String {
    let mut out = String::new();
    for c in data.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            out.push(if i <= c.len() {
                char::from(B64[((n >> (18 - 6 * i)) & 0x3f) as usize])
            } else {
                '='
            });
        }
    }
    out
}

fn b64_decode(s: &str) -> Vec<u8> {
    let (mut acc, mut bits, mut out) = (0u32, 0, Vec::new());
    for c in s.trim_end_matches('=').bytes() {
        acc = (acc << 6) | B64.iter().position(|&b| b == c).unwrap() as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

/// What the test saw.
#[derive(Debug, Default, Clone, Copy)]
struct Seen {
    ice: bool,
    dtls: bool,
    at_ims: bool,
    at_browser: bool,
}

/// The IMS far end: its socket, its SRTP (reads with the gateway's key, writes with its
/// own) and the gateway's IMS address.
struct Ims {
    peer: UdpSocket,
    srtp: Option<(SrtpContext, SrtpContext)>,
    gateway: SocketAddr,
    /// Sequence number of the next packets both ways (never reused: SRTP replay checks).
    seq: u16,
}

/// Sends media both ways every 20 ms until each side heard the other (only the IMS side
/// unless `to_browser`; and, unless already seen, ICE and DTLS connected on the engine's
/// events).
async fn exchange(
    events: &mut MediaEvents,
    track: &TrackLocalStaticRTP,
    heard: &mut mpsc::UnboundedReceiver<Vec<u8>>,
    ims: &mut Ims,
    mut seen: Seen,
    to_browser: bool,
    label: &str,
) {
    seen.at_ims = false;
    seen.at_browser = !to_browser;
    while heard.try_recv().is_ok() {}
    let run = async {
        let mut ptime = tokio::time::interval(Duration::from_millis(20));
        let mut buf = [0u8; 1500];
        while !(seen.ice && seen.dtls && seen.at_ims && seen.at_browser) {
            tokio::select! {
                e = events.recv() => match e.expect("engine alive") {
                    MediaEvent::IceConnected(MediaSessionId(7)) => seen.ice = true,
                    MediaEvent::DtlsConnected(MediaSessionId(7)) => {
                        assert!(seen.ice, "DTLS before ICE");
                        seen.dtls = true;
                    }
                    // Before DTLS the web leg is silent by definition: on a host loaded
                    // enough that ICE + DTLS take longer than the inactivity timeout, the
                    // engine rightly says so (once; media flowing re-arms it).
                    MediaEvent::MediaTimeout(MediaSessionId(7)) if !seen.dtls => {}
                    other => panic!("{label}: unexpected {other:?}"),
                },
                r = ims.peer.recv_from(&mut buf) => {
                    let (mut n, from) = r.unwrap();
                    assert_eq!(from, ims.gateway, "from the call's IMS port");
                    if let Some((read, _)) = ims.srtp.as_mut() {
                        n = read.unprotect_rtp(&mut buf, n).expect("SRTP with the gateway's SDES key");
                    }
                    let h = RtpHeader::parse(&buf[..n]).expect("RTP on the IMS leg");
                    assert_eq!(h.payload(), FROM_BROWSER, "payload the IMS peer read");
                    assert_eq!(h.payload_type(), 0, "PCMU");
                    seen.at_ims = true;
                }
                Some(p) = heard.recv() => {
                    assert_eq!(p, FROM_IMS, "payload the browser's on_track read");
                    seen.at_browser = true;
                }
                _ = ptime.tick() => {
                    ims.seq = ims.seq.wrapping_add(1);
                    let seq = ims.seq;
                    // webrtc-rs drops writes until its SRTP is up.
                    let _ = track.write(&rtp(0x1234_5678, seq, FROM_BROWSER)).await;
                    if seen.dtls {
                        let mut p = rtp(0xcafe_f00d, seq, FROM_IMS);
                        if let Some((_, write)) = ims.srtp.as_mut() {
                            let len = p.len();
                            p.resize(len + 16, 0);
                            let n = write.protect_rtp(&mut p, len).unwrap();
                            p.truncate(n);
                        }
                        ims.peer.send_to(&p, ims.gateway).await.unwrap();
                    }
                }
            }
        }
    };
    if tokio::time::timeout(GUARD, run).await.is_err() {
        panic!("{label}: media did not flow both ways: {seen:?}");
    }
}

/// The call core's "send DTMF": the IMS peer receives digit 5 for 60 ms as RFC 4733
/// telephone-events on PT 101 in place of the browser's audio (one timestamp, marker on
/// the first, three end packets with the full 480 units), then audio again.
async fn dtmf_reaches_ims(
    engine: &mut MediaEngine,
    id: MediaSessionId,
    track: &TrackLocalStaticRTP,
    ims: &mut Ims,
) {
    engine.send_dtmf(id, '5', 60).unwrap();
    let run = async {
        let mut ptime = tokio::time::interval(Duration::from_millis(20));
        let mut buf = [0u8; 1500];
        let mut events: Vec<(bool, u32, Vec<u8>)> = Vec::new();
        loop {
            tokio::select! {
                r = ims.peer.recv_from(&mut buf) => {
                    let (mut n, _) = r.unwrap();
                    if let Some((read, _)) = ims.srtp.as_mut() {
                        n = read.unprotect_rtp(&mut buf, n).expect("SRTP with the gateway's SDES key");
                    }
                    let h = RtpHeader::parse(&buf[..n]).expect("RTP on the IMS leg");
                    match h.payload_type() {
                        101 => events.push((h.marker(), h.timestamp(), h.payload().to_vec())),
                        0 if !events.is_empty() => return events,
                        0 => {}
                        other => panic!("PT {other} toward IMS"),
                    }
                }
                _ = ptime.tick() => {
                    ims.seq = ims.seq.wrapping_add(1);
                    let _ = track.write(&rtp(0x1234_5678, ims.seq, FROM_BROWSER)).await;
                }
            }
        }
    };
    let events = tokio::time::timeout(GUARD, run)
        .await
        .expect("the event, then audio, within the guard");
    let durations: Vec<u16> = events
        .iter()
        .map(|(_, _, p)| u16::from_be_bytes([p[2], p[3]]))
        .collect();
    assert_eq!(durations, [160, 320, 480, 480, 480], "{events:?}");
    assert!(
        events[0].0 && events[1..].iter().all(|e| !e.0),
        "marker on the first"
    );
    assert!(events.iter().all(|e| e.1 == events[0].1), "one timestamp");
    assert!(events.iter().all(|e| e.2[0] == 5 && e.2.len() == 4));
    let ends: Vec<bool> = events.iter().map(|e| e.2[1] & 0x80 != 0).collect();
    assert_eq!(ends, [false, false, true, true, true]);
}

/// What a call test does after the set-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Media both ways, then silence from the browser: `MediaTimeout`.
    Media,
    /// The browser's fingerprint is wrong: DTLS fails.
    BadFingerprint,
    /// Media, then a re-INVITE that moves the IMS far end, then a browser ICE restart.
    MoveAndRestart,
    /// As `Media`, with the call's web leg on its own port (`WebPorts::PerCall`).
    PerCall,
}

async fn call(backend: Backend, expect: BackendKind, srtp: bool, mode: Mode, workers: usize) {
    const ID: MediaSessionId = MediaSessionId(7);
    let (pc, track) = browser().await;
    let mut heard_rx = heard(&pc);
    let (state_tx, mut ice_state) = mpsc::unbounded_channel();
    pc.on_ice_connection_state_change(Box::new(move |state| {
        let _ = state_tx.send(state);
        Box::pin(async {})
    }));
    let offer_text = local_offer(&pc, None).await;
    let browser_offer = SessionDescription::parse(&offer_text).unwrap();

    let ims_port = free_even_port();
    let mut cfg = config(backend, ims_port..=ims_port);
    cfg.ims_srtp = srtp;
    cfg.workers = workers;
    cfg.quarantine = Duration::ZERO;
    let per_call = free_port_except(ims_port);
    if mode == Mode::PerCall {
        cfg.web_ports = WebPorts::PerCall(per_call..=per_call);
    }
    let media = matches!(mode, Mode::Media | Mode::PerCall);
    if media {
        // Long enough for ICE and DTLS on a loaded host, short enough to wait for below.
        cfg.inactivity = Duration::from_secs(3);
    }
    let (mut engine, mut events) = engine(cfg).await;
    assert_eq!(engine.backends(), vec![expect; workers]);
    // Earlier calls (allocated and released) move the round robin to the last worker.
    for n in 1..workers {
        engine.allocate(MediaSessionId(100 + n as u64)).unwrap();
        engine.release(MediaSessionId(100 + n as u64));
    }

    // What the call core does for a browser offer (MO), with the engine's allocation.
    let a = engine.allocate(ID).unwrap();
    let shared = engine.web_addresses()[workers - 1];
    if mode == Mode::PerCall {
        assert_eq!(a.webrtc_address, SocketAddr::new(shared.ip(), per_call));
        let port = format!(" {per_call} typ host");
        assert!(a.candidates[0].contains(&port), "{:?}", a.candidates);
    } else {
        assert_eq!(a.webrtc_address, shared);
    }
    let security = if srtp {
        ImsSecurity::Sdes(a.sdes_keys.clone())
    } else {
        ImsSecurity::Rtp
    };
    let (ims_local, webrtc_local) = locals(&a, 1, security);
    let (ims_offer, pending) = offer_to_ims(&browser_offer, &ims_local).unwrap();

    // The IMS far end answers.
    let ims_peer = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let peer_addr = ims_peer.local_addr().unwrap();
    let ims_key: Vec<u8> = (0u8..30).map(|i| i.wrapping_mul(37) ^ 0xa5).collect();
    let ims_key_b64 = b64_encode(&ims_key);
    let answer = ims_answer(&ims_offer, peer_addr, srtp.then_some(ims_key_b64.as_str()));
    // The far end's RTCP port, named in its answer (RFC 3605); our offer named ours.
    let ims_rtcp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let rtcp_addr = ims_rtcp.local_addr().unwrap();
    let ims_rtcp_port = a.ims_address.port() + 1;
    assert!(
        ims_offer
            .to_string()
            .contains(&format!("a=rtcp:{ims_rtcp_port}\r\n")),
        "{ims_offer}"
    );
    let answer = format!("{}\r\na=rtcp:{}\r\n", answer.trim_end(), rtcp_addr.port());
    let answer = SessionDescription::parse(&answer).unwrap();
    let (browser_answer, negotiated) =
        answer_from_ims(&answer, &pending, &ims_local, &webrtc_local).unwrap();
    assert_eq!(negotiated.ims_remote, peer_addr);
    assert_eq!(negotiated.ims_rtcp, Some(rtcp_addr));
    let mut negotiated = negotiated;
    if mode == Mode::Media {
        // As if both sides had offered telephone-event (webrtc-rs does not): IMS on PT 101.
        negotiated.dtmf = Some(TelephoneEvent {
            webrtc_pt: 110,
            webrtc_rate: 8000,
            ims_pt: 101,
            ims_rate: 8000,
        });
    }
    if mode == Mode::BadFingerprint {
        // Not the browser's certificate: the handshake must fail on it (RFC 5763 §5).
        let fp = &mut negotiated.webrtc.fingerprint.value;
        let first = if fp.starts_with('0') { "1" } else { "0" };
        fp.replace_range(..1, first);
    }
    engine.update(ID, &negotiated).unwrap();

    // The IMS peer's SRTP: it protects with its own key and reads with the gateway's.
    let suite = SrtpSuite::AesCm128HmacSha1_80;
    let peer_srtp = srtp.then(|| {
        let ours = b64_decode(&a.sdes_keys[0].1);
        let read = SrtpContext::new(suite, &ours[..16], &ours[16..], SrtpConfig::default());
        let write = SrtpContext::new(suite, &ims_key[..16], &ims_key[16..], SrtpConfig::default());
        (read.unwrap(), write.unwrap())
    });

    let answer_text = browser_answer.to_string();
    pc.set_remote_description(RTCSessionDescription::answer(answer_text.clone()).unwrap())
        .await
        .unwrap_or_else(|e| panic!("answer refused: {e}\n{answer_text}"));

    if mode == Mode::BadFingerprint {
        let reason = tokio::time::timeout(GUARD, async {
            loop {
                match events.recv().await.expect("engine alive") {
                    MediaEvent::IceConnected(ID) => {}
                    MediaEvent::DtlsFailed { id: ID, reason } => return reason,
                    other => panic!("unexpected {other:?}"),
                }
            }
        })
        .await
        .expect("DTLS fails");
        assert!(reason.contains("fingerprint"), "{reason}");
        engine.release(ID);
        stop(engine).await;
        pc.close().await.unwrap();
        return;
    }
    let mut ims = Ims {
        peer: ims_peer,
        srtp: peer_srtp,
        gateway: a.ims_address,
        seq: 0,
    };
    let label = format!("{backend:?} srtp={srtp}");
    exchange(
        &mut events,
        &track,
        &mut heard_rx,
        &mut ims,
        Seen::default(),
        true,
        &label,
    )
    .await;

    if mode == Mode::Media {
        // The gateway's report reaches the far end's a=rtcp port from the IMS port+1: an
        // SR (media went to IMS) from the gateway's SSRC toward IMS, SRTCP with the SDES key.
        let mut buf = [0u8; 1500];
        let (n, from) = tokio::time::timeout(GUARD, ims_rtcp.recv_from(&mut buf))
            .await
            .expect("an RTCP report within the guard")
            .unwrap();
        assert_eq!(from, SocketAddr::new(a.ims_address.ip(), ims_rtcp_port));
        let n = match ims.srtp.as_mut() {
            Some((read, _)) => read.unprotect_rtcp(&mut buf, n).expect("SRTCP, SDES key"),
            None => n,
        };
        assert!(n >= 28 + 12, "SR + SDES: {n} octets");
        assert_eq!((buf[0] >> 6, buf[1]), (2, 200), "an SR");
    }

    if mode == Mode::Media {
        dtmf_reaches_ims(&mut engine, ID, &track, &mut ims).await;
    }

    if media {
        // The browser stops sending (RTCP does not count): its silence ends the call.
        let e = tokio::time::timeout(GUARD, events.recv()).await;
        assert_eq!(e.expect("an event"), Some(MediaEvent::MediaTimeout(ID)));
    }

    if mode == Mode::MoveAndRestart {
        // Hold toward the browser (the gateway held the far end): the browser's media
        // still reaches IMS; resuming brings the far end's media back to the browser.
        let established = Seen {
            ice: true,
            dtls: true,
            ..Seen::default()
        };
        let mut held = negotiated.clone();
        held.flow.to_webrtc = false;
        engine.update(ID, &held).unwrap();
        exchange(
            &mut events,
            &track,
            &mut heard_rx,
            &mut ims,
            established,
            false,
            "held",
        )
        .await;
        engine.update(ID, &negotiated).unwrap();
        exchange(
            &mut events,
            &track,
            &mut heard_rx,
            &mut ims,
            established,
            true,
            "resumed",
        )
        .await;

        // A re-INVITE moves the IMS far end: media follows to the new address.
        let moved = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let mut n2 = negotiated.clone();
        n2.ims_remote = moved.local_addr().unwrap();
        engine.update(ID, &n2).unwrap();
        ims.peer = moved;
        let established = Seen {
            ice: true,
            dtls: true,
            ..Seen::default()
        };
        exchange(
            &mut events,
            &track,
            &mut heard_rx,
            &mut ims,
            established,
            true,
            "moved",
        )
        .await;

        // Browser ICE restart: fresh local credentials, the browser's new ones in the
        // next update; DTLS and the IMS leg stay as they are.
        let r = engine.restart_webrtc(ID).unwrap();
        assert_ne!(r.ice_ufrag, a.ice_ufrag);
        let restart = RTCOfferOptions {
            ice_restart: true,
            ..Default::default()
        };
        let offer_text = local_offer(&pc, Some(restart)).await;
        let offer = SessionDescription::parse(&offer_text).unwrap();
        let webrtc_local = WebrtcLocal {
            ice_ufrag: r.ice_ufrag.clone(),
            ice_pwd: r.ice_pwd.clone(),
            ..webrtc_local
        };
        let (_, pending) = offer_to_ims(&offer, &ims_local).unwrap();
        let (browser_answer, mut n3) =
            answer_from_ims(&answer, &pending, &ims_local, &webrtc_local).unwrap();
        assert_ne!(
            n3.webrtc.ice_ufrag, negotiated.webrtc.ice_ufrag,
            "browser restarted"
        );
        n3.ims_remote = n2.ims_remote;
        engine.update(ID, &n3).unwrap();
        while ice_state.try_recv().is_ok() {}
        let text = browser_answer.to_string();
        pc.set_remote_description(RTCSessionDescription::answer(text).unwrap())
            .await
            .unwrap();
        tokio::time::timeout(GUARD, async {
            loop {
                match ice_state.recv().await.unwrap() {
                    RTCIceConnectionState::Connected => return,
                    RTCIceConnectionState::Failed => panic!("ICE restart failed"),
                    _ => {}
                }
            }
        })
        .await
        .expect("the browser's ICE reconnects with the new credentials");
        // Browser → IMS only: on renegotiation webrtc-rs stops a receiver whose SSRC the
        // new answer does not declare (`start_rtp`), and the gateway's answers carry no
        // a=ssrc, so its track ends here; the gateway → browser direction uses the same
        // latched pair that carries the browser's media.
        exchange(
            &mut events,
            &track,
            &mut heard_rx,
            &mut ims,
            established,
            false,
            "restarted",
        )
        .await;
    }

    engine.release(ID);
    engine.release(ID);
    if mode == Mode::PerCall {
        // The worker closes the call's web socket: the port can be bound again.
        let rebound = tokio::time::timeout(GUARD, async {
            while StdUdpSocket::bind(a.webrtc_address).is_err() {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        });
        rebound
            .await
            .expect("the per-call web port is closed on release");
    }
    assert_eq!(engine.sessions(), 0);
    assert_eq!(engine.events_dropped(), 0);
    let stats = tokio::task::spawn_blocking(move || engine.shutdown())
        .await
        .unwrap();
    let stats = stats.into_iter().last().unwrap().unwrap(); // the call's worker
    assert!(stats.sent > 0 && stats.received > 0, "{stats:?}");
    pc.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn epoll_call_with_sdes_srtp_toward_ims() {
    call(Backend::Epoll, BackendKind::Epoll, true, Mode::Media, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn epoll_call_with_plain_rtp_toward_ims() {
    call(Backend::Epoll, BackendKind::Epoll, false, Mode::Media, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn io_uring_call_with_sdes_srtp_toward_ims_on_the_second_worker() {
    if io_uring_available() {
        call(Backend::IoUring, BackendKind::IoUring, true, Mode::Media, 2).await;
    } else {
        eprintln!("note: io_uring unavailable on this host (probe failed): test skipped");
    }
}

/// A free UDP port on loopback other than `not` (for a one-port per-call web range).
fn free_port_except(not: u16) -> u16 {
    loop {
        let p = StdUdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if p != not {
            return p;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn epoll_call_on_a_per_call_web_port() {
    call(Backend::Epoll, BackendKind::Epoll, true, Mode::PerCall, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn io_uring_call_on_a_per_call_web_port() {
    if io_uring_available() {
        call(
            Backend::IoUring,
            BackendKind::IoUring,
            true,
            Mode::PerCall,
            1,
        )
        .await;
    } else {
        eprintln!("note: io_uring unavailable on this host (probe failed): test skipped");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_browser_fingerprint_ends_in_dtls_failed() {
    call(
        Backend::Epoll,
        BackendKind::Epoll,
        true,
        Mode::BadFingerprint,
        1,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn epoll_call_follows_an_ims_move_and_a_browser_ice_restart() {
    call(
        Backend::Epoll,
        BackendKind::Epoll,
        true,
        Mode::MoveAndRestart,
        1,
    )
    .await;
}

/// The binary puts the engine under the call core behind the gateway's endpoint task.
#[test]
fn the_engine_fits_under_the_gateway_user() {
    fn user<U: sip_proxy::endpoint::TransactionUser + 'static>() {}
    user::<sip_proxy::gateway::GatewayUser<MediaEngine>>();
}

// ─── MT: the IMS side calls the browser ────────────────────────────────────────────────

/// An IMS offer: PCMU from `peer`, SDES with the far end's `key`.
fn ims_offer(peer: SocketAddr, key: &str) -> String {
    [
        "v=0".to_owned(),
        "o=ims 1 1 IN IP4 127.0.0.1".to_owned(),
        "s=-".to_owned(),
        "c=IN IP4 127.0.0.1".to_owned(),
        "t=0 0".to_owned(),
        format!("m=audio {} RTP/SAVP 0", peer.port()),
        format!("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{key}"),
        "a=rtpmap:0 PCMU/8000".to_owned(),
        "a=sendrecv".to_owned(),
        String::new(),
    ]
    .join("\r\n")
}

/// What the call core does for an IMS offer (MT): the gateway offers `actpass` to the
/// browser, and the browser's answer decides the DTLS roles.
async fn mt_call(browser_role: DTLSRole) {
    const ID: MediaSessionId = MediaSessionId(7);
    let (pc, track) = browser_answering_as(Some(browser_role)).await;
    let mut heard_rx = heard(&pc);
    let ims_port = free_even_port();
    let (mut engine, mut events) = engine(config(Backend::Epoll, ims_port..=ims_port)).await;
    let a = engine.allocate(ID).unwrap();
    let (ims_local, webrtc_local) = locals(&a, 2, ImsSecurity::Sdes(a.sdes_keys.clone()));
    let ims_peer = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let ims_key: Vec<u8> = (0u8..30).map(|i| i.wrapping_mul(11) ^ 0x3c).collect();
    let offer = ims_offer(ims_peer.local_addr().unwrap(), &b64_encode(&ims_key));
    let offer = SessionDescription::parse(&offer).unwrap();
    let (browser_offer, pending) = offer_from_ims(&offer, &webrtc_local).unwrap();

    let text = browser_offer.to_string();
    pc.set_remote_description(RTCSessionDescription::offer(text.clone()).unwrap())
        .await
        .unwrap_or_else(|e| panic!("offer refused: {e}\n{text}"));
    let answer = pc.create_answer(None).await.unwrap();
    let mut gathered = pc.gathering_complete_promise().await;
    pc.set_local_description(answer).await.unwrap();
    let _ = gathered.recv().await;
    let answer = pc.local_description().await.unwrap().sdp;
    let answer = SessionDescription::parse(&answer).unwrap();
    let (_ims_answer, negotiated) = answer_to_ims(&answer, &pending, &ims_local).unwrap();
    let expected = match browser_role {
        DTLSRole::Client => Setup::Passive,
        _ => Setup::Active,
    };
    assert_eq!(negotiated.webrtc.local_setup, expected);
    engine.update(ID, &negotiated).unwrap();

    let suite = SrtpSuite::AesCm128HmacSha1_80;
    let (ours, _) = negotiated.ims_srtp.clone().expect("SDES toward IMS");
    let ours = b64_decode(&ours.key_b64);
    let read = SrtpContext::new(suite, &ours[..16], &ours[16..], SrtpConfig::default());
    let write = SrtpContext::new(suite, &ims_key[..16], &ims_key[16..], SrtpConfig::default());
    let mut ims = Ims {
        peer: ims_peer,
        srtp: Some((read.unwrap(), write.unwrap())),
        gateway: a.ims_address,
        seq: 0,
    };
    let label = format!("MT, browser DTLS {browser_role}");
    exchange(
        &mut events,
        &track,
        &mut heard_rx,
        &mut ims,
        Seen::default(),
        true,
        &label,
    )
    .await;
    engine.release(ID);
    stop(engine).await;
    pc.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mt_call_with_the_gateway_as_dtls_server() {
    mt_call(DTLSRole::Client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mt_call_with_the_gateway_as_dtls_client() {
    mt_call(DTLSRole::Server).await;
}
