//! The call core consuming media-plane events (ICE, DTLS, consent, inactivity), in
//! simulated time against a scripted IMS peer.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod common;

use common::{reply, Harness, CALL, IMS_ANSWER};
use sip_proxy::call::CamaraStatus;
use sip_proxy::media::{MediaCall, MediaEvent, MediaSessionId};
use sip_proxy::message::Method;

/// A connected outgoing call; returns the harness and its media session.
fn connected() -> (Harness, MediaSessionId) {
    let mut h = Harness::new();
    let invite = h.originate();
    h.deliver(&reply(&invite, 200, &[], Some(IMS_ANSWER)));
    let _ = h.sent();
    let _ = h.events();
    let media = match h.core.media().calls.first() {
        Some(MediaCall::Allocate(id)) => *id,
        other => panic!("{other:?}"),
    };
    (h, media)
}

fn media_event(h: &mut Harness, ev: MediaEvent) {
    h.core.handle_media_event(h.now, &ev, &mut h.layer);
}

#[test]
fn ice_and_dtls_progress_change_nothing() {
    let (mut h, media) = connected();
    media_event(&mut h, MediaEvent::IceConnected(media));
    media_event(&mut h, MediaEvent::DtlsConnected(media));
    assert!(h.events().is_empty());
    assert!(h.sent().is_empty());
    assert_eq!(h.core.active_calls(), 1);
}

#[test]
fn lost_consent_ends_a_connected_call_with_bye() {
    let (mut h, media) = connected();
    media_event(&mut h, MediaEvent::ConsentLost(media));
    let sent = h.sent_requests();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].method, Method::Bye);
    assert_eq!(
        h.events(),
        vec![(
            CamaraStatus::Terminated,
            Some("browser consent lost".into()),
            None
        )]
    );
    assert_eq!(
        h.core.media().calls.last(),
        Some(&MediaCall::Release(media))
    );
    assert_eq!(h.core.active_calls(), 0);
}

#[test]
fn a_failed_dtls_handshake_fails_the_call_with_its_reason() {
    let (mut h, media) = connected();
    media_event(
        &mut h,
        MediaEvent::DtlsFailed {
            id: media,
            reason: "peer certificate does not match the SDP fingerprint".into(),
        },
    );
    assert_eq!(h.sent_requests()[0].method, Method::Bye);
    let events = h.events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].0, CamaraStatus::Failed);
    assert_eq!(
        events[0].1.as_deref(),
        Some("media: DTLS failed: peer certificate does not match the SDP fingerprint")
    );
}

#[test]
fn media_timeout_before_answer_cancels_the_outgoing_call() {
    let mut h = Harness::new();
    let invite = h.originate();
    h.deliver(&reply(&invite, 180, &[], None));
    let _ = h.events();
    let media = MediaSessionId(CALL.0);
    media_event(&mut h, MediaEvent::MediaTimeout(media));
    let sent = h.sent_requests();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].method, Method::Cancel);
}

#[test]
fn an_event_for_a_released_session_is_ignored() {
    let (mut h, media) = connected();
    media_event(&mut h, MediaEvent::MediaTimeout(media));
    let _ = (h.sent(), h.events());
    media_event(&mut h, MediaEvent::MediaTimeout(media));
    media_event(&mut h, MediaEvent::ConsentLost(MediaSessionId(999)));
    assert!(h.sent().is_empty());
    assert!(h.events().is_empty());
}
