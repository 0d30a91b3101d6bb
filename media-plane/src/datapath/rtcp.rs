//! The gateway's own RTCP on one leg: sans-IO reception statistics, sender counts and
//! the report schedule (RFC 3550 §6, Appendix A).
//!
//! The gateway terminates RTCP (see `session.rs`) and speaks for itself on each leg:
//!
//! ```text
//!  leg L ingress RTP ──on_received(seq, ts)──► ReceiverStats (A.1 seq, A.3 loss, A.8 jitter)
//!  leg L egress RTP  ──on_sent(ts, octets)───► sender counts, (last ts, when)
//!  leg L ingress SR  ──on_sender_report(ntp)─► LSR + arrival (for DLSR)
//!  poll: now ≥ due ──► Report { SR if we sent (else RR), one block, CNAME } ──► next due
//! ```
//!
//! Schedule (RFC 3550 §6.2, §6.3, simplified for two participants — one peer per leg,
//! a 5 s nominal interval, no bandwidth scaling or reconsideration): each interval is the
//! nominal one times a factor drawn uniformly from [0.5, 1.5]; the first report goes out
//! after half an interval (§6.2: "the initial delay is set to half"). The factors come
//! from a SplitMix64 sequence over the seed the control plane supplies (the core has no
//! entropy of its own); the §6.3.1 compensation factor e − 3/2 is not applied.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::rtcp::{NtpTime, Report, ReportBlock, SenderInfo};

/// Where the IMS leg's RTCP goes (the WebRTC leg always muxes, RFC 8834 §5.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImsRtcp {
    /// `a=rtcp-mux` negotiated (RFC 5761 §5.1.1): RTCP on the RTP port both ways.
    Mux,
    /// RTCP on the local port+1, sent to `remote`, or to the remote RTP port+1
    /// (RFC 3550 §11) when the far end's SDP has no `a=rtcp:` (RFC 3605).
    Port {
        /// The far end's `a=rtcp:` address.
        remote: Option<SocketAddr>,
    },
}

/// The RTCP of one call ([`super::Command::ConfigureRtcp`], [`super::Session::set_rtcp`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtcpConfig {
    /// The call's SDES CNAME (RFC 3550 §6.5.1; RFC 7022: random per call), chosen by
    /// the caller; at most 255 octets are sent.
    pub cname: String,
    /// Seed of the report intervals' randomization (the core has no RNG).
    pub seed: u64,
    /// RTP clock rate of the web leg's media, in Hz (jitter and SR timestamps).
    pub web_clock_rate: u32,
    /// RTP clock rate of the IMS leg's media, in Hz.
    pub ims_clock_rate: u32,
    /// Muxed or on port+1.
    pub ims: ImsRtcp,
    /// Whether the gateway sends reports on the IMS leg; `false` when the IMS SDP
    /// turned RTCP off (`b=RS:0` and `b=RR:0`, RFC 3556 §2). What arrives there is
    /// still authenticated and terminated.
    pub ims_reports: bool,
}

/// RFC 3550 §6.2: the recommended minimum (and, for two participants, nominal) interval.
pub(super) const NOMINAL_INTERVAL: Duration = Duration::from_secs(5);

/// RFC 3550 A.1: a jump of this many sequence numbers or more is not in-order loss.
const MAX_DROPOUT: u16 = 3000;
/// RFC 3550 A.1: this far behind is a reordered packet, further a restart.
const MAX_MISORDER: u16 = 100;

/// Reception state of the source heard on a leg (RFC 3550 A.1, A.3, A.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ReceiverStats {
    ssrc: u32,
    max_seq: u16,
    /// Sequence number wraps, shifted (`cycles` of A.1: a multiple of 2^16).
    cycles: u32,
    base_seq: u32,
    /// A.1: the sequence number after a large jump, to resync on the next one.
    bad_seq: Option<u16>,
    received: u32,
    expected_prior: u32,
    received_prior: u32,
    /// Relative transit time of the last packet, in RTP units (A.8).
    transit: Option<u32>,
    /// Jitter times 16 (A.8: `jitter += d - ((jitter + 8) >> 4)`).
    jitter_q4: u64,
}

impl ReceiverStats {
    fn new(ssrc: u32, seq: u16) -> Self {
        Self {
            ssrc,
            max_seq: seq,
            cycles: 0,
            base_seq: u32::from(seq),
            bad_seq: None,
            received: 0,
            expected_prior: 0,
            received_prior: 0,
            transit: None,
            jitter_q4: 0,
        }
    }

    /// A.1 `update_seq` without probation (the packet has authenticated, or came from
    /// the only accepted source): false when it is a jump to be confirmed first.
    fn update_seq(&mut self, seq: u16) -> bool {
        let delta = seq.wrapping_sub(self.max_seq);
        if delta < MAX_DROPOUT {
            if seq < self.max_seq {
                self.cycles = self.cycles.wrapping_add(1 << 16);
            }
            self.max_seq = seq;
        } else if delta <= u16::MAX - MAX_MISORDER {
            // A very large jump: a restarted sender if the next packet follows it.
            if self.bad_seq == Some(seq) {
                *self = Self::new(self.ssrc, seq);
            } else {
                self.bad_seq = Some(seq.wrapping_add(1));
                return false;
            }
        }
        // Otherwise a duplicate or reordered packet: counted, max unchanged.
        self.received = self.received.wrapping_add(1);
        true
    }

    /// A.8: `arrival` and `ts` in the same RTP units.
    fn update_jitter(&mut self, arrival: u32, ts: u32) {
        let transit = arrival.wrapping_sub(ts);
        if let Some(last) = self.transit {
            let d = u64::from((transit.wrapping_sub(last) as i32).unsigned_abs());
            // No underflow: (j + 8) >> 4 ≤ j for every j.
            self.jitter_q4 = self.jitter_q4 + d - ((self.jitter_q4 + 8) >> 4);
        }
        self.transit = Some(transit);
    }

    fn extended_max(&self) -> u32 {
        self.cycles.wrapping_add(u32::from(self.max_seq))
    }

    /// A.3: the block's loss fields; starts the next interval.
    fn block(&mut self) -> ReportBlock {
        let expected = self
            .extended_max()
            .wrapping_sub(self.base_seq)
            .wrapping_add(1);
        let lost = i64::from(expected) - i64::from(self.received);
        let expected_interval = expected.wrapping_sub(self.expected_prior);
        let received_interval = self.received.wrapping_sub(self.received_prior);
        self.expected_prior = expected;
        self.received_prior = self.received;
        let lost_interval = i64::from(expected_interval) - i64::from(received_interval);
        let fraction_lost = if expected_interval == 0 || lost_interval <= 0 {
            0
        } else {
            ((lost_interval << 8) / i64::from(expected_interval)).min(255) as u8
        };
        ReportBlock {
            ssrc: self.ssrc,
            fraction_lost,
            cumulative_lost: lost.clamp(-0x80_0000, 0x7f_ffff) as i32,
            extended_highest_seq: self.extended_max(),
            jitter: u32::try_from(self.jitter_q4 >> 4).unwrap_or(u32::MAX),
            lsr: 0,
            dlsr: 0,
        }
    }
}

/// What the gateway sent on the leg (the SR's sender info, RFC 3550 §6.4.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct SenderStats {
    packets: u32,
    octets: u32,
    /// RTP timestamp of the last packet sent and when it was sent.
    last: Option<(u32, Instant)>,
}

/// One step of SplitMix64 (a fixed, public sequence: the seed is the only input).
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Converts `d` into units of `rate` per second (mod 2^32).
fn rtp_units(d: Duration, rate: u32) -> u32 {
    let nanos = u128::from(d.as_secs()) * 1_000_000_000 + u128::from(d.subsec_nanos());
    (nanos * u128::from(rate) / 1_000_000_000) as u32
}

/// `d` in 1/65536 s, saturated (DLSR, RFC 3550 §6.4.1).
fn dlsr_units(d: Duration) -> u32 {
    let v = (u128::from(d.as_secs()) << 16) + (u128::from(d.subsec_nanos()) << 16) / 1_000_000_000;
    u32::try_from(v).unwrap_or(u32::MAX)
}

/// The gateway's RTCP state on one leg: receiver of the peer's stream, sender of its
/// own (re-originated) stream, and when to report next.
#[derive(Debug, Clone)]
pub(super) struct LegReporter {
    clock_rate: u32,
    /// Origin of the arrival clock of the jitter computation.
    origin: Instant,
    recv: Option<ReceiverStats>,
    /// Packets received since the last report (a block only for a source heard since).
    heard: bool,
    sent: SenderStats,
    /// LSR of the last SR from the peer: its SSRC, the middle NTP bits, its arrival.
    last_sr: Option<(u32, u32, Instant)>,
    due: Instant,
    /// The interval that ended at `due` (for the SR-or-RR rule).
    interval: Duration,
    rng: u64,
}

impl LegReporter {
    /// A leg whose media runs at `clock_rate` Hz; the first report is due half a
    /// randomized interval after `now`.
    pub(super) fn new(now: Instant, clock_rate: u32, seed: u64) -> Self {
        let mut r = Self {
            clock_rate: clock_rate.max(1),
            origin: now,
            recv: None,
            heard: false,
            sent: SenderStats::default(),
            last_sr: None,
            due: now,
            interval: NOMINAL_INTERVAL,
            rng: seed,
        };
        r.interval = r.next_interval();
        r.due = now + r.interval / 2;
        r
    }

    /// The nominal interval times a factor in [0.5, 1.5] (in 1/1000 steps).
    fn next_interval(&mut self) -> Duration {
        let permille = 500 + (splitmix64(&mut self.rng) % 1001) as u32;
        NOMINAL_INTERVAL * permille / 1000
    }

    /// When the next report is due.
    pub(super) fn due(&self) -> Instant {
        self.due
    }

    /// An RTP packet from the peer (authenticated, or from the only accepted source):
    /// its SSRC, sequence number and timestamp as received.
    pub(super) fn on_received(&mut self, now: Instant, ssrc: u32, seq: u16, ts: u32) {
        let s = match &mut self.recv {
            Some(s) if s.ssrc == ssrc => s,
            // A new source (first packet, or the peer changed SSRC): start over.
            other => other.insert(ReceiverStats::new(ssrc, seq)),
        };
        if s.update_seq(seq) {
            s.update_jitter(rtp_units(now - self.origin, self.clock_rate), ts);
            self.heard = true;
        }
    }

    /// An RTP packet the gateway sent on the leg: its timestamp and payload octets.
    pub(super) fn on_sent(&mut self, now: Instant, ts: u32, payload_octets: usize) {
        let s = &mut self.sent;
        s.packets = s.packets.wrapping_add(1);
        s.octets = s.octets.wrapping_add(payload_octets as u32);
        s.last = Some((ts, now));
    }

    /// An SR from the peer (after authentication): remembered for LSR/DLSR.
    pub(super) fn on_sender_report(&mut self, now: Instant, ssrc: u32, ntp: NtpTime) {
        self.last_sr = Some((ssrc, ntp.middle(), now));
    }

    /// If a report is due at `now`: its content (SR when the gateway sent media in the
    /// last two intervals, RFC 3550 §6.3.8 `we_sent`; else RR), and the next due time.
    pub(super) fn poll<'a>(
        &mut self,
        now: Instant,
        wall: NtpTime,
        ssrc: u32,
        cname: &'a [u8],
    ) -> Option<Report<'a>> {
        if now < self.due {
            return None;
        }
        let report = self.report(now, wall, ssrc, cname);
        self.skip(now);
        Some(report)
    }

    /// Nothing can be sent now (no remote, no keys): the report is skipped, the next
    /// one scheduled.
    pub(super) fn skip(&mut self, now: Instant) {
        self.interval = self.next_interval();
        self.due = now + self.interval;
    }

    fn report<'a>(
        &mut self,
        now: Instant,
        wall: NtpTime,
        ssrc: u32,
        cname: &'a [u8],
    ) -> Report<'a> {
        let sender = self
            .sent
            .last
            .filter(|(_, at)| now.saturating_duration_since(*at) <= self.interval * 2)
            .map(|(ts, at)| SenderInfo {
                ntp: wall,
                // The timestamp of the last packet, advanced by the media clock since.
                rtp_timestamp: ts.wrapping_add(rtp_units(now - at, self.clock_rate)),
                packets: self.sent.packets,
                octets: self.sent.octets,
            });
        let heard = std::mem::take(&mut self.heard);
        let block = self.recv.as_mut().filter(|_| heard).map(|s| {
            let mut b = s.block();
            if let Some((sr_ssrc, lsr, at)) = self.last_sr {
                if sr_ssrc == b.ssrc {
                    b.lsr = lsr;
                    b.dlsr = dlsr_units(now - at);
                }
            }
            b
        });
        Report {
            ssrc,
            sender,
            block,
            cname,
        }
    }
}

#[cfg(test)]
#[path = "rtcp_tests.rs"]
mod tests;
