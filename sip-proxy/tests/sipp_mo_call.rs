//! A call the gateway places toward IMS, over the real transport, answered by SIPp as the
//! far-end phone with a reliable 183 (PRACK), 180 and 200, then hung up by the far end.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::net::{SocketAddr, UdpSocket};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sip_proxy::call::{
    CallCore, CallCoreConfig, CallEvent, CallId, CamaraStatus, Command as CallCommand,
    IdentityHeader,
};
use sip_proxy::endpoint::EndpointConfig;
use sip_proxy::gateway::{GatewayCommand, GatewayEvent, GatewayUser};
use sip_proxy::media::RecordingMedia;
use sip_proxy::transaction::{Target, Transport};
use sip_proxy::transport::{start, TransportConfig};
use tokio::sync::watch;

const CHROME_OFFER: &str = include_str!("data/sdp/chrome_offer.sdp");

/// Runs one outgoing call against SIPp playing `scenario` as the far end; returns the
/// CAMARA statuses (with reasons) the web side saw until the call ended.
async fn call_far_end(
    scenario: &str,
    transport: Transport,
    extra: &[&str],
) -> Vec<(CamaraStatus, Option<String>, bool)> {
    let port = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let logs = tempfile::tempdir().unwrap();
    let scenario = format!("{}/tests/sipp/{scenario}", env!("CARGO_MANIFEST_DIR"));
    let mut sipp = Command::new("sipp")
        .args([
            "-sf",
            &scenario,
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
        .args(extra)
        .current_dir(logs.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("sipp is installed (scripts/test.sh installs sip-tester)");
    let deadline = Instant::now() + Duration::from_secs(10);
    let bound = || match transport {
        Transport::Udp => UdpSocket::bind(("127.0.0.1", port)).is_err(),
        _ => std::net::TcpListener::bind(("127.0.0.1", port)).is_err(),
    };
    while !bound() {
        assert!(Instant::now() < deadline, "SIPp did not bind its port");
        std::thread::sleep(Duration::from_millis(20));
    }

    let far = Target {
        transport: Transport::Udp,
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
    };
    let cfg = TransportConfig {
        udp: Some("127.0.0.1:0".parse().unwrap()),
        tcp: None,
        tls: None,
        max_message_bytes: 65_535,
        max_tcp_connections: 16,
        tcp_idle_timeout: Duration::from_secs(30),
        endpoint: EndpointConfig::default(),
    };
    let (_, draining) = watch::channel(false);
    let make = |bound: &sip_proxy::transport::SipListeners| {
        let core_cfg = CallCoreConfig {
            next_hop: far,
            local_host: bound.udp.unwrap().to_string(),
            domain: "ims.test".into(),
            identity: IdentityHeader::Preferred,
            access_network_info: None,
            session_expires: 1800,
            timers: Default::default(),
        };
        GatewayUser::new(CallCore::new(core_cfg, RecordingMedia::srtp(), 3), None)
    };
    let (_, mut ch) = start(cfg, draining, 4, make).await.unwrap();
    let originate = CallCommand::Originate {
        call: CallId(1),
        from: "+15550001".into(),
        to: "+15550100".into(),
        offer: CHROME_OFFER.into(),
    };
    ch.commands
        .send(GatewayCommand::Call {
            id: 1,
            command: originate,
        })
        .await
        .unwrap();

    let mut statuses = Vec::new();
    loop {
        let ev = tokio::time::timeout(Duration::from_secs(15), ch.events.recv())
            .await
            .unwrap()
            .unwrap();
        match ev {
            GatewayEvent::CallResult { result, .. } => result.unwrap(),
            GatewayEvent::Call(CallEvent::Status {
                status,
                reason,
                sdp,
                ..
            }) => {
                statuses.push((status, reason, sdp.is_some()));
                if status.is_final() {
                    break;
                }
            }
            other => panic!("{other:?}"),
        }
    }

    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = sipp.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "SIPp did not finish");
        std::thread::sleep(Duration::from_millis(50));
    };
    let errors: String = std::fs::read_dir(logs.path())
        .unwrap()
        .flatten()
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .collect();
    assert!(
        status.success(),
        "the SIPp far end failed: {status:?}\n{errors}"
    );
    statuses
}

#[tokio::test]
async fn sipp_far_end_answers_with_100rel_and_hangs_up() {
    let statuses = call_far_end("mo_uas_100rel.xml", Transport::Udp, &[]).await;
    let names: Vec<CamaraStatus> = statuses.iter().map(|s| s.0).collect();
    assert_eq!(
        names,
        vec![
            CamaraStatus::InProgress,
            CamaraStatus::Ringing,
            CamaraStatus::Connected,
            CamaraStatus::Terminated
        ]
    );
    assert!(
        statuses[0].2,
        "the browser's answer arrives with InProgress (early media)"
    );
    assert_eq!(statuses[3].1.as_deref(), Some("remote hangup"));
}

#[tokio::test]
async fn a_busy_far_end_gives_busy() {
    let statuses = call_far_end("mo_uas_486.xml", Transport::Udp, &[]).await;
    assert_eq!(
        statuses,
        vec![(CamaraStatus::Busy, Some("SIP 486".into()), false)]
    );
}
