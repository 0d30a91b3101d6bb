//! The registration client over the real transport against SIPp playing the P-CSCF:
//! the digest challenge is answered with MD5 (verified by SIPp with the password) and
//! with SHA-256; a wrong password ends in a clean failure.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod sipp_harness;

use std::net::SocketAddr;
use std::time::Duration;

use sip_proxy::call::{CallCore, CallCoreConfig, IdentityHeader};
use sip_proxy::gateway::{GatewayCommand, GatewayEvent, GatewayUser};
use sip_proxy::media::RecordingMedia;
use sip_proxy::registration::{RegEvent, RegistrationConfig, Registrations};
use sip_proxy::transaction::{Target, Transport};
use sip_proxy::transport::{start, UserChannels};
use tokio::sync::watch;

/// SIPp as the P-CSCF on a free port, once its socket is bound.
fn pcscf(scenario: &str, logs: &std::path::Path) -> (std::process::Child, SocketAddr) {
    let port = sipp_harness::free_udp_port();
    let child = sipp_harness::spawn(scenario, port, logs, &[]);
    (child, sipp_harness::wait_bound(port))
}

async fn gateway(pcscf: SocketAddr) -> UserChannels<GatewayUser<RecordingMedia>> {
    let target = Target {
        transport: Transport::Udp,
        addr: pcscf,
    };
    let (_, draining) = watch::channel(false);
    let make = |bound: &sip_proxy::transport::SipListeners| {
        let local_host = bound.udp.unwrap().to_string();
        let core_cfg = CallCoreConfig {
            next_hop: target,
            local_host: local_host.clone(),
            domain: "ims.test".into(),
            identity: IdentityHeader::Preferred,
            access_network_info: None,
            session_expires: 1800,
            timers: Default::default(),
            fallback_hops: Vec::new(),
        };
        let regs = Registrations::new(
            RegistrationConfig {
                pcscf: target,
                domain: "ims.test".into(),
                local_host,
                expires: 600,
            },
            7,
        );
        GatewayUser::new(
            CallCore::new(core_cfg, RecordingMedia::default(), 8),
            Some(regs),
        )
    };
    start(sipp_harness::transport_config(), draining, 9, make)
        .await
        .unwrap()
        .1
}

async fn register(ch: &mut UserChannels<GatewayUser<RecordingMedia>>, password: &str) -> RegEvent {
    let cmd = GatewayCommand::Register {
        number: "+15550001".into(),
        realm: "ims.test".into(),
        username: "user1@ims.test".into(),
        password: password.into(),
    };
    ch.commands.send(cmd).await.unwrap();
    loop {
        let event = tokio::time::timeout(Duration::from_secs(15), ch.events.recv())
            .await
            .unwrap()
            .unwrap();
        if let GatewayEvent::Registration(ev) = event {
            return ev;
        }
    }
}

/// Registers with `password` against SIPp playing `scenario`; the registration event.
async fn register_against(scenario: &str, password: &str) -> RegEvent {
    let logs = tempfile::tempdir().unwrap();
    let (sipp, addr) = pcscf(scenario, logs.path());
    let mut ch = gateway(addr).await;
    let ev = register(&mut ch, password).await;
    sipp_harness::wait_success(sipp, logs.path());
    ev
}

fn registered() -> RegEvent {
    RegEvent::Registered {
        number: "+15550001".into(),
        expires: Duration::from_secs(600),
    }
}

#[tokio::test]
async fn md5_challenge_is_answered_and_verified_by_sipp() {
    assert_eq!(
        register_against("pcscf_register_md5.xml", "secret").await,
        registered()
    );
}

#[tokio::test]
async fn sha256_challenge_is_answered_with_sha256() {
    assert_eq!(
        register_against("pcscf_register_sha256.xml", "secret").await,
        registered()
    );
}

#[tokio::test]
async fn a_wrong_password_fails_cleanly() {
    let failed = RegEvent::Failed {
        number: "+15550001".into(),
        status: 403,
    };
    assert_eq!(
        register_against("pcscf_register_md5.xml", "wrong").await,
        failed
    );
}
