//! The call core placing calls toward IMS (MO), in simulated time, against a scripted IMS
//! peer that answers the INVITE the core sends.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod common;

use std::time::Duration;

use common::{header, next_hop, reply, Harness, CALL, CHROME_OFFER, IMS_ANSWER};
use sip_proxy::call::{CallCore, CallCoreConfig, CallError, CamaraStatus, Command, IdentityHeader};
use sip_proxy::media::{MediaCall, MediaError, MediaSessionId, RecordingMedia};
use sip_proxy::message::{Message, Method};
use sip_proxy::sdp::SdpError;
use sip_proxy::transaction::{Target, Transport};

#[test]
fn mo_call_with_reliable_183_then_180_200_ack_and_local_bye() {
    let mut h = Harness::new();
    let invite = h.originate();
    assert_eq!(&*invite.uri, b"sip:+15550100@ims.example.net;user=phone");
    assert_eq!(header(&invite, "Supported"), "100rel, timer");
    assert_eq!(
        header(&invite, "P-Preferred-Identity"),
        "<sip:+15550001@ims.example.net;user=phone>"
    );
    assert_eq!(header(&invite, "P-Access-Network-Info"), "IEEE-802.11");
    assert_eq!(header(&invite, "Session-Expires"), "1800");
    let offer = String::from_utf8_lossy(&invite.body).into_owned();
    assert!(
        offer.contains("m=audio 30084 RTP/SAVP 0 8 126\r\n"),
        "{offer}"
    );
    assert!(
        offer.contains("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:"),
        "{offer}"
    );
    for webrtc_only in [
        "ice-ufrag",
        "fingerprint",
        "candidate",
        "rtcp-mux",
        "BUNDLE",
        "extmap",
        "msid",
    ] {
        assert!(
            !offer.contains(webrtc_only),
            "{webrtc_only} leaked toward IMS: {offer}"
        );
    }
    assert!(
        !header(&invite, "Call-ID").contains("42"),
        "the web-side call id stays out of SIP"
    );

    h.deliver(&reply(&invite, 100, &[], None));
    assert!(h.events().is_empty());

    let p183 = reply(
        &invite,
        183,
        &[("Require", "100rel"), ("RSeq", "1")],
        Some(IMS_ANSWER),
    );
    h.deliver(&p183);
    let events = h.events();
    assert_eq!(events.len(), 1);
    let (status, _, sdp) = &events[0];
    assert_eq!(*status, CamaraStatus::InProgress);
    let answer = sdp
        .as_deref()
        .expect("the browser's answer arrives with the 183");
    assert!(
        answer.contains("UDP/TLS/RTP/SAVPF 8 126") && answer.contains("a=ice-lite"),
        "{answer}"
    );
    assert!(
        matches!(&h.core.media().calls[1], MediaCall::Update(MediaSessionId(42), codec, _) if codec == "PCMA")
    );

    let prack = h.sent_requests();
    assert_eq!(prack.len(), 1);
    assert_eq!(prack[0].method, Method::Prack);
    assert_eq!(header(&prack[0], "RAck"), "1 1 INVITE");
    assert_eq!(
        &*prack[0].uri, b"sip:far@198.51.100.20:5060",
        "in-dialog requests go to the remote target"
    );
    h.deliver(&reply(&prack[0], 200, &[], None));

    h.deliver(&reply(&invite, 180, &[], None));
    assert_eq!(h.events(), vec![(CamaraStatus::Ringing, None, None)]);

    h.deliver(&reply(&invite, 200, &[], Some(IMS_ANSWER)));
    assert_eq!(
        h.events(),
        vec![(CamaraStatus::Connected, None, None)],
        "the answer was already given"
    );
    let ack = h.sent_requests();
    assert_eq!(ack.len(), 1);
    assert_eq!(
        (ack[0].method.clone(), header(&ack[0], "CSeq")),
        (Method::Ack, "1 ACK".into())
    );

    h.command(Command::Hangup { call: CALL }).unwrap();
    let bye = h.sent_requests();
    assert_eq!(bye[0].method, Method::Bye);
    assert_eq!(
        h.events(),
        vec![(CamaraStatus::Terminated, Some("local hangup".into()), None)]
    );
    assert_eq!(
        h.core.media().calls.last(),
        Some(&MediaCall::Release(MediaSessionId(42)))
    );
    assert_eq!(h.core.active_calls(), 0);
}

#[test]
fn answer_in_200_without_early_media() {
    let mut h = Harness::new();
    let invite = h.originate();
    h.deliver(&reply(&invite, 180, &[], None));
    h.deliver(&reply(&invite, 200, &[], Some(IMS_ANSWER)));
    let events = h.events();
    assert_eq!(events[0], (CamaraStatus::Ringing, None, None));
    assert_eq!(events[1].0, CamaraStatus::Connected);
    assert!(events[1]
        .2
        .as_deref()
        .is_some_and(|s| s.contains("a=setup:passive")));
}

#[test]
fn final_failures_map_to_camara_statuses_and_release_media() {
    let table = [
        (486, CamaraStatus::Busy),
        (404, CamaraStatus::NotReachable),
        (408, CamaraStatus::NoAnswer),
        (603, CamaraStatus::Declined),
        (500, CamaraStatus::Failed),
    ];
    for (sip, camara) in table {
        let mut h = Harness::new();
        let invite = h.originate();
        h.deliver(&reply(&invite, 180, &[], None));
        h.deliver(&reply(&invite, sip, &[], None));
        let events = h.events();
        assert_eq!(
            events.last(),
            Some(&(camara, Some(format!("SIP {sip}")), None)),
            "{sip}"
        );
        let acks = h.sent_requests();
        assert!(
            acks.iter().any(|r| r.method == Method::Ack),
            "{sip}: the layer ACKs the final response"
        );
        assert!(h.core.media().live.is_empty(), "{sip}: media released");
        assert_eq!(h.core.active_calls(), 0);
    }
}

#[test]
fn cancel_waits_for_a_provisional_then_487_is_session_cancelled() {
    let mut h = Harness::new();
    let invite = h.originate();
    h.command(Command::Hangup { call: CALL }).unwrap();
    assert!(
        h.sent_requests().is_empty(),
        "RFC 3261 §9.1: no CANCEL before a provisional"
    );
    h.deliver(&reply(&invite, 180, &[], None));
    let cancel = h.sent_requests();
    assert_eq!(cancel.len(), 1);
    assert_eq!(cancel[0].method, Method::Cancel);
    assert_eq!(
        header(&cancel[0], "Via"),
        header(&invite, "Via"),
        "same branch as the INVITE"
    );
    assert_eq!(header(&cancel[0], "CSeq"), "1 CANCEL");
    assert!(
        h.events().is_empty(),
        "no Ringing for a call being cancelled"
    );
    h.deliver(&reply(&cancel[0], 200, &[], None));
    h.deliver(&reply(&invite, 487, &[], None));
    assert_eq!(
        h.events(),
        vec![(CamaraStatus::SessionCancelled, Some("SIP 487".into()), None)]
    );
    assert!(h.core.media().live.is_empty());
}

#[test]
fn a_200_that_crosses_the_cancel_is_acked_and_ended_with_bye() {
    let mut h = Harness::new();
    let invite = h.originate();
    h.deliver(&reply(&invite, 180, &[], None));
    h.events();
    h.command(Command::Hangup { call: CALL }).unwrap();
    let cancel = h.sent_requests();
    assert_eq!(cancel[0].method, Method::Cancel);
    h.deliver(&reply(&invite, 200, &[], Some(IMS_ANSWER)));
    let methods: Vec<Method> = h.sent_requests().into_iter().map(|r| r.method).collect();
    assert_eq!(methods, vec![Method::Ack, Method::Bye]);
    assert_eq!(
        h.events(),
        vec![(
            CamaraStatus::SessionCancelled,
            Some("cancelled".into()),
            None
        )]
    );
    assert_eq!(h.core.active_calls(), 0);
}

#[test]
fn remote_bye_is_answered_and_terminates_the_call() {
    let mut h = Harness::new();
    let invite = h.originate();
    h.deliver(&reply(&invite, 200, &[], Some(IMS_ANSWER)));
    h.events();
    h.sent();
    let ok = reply(&invite, 200, &[], None);
    // The far end's BYE: From/To swapped, its own CSeq, inside the dialog.
    let bye = format!(
        "BYE sip:192.0.2.10:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 198.51.100.20:5060;branch=z9hG4bKfarbye\r\n\
         Max-Forwards: 70\r\nFrom: {}\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: 7 BYE\r\nContent-Length: 0\r\n\r\n",
        String::from_utf8_lossy(&ok.headers.get_raw(b"To").unwrap().value),
        header(&invite, "From"),
        header(&invite, "Call-ID"),
    );
    let Message::Request(bye) = Message::parse(bye.as_bytes()).unwrap() else {
        unreachable!()
    };
    let source = Target {
        transport: Transport::Udp,
        addr: "198.51.100.20:5060".parse().unwrap(),
    };
    let sip_proxy::transaction::RequestAction::New { id, .. } =
        h.layer.handle_request(h.now, &bye, source)
    else {
        panic!("a new server transaction");
    };
    assert!(h.core.handle_request(h.now, id, &bye, &mut h.layer));
    let t = h.layer.poll_transmit().unwrap();
    assert!(t.bytes.starts_with(b"SIP/2.0 200 OK"));
    assert_eq!(
        h.events(),
        vec![(CamaraStatus::Terminated, Some("remote hangup".into()), None)]
    );
    assert!(h.core.media().live.is_empty());
}

#[test]
fn an_unanswered_invite_fails_at_timer_b() {
    let mut h = Harness::new();
    h.originate();
    // Timer A retransmissions, then Timer B at 64·T1 = 32 s (RFC 3261 §17.1.1.2).
    h.advance(Duration::from_millis(31_900));
    assert!(h.events().is_empty());
    h.advance(Duration::from_millis(100));
    assert_eq!(
        h.events(),
        vec![(
            CamaraStatus::Failed,
            Some("no response from the IMS".into()),
            None
        )]
    );
    assert!(h.core.media().live.is_empty());
}

#[test]
fn refused_originations_send_nothing_and_leak_nothing() {
    let mut h = Harness::new();
    let bad_to = Command::Originate {
        call: CALL,
        from: "+15550001".into(),
        to: "+15x".into(),
        offer: CHROME_OFFER.into(),
    };
    assert_eq!(h.command(bad_to), Err(CallError::BadAddress("+15x".into())));

    let opus_only = CHROME_OFFER.replace(" 111 63 9 0 8 13 110 126", " 111 63 110");
    let cmd = Command::Originate {
        call: CALL,
        from: "+15550001".into(),
        to: "+15550100".into(),
        offer: opus_only,
    };
    let err = h.command(cmd).unwrap_err();
    assert_eq!(err, CallError::Sdp(SdpError::NoSharedCodec));
    assert_eq!(err.sip_status(), 488);
    assert!(h.core.media().live.is_empty(), "the allocation is released");

    h.core = CallCore::new(
        CallCoreConfig {
            next_hop: next_hop(),
            local_host: "192.0.2.10:5060".into(),
            domain: "ims.example.net".into(),
            identity: IdentityHeader::Asserted,
            access_network_info: None,
            session_expires: 1800,
            timers: Default::default(),
            fallback_hops: Vec::new(),
        },
        RecordingMedia {
            fail_allocate: Some(MediaError::PortsExhausted),
            ..RecordingMedia::srtp()
        },
        1,
    );
    let cmd = Command::Originate {
        call: CALL,
        from: "+15550001".into(),
        to: "+15550100".into(),
        offer: CHROME_OFFER.into(),
    };
    let err = h.command(cmd).unwrap_err();
    assert_eq!(err.sip_status(), 503);
    assert!(h.sent().is_empty());
    assert_eq!(h.core.active_calls(), 0);
    assert_eq!(
        h.command(Command::Hangup { call: CALL }),
        Err(CallError::UnknownCall(CALL))
    );
}

#[test]
fn a_422_is_answered_by_retrying_once_with_the_min_se_interval() {
    let mut h = Harness::new();
    let invite = h.originate();
    h.deliver(&reply(&invite, 422, &[("Min-SE", "3600")], None));
    let retry = h
        .sent_requests()
        .into_iter()
        .find(|r| r.method == Method::Invite)
        .expect("a new INVITE");
    assert_eq!(header(&retry, "CSeq"), "2 INVITE");
    assert_eq!(header(&retry, "Session-Expires"), "3600");
    assert_eq!(header(&retry, "Min-SE"), "3600");
    assert_eq!(header(&retry, "Call-ID"), header(&invite, "Call-ID"));
    assert_ne!(header(&retry, "Via"), header(&invite, "Via"));
    assert!(
        h.events().is_empty(),
        "the browser sees nothing of the retry"
    );
    // A second 422 is not retried again: the call fails.
    h.deliver(&reply(&retry, 422, &[("Min-SE", "3600")], None));
    assert_eq!(
        h.events(),
        vec![(CamaraStatus::Failed, Some("SIP 422".into()), None)]
    );
}

#[test]
fn a_retransmitted_200_is_acked_again_without_a_second_connected() {
    let mut h = Harness::new();
    let invite = h.originate();
    let ok = reply(&invite, 200, &[], Some(IMS_ANSWER));
    h.deliver(&ok);
    assert_eq!(h.events().len(), 1);
    assert_eq!(
        h.sent_requests()
            .iter()
            .filter(|r| r.method == Method::Ack)
            .count(),
        1
    );
    h.deliver(&ok);
    assert!(h.events().is_empty(), "no second Connected");
    assert_eq!(
        h.sent_requests()
            .iter()
            .filter(|r| r.method == Method::Ack)
            .count(),
        1,
        "the ACK again"
    );
}

#[test]
fn a_503_or_a_dead_next_hop_moves_the_call_to_the_next_target() {
    let fallback = Target {
        transport: Transport::Tcp,
        addr: "192.0.2.51:5060".parse().unwrap(),
    };
    let last = Target {
        transport: Transport::Udp,
        addr: "192.0.2.52:5060".parse().unwrap(),
    };
    let mut h = Harness::new();
    h.core = CallCore::new(
        CallCoreConfig {
            next_hop: next_hop(),
            local_host: "192.0.2.10:5060".into(),
            domain: "ims.example.net".into(),
            identity: IdentityHeader::Preferred,
            access_network_info: None,
            session_expires: 1800,
            timers: Default::default(),
            fallback_hops: vec![fallback, last],
        },
        RecordingMedia::srtp(),
        99,
    );
    let invite = h.originate();
    // RFC 3263 §4.3: a 503 from the first hop → the same INVITE to the next target.
    h.deliver(&reply(&invite, 503, &[], None));
    let sent = h.sent_with_targets();
    let (target, Message::Request(retry)) = sent
        .iter()
        .find(|(_, m)| matches!(m, Message::Request(r) if r.method == Method::Invite))
        .unwrap()
        .clone()
    else {
        unreachable!()
    };
    assert_eq!(target, fallback);
    assert_eq!(header(&retry, "CSeq"), "2 INVITE");
    assert!(
        header(&retry, "Via").starts_with("SIP/2.0/TCP "),
        "the Via names the new transport"
    );
    assert!(
        h.events().is_empty(),
        "the browser sees nothing of the failover"
    );

    // The second hop never answers: at Timer B (64·T1) the call moves to the last one.
    // (Over TCP the INVITE is not retransmitted, so nothing else is sent meanwhile.)
    h.advance(std::time::Duration::from_secs(32));
    let sent = h.sent_with_targets();
    assert!(
        sent.iter()
            .any(|(t, m)| *t == last
                && matches!(m, Message::Request(r) if r.method == Method::Invite))
    );
    assert!(h.events().is_empty());

    // And when the last hop answers 503 too, the call fails.
    let (_, Message::Request(third)) = sent.into_iter().find(|(t, _)| *t == last).unwrap() else {
        unreachable!()
    };
    h.deliver(&reply(&third, 503, &[], None));
    assert_eq!(
        h.events(),
        vec![(CamaraStatus::Failed, Some("SIP 503".into()), None)]
    );
}

#[test]
fn a_registered_users_invite_preloads_its_service_route_and_the_cancel_copies_it() {
    let mut h = Harness::new();
    h.core.set_service_route(
        "+15550001",
        vec![
            b"<sip:orig@scscf1.ims.example.net;lr>".to_vec(),
            b"<sip:as.ims.example.net;lr>".to_vec(),
        ],
    );
    let invite = h.originate();
    let routes: Vec<String> = invite
        .headers
        .iter()
        .filter(|h| h.name().eq_ignore_ascii_case(b"Route"))
        .map(|h| String::from_utf8_lossy(&h.value).into_owned())
        .collect();
    assert_eq!(
        routes,
        vec![
            "<sip:orig@scscf1.ims.example.net;lr>",
            "<sip:as.ims.example.net;lr>"
        ],
        "RFC 3608 §6: in Service-Route order"
    );
    h.deliver(&reply(&invite, 180, &[], None));
    let _ = h.events();
    h.command(Command::Hangup { call: CALL }).unwrap();
    let cancel = h.sent_requests().pop().unwrap();
    assert_eq!(cancel.method, Method::Cancel);
    assert_eq!(
        cancel
            .headers
            .iter()
            .filter(|h| h.name().eq_ignore_ascii_case(b"Route"))
            .count(),
        2,
        "RFC 3261 §9.1: the CANCEL has the INVITE's Route headers"
    );

    // Another user has no Service-Route: no Route header.
    h.core.set_service_route("+15550001", Vec::new());
    let cmd = Command::Originate {
        call: sip_proxy::call::CallId(43),
        from: "+15550001".into(),
        to: "tel:+15550100".into(),
        offer: CHROME_OFFER.into(),
    };
    h.command(cmd).unwrap();
    let second = h.sent_requests().pop().unwrap();
    assert!(!second
        .headers
        .iter()
        .any(|h| h.name().eq_ignore_ascii_case(b"Route")));
}
