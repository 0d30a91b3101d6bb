//! SIP over TLS on the running binary: OPTIONS answered through a verified TLS session;
//! a client that cannot complete the handshake is closed and counted; a bad certificate
//! file is a config error before anything listens.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use common::{ephemeral_config, parse_exposition, Gateway};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::rustls;

/// A self-signed certificate for 127.0.0.1 / localhost, written as PEM files.
fn certificate(dir: &Path) -> (String, String, rustls::pki_types::CertificateDer<'static>) {
    let key = rcgen::KeyPair::generate().unwrap();
    let params =
        rcgen::CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let cert = params.self_signed(&key).unwrap();
    let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    (
        cert_path.display().to_string(),
        key_path.display().to_string(),
        cert.der().clone(),
    )
}

fn tls_config(dir: &Path, cert: &str, key: &str) -> std::path::PathBuf {
    // The same certificate doubles as the CA the gateway trusts toward its next hop.
    let tls = format!("tls_verify = true\ntls_listen = \"127.0.0.1:0\"\ntls_cert = \"{cert}\"\ntls_key = \"{key}\"\ntls_ca = \"{cert}\"");
    ephemeral_config(dir, &[("tls_verify = true", &tls)])
}

/// Scrapes one labelled counter, waiting (at most 5 s) until it reaches `want`.
fn wait_for_counter(gw: &Gateway, name: &str, label: (&str, &str), want: f64) {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let mut s = TcpStream::connect(gw.admin).unwrap();
        write!(
            s,
            "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        let value: f64 = parse_exposition(out.split_once("\r\n\r\n").unwrap().1)
            .into_iter()
            .filter(|(n, l, _)| n == name && l.iter().any(|(k, v)| k == label.0 && v == label.1))
            .map(|(_, _, v)| v)
            .sum();
        if value == want {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{name} stayed at {value}, wanted {want}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn options_over_verified_tls_and_a_failed_handshake_is_counted() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, der) = certificate(dir.path());
    let mut gw = Gateway::start(&tls_config(dir.path(), &cert, &key), &[]);
    let tls_addr = gw.listening("sip_tls");

    let mut roots = rustls::RootCertStore::empty();
    roots.add(der).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let client = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client));
    let tcp = tokio::net::TcpStream::connect(tls_addr).await.unwrap();
    let local = tcp.local_addr().unwrap();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let mut tls = connector
        .connect(name, tcp)
        .await
        .expect("the certificate verifies");
    let options = format!(
        "OPTIONS sip:rtcgate@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TLS {local};branch=z9hG4bKtls1\r\n\
         Max-Forwards: 70\r\nTo: <sip:rtcgate@127.0.0.1>\r\nFrom: <sip:probe@127.0.0.1>;tag=t1\r\n\
         Call-ID: tls1@probe\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    );
    tls.write_all(options.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), tls.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let resp = String::from_utf8_lossy(&buf[..n]);
    assert!(resp.starts_with("SIP/2.0 200 OK\r\n"), "{resp}");

    // Plain SIP sent to the TLS port is not a ClientHello: the gateway closes the stream.
    let mut plain = TcpStream::connect(tls_addr).unwrap();
    plain
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    plain.write_all(options.as_bytes()).unwrap();
    let mut sink = Vec::new();
    let _ = plain.read_to_end(&mut sink);
    // The counter moves when the gateway gives up on the handshake, which may be a moment
    // after the client saw the close.
    wait_for_counter(
        &gw,
        "rtcgate_sip_tcp_connections_closed_total",
        ("reason", "handshake"),
        1.0,
    );
    let _ = &mut gw;
}

#[test]
fn an_unreadable_certificate_is_a_config_error_before_anything_listens() {
    let dir = tempfile::tempdir().unwrap();
    let config = tls_config(dir.path(), "/nonexistent/cert.pem", "/nonexistent/key.pem");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rtcgate"))
        .args(["run", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("sip.tls_cert") && stderr.contains("/nonexistent/cert.pem"),
        "{stderr}"
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("listening"));
}

#[test]
fn an_unreadable_next_hop_ca_is_a_config_error_before_anything_listens() {
    let dir = tempfile::tempdir().unwrap();
    let config = ephemeral_config(
        dir.path(),
        &[(
            "tls_verify = true",
            "tls_verify = true\ntls_ca = \"/nonexistent/ca.pem\"",
        )],
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rtcgate"))
        .args(["run", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("sip.tls_ca") && stderr.contains("/nonexistent/ca.pem"),
        "{stderr}"
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("listening"));
}
