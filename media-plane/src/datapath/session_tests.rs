//! Session core in simulated time: both directions, SSRC change, latching, RTCP, timeouts.

use super::*;
use crate::srtp::{SrtpConfig, SrtpSuite};

const SUITE: SrtpSuite = SrtpSuite::AesCm128HmacSha1_80;

fn ctx(k: u8) -> SrtpContext {
    SrtpContext::new(SUITE, &[k; 16], &[k; 14], SrtpConfig::default()).unwrap()
}

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

fn rtp(ssrc: u32, seq: u16, ts: u32, pt: u8, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, pt, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    p[2..4].copy_from_slice(&seq.to_be_bytes());
    p[4..8].copy_from_slice(&ts.to_be_bytes());
    p[8..12].copy_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

/// Web leg keys: browser sends with 1, gateway sends with 2. IMS leg: 3 / 4, or RTP.
fn session(now: Instant, ims_srtp: bool) -> Session {
    let web = LegConfig {
        crypto: LegCrypto::Srtp {
            inbound: Box::new(ctx(1)),
            outbound: Box::new(ctx(2)),
        },
        remote: Some(addr(5000)),
        egress_pt: PtMap::default().with(96, 101),
        reoriginator: ReOriginator::new(0xaaaa, 1000, 50),
    };
    let ims = LegConfig {
        crypto: if ims_srtp {
            LegCrypto::Srtp {
                inbound: Box::new(ctx(3)),
                outbound: Box::new(ctx(4)),
            }
        } else {
            LegCrypto::Rtp
        },
        remote: Some(addr(6000)),
        egress_pt: PtMap::default().with(101, 96),
        reoriginator: ReOriginator::new(0xbbbb, 7, 9),
    };
    Session::new(now, web, ims, Duration::from_secs(5))
}

/// Protects `pkt` with `c` into a buffer with 20 bytes tailroom.
fn protect(c: &mut SrtpContext, pkt: &[u8]) -> ([u8; 1500], usize) {
    let mut buf = [0u8; 1500];
    buf[..pkt.len()].copy_from_slice(pkt);
    let n = c.protect_rtp(&mut buf, pkt.len()).unwrap();
    (buf, n)
}

#[test]
fn srtp_to_srtp_both_ways_with_pt_map_and_ssrc_change() {
    let t0 = Instant::now();
    let mut s = session(t0, true);
    let (mut browser_tx, mut ims_rx) = (ctx(1), ctx(4));
    let mut seen = Vec::new();
    for (seq, ssrc) in [(500u16, 11u32), (501, 11), (9000, 22), (9001, 22)] {
        let (mut buf, n) = protect(&mut browser_tx, &rtp(ssrc, seq, 0, 101, b"hi"));
        let Action::Forward { leg, to, len } =
            s.handle_rtp(t0, LegSide::Web, addr(5000), &mut buf, n)
        else {
            panic!("dropped")
        };
        assert_eq!((leg, to), (LegSide::Ims, addr(6000)));
        let m = ims_rx.unprotect_rtp(&mut buf, len).unwrap();
        assert_eq!(&buf[12..m], b"hi");
        assert_eq!(buf[1] & 0x7f, 96, "telephone-event PT mapped");
        assert_eq!(u32::from_be_bytes(buf[8..12].try_into().unwrap()), 0xbbbb);
        seen.push(u16::from_be_bytes([buf[2], buf[3]]));
    }
    assert_eq!(seen, [7, 8, 9, 10], "SSRC change invisible on egress");

    let (mut ims_tx, mut browser_rx) = (ctx(3), ctx(2));
    let (mut buf, n) = protect(&mut ims_tx, &rtp(33, 1, 0, 0, b"yo"));
    let a = s.handle_rtp(t0, LegSide::Ims, addr(6000), &mut buf, n);
    let Action::Forward {
        leg: LegSide::Web,
        len,
        ..
    } = a
    else {
        panic!("{a:?}")
    };
    let m = browser_rx.unprotect_rtp(&mut buf, len).unwrap();
    assert_eq!(&buf[12..m], b"yo");
}

#[test]
fn srtp_to_rtp_and_rtp_bleed_protection() {
    let t0 = Instant::now();
    let mut s = session(t0, false);
    let mut browser_tx = ctx(1);
    let (mut buf, n) = protect(&mut browser_tx, &rtp(11, 1, 0, 0, b"ab"));
    let a = s.handle_rtp(t0, LegSide::Web, addr(5000), &mut buf, n);
    assert_eq!(
        a,
        Action::Forward {
            leg: LegSide::Ims,
            to: addr(6000),
            len: 14
        }
    );
    assert_eq!(&buf[12..14], b"ab");

    // Plain RTP from elsewhere never moves the IMS latch.
    let mut buf = [0u8; 1500];
    let p = rtp(66, 1, 0, 0, b"evil");
    buf[..p.len()].copy_from_slice(&p);
    let a = s.handle_rtp(t0, LegSide::Ims, addr(6666), &mut buf, p.len());
    assert_eq!(a, Action::Drop(DropReason::UnknownSource));
    assert_eq!(s.remote(LegSide::Ims), Some(addr(6000)));

    // From the configured remote it reaches the browser, protected.
    buf[..p.len()].copy_from_slice(&p);
    let a = s.handle_rtp(t0, LegSide::Ims, addr(6000), &mut buf, p.len());
    let Action::Forward { len, .. } = a else {
        panic!("{a:?}")
    };
    let m = ctx(2).unprotect_rtp(&mut buf, len).unwrap();
    assert_eq!(&buf[12..m], b"evil");
}

#[test]
fn srtp_latch_moves_only_on_authenticated_packet() {
    let t0 = Instant::now();
    let mut s = session(t0, true);
    let mut ims_tx = ctx(3);
    // Forged tag from another port: dropped, latch kept.
    let (mut buf, n) = protect(&mut ctx(9), &rtp(33, 1, 0, 0, b"x"));
    let a = s.handle_rtp(t0, LegSide::Ims, addr(7000), &mut buf, n);
    assert_eq!(a, Action::Drop(DropReason::UnknownSource));
    assert_eq!(s.remote(LegSide::Ims), Some(addr(6000)));
    assert_eq!(s.poll_event(t0), None);
    // Authenticated from a new port: latch moves.
    let (mut buf, n) = protect(&mut ims_tx, &rtp(33, 1, 0, 0, b"x"));
    assert!(matches!(
        s.handle_rtp(t0, LegSide::Ims, addr(7000), &mut buf, n),
        Action::Forward { .. }
    ));
    assert_eq!(s.remote(LegSide::Ims), Some(addr(7000)));
    assert_eq!(
        s.poll_event(t0),
        Some(SessionEvent::Relatched { leg: LegSide::Ims })
    );
    // A replay of that packet from the old port does not move it back.
    let (mut buf, n) = protect(&mut ctx(3), &rtp(33, 1, 0, 0, b"x"));
    let a = s.handle_rtp(t0, LegSide::Ims, addr(6000), &mut buf, n);
    assert_eq!(a, Action::Drop(DropReason::Replay));
    assert_eq!(s.remote(LegSide::Ims), Some(addr(7000)));
    assert_eq!(s.drops().unknown_source, 1);
    assert_eq!(s.drops().replay, 1);
}

#[test]
fn rtcp_terminated_and_short_dropped() {
    let t0 = Instant::now();
    let mut s = session(t0, false);
    let mut buf = [0u8; 64];
    buf[..2].copy_from_slice(&[0x80, 200]);
    let a = s.handle_rtp(t0, LegSide::Ims, addr(6000), &mut buf, 28);
    assert_eq!(a, Action::Drop(DropReason::RtcpTerminated));
    let a = s.handle_rtp(t0, LegSide::Ims, addr(6000), &mut buf, 5);
    assert_eq!(a, Action::Drop(DropReason::TooShort));
}

#[test]
fn inactivity_per_leg_in_simulated_time() {
    let t0 = Instant::now();
    let mut s = session(t0, false);
    assert_eq!(s.poll_timeout(), Some(t0 + Duration::from_secs(5)));
    let t1 = t0 + Duration::from_secs(3);
    let mut buf = [0u8; 1500];
    let p = rtp(66, 1, 0, 0, b"z");
    buf[..p.len()].copy_from_slice(&p);
    assert!(matches!(
        s.handle_rtp(t1, LegSide::Ims, addr(6000), &mut buf, p.len()),
        Action::Forward { .. }
    ));
    let t5 = t0 + Duration::from_secs(5);
    assert_eq!(s.poll_timeout(), Some(t5));
    assert_eq!(
        s.poll_event(t5),
        Some(SessionEvent::MediaInactive { leg: LegSide::Web })
    );
    assert_eq!(s.poll_event(t5), None, "reported once");
    assert_eq!(s.poll_timeout(), Some(t1 + Duration::from_secs(5)));
    assert_eq!(
        s.poll_event(t1 + Duration::from_secs(5)),
        Some(SessionEvent::MediaInactive { leg: LegSide::Ims })
    );
    assert_eq!(s.poll_timeout(), None);
}
