//! Zero heap allocations per packet in steady state: protect, unprotect (SRTP and
//! SRTCP) and the transcode primitive, for every suite and suite pair, counted by a
//! `#[global_allocator]`; and none at all behind a default context's stream state.
//!
//! A plain `main` (no test harness): the counter is process-wide, and libtest's own
//! threads would be counted too.

use media_plane::srtp::{
    rtp_to_srtp, srtp_to_rtp, srtp_to_srtp, ReOriginator, SrtpConfig, SrtpContext, SrtpSuite,
};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};
use std::alloc::System;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const PACKETS: u16 = 120;

fn ctx(suite: SrtpSuite, k: u8) -> SrtpContext {
    let key = [k; 32];
    let salt = [k ^ 0xff; 14];
    SrtpContext::new(
        suite,
        &key[..suite.key_len()],
        &salt[..suite.salt_len()],
        SrtpConfig::default(),
    )
    .expect("lengths fit")
}

/// Writes a 172-octet RTP packet (12 + 160) into `buf`.
fn fill_rtp(buf: &mut [u8], ssrc: u32, seq: u16) -> usize {
    buf[0] = 0x80;
    buf[1] = 0;
    buf[2..4].copy_from_slice(&seq.to_be_bytes());
    buf[4..8].copy_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    buf[8..12].copy_from_slice(&ssrc.to_be_bytes());
    buf[12..172].fill(seq as u8);
    172
}

fn fill_rtcp(buf: &mut [u8], ssrc: u32) -> usize {
    buf[..4].copy_from_slice(&[0x81, 201, 0, 7]);
    buf[4..8].copy_from_slice(&ssrc.to_be_bytes());
    buf[8..32].fill(0x5c);
    32
}

/// Runs `PACKETS` packets through every operation, starting at `seq0`.
fn run(
    a: SrtpSuite,
    b: SrtpSuite,
    st: &mut (
        SrtpContext,
        SrtpContext,
        SrtpContext,
        SrtpContext,
        ReOriginator,
        ReOriginator,
    ),
    seq0: u16,
    buf: &mut [u8; 256],
) {
    let (tx, rx, egress, far_end, reorig, reorig_rtp) = st;
    for i in 0..PACKETS {
        let seq = seq0.wrapping_add(i);
        // protect / unprotect
        let n = fill_rtp(buf, 1, seq);
        let n = tx.protect_rtp(buf, n).expect("protect");
        let m = rx.unprotect_rtp(buf, n).expect("unprotect");
        assert_eq!(m, 172);
        // transcode SRTP(a) → SRTP(b), checked by the far end
        let n = fill_rtp(buf, 2, seq);
        let n = tx.protect_rtp(buf, n).expect("protect");
        let n = srtp_to_srtp(rx, reorig, egress, buf, n).unwrap_or_else(|e| panic!("{a}→{b}: {e}"));
        far_end.unprotect_rtp(buf, n).expect("far end");
        // SRTP → RTP and RTP → SRTP
        let n = fill_rtp(buf, 3, seq);
        let n = tx.protect_rtp(buf, n).expect("protect");
        let n = srtp_to_rtp(rx, reorig_rtp, buf, n).expect("to rtp");
        rtp_to_srtp(reorig_rtp, egress, buf, n).expect("to srtp");
        // SRTCP both ways
        let n = fill_rtcp(buf, 4);
        let n = tx.protect_rtcp(buf, n).expect("protect rtcp");
        rx.unprotect_rtcp(buf, n).expect("unprotect rtcp");
    }
}

fn no_allocation_per_packet_in_steady_state() {
    // The counter is live: one boxed value is one allocation.
    let probe = Region::new(GLOBAL);
    drop(std::hint::black_box(Box::new(7u64)));
    assert_eq!(
        probe.change().allocations,
        1,
        "the counting allocator is not installed"
    );

    let mut buf = [0u8; 256];
    let mut failures = Vec::new();
    for a in SrtpSuite::ALL {
        for b in SrtpSuite::ALL {
            let mut st = (
                ctx(a, 1),
                ctx(a, 1),
                ctx(b, 2),
                ctx(b, 2),
                ReOriginator::new(0xE, 65_500, 0),
                ReOriginator::new(0xF, 1, 0),
            );
            // Warm-up: the first packet of each SSRC takes its (preallocated) slot.
            run(a, b, &mut st, 65_400, &mut buf);
            let region = Region::new(GLOBAL);
            // Steady state, across the ingress and egress 16-bit wraps.
            run(a, b, &mut st, 65_400u16.wrapping_add(PACKETS), &mut buf);
            let c = region.change();
            if c.allocations + c.reallocations != 0 {
                failures.push((a, b, c.allocations, c.reallocations));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "allocations per run (suite pair, allocs, reallocs): {failures:?}"
    );
}

/// The per-SSRC state (stream slots, replay windows) of a context with the default
/// config is inline: building one allocates nothing, so the packet path reaches that
/// state without following a pointer. A window beyond the default is boxed.
fn default_context_keeps_stream_state_inline() {
    let suite = SrtpSuite::AesCm128HmacSha1_80;
    let build = |config| {
        let region = Region::new(GLOBAL);
        let c = SrtpContext::new(suite, &[7; 16], &[9; 14], config).expect("lengths fit");
        let n = region.change().allocations;
        drop(std::hint::black_box(c));
        n
    };
    assert_eq!(build(SrtpConfig::default()), 0, "default config");
    let wide = SrtpConfig {
        replay_window: 4096,
        ..SrtpConfig::default()
    };
    assert!(build(wide) > 0, "a 4096-packet window is boxed");
}

/// `harness = false` (see Cargo.toml): no libtest threads run beside the counted region,
/// so the count is this process's own work and nothing else.
fn main() {
    no_allocation_per_packet_in_steady_state();
    default_context_keeps_stream_state_inline();
    println!("no_allocation_per_packet_in_steady_state, default_context_keeps_stream_state_inline: 2 passed, 0 failed");
}
