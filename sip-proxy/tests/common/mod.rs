//! A simulated-time harness around the call core and a transaction layer, and a
//! scripted IMS peer's helpers. Shared by the call-core tests.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)] // each test file uses a part

use std::time::{Duration, Instant};

use sip_proxy::call::{
    CallCore, CallCoreConfig, CallError, CallEvent, CallId, CamaraStatus, Command, IdentityHeader,
};
use sip_proxy::media::RecordingMedia;
use sip_proxy::message::builder::response_to;
use sip_proxy::message::{Message, Request, Response};
use sip_proxy::transaction::{
    RequestAction, ResponseAction, Target, TimerConfig, TransactionId, TransactionLayer, Transport,
};

pub const CHROME_OFFER: &str = include_str!("../data/sdp/chrome_offer.sdp");
pub const IMS_ANSWER: &str = include_str!("../data/sdp/ims_answer_sdes.sdp");
pub const CALL: CallId = CallId(42);

pub fn next_hop() -> Target {
    Target {
        transport: Transport::Udp,
        addr: "192.0.2.50:5060".parse().unwrap(),
    }
}

pub struct Harness {
    pub core: CallCore<RecordingMedia>,
    pub layer: TransactionLayer,
    pub now: Instant,
}

impl Harness {
    pub fn new() -> Self {
        let cfg = CallCoreConfig {
            next_hop: next_hop(),
            local_host: "192.0.2.10:5060".into(),
            domain: "ims.example.net".into(),
            identity: IdentityHeader::Preferred,
            access_network_info: Some("IEEE-802.11".into()),
            session_expires: 1800,
            timers: Default::default(),
            fallback_hops: Vec::new(),
        };
        Harness {
            core: CallCore::new(cfg, RecordingMedia::srtp(), 99),
            layer: TransactionLayer::new(TimerConfig::default()),
            now: Instant::now(),
        }
    }

    pub fn command(&mut self, cmd: Command) -> Result<(), CallError> {
        self.core.handle_command(self.now, cmd, &mut self.layer)
    }

    pub fn originate(&mut self) -> Request<'static> {
        let cmd = Command::Originate {
            call: CALL,
            from: "+15550001".into(),
            to: "tel:+15550100".into(),
            offer: CHROME_OFFER.into(),
        };
        self.command(cmd).unwrap();
        let sent = self.sent_requests();
        assert_eq!(sent.len(), 1, "one INVITE");
        sent.into_iter().next().unwrap()
    }

    /// Everything the layer sends, with where it goes.
    pub fn sent_with_targets(&mut self) -> Vec<(Target, Message<'static>)> {
        std::iter::from_fn(|| self.layer.poll_transmit())
            .map(|t| (t.target, Message::parse(&t.bytes).unwrap().into_owned()))
            .collect()
    }

    /// Everything the layer sends; it all goes to the next hop.
    pub fn sent(&mut self) -> Vec<Message<'static>> {
        self.sent_with_targets()
            .into_iter()
            .map(|(target, m)| {
                assert_eq!(target, next_hop(), "everything goes to the next hop");
                m
            })
            .collect()
    }

    pub fn sent_requests(&mut self) -> Vec<Request<'static>> {
        self.sent()
            .into_iter()
            .filter_map(|m| match m {
                Message::Request(r) => Some(r),
                Message::Response(_) => None,
            })
            .collect()
    }

    /// The IMS peer's response goes over the wire (bytes) into the layer, then the core.
    pub fn deliver(&mut self, resp: &Response<'_>) {
        let bytes = resp.to_bytes();
        let Message::Response(parsed) = Message::parse(&bytes).unwrap() else {
            unreachable!()
        };
        if let ResponseAction::Deliver(tx) = self.layer.handle_response(self.now, &parsed) {
            self.core
                .handle_response(self.now, tx, &parsed, &mut self.layer);
        }
    }

    /// Advances simulated time, running every layer and core timer that falls due.
    pub fn advance(&mut self, by: Duration) {
        let end = self.now + by;
        loop {
            let next = [self.core.poll_timeout(), self.layer.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            match next {
                Some(t) if t <= end => {
                    self.now = self.now.max(t);
                    self.layer.handle_timeout(self.now);
                    while let Some(ev) = self.layer.poll_event() {
                        self.core
                            .handle_transaction_event(self.now, &ev, &mut self.layer);
                    }
                    self.core.handle_timeout(self.now, &mut self.layer);
                }
                _ => break,
            }
        }
        self.now = end;
    }

    /// A request from the IMS side (`source` = the next hop) through the layer: the
    /// new server transaction's id, `None` for retransmissions and ACKs.
    pub fn receive(&mut self, req: &Request<'_>) -> Option<(TransactionId, Option<TransactionId>)> {
        match self.layer.handle_request(self.now, req, next_hop()) {
            RequestAction::New { id, cancels } => Some((id, cancels)),
            _ => None,
        }
    }

    pub fn all_events(&mut self) -> Vec<CallEvent> {
        std::iter::from_fn(|| self.core.poll_event()).collect()
    }

    pub fn events(&mut self) -> Vec<(CamaraStatus, Option<String>, Option<String>)> {
        std::iter::from_fn(|| self.core.poll_event())
            .map(|ev| match ev {
                CallEvent::Status {
                    call,
                    status,
                    reason,
                    sdp,
                } => {
                    assert_eq!(call, CALL);
                    (status, reason, sdp)
                }
                other => panic!("unexpected {other:?}"),
            })
            .collect()
    }
}

/// What the IMS side answers to `req`.
pub fn reply(
    req: &Request<'_>,
    status: u16,
    extra: &[(&str, &str)],
    sdp: Option<&str>,
) -> Response<'static> {
    let mut r = response_to(req, status, Some(b"ims1"));
    if (101..300).contains(&status) {
        r.add_header("Contact", "<sip:far@198.51.100.20:5060>");
    }
    for (k, v) in extra {
        r.add_header(k, v.as_bytes().to_vec());
    }
    if let Some(sdp) = sdp {
        r.set_body("application/sdp", sdp.as_bytes().to_vec());
    }
    r
}

pub fn header(req: &Request<'_>, name: &str) -> String {
    String::from_utf8_lossy(
        &req.headers
            .get_raw(name.as_bytes())
            .unwrap_or_else(|| panic!("{name}"))
            .value,
    )
    .into_owned()
}
