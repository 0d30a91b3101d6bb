//! Timer values (RFC 3261 §17, Table 4 in §A) with configurable T1, T2 and T4.

use std::time::{Duration, Instant};

/// T1, T2 and T4 (RFC 3261 §17.1.1.1, §A). Every other timer derives from them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimerConfig {
    /// RTT estimate, default 500 ms.
    pub t1: Duration,
    /// Maximum retransmit interval for non-INVITE requests and INVITE responses, 4 s.
    pub t2: Duration,
    /// Maximum duration a message remains in the network, 5 s.
    pub t4: Duration,
}

impl Default for TimerConfig {
    fn default() -> Self {
        TimerConfig {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
        }
    }
}

impl TimerConfig {
    /// 64·T1: Timers B, F, H, J (unreliable), L and M (RFC 6026).
    pub fn t64(&self) -> Duration {
        self.t1 * 64
    }

    /// Timer D: at least 32 s for unreliable transports, 0 for reliable (§17.1.1.2).
    pub fn timer_d(&self, reliable: bool) -> Duration {
        if reliable {
            Duration::ZERO
        } else {
            self.t64().max(Duration::from_secs(32))
        }
    }

    /// T4 for unreliable transports, 0 for reliable: Timers I and K (§17.2.1, §17.1.2.2).
    pub fn t4_or_zero(&self, reliable: bool) -> Duration {
        if reliable {
            Duration::ZERO
        } else {
            self.t4
        }
    }

    /// Timer J: 64·T1 for unreliable transports, 0 for reliable (§17.2.2).
    pub fn timer_j(&self, reliable: bool) -> Duration {
        if reliable {
            Duration::ZERO
        } else {
            self.t64()
        }
    }
}

/// The RFC 3261 / RFC 6026 timer names, reported in timeout events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Timer {
    /// INVITE request retransmit (UDP).
    A,
    /// INVITE transaction timeout.
    B,
    /// Wait time for response retransmits (INVITE client).
    D,
    /// Non-INVITE request retransmit (UDP).
    E,
    /// Non-INVITE transaction timeout.
    F,
    /// INVITE response retransmit (UDP).
    G,
    /// Wait time for ACK receipt.
    H,
    /// Wait time for ACK retransmits.
    I,
    /// Wait time for non-INVITE request retransmits.
    J,
    /// Wait time for response retransmits (non-INVITE client).
    K,
    /// RFC 6026: wait time for INVITE retransmits after a 2xx (server Accepted).
    L,
    /// RFC 6026: wait time for 2xx retransmits (client Accepted).
    M,
}

/// A retransmission timer that doubles up to an optional cap.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Backoff {
    pub(crate) at: Instant,
    pub(crate) interval: Duration,
}

impl Backoff {
    pub(crate) fn start(now: Instant, interval: Duration) -> Self {
        Backoff {
            at: now + interval,
            interval,
        }
    }

    /// Re-arms from `now` with the doubled interval, capped by `cap` when given.
    pub(crate) fn double(&mut self, now: Instant, cap: Option<Duration>) {
        let next = self.interval * 2;
        self.interval = cap.map_or(next, |c| next.min(c));
        self.at = now + self.interval;
    }
}

/// Whether an optional deadline has passed.
pub(crate) fn due(t: Option<Instant>, now: Instant) -> bool {
    t.is_some_and(|t| t <= now)
}

/// The earliest of several optional deadlines.
pub(crate) fn earliest(ts: &[Option<Instant>]) -> Option<Instant> {
    ts.iter().flatten().min().copied()
}
