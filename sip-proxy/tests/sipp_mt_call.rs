//! A call from the IMS side to a web user, over the real transport: SIPp as the caller
//! (SDES offer, session timer), the web side answering through commands, then a hold
//! re-INVITE, a session-refresh UPDATE and BYE from SIPp.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod sipp_harness;

use std::time::Duration;

use sip_proxy::call::{
    CallCore, CallCoreConfig, CallEvent, CamaraStatus, Command as CallCommand, IdentityHeader,
};
use sip_proxy::gateway::{GatewayCommand, GatewayEvent, GatewayUser};
use sip_proxy::media::RecordingMedia;
use sip_proxy::transaction::{Target, Transport};
use sip_proxy::transport::start;
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
            fallback_hops: Vec::new(),
        };
        GatewayUser::new(CallCore::new(core_cfg, RecordingMedia::srtp(), 5), None)
    };
    let (bound, mut ch) = start(sipp_harness::transport_config(), draining, 6, make)
        .await
        .unwrap();
    ch.commands
        .send(GatewayCommand::AddUser("+15550001".into()))
        .await
        .unwrap();

    let logs = tempfile::tempdir().unwrap();
    let lab = bound.udp.unwrap().to_string();
    let sipp = sipp_harness::spawn(
        "mt_uac_hold_refresh.xml",
        sipp_harness::free_udp_port(),
        logs.path(),
        &[&lab],
    );

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

    sipp_harness::wait_success(sipp, logs.path());
}
