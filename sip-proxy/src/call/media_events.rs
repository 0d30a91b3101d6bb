//! What the media plane reports about a call, and what the call core does about it.
//!
//! | media event | call core |
//! | --- | --- |
//! | `IceConnected`, `DtlsConnected` | logged; nothing changes for SIP or the browser |
//! | `DtlsFailed` | the call ends: `Failed`, reason `media: DTLS failed: …` |
//! | `ConsentLost` (RFC 7675 §5.1, 30 s without a valid check) | the call ends: `Terminated`, reason `browser consent lost` |
//! | `MediaTimeout` (no media on either leg) | the call ends: `Terminated`, reason `media timeout` |
//!
//! Ending means BYE toward IMS for a connected call (the status above reaches the web
//! side at once); before answer it is the same as the web side hanging up: CANCEL for an
//! outgoing call (the web side sees `SessionCancelled` when the 487 arrives), a decline
//! for an incoming one. An event for a session the core no longer holds (a late event
//! after release) is ignored.

use std::time::Instant;

use super::{CallCore, CallId, CamaraStatus, Phase};
use crate::media::{MediaControl, MediaEvent, MediaSessionId};
use crate::transaction::TransactionLayer;

impl<M: MediaControl> CallCore<M> {
    /// Handles one event of the media plane.
    pub fn handle_media_event(
        &mut self,
        now: Instant,
        event: &MediaEvent,
        layer: &mut TransactionLayer,
    ) {
        let (media, status, reason) = match event {
            MediaEvent::IceConnected(id) => {
                if let Some(call) = self.call_of_media(*id) {
                    tracing::info!(call = call.0, "browser reachable (ICE nominated)");
                }
                return;
            }
            MediaEvent::DtlsConnected(id) => {
                if let Some(call) = self.call_of_media(*id) {
                    tracing::info!(call = call.0, "DTLS-SRTP keys installed");
                }
                return;
            }
            MediaEvent::DtlsFailed { id, reason } => (
                *id,
                CamaraStatus::Failed,
                format!("media: DTLS failed: {reason}"),
            ),
            MediaEvent::ConsentLost(id) => {
                (*id, CamaraStatus::Terminated, "browser consent lost".into())
            }
            MediaEvent::MediaTimeout(id) => (*id, CamaraStatus::Terminated, "media timeout".into()),
        };
        let Some(call) = self.call_of_media(media) else {
            return;
        };
        tracing::warn!(call = call.0, reason = %reason, "ending the call: media failed");
        let connected = self
            .calls
            .get(&call)
            .is_some_and(|c| c.phase == Phase::Connected);
        if connected {
            self.send_bye(now, call, layer);
            self.finish(call, status, Some(reason));
        } else {
            // The call exists, so hanging up cannot fail with UnknownCall.
            let _ = self.hangup(now, call, layer);
        }
    }

    fn call_of_media(&self, media: MediaSessionId) -> Option<CallId> {
        self.calls
            .iter()
            .find(|(_, c)| c.media == media)
            .map(|(id, _)| *id)
    }
}
