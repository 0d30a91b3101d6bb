#![allow(clippy::unwrap_used)] // test code: a panic is the failure report
//! Zero heap allocations per forwarded packet in steady state through the datapath
//! worker (routing, latch check, SRTP → RTP and RTP → SRTP), and per RTCP report
//! generated (SRTCP toward the browser, RTCP toward IMS) or received, counted by a
//! `#[global_allocator]`. A plain `main` (no test harness): the counter is process-wide.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use media_plane::datapath::{
    Action, Command, DropReason, ImsRtcp, LegConfig, LegCrypto, PtMap, RtcpConfig, Worker,
};
use media_plane::rtcp::NtpTime;
use media_plane::srtp::{ReOriginator, SrtpConfig, SrtpContext, SrtpSuite};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};
use std::alloc::System;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

fn ctx(k: u8) -> SrtpContext {
    SrtpContext::new(
        SrtpSuite::AesCm128HmacSha1_80,
        &[k; 16],
        &[k; 14],
        SrtpConfig::default(),
    )
    .unwrap()
}

fn a(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

fn fill(buf: &mut [u8], seq: u16) -> usize {
    buf[..12].copy_from_slice(&[0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9]);
    buf[2..4].copy_from_slice(&seq.to_be_bytes());
    buf[12..172].fill(seq as u8);
    172
}

fn forwarding_allocates_nothing_in_steady_state() {
    let now = Instant::now();
    let (mut w, h) = Worker::new(4000, Duration::from_secs(30), 4);
    h.send(Command::Allocate {
        call: 1,
        web: Box::new(LegConfig {
            crypto: LegCrypto::Srtp {
                inbound: Box::new(ctx(1)),
                outbound: Box::new(ctx(2)),
            },
            remote: Some(a(5000)),
            egress_pt: PtMap::default(),
            reoriginator: ReOriginator::new(1, 1, 1),
        }),
        ims: Box::new(LegConfig {
            crypto: LegCrypto::Rtp,
            remote: Some(a(6000)),
            egress_pt: PtMap::default(),
            reoriginator: ReOriginator::new(2, 2, 2),
        }),
        ims_port: 10000,
    })
    .unwrap();
    h.send(Command::ConfigureRtcp {
        call: 1,
        rtcp: Box::new(RtcpConfig {
            cname: "zero-alloc@rtcgate".into(),
            seed: 9,
            web_clock_rate: 8000,
            ims_clock_rate: 8000,
            ims: ImsRtcp::Port { remote: None },
            ims_reports: true,
        }),
    })
    .unwrap();
    w.drain_commands(now);
    let mut browser = ctx(1);
    let mut buf = [0u8; 1500];
    let mut report = [0u8; 512];
    let mut reports = 0u32;
    // 20 ms per step in simulated time: reports fall due every few seconds.
    let mut step = |seq: u16| {
        let t = now + Duration::from_millis(20) * u32::from(seq);
        let n = fill(&mut buf, seq);
        let n = browser.protect_rtp(&mut buf, n).unwrap();
        let r1 = w.handle_datagram(t, a(4000), a(5000), &mut buf, n);
        let n = fill(&mut buf, seq);
        let r2 = w.handle_datagram(t, a(10000), a(6000), &mut buf, n);
        assert!(matches!(r1, Action::Forward { .. }) && matches!(r2, Action::Forward { .. }));
        while w
            .poll_rtcp(t, NtpTime(u64::from(seq) << 20), &mut report)
            .is_some()
        {
            reports += 1;
        }
        if seq.is_multiple_of(50) {
            // The IMS far end's SR (no blocks) on port+1: noted for LSR, terminated.
            report[..8].copy_from_slice(&[0x80, 200, 0, 6, 0, 0, 0, 9]);
            let r = w.handle_datagram(t, a(10001), a(6001), &mut report, 28);
            assert_eq!(r, Action::Drop(DropReason::RtcpTerminated));
        }
    };
    for seq in 0..20 {
        step(seq);
    }
    let region = Region::new(GLOBAL);
    for seq in 0..600 {
        step(20 + seq);
    }
    let stats = region.change();
    assert_eq!(stats.allocations + stats.reallocations, 0, "{stats:?}");
    assert!(
        reports >= 4,
        "reports generated in the counted region: {reports}"
    );
}

/// `harness = false` (see Cargo.toml): no libtest threads run beside the counted region,
/// so the count is this process's own work and nothing else.
fn main() {
    forwarding_allocates_nothing_in_steady_state();
    println!("forwarding_allocates_nothing_in_steady_state: 1 passed, 0 failed");
}
