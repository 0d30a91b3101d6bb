//! ICE-lite (RFC 8445 §2.5) for the WebRTC leg: per-call credentials, host candidates,
//! and a sans-IO agent that answers the browser's checks and watches consent (RFC 7675).
//!
//! ```text
//!  SDP layer ── LocalCredentials::from_random ─► a=ice-ufrag / a=ice-pwd
//!            ── host_candidates ─► a=candidate lines
//!            ── RemoteCredentials::new ─► IceLiteAgent::apply_remote_credentials (restart?)
//!
//!  data path ── STUN datagram ─► IceLiteAgent::handle_stun(now, src, local, pkt, out)
//!                                  │ reply in out[..len] → send to src from local
//!                                  ├─ poll_event(): Connected / Nominated / ConsentLost / Restarted
//!                                  └─ poll_timeout() → handle_timeout(now)  (consent, 30 s)
//! ```

mod agent;
mod candidate;
mod credentials;
mod event;

pub use agent::{IceLiteAgent, RemoteUpdate, CONSENT_TIMEOUT, MAX_REPLY_LEN};
pub use candidate::{candidate_priority, host_candidates, HostCandidate};
pub use credentials::{
    LocalCredentials, LocalUfrag, RemoteCredentials, LOCAL_CREDENTIALS_RANDOM_LEN, LOCAL_PWD_LEN,
    LOCAL_UFRAG_LEN,
};
pub use event::{CheckFailure, Handled, IceCounters, IceEvent};

/// Errors of the ICE layer's configuration inputs (per-datagram failures are
/// [`CheckFailure`]s, counted rather than returned as errors).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IceError {
    /// `a=ice-ufrag` is not 4-256 ice-chars (RFC 8839 §5.4).
    #[error("ice-ufrag must be 4-256 ice-chars")]
    InvalidUfrag,
    /// `a=ice-pwd` is not 22-256 ice-chars (RFC 8839 §5.4).
    #[error("ice-pwd must be 22-256 ice-chars")]
    InvalidPwd,
}
