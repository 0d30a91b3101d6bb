//! SDP: parsing and writing (RFC 8866) and the interworking between the browser's
//! WebRTC descriptions and the IMS side's (RFC 3264 offer/answer, RFC 4568 SDES,
//! RFC 8839/8842 ICE and DTLS attributes).
//!
//! ```text
//!   text ──SessionDescription::parse──► SessionDescription ──Display──► text
//!                                            │
//!                    interwork::{offer_to_ims, answer_from_ims,      (MO)
//!                                offer_from_ims, answer_to_ims}      (MT)
//!                                            │
//!                                            ▼
//!                          rewritten description + Negotiated (for the media plane)
//! ```

pub mod attrs;
pub mod interwork;
pub mod session;

pub use attrs::{Crypto, CryptoSuite, Direction, Fingerprint, RtpMap, Setup};
pub use interwork::{
    ImsLocal, ImsSecurity, MediaFlow, Negotiated, Origin, Pending, TelephoneEvent, WebrtcLocal,
    WebrtcRemote,
};
pub use session::{Attribute, Attributes, Connection, Media, SessionDescription};

/// Why a description was refused. [`SdpError::sip_status`] is the one mapping to SIP.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SdpError {
    /// Not valid SDP.
    #[error("SDP line {line}: {what}")]
    Syntax {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        what: &'static str,
    },
    /// Larger than the gateway accepts.
    #[error("SDP of {0} bytes is larger than the 64 KiB limit")]
    TooLarge(usize),
    /// An `a=crypto` line the SRTP engine cannot use.
    #[error("a=crypto: {0}")]
    Crypto(&'static str),
    /// No active audio stream.
    #[error("no audio stream")]
    NoAudio,
    /// The answer rejected the audio stream.
    #[error("the audio stream was rejected")]
    Rejected,
    /// No codec both sides can use (G.711 and telephone-event cross the gateway).
    #[error("no codec in common (the gateway carries PCMU and PCMA)")]
    NoSharedCodec,
    /// SRTP was offered or required without a crypto line both sides support.
    #[error("no usable SRTP crypto suite")]
    NoUsableCrypto,
    /// No usable connection address.
    #[error("no usable connection address")]
    NoAddress,
    /// A browser description without the attribute WebRTC requires.
    #[error("not a WebRTC description: missing {0}")]
    NotWebrtc(&'static str),
}

impl SdpError {
    /// The SIP response for a refused IMS-side description (RFC 3261 §21.4.26: 488 when
    /// the session description cannot be accepted; 400 when it cannot even be read).
    pub fn sip_status(&self) -> u16 {
        match self {
            SdpError::Syntax { .. } | SdpError::TooLarge(_) => 400,
            SdpError::Crypto(_)
            | SdpError::NoAudio
            | SdpError::Rejected
            | SdpError::NoSharedCodec
            | SdpError::NoUsableCrypto
            | SdpError::NoAddress
            | SdpError::NotWebrtc(_) => 488,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_maps_to_one_sip_status() {
        let table = [
            (SdpError::Syntax { line: 1, what: "x" }, 400),
            (SdpError::TooLarge(1), 400),
            (SdpError::Crypto("x"), 488),
            (SdpError::NoAudio, 488),
            (SdpError::Rejected, 488),
            (SdpError::NoSharedCodec, 488),
            (SdpError::NoUsableCrypto, 488),
            (SdpError::NoAddress, 488),
            (SdpError::NotWebrtc("ice-ufrag"), 488),
        ];
        for (e, status) in table {
            assert_eq!(e.sip_status(), status, "{e}");
        }
    }
}
