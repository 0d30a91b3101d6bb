//! Replay protection and packet index estimation (RFC 3711 §3.3.1, §3.3.2, Appendix A).
//!
//! ```text
//!            too old           │◄──────── window (W packets) ───────►│ new
//!   ───────────────────────────┼────────────────────────────────────┼──────► index
//!                         top - W                                  top
//! ```
//!
//! One [`ReplayWindow`] per SSRC and direction. Its bitmap is a power-of-two ring of
//! bits, set up once when the context is built and reused in place for the life of the
//! context: checking and accepting an index never allocates. A ring of up to
//! [`INLINE_WORDS`] words (every window up to the default 1024 packets) is held inside
//! the window itself, so inside the `SrtpContext`: the packet path reads the window's
//! top and its bit from memory at a fixed offset of the context, not through a pointer
//! (with 4 contexts per call, a pointer chase per context was a dependent cache miss
//! per packet at 1000 calls). Only a configured window larger than that is boxed.

use super::SrtpError;

/// The smallest window RFC 3711 §3.3.2 allows.
pub const MIN_REPLAY_WINDOW: usize = 64;
/// The window used unless configured otherwise.
pub const DEFAULT_REPLAY_WINDOW: usize = 1024;

/// Ring words (of 64 bits) kept inline: the default window's ring.
pub(crate) const INLINE_WORDS: usize = DEFAULT_REPLAY_WINDOW / 64;

/// Largest SRTP packet index (48 bits, RFC 3711 §3.3.1).
pub(crate) const MAX_SRTP_INDEX: u64 = (1 << 48) - 1;

/// The ring's storage: inline for rings of up to [`INLINE_WORDS`] words (of which a
/// smaller ring uses the first few), boxed beyond.
#[derive(Debug, Clone)]
enum Bits {
    Inline([u64; INLINE_WORDS]),
    Boxed(Box<[u64]>),
}

impl Bits {
    #[inline]
    fn words(&self) -> &[u64] {
        match self {
            Bits::Inline(w) => w,
            Bits::Boxed(w) => w,
        }
    }

    #[inline]
    fn words_mut(&mut self) -> &mut [u64] {
        match self {
            Bits::Inline(w) => w,
            Bits::Boxed(w) => w,
        }
    }
}

/// A sliding window over packet indices, stored as a ring of bits.
// The header (top, size, ring) first, then the bits: the packet path reads the header
// and one word of the bits, at fixed offsets inside the owning context.
#[repr(C)]
#[derive(Debug, Clone)]
pub(crate) struct ReplayWindow {
    /// Highest index accepted so far; `None` before the first packet.
    top: Option<u64>,
    /// Window size W in packets (at least 64).
    size: u64,
    /// Ring length in bits (a power of two, ≥ `size`); bit `i % ring` is index `i`.
    ring: u64,
    bits: Bits,
}

impl ReplayWindow {
    pub(crate) fn new(size: usize) -> Result<Self, SrtpError> {
        if size < MIN_REPLAY_WINDOW {
            return Err(SrtpError::WindowTooSmall(size));
        }
        // A power-of-two ring, so that a slot is a mask, not a division, per packet.
        let words = size.div_ceil(64).next_power_of_two();
        let bits = if words <= INLINE_WORDS {
            Bits::Inline([0; INLINE_WORDS])
        } else {
            Bits::Boxed(vec![0u64; words].into_boxed_slice())
        };
        Ok(Self {
            top: None,
            size: size as u64,
            ring: words as u64 * 64,
            bits,
        })
    }

    /// Whether the ring is held inline (no heap allocation behind the window).
    #[cfg(test)]
    pub(crate) fn is_inline(&self) -> bool {
        matches!(self.bits, Bits::Inline(_))
    }

    /// Forgets every index, keeping the storage.
    pub(crate) fn reset(&mut self) {
        self.top = None;
        self.clear();
    }

    fn clear(&mut self) {
        self.bits.words_mut().fill(0);
    }

    /// Highest accepted index.
    #[inline]
    pub(crate) fn top(&self) -> Option<u64> {
        self.top
    }

    #[inline]
    fn slot(&self, index: u64) -> (usize, u64) {
        let pos = index & (self.ring - 1);
        ((pos / 64) as usize, 1u64 << (pos % 64))
    }

    #[inline]
    fn get(&self, index: u64) -> bool {
        let (w, m) = self.slot(index);
        self.bits.words().get(w).is_some_and(|b| b & m != 0)
    }

    #[inline]
    fn put(&mut self, index: u64, on: bool) {
        let (w, m) = self.slot(index);
        if let Some(b) = self.bits.words_mut().get_mut(w) {
            if on {
                *b |= m;
            } else {
                *b &= !m;
            }
        }
    }

    /// RFC 3711 §3.3.2: is `index` new and inside the window? Does not change state.
    #[inline]
    pub(crate) fn check(&self, index: u64) -> Result<(), SrtpError> {
        match self.top {
            None => Ok(()),
            Some(top) if index > top => Ok(()),
            Some(top) if top - index >= self.size => Err(SrtpError::TooOld),
            Some(_) if self.get(index) => Err(SrtpError::Replayed),
            Some(_) => Ok(()),
        }
    }

    /// Records `index` as received (call only after the packet authenticated).
    #[inline]
    pub(crate) fn accept(&mut self, index: u64) {
        match self.top {
            Some(top) if index <= top => {
                if top - index < self.size {
                    self.put(index, true);
                }
            }
            Some(top) => {
                let delta = index - top;
                if delta >= self.ring {
                    self.clear();
                } else {
                    // Clear the slots the window slides over: they still hold bits of
                    // indices one ring length older.
                    for i in top + 1..index {
                        self.put(i, false);
                    }
                }
                self.put(index, true);
                self.top = Some(index);
            }
            None => {
                self.clear();
                self.put(index, true);
                self.top = Some(index);
            }
        }
    }
}

/// RFC 3711 §3.3.1 / Appendix A: the packet index of sequence number `seq`, given the
/// highest index `top` seen so far on the stream (`None` for a new stream, whose ROC is
/// 0). Returns `TooOld` when the guess would be negative (ROC 0, and `seq` far ahead
/// of `s_l` means a packet from before the stream started) and `IndexExhausted` when
/// the ROC would pass 2^32 - 1.
#[inline]
pub(crate) fn estimate_index(top: Option<u64>, seq: u16) -> Result<u64, SrtpError> {
    let Some(top) = top else {
        return Ok(u64::from(seq));
    };
    let roc = top >> 16;
    let s_l = (top & 0xffff) as i64;
    let seq_i = i64::from(seq);
    let v = if s_l < 32_768 {
        if seq_i - s_l > 32_768 {
            roc.checked_sub(1).ok_or(SrtpError::TooOld)?
        } else {
            roc
        }
    } else if s_l - 32_768 > seq_i {
        roc + 1
    } else {
        roc
    };
    let index = (v << 16) | u64::from(seq);
    if index > MAX_SRTP_INDEX {
        return Err(SrtpError::IndexExhausted);
    }
    Ok(index)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3711_3_3_2_window_rejects_replays_and_too_old() {
        let mut w = ReplayWindow::new(64).expect("64 is allowed");
        assert_eq!(
            ReplayWindow::new(63).err(),
            Some(SrtpError::WindowTooSmall(63))
        );
        w.accept(1000);
        assert_eq!(w.check(1000), Err(SrtpError::Replayed));
        assert_eq!(w.check(999), Ok(()));
        assert_eq!(w.check(1000 - 63), Ok(()));
        assert_eq!(w.check(1000 - 64), Err(SrtpError::TooOld));
        w.accept(990);
        assert_eq!(w.check(990), Err(SrtpError::Replayed));
        // Slide by less than the ring: the bit of 990 survives, older slots are cleared.
        w.accept(1050);
        assert_eq!(w.check(990), Err(SrtpError::Replayed));
        assert_eq!(w.check(1049), Ok(()));
        assert_eq!(w.check(1000), Err(SrtpError::Replayed));
        // Jump far ahead: everything inside the new window is fresh.
        w.accept(1_000_000);
        assert_eq!(w.check(1_000_000 - 10), Ok(()));
        assert_eq!(w.check(1050), Err(SrtpError::TooOld));
        w.reset();
        assert_eq!(w.check(0), Ok(()));
    }

    #[test]
    fn window_size_is_exact_not_rounded() {
        let mut w = ReplayWindow::new(100).expect("100 is allowed");
        w.accept(500);
        assert_eq!(w.check(401), Ok(()));
        assert_eq!(w.check(400), Err(SrtpError::TooOld));
        // Bits for indices that share a ring slot with a newer index do not leak.
        for i in 401..=500 {
            w.accept(i);
        }
        w.accept(628); // ring is 128: slot of 500 is reused by 628
        assert_eq!(w.check(529), Ok(()));
    }

    /// RFC 3711 §3.3.1 index estimation around the 16-bit wrap.
    #[test]
    fn rfc3711_3_3_1_roc_estimation() {
        assert_eq!(estimate_index(None, 7), Ok(7));
        let top = (3 << 16) | 65_000;
        assert_eq!(estimate_index(Some(top), 65_001), Ok((3 << 16) | 65_001));
        assert_eq!(estimate_index(Some(top), 10), Ok((4 << 16) | 10));
        let top = (4 << 16) | 10;
        assert_eq!(estimate_index(Some(top), 65_000), Ok((3 << 16) | 65_000));
        assert_eq!(estimate_index(Some(10), 65_000), Err(SrtpError::TooOld));
        let top = MAX_SRTP_INDEX;
        assert_eq!(estimate_index(Some(top), 0), Err(SrtpError::IndexExhausted));
    }

    /// The ring-of-bits window against a plain model (every accepted index kept in a
    /// set) over a random walk of indices: jumps, reordering, duplicates, wraps of the
    /// ring, for several window sizes.
    #[test]
    fn window_matches_a_naive_model() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut rnd = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for size in [64usize, 65, 100, 1000, 1024, 1025, 4096] {
            let mut w = ReplayWindow::new(size).expect("allowed size");
            // Rings up to the default window's are inline, larger ones boxed.
            assert_eq!(w.is_inline(), size <= DEFAULT_REPLAY_WINDOW, "size {size}");
            let mut seen = std::collections::BTreeSet::new();
            let mut top: Option<u64> = None;
            let mut cursor = 10_000u64;
            for _ in 0..20_000 {
                let r = rnd();
                cursor = match r % 10 {
                    0 => cursor + 1 + r % 3000,                         // jump ahead
                    1..=5 => cursor + 1,                                // in order
                    _ => cursor.saturating_sub(r % (size as u64 + 40)), // late
                };
                let idx = cursor;
                let want = match top {
                    Some(t) if idx <= t && t - idx >= size as u64 => Err(SrtpError::TooOld),
                    _ if seen.contains(&idx) => Err(SrtpError::Replayed),
                    _ => Ok(()),
                };
                assert_eq!(w.check(idx), want, "size {size} index {idx} top {top:?}");
                if want.is_ok() {
                    w.accept(idx);
                    seen.insert(idx);
                    top = top.max(Some(idx));
                }
                cursor = top.unwrap_or(cursor);
            }
        }
    }
}
