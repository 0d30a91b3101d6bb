//! DTLS-SRTP (RFC 5763, RFC 5764, RFC 8842): our `DtlsSession` against webrtc-dtls's own
//! `DTLSConn` as the peer, over an in-memory datagram pipe.
//!
//! ```text
//!  DtlsSession ──Transmit──► harness ──► PeerConn ──► DTLSConn (peer)
//!  DtlsSession ◄─handle_datagram── harness ◄── PeerConn ◄──┘
//! ```
//!
//! Proves: both roles complete; the profile is AEAD_AES_128_GCM when both offer it and
//! AES_CM_128_HMAC_SHA1_80 when the peer offers only that; the exported keys agree in
//! both directions (RFC 5764 §4.2); a wrong SDP fingerprint refuses the handshake
//! (RFC 5763 §5); an early ClientHello is held and then answered; junk after
//! establishment is counted and dropped and the session still processes the peer's
//! close_notify. Timeouts only guard against hangs.

use std::collections::VecDeque;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use media_plane::dtls::{
    format_sdp_fingerprint, DtlsCertificate, DtlsError, DtlsEvent, DtlsKeys, DtlsOutput,
    DtlsParams, DtlsRole, DtlsSession, Fingerprint,
};
use media_plane::srtp::{
    split_dtls_keying_material, SrtpConfig, SrtpContext, SrtpError, SrtpSuite,
    DTLS_SRTP_EXPORTER_LABEL,
};
use tokio::sync::{mpsc, Mutex};
use webrtc_dtls::config::{ClientAuthType, Config};
use webrtc_dtls::conn::DTLSConn;
use webrtc_dtls::crypto::Certificate;
use webrtc_dtls::extension::extension_use_srtp::SrtpProtectionProfile;
use webrtc_util::conn::Conn;
use webrtc_util::KeyingMaterialExporter;

/// Failure guard for anything that should finish in well under a second in memory.
const GUARD: Duration = Duration::from_secs(10);

async fn guarded<F: Future>(what: &str, fut: F) -> F::Output {
    match tokio::time::timeout(GUARD, fut).await {
        Ok(v) => v,
        Err(_) => panic!("timed out: {what}"),
    }
}

/// The peer's end of the pipe: a webrtc-util `Conn` over two channels.
struct PeerConn {
    rx: Mutex<mpsc::Receiver<Vec<u8>>>,
    tx: mpsc::Sender<Vec<u8>>,
}

fn any_addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 9))
}

#[async_trait]
impl Conn for PeerConn {
    async fn connect(&self, _addr: SocketAddr) -> webrtc_util::Result<()> {
        Ok(())
    }
    async fn recv(&self, buf: &mut [u8]) -> webrtc_util::Result<usize> {
        let Some(d) = self.rx.lock().await.recv().await else {
            return std::future::pending().await;
        };
        buf[..d.len()].copy_from_slice(&d);
        Ok(d.len())
    }
    async fn recv_from(&self, buf: &mut [u8]) -> webrtc_util::Result<(usize, SocketAddr)> {
        Ok((self.recv(buf).await?, any_addr()))
    }
    async fn send(&self, buf: &[u8]) -> webrtc_util::Result<usize> {
        self.tx
            .send(buf.to_vec())
            .await
            .map_err(|_| webrtc_util::Error::Other("pipe closed".into()))?;
        Ok(buf.len())
    }
    async fn send_to(&self, buf: &[u8], _target: SocketAddr) -> webrtc_util::Result<usize> {
        self.send(buf).await
    }
    fn local_addr(&self) -> webrtc_util::Result<SocketAddr> {
        Ok(any_addr())
    }
    fn remote_addr(&self) -> Option<SocketAddr> {
        Some(any_addr())
    }
    async fn close(&self) -> webrtc_util::Result<()> {
        Ok(())
    }
    fn as_any(&self) -> &(dyn std::any::Any + Send + Sync) {
        self
    }
}

/// Our session plus the pipe to the peer: the test's "driver".
struct Harness {
    session: DtlsSession,
    to_peer: mpsc::Sender<Vec<u8>>,
    from_peer: mpsc::Receiver<Vec<u8>>,
    events: VecDeque<DtlsEvent>,
    sent: usize,
}

impl Harness {
    /// A harness and the peer's `Conn`.
    fn new(session: DtlsSession) -> (Self, Arc<PeerConn>) {
        let (to_peer, peer_rx) = mpsc::channel(64);
        let (peer_tx, from_peer) = mpsc::channel(64);
        let peer = Arc::new(PeerConn {
            rx: Mutex::new(peer_rx),
            tx: peer_tx,
        });
        let h = Self {
            session,
            to_peer,
            from_peer,
            events: VecDeque::new(),
            sent: 0,
        };
        (h, peer)
    }

    /// Moves one thing across the pipe (an output of ours, or a datagram of the peer's).
    async fn step(&mut self) {
        tokio::select! {
            Some(out) = self.session.next_output() => match out {
                DtlsOutput::Transmit(d) => {
                    self.sent += 1;
                    // The peer may have gone; its datagrams are then simply lost.
                    let _ = self.to_peer.send(d).await;
                }
                DtlsOutput::Event(e) => self.events.push_back(e),
            },
            Some(d) = self.from_peer.recv() => self.session.handle_datagram(&d),
            else => std::future::pending::<()>().await,
        }
    }

    /// Pumps until our session reports an event.
    async fn next_event(&mut self) -> DtlsEvent {
        guarded("our session's next event", async {
            loop {
                if let Some(e) = self.events.pop_front() {
                    return e;
                }
                self.step().await;
            }
        })
        .await
    }

    /// Pumps while `fut` (usually the peer's side) runs, and returns its output.
    async fn drive<F: Future>(&mut self, fut: F) -> F::Output {
        guarded("peer side", async {
            tokio::pin!(fut);
            loop {
                tokio::select! {
                    biased;
                    r = &mut fut => return r,
                    () = self.step() => {}
                }
            }
        })
        .await
    }
}

fn profile(suite: SrtpSuite) -> SrtpProtectionProfile {
    match suite {
        SrtpSuite::AeadAes128Gcm => SrtpProtectionProfile::Srtp_Aead_Aes_128_Gcm,
        SrtpSuite::AesCm128HmacSha1_80 => SrtpProtectionProfile::Srtp_Aes128_Cm_Hmac_Sha1_80,
        other => panic!("no test mapping for {other}"),
    }
}

struct Peer {
    cert: Certificate,
    fingerprint: Fingerprint,
}

impl Peer {
    fn new() -> Self {
        let cert =
            Certificate::generate_self_signed(vec!["peer".to_owned()]).expect("peer certificate");
        let der = cert.certificate.first().expect("one certificate");
        let fingerprint = Fingerprint::parse_sdp(&format_sdp_fingerprint(der.as_ref()))
            .expect("own fingerprint parses");
        Self { cert, fingerprint }
    }

    /// A browser-like peer config: self-signed, the server requires a client certificate.
    fn config(&self, is_client: bool, profiles: &[SrtpSuite]) -> Config {
        Config {
            certificates: vec![self.cert.clone()],
            srtp_protection_profiles: profiles.iter().map(|s| profile(*s)).collect(),
            insecure_skip_verify: true,
            client_auth: if is_client {
                ClientAuthType::NoClientCert
            } else {
                ClientAuthType::RequireAnyClientCert
            },
            ..Config::default()
        }
    }
}

/// The SRTP contexts the peer builds from its own export: `(inbound, outbound)`.
async fn peer_contexts(
    peer: &DTLSConn,
    peer_is_client: bool,
) -> (SrtpSuite, SrtpContext, SrtpContext) {
    let suite = match peer.selected_srtpprotection_profile() {
        SrtpProtectionProfile::Srtp_Aead_Aes_128_Gcm => SrtpSuite::AeadAes128Gcm,
        SrtpProtectionProfile::Srtp_Aes128_Cm_Hmac_Sha1_80 => SrtpSuite::AesCm128HmacSha1_80,
        other => panic!("peer negotiated {other:?}"),
    };
    let material = peer
        .connection_state()
        .await
        .export_keying_material(
            DTLS_SRTP_EXPORTER_LABEL,
            &[],
            suite.dtls_keying_material_len(),
        )
        .await
        .expect("peer export");
    let (client, server) = split_dtls_keying_material(suite, &material).expect("split");
    let (mine, theirs) = if peer_is_client {
        (client, server)
    } else {
        (server, client)
    };
    let cfg = SrtpConfig::default();
    let inbound = SrtpContext::new(suite, theirs.key, theirs.salt, cfg).expect("inbound");
    let outbound = SrtpContext::new(suite, mine.key, mine.salt, cfg).expect("outbound");
    (suite, inbound, outbound)
}

fn rtp_packet(ssrc: u32, seq: u16, payload: &[u8]) -> (Vec<u8>, usize) {
    let mut p = vec![0x80, 0x00];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&1000u32.to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(payload);
    let len = p.len();
    p.resize(len + 16, 0); // tailroom for the tag
    (p, len)
}

/// A packet protected by `tx` comes out of `rx` with its payload intact.
fn assert_carries(tx: &mut SrtpContext, rx: &mut SrtpContext, ssrc: u32, what: &str) {
    let payload = b"dtls-srtp payload under test";
    let (mut buf, len) = rtp_packet(ssrc, 7, payload);
    let n = tx.protect_rtp(&mut buf, len).expect("protect");
    assert_ne!(&buf[12..len], payload, "{what}: payload encrypted");
    let m = rx.unprotect_rtp(&mut buf, n).expect(what);
    assert_eq!(&buf[12..m], payload, "{what}");
}

/// Asserts the keys agree both ways and that the directions are not interchangeable.
fn assert_keys_agree(ours: &mut DtlsKeys, peer_in: &mut SrtpContext, peer_out: &mut SrtpContext) {
    assert_carries(&mut ours.outbound, peer_in, 0x1111, "ours → peer");
    assert_carries(peer_out, &mut ours.inbound, 0x2222, "peer → ours");
    // Our outbound keys are not the peer's outbound keys: our inbound rejects our own.
    let (mut buf, len) = rtp_packet(0x3333, 1, b"wrong direction");
    let n = ours.outbound.protect_rtp(&mut buf, len).expect("protect");
    assert_eq!(
        ours.inbound.unprotect_rtp(&mut buf, n),
        Err(SrtpError::AuthFailed)
    );
}

/// One full handshake: our role, what the peer offers, what must be negotiated.
async fn handshake_case(our_role: DtlsRole, peer_profiles: &[SrtpSuite], expected: SrtpSuite) {
    let peer = Peer::new();
    let ours = DtlsCertificate::generate().expect("our certificate");
    let (mut h, peer_conn) = Harness::new(DtlsSession::new(ours));
    h.session
        .start(DtlsParams::new(our_role, peer.fingerprint.clone()))
        .expect("start");
    let peer_is_client = our_role == DtlsRole::Server;
    let cfg = peer.config(peer_is_client, peer_profiles);
    let peer_task = tokio::spawn(DTLSConn::new(peer_conn, cfg, peer_is_client, None));

    let event = h.next_event().await;
    let DtlsEvent::Connected(mut keys) = event else {
        panic!("{our_role:?}: expected Connected, got {event:?}");
    };
    assert_eq!(
        keys.suite, expected,
        "{our_role:?} with peer offering {peer_profiles:?}"
    );
    let peer_dtls = h
        .drive(peer_task)
        .await
        .expect("peer task")
        .expect("peer handshake");
    let (peer_suite, mut peer_in, mut peer_out) = peer_contexts(&peer_dtls, peer_is_client).await;
    assert_eq!(peer_suite, expected);
    assert_keys_agree(&mut keys, &mut peer_in, &mut peer_out);
    let c = h.session.counters();
    assert_eq!((c.handshakes_ok, c.records_dropped), (1, 0));
    assert!(h.session.is_established());
}

const BOTH: [SrtpSuite; 2] = [SrtpSuite::AeadAes128Gcm, SrtpSuite::AesCm128HmacSha1_80];
const CM_ONLY: [SrtpSuite; 1] = [SrtpSuite::AesCm128HmacSha1_80];

#[tokio::test]
async fn we_are_server_both_offer_gcm() {
    handshake_case(DtlsRole::Server, &BOTH, SrtpSuite::AeadAes128Gcm).await;
}

#[tokio::test]
async fn we_are_client_both_offer_gcm() {
    handshake_case(DtlsRole::Client, &BOTH, SrtpSuite::AeadAes128Gcm).await;
}

/// As server the session waits for the client's ClientHello before the library starts;
/// the handshake timeout still runs from `start`, so a browser that never starts DTLS
/// ends in `HandshakeTimeout`, and the session is over.
#[tokio::test]
async fn a_server_that_never_hears_a_client_hello_times_out() {
    let peer = Peer::new();
    let ours = DtlsCertificate::generate().expect("our certificate");
    let (mut h, _peer_conn) = Harness::new(DtlsSession::new(ours));
    let mut params = DtlsParams::new(DtlsRole::Server, peer.fingerprint.clone());
    params.handshake_timeout = Duration::from_millis(200);
    h.session.start(params).expect("start");
    match h.next_event().await {
        DtlsEvent::Failed(DtlsError::HandshakeTimeout) => {}
        other => panic!("expected HandshakeTimeout, got {other:?}"),
    }
    assert_eq!(h.session.counters().handshakes_failed_other, 1);
    h.session
        .handle_datagram(&[22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(
        h.session.held_datagrams(),
        0,
        "an ended session holds nothing"
    );
}

/// Chromium's order: AES_CM_128_HMAC_SHA1_80 first. As server our preference (GCM)
/// wins all the same (RFC 5764 §4.1.1: the server selects).
#[tokio::test]
async fn we_are_server_and_choose_gcm_from_a_client_listing_aes_cm_first() {
    let chromium_order = [SrtpSuite::AesCm128HmacSha1_80, SrtpSuite::AeadAes128Gcm];
    handshake_case(DtlsRole::Server, &chromium_order, SrtpSuite::AeadAes128Gcm).await;
}

#[tokio::test]
async fn we_are_server_peer_offers_only_aes_cm() {
    handshake_case(DtlsRole::Server, &CM_ONLY, SrtpSuite::AesCm128HmacSha1_80).await;
}

#[tokio::test]
async fn we_are_client_peer_accepts_only_aes_cm() {
    handshake_case(DtlsRole::Client, &CM_ONLY, SrtpSuite::AesCm128HmacSha1_80).await;
}

/// RFC 5763 §5: a certificate that does not hash to the SDP fingerprint ends the handshake.
async fn fingerprint_mismatch_case(our_role: DtlsRole) {
    let peer = Peer::new();
    let someone_else = Peer::new();
    let ours = DtlsCertificate::generate().expect("our certificate");
    let (mut h, peer_conn) = Harness::new(DtlsSession::new(ours));
    h.session
        .start(DtlsParams::new(our_role, someone_else.fingerprint.clone()))
        .expect("start");
    let peer_is_client = our_role == DtlsRole::Server;
    let cfg = peer.config(peer_is_client, &BOTH);
    let peer_task = tokio::spawn(DTLSConn::new(peer_conn, cfg, peer_is_client, None));

    let event = h.next_event().await;
    assert!(
        matches!(event, DtlsEvent::Failed(DtlsError::FingerprintMismatch)),
        "{our_role:?}: {event:?}"
    );
    if let DtlsEvent::Failed(e) = &event {
        assert_eq!(
            e.to_string(),
            "peer certificate does not match the SDP fingerprint"
        );
    }
    let c = h.session.counters();
    assert_eq!((c.handshakes_ok, c.handshakes_failed_fingerprint), (0, 1));
    // The session is over: datagrams are dropped, no key ever comes out.
    h.session
        .handle_datagram(&[22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(h.session.counters().records_dropped, 1);
    assert!(!h.session.is_established());
    // The peer was told (bad_certificate alert) rather than left to time out.
    let peer_result = h.drive(peer_task).await.expect("peer task");
    assert!(peer_result.is_err(), "peer handshake must fail too");
}

#[tokio::test]
async fn wrong_fingerprint_refused_as_server() {
    fingerprint_mismatch_case(DtlsRole::Server).await;
}

#[tokio::test]
async fn wrong_fingerprint_refused_as_client() {
    fingerprint_mismatch_case(DtlsRole::Client).await;
}

/// A ClientHello that arrives before the SDP answer is processed is held, then answered.
/// The peer retransmits only after 60 s, far beyond the guard, so completing proves
/// the held ClientHello itself was processed.
#[tokio::test]
async fn early_client_hello_is_held_then_processed() {
    let peer = Peer::new();
    let ours = DtlsCertificate::generate().expect("our certificate");
    let (mut h, peer_conn) = Harness::new(DtlsSession::new(ours));
    let mut cfg = peer.config(true, &BOTH);
    cfg.flight_interval = Duration::from_secs(60);
    let peer_task = tokio::spawn(DTLSConn::new(peer_conn, cfg, true, None));

    let hello = guarded("peer ClientHello", h.from_peer.recv())
        .await
        .expect("a ClientHello");
    assert_eq!(hello.get(13), Some(&1), "handshake type client_hello");
    h.session.handle_datagram(&hello);
    assert_eq!(h.session.held_datagrams(), 1);
    assert!(
        h.session.poll_output().is_none(),
        "nothing sent before start"
    );
    assert_eq!(h.sent, 0);

    h.session
        .start(DtlsParams::new(DtlsRole::Server, peer.fingerprint.clone()))
        .expect("start");
    assert_eq!(h.session.held_datagrams(), 0);
    assert!(matches!(
        h.session
            .start(DtlsParams::new(DtlsRole::Server, peer.fingerprint.clone())),
        Err(DtlsError::AlreadyStarted)
    ));
    let event = h.next_event().await;
    let DtlsEvent::Connected(mut keys) = event else {
        panic!("expected Connected, got {event:?}");
    };
    let peer_dtls = h
        .drive(peer_task)
        .await
        .expect("task")
        .expect("peer handshake");
    let (_, mut peer_in, mut peer_out) = peer_contexts(&peer_dtls, true).await;
    assert_keys_agree(&mut keys, &mut peer_in, &mut peer_out);
    assert_eq!(h.session.counters().records_dropped, 0);
}

/// The hold is bounded: past `MAX_HELD_DATAGRAMS` datagrams are dropped and counted.
#[tokio::test]
async fn early_datagrams_are_bounded() {
    let ours = DtlsCertificate::generate().expect("our certificate");
    let mut session = DtlsSession::new(ours);
    let record = [22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 1];
    for _ in 0..media_plane::dtls::MAX_HELD_DATAGRAMS + 3 {
        session.handle_datagram(&record);
    }
    assert_eq!(
        session.held_datagrams(),
        media_plane::dtls::MAX_HELD_DATAGRAMS
    );
    assert_eq!(session.counters().records_dropped, 3);
}

fn record(content_type: u8, epoch: u16, fragment: &[u8]) -> Vec<u8> {
    let mut r = vec![content_type, 0xfe, 0xfd];
    r.extend_from_slice(&epoch.to_be_bytes());
    r.extend_from_slice(&[0, 0, 0, 0, 0x40, 0]);
    r.extend_from_slice(&(fragment.len() as u16).to_be_bytes());
    r.extend_from_slice(fragment);
    r
}

/// After establishment, junk never ends the session: counted, dropped, and the peer's
/// genuine close_notify is still processed afterwards.
#[tokio::test]
async fn junk_after_establishment_is_counted_and_dropped() {
    let peer = Peer::new();
    let ours = DtlsCertificate::generate().expect("our certificate");
    let (mut h, peer_conn) = Harness::new(DtlsSession::new(ours));
    h.session
        .start(DtlsParams::new(DtlsRole::Server, peer.fingerprint.clone()))
        .expect("start");
    let peer_task = tokio::spawn(DTLSConn::new(
        peer_conn,
        peer.config(true, &BOTH),
        true,
        None,
    ));
    let event = h.next_event().await;
    let DtlsEvent::Connected(mut keys) = event else {
        panic!("expected Connected, got {event:?}");
    };
    let peer_dtls = h
        .drive(peer_task)
        .await
        .expect("task")
        .expect("peer handshake");

    let junk: Vec<Vec<u8>> = vec![
        vec![23, 0xaa, 0x55],                                   // truncated header
        record(23, 1, &[0xde; 48]),                             // application data: no data channel
        record(21, 0, &[2, 10]),                                // forged plaintext fatal alert
        record(20, 0, &[9, 9, 9]),                              // malformed ChangeCipherSpec
        record(24, 1, &[1, 0, 16]),                             // heartbeat: unknown content type
        record(22, 0, &[1; 20])[..20].to_vec(),                 // fragment runs past the datagram
        vec![22; media_plane::dtls::MAX_DTLS_DATAGRAM_LEN + 1], // oversized
    ];
    for j in &junk {
        h.session.handle_datagram(j);
    }
    assert_eq!(h.session.counters().records_dropped, junk.len() as u64);
    // A well-framed encrypted alert with a forged MAC passes the framing check; the library
    // discards it (RFC 6347 §4.1.2.7) and must not close on it.
    h.session.handle_datagram(&record(21, 1, &[0x5a; 26]));
    assert!(h.events.is_empty());

    // Still usable: the peer's real (encrypted) close_notify is processed, and our side
    // answers it with its own close_notify (RFC 5246 §7.2.1), which only a live DTLS
    // reader does.
    let sent_before = h.sent;
    h.drive(peer_dtls.close()).await.expect("peer close");
    let event = h.next_event().await;
    assert!(matches!(event, DtlsEvent::Closed), "{event:?}");
    guarded("our close_notify reply", async {
        while h.sent == sent_before {
            h.step().await;
        }
    })
    .await;
    // The keys survive the DTLS close.
    let (mut buf, len) = rtp_packet(0x4444, 3, b"after close");
    assert!(keys.outbound.protect_rtp(&mut buf, len).is_ok());
    let c = h.session.counters();
    assert_eq!((c.handshakes_ok, c.handshakes_failed_other), (1, 0));
}
