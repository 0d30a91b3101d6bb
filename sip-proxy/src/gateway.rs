//! The gateway's transaction user: the call core and the registration client behind the
//! gateway's SIP listener, driven by typed commands from the JSON side.
//!
//! ```text
//!  GatewayCommand (API) ─► GatewayUser ─► CallCore / Registrations ─► SIP via the layer
//!  SIP from IMS ─► Endpoint (checks) ─► GatewayUser ─► INVITE: handle_invite
//!                                                    ├ NOTIFY: reg-event
//!                                                    └ in-dialog: handle_request
//!  GatewayEvent (CallEvent, RegEvent, command results) ─► the JSON side
//! ```
//!
//! Command results travel as events with the caller's correlation id, so nothing here
//! blocks or needs a runtime.

use std::collections::VecDeque;
use std::time::Instant;

use crate::call::{CallCore, CallError, CallEvent, Command};
use crate::endpoint::TransactionUser;
use crate::gateway_metrics;
use crate::keepalive::{KeepAlive, NextHopState};
use crate::media::{MediaControl, MediaEvent};
use crate::message::{Method, Request, Response};
use crate::registration::{RegEvent, Registrations};
use crate::transaction::{TransactionEvent, TransactionId, TransactionLayer};

/// What the JSON side asks of the gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GatewayCommand {
    /// A call command; its result comes back as [`GatewayEvent::CallResult`] with `id`.
    Call {
        /// Correlation id chosen by the caller.
        id: u64,
        /// The command.
        command: Command,
    },
    /// Make a web user's number reachable for incoming calls (trunk and lab modes).
    AddUser(String),
    /// Make it unreachable again.
    RemoveUser(String),
    /// Register a number through the P-CSCF (pcscf mode).
    Register {
        /// The number.
        number: String,
        /// Digest realm.
        realm: String,
        /// Private identity.
        username: String,
        /// Password.
        password: String,
    },
    /// De-register a number.
    Deregister(String),
    /// The drain deadline passed: end every call now (BYE, CANCEL or 603 by state).
    EndAllCalls,
    /// An event of the media plane (ICE, DTLS, consent, inactivity) for the call core.
    Media(MediaEvent),
    /// The node drains: de-register every number (REGISTER with Expires: 0), so new
    /// calls go to other nodes while the calls in progress finish.
    DeregisterAll,
}

/// What the gateway reports to the JSON side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GatewayEvent {
    /// A call event.
    Call(CallEvent),
    /// A registration event.
    Registration(RegEvent),
    /// The OPTIONS keep-alive saw the next hop come up or go down.
    NextHop(NextHopState),
    /// The result of [`GatewayCommand::Call`] with this correlation id.
    CallResult {
        /// The caller's correlation id.
        id: u64,
        /// `Ok`, or why the command was refused.
        result: Result<(), CallError>,
    },
}

/// The call core and the registration client as one transaction user.
#[derive(Debug)]
pub struct GatewayUser<M: MediaControl> {
    core: CallCore<M>,
    registrations: Option<Registrations>,
    keepalive: Option<KeepAlive>,
    results: VecDeque<GatewayEvent>,
    /// Register every added user's number with these credentials (see
    /// [`Self::register_added_users`]).
    auto_register: Option<AutoRegister>,
    /// Events went out since the gauges were last set.
    gauges_stale: bool,
}

/// The credentials the gateway registers its web users' numbers with: a realm, a
/// private-identity template (`{number}` is the number as given, `+15550001`; `{digits}`
/// the same without `+`) and a password. Per-user secrets from a provisioning system are a
/// later step; a lab registrar does not challenge at all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AutoRegister {
    /// Digest realm.
    pub realm: String,
    /// Private identity template, e.g. `{digits}@ims.example.net`.
    pub username: String,
    /// Digest password.
    pub password: String,
}

impl AutoRegister {
    /// The private identity for `number`.
    pub fn username_for(&self, number: &str) -> String {
        self.username
            .replace("{number}", number)
            .replace("{digits}", number.trim_start_matches('+'))
    }
}

impl<M: MediaControl> GatewayUser<M> {
    /// The user for `pcscf` mode (with `registrations`) or `trunk`/`lab` modes (without).
    pub fn new(core: CallCore<M>, registrations: Option<Registrations>) -> Self {
        gateway_metrics::init();
        Self {
            core,
            registrations,
            keepalive: None,
            results: VecDeque::new(),
            auto_register: None,
            gauges_stale: false,
        }
    }

    /// [`GatewayCommand::AddUser`] (a web user registered at the API) also registers the
    /// number through the registration client with `credentials`, and
    /// [`GatewayCommand::RemoveUser`] de-registers it, so the P-CSCF (or the lab) routes
    /// calls for the number to this gateway.
    pub fn register_added_users(mut self, credentials: AutoRegister) -> Self {
        self.auto_register = Some(credentials);
        self
    }

    /// Adds the OPTIONS keep-alive toward the next hop.
    pub fn with_keepalive(mut self, keepalive: KeepAlive) -> Self {
        self.keepalive = Some(keepalive);
        self
    }

    fn next_event(&mut self) -> Option<GatewayEvent> {
        if let Some(result) = self.results.pop_front() {
            return Some(result);
        }
        if let Some(state) = self.keepalive.as_mut().and_then(KeepAlive::poll_change) {
            return Some(GatewayEvent::NextHop(state));
        }
        if let Some(ev) = self.core.poll_event() {
            return Some(GatewayEvent::Call(ev));
        }
        let event = self
            .registrations
            .as_mut()
            .and_then(Registrations::poll_event)?;
        // The core preloads a registered user's Service-Route on the calls it places.
        if let Some(r) = self.registrations.as_ref() {
            match &event {
                RegEvent::Registered { number, .. } => {
                    let route = r
                        .service_route(number)
                        .map(<[_]>::to_vec)
                        .unwrap_or_default();
                    self.core.set_service_route(number, route);
                }
                RegEvent::Ended { number, .. } => self.core.set_service_route(number, Vec::new()),
                RegEvent::Failed { .. } => {}
            }
        }
        Some(GatewayEvent::Registration(event))
    }

    /// The call core (for tests and metrics).
    pub fn core(&self) -> &CallCore<M> {
        &self.core
    }
}

impl<M: MediaControl + Send> TransactionUser for GatewayUser<M> {
    type Command = GatewayCommand;
    type Event = GatewayEvent;

    fn on_request(
        &mut self,
        now: Instant,
        tx: TransactionId,
        req: &Request<'_>,
        layer: &mut TransactionLayer,
    ) -> bool {
        let in_dialog = req.headers.to().is_some_and(|t| t.tag().is_some());
        match req.method {
            Method::Invite if !in_dialog => {
                self.core.handle_invite(now, tx, req, layer);
                true
            }
            Method::Notify => {
                let reg_event = self
                    .registrations
                    .as_mut()
                    .is_some_and(|r| r.handle_notify(now, tx, req, layer));
                reg_event || self.core.handle_request(now, tx, req, layer)
            }
            _ => self.core.handle_request(now, tx, req, layer),
        }
    }

    fn on_ack(&mut self, _now: Instant, ack: &Request<'_>, _layer: &mut TransactionLayer) {
        self.core.handle_ack(ack);
    }

    fn on_cancel(&mut self, now: Instant, invite_tx: TransactionId, layer: &mut TransactionLayer) {
        self.core.handle_cancel(now, invite_tx, layer);
    }

    fn on_response(
        &mut self,
        now: Instant,
        tx: TransactionId,
        resp: &Response<'_>,
        layer: &mut TransactionLayer,
    ) {
        let probe = self
            .keepalive
            .as_mut()
            .is_some_and(|k| k.handle_response(tx, resp));
        let taken = probe
            || self
                .registrations
                .as_mut()
                .is_some_and(|r| r.handle_response(now, tx, resp, layer));
        if !taken {
            self.core.handle_response(now, tx, resp, layer);
        }
    }

    fn on_transaction_event(
        &mut self,
        now: Instant,
        event: &TransactionEvent,
        layer: &mut TransactionLayer,
    ) {
        if self
            .keepalive
            .as_mut()
            .is_some_and(|k| k.handle_transaction_event(event))
        {
            return;
        }
        self.core.handle_transaction_event(now, event, layer);
        if let Some(r) = self.registrations.as_mut() {
            r.handle_transaction_event(now, event);
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        let regs = self
            .registrations
            .as_ref()
            .and_then(Registrations::poll_timeout);
        let probe = self.keepalive.as_ref().and_then(KeepAlive::poll_timeout);
        [self.core.poll_timeout(), regs, probe]
            .into_iter()
            .flatten()
            .min()
    }

    fn handle_timeout(&mut self, now: Instant, layer: &mut TransactionLayer) {
        if let Some(k) = self.keepalive.as_mut() {
            k.handle_timeout(now, layer);
        }
        self.core.handle_timeout(now, layer);
        if let Some(r) = self.registrations.as_mut() {
            r.handle_timeout(now, layer);
        }
    }

    fn handle_command(
        &mut self,
        now: Instant,
        command: GatewayCommand,
        layer: &mut TransactionLayer,
    ) {
        match command {
            GatewayCommand::Call { id, command } => {
                let originate = matches!(command, Command::Originate { .. });
                let result = self.core.handle_command(now, command, layer);
                if originate && result.is_ok() {
                    gateway_metrics::outgoing_started();
                }
                self.results
                    .push_back(GatewayEvent::CallResult { id, result });
            }
            GatewayCommand::AddUser(number) => {
                self.core.add_user(&number);
                if let (Some(r), Some(c)) = (self.registrations.as_mut(), &self.auto_register) {
                    let username = c.username_for(&number);
                    r.register(now, &number, &c.realm, &username, &c.password, layer);
                }
            }
            GatewayCommand::RemoveUser(number) => {
                self.core.remove_user(&number);
                if let (Some(r), true) = (self.registrations.as_mut(), self.auto_register.is_some())
                {
                    r.deregister(now, &number, layer);
                }
            }
            GatewayCommand::Register {
                number,
                realm,
                username,
                password,
            } => {
                if let Some(r) = self.registrations.as_mut() {
                    r.register(now, &number, &realm, &username, &password, layer);
                }
            }
            GatewayCommand::Deregister(number) => {
                if let Some(r) = self.registrations.as_mut() {
                    r.deregister(now, &number, layer);
                }
            }
            GatewayCommand::Media(event) => self.core.handle_media_event(now, &event, layer),
            GatewayCommand::DeregisterAll => {
                if let Some(r) = self.registrations.as_mut() {
                    r.deregister_all(now, layer);
                }
            }
            GatewayCommand::EndAllCalls => {
                for call in self.core.call_ids() {
                    // A call that ended in between is no longer there: nothing to do.
                    let _ = self
                        .core
                        .handle_command(now, Command::Hangup { call }, layer);
                }
            }
        }
    }

    fn poll_event(&mut self) -> Option<GatewayEvent> {
        let ev = self.next_event();
        match &ev {
            Some(GatewayEvent::Call(call)) => gateway_metrics::call_event(call),
            Some(GatewayEvent::Registration(reg)) => gateway_metrics::registration_event(reg),
            Some(_) => {}
            // Drained after events: the state they described is now the core's state. The
            // driver drains after every message, so the gauges (a walk over the
            // registrations) are only recomputed when something was reported.
            None if self.gauges_stale => {
                self.gauges_stale = false;
                let registrations = self
                    .registrations
                    .as_ref()
                    .map_or([0; 4], Registrations::count_by_state);
                gateway_metrics::set_active(self.core.active_calls(), registrations);
            }
            None => {}
        }
        self.gauges_stale |= ev.is_some();
        ev
    }
}
