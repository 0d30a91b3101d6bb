//! Two sans-IO endpoints over a simulated lossy UDP network, quinn-style: a registration
//! answered with Digest SHA-256, then a call whose first INVITE and first 200 OK are lost,
//! completed by retransmissions (Timer A, the TU's 2xx retransmission), ACKed, and ended
//! with BYE. Everything runs in simulated time.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use sip_proxy::auth::digest::{response_digest, Algorithm, Challenge, Credentials, DigestClient};
use sip_proxy::dialog::{Dialog, DialogState};
use sip_proxy::message::builder::{branch_from, response_to, RequestBuilder};
use sip_proxy::message::{HeaderName, Message, Method, Request, Response};
use sip_proxy::transaction::{
    RequestAction, ResponseAction, Target, TimerConfig, TransactionId, TransactionLayer, Transport,
    Uas2xxAction, Uas2xxRetransmit,
};

const LATENCY: Duration = Duration::from_millis(20);

fn addr(last: u8) -> Target {
    Target {
        transport: Transport::Udp,
        addr: SocketAddr::from(([192, 0, 2, last], 5060)),
    }
}

/// A datagram in flight.
struct Packet {
    at: Instant,
    to: Target,
    from: Target,
    bytes: Vec<u8>,
}

struct Net {
    now: Instant,
    uac: TransactionLayer,
    uas: TransactionLayer,
    in_flight: Vec<Packet>,
    /// Start lines whose next copy the network drops, once each.
    drop_once: Vec<&'static [u8]>,
    dropped: Vec<Vec<u8>>,
}

const UAC: u8 = 1;
const UAS: u8 = 2;

impl Net {
    fn new() -> Self {
        Net {
            now: Instant::now(),
            uac: TransactionLayer::new(TimerConfig::default()),
            uas: TransactionLayer::new(TimerConfig::default()),
            in_flight: Vec::new(),
            drop_once: Vec::new(),
            dropped: Vec::new(),
        }
    }

    fn layer(&mut self, who: u8) -> &mut TransactionLayer {
        if who == UAC {
            &mut self.uac
        } else {
            &mut self.uas
        }
    }

    /// Moves every queued transmission onto the wire (or drops it).
    fn flush(&mut self) {
        for who in [UAC, UAS] {
            while let Some(t) = self.layer(who).poll_transmit() {
                if let Some(pos) = self.drop_once.iter().position(|p| t.bytes.starts_with(p)) {
                    self.drop_once.remove(pos);
                    self.dropped.push(t.bytes);
                    continue;
                }
                let at = self.now + LATENCY;
                self.in_flight.push(Packet {
                    at,
                    to: t.target,
                    from: addr(who),
                    bytes: t.bytes,
                });
            }
        }
    }

    /// Advances to the next packet arrival or timer; returns the delivered packet.
    fn step(&mut self) -> Option<Packet> {
        self.flush();
        let next_packet = self.in_flight.iter().map(|p| p.at).min();
        let next_timer = [self.uac.poll_timeout(), self.uas.poll_timeout()]
            .into_iter()
            .flatten()
            .min();
        match (next_packet, next_timer) {
            (Some(p), t) if t.is_none_or(|t| p <= t) => {
                self.now = p;
                let i = self
                    .in_flight
                    .iter()
                    .position(|x| x.at == p)
                    .expect("packet at its time");
                Some(self.in_flight.remove(i))
            }
            (_, Some(t)) => {
                self.now = t;
                self.uac.handle_timeout(t);
                self.uas.handle_timeout(t);
                None
            }
            _ => None,
        }
    }

    /// Delivers nothing and fires the timers due up to `t`, then sets the clock to `t`.
    fn advance_to(&mut self, t: Instant) {
        self.flush();
        while let Some(next) = [self.uac.poll_timeout(), self.uas.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
        {
            if next > t {
                break;
            }
            self.now = next;
            self.uac.handle_timeout(next);
            self.uas.handle_timeout(next);
            self.flush();
        }
        assert!(
            self.in_flight.iter().all(|p| p.at > t),
            "a packet would be skipped"
        );
        self.now = t;
    }

    /// Runs until a packet for `who` arrives.
    fn deliver_to(&mut self, who: u8) -> Packet {
        for _ in 0..1000 {
            if let Some(p) = self.step() {
                if p.to == addr(who) {
                    return p;
                }
            }
        }
        panic!("nothing arrived for {who}");
    }
}

fn req(bytes: &[u8]) -> Request<'_> {
    match Message::parse(bytes).expect("well-formed on the wire") {
        Message::Request(r) => r,
        Message::Response(_) => panic!("request expected"),
    }
}

fn resp(bytes: &[u8]) -> Response<'_> {
    match Message::parse(bytes).expect("well-formed on the wire") {
        Message::Response(r) => r,
        Message::Request(_) => panic!("response expected"),
    }
}

fn new_request(
    method: Method,
    seq: u32,
    branch: u64,
    extra: &[(&str, Vec<u8>)],
) -> Request<'static> {
    let mut b = RequestBuilder::new(method.clone(), "sip:ims.example.net")
        .header(
            "Via",
            format!("SIP/2.0/UDP 192.0.2.1:5060;branch={}", branch_from(branch)),
        )
        .header("Max-Forwards", "70")
        .header("From", "<sip:+15550001111@ims.example.net>;tag=uac1")
        .header("To", "<sip:+15550001111@ims.example.net>")
        .header("Call-ID", format!("{method}-call"))
        .header("CSeq", format!("{seq} {method}"))
        .header("Contact", "<sip:gw@192.0.2.1:5060>");
    for (n, v) in extra {
        b = b.header(n, v.clone());
    }
    b.build()
}

fn server_id(action: RequestAction) -> TransactionId {
    match action {
        RequestAction::New { id, .. } => id,
        other => panic!("new transaction expected, got {other:?}"),
    }
}

#[test]
fn register_with_sha256_digest() {
    let mut net = Net::new();
    let mut digest = DigestClient::new();
    digest.set_credentials("ims.example.net", "alice@ims.example.net", "s3cret");
    let first = new_request(Method::Register, 1, 1, &[]);
    net.uac.send_request(net.now, &first, addr(UAS)).unwrap();

    let p = net.deliver_to(UAS);
    let r = req(&p.bytes);
    let id = server_id(net.uas.handle_request(net.now, &r, p.from));
    let mut challenge = response_to(&r, 401, Some(b"reg"));
    challenge.add_header(
        "WWW-Authenticate",
        "Digest realm=\"ims.example.net\", nonce=\"abc\", qop=\"auth\", algorithm=MD5",
    );
    challenge.add_header(
        "WWW-Authenticate",
        "Digest realm=\"ims.example.net\", nonce=\"abc\", qop=\"auth\", algorithm=SHA-256",
    );
    net.uas.send_response(net.now, id, &challenge).unwrap();

    let p = net.deliver_to(UAC);
    let r401 = resp(&p.bytes);
    assert!(matches!(
        net.uac.handle_response(net.now, &r401),
        ResponseAction::Deliver(_)
    ));
    let auth = digest.answer(&first, &r401, "0a4f113b").unwrap();
    let extra: Vec<(&str, Vec<u8>)> = auth
        .iter()
        .map(|h| ("Authorization", h.value.to_vec()))
        .collect();
    let second = new_request(Method::Register, 2, 2, &extra);
    net.uac.send_request(net.now, &second, addr(UAS)).unwrap();

    // The registrar side verifies the credentials with the same primitive.
    let p = net.deliver_to(UAS);
    let r = req(&p.bytes);
    let creds = &r.headers.auth(HeaderName::Authorization)[0];
    assert_eq!(creds.params.value("algorithm"), Some(&b"SHA-256"[..]));
    let expected = response_digest(
        &Challenge {
            realm: "ims.example.net".into(),
            nonce: "abc".into(),
            opaque: None,
            algorithm: Algorithm::Sha256,
            qop_auth: true,
            stale: false,
            proxy: false,
        },
        &Credentials {
            username: "alice@ims.example.net".into(),
            password: "s3cret".into(),
        },
        b"REGISTER",
        &r.uri,
        1,
        "0a4f113b",
    );
    assert_eq!(creds.params.value("response"), Some(expected.as_bytes()));
    let id = server_id(net.uas.handle_request(net.now, &r, p.from));
    net.uas
        .send_response(net.now, id, &response_to(&r, 200, Some(b"reg")))
        .unwrap();
    let p = net.deliver_to(UAC);
    assert_eq!(resp(&p.bytes).status, 200);
}

#[test]
fn call_survives_lost_invite_and_lost_200() {
    let mut net = Net::new();
    let t0 = net.now;
    net.drop_once = vec![b"INVITE ", b"SIP/2.0 200 "];
    let invite = new_request(Method::Invite, 1, 10, &[]);
    let inv_tx = net.uac.send_request(net.now, &invite, addr(UAS)).unwrap();

    // Timer A: the retransmission at T1 gets through.
    let p = net.deliver_to(UAS);
    assert_eq!(net.now - t0, Duration::from_millis(500) + LATENCY);
    let r = req(&p.bytes);
    let srv = server_id(net.uas.handle_request(net.now, &r, p.from));
    let mut dialog_uas = Dialog::uas(&r, b"uas1", b"sip:callee@192.0.2.2").unwrap();
    let mut ok = response_to(&r, 200, Some(b"uas1"));
    ok.add_header("Contact", "<sip:callee@192.0.2.2>");
    ok.add_header("Record-Route", "<sip:edge.example.net;lr>");
    net.uas.send_response(net.now, srv, &ok).unwrap();
    let sent_200_at = net.now;
    let mut retransmit = Uas2xxRetransmit::start(net.now, &TimerConfig::default());
    dialog_uas.on_local_response(200);

    // The UAC sees the 100 Trying; the 200 was lost.
    let p = net.deliver_to(UAC);
    let trying = resp(&p.bytes);
    assert_eq!(trying.status, 100);
    assert_eq!(
        net.uac.handle_response(net.now, &trying),
        ResponseAction::Deliver(inv_tx)
    );

    // RFC 6026 / RFC 3261 §13.3.1.4: the UAS core retransmits its 2xx until the ACK.
    let resend_at = retransmit.poll_timeout().expect("2xx retransmission armed");
    assert_eq!(resend_at - sent_200_at, Duration::from_millis(500));
    net.advance_to(resend_at);
    assert_eq!(retransmit.handle_timeout(net.now), Uas2xxAction::Resend);
    net.uas.send_response(net.now, srv, &ok).unwrap();
    let p = net.deliver_to(UAC);
    let r200 = resp(&p.bytes);
    assert_eq!(r200.status, 200);
    assert_eq!(
        net.uac.handle_response(net.now, &r200),
        ResponseAction::Deliver(inv_tx)
    );
    let mut dialog_uac = Dialog::uac(&invite, &r200, b"sip:gw@192.0.2.1:5060").unwrap();
    assert_eq!(dialog_uac.state, DialogState::Confirmed);
    assert_eq!(
        dialog_uac.route_set,
        vec![b"<sip:edge.example.net;lr>".to_vec()]
    );
    let ack = dialog_uac.ack(
        1,
        &format!("SIP/2.0/UDP 192.0.2.1:5060;branch={}", branch_from(11)),
    );
    net.uac.send_stateless(addr(UAS), ack.to_bytes());

    let p = net.deliver_to(UAS);
    let ack = req(&p.bytes);
    assert_eq!(ack.method, Method::Ack);
    assert_eq!(
        net.uas.handle_request(net.now, &ack, p.from),
        RequestAction::StrayAck
    );
    dialog_uas.on_request(&ack).unwrap();
    retransmit.on_ack();
    assert!(!retransmit.is_active());

    // BYE from the UAC ends both dialogs.
    let bye = dialog_uac.request(
        Method::Bye,
        &format!("SIP/2.0/UDP 192.0.2.1:5060;branch={}", branch_from(12)),
    );
    let bye_tx = net.uac.send_request(net.now, &bye, addr(UAS)).unwrap();
    let p = net.deliver_to(UAS);
    let r = req(&p.bytes);
    let srv_bye = server_id(net.uas.handle_request(net.now, &r, p.from));
    dialog_uas.on_request(&r).unwrap();
    assert_eq!(dialog_uas.state, DialogState::Terminated);
    net.uas
        .send_response(net.now, srv_bye, &response_to(&r, 200, None))
        .unwrap();
    let p = net.deliver_to(UAC);
    let r = resp(&p.bytes);
    assert_eq!(
        net.uac.handle_response(net.now, &r),
        ResponseAction::Deliver(bye_tx)
    );
    dialog_uac.on_response(&Method::Bye, &r).unwrap();
    assert_eq!(dialog_uac.state, DialogState::Terminated);
    assert_eq!(net.dropped.len(), 2);

    // Every transaction ends on its own timers (Timer K, J, L, M).
    for _ in 0..10_000 {
        if net.uac.is_empty() && net.uas.is_empty() {
            break;
        }
        let _ = net.step();
    }
    assert!(net.uac.is_empty() && net.uas.is_empty());
    assert!(net.now - t0 < Duration::from_secs(40));
}
