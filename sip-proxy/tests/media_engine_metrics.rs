//! The media engine's Prometheus metrics (`docs/metrics.md`, "Media"), read the way a
//! scrape reads them: `prometheus::TextEncoder` over `prometheus::gather()`.
//!
//! One real call through the engine (webrtc-rs's `RTCPeerConnection` as the browser, a
//! UDP socket on loopback as the IMS far end with plain RTP, the SDP through the `sdp`
//! interworking functions as in `tests/media_engine.rs`), junk sent to the worker's web
//! port, and an allocation refused for want of IMS ports. Its own test binary: the
//! counters are process-wide.
//!
//! ```text
//!  RTCPeerConnection ◄─ICE-lite + DTLS-SRTP─► MediaEngine worker 0 ◄─RTP─► IMS socket
//!  junk socket ─0xff…─► web port            gather() → text → the series below
//! ```
#![allow(clippy::unwrap_used)]

mod media_harness;
#[path = "../../media-plane/tests/webrtc_browser/mod.rs"]
mod webrtc_browser;

use std::time::Duration;

use media_harness::{free_even_port, ims_answer, locals};
use media_plane::datapath::Backend;
use media_plane::rtp::RtpHeader;
use sip_proxy::media::{MediaControl, MediaError, MediaEvent, MediaSessionId};
use sip_proxy::media_engine::{MediaEngine, MediaEngineConfig};
use sip_proxy::sdp::interwork::{answer_from_ims, offer_to_ims};
use sip_proxy::sdp::{ImsSecurity, SessionDescription};
use tokio::net::UdpSocket;
use webrtc::peer_connection::sdp::session_description::RTCSessionDescription;
use webrtc::track::track_local::TrackLocalWriter;
use webrtc_browser::{browser, heard as heard_of, local_offer, rtp};

const GUARD: Duration = Duration::from_secs(20);
const FROM_BROWSER: &[u8] = b"browser->IMS PCMU payload";
const FROM_IMS: &[u8] = b"IMS->browser PCMU payload";
const JUNK: usize = 5;

/// The Prometheus text exposition of every registered metric.
fn scrape() -> String {
    let mut out = Vec::new();
    prometheus::Encoder::encode(
        &prometheus::TextEncoder::new(),
        &prometheus::gather(),
        &mut out,
    )
    .unwrap();
    String::from_utf8(out).unwrap()
}

/// The sum of the samples of `name` whose labels include every pair of `labels`.
fn value(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit_once(' '))
        .filter(|(series, _)| {
            let (n, rest) = series.split_once('{').unwrap_or((series, ""));
            n == name
                && labels
                    .iter()
                    .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")))
        })
        .map(|(_, v)| v.parse::<f64>().unwrap())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_junk_and_exhaustion_show_in_the_scrape() {
    const ID: MediaSessionId = MediaSessionId(7);
    let before = scrape();
    let exhausted0 = value(&before, "rtcgate_media_ims_ports_exhausted_total", &[]);

    let (pc, track) = browser().await;
    let mut heard = heard_of(&pc);
    let offer_text = local_offer(&pc, None).await;
    let browser_offer = SessionDescription::parse(&offer_text).unwrap();

    let ims_port = free_even_port();
    let cfg = MediaEngineConfig {
        backend: Backend::Epoll,
        ims_ports: ims_port..=ims_port,
        ims_srtp: false,
        quarantine: Duration::ZERO,
        ..MediaEngineConfig::default()
    };
    let (mut engine, mut events) =
        MediaEngine::start(cfg, tokio::runtime::Handle::current()).expect("engine starts");
    let text = scrape();
    for name in [
        "rtcgate_media_packets_total",
        "rtcgate_media_dropped_total",
        "rtcgate_media_ice_checks_total",
        "rtcgate_media_dtls_handshakes_total",
        "rtcgate_media_ice_nomination_seconds_count",
        "rtcgate_media_ims_ports_exhausted_total",
        "rtcgate_media_rtcp_sent_total",
        "rtcgate_media_rtcp_received_total",
    ] {
        assert!(text.contains(name), "{name} registered at start");
    }

    let a = engine.allocate(ID).unwrap();
    assert_eq!(
        engine.allocate(MediaSessionId(8)),
        Err(MediaError::PortsExhausted),
        "one IMS port, taken"
    );
    let (ims_local, webrtc_local) = locals(&a, 1, ImsSecurity::Rtp);
    let (ims_offer, pending) = offer_to_ims(&browser_offer, &ims_local).unwrap();
    let ims = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let answer = ims_answer(&ims_offer, ims.local_addr().unwrap(), None);
    let answer = SessionDescription::parse(&answer).unwrap();
    let (browser_answer, negotiated) =
        answer_from_ims(&answer, &pending, &ims_local, &webrtc_local).unwrap();
    engine.update(ID, &negotiated).unwrap();
    pc.set_remote_description(RTCSessionDescription::answer(browser_answer.to_string()).unwrap())
        .await
        .unwrap();

    // Media both ways every 20 ms until each side heard the other.
    let (mut ice, mut dtls, mut at_ims, mut at_browser) = (false, false, false, false);
    let run = async {
        let mut ptime = tokio::time::interval(Duration::from_millis(20));
        let mut buf = [0u8; 1500];
        let mut seq = 0u16;
        while !(ice && dtls && at_ims && at_browser) {
            tokio::select! {
                e = events.recv() => match e.expect("engine alive") {
                    MediaEvent::IceConnected(ID) => ice = true,
                    MediaEvent::DtlsConnected(ID) => dtls = true,
                    other => panic!("unexpected {other:?}"),
                },
                r = ims.recv_from(&mut buf) => {
                    let (n, from) = r.unwrap();
                    assert_eq!(from, a.ims_address);
                    let h = RtpHeader::parse(&buf[..n]).expect("RTP on the IMS leg");
                    assert_eq!(h.payload(), FROM_BROWSER);
                    at_ims = true;
                }
                Some(p) = heard.recv() => {
                    assert_eq!(p, FROM_IMS);
                    at_browser = true;
                }
                _ = ptime.tick() => {
                    seq = seq.wrapping_add(1);
                    let _ = track.write(&rtp(0x1234_5678, seq, FROM_BROWSER)).await;
                    if dtls {
                        let p = rtp(0xcafe_f00d, seq, FROM_IMS);
                        ims.send_to(&p, a.ims_address).await.unwrap();
                    }
                }
            }
        }
    };
    tokio::time::timeout(GUARD, run)
        .await
        .expect("media flows both ways");

    // Junk on the web port: a first byte no protocol claims (RFC 7983).
    let junk = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    for _ in 0..JUNK {
        junk.send_to(&[0xff; 40], a.webrtc_address).await.unwrap();
    }

    // The pumps flush every 500 ms: poll the scrape until everything showed up.
    let dir = |d| [("direction", d)];
    let junk_dropped = [("direction", "web_to_ims"), ("reason", "unknown_source")];
    let checks = |t: &str| -> Vec<(&'static str, bool)> {
        vec![
            (
                "packets web_to_ims",
                value(t, "rtcgate_media_packets_total", &dir("web_to_ims")) > 0.0,
            ),
            (
                "packets ims_to_web",
                value(t, "rtcgate_media_packets_total", &dir("ims_to_web")) > 0.0,
            ),
            (
                "bytes web_to_ims",
                value(t, "rtcgate_media_bytes_total", &dir("web_to_ims")) > 0.0,
            ),
            (
                "bytes ims_to_web",
                value(t, "rtcgate_media_bytes_total", &dir("ims_to_web")) > 0.0,
            ),
            (
                "ICE ok",
                value(t, "rtcgate_media_ice_checks_total", &[("result", "ok")]) > 0.0,
            ),
            (
                "DTLS ok",
                value(
                    t,
                    "rtcgate_media_dtls_handshakes_total",
                    &[("result", "ok")],
                ) >= 1.0,
            ),
            (
                "nomination sample",
                value(t, "rtcgate_media_ice_nomination_seconds_count", &[]) >= 1.0,
            ),
            (
                "DTLS duration sample",
                value(t, "rtcgate_media_dtls_handshake_seconds_count", &[]) >= 1.0,
            ),
            (
                "junk dropped",
                value(t, "rtcgate_media_dropped_total", &junk_dropped) >= JUNK as f64,
            ),
            (
                "junk by kind",
                value(
                    t,
                    "rtcgate_media_web_port_datagrams_total",
                    &[("kind", "unknown_protocol")],
                ) >= JUNK as f64,
            ),
            (
                "one session on worker 0",
                value(t, "rtcgate_media_sessions", &[("worker", "0")]) == 1.0,
            ),
            (
                "ports exhausted",
                value(t, "rtcgate_media_ims_ports_exhausted_total", &[]) > exhausted0,
            ),
        ]
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let text = scrape();
        let missing: Vec<_> = checks(&text)
            .into_iter()
            .filter(|(_, ok)| !ok)
            .map(|(n, _)| n)
            .collect();
        if missing.is_empty() {
            break;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("missing from the scrape: {missing:?}\n{text}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    engine.release(ID);
    let stats = tokio::task::spawn_blocking(move || engine.shutdown())
        .await
        .unwrap();
    for s in stats {
        s.expect("backend thread ends cleanly");
    }
    let text = scrape();
    assert_eq!(
        value(&text, "rtcgate_media_sessions", &[("worker", "0")]),
        0.0,
        "a stopped worker takes its sessions back\n{text}"
    );
    pc.close().await.unwrap();
}
