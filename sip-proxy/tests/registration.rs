//! The pcscf-mode registration client in simulated time, against a scripted P-CSCF:
//! digest challenge, Service-Route, refresh timing, stale nonces, reg-event NOTIFY,
//! de-registration and expiry.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::time::{Duration, Instant};

use sip_proxy::message::builder::response_to;
use sip_proxy::message::{Message, Method, Request, Response};
use sip_proxy::registration::{EndReason, RegEvent, RegistrationConfig, Registrations};
use sip_proxy::transaction::{
    RequestAction, ResponseAction, Target, TimerConfig, TransactionLayer, Transport,
};

const NUMBER: &str = "+15550001";
const AOR: &str = "sip:+15550001@ims.example.net";

fn pcscf() -> Target {
    Target {
        transport: Transport::Udp,
        addr: "192.0.2.60:5060".parse().unwrap(),
    }
}

struct Harness {
    regs: Registrations,
    layer: TransactionLayer,
    now: Instant,
}

impl Harness {
    fn new() -> Self {
        let cfg = RegistrationConfig {
            pcscf: pcscf(),
            domain: "ims.example.net".into(),
            local_host: "192.0.2.10:5060".into(),
            expires: 600_000,
        };
        Harness {
            regs: Registrations::new(cfg, 5),
            layer: TransactionLayer::new(TimerConfig::default()),
            now: Instant::now(),
        }
    }

    fn sent(&mut self) -> Vec<Request<'static>> {
        std::iter::from_fn(|| self.layer.poll_transmit())
            .filter_map(|t| match Message::parse(&t.bytes).unwrap().into_owned() {
                Message::Request(r) => Some(r),
                Message::Response(_) => None,
            })
            .collect()
    }

    fn one_register(&mut self) -> Request<'static> {
        let sent = self.sent();
        assert_eq!(sent.len(), 1, "{sent:?}");
        assert_eq!(sent[0].method, Method::Register);
        sent.into_iter().next().unwrap()
    }

    fn deliver(&mut self, resp: &Response<'_>) {
        let bytes = resp.to_bytes();
        let Message::Response(parsed) = Message::parse(&bytes).unwrap() else {
            unreachable!()
        };
        if let ResponseAction::Deliver(tx) = self.layer.handle_response(self.now, &parsed) {
            assert!(self
                .regs
                .handle_response(self.now, tx, &parsed, &mut self.layer));
        }
    }

    /// Advances simulated time in steps, running every timer that falls due.
    fn advance(&mut self, by: Duration) {
        let end = self.now + by;
        loop {
            let next = [self.regs.poll_timeout(), self.layer.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            match next {
                Some(t) if t <= end => {
                    self.now = self.now.max(t);
                    self.layer.handle_timeout(self.now);
                    while let Some(ev) = self.layer.poll_event() {
                        self.regs.handle_transaction_event(self.now, &ev);
                    }
                    self.regs.handle_timeout(self.now, &mut self.layer);
                }
                _ => break,
            }
        }
        self.now = end;
    }

    fn events(&mut self) -> Vec<RegEvent> {
        std::iter::from_fn(|| self.regs.poll_event()).collect()
    }

    /// Register with a challenge; returns the SUBSCRIBE sent after the 200.
    fn registered(&mut self, expires: u32) -> Request<'static> {
        self.regs.register(
            self.now,
            NUMBER,
            "ims.example.net",
            "user1@ims.example.net",
            "secret",
            &mut self.layer,
        );
        let first = self.one_register();
        self.deliver(&challenge(&first, "n1", false));
        let second = self.one_register();
        self.deliver(&ok(&second, expires));
        let subscribe = self.sent();
        assert_eq!(subscribe.len(), 1);
        subscribe.into_iter().next().unwrap()
    }
}

fn header(r: &Request<'_>, name: &str) -> String {
    r.headers
        .get_raw(name.as_bytes())
        .map(|h| String::from_utf8_lossy(&h.value).into_owned())
        .unwrap_or_default()
}

fn challenge(req: &Request<'_>, nonce: &str, stale: bool) -> Response<'static> {
    let mut r = response_to(req, 401, Some(b"pcscf"));
    let stale = if stale { ", stale=true" } else { "" };
    r.add_header(
        "WWW-Authenticate",
        format!("Digest realm=\"ims.example.net\", nonce=\"{nonce}\", qop=\"auth\", algorithm=MD5{stale}"),
    );
    r.add_header(
        "WWW-Authenticate",
        format!("Digest realm=\"ims.example.net\", nonce=\"{nonce}\", qop=\"auth\", algorithm=SHA-256{stale}"),
    );
    r
}

fn ok(req: &Request<'_>, expires: u32) -> Response<'static> {
    let mut r = response_to(req, 200, Some(b"pcscf"));
    r.add_header(
        "Contact",
        format!("<sip:{NUMBER}@192.0.2.10:5060>;expires={expires}"),
    );
    r.add_header("Service-Route", "<sip:orig@scscf.ims.example.net;lr>");
    r.add_header("Path", "<sip:term@pcscf.ims.example.net;lr>");
    r
}

#[test]
fn register_answers_the_strongest_challenge_then_subscribes_along_the_service_route() {
    let mut h = Harness::new();
    h.regs.register(
        h.now,
        NUMBER,
        "ims.example.net",
        "user1@ims.example.net",
        "secret",
        &mut h.layer,
    );
    let first = h.one_register();
    assert_eq!(&*first.uri, b"sip:ims.example.net");
    assert_eq!(header(&first, "To"), format!("<{AOR}>"));
    assert_eq!(header(&first, "Expires"), "600000");
    assert_eq!(header(&first, "Supported"), "path");
    assert!(header(&first, "Authorization").is_empty());

    h.deliver(&challenge(&first, "n1", false));
    let second = h.one_register();
    let auth = header(&second, "Authorization");
    assert!(
        auth.contains("algorithm=SHA-256")
            && auth.contains("nonce=\"n1\"")
            && auth.contains("nc=00000001"),
        "{auth}"
    );
    assert_eq!(header(&second, "CSeq"), "2 REGISTER");
    assert_eq!(
        header(&second, "Call-ID"),
        header(&first, "Call-ID"),
        "one registration, one Call-ID"
    );
    assert_ne!(
        header(&second, "Via"),
        header(&first, "Via"),
        "a new transaction, a new branch"
    );

    h.deliver(&ok(&second, 3600));
    assert_eq!(
        h.events(),
        vec![RegEvent::Registered {
            number: NUMBER.into(),
            expires: Duration::from_secs(3600)
        }]
    );
    assert!(h.regs.is_registered(NUMBER));
    assert_eq!(
        h.regs.service_route(NUMBER).unwrap(),
        [b"<sip:orig@scscf.ims.example.net;lr>".to_vec()]
    );
    let subscribe = h.sent();
    assert_eq!(subscribe[0].method, Method::Subscribe);
    assert_eq!(header(&subscribe[0], "Event"), "reg");
    assert_eq!(
        header(&subscribe[0], "Route"),
        "<sip:orig@scscf.ims.example.net;lr>"
    );
    assert_eq!(&*subscribe[0].uri, AOR.as_bytes());
}

#[test]
fn refresh_happens_at_half_the_granted_time_and_survives_a_stale_nonce() {
    let mut h = Harness::new();
    let subscribe = h.registered(3600);
    h.deliver(&response_to(&subscribe, 200, Some(b"s")));
    h.events();

    h.advance(Duration::from_millis(1_799_900));
    assert!(h.sent().is_empty(), "no refresh before half of 3600 s");
    h.advance(Duration::from_millis(100));
    let refresh = h.one_register();
    let auth = header(&refresh, "Authorization");
    assert!(
        auth.contains("nonce=\"n1\"") && auth.contains("nc=00000002"),
        "the nonce is reused: {auth}"
    );

    h.deliver(&challenge(&refresh, "n2", true));
    let again = h.one_register();
    assert!(
        header(&again, "Authorization").contains("nonce=\"n2\""),
        "stale: answered, not failed"
    );
    h.deliver(&ok(&again, 3600));
    assert_eq!(
        h.events(),
        vec![RegEvent::Registered {
            number: NUMBER.into(),
            expires: Duration::from_secs(3600)
        }]
    );
}

#[test]
fn a_wrong_password_fails_without_looping() {
    let mut h = Harness::new();
    h.regs.register(
        h.now,
        NUMBER,
        "ims.example.net",
        "user1@ims.example.net",
        "wrong",
        &mut h.layer,
    );
    let first = h.one_register();
    h.deliver(&challenge(&first, "n1", false));
    let second = h.one_register();
    h.deliver(&challenge(&second, "n2", false));
    assert!(h.sent().is_empty(), "no third attempt");
    assert_eq!(
        h.events(),
        vec![RegEvent::Failed {
            number: NUMBER.into(),
            status: 401
        }]
    );
    assert!(!h.regs.is_registered(NUMBER));
}

#[test]
fn network_deregistration_via_reg_event_notify_ends_the_registration() {
    let mut h = Harness::new();
    let subscribe = h.registered(3600);
    h.events();
    let body = format!(
        "<?xml version=\"1.0\"?>\r\n<reginfo xmlns=\"urn:ietf:params:xml:ns:reginfo\" version=\"1\" state=\"full\">\
         <registration aor=\"{AOR}\" id=\"r1\" state=\"terminated\"><contact id=\"c1\" state=\"terminated\" \
         event=\"deactivated\"><uri>sip:{NUMBER}@192.0.2.10:5060</uri></contact></registration></reginfo>"
    );
    let notify = format!(
        "NOTIFY sip:{NUMBER}@192.0.2.10:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.60:5060;branch=z9hG4bKnotify1\r\n\
         Max-Forwards: 70\r\nFrom: <{AOR}>;tag=scscf\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: 1 NOTIFY\r\n\
         Event: reg\r\nSubscription-State: terminated;reason=deactivated\r\n\
         Content-Type: application/reginfo+xml\r\nContent-Length: {}\r\n\r\n{body}",
        header(&subscribe, "From"),
        header(&subscribe, "Call-ID"),
        body.len()
    );
    let Message::Request(notify) = Message::parse(notify.as_bytes()).unwrap() else {
        unreachable!()
    };
    let RequestAction::New { id, .. } = h.layer.handle_request(h.now, &notify, pcscf()) else {
        panic!()
    };
    assert!(h.regs.handle_notify(h.now, id, &notify, &mut h.layer));
    let answered = h.layer.poll_transmit().unwrap();
    assert!(answered.bytes.starts_with(b"SIP/2.0 200 OK"));
    assert_eq!(
        h.events(),
        vec![RegEvent::Ended {
            number: NUMBER.into(),
            reason: EndReason::Network
        }]
    );
    assert!(!h.regs.is_registered(NUMBER));
}

#[test]
fn deregistration_sends_expires_zero() {
    let mut h = Harness::new();
    h.registered(3600);
    h.events();
    h.regs.deregister(h.now, NUMBER, &mut h.layer);
    let dereg = h.one_register();
    assert_eq!(header(&dereg, "Expires"), "0");
    assert!(header(&dereg, "Contact").ends_with(";expires=0"));
    assert!(
        !header(&dereg, "Authorization").is_empty(),
        "credentials reused, no extra round trip"
    );
    h.deliver(&ok(&dereg, 0));
    assert_eq!(
        h.events(),
        vec![RegEvent::Ended {
            number: NUMBER.into(),
            reason: EndReason::Deregistered
        }]
    );
}

#[test]
fn a_drain_deregisters_every_number_once() {
    let mut h = Harness::new();
    h.registered(3600);
    h.events();
    h.regs.deregister_all(h.now, &mut h.layer);
    let dereg = h.one_register();
    assert_eq!(header(&dereg, "Expires"), "0");
    // Already de-registering: a second drain signal sends nothing more.
    h.regs.deregister_all(h.now, &mut h.layer);
    assert!(h.sent().is_empty());
    h.deliver(&ok(&dereg, 0));
    assert_eq!(
        h.events(),
        vec![RegEvent::Ended {
            number: NUMBER.into(),
            reason: EndReason::Deregistered
        }]
    );
}

#[test]
fn refreshes_that_keep_failing_end_in_expiry() {
    let mut h = Harness::new();
    h.registered(1200);
    h.events();
    // Every refresh is answered 500 until the 1200 s run out.
    let start = h.now;
    let mut refreshes = 0;
    while h.now < start + Duration::from_secs(1300) {
        h.advance(Duration::from_secs(10));
        for r in h.sent() {
            if r.method == Method::Register {
                refreshes += 1;
                h.deliver(&response_to(&r, 500, Some(b"p")));
            }
        }
        if !h.regs.is_registered(NUMBER) {
            break;
        }
    }
    assert!(refreshes >= 3, "retried {refreshes} times");
    assert_eq!(
        h.events(),
        vec![RegEvent::Ended {
            number: NUMBER.into(),
            reason: EndReason::Expired
        }]
    );
    assert!(
        h.now <= start + Duration::from_secs(1210),
        "ended at expiry, not long after"
    );
}
