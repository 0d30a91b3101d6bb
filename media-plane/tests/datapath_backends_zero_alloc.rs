#![allow(clippy::unwrap_used)] // test code: a panic is the failure report
//! Zero heap allocations per forwarded packet in steady state through each socket
//! backend (receive batch, routing, SRTP → RTP and RTP → SRTP, batched send), counted by
//! a `#[global_allocator]` that sees every thread, the backend's included. A plain `main`
//! (no test harness): the counter is process-wide. io_uring is skipped, with a note, only when its
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
        let region = Region::new(GLOBAL);
        round_trips(&gw, ims, (&browser, &phone), &mut keys, 50..1050);
        let stats = region.change();
        assert_eq!(
            stats.allocations + stats.reallocations,
            0,
            "{backend:?}: {stats:?}"
        );
        gw.stop();
    }
}

/// `harness = false` (see Cargo.toml): no libtest threads run beside the counted region,
/// so the count is this process's own work and nothing else.
fn main() {
    backends_allocate_nothing_per_packet();
    println!("backends_allocate_nothing_per_packet: 1 passed, 0 failed");
}
