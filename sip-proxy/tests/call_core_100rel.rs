//! Reliable provisional responses of incoming calls (RFC 3262 §3), in simulated time:
//! the gateway as UAS sends its 180/183 with `Require: 100rel` and `RSeq`, resends them
//! until PRACKed, holds its 2xx back meanwhile, and gives up after 64·T1.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod common;

use std::time::Duration;

use common::Harness;
use sip_proxy::call::{CallEvent, CallId, CamaraStatus, Command};
use sip_proxy::message::{Message, Request, Response};

const IMS_OFFER: &str = include_str!("data/sdp/ims_offer_amrwb_pcma.sdp");
const CHROME_ANSWER: &str = include_str!("data/sdp/chrome_answer.sdp");

/// An INVITE for `+15550001` with `option_tags` (e.g. `Require: 100rel\r\n`).
fn invite(option_tags: &str) -> Request<'static> {
    let text = format!(
        "INVITE sip:+15550001@192.0.2.10:5060;user=phone SIP/2.0\r\n\
         Via: SIP/2.0/UDP 192.0.2.50:5060;branch=z9hG4bKimsinv1\r\n\
         Max-Forwards: 69\r\n\
         From: <sip:+15557777@ims.example.net;user=phone>;tag=far1\r\n\
         To: <sip:+15550001@ims.example.net;user=phone>\r\n\
         Call-ID: mt-call-1@ims\r\n\
         CSeq: 10 INVITE\r\n\
         Contact: <sip:far@198.51.100.33:5060>\r\n\
         P-Asserted-Identity: <tel:+15557777>\r\n\
         {option_tags}\
         Content-Type: application/sdp\r\n\
         Content-Length: {}\r\n\r\n{IMS_OFFER}",
        IMS_OFFER.len()
    );
    match Message::parse(text.as_bytes()).unwrap().into_owned() {
        Message::Request(r) => r,
        Message::Response(_) => unreachable!(),
    }
}

fn incoming(h: &mut Harness, option_tags: &str) -> CallId {
    h.core.add_user("+15550001");
    let req = invite(option_tags);
    let (tx, _) = h.receive(&req).unwrap();
    h.core.handle_invite(h.now, tx, &req, &mut h.layer);
    h.sent(); // 100 Trying, from the server transaction
    match h.all_events().as_slice() {
        [CallEvent::Incoming { call, .. }] => *call,
        other => panic!("expected one Incoming event, got {other:?}"),
    }
}

fn responses(h: &mut Harness) -> Vec<Response<'static>> {
    h.sent()
        .into_iter()
        .filter_map(|m| match m {
            Message::Response(r) => Some(r),
            Message::Request(_) => None,
        })
        .collect()
}

fn statuses(h: &mut Harness) -> Vec<u16> {
    responses(h).iter().map(|r| r.status).collect()
}

fn value(r: &Response<'_>, name: &str) -> Option<String> {
    r.headers
        .get_raw(name.as_bytes())
        .map(|h| String::from_utf8_lossy(&h.value).into_owned())
}

fn rseq(r: &Response<'_>) -> u32 {
    value(r, "RSeq").expect("RSeq").parse().unwrap()
}

fn statuses_of(events: &[CallEvent]) -> Vec<CamaraStatus> {
    events
        .iter()
        .filter_map(|e| match e {
            CallEvent::Status { status, .. } => Some(*status),
            CallEvent::Incoming { .. } => None,
        })
        .collect()
}

/// The IMS side PRACKs with `RAck: {rack}` inside the early dialog of `provisional`;
/// returns the gateway's answers (to the PRACK and anything released by it).
fn prack(
    h: &mut Harness,
    provisional: &Response<'_>,
    cseq: u32,
    rack: &str,
) -> Vec<Response<'static>> {
    let tag =
        String::from_utf8_lossy(provisional.headers.to().unwrap().tag().unwrap()).into_owned();
    let text = format!(
        "PRACK sip:+15550001@192.0.2.10:5060 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 192.0.2.50:5060;branch=z9hG4bKprack{cseq}\r\n\
         Max-Forwards: 69\r\n\
         From: <sip:+15557777@ims.example.net;user=phone>;tag=far1\r\n\
         To: <sip:+15550001@ims.example.net;user=phone>;tag={tag}\r\n\
         Call-ID: mt-call-1@ims\r\n\
         CSeq: {cseq} PRACK\r\n\
         RAck: {rack}\r\n\
         Content-Length: 0\r\n\r\n"
    );
    let Message::Request(req) = Message::parse(text.as_bytes()).unwrap() else {
        unreachable!()
    };
    let (tx, _) = h.receive(&req).unwrap();
    assert!(h.core.handle_request(h.now, tx, &req, &mut h.layer));
    responses(h)
}

#[test]
fn a_183_to_an_invite_requiring_100rel_is_reliable_and_resent_at_t1_doubling() {
    let mut h = Harness::new();
    let call = incoming(&mut h, "Require: 100rel\r\n");
    h.command(Command::Progress { call }).unwrap();
    let sent = responses(&mut h);
    let [p] = sent.as_slice() else {
        panic!("{sent:?}")
    };
    assert_eq!(p.status, 183);
    assert_eq!(value(p, "Require").as_deref(), Some("100rel"));
    let first = rseq(p);
    assert!((1..=(1u32 << 31) - 1).contains(&first), "RFC 3262 §3 range");
    assert!(value(p, "Contact").is_some(), "the PRACK's target");
    assert_eq!(statuses_of(&h.all_events()), vec![CamaraStatus::InProgress]);

    // RFC 3262 §3: resent after T1, then 2·T1, 4·T1, … (0.5 s, 1.5 s, 3.5 s, 7.5 s).
    for (wait_ms, expect) in [
        (499, 0),
        (1, 1),
        (999, 0),
        (1, 1),
        (1999, 0),
        (1, 1),
        (4000, 1),
    ] {
        h.advance(Duration::from_millis(wait_ms));
        let again = responses(&mut h);
        assert_eq!(again.len(), expect, "after {wait_ms} ms more");
        for r in &again {
            assert_eq!((r.status, rseq(r)), (183, first), "the same response");
        }
    }
    assert!(h.all_events().is_empty(), "resends are not new events");
}

#[test]
fn prack_stops_the_resends_gets_200_and_the_next_provisional_has_rseq_plus_one() {
    let mut h = Harness::new();
    let call = incoming(&mut h, "Supported: 100rel, timer\r\n");
    h.command(Command::Ringing { call }).unwrap();
    let ringing = responses(&mut h).pop().unwrap();
    assert_eq!(ringing.status, 180);
    assert_eq!(
        value(&ringing, "Require").as_deref(),
        Some("100rel"),
        "RFC 3262 §3: Supported is enough, the gateway chooses reliability"
    );
    let first = rseq(&ringing);

    // RFC 3262 §3: no second reliable provisional before the first is PRACKed.
    h.command(Command::Progress { call }).unwrap();
    assert!(responses(&mut h).is_empty(), "the 183 waits for the PRACK");
    assert_eq!(statuses_of(&h.all_events()), vec![CamaraStatus::Ringing]);

    // A PRACK for another RSeq matches nothing: 481, and the 180 is still resent.
    let wrong = prack(
        &mut h,
        &ringing,
        11,
        &format!("{} 10 INVITE", first.wrapping_add(7)),
    );
    assert_eq!(
        wrong.iter().map(|r| r.status).collect::<Vec<_>>(),
        vec![481]
    );
    h.advance(Duration::from_millis(500));
    assert_eq!(statuses(&mut h), vec![180]);

    // The matching PRACK: 200, then the queued 183 with RSeq + 1.
    let out = prack(&mut h, &ringing, 12, &format!("{first} 10 INVITE"));
    let [ok, progress] = out.as_slice() else {
        panic!("{out:?}")
    };
    assert_eq!(ok.status, 200);
    assert_eq!(value(ok, "CSeq").as_deref(), Some("12 PRACK"));
    assert_eq!(progress.status, 183);
    assert_eq!(rseq(progress), first + 1);
    assert_eq!(statuses_of(&h.all_events()), vec![CamaraStatus::InProgress]);

    // Only the 183 is resent now; its PRACK ends that too.
    h.advance(Duration::from_millis(500));
    let again = responses(&mut h);
    assert_eq!(
        again
            .iter()
            .map(|r| (r.status, rseq(r)))
            .collect::<Vec<_>>(),
        vec![(183, first + 1)]
    );
    let out = prack(&mut h, progress, 13, &format!("{} 10 INVITE", first + 1));
    assert_eq!(out.iter().map(|r| r.status).collect::<Vec<_>>(), vec![200]);
    h.advance(Duration::from_secs(40));
    assert!(
        responses(&mut h).is_empty(),
        "nothing resent after the PRACK"
    );
    assert!(h.all_events().is_empty(), "the call goes on");
    assert_eq!(h.core.active_calls(), 1);

    // A second PRACK for an acknowledged response matches nothing any more.
    let out = prack(&mut h, progress, 14, &format!("{} 10 INVITE", first + 1));
    assert_eq!(out.iter().map(|r| r.status).collect::<Vec<_>>(), vec![481]);
}

#[test]
fn the_2xx_waits_for_the_prack_of_an_outstanding_reliable_provisional() {
    let mut h = Harness::new();
    let call = incoming(&mut h, "Supported: 100rel\r\n");
    h.command(Command::Ringing { call }).unwrap();
    let ringing = responses(&mut h).pop().unwrap();
    h.all_events();
    h.command(Command::Answer {
        call,
        sdp: CHROME_ANSWER.into(),
    })
    .unwrap();
    assert!(responses(&mut h).is_empty(), "no 2xx before the PRACK");
    assert!(h.all_events().is_empty(), "not connected yet");
    assert_eq!(
        h.command(Command::Answer {
            call,
            sdp: CHROME_ANSWER.into(),
        }),
        Err(sip_proxy::call::CallError::WrongState(call)),
        "answered once"
    );

    let out = prack(
        &mut h,
        &ringing,
        11,
        &format!("{} 10 INVITE", rseq(&ringing)),
    );
    let [ok_prack, ok_invite] = out.as_slice() else {
        panic!("{out:?}")
    };
    assert_eq!(
        (ok_prack.status, value(ok_prack, "CSeq").as_deref()),
        (200, Some("11 PRACK"))
    );
    assert_eq!(
        (ok_invite.status, value(ok_invite, "CSeq").as_deref()),
        (200, Some("10 INVITE"))
    );
    assert!(String::from_utf8_lossy(&ok_invite.body).contains("m=audio "));
    assert_eq!(statuses_of(&h.all_events()), vec![CamaraStatus::Connected]);
}

#[test]
fn no_prack_within_64_t1_rejects_the_invite_with_504_and_the_call_fails() {
    let mut h = Harness::new();
    let call = incoming(&mut h, "Require: 100rel\r\n");
    h.command(Command::Ringing { call }).unwrap();
    h.command(Command::Answer {
        call,
        sdp: CHROME_ANSWER.into(),
    })
    .unwrap();
    h.sent();
    h.all_events();
    h.advance(Duration::from_millis(31_999));
    assert!(statuses(&mut h).iter().all(|s| *s == 180));
    assert!(h.all_events().is_empty());
    h.advance(Duration::from_millis(1));
    // RFC 3262 §3: a 5xx to the INVITE; 504 Server Time-out (RFC 3261 §21.5.5).
    assert_eq!(statuses(&mut h), vec![504]);
    match h.all_events().as_slice() {
        [CallEvent::Status {
            call: c,
            status: CamaraStatus::Failed,
            reason: Some(_),
            ..
        }] => assert_eq!(*c, call),
        other => panic!("{other:?}"),
    }
    assert_eq!(h.core.active_calls(), 0);
    assert!(h.core.media().live.is_empty(), "media released");
    h.advance(Duration::from_secs(60));
    assert!(
        statuses(&mut h).iter().all(|s| *s == 504),
        "no 180 or 200 after giving up"
    );
}

#[test]
fn an_invite_without_100rel_gets_plain_provisionals_and_an_immediate_2xx() {
    let mut h = Harness::new();
    let call = incoming(&mut h, "Supported: timer\r\n");
    h.command(Command::Ringing { call }).unwrap();
    h.command(Command::Progress { call }).unwrap();
    let sent = responses(&mut h);
    assert_eq!(
        sent.iter().map(|r| r.status).collect::<Vec<_>>(),
        vec![180, 183]
    );
    for r in &sent {
        assert_eq!(value(r, "Require"), None);
        assert_eq!(value(r, "RSeq"), None);
    }
    h.advance(Duration::from_secs(5));
    assert!(responses(&mut h).is_empty(), "not resent");
    h.command(Command::Answer {
        call,
        sdp: CHROME_ANSWER.into(),
    })
    .unwrap();
    assert_eq!(statuses(&mut h), vec![200]);
    assert_eq!(
        statuses_of(&h.all_events()),
        vec![
            CamaraStatus::Ringing,
            CamaraStatus::InProgress,
            CamaraStatus::Connected
        ]
    );
}
