//! The SIP listeners of the running binary: OPTIONS, malformed input, drain, TCP framing.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::Duration;

use common::{ephemeral_config, parse_exposition, Gateway};

fn request(method: &str, branch: &str, transport: &str, local: SocketAddr) -> String {
    format!(
        "{method} sip:rtcgate@127.0.0.1 SIP/2.0\r\n\
         Via: SIP/2.0/{transport} {local};branch=z9hG4bK{branch};rport\r\n\
         Max-Forwards: 70\r\n\
         To: <sip:rtcgate@127.0.0.1>\r\n\
         From: <sip:probe@127.0.0.1>;tag=p{branch}\r\n\
         Call-ID: {branch}@probe\r\n\
         CSeq: 1 {method}\r\n\
         Content-Length: 0\r\n\r\n"
    )
}

fn udp_client() -> UdpSocket {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s
}

/// Reads datagrams until a final response arrives (skipping 100 Trying).
fn final_udp(s: &UdpSocket) -> String {
    let mut buf = [0u8; 65536];
    loop {
        let (n, _) = s.recv_from(&mut buf).expect("a response within 5 s");
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        if !text.starts_with("SIP/2.0 1") {
            return text;
        }
    }
}

fn metric(gw: &Gateway, name: &str, labels: &[(&str, &str)]) -> f64 {
    let body = http_get(&gw.url(gw.admin, "/metrics"));
    parse_exposition(&body)
        .into_iter()
        .filter(|(n, l, _)| {
            n == name
                && labels
                    .iter()
                    .all(|(k, v)| l.iter().any(|(lk, lv)| lk == k && lv == v))
        })
        .map(|(_, _, v)| v)
        .sum()
}

/// A tiny blocking GET over std TCP, so these tests need no async runtime.
fn http_get(url: &str) -> String {
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_once('/').unwrap();
    let mut s = TcpStream::connect(host).unwrap();
    write!(
        s,
        "GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default()
}

#[test]
fn options_is_answered_over_udp_and_tcp() {
    let dir = tempfile::tempdir().unwrap();
    let gw = Gateway::start(&ephemeral_config(dir.path(), &[]), &[]);

    let udp = udp_client();
    let local = udp.local_addr().unwrap();
    udp.send_to(
        request("OPTIONS", "opt1", "UDP", local).as_bytes(),
        gw.sip_udp,
    )
    .unwrap();
    let resp = final_udp(&udp);
    assert!(resp.starts_with("SIP/2.0 200 OK\r\n"), "{resp}");
    assert!(resp.contains("Allow: INVITE"), "{resp}");
    assert!(resp.contains("Accept: application/sdp"), "{resp}");

    let mut tcp = TcpStream::connect(gw.sip_tcp).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let local = tcp.local_addr().unwrap();
    tcp.write_all(request("OPTIONS", "opt2", "TCP", local).as_bytes())
        .unwrap();
    let mut buf = [0u8; 4096];
    let n = tcp.read(&mut buf).unwrap();
    let resp = String::from_utf8_lossy(&buf[..n]);
    assert!(resp.starts_with("SIP/2.0 200 OK\r\n"), "{resp}");
}

#[test]
fn malformed_input_is_answered_or_dropped_counted_and_the_listener_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let gw = Gateway::start(&ephemeral_config(dir.path(), &[]), &[]);
    let udp = udp_client();
    let local = udp.local_addr().unwrap();

    let bad_cseq =
        request("OPTIONS", "bad1", "UDP", local).replace("CSeq: 1 OPTIONS", "CSeq: one OPTIONS");
    udp.send_to(bad_cseq.as_bytes(), gw.sip_udp).unwrap();
    let resp = final_udp(&udp);
    assert!(resp.starts_with("SIP/2.0 400 "), "{resp}");

    let bad_version =
        request("OPTIONS", "bad2", "UDP", local).replace("SIP/2.0\r\n", "SIP/3.0\r\n");
    udp.send_to(bad_version.as_bytes(), gw.sip_udp).unwrap();
    assert!(final_udp(&udp).starts_with("SIP/2.0 505 "));

    // Junk with no Via cannot be answered: it is dropped, silently.
    udp.send_to(b"\x00\x01\x02 definitely not SIP", gw.sip_udp)
        .unwrap();

    // And the listener still serves.
    udp.send_to(
        request("OPTIONS", "good", "UDP", local).as_bytes(),
        gw.sip_udp,
    )
    .unwrap();
    assert!(final_udp(&udp).starts_with("SIP/2.0 200 "));

    let by = |outcome| {
        metric(
            &gw,
            "rtcgate_sip_malformed_total",
            &[("transport", "udp"), ("outcome", outcome)],
        )
    };
    assert_eq!(by("answered_400"), 1.0);
    assert_eq!(by("answered_505"), 1.0);
    assert_eq!(
        by("dropped"),
        1.0,
        "the junk was counted before the good OPTIONS was answered"
    );
}

#[test]
fn unframeable_tcp_stream_is_closed_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let gw = Gateway::start(&ephemeral_config(dir.path(), &[]), &[]);
    let mut tcp = TcpStream::connect(gw.sip_tcp).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let local = tcp.local_addr().unwrap();
    let no_length = request("OPTIONS", "t1", "TCP", local).replace("Content-Length: 0\r\n", "");
    tcp.write_all(no_length.as_bytes()).unwrap();
    let mut buf = [0u8; 64];
    assert_eq!(
        tcp.read(&mut buf).unwrap(),
        0,
        "the gateway closes the connection"
    );
    assert_eq!(
        metric(
            &gw,
            "rtcgate_sip_malformed_total",
            &[("transport", "tcp"), ("outcome", "framing")]
        ),
        1.0
    );
}

#[test]
fn draining_node_answers_new_sip_work_with_503_and_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    let config = ephemeral_config(
        dir.path(),
        &[("drain_linger_secs = 5", "drain_linger_secs = 30")],
    );
    let gw = Gateway::start(&config, &[]);
    let drained = {
        let mut s = TcpStream::connect(gw.admin).unwrap();
        write!(s, "POST /admin/drain HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    };
    assert!(drained.starts_with("HTTP/1.1 202"), "{drained}");

    let udp = udp_client();
    let local = udp.local_addr().unwrap();
    for (i, method) in ["INVITE", "REGISTER", "OPTIONS"].iter().enumerate() {
        udp.send_to(
            request(method, &format!("drain{i}"), "UDP", local).as_bytes(),
            gw.sip_udp,
        )
        .unwrap();
        let resp = final_udp(&udp);
        assert!(resp.starts_with("SIP/2.0 503 "), "{method}: {resp}");
        assert!(resp.contains("\r\nRetry-After: 30\r\n"), "{method}: {resp}");
    }
}
