//! RFC 4733 telephone-events the gateway itself sends toward the IMS leg (the call
//! core's "send DTMF": a web app asks, no browser tone involved).
//!
//! ```text
//!  browser audio ─► ... 20 ms carriers ... ─► IMS:  audio | ev 5 d=160 M | d=320 | … | d=800 E ×3 | gap | audio
//!                                                   one timestamp (the event's start) for the whole event
//! ```
//!
//! A queued event replaces the browser's packets toward IMS while it plays: each
//! authenticated packet from the browser becomes one event packet (RFC 4733 §2.5.1):
//! its header keeps its sequence number, so the [`crate::srtp::ReOriginator`] numbers it
//! like the audio it replaces and the far end sees one gap-free stream; its payload
//! becomes the 4-octet event block; its egress timestamp is that of the event's first
//! packet (§2.3.1). The duration grows by the packets' spacing; once it reaches the
//! asked duration the end packet (E bit) is sent three times (§2.5.1.4), then audio
//! flows again for at least [`INTER_EVENT_GAP`] before the next queued event starts.
//! Replacing rather than adding means no audio of the same moment reaches the far end
//! beside the tone (§2.6, "the sender SHOULD NOT send audio and events at once"), and it
//! needs no clock of its own: the browser sends a packet every 20 ms during a call. A
//! browser that stops sending (muted with no packets) holds the queued events back.
//!
//! Sans-IO: the session calls [`ToneQueue::carry`] with each carrier's RTP timestamp.

use std::collections::VecDeque;
use std::time::Duration;

/// Events queued per call; more are refused ([`crate::datapath::Session::send_tone`]
/// returns false). Two requests of the call core's longest digit string (32).
pub const MAX_QUEUED_TONES: usize = 64;

/// Silence (passed-through audio) between two events: RFC 4733 does not fix it; 40 ms
/// is the shortest pause telephony receivers are specified to separate digits by
/// (ITU-T Q.24).
pub const INTER_EVENT_GAP: Duration = Duration::from_millis(60);

/// End packets per event (RFC 4733 §2.5.1.4: "the final packet ... SHOULD be sent a
/// total of three times").
const END_PACKETS: u8 = 3;

/// Volume of generated DTMF, −dBm0 (RFC 4733 §2.3.4; −10 dBm0 is a usual level).
const VOLUME: u8 = 10;

/// One telephone-event to send toward IMS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ToneRequest {
    /// The event code (RFC 4733 §3.2: 0-9, `*` 10, `#` 11, A-D 12-15).
    pub event: u8,
    /// How long the event lasts.
    pub duration: Duration,
    /// The IMS leg's telephone-event payload type.
    pub pt: u8,
    /// Its clock, Hz (the duration field's unit).
    pub event_hz: u32,
    /// The clock of the stream's RTP timestamps (the audio codec's), Hz.
    pub stream_hz: u32,
}

impl ToneRequest {
    /// The event code of a DTMF digit (`0`-`9`, `*`, `#`, `A`-`D`), RFC 4733 §3.2.
    pub fn dtmf_event(digit: char) -> Option<u8> {
        match digit {
            d @ '0'..='9' => Some(d as u8 - b'0'),
            '*' => Some(10),
            '#' => Some(11),
            d @ 'A'..='D' => Some(d as u8 - b'A' + 12),
            _ => None,
        }
    }

    /// The asked duration in event-clock units, capped at the 16-bit field.
    fn total_units(&self) -> u16 {
        let units = self.duration.as_micros() * u128::from(self.event_hz) / 1_000_000;
        u16::try_from(units).unwrap_or(u16::MAX).max(1)
    }

    /// Stream-clock units to event-clock units.
    fn event_units(&self, stream_units: u32) -> u64 {
        u64::from(stream_units) * u64::from(self.event_hz) / u64::from(self.stream_hz.max(1))
    }

    /// 20 ms (the packet spacing browsers use for G.711) in stream units.
    fn frame(&self) -> u32 {
        self.stream_hz / 50
    }
}

/// What a carrier packet becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct EventPacket {
    /// Payload type toward IMS.
    pub(super) pt: u8,
    /// RTP marker: set on the first packet of an event (RFC 4733 §2.5.1.1), whose egress
    /// timestamp every later one gets ([`ToneQueue::stamp`]).
    pub(super) marker: bool,
    /// The event block (event, E|R|volume, duration).
    pub(super) block: [u8; 4],
}

#[derive(Debug, Clone, Copy)]
struct Playing {
    req: ToneRequest,
    /// Stream timestamp of the first carrier.
    start_ts: u32,
    ends_sent: u8,
}

/// The events waiting and the one playing, for one call.
#[derive(Debug, Default)]
pub(super) struct ToneQueue {
    queued: VecDeque<ToneRequest>,
    playing: Option<Playing>,
    /// Stream timestamp of the last end packet, for the gap before the next event.
    ended_at: Option<u32>,
    /// Egress timestamp of the playing event's first packet ([`ToneQueue::stamp`]).
    egress_ts: [u8; 4],
}

impl ToneQueue {
    /// Queues an event; false (and nothing queued) when [`MAX_QUEUED_TONES`] wait.
    pub(super) fn push(&mut self, req: ToneRequest) -> bool {
        if self.queued.len() >= MAX_QUEUED_TONES {
            return false;
        }
        self.queued.push_back(req);
        true
    }

    /// Nothing queued or playing: packets pass as they are.
    pub(super) fn is_idle(&self) -> bool {
        self.playing.is_none() && self.queued.is_empty()
    }

    /// Gives the re-originated event packet `ev` its event's timestamp (RFC 4733
    /// §2.3.1: every packet of an event carries its start's): the first packet's egress
    /// timestamp `ts` is noted, later packets get it written over theirs.
    pub(super) fn stamp(&mut self, ev: &EventPacket, ts: &mut [u8]) {
        if ev.marker {
            self.egress_ts.copy_from_slice(ts);
        } else {
            ts.copy_from_slice(&self.egress_ts);
        }
    }

    /// A carrier toward IMS with stream timestamp `ts`: `Some` when it becomes an event
    /// packet, `None` when it stays audio (nothing to send, or the gap after an event).
    pub(super) fn carry(&mut self, ts: u32) -> Option<EventPacket> {
        let first = self.playing.is_none();
        if first {
            let next = self.queued.front()?;
            if let Some(end) = self.ended_at {
                let gap_units =
                    (INTER_EVENT_GAP.as_micros() * u128::from(next.stream_hz) / 1_000_000) as u32;
                let since = ts.wrapping_sub(end);
                if since < gap_units || since >= 1 << 31 {
                    return None;
                }
            }
            let req = self.queued.pop_front()?;
            self.playing = Some(Playing {
                req,
                start_ts: ts,
                ends_sent: 0,
            });
        }
        let p = self.playing.as_mut()?;
        let total = p.req.total_units();
        // What this packet covers: from the event's start to the end of its own frame.
        let elapsed = ts.wrapping_sub(p.start_ts);
        let elapsed = if elapsed >= 1 << 31 { 0 } else { elapsed };
        let covered = p.req.event_units(elapsed.saturating_add(p.req.frame()));
        let (end, duration) = if covered >= u64::from(total) || p.ends_sent > 0 {
            (true, total)
        } else {
            (false, covered as u16)
        };
        let [hi, lo] = duration.to_be_bytes();
        let packet = EventPacket {
            pt: p.req.pt,
            marker: first,
            block: [p.req.event, u8::from(end) << 7 | VOLUME, hi, lo],
        };
        if end {
            p.ends_sent += 1;
            if p.ends_sent >= END_PACKETS {
                self.playing = None;
                self.ended_at = Some(ts);
            }
        }
        Some(packet)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(event: u8, ms: u64) -> ToneRequest {
        ToneRequest {
            event,
            duration: Duration::from_millis(ms),
            pt: 96,
            event_hz: 8000,
            stream_hz: 8000,
        }
    }

    fn duration(p: &EventPacket) -> u16 {
        u16::from_be_bytes([p.block[2], p.block[3]])
    }

    #[test]
    fn rfc4733_dtmf_event_codes() {
        let codes: Vec<_> = "0123456789*#ABCD"
            .chars()
            .map(ToneRequest::dtmf_event)
            .collect();
        let want: Vec<_> = (0..=15).map(Some).collect();
        assert_eq!(codes, want);
        for not in ['E', 'd', '+', ' '] {
            assert_eq!(ToneRequest::dtmf_event(not), None, "{not:?}");
        }
    }

    /// 100 ms at 8 kHz on 20 ms carriers: 160, 320, 480, 640, then 800 with E three
    /// times; marker only on the first; then audio again.
    #[test]
    fn one_event_grows_by_the_carriers_and_ends_three_times() {
        let mut q = ToneQueue::default();
        assert!(q.is_idle());
        assert!(q.push(req(5, 100)));
        let mut got = Vec::new();
        for i in 0..10u32 {
            got.push(q.carry(1000 + 160 * i));
        }
        let events: Vec<_> = got.iter().map_while(|p| *p).collect();
        assert_eq!(events.len(), 7);
        assert_eq!(
            events.iter().map(duration).collect::<Vec<_>>(),
            [160, 320, 480, 640, 800, 800, 800]
        );
        assert_eq!(
            events
                .iter()
                .map(|p| p.block[1] & 0x80 != 0)
                .collect::<Vec<_>>(),
            [false, false, false, false, true, true, true],
            "E bit on the end packets"
        );
        assert!(events[0].marker);
        assert!(events[1..].iter().all(|p| !p.marker));
        assert!(events
            .iter()
            .all(|p| p.block[0] == 5 && p.block[1] & 0x3f == 10 && p.pt == 96));
        assert!(
            got[7..].iter().all(Option::is_none),
            "audio after the event"
        );
        assert!(q.is_idle());
    }

    #[test]
    fn next_event_waits_for_the_gap() {
        let mut q = ToneQueue::default();
        q.push(req(1, 40));
        q.push(req(2, 40));
        let mut kinds = Vec::new();
        for i in 0..14u32 {
            kinds.push(q.carry(160 * i).map(|p| p.block[0]));
        }
        // 40 ms: 160, 320(E) ×3 = 4 packets for digit 1, the 60 ms gap: 2 carriers
        // later (≥ 480 units after the last end), then digit 2.
        #[rustfmt::skip]
        assert_eq!(
            kinds,
            [
                Some(1), Some(1), Some(1), Some(1),
                None, None,
                Some(2), Some(2), Some(2), Some(2),
                None, None, None, None
            ]
        );
    }

    #[test]
    fn durations_in_the_event_clock_and_capped() {
        let mut q = ToneQueue::default();
        q.push(ToneRequest {
            event_hz: 16000,
            ..req(3, 40)
        });
        let first = q.carry(0).expect("event");
        assert_eq!(duration(&first), 320, "20 ms at 16 kHz");
        let long = ToneRequest {
            duration: Duration::from_secs(20),
            ..req(3, 0)
        };
        assert_eq!(long.total_units(), u16::MAX);
    }

    #[test]
    fn queue_is_bounded() {
        let mut q = ToneQueue::default();
        for _ in 0..MAX_QUEUED_TONES {
            assert!(q.push(req(0, 100)));
        }
        assert!(!q.push(req(0, 100)));
        assert!(q.carry(0).is_some(), "playing frees a place");
        assert!(q.push(req(0, 100)));
        assert!(!q.push(req(0, 100)));
    }
}
