//! RFC 4733 telephone-events between legs whose event clocks differ.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |     event     |E|R| volume    |          duration             |   RFC 4733 §2.3
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! The payload type is mapped like any other ([`super::PtMap`]). What else changes with
//! the clock is the duration, which counts "timestamp units" of the event's clock
//! (RFC 4733 §2.3.5): a 100 ms digit is 800 at 8 kHz and 1600 at 16 kHz. A packet may
//! pack several consecutive events, one 4-octet block each (§2.5.1.5); each block's
//! duration is scaled. The RTP timestamp (the event's start) stays on the stream's
//! clock, which is the audio codec's and the same on both legs, since only G.711 crosses
//! the gateway (the [`crate::srtp::ReOriginator`] offsets it, it does not scale it).
//!
//! A scaled duration that exceeds 16 bits is capped at 0xFFFF: the sender split long
//! events at its own clock (§2.5.1.3), so only a faster egress clock can overflow, by
//! at most the ratio of the clocks.

use super::DropReason;

/// Octets of one event block.
const EVENT_BLOCK: usize = 4;

/// The clocks of a telephone-event payload type on the ingress and the egress leg.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct EventClock {
    /// The ingress payload type (7 bits).
    pub(super) ingress_pt: u8,
    /// Its clock on the ingress leg, Hz.
    pub(super) from_hz: u32,
    /// The egress payload type's clock, Hz.
    pub(super) to_hz: u32,
}

/// Scales the duration of every event block of `payload` (the RTP payload without
/// padding) from `clock.from_hz` to `clock.to_hz`, rounding to nearest. A payload that is
/// not whole event blocks is not a telephone-event (RFC 4733 §2.3) and is refused.
pub(super) fn rescale_durations(payload: &mut [u8], clock: EventClock) -> Result<(), DropReason> {
    if payload.is_empty() || !payload.len().is_multiple_of(EVENT_BLOCK) {
        return Err(DropReason::TooShort);
    }
    let (from, to) = (u64::from(clock.from_hz.max(1)), u64::from(clock.to_hz));
    for block in payload.chunks_exact_mut(EVENT_BLOCK) {
        let d = u64::from(u16::from_be_bytes([block[2], block[3]]));
        let scaled = (d * to + from / 2) / from;
        let scaled = u16::try_from(scaled).unwrap_or(u16::MAX);
        block[2..4].copy_from_slice(&scaled.to_be_bytes());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clock(from_hz: u32, to_hz: u32) -> EventClock {
        EventClock {
            ingress_pt: 101,
            from_hz,
            to_hz,
        }
    }

    /// Digit 5, end bit, volume 10, duration `d`.
    fn block(d: u16) -> [u8; 4] {
        let [hi, lo] = d.to_be_bytes();
        [5, 0x80 | 10, hi, lo]
    }

    #[test]
    fn rfc4733_duration_follows_the_egress_clock() {
        // 100 ms: 800 units at 8 kHz, 1600 at 16 kHz, 4800 at 48 kHz.
        let mut p = block(800);
        rescale_durations(&mut p, clock(8000, 16000)).expect("one block");
        assert_eq!(p, block(1600));
        let mut p = block(4800);
        rescale_durations(&mut p, clock(48000, 8000)).expect("one block");
        assert_eq!(p, block(800));
    }

    #[test]
    fn event_code_flags_and_volume_are_untouched_and_every_block_is_scaled() {
        let mut p = [block(160), block(320)].concat();
        p[4] = 11; // '#' as the second, packed event (RFC 4733 §2.5.1.5)
        rescale_durations(&mut p, clock(8000, 16000)).expect("two blocks");
        let mut want = [block(320), block(640)].concat();
        want[4] = 11;
        assert_eq!(p, want);
    }

    #[test]
    fn rounding_is_to_nearest_and_overflow_is_capped() {
        let mut p = block(5); // 5/6 of a unit at 8 kHz from 48 kHz
        rescale_durations(&mut p, clock(48000, 8000)).expect("one block");
        assert_eq!(p, block(1));
        let mut p = block(40000);
        rescale_durations(&mut p, clock(8000, 16000)).expect("one block");
        assert_eq!(p, block(u16::MAX));
    }

    #[test]
    fn a_payload_that_is_not_whole_blocks_is_refused_untouched() {
        for len in [0, 3, 5, 7] {
            let mut p = vec![0xAB; len];
            let before = p.clone();
            assert_eq!(
                rescale_durations(&mut p, clock(8000, 16000)),
                Err(DropReason::TooShort),
                "{len} octets"
            );
            assert_eq!(p, before);
        }
    }
}
