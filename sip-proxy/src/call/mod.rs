//! The B2BUA call core: web-side commands in, SIP dialogs toward IMS, CAMARA events out.
//!
//! ```text
//!   Command (JSON side) ──► CallCore ──send_request/stateless──► TransactionLayer ─► IMS
//!                              ▲   │
//!   responses / requests ──────┘   ├──► MediaControl (allocate, update, release)
//!   (delivered by the layer)       └──► CallEvent (CAMARA status, reason, answer SDP)
//! ```
//!
//! Sans-IO: every method takes `now` and the transaction layer it sends through; nothing
//! here reads a clock, owns a socket or spawns a task. This module covers calls the
//! browser originates (MO): INVITE with `Supported: 100rel, timer`, reliable provisional
//! responses with PRACK, early media on 183, CANCEL (waiting for a provisional first, and
//! handling the 200-after-CANCEL race), BYE in both directions, and the CAMARA mapping of
//! every final response.

mod hold;
mod incoming;
mod media_events;
mod outgoing;
mod reliable;
mod session;
mod status;

pub use incoming::number_of;
pub use status::CamaraStatus;

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::time::Instant;

use media_plane::datapath::ToneRequest;

use crate::dialog::Dialog;
use crate::media::{MediaAllocation, MediaControl, MediaError, MediaSessionId};
use crate::message::Request;
use crate::sdp::{self, Origin, SdpError};
use crate::transaction::{Target, TransactionId};

/// A call as the web side names it (the JSON layer maps `mediaSessionId` to it). Never
/// written into SIP: topology hiding keeps web-side identifiers out of the IMS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallId(pub u64);

/// Which identity header carries the caller's number (RFC 3325).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentityHeader {
    /// `P-Preferred-Identity`: toward a P-CSCF, which asserts it.
    Preferred,
    /// `P-Asserted-Identity`: toward a trusted trunk (IBCF).
    Asserted,
}

/// Settings of the call core.
#[derive(Debug, Clone)]
pub struct CallCoreConfig {
    /// Where every out-of-dialog request goes (P-CSCF or IBCF).
    pub next_hop: Target,
    /// The gateway's own SIP `host:port`, for Via and Contact.
    pub local_host: String,
    /// The IMS home domain, for From/To/Request-URI of numbers.
    pub domain: String,
    /// Which identity header the INVITE carries.
    pub identity: IdentityHeader,
    /// `P-Access-Network-Info` value, if any (TS 24.229 §7.2A.4).
    pub access_network_info: Option<String>,
    /// Session-Expires offered in INVITEs (RFC 4028), seconds.
    pub session_expires: u32,
    /// RFC 3261 timers (for the 2xx retransmission of incoming calls).
    pub timers: crate::transaction::TimerConfig,
    /// Further targets for the next hop, in RFC 3263 order: a new call moves to the next
    /// one when its INVITE meets a transport error, a timeout or a 503 (RFC 3263 §4.3).
    pub fallback_hops: Vec<Target>,
}

/// A command from the web side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Place a call from `from` to `to` (E.164 `+…`, `tel:` or `sip:` URIs) with the
    /// browser's SDP offer.
    Originate {
        /// The call's id.
        call: CallId,
        /// The caller: the authenticated phone number.
        from: String,
        /// The callee.
        to: String,
        /// The browser's offer.
        offer: String,
    },
    /// End the call: CANCEL before answer (outgoing), 603 Decline before answer
    /// (incoming), BYE after.
    Hangup {
        /// The call.
        call: CallId,
    },
    /// The browser is alerting the user on an incoming call: 180 Ringing.
    Ringing {
        /// The call.
        call: CallId,
    },
    /// The browser reports progress on an incoming call: 183 Session Progress.
    Progress {
        /// The call.
        call: CallId,
    },
    /// The browser puts the call on hold; `offer` is its re-offer (`sendonly`), answered
    /// in the `Hold` event.
    Hold {
        /// The call.
        call: CallId,
        /// The browser's SDP re-offer, if it renegotiated.
        offer: Option<String>,
    },
    /// The browser resumes the call; `offer` is its re-offer (`sendrecv`).
    Resume {
        /// The call.
        call: CallId,
        /// The browser's SDP re-offer, if it renegotiated.
        offer: Option<String>,
    },
    /// Send DTMF digits toward the IMS side as RFC 4733 telephone-events.
    Dtmf {
        /// The call.
        call: CallId,
        /// Digits: `0`–`9`, `*`, `#`, `A`–`D`.
        digits: String,
        /// Tone duration per digit, milliseconds (RFC 4733 §2.5.1.3; 40–2000 accepted).
        duration_ms: u32,
    },
    /// The browser answers an incoming call with its SDP: 200 OK.
    Answer {
        /// The call.
        call: CallId,
        /// The browser's SDP answer to the offer it got in [`CallEvent::Incoming`].
        sdp: String,
    },
}

/// An event for the web side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallEvent {
    /// A call for a web user arrived from the IMS side.
    Incoming {
        /// The id the core gave the call.
        call: CallId,
        /// The caller's number (`+…`), or `anonymous`.
        from: String,
        /// The web user's number that was called.
        to: String,
        /// The SDP offer for the browser.
        offer: String,
    },
    /// The call's status changed.
    Status {
        /// The call.
        call: CallId,
        /// The new status.
        status: CamaraStatus,
        /// Why, for failures and remote hang-ups (`SIP 486`, `remote hangup`, …).
        reason: Option<String>,
        /// The SDP answer for the browser, on the first event that has one.
        sdp: Option<String>,
    },
}

/// Why a command was refused. [`CallError::sip_status`] is the mapping to SIP where the
/// refusal answers an IMS request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
    /// The call id is already in use.
    #[error("call {0:?} already exists")]
    Exists(CallId),
    /// No such call.
    #[error("no call {0:?}")]
    UnknownCall(CallId),
    /// The command does not fit the call's state (answering an outgoing call, answering
    /// twice).
    #[error("call {0:?} is not in a state for that")]
    WrongState(CallId),
    /// DTMF digits or a duration outside what RFC 4733 events carry.
    #[error("invalid DTMF {0:?}")]
    BadDtmf(String),
    /// A phone number or URI the gateway cannot route.
    #[error("invalid address {0:?}")]
    BadAddress(String),
    /// The SDP was refused.
    #[error(transparent)]
    Sdp(#[from] SdpError),
    /// The media plane refused.
    #[error(transparent)]
    Media(#[from] MediaError),
    /// The transaction layer refused the request (a bug or a resource limit).
    #[error("transaction layer refused the request")]
    Transaction,
}

impl CallError {
    /// The SIP status for this refusal.
    pub fn sip_status(&self) -> u16 {
        match self {
            CallError::Exists(_) | CallError::BadAddress(_) | CallError::BadDtmf(_) => 400,
            CallError::UnknownCall(_) => 481,
            CallError::WrongState(_) => 491,
            CallError::Sdp(e) => e.sip_status(),
            CallError::Media(e) => e.sip_status(),
            CallError::Transaction => 500,
        }
    }
}

/// Who placed the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// The browser (mobile-originated toward IMS).
    Mo,
    /// The IMS side (mobile-terminated at the browser).
    Mt,
}

/// Where a call is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// INVITE sent (or received), no provisional response yet.
    Calling,
    /// A provisional response arrived (or was sent).
    Early,
    /// 2xx received and acknowledged (or sent).
    Connected,
}

/// What a client transaction the core started was for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    Invite,
    Prack,
    Cancel,
    Bye,
    Refresh,
    Reinvite,
}

#[derive(Debug)]
struct Call {
    role: Role,
    /// The web user's number: the caller of an MO call, the callee of an MT call.
    user: String,
    media: MediaSessionId,
    phase: Phase,
    invite: Request<'static>,
    invite_tx: TransactionId,
    pending_sdp: sdp::Pending,
    allocation: MediaAllocation,
    origin: Origin,
    /// The dialog the call follows (the first early dialog, then the confirmed one).
    dialog: Option<Dialog>,
    /// Whether the browser already has its answer.
    answered: bool,
    /// The web side hung up before answer; CANCEL sent or waiting for a provisional.
    cancelling: bool,
    cancel_sent: bool,
    /// The session timer, once a 2xx set one up (RFC 4028).
    timer: Option<session::SessionTimer>,
    /// The description the gateway last gave the IMS side (answers re-offers).
    local_ims_sdp: Option<sdp::SessionDescription>,
    /// What the media plane was last given.
    negotiated: Option<sdp::Negotiated>,
    /// Our hold/resume re-INVITE in flight.
    reinvite: Option<hold::PendingReinvite>,
    /// Which next hop the call uses: 0 is `next_hop`, then `fallback_hops`.
    hop: usize,
    /// The 2xx of an incoming call, resent until its ACK (RFC 3261 §13.3.1.4).
    unacked: Option<(
        crate::message::Response<'static>,
        crate::transaction::Uas2xxRetransmit,
    )>,
    /// Reliable provisional responses of an incoming call that offered 100rel (RFC 3262).
    reliable: Option<reliable::Reliable>,
}

/// The call core.
#[derive(Debug)]
pub struct CallCore<M: MediaControl> {
    cfg: CallCoreConfig,
    media: M,
    calls: BTreeMap<CallId, Call>,
    transactions: HashMap<TransactionId, (CallId, Purpose)>,
    events: VecDeque<CallEvent>,
    ids: crate::ids::IdGen,
    /// Numbers of the web users that can receive calls.
    users: HashSet<String>,
    /// Service-Route of each registered number (RFC 3608 §6): the preloaded Route set of
    /// the INVITEs its user places.
    service_routes: HashMap<String, Vec<Vec<u8>>>,
    next_mt: u64,
}

impl<M: MediaControl> CallCore<M> {
    /// A call core that reaches the media plane through `media`; `seed` feeds the tags,
    /// branches and Call-IDs it generates.
    pub fn new(cfg: CallCoreConfig, media: M, seed: u64) -> Self {
        Self {
            cfg,
            media,
            calls: BTreeMap::new(),
            transactions: HashMap::new(),
            events: VecDeque::new(),
            ids: crate::ids::IdGen::new(seed),
            users: HashSet::new(),
            service_routes: HashMap::new(),
            next_mt: 1,
        }
    }

    /// The media-control implementation (for tests and metrics).
    pub fn media(&self) -> &M {
        &self.media
    }

    /// Calls in progress.
    pub fn active_calls(&self) -> usize {
        self.calls.len()
    }

    /// Sets the Service-Route learned when `number` registered (RFC 3608 §6); an empty
    /// route (or de-registration) removes it. Calls placed afterwards preload it.
    pub fn set_service_route(&mut self, number: &str, route: Vec<Vec<u8>>) {
        if route.is_empty() {
            self.service_routes.remove(number);
        } else {
            self.service_routes.insert(number.to_owned(), route);
        }
    }

    /// The ids of the calls in progress.
    pub fn call_ids(&self) -> Vec<CallId> {
        self.calls.keys().copied().collect()
    }

    /// The next event for the web side.
    pub fn poll_event(&mut self) -> Option<CallEvent> {
        self.events.pop_front()
    }

    fn emit(
        &mut self,
        call: CallId,
        status: CamaraStatus,
        reason: Option<String>,
        sdp: Option<String>,
    ) {
        self.events.push_back(CallEvent::Status {
            call,
            status,
            reason,
            sdp,
        });
    }

    /// Ends a call on the core's side: media released, state and transactions dropped.
    fn finish(&mut self, call: CallId, status: CamaraStatus, reason: Option<String>) {
        if let Some(c) = self.calls.remove(&call) {
            self.media.release(c.media);
        }
        self.transactions.retain(|_, (c, _)| *c != call);
        self.emit(call, status, reason, None);
    }

    /// The next hop a call's requests go to.
    fn target_of(&self, call: CallId) -> Target {
        let hop = self.calls.get(&call).map_or(0, |c| c.hop);
        match hop {
            0 => self.cfg.next_hop,
            n => self
                .cfg
                .fallback_hops
                .get(n - 1)
                .copied()
                .unwrap_or(self.cfg.next_hop),
        }
    }

    /// A Via for a request of `call`, naming the transport toward its next hop.
    fn via(&mut self, call: CallId) -> String {
        let branch = self.ids.branch();
        let transport = self.target_of(call).transport.via_name();
        format!(
            "SIP/2.0/{transport} {};branch={branch};rport",
            self.cfg.local_host
        )
    }

    /// The Contact of a call of web user `user`: `sip:+1555…@gateway` (as in its
    /// REGISTER, so a registrar or the lab routes in-dialog requests back by number), or
    /// `sip:gateway` when `user` is not a number.
    fn contact(&self, user: &str) -> Vec<u8> {
        let number = user.strip_prefix("tel:").unwrap_or(user);
        let is_number = number
            .strip_prefix('+')
            .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()));
        if is_number {
            format!("sip:{number}@{}", self.cfg.local_host).into_bytes()
        } else {
            format!("sip:{}", self.cfg.local_host).into_bytes()
        }
    }

    /// The web user's number of `call` (empty when the call is gone).
    fn user_of(&self, call: CallId) -> String {
        self.calls
            .get(&call)
            .map(|c| c.user.clone())
            .unwrap_or_default()
    }

    /// `tel:+1555…`, `+1555…` or a SIP URI, as the SIP URI used in From/To/Request-URI
    /// (TS 24.229 §5.1.2A.1.5: a number as `sip:+…@domain;user=phone`).
    fn sip_uri(&self, address: &str) -> Result<String, CallError> {
        let number = address.strip_prefix("tel:").unwrap_or(address);
        if let Some(digits) = number.strip_prefix('+') {
            let valid = !digits.is_empty()
                && digits.len() <= 15
                && digits.bytes().all(|b| b.is_ascii_digit());
            if !valid {
                return Err(CallError::BadAddress(address.to_owned()));
            }
            return Ok(format!("sip:{number}@{};user=phone", self.cfg.domain));
        }
        let is_sip = address.starts_with("sip:") || address.starts_with("sips:");
        let clean = !address
            .bytes()
            .any(|b| b.is_ascii_whitespace() || b == b'<' || b == b'>');
        if is_sip && clean && address.contains('@') {
            return Ok(address.to_owned());
        }
        Err(CallError::BadAddress(address.to_owned()))
    }

    /// Handles a web-side command.
    pub fn handle_command(
        &mut self,
        now: Instant,
        cmd: Command,
        layer: &mut crate::transaction::TransactionLayer,
    ) -> Result<(), CallError> {
        match cmd {
            Command::Originate {
                call,
                from,
                to,
                offer,
            } => self.originate(now, call, &from, &to, &offer, layer),
            Command::Hangup { call } => self.hangup(now, call, layer),
            Command::Ringing { call } => self.progress(now, call, 180, layer),
            Command::Progress { call } => self.progress(now, call, 183, layer),
            Command::Answer { call, sdp } => self.answer(now, call, &sdp, layer),
            Command::Dtmf {
                call,
                digits,
                duration_ms,
            } => self.dtmf(call, &digits, duration_ms),
            Command::Hold { call, offer } => {
                self.hold_or_resume(now, call, true, offer.as_deref(), layer)
            }
            Command::Resume { call, offer } => {
                self.hold_or_resume(now, call, false, offer.as_deref(), layer)
            }
        }
    }

    /// Sends each digit as a telephone-event on the IMS leg (the media plane maps the
    /// payload type and clock rate). Only in a connected call with telephone-event
    /// negotiated on both legs.
    fn dtmf(&mut self, call: CallId, digits: &str, duration_ms: u32) -> Result<(), CallError> {
        let c = self.calls.get(&call).ok_or(CallError::UnknownCall(call))?;
        let negotiated_dtmf = c.negotiated.as_ref().and_then(|n| n.dtmf).is_some();
        if c.phase != Phase::Connected || !negotiated_dtmf {
            return Err(CallError::WrongState(call));
        }
        let valid = |d| ToneRequest::dtmf_event(d).is_some();
        if digits.is_empty()
            || digits.len() > 32
            || !digits.chars().all(valid)
            || !(40..=2000).contains(&duration_ms)
        {
            return Err(CallError::BadDtmf(digits.to_owned()));
        }
        let media = c.media;
        for digit in digits.chars() {
            self.media.send_dtmf(media, digit, duration_ms)?;
        }
        Ok(())
    }

    /// Sends an in-dialog or out-of-dialog request through a new client transaction and
    /// remembers what it is for.
    fn send(
        &mut self,
        now: Instant,
        call: CallId,
        purpose: Purpose,
        req: &Request<'_>,
        layer: &mut crate::transaction::TransactionLayer,
    ) -> Result<TransactionId, CallError> {
        let tx = layer
            .send_request(now, req, self.target_of(call))
            .map_err(|_| CallError::Transaction)?;
        self.transactions.insert(tx, (call, purpose));
        Ok(tx)
    }
}
