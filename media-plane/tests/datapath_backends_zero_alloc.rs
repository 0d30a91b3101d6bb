#![allow(clippy::unwrap_used)] // test code: a panic is the failure report
//! Zero heap allocations per forwarded packet in steady state through each socket
//! backend (receive batch, routing, SRTP → RTP and RTP → SRTP, batched send), counted by
//! a `#[global_allocator]` that sees every thread, the backend's included. One `#[test]`
//! only: the counter is process-wide. io_uring is skipped, with a note, only when its
//! probe fails.

mod datapath_harness;

use std::time::Duration;

use datapath_harness::*;
use media_plane::datapath::Backend;
use media_plane::srtp::SrtpContext;
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};
use std::alloc::System;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Pushes `n` packets each way through `gw`, one round trip at a time.
fn round_trips(
    gw: &Gateway,
    ims: std::net::SocketAddr,
    peers: (&std::net::UdpSocket, &std::net::UdpSocket),
    keys: &mut (SrtpContext, SrtpContext),
    seqs: std::ops::Range<u16>,
) {
    let (browser, phone) = peers;
    let (tx, rx) = keys;
    let mut buf = [0u8; 1500];
    for seq in seqs {
        buf[..12].copy_from_slice(&[0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9]);
        buf[2..4].copy_from_slice(&seq.to_be_bytes());
        buf[12..172].fill(seq as u8);
        let n = tx.protect_rtp(&mut buf, 172).unwrap();
        browser.send_to(&buf[..n], gw.web).unwrap();
        let (m, _) = phone.recv_from(&mut buf).unwrap();
        assert_eq!(m, 172);
        phone.send_to(&buf[..m], ims).unwrap();
        let (m, _) = browser.recv_from(&mut buf).unwrap();
        assert_eq!(rx.unprotect_rtp(&mut buf, m).unwrap(), 172);
    }
}

#[test]
fn backends_allocate_nothing_per_packet() {
    for backend in [Backend::Epoll, Backend::IoUring] {
        let Some(gw) = start(backend, Duration::from_secs(60)) else {
            continue;
        };
        // The browser sends with key 1 and receives with key 2; the gateway has its own
        // contexts. Made before the counted region (a context allocates when keyed).
        let (browser, phone) = (sock(), sock());
        let ims = gw.allocate(
            1,
            srtp_leg(1, 2, addr(&browser), 5),
            rtp_leg(addr(&phone), 6),
        );
        let mut keys = (ctx(1), ctx(2));
        round_trips(&gw, ims, (&browser, &phone), &mut keys, 0..50);
        // As in datapath_zero_alloc.rs: the counter sees every thread, so a one-off
        // allocation of the test harness can taint one region; one per packet taints all.
        let mut seen = Vec::with_capacity(3);
        for round in 0..3u16 {
            let first = 50 + round * 500;
            let region = Region::new(GLOBAL);
            round_trips(&gw, ims, (&browser, &phone), &mut keys, first..first + 500);
            let stats = region.change();
            if stats.allocations == 0 {
                break;
            }
            seen.push(stats);
        }
        assert!(
            seen.len() < 3,
            "{backend:?}: every region allocated: {seen:?}"
        );
        gw.stop();
    }
}
