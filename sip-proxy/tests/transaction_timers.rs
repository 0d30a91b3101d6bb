//! RFC 3261 §17 / RFC 6026 transaction timers in simulated time: every retransmission and
//! timeout happens at the instant the RFC gives, for unreliable and reliable transports.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use sip_proxy::message::builder::{response_to, RequestBuilder};
use sip_proxy::message::{Message, Method, Request, Response};
use sip_proxy::transaction::{
    RequestAction, ResponseAction, Target, Timer, TimerConfig, TransactionEvent, TransactionId,
    TransactionLayer, TransactionState, Transport,
};

const UDP: Transport = Transport::Udp;
const TCP: Transport = Transport::Tcp;

fn target(t: Transport) -> Target {
    Target {
        transport: t,
        addr: SocketAddr::from(([192, 0, 2, 10], 5060)),
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn request(method: Method, branch: &str) -> Request<'static> {
    let cseq = format!("1 {method}");
    RequestBuilder::new(method, "sip:bob@example.com")
        .header("Via", format!("SIP/2.0/UDP 192.0.2.1:5060;branch={branch}"))
        .header("Max-Forwards", "70")
        .header("From", "<sip:alice@example.com>;tag=a1")
        .header("To", "<sip:bob@example.com>")
        .header("Call-ID", "call-1")
        .header("CSeq", cseq)
        .build()
}

fn reply(req: &Request<'_>, status: u16) -> Response<'static> {
    response_to(req, status, Some(b"b1"))
}

/// What the layer did, at which offset from the start.
#[derive(Debug, PartialEq)]
enum Out {
    Sent(Duration, Vec<u8>),
    Event(Duration, TransactionEvent),
}

struct Sim {
    layer: TransactionLayer,
    t0: Instant,
    log: Vec<Out>,
}

impl Sim {
    fn new(cfg: TimerConfig) -> Self {
        Sim {
            layer: TransactionLayer::new(cfg),
            t0: Instant::now(),
            log: Vec::new(),
        }
    }

    fn at(&self, d: Duration) -> Instant {
        self.t0 + d
    }

    fn drain(&mut self, now: Instant) {
        let d = now - self.t0;
        while let Some(t) = self.layer.poll_transmit() {
            self.log.push(Out::Sent(d, t.bytes));
        }
        while let Some(e) = self.layer.poll_event() {
            self.log.push(Out::Event(d, e));
        }
    }

    /// Runs the timers up to and including `end`, always waking exactly at poll_timeout.
    fn run_until(&mut self, end: Duration) {
        while let Some(t) = self.layer.poll_timeout() {
            if t > self.at(end) {
                break;
            }
            self.layer.handle_timeout(t);
            self.drain(t);
        }
    }

    fn send_times(&self) -> Vec<Duration> {
        self.log
            .iter()
            .filter_map(|o| {
                if let Out::Sent(d, _) = o {
                    Some(*d)
                } else {
                    None
                }
            })
            .collect()
    }

    fn events(&self) -> Vec<(Duration, TransactionEvent)> {
        self.log
            .iter()
            .filter_map(|o| {
                if let Out::Event(d, e) = o {
                    Some((*d, *e))
                } else {
                    None
                }
            })
            .collect()
    }

    fn clear(&mut self) {
        self.log.clear();
    }
}

fn times(v: &[u64]) -> Vec<Duration> {
    v.iter().map(|m| ms(*m)).collect()
}

// ---- INVITE client (§17.1.1) --------------------------------------------------------

#[test]
fn invite_client_udp_timer_a_doubles_and_timer_b_fires_at_64_t1() {
    let mut sim = Sim::new(TimerConfig::default());
    let id = sim
        .layer
        .send_request(sim.t0, &request(Method::Invite, "z9hG4bKa1"), target(UDP))
        .unwrap();
    sim.drain(sim.t0);
    sim.run_until(Duration::from_secs(40));
    // Timer A: T1, 2·T1, 4·T1, … (no cap) until Timer B at 64·T1 = 32 s.
    assert_eq!(
        sim.send_times(),
        times(&[0, 500, 1500, 3500, 7500, 15500, 31500])
    );
    assert_eq!(
        sim.events(),
        vec![
            (
                ms(32000),
                TransactionEvent::Timeout {
                    id,
                    timer: Timer::B
                }
            ),
            (ms(32000), TransactionEvent::Terminated { id })
        ]
    );
    assert!(sim.layer.is_empty());
}

#[test]
fn invite_client_reliable_never_retransmits() {
    let mut sim = Sim::new(TimerConfig::default());
    let id = sim
        .layer
        .send_request(sim.t0, &request(Method::Invite, "z9hG4bKa2"), target(TCP))
        .unwrap();
    sim.drain(sim.t0);
    sim.run_until(Duration::from_secs(40));
    assert_eq!(sim.send_times(), times(&[0]));
    assert_eq!(
        sim.events()[0],
        (
            ms(32000),
            TransactionEvent::Timeout {
                id,
                timer: Timer::B
            }
        )
    );
}

#[test]
fn timer_values_follow_configured_t1() {
    let cfg = TimerConfig {
        t1: ms(100),
        ..TimerConfig::default()
    };
    let mut sim = Sim::new(cfg);
    let id = sim
        .layer
        .send_request(sim.t0, &request(Method::Invite, "z9hG4bKa3"), target(UDP))
        .unwrap();
    sim.drain(sim.t0);
    sim.run_until(Duration::from_secs(10));
    assert_eq!(
        sim.send_times(),
        times(&[0, 100, 300, 700, 1500, 3100, 6300])
    );
    assert_eq!(
        sim.events()[0],
        (
            ms(6400),
            TransactionEvent::Timeout {
                id,
                timer: Timer::B
            }
        )
    );
}

#[test]
fn invite_client_provisional_stops_retransmissions() {
    let mut sim = Sim::new(TimerConfig::default());
    let inv = request(Method::Invite, "z9hG4bKa4");
    let id = sim.layer.send_request(sim.t0, &inv, target(UDP)).unwrap();
    let t = sim.at(ms(700));
    sim.run_until(ms(700));
    assert_eq!(
        sim.layer.handle_response(t, &reply(&inv, 180)),
        ResponseAction::Deliver(id)
    );
    assert_eq!(sim.layer.state(id), Some(TransactionState::Proceeding));
    sim.clear();
    sim.run_until(Duration::from_secs(100));
    assert!(
        sim.log.is_empty(),
        "no retransmission and no Timer B once Proceeding"
    );
}

#[test]
fn invite_client_non_2xx_acks_and_timer_d() {
    for (transport, d) in [(UDP, 32_000), (TCP, 0)] {
        let mut sim = Sim::new(TimerConfig::default());
        let inv = request(Method::Invite, "z9hG4bKa5");
        let id = sim
            .layer
            .send_request(sim.t0, &inv, target(transport))
            .unwrap();
        sim.drain(sim.t0);
        sim.clear();
        let busy = reply(&inv, 486);
        assert_eq!(
            sim.layer.handle_response(sim.t0, &busy),
            ResponseAction::Deliver(id)
        );
        sim.drain(sim.t0);
        // RFC 3261 §17.1.1.3: the transaction ACKs the non-2xx itself.
        let Out::Sent(_, ack) = &sim.log[0] else {
            panic!("ACK expected")
        };
        let Message::Request(ack) = Message::parse(ack).unwrap() else {
            panic!("request")
        };
        assert_eq!(ack.method, Method::Ack);
        assert_eq!(ack.headers.cseq().unwrap().method, b"ACK");
        assert_eq!(ack.headers.to().unwrap().tag(), Some(&b"b1"[..]));
        assert_eq!(
            ack.headers.top_via().unwrap().branch(),
            Some(&b"z9hG4bKa5"[..])
        );
        if transport == UDP {
            // A retransmitted 486 is absorbed and re-ACKed.
            assert_eq!(
                sim.layer.handle_response(sim.at(ms(1000)), &busy),
                ResponseAction::Absorbed(id)
            );
            sim.drain(sim.at(ms(1000)));
            assert_eq!(sim.send_times(), times(&[0, 1000]));
        }
        sim.clear();
        sim.run_until(Duration::from_secs(60));
        assert_eq!(
            sim.events(),
            vec![(ms(d), TransactionEvent::Terminated { id })],
            "Timer D"
        );
    }
}

#[test]
fn invite_client_2xx_accepted_then_timer_m() {
    let mut sim = Sim::new(TimerConfig::default());
    let inv = request(Method::Invite, "z9hG4bKa6");
    let id = sim.layer.send_request(sim.t0, &inv, target(UDP)).unwrap();
    let ok = reply(&inv, 200);
    assert_eq!(
        sim.layer.handle_response(sim.at(ms(200)), &ok),
        ResponseAction::Deliver(id)
    );
    assert_eq!(sim.layer.state(id), Some(TransactionState::Accepted));
    // RFC 6026 §7.2: 2xx retransmissions are delivered so the TU can re-ACK.
    assert_eq!(
        sim.layer.handle_response(sim.at(ms(700)), &ok),
        ResponseAction::Deliver(id)
    );
    sim.drain(sim.at(ms(700)));
    sim.clear();
    sim.run_until(Duration::from_secs(60));
    assert_eq!(
        sim.events(),
        vec![(ms(32200), TransactionEvent::Terminated { id })]
    );
    assert_eq!(
        sim.layer.handle_response(sim.at(ms(33000)), &ok),
        ResponseAction::Stray
    );
}

// ---- non-INVITE client (§17.1.2) ----------------------------------------------------

#[test]
fn non_invite_client_timer_e_capped_by_t2_and_timer_f() {
    let mut sim = Sim::new(TimerConfig::default());
    let id = sim
        .layer
        .send_request(sim.t0, &request(Method::Options, "z9hG4bKn1"), target(UDP))
        .unwrap();
    sim.drain(sim.t0);
    sim.run_until(Duration::from_secs(40));
    assert_eq!(
        sim.send_times(),
        times(&[0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500])
    );
    assert_eq!(
        sim.events()[0],
        (
            ms(32000),
            TransactionEvent::Timeout {
                id,
                timer: Timer::F
            }
        )
    );
}

#[test]
fn non_invite_client_proceeding_retransmits_every_t2() {
    let mut sim = Sim::new(TimerConfig::default());
    let req = request(Method::Register, "z9hG4bKn2");
    let id = sim.layer.send_request(sim.t0, &req, target(UDP)).unwrap();
    sim.drain(sim.t0);
    assert_eq!(
        sim.layer
            .handle_response(sim.at(ms(200)), &reply(&req, 100)),
        ResponseAction::Deliver(id)
    );
    sim.run_until(ms(13000));
    assert_eq!(sim.send_times(), times(&[0, 500, 4500, 8500, 12500]));
}

#[test]
fn non_invite_client_timer_k() {
    for (transport, k) in [(UDP, 5000 + 300), (TCP, 300)] {
        let mut sim = Sim::new(TimerConfig::default());
        let req = request(Method::Bye, "z9hG4bKn3");
        let id = sim
            .layer
            .send_request(sim.t0, &req, target(transport))
            .unwrap();
        let ok = reply(&req, 200);
        assert_eq!(
            sim.layer.handle_response(sim.at(ms(300)), &ok),
            ResponseAction::Deliver(id)
        );
        assert_eq!(
            sim.layer.handle_response(sim.at(ms(400)), &ok),
            ResponseAction::Absorbed(id)
        );
        sim.drain(sim.at(ms(400)));
        sim.clear();
        sim.run_until(Duration::from_secs(60));
        assert_eq!(
            sim.events(),
            vec![(ms(k), TransactionEvent::Terminated { id })],
            "Timer K"
        );
    }
}

#[test]
fn transport_error_reaches_the_tu() {
    let mut sim = Sim::new(TimerConfig::default());
    let id = sim
        .layer
        .send_request(sim.t0, &request(Method::Invite, "z9hG4bKe1"), target(TCP))
        .unwrap();
    sim.layer.handle_transport_error(sim.t0, id);
    sim.drain(sim.t0);
    assert_eq!(
        sim.events(),
        vec![
            (ms(0), TransactionEvent::TransportError { id }),
            (ms(0), TransactionEvent::Terminated { id })
        ]
    );
}

// ---- INVITE server (§17.2.1) --------------------------------------------------------

fn new_server(sim: &mut Sim, req: &Request<'_>, t: Transport) -> TransactionId {
    match sim.layer.handle_request(sim.t0, req, target(t)) {
        RequestAction::New { id, .. } => id,
        other => panic!("expected a new transaction, got {other:?}"),
    }
}

#[test]
fn invite_server_sends_100_and_absorbs_retransmissions() {
    let mut sim = Sim::new(TimerConfig::default());
    let inv = request(Method::Invite, "z9hG4bKs1");
    let id = new_server(&mut sim, &inv, UDP);
    sim.drain(sim.t0);
    let Out::Sent(_, trying) = &sim.log[0] else {
        panic!("100 Trying expected")
    };
    assert!(trying.starts_with(b"SIP/2.0 100 Trying"));
    assert_eq!(
        sim.layer.handle_request(sim.at(ms(500)), &inv, target(UDP)),
        RequestAction::Retransmission(id)
    );
    sim.drain(sim.at(ms(500)));
    assert_eq!(
        sim.send_times(),
        times(&[0, 500]),
        "the 100 is re-sent for a retransmission"
    );
}

#[test]
fn invite_server_non_2xx_timer_g_and_timer_h() {
    let mut sim = Sim::new(TimerConfig::default());
    let inv = request(Method::Invite, "z9hG4bKs2");
    let id = new_server(&mut sim, &inv, UDP);
    sim.drain(sim.t0);
    sim.clear();
    sim.layer
        .send_response(sim.t0, id, &reply(&inv, 486))
        .unwrap();
    sim.drain(sim.t0);
    sim.run_until(Duration::from_secs(40));
    // Timer G: T1, 2·T1, 4·T1 capped at T2; Timer H at 64·T1.
    assert_eq!(
        sim.send_times(),
        times(&[0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500])
    );
    assert_eq!(
        sim.events()[0],
        (
            ms(32000),
            TransactionEvent::Timeout {
                id,
                timer: Timer::H
            }
        )
    );
}

#[test]
fn invite_server_ack_confirms_and_timer_i() {
    for (transport, i) in [(UDP, 1000 + 5000), (TCP, 1000)] {
        let mut sim = Sim::new(TimerConfig::default());
        let inv = request(Method::Invite, "z9hG4bKs3");
        let id = new_server(&mut sim, &inv, transport);
        let busy = reply(&inv, 486);
        sim.layer.send_response(sim.t0, id, &busy).unwrap();
        let ack = sip_proxy::transaction::ack_for_non2xx(&inv, &busy);
        assert_eq!(
            sim.layer
                .handle_request(sim.at(ms(1000)), &ack, target(transport)),
            RequestAction::AckAbsorbed(id)
        );
        assert_eq!(sim.layer.state(id), Some(TransactionState::Confirmed));
        sim.drain(sim.at(ms(1000)));
        sim.clear();
        sim.run_until(Duration::from_secs(60));
        assert_eq!(
            sim.events(),
            vec![(ms(i), TransactionEvent::Terminated { id })],
            "Timer I"
        );
        assert!(sim.send_times().is_empty(), "no Timer G after the ACK");
    }
}

#[test]
fn invite_server_2xx_accepted_absorbs_invite_and_timer_l() {
    let mut sim = Sim::new(TimerConfig::default());
    let inv = request(Method::Invite, "z9hG4bKs4");
    let id = new_server(&mut sim, &inv, UDP);
    sim.layer
        .send_response(sim.t0, id, &reply(&inv, 200))
        .unwrap();
    assert_eq!(sim.layer.state(id), Some(TransactionState::Accepted));
    sim.drain(sim.t0);
    sim.clear();
    assert_eq!(
        sim.layer.handle_request(sim.at(ms(500)), &inv, target(UDP)),
        RequestAction::Retransmission(id)
    );
    sim.drain(sim.at(ms(500)));
    assert!(
        sim.send_times().is_empty(),
        "RFC 6026: INVITE retransmission absorbed in Accepted"
    );
    // The TU retransmits its 2xx through the transaction.
    sim.layer
        .send_response(sim.at(ms(500)), id, &reply(&inv, 200))
        .unwrap();
    sim.drain(sim.at(ms(500)));
    assert_eq!(sim.send_times(), times(&[500]));
    sim.clear();
    sim.run_until(Duration::from_secs(60));
    assert_eq!(
        sim.events(),
        vec![(ms(32000), TransactionEvent::Terminated { id })],
        "Timer L"
    );
}

#[test]
fn cancel_finds_its_invite() {
    let mut sim = Sim::new(TimerConfig::default());
    let inv = request(Method::Invite, "z9hG4bKs5");
    let inv_id = new_server(&mut sim, &inv, UDP);
    let cancel = request(Method::Cancel, "z9hG4bKs5");
    match sim.layer.handle_request(sim.t0, &cancel, target(UDP)) {
        RequestAction::New { id, cancels } => {
            assert_ne!(id, inv_id);
            assert_eq!(cancels, Some(inv_id));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn rfc2543_fallback_matches_without_branch() {
    let mut sim = Sim::new(TimerConfig::default());
    let inv = RequestBuilder::new(Method::Invite, "sip:bob@example.com")
        .header("Via", "SIP/2.0/UDP old.example.com")
        .header("From", "<sip:alice@example.com>")
        .header("To", "<sip:bob@example.com>")
        .header("Call-ID", "2543")
        .header("CSeq", "5 INVITE")
        .build();
    let id = new_server(&mut sim, &inv, UDP);
    assert_eq!(
        sim.layer.handle_request(sim.t0, &inv, target(UDP)),
        RequestAction::Retransmission(id)
    );
    let busy = reply(&inv, 486);
    sim.layer.send_response(sim.t0, id, &busy).unwrap();
    let ack = sip_proxy::transaction::ack_for_non2xx(&inv, &busy);
    assert_eq!(
        sim.layer.handle_request(sim.t0, &ack, target(UDP)),
        RequestAction::AckAbsorbed(id)
    );
}

// ---- non-INVITE server (§17.2.2) ----------------------------------------------------

#[test]
fn non_invite_server_absorbs_then_resends_and_timer_j() {
    for (transport, j) in [(UDP, 32_000 + 100), (TCP, 100)] {
        let mut sim = Sim::new(TimerConfig::default());
        let req = request(Method::Options, "z9hG4bKs6");
        let id = new_server(&mut sim, &req, transport);
        assert_eq!(
            sim.layer.handle_request(sim.t0, &req, target(transport)),
            RequestAction::Retransmission(id)
        );
        sim.drain(sim.t0);
        assert!(
            sim.send_times().is_empty(),
            "Trying absorbs retransmissions silently"
        );
        sim.layer
            .send_response(sim.at(ms(100)), id, &reply(&req, 200))
            .unwrap();
        assert_eq!(
            sim.layer
                .handle_request(sim.at(ms(100)), &req, target(transport)),
            RequestAction::Retransmission(id)
        );
        sim.drain(sim.at(ms(100)));
        assert_eq!(
            sim.send_times(),
            times(&[100, 100]),
            "final response re-sent"
        );
        sim.clear();
        sim.run_until(Duration::from_secs(60));
        assert_eq!(
            sim.events(),
            vec![(ms(j), TransactionEvent::Terminated { id })],
            "Timer J"
        );
    }
}

#[test]
fn stray_ack_and_stray_response() {
    let mut sim = Sim::new(TimerConfig::default());
    let ack = request(Method::Ack, "z9hG4bKx9");
    assert_eq!(
        sim.layer.handle_request(sim.t0, &ack, target(UDP)),
        RequestAction::StrayAck
    );
    let inv = request(Method::Invite, "z9hG4bKx9");
    assert_eq!(
        sim.layer.handle_response(sim.t0, &reply(&inv, 200)),
        ResponseAction::Stray
    );
    assert!(sim.layer.send_request(sim.t0, &ack, target(UDP)).is_err());
}

#[test]
fn many_transactions_fire_in_deadline_order() {
    let mut sim = Sim::new(TimerConfig::default());
    let mut ids = Vec::new();
    for n in 0..2000u64 {
        let at = sim.at(ms(n));
        let branch = format!("z9hG4bKmany{n}");
        ids.push(
            sim.layer
                .send_request(at, &request(Method::Options, &branch), target(TCP))
                .unwrap(),
        );
    }
    assert_eq!(sim.layer.len(), 2000);
    assert_eq!(
        sim.layer.poll_timeout(),
        Some(sim.at(ms(32000))),
        "Timer F of the first"
    );
    sim.drain(sim.t0);
    sim.clear();
    sim.run_until(Duration::from_secs(40));
    let timeouts: Vec<(Duration, TransactionEvent)> = sim
        .events()
        .into_iter()
        .filter(|(_, e)| matches!(e, TransactionEvent::Timeout { .. }))
        .collect();
    assert_eq!(timeouts.len(), 2000);
    for (n, (d, e)) in timeouts.iter().enumerate() {
        assert_eq!(*d, ms(32000 + n as u64));
        assert_eq!(
            *e,
            TransactionEvent::Timeout {
                id: ids[n],
                timer: Timer::F
            }
        );
    }
    assert!(sim.layer.is_empty());
    assert_eq!(sim.layer.poll_timeout(), None);
}

// ---- UAS core 2xx retransmission (§13.3.1.4) ----------------------------------------

#[test]
fn uas_2xx_retransmission_schedule_and_give_up() {
    use sip_proxy::transaction::{Uas2xxAction, Uas2xxRetransmit};
    let t0 = Instant::now();
    let mut r = Uas2xxRetransmit::start(t0, &TimerConfig::default());
    let mut resends = Vec::new();
    while let Some(t) = r.poll_timeout() {
        match r.handle_timeout(t) {
            Uas2xxAction::Resend => resends.push(t - t0),
            Uas2xxAction::GiveUp => {
                assert_eq!(t - t0, ms(32000), "64·T1");
                break;
            }
            Uas2xxAction::Wait => panic!("woken for nothing at {:?}", t - t0),
        }
    }
    assert_eq!(
        resends,
        times(&[500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500])
    );
    assert!(!r.is_active());
}

#[test]
fn uas_2xx_retransmission_stops_on_ack() {
    use sip_proxy::transaction::{Uas2xxAction, Uas2xxRetransmit};
    let t0 = Instant::now();
    let mut r = Uas2xxRetransmit::start(t0, &TimerConfig::default());
    assert_eq!(r.handle_timeout(t0 + ms(100)), Uas2xxAction::Wait);
    assert_eq!(r.handle_timeout(t0 + ms(500)), Uas2xxAction::Resend);
    r.on_ack();
    assert_eq!(r.poll_timeout(), None);
    assert_eq!(r.handle_timeout(t0 + ms(40000)), Uas2xxAction::Wait);
}
