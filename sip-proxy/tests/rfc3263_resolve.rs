//! RFC 3263 server location against a scripted DNS: NAPTR → SRV → A/AAAA ordering,
//! fallbacks, sips, explicit transports and ports, RFC 2782 weights.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::collections::HashMap;
use std::net::IpAddr;

use sip_proxy::resolve::{static_target, Naptr, NextHop, Query, Resolution, Srv};
use sip_proxy::transaction::{Target, Transport};

#[derive(Default)]
struct Dns {
    naptr: HashMap<String, Vec<Naptr>>,
    srv: HashMap<String, Vec<Srv>>,
    addrs: HashMap<String, Vec<IpAddr>>,
    asked: Vec<Query>,
}

impl Dns {
    fn naptr(
        mut self,
        name: &str,
        order: u16,
        pref: u16,
        service: &str,
        replacement: &str,
    ) -> Self {
        let r = Naptr {
            order,
            preference: pref,
            flags: "s".into(),
            service: service.into(),
            replacement: replacement.into(),
        };
        self.naptr.entry(name.into()).or_default().push(r);
        self
    }
    fn srv(mut self, name: &str, priority: u16, weight: u16, port: u16, target: &str) -> Self {
        self.srv.entry(name.into()).or_default().push(Srv {
            priority,
            weight,
            port,
            target: target.into(),
        });
        self
    }
    fn a(mut self, host: &str, ip: &str) -> Self {
        self.addrs
            .entry(host.into())
            .or_default()
            .push(ip.parse().unwrap());
        self
    }

    /// Runs a resolution to its end, answering every query.
    fn resolve(&mut self, hop: &str, random: u64) -> Vec<Target> {
        let mut r = Resolution::new(NextHop::parse(hop).unwrap(), random);
        while let Some(q) = r.poll_query() {
            self.asked.push(q.clone());
            match &q {
                Query::Naptr(name) => {
                    r.answer_naptr(self.naptr.get(name).cloned().unwrap_or_default())
                }
                Query::Srv(name) => r.answer_srv(self.srv.get(name).cloned().unwrap_or_default()),
                Query::Addr(host) => {
                    r.answer_addrs(&q, self.addrs.get(host).cloned().unwrap_or_default())
                }
            }
        }
        assert!(r.is_done());
        r.targets()
    }
}

fn t(transport: Transport, addr: &str) -> Target {
    Target {
        transport,
        addr: addr.parse().unwrap(),
    }
}

#[test]
fn next_hops_parse() {
    let hop = NextHop::parse("sip:pcscf.ims.example.net;transport=tcp").unwrap();
    assert_eq!(
        (hop.host.as_str(), hop.port, hop.transport, hop.secure),
        ("pcscf.ims.example.net", None, Some(Transport::Tcp), false)
    );
    let hop = NextHop::parse("sips:[2001:db8::1]:5071").unwrap();
    assert_eq!(
        (hop.host.as_str(), hop.port, hop.secure),
        ("2001:db8::1", Some(5071), true)
    );
    let hop = NextHop::parse("192.0.2.5:5080").unwrap();
    assert_eq!((hop.host.as_str(), hop.port), ("192.0.2.5", Some(5080)));
    assert!(NextHop::parse("sip:host:notaport").is_none());
    assert_eq!(
        static_target(&NextHop::parse("127.0.0.1").unwrap()),
        Some(t(Transport::Udp, "127.0.0.1:5060"))
    );
    assert_eq!(
        static_target(&NextHop::parse("sips:127.0.0.1").unwrap()),
        Some(t(Transport::Tls, "127.0.0.1:5061"))
    );
}

#[test]
fn numeric_host_or_explicit_port_skips_naptr_and_srv() {
    let mut dns = Dns::default().a("pcscf.example.net", "192.0.2.9");
    assert_eq!(
        dns.resolve("sip:192.0.2.1:5080", 1),
        vec![t(Transport::Udp, "192.0.2.1:5080")]
    );
    assert_eq!(
        dns.resolve("sip:pcscf.example.net:5070;transport=tcp", 1),
        vec![t(Transport::Tcp, "192.0.2.9:5070")]
    );
    assert_eq!(
        dns.asked,
        vec![Query::Addr("pcscf.example.net".into())],
        "§4.2: only an address lookup"
    );
}

#[test]
fn naptr_order_comes_before_srv_priority() {
    let mut dns = Dns::default()
        .naptr(
            "ims.example.net",
            20,
            10,
            "SIP+D2U",
            "_sip._udp.ims.example.net",
        )
        .naptr(
            "ims.example.net",
            10,
            10,
            "SIP+D2T",
            "_sip._tcp.ims.example.net",
        )
        .naptr(
            "ims.example.net",
            10,
            20,
            "SIP+D2X",
            "_sip._x.ims.example.net",
        )
        .srv(
            "_sip._tcp.ims.example.net",
            20,
            0,
            5060,
            "tcp2.ims.example.net",
        )
        .srv(
            "_sip._tcp.ims.example.net",
            10,
            0,
            5060,
            "tcp1.ims.example.net",
        )
        .srv(
            "_sip._udp.ims.example.net",
            0,
            0,
            5062,
            "udp1.ims.example.net",
        )
        .a("tcp1.ims.example.net", "192.0.2.11")
        .a("tcp2.ims.example.net", "192.0.2.12")
        .a("udp1.ims.example.net", "192.0.2.13")
        .a("udp1.ims.example.net", "2001:db8::13");
    let targets = dns.resolve("sip:ims.example.net", 7);
    assert_eq!(
        targets,
        vec![
            t(Transport::Tcp, "192.0.2.11:5060"),
            t(Transport::Tcp, "192.0.2.12:5060"),
            t(Transport::Udp, "192.0.2.13:5062"),
            t(Transport::Udp, "[2001:db8::13]:5062"),
        ],
        "TCP (NAPTR order 10) before UDP (order 20) even though the UDP SRV has priority 0; unknown services ignored"
    );
}

#[test]
fn without_naptr_the_srv_fallbacks_are_tried_and_without_srv_the_host() {
    let mut dns = Dns::default()
        .srv("_sip._udp.ims.example.net", 0, 0, 5064, "ims.example.net")
        .a("ims.example.net", "192.0.2.20");
    assert_eq!(
        dns.resolve("sip:ims.example.net", 1),
        vec![t(Transport::Udp, "192.0.2.20:5064")]
    );
    assert_eq!(
        dns.asked[..4],
        [
            Query::Naptr("ims.example.net".into()),
            Query::Srv("_sips._tcp.ims.example.net".into()),
            Query::Srv("_sip._tcp.ims.example.net".into()),
            Query::Srv("_sip._udp.ims.example.net".into()),
        ]
    );

    let mut dns = Dns::default().a("bare.example.net", "192.0.2.21");
    assert_eq!(
        dns.resolve("sip:bare.example.net", 1),
        vec![t(Transport::Udp, "192.0.2.21:5060")]
    );
    let mut dns = Dns::default().a("bare.example.net", "192.0.2.21");
    assert_eq!(
        dns.resolve("sips:bare.example.net", 1),
        vec![t(Transport::Tls, "192.0.2.21:5061")]
    );
}

#[test]
fn sips_uses_tls_records_only_and_a_dot_target_means_no_service() {
    let mut dns = Dns::default()
        .naptr(
            "ims.example.net",
            10,
            10,
            "SIP+D2U",
            "_sip._udp.ims.example.net",
        )
        .naptr(
            "ims.example.net",
            20,
            10,
            "SIPS+D2T",
            "_sips._tcp.ims.example.net",
        )
        .srv(
            "_sips._tcp.ims.example.net",
            0,
            0,
            5061,
            "tls.ims.example.net",
        )
        .a("tls.ims.example.net", "192.0.2.30");
    assert_eq!(
        dns.resolve("sips:ims.example.net", 1),
        vec![t(Transport::Tls, "192.0.2.30:5061")]
    );

    let mut dns = Dns::default()
        .srv("_sip._tcp.nosip.example.net", 0, 0, 0, ".")
        .a("nosip.example.net", "192.0.2.31");
    assert_eq!(
        dns.resolve("sip:nosip.example.net;transport=tcp", 1),
        vec![t(Transport::Tcp, "192.0.2.31:5060")]
    );
}

#[test]
fn srv_weights_share_the_first_choice_as_rfc_2782_asks() {
    let dns = Dns::default()
        .srv("_sip._udp.w.example.net", 10, 60, 5060, "heavy.example.net")
        .srv("_sip._udp.w.example.net", 10, 20, 5060, "light.example.net")
        .srv(
            "_sip._udp.w.example.net",
            10,
            20,
            5060,
            "light2.example.net",
        )
        .a("heavy.example.net", "192.0.2.40")
        .a("light.example.net", "192.0.2.41")
        .a("light2.example.net", "192.0.2.42");
    let heavy_first = (1..=2000u64)
        .filter(|seed| {
            let mut dns = Dns {
                naptr: HashMap::new(),
                srv: dns.srv.clone(),
                addrs: dns.addrs.clone(),
                asked: Vec::new(),
            };
            let targets = dns.resolve(
                "sip:w.example.net;transport=udp",
                seed.wrapping_mul(0x9E37_79B9_7F4A_7C15),
            );
            assert_eq!(targets.len(), 3, "every record is tried once");
            targets[0].addr.ip().to_string() == "192.0.2.40"
        })
        .count();
    // 60 % expected; 2000 draws keep a deterministic run well inside ±6 points.
    assert!(
        (1080..=1320).contains(&heavy_first),
        "heavy first {heavy_first} of 2000"
    );
}
