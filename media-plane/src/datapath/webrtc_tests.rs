//! The web port of a worker, sans-IO: junk is counted and dropped without ending a call,
//! only an authenticated check latches, DTLS goes to the call's queue and back out
//! through `poll_transmit`, SRTP waits for the keys, consent loss unlatches.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::datapath::{
    Action, Command, DropReason, DtlsPort, LegConfig, LegCrypto, LegSide, PtMap, WebRtcLeg, Worker,
    WorkerEvent, DTLS_INBOUND_QUEUE,
};
use crate::ice::{IceEvent, LocalCredentials, RemoteCredentials, CONSENT_TIMEOUT};
use crate::srtp::{ReOriginator, SrtpConfig, SrtpContext, SrtpSuite};
use crate::stun::{Class, Message, MessageWriter, Method};

const CALL: u64 = 3;
const WEB_PORT: u16 = 4000;
const IMS_PORT: u16 = 10000;
const REMOTE_PWD: &str = "browserpassword0123456789";

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

fn ctx(k: u8) -> SrtpContext {
    let suite = SrtpSuite::AesCm128HmacSha1_80;
    SrtpContext::new(suite, &[k; 16], &[k; 14], SrtpConfig::default()).unwrap()
}

fn check(username: &str, key: &str) -> Vec<u8> {
    let mut buf = vec![0u8; 256];
    let mut w = MessageWriter::new(&mut buf, Class::Request, Method::BINDING, [9; 12]).unwrap();
    w.username(username)
        .and_then(|w| w.priority(1))
        .and_then(|w| w.ice_controlling(1))
        .and_then(|w| w.use_candidate())
        .and_then(|w| w.message_integrity(key.as_bytes()))
        .and_then(|w| w.fingerprint())
        .unwrap();
    let n = w.finish();
    buf.truncate(n);
    buf
}

fn rtp(seq: u16) -> Vec<u8> {
    let mut p = vec![0x80, 0, 0, 0, 0, 0, 0, 160, 0, 0, 0, 1];
    p[2..4].copy_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(b"payload");
    p
}

/// A worker with one WebRTC call; returns it, the call's DTLS port and our credentials.
fn worker(
    t0: Instant,
) -> (
    Worker,
    crate::datapath::WorkerHandle,
    DtlsPort,
    LocalCredentials,
) {
    let (mut w, h) = Worker::new(WEB_PORT, Duration::from_secs(60), 16);
    let leg = |crypto, remote| {
        Box::new(LegConfig {
            crypto,
            remote,
            egress_pt: PtMap::default(),
            reoriginator: ReOriginator::new(5, 1, 0),
        })
    };
    h.send(Command::Allocate {
        call: CALL,
        web: leg(LegCrypto::AwaitingDtls, None),
        ims: leg(LegCrypto::Rtp, Some(addr(6000))),
        ims_port: IMS_PORT,
    })
    .unwrap();
    let local = LocalCredentials::from_random(&[4; 32]);
    let (link, port) = h.dtls_link(CALL);
    h.send(Command::StartWebRtc {
        call: CALL,
        leg: Box::new(WebRtcLeg {
            local: local.clone(),
            remote: Some(RemoteCredentials::new("brws", REMOTE_PWD).unwrap()),
            dtls: link,
        }),
    })
    .unwrap();
    w.drain_commands(t0);
    assert!(w.poll_socket_op().is_some());
    (w, h, port, local)
}

fn deliver(w: &mut Worker, t: Instant, from: SocketAddr, pkt: &[u8]) -> (Action, Vec<u8>) {
    let mut buf = [0u8; 2048];
    buf[..pkt.len()].copy_from_slice(pkt);
    let (a, _) = w.handle_datagram_routed(t, addr(WEB_PORT), from, &mut buf, pkt.len());
    let len = match a {
        Action::Forward { len, .. } => len,
        _ => 0,
    };
    (a, buf[..len].to_vec())
}

#[test]
fn junk_on_the_web_port_is_counted_and_dropped() {
    let t0 = Instant::now();
    let (mut w, _h, mut port, local) = worker(t0);
    let browser = addr(5000);
    let ufrag = local.ufrag();
    let good = check(&format!("{ufrag}:brws"), local.pwd());
    let junk: [&[u8]; 6] = [
        &[],
        &[0xff, 1, 2, 3],        // no protocol (RFC 7983 §7)
        &[17, 0, 0, 0],          // ZRTP
        &[64, 0, 0, 4],          // TURN ChannelData
        &good[..good.len() - 9], // truncated STUN
        &[22, 0xfe, 0xfd, 0],    // DTLS from an unlatched address
    ];
    for pkt in junk {
        assert!(matches!(
            deliver(&mut w, t0, browser, pkt).0,
            Action::Drop(_)
        ));
    }
    let rtp_pkt = rtp(1);
    assert_eq!(
        deliver(&mut w, t0, browser, &rtp_pkt).0,
        Action::Drop(DropReason::UnknownSource),
        "SRTP before any check"
    );
    let other = check("zzzzzzzz:brws", local.pwd());
    assert!(matches!(
        deliver(&mut w, t0, browser, &other).0,
        Action::Drop(_)
    ));

    // Bad integrity: the agent answers 401 (RFC 8489 §9.1.3) and latches nothing.
    let forged = check(&format!("{ufrag}:brws"), "guessedpassword01234567");
    let (a, reply) = deliver(&mut w, t0, browser, &forged);
    assert!(matches!(a, Action::Forward { leg: LegSide::Web, to, .. } if to == browser));
    let reply = Message::parse(&reply).unwrap();
    assert_eq!(reply.class(), Class::ErrorResponse);
    assert_eq!(reply.error_code().map(|e| e.code), Some(401));
    assert!(matches!(
        deliver(&mut w, t0, browser, &[22, 0xfe, 0xfd, 0]).0,
        Action::Drop(_)
    ));

    let c = w.web_counters();
    assert_eq!(c.unknown_protocol, 4, "{c:?}");
    assert_eq!(c.stun_no_username, 1, "{c:?}");
    assert_eq!(c.stun_unknown_ufrag, 1, "{c:?}");
    assert_eq!(c.not_latched, 3, "{c:?}");
    assert_eq!(c.stun_refused, 1, "{c:?}");
    assert_eq!(c.dtls_to_session, 0, "{c:?}");
    assert!(
        port.try_recv().is_none(),
        "nothing reached the DTLS session"
    );
    assert_eq!(w.len(), 1, "no call ended");
    assert_eq!(w.poll_event(t0), None, "no ICE event, no remote set");
    assert_eq!(w.session(CALL).unwrap().remote(LegSide::Web), None);
}

#[test]
fn check_latches_dtls_flows_and_keys_gate_srtp() {
    let t0 = Instant::now();
    let (mut w, h, mut port, local) = worker(t0);
    let browser = addr(5000);

    // The session's first flight is ready before ICE: held until the remote is known.
    port.transmit(vec![22, 0xfe, 0xfd, 1]).unwrap();
    assert!(w.poll_transmit().is_none());

    let good = check(&format!("{}:brws", local.ufrag()), local.pwd());
    let (a, reply) = deliver(&mut w, t0, browser, &good);
    assert!(matches!(a, Action::Forward { leg: LegSide::Web, to, .. } if to == browser));
    let reply = Message::parse(&reply).unwrap();
    assert_eq!(reply.class(), Class::SuccessResponse);
    assert_eq!(reply.xor_mapped_address(), Some(browser));
    assert!(matches!(
        w.poll_event(t0),
        Some(WorkerEvent::Ice { call: CALL, event: IceEvent::Connected { remote, .. } }) if remote == browser
    ));
    assert!(matches!(
        w.poll_event(t0),
        Some(WorkerEvent::Ice { call: CALL, event: IceEvent::Nominated { remote, .. } }) if remote == browser
    ));
    assert_eq!(w.session(CALL).unwrap().remote(LegSide::Web), Some(browser));
    let elsewhere = addr(6666);
    h.send(Command::Update {
        call: CALL,
        leg: LegSide::Web,
        remote: elsewhere,
    })
    .unwrap();
    w.drain_commands(t0);
    assert_eq!(
        w.session(CALL).unwrap().remote(LegSide::Web),
        Some(browser),
        "ICE alone sets a WebRTC leg's remote"
    );
    assert_eq!(
        w.poll_transmit().map(|(to, d)| (to, d.to_vec())),
        Some((browser, vec![22, 0xfe, 0xfd, 1])),
        "held flight flushed to the nominated remote"
    );
    assert!(w.poll_transmit().is_none());

    // DTLS from the latched 5-tuple reaches the session's queue; a full queue drops.
    let dtls = [22u8, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    for _ in 0..DTLS_INBOUND_QUEUE + 1 {
        assert_eq!(deliver(&mut w, t0, browser, &dtls).0, Action::Consumed);
    }
    assert_eq!(port.try_recv().as_deref(), Some(&dtls[..]));
    let c = w.web_counters();
    assert_eq!(
        (c.dtls_to_session, c.dtls_queue_full),
        (DTLS_INBOUND_QUEUE as u64, 1)
    );

    // Before the keys: SRTP from the browser and RTP toward it are dropped and counted.
    let p = rtp(1);
    assert_eq!(
        deliver(&mut w, t0, browser, &p).0,
        Action::Drop(DropReason::NoKeys)
    );
    let mut buf = [0u8; 256];
    buf[..p.len()].copy_from_slice(&p);
    let a = w.handle_datagram(t0, addr(IMS_PORT), addr(6000), &mut buf, p.len());
    assert_eq!(a, Action::Drop(DropReason::NoKeys));
    assert_eq!(w.session(CALL).unwrap().drops().no_keys, 2);

    // Keys installed: SRTP from the browser goes out as RTP on the IMS port.
    h.send(Command::InstallWebKeys {
        call: CALL,
        suite: SrtpSuite::AesCm128HmacSha1_80,
        inbound: Box::new(ctx(1)),
        outbound: Box::new(ctx(2)),
    })
    .unwrap();
    w.drain_commands(t0);
    assert_eq!(
        w.poll_event(t0),
        Some(WorkerEvent::WebKeysInstalled {
            call: CALL,
            suite: SrtpSuite::AesCm128HmacSha1_80
        })
    );
    let mut srtp = [0u8; 256];
    srtp[..p.len()].copy_from_slice(&p);
    let n = ctx(1).protect_rtp(&mut srtp, p.len()).unwrap();
    let (a, port_used) = w.handle_datagram_routed(t0, addr(WEB_PORT), browser, &mut srtp, n);
    assert_eq!(
        (a, port_used),
        (
            Action::Forward {
                leg: LegSide::Ims,
                to: addr(6000),
                len: p.len()
            },
            IMS_PORT
        )
    );

    // RFC 7675: no check for 30 s → consent lost, the pair unlatched, nothing sent.
    assert!(w.poll_timeout().is_some_and(|t| t <= t0 + CONSENT_TIMEOUT));
    let later = t0 + CONSENT_TIMEOUT;
    assert!(matches!(
        w.poll_event(later),
        Some(WorkerEvent::Ice {
            call: CALL,
            event: IceEvent::ConsentLost { .. }
        })
    ));
    assert_eq!(w.session(CALL).unwrap().remote(LegSide::Web), None);
    assert_eq!(
        deliver(&mut w, later, browser, &dtls).0,
        Action::Drop(DropReason::UnknownSource)
    );
    assert_eq!(w.len(), 1, "the call decides whether to end");

    // Release drops the link: the control plane's driver sees the end.
    h.send(Command::Release { call: CALL }).unwrap();
    w.drain_commands(later);
    while port.try_recv().is_some() {}
    assert!(port.is_released());
}

#[test]
fn a_per_call_web_port_reaches_only_its_call() {
    use crate::datapath::{DatapathError, SocketOp};
    const OWN: u16 = 4100;
    let t0 = Instant::now();
    let (mut w, h, _port, local) = worker(t0);
    // A second WebRTC call, on the shared port.
    h.send(Command::Allocate {
        call: 4,
        web: Box::new(LegConfig {
            crypto: LegCrypto::AwaitingDtls,
            remote: None,
            egress_pt: PtMap::default(),
            reoriginator: ReOriginator::new(5, 1, 0),
        }),
        ims: Box::new(LegConfig {
            crypto: LegCrypto::Rtp,
            remote: Some(addr(6002)),
            egress_pt: PtMap::default(),
            reoriginator: ReOriginator::new(6, 1, 0),
        }),
        ims_port: IMS_PORT + 2,
    })
    .unwrap();
    let other = LocalCredentials::from_random(&[7; 32]);
    let (link, _other_port) = h.dtls_link(4);
    h.send(Command::StartWebRtc {
        call: 4,
        leg: Box::new(WebRtcLeg {
            local: other.clone(),
            remote: Some(RemoteCredentials::new("brws", REMOTE_PWD).unwrap()),
            dtls: link,
        }),
    })
    .unwrap();
    h.send(Command::OpenWebPort {
        call: CALL,
        port: OWN,
    })
    .unwrap();
    w.drain_commands(t0);
    assert!(matches!(
        w.poll_socket_op(),
        Some(SocketOp::Open { call: 4, .. })
    ));
    assert_eq!(
        w.poll_socket_op(),
        Some(SocketOp::OpenWeb {
            call: CALL,
            port: OWN
        })
    );
    assert!(w.is_web_port(OWN) && w.is_web_port(WEB_PORT) && !w.is_web_port(IMS_PORT));

    let browser = addr(5000);
    let mut buf = [0u8; 2048];
    // The other call's ufrag on this call's port: refused, though it would authenticate.
    let foreign = check(&format!("{}:brws", other.ufrag()), other.pwd());
    buf[..foreign.len()].copy_from_slice(&foreign);
    let (a, _) = w.handle_datagram_routed(t0, addr(OWN), browser, &mut buf, foreign.len());
    assert_eq!(a, Action::Drop(DropReason::UnknownSource));
    assert_eq!(w.web_counters().stun_unknown_ufrag, 1);
    // Its own check is answered from its own port and latches the pair there.
    let good = check(&format!("{}:brws", local.ufrag()), local.pwd());
    buf[..good.len()].copy_from_slice(&good);
    let (a, via) = w.handle_datagram_routed(t0, addr(OWN), browser, &mut buf, good.len());
    assert!(matches!(a, Action::Forward { leg: LegSide::Web, to, .. } if to == browser));
    assert_eq!(via, OWN);
    assert_eq!(w.session(CALL).unwrap().remote(LegSide::Web), Some(browser));

    // A port another call (or the shared port) uses ends the asking call.
    h.send(Command::OpenWebPort {
        call: 4,
        port: IMS_PORT,
    })
    .unwrap();
    w.drain_commands(t0);
    let failed = std::iter::from_fn(|| w.poll_event(t0))
        .find(|e| matches!(e, WorkerEvent::AllocateFailed { .. }));
    assert_eq!(
        failed,
        Some(WorkerEvent::AllocateFailed {
            call: 4,
            error: DatapathError::PortInUse(IMS_PORT)
        })
    );
    assert_eq!(
        w.poll_socket_op(),
        Some(SocketOp::Close { port: IMS_PORT + 2 })
    );

    // Release closes both sockets of the call.
    h.send(Command::Release { call: CALL }).unwrap();
    w.drain_commands(t0);
    assert_eq!(w.poll_socket_op(), Some(SocketOp::Close { port: IMS_PORT }));
    assert_eq!(w.poll_socket_op(), Some(SocketOp::Close { port: OWN }));
    assert!(!w.is_web_port(OWN));
    assert!(w.is_empty());
}
