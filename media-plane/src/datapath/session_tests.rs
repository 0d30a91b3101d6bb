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

/// A padded packet (RFC 3550 §5.1 P bit) takes the general path and keeps its padding;
/// the marker bit survives the PT map on both paths.
#[test]
fn padded_and_marked_packets_cross_intact() {
    let t0 = Instant::now();
    let mut s = session(t0, true);
    let (mut browser_tx, mut ims_rx) = (ctx(1), ctx(4));
    for (seq, padded) in [(1u16, false), (2, true)] {
        let mut pkt = rtp(11, seq, 0, 0x80 | 101, b"tone");
        if padded {
            pkt[0] |= 0x20;
            pkt.extend_from_slice(&[0, 0, 3]);
        }
        let (mut buf, n) = protect(&mut browser_tx, &pkt);
        let Action::Forward { len, .. } = s.handle_rtp(t0, LegSide::Web, addr(5000), &mut buf, n)
        else {
            panic!("dropped")
        };
        let m = ims_rx.unprotect_rtp(&mut buf, len).unwrap();
        assert_eq!(buf[1], 0x80 | 96, "marker kept, PT mapped");
        assert_eq!(&buf[12..m], &pkt[12..], "payload and padding as sent");
        assert_eq!(buf[0] & 0x20 != 0, padded);
    }
    // The sender report toward IMS counts payload octets without the padding.
    let due = t0 + Duration::from_secs(8);
    s.set_rtcp(t0, rtcp_cfg(crate::datapath::ImsRtcp::Mux));
    let (mut buf, n) = protect(&mut browser_tx, &rtp(11, 3, 160, 101, b"tone"));
    s.handle_rtp(t0, LegSide::Web, addr(5000), &mut buf, n);
    let got = reports(&mut s, due, &mut ctx(2), Some(&mut ctx(4)));
    let ims = &got.iter().find(|r| r.0 == LegSide::Ims).unwrap().2;
    assert_eq!(
        (be32(ims, 20), be32(ims, 24)),
        (1, 4),
        "one packet, 4 payload octets"
    );
}

/// Hold (RFC 3264 §6.1 directions): media toward a closed leg is authenticated, then
/// dropped as `Direction`; the sender stays alive (no inactivity) and latched; resuming
/// forwards again.
#[test]
fn hold_closes_one_direction_without_silencing_the_sender() {
    let t0 = Instant::now();
    let mut s = session(t0, true);
    s.set_flow(false, true); // the gateway holds: nothing to the browser
    let (mut ims_tx, mut browser_tx) = (ctx(3), ctx(1));
    let mut t = t0;
    for seq in 0..10u16 {
        t = t0 + Duration::from_secs(u64::from(seq));
        let (mut buf, n) = protect(&mut ims_tx, &rtp(33, seq, 0, 0, b"moh"));
        let a = s.handle_rtp(t, LegSide::Ims, addr(6000), &mut buf, n);
        assert_eq!(a, Action::Drop(DropReason::Direction));
        let (mut buf, n) = protect(&mut browser_tx, &rtp(11, seq, 0, 96, b"hi"));
        let a = s.handle_rtp(t, LegSide::Web, addr(5000), &mut buf, n);
        assert!(
            matches!(
                a,
                Action::Forward {
                    leg: LegSide::Ims,
                    ..
                }
            ),
            "{a:?}"
        );
    }
    assert_eq!(
        s.poll_event(t),
        None,
        "neither leg is silent: 10 s > the 5 s timeout"
    );
    // A forgery toward the closed leg is still an auth failure, not a hold drop.
    let (mut buf, n) = protect(&mut ctx(99), &rtp(33, 50, 0, 0, b"x"));
    let a = s.handle_rtp(t, LegSide::Ims, addr(6000), &mut buf, n);
    assert_eq!(a, Action::Drop(DropReason::Auth));
    s.set_flow(true, true);
    let (mut buf, n) = protect(&mut ims_tx, &rtp(33, 10, 0, 0, b"back"));
    let a = s.handle_rtp(t, LegSide::Ims, addr(6000), &mut buf, n);
    assert!(
        matches!(
            a,
            Action::Forward {
                leg: LegSide::Web,
                ..
            }
        ),
        "{a:?}"
    );
    assert_eq!(s.drops().direction, 10);
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
    // An SR without blocks: 28 octets, length 6.
    buf[..4].copy_from_slice(&[0x80, 200, 0, 6]);
    let a = s.handle_rtp(t0, LegSide::Ims, addr(6000), &mut buf, 28);
    assert_eq!(a, Action::Drop(DropReason::RtcpTerminated));
    let a = s.handle_rtp(t0, LegSide::Ims, addr(6000), &mut buf, 5);
    assert_eq!(a, Action::Drop(DropReason::TooShort));
    // Lengths that do not add up, and plain RTCP from another address.
    let a = s.handle_rtp(t0, LegSide::Ims, addr(6000), &mut buf, 32);
    assert_eq!(a, Action::Drop(DropReason::TooShort));
    let a = s.handle_rtp(t0, LegSide::Ims, addr(6666), &mut buf, 28);
    assert_eq!(a, Action::Drop(DropReason::UnknownSource));
    assert_eq!(s.drops().rtcp, 1);
    assert_eq!(s.forwarded(), 0);
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

fn rtcp_cfg(ims: crate::datapath::ImsRtcp) -> crate::datapath::RtcpConfig {
    crate::datapath::RtcpConfig {
        cname: "call-7@rtcgate".into(),
        seed: 3,
        web_clock_rate: 8000,
        ims_clock_rate: 8000,
        ims,
        ims_reports: true,
    }
}

/// Drains the session's reports at `now`: (leg, to, plain RTCP) after unprotecting
/// with the far ends' contexts.
fn reports(
    s: &mut Session,
    now: Instant,
    web_rx: &mut SrtpContext,
    ims_rx: Option<&mut SrtpContext>,
) -> Vec<(LegSide, SocketAddr, Vec<u8>)> {
    let mut out = Vec::new();
    let mut ims_rx = ims_rx;
    let mut buf = [0u8; 512];
    while let Some(t) = s.poll_rtcp(now, crate::rtcp::NtpTime(0xabcd << 32), &mut buf) {
        let n = match (t.leg, ims_rx.as_deref_mut()) {
            (LegSide::Web, _) => web_rx.unprotect_rtcp(&mut buf, t.len).unwrap(),
            (LegSide::Ims, Some(c)) => c.unprotect_rtcp(&mut buf, t.len).unwrap(),
            (LegSide::Ims, None) => t.len,
        };
        out.push((t.leg, t.to, buf[..n].to_vec()));
    }
    out
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(b[at..at + 4].try_into().unwrap())
}

#[test]
fn rtcp_reports_per_leg_with_the_egress_ssrc_and_counts() {
    use crate::datapath::ImsRtcp;
    let t0 = Instant::now();
    let mut s = session(t0, true);
    s.set_rtcp(t0, rtcp_cfg(ImsRtcp::Port { remote: None }));
    assert_eq!(
        s.rtcp_remote(LegSide::Ims),
        Some(addr(6001)),
        "RTP port + 1"
    );
    assert_eq!(s.rtcp_remote(LegSide::Web), Some(addr(5000)), "muxed");
    let due = s.rtcp_timeout().unwrap();
    assert!(
        due > t0 && s.poll_timeout() == Some(due),
        "first report before inactivity"
    );
    let mut browser_tx = ctx(1);
    for seq in 0..10u16 {
        let (mut buf, n) = protect(
            &mut browser_tx,
            &rtp(11, seq, 160 * u32::from(seq), 0, &[0; 160]),
        );
        let a = s.handle_rtp(t0, LegSide::Web, addr(5000), &mut buf, n);
        assert!(matches!(a, Action::Forward { .. }));
    }
    let at = t0 + Duration::from_secs(4);
    let got = reports(&mut s, at, &mut ctx(2), Some(&mut ctx(4)));
    assert_eq!(got.len(), 2, "one report per leg");
    for (leg, to, p) in &got {
        match leg {
            LegSide::Ims => {
                assert_eq!(*to, addr(6001));
                assert_eq!(
                    (p[0], p[1]),
                    (0x80, 200),
                    "SR, no block: nothing heard from IMS"
                );
            }
            LegSide::Web => {
                assert_eq!(*to, addr(5000));
                assert_eq!((p[0], p[1]), (0x81, 201), "RR about the browser's stream");
            }
        }
    }
    let ims = &got.iter().find(|r| r.0 == LegSide::Ims).unwrap().2;
    let web = &got.iter().find(|r| r.0 == LegSide::Web).unwrap().2;
    assert_eq!(be32(ims, 4), 0xbbbb, "the gateway's egress SSRC toward IMS");
    assert_eq!(
        (be32(ims, 20), be32(ims, 24)),
        (10, 1600),
        "packets and payload octets"
    );
    assert_eq!(
        be32(ims, 8),
        0xabcd,
        "NTP seconds from the driver's wall clock"
    );
    assert_eq!(
        be32(web, 4),
        0xaaaa,
        "the gateway's egress SSRC toward the browser"
    );
    assert_eq!(be32(web, 8), 11, "block about the browser's SSRC");
    assert_eq!(be32(web, 16), 9, "extended highest sequence");
    // SDES CNAME follows in both.
    for p in [ims, web] {
        let sdes = 4 * (usize::from(u16::from_be_bytes([p[2], p[3]])) + 1);
        assert_eq!(p[sdes + 1], 202);
        assert_eq!(&p[sdes + 10..sdes + 24], b"call-7@rtcgate");
    }
    assert!(s.rtcp_timeout().unwrap() > at, "rescheduled");
    assert_eq!(
        s.drops(),
        DropCounters::default(),
        "generating drops nothing"
    );
}

/// `b=RS:0` and `b=RR:0` from IMS (RFC 3556 §2): no reports toward IMS, the browser's
/// still go out, and the far end's SRTCP is still authenticated and terminated.
#[test]
fn rtcp_off_toward_ims_sends_nothing_there() {
    use crate::datapath::ImsRtcp;
    let t0 = Instant::now();
    let mut s = session(t0, true);
    s.set_rtcp(
        t0,
        crate::datapath::RtcpConfig {
            ims_reports: false,
            ..rtcp_cfg(ImsRtcp::Mux)
        },
    );
    let mut legs = Vec::new();
    for secs in [4, 8, 12, 16, 20] {
        let at = t0 + Duration::from_secs(secs);
        legs.extend(
            reports(&mut s, at, &mut ctx(2), Some(&mut ctx(4)))
                .into_iter()
                .map(|r| r.0),
        );
    }
    assert!(
        legs.len() >= 2,
        "the browser keeps getting reports: {legs:?}"
    );
    assert!(
        legs.iter().all(|l| *l == LegSide::Web),
        "none toward IMS: {legs:?}"
    );
    let sr = crate::rtcp::Report {
        ssrc: 77,
        sender: Some(crate::rtcp::SenderInfo::default()),
        block: None,
        cname: b"far",
    };
    let mut wire = [0u8; 512];
    let m = crate::rtcp::write_report(&mut wire, &sr).unwrap();
    let m = ctx(3).protect_rtcp(&mut wire, m).unwrap();
    let a = s.handle_rtp(t0, LegSide::Ims, addr(6000), &mut wire, m);
    assert_eq!(a, Action::Drop(DropReason::RtcpTerminated));
}

#[test]
fn incoming_srtcp_authenticated_noted_and_terminated() {
    use crate::datapath::ImsRtcp;
    let t0 = Instant::now();
    let mut s = session(t0, true);
    s.set_rtcp(t0, rtcp_cfg(ImsRtcp::Mux));
    assert_eq!(s.rtcp_remote(LegSide::Ims), Some(addr(6000)), "rtcp-mux");
    let mut phone_tx = ctx(3);
    let (mut buf, n) = protect(&mut phone_tx, &rtp(77, 1, 0, 0, b"x"));
    assert!(matches!(
        s.handle_rtp(t0, LegSide::Ims, addr(6000), &mut buf, n),
        Action::Forward { .. }
    ));
    // The far end's SR (sender 77), SRTCP with its key, on the RTP port (muxed).
    let sr = crate::rtcp::Report {
        ssrc: 77,
        sender: Some(crate::rtcp::SenderInfo {
            ntp: crate::rtcp::NtpTime(0x0000_1234_5678_0000),
            ..Default::default()
        }),
        block: None,
        cname: b"far",
    };
    let mut wire = [0u8; 512];
    let m = crate::rtcp::write_report(&mut wire, &sr).unwrap();
    let mut forged = wire;
    let m = phone_tx.protect_rtcp(&mut wire, m).unwrap();
    let fm = ctx(99).protect_rtcp(&mut forged, m - 14).unwrap();
    let a = s.handle_rtp(t0, LegSide::Ims, addr(6000), &mut forged, fm);
    assert_eq!(a, Action::Drop(DropReason::Auth), "wrong key");
    let a = s.handle_rtp(t0, LegSide::Ims, addr(7777), &mut wire.clone(), m);
    assert_eq!(
        a,
        Action::Drop(DropReason::RtcpTerminated),
        "the tag is the check"
    );
    let a = s.handle_rtp(t0, LegSide::Ims, addr(6000), &mut wire, m);
    assert_eq!(
        a,
        Action::Drop(DropReason::Replay),
        "same SRTCP index again"
    );
    assert_eq!(
        s.remote(LegSide::Ims),
        Some(addr(6000)),
        "RTCP never moves the latch"
    );
    let (drops, fwd) = (s.drops(), s.forwarded());
    assert_eq!((drops.rtcp, drops.auth, drops.replay, fwd), (1, 1, 1, 1));
    // The next IMS report carries LSR = middle bits of that SR, DLSR since it came.
    let at = t0 + Duration::from_secs(8);
    let got = reports(&mut s, at, &mut ctx(2), Some(&mut ctx(4)));
    let ims = &got.iter().find(|r| r.0 == LegSide::Ims).unwrap().2;
    assert_eq!(
        (ims[0], ims[1]),
        (0x81, 201),
        "RR (nothing sent to IMS), one block"
    );
    assert_eq!(be32(ims, 8), 77, "about the far end's SSRC");
    assert_eq!(be32(ims, 8 + 16), 0x1234_5678, "LSR");
    assert_eq!(be32(ims, 8 + 20), 8 << 16, "DLSR: 8 s in 1/65536 s");
}

#[test]
fn reports_wait_for_a_remote_and_keys_without_spinning() {
    use crate::datapath::ImsRtcp;
    let t0 = Instant::now();
    let mut s = session(t0, false);
    s.clear_remote(LegSide::Web);
    s.set_crypto(LegSide::Web, LegCrypto::AwaitingDtls);
    s.set_rtcp(
        t0,
        rtcp_cfg(ImsRtcp::Port {
            remote: Some(addr(6500)),
        }),
    );
    let at = t0 + Duration::from_secs(8);
    let got = reports(&mut s, at, &mut ctx(2), None);
    assert_eq!(got.len(), 1, "nothing toward the browser yet");
    assert_eq!(
        (got[0].0, got[0].1),
        (LegSide::Ims, addr(6500)),
        "a=rtcp address"
    );
    assert_eq!(
        (got[0].2[0], got[0].2[1]),
        (0x80, 201),
        "plain RR, nothing sent or heard"
    );
    assert!(
        s.rtcp_timeout().unwrap() > at,
        "the skipped one is rescheduled too"
    );
}

/// The browser sends `pkt` (protected with its key 1): what the IMS peer reads
/// (unprotected with the gateway's key 4 when the IMS leg is SRTP).
fn browser_to_ims(
    s: &mut Session,
    now: Instant,
    tx: &mut SrtpContext,
    pkt: &[u8],
    srtp: bool,
) -> AtFarEnd {
    let (mut buf, n) = protect(tx, pkt);
    match s.handle_rtp(now, LegSide::Web, addr(5000), &mut buf, n) {
        Action::Forward { len, .. } => {
            let m = if srtp {
                ctx(4).unprotect_rtp(&mut buf, len).unwrap()
            } else {
                len
            };
            Ok(buf[..m].to_vec())
        }
        other => Err(other),
    }
}

/// The IMS peer sends `pkt` (protected with its key 3 when SRTP): what the browser reads.
fn ims_to_browser(s: &mut Session, now: Instant, pkt: &[u8], srtp: bool) -> Vec<u8> {
    let (mut buf, n) = if srtp {
        protect(&mut ctx(3), pkt)
    } else {
        let mut b = [0u8; 1500];
        b[..pkt.len()].copy_from_slice(pkt);
        (b, pkt.len())
    };
    let Action::Forward { len, .. } = s.handle_rtp(now, LegSide::Ims, addr(6000), &mut buf, n)
    else {
        panic!("dropped toward the browser")
    };
    let m = ctx(2).unprotect_rtp(&mut buf, len).unwrap();
    buf[..m].to_vec()
}

/// What the far end read, or what the session did instead.
type AtFarEnd = Result<Vec<u8>, Action>;

fn ts_of(p: &[u8]) -> u32 {
    u32::from_be_bytes(p[4..8].try_into().unwrap())
}

/// RFC 4733 §2.3.5 across clocks: the browser's telephone-event 101 at 8 kHz is the
/// IMS side's 96 at 16 kHz. Durations are rescaled both ways (SRTP → SRTP, SRTP → RTP),
/// the event's timestamp stays on the stream clock, audio is untouched, and a
/// telephone-event that is not whole 4-octet blocks is dropped and counted.
#[test]
fn telephone_event_duration_follows_each_legs_clock() {
    let digit = |d: u16| {
        let [hi, lo] = d.to_be_bytes();
        [5u8, 10, hi, lo]
    };
    for srtp in [true, false] {
        let t0 = Instant::now();
        let mut s = session(t0, srtp);
        s.ims.cfg.egress_pt = PtMap::default().with_event(101, 8000, 96, 16000);
        s.web.cfg.egress_pt = PtMap::default().with_event(96, 16000, 101, 8000);
        let mut tx = ctx(1);
        let mut event_ts = Vec::new();
        for (seq, d) in [(1u16, 160u16), (2, 320), (3, 480)] {
            let p = browser_to_ims(
                &mut s,
                t0,
                &mut tx,
                &rtp(11, seq, 8000, 101, &digit(d)),
                srtp,
            )
            .expect("event forwarded");
            assert_eq!(p[1] & 0x7f, 96);
            assert_eq!(&p[12..], &digit(2 * d), "8 kHz duration doubled at 16 kHz");
            event_ts.push(ts_of(&p));
        }
        assert!(
            event_ts.iter().all(|t| *t == event_ts[0]),
            "one event, one timestamp"
        );

        // Audio (PCMU) in the same stream: 4 payload octets stay as they are.
        let p = browser_to_ims(&mut s, t0, &mut tx, &rtp(11, 4, 8160, 0, &digit(160)), srtp)
            .expect("audio forwarded");
        assert_eq!(&p[12..], &digit(160));
        assert_eq!(
            ts_of(&p),
            event_ts[0].wrapping_add(160),
            "the stream clock is not scaled"
        );

        // A 3-octet "event": authenticated, then dropped.
        let before = s.drops().too_short;
        let r = browser_to_ims(
            &mut s,
            t0,
            &mut tx,
            &rtp(11, 5, 8320, 101, &[5, 10, 0]),
            srtp,
        );
        assert_eq!(r, Err(Action::Drop(DropReason::TooShort)));
        assert_eq!(s.drops().too_short, before + 1);

        // IMS → browser: 16 kHz back to 8 kHz.
        let p = ims_to_browser(&mut s, t0, &rtp(33, 1, 0, 96, &digit(1600)), srtp);
        assert_eq!(p[1] & 0x7f, 101);
        assert_eq!(&p[12..], &digit(800), "16 kHz duration halved at 8 kHz");
    }
}

#[test]
fn pt_map_event_clock_only_when_the_clocks_differ() {
    let same = PtMap::default().with_event(101, 8000, 96, 8000);
    assert_eq!(same, PtMap::default().with(101, 96));
    assert_eq!(same.event_clock(101), None);
    let differ = PtMap::default().with_event(101, 8000, 96, 48000);
    assert_eq!(differ.map(101), 96);
    assert!(differ.event_clock(101).is_some());
    assert!(
        differ.event_clock(0x80 | 101).is_some(),
        "marker bit ignored"
    );
    assert_eq!(differ.event_clock(96), None);
    assert_eq!(
        PtMap::default()
            .with_event(101, 0, 96, 8000)
            .event_clock(101),
        None
    );
}

/// The gateway's own DTMF toward IMS (`tones.rs`): queued, it replaces the browser's
/// packets while it plays: one timestamp, marker on the first, growing durations, three
/// end packets; the sequence stays gap-free and audio resumes on the stream's clock.
#[test]
fn generated_event_replaces_audio_toward_ims_only() {
    use crate::datapath::ToneRequest;
    let tone = |event| ToneRequest {
        event,
        duration: Duration::from_millis(60),
        pt: 96,
        event_hz: 8000,
        stream_hz: 8000,
    };
    for srtp in [true, false] {
        let t0 = Instant::now();
        let mut s = session(t0, srtp);
        assert!(s.send_tone(tone(11)));
        let mut tx = ctx(1);
        let got: Vec<Vec<u8>> = (0..8u16)
            .map(|i| {
                let pkt = rtp(11, 100 + i, 8000 + 160 * u32::from(i), 0, &[0xff; 160]);
                browser_to_ims(&mut s, t0, &mut tx, &pkt, srtp).expect("forwarded")
            })
            .collect();
        let seq = |p: &Vec<u8>| u16::from_be_bytes([p[2], p[3]]);
        assert_eq!(
            got.iter().map(seq).collect::<Vec<_>>(),
            (7..15).collect::<Vec<_>>()
        );
        // 60 ms: 160, 320, then 480 with E three times = 5 event packets.
        let (events, audio) = got.split_at(5);
        assert_eq!(events[0][1], 0x80 | 96, "marker on the first event packet");
        assert!(events[1..].iter().all(|p| p[1] == 96));
        assert!(
            events.iter().all(|p| ts_of(p) == ts_of(&events[0])),
            "the event's start"
        );
        let blocks: Vec<_> = events.iter().map(|p| p[12..].to_vec()).collect();
        let block = |e: u8, d: u16| [[11, e], d.to_be_bytes()].concat();
        assert_eq!(
            blocks,
            [
                block(10, 160),
                block(10, 320),
                block(0x8a, 480),
                block(0x8a, 480),
                block(0x8a, 480)
            ]
        );
        assert!(audio.iter().all(|p| p[1] == 0 && p[12..] == [0xff; 160]));
        assert_eq!(
            ts_of(&audio[0]),
            ts_of(&events[0]) + 5 * 160,
            "stream clock kept"
        );

        // Toward the browser nothing changes.
        assert!(s.send_tone(tone(1)));
        let p = ims_to_browser(&mut s, t0, &rtp(33, 1, 0, 0, b"audio"), srtp);
        assert_eq!(&p[12..], b"audio");
    }
}
