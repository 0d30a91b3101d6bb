//! Calls the gateway places toward IMS, over the real transport, against SIPp as the far
//! end: a reliable 183 (PRACK), 180 and 200 then a far-end BYE; a busy far end; the same
//! call over verified TLS. Debian's SIPp is built without TLS, so for that case stunnel
//! (a real TLS server, OpenSSL) terminates TLS in front of SIPp running over TCP.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod sipp_harness;

use std::time::Duration;

use sip_proxy::call::{
    CallCore, CallCoreConfig, CallEvent, CallId, CamaraStatus, Command as CallCommand,
    IdentityHeader,
};
use sip_proxy::gateway::{GatewayCommand, GatewayEvent, GatewayUser};
use sip_proxy::media::RecordingMedia;
use sip_proxy::transaction::{Target, Transport};
use sip_proxy::transport::start;
use tokio::sync::watch;

const CHROME_OFFER: &str = include_str!("data/sdp/chrome_offer.sdp");

/// How the gateway reaches SIPp.
#[derive(Clone, Copy, PartialEq)]
enum Path {
    /// SIPp on UDP.
    Udp,
    /// SIPp on TCP behind stunnel, which the gateway reaches over TLS and verifies.
    TlsViaStunnel,
}

/// Runs one outgoing call against SIPp playing `scenario` as the far end; returns the
/// CAMARA statuses, reasons and whether an SDP came with each, until the call ended.
async fn call_far_end(scenario: &str) -> Vec<(CamaraStatus, Option<String>, bool)> {
    call_far_end_over(scenario, Path::Udp).await
}

async fn call_far_end_over(
    scenario: &str,
    path: Path,
) -> Vec<(CamaraStatus, Option<String>, bool)> {
    let logs = tempfile::tempdir().unwrap();
    let port = sipp_harness::free_udp_port();
    let sipp_args: &[&str] = if path == Path::Udp {
        &[]
    } else {
        &["-t", "t1"]
    };
    let sipp = sipp_harness::spawn(scenario, port, logs.path(), sipp_args);
    let (far, tls_client, _stunnel) = match path {
        Path::Udp => {
            let far = Target {
                transport: Transport::Udp,
                addr: sipp_harness::wait_bound(port),
            };
            (far, None, None)
        }
        Path::TlsViaStunnel => {
            let (stunnel, addr, client) = sipp_harness::stunnel_in_front_of(port, logs.path());
            let far = Target {
                transport: Transport::Tls,
                addr,
            };
            (far, Some(client), Some(stunnel))
        }
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
            fallback_hops: Vec::new(),
        };
        GatewayUser::new(CallCore::new(core_cfg, RecordingMedia::srtp(), 3), None)
    };
    let mut transport = sipp_harness::transport_config();
    transport.tls_client = tls_client;
    let (_, mut ch) = start(transport, draining, 4, make).await.unwrap();
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
    sipp_harness::wait_success(sipp, logs.path());
    statuses
}

#[tokio::test]
async fn sipp_far_end_answers_with_100rel_and_hangs_up() {
    let statuses = call_far_end("mo_uas_100rel.xml").await;
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
    let statuses = call_far_end("mo_uas_486.xml").await;
    assert_eq!(
        statuses,
        vec![(CamaraStatus::Busy, Some("SIP 486".into()), false)]
    );
}

#[tokio::test]
async fn the_same_call_completes_over_verified_tls() {
    let statuses = call_far_end_over("mo_uas_100rel.xml", Path::TlsViaStunnel).await;
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
    assert_eq!(statuses[3].1.as_deref(), Some("remote hangup"));
}
