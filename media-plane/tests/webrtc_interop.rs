//! The WebRTC leg against a third-party stack: webrtc-rs's `RTCPeerConnection` plays the
//! browser (it offers one audio track), and a small driver here plays the gateway with
//! the crate's own pieces: a tokio `UdpSocket` on 127.0.0.1, RFC 7983 `demux::classify`,
//! the `IceLiteAgent` answering STUN, the `DtlsSession`, and the `SrtpContext`s it yields.
//!
//! ```text
//!  RTCPeerConnection ── offer ──► answer built here (ice-lite, ufrag/pwd, candidate,
//!        ▲                        fingerprint, setup:active|passive, rtcp-mux, PCMU)
//!        │ STUN checks ─────────► IceLiteAgent (Binding success)
//!        │ DTLS ◄───────────────► DtlsSession (client or server)
//!        │ SRTP track ──────────► keys.inbound.unprotect_rtp → payload compared
//!        └ on_track ◄─────────── keys.outbound.protect_rtp ◄─ RTP written here
//! ```
//!
//! Traffic stays on 127.0.0.1 (webrtc-rs gathers on `lo` only). Packets are sent
//! periodically, as RTP is, until the other side has seen one; the timeout only guards.

mod webrtc_browser;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use media_plane::demux::{classify, PacketKind};
use media_plane::dtls::{
    DtlsCertificate, DtlsEvent, DtlsKeys, DtlsOutput, DtlsParams, DtlsRole, DtlsSession,
    Fingerprint,
};
use media_plane::ice::{
    IceEvent, IceLiteAgent, LocalCredentials, RemoteCredentials, MAX_REPLY_LEN,
};
use media_plane::rtp::RtpHeader;
use media_plane::srtp::SrtpSuite;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use webrtc::peer_connection::sdp::session_description::RTCSessionDescription;
use webrtc::track::track_local::TrackLocalWriter;
use webrtc_browser::{answer_sdp, browser, heard, local_offer, parse_offer, rtp, OUR_SSRC};

const GUARD: Duration = Duration::from_secs(20);
const FROM_BROWSER: &[u8] = b"browser->gateway PCMU payload";
const FROM_GATEWAY: &[u8] = b"gateway->browser PCMU payload";

/// What the gateway driver reports to the test.
#[derive(Debug)]
enum Report {
    IceConnected(SocketAddr),
    DtlsConnected(SrtpSuite),
    DtlsFailed(String),
    /// The payload of an SRTP packet from the browser that our inbound context accepted.
    Payload(Vec<u8>),
}

/// The gateway side of one call: socket, ICE-lite agent, DTLS session, SRTP contexts.
struct Gateway {
    socket: UdpSocket,
    local: SocketAddr,
    agent: IceLiteAgent,
    session: DtlsSession,
    params: Option<DtlsParams>,
    remote: Option<SocketAddr>,
    unsent: Vec<Vec<u8>>,
    keys: Option<Box<DtlsKeys>>,
    reports: mpsc::UnboundedSender<Report>,
}

impl Gateway {
    fn start_dtls(&mut self) {
        if let Some(params) = self.params.take() {
            self.session.start(params).expect("start DTLS");
        }
    }

    async fn send(&mut self, datagram: Vec<u8>) {
        match self.remote {
            Some(to) => {
                self.socket.send_to(&datagram, to).await.expect("send");
            }
            None => self.unsent.push(datagram),
        }
    }

    async fn on_datagram(&mut self, buf: &mut [u8], n: usize, src: SocketAddr) {
        match classify(&buf[..n]) {
            PacketKind::Stun => {
                let mut out = [0u8; MAX_REPLY_LEN];
                let handled =
                    self.agent
                        .handle_stun(Instant::now(), src, self.local, &buf[..n], &mut out);
                if let Some(len) = handled.reply_len() {
                    self.socket.send_to(&out[..len], src).await.expect("send");
                }
                while let Some(event) = self.agent.poll_event() {
                    if let IceEvent::Connected { remote, .. } | IceEvent::Nominated { remote, .. } =
                        event
                    {
                        let first = self.remote.is_none();
                        self.remote = Some(remote);
                        if first {
                            let _ = self.reports.send(Report::IceConnected(remote));
                            // As DTLS client we speak first, once ICE says where to.
                            self.start_dtls();
                            for d in std::mem::take(&mut self.unsent) {
                                self.send(d).await;
                            }
                        }
                    }
                }
            }
            PacketKind::Dtls => self.session.handle_datagram(&buf[..n]),
            PacketKind::Rtp => {
                let Some(keys) = self.keys.as_mut() else {
                    return;
                };
                if let Ok(len) = keys.inbound.unprotect_rtp(buf, n) {
                    if let Ok(h) = RtpHeader::parse(&buf[..len]) {
                        let _ = self.reports.send(Report::Payload(h.payload().to_vec()));
                    }
                }
            }
            _ => {} // SRTCP receiver reports: not under test
        }
    }

    fn on_output_event(&mut self, event: DtlsEvent) {
        match event {
            DtlsEvent::Connected(keys) => {
                let _ = self.reports.send(Report::DtlsConnected(keys.suite));
                self.keys = Some(keys);
            }
            DtlsEvent::Failed(e) => {
                let _ = self.reports.send(Report::DtlsFailed(e.to_string()));
            }
            _ => {}
        }
    }

    /// Runs until the test ends: demux and answer, DTLS, and an RTP packet of ours every
    /// 20 ms once the keys are there.
    async fn run(mut self) {
        let mut buf = vec![0u8; 2048];
        let mut ptime = tokio::time::interval(Duration::from_millis(20));
        let mut seq = 0u16;
        loop {
            tokio::select! {
                r = self.socket.recv_from(&mut buf) => {
                    let (n, src) = r.expect("recv");
                    self.on_datagram(&mut buf, n, src).await;
                }
                Some(out) = self.session.next_output() => match out {
                    DtlsOutput::Transmit(d) => self.send(d).await,
                    DtlsOutput::Event(e) => self.on_output_event(e),
                },
                _ = ptime.tick() => {
                    let (Some(keys), Some(to)) = (self.keys.as_mut(), self.remote) else {
                        continue;
                    };
                    seq = seq.wrapping_add(1);
                    let mut p = rtp(OUR_SSRC, seq, FROM_GATEWAY);
                    let len = p.len();
                    p.resize(len + 16, 0);
                    let n = keys.outbound.protect_rtp(&mut p, len).expect("protect");
                    self.socket.send_to(&p[..n], to).await.expect("send");
                }
            }
        }
    }
}

async fn call(role: DtlsRole) {
    let (pc, track) = browser().await;
    // What the browser's on_track receives.
    let mut heard_rx = heard(&pc);

    let offer_sdp = local_offer(&pc, None).await;
    let offer = parse_offer(&offer_sdp);

    let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let local = socket.local_addr().expect("local addr");
    let creds = LocalCredentials::from_random(&std::array::from_fn(|i| {
        (i as u8).wrapping_mul(7).wrapping_add(3)
    }));
    let remote_creds = RemoteCredentials::new(&offer.ufrag, &offer.pwd).expect("offer creds");
    let cert = DtlsCertificate::generate().expect("certificate");
    let answer = answer_sdp(&offer, &creds, local, cert.sdp_fingerprint(), role);
    let fingerprint = Fingerprint::parse_sdp(&offer.fingerprint).expect("offer fingerprint");

    let (reports_tx, mut reports) = mpsc::unbounded_channel();
    let mut gateway = Gateway {
        socket,
        local,
        agent: IceLiteAgent::new(Instant::now(), creds, Some(remote_creds)),
        session: DtlsSession::new(cert),
        params: Some(DtlsParams::new(role, fingerprint)),
        remote: None,
        unsent: Vec::new(),
        keys: None,
        reports: reports_tx,
    };
    if role == DtlsRole::Server {
        gateway.start_dtls(); // as DTLS server we wait for the browser's ClientHello
    }
    let gateway = tokio::spawn(gateway.run());

    pc.set_remote_description(RTCSessionDescription::answer(answer.clone()).expect("answer"))
        .await
        .unwrap_or_else(|e| panic!("answer refused: {e}\n{answer}"));

    let outcome = tokio::time::timeout(GUARD, async {
        let mut ice = None;
        let mut suite = None;
        let mut payload_ok = false;
        let mut heard_ok = false;
        let mut seq = 0u16;
        let mut ptime = tokio::time::interval(Duration::from_millis(20));
        while !(payload_ok && heard_ok) {
            tokio::select! {
                r = reports.recv() => match r.expect("gateway alive") {
                    Report::IceConnected(a) => ice = Some(a),
                    Report::DtlsConnected(s) => suite = Some(s),
                    Report::DtlsFailed(e) => panic!("{role:?}: DTLS failed: {e}"),
                    Report::Payload(p) => {
                        assert_eq!(p, FROM_BROWSER, "decrypted payload");
                        payload_ok = true;
                    }
                },
                Some(p) = heard_rx.recv() => {
                    assert_eq!(p, FROM_GATEWAY, "payload the browser's on_track read");
                    heard_ok = true;
                }
                _ = ptime.tick() => {
                    // The browser's track: sent like RTP is, every 20 ms (webrtc-rs drops
                    // writes until its SRTP is up).
                    seq = seq.wrapping_add(1);
                    let _ = track.write(&rtp(0x1234_5678, seq, FROM_BROWSER)).await;
                }
            }
        }
        (ice, suite)
    })
    .await;
    let (ice, suite) = outcome.unwrap_or_else(|_| panic!("{role:?}: call did not complete"));
    assert!(ice.is_some_and(|a| a.ip().is_loopback()), "{ice:?}");
    // webrtc-rs offers AEAD_AES_128_GCM first; both roles settle on it.
    assert_eq!(suite, Some(SrtpSuite::AeadAes128Gcm));
    gateway.abort();
    pc.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_offers_we_answer_active_as_dtls_client() {
    call(DtlsRole::Client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_offers_we_answer_passive_as_dtls_server() {
    call(DtlsRole::Server).await;
}
