//! The gateway user behind a real endpoint, as tests/gateway_user.rs and
//! tests/gateway_metrics.rs drive it: a call core on the `RecordingMedia` double toward a
//! fixed IMS next hop.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)] // each test file uses a part

use sip_proxy::call::{CallCore, CallCoreConfig, IdentityHeader};
use sip_proxy::endpoint::{Endpoint, EndpointConfig};
use sip_proxy::gateway::GatewayUser;
use sip_proxy::media::RecordingMedia;
use sip_proxy::transaction::{Target, Transport};

pub fn ims() -> Target {
    Target {
        transport: Transport::Udp,
        addr: "192.0.2.50:5060".parse().unwrap(),
    }
}

pub fn gateway() -> Endpoint<GatewayUser<RecordingMedia>> {
    let cfg = CallCoreConfig {
        next_hop: ims(),
        local_host: "192.0.2.10:5060".into(),
        domain: "ims.example.net".into(),
        identity: IdentityHeader::Asserted,
        access_network_info: None,
        session_expires: 1800,
        timers: Default::default(),
        fallback_hops: Vec::new(),
    };
    let core = CallCore::new(cfg, RecordingMedia::srtp(), 11);
    Endpoint::new(EndpointConfig::default(), 12).with_user(GatewayUser::new(core, None))
}
