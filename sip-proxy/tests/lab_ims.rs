//! The lab IMS behind an endpoint, in simulated time: registrar, echo, busy, decline,
//! no-answer, unknown numbers, CANCEL and BYE.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::time::{Duration, Instant};

use sip_proxy::endpoint::{Endpoint, EndpointConfig};
use sip_proxy::lab::{LabConfig, LabIms};
use sip_proxy::message::{Message, Response};
use sip_proxy::transaction::{Target, TimerConfig, Transport};

const OFFER: &str = "v=0\r\no=ue 1 1 IN IP4 192.0.2.7\r\ns=-\r\nc=IN IP4 192.0.2.7\r\nt=0 0\r\n\
    m=audio 4000 RTP/SAVP 8 0 101\r\na=rtpmap:101 telephone-event/8000\r\n\
    a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkw\r\n";

fn peer() -> Target {
    Target {
        transport: Transport::Udp,
        addr: "192.0.2.7:5062".parse().unwrap(),
    }
}

struct Lab {
    ep: Endpoint<LabIms>,
    now: Instant,
}

impl Lab {
    fn new() -> Self {
        let cfg = LabConfig {
            echo_number: "+15550100".into(),
            busy_number: "+15550486".into(),
            decline_number: "+15550603".into(),
            no_answer_number: "+15550408".into(),
            echo_rtp: "127.0.0.1:41000".parse().unwrap(),
            answer_delay: Duration::from_millis(300),
            no_answer_after: Duration::from_secs(10),
            timers: TimerConfig::default(),
            local_host: "127.0.0.1:5070".into(),
        };
        let ep = Endpoint::new(EndpointConfig::default(), 3).with_user(LabIms::new(cfg, 4));
        Lab {
            ep,
            now: Instant::now(),
        }
    }

    fn send(&mut self, text: &str) {
        self.ep.handle_message(self.now, peer(), text.as_bytes());
    }

    fn advance(&mut self, by: Duration) {
        let end = self.now + by;
        while let Some(t) = self.ep.poll_timeout().filter(|t| *t <= end) {
            self.now = self.now.max(t);
            self.ep.handle_timeout(self.now);
        }
        self.now = end;
    }

    fn responses(&mut self) -> Vec<Response<'static>> {
        std::iter::from_fn(|| self.ep.poll_transmit())
            .filter_map(|t| match Message::parse(&t.bytes).unwrap().into_owned() {
                Message::Response(r) => Some(r),
                Message::Request(_) => None,
            })
            .collect()
    }

    fn statuses(&mut self) -> Vec<u16> {
        self.responses().iter().map(|r| r.status).collect()
    }
}

fn request(method: &str, to: &str, call: &str, extra: &str, body: &str) -> String {
    format!(
        "{method} sip:{to}@lab SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.7:5062;branch=z9hG4bK{call}{method}\r\n\
         Max-Forwards: 70\r\nFrom: <sip:+15550001@lab>;tag=ue\r\nTo: <sip:{to}@lab>{extra}\r\n\
         Call-ID: {call}\r\nCSeq: 1 {method}\r\nContact: <sip:+15550001@192.0.2.7:5062>\r\n\
         Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

#[test]
fn echo_number_rings_then_answers_after_300_ms_with_the_echo_socket_and_the_offered_key() {
    let mut lab = Lab::new();
    lab.send(&request("INVITE", "+15550100", "e1", "", OFFER));
    assert_eq!(lab.statuses(), vec![100, 180]);
    lab.advance(Duration::from_millis(299));
    assert!(lab.statuses().is_empty());
    lab.advance(Duration::from_millis(1));
    let ok = lab.responses().pop().unwrap();
    assert_eq!(ok.status, 200);
    let sdp = String::from_utf8_lossy(&ok.body).into_owned();
    assert!(
        sdp.contains("c=IN IP4 127.0.0.1\r\n") && sdp.contains("m=audio 41000 RTP/SAVP 8 101\r\n"),
        "{sdp}"
    );
    assert!(
        sdp.contains("inline:MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkw"),
        "echoing SRTP needs the offerer's key: {sdp}"
    );

    let tag = String::from_utf8_lossy(ok.headers.to().unwrap().tag().unwrap()).into_owned();
    lab.send(&request(
        "BYE",
        "+15550100",
        "e1",
        &format!(";tag={tag}"),
        "",
    ));
    assert_eq!(lab.statuses(), vec![200]);
    lab.send(&request("BYE", "+15550100", "e1x", ";tag=nope", ""));
    assert_eq!(lab.statuses(), vec![481]);
}

#[test]
fn busy_decline_unknown_and_no_answer() {
    let mut lab = Lab::new();
    lab.send(&request("INVITE", "+15550486", "b1", "", OFFER));
    assert_eq!(lab.statuses(), vec![100, 486]);
    lab.send(&request("INVITE", "+15550603", "d1", "", OFFER));
    assert_eq!(lab.statuses(), vec![100, 603]);
    lab.send(&request("INVITE", "+15559999", "u1", "", OFFER));
    assert_eq!(lab.statuses(), vec![100, 404]);

    // A fresh lab: the finals above would be retransmitted (Timer G) without ACKs.
    let mut lab = Lab::new();
    lab.send(&request("INVITE", "+15550408", "n1", "", OFFER));
    assert_eq!(lab.statuses(), vec![100, 180]);
    lab.advance(Duration::from_millis(9_999));
    assert!(lab.statuses().is_empty());
    lab.advance(Duration::from_millis(1));
    assert_eq!(lab.statuses(), vec![408]);
}

#[test]
fn cancel_of_a_ringing_call_gets_487() {
    let mut lab = Lab::new();
    let invite = request("INVITE", "+15550408", "c1", "", OFFER);
    lab.send(&invite);
    lab.responses();
    let cancel = invite
        .replacen("INVITE sip:", "CANCEL sip:", 1)
        .replace("CSeq: 1 INVITE", "CSeq: 1 CANCEL")
        .split("Content-Type")
        .next()
        .unwrap()
        .to_owned()
        + "Content-Length: 0\r\n\r\n";
    lab.send(&cancel);
    let mut statuses = lab.statuses();
    statuses.sort_unstable();
    assert_eq!(
        statuses,
        vec![200, 487],
        "200 to the CANCEL, 487 to the INVITE"
    );
    lab.advance(Duration::from_secs(11));
    assert!(
        lab.statuses().iter().all(|s| *s != 408),
        "no 408 after the cancel"
    );
}

#[test]
fn registrar_grants_and_removes_bindings() {
    let mut lab = Lab::new();
    lab.send(&request("REGISTER", "+15550001", "r1", "", "").replace(
        "Contact: <sip:+15550001@192.0.2.7:5062>",
        "Contact: <sip:+15550001@192.0.2.7:5062>;expires=7200",
    ));
    let ok = lab.responses().pop().unwrap();
    assert_eq!(ok.status, 200);
    let contact =
        String::from_utf8_lossy(&ok.headers.get_raw(b"Contact").unwrap().value).into_owned();
    assert_eq!(
        contact, "<sip:+15550001@192.0.2.7:5062>;expires=3600",
        "capped at an hour"
    );
    lab.send(
        &request("REGISTER", "+15550001", "r2", "", "")
            .replace("Content-Type: application/sdp\r\n", "Expires: 0\r\n")
            .replace(
                "Contact: <sip:+15550001@192.0.2.7:5062>",
                "Contact: <sip:+15550001@192.0.2.7:5062>;expires=0",
            ),
    );
    let ok = lab.responses().pop().unwrap();
    assert_eq!(ok.status, 200);
    assert!(ok.headers.get_raw(b"Contact").is_none(), "no binding left");
}

#[test]
fn the_echo_answer_is_resent_until_its_ack_arrives() {
    let mut lab = Lab::new();
    lab.send(&request("INVITE", "+15550100", "r1", "", OFFER));
    lab.advance(Duration::from_millis(300));
    let ok = lab.responses().pop().unwrap();
    assert_eq!(ok.status, 200);
    // RFC 3261 §13.3.1.4: resent at T1, then 2·T1 later, … until the ACK.
    lab.advance(Duration::from_millis(500));
    assert_eq!(lab.statuses(), vec![200]);
    lab.advance(Duration::from_millis(1000));
    assert_eq!(lab.statuses(), vec![200]);
    let tag = String::from_utf8_lossy(ok.headers.to().unwrap().tag().unwrap()).into_owned();
    let ack = request("ACK", "+15550100", "r1", &format!(";tag={tag}"), "")
        .replace("z9hG4bKr1ACK", "z9hG4bKr1ack2");
    lab.send(&ack);
    lab.advance(Duration::from_secs(10));
    assert!(
        lab.statuses().iter().all(|s| *s != 200),
        "no 200 after the ACK"
    );
}

/// The callee's side of the lab: where its binding points.
fn callee() -> Target {
    Target {
        transport: Transport::Udp,
        addr: "192.0.2.8:5064".parse().unwrap(),
    }
}

#[test]
fn calls_between_registered_users_are_forwarded_and_answers_relayed() {
    let mut lab = Lab::new();
    let register = request("REGISTER", "+15550002", "rg", "", "").replace(
        "Contact: <sip:+15550001@192.0.2.7:5062>",
        "Contact: <sip:+15550002@192.0.2.8:5064>",
    );
    lab.send(&register);
    assert_eq!(lab.statuses(), vec![200]);

    lab.send(&request("INVITE", "+15550002", "w1", "", OFFER));
    let sent: Vec<_> = std::iter::from_fn(|| lab.ep.poll_transmit()).collect();
    let forwarded = sent
        .iter()
        .find(|t| t.target == callee())
        .expect("the INVITE goes to the binding");
    let Message::Request(fwd) = Message::parse(&forwarded.bytes).unwrap().into_owned() else {
        panic!()
    };
    assert_eq!(&*fwd.uri, b"sip:+15550002@192.0.2.8:5064");
    assert_eq!(
        fwd.headers.vias().unwrap().len(),
        2,
        "the lab's Via on top of the caller's"
    );
    assert_eq!(fwd.headers.max_forwards(), Some(69));
    assert_eq!(fwd.body, OFFER.as_bytes());

    // The callee rings and answers; each response reaches the caller with one Via.
    for status in [180, 200] {
        let mut resp = sip_proxy::message::builder::response_to(&fwd, status, Some(b"callee"));
        resp.add_header("Contact", "<sip:+15550002@192.0.2.8:5064>");
        lab.ep.handle_message(lab.now, callee(), &resp.to_bytes());
        let up = lab.responses().pop().unwrap();
        assert_eq!(up.status, status);
        assert_eq!(up.headers.vias().unwrap().len(), 1);
    }

    // The caller's ACK and BYE to the callee's number follow the same way.
    lab.send(&request("ACK", "+15550002", "w1", ";tag=callee", ""));
    let ack = lab.ep.poll_transmit().expect("the ACK is forwarded");
    assert_eq!(ack.target, callee());
    lab.send(&request("BYE", "+15550002", "w1b", ";tag=callee", ""));
    let bye = lab.ep.poll_transmit().expect("the BYE is forwarded");
    assert_eq!(bye.target, callee());
}
