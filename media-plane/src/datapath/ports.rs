//! Port allocator: even ports only for IMS legs (RFC 3550 §11: RTP on an even port, RTCP
//! on the next one: odd ports are never handed out, so port+1 rests in quarantine and
//! comes back with its RTP port; the last even port's RTCP port may lie one past the
//! range, and the media engine keeps other ranges off it),
//! every port of the range for per-call WebRTC ports (RTP and RTCP are muxed there); a
//! released port is quarantined before reuse so late packets of the old call never
//! reach a new one.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::DatapathError;

/// Allocates even UDP ports from a configured range. Sans-IO: `now` is passed in.
#[derive(Debug, Clone)]
pub struct PortAllocator {
    free: VecDeque<u16>,
    quarantined: VecDeque<(u16, Instant)>,
    quarantine: Duration,
}

impl PortAllocator {
    /// All even ports in `first..=last`; a released port is reusable after `quarantine`.
    pub fn new(first: u16, last: u16, quarantine: Duration) -> Result<Self, DatapathError> {
        Self::from_ports(
            (first..=last).filter(|p| p % 2 == 0),
            first,
            last,
            quarantine,
        )
    }

    /// Every port in `first..=last` (per-call WebRTC ports: rtcp-mux, no parity rule);
    /// a released port is reusable after `quarantine`. Port 0 is never handed out.
    pub fn every_port(first: u16, last: u16, quarantine: Duration) -> Result<Self, DatapathError> {
        Self::from_ports((first..=last).filter(|p| *p != 0), first, last, quarantine)
    }

    fn from_ports(
        ports: impl Iterator<Item = u16>,
        first: u16,
        last: u16,
        quarantine: Duration,
    ) -> Result<Self, DatapathError> {
        let free: VecDeque<u16> = ports.collect();
        if free.is_empty() {
            return Err(DatapathError::InvalidPortRange(first, last));
        }
        Ok(Self {
            free,
            quarantined: VecDeque::new(),
            quarantine,
        })
    }

    /// Takes a free port, or [`DatapathError::PortsExhausted`].
    pub fn allocate(&mut self, now: Instant) -> Result<u16, DatapathError> {
        // Quarantine times are pushed in order, so the queue is sorted by expiry.
        while let Some(&(port, until)) = self.quarantined.front() {
            if until > now {
                break;
            }
            self.quarantined.pop_front();
            self.free.push_back(port);
        }
        self.free.pop_front().ok_or(DatapathError::PortsExhausted)
    }

    /// Returns `port`; it is handed out again no earlier than `now + quarantine`.
    pub fn release(&mut self, port: u16, now: Instant) {
        self.quarantined.push_back((port, now + self.quarantine));
    }

    /// Ports free right now (quarantined ones not counted).
    pub fn available(&self) -> usize {
        self.free.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn even_ports_exhaustion_and_quarantine() {
        let t0 = Instant::now();
        let q = Duration::from_secs(30);
        let mut a = PortAllocator::new(10001, 10005, q).unwrap();
        assert_eq!(a.allocate(t0), Ok(10002));
        assert_eq!(a.allocate(t0), Ok(10004));
        assert_eq!(a.allocate(t0), Err(DatapathError::PortsExhausted));
        a.release(10002, t0);
        assert_eq!(
            a.allocate(t0 + Duration::from_secs(29)),
            Err(DatapathError::PortsExhausted)
        );
        assert_eq!(a.allocate(t0 + q), Ok(10002));
    }

    #[test]
    fn every_port_takes_odd_ports_too() {
        let t0 = Instant::now();
        let mut a = PortAllocator::every_port(10001, 10002, Duration::ZERO).unwrap();
        assert_eq!(a.allocate(t0), Ok(10001));
        assert_eq!(a.allocate(t0), Ok(10002));
        assert_eq!(a.allocate(t0), Err(DatapathError::PortsExhausted));
        assert!(PortAllocator::every_port(0, 0, Duration::ZERO).is_err());
    }

    #[test]
    fn empty_range_is_refused() {
        assert_eq!(
            PortAllocator::new(7, 7, Duration::ZERO).unwrap_err(),
            DatapathError::InvalidPortRange(7, 7)
        );
    }
}
