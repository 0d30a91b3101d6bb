//! The gateway's transaction user behind a real endpoint: SIP bytes in and out, typed
//! commands in, typed events out (what the binary's listener task will carry).

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::time::Instant;

use sip_proxy::call::{
    CallCore, CallCoreConfig, CallError, CallEvent, CamaraStatus, Command, IdentityHeader,
};
use sip_proxy::endpoint::{Endpoint, EndpointConfig};
use sip_proxy::gateway::{GatewayCommand, GatewayEvent, GatewayUser};
use sip_proxy::media::RecordingMedia;
use sip_proxy::message::builder::response_to;
use sip_proxy::message::{Message, Method, Request};

const IMS_OFFER: &str = include_str!("data/sdp/ims_offer_amrwb_pcma.sdp");
const CHROME_ANSWER: &str = include_str!("data/sdp/chrome_answer.sdp");
const CHROME_OFFER: &str = include_str!("data/sdp/chrome_offer.sdp");
const IMS_ANSWER: &str = include_str!("data/sdp/ims_answer_sdes.sdp");

mod gateway_harness;
use gateway_harness::{gateway, ims};

fn sent(ep: &mut Endpoint<GatewayUser<RecordingMedia>>) -> Vec<Message<'static>> {
    std::iter::from_fn(|| ep.poll_transmit())
        .map(|t| Message::parse(&t.bytes).unwrap().into_owned())
        .collect()
}

fn events(ep: &mut Endpoint<GatewayUser<RecordingMedia>>) -> Vec<GatewayEvent> {
    std::iter::from_fn(|| ep.poll_user_event()).collect()
}

#[test]
fn an_incoming_call_is_announced_and_answered_through_commands() {
    let mut ep = gateway();
    let now = Instant::now();
    ep.handle_command(now, GatewayCommand::AddUser("+15550001".into()));
    let invite = format!(
        "INVITE sip:+15550001@192.0.2.10:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.50:5060;branch=z9hG4bKgw1\r\n\
         Max-Forwards: 69\r\nFrom: <tel:+15557777>;tag=far\r\nTo: <sip:+15550001@ims.example.net>\r\n\
         Call-ID: gw-mt-1\r\nCSeq: 1 INVITE\r\nContact: <sip:far@192.0.2.50>\r\n\
         Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{IMS_OFFER}",
        IMS_OFFER.len()
    );
    ep.handle_message(now, ims(), invite.as_bytes());
    let call = match events(&mut ep).as_slice() {
        [GatewayEvent::Call(CallEvent::Incoming { call, from, .. })] => {
            assert_eq!(from, "+15557777");
            *call
        }
        other => panic!("{other:?}"),
    };
    ep.handle_command(
        now,
        GatewayCommand::Call {
            id: 7,
            command: Command::Answer {
                call,
                sdp: CHROME_ANSWER.into(),
            },
        },
    );
    let evs = events(&mut ep);
    assert_eq!(
        evs[0],
        GatewayEvent::CallResult {
            id: 7,
            result: Ok(())
        }
    );
    assert!(matches!(
        &evs[1],
        GatewayEvent::Call(CallEvent::Status {
            status: CamaraStatus::Connected,
            ..
        })
    ));
    let statuses: Vec<u16> = sent(&mut ep)
        .into_iter()
        .filter_map(|m| match m {
            Message::Response(r) => Some(r.status),
            Message::Request(_) => None,
        })
        .collect();
    assert_eq!(statuses, vec![100, 200]);
}

#[test]
fn an_outgoing_call_connects_and_ends_at_the_drain_deadline() {
    let mut ep = gateway();
    let now = Instant::now();
    let originate = Command::Originate {
        call: sip_proxy::call::CallId(5),
        from: "+15550001".into(),
        to: "+15550100".into(),
        offer: CHROME_OFFER.into(),
    };
    ep.handle_command(
        now,
        GatewayCommand::Call {
            id: 1,
            command: originate,
        },
    );
    assert_eq!(
        events(&mut ep),
        vec![GatewayEvent::CallResult {
            id: 1,
            result: Ok(())
        }]
    );
    let invite: Request<'static> = match sent(&mut ep).pop() {
        Some(Message::Request(r)) if r.method == Method::Invite => r,
        other => panic!("{other:?}"),
    };
    let mut ok = response_to(&invite, 200, Some(b"far"));
    ok.add_header("Contact", "<sip:far@192.0.2.50>");
    ok.set_body("application/sdp", IMS_ANSWER.as_bytes().to_vec());
    ep.handle_message(now, ims(), &ok.to_bytes());
    assert!(matches!(
        events(&mut ep).as_slice(),
        [GatewayEvent::Call(CallEvent::Status {
            status: CamaraStatus::Connected,
            sdp: Some(_),
            ..
        })]
    ));
    sent(&mut ep);

    ep.handle_command(now, GatewayCommand::EndAllCalls);
    let methods: Vec<Method> = sent(&mut ep)
        .into_iter()
        .filter_map(|m| match m {
            Message::Request(r) => Some(r.method),
            Message::Response(_) => None,
        })
        .collect();
    assert_eq!(methods, vec![Method::Bye]);
    assert!(matches!(
        events(&mut ep).as_slice(),
        [GatewayEvent::Call(CallEvent::Status {
            status: CamaraStatus::Terminated,
            ..
        })]
    ));
    assert_eq!(ep.user().core().active_calls(), 0);
}

#[test]
fn a_refused_command_reports_why() {
    let mut ep = gateway();
    let bad = Command::Originate {
        call: sip_proxy::call::CallId(6),
        from: "+15550001".into(),
        to: "not-a-number".into(),
        offer: CHROME_OFFER.into(),
    };
    ep.handle_command(
        Instant::now(),
        GatewayCommand::Call {
            id: 3,
            command: bad,
        },
    );
    assert_eq!(
        events(&mut ep),
        vec![GatewayEvent::CallResult {
            id: 3,
            result: Err(CallError::BadAddress("not-a-number".into()))
        }]
    );
    assert!(sent(&mut ep).is_empty());
}

#[test]
fn options_keepalive_reports_the_next_hop_up_then_down() {
    use sip_proxy::keepalive::{KeepAlive, NextHopState};
    use std::time::Duration;
    let now = Instant::now();
    let cfg = CallCoreConfig {
        next_hop: ims(),
        local_host: "192.0.2.10:5060".into(),
        domain: "ims.example.net".into(),
        identity: IdentityHeader::Asserted,
        access_network_info: None,
        session_expires: 1800,
        timers: Default::default(),
        fallback_hops: Vec::new(),
    };
    let user =
        GatewayUser::new(CallCore::new(cfg, RecordingMedia::srtp(), 1), None).with_keepalive(
            KeepAlive::new(now, ims(), "192.0.2.10:5060", Duration::from_secs(30), 2),
        );
    let mut ep = Endpoint::new(EndpointConfig::default(), 3).with_user(user);

    ep.handle_timeout(now);
    let probe = match sent(&mut ep).pop() {
        Some(Message::Request(r)) if r.method == Method::Options => r,
        other => panic!("{other:?}"),
    };
    ep.handle_message(now, ims(), &response_to(&probe, 200, Some(b"p")).to_bytes());
    assert_eq!(
        events(&mut ep),
        vec![GatewayEvent::NextHop(NextHopState::Up)]
    );

    // The next probe, 30 s later, is never answered: Timer F (64·T1) marks the hop down.
    let later = now + Duration::from_secs(30);
    ep.handle_timeout(later);
    assert!(
        matches!(sent(&mut ep).pop(), Some(Message::Request(r)) if r.method == Method::Options)
    );
    let mut t = later;
    while let Some(next) = ep
        .poll_timeout()
        .filter(|n| *n <= later + Duration::from_secs(33))
    {
        t = t.max(next);
        ep.handle_timeout(t);
    }
    assert!(events(&mut ep).contains(&GatewayEvent::NextHop(NextHopState::Down)));
}
