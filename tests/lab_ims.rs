//! Lab mode with the default config: SIPp, standing in for a web user, registers to the
//! lab IMS, calls the echo number and gets its RTP back.
//!
//! SIPp drives the signalling; its offer advertises this test's UDP socket as the media
//! address, and this test plays the media side: it reads the echo port SIPp found in the
//! 200 OK's SDP (SIPp logs it), sends RTP there and checks every packet comes back
//! unchanged while the call is up.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod common;

use std::net::UdpSocket;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{ephemeral_config, Gateway};

/// A free local UDP port for SIPp's signalling (SIPp cannot bind port 0).
fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn rtp_packet(seq: u16) -> Vec<u8> {
    let mut p = vec![0x80, 0x00];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    p.extend_from_slice(&0x1234_5678u32.to_be_bytes());
    p.extend((0..160).map(|i| (i as u8) ^ (seq as u8)));
    p
}

/// Waits (at most 20 s) for SIPp's log line with the echo port.
fn echo_port_from_log(dir: &Path) -> u16 {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
            if let Some(rest) = text.split("ECHO_PORT=").nth(1) {
                let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
                if let Ok(port) = digits.parse() {
                    return port;
                }
            }
        }
        assert!(Instant::now() < deadline, "SIPp never logged the echo port");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs SIPp with `scenario` (a file in tests/sipp/) against `lab` from local port `port`.
fn sipp_run(
    lab: std::net::SocketAddr,
    scenario: &str,
    port: u16,
    logs: &Path,
    extra: &[&str],
) -> Child {
    let path = format!("{}/tests/sipp/{scenario}", env!("CARGO_MANIFEST_DIR"));
    Command::new("sipp")
        .arg(lab.to_string())
        .args([
            "-sf",
            &path,
            "-m",
            "1",
            "-nostdin",
            "-i",
            "127.0.0.1",
            "-timeout",
            "60s",
        ])
        .args(["-p", &port.to_string()])
        .args(extra)
        .current_dir(logs)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("sipp is installed (scripts/test.sh installs sip-tester)")
}

/// Starts SIPp on the lab echo scenario; `extra` adds transport or loss options.
fn sipp(
    lab: std::net::SocketAddr,
    rtp_port: u16,
    hold_ms: u32,
    logs: &Path,
    extra: &[&str],
) -> Child {
    let (rtp_port, hold_ms, log_file) = (
        rtp_port.to_string(),
        hold_ms.to_string(),
        logs.join("sipp.log"),
    );
    let log_file = log_file.to_str().expect("temp paths are UTF-8");
    let mut args = vec![
        "-set",
        "rtp_port",
        &rtp_port,
        "-d",
        &hold_ms,
        "-trace_logs",
        "-log_file",
        log_file,
    ];
    args.extend_from_slice(extra);
    sipp_run(lab, "lab_echo_uac.xml", free_udp_port(), logs, &args)
}

fn wait_success(mut child: Child, limit: Duration) {
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "SIPp did not finish within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "the SIPp scenario failed: {status:?}");
}

#[test]
fn sipp_registers_to_the_lab_calls_the_echo_number_and_gets_its_rtp_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut gw = Gateway::start(&ephemeral_config(dir.path(), &[]), &[]);
    let lab = gw.listening("lab_udp");
    let echo = gw.listening("lab_echo_rtp");

    let rtp = UdpSocket::bind("127.0.0.1:0").unwrap();
    rtp.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let logs = tempfile::tempdir().unwrap();
    let child = sipp(
        lab,
        rtp.local_addr().unwrap().port(),
        3000,
        logs.path(),
        &[],
    );

    let port = echo_port_from_log(logs.path());
    assert_eq!(
        port,
        echo.port(),
        "the 200 OK points at the lab's echo socket"
    );
    let mut buf = [0u8; 2048];
    for seq in 1..=20u16 {
        let sent = rtp_packet(seq);
        rtp.send_to(&sent, echo).unwrap();
        let (n, from) = rtp.recv_from(&mut buf).expect("the echo comes back");
        assert_eq!(from, echo);
        assert_eq!(
            &buf[..n],
            sent.as_slice(),
            "packet {seq} comes back unchanged"
        );
    }
    wait_success(child, Duration::from_secs(30));
}

/// SIPp drops a quarter of the messages it sends and receives: REGISTER, INVITE, the
/// 200 OK and BYE are recovered by retransmissions (Timers A/E on SIPp's side, the lab's
/// 2xx retransmission until the ACK), and the call completes.
#[test]
fn a_lab_call_with_packet_loss_completes_over_udp() {
    let dir = tempfile::tempdir().unwrap();
    let mut gw = Gateway::start(&ephemeral_config(dir.path(), &[]), &[]);
    let lab = gw.listening("lab_udp");
    let logs = tempfile::tempdir().unwrap();
    let child = sipp(lab, 40_000, 500, logs.path(), &["-lost", "25"]);
    wait_success(child, Duration::from_secs(60));
}

#[test]
fn a_lab_call_completes_over_tcp() {
    let dir = tempfile::tempdir().unwrap();
    let mut gw = Gateway::start(&ephemeral_config(dir.path(), &[]), &[]);
    let lab = gw.listening("lab_tcp");
    let logs = tempfile::tempdir().unwrap();
    let child = sipp(lab, 40_000, 500, logs.path(), &["-t", "t1"]);
    wait_success(child, Duration::from_secs(30));
}

/// Two web-user stand-ins: the callee registers, then answers (SIPp's built-in UAS on the
/// registered port); the caller calls its number through the lab, which forwards the
/// INVITE, ACK and BYE to the binding and relays the answers.
#[test]
fn two_registered_users_call_each_other_through_the_lab() {
    let dir = tempfile::tempdir().unwrap();
    let mut gw = Gateway::start(&ephemeral_config(dir.path(), &[]), &[]);
    let lab = gw.listening("lab_udp");
    let logs = tempfile::tempdir().unwrap();
    let callee_port = free_udp_port();
    let register = sipp_run(
        lab,
        "lab_register.xml",
        callee_port,
        logs.path(),
        &["-set", "number", "+15550002"],
    );
    wait_success(register, Duration::from_secs(30));

    let uas = Command::new("sipp")
        .args([
            "-sn",
            "uas",
            "-m",
            "1",
            "-nostdin",
            "-i",
            "127.0.0.1",
            "-timeout",
            "30s",
        ])
        .args(["-p", &callee_port.to_string()])
        .current_dir(logs.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // The UAS must be listening before the INVITE is forwarded: wait for its socket.
    let deadline = Instant::now() + Duration::from_secs(10);
    while UdpSocket::bind(("127.0.0.1", callee_port)).is_ok() {
        assert!(
            Instant::now() < deadline,
            "the SIPp UAS did not bind its port"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let caller = sipp_run(
        lab,
        "lab_call_uac.xml",
        free_udp_port(),
        logs.path(),
        &["-set", "callee", "+15550002", "-d", "500"],
    );
    wait_success(caller, Duration::from_secs(30));
    wait_success(uas, Duration::from_secs(30));
    let _ = &mut gw;
}
