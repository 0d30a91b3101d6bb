//! SDP interworking between the WebRTC leg and the IMS leg.
//!
//! ```text
//!  MO (browser calls):  browser offer ──offer_to_ims──► IMS offer
//!                       IMS answer ──answer_from_ims──► browser answer + Negotiated
//!  MT (IMS calls):      IMS offer ──offer_from_ims──► browser offer
//!                       browser answer ──answer_to_ims──► IMS answer + Negotiated
//! ```
//!
//! Toward IMS: no ICE, DTLS, BUNDLE, rtcp-fb, extmap, msid, ssrc lines; `RTP/SAVP`
//! with `a=crypto` (SDES) or `RTP/AVP`; the gateway's own address; `b=AS`; `a=ptime`;
//! telephone-event offered at 8 kHz; RTCP on the RTP port + 1, said with `a=rtcp:` (RFC 3605),
//! or `a=rtcp-mux` (RFC 5761 §5.1.1) in an answer to an IMS offer that had it (the
//! media plane binds port+1 unless RTCP is muxed, and reports on each leg, but not
//! toward an IMS side whose SDP has `b=RS:0` and `b=RR:0`, RFC 3556 §2). Toward the
//! browser: `UDP/TLS/RTP/SAVPF` with the gateway's ICE-lite credentials, host
//! candidate(s), fingerprint, `a=setup`, `a=rtcp-mux`.
//! Only G.711 (PCMU, PCMA) and telephone-event cross the gateway: they are what browsers
//! and IMS networks share without transcoding. An offer's telephone-event is the one at
//! 8 kHz, else the first at another clock; the other side is offered it at 8 kHz, and
//! when the two legs end up on different clocks ([`TelephoneEvent`]) the media plane
//! rescales each event's duration (RFC 4733 §2.3.5).

use std::net::{IpAddr, SocketAddr};

use super::attrs::{codecs, Crypto, CryptoSuite, Direction, Fingerprint, RtpMap, Setup};
use super::session::{Attribute, Attributes, Connection, Media, SessionDescription};
use super::SdpError;

/// Codecs that cross the gateway, in the gateway's preference order when it chooses.
const CARRIED: [(&str, u32); 2] = [("PCMU", 8000), ("PCMA", 8000)];
/// The telephone-event events offered (RFC 4733 §7.1.1: DTMF 0-9, *, #, A-D).
const DTMF_EVENTS: &str = "0-15";
/// Packetisation time toward IMS, in ms.
const PTIME_MS: u32 = 20;
/// `b=AS` for G.711 at 20 ms: 64 kbit/s payload + RTP/UDP/IPv4 headers (16 kbit/s).
const G711_AS_KBPS: u32 = 80;

/// The `o=` line values of the descriptions the gateway writes (RFC 8866 §5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin {
    /// Session id: random per call.
    pub session_id: u64,
    /// Version: incremented for every new description of the session.
    pub version: u64,
}

/// The gateway's side of the WebRTC leg.
#[derive(Debug, Clone)]
pub struct WebrtcLocal {
    /// `o=` values.
    pub origin: Origin,
    /// ICE ufrag (RFC 8839 §5.4).
    pub ice_ufrag: String,
    /// ICE password.
    pub ice_pwd: String,
    /// The DTLS certificate fingerprint.
    pub fingerprint: Fingerprint,
    /// `a=candidate` values (foundation onward), highest priority first.
    pub candidates: Vec<String>,
    /// Address and port written in `c=` and `m=` (the first candidate's).
    pub address: SocketAddr,
    /// Role the gateway takes when it answers an `actpass` offer (RFC 5763 §5 recommends
    /// `active`).
    pub answer_setup: Setup,
}

/// How the IMS leg is protected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImsSecurity {
    /// Plain RTP (`RTP/AVP`).
    Rtp,
    /// SRTP with SDES keys (`RTP/SAVP` + `a=crypto`): one local key per suite, in the
    /// order they are offered. Keys are base64 master key || salt from the media plane.
    Sdes(Vec<(CryptoSuite, String)>),
}

/// The gateway's side of the IMS leg.
#[derive(Debug, Clone)]
pub struct ImsLocal {
    /// `o=` values.
    pub origin: Origin,
    /// Address and RTP port written in `c=` and `m=`.
    pub address: SocketAddr,
    /// RTP or SRTP.
    pub security: ImsSecurity,
}

/// What the browser's description says about its side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebrtcRemote {
    /// Its ICE ufrag.
    pub ice_ufrag: String,
    /// Its ICE password.
    pub ice_pwd: String,
    /// Its certificate fingerprint (checked against the DTLS handshake).
    pub fingerprint: Fingerprint,
    /// The role the gateway takes in the DTLS handshake.
    pub local_setup: Setup,
    /// Candidate addresses it listed (informative: ICE-lite learns the address from
    /// authenticated checks).
    pub candidates: Vec<SocketAddr>,
}

/// The media both legs agreed on: what the media plane needs for the call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    /// The audio codec (name and clock rate).
    pub codec: RtpMap,
    /// Its payload type on the WebRTC leg.
    pub webrtc_pt: u8,
    /// Its payload type on the IMS leg.
    pub ims_pt: u8,
    /// telephone-event on each leg, when both sides have it.
    pub dtmf: Option<TelephoneEvent>,
    /// Which ways media flows.
    pub flow: MediaFlow,
    /// Where the IMS side wants media sent.
    pub ims_remote: SocketAddr,
    /// SDES keys: (ours, theirs), or `None` for plain RTP.
    pub ims_srtp: Option<(Crypto, Crypto)>,
    /// Whether the IMS side multiplexes RTCP on the RTP port.
    pub ims_rtcp_mux: bool,
    /// Where the IMS side wants RTCP sent, from its `a=rtcp:` (RFC 3605); `None`: the
    /// RTP port + 1 (RFC 3550 §11), or the RTP port with `ims_rtcp_mux`.
    pub ims_rtcp: Option<SocketAddr>,
    /// The IMS side turned RTCP off: `b=RS:0` and `b=RR:0` (RFC 3556 §2, media level,
    /// else session level). The gateway then sends no RTCP on the IMS leg.
    pub ims_rtcp_off: bool,
    /// The browser's ICE and DTLS parameters.
    pub webrtc: WebrtcRemote,
}

/// The telephone-event (RFC 4733) of each leg: payload type and clock. The clocks
/// differ when one side offered telephone-event only at another rate than the G.711
/// audio's 8 kHz (a browser's 48 kHz one, say): the gateway still writes 8 kHz toward
/// the other side, and the media plane rescales each event's duration between the two.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelephoneEvent {
    /// Payload type on the WebRTC leg.
    pub webrtc_pt: u8,
    /// Its clock on the WebRTC leg, Hz.
    pub webrtc_rate: u32,
    /// Payload type on the IMS leg.
    pub ims_pt: u8,
    /// Its clock on the IMS leg, Hz.
    pub ims_rate: u32,
}

impl TelephoneEvent {
    /// The WebRTC leg's entry, as an rtpmap.
    fn webrtc_rtpmap(&self) -> RtpMap {
        telephone_event_rtpmap(self.webrtc_pt, self.webrtc_rate)
    }

    /// The IMS leg's entry, as an rtpmap.
    fn ims_rtpmap(&self) -> RtpMap {
        telephone_event_rtpmap(self.ims_pt, self.ims_rate)
    }
}

/// Which ways media flows through the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaFlow {
    /// Browser → IMS.
    pub to_ims: bool,
    /// IMS → browser.
    pub to_webrtc: bool,
}

impl MediaFlow {
    /// The flow an answer's direction gives, read from the answerer's point of view.
    fn from_answer(direction: Direction, answerer_is_ims: bool) -> Self {
        let sends = matches!(direction, Direction::SendRecv | Direction::SendOnly);
        let receives = matches!(direction, Direction::SendRecv | Direction::RecvOnly);
        if answerer_is_ims {
            Self {
                to_ims: receives,
                to_webrtc: sends,
            }
        } else {
            Self {
                to_ims: sends,
                to_webrtc: receives,
            }
        }
    }
}

/// What is remembered between an offer and its answer.
#[derive(Debug, Clone)]
pub struct Pending {
    offer: SessionDescription,
    /// Index of the audio section in `offer`.
    audio_index: usize,
}

// ─── MO: the browser offers ────────────────────────────────────────────────────────────

/// Rewrites a browser offer into the IMS offer.
pub fn offer_to_ims(
    browser_offer: &SessionDescription,
    ims: &ImsLocal,
) -> Result<(SessionDescription, Pending), SdpError> {
    let (audio_index, audio) = browser_offer.audio().ok_or(SdpError::NoAudio)?;
    webrtc_remote(browser_offer, audio, Setup::Active)?;
    let chosen = carried_codecs(audio)?;
    let direction = Direction::of(audio);
    let media = ims_media(ims, &chosen, direction, sdes_offer(&ims.security), false);
    let sdp = ims_session(ims, vec![media]);
    let pending = Pending {
        offer: browser_offer.clone(),
        audio_index,
    };
    Ok((sdp, pending))
}

/// Turns the IMS answer into the browser's answer and the negotiated media.
pub fn answer_from_ims(
    ims_answer: &SessionDescription,
    pending: &Pending,
    ims: &ImsLocal,
    webrtc: &WebrtcLocal,
) -> Result<(SessionDescription, Negotiated), SdpError> {
    let (_, answer) = ims_answer.audio().ok_or(SdpError::Rejected)?;
    let browser_audio = &pending.offer.media[pending.audio_index];
    let remote = webrtc_remote(&pending.offer, browser_audio, webrtc.answer_setup)?;
    let browser_codecs = codecs(browser_audio);
    let answered = codecs(answer);
    let codec = first_carried(&answered)?;
    let webrtc_pt = matching_pt(&browser_codecs, &codec).ok_or(SdpError::NoSharedCodec)?;
    let dtmf = telephone_event(&browser_codecs, &answered);
    let ims_srtp = answered_crypto(&ims.security, answer)?;
    let direction = Direction::of(answer);
    let negotiated = Negotiated {
        codec: codec.clone(),
        webrtc_pt,
        ims_pt: codec.pt,
        dtmf,
        flow: MediaFlow::from_answer(direction, true),
        ims_remote: media_address(ims_answer, answer)?,
        ims_srtp,
        // Not offered, so not expected (RFC 5761 §5.1.1); a far end that muxes anyway is
        // followed, as RTCP on the RTP port is recognised either way.
        ims_rtcp_mux: answer.has_attr("rtcp-mux"),
        ims_rtcp: rtcp_address(ims_answer, answer),
        ims_rtcp_off: rtcp_off(ims_answer, answer),
        webrtc: remote,
    };
    let mut browser_codecs_used = vec![RtpMap {
        pt: webrtc_pt,
        ..codec
    }];
    browser_codecs_used.extend(dtmf.map(|t| t.webrtc_rtpmap()));
    let sdp = browser_answer(
        &pending.offer,
        pending.audio_index,
        webrtc,
        &browser_codecs_used,
        direction,
    )?;
    Ok((sdp, negotiated))
}

// ─── MT: the IMS side offers ───────────────────────────────────────────────────────────

/// Rewrites an IMS offer into a browser offer.
pub fn offer_from_ims(
    ims_offer: &SessionDescription,
    webrtc: &WebrtcLocal,
) -> Result<(SessionDescription, Pending), SdpError> {
    let (audio_index, audio) = ims_offer.audio().ok_or(SdpError::NoAudio)?;
    if is_secure(&audio.proto) && usable_crypto(audio).is_none() {
        return Err(SdpError::NoUsableCrypto);
    }
    media_address(ims_offer, audio)?;
    let chosen = carried_codecs(audio)?;
    let media = webrtc_media(webrtc, "0", &chosen, Direction::of(audio), Setup::ActPass);
    let mut sdp = webrtc_session(webrtc, vec![media]);
    sdp.attributes.push(Attribute::value("group", "BUNDLE 0"));
    Ok((
        sdp,
        Pending {
            offer: ims_offer.clone(),
            audio_index,
        },
    ))
}

/// Turns the browser's answer into the IMS answer and the negotiated media.
pub fn answer_to_ims(
    browser_answer: &SessionDescription,
    pending: &Pending,
    ims: &ImsLocal,
) -> Result<(SessionDescription, Negotiated), SdpError> {
    let (_, answer) = browser_answer.audio().ok_or(SdpError::Rejected)?;
    let ims_audio = &pending.offer.media[pending.audio_index];
    let setup = match browser_answer
        .media_or_session_attr(answer, "setup")
        .and_then(Setup::parse)
    {
        Some(Setup::Active) => Setup::Passive,
        Some(Setup::Passive) => Setup::Active,
        // RFC 8842 §5.3: an answer must not say actpass; a missing one means active.
        _ => Setup::Passive,
    };
    let remote = webrtc_remote(browser_answer, answer, setup)?;
    let ims_codecs = codecs(ims_audio);
    let answered = codecs(answer);
    let codec = first_carried(&answered)?;
    let ims_pt = matching_pt(&ims_codecs, &codec).ok_or(SdpError::NoSharedCodec)?;
    let dtmf = telephone_event(&answered, &ims_codecs);
    let direction = Direction::of(answer);

    let (ims_srtp, crypto_line) = match (is_secure(&ims_audio.proto), &ims.security) {
        (false, _) => (None, None),
        (true, ImsSecurity::Sdes(keys)) => {
            let theirs = usable_crypto(ims_audio).ok_or(SdpError::NoUsableCrypto)?;
            let key = keys
                .iter()
                .find(|(suite, _)| *suite == theirs.suite)
                .ok_or(SdpError::NoUsableCrypto)?;
            let ours = Crypto {
                tag: theirs.tag,
                suite: key.0,
                key_b64: key.1.clone(),
            };
            (Some((ours.clone(), theirs)), Some(ours))
        }
        (true, ImsSecurity::Rtp) => return Err(SdpError::NoUsableCrypto),
    };
    let mut used = vec![RtpMap {
        pt: ims_pt,
        ..codec.clone()
    }];
    used.extend(dtmf.map(|t| t.ims_rtpmap()));
    // The gateway relays, so the browser's answer direction is the IMS answer's.
    // RFC 5761 §5.1.1: an offer with a=rtcp-mux is answered with it when we mux too.
    let rtcp_mux = ims_audio.has_attr("rtcp-mux");
    let mut media = ims_media(
        ims,
        &used,
        direction,
        crypto_line.into_iter().collect(),
        rtcp_mux,
    );
    media.proto = ims_audio.proto.clone();
    let negotiated = Negotiated {
        codec: RtpMap {
            pt: ims_pt,
            ..codec.clone()
        },
        webrtc_pt: codec.pt,
        ims_pt,
        dtmf,
        flow: MediaFlow::from_answer(direction, false),
        ims_remote: media_address(&pending.offer, ims_audio)?,
        ims_srtp,
        ims_rtcp_mux: rtcp_mux,
        ims_rtcp: rtcp_address(&pending.offer, ims_audio),
        ims_rtcp_off: rtcp_off(&pending.offer, ims_audio),
        webrtc: remote,
    };
    let sections = pending.offer.media.iter().enumerate();
    let sections = sections.map(|(i, m)| {
        if i == pending.audio_index {
            media.clone()
        } else {
            rejected(m)
        }
    });
    Ok((ims_session(ims, sections.collect()), negotiated))
}

// ─── pieces ────────────────────────────────────────────────────────────────────────────

fn is_carried(c: &RtpMap) -> bool {
    CARRIED.iter().any(|(name, rate)| c.is(name, *rate))
}

/// The codecs of an offer that cross the gateway, in the offer's order, plus its
/// telephone-event ([`offered_event`]) written at the 8 kHz of G.711 with the offer's
/// payload type: the other side is offered the clock of its audio whatever the offerer
/// used, and the media plane rescales (RFC 4733 §2.3.5).
fn carried_codecs(audio: &Media) -> Result<Vec<RtpMap>, SdpError> {
    let offered = codecs(audio);
    let mut chosen: Vec<RtpMap> = offered.iter().filter(|c| is_carried(c)).cloned().collect();
    if chosen.is_empty() {
        return Err(SdpError::NoSharedCodec);
    }
    chosen.extend(offered_event(&offered).map(|c| telephone_event_rtpmap(c.pt, AUDIO_CLOCK)));
    Ok(chosen)
}

/// The clock of every carried codec (G.711), Hz.
const AUDIO_CLOCK: u32 = 8000;

/// The telephone-event of a list: the one at the audio's 8 kHz (RFC 4733 §2.1: the
/// audio's clock should be used), else the first at any clock.
fn offered_event(list: &[RtpMap]) -> Option<&RtpMap> {
    list.iter()
        .filter(|c| c.encoding.eq_ignore_ascii_case("telephone-event"))
        .min_by_key(|c| c.clock_rate != AUDIO_CLOCK)
}

fn telephone_event_rtpmap(pt: u8, clock_rate: u32) -> RtpMap {
    RtpMap {
        pt,
        encoding: "telephone-event".into(),
        clock_rate,
        channels: None,
    }
}

/// The codec an answer chose: its first one that crosses the gateway.
fn first_carried(answered: &[RtpMap]) -> Result<RtpMap, SdpError> {
    answered
        .iter()
        .find(|c| is_carried(c))
        .cloned()
        .ok_or(SdpError::NoSharedCodec)
}

fn is_secure(proto: &str) -> bool {
    proto.contains("SAVP")
}

fn matching_pt(list: &[RtpMap], codec: &RtpMap) -> Option<u8> {
    list.iter()
        .find(|c| c.is(&codec.encoding, codec.clock_rate))
        .map(|c| c.pt)
}

/// The telephone-event of each side ([`offered_event`]), when both have one.
fn telephone_event(webrtc: &[RtpMap], ims: &[RtpMap]) -> Option<TelephoneEvent> {
    let (w, i) = (offered_event(webrtc)?, offered_event(ims)?);
    Some(TelephoneEvent {
        webrtc_pt: w.pt,
        webrtc_rate: w.clock_rate,
        ims_pt: i.pt,
        ims_rate: i.clock_rate,
    })
}

/// The first crypto line of an offer the SRTP engine can use (RFC 4568 §7.1.1: the
/// answerer picks one).
fn usable_crypto(media: &Media) -> Option<Crypto> {
    media
        .attr_values("crypto")
        .find_map(|v| Crypto::parse(v).ok())
}

fn sdes_offer(security: &ImsSecurity) -> Vec<Crypto> {
    match security {
        ImsSecurity::Rtp => Vec::new(),
        ImsSecurity::Sdes(keys) => keys
            .iter()
            .zip(1..)
            .map(|((suite, key), tag)| Crypto {
                tag,
                suite: *suite,
                key_b64: key.clone(),
            })
            .collect(),
    }
}

/// The crypto pair agreed in an IMS answer to our offer (RFC 4568 §7.1.2: same tag and
/// suite as one of the offered lines).
fn answered_crypto(
    security: &ImsSecurity,
    answer: &Media,
) -> Result<Option<(Crypto, Crypto)>, SdpError> {
    let offered = sdes_offer(security);
    if offered.is_empty() {
        return Ok(None);
    }
    if !is_secure(&answer.proto) {
        return Err(SdpError::NoUsableCrypto);
    }
    answer
        .attr_values("crypto")
        .filter_map(|v| Crypto::parse(v).ok())
        .find_map(|theirs| {
            let ours = offered
                .iter()
                .find(|o| o.tag == theirs.tag && o.suite == theirs.suite)?;
            Some((ours.clone(), theirs))
        })
        .map(Some)
        .ok_or(SdpError::NoUsableCrypto)
}

fn media_address(sdp: &SessionDescription, media: &Media) -> Result<SocketAddr, SdpError> {
    let c = sdp.connection_for(media).ok_or(SdpError::NoAddress)?;
    let ip: IpAddr = c
        .address
        .split('/')
        .next()
        .unwrap_or_default()
        .parse()
        .map_err(|_| SdpError::NoAddress)?;
    Ok(SocketAddr::new(ip, media.port))
}

/// ICE and DTLS parameters of a browser description (media level first, then session
/// level, as Firefox writes the fingerprint at session level).
fn webrtc_remote(
    sdp: &SessionDescription,
    media: &Media,
    local_setup_if_actpass: Setup,
) -> Result<WebrtcRemote, SdpError> {
    let get = |name| sdp.media_or_session_attr(media, name);
    let ice_ufrag = get("ice-ufrag")
        .ok_or(SdpError::NotWebrtc("ice-ufrag"))?
        .to_owned();
    let ice_pwd = get("ice-pwd")
        .ok_or(SdpError::NotWebrtc("ice-pwd"))?
        .to_owned();
    let fingerprint = sdp
        .media_or_session_attr(media, "fingerprint")
        .and_then(Fingerprint::parse)
        .filter(|f| f.hash == "sha-256")
        .ok_or(SdpError::NotWebrtc("a=fingerprint:sha-256"))?;
    let local_setup = match get("setup").and_then(Setup::parse) {
        Some(Setup::Active) => Setup::Passive,
        Some(Setup::Passive) => Setup::Active,
        Some(Setup::ActPass) | None => local_setup_if_actpass,
    };
    let candidates = media
        .attr_values("candidate")
        .filter_map(candidate_address)
        .collect();
    Ok(WebrtcRemote {
        ice_ufrag,
        ice_pwd,
        fingerprint,
        local_setup,
        candidates,
    })
}

/// The transport address of a UDP `a=candidate` value (RFC 8839 §5.1).
fn candidate_address(value: &str) -> Option<SocketAddr> {
    let f: Vec<&str> = value.split_ascii_whitespace().collect();
    if f.len() < 8 || !f[2].eq_ignore_ascii_case("udp") {
        return None;
    }
    Some(SocketAddr::new(f[4].parse().ok()?, f[5].parse().ok()?))
}

fn addr_type(ip: IpAddr) -> &'static str {
    if ip.is_ipv4() {
        "IP4"
    } else {
        "IP6"
    }
}

fn connection(addr: SocketAddr) -> Connection {
    Connection {
        addr_type: addr_type(addr.ip()).into(),
        address: addr.ip().to_string(),
    }
}

fn session(origin: Origin, addr: SocketAddr, media: Vec<Media>) -> SessionDescription {
    SessionDescription {
        origin: format!(
            "rtcgate {} {} IN {} {}",
            origin.session_id,
            origin.version,
            addr_type(addr.ip()),
            addr.ip()
        ),
        session_name: "-".into(),
        extra: Vec::new(),
        connection: None,
        bandwidth: Vec::new(),
        timing: vec![('t', "0 0".into())],
        attributes: Vec::new(),
        media,
    }
}

fn ims_session(ims: &ImsLocal, media: Vec<Media>) -> SessionDescription {
    let mut sdp = session(ims.origin, ims.address, media);
    sdp.connection = Some(connection(ims.address));
    sdp
}

fn webrtc_session(webrtc: &WebrtcLocal, media: Vec<Media>) -> SessionDescription {
    let mut sdp = session(webrtc.origin, webrtc.address, media);
    // RFC 8445 §5.1.1 / RFC 8839 §5.3: a lite implementation says so at session level.
    sdp.attributes.push(Attribute::flag("ice-lite"));
    sdp
}

fn rtp_attributes(codecs: &[RtpMap]) -> Vec<Attribute> {
    let mut attrs = Vec::new();
    for c in codecs {
        attrs.push(Attribute::value("rtpmap", c.to_string()));
        if c.encoding.eq_ignore_ascii_case("telephone-event") {
            attrs.push(Attribute::value("fmtp", format!("{} {DTMF_EVENTS}", c.pt)));
        }
    }
    attrs
}

fn formats(codecs: &[RtpMap]) -> Vec<String> {
    codecs.iter().map(|c| c.pt.to_string()).collect()
}

/// The `a=rtcp:` address of a media section (RFC 3605 §2.1: `port [IN IP4|IP6 addr]`;
/// without an address, the section's connection address). `None` if absent or unusable.
fn rtcp_address(sdp: &SessionDescription, media: &Media) -> Option<SocketAddr> {
    let value = media.attr("rtcp")?;
    let mut f = value.split_ascii_whitespace();
    let port: u16 = f.next()?.parse().ok().filter(|p| *p != 0)?;
    let ip = match (f.next(), f.next(), f.next()) {
        (Some("IN"), Some(_), Some(addr)) => addr.parse().ok()?,
        (None, ..) => media_address(sdp, media).ok()?.ip(),
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

/// RFC 3556 §2: RTCP is off when both the senders' (`b=RS`) and the receivers'
/// (`b=RR`) RTCP bandwidth are 0, given on the media section or, failing that, on the
/// session. Either one alone, or an unreadable value, leaves RTCP on.
fn rtcp_off(sdp: &SessionDescription, media: &Media) -> bool {
    let zero = |kind: &str| {
        let value = |lines: &[(String, String)]| {
            lines
                .iter()
                .find(|(t, _)| t.eq_ignore_ascii_case(kind))
                .map(|(_, v)| v.trim() == "0")
        };
        value(&media.bandwidth)
            .or_else(|| value(&sdp.bandwidth))
            .unwrap_or(false)
    };
    zero("RS") && zero("RR")
}

fn ims_media(
    ims: &ImsLocal,
    codecs: &[RtpMap],
    direction: Direction,
    crypto: Vec<Crypto>,
    rtcp_mux: bool,
) -> Media {
    let proto = if matches!(ims.security, ImsSecurity::Sdes(_)) {
        "RTP/SAVP"
    } else {
        "RTP/AVP"
    };
    let mut attributes = rtp_attributes(codecs);
    attributes.push(Attribute::value("ptime", PTIME_MS.to_string()));
    attributes.push(Attribute::flag(direction.as_str()));
    if rtcp_mux {
        attributes.push(Attribute::flag("rtcp-mux"));
    } else if let Some(rtcp) = ims.address.port().checked_add(1) {
        // RFC 3605 §2.1: the port alone, the address is the c= one.
        attributes.push(Attribute::value("rtcp", rtcp.to_string()));
    }
    attributes.extend(
        crypto
            .iter()
            .map(|c| Attribute::value("crypto", c.to_string())),
    );
    Media {
        kind: "audio".into(),
        port: ims.address.port(),
        port_count: None,
        proto: proto.into(),
        formats: formats(codecs),
        title: None,
        connection: None,
        bandwidth: vec![("AS".into(), G711_AS_KBPS.to_string())],
        attributes,
    }
}

fn webrtc_media(
    webrtc: &WebrtcLocal,
    mid: &str,
    codecs: &[RtpMap],
    direction: Direction,
    setup: Setup,
) -> Media {
    let mut attributes = vec![
        Attribute::value("mid", mid),
        Attribute::value("ice-ufrag", webrtc.ice_ufrag.clone()),
        Attribute::value("ice-pwd", webrtc.ice_pwd.clone()),
        Attribute::value("fingerprint", webrtc.fingerprint.to_string()),
        Attribute::value("setup", setup.as_str()),
        Attribute::flag("rtcp-mux"),
        Attribute::flag(direction.as_str()),
    ];
    attributes.extend(rtp_attributes(codecs));
    attributes.push(Attribute::value("ptime", PTIME_MS.to_string()));
    attributes.extend(
        webrtc
            .candidates
            .iter()
            .map(|c| Attribute::value("candidate", c.clone())),
    );
    attributes.push(Attribute::flag("end-of-candidates"));
    Media {
        kind: "audio".into(),
        port: webrtc.address.port(),
        port_count: None,
        proto: "UDP/TLS/RTP/SAVPF".into(),
        formats: formats(codecs),
        title: None,
        connection: Some(connection(webrtc.address)),
        bandwidth: Vec::new(),
        attributes,
    }
}

/// An answer's section for a stream the gateway does not carry (RFC 3264 §6: port 0,
/// same media type and protocol, at least one format; `a=mid` kept so BUNDLE stays valid).
fn rejected(offer: &Media) -> Media {
    let mut attributes = Vec::new();
    if let Some(mid) = offer.attr("mid") {
        attributes.push(Attribute::value("mid", mid));
    }
    Media {
        kind: offer.kind.clone(),
        port: 0,
        port_count: None,
        proto: offer.proto.clone(),
        formats: offer.formats.iter().take(1).cloned().collect(),
        title: None,
        connection: None,
        bandwidth: Vec::new(),
        attributes,
    }
}

/// The answer to a browser re-offer in a connected call (hold, resume): the codecs and
/// payload types already negotiated, the offer's direction mirrored, the same ICE
/// credentials and the same DTLS role (RFC 8842 §5.5: no new handshake).
pub fn reanswer_browser(
    offer: &SessionDescription,
    webrtc: &WebrtcLocal,
    negotiated: &Negotiated,
) -> Result<SessionDescription, SdpError> {
    let (audio_index, audio) = offer.audio().ok_or(SdpError::NoAudio)?;
    let mut codecs = vec![RtpMap {
        pt: negotiated.webrtc_pt,
        ..negotiated.codec.clone()
    }];
    codecs.extend(negotiated.dtmf.map(|t| t.webrtc_rtpmap()));
    let same_role = WebrtcLocal {
        answer_setup: negotiated.webrtc.local_setup,
        ..webrtc.clone()
    };
    browser_answer(
        offer,
        audio_index,
        &same_role,
        &codecs,
        Direction::of(audio).answer(),
    )
}

fn browser_answer(
    offer: &SessionDescription,
    audio_index: usize,
    webrtc: &WebrtcLocal,
    codecs: &[RtpMap],
    ims_direction: Direction,
) -> Result<SessionDescription, SdpError> {
    let audio = &offer.media[audio_index];
    let remote = webrtc_remote(offer, audio, webrtc.answer_setup)?;
    let mid = audio.attr("mid").unwrap_or("0");
    let media: Vec<Media> = offer
        .media
        .iter()
        .enumerate()
        .map(|(i, m)| {
            if i == audio_index {
                webrtc_media(webrtc, mid, codecs, ims_direction, remote.local_setup)
            } else {
                rejected(m)
            }
        })
        .collect();
    let mut sdp = webrtc_session(webrtc, media);
    let bundled = offer
        .attr_values("group")
        .any(|g| g.split_ascii_whitespace().next() == Some("BUNDLE"));
    if bundled && audio.attr("mid").is_some() {
        sdp.attributes
            .push(Attribute::value("group", format!("BUNDLE {mid}")));
    }
    Ok(sdp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3605_rtcp_attribute() {
        let sdp = SessionDescription::parse(
            "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n\
             m=audio 40000 RTP/AVP 0\r\na=rtcp:40011\r\n\
             m=audio 40002 RTP/AVP 0\r\na=rtcp:53020 IN IP4 198.51.100.7\r\n\
             m=audio 40004 RTP/AVP 0\r\na=rtcp:junk\r\n\
             m=audio 40006 RTP/AVP 0\r\n",
        )
        .unwrap();
        let got: Vec<_> = sdp.media.iter().map(|m| rtcp_address(&sdp, m)).collect();
        assert_eq!(
            got,
            [
                Some("192.0.2.1:40011".parse().unwrap()),
                Some("198.51.100.7:53020".parse().unwrap()),
                None,
                None,
            ]
        );
    }

    #[test]
    fn rfc3556_rtcp_off_needs_both_bandwidths_zero() {
        let sdp = SessionDescription::parse(
            "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nb=RR:0\r\nt=0 0\r\n\
             m=audio 40000 RTP/AVP 0\r\nb=AS:80\r\nb=RS:0\r\nb=RR:0\r\n\
             m=audio 40002 RTP/AVP 0\r\nb=RS:0\r\n\
             m=audio 40004 RTP/AVP 0\r\nb=RS:0\r\nb=RR:2000\r\n\
             m=audio 40006 RTP/AVP 0\r\nb=RS:800\r\n\
             m=audio 40008 RTP/AVP 0\r\n",
        )
        .unwrap();
        let got: Vec<_> = sdp.media.iter().map(|m| rtcp_off(&sdp, m)).collect();
        // Media level first; the session's b=RR:0 fills in for the second section.
        assert_eq!(got, [true, true, false, false, false]);
    }

    #[test]
    fn candidate_addresses_are_read_from_udp_candidates_only() {
        assert_eq!(
            candidate_address("1467250027 1 udp 2122260223 192.0.2.5 46243 typ host generation 0"),
            Some("192.0.2.5:46243".parse().unwrap())
        );
        assert_eq!(
            candidate_address("1 1 tcp 1518280447 192.0.2.5 9 typ host tcptype active"),
            None
        );
        assert_eq!(
            candidate_address("1 1 UDP 2122252543 abcd.local 52000 typ host"),
            None
        );
        assert_eq!(candidate_address("short"), None);
    }
}
