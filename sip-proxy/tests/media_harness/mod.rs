//! The IMS side and the SDP plumbing shared by the media engine tests
//! (`tests/media_engine.rs`, `tests/media_engine_metrics.rs`): a free even port for the
//! IMS range, the IMS far end's answer, and the gateway's local SDP values for an
//! allocation. The browser is media-plane's `tests/webrtc_browser`.
#![allow(dead_code, clippy::unwrap_used)] // test code: each binary uses part of it

use std::net::{SocketAddr, UdpSocket as StdUdpSocket};

use sip_proxy::media::{MediaAllocation, ANSWER_SETUP};
use sip_proxy::sdp::{Attributes, ImsLocal, ImsSecurity, Origin, SessionDescription, WebrtcLocal};

/// An even port free on loopback right now, for the call's IMS leg.
pub(crate) fn free_even_port() -> u16 {
    loop {
        let p = StdUdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
            & !1;
        if StdUdpSocket::bind(("127.0.0.1", p)).is_ok() {
            return p;
        }
    }
}

/// The IMS far end's answer to `offer`: PCMU, and SDES with its own key when offered.
pub(crate) fn ims_answer(
    offer: &SessionDescription,
    peer: SocketAddr,
    key: Option<&str>,
) -> String {
    let (_, audio) = offer.audio().unwrap();
    let mut lines = vec![
        "v=0".to_owned(),
        "o=ims 1 1 IN IP4 127.0.0.1".to_owned(),
        "s=-".to_owned(),
        "c=IN IP4 127.0.0.1".to_owned(),
        "t=0 0".to_owned(),
    ];
    match key {
        Some(key) => {
            assert_eq!(audio.proto, "RTP/SAVP");
            let line = audio
                .attr_values("crypto")
                .find(|c| c.contains("AES_CM_128_HMAC_SHA1_80"))
                .unwrap();
            let tag = line.split_ascii_whitespace().next().unwrap();
            lines.push(format!("m=audio {} RTP/SAVP 0", peer.port()));
            lines.push(format!(
                "a=crypto:{tag} AES_CM_128_HMAC_SHA1_80 inline:{key}"
            ));
        }
        None => {
            assert_eq!(audio.proto, "RTP/AVP");
            lines.push(format!("m=audio {} RTP/AVP 0", peer.port()));
        }
    }
    lines.push("a=rtpmap:0 PCMU/8000".to_owned());
    lines.push("a=sendrecv".to_owned());
    lines.push(String::new());
    lines.join("\r\n")
}

/// The gateway's local SDP values for allocation `a`, as the call core builds them:
/// its IMS address with `security`, its ICE credentials, fingerprint and candidates.
pub(crate) fn locals(
    a: &MediaAllocation,
    session_id: u64,
    security: ImsSecurity,
) -> (ImsLocal, WebrtcLocal) {
    let origin = Origin {
        session_id,
        version: 1,
    };
    let ims_local = ImsLocal {
        origin,
        address: a.ims_address,
        security,
    };
    let webrtc_local = WebrtcLocal {
        origin,
        ice_ufrag: a.ice_ufrag.clone(),
        ice_pwd: a.ice_pwd.clone(),
        fingerprint: a.fingerprint.clone(),
        candidates: a.candidates.clone(),
        address: a.webrtc_address,
        answer_setup: ANSWER_SETUP,
    };
    (ims_local, webrtc_local)
}
