//! What a [`Negotiated`] becomes in the data path: the two legs' configurations and the
//! DTLS parameters of the WebRTC leg.

use media_plane::datapath::{ImsRtcp, LegConfig, LegCrypto, PtMap, RtcpConfig};
use media_plane::dtls::{DtlsParams, DtlsRole, Fingerprint};

use super::keys;
use crate::media::{MediaError, ANSWER_SETUP};
use crate::sdp::{Negotiated, Setup};

/// The web leg, awaiting DTLS-SRTP keys; its remote comes from ICE. Packets *sent* to
/// the browser carry its payload types (IMS codec and telephone-event PTs mapped).
pub(super) fn web_leg(n: &Negotiated) -> Result<LegConfig, MediaError> {
    let mut egress_pt = PtMap::default().with(n.ims_pt, n.webrtc_pt);
    if let Some(t) = n.dtmf {
        egress_pt = egress_pt.with_event(t.ims_pt, t.ims_rate, t.webrtc_pt, t.webrtc_rate);
    }
    Ok(LegConfig {
        crypto: LegCrypto::AwaitingDtls,
        remote: None,
        egress_pt,
        reoriginator: keys::reoriginator()?,
    })
}

/// The IMS leg: SDES-SRTP (our key protects what we send, theirs unprotects what they
/// send; RFC 4568 §6.1) or plain RTP, toward `ims_remote`, with the IMS side's PTs.
pub(super) fn ims_leg(n: &Negotiated) -> Result<LegConfig, MediaError> {
    let crypto = match &n.ims_srtp {
        Some((ours, theirs)) => LegCrypto::Srtp {
            inbound: Box::new(keys::srtp_context(theirs)?),
            outbound: Box::new(keys::srtp_context(ours)?),
        },
        None => LegCrypto::Rtp,
    };
    let mut egress_pt = PtMap::default().with(n.webrtc_pt, n.ims_pt);
    if let Some(t) = n.dtmf {
        egress_pt = egress_pt.with_event(t.webrtc_pt, t.webrtc_rate, t.ims_pt, t.ims_rate);
    }
    Ok(LegConfig {
        crypto,
        remote: Some(n.ims_remote),
        egress_pt,
        reoriginator: keys::reoriginator()?,
    })
}

/// The call's RTCP: a random CNAME (RFC 7022 §4.2: 96 random bits, per call, so calls
/// cannot be linked), a random seed for the report intervals, the codec's clock rate on
/// both legs (the gateway does not transcode), and the IMS side's RTCP address: its RTP
/// port with rtcp-mux, else its `a=rtcp:` or its RTP port + 1.
pub(super) fn rtcp(n: &Negotiated) -> Result<RtcpConfig, MediaError> {
    let mut r = [0u8; 12 + 8];
    keys::random(&mut r)?;
    let (cname, seed) = r.split_at(12);
    let mut s = [0u8; 8];
    s.copy_from_slice(seed);
    Ok(RtcpConfig {
        cname: keys::base64_encode(cname),
        seed: u64::from_be_bytes(s),
        web_clock_rate: n.codec.clock_rate,
        ims_clock_rate: n.codec.clock_rate,
        ims: ims_rtcp(n),
        ims_reports: !n.ims_rtcp_off,
    })
}

/// Muxed, or on port+1 toward the IMS side's RTCP address.
pub(super) fn ims_rtcp(n: &Negotiated) -> ImsRtcp {
    if n.ims_rtcp_mux {
        ImsRtcp::Mux
    } else {
        ImsRtcp::Port { remote: n.ims_rtcp }
    }
}

/// The DTLS role the gateway's `a=setup` gives (RFC 5763 §5, RFC 8842 §5): `active` is
/// the client. `actpass` is only ever offered, so it stands for the role the gateway
/// answers with ([`ANSWER_SETUP`]).
pub(super) fn dtls_role(local_setup: Setup) -> DtlsRole {
    let setup = match local_setup {
        Setup::ActPass => ANSWER_SETUP,
        s => s,
    };
    match setup {
        Setup::Passive => DtlsRole::Server,
        Setup::Active | Setup::ActPass => DtlsRole::Client,
    }
}

/// DTLS parameters: our role and the browser's fingerprint.
pub(super) fn dtls_params(n: &Negotiated) -> Result<DtlsParams, MediaError> {
    let fingerprint = Fingerprint::parse_sdp(&n.webrtc.fingerprint.to_string())
        .map_err(|e| MediaError::Refused(format!("browser fingerprint: {e}")))?;
    Ok(DtlsParams::new(
        dtls_role(n.webrtc.local_setup),
        fingerprint,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sdp::{MediaFlow, RtpMap, TelephoneEvent, WebrtcRemote};

    fn negotiated(dtmf: Option<TelephoneEvent>) -> Negotiated {
        Negotiated {
            codec: RtpMap::parse("8 PCMA/8000").expect("valid rtpmap"),
            webrtc_pt: 8,
            ims_pt: 8,
            dtmf,
            flow: MediaFlow {
                to_ims: true,
                to_webrtc: true,
            },
            ims_remote: "192.0.2.1:4000".parse().expect("valid address"),
            ims_srtp: None,
            ims_rtcp_mux: false,
            ims_rtcp: None,
            ims_rtcp_off: false,
            webrtc: WebrtcRemote {
                ice_ufrag: "u".into(),
                ice_pwd: "p".into(),
                fingerprint: crate::sdp::Fingerprint::parse("sha-256 AA:BB")
                    .expect("valid fingerprint"),
                local_setup: Setup::Active,
                candidates: Vec::new(),
            },
        }
    }

    /// The telephone-event of each leg reaches the data path with both clocks, one map
    /// per direction (the browser's 48 kHz one against IMS's 8 kHz one).
    #[test]
    fn telephone_event_pts_and_clocks_reach_both_legs() {
        let n = negotiated(Some(TelephoneEvent {
            webrtc_pt: 110,
            webrtc_rate: 48000,
            ims_pt: 101,
            ims_rate: 8000,
        }));
        let to_ims = PtMap::default().with_event(110, 48000, 101, 8000);
        let to_web = PtMap::default().with_event(101, 8000, 110, 48000);
        assert_eq!(ims_leg(&n).expect("keys").egress_pt, to_ims);
        assert_eq!(web_leg(&n).expect("keys").egress_pt, to_web);
        assert_ne!(
            to_ims,
            PtMap::default().with(110, 101),
            "the clocks are kept"
        );
        assert_eq!(
            ims_leg(&negotiated(None)).expect("keys").egress_pt,
            PtMap::default()
        );
    }

    #[test]
    fn setup_gives_the_dtls_role() {
        assert_eq!(dtls_role(Setup::Active), DtlsRole::Client);
        assert_eq!(dtls_role(Setup::Passive), DtlsRole::Server);
        assert_eq!(
            dtls_role(Setup::ActPass),
            dtls_role(ANSWER_SETUP),
            "ANSWER_SETUP"
        );
    }
}
