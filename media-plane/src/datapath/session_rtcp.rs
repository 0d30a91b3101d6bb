//! RTCP of a [`Session`]: reports out per leg, RTCP in (authenticated, its SR noted,
//! terminated). See the module doc of `session.rs` for why the gateway terminates.

use std::net::SocketAddr;
use std::time::Instant;

use super::{srtp_drop, Action, DropReason, LegCrypto, LegSide, Session};
use crate::datapath::rtcp::{ImsRtcp, LegReporter, RtcpConfig};
use crate::rtcp::{sender_info, write_report, NtpTime};

/// A report [`Session::poll_rtcp`] wrote: send `buf[..len]` to `to` from leg `leg`'s
/// RTCP socket (the web port; the IMS RTP port with rtcp-mux, else its port+1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtcpTransmit {
    /// The leg.
    pub leg: LegSide,
    /// The peer's RTCP address.
    pub to: SocketAddr,
    /// Bytes to send (SRTCP on SRTP legs).
    pub len: usize,
}

/// Seeds of the two legs' schedules differ, so their reports do not go out together.
const IMS_SEED_TWEAK: u64 = 0x5f37_59df_0000_0001;

impl Session {
    /// Starts the gateway's RTCP on both legs at `now` (first reports within half an
    /// interval). Calling it again restarts the statistics.
    pub fn set_rtcp(&mut self, now: Instant, cfg: RtcpConfig) {
        self.web.reporter = Some(LegReporter::new(now, cfg.web_clock_rate, cfg.seed));
        let seed = cfg.seed ^ IMS_SEED_TWEAK;
        self.ims.reporter = cfg
            .ims_reports
            .then(|| LegReporter::new(now, cfg.ims_clock_rate, seed));
        self.rtcp = Some(cfg);
    }

    /// The IMS leg's RTCP arrangement, once configured.
    pub fn ims_rtcp(&self) -> Option<ImsRtcp> {
        self.rtcp.as_ref().map(|c| c.ims)
    }

    /// Where RTCP for `side`'s peer goes: the RTP remote (mux), the `a=rtcp:` address,
    /// or the RTP remote's port+1.
    pub fn rtcp_remote(&self, side: LegSide) -> Option<SocketAddr> {
        let rtp = self.remote(side)?;
        match (side, self.ims_rtcp()) {
            (LegSide::Web, _) | (LegSide::Ims, None | Some(ImsRtcp::Mux)) => Some(rtp),
            (LegSide::Ims, Some(ImsRtcp::Port { remote: Some(a) })) => Some(a),
            (LegSide::Ims, Some(ImsRtcp::Port { remote: None })) => {
                let port = rtp.port().checked_add(1)?;
                Some(SocketAddr::new(rtp.ip(), port))
            }
        }
    }

    /// When the next report of either leg is due ([`Session::poll_rtcp`]).
    pub fn rtcp_timeout(&self) -> Option<Instant> {
        [&self.web, &self.ims]
            .into_iter()
            .filter_map(|l| l.reporter.as_ref().map(LegReporter::due))
            .min()
    }

    /// The next report due at `now`, written into `buf` (room for
    /// [`crate::rtcp::MAX_REPORT_LEN`] plus the SRTCP trailer and tag: 512 octets do),
    /// with `wall` as its NTP time. A due report of a leg that cannot send (no remote,
    /// DTLS keys not there yet, `buf` too small) is skipped and the next one scheduled,
    /// so the deadline never stays in the past. Drain until `None`.
    pub fn poll_rtcp(
        &mut self,
        now: Instant,
        wall: NtpTime,
        buf: &mut [u8],
    ) -> Option<RtcpTransmit> {
        for side in [LegSide::Web, LegSide::Ims] {
            let to = self.rtcp_remote(side);
            let cname = self.rtcp.as_ref().map_or(&[][..], |c| c.cname.as_bytes());
            let leg = match side {
                LegSide::Web => &mut self.web,
                LegSide::Ims => &mut self.ims,
            };
            let Some(rep) = leg.reporter.as_mut() else {
                continue;
            };
            if now < rep.due() {
                continue;
            }
            let (Some(to), false) = (to, matches!(leg.cfg.crypto, LegCrypto::AwaitingDtls)) else {
                rep.skip(now);
                continue;
            };
            let ssrc = leg.cfg.reoriginator.ssrc();
            // `poll` schedules the next report, so a failure below skips this one only.
            let Some(report) = rep.poll(now, wall, ssrc, cname) else {
                continue;
            };
            let Some(n) = write_report(buf, &report) else {
                continue;
            };
            let len = match &mut leg.cfg.crypto {
                LegCrypto::Srtp { outbound, .. } => match outbound.protect_rtcp(buf, n) {
                    Ok(len) => len,
                    Err(_) => continue,
                },
                LegCrypto::Rtp | LegCrypto::AwaitingDtls => n,
            };
            return Some(RtcpTransmit { leg: side, to, len });
        }
        None
    }

    /// Handles an RTCP datagram `buf[..len]` from `remote` on leg `from` (muxed on the
    /// RTP port, or on the IMS leg's port+1): authenticated (SRTCP) or source-checked
    /// (plain RTP), its SR noted for LSR/DLSR, then terminated. Always a drop:
    /// [`DropReason::RtcpTerminated`] when accepted; `Auth`/`Replay` for bad SRTCP,
    /// `UnknownSource` for plain RTCP from elsewhere, `TooShort` for a malformed one.
    pub fn handle_rtcp(
        &mut self,
        now: Instant,
        from: LegSide,
        remote: SocketAddr,
        buf: &mut [u8],
        len: usize,
    ) -> Action {
        let r = self.rtcp_in(now, from, remote, buf, len);
        self.drops.count(r);
        Action::Drop(r)
    }

    fn rtcp_in(
        &mut self,
        now: Instant,
        from: LegSide,
        remote: SocketAddr,
        buf: &mut [u8],
        len: usize,
    ) -> DropReason {
        if len < 8 || len > buf.len() {
            return DropReason::TooShort;
        }
        let expected = [self.remote(from), self.rtcp_remote(from)];
        let leg = match from {
            LegSide::Web => &mut self.web,
            LegSide::Ims => &mut self.ims,
        };
        let plain = match &mut leg.cfg.crypto {
            // RFC 3711 §3.4: SRTCP authentication is mandatory; the tag is the check.
            LegCrypto::Srtp { inbound, .. } => match inbound.unprotect_rtcp(buf, len) {
                Ok(n) => n,
                Err(e) => return srtp_drop(e),
            },
            LegCrypto::AwaitingDtls => return DropReason::NoKeys,
            // Nothing authenticates: only the peer's RTP or RTCP address is believed.
            LegCrypto::Rtp if !expected.contains(&Some(remote)) => {
                return DropReason::UnknownSource
            }
            LegCrypto::Rtp => len,
        };
        match sender_info(&buf[..plain]) {
            Ok(Some((ssrc, info))) => {
                if let Some(r) = leg.reporter.as_mut() {
                    r.on_sender_report(now, ssrc, info.ntp);
                }
                DropReason::RtcpTerminated
            }
            Ok(None) => DropReason::RtcpTerminated,
            Err(_) => DropReason::TooShort,
        }
    }
}
