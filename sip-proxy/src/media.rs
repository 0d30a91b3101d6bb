//! The media-control interface: how the call core asks the media plane for a call's
//! media, and how the media plane reports back.
//!
//! ```text
//!   call core ──allocate──► MediaControl ──(bounded queue)──► media worker
//!             ◄─MediaAllocation (ports, ICE credentials, fingerprint, SDES keys)
//!             ──update(Negotiated) / release──►
//!   driver ◄──MediaEvent (ICE connected, DTLS done/failed, media timeout, consent lost)
//!          ──call_core.handle_media_event(now, event)
//! ```
//!
//! Every method returns at once: an implementation may reserve a port and draw keys
//! synchronously, but anything that touches a worker goes through a bounded queue, so
//! signalling never waits on media. A full queue is an error ([`MediaError::Busy`]) the
//! call core turns into a clean refusal, not a stall.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use crate::sdp::{CryptoSuite, Fingerprint, Negotiated, Setup};

/// A call's media session, as the media plane knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MediaSessionId(pub u64);

/// What the media plane reserved for a call: everything the SDP written toward either
/// side needs from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaAllocation {
    /// The WebRTC leg's local ICE ufrag.
    pub ice_ufrag: String,
    /// The WebRTC leg's local ICE password.
    pub ice_pwd: String,
    /// The DTLS certificate fingerprint.
    pub fingerprint: Fingerprint,
    /// `a=candidate` values of the WebRTC leg, highest priority first.
    pub candidates: Vec<String>,
    /// The WebRTC leg's address (shared port or per-call port).
    pub webrtc_address: SocketAddr,
    /// The IMS leg's RTP address (even port; RTCP on the next unless muxed).
    pub ims_address: SocketAddr,
    /// SDES master keys (base64 key ‖ salt) the IMS leg offers or answers with, one per
    /// suite, in preference order. Empty when the IMS leg is plain RTP.
    pub sdes_keys: Vec<(CryptoSuite, String)>,
}

/// Why the media plane could not do what was asked. [`MediaError::sip_status`] is the one
/// mapping to SIP.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MediaError {
    /// No IMS-leg port is free (after quarantine).
    #[error("media port range exhausted")]
    PortsExhausted,
    /// The worker's control queue is full.
    #[error("media plane busy")]
    Busy,
    /// The session does not exist (released, or never allocated).
    #[error("unknown media session")]
    UnknownSession,
    /// The negotiated parameters cannot be installed (bad SDES key, unsupported suite).
    #[error("media parameters refused: {0}")]
    Refused(String),
}

impl MediaError {
    /// The SIP status for a call refused because of this error.
    pub fn sip_status(&self) -> u16 {
        match self {
            // RFC 3261 §21.5.4: temporary overload.
            MediaError::PortsExhausted | MediaError::Busy => 503,
            MediaError::Refused(_) => 488,
            MediaError::UnknownSession => 500,
        }
    }
}

/// What the media plane reports about a session.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MediaEvent {
    /// ICE nominated a pair: the browser is reachable.
    IceConnected(MediaSessionId),
    /// DTLS finished and SRTP keys are installed on the WebRTC leg.
    DtlsConnected(MediaSessionId),
    /// DTLS failed (fingerprint mismatch, handshake timeout, alert).
    DtlsFailed {
        /// The session.
        id: MediaSessionId,
        /// Why, for logs and the `reason` of the status event.
        reason: String,
    },
    /// No media arrived on either leg for the configured inactivity time.
    MediaTimeout(MediaSessionId),
    /// RFC 7675: no valid consent check for 30 s; the browser is gone.
    ConsentLost(MediaSessionId),
}

/// The media-control interface the call core drives.
pub trait MediaControl {
    /// Reserves media for a new call.
    fn allocate(&mut self, id: MediaSessionId) -> Result<MediaAllocation, MediaError>;
    /// Installs (or replaces, after a re-INVITE) what offer/answer agreed.
    fn update(&mut self, id: MediaSessionId, negotiated: &Negotiated) -> Result<(), MediaError>;
    /// Starts a fresh ICE/DTLS session on the WebRTC leg (browser ICE restart): new
    /// credentials; the IMS leg is untouched.
    fn restart_webrtc(&mut self, id: MediaSessionId) -> Result<MediaAllocation, MediaError>;
    /// Sends an RFC 4733 telephone-event toward the IMS leg.
    fn send_dtmf(
        &mut self,
        id: MediaSessionId,
        digit: char,
        duration_ms: u32,
    ) -> Result<(), MediaError>;
    /// Frees the session; its ports are quarantined before reuse. Idempotent.
    fn release(&mut self, id: MediaSessionId);
}

/// What a [`RecordingMedia`] was asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaCall {
    /// `allocate`
    Allocate(MediaSessionId),
    /// `update`, with the codec encoding name and the IMS remote address.
    Update(MediaSessionId, String, SocketAddr),
    /// `restart_webrtc`
    Restart(MediaSessionId),
    /// `send_dtmf`
    Dtmf(MediaSessionId, char),
    /// `release`
    Release(MediaSessionId),
}

/// The test double: deterministic allocations, a log of every call, and switches to
/// make it fail. The real implementation is in `media-plane`.
#[derive(Debug, Default)]
pub struct RecordingMedia {
    /// Every call made, in order.
    pub calls: Vec<MediaCall>,
    /// Sessions currently allocated.
    pub live: BTreeMap<MediaSessionId, MediaAllocation>,
    /// When set, `allocate` fails with this error.
    pub fail_allocate: Option<MediaError>,
    /// Whether the IMS leg is offered as SRTP (SDES) rather than RTP.
    pub srtp: bool,
}

impl RecordingMedia {
    /// A double whose IMS leg uses SDES-SRTP.
    pub fn srtp() -> Self {
        Self {
            srtp: true,
            ..Self::default()
        }
    }

    fn allocation(&self, id: MediaSessionId, generation: u64) -> MediaAllocation {
        let n = id.0;
        let port = u16::try_from(30_000 + 2 * (n % 500)).unwrap_or(30_000);
        MediaAllocation {
            ice_ufrag: format!("uf{n}g{generation}"),
            ice_pwd: format!("icepassword{n:016}g{generation}"),
            fingerprint: Fingerprint {
                hash: "sha-256".into(),
                value: vec!["AB"; 32].join(":"),
            },
            candidates: vec!["1 1 udp 2130706431 127.0.0.1 20000 typ host".into()],
            webrtc_address: SocketAddr::from(([127, 0, 0, 1], 20000)),
            ims_address: SocketAddr::from(([127, 0, 0, 1], port)),
            sdes_keys: if self.srtp {
                vec![(
                    CryptoSuite::AesCm128HmacSha1_80,
                    format!("{:0>40}", format!("S{n}K")),
                )]
            } else {
                Vec::new()
            },
        }
    }
}

impl MediaControl for RecordingMedia {
    fn allocate(&mut self, id: MediaSessionId) -> Result<MediaAllocation, MediaError> {
        self.calls.push(MediaCall::Allocate(id));
        if let Some(e) = self.fail_allocate.clone() {
            return Err(e);
        }
        let a = self.allocation(id, 0);
        self.live.insert(id, a.clone());
        Ok(a)
    }

    fn update(&mut self, id: MediaSessionId, negotiated: &Negotiated) -> Result<(), MediaError> {
        self.calls.push(MediaCall::Update(
            id,
            negotiated.codec.encoding.clone(),
            negotiated.ims_remote,
        ));
        self.live
            .contains_key(&id)
            .then_some(())
            .ok_or(MediaError::UnknownSession)
    }

    fn restart_webrtc(&mut self, id: MediaSessionId) -> Result<MediaAllocation, MediaError> {
        self.calls.push(MediaCall::Restart(id));
        let generation = self
            .calls
            .iter()
            .filter(|c| **c == MediaCall::Restart(id))
            .count() as u64;
        let a = self.allocation(id, generation);
        match self.live.get_mut(&id) {
            Some(slot) => {
                *slot = a.clone();
                Ok(a)
            }
            None => Err(MediaError::UnknownSession),
        }
    }

    fn send_dtmf(
        &mut self,
        id: MediaSessionId,
        digit: char,
        _duration_ms: u32,
    ) -> Result<(), MediaError> {
        self.calls.push(MediaCall::Dtmf(id, digit));
        self.live
            .contains_key(&id)
            .then_some(())
            .ok_or(MediaError::UnknownSession)
    }

    fn release(&mut self, id: MediaSessionId) {
        self.calls.push(MediaCall::Release(id));
        self.live.remove(&id);
    }
}

/// The DTLS role written into a browser answer for an `actpass` offer: `passive`, so
/// the browser sends the ClientHello once its ICE transport is writable. RFC 5763 §5
/// recommends `active` to save a round trip, but measured against Chromium the gateway's
/// ClientHello (sent at the first authenticated check, before the browser's DTLS
/// transport is up) was dropped and only its retransmission 1 s later got through:
/// ICE-to-keys took ~1 s as `active` and ~5 ms as `passive`.
pub const ANSWER_SETUP: Setup = Setup::Passive;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_media_error_maps_to_one_sip_status() {
        let table = [
            (MediaError::PortsExhausted, 503),
            (MediaError::Busy, 503),
            (MediaError::UnknownSession, 500),
            (MediaError::Refused("x".into()), 488),
        ];
        for (e, status) in table {
            assert_eq!(e.sip_status(), status, "{e}");
        }
    }

    #[test]
    fn the_double_records_and_fails_on_demand() {
        let mut m = RecordingMedia::srtp();
        let a = m.allocate(MediaSessionId(1)).unwrap();
        assert_eq!(a.sdes_keys.len(), 1);
        let b = m.restart_webrtc(MediaSessionId(1)).unwrap();
        assert_ne!(
            a.ice_ufrag, b.ice_ufrag,
            "a restart brings new ICE credentials"
        );
        assert_eq!(a.ims_address, b.ims_address, "the IMS leg is untouched");
        m.release(MediaSessionId(1));
        m.release(MediaSessionId(1));
        assert!(m.live.is_empty());
        assert_eq!(
            m.send_dtmf(MediaSessionId(1), '5', 100),
            Err(MediaError::UnknownSession)
        );
        m.fail_allocate = Some(MediaError::PortsExhausted);
        assert_eq!(
            m.allocate(MediaSessionId(2)),
            Err(MediaError::PortsExhausted)
        );
    }
}
