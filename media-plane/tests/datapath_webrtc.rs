//! The product's data path as a WebRTC leg: webrtc-rs's `RTCPeerConnection` plays the
//! browser, the gateway is a `datapath::Worker` on a socket backend (its shared web
//! port on 127.0.0.1) plus the call's `DtlsSession` driven by `DtlsPort::run` on this
//! test's tokio runtime, exactly as the control plane would run it.
//!
//! ```text
//!  RTCPeerConnection ── STUN ──► web port ─► Worker: IceLiteAgent (reply in place, latch)
//!        ▲ DTLS ◄──────────────► web port ─► Worker ─► DtlsPort::run ─► DtlsSession
//!        │                                   Command::InstallWebKeys ◄── keys
//!        │ SRTP track ─────────► web port ─► Session ─► RTP ─► IMS peer socket (payload compared)
//!        └ on_track ◄─ SRTP ◄─── web port ◄─ Session ◄─ RTP ◄─ IMS peer socket
//! ```
//!
//! Every wait is on an event (worker events, datagrams, the browser's track) under one
//! guard deadline; media is sent every 20 ms, as RTP is, until the other side saw it.

mod webrtc_browser;

use std::net::{SocketAddr, UdpSocket as StdUdpSocket};
use std::time::Duration;

use media_plane::datapath::backend::io_uring_available;
use media_plane::datapath::{
    spawn, Backend, BackendConfig, Command, DtlsEnd, LegConfig, LegCrypto, PtMap, WebRtcLeg,
    Worker, WorkerEvent,
};
use media_plane::dtls::{DtlsCertificate, DtlsParams, DtlsRole, DtlsSession, Fingerprint};
use media_plane::ice::{IceEvent, LocalCredentials, RemoteCredentials};
use media_plane::rtp::RtpHeader;
use media_plane::srtp::{ReOriginator, SrtpSuite};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use webrtc::peer_connection::sdp::session_description::RTCSessionDescription;
use webrtc::track::track_local::TrackLocalWriter;
use webrtc_browser::{answer_sdp, browser, heard, local_offer, parse_offer, rtp, OUR_SSRC};

const GUARD: Duration = Duration::from_secs(20);
const CALL: u64 = 7;
/// The SSRC the gateway re-originates toward the IMS leg.
const IMS_SSRC: u32 = 0x1111_2222;
const FROM_BROWSER: &[u8] = b"browser->IMS PCMU payload";
const FROM_IMS: &[u8] = b"IMS->browser PCMU payload";

/// What the test saw, in order of arrival.
#[derive(Debug, Default)]
struct Seen {
    ready: bool,
    ice_remote: Option<SocketAddr>,
    keys: Option<SrtpSuite>,
    at_ims: bool,
    at_browser: bool,
}

async fn call(backend: Backend, role: DtlsRole) {
    let (pc, track) = browser().await;
    let mut heard_rx = heard(&pc);
    let offer = parse_offer(&local_offer(&pc, None).await);

    // The gateway: a worker on the epoll backend, its web port on loopback.
    let web = StdUdpSocket::bind("127.0.0.1:0").expect("bind web");
    let web_addr = web.local_addr().expect("web addr");
    let (worker, handle) = Worker::new(web_addr.port(), Duration::from_secs(30), 64);
    let cfg = BackendConfig {
        backend,
        ims_ip: "127.0.0.1".parse().expect("literal"),
        ..BackendConfig::default()
    };
    let running = spawn(worker, web, cfg).expect("backend");
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let backend = std::thread::spawn(move || {
        while let Ok(e) = running.events().recv() {
            let _ = events_tx.send(e);
        }
        running.join()
    });

    // The IMS far end: a plain RTP peer.
    let ims_peer = UdpSocket::bind("127.0.0.1:0").await.expect("bind IMS peer");
    let ims_port = StdUdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .expect("free port")
        .port();
    let gateway_ims = SocketAddr::from(([127, 0, 0, 1], ims_port));

    // What the control plane does for an incoming browser offer.
    let creds = LocalCredentials::from_random(&std::array::from_fn(|i| (i as u8) ^ 0x5a));
    let remote_creds = RemoteCredentials::new(&offer.ufrag, &offer.pwd).expect("offer creds");
    let cert = DtlsCertificate::generate().expect("certificate");
    let answer = answer_sdp(&offer, &creds, web_addr, cert.sdp_fingerprint(), role);
    let fingerprint = Fingerprint::parse_sdp(&offer.fingerprint).expect("offer fingerprint");
    let web_leg = LegConfig {
        crypto: LegCrypto::AwaitingDtls,
        remote: None,
        egress_pt: PtMap::default(),
        reoriginator: ReOriginator::new(OUR_SSRC, 1, 0),
    };
    let ims_leg = LegConfig {
        crypto: LegCrypto::Rtp,
        remote: Some(ims_peer.local_addr().expect("IMS peer addr")),
        egress_pt: PtMap::default(),
        reoriginator: ReOriginator::new(IMS_SSRC, 1, 0),
    };
    handle
        .send(Command::Allocate {
            call: CALL,
            web: Box::new(web_leg),
            ims: Box::new(ims_leg),
            ims_port,
        })
        .expect("allocate");
    let (link, port) = handle.dtls_link(CALL);
    let mut session = DtlsSession::new(cert);
    // Started at once in both roles: as client its ClientHello waits in the worker
    // until ICE gives the browser's address.
    session
        .start(DtlsParams::new(role, fingerprint))
        .expect("start DTLS");
    handle
        .send(Command::StartWebRtc {
            call: CALL,
            leg: Box::new(WebRtcLeg {
                local: creds,
                remote: Some(remote_creds),
                dtls: link,
            }),
        })
        .expect("start WebRTC");
    let dtls = tokio::spawn(port.run(session, handle.clone()));

    pc.set_remote_description(RTCSessionDescription::answer(answer.clone()).expect("answer"))
        .await
        .unwrap_or_else(|e| panic!("answer refused: {e}\n{answer}"));

    let seen = tokio::time::timeout(GUARD, async {
        let mut seen = Seen::default();
        let mut ptime = tokio::time::interval(Duration::from_millis(20));
        let mut buf = [0u8; 1500];
        let mut seq = 0u16;
        while !(seen.at_ims && seen.at_browser) {
            tokio::select! {
                e = events.recv() => match e.expect("worker alive") {
                    WorkerEvent::Ready { call, port } => {
                        assert_eq!((call, port), (CALL, ims_port));
                        seen.ready = true;
                    }
                    WorkerEvent::Ice { call: CALL, event: IceEvent::Connected { remote, .. } } => {
                        seen.ice_remote = Some(remote);
                    }
                    WorkerEvent::WebKeysInstalled { call: CALL, suite } => {
                        assert!(seen.ice_remote.is_some(), "keys before ICE");
                        seen.keys = Some(suite);
                    }
                    WorkerEvent::Session { .. } | WorkerEvent::Ice { .. } => {}
                    other => panic!("{role:?}: unexpected {other:?}"),
                },
                r = ims_peer.recv_from(&mut buf) => {
                    let (n, from) = r.expect("IMS peer recv");
                    assert_eq!(from, gateway_ims, "from the call's IMS port");
                    let h = RtpHeader::parse(&buf[..n]).expect("plain RTP on the IMS leg");
                    assert_eq!(h.payload(), FROM_BROWSER, "payload the IMS peer read");
                    assert_eq!(h.ssrc(), IMS_SSRC, "re-originated SSRC");
                    seen.at_ims = true;
                }
                Some(p) = heard_rx.recv() => {
                    assert_eq!(p, FROM_IMS, "payload the browser's on_track read");
                    seen.at_browser = true;
                }
                _ = ptime.tick() => {
                    seq = seq.wrapping_add(1);
                    // webrtc-rs drops writes until its SRTP is up.
                    let _ = track.write(&rtp(0x1234_5678, seq, FROM_BROWSER)).await;
                    if seen.keys.is_some() {
                        let p = rtp(0xcafe_f00d, seq, FROM_IMS);
                        ims_peer.send_to(&p, gateway_ims).await.expect("IMS peer send");
                    }
                }
            }
        }
        seen
    })
    .await
    .unwrap_or_else(|_| panic!("{role:?}: call did not complete"));
    assert!(seen.ready);
    assert!(seen.ice_remote.is_some_and(|a| a.ip().is_loopback()));
    // webrtc-rs offers AEAD_AES_128_GCM first; both roles settle on it.
    assert_eq!(seen.keys, Some(SrtpSuite::AeadAes128Gcm));

    // Release: the worker lets go of the DTLS link, so the control plane's driver ends.
    handle
        .send(Command::Release { call: CALL })
        .expect("release");
    let end = tokio::time::timeout(GUARD, dtls)
        .await
        .expect("DTLS driver ends");
    assert!(matches!(end, Ok(DtlsEnd::Released)), "{end:?}");
    handle.send(Command::Stop).expect("stop");
    drop(handle);
    let stats = tokio::task::spawn_blocking(move || backend.join())
        .await
        .expect("join task")
        .expect("backend thread")
        .expect("backend stats");
    assert!(stats.sent > 0 && stats.received > 0, "{stats:?}");
    pc.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn epoll_worker_answers_active_as_dtls_client() {
    call(Backend::Epoll, DtlsRole::Client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn epoll_worker_answers_passive_as_dtls_server() {
    call(Backend::Epoll, DtlsRole::Server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn io_uring_worker_answers_active_as_dtls_client() {
    if io_uring_available() {
        call(Backend::IoUring, DtlsRole::Client).await;
    } else {
        eprintln!("note: io_uring unavailable on this host (probe failed): test skipped");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn io_uring_worker_answers_passive_as_dtls_server() {
    if io_uring_available() {
        call(Backend::IoUring, DtlsRole::Server).await;
    } else {
        eprintln!("note: io_uring unavailable on this host (probe failed): test skipped");
    }
}
