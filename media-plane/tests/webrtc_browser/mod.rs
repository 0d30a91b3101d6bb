//! The browser side shared by the WebRTC tests: webrtc-rs's `RTCPeerConnection` on
//! loopback with one PCMU track, the few offer values an answer needs, and the
//! gateway's SDP answer (ice-lite, one host candidate, fingerprint, setup, rtcp-mux).
//! sip-proxy's media engine tests include it too (`#[path]`), for the browser itself.
#![allow(dead_code, clippy::unwrap_used)] // test code: each binary uses part of it

use std::net::SocketAddr;
use std::sync::Arc;

use media_plane::dtls::DtlsRole;
use media_plane::ice::{host_candidates, LocalCredentials};
use tokio::sync::mpsc;
use webrtc::api::media_engine::{MediaEngine, MIME_TYPE_PCMU};
use webrtc::api::setting_engine::SettingEngine;
use webrtc::api::APIBuilder;
use webrtc::dtls_transport::dtls_role::DTLSRole;
use webrtc::ice::mdns::MulticastDnsMode;
use webrtc::ice::network_type::NetworkType;
use webrtc::peer_connection::configuration::RTCConfiguration;
use webrtc::peer_connection::offer_answer_options::RTCOfferOptions;
use webrtc::peer_connection::RTCPeerConnection;
use webrtc::rtp_transceiver::rtp_codec::RTCRtpCodecCapability;
use webrtc::track::track_local::track_local_static_rtp::TrackLocalStaticRTP;

/// The SSRC our answer declares and our RTP toward the browser uses.
pub(crate) const OUR_SSRC: u32 = 0x5eed_0001;

/// The values of the offer the answer depends on.
pub(crate) struct Offer {
    pub(crate) mid: String,
    pub(crate) ufrag: String,
    pub(crate) pwd: String,
    pub(crate) fingerprint: String,
}

fn attribute<'a>(sdp: &'a str, name: &str) -> Option<&'a str> {
    sdp.lines().find_map(|l| {
        l.trim_end()
            .strip_prefix("a=")?
            .strip_prefix(name)?
            .strip_prefix(':')
    })
}

pub(crate) fn parse_offer(sdp: &str) -> Offer {
    let get = |name: &str| {
        attribute(sdp, name)
            .unwrap_or_else(|| panic!("offer has no a={name}:\n{sdp}"))
            .to_owned()
    };
    Offer {
        mid: get("mid"),
        ufrag: get("ice-ufrag"),
        pwd: get("ice-pwd"),
        fingerprint: get("fingerprint"),
    }
}

pub(crate) fn answer_sdp(
    offer: &Offer,
    creds: &LocalCredentials,
    local: SocketAddr,
    fingerprint: &str,
    role: DtlsRole,
) -> String {
    let setup = match role {
        DtlsRole::Client => "active",
        DtlsRole::Server => "passive",
    };
    let mut candidate = String::new();
    host_candidates(&[local], None)[0]
        .write_sdp_attribute(&mut candidate)
        .expect("write to String");
    let port = local.port();
    let mid = &offer.mid;
    let ufrag = creds.ufrag();
    let (ufrag, pwd) = (ufrag.as_str(), creds.pwd());
    [
        "v=0".to_owned(),
        "o=rtcgate 1 1 IN IP4 127.0.0.1".to_owned(),
        "s=-".to_owned(),
        "t=0 0".to_owned(),
        "a=ice-lite".to_owned(),
        format!("a=group:BUNDLE {mid}"),
        "a=msid-semantic: WMS rtcgate".to_owned(),
        format!("m=audio {port} UDP/TLS/RTP/SAVPF 0"),
        "c=IN IP4 127.0.0.1".to_owned(),
        format!("a=mid:{mid}"),
        format!("a=ice-ufrag:{ufrag}"),
        format!("a=ice-pwd:{pwd}"),
        format!("a=fingerprint:{fingerprint}"),
        format!("a=setup:{setup}"),
        "a=rtcp-mux".to_owned(),
        "a=sendrecv".to_owned(),
        "a=rtpmap:0 PCMU/8000".to_owned(),
        "a=msid:rtcgate rtcgate-audio".to_owned(),
        format!("a=ssrc:{OUR_SSRC} cname:rtcgate"),
        format!("a=ssrc:{OUR_SSRC} msid:rtcgate rtcgate-audio"),
        candidate,
        "a=end-of-candidates".to_owned(),
        String::new(),
    ]
    .join("\r\n")
}

pub(crate) fn rtp(ssrc: u32, seq: u16, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, 0x00];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

/// The "browser": an RTCPeerConnection on loopback only, with one PCMU track.
pub(crate) async fn browser() -> (Arc<RTCPeerConnection>, Arc<TrackLocalStaticRTP>) {
    browser_answering_as(None).await
}

/// [`browser`], taking `role` in the DTLS handshake when it answers.
pub(crate) async fn browser_answering_as(
    role: Option<DTLSRole>,
) -> (Arc<RTCPeerConnection>, Arc<TrackLocalStaticRTP>) {
    let mut media = MediaEngine::default();
    media.register_default_codecs().expect("codecs");
    let mut settings = SettingEngine::default();
    settings.set_include_loopback_candidate(true);
    settings.set_interface_filter(Box::new(|name: &str| name == "lo"));
    settings.set_network_types(vec![NetworkType::Udp4]);
    settings.set_ice_multicast_dns_mode(MulticastDnsMode::Disabled);
    if let Some(role) = role {
        settings
            .set_answering_dtls_role(role)
            .expect("answering DTLS role");
    }
    let api = APIBuilder::new()
        .with_media_engine(media)
        .with_setting_engine(settings)
        .build();
    let pc = Arc::new(
        api.new_peer_connection(RTCConfiguration::default())
            .await
            .expect("peer connection"),
    );
    let track = Arc::new(TrackLocalStaticRTP::new(
        RTCRtpCodecCapability {
            mime_type: MIME_TYPE_PCMU.to_owned(),
            clock_rate: 8000,
            channels: 1,
            ..Default::default()
        },
        "browser-audio".to_owned(),
        "browser".to_owned(),
    ));
    pc.add_track(track.clone()).await.expect("add track");
    (pc, track)
}

/// The payloads of the RTP the browser's `on_track` receives, in order.
pub(crate) fn heard(pc: &RTCPeerConnection) -> mpsc::UnboundedReceiver<Vec<u8>> {
    let (heard_tx, heard_rx) = mpsc::unbounded_channel::<Vec<u8>>();
    pc.on_track(Box::new(move |remote, _, _| {
        let heard_tx = heard_tx.clone();
        Box::pin(async move {
            while let Ok((packet, _)) = remote.read_rtp().await {
                if heard_tx.send(packet.payload.to_vec()).is_err() {
                    break;
                }
            }
        })
    }));
    heard_rx
}

/// The browser's offer (with `options`) set as its local description once ICE
/// gathering completed: the SDP text, candidates included.
pub(crate) async fn local_offer(
    pc: &RTCPeerConnection,
    options: Option<RTCOfferOptions>,
) -> String {
    let offer = pc.create_offer(options).await.expect("offer");
    let mut gathered = pc.gathering_complete_promise().await;
    pc.set_local_description(offer).await.expect("local offer");
    let _ = gathered.recv().await;
    pc.local_description().await.expect("offer set").sdp
}
