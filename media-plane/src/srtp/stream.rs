//! Per-SSRC state inside a context: a small fixed table, set up once.
//!
//! A context normally sees one SSRC (one audio stream per direction), sometimes a few
//! (an SSRC change, RTX, a renegotiation). The table holds up to
//! [`SrtpConfig::max_streams`](super::SrtpConfig) entries, searched linearly. A new
//! SSRC takes a free slot or, when all are used, the least recently used one, whose
//! replay windows are reset in place. Only an authenticated packet (or our own protect)
//! creates an entry, so a peer without the keys cannot evict anything.
//!
//! The first [`INLINE_STREAMS`] slots (the default `max_streams`) live inside the table,
//! so inside the `SrtpContext`, with their replay windows (inline for windows up to the
//! default, see `replay`): the common single-SSRC case reads slot 0's SSRC, its top
//! index and one word of its window at fixed offsets of the context, with no pointer
//! to follow. Slots beyond those, when configured, are boxed.
//!
//! ```text
//! SrtpContext ─ StreamTable ─ inline: [slot 0 | slot 1 | slot 2 | slot 3]   more: Box (empty
//!                             slot = ssrc, in_use, last_used, rtp window,     unless
//!                                    rtcp send index, rtcp window            max_streams > 4)
//! ```

use super::replay::ReplayWindow;
use super::SrtpError;

/// Slots held inline in every table (the default `max_streams`).
pub(crate) const INLINE_STREAMS: usize = 4;

/// State of one SSRC.
// Packet-path fields first (SSRC, LRU tick, the SRTP window's header and bits), the
// SRTCP state after them.
#[repr(C)]
#[derive(Debug, Clone)]
pub(crate) struct StreamState {
    pub(crate) ssrc: u32,
    in_use: bool,
    last_used: u64,
    /// SRTP indices: the top doubles as the highest index (ROC || s_l) for §3.3.1.
    pub(crate) rtp: ReplayWindow,
    /// Next SRTCP index to send (RFC 3711 §3.4: starts at 0).
    pub(crate) rtcp_send_index: u32,
    /// SRTCP indices received.
    pub(crate) rtcp: ReplayWindow,
}

/// The fixed table of [`StreamState`]s.
#[derive(Debug, Clone)]
pub(crate) struct StreamTable {
    /// Slots `0..used` are `inline[..used]`, the rest (if any) `more`.
    inline: [StreamState; INLINE_STREAMS],
    used: usize,
    /// Slots beyond [`INLINE_STREAMS`]; an empty box (no allocation) unless configured.
    more: Box<[StreamState]>,
    tick: u64,
}

impl StreamTable {
    pub(crate) fn new(max_streams: usize, window: usize) -> Result<Self, SrtpError> {
        let proto = StreamState {
            ssrc: 0,
            in_use: false,
            last_used: 0,
            rtp: ReplayWindow::new(window)?,
            rtcp_send_index: 0,
            rtcp: ReplayWindow::new(window)?,
        };
        let n = max_streams.max(1);
        let more = n.saturating_sub(INLINE_STREAMS);
        Ok(Self {
            more: vec![proto.clone(); more].into_boxed_slice(),
            inline: std::array::from_fn(|_| proto.clone()),
            used: n.min(INLINE_STREAMS),
            tick: 0,
        })
    }

    fn slots(&self) -> impl Iterator<Item = &StreamState> {
        self.inline[..self.used].iter().chain(self.more.iter())
    }

    /// The slot of `ssrc`, if it has one.
    #[inline]
    pub(crate) fn find(&self, ssrc: u32) -> Option<usize> {
        // Slot 0 first and on its own: the single-SSRC case needs no loop.
        let first = &self.inline[0];
        if first.in_use && first.ssrc == ssrc {
            return Some(0);
        }
        self.slots().position(|s| s.in_use && s.ssrc == ssrc)
    }

    #[inline]
    pub(crate) fn get(&self, slot: usize) -> Option<&StreamState> {
        if slot < self.used {
            self.inline.get(slot)
        } else {
            self.more.get(slot - self.used)
        }
    }

    /// Whether the table and its slots' replay windows hold no heap allocation.
    #[cfg(test)]
    pub(crate) fn is_inline(&self) -> bool {
        self.more.is_empty()
            && self
                .slots()
                .all(|s| s.rtp.is_inline() && s.rtcp.is_inline())
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
                    .slots()
                    .enumerate()
                    .min_by_key(|(_, s)| (s.in_use, s.last_used))
                    .map_or(0, |(i, _)| i);
                let s = self.slot_mut(i);
                s.ssrc = ssrc;
                s.in_use = true;
                s.rtp.reset();
                s.rtcp.reset();
                s.rtcp_send_index = 0;
                i
            }
        };
        let s = self.slot_mut(idx);
        s.last_used = tick;
        s
    }

    /// Slot `i`, an index from `find` or the LRU scan (so < the table's length; slot 0
    /// otherwise).
    #[inline]
    fn slot_mut(&mut self, i: usize) -> &mut StreamState {
        if i < self.used {
            return &mut self.inline[i];
        }
        match self.more.get_mut(i - self.used) {
            Some(s) => s,
            None => &mut self.inline[0],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_table_is_inline_larger_ones_spill() {
        assert!(StreamTable::new(4, 1024).expect("valid").is_inline());
        assert!(StreamTable::new(1, 64).expect("valid").is_inline());
        assert!(!StreamTable::new(5, 1024).expect("valid").is_inline());
        assert!(!StreamTable::new(4, 1025).expect("valid").is_inline());
    }

    /// Past the inline slots: every SSRC up to `max_streams` keeps its state, the LRU
    /// one (inline or boxed) is reused after that.
    #[test]
    fn slots_beyond_the_inline_ones_track_and_evict() {
        let n = INLINE_STREAMS + 3;
        let mut t = StreamTable::new(n, 64).expect("valid window");
        for ssrc in 0..n as u32 {
            t.find_or_insert(ssrc).rtp.accept(100 + u64::from(ssrc));
        }
        for ssrc in 0..n as u32 {
            let top = t
                .find(ssrc)
                .and_then(|i| t.get(i))
                .and_then(|s| s.rtp.top());
            assert_eq!(top, Some(100 + u64::from(ssrc)), "ssrc {ssrc}");
        }
        // Touch all but a boxed one (the last) and an inline one (1): they are the LRU.
        for ssrc in (0..n as u32).filter(|&s| s != 1 && s != n as u32 - 1) {
            t.find_or_insert(ssrc);
        }
        t.find_or_insert(1000);
        t.find_or_insert(1001);
        assert!(t.find(1).is_none() && t.find(n as u32 - 1).is_none());
        assert!(t.find(1000).is_some() && t.find(1001).is_some());
        assert!(t.find(0).is_some() && t.find(n as u32 - 2).is_some());
    }

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
