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
    if let Some((web, ims)) = n.dtmf_pt {
        egress_pt = egress_pt.with(ims, web);
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
    if let Some((web, ims)) = n.dtmf_pt {
        egress_pt = egress_pt.with(web, ims);
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
