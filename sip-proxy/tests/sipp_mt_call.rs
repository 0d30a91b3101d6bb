//! A call from the IMS side to a web user, over the real transport: SIPp as the caller
//! (SDES offer, session timer), the web side answering through commands, then a hold
//! re-INVITE, a session-refresh UPDATE and BYE from SIPp.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::net::UdpSocket;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sip_proxy::call::{
    CallCore, CallCoreConfig, CallEvent, CamaraStatus, Command as CallCommand, IdentityHeader,
};
use sip_proxy::endpoint::EndpointConfig;
use sip_proxy::gateway::{GatewayCommand, GatewayEvent, GatewayUser};
use sip_proxy::media::RecordingMedia;
use sip_proxy::transaction::{Target, Transport};
use sip_proxy::transport::{start, TransportConfig};
use tokio::sync::watch;

const CHROME_ANSWER: &str = include_str!("data/sdp/chrome_answer.sdp");

async fn next_event(
    ch: &mut sip_proxy::transport::UserChannels<GatewayUser<RecordingMedia>>,
) -> GatewayEvent {
    tokio::time::timeout(Duration::from_secs(15), ch.events.recv())
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn sipp_calls_a_web_user_holds_refreshes_and_hangs_up() {
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
        let local_host = bound.udp.unwrap().to_string();
        let core_cfg = CallCoreConfig {
            next_hop: Target {
                transport: Transport::Udp,
                addr: "127.0.0.1:9".parse().unwrap(),
            },
            local_host,
            domain: "ims.test".into(),
            identity: IdentityHeader::Asserted,
            access_network_info: None,
            session_expires: 1800,
            timers: Default::default(),
        };
        GatewayUser::new(CallCore::new(core_cfg, RecordingMedia::srtp(), 5), None)
    };
    let (bound, mut ch) = start(cfg, draining, 6, make).await.unwrap();
    ch.commands
        .send(GatewayCommand::AddUser("+15550001".into()))
        .await
        .unwrap();

    let logs = tempfile::tempdir().unwrap();
    let port = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let scenario = format!(
        "{}/tests/sipp/mt_uac_hold_refresh.xml",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut sipp = Command::new("sipp")
        .arg(bound.udp.unwrap().to_string())
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
        .current_dir(logs.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("sipp is installed (scripts/test.sh installs sip-tester)");

    let call = match next_event(&mut ch).await {
        GatewayEvent::Call(CallEvent::Incoming {
            call,
            from,
            to,
            offer,
        }) => {
            assert_eq!((from.as_str(), to.as_str()), ("+15557777", "+15550001"));
            assert!(offer.contains("UDP/TLS/RTP/SAVPF 8 101"), "{offer}");
            call
        }
        other => panic!("{other:?}"),
    };
    ch.commands
        .send(GatewayCommand::Call {
            id: 1,
            command: CallCommand::Ringing { call },
        })
        .await
        .unwrap();
    ch.commands
        .send(GatewayCommand::Call {
            id: 2,
            command: CallCommand::Answer {
                call,
                sdp: CHROME_ANSWER.into(),
            },
        })
        .await
        .unwrap();

    let mut statuses = Vec::new();
    while statuses.last() != Some(&CamaraStatus::Terminated) {
        match next_event(&mut ch).await {
            GatewayEvent::CallResult { result, .. } => result.unwrap(),
            GatewayEvent::Call(CallEvent::Status { status, .. }) => statuses.push(status),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(
        statuses,
        vec![
            CamaraStatus::Ringing,
            CamaraStatus::Connected,
            CamaraStatus::Hold,
            CamaraStatus::Terminated
        ]
    );

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
        "the SIPp caller failed: {status:?}\n{errors}"
    );
}
