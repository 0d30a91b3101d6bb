//! Inside a connected call: RFC 4028 session timers in both roles, and IMS-side
//! re-INVITEs (refresh, hold, resume) absorbed without touching the browser's ICE/DTLS.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod common;

use std::time::Duration;

use common::{header, reply, Harness, CALL, CHROME_OFFER, IMS_ANSWER};
use sip_proxy::call::{CallError, CamaraStatus, Command};
use sip_proxy::media::MediaCall;
use sip_proxy::message::{Message, Method, Request};

/// A connected MO call whose 200 OK carried `session_expires` (if any).
fn connected(h: &mut Harness, session_expires: Option<&str>) -> Request<'static> {
    let invite = h.originate();
    let extra: Vec<(&str, &str)> = session_expires
        .map(|v| ("Session-Expires", v))
        .into_iter()
        .collect();
    h.deliver(&reply(&invite, 200, &extra, Some(IMS_ANSWER)));
    h.events();
    h.sent();
    invite
}

/// An in-dialog request from the IMS side for the call placed by `invite`.
fn from_ims(
    h: &mut Harness,
    invite: &Request<'_>,
    method: &str,
    cseq: u32,
    sdp: Option<&str>,
) -> Request<'static> {
    let body = sdp.unwrap_or("");
    let ctype = if sdp.is_some() {
        "Content-Type: application/sdp\r\n"
    } else {
        ""
    };
    let text = format!(
        "{method} sip:192.0.2.10:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 198.51.100.20:5060;branch=z9hG4bKfar{method}{cseq}\r\n\
         Max-Forwards: 70\r\nFrom: <sip:+15550100@ims.example.net;user=phone>;tag=ims1\r\nTo: {}\r\n\
         Call-ID: {}\r\nCSeq: {cseq} {method}\r\nContact: <sip:far@198.51.100.20:5060>\r\n{ctype}\
         Content-Length: {}\r\n\r\n{body}",
        header(invite, "From"),
        header(invite, "Call-ID"),
        body.len()
    );
    let Message::Request(req) = Message::parse(text.as_bytes()).unwrap().into_owned() else {
        unreachable!()
    };
    let (tx, _) = h.receive(&req).unwrap();
    assert!(
        h.core.handle_request(h.now, tx, &req, &mut h.layer),
        "the call owns the dialog"
    );
    req
}

fn last_response(h: &mut Harness) -> sip_proxy::message::Response<'static> {
    h.sent()
        .into_iter()
        .filter_map(|m| match m {
            Message::Response(r) => Some(r),
            Message::Request(_) => None,
        })
        .next_back()
        .expect("a response was sent")
}

#[test]
fn as_refresher_the_gateway_sends_update_at_half_the_interval() {
    let mut h = Harness::new();
    connected(&mut h, Some("1800;refresher=uac"));
    h.advance(Duration::from_millis(899_900));
    assert!(h.sent_requests().is_empty(), "nothing before 900 s");
    h.advance(Duration::from_millis(100));
    let update = h.sent_requests();
    assert_eq!(update.len(), 1);
    assert_eq!(update[0].method, Method::Update);
    assert_eq!(header(&update[0], "Session-Expires"), "1800;refresher=uac");
    assert!(update[0].body.is_empty(), "a refresh carries no new offer");
    h.deliver(&reply(
        &update[0],
        200,
        &[("Session-Expires", "1800;refresher=uac")],
        None,
    ));
    h.advance(Duration::from_secs(900));
    assert_eq!(
        h.sent_requests()
            .iter()
            .filter(|r| r.method == Method::Update)
            .count(),
        1,
        "the next refresh"
    );
    assert!(
        h.events().is_empty(),
        "refreshes are invisible to the browser"
    );
}

#[test]
fn when_the_ims_side_should_refresh_and_does_not_the_call_ends() {
    let mut h = Harness::new();
    let invite = connected(&mut h, Some("90;refresher=uas"));
    // A refresh from the IMS side at 40 s restarts the clock...
    h.advance(Duration::from_secs(40));
    from_ims(&mut h, &invite, "UPDATE", 2, None);
    assert_eq!(last_response(&mut h).status, 200);
    // ...so the session lasts until 40 + 90 − 30 = 100 s (RFC 4028 §10: min(32, 90/3)
    // before the interval ends).
    h.advance(Duration::from_millis(59_900));
    assert!(h.events().is_empty());
    h.advance(Duration::from_millis(100));
    assert_eq!(
        h.events(),
        vec![(
            CamaraStatus::Terminated,
            Some("session expired".into()),
            None
        )]
    );
    assert_eq!(
        h.sent_requests().last().map(|r| r.method.clone()),
        Some(Method::Bye)
    );
}

#[test]
fn hold_and_resume_re_invites_are_absorbed() {
    let mut h = Harness::new();
    let invite = connected(&mut h, None);
    let media_calls_before = h.core.media().calls.len();

    let hold = IMS_ANSWER
        .replace("a=sendrecv", "a=sendonly")
        .replace("2890844528", "2890844529");
    from_ims(&mut h, &invite, "INVITE", 2, Some(&hold));
    let ok = last_response(&mut h);
    assert_eq!(ok.status, 200);
    let answer = String::from_utf8_lossy(&ok.body).into_owned();
    assert!(answer.contains("a=recvonly\r\n"), "{answer}");
    assert!(
        answer.contains("a=crypto:1 AES_CM_128_HMAC_SHA1_80"),
        "the IMS leg keeps its keys: {answer}"
    );
    let origin_version = |sdp: &str| {
        sdp.lines()
            .find(|l| l.starts_with("o="))
            .unwrap()
            .split(' ')
            .nth(2)
            .unwrap()
            .to_owned()
    };
    let offer = String::from_utf8_lossy(&invite.body).into_owned();
    assert_eq!(
        origin_version(&answer),
        "2",
        "changed description, new version (was {})",
        origin_version(&offer)
    );
    assert_eq!(h.events(), vec![(CamaraStatus::Hold, None, None)]);

    let new_calls = &h.core.media().calls[media_calls_before..];
    assert!(
        matches!(new_calls, [MediaCall::Update(..)]),
        "one media update, no ICE/DTLS restart: {new_calls:?}"
    );

    from_ims(&mut h, &invite, "INVITE", 3, Some(IMS_ANSWER));
    let ok = last_response(&mut h);
    assert!(String::from_utf8_lossy(&ok.body).contains("a=sendrecv\r\n"));
    assert_eq!(h.events(), vec![(CamaraStatus::Resume, None, None)]);
    assert!(!h
        .core
        .media()
        .calls
        .iter()
        .any(|c| matches!(c, MediaCall::Restart(_))));
}

#[test]
fn a_refresh_re_invite_without_change_gets_the_same_description() {
    let mut h = Harness::new();
    let invite = connected(&mut h, None);
    from_ims(&mut h, &invite, "INVITE", 2, Some(IMS_ANSWER));
    let ok = last_response(&mut h);
    assert_eq!(ok.status, 200);
    assert_eq!(ok.body, invite.body, "same SDP, same version (RFC 3264 §8)");
    assert!(h.events().is_empty());
}

#[test]
fn dtmf_digits_go_to_the_media_plane_in_a_connected_call_only() {
    let mut h = Harness::new();
    let invite = h.originate();
    let dtmf = |digits: &str, duration_ms| Command::Dtmf {
        call: CALL,
        digits: digits.into(),
        duration_ms,
    };
    assert_eq!(
        h.command(dtmf("1", 100)),
        Err(CallError::WrongState(CALL)),
        "not before answer"
    );
    h.deliver(&reply(&invite, 200, &[], Some(IMS_ANSWER)));
    h.command(dtmf("12#*A", 100)).unwrap();
    let sent: String = h
        .core
        .media()
        .calls
        .iter()
        .filter_map(|c| match c {
            MediaCall::Dtmf(_, d) => Some(*d),
            _ => None,
        })
        .collect();
    assert_eq!(sent, "12#*A");
    assert_eq!(
        h.command(dtmf("1x", 100)),
        Err(CallError::BadDtmf("1x".into()))
    );
    assert_eq!(
        h.command(dtmf("1", 10)),
        Err(CallError::BadDtmf("1".into())),
        "too short a tone"
    );
    assert_eq!(CallError::BadDtmf(String::new()).sip_status(), 400);
}

#[test]
fn the_browser_holds_and_resumes_through_re_invites_toward_ims() {
    let mut h = Harness::new();
    let invite = connected(&mut h, None);
    let reoffer = CHROME_OFFER.replace("a=sendrecv", "a=sendonly");
    h.command(Command::Hold {
        call: CALL,
        offer: Some(reoffer),
    })
    .unwrap();
    let reinvite = h.sent_requests().pop().unwrap();
    assert_eq!(reinvite.method, Method::Invite);
    assert_eq!(header(&reinvite, "CSeq"), "2 INVITE");
    let body = String::from_utf8_lossy(&reinvite.body).into_owned();
    assert!(
        body.contains("a=sendonly\r\n") && body.contains("RTP/SAVP"),
        "{body}"
    );
    assert!(
        h.events().is_empty(),
        "Hold only once the IMS side accepted"
    );
    assert_eq!(
        h.command(Command::Resume {
            call: CALL,
            offer: None
        }),
        Err(CallError::WrongState(CALL)),
        "one re-INVITE at a time"
    );

    // A re-INVITE from IMS crossing ours gets 491 (RFC 3261 §14.2).
    from_ims(&mut h, &invite, "INVITE", 2, Some(IMS_ANSWER));
    assert_eq!(last_response(&mut h).status, 491);

    let held_answer = IMS_ANSWER.replace("a=sendrecv", "a=recvonly");
    h.deliver(&reply(&reinvite, 200, &[], Some(&held_answer)));
    let ack = h.sent_requests().pop().unwrap();
    assert_eq!(
        (ack.method.clone(), header(&ack, "CSeq")),
        (Method::Ack, "2 ACK".into())
    );
    let events = h.events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].0, CamaraStatus::Hold);
    let answer = events[0]
        .2
        .as_deref()
        .expect("the browser's answer rides on the Hold event");
    assert!(
        answer.contains("a=recvonly\r\n") && answer.contains("a=setup:passive"),
        "same DTLS role: {answer}"
    );
    assert!(!h
        .core
        .media()
        .calls
        .iter()
        .any(|c| matches!(c, MediaCall::Restart(_))));

    // Resume; the IMS side refuses once (488): nothing changes, then it accepts.
    h.command(Command::Resume {
        call: CALL,
        offer: None,
    })
    .unwrap();
    let resume = h.sent_requests().pop().unwrap();
    assert!(String::from_utf8_lossy(&resume.body).contains("a=sendrecv\r\n"));
    h.deliver(&reply(&resume, 488, &[], None));
    assert!(h.events().is_empty());
    h.command(Command::Resume {
        call: CALL,
        offer: None,
    })
    .unwrap();
    let resume = h
        .sent_requests()
        .into_iter()
        .rev()
        .find(|r| r.method == Method::Invite)
        .unwrap();
    h.deliver(&reply(&resume, 200, &[], Some(IMS_ANSWER)));
    assert_eq!(h.events(), vec![(CamaraStatus::Resume, None, None)]);
}
