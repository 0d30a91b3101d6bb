#![allow(clippy::unwrap_used)] // test code: a panic is the failure report
//! The datapath worker on real loopback sockets, driven step by step by the test (the
//! epoll backend is not there yet): SRTP (browser) ↔ RTP (IMS) both ways, payload checked
//! after decrypting with independent contexts, and an injection from another port that
//! must not redirect media. Every wait is a bounded socket read timeout.

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use media_plane::datapath::{Action, Command, LegConfig, LegCrypto, LegSide, PtMap, Worker};
use media_plane::srtp::{ReOriginator, SrtpConfig, SrtpContext, SrtpSuite};

fn ctx(k: u8) -> SrtpContext {
    SrtpContext::new(
        SrtpSuite::AesCm128HmacSha1_80,
        &[k; 16],
        &[k; 14],
        SrtpConfig::default(),
    )
    .unwrap()
}

fn sock() -> UdpSocket {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    s
}

fn rtp(seq: u16, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, 0, 0, 0, 0, 0, 0, 160, 0, 0, 0, 42];
    p[2..4].copy_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

/// Receives one datagram on `s` and lets the worker handle it; sends what it says.
fn pump(w: &mut Worker, s: &UdpSocket, socks: (&UdpSocket, &UdpSocket)) -> Action {
    let mut buf = [0u8; 1500];
    let (n, from) = s.recv_from(&mut buf[..1480]).unwrap();
    let a = w.handle_datagram(Instant::now(), s.local_addr().unwrap(), from, &mut buf, n);
    if let Action::Forward { leg, to, len } = a {
        let out = if leg == LegSide::Web {
            socks.0
        } else {
            socks.1
        };
        out.send_to(&buf[..len], to).unwrap();
    }
    a
}

#[test]
fn srtp_to_rtp_two_way_and_injection_ignored() {
    let (gw_web, gw_ims) = (sock(), sock());
    let (browser, phone, attacker) = (sock(), sock(), sock());
    let addr = |s: &UdpSocket| -> SocketAddr { s.local_addr().unwrap() };
    let (mut w, h) = Worker::new(addr(&gw_web).port(), Duration::from_secs(30), 8);
    h.send(Command::Allocate {
        call: 7,
        web: Box::new(LegConfig {
            crypto: LegCrypto::Srtp {
                inbound: Box::new(ctx(1)),
                outbound: Box::new(ctx(2)),
            },
            remote: Some(addr(&browser)),
            egress_pt: PtMap::default(),
            reoriginator: ReOriginator::new(0x1111, 100, 0),
        }),
        ims: Box::new(LegConfig {
            crypto: LegCrypto::Rtp,
            remote: Some(addr(&phone)),
            egress_pt: PtMap::default(),
            reoriginator: ReOriginator::new(0x2222, 200, 0),
        }),
        ims_port: addr(&gw_ims).port(),
    })
    .unwrap();
    w.drain_commands(Instant::now());
    let socks = (&gw_web, &gw_ims);

    // browser → phone
    let (mut tx, mut buf) = (ctx(1), [0u8; 1500]);
    let p = rtp(1, b"hello ims");
    buf[..p.len()].copy_from_slice(&p);
    let n = tx.protect_rtp(&mut buf, p.len()).unwrap();
    browser.send_to(&buf[..n], addr(&gw_web)).unwrap();
    assert!(matches!(
        pump(&mut w, &gw_web, socks),
        Action::Forward { .. }
    ));
    let (m, _) = phone.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[12..m], b"hello ims");
    assert_eq!(&buf[8..12], &0x2222u32.to_be_bytes());

    // An injection from another port is dropped and does not move the latch.
    attacker.send_to(&rtp(2, b"evil"), addr(&gw_ims)).unwrap();
    assert!(matches!(pump(&mut w, &gw_ims, socks), Action::Drop(_)));

    // phone → browser, decrypted with an independent context.
    phone.send_to(&rtp(3, b"hello web"), addr(&gw_ims)).unwrap();
    assert!(matches!(
        pump(&mut w, &gw_ims, socks),
        Action::Forward { .. }
    ));
    let (m, from) = browser.recv_from(&mut buf).unwrap();
    assert_eq!(from, addr(&gw_web));
    let m = ctx(2).unprotect_rtp(&mut buf, m).unwrap();
    assert_eq!(&buf[12..m], b"hello web");
    assert_eq!(w.session(7).unwrap().drops().unknown_source, 1);
}
