//! Shared by the tests that run SIPp against the stack: starting SIPp on a free port,
//! waiting for it, the transport settings of the stack under test.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)] // each test file uses a part

use std::net::{SocketAddr, TcpListener, UdpSocket};
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

/// Waits (at most 10 s) until something listens on TCP `port` (binding it fails).
pub fn wait_listening_tcp(port: u16) -> SocketAddr {
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpListener::bind(("127.0.0.1", port)).is_ok() {
        assert!(
            Instant::now() < deadline,
            "nothing listens on TCP port {port}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// Kills the child when dropped (stunnel runs until told to stop).
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts stunnel as a TLS server for `ims.test` (a certificate made here, its own CA)
/// forwarding to SIPp on TCP `sipp_port`, and waits for both to listen. Returns stunnel,
/// its TLS address and the gateway's client settings that trust that certificate.
pub fn stunnel_in_front_of(
    sipp_port: u16,
    dir: &Path,
) -> (KillOnDrop, SocketAddr, sip_proxy::transport::TlsClient) {
    wait_listening_tcp(sipp_port);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["ims.test".into()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let (cert_path, key_path) = (dir.join("ims.pem"), dir.join("ims.key"));
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    let tls_port = free_tcp_port();
    let conf = dir.join("stunnel.conf");
    std::fs::write(
        &conf,
        format!(
            "foreground = yes\npid =\noutput = {}\n[sip]\naccept = 127.0.0.1:{tls_port}\n\
             connect = 127.0.0.1:{sipp_port}\ncert = {}\nkey = {}\n",
            dir.join("stunnel.log").display(),
            cert_path.display(),
            key_path.display()
        ),
    )
    .unwrap();
    let child = Command::new("stunnel")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("stunnel is installed (scripts/test.sh installs stunnel4)");
    let child = KillOnDrop(child);
    let addr = wait_listening_tcp(tls_port);
    let config = sip_proxy::transport::tls::client_config(&cert_path, None).unwrap();
    let client = sip_proxy::transport::TlsClient {
        config,
        server_name: "ims.test".into(),
    };
    (child, addr, client)
}

/// A free local TCP port.
pub fn free_tcp_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
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
