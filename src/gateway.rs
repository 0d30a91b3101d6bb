//! Wiring of the B2BUA behind the gateway's SIP listener: the next hop, the call core, the
//! registration client, the media plane, and the JSON API's call link.
//!
//! ```text
//!  API (CallLink) ──GatewayCommand──► SIP endpoint task (GatewayUser: CallCore + Registrations)
//!        ▲                                    │ SIP ──► next hop (lab IMS, P-CSCF or IBCF)
//!        └──────GatewayEvent── tracker ◄──────┘
//!  media plane ──MediaEvent──► GatewayCommand::Media ──► call core
//!  drain start ──► GatewayCommand::DeregisterAll; drain deadline ──► EndAllCalls
//! ```
//!
//! The tracker between the endpoint and the call link holds one drain guard per call
//! (from its first event to its final status), so a drain waits for calls in progress.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sip_proxy::call::{CallCore, CallCoreConfig, CallEvent, CallId, IdentityHeader};
use sip_proxy::gateway::{AutoRegister, GatewayCommand, GatewayEvent, GatewayUser};
use sip_proxy::keepalive::KeepAlive;
use sip_proxy::media::MediaControl;
use sip_proxy::media_engine::MediaEvents;
use sip_proxy::registration::{RegistrationConfig, Registrations};
use sip_proxy::resolve::{static_target, NextHop};
use sip_proxy::transaction::{Target, Transport};
use sip_proxy::transport::{SipListeners, TransportConfig};
use tokio::sync::mpsc;

use crate::config::{Config, SipMode};
use crate::lifecycle::{ActiveGuard, Lifecycle};

/// The home domain of the lab mode when the config names none.
const LAB_DOMAIN: &str = "lab.rtcgate.invalid";

/// Events queued between the endpoint and the call link.
const EVENT_QUEUE: usize = 4096;

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub(crate) enum GatewayError {
    /// `sip.next_hop` gave no target.
    #[error("sip.next_hop: {0}")]
    NextHop(String),
    /// The SIP listeners could not bind.
    #[error("cannot bind the SIP listeners: {0}")]
    Bind(#[from] std::io::Error),
}

/// The running gateway: where SIP listens, and the API's handle on the calls.
pub(crate) struct Gateway {
    /// The bound SIP addresses.
    pub(crate) listeners: SipListeners,
    /// The call link the API routes use.
    pub(crate) link: interworking_stub::CallLink,
}

/// The next hop's targets in RFC 3263 order: the lab listener in lab mode, the address of
/// a literal next hop, or what DNS gives for a name.
pub(crate) async fn next_hop_targets(cfg: &Config, seed: u64) -> Result<Vec<Target>, GatewayError> {
    if cfg.sip.mode == SipMode::Lab {
        return Ok(vec![Target {
            transport: Transport::Udp,
            addr: cfg.lab.listen,
        }]);
    }
    let text = cfg.sip.next_hop.as_deref().unwrap_or_default();
    let hop = NextHop::parse(text)
        .ok_or_else(|| GatewayError::NextHop(format!("{text:?} is not a host or SIP URI")))?;
    if let Some(target) = static_target(&hop) {
        return Ok(vec![target]);
    }
    let resolver = sip_proxy::transport::DnsResolver::system()
        .map_err(|e| GatewayError::NextHop(format!("no DNS resolver: {e}")))?;
    let targets = resolver.resolve(hop, seed).await;
    if targets.is_empty() {
        return Err(GatewayError::NextHop(format!("{text:?} did not resolve")));
    }
    Ok(targets)
}

/// Starts the gateway's SIP listener with the call core on `media`, pumps `media_events`
/// into the core, and starts the call link for the API. Must run inside the runtime.
pub(crate) async fn start<M: MediaControl + Send + 'static>(
    cfg: &Config,
    transport: TransportConfig,
    lifecycle: &Arc<Lifecycle>,
    seed: u64,
    media: M,
    mut media_events: MediaEvents,
) -> Result<Gateway, GatewayError> {
    let targets = next_hop_targets(cfg, seed).await?;
    let first = targets[0];
    let mode = cfg.sip.mode;
    let domain = cfg.sip.domain.clone().unwrap_or_else(|| LAB_DOMAIN.into());
    let timers = crate::sip_timers(cfg);
    let (session_expires, register_expires) =
        (cfg.sip.session_expires_secs, cfg.sip.register_expires_secs);
    let access_network_info = cfg.sip.access_network_info.clone();
    let options_interval = Duration::from_secs(cfg.sip.options_interval_secs);
    let credentials = AutoRegister {
        realm: cfg.sip.auth_realm.clone().unwrap_or_else(|| domain.clone()),
        username: cfg.sip.auth_username.replace("{domain}", &domain),
        password: cfg.sip.auth_password.clone().unwrap_or_default(),
    };
    let make = move |bound: &SipListeners| {
        let local = bound.udp.or(bound.tcp).or(bound.tls);
        let local_host = local.map_or_else(|| "127.0.0.1".to_owned(), |a| a.to_string());
        let core_cfg = CallCoreConfig {
            next_hop: first,
            local_host: local_host.clone(),
            domain: domain.clone(),
            identity: match mode {
                SipMode::Trunk => IdentityHeader::Asserted,
                SipMode::Pcscf | SipMode::Lab => IdentityHeader::Preferred,
            },
            access_network_info,
            session_expires,
            timers,
            fallback_hops: targets[1..].to_vec(),
        };
        let registrations = (mode != SipMode::Trunk).then(|| {
            Registrations::new(
                RegistrationConfig {
                    pcscf: first,
                    domain,
                    local_host: local_host.clone(),
                    expires: register_expires,
                },
                seed ^ 0x5eed,
            )
        });
        let mut user = GatewayUser::new(CallCore::new(core_cfg, media, seed), registrations);
        match mode {
            SipMode::Lab => user = user.register_added_users(AutoRegister::default()),
            SipMode::Pcscf => user = user.register_added_users(credentials),
            SipMode::Trunk => {}
        }
        if !options_interval.is_zero() {
            let probe = KeepAlive::new(Instant::now(), first, &local_host, options_interval, seed);
            user = user.with_keepalive(probe);
        }
        user
    };
    let (listeners, channels) =
        sip_proxy::transport::start(transport, lifecycle.draining_rx(), seed, make).await?;

    let commands = channels.commands.clone();
    tokio::spawn(async move {
        while let Some(event) = media_events.recv().await {
            if commands.send(GatewayCommand::Media(event)).await.is_err() {
                return;
            }
        }
    });
    let commands = channels.commands.clone();
    let mut draining = lifecycle.draining_rx();
    tokio::spawn(async move {
        if draining.wait_for(|d| *d).await.is_ok() {
            tracing::info!("draining: de-registering the web users' numbers");
            let _ = commands.send(GatewayCommand::DeregisterAll).await;
        }
    });
    let commands = channels.commands.clone();
    let mut shutdown = lifecycle.shutdown_rx();
    tokio::spawn(async move {
        if shutdown.wait_for(|s| *s).await.is_ok() {
            tracing::info!("drain deadline passed: ending the calls left");
            let _ = commands.send(GatewayCommand::EndAllCalls).await;
        }
    });
    let (tx, rx) = mpsc::channel(EVENT_QUEUE);
    tokio::spawn(track_calls(channels.events, tx, Arc::clone(lifecycle)));
    let link = interworking_stub::CallLink::start(channels.commands, rx);
    Ok(Gateway { listeners, link })
}

/// Forwards the endpoint's events to the call link, holding a drain guard for each call
/// from its first event to its final status.
async fn track_calls(
    mut from: mpsc::Receiver<GatewayEvent>,
    to: mpsc::Sender<GatewayEvent>,
    lifecycle: Arc<Lifecycle>,
) {
    let mut guards: HashMap<CallId, ActiveGuard> = HashMap::new();
    while let Some(event) = from.recv().await {
        match &event {
            GatewayEvent::Call(CallEvent::Incoming { call, .. }) => {
                guards.entry(*call).or_insert_with(|| lifecycle.track());
            }
            GatewayEvent::Call(CallEvent::Status { call, status, .. }) => {
                if status.is_final() {
                    guards.remove(call);
                } else {
                    guards.entry(*call).or_insert_with(|| lifecycle.track());
                }
            }
            _ => {}
        }
        if to.send(event).await.is_err() {
            return;
        }
    }
}
