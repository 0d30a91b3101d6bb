//! RFC 3263 resolution through hickory against a real DNS server (dnsmasq, started by the
//! test on a free loopback port; scripts/test.sh installs it).

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::net::{SocketAddr, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sip_proxy::resolve::NextHop;
use sip_proxy::transaction::{Target, Transport};
use sip_proxy::transport::DnsResolver;

/// dnsmasq serving the records of a small IMS zone; killed on drop.
struct Dnsmasq(Child, SocketAddr);

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn dnsmasq() -> Dnsmasq {
    let port = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("dnsmasq")
        .args([
            "-d",
            "--no-resolv",
            "--no-hosts",
            "--bind-interfaces",
            "--listen-address=127.0.0.1",
            "--user=root",
        ])
        .arg(format!("--port={port}"))
        .args([
            "--naptr-record=ims.test,20,10,S,SIP+D2U,,_sip._udp.ims.test",
            "--naptr-record=ims.test,10,10,S,SIP+D2T,,_sip._tcp.ims.test",
            "--srv-host=_sip._tcp.ims.test,pcscf1.ims.test,5060,10,0",
            "--srv-host=_sip._tcp.ims.test,pcscf3.ims.test,5060,20,0",
            "--srv-host=_sip._udp.ims.test,pcscf2.ims.test,5062,0,0",
            "--host-record=pcscf1.ims.test,127.0.0.11",
            "--host-record=pcscf2.ims.test,127.0.0.12",
            "--host-record=pcscf3.ims.test,127.0.0.13",
            "--srv-host=_sip._udp.trunk.test,ibcf.trunk.test,5070,0,0",
            "--host-record=ibcf.trunk.test,127.0.0.20",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("dnsmasq is installed (scripts/test.sh installs dnsmasq-base)");
    let server = SocketAddr::from(([127, 0, 0, 1], port));
    wait_until_answering(server);
    Dnsmasq(child, server)
}

/// Waits (at most 10 s) until the server answers a query on its port.
fn wait_until_answering(server: SocketAddr) {
    // A minimal A query for "x." (RFC 1035 §4.1): any answer, even NXDOMAIN, means up.
    let query = [
        0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, b'x', 0, 0, 1, 0, 1,
    ];
    let probe = UdpSocket::bind("127.0.0.1:0").unwrap();
    probe
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut buf = [0u8; 512];
    loop {
        probe.send_to(&query, server).unwrap();
        if probe.recv_from(&mut buf).is_ok() {
            return;
        }
        assert!(Instant::now() < deadline, "dnsmasq did not start");
    }
}

fn t(transport: Transport, addr: &str) -> Target {
    Target {
        transport,
        addr: addr.parse().unwrap(),
    }
}

#[tokio::test]
async fn naptr_srv_and_a_records_give_the_failover_list() {
    let dns = dnsmasq();
    let resolver = DnsResolver::with_server(dns.1);
    let targets = resolver
        .resolve(NextHop::parse("sip:ims.test").unwrap(), 1)
        .await;
    assert_eq!(
        targets,
        vec![
            t(Transport::Tcp, "127.0.0.11:5060"),
            t(Transport::Tcp, "127.0.0.13:5060"),
            t(Transport::Udp, "127.0.0.12:5062"),
        ],
        "NAPTR order (TCP before UDP), then SRV priority within TCP"
    );

    // No NAPTR: the SRV fallbacks find the UDP service.
    let targets = resolver
        .resolve(NextHop::parse("sip:trunk.test").unwrap(), 1)
        .await;
    assert_eq!(targets, vec![t(Transport::Udp, "127.0.0.20:5070")]);

    // A name with no records at all resolves to nothing (the caller reports it).
    let targets = resolver
        .resolve(NextHop::parse("sip:nothing.test").unwrap(), 1)
        .await;
    assert!(targets.is_empty());
}
