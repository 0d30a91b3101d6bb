//! The call core delivering IMS calls to a web user (MT), in simulated time.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod common;

use common::{header, Harness};
use sip_proxy::call::{CallEvent, CallId, CamaraStatus, Command};
use sip_proxy::media::{MediaCall, MediaSessionId};
use sip_proxy::message::{Message, Request, Response};

const IMS_OFFER: &str = include_str!("data/sdp/ims_offer_amrwb_pcma.sdp");
const CHROME_ANSWER: &str = include_str!("data/sdp/chrome_answer.sdp");

fn invite(to: &str, sdp: &str) -> Request<'static> {
    let text = format!(
        "INVITE sip:{to}@192.0.2.10:5060;user=phone SIP/2.0\r\n\
         Via: SIP/2.0/UDP 192.0.2.50:5060;branch=z9hG4bKimsinv1\r\n\
         Max-Forwards: 69\r\n\
         From: <sip:+15557777@ims.example.net;user=phone>;tag=far1\r\n\
         To: <sip:{to}@ims.example.net;user=phone>\r\n\
         Call-ID: mt-call-1@ims\r\n\
         CSeq: 10 INVITE\r\n\
         Contact: <sip:far@198.51.100.33:5060>\r\n\
         Record-Route: <sip:scscf.ims.example.net;lr>\r\n\
         P-Asserted-Identity: <tel:+15557777>\r\n\
         Supported: 100rel, timer\r\n\
         Session-Expires: 1800\r\n\
         Content-Type: application/sdp\r\n\
         Content-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    );
    match Message::parse(text.as_bytes()).unwrap().into_owned() {
        Message::Request(r) => r,
        Message::Response(_) => unreachable!(),
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

/// Delivers an incoming INVITE for a registered user; returns the call id and offer.
fn incoming(h: &mut Harness, req: &Request<'_>) -> (CallId, String) {
    h.core.add_user("+15550001");
    let (tx, _) = h.receive(req).unwrap();
    h.core.handle_invite(h.now, tx, req, &mut h.layer);
    match h.all_events().as_slice() {
        [CallEvent::Incoming {
            call,
            from,
            to,
            offer,
        }] => {
            assert_eq!((from.as_str(), to.as_str()), ("+15557777", "+15550001"));
            (*call, offer.clone())
        }
        other => panic!("expected one Incoming event, got {other:?}"),
    }
}

#[test]
fn mt_call_rings_is_answered_and_the_caller_hangs_up() {
    let mut h = Harness::new();
    let req = invite("+15550001", IMS_OFFER);
    let (call, offer) = incoming(&mut h, &req);
    assert!(
        offer.contains("m=audio 20000 UDP/TLS/RTP/SAVPF 8 101\r\n"),
        "{offer}"
    );
    assert!(
        offer.contains("a=setup:actpass") && offer.contains("a=ice-lite"),
        "{offer}"
    );
    assert!(!offer.contains("AMR"), "AMR-WB does not cross the gateway");

    h.command(Command::Ringing { call }).unwrap();
    let sent = responses(&mut h);
    assert_eq!(sent.last().map(|r| r.status), Some(180));
    let local_tag = sent
        .last()
        .unwrap()
        .headers
        .to()
        .unwrap()
        .tag()
        .unwrap()
        .to_vec();
    assert!(matches!(
        h.all_events().as_slice(),
        [CallEvent::Status {
            status: CamaraStatus::Ringing,
            ..
        }]
    ));

    // The INVITE supports 100rel: the 180 is reliable (RFC 3262 §3) and PRACKed before
    // the answer (the 2xx would wait for this PRACK).
    let rseq =
        String::from_utf8_lossy(&sent.last().unwrap().headers.get_raw(b"RSeq").unwrap().value)
            .into_owned();
    let prack = format!(
        "PRACK sip:+15550001@192.0.2.10:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.50:5060;branch=z9hG4bKimsprack\r\n\
         Max-Forwards: 69\r\nFrom: <sip:+15557777@ims.example.net;user=phone>;tag=far1\r\n\
         To: <sip:+15550001@ims.example.net;user=phone>;tag={}\r\nCall-ID: mt-call-1@ims\r\n\
         CSeq: 11 PRACK\r\nRAck: {rseq} 10 INVITE\r\nContent-Length: 0\r\n\r\n",
        String::from_utf8_lossy(&local_tag)
    );
    let Message::Request(prack) = Message::parse(prack.as_bytes()).unwrap() else {
        unreachable!()
    };
    let (tx, _) = h.receive(&prack).unwrap();
    assert!(h.core.handle_request(h.now, tx, &prack, &mut h.layer));
    assert_eq!(responses(&mut h).pop().map(|r| r.status), Some(200));

    h.command(Command::Answer {
        call,
        sdp: CHROME_ANSWER.into(),
    })
    .unwrap();
    let ok = responses(&mut h).pop().unwrap();
    assert_eq!(ok.status, 200);
    assert_eq!(
        ok.headers.to().unwrap().tag().unwrap(),
        local_tag.as_slice(),
        "one dialog, one tag"
    );
    for resp in [sent.last().unwrap(), &ok] {
        assert_eq!(
            resp.headers
                .get_raw(b"Record-Route")
                .map(|h| h.value.to_vec()),
            Some(b"<sip:scscf.ims.example.net;lr>".to_vec()),
            "RFC 3261 §12.1.1: the {} copies the INVITE's Record-Route",
            resp.status
        );
    }
    let answer = String::from_utf8_lossy(&ok.body).into_owned();
    let port = h.core.media().live[&MediaSessionId(call.0)]
        .ims_address
        .port();
    assert!(
        answer.contains(&format!("m=audio {port} RTP/SAVP 8 101\r\n")),
        "{answer}"
    );
    assert!(
        answer.contains("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:"),
        "{answer}"
    );
    assert!(
        !answer.contains("ice-") && !answer.contains("fingerprint"),
        "{answer}"
    );
    assert!(ok.headers.get_raw(b"Contact").is_some());
    let value = |name: &str| {
        ok.headers
            .get_raw(name.as_bytes())
            .map(|h| h.value.to_vec())
    };
    assert_eq!(
        value("Session-Expires"),
        Some(b"1800;refresher=uac".to_vec()),
        "RFC 4028 §9: the caller refreshes"
    );
    assert_eq!(value("Require"), Some(b"timer".to_vec()));
    assert!(matches!(
        h.all_events().as_slice(),
        [CallEvent::Status {
            status: CamaraStatus::Connected,
            ..
        }]
    ));
    assert!(h.core.media().calls.iter().any(|c| matches!(c, MediaCall::Update(MediaSessionId(id), codec, _) if *id == call.0 && codec == "PCMA")));

    // The caller hangs up.
    let bye = format!(
        "BYE sip:192.0.2.10:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.50:5060;branch=z9hG4bKimsbye\r\n\
         Max-Forwards: 69\r\nFrom: <sip:+15557777@ims.example.net;user=phone>;tag=far1\r\n\
         To: <sip:+15550001@ims.example.net;user=phone>;tag={}\r\nCall-ID: mt-call-1@ims\r\n\
         CSeq: 12 BYE\r\nContent-Length: 0\r\n\r\n",
        String::from_utf8_lossy(&local_tag)
    );
    let Message::Request(bye) = Message::parse(bye.as_bytes()).unwrap() else {
        unreachable!()
    };
    let (tx, _) = h.receive(&bye).unwrap();
    assert!(h.core.handle_request(h.now, tx, &bye, &mut h.layer));
    assert_eq!(responses(&mut h).pop().map(|r| r.status), Some(200));
    assert!(matches!(
        h.all_events().as_slice(),
        [CallEvent::Status {
            status: CamaraStatus::Terminated,
            ..
        }]
    ));
    assert!(h.core.media().live.is_empty());
}

#[test]
fn local_hangup_after_answer_sends_bye_along_the_route_set() {
    let mut h = Harness::new();
    let req = invite("+15550001", IMS_OFFER);
    let (call, _) = incoming(&mut h, &req);
    h.command(Command::Answer {
        call,
        sdp: CHROME_ANSWER.into(),
    })
    .unwrap();
    h.sent();
    h.all_events();
    h.command(Command::Hangup { call }).unwrap();
    let bye = h.sent_requests().pop().unwrap();
    assert_eq!(
        &*bye.uri, b"sip:far@198.51.100.33:5060",
        "to the caller's Contact"
    );
    assert_eq!(header(&bye, "Route"), "<sip:scscf.ims.example.net;lr>");
    assert_eq!(header(&bye, "CSeq"), "1 BYE");
    assert!(matches!(
        h.all_events().as_slice(),
        [CallEvent::Status {
            status: CamaraStatus::Terminated,
            ..
        }]
    ));
}

#[test]
fn callee_declines_before_answer_with_603() {
    let mut h = Harness::new();
    let (call, _) = incoming(&mut h, &invite("+15550001", IMS_OFFER));
    h.command(Command::Hangup { call }).unwrap();
    assert_eq!(responses(&mut h).pop().map(|r| r.status), Some(603));
    assert!(matches!(
        h.all_events().as_slice(),
        [CallEvent::Status {
            status: CamaraStatus::Declined,
            ..
        }]
    ));
    assert!(h.core.media().live.is_empty());
}

#[test]
fn caller_cancel_gives_487_and_session_cancelled() {
    let mut h = Harness::new();
    let req = invite("+15550001", IMS_OFFER);
    let (call, _) = incoming(&mut h, &req);
    h.command(Command::Ringing { call }).unwrap();
    h.sent();
    h.all_events();
    let cancel = String::from_utf8_lossy(&req.to_bytes())
        .replacen("INVITE sip:", "CANCEL sip:", 1)
        .replace("CSeq: 10 INVITE", "CSeq: 10 CANCEL");
    let cancel =
        cancel.split("Content-Type").next().unwrap().to_owned() + "Content-Length: 0\r\n\r\n";
    let Message::Request(cancel) = Message::parse(cancel.as_bytes()).unwrap() else {
        unreachable!()
    };
    let (_, cancels) = h.receive(&cancel).unwrap();
    let invite_tx = cancels.expect("the CANCEL matches the INVITE's transaction");
    h.core.handle_cancel(h.now, invite_tx, &mut h.layer);
    assert_eq!(responses(&mut h).pop().map(|r| r.status), Some(487));
    assert!(matches!(
        h.all_events().as_slice(),
        [CallEvent::Status {
            status: CamaraStatus::SessionCancelled,
            ..
        }]
    ));
}

#[test]
fn undeliverable_invites_are_refused_with_the_right_status() {
    let cases = [
        ("+15559999", IMS_OFFER.to_owned(), 480),
        ("alice", IMS_OFFER.to_owned(), 404),
        (
            "+15550001",
            IMS_OFFER.replace("RTP/SAVP 96 97 8 100 101", "RTP/SAVP 96 97 100 101"),
            488,
        ),
        ("+15550001", String::new(), 488),
    ];
    for (to, sdp, status) in cases {
        let mut h = Harness::new();
        h.core.add_user("+15550001");
        let req = invite(to, &sdp);
        let (tx, _) = h.receive(&req).unwrap();
        h.core.handle_invite(h.now, tx, &req, &mut h.layer);
        let last = responses(&mut h).pop().unwrap();
        assert_eq!(last.status, status, "{to} {}", sdp.len());
        assert!(h.all_events().is_empty());
        assert!(
            h.core.media().live.is_empty(),
            "nothing allocated is left behind"
        );
        assert_eq!(h.core.active_calls(), 0);
    }
}

#[test]
fn the_200_of_an_incoming_call_is_resent_until_the_ack() {
    use std::time::Duration;
    let mut h = Harness::new();
    let req = invite("+15550001", IMS_OFFER);
    let (call, _) = incoming(&mut h, &req);
    h.command(Command::Answer {
        call,
        sdp: CHROME_ANSWER.into(),
    })
    .unwrap();
    let ok = responses(&mut h).pop().unwrap();
    assert_eq!(ok.status, 200);
    h.all_events();
    // RFC 3261 §13.3.1.4: resent at T1, then 2·T1 later…
    h.advance(Duration::from_millis(500));
    assert_eq!(
        responses(&mut h)
            .iter()
            .map(|r| r.status)
            .collect::<Vec<_>>(),
        vec![200]
    );
    h.advance(Duration::from_millis(1000));
    assert_eq!(
        responses(&mut h)
            .iter()
            .map(|r| r.status)
            .collect::<Vec<_>>(),
        vec![200]
    );
    // …until the ACK arrives.
    let tag = String::from_utf8_lossy(ok.headers.to().unwrap().tag().unwrap()).into_owned();
    let ack = format!(
        "ACK sip:192.0.2.10:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.50:5060;branch=z9hG4bKimsack\r\n\
         Max-Forwards: 69\r\nFrom: <sip:+15557777@ims.example.net;user=phone>;tag=far1\r\n\
         To: <sip:+15550001@ims.example.net;user=phone>;tag={tag}\r\nCall-ID: mt-call-1@ims\r\n\
         CSeq: 10 ACK\r\nContent-Length: 0\r\n\r\n"
    );
    let Message::Request(ack) = Message::parse(ack.as_bytes()).unwrap() else {
        unreachable!()
    };
    assert!(h.core.handle_ack(&ack));
    h.advance(Duration::from_secs(10));
    assert!(responses(&mut h).is_empty(), "no 200 after the ACK");
    assert!(h.all_events().is_empty(), "the call goes on");
}

#[test]
fn an_incoming_call_whose_200_is_never_acked_ends_after_64_t1() {
    use std::time::Duration;
    let mut h = Harness::new();
    let (call, _) = incoming(&mut h, &invite("+15550001", IMS_OFFER));
    h.command(Command::Answer {
        call,
        sdp: CHROME_ANSWER.into(),
    })
    .unwrap();
    h.all_events();
    h.advance(Duration::from_secs(33));
    assert!(matches!(
        h.all_events().as_slice(),
        [CallEvent::Status {
            status: CamaraStatus::Terminated,
            ..
        }]
    ));
    assert!(h
        .sent_requests()
        .iter()
        .any(|r| r.method == sip_proxy::message::Method::Bye));
}
