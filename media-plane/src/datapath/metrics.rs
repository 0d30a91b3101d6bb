//! The data path's counters as plain data, published for an exporter in another crate.
//!
//! ```text
//!  worker thread: per packet   → plain u64 adds in the Worker's Tally (no atomics, no locks)
//!                 per loop turn → Worker::publish_metrics: Relaxed stores of the totals
//!                                 into the shared Arc<WorkerMetrics>
//!                 every second  → one-way media sample over the calls
//!  exporter (any thread)        → WorkerMetrics::snapshot: Relaxed loads → MetricsSnapshot
//! ```
//!
//! Every value is a total since the worker started (gauges: the current value), written by
//! the worker thread only; an exporter turns totals into counter increments by keeping the
//! previous snapshot. A snapshot is not one instant: its fields are loaded one by one,
//! so two fields may be one loop turn apart. This crate has no metrics library; the names,
//! types and labels are chosen by the exporter (sip-proxy's `media_engine::metrics`,
//! `docs/metrics.md`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::{Action, BackendStats, DropReason, LegSide, WebPortCounters};

/// How often a worker samples its calls for one-way media.
pub const ONE_WAY_INTERVAL: Duration = Duration::from_secs(1);

/// A media direction, named by the leg the packets arrive on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// From the browser's leg toward the IMS leg.
    WebToIms,
    /// From the IMS leg toward the browser's leg.
    ImsToWeb,
}

impl Direction {
    /// Both directions, in the order of the snapshot's arrays.
    pub const ALL: [Direction; 2] = [Direction::WebToIms, Direction::ImsToWeb];

    /// The direction of packets that arrive on leg `from`.
    pub fn from_ingress(from: LegSide) -> Self {
        match from {
            LegSide::Web => Self::WebToIms,
            LegSide::Ims => Self::ImsToWeb,
        }
    }

    /// A stable lower-case name, for a metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::WebToIms => "web_to_ims",
            Self::ImsToWeb => "ims_to_web",
        }
    }

    /// The index of this direction in the snapshot's arrays.
    pub fn index(self) -> usize {
        match self {
            Self::WebToIms => 0,
            Self::ImsToWeb => 1,
        }
    }
}

impl LegSide {
    /// Both legs, in the order of the snapshot's per-leg arrays.
    pub const ALL: [LegSide; 2] = [LegSide::Web, LegSide::Ims];

    /// A stable lower-case name, for a metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Web => "web",
            Self::Ims => "ims",
        }
    }

    /// The index of this leg in the snapshot's per-leg arrays.
    pub fn index(self) -> usize {
        match self {
            Self::Web => 0,
            Self::Ims => 1,
        }
    }
}

impl DropReason {
    /// Every reason, in the order of [`MediaTally::drops`].
    pub const ALL: [DropReason; 9] = [
        DropReason::Auth,
        DropReason::Replay,
        DropReason::UnknownSource,
        DropReason::TooShort,
        DropReason::NoRemote,
        DropReason::RtcpTerminated,
        DropReason::Other,
        DropReason::NoKeys,
        DropReason::Direction,
    ];

    /// A stable lower-case name, for a metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::Auth => "auth",
            DropReason::Replay => "replay",
            DropReason::UnknownSource => "unknown_source",
            DropReason::TooShort => "too_short",
            DropReason::NoRemote => "no_remote",
            DropReason::RtcpTerminated => "rtcp_terminated",
            DropReason::Other => "other",
            DropReason::NoKeys => "no_keys",
            DropReason::Direction => "direction",
        }
    }

    /// The index of this reason in [`DropReason::ALL`].
    pub fn index(self) -> usize {
        match self {
            DropReason::Auth => 0,
            DropReason::Replay => 1,
            DropReason::UnknownSource => 2,
            DropReason::TooShort => 3,
            DropReason::NoRemote => 4,
            DropReason::RtcpTerminated => 5,
            DropReason::Other => 6,
            DropReason::NoKeys => 7,
            DropReason::Direction => 8,
        }
    }
}

/// Per-direction media totals of a worker, kept by the worker thread with plain adds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MediaTally {
    /// Media packets forwarded, by [`Direction::index`].
    pub packets: [u64; 2],
    /// Bytes of the forwarded packets as sent (after re-protection), by direction.
    pub bytes: [u64; 2],
    /// Datagrams dropped, by direction and [`DropReason::index`]. Datagrams on the web
    /// port that no call claims (junk, unknown ufrag, unlatched sources) count as
    /// `web_to_ims`; datagrams on an IMS port no call owns count as `ims_to_web`.
    pub drops: [[u64; DropReason::ALL.len()]; 2],
    /// RTCP compound packets the gateway generated and sent, by [`LegSide::index`].
    pub rtcp_sent: [u64; 2],
    /// RTCP packets accepted from a peer (authenticated or from its address, well
    /// formed) and terminated, by [`LegSide::index`] of the leg they arrived on. They are
    /// also the `RtcpTerminated` drops of that leg's ingress direction.
    pub rtcp_received: [u64; 2],
}

impl MediaTally {
    pub(super) fn forwarded(&mut self, d: Direction, len: usize) {
        let i = d.index();
        self.packets[i] += 1;
        self.bytes[i] += len as u64;
    }

    pub(super) fn dropped(&mut self, d: Direction, r: DropReason) {
        self.drops[d.index()][r.index()] += 1;
    }

    /// Counts `a` if it is a drop of direction `d` (RTCP accepted and terminated also
    /// counts as received on the ingress leg).
    pub(super) fn note_drop(&mut self, d: Direction, a: Action) {
        if let Action::Drop(r) = a {
            self.dropped(d, r);
            if r == DropReason::RtcpTerminated {
                let leg = match d {
                    Direction::WebToIms => LegSide::Web,
                    Direction::ImsToWeb => LegSide::Ims,
                };
                self.rtcp_received[leg.index()] += 1;
            }
        }
    }

    pub(super) fn rtcp_sent(&mut self, leg: LegSide) {
        self.rtcp_sent[leg.index()] += 1;
    }
}

/// Everything a worker publishes, as plain numbers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MetricsSnapshot {
    /// Media totals by direction.
    pub media: MediaTally,
    /// Live sessions of the worker (a gauge).
    pub sessions: u64,
    /// Sessions that, in the last [`ONE_WAY_INTERVAL`], received media on the ingress leg
    /// of a direction and forwarded none out the other leg, by direction (a gauge).
    pub one_way: [u64; 2],
    /// One-way detections so far (a session flagged in one sampling interval counts once
    /// per direction per interval), by direction.
    pub one_way_detections: [u64; 2],
    /// The shared web port's counters (`ice_checks_ok` and `stun_refused`: the ICE checks
    /// the calls' agents answered with success, and refused).
    pub web: WebPortCounters,
    /// The backend's socket counters.
    pub io: BackendStats,
}

/// Number of `u64` slots a [`MetricsSnapshot`] occupies.
const SLOTS: usize = 2 + 2 + 2 * DropReason::ALL.len() + 2 + 2 + 1 + 2 + 2 + 10 + 5;

impl MetricsSnapshot {
    /// Visits every field in one fixed order (the slot layout of [`WorkerMetrics`]).
    fn visit(&mut self, mut f: impl FnMut(&mut u64)) {
        let m = &mut self.media;
        m.packets.iter_mut().for_each(&mut f);
        m.bytes.iter_mut().for_each(&mut f);
        m.drops.iter_mut().flatten().for_each(&mut f);
        m.rtcp_sent.iter_mut().for_each(&mut f);
        m.rtcp_received.iter_mut().for_each(&mut f);
        f(&mut self.sessions);
        self.one_way.iter_mut().for_each(&mut f);
        self.one_way_detections.iter_mut().for_each(&mut f);
        let w = &mut self.web;
        for v in [
            &mut w.ice_checks_ok,
            &mut w.stun_replies,
            &mut w.stun_refused,
            &mut w.stun_unknown_ufrag,
            &mut w.stun_no_username,
            &mut w.not_latched,
            &mut w.unknown_protocol,
            &mut w.dtls_queue_full,
            &mut w.dtls_to_session,
            &mut w.dtls_transmit_dropped,
        ] {
            f(v);
        }
        let io = &mut self.io;
        for v in [
            &mut io.received,
            &mut io.sent,
            &mut io.send_failed,
            &mut io.recv_errors,
            &mut io.events_dropped,
        ] {
            f(v);
        }
    }
}

/// The counters one worker shares with its exporter: written by the worker thread
/// (Relaxed stores, at the backend's bookkeeping), read by anyone ([`WorkerMetrics::snapshot`]).
#[derive(Debug)]
pub struct WorkerMetrics {
    slots: [AtomicU64; SLOTS],
}

impl Default for WorkerMetrics {
    fn default() -> Self {
        Self {
            slots: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

impl WorkerMetrics {
    /// The last published values.
    pub fn snapshot(&self) -> MetricsSnapshot {
        let mut s = MetricsSnapshot::default();
        let mut slots = self.slots.iter();
        s.visit(|v| *v = slots.next().map_or(0, |a| a.load(Ordering::Relaxed)));
        s
    }

    /// Stores `snapshot` (the worker thread only; no allocation).
    pub(super) fn publish(&self, mut snapshot: MetricsSnapshot) {
        let mut slots = self.slots.iter();
        snapshot.visit(|v| {
            if let Some(a) = slots.next() {
                a.store(*v, Ordering::Relaxed);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_has_a_slot_and_round_trips() {
        let mut n = 0;
        MetricsSnapshot::default().visit(|_| n += 1);
        assert_eq!(n, SLOTS);
        let mut s = MetricsSnapshot::default();
        let mut k = 0;
        s.visit(|v| {
            k += 1;
            *v = k;
        });
        let m = WorkerMetrics::default();
        m.publish(s);
        assert_eq!(m.snapshot(), s);
    }

    #[test]
    fn labels_and_indices_are_consistent() {
        for (i, r) in DropReason::ALL.iter().enumerate() {
            assert_eq!(r.index(), i);
        }
        for (i, d) in Direction::ALL.iter().enumerate() {
            assert_eq!(d.index(), i);
        }
        assert_eq!(Direction::from_ingress(LegSide::Web).as_str(), "web_to_ims");
    }
}
