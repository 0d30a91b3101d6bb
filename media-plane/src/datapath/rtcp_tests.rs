//! The reporter in simulated time: RFC 3550 A.1/A.3/A.8 values, SR/RR choice, LSR/DLSR
//! and the §6.2 schedule.

use super::*;
use crate::rtcp::{write_report, MAX_REPORT_LEN, PT_RR, PT_SDES, PT_SR};

const PEER: u32 = 0xfeed_f00d;
const US: u32 = 0x0bad_cafe;
const MS: Duration = Duration::from_millis(1);

fn reporter(t0: Instant) -> LegReporter {
    LegReporter::new(t0, 8000, 42)
}

/// The report due at or after `at` (polled at its due time, at least `at`).
fn report_at(r: &mut LegReporter, at: Instant) -> Report<'static> {
    let when = r.due().max(at);
    r.poll(when, NtpTime(0), US, b"cname").expect("due")
}

#[test]
fn extended_highest_sequence_across_a_wrap() {
    let t0 = Instant::now();
    let mut r = reporter(t0);
    for (i, seq) in (65530u16..=65535).chain(0..=4).enumerate() {
        r.on_received(t0 + MS * 20 * i as u32, PEER, seq, 160 * i as u32);
    }
    let b = report_at(&mut r, t0).block.expect("heard");
    assert_eq!(b.ssrc, PEER);
    assert_eq!(b.extended_highest_seq, (1 << 16) + 4, "one cycle, seq 4");
    assert_eq!((b.fraction_lost, b.cumulative_lost), (0, 0));
    assert_eq!(b.jitter, 0, "perfectly paced");
}

#[test]
fn fraction_and_cumulative_loss_per_interval() {
    let t0 = Instant::now();
    let mut r = reporter(t0);
    // 100 expected (seq 1000..=1099), every fourth one lost: 75 received.
    for seq in (1000u16..1100).filter(|s| s % 4 != 1) {
        r.on_received(t0, PEER, seq, 0);
    }
    let b = report_at(&mut r, t0).block.expect("heard");
    assert_eq!(b.extended_highest_seq, 1099);
    assert_eq!(b.cumulative_lost, 25);
    assert_eq!(b.fraction_lost, 64, "25/100 in 1/256: 64");
    // The next interval has no loss: fraction 0, the total stays.
    for seq in 1100u16..1150 {
        r.on_received(t0, PEER, seq, 0);
    }
    let b = report_at(&mut r, t0).block.expect("heard");
    assert_eq!((b.fraction_lost, b.cumulative_lost), (0, 25));
    assert_eq!(b.extended_highest_seq, 1149);
    // Nothing heard in an interval: no block (RFC 3550 §6.4: sources heard since).
    assert_eq!(report_at(&mut r, t0).block, None);
    // Duplicates count as received (A.3): the cumulative loss may go down.
    for _ in 0..3 {
        r.on_received(t0, PEER, 1149, 0);
    }
    let b = report_at(&mut r, t0).block.expect("heard");
    assert_eq!(b.cumulative_lost, 22);
    assert_eq!(b.fraction_lost, 0, "negative interval loss reads as 0");
}

#[test]
fn interarrival_jitter_on_a_known_pattern() {
    let t0 = Instant::now();
    let mut r = reporter(t0);
    // 8 kHz, ts step 160 (20 ms); arrivals at 0, 30 and 40 ms: transit 0, 80, 0 units,
    // D = 80 twice. A.8: J1 = 80/16 = 5, J2 = 5 + (80 - 5)/16 = 9.69 → 9.
    for (ms, ts) in [(0u32, 0u32), (30, 160), (40, 320)] {
        r.on_received(t0 + MS * ms, PEER, ts as u16 / 160, ts);
    }
    assert_eq!(report_at(&mut r, t0).block.map(|b| b.jitter), Some(9));
    // Steady 10 ms of alternating delay converges on D = 80.
    let mut r = reporter(t0);
    for i in 0..2000u32 {
        let ms = 20 * i + if i % 2 == 1 { 10 } else { 0 };
        r.on_received(t0 + MS * ms, PEER, i as u16, 160 * i);
    }
    assert_eq!(report_at(&mut r, t0).block.map(|b| b.jitter), Some(79));
}

#[test]
fn sequence_jump_resyncs_and_new_ssrc_restarts() {
    let t0 = Instant::now();
    let mut r = reporter(t0);
    for seq in 10u16..20 {
        r.on_received(t0, PEER, seq, 0);
    }
    // A jump of more than MAX_DROPOUT is taken only once confirmed by its successor.
    r.on_received(t0, PEER, 9000, 0);
    let b = report_at(&mut r, t0).block.expect("heard");
    assert_eq!((b.extended_highest_seq, b.cumulative_lost), (19, 0));
    r.on_received(t0, PEER, 9001, 0);
    r.on_received(t0, PEER, 9002, 0);
    let b = report_at(&mut r, t0).block.expect("heard");
    assert_eq!((b.extended_highest_seq, b.cumulative_lost), (9002, 0));
    // Another SSRC: statistics start over for it.
    r.on_received(t0, 7, 500, 0);
    let b = report_at(&mut r, t0).block.expect("heard");
    assert_eq!(
        (b.ssrc, b.extended_highest_seq, b.cumulative_lost),
        (7, 500, 0)
    );
}

#[test]
fn sr_when_sending_rr_otherwise() {
    let t0 = Instant::now();
    let mut r = reporter(t0);
    let rr = report_at(&mut r, t0);
    assert_eq!((rr.sender, rr.block, rr.ssrc), (None, None, US));
    let sent_at = r.due() - MS * 250;
    for i in 0..10u32 {
        r.on_sent(sent_at, 1000 + 160 * i, 160);
    }
    let at = r.due();
    let wall = NtpTime(0x1111_2222_3333_4444);
    let sr = r.poll(at, wall, US, b"c").expect("due");
    let s = sr.sender.expect("sent media: an SR");
    assert_eq!((s.packets, s.octets, s.ntp), (10, 1600, wall));
    // The last timestamp (2440) plus 250 ms at 8 kHz.
    assert_eq!(s.rtp_timestamp, 2440 + 2000);
    // Silent for more than two intervals: back to RR, counts kept for a later SR.
    let later = r.due() + NOMINAL_INTERVAL * 3;
    assert_eq!(r.poll(later, wall, US, b"c").and_then(|r| r.sender), None);
    r.on_sent(later, 9, 10);
    let s = report_at(&mut r, later).sender.expect("sending again");
    assert_eq!((s.packets, s.octets), (11, 1610));
}

#[test]
fn lsr_and_dlsr_from_the_peers_last_sr() {
    let t0 = Instant::now();
    let mut r = reporter(t0);
    r.on_received(t0, PEER, 1, 0);
    let sr_at = t0 + MS * 100;
    r.on_sender_report(sr_at, PEER, NtpTime(0x1234_5678_9abc_def0));
    let at = r.due().max(sr_at + MS * 1500);
    let b = r.poll(at, NtpTime(0), US, b"c").and_then(|r| r.block);
    let b = b.expect("heard");
    assert_eq!(b.lsr, 0x5678_9abc, "middle 32 bits");
    let expect = dlsr_units(at - sr_at);
    assert_eq!(b.dlsr, expect);
    assert_eq!(dlsr_units(MS * 1500), 98_304, "1.5 s in 1/65536 s");
    // An SR of another source says nothing about the one reported.
    r.on_received(at, PEER, 2, 0);
    r.on_sender_report(at, 0x0123, NtpTime(u64::MAX));
    let b = report_at(&mut r, at).block.expect("heard");
    assert_eq!((b.lsr, b.dlsr), (0, 0));
}

#[test]
fn schedule_first_after_half_then_randomized_within_bounds() {
    let t0 = Instant::now();
    let (lo, hi) = (NOMINAL_INTERVAL / 2, NOMINAL_INTERVAL * 3 / 2);
    let mut intervals = Vec::new();
    for seed in 0..50u64 {
        let mut r = LegReporter::new(t0, 8000, seed);
        let first = r.due() - t0;
        assert!(first >= lo / 2 && first <= hi / 2, "first {first:?}");
        assert!(
            r.poll(r.due() - MS, NtpTime(0), US, b"c").is_none(),
            "not early"
        );
        let mut now = r.due();
        for _ in 0..20 {
            assert!(r.poll(now, NtpTime(0), US, b"c").is_some());
            let next = r.due() - now;
            assert!(next >= lo && next <= hi, "interval {next:?}");
            intervals.push(next);
            now = r.due();
        }
    }
    intervals.sort();
    intervals.dedup();
    assert!(
        intervals.len() > 100,
        "randomized: {} distinct",
        intervals.len()
    );
    // Same seed, same schedule (the core is deterministic).
    assert_eq!(
        LegReporter::new(t0, 8000, 7).due(),
        LegReporter::new(t0, 8000, 7).due()
    );
}

#[test]
fn compound_carries_sr_block_and_cname() {
    let t0 = Instant::now();
    let mut r = reporter(t0);
    r.on_received(t0, PEER, 1, 0);
    r.on_sent(t0, 0, 160);
    let at = r.due();
    let rep = r
        .poll(at, NtpTime(5 << 32), US, b"gw-1234@rtcgate")
        .expect("due");
    let mut buf = [0u8; MAX_REPORT_LEN];
    let n = write_report(&mut buf, &rep).expect("fits");
    assert_eq!((buf[0], buf[1]), (0x81, PT_SR), "SR with one block");
    assert_eq!(&buf[4..8], &US.to_be_bytes());
    assert_eq!(&buf[28..32], &PEER.to_be_bytes(), "block about the peer");
    assert_eq!((buf[52], buf[53]), (0x81, PT_SDES));
    assert_eq!(&buf[56..60], &US.to_be_bytes());
    assert_eq!((buf[60], buf[61]), (1, 15), "CNAME item, 15 octets");
    assert_eq!(&buf[62..77], b"gw-1234@rtcgate");
    assert_eq!(n, 80);
    // An RR when nothing was sent.
    let mut r = reporter(t0);
    let rep = report_at(&mut r, t0);
    write_report(&mut buf, &rep).expect("fits");
    assert_eq!((buf[0], buf[1]), (0x80, PT_RR));
}
