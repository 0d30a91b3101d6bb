//! Shared by the tests that run SIPp against the stack: starting SIPp on a free port,
//! waiting for it, the transport settings of the stack under test.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)] // each test file uses a part

use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sip_proxy::endpoint::EndpointConfig;
use sip_proxy::transport::TransportConfig;

/// A free local UDP port (SIPp cannot bind port 0).
pub fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts SIPp with `scenario` (a file in sip-proxy/tests/sipp/) on local UDP port `port`,
/// writing its logs into `logs`; `args` come before the common options (a remote
/// address, for a UAC).
pub fn spawn(scenario: &str, port: u16, logs: &Path, args: &[&str]) -> Child {
    let path = format!("{}/tests/sipp/{scenario}", env!("CARGO_MANIFEST_DIR"));
    Command::new("sipp")
        .args(args)
        .args([
            "-sf",
            &path,
            "-m",
            "1",
            "-nostdin",
            "-i",
            "127.0.0.1",
            "-timeout",
            "20s",
            "-trace_err",
        ])
        .args(["-p", &port.to_string()])
        .current_dir(logs)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("sipp is installed (scripts/test.sh installs sip-tester)")
}

/// Waits (at most 10 s) until SIPp has bound its UDP port; returns the address.
pub fn wait_bound(port: u16) -> SocketAddr {
    let deadline = Instant::now() + Duration::from_secs(10);
    while UdpSocket::bind(("127.0.0.1", port)).is_ok() {
        assert!(Instant::now() < deadline, "SIPp did not bind its port");
        std::thread::sleep(Duration::from_millis(20));
    }
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// Waits (at most 20 s) for SIPp to finish and asserts its scenario succeeded, showing
/// its error log otherwise.
pub fn wait_success(mut child: Child, logs: &Path) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "SIPp did not finish");
        std::thread::sleep(Duration::from_millis(50));
    };
    let errors: String = std::fs::read_dir(logs)
        .unwrap()
        .flatten()
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .collect();
    assert!(
        status.success(),
        "the SIPp scenario failed: {status:?}\n{errors}"
    );
}

/// The stack under test: UDP on an ephemeral loopback port.
pub fn transport_config() -> TransportConfig {
    TransportConfig {
        udp: Some("127.0.0.1:0".parse().unwrap()),
        tcp: None,
        tls: None,
        tls_client: None,
        max_message_bytes: 65_535,
        max_tcp_connections: 16,
        tcp_idle_timeout: Duration::from_secs(30),
        endpoint: EndpointConfig::default(),
    }
}
