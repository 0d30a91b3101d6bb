#![allow(clippy::unwrap_used)] // test code: a panic is the failure report
//! One behaviour suite run against every socket backend over real loopback sockets:
//! call set-up, SRTP↔RTP and SRTP↔SRTP both ways, an ingress SSRC change invisible on
//! egress, ROC rollover on both legs, telephone-event PT and clock mapped (RFC 4733),
//! DTMF generated toward IMS,
//! injection from another port ignored, the inactivity event, port exhaustion
//! and port conflicts refused cleanly, a full event channel that never blocks media,
//! stop by command and by dropping the handle; the gateway's RTCP: SRTCP reports from
//! the IMS port+1 to the far end's port+1, the far end's RTCP there accepted and
//! terminated, forged RTCP dropped, and with rtcp-mux the RTP port.
//! The io_uring copy is skipped, with a printed note, only when its probe fails.

mod datapath_harness;

use std::time::{Duration, Instant};

use datapath_harness::*;
use media_plane::datapath::backend::io_uring_available;
use media_plane::datapath::{
    Backend, BackendKind, Command, DatapathError, Direction, DropReason, ImsRtcp, LegSide,
    MetricsSnapshot, PortAllocator, PtMap, RtcpConfig, SessionEvent, ToneRequest, WorkerEvent,
};
use media_plane::rtcp::{write_report, NtpTime, Report, SenderInfo, MAX_REPORT_LEN};

const LONG: Duration = Duration::from_secs(60);

fn srtp_to_rtp_two_way(backend: Backend) {
    let Some(gw) = start(backend, LONG) else {
        return;
    };
    let (browser, phone) = (sock(), sock());
    let ims = gw.allocate(
        7,
        srtp_leg(1, 2, addr(&browser), 0x1111),
        rtp_leg(addr(&phone), 0x2222),
    );
    let mut browser_tx = ctx(1);
    let mut browser_rx = ctx(2);
    for seq in 1..=5u16 {
        send_srtp(
            &browser,
            &mut browser_tx,
            &rtp(42, seq, b"hello ims"),
            gw.web,
        );
        let (p, from) = recv_rtp(&phone, None);
        assert_eq!(from, ims, "sent from the call's IMS socket");
        assert_eq!(&p[12..], b"hello ims");
        assert_eq!(ssrc_of(&p), 0x2222);
        assert_eq!(seq_of(&p), 199 + seq);

        phone
            .send_to(&rtp(9, 1000 + seq, b"hello web"), ims)
            .unwrap();
        let (p, from) = recv_rtp(&browser, Some(&mut browser_rx));
        assert_eq!(from, gw.web, "sent from the shared web port");
        assert_eq!(&p[12..], b"hello web");
        assert_eq!(ssrc_of(&p), 0x1111);
    }
    let stats = gw.stop();
    assert_eq!((stats.received, stats.sent), (10, 10), "{stats:?}");
}

/// ROC rollover on both legs (RFC 3711 §3.3.1): the browser's sequence numbers wrap,
/// and so do the gateway's toward IMS, one packet apart; the far end's context follows
/// both with its own ROC estimate, so every packet must authenticate there.
fn srtp_roc_rollover_both_legs(backend: Backend) {
    let Some(gw) = start(backend, LONG) else {
        return;
    };
    let (browser, phone) = (sock(), sock());
    let mut ims_leg = srtp_leg(3, 4, addr(&phone), 0x2222);
    ims_leg.reoriginator = media_plane::srtp::ReOriginator::new(0x2222, 65_534, 0);
    gw.allocate(9, srtp_leg(1, 2, addr(&browser), 0x1111), ims_leg);
    let (mut browser_tx, mut phone_rx) = (ctx(1), ctx(4));
    let mut seqs = Vec::new();
    for seq in [65_533u16, 65_534, 65_535, 0, 1, 2] {
        send_srtp(&browser, &mut browser_tx, &rtp(11, seq, b"wrap"), gw.web);
        let (p, _) = recv_rtp(&phone, Some(&mut phone_rx));
        assert_eq!(&p[12..], b"wrap");
        seqs.push(seq_of(&p));
    }
    assert_eq!(seqs, [65_534, 65_535, 0, 1, 2, 3]);
    assert_eq!(browser_tx.roc(11), Some(1), "the browser's ROC wrapped");
    assert_eq!(
        phone_rx.roc(0x2222),
        Some(1),
        "the gateway's ROC toward IMS wrapped"
    );
    gw.stop();
}

fn srtp_to_srtp_ssrc_change_invisible(backend: Backend) {
    let Some(gw) = start(backend, LONG) else {
        return;
    };
    let (browser, phone) = (sock(), sock());
    let ims = gw.allocate(
        8,
        srtp_leg(1, 2, addr(&browser), 0x1111),
        srtp_leg(3, 4, addr(&phone), 0x2222),
    );
    let (mut browser_tx, mut phone_rx) = (ctx(1), ctx(4));
    let mut seqs = Vec::new();
    // The browser restarts its stream (new SSRC, new sequence space) half way.
    for (ssrc, seq) in [(11u32, 500u16), (11, 501), (22, 9000), (22, 9001)] {
        send_srtp(
            &browser,
            &mut browser_tx,
            &rtp(ssrc, seq, b"to ims"),
            gw.web,
        );
        let (p, _) = recv_rtp(&phone, Some(&mut phone_rx));
        assert_eq!(&p[12..], b"to ims");
        assert_eq!(ssrc_of(&p), 0x2222, "one SSRC toward IMS");
        seqs.push(seq_of(&p));
    }
    assert_eq!(
        seqs,
        [100, 101, 102, 103],
        "one continuous sequence toward IMS"
    );
    let (mut phone_tx, mut browser_rx) = (ctx(3), ctx(2));
    for seq in 1..=3u16 {
        send_srtp(&phone, &mut phone_tx, &rtp(77, seq, b"to web"), ims);
        let (p, _) = recv_rtp(&browser, Some(&mut browser_rx));
        assert_eq!(&p[12..], b"to web");
        assert_eq!(ssrc_of(&p), 0x1111);
    }
    gw.stop();
}

/// RFC 4733 across clocks, through real sockets: the browser's telephone-event is PT 101
/// at 48 kHz, the IMS side's PT 96 at 8 kHz. Each event's duration arrives in the
/// receiver's clock, both ways; the audio (PT 0) in the same stream is untouched.
fn telephone_event_pt_and_clock_mapped(backend: Backend) {
    let Some(gw) = start(backend, LONG) else {
        return;
    };
    let (browser, phone) = (sock(), sock());
    let mut web = srtp_leg(1, 2, addr(&browser), 0x1111);
    web.egress_pt = PtMap::default().with_event(96, 8000, 101, 48000);
    let mut ims_leg = srtp_leg(3, 4, addr(&phone), 0x2222);
    ims_leg.egress_pt = PtMap::default().with_event(101, 48000, 96, 8000);
    let ims = gw.allocate(9, web, ims_leg);
    // Digit 1, volume 10, `d` units.
    let event = |pt: u8, seq: u16, d: u16| {
        let mut p = rtp(5, seq, &[[1, 10], d.to_be_bytes()].concat());
        p[1] = pt;
        p
    };
    let (mut browser_tx, mut phone_rx) = (ctx(1), ctx(4));
    for (seq, d) in [(1u16, 960u16), (2, 1920), (3, 4800)] {
        send_srtp(&browser, &mut browser_tx, &event(101, seq, d), gw.web);
        let (p, _) = recv_rtp(&phone, Some(&mut phone_rx));
        assert_eq!(p[1] & 0x7f, 96, "IMS telephone-event PT");
        assert_eq!(
            &p[12..],
            &[[1, 10], (d / 6).to_be_bytes()].concat()[..],
            "48 kHz → 8 kHz"
        );
    }
    send_srtp(&browser, &mut browser_tx, &rtp(5, 4, b"pcmu"), gw.web);
    let (p, _) = recv_rtp(&phone, Some(&mut phone_rx));
    assert_eq!((p[1] & 0x7f, &p[12..]), (0, &b"pcmu"[..]));

    let (mut phone_tx, mut browser_rx) = (ctx(3), ctx(2));
    send_srtp(&phone, &mut phone_tx, &event(96, 1, 800), ims);
    let (p, _) = recv_rtp(&browser, Some(&mut browser_rx));
    assert_eq!(p[1] & 0x7f, 101, "browser telephone-event PT");
    assert_eq!(
        &p[12..],
        &[[1, 10], 4800u16.to_be_bytes()].concat()[..],
        "8 kHz → 48 kHz"
    );
    gw.stop();
}

/// The gateway's own DTMF toward IMS through the worker's command queue: digit 9 for
/// 40 ms replaces the browser's packets (RFC 4733: marker first, three end packets,
/// one timestamp), then audio flows again, sequence numbers unbroken throughout.
fn generated_dtmf_toward_ims(backend: Backend) {
    let Some(gw) = start(backend, LONG) else {
        return;
    };
    let (browser, phone) = (sock(), sock());
    gw.allocate(
        10,
        srtp_leg(1, 2, addr(&browser), 0x1111),
        rtp_leg(addr(&phone), 0x2222),
    );
    let tone = ToneRequest {
        event: 9,
        duration: Duration::from_millis(40),
        pt: 101,
        event_hz: 8000,
        stream_hz: 8000,
    };
    gw.handle
        .send(Command::SendTone { call: 10, tone })
        .unwrap();
    let mut browser_tx = ctx(1);
    let (mut events, mut seqs) = (Vec::new(), Vec::new());
    for seq in 1..=50u16 {
        let mut pkt = rtp(42, seq, b"pcmu");
        pkt[4..8].copy_from_slice(&(u32::from(seq) * 160).to_be_bytes());
        send_srtp(&browser, &mut browser_tx, &pkt, gw.web);
        let (p, _) = recv_rtp(&phone, None);
        seqs.push(seq_of(&p));
        if p[1] & 0x7f == 101 {
            events.push(p);
        } else if !events.is_empty() {
            assert_eq!(&p[12..], b"pcmu");
            break;
        }
    }
    assert!(
        seqs.windows(2).all(|w| w[1] == w[0].wrapping_add(1)),
        "{seqs:?}"
    );
    let blocks: Vec<&[u8]> = events.iter().map(|p| &p[12..]).collect();
    assert_eq!(
        blocks,
        [
            &[9, 10, 0, 160][..],
            &[9, 0x8a, 1, 64],
            &[9, 0x8a, 1, 64],
            &[9, 0x8a, 1, 64]
        ],
        "160 then 320 (0x140) with E, three times"
    );
    assert!(events[0][1] & 0x80 != 0 && events[1..].iter().all(|p| p[1] & 0x80 == 0));
    assert!(
        events.iter().all(|p| p[4..8] == events[0][4..8]),
        "one timestamp"
    );
    gw.stop();
}

fn injection_does_not_redirect(backend: Backend) {
    let Some(gw) = start(backend, LONG) else {
        return;
    };
    let (browser, phone, attacker) = (sock(), sock(), sock());
    let ims = gw.allocate(
        9,
        srtp_leg(1, 2, addr(&browser), 0x1111),
        srtp_leg(3, 4, addr(&phone), 0x2222),
    );
    // Forged SRTP (wrong key) and junk, from another port, at both gateway sockets.
    send_srtp(&attacker, &mut ctx(99), &rtp(77, 1, b"evil"), ims);
    send_srtp(&attacker, &mut ctx(99), &rtp(78, 1, b"evil"), gw.web);
    attacker.send_to(&[0xff; 7], ims).unwrap();
    attacker.send_to(&rtp(77, 2, b"plain evil"), ims).unwrap();
    // Legitimate media afterwards still goes where it belongs, both ways.
    let (mut phone_tx, mut browser_rx) = (ctx(3), ctx(2));
    send_srtp(&phone, &mut phone_tx, &rtp(77, 1, b"to web"), ims);
    let (p, _) = recv_rtp(&browser, Some(&mut browser_rx));
    assert_eq!(&p[12..], b"to web");
    let (mut browser_tx, mut phone_rx) = (ctx(1), ctx(4));
    send_srtp(&browser, &mut browser_tx, &rtp(5, 1, b"to ims"), gw.web);
    let (p, _) = recv_rtp(&phone, Some(&mut phone_rx));
    assert_eq!(&p[12..], b"to ims");
    // Both legit packets were handled after the injections; none went to the attacker.
    attacker.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 64];
    assert!(attacker.recv_from(&mut buf).is_err(), "attacker got media");
    let stats = gw.stop();
    assert_eq!((stats.received, stats.sent), (6, 2), "{stats:?}");
}

fn inactivity_event(backend: Backend) {
    let timeout = Duration::from_millis(300);
    let Some(gw) = start(backend, timeout) else {
        return;
    };
    let (browser, phone) = (sock(), sock());
    let t0 = Instant::now();
    gw.allocate(
        3,
        srtp_leg(1, 2, addr(&browser), 1),
        rtp_leg(addr(&phone), 2),
    );
    let mut legs = Vec::new();
    for _ in 0..2 {
        match gw.event() {
            WorkerEvent::Session {
                call: 3,
                event: SessionEvent::MediaInactive { leg },
            } => legs.push(leg),
            e => panic!("unexpected {e:?}"),
        }
    }
    assert!(
        t0.elapsed() >= timeout,
        "reported early: {:?}",
        t0.elapsed()
    );
    legs.sort_by_key(|l| *l == LegSide::Ims);
    assert_eq!(legs, [LegSide::Web, LegSide::Ims]);
    // Reported once per silence.
    assert!(gw.running.events().recv_timeout(timeout * 2).is_err());
    gw.stop();
}

fn ports_exhausted_and_conflicts_refused(backend: Backend) {
    let Some(gw) = start(backend, LONG) else {
        return;
    };
    // The allocator refuses once its range is used up (the call core answers 503).
    let now = Instant::now();
    let mut ports = PortAllocator::new(40000, 40002, Duration::from_secs(30)).unwrap();
    assert!(ports.allocate(now).is_ok() && ports.allocate(now).is_ok());
    assert_eq!(ports.allocate(now), Err(DatapathError::PortsExhausted));

    let (browser, phone) = (sock(), sock());
    let ims = gw.allocate(
        1,
        srtp_leg(1, 2, addr(&browser), 1),
        rtp_leg(addr(&phone), 2),
    );
    // A port another call of this worker holds, and a port another process holds.
    let taken = sock();
    for (call, port) in [(2, ims.port()), (3, addr(&taken).port())] {
        gw.handle
            .send(Command::Allocate {
                call,
                web: srtp_leg(1, 2, addr(&sock()), 1),
                ims: rtp_leg(addr(&phone), 2),
                ims_port: port,
            })
            .unwrap();
    }
    assert_eq!(
        gw.event(),
        WorkerEvent::AllocateFailed {
            call: 2,
            error: DatapathError::PortInUse(ims.port())
        }
    );
    assert_eq!(
        gw.event(),
        WorkerEvent::AllocateFailed {
            call: 3,
            error: DatapathError::Bind {
                port: addr(&taken).port(),
                kind: std::io::ErrorKind::AddrInUse
            }
        }
    );
    // The first call still runs.
    phone.send_to(&rtp(9, 1, b"still here"), ims).unwrap();
    let (p, _) = recv_rtp(&browser, Some(&mut ctx(2)));
    assert_eq!(&p[12..], b"still here");
    // A released port is closed: it can be bound again by anyone.
    gw.handle.send(Command::Release { call: 1 }).unwrap();
    gw.allocate(
        4,
        srtp_leg(1, 2, addr(&sock()), 1),
        rtp_leg(addr(&phone), 2),
    );
    gw.stop();
}

fn full_event_channel_never_blocks_media(backend: Backend) {
    // Room for one event: the worker must hold the rest back, keep forwarding, and
    // deliver them all once the control plane reads.
    let Some(gw) = start_with(backend, LONG, 1) else {
        return;
    };
    let (browser, phone) = (sock(), sock());
    let ims = gw.allocate(
        1,
        srtp_leg(1, 2, addr(&browser), 1),
        rtp_leg(addr(&phone), 2),
    );
    for call in 2..=4 {
        gw.handle
            .send(Command::Allocate {
                call,
                web: srtp_leg(1, 2, addr(&sock()), 1),
                ims: rtp_leg(addr(&phone), 2),
                ims_port: ims.port(),
            })
            .unwrap();
    }
    // Nobody reads events now; media still flows both ways, after those commands.
    let (mut browser_tx, mut browser_rx) = (ctx(1), ctx(2));
    for seq in 1..=3u16 {
        send_srtp(&browser, &mut browser_tx, &rtp(5, seq, b"to ims"), gw.web);
        assert_eq!(&recv_rtp(&phone, None).0[12..], b"to ims");
        phone.send_to(&rtp(6, seq, b"to web"), ims).unwrap();
        assert_eq!(
            &recv_rtp(&browser, Some(&mut browser_rx)).0[12..],
            b"to web"
        );
    }
    let failed: Vec<u64> = (0..3)
        .map(|_| match gw.event() {
            WorkerEvent::AllocateFailed {
                call,
                error: DatapathError::PortInUse(_),
            } => call,
            e => panic!("unexpected {e:?}"),
        })
        .collect();
    assert_eq!(failed, [2, 3, 4], "held back, not lost, in order");
    gw.stop();
}

fn stops_on_command_and_on_drop(backend: Backend) {
    let Some(gw) = start(backend, LONG) else {
        return;
    };
    let expected = match backend {
        Backend::IoUring => BackendKind::IoUring,
        Backend::Epoll => BackendKind::Epoll,
        Backend::Auto if io_uring_available() => BackendKind::IoUring,
        Backend::Auto => BackendKind::Epoll,
    };
    assert_eq!(gw.running.backend(), expected);
    gw.stop();
    let Some(gw) = start(backend, LONG) else {
        return;
    };
    let Gateway {
        running, handle, ..
    } = gw;
    let h2 = handle.clone();
    drop(handle);
    assert!(
        h2.send(Command::Release { call: 1 }).is_ok(),
        "one handle left"
    );
    drop(h2);
    running.join().unwrap();
}

fn rtcp_config(ims: ImsRtcp) -> RtcpConfig {
    RtcpConfig {
        cname: "backend-suite@rtcgate".into(),
        seed: 11,
        web_clock_rate: 8000,
        ims_clock_rate: 8000,
        ims,
        ims_reports: true,
    }
}

/// SRTCP with `c` of an SR from `ssrc`.
fn srtcp_sr(c: &mut media_plane::srtp::SrtpContext, ssrc: u32) -> Vec<u8> {
    let mut buf = [0u8; MAX_REPORT_LEN + 32];
    let r = Report {
        ssrc,
        sender: Some(SenderInfo {
            ntp: NtpTime(0x0102_0304_0506_0708),
            ..SenderInfo::default()
        }),
        block: None,
        cname: b"far-end",
    };
    let n = write_report(&mut buf, &r).unwrap();
    let n = c.protect_rtcp(&mut buf, n).unwrap();
    buf[..n].to_vec()
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(b[at..at + 4].try_into().unwrap())
}

fn srtcp_on_ims_port_plus_one(backend: Backend) {
    let Some(gw) = start(backend, LONG) else {
        return;
    };
    let browser = sock();
    let (phone, phone_rtcp) = sock_pair();
    let ims = gw.allocate_with_rtcp(
        21,
        srtp_leg(1, 2, addr(&browser), 0x1111),
        srtp_leg(3, 4, addr(&phone), 0x2222),
        rtcp_config(ImsRtcp::Port { remote: None }),
    );
    let gw_rtcp = std::net::SocketAddr::new(ims.ip(), ims.port() + 1);
    // Media toward IMS first, so the gateway's report there is an SR that counts it.
    let (mut browser_tx, mut phone_rx) = (ctx(1), ctx(4));
    for seq in 1..=3u16 {
        send_srtp(&browser, &mut browser_tx, &rtp(5, seq, &[7; 160]), gw.web);
        recv_rtp(&phone, Some(&mut phone_rx));
    }
    // The far end's port+1 gets SRTCP from the gateway's port+1, with the egress SSRC.
    let mut buf = [0u8; 1500];
    let (n, from) = phone_rtcp.recv_from(&mut buf).unwrap();
    assert_eq!(from, gw_rtcp, "sent from the IMS leg's RTCP port");
    let m = phone_rx.unprotect_rtcp(&mut buf, n).unwrap();
    assert_eq!(
        m,
        28 + 32,
        "SR without blocks (IMS sent nothing) + SDES CNAME"
    );
    assert_eq!(
        (buf[1], be32(&buf, 4)),
        (200, 0x2222),
        "SR from the egress SSRC"
    );
    assert_eq!(
        (be32(&buf, 20), be32(&buf, 24)),
        (3, 480),
        "packets, octets"
    );
    let sdes = 4 * (usize::from(u16::from_be_bytes([buf[2], buf[3]])) + 1);
    assert_eq!(buf[sdes + 1], 202, "SDES CNAME follows");
    assert_eq!(buf[sdes + 9], 21, "CNAME length");
    assert_eq!(&buf[sdes + 10..sdes + 31], b"backend-suite@rtcgate");

    // The far end's SRTCP to port+1 is accepted and terminated; forged RTCP is not.
    let (mut phone_tx, attacker) = (ctx(3), sock());
    attacker
        .send_to(&srtcp_sr(&mut ctx(99), 77), gw_rtcp)
        .unwrap();
    phone_rtcp
        .send_to(&srtcp_sr(&mut phone_tx, 77), gw_rtcp)
        .unwrap();
    let ims_in = Direction::ImsToWeb.index();
    let auth = |s: &MetricsSnapshot| s.media.drops[ims_in][DropReason::Auth.index()];
    let s = gw.metrics_until(|s| s.media.rtcp_received[LegSide::Ims.index()] == 1 && auth(s) > 0);
    assert_eq!(auth(&s), 1, "the forged one");
    assert_eq!(s.media.drops[ims_in][DropReason::RtcpTerminated.index()], 1);
    assert_eq!(s.media.packets[ims_in], 0, "RTCP is never forwarded");
    // Whatever reached the browser is the gateway's own SRTCP, never the far end's.
    browser.set_nonblocking(true).unwrap();
    while let Ok((n, _)) = browser.recv_from(&mut buf) {
        assert!(
            n >= 8 && (200..=204).contains(&buf[1]),
            "only RTCP: {n} octets"
        );
        assert_eq!(
            be32(&buf, 4),
            0x1111,
            "the gateway's SSRC toward the browser"
        );
    }
    gw.stop();
}

fn rtcp_mux_uses_the_rtp_port(backend: Backend) {
    let Some(gw) = start(backend, LONG) else {
        return;
    };
    let (browser, phone) = (sock(), sock());
    phone.set_read_timeout(Some(RTCP_WAIT)).unwrap();
    let ims = gw.allocate_with_rtcp(
        22,
        srtp_leg(1, 2, addr(&browser), 0x1111),
        rtp_leg(addr(&phone), 0x2222),
        rtcp_config(ImsRtcp::Mux),
    );
    // No socket on port+1: anyone may bind it.
    drop(std::net::UdpSocket::bind(("127.0.0.1", ims.port() + 1)).unwrap());
    // Nothing was sent toward IMS: a plain RR, on the RTP port, from the RTP port.
    let mut buf = [0u8; 1500];
    let (n, from) = phone.recv_from(&mut buf).unwrap();
    assert_eq!(from, ims);
    assert!(n >= 8);
    assert_eq!((buf[0], buf[1], be32(&buf, 4)), (0x80, 201, 0x2222));
    // The far end's muxed RTCP from its RTP address is accepted.
    let mut rr = [0u8; 8];
    rr.copy_from_slice(&[0x80, 201, 0, 1, 0, 0, 0, 9]);
    phone.send_to(&rr, ims).unwrap();
    gw.metrics_until(|s| s.media.rtcp_received[LegSide::Ims.index()] == 1);
    gw.stop();
}

macro_rules! suite {
    ($name:ident, $backend:expr) => {
        mod $name {
            use super::*;

            #[test]
            fn srtp_to_rtp_two_way() {
                super::srtp_to_rtp_two_way($backend);
            }
            #[test]
            fn srtp_to_srtp_ssrc_change_invisible() {
                super::srtp_to_srtp_ssrc_change_invisible($backend);
            }
            #[test]
            fn srtp_roc_rollover_both_legs() {
                super::srtp_roc_rollover_both_legs($backend);
            }
            #[test]
            fn telephone_event_pt_and_clock_mapped() {
                super::telephone_event_pt_and_clock_mapped($backend);
            }
            #[test]
            fn generated_dtmf_toward_ims() {
                super::generated_dtmf_toward_ims($backend);
            }
            #[test]
            fn injection_does_not_redirect() {
                super::injection_does_not_redirect($backend);
            }
            #[test]
            fn inactivity_event() {
                super::inactivity_event($backend);
            }
            #[test]
            fn ports_exhausted_and_conflicts_refused() {
                super::ports_exhausted_and_conflicts_refused($backend);
            }
            #[test]
            fn full_event_channel_never_blocks_media() {
                super::full_event_channel_never_blocks_media($backend);
            }
            #[test]
            fn stops_on_command_and_on_drop() {
                super::stops_on_command_and_on_drop($backend);
            }
            #[test]
            fn srtcp_on_ims_port_plus_one() {
                super::srtcp_on_ims_port_plus_one($backend);
            }
            #[test]
            fn rtcp_mux_uses_the_rtp_port() {
                super::rtcp_mux_uses_the_rtp_port($backend);
            }
        }
    };
}

suite!(epoll, Backend::Epoll);
suite!(io_uring, Backend::IoUring);

#[test]
fn auto_picks_a_backend() {
    stops_on_command_and_on_drop(Backend::Auto);
}
