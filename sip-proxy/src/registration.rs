//! Registration of web users' numbers through a P-CSCF (`pcscf` mode): REGISTER with
//! digest, Path/Service-Route, refresh before expiry, de-registration, and the reg-event
//! subscription that tells the gateway when the network ends a registration.
//!
//! ```text
//!  register(number) ─► REGISTER ─401─► REGISTER + Authorization ─200─► Registered
//!       (Service-Route kept)  └─► SUBSCRIBE reg (RFC 3680) via Service-Route
//!  timer: min(granted/2, granted − 600 s) ─► re-REGISTER (nonce reused, nc+1; 401 stale ok)
//!  NOTIFY reginfo: our AoR terminated ─► Ended { Network }
//!  deregister(number) ─► REGISTER Expires: 0 ─► Ended { Deregistered }
//!  refresh failing until the registration expires ─► Ended { Expired }
//! ```
//!
//! Sans-IO: methods take `now` and the transaction layer to send through.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use crate::auth::digest::DigestClient;
use crate::ids::IdGen;
use crate::message::builder::{response_to, RequestBuilder};
use crate::message::{HeaderName, Method, Request, Response};
use crate::transaction::{Target, TransactionEvent, TransactionId, TransactionLayer};

/// Settings of the registration client.
#[derive(Debug, Clone)]
pub struct RegistrationConfig {
    /// The P-CSCF.
    pub pcscf: Target,
    /// The home domain: Request-URI `sip:<domain>` and the AoR host.
    pub domain: String,
    /// The gateway's SIP `host:port`, for Via and Contact.
    pub local_host: String,
    /// Expiry asked for, seconds (TS 24.229 suggests 600 000; operators often grant less).
    pub expires: u32,
}

/// Why a registration ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// The web user (or a drain) de-registered.
    Deregistered,
    /// The network ended it (reg-event NOTIFY).
    Network,
    /// It expired: refreshing failed until the granted time ran out.
    Expired,
}

/// What happened to a registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegEvent {
    /// Registered (or refreshed) for this long.
    Registered {
        /// The number.
        number: String,
        /// The granted expiry.
        expires: Duration,
    },
    /// The registrar refused (a final status other than 401/407 answered in time).
    Failed {
        /// The number.
        number: String,
        /// The SIP status, or 0 when no response came.
        status: u16,
    },
    /// A registration that was up has ended.
    Ended {
        /// The number.
        number: String,
        /// Why.
        reason: EndReason,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// REGISTER in flight, never registered.
    Registering,
    /// Registered until `expires_at`; refresh at `refresh_at`.
    Registered {
        expires_at: Instant,
        refresh_at: Instant,
    },
    /// A refresh is in flight while still registered until `expires_at`.
    Refreshing { expires_at: Instant },
    /// REGISTER with Expires: 0 in flight.
    Deregistering,
}

#[derive(Debug)]
struct Reg {
    state: State,
    call_id: String,
    from_tag: String,
    cseq: u32,
    auth: DigestClient,
    /// The last REGISTER sent (re-sent with credentials after a challenge).
    last: Option<Request<'static>>,
    service_route: Vec<Vec<u8>>,
    subscription_call_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    Register,
    Subscribe,
}

/// The registration client for every number registered through this gateway.
#[derive(Debug)]
pub struct Registrations {
    cfg: RegistrationConfig,
    regs: HashMap<String, Reg>,
    transactions: HashMap<TransactionId, (String, Purpose)>,
    events: VecDeque<RegEvent>,
    ids: IdGen,
}

/// The names of the registration states, as [`Registrations::count_by_state`] orders them.
pub const REGISTRATION_STATES: [&str; 4] =
    ["registering", "registered", "refreshing", "deregistering"];

/// RFC 3261 §10.2.4 refresh point: half the granted time, or 600 s before expiry,
/// whichever comes first (never earlier than 1 s after registering).
pub fn refresh_after(granted: Duration) -> Duration {
    let half = granted / 2;
    let before = granted.saturating_sub(Duration::from_secs(600));
    half.min(before).max(Duration::from_secs(1))
}

impl Registrations {
    /// A client with no registrations; `seed` feeds tags, Call-IDs and cnonces.
    pub fn new(cfg: RegistrationConfig, seed: u64) -> Self {
        Self {
            cfg,
            regs: HashMap::new(),
            transactions: HashMap::new(),
            events: VecDeque::new(),
            ids: IdGen::new(seed),
        }
    }

    /// How many numbers are in each state, in [`REGISTRATION_STATES`] order (the
    /// `rtcgate_registrations` gauge).
    pub fn count_by_state(&self) -> [usize; 4] {
        let mut counts = [0; 4];
        for reg in self.regs.values() {
            let i = match reg.state {
                State::Registering => 0,
                State::Registered { .. } => 1,
                State::Refreshing { .. } => 2,
                State::Deregistering => 3,
            };
            counts[i] += 1;
        }
        counts
    }

    /// Whether `number` is registered now.
    pub fn is_registered(&self, number: &str) -> bool {
        self.regs
            .get(number)
            .is_some_and(|r| matches!(r.state, State::Registered { .. } | State::Refreshing { .. }))
    }

    /// The Service-Route learned for `number` (RFC 3608), in the order Route headers are
    /// written on the user's later requests.
    pub fn service_route(&self, number: &str) -> Option<&[Vec<u8>]> {
        self.regs.get(number).map(|r| r.service_route.as_slice())
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<RegEvent> {
        self.events.pop_front()
    }

    /// Registers `number` with its IMS credentials (`username` is the private identity).
    pub fn register(
        &mut self,
        now: Instant,
        number: &str,
        realm: &str,
        username: &str,
        password: &str,
        layer: &mut TransactionLayer,
    ) {
        let mut auth = DigestClient::new();
        auth.set_credentials(realm, username, password);
        let reg = Reg {
            state: State::Registering,
            call_id: format!("{}{}", self.ids.hex(), self.ids.hex()),
            from_tag: self.ids.hex(),
            cseq: 0,
            auth,
            last: None,
            service_route: Vec::new(),
            subscription_call_id: None,
        };
        self.regs.insert(number.to_owned(), reg);
        self.send_register(now, number, self.cfg.expires, layer);
    }

    /// De-registers `number` (logout, drain): REGISTER with Expires: 0.
    pub fn deregister(&mut self, now: Instant, number: &str, layer: &mut TransactionLayer) {
        let Some(reg) = self.regs.get_mut(number) else {
            return;
        };
        reg.state = State::Deregistering;
        self.send_register(now, number, 0, layer);
    }

    /// De-registers every number that is not already de-registering (the drain: calls
    /// for this node's users stop arriving while the calls in progress finish).
    pub fn deregister_all(&mut self, now: Instant, layer: &mut TransactionLayer) {
        let numbers: Vec<String> = self
            .regs
            .iter()
            .filter(|(_, r)| r.state != State::Deregistering)
            .map(|(n, _)| n.clone())
            .collect();
        for number in numbers {
            self.deregister(now, &number, layer);
        }
    }

    fn aor(&self, number: &str) -> String {
        format!("sip:{number}@{}", self.cfg.domain)
    }

    fn send_register(
        &mut self,
        now: Instant,
        number: &str,
        expires: u32,
        layer: &mut TransactionLayer,
    ) {
        let branch = self.ids.branch();
        let cnonce = self.ids.hex();
        let aor = self.aor(number);
        let uri = format!("sip:{}", self.cfg.domain);
        let local_host = self.cfg.local_host.clone();
        let Some(reg) = self.regs.get_mut(number) else {
            return;
        };
        reg.cseq += 1;
        let mut b = RequestBuilder::new(Method::Register, uri.clone().into_bytes())
            .header(
                "Via",
                format!(
                    "SIP/2.0/{} {local_host};branch={branch};rport",
                    self.cfg.pcscf.transport.via_name()
                ),
            )
            .header("Max-Forwards", "70")
            .header("From", format!("<{aor}>;tag={}", reg.from_tag))
            .header("To", format!("<{aor}>"))
            .header("Call-ID", reg.call_id.clone())
            .header("CSeq", format!("{} REGISTER", reg.cseq))
            .header(
                "Contact",
                format!("<sip:{number}@{local_host}>;expires={expires}"),
            )
            .header("Expires", expires.to_string())
            .header("Supported", "path");
        // A refresh reuses the last nonce with the next nc (RFC 7616 §3.4.5).
        let realms: Vec<String> = reg.auth_realms();
        for realm in realms {
            if let Some(h) = reg
                .auth
                .authorization(&realm, b"REGISTER", uri.as_bytes(), &cnonce)
            {
                b = b.header(&String::from_utf8_lossy(h.name()), h.value.to_vec());
            }
        }
        let req = b.build();
        self.send(now, number, Purpose::Register, req, layer);
    }

    fn send(
        &mut self,
        now: Instant,
        number: &str,
        purpose: Purpose,
        req: Request<'static>,
        layer: &mut TransactionLayer,
    ) {
        match layer.send_request(now, &req, self.cfg.pcscf) {
            Ok(tx) => {
                self.transactions.insert(tx, (number.to_owned(), purpose));
                if purpose == Purpose::Register {
                    if let Some(reg) = self.regs.get_mut(number) {
                        reg.last = Some(req);
                    }
                }
            }
            Err(_) => self.events.push_back(RegEvent::Failed {
                number: number.to_owned(),
                status: 0,
            }),
        }
    }

    /// A response the layer delivered for one of the client's transactions. Returns false
    /// when the transaction is not the client's.
    pub fn handle_response(
        &mut self,
        now: Instant,
        tx: TransactionId,
        resp: &Response<'_>,
        layer: &mut TransactionLayer,
    ) -> bool {
        let Some((number, purpose)) = self.transactions.get(&tx).cloned() else {
            return false;
        };
        if resp.status < 200 {
            return true;
        }
        self.transactions.remove(&tx);
        if purpose == Purpose::Subscribe {
            return true; // NOTIFYs carry the state; a refused subscription only loses news.
        }
        match resp.status {
            200..=299 => self.on_registered(now, &number, resp, layer),
            401 | 407 => self.on_challenge(now, &number, resp, layer),
            status => self.on_refused(now, &number, status),
        }
        true
    }

    fn on_challenge(
        &mut self,
        now: Instant,
        number: &str,
        resp: &Response<'_>,
        layer: &mut TransactionLayer,
    ) {
        let cnonce = self.ids.hex();
        let branch = self.ids.branch();
        let Some(reg) = self.regs.get_mut(number) else {
            return;
        };
        let Some(last) = reg.last.clone() else { return };
        match reg.auth.answer(&last, resp, &cnonce) {
            Ok(headers) => {
                reg.cseq += 1;
                let req = rebuild_with_auth(&last, &headers, reg.cseq, &branch);
                self.send(now, number, Purpose::Register, req, layer);
            }
            // Wrong password (not stale), no credentials for the realm, or no challenge we
            // can answer: asking again would loop, so the registration fails here.
            Err(e) => {
                tracing::warn!(number = %media_plane::redact::phone(number), error = %e, "registration refused");
                self.on_refused(now, number, resp.status);
            }
        }
    }

    fn on_registered(
        &mut self,
        now: Instant,
        number: &str,
        resp: &Response<'_>,
        layer: &mut TransactionLayer,
    ) {
        let expires = granted_expiry(resp, number).unwrap_or(self.cfg.expires);
        let Some(reg) = self.regs.get_mut(number) else {
            return;
        };
        if reg.state == State::Deregistering || expires == 0 {
            self.regs.remove(number);
            self.events.push_back(RegEvent::Ended {
                number: number.to_owned(),
                reason: EndReason::Deregistered,
            });
            return;
        }
        let granted = Duration::from_secs(u64::from(expires));
        let first = reg.state == State::Registering;
        reg.state = State::Registered {
            expires_at: now + granted,
            refresh_at: now + refresh_after(granted),
        };
        // RFC 3608: Service-Route from the 200 OK, used as the route set of later requests.
        reg.service_route = resp
            .headers
            .values(HeaderName::ServiceRoute)
            .map(|v| v.into_iter().map(<[u8]>::to_vec).collect())
            .unwrap_or_default();
        self.events.push_back(RegEvent::Registered {
            number: number.to_owned(),
            expires: granted,
        });
        if first {
            self.subscribe_reg_event(now, number, layer);
        }
    }

    fn on_refused(&mut self, now: Instant, number: &str, status: u16) {
        let Some(reg) = self.regs.get_mut(number) else {
            return;
        };
        match reg.state {
            State::Registering => {
                self.regs.remove(number);
                self.events.push_back(RegEvent::Failed {
                    number: number.to_owned(),
                    status,
                });
            }
            State::Deregistering => {
                self.regs.remove(number);
                self.events.push_back(RegEvent::Ended {
                    number: number.to_owned(),
                    reason: EndReason::Deregistered,
                });
            }
            // A failed refresh: still registered until expiry; try again at half the rest.
            State::Refreshing { expires_at } | State::Registered { expires_at, .. } => {
                let left = expires_at.saturating_duration_since(now);
                reg.state = State::Registered {
                    expires_at,
                    refresh_at: now + (left / 2).max(Duration::from_secs(1)),
                };
            }
        }
    }

    /// RFC 3680: subscribe to the registration state of our own AoR, along the
    /// Service-Route.
    fn subscribe_reg_event(&mut self, now: Instant, number: &str, layer: &mut TransactionLayer) {
        let branch = self.ids.branch();
        let call_id = format!("{}sub", self.ids.hex());
        let tag = self.ids.hex();
        let aor = self.aor(number);
        let local_host = self.cfg.local_host.clone();
        let expires = self.cfg.expires;
        let Some(reg) = self.regs.get_mut(number) else {
            return;
        };
        reg.subscription_call_id = Some(call_id.clone());
        let mut b = RequestBuilder::new(Method::Subscribe, aor.clone().into_bytes())
            .header(
                "Via",
                format!(
                    "SIP/2.0/{} {local_host};branch={branch};rport",
                    self.cfg.pcscf.transport.via_name()
                ),
            )
            .header("Max-Forwards", "70");
        for route in &reg.service_route {
            b = b.header("Route", route.clone());
        }
        let req = b
            .header("From", format!("<{aor}>;tag={tag}"))
            .header("To", format!("<{aor}>"))
            .header("Call-ID", call_id)
            .header("CSeq", "1 SUBSCRIBE")
            .header("Contact", format!("<sip:{number}@{local_host}>"))
            .header("Event", "reg")
            .header("Accept", "application/reginfo+xml")
            .header("Expires", expires.to_string())
            .build();
        self.send(now, number, Purpose::Subscribe, req, layer);
    }

    /// A NOTIFY from the network. Returns false when it belongs to no reg-event
    /// subscription of this client (the caller answers it then).
    pub fn handle_notify(
        &mut self,
        now: Instant,
        tx: TransactionId,
        req: &Request<'_>,
        layer: &mut TransactionLayer,
    ) -> bool {
        let Some(call_id) = req.headers.call_id() else {
            return false;
        };
        let found = self
            .regs
            .iter()
            .find(|(_, r)| r.subscription_call_id.as_deref().map(str::as_bytes) == Some(call_id));
        let Some(number) = found.map(|(n, _)| n.clone()) else {
            return false;
        };
        let _ = layer.send_response(now, tx, &response_to(req, 200, None));
        let body = String::from_utf8_lossy(&req.body);
        if reginfo_terminated(&body, &self.aor(&number)) {
            tracing::info!(number = %media_plane::redact::phone(&number), "network ended the registration");
            self.regs.remove(&number);
            self.events.push_back(RegEvent::Ended {
                number,
                reason: EndReason::Network,
            });
        }
        true
    }

    /// Refreshes due registrations and ends expired ones.
    pub fn handle_timeout(&mut self, now: Instant, layer: &mut TransactionLayer) {
        let mut due = Vec::new();
        let mut expired = Vec::new();
        for (number, reg) in &self.regs {
            match reg.state {
                State::Registered { expires_at, .. } | State::Refreshing { expires_at }
                    if now >= expires_at =>
                {
                    expired.push(number.clone());
                }
                State::Registered { refresh_at, .. } if now >= refresh_at => {
                    due.push(number.clone())
                }
                _ => {}
            }
        }
        for number in expired {
            self.regs.remove(&number);
            self.events.push_back(RegEvent::Ended {
                number,
                reason: EndReason::Expired,
            });
        }
        for number in due {
            if let Some(reg) = self.regs.get_mut(&number) {
                if let State::Registered { expires_at, .. } = reg.state {
                    reg.state = State::Refreshing { expires_at };
                }
            }
            self.send_register(now, &number, self.cfg.expires, layer);
        }
    }

    /// A REGISTER that timed out: as a refusal without a status.
    pub fn handle_transaction_event(&mut self, now: Instant, event: &TransactionEvent) {
        let (TransactionEvent::Timeout { id, .. } | TransactionEvent::TransportError { id, .. }) =
            event
        else {
            return;
        };
        if let Some((number, Purpose::Register)) = self.transactions.remove(id) {
            self.on_refused(now, &number, 0);
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) must next run.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.regs
            .values()
            .filter_map(|r| match r.state {
                State::Registered { refresh_at, .. } => Some(refresh_at),
                State::Refreshing { expires_at } => Some(expires_at),
                _ => None,
            })
            .min()
    }
}

impl Reg {
    fn auth_realms(&self) -> Vec<String> {
        self.last
            .as_ref()
            .map(|r| {
                r.headers
                    .auth(HeaderName::Authorization)
                    .iter()
                    .chain(r.headers.auth(HeaderName::ProxyAuthorization).iter())
                    .filter_map(|a| {
                        a.params
                            .value("realm")
                            .map(|v| String::from_utf8_lossy(v).into_owned())
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// The request again with fresh credentials, CSeq and branch (RFC 3261 §22.2).
fn rebuild_with_auth(
    last: &Request<'_>,
    auth: &[crate::message::Header<'static>],
    cseq: u32,
    branch: &str,
) -> Request<'static> {
    let mut b = RequestBuilder::new(last.method.clone(), last.uri.to_vec());
    for h in last.headers.iter() {
        match h.kind() {
            HeaderName::Authorization
            | HeaderName::ProxyAuthorization
            | HeaderName::ContentLength => {}
            HeaderName::CSeq => b = b.header("CSeq", format!("{cseq} {}", last.method)),
            HeaderName::Via => {
                let via = String::from_utf8_lossy(&h.value);
                let base = via.split(";branch=").next().unwrap_or(&via).to_owned();
                b = b.header("Via", format!("{base};branch={branch};rport"));
            }
            _ => b = b.header(&String::from_utf8_lossy(h.name()), h.value.to_vec()),
        }
    }
    for h in auth {
        b = b.header(&String::from_utf8_lossy(h.name()), h.value.to_vec());
    }
    b.build()
}

/// The expiry the registrar granted our contact: its `expires` parameter, else the
/// Expires header (RFC 3261 §10.2.4).
fn granted_expiry(resp: &Response<'_>, number: &str) -> Option<u32> {
    let ours = format!("sip:{number}@");
    let from_contact = resp.headers.contacts().and_then(|contacts| {
        contacts
            .iter()
            .find(|c| c.uri_raw.starts_with(ours.as_bytes()))
            .and_then(|c| c.params.value("expires"))
            .and_then(|v| std::str::from_utf8(v).ok()?.parse().ok())
    });
    from_contact.or_else(|| resp.headers.expires())
}

/// Whether a reginfo document (RFC 3680 §5.3) says the registration of `aor` is
/// terminated. A deliberately small reader: it looks at the `<registration>` element of
/// our AoR and its `state` attribute.
fn reginfo_terminated(body: &str, aor: &str) -> bool {
    body.split("<registration").skip(1).any(|element| {
        let head = element.split('>').next().unwrap_or_default();
        let names_aor =
            head.contains(&format!("aor=\"{aor}\"")) || head.contains(&format!("aor='{aor}'"));
        names_aor && (head.contains("state=\"terminated\"") || head.contains("state='terminated'"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_at_half_or_600s_before_whichever_is_earlier() {
        assert_eq!(
            refresh_after(Duration::from_secs(3600)),
            Duration::from_secs(1800)
        );
        assert_eq!(
            refresh_after(Duration::from_secs(600_000)),
            Duration::from_secs(300_000)
        );
        assert_eq!(
            refresh_after(Duration::from_secs(1000)),
            Duration::from_secs(400)
        );
        assert_eq!(
            refresh_after(Duration::from_secs(60)),
            Duration::from_secs(1)
        );
    }

    #[test]
    fn reginfo_terminated_is_read_for_our_aor_only() {
        let doc = r#"<?xml version="1.0"?>
<reginfo xmlns="urn:ietf:params:xml:ns:reginfo" version="1" state="partial">
  <registration aor="sip:+15550002@ims.example.net" id="a" state="active"/>
  <registration aor="sip:+15550001@ims.example.net" id="b" state="terminated">
    <contact id="c" state="terminated" event="deactivated"><uri>sip:x</uri></contact>
  </registration>
</reginfo>"#;
        assert!(reginfo_terminated(doc, "sip:+15550001@ims.example.net"));
        assert!(!reginfo_terminated(doc, "sip:+15550002@ims.example.net"));
        assert!(!reginfo_terminated("", "sip:+15550001@ims.example.net"));
    }
}
