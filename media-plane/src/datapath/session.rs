//! The sans-IO core of one call: two legs and the per-direction transcode.
//!
//! For every RTP packet (RFC 3550) from leg A: check the source (latching), unprotect
//! with A's inbound context (RFC 3711), map the payload type (telephone-event, RFC 4733,
//! often has different PTs on the two legs), re-originate SSRC/seq/timestamp/ROC for
//! leg B ([`ReOriginator`]), protect with B's outbound context, and send to B's remote.
//! All in place in the caller's buffer, which needs the egress tag as tailroom. With
//! SRTP on both legs (and no RTP padding) the four steps are one call,
//! [`crate::srtp::srtp_to_srtp_mapped`], which does AES-CM to AES-CM in one pass.
//!
//! Latching rules (design brief, "Security"):
//! - SRTP leg: a packet from an address other than the latched one is accepted only if
//!   its tag authenticates (and it passes the replay check); then the latch moves to it.
//!   Unauthenticated packets are counted and dropped, never end a call.
//! - Plain RTP leg: nothing authenticates, so the remote from SDP is kept and packets
//!   from any other address are dropped (RTP-Bleed protection).
//!
//! RTCP (RFC 3550 §6): **terminated, and generated per leg**. Re-origination rewrites
//! SSRC, sequence numbers and timestamps, so the ingress reports (SR timestamps, RR
//! extended highest sequence, loss, jitter, SSRCs of report blocks) describe a numbering
//! the far leg never saw; translating them correctly means rewriting every report block
//! per direction, and a gateway that re-originates is the sender of what it sends anyway.
//! So RTCP from a peer is authenticated (SRTCP on SRTP legs; the source address on
//! plain RTP legs), its SR sender info is kept for LSR/DLSR, and it is dropped
//! ([`DropReason::RtcpTerminated`]); and once the control plane configures a call's RTCP
//! ([`Session::set_rtcp`]) the gateway reports for itself on each leg
//! (`session_rtcp.rs`, `rtcp.rs`): an SR about what it sent there (or an RR), one block
//! about what it received there, SDES CNAME, protected with the leg's outbound context.
//! RTCP is recognised by PT 192..=223 on a muxed port (RFC 5761 §4) and arrives on the
//! IMS leg's port+1 otherwise ([`Session::handle_rtcp`]).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::events::{rescale_durations, EventClock};
use super::metrics::Direction;
use super::rtcp::{LegReporter, RtcpConfig};
use super::tones::{EventPacket, ToneQueue, ToneRequest};
use crate::rtp::{RtpHeader, RtpHeaderMut};
use crate::srtp::{srtp_to_srtp_mapped, ReOriginator, SrtpContext, SrtpError};

/// Which leg of a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LegSide {
    /// The browser (WebRTC: ICE-lite, DTLS-SRTP on the shared port).
    Web,
    /// The IMS far end (SRTP with SDES keys, or plain RTP, on its own port).
    Ims,
}

impl LegSide {
    fn other(self) -> Self {
        match self {
            Self::Web => Self::Ims,
            Self::Ims => Self::Web,
        }
    }
}

/// The protection of one leg. `inbound` unprotects what the peer sends, `outbound`
/// protects what the gateway sends.
#[derive(Debug, Clone)]
pub enum LegCrypto {
    /// SRTP (RFC 3711).
    Srtp {
        /// Context for packets from the peer.
        inbound: Box<SrtpContext>,
        /// Context for packets to the peer.
        outbound: Box<SrtpContext>,
    },
    /// Plain RTP: the source address is the only check.
    Rtp,
    /// SRTP whose keys come from DTLS-SRTP (RFC 5764) and are not installed yet: every
    /// packet from or to this leg is dropped ([`DropReason::NoKeys`]) until
    /// [`Session::set_crypto`] installs them.
    AwaitingDtls,
}

/// Payload-type rewrite table for packets *sent* on a leg (index: ingress PT), and the
/// telephone-event whose clock differs between the legs, if one does (`events.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PtMap {
    pts: [u8; 128],
    event_clock: Option<EventClock>,
}

impl Default for PtMap {
    fn default() -> Self {
        let mut pts = [0u8; 128];
        for (i, v) in pts.iter_mut().enumerate() {
            *v = i as u8;
        }
        Self {
            pts,
            event_clock: None,
        }
    }
}

impl PtMap {
    /// Maps ingress `from` to egress `to` (both 7-bit; others are ignored), e.g. the
    /// browser's telephone-event 101 to the IMS side's 96 (RFC 4733 §2.1).
    pub fn with(mut self, from: u8, to: u8) -> Self {
        if let Some(v) = self.pts.get_mut(usize::from(from)) {
            if to < 128 {
                *v = to;
            }
        }
        self
    }

    /// Maps the telephone-event payload type `from` (clock `from_hz` on the ingress leg)
    /// to `to` (clock `to_hz` on this leg): when the clocks differ, the duration of each
    /// event is rescaled on the way (RFC 4733 §2.3.5). One telephone-event per leg; a
    /// second call replaces the first's clock pair. A zero clock is ignored.
    pub fn with_event(mut self, from: u8, from_hz: u32, to: u8, to_hz: u32) -> Self {
        self = self.with(from, to);
        if from < 128 && to < 128 && from_hz != 0 && to_hz != 0 {
            self.event_clock = (from_hz != to_hz).then_some(EventClock {
                ingress_pt: from,
                from_hz,
                to_hz,
            });
        }
        self
    }

    fn map(&self, pt: u8) -> u8 {
        self.pts[usize::from(pt & 0x7f)]
    }

    /// The clock change for ingress `pt`, when it is a telephone-event whose clocks differ.
    fn event_clock(&self, pt: u8) -> Option<EventClock> {
        self.event_clock.filter(|c| c.ingress_pt == pt & 0x7f)
    }
}

/// Parameters of one leg.
#[derive(Debug, Clone)]
pub struct LegConfig {
    /// SRTP contexts or plain RTP.
    pub crypto: LegCrypto,
    /// Remote address: from SDP for the IMS leg, the ICE-nominated pair for the web leg.
    pub remote: Option<SocketAddr>,
    /// PT rewrite applied to packets sent on this leg.
    pub egress_pt: PtMap,
    /// Egress re-originator for this leg (the caller picks random SSRC/seq/ts).
    pub reoriginator: ReOriginator,
}

#[derive(Debug)]
struct Leg {
    cfg: LegConfig,
    last_rx: Instant,
    inactive_reported: bool,
    /// A packet ended a reported silence: the leg has an inactivity deadline again, one
    /// the worker's cached earliest deadline does not know (see [`Session::has_event`]).
    rearmed: bool,
    /// The gateway's RTCP on this leg, once [`Session::set_rtcp`] configured it.
    reporter: Option<LegReporter>,
}

impl Leg {
    /// An authenticated (SRTP) or source-checked (RTP) packet from `remote` arrived at
    /// `now`: latch onto its source, restart the inactivity clock, count it for RTCP.
    /// Returns whether the latch moved.
    fn accept(&mut self, now: Instant, remote: SocketAddr, ssrc: u32, seq: u16, ts: u32) -> bool {
        let moved = self.cfg.remote != Some(remote);
        self.cfg.remote = Some(remote);
        self.last_rx = now;
        self.rearmed |= self.inactive_reported;
        self.inactive_reported = false;
        if let Some(r) = self.reporter.as_mut() {
            r.on_received(now, ssrc, seq, ts);
        }
        moved
    }
}

/// What to do with a datagram after [`Session::handle_rtp`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Send `buf[..len]` to `to` from the socket of leg `leg`.
    Forward {
        /// Leg whose socket sends.
        leg: LegSide,
        /// Destination.
        to: SocketAddr,
        /// Bytes to send.
        len: usize,
    },
    /// Drop the datagram; counted in [`DropCounters`] (or, on the web port, in
    /// [`super::WebPortCounters`]).
    Drop(DropReason),
    /// Taken by a slow path (a DTLS datagram, copied toward the call's session): nothing
    /// to send now.
    Consumed,
}

/// Why a datagram was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DropReason {
    /// SRTP authentication failed (RFC 3711 §3.3 step 7).
    Auth,
    /// Replayed or too old (RFC 3711 §3.3.2), or before the current SSRC epoch.
    Replay,
    /// From an address that is not the latched/configured remote and did not authenticate.
    UnknownSource,
    /// Not a parseable RTP packet, or no tailroom for the egress tag.
    TooShort,
    /// The other leg has no remote address yet.
    NoRemote,
    /// RTCP, terminated at the gateway (see the module doc).
    RtcpTerminated,
    /// Any other SRTP failure (index exhausted, bad version, …).
    Other,
    /// To or from a leg whose DTLS-SRTP keys are not installed yet
    /// ([`LegCrypto::AwaitingDtls`]).
    NoKeys,
    /// Toward a leg the SDP direction says does not receive now (hold:
    /// [`Session::set_flow`]). The packet was authenticated first, so the sending leg
    /// stays latched and alive.
    Direction,
}

/// Drop counters of one session, by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DropCounters {
    /// [`DropReason::Auth`].
    pub auth: u64,
    /// [`DropReason::Replay`].
    pub replay: u64,
    /// [`DropReason::UnknownSource`].
    pub unknown_source: u64,
    /// [`DropReason::TooShort`].
    pub too_short: u64,
    /// [`DropReason::NoRemote`].
    pub no_remote: u64,
    /// [`DropReason::RtcpTerminated`].
    pub rtcp: u64,
    /// [`DropReason::Other`].
    pub other: u64,
    /// [`DropReason::NoKeys`].
    pub no_keys: u64,
    /// [`DropReason::Direction`].
    pub direction: u64,
}

impl DropCounters {
    fn count(&mut self, r: DropReason) {
        let c = match r {
            DropReason::Auth => &mut self.auth,
            DropReason::Replay => &mut self.replay,
            DropReason::UnknownSource => &mut self.unknown_source,
            DropReason::TooShort => &mut self.too_short,
            DropReason::NoRemote => &mut self.no_remote,
            DropReason::RtcpTerminated => &mut self.rtcp,
            DropReason::Other => &mut self.other,
            DropReason::NoKeys => &mut self.no_keys,
            DropReason::Direction => &mut self.direction,
        };
        *c += 1;
    }
}

/// Something that happened to a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionEvent {
    /// No valid media arrived on `leg` for the inactivity timeout (one-way media if the
    /// other leg still receives); reported once per silence.
    MediaInactive {
        /// The silent leg.
        leg: LegSide,
    },
    /// The latched remote of `leg` moved (after an authenticated packet).
    Relatched {
        /// The leg.
        leg: LegSide,
    },
}

/// The sans-IO media core of one call.
#[derive(Debug)]
pub struct Session {
    web: Leg,
    ims: Leg,
    inactivity: Duration,
    drops: DropCounters,
    forwarded: u64,
    relatched: Option<LegSide>,
    /// Whether media may be sent to the web leg and to the IMS leg (SDP direction).
    flow: [bool; 2],
    /// Media (not RTCP) datagrams in from each leg, and forwarded from it, since the last
    /// one-way sample (index: `Direction::index` of the ingress leg).
    sample_in: [u32; 2],
    sample_out: [u32; 2],
    /// The call's RTCP parameters ([`Session::set_rtcp`]).
    rtcp: Option<RtcpConfig>,
    /// Telephone-events the gateway sends toward IMS ([`Session::send_tone`]).
    tones: ToneQueue,
}

fn srtp_drop(e: SrtpError) -> DropReason {
    match e {
        SrtpError::AuthFailed => DropReason::Auth,
        SrtpError::Replayed | SrtpError::TooOld | SrtpError::StaleEpoch => DropReason::Replay,
        SrtpError::Truncated | SrtpError::BufferTooSmall { .. } => DropReason::TooShort,
        _ => DropReason::Other,
    }
}

impl Session {
    /// A session with both legs; `now` starts the inactivity clocks.
    pub fn new(now: Instant, web: LegConfig, ims: LegConfig, inactivity: Duration) -> Self {
        let leg = |cfg| Leg {
            cfg,
            last_rx: now,
            inactive_reported: false,
            rearmed: false,
            reporter: None,
        };
        Self {
            web: leg(web),
            ims: leg(ims),
            inactivity,
            drops: DropCounters::default(),
            forwarded: 0,
            relatched: None,
            flow: [true; 2],
            sample_in: [0; 2],
            sample_out: [0; 2],
            rtcp: None,
            tones: ToneQueue::default(),
        }
    }

    /// Queues a telephone-event toward the IMS leg (`tones.rs`: it replaces the
    /// browser's packets while it plays). False, and nothing queued, when
    /// [`super::MAX_QUEUED_TONES`] already wait.
    pub fn send_tone(&mut self, tone: ToneRequest) -> bool {
        self.tones.push(tone)
    }

    fn leg_mut(&mut self, side: LegSide) -> &mut Leg {
        match side {
            LegSide::Web => &mut self.web,
            LegSide::Ims => &mut self.ims,
        }
    }

    /// Which legs media is sent to, from the SDP directions (RFC 3264 §6.1): on hold
    /// one or both are closed. Packets toward a closed leg are still authenticated
    /// (latching, inactivity and RTCP statistics go on) and then dropped as
    /// [`DropReason::Direction`]. RTCP is not affected.
    pub fn set_flow(&mut self, to_web: bool, to_ims: bool) {
        self.flow = [to_web, to_ims];
    }

    fn flows_to(&self, side: LegSide) -> bool {
        match side {
            LegSide::Web => self.flow[0],
            LegSide::Ims => self.flow[1],
        }
    }

    /// Sets the remote of a leg (web: ICE nomination; IMS: a new SDP from re-INVITE).
    pub fn set_remote(&mut self, side: LegSide, remote: SocketAddr) {
        self.leg_mut(side).cfg.remote = Some(remote);
    }

    /// Forgets the remote of a leg: nothing is sent to it until a new one is set (web:
    /// ICE consent lost, RFC 7675 §5.1).
    pub fn clear_remote(&mut self, side: LegSide) {
        self.leg_mut(side).cfg.remote = None;
    }

    /// Replaces the protection of a leg (web: the SRTP contexts from DTLS-SRTP).
    pub fn set_crypto(&mut self, side: LegSide, crypto: LegCrypto) {
        self.leg_mut(side).cfg.crypto = crypto;
    }

    /// True when the leg waits for its DTLS-SRTP keys ([`LegCrypto::AwaitingDtls`]).
    pub fn awaits_keys(&self, side: LegSide) -> bool {
        let leg = match side {
            LegSide::Web => &self.web,
            LegSide::Ims => &self.ims,
        };
        matches!(leg.cfg.crypto, LegCrypto::AwaitingDtls)
    }

    /// The current remote of a leg.
    pub fn remote(&self, side: LegSide) -> Option<SocketAddr> {
        match side {
            LegSide::Web => self.web.cfg.remote,
            LegSide::Ims => self.ims.cfg.remote,
        }
    }

    /// Drops so far, by reason.
    pub fn drops(&self) -> DropCounters {
        self.drops
    }

    /// Packets forwarded so far.
    pub fn forwarded(&self) -> u64 {
        self.forwarded
    }

    /// Handles an RTP/RTCP datagram `buf[..len]` received on leg `from` from `remote`.
    /// `buf` must have tailroom for the egress tag (20 bytes covers every suite).
    pub fn handle_rtp(
        &mut self,
        now: Instant,
        from: LegSide,
        remote: SocketAddr,
        buf: &mut [u8],
        len: usize,
    ) -> Action {
        if len >= 2 && len <= buf.len() && is_rtcp(buf) {
            return self.handle_rtcp(now, from, remote, buf, len);
        }
        let i = Direction::from_ingress(from).index();
        match self.transcode(now, from, remote, buf, len) {
            Ok(a) => {
                self.forwarded += 1;
                self.sample_in[i] = self.sample_in[i].saturating_add(1);
                self.sample_out[i] = self.sample_out[i].saturating_add(1);
                a
            }
            Err(r) => {
                self.sample_in[i] = self.sample_in[i].saturating_add(1);
                self.drops.count(r);
                Action::Drop(r)
            }
        }
    }

    /// For each direction ([`Direction::index`]): did media arrive on its ingress leg
    /// since the last call while none was forwarded out the other leg? Starts a new
    /// sampling interval.
    pub(super) fn take_one_way(&mut self) -> [bool; 2] {
        let one_way = std::array::from_fn(|i| self.sample_in[i] > 0 && self.sample_out[i] == 0);
        self.sample_in = [0; 2];
        self.sample_out = [0; 2];
        one_way
    }

    fn transcode(
        &mut self,
        now: Instant,
        from: LegSide,
        remote: SocketAddr,
        buf: &mut [u8],
        len: usize,
    ) -> Result<Action, DropReason> {
        if len < 12 || len > buf.len() {
            return Err(DropReason::TooShort);
        }
        let to = from.other();
        if self.awaits_keys(from) || self.awaits_keys(to) {
            return Err(DropReason::NoKeys);
        }
        let open = self.flows_to(to);
        let tone_due = to == LegSide::Ims && !self.tones.is_idle();
        let (ingress, egress) = match from {
            LegSide::Web => (&mut self.web, &mut self.ims),
            LegSide::Ims => (&mut self.ims, &mut self.web),
        };
        let dest = egress.cfg.remote.ok_or(DropReason::NoRemote)?;
        let from_latched = ingress.cfg.remote == Some(remote);
        let egress_tag = match &egress.cfg.crypto {
            LegCrypto::Srtp { outbound, .. } => outbound.suite().srtp_tag_len(),
            LegCrypto::Rtp | LegCrypto::AwaitingDtls => 0,
        };
        let header = RtpHeader::parse(&buf[..len]).map_err(|_| DropReason::TooShort)?;
        let (ssrc, seq, ts) = (header.ssrc(), header.sequence_number(), header.timestamp());
        let (hdr_len, padded) = (header.header_len(), header.padding());
        let in_tag = match &ingress.cfg.crypto {
            LegCrypto::Srtp { inbound, .. } => inbound.suite().srtp_tag_len(),
            LegCrypto::Rtp | LegCrypto::AwaitingDtls => 0,
        };
        if buf.len() < len.saturating_sub(in_tag) + egress_tag {
            return Err(DropReason::TooShort);
        }
        // An unlatched source is tried: only a valid tag moves the latch.
        let refused = |e: SrtpError| {
            if from_latched || e != SrtpError::AuthFailed {
                srtp_drop(e)
            } else {
                DropReason::UnknownSource
            }
        };
        // SRTP on both legs, no padding, media flowing: one call does unprotect, PT map,
        // re-origination and protect (AES-CM on both legs in one pass, `srtp::fused`).
        // A telephone-event whose clock differs has its payload rewritten, and a packet
        // may carry the gateway's own event: both take the general path.
        let event_clock = egress.cfg.egress_pt.event_clock(header.payload_type());
        if let (
            LegCrypto::Srtp { inbound, .. },
            LegCrypto::Srtp { outbound, .. },
            false,
            true,
            None,
            false,
        ) = (
            &mut ingress.cfg.crypto,
            &mut egress.cfg.crypto,
            padded,
            open,
            event_clock,
            tone_due,
        ) {
            let pts = &egress.cfg.egress_pt;
            let r = srtp_to_srtp_mapped(
                inbound,
                &mut egress.cfg.reoriginator,
                outbound,
                buf,
                len,
                |pt| pts.map(pt),
            );
            // StaleEpoch comes only after the packet authenticated.
            if matches!(r, Ok(_) | Err(SrtpError::StaleEpoch))
                && ingress.accept(now, remote, ssrc, seq, ts)
            {
                self.relatched = Some(from);
            }
            let out = r.map_err(refused)?;
            if let Some(rep) = egress.reporter.as_mut() {
                // Same header length as on ingress; the egress timestamp is in the clear.
                let ts = u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]);
                rep.on_sent(now, ts, out - egress_tag - hdr_len);
            }
            return Ok(Action::Forward {
                leg: to,
                to: dest,
                len: out,
            });
        }
        let plain = match &mut ingress.cfg.crypto {
            LegCrypto::Srtp { inbound, .. } => inbound.unprotect_rtp(buf, len).map_err(refused)?,
            LegCrypto::AwaitingDtls => return Err(DropReason::NoKeys),
            LegCrypto::Rtp if !from_latched => return Err(DropReason::UnknownSource),
            LegCrypto::Rtp => len,
        };
        if ingress.accept(now, remote, ssrc, seq, ts) {
            self.relatched = Some(from);
        }
        if !open {
            return Err(DropReason::Direction);
        }
        let pkt = buf.get_mut(..plain).ok_or(DropReason::TooShort)?;
        let mut h = RtpHeaderMut::parse(pkt).map_err(|_| DropReason::TooShort)?;
        let v = h.as_view();
        let payload = payload_octets(&v, plain);
        let pt = egress.cfg.egress_pt.map(v.payload_type());
        h.set_payload_type(pt);
        // The gateway's own event replaces the packet; else a browser or IMS
        // telephone-event may need its durations in the egress clock.
        let tone = if tone_due { self.tones.carry(ts) } else { None };
        let (plain, payload) = match (tone, event_clock) {
            (Some(ev), _) => (write_event(buf, hdr_len, ev, egress_tag)?, ev.block.len()),
            (None, Some(clock)) => {
                let body = pkt
                    .get_mut(hdr_len..hdr_len + payload)
                    .ok_or(DropReason::TooShort)?;
                rescale_durations(body, clock)?;
                (plain, payload)
            }
            (None, None) => (plain, payload),
        };
        let pkt = buf.get_mut(..plain).ok_or(DropReason::TooShort)?;
        let index = egress.cfg.reoriginator.rewrite(pkt).map_err(srtp_drop)?;
        if let Some(ev) = tone {
            // The header parsed (12 octets at least): its timestamp is octets 4..8.
            self.tones.stamp(&ev, &mut pkt[4..8]);
        }
        if let Some(r) = egress.reporter.as_mut() {
            let ts = RtpHeader::parse(pkt).map_or(0, |h| h.timestamp());
            r.on_sent(now, ts, payload);
        }
        let out = match &mut egress.cfg.crypto {
            LegCrypto::Srtp { outbound, .. } => outbound
                .protect_rtp_with_roc(buf, plain, (index >> 16) as u32)
                .map_err(srtp_drop)?,
            LegCrypto::Rtp | LegCrypto::AwaitingDtls => plain,
        };
        Ok(Action::Forward {
            leg: to,
            to: dest,
            len: out,
        })
    }

    /// Whether an event raised by a packet (not by a deadline) is waiting for
    /// [`Session::poll_event`], or a packet gave a leg a deadline it did not have (media
    /// after a reported silence): either way a driver that caches the earliest
    /// [`Session::poll_timeout`] must call [`Session::poll_event`] and look again.
    pub fn has_event(&self) -> bool {
        self.relatched.is_some() || self.web.rearmed || self.ims.rearmed
    }

    /// The next event, if any, at `now`.
    pub fn poll_event(&mut self, now: Instant) -> Option<SessionEvent> {
        self.web.rearmed = false;
        self.ims.rearmed = false;
        if let Some(leg) = self.relatched.take() {
            return Some(SessionEvent::Relatched { leg });
        }
        let t = self.inactivity;
        for (side, leg) in [(LegSide::Web, &mut self.web), (LegSide::Ims, &mut self.ims)] {
            if !leg.inactive_reported && now.saturating_duration_since(leg.last_rx) >= t {
                leg.inactive_reported = true;
                return Some(SessionEvent::MediaInactive { leg: side });
            }
        }
        None
    }

    /// When [`Session::poll_event`] (inactivity) or [`Session::poll_rtcp`] (the next
    /// report of a leg) next has something to do without new input.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let inactivity = [&self.web, &self.ims]
            .into_iter()
            .filter(|l| !l.inactive_reported)
            .map(|l| l.last_rx + self.inactivity);
        inactivity.chain(self.rtcp_timeout()).min()
    }
}

/// RFC 5761 §4: an RTP/RTCP datagram whose second octet is 192..=223 is RTCP (RTP
/// payload types 64..=95 with the marker bit would collide, and are not used).
fn is_rtcp(buf: &[u8]) -> bool {
    (64..=95).contains(&(buf[1] & 0x7f))
}

/// Turns the decrypted packet in `buf` (header of `hdr_len` octets) into the event
/// packet `ev`: PT and marker, the event block as its whole payload, no padding. Returns
/// the new length; `tailroom` octets must fit after it (the egress tag).
fn write_event(
    buf: &mut [u8],
    hdr_len: usize,
    ev: EventPacket,
    tailroom: usize,
) -> Result<usize, DropReason> {
    let end = hdr_len + ev.block.len();
    if buf.len() < end + tailroom {
        return Err(DropReason::TooShort);
    }
    buf[0] &= !0x20;
    buf[1] = u8::from(ev.marker) << 7 | ev.pt & 0x7f;
    buf[hdr_len..end].copy_from_slice(&ev.block);
    Ok(end)
}

/// RFC 3550 §6.4.1 sender's octet count: payload octets, without header or padding.
fn payload_octets(h: &RtpHeader<'_>, len: usize) -> usize {
    let padding = if h.padding() {
        h.payload().last().map_or(0, |p| usize::from(*p))
    } else {
        0
    };
    len.saturating_sub(h.header_len() + padding)
}

#[path = "session_rtcp.rs"]
mod session_rtcp;
pub use session_rtcp::RtcpTransmit;

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
