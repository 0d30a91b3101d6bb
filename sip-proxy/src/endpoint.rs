//! The gateway's SIP endpoint: what happens to every message that reaches a SIP listener.
//!
//! ```text
//!  bytes + source ─► Message::parse ─✗─► stateless 400/505 (or silence) + Malformed event
//!                          │ request
//!                          ▼
//!               TransactionLayer::handle_request ─► retransmission absorbed
//!                          │ new server transaction
//!                          ▼
//!     draining? ─► 503 + Retry-After   (OPTIONS, initial INVITE, REGISTER, SUBSCRIBE, …)
//!     OPTIONS   ─► 200 with Allow / Supported / Accept (RFC 3261 §11.2)
//!     policy    ─► 405/501, 416, 420, 415, 406 (message::validate)
//!     otherwise ─► the call core (until it is attached: 480 / 481)
//! ```
//!
//! Sans-IO: the driver passes every datagram (or framed stream message) with `now`, sends
//! what [`Endpoint::poll_transmit`] returns and wakes at [`Endpoint::poll_timeout`].

use std::collections::VecDeque;
use std::time::Instant;

use crate::message::builder::response_to;
use crate::message::validate::{check_request, Role, UaPolicy};
use crate::message::Response;
use crate::message::{Message, Method, Request};
use crate::transaction::stateless::reject_malformed;
use crate::transaction::{
    RequestAction, ResponseAction, Target, TimerConfig, TransactionEvent, TransactionId,
    TransactionLayer, Transmit,
};

/// Settings of the endpoint.
#[derive(Debug, Clone)]
pub struct EndpointConfig {
    /// RFC 3261 timer values.
    pub timers: TimerConfig,
    /// Seconds a client refused while draining is told to wait (`Retry-After`).
    pub retry_after_secs: u32,
    /// The `Server` header value (product token only: no version leaks by default).
    pub server: String,
}

impl Default for EndpointConfig {
    fn default() -> Self {
        Self {
            timers: TimerConfig::default(),
            retry_after_secs: 30,
            server: "rtcgate".into(),
        }
    }
}

/// What happened, for metrics and logs. The driver drains these with
/// [`Endpoint::poll_event`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EndpointEvent {
    /// A message that did not parse; `answered` is the stateless status sent, if any.
    Malformed {
        /// 400 or 505 for requests; `None` when dropped (responses, no Via).
        answered: Option<u16>,
    },
    /// A request was received (new transaction, not a retransmission).
    Request {
        /// Its method.
        method: Method,
    },
    /// A response was received.
    Response {
        /// Its status code.
        status: u16,
    },
    /// The endpoint answered a request with a final response.
    Answered {
        /// The status code.
        status: u16,
    },
    /// A transaction timed out or failed in the transport.
    TransactionFailed,
}

/// What the endpoint hands requests and responses to once it has done its own checks:
/// the call core behind the gateway's listener, the lab IMS behind the lab's.
///
/// Every method gets the transaction layer to answer or send through. Commands come in
/// from the rest of the process (the JSON side) and events go out to it, both typed by
/// the user.
pub trait TransactionUser: Send {
    /// What the rest of the process asks of the user.
    type Command: Send + 'static;
    /// What the user reports to the rest of the process.
    type Event: Send + 'static;
    /// The policy requests are checked against before they reach the user.
    fn policy(&self) -> UaPolicy {
        UaPolicy::gateway(Role::Endpoint)
    }
    /// A new request (OPTIONS and CANCEL are the endpoint's). Returns false to leave the
    /// answer to the endpoint (481 inside a dialog, 480 outside).
    fn on_request(
        &mut self,
        now: Instant,
        tx: TransactionId,
        req: &Request<'_>,
        layer: &mut TransactionLayer,
    ) -> bool;
    /// An ACK outside any server transaction: the ACK for a 2xx the user sent
    /// (RFC 3261 §13.3.1.4, RFC 6026 §7.1), which stops its 2xx retransmissions.
    fn on_ack(&mut self, _now: Instant, _ack: &Request<'_>, _layer: &mut TransactionLayer) {}
    /// A CANCEL matched the INVITE of server transaction `invite_tx`; the endpoint
    /// answered the CANCEL itself (RFC 3261 §9.2), the user answers the INVITE.
    fn on_cancel(&mut self, now: Instant, invite_tx: TransactionId, layer: &mut TransactionLayer);
    /// A response to one of the user's client transactions.
    fn on_response(
        &mut self,
        now: Instant,
        tx: TransactionId,
        resp: &Response<'_>,
        layer: &mut TransactionLayer,
    );
    /// A transaction ended, timed out or failed in the transport.
    fn on_transaction_event(
        &mut self,
        now: Instant,
        event: &TransactionEvent,
        layer: &mut TransactionLayer,
    );
    /// When the user's own timers next need [`handle_timeout`](Self::handle_timeout).
    fn poll_timeout(&self) -> Option<Instant>;
    /// Runs the user's due timers.
    fn handle_timeout(&mut self, now: Instant, layer: &mut TransactionLayer);
    /// A command from the rest of the process.
    fn handle_command(
        &mut self,
        now: Instant,
        command: Self::Command,
        layer: &mut TransactionLayer,
    );
    /// The next event for the rest of the process.
    fn poll_event(&mut self) -> Option<Self::Event>;
}

/// No user: the endpoint answers OPTIONS, drains and rejects, and refuses everything
/// else (480 outside a dialog, 481 inside).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoUser;

impl TransactionUser for NoUser {
    type Command = std::convert::Infallible;
    type Event = std::convert::Infallible;
    fn on_request(
        &mut self,
        _: Instant,
        _: TransactionId,
        _: &Request<'_>,
        _: &mut TransactionLayer,
    ) -> bool {
        false
    }
    fn on_cancel(&mut self, _: Instant, _: TransactionId, _: &mut TransactionLayer) {}
    fn on_response(
        &mut self,
        _: Instant,
        _: TransactionId,
        _: &Response<'_>,
        _: &mut TransactionLayer,
    ) {
    }
    fn on_transaction_event(&mut self, _: Instant, _: &TransactionEvent, _: &mut TransactionLayer) {
    }
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }
    fn handle_timeout(&mut self, _: Instant, _: &mut TransactionLayer) {}
    fn handle_command(&mut self, _: Instant, command: Self::Command, _: &mut TransactionLayer) {
        match command {}
    }
    fn poll_event(&mut self) -> Option<Self::Event> {
        None
    }
}

/// The sans-IO SIP endpoint, with its [`TransactionUser`] behind it.
pub struct Endpoint<U: TransactionUser = NoUser> {
    cfg: EndpointConfig,
    policy: UaPolicy,
    layer: TransactionLayer,
    draining: bool,
    ids: crate::ids::IdGen,
    stateless: VecDeque<Transmit>,
    events: VecDeque<EndpointEvent>,
    user: U,
}

impl<U: TransactionUser> std::fmt::Debug for Endpoint<U> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("transactions", &self.layer.len())
            .field("draining", &self.draining)
            .finish_non_exhaustive()
    }
}

impl Endpoint<NoUser> {
    /// A new endpoint with no user behind it; `seed` feeds the To-tags it generates (the core draws no
    /// randomness itself).
    pub fn new(cfg: EndpointConfig, seed: u64) -> Self {
        let mut layer = TransactionLayer::new(cfg.timers);
        layer.set_send_100_trying(true);
        Self {
            cfg,
            policy: UaPolicy::gateway(Role::Endpoint),
            layer,
            draining: false,
            ids: crate::ids::IdGen::new(seed),
            stateless: VecDeque::new(),
            events: VecDeque::new(),
            user: NoUser,
        }
    }

    /// The endpoint with a transaction user behind it; requests are checked against the
    /// user's policy.
    pub fn with_user<U: TransactionUser>(self, user: U) -> Endpoint<U> {
        Endpoint {
            cfg: self.cfg,
            policy: user.policy(),
            layer: self.layer,
            draining: self.draining,
            ids: self.ids,
            stateless: self.stateless,
            events: self.events,
            user,
        }
    }
}

impl<U: TransactionUser> Endpoint<U> {
    /// The user behind the endpoint.
    pub fn user(&self) -> &U {
        &self.user
    }

    /// A command for the user.
    pub fn handle_command(&mut self, now: Instant, command: U::Command) {
        self.user.handle_command(now, command, &mut self.layer);
        self.pump_layer_events(now);
    }

    /// The user's next event.
    pub fn poll_user_event(&mut self) -> Option<U::Event> {
        self.user.poll_event()
    }

    /// While draining, new dialogs, registrations, subscriptions and OPTIONS pings get
    /// 503 + Retry-After, so SIP load balancers take the node out of rotation; requests
    /// inside existing dialogs still pass.
    pub fn set_draining(&mut self, draining: bool) {
        self.draining = draining;
    }

    /// Handles one message from `source`.
    pub fn handle_message(&mut self, now: Instant, source: Target, bytes: &[u8]) {
        match Message::parse(bytes) {
            Err(err) => {
                let tag = self.ids.hex();
                let answer = reject_malformed(bytes, err, tag.as_bytes());
                let answered = answer.as_ref().map(|_| err.status());
                if let Some(bytes) = answer {
                    self.stateless.push_back(Transmit {
                        target: source,
                        bytes,
                        transaction: None,
                    });
                }
                self.events.push_back(EndpointEvent::Malformed { answered });
            }
            Ok(Message::Response(resp)) => {
                self.events.push_back(EndpointEvent::Response {
                    status: resp.status,
                });
                // Responses to the user's client transactions reach it through the
                // layer; strays are dropped (RFC 3261 §18.1.2).
                if let ResponseAction::Deliver(tx) = self.layer.handle_response(now, &resp) {
                    self.user.on_response(now, tx, &resp, &mut self.layer);
                }
            }
            Ok(Message::Request(req)) => self.on_request(now, source, &req),
        }
        self.pump_layer_events(now);
    }

    /// Hands transaction events to the user and counts failures.
    fn pump_layer_events(&mut self, now: Instant) {
        while let Some(ev) = self.layer.poll_event() {
            if matches!(
                ev,
                TransactionEvent::Timeout { .. } | TransactionEvent::TransportError { .. }
            ) {
                self.events.push_back(EndpointEvent::TransactionFailed);
            }
            self.user.on_transaction_event(now, &ev, &mut self.layer);
        }
    }

    fn on_request(&mut self, now: Instant, source: Target, req: &Request<'_>) {
        let (id, cancels) = match self.layer.handle_request(now, req, source) {
            RequestAction::New { id, cancels } => (id, cancels),
            RequestAction::StrayAck => {
                self.user.on_ack(now, req, &mut self.layer);
                return;
            }
            // Retransmissions and ACKs for non-2xx: absorbed by the transaction layer.
            _ => return,
        };
        self.events.push_back(EndpointEvent::Request {
            method: req.method.clone(),
        });
        let in_dialog = req.headers.to().is_some_and(|t| t.tag().is_some());
        if self.draining && !in_dialog && req.method != Method::Cancel {
            let retry = self.cfg.retry_after_secs.to_string();
            return self.answer(now, id, req, 503, &[("Retry-After", retry.into_bytes())]);
        }
        if let Err(rejection) = check_request(req, &self.policy) {
            let headers: Vec<(&str, Vec<u8>)> = rejection.headers.into_iter().collect();
            return self.answer(now, id, req, rejection.status, &headers);
        }
        match req.method {
            Method::Options => {
                let headers = [
                    ("Allow", self.policy.allow_header()),
                    ("Supported", self.policy.supported.join(", ").into_bytes()),
                    ("Accept", b"application/sdp".to_vec()),
                ];
                self.answer(now, id, req, 200, &headers);
            }
            Method::Cancel => {
                // RFC 3261 §9.2: 200 to the CANCEL, 481 when no transaction matches; the
                // user answers the INVITE itself (487).
                let status = if cancels.is_some() { 200 } else { 481 };
                self.answer(now, id, req, status, &[]);
                if let Some(invite_tx) = cancels {
                    self.user.on_cancel(now, invite_tx, &mut self.layer);
                }
            }
            _ => {
                let taken = self.user.on_request(now, id, req, &mut self.layer);
                if !taken {
                    // Nobody behind the endpoint can take a call or knows the dialog.
                    let status = if in_dialog { 481 } else { 480 };
                    self.answer(now, id, req, status, &[]);
                }
            }
        }
    }

    fn answer(
        &mut self,
        now: Instant,
        id: TransactionId,
        req: &Request<'_>,
        status: u16,
        extra: &[(&str, Vec<u8>)],
    ) {
        let tag = self.ids.hex();
        let mut resp = response_to(req, status, Some(tag.as_bytes()));
        for (name, value) in extra {
            resp.add_header(name, value.clone());
        }
        resp.add_header("Server", self.cfg.server.clone());
        // The transaction was created for this request a moment ago, so it accepts a
        // final response; an error here would be a bug in the layer, reported as an event.
        if self.layer.send_response(now, id, &resp).is_err() {
            self.events.push_back(EndpointEvent::TransactionFailed);
            return;
        }
        self.events.push_back(EndpointEvent::Answered { status });
    }

    /// Advances timers.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.layer.handle_timeout(now);
        self.pump_layer_events(now);
        self.user.handle_timeout(now, &mut self.layer);
    }

    /// The send to a target failed (stream closed, ICMP error): the transactions that
    /// used it are told (RFC 3261 §17.1.4, §17.2.4).
    pub fn handle_transport_error(&mut self, now: Instant, transaction: TransactionId) {
        self.layer.handle_transport_error(now, transaction);
        self.pump_layer_events(now);
    }

    /// The next message to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.stateless
            .pop_front()
            .or_else(|| self.layer.poll_transmit())
    }

    /// When [`handle_timeout`](Self::handle_timeout) must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let user = self.user.poll_timeout();
        [self.layer.poll_timeout(), user]
            .into_iter()
            .flatten()
            .min()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<EndpointEvent> {
        self.events.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Response;
    use crate::transaction::Transport;
    use std::time::Duration;

    fn udp() -> Target {
        Target {
            transport: Transport::Udp,
            addr: "192.0.2.1:5060".parse().unwrap(),
        }
    }

    fn request(method: &str, to_tag: &str, branch: &str) -> Vec<u8> {
        format!(
            "{method} sip:gw@192.0.2.9 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK{branch}\r\n\
             Max-Forwards: 70\r\nTo: <sip:gw@192.0.2.9>{to_tag}\r\nFrom: <sip:a@192.0.2.1>;tag=aa\r\n\
             Call-ID: c-{branch}\r\nCSeq: 1 {method}\r\nContent-Length: 0\r\n\r\n"
        )
        .into_bytes()
    }

    fn final_response(ep: &mut Endpoint) -> Response<'static> {
        let mut last = None;
        while let Some(t) = ep.poll_transmit() {
            let Message::Response(r) = Message::parse(&t.bytes).unwrap().into_owned() else {
                panic!("endpoint sent a request");
            };
            if r.status >= 200 {
                last = Some(r);
            }
        }
        last.expect("a final response was sent")
    }

    fn header<'a>(r: &'a Response<'_>, name: &str) -> Option<&'a [u8]> {
        r.headers.get_raw(name.as_bytes()).map(|h| &*h.value)
    }

    #[test]
    fn options_gets_200_with_capabilities() {
        let mut ep = Endpoint::new(EndpointConfig::default(), 7);
        ep.handle_message(Instant::now(), udp(), &request("OPTIONS", "", "o1"));
        let r = final_response(&mut ep);
        assert_eq!(r.status, 200);
        let allow = String::from_utf8_lossy(header(&r, "Allow").unwrap()).into_owned();
        assert!(
            allow.contains("INVITE") && allow.contains("OPTIONS") && allow.contains("PRACK"),
            "{allow}"
        );
        assert!(String::from_utf8_lossy(header(&r, "Supported").unwrap()).contains("100rel"));
        assert_eq!(header(&r, "Accept"), Some(&b"application/sdp"[..]));
        assert!(
            r.headers.to().unwrap().tag().is_some(),
            "final responses carry a To-tag"
        );
        assert_eq!(
            ep.poll_event(),
            Some(EndpointEvent::Request {
                method: Method::Options
            })
        );
        assert_eq!(
            ep.poll_event(),
            Some(EndpointEvent::Answered { status: 200 })
        );
    }

    #[test]
    fn draining_refuses_new_work_with_503_and_retry_after_but_not_dialogs() {
        let mut ep = Endpoint::new(
            EndpointConfig {
                retry_after_secs: 9,
                ..EndpointConfig::default()
            },
            7,
        );
        ep.set_draining(true);
        for (i, method) in ["INVITE", "REGISTER", "OPTIONS", "SUBSCRIBE"]
            .iter()
            .enumerate()
        {
            ep.handle_message(
                Instant::now(),
                udp(),
                &request(method, "", &format!("d{i}")),
            );
            let r = final_response(&mut ep);
            assert_eq!(r.status, 503, "{method}");
            assert_eq!(header(&r, "Retry-After"), Some(&b"9"[..]), "{method}");
        }
        ep.handle_message(Instant::now(), udp(), &request("BYE", ";tag=x", "bye"));
        assert_eq!(
            final_response(&mut ep).status,
            481,
            "in-dialog requests are not refused as new work"
        );
    }

    #[test]
    fn malformed_requests_get_a_stateless_400_and_an_event() {
        let mut ep = Endpoint::new(EndpointConfig::default(), 7);
        let bad = String::from_utf8(request("OPTIONS", "", "m1"))
            .unwrap()
            .replace("CSeq: 1 OPTIONS", "CSeq: x");
        ep.handle_message(Instant::now(), udp(), bad.as_bytes());
        let t = ep.poll_transmit().unwrap();
        assert!(
            t.bytes.starts_with(b"SIP/2.0 400 "),
            "{}",
            String::from_utf8_lossy(&t.bytes)
        );
        assert_eq!(t.target, udp());
        assert_eq!(
            ep.poll_event(),
            Some(EndpointEvent::Malformed {
                answered: Some(400)
            })
        );

        ep.handle_message(Instant::now(), udp(), b"\x16\x03\x01 not sip at all");
        assert_eq!(
            ep.poll_transmit(),
            None,
            "no Via, nowhere to answer: silence"
        );
        assert_eq!(
            ep.poll_event(),
            Some(EndpointEvent::Malformed { answered: None })
        );
    }

    #[test]
    fn policy_rejections_and_retransmissions() {
        let mut ep = Endpoint::new(EndpointConfig::default(), 7);
        let require = String::from_utf8(request("OPTIONS", "", "r1"))
            .unwrap()
            .replace(
                "Content-Length: 0",
                "Require: nonsense\r\nContent-Length: 0",
            );
        ep.handle_message(Instant::now(), udp(), require.as_bytes());
        let r = final_response(&mut ep);
        assert_eq!(r.status, 420);
        assert_eq!(header(&r, "Unsupported"), Some(&b"nonsense"[..]));

        // The same request again is a retransmission: the stored answer is resent, once.
        ep.handle_message(
            Instant::now() + Duration::from_millis(500),
            udp(),
            require.as_bytes(),
        );
        assert_eq!(final_response(&mut ep).status, 420);
        let requests = std::iter::from_fn(|| ep.poll_event())
            .filter(|e| matches!(e, EndpointEvent::Request { .. }))
            .count();
        assert_eq!(requests, 1, "the retransmission is not a new request");
    }

    #[test]
    fn calls_are_refused_until_a_call_core_is_attached() {
        let mut ep = Endpoint::new(EndpointConfig::default(), 7);
        ep.handle_message(Instant::now(), udp(), &request("INVITE", "", "i1"));
        let mut statuses = Vec::new();
        while let Some(t) = ep.poll_transmit() {
            if let Ok(Message::Response(r)) = Message::parse(&t.bytes) {
                statuses.push(r.status);
            }
        }
        assert_eq!(statuses, vec![100, 480]);
    }
}
