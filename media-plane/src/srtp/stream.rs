//! Per-SSRC state inside a context: a small fixed table, allocated once.
//!
//! A context normally sees one SSRC (one audio stream per direction), sometimes a few
//! (an SSRC change, RTX, a renegotiation). The table holds up to
//! [`SrtpConfig::max_streams`](super::SrtpConfig) entries, searched linearly. A new
//! SSRC takes a free slot or, when all are used, the least recently used one, whose
//! replay windows are reset in place. Only an authenticated packet (or our own protect)
//! creates an entry, so a peer without the keys cannot evict anything.

use super::replay::ReplayWindow;
use super::SrtpError;

/// State of one SSRC.
#[derive(Debug, Clone)]
pub(crate) struct StreamState {
    pub(crate) ssrc: u32,
    in_use: bool,
    last_used: u64,
    /// SRTP indices: the top doubles as the highest index (ROC || s_l) for §3.3.1.
    pub(crate) rtp: ReplayWindow,
    /// SRTCP indices received.
    pub(crate) rtcp: ReplayWindow,
    /// Next SRTCP index to send (RFC 3711 §3.4: starts at 0).
    pub(crate) rtcp_send_index: u32,
}

/// The fixed table of [`StreamState`]s.
#[derive(Debug, Clone)]
pub(crate) struct StreamTable {
    slots: Box<[StreamState]>,
    tick: u64,
}

impl StreamTable {
    pub(crate) fn new(max_streams: usize, window: usize) -> Result<Self, SrtpError> {
        let proto = StreamState {
            ssrc: 0,
            in_use: false,
            last_used: 0,
            rtp: ReplayWindow::new(window)?,
            rtcp: ReplayWindow::new(window)?,
            rtcp_send_index: 0,
        };
        Ok(Self {
            slots: vec![proto; max_streams.max(1)].into_boxed_slice(),
            tick: 0,
        })
    }

    /// The slot of `ssrc`, if it has one.
    #[inline]
    pub(crate) fn find(&self, ssrc: u32) -> Option<usize> {
        self.slots.iter().position(|s| s.in_use && s.ssrc == ssrc)
    }

    pub(crate) fn get(&self, slot: usize) -> Option<&StreamState> {
        self.slots.get(slot)
    }

    /// The slot of `ssrc`, creating it (free slot, else least recently used) if needed.
    #[inline]
    pub(crate) fn find_or_insert(&mut self, ssrc: u32) -> &mut StreamState {
        self.tick += 1;
        let tick = self.tick;
        let idx = match self.find(ssrc) {
            Some(i) => i,
            None => {
                let i = self
                    .slots
                    .iter()
                    .enumerate()
                    .min_by_key(|(_, s)| (s.in_use, s.last_used))
                    .map_or(0, |(i, _)| i);
                let s = &mut self.slots[i];
                s.ssrc = ssrc;
                s.in_use = true;
                s.rtp.reset();
                s.rtcp.reset();
                s.rtcp_send_index = 0;
                i
            }
        };
        let s = &mut self.slots[idx];
        s.last_used = tick;
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn least_recently_used_slot_is_reused_in_place() {
        let mut t = StreamTable::new(2, 64).expect("valid window");
        t.find_or_insert(1).rtp.accept(5);
        t.find_or_insert(2).rtp.accept(6);
        t.find_or_insert(1); // 2 is now the least recently used
        t.find_or_insert(3);
        assert!(t.find(2).is_none());
        assert_eq!(
            t.find(1).and_then(|i| t.get(i)).and_then(|s| s.rtp.top()),
            Some(5)
        );
        assert_eq!(
            t.find(3).and_then(|i| t.get(i)).and_then(|s| s.rtp.top()),
            None
        );
    }
}
