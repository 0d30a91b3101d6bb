//! Golden SDP interworking tests: a description in, the expected rewritten description
//! out (files in `tests/data/sdp/`). To accept a deliberate change of output, rerun with
//! `UPDATE_GOLDEN=1` and review the diff of the `.expected.sdp` files before committing.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::path::PathBuf;

use sip_proxy::sdp::interwork::{answer_from_ims, answer_to_ims, offer_from_ims, offer_to_ims};
use sip_proxy::sdp::{
    CryptoSuite, Fingerprint, ImsLocal, ImsSecurity, MediaFlow, Origin, SdpError,
    SessionDescription, Setup, TelephoneEvent, WebrtcLocal,
};

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/sdp")
        .join(name)
}

fn load(name: &str) -> SessionDescription {
    let text = std::fs::read_to_string(data(name)).unwrap();
    SessionDescription::parse(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn golden(name: &str, actual: &SessionDescription) {
    let actual = actual.to_string();
    // What we write must parse back to the same description.
    assert_eq!(
        SessionDescription::parse(&actual).unwrap().to_string(),
        actual,
        "{name} round trip"
    );
    let path = data(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &actual).unwrap();
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("{name} missing; run with UPDATE_GOLDEN=1"));
    assert_eq!(actual, expected, "{name} differs");
}

fn webrtc_local() -> WebrtcLocal {
    WebrtcLocal {
        origin: Origin { session_id: 1_000_001, version: 1 },
        ice_ufrag: "gw4Rtc9a".into(),
        ice_pwd: "Zq1uV8xN3kL0pT6rW2yB5cD7".into(),
        fingerprint: Fingerprint::parse(
            "sha-256 AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99",
        )
        .unwrap(),
        candidates: vec!["1 1 udp 2130706431 127.0.0.1 20000 typ host".into()],
        address: "127.0.0.1:20000".parse().unwrap(),
        answer_setup: Setup::Active,
    }
}

fn ims_local(security: ImsSecurity) -> ImsLocal {
    ImsLocal {
        origin: Origin {
            session_id: 2_000_002,
            version: 1,
        },
        address: "192.0.2.10:30000".parse().unwrap(),
        security,
    }
}

fn sdes() -> ImsSecurity {
    ImsSecurity::Sdes(vec![
        (
            CryptoSuite::AesCm128HmacSha1_80,
            "MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkw".into(),
        ),
        (
            CryptoSuite::AesCm128HmacSha1_32,
            "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNk".into(),
        ),
    ])
}

#[test]
fn chrome_offer_becomes_an_sdes_ims_offer() {
    let (ims_offer, _) = offer_to_ims(&load("chrome_offer.sdp"), &ims_local(sdes())).unwrap();
    golden("chrome_offer.to_ims.expected.sdp", &ims_offer);
}

#[test]
fn firefox_audio_video_offer_becomes_an_rtp_ims_offer() {
    let (ims_offer, _) =
        offer_to_ims(&load("firefox_offer.sdp"), &ims_local(ImsSecurity::Rtp)).unwrap();
    golden("firefox_offer.to_ims.expected.sdp", &ims_offer);
}

#[test]
fn ims_answer_becomes_the_browser_answer() {
    let ims = ims_local(sdes());
    let (_, pending) = offer_to_ims(&load("chrome_offer.sdp"), &ims).unwrap();
    let (answer, negotiated) = answer_from_ims(
        &load("ims_answer_sdes.sdp"),
        &pending,
        &ims,
        &webrtc_local(),
    )
    .unwrap();
    golden("ims_answer_sdes.to_browser.expected.sdp", &answer);

    assert_eq!(negotiated.codec.encoding, "PCMA");
    assert_eq!((negotiated.webrtc_pt, negotiated.ims_pt), (8, 8));
    assert_eq!(
        negotiated.dtmf,
        Some(TelephoneEvent {
            webrtc_pt: 126,
            webrtc_rate: 8000,
            ims_pt: 101,
            ims_rate: 8000
        }),
        "telephone-event PTs differ per leg and are mapped; the 8 kHz one of Chrome's two"
    );
    assert_eq!(
        negotiated.ims_remote,
        "198.51.100.20:49170".parse().unwrap()
    );
    let (ours, theirs) = negotiated.ims_srtp.unwrap();
    assert_eq!(
        (ours.tag, ours.suite, theirs.tag),
        (1, CryptoSuite::AesCm128HmacSha1_80, 1)
    );
    assert_eq!(theirs.key_b64, "d0RmdmcmVCspeEc3QGZiNWpVLFJhQX1cfHAwJSoj");
    assert_eq!(negotiated.webrtc.ice_ufrag, "Oyef");
    assert_eq!(
        negotiated.webrtc.local_setup,
        Setup::Active,
        "we answer actpass with active"
    );
    assert_eq!(
        negotiated.webrtc.candidates,
        vec![
            "192.168.1.20:46243".parse().unwrap(),
            "203.0.113.9:46243".parse().unwrap()
        ]
    );
    assert_eq!(
        negotiated.flow,
        MediaFlow {
            to_ims: true,
            to_webrtc: true
        }
    );
}

#[test]
fn firefox_session_level_fingerprint_is_found_and_video_is_rejected_in_the_answer() {
    let ims = ims_local(ImsSecurity::Rtp);
    let (_, pending) = offer_to_ims(&load("firefox_offer.sdp"), &ims).unwrap();
    let rtp_answer = load("ims_answer_sdes.sdp")
        .to_string()
        .replace("RTP/SAVP", "RTP/AVP");
    let (answer, negotiated) = answer_from_ims(
        &SessionDescription::parse(&rtp_answer).unwrap(),
        &pending,
        &ims,
        &webrtc_local(),
    )
    .unwrap();
    golden("firefox_offer.browser_answer.expected.sdp", &answer);
    assert_eq!(negotiated.webrtc.fingerprint.value.len(), 95);
    assert_eq!(negotiated.ims_srtp, None);
    assert_eq!(
        answer.media.len(),
        2,
        "one answer section per offer section"
    );
    assert_eq!(answer.media[1].port, 0);
}

#[test]
fn ims_offer_with_amr_wb_and_pcma_becomes_a_pcma_browser_offer() {
    let (offer, _) = offer_from_ims(&load("ims_offer_amrwb_pcma.sdp"), &webrtc_local()).unwrap();
    golden("ims_offer_amrwb_pcma.to_browser.expected.sdp", &offer);
}

#[test]
fn browser_answer_becomes_the_ims_answer() {
    let ims = ims_local(sdes());
    let (_, pending) = offer_from_ims(&load("ims_offer_amrwb_pcma.sdp"), &webrtc_local()).unwrap();
    let (answer, negotiated) = answer_to_ims(&load("chrome_answer.sdp"), &pending, &ims).unwrap();
    golden("chrome_answer.to_ims.expected.sdp", &answer);
    assert_eq!(
        (negotiated.codec.encoding.as_str(), negotiated.ims_pt),
        ("PCMA", 8)
    );
    assert_eq!(
        negotiated.dtmf,
        Some(TelephoneEvent {
            webrtc_pt: 101,
            webrtc_rate: 8000,
            ims_pt: 101,
            ims_rate: 8000
        }),
        "the IMS offer's 8 kHz telephone-event, not its 16 kHz one"
    );
    assert_eq!(
        negotiated.ims_remote,
        "198.51.100.33:40010".parse().unwrap()
    );
    assert_eq!(
        negotiated.webrtc.local_setup,
        Setup::Passive,
        "the browser answered active"
    );
    let (ours, theirs) = negotiated.ims_srtp.unwrap();
    assert_eq!(
        (ours.tag, ours.suite),
        (1, CryptoSuite::AesCm128HmacSha1_80)
    );
    assert_eq!(theirs.key_b64, "PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR");
    assert_eq!(
        (negotiated.ims_rtcp_mux, negotiated.ims_rtcp),
        (false, None),
        "RTCP on 40011 (RFC 3550 §11)"
    );
}

/// RFC 3605 / RFC 5761 toward IMS: our answer says where our RTCP is (`a=rtcp:` port+1,
/// or `a=rtcp-mux` when the offer muxes), and the offer's `a=rtcp:` is where theirs goes.
#[test]
fn rtcp_port_or_mux_in_the_ims_answer() {
    let ims = ims_local(sdes());
    let offer = load("ims_offer_amrwb_pcma.sdp").to_string();
    let with = |extra: &str| {
        let text = offer.replace("a=ptime:20\r\n", &format!("a=ptime:20\r\n{extra}"));
        let (_, pending) =
            offer_from_ims(&SessionDescription::parse(&text).unwrap(), &webrtc_local()).unwrap();
        answer_to_ims(&load("chrome_answer.sdp"), &pending, &ims).unwrap()
    };
    let (answer, n) = with("a=rtcp-mux\r\n");
    let text = answer.to_string();
    assert!(
        text.contains("a=rtcp-mux\r\n") && !text.contains("a=rtcp:"),
        "{text}"
    );
    assert!(n.ims_rtcp_mux);
    let (answer, n) = with("a=rtcp:50001 IN IP4 198.51.100.34\r\n");
    let text = answer.to_string();
    assert!(
        text.contains("a=rtcp:30001\r\n") && !text.contains("a=rtcp-mux"),
        "{text}"
    );
    assert_eq!(
        (n.ims_rtcp_mux, n.ims_rtcp),
        (false, Some("198.51.100.34:50001".parse().unwrap()))
    );
}

#[test]
fn no_shared_codec_is_refused_with_488() {
    let amr_only = load("ims_offer_amrwb_pcma.sdp").to_string().replace(
        "m=audio 40010 RTP/SAVP 96 97 8 100 101",
        "m=audio 40010 RTP/SAVP 96 97 100 101",
    );
    let err = offer_from_ims(
        &SessionDescription::parse(&amr_only).unwrap(),
        &webrtc_local(),
    )
    .unwrap_err();
    assert_eq!(err, SdpError::NoSharedCodec);
    assert_eq!(err.sip_status(), 488);

    let opus_only = load("chrome_offer.sdp")
        .to_string()
        .replace(" 111 63 9 0 8 13 110 126", " 111 63 110");
    let err = offer_to_ims(
        &SessionDescription::parse(&opus_only).unwrap(),
        &ims_local(sdes()),
    )
    .unwrap_err();
    assert_eq!(err, SdpError::NoSharedCodec);
}

#[test]
fn srtp_offer_without_a_usable_suite_is_refused() {
    let f8 = load("ims_offer_amrwb_pcma.sdp")
        .to_string()
        .replace("AES_CM_128_HMAC_SHA1_80", "F8_128_HMAC_SHA1_80")
        .replace("AES_CM_128_HMAC_SHA1_32", "F8_128_HMAC_SHA1_32");
    let err =
        offer_from_ims(&SessionDescription::parse(&f8).unwrap(), &webrtc_local()).unwrap_err();
    assert_eq!(err, SdpError::NoUsableCrypto);
}

#[test]
fn browser_offer_without_ice_or_fingerprint_is_refused() {
    let no_fp = load("chrome_offer.sdp")
        .to_string()
        .replace("a=fingerprint:", "a=x-fingerprint:");
    let err = offer_to_ims(
        &SessionDescription::parse(&no_fp).unwrap(),
        &ims_local(sdes()),
    )
    .unwrap_err();
    assert_eq!(err, SdpError::NotWebrtc("a=fingerprint:sha-256"));
}

#[test]
fn ims_answer_rejecting_audio_or_dropping_srtp_fails_the_call() {
    let ims = ims_local(sdes());
    let (_, pending) = offer_to_ims(&load("chrome_offer.sdp"), &ims).unwrap();
    let port0 = load("ims_answer_sdes.sdp")
        .to_string()
        .replace("m=audio 49170", "m=audio 0");
    let err = answer_from_ims(
        &SessionDescription::parse(&port0).unwrap(),
        &pending,
        &ims,
        &webrtc_local(),
    )
    .unwrap_err();
    assert_eq!(err, SdpError::Rejected);
    let plain = load("ims_answer_sdes.sdp")
        .to_string()
        .replace("RTP/SAVP", "RTP/AVP");
    let err = answer_from_ims(
        &SessionDescription::parse(&plain).unwrap(),
        &pending,
        &ims,
        &webrtc_local(),
    )
    .unwrap_err();
    assert_eq!(err, SdpError::NoUsableCrypto);
}

fn rtpmaps(sdp: &SessionDescription, name: &str) -> Vec<String> {
    let text = sdp.to_string();
    let lines = text
        .lines()
        .filter(|l| l.starts_with("a=rtpmap:") && l.contains(name));
    lines.map(str::to_owned).collect()
}

/// RFC 4733 across clocks, MO: a browser offering telephone-event only at 48 kHz. IMS is
/// offered it at the 8 kHz of G.711 (same PT), the browser's answer keeps its 48 kHz,
/// and the media plane is told both clocks (it rescales the durations).
#[test]
fn browser_telephone_event_at_48k_is_offered_to_ims_at_8k() {
    let ims = ims_local(sdes());
    let offer = load("chrome_offer.sdp")
        .to_string()
        .replace(" 110 126\r\n", " 110\r\n")
        .replace("a=rtpmap:126 telephone-event/8000\r\n", "");
    let (ims_offer, pending) =
        offer_to_ims(&SessionDescription::parse(&offer).unwrap(), &ims).unwrap();
    assert_eq!(
        rtpmaps(&ims_offer, "telephone-event"),
        ["a=rtpmap:110 telephone-event/8000"]
    );
    let (answer, negotiated) = answer_from_ims(
        &load("ims_answer_sdes.sdp"),
        &pending,
        &ims,
        &webrtc_local(),
    )
    .unwrap();
    assert_eq!(
        rtpmaps(&answer, "telephone-event"),
        ["a=rtpmap:110 telephone-event/48000"]
    );
    assert_eq!(
        negotiated.dtmf,
        Some(TelephoneEvent {
            webrtc_pt: 110,
            webrtc_rate: 48000,
            ims_pt: 101,
            ims_rate: 8000
        })
    );
}

/// MT: an IMS offer with telephone-event only at 16 kHz. The browser is offered 8 kHz;
/// the IMS answer keeps the offer's 16 kHz.
#[test]
fn ims_telephone_event_at_16k_is_offered_to_the_browser_at_8k() {
    let ims = ims_local(sdes());
    let offer = load("ims_offer_amrwb_pcma.sdp")
        .to_string()
        .replace(" 8 100 101\r\n", " 8 100\r\n")
        .replace(
            "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n",
            "",
        );
    let (browser_offer, pending) =
        offer_from_ims(&SessionDescription::parse(&offer).unwrap(), &webrtc_local()).unwrap();
    assert_eq!(
        rtpmaps(&browser_offer, "telephone-event"),
        ["a=rtpmap:100 telephone-event/8000"]
    );
    let browser_answer = load("chrome_answer.sdp")
        .to_string()
        .replace(" 8 101\r\n", " 8 100\r\n")
        .replace(
            "a=rtpmap:101 telephone-event",
            "a=rtpmap:100 telephone-event",
        );
    let (answer, negotiated) = answer_to_ims(
        &SessionDescription::parse(&browser_answer).unwrap(),
        &pending,
        &ims,
    )
    .unwrap();
    assert_eq!(
        rtpmaps(&answer, "telephone-event"),
        ["a=rtpmap:100 telephone-event/16000"]
    );
    assert_eq!(
        negotiated.dtmf,
        Some(TelephoneEvent {
            webrtc_pt: 100,
            webrtc_rate: 8000,
            ims_pt: 100,
            ims_rate: 16000
        })
    );
}
