//! The ICE-lite agent of one call (RFC 8445 §2.5, §7.3), sans-IO.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::stun::{
    verify_trailing_fingerprint, Class, ErrorCode, Header, IceRole, Message, MessageWriter, Method,
    StunError, TransactionId,
};

use super::{CheckFailure, Handled, IceCounters, IceEvent, LocalCredentials, RemoteCredentials};

/// RFC 7675 §5.1: consent expires 30 s after the last authenticated check.
pub const CONSENT_TIMEOUT: Duration = Duration::from_secs(30);

/// A reply buffer of this many bytes always holds the agent's answer (the largest is a
/// 420 with UNKNOWN-ATTRIBUTES, MESSAGE-INTEGRITY and FINGERPRINT: about 100 bytes).
pub const MAX_REPLY_LEN: usize = 128;

/// The 5-tuple of a candidate pair as the data path sees it (UDP only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Pair {
    local: SocketAddr,
    remote: SocketAddr,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// No authenticated check yet (in this generation).
    Waiting,
    /// Checks arrive; `selected` is set and consent is running.
    Connected,
    /// Consent expired (RFC 7675); only a restart leaves this state.
    ConsentLost,
}

/// What [`IceLiteAgent::apply_remote_credentials`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoteUpdate {
    /// The remote credentials were unknown and are now set.
    Set,
    /// Same credentials as before: a re-offer without ICE restart.
    Unchanged,
    /// The browser changed its ufrag/pwd: ICE restart, the fresh local credentials are now
    /// in force and must go into the answer (RFC 8445 §9).
    Restarted,
}

/// The ICE-lite agent of one call: answers the browser's connectivity checks, learns the
/// browser's address only from authenticated checks, follows its nomination and watches
/// consent (RFC 7675).
///
/// Sans-IO: it never reads a clock or touches a socket. The driver feeds datagrams with
/// [`handle_stun`](Self::handle_stun), calls [`handle_timeout`](Self::handle_timeout) at
/// [`poll_timeout`](Self::poll_timeout), and drains [`poll_event`](Self::poll_event). It
/// is a few hundred bytes with no heap beyond the remote credentials and the (usually
/// empty) event queue, so a worker thread can own thousands.
///
/// Role: a lite agent is always controlled (RFC 8445 §6.1.1); it has no tie-breaker of
/// its own to compare because it never switches role (see [`CheckFailure::RoleConflict`]).
#[derive(Debug)]
pub struct IceLiteAgent {
    local: LocalCredentials,
    remote: Option<RemoteCredentials>,
    state: State,
    /// The pair media goes to: the nominated one, else the first authenticated one.
    selected: Option<Pair>,
    nominated: Option<Pair>,
    /// When the current generation started, for time-to-nomination.
    generation_start: Instant,
    /// Last authenticated check on the selected pair (RFC 7675 §5.1).
    last_consent: Instant,
    events: VecDeque<IceEvent>,
    counters: IceCounters,
}

impl IceLiteAgent {
    /// A new agent with this call's local credentials; `remote` is known when the
    /// browser made the offer, and set later otherwise.
    pub fn new(now: Instant, local: LocalCredentials, remote: Option<RemoteCredentials>) -> Self {
        IceLiteAgent {
            local,
            remote,
            state: State::Waiting,
            selected: None,
            nominated: None,
            generation_start: now,
            last_consent: now,
            events: VecDeque::new(),
            counters: IceCounters::default(),
        }
    }

    /// The local credentials in force (for `a=ice-ufrag`/`a=ice-pwd` and the demux table).
    pub fn local_credentials(&self) -> &LocalCredentials {
        &self.local
    }

    /// The remote credentials, if known.
    pub fn remote_credentials(&self) -> Option<&RemoteCredentials> {
        self.remote.as_ref()
    }

    /// The address media should go to, if any: the nominated pair, else the first
    /// authenticated one. `None` before any authenticated check and after consent loss.
    pub fn selected_remote(&self) -> Option<(SocketAddr, SocketAddr)> {
        match self.state {
            State::Connected => self.selected.map(|p| (p.local, p.remote)),
            State::Waiting | State::ConsentLost => None,
        }
    }

    /// Whether the browser has nominated a pair in this generation.
    pub fn is_nominated(&self) -> bool {
        self.nominated.is_some()
    }

    /// The counters, for metrics.
    pub fn counters(&self) -> &IceCounters {
        &self.counters
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<IceEvent> {
        self.events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) must next be called: the consent
    /// deadline while connected, else never.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            State::Connected => Some(self.last_consent + CONSENT_TIMEOUT),
            State::Waiting | State::ConsentLost => None,
        }
    }

    /// Advances time: consent is lost once `now` reaches 30 s after the last
    /// authenticated check on the selected pair (RFC 7675 §5.1).
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.state != State::Connected || now < self.last_consent + CONSENT_TIMEOUT {
            return;
        }
        self.state = State::ConsentLost;
        self.counters.consent_lost += 1;
        if let Some(p) = self.selected {
            self.events.push_back(IceEvent::ConsentLost {
                local: p.local,
                remote: p.remote,
            });
        }
        tracing::info!(ufrag = %self.local.ufrag(), "ICE consent lost (RFC 7675)");
    }

    /// Sets the browser's credentials from its SDP. Unchanged credentials are a re-offer;
    /// changed ones are an ICE restart (RFC 8445 §9), and then `fresh_local` becomes this
    /// side's credentials (an answerer must change its own too). `fresh_local` is not
    /// used otherwise.
    pub fn apply_remote_credentials(
        &mut self,
        now: Instant,
        remote: RemoteCredentials,
        fresh_local: LocalCredentials,
    ) -> RemoteUpdate {
        match &self.remote {
            None => {
                self.remote = Some(remote);
                RemoteUpdate::Set
            }
            Some(r) if *r == remote => RemoteUpdate::Unchanged,
            Some(_) => {
                self.restart(now, fresh_local, Some(remote));
                RemoteUpdate::Restarted
            }
        }
    }

    /// ICE restart (RFC 8445 §9) with new local credentials and, when known, the
    /// browser's new ones. Checks with the old credentials fail from now on. Media keeps
    /// flowing on the selected pair until the browser nominates again; after a consent
    /// loss, the agent starts over and waits for a check.
    pub fn restart(
        &mut self,
        now: Instant,
        local: LocalCredentials,
        remote: Option<RemoteCredentials>,
    ) {
        let previous = self.local.ufrag();
        self.local = local;
        self.remote = remote;
        self.nominated = None;
        self.generation_start = now;
        if self.state == State::ConsentLost {
            self.state = State::Waiting;
            self.selected = None;
        }
        self.counters.restarts += 1;
        self.events.push_back(IceEvent::Restarted {
            previous_local_ufrag: previous,
            local_ufrag: self.local.ufrag(),
        });
        tracing::info!(ufrag = %self.local.ufrag(), "ICE restart");
    }

    /// Handles one datagram that the demultiplexer classified as STUN, received from
    /// `src` on our address `local`, and writes any reply into `out` (at least
    /// [`MAX_REPLY_LEN`] bytes). Never panics; every dropped or refused datagram is
    /// counted by reason.
    ///
    /// RFC 8445 §7.3 / RFC 8489 §6.3, in order: framing and FINGERPRINT (drop), Binding
    /// request only (drop), USERNAME and MESSAGE-INTEGRITY present (400), USERNAME is
    /// `localufrag:remoteufrag` (401), integrity with the local password (401); then,
    /// authenticated: unknown comprehension-required attributes (420), PRIORITY (400),
    /// role (487); then success with XOR-MAPPED-ADDRESS.
    pub fn handle_stun(
        &mut self,
        now: Instant,
        src: SocketAddr,
        local: SocketAddr,
        packet: &[u8],
        out: &mut [u8],
    ) -> Handled {
        self.handle_timeout(now);
        let handled = self.check(now, src, local, packet, out);
        match handled.failure() {
            Some(reason) => self.counters.count_failure(reason),
            None => self.counters.checks_ok += 1,
        }
        handled
    }

    fn check(
        &mut self,
        now: Instant,
        src: SocketAddr,
        local: SocketAddr,
        packet: &[u8],
        out: &mut [u8],
    ) -> Handled {
        if out.len() < MAX_REPLY_LEN {
            return Handled::Dropped {
                reason: CheckFailure::ReplyBufferTooSmall,
            };
        }
        let header = match Header::parse(packet) {
            Ok(h) => h,
            Err(e) => return drop_for(e),
        };
        let is_binding_request = header.class == Class::Request && header.method == Method::BINDING;
        let msg = match Message::parse(packet) {
            Ok(m) => m,
            // A framed Binding request with a bad known attribute gets a 400, if its
            // FINGERPRINT holds (RFC 8489 §6.3: otherwise it is silently discarded).
            Err(StunError::BadAttribute { .. })
                if is_binding_request && verify_trailing_fingerprint(packet).is_ok() =>
            {
                return self.reply_error(out, header.transaction_id, CheckFailure::BadAttribute);
            }
            Err(e) => return drop_for(e),
        };
        if !is_binding_request {
            return Handled::Dropped {
                reason: CheckFailure::Unexpected,
            };
        }
        // RFC 8445 §7.2.2 (checks carry FINGERPRINT) and RFC 8489 §6.3 (discard on mismatch).
        match msg.verify_fingerprint() {
            Ok(()) => {}
            Err(StunError::FingerprintMissing) => {
                return Handled::Dropped {
                    reason: CheckFailure::MissingFingerprint,
                }
            }
            Err(_) => {
                return Handled::Dropped {
                    reason: CheckFailure::BadFingerprint,
                }
            }
        }
        let tid = msg.transaction_id();
        if let Err(reason) = self.authenticate(&msg) {
            return self.reply_error(out, tid, reason);
        }
        // Authenticated from here on: error responses carry MESSAGE-INTEGRITY.
        if !msg.unknown_comprehension_required().is_empty() {
            return self.reply_unknown(out, tid, msg.unknown_comprehension_required());
        }
        if msg.priority().is_none() {
            return self.reply_error(out, tid, CheckFailure::MissingPriority);
        }
        // RFC 8445 §7.3.1.1, for an agent that is controlled: ICE-CONTROLLING agrees with
        // our role. ICE-CONTROLLED is a conflict; a full agent would compare tie-breakers
        // and, losing, switch to controlling. A lite agent must stay controlled
        // (RFC 8445 §6.1.1), so it always keeps its role and answers 487, which makes the
        // browser switch to controlling (RFC 8445 §7.2.5.1).
        // A request with neither attribute (RFC 8445 §7.1.3 requires one) is answered:
        // refusing it would protect nothing, as the sender is already authenticated.
        if let Some(IceRole::Controlled(_)) = msg.ice_role() {
            return self.reply_error(out, tid, CheckFailure::RoleConflict);
        }
        match self.reply_success(out, tid, src) {
            Ok(len) => {
                self.on_valid_check(now, Pair { local, remote: src }, msg.use_candidate());
                Handled::Success { len }
            }
            Err(_) => Handled::Dropped {
                reason: CheckFailure::ReplyBufferTooSmall,
            },
        }
    }

    /// RFC 8489 §9.1.3 short-term credential checks, RFC 8445 §7.3 USERNAME form.
    fn authenticate(&self, msg: &Message<'_>) -> Result<(), CheckFailure> {
        let Some(username) = msg.username() else {
            return Err(CheckFailure::MissingCredentials);
        };
        if !msg.has_integrity() {
            return Err(CheckFailure::MissingCredentials);
        }
        // ice-chars contain no ':', so the first colon separates the two ufrags.
        let Some((ours, theirs)) = username.split_once(':') else {
            return Err(CheckFailure::WrongUsername);
        };
        if ours != self.local.ufrag().as_str() {
            return Err(CheckFailure::WrongUsername);
        }
        // RFC 8445 §7.3: before the browser's credentials are known (we offered and the
        // answer is not processed yet) only the local part can be checked; the integrity
        // check with our password still authenticates the sender.
        if let Some(remote) = &self.remote {
            if theirs != remote.ufrag() {
                return Err(CheckFailure::WrongUsername);
            }
        }
        msg.verify_integrity(self.local.pwd().as_bytes())
            .map_err(|_| CheckFailure::BadIntegrity)
    }

    fn on_valid_check(&mut self, now: Instant, pair: Pair, use_candidate: bool) {
        if self.state == State::ConsentLost {
            // RFC 7675 §5.1: no resumption on this generation; answered, not revived.
            return;
        }
        if self.selected.is_none() || self.state == State::Waiting {
            self.selected = Some(pair);
            self.state = State::Connected;
            self.last_consent = now;
            self.events.push_back(IceEvent::Connected {
                local: pair.local,
                remote: pair.remote,
            });
        }
        if use_candidate && self.nominated != Some(pair) {
            // RFC 8445 §8.1.1 / §7.3.1.5: the controlling agent nominated this pair.
            self.nominated = Some(pair);
            self.selected = Some(pair);
            self.counters.nominations += 1;
            self.events.push_back(IceEvent::Nominated {
                local: pair.local,
                remote: pair.remote,
                after: now.saturating_duration_since(self.generation_start),
            });
        }
        if self.selected == Some(pair) {
            self.last_consent = now;
        }
    }

    fn reply_success(
        &self,
        out: &mut [u8],
        tid: TransactionId,
        src: SocketAddr,
    ) -> Result<usize, StunError> {
        let mut w = MessageWriter::new(out, Class::SuccessResponse, Method::BINDING, tid)?;
        w.xor_mapped_address(src)?
            .message_integrity(self.local.pwd().as_bytes())?
            .fingerprint()?;
        Ok(w.finish())
    }

    fn write_error(
        &self,
        out: &mut [u8],
        tid: TransactionId,
        reason: CheckFailure,
        unknown: &[u16],
    ) -> Result<usize, StunError> {
        let code = reason.error_code().unwrap_or(400);
        let mut w = MessageWriter::new(out, Class::ErrorResponse, Method::BINDING, tid)?;
        w.error_code(code, ErrorCode::default_reason(code))?;
        if !unknown.is_empty() {
            w.unknown_attributes(unknown)?;
        }
        if reason.authenticated() {
            w.message_integrity(self.local.pwd().as_bytes())?;
        }
        w.fingerprint()?;
        Ok(w.finish())
    }

    fn reply_error(&self, out: &mut [u8], tid: TransactionId, reason: CheckFailure) -> Handled {
        match self.write_error(out, tid, reason, &[]) {
            Ok(len) => Handled::ErrorResponse { len, reason },
            Err(_) => Handled::Dropped {
                reason: CheckFailure::ReplyBufferTooSmall,
            },
        }
    }

    /// RFC 8489 §6.3.1.1: 420 listing the unknown comprehension-required attributes.
    fn reply_unknown(&self, out: &mut [u8], tid: TransactionId, unknown: &[u16]) -> Handled {
        let reason = CheckFailure::UnknownAttributes;
        match self.write_error(out, tid, reason, unknown) {
            Ok(len) => Handled::ErrorResponse { len, reason },
            Err(_) => Handled::Dropped {
                reason: CheckFailure::ReplyBufferTooSmall,
            },
        }
    }
}

/// Framing errors: RFC 8489 §6.3, the datagram is silently discarded.
fn drop_for(e: StunError) -> Handled {
    let reason = match e {
        StunError::NotStun => CheckFailure::NotStun,
        StunError::Truncated { .. } => CheckFailure::Truncated,
        _ => CheckFailure::Malformed,
    };
    Handled::Dropped { reason }
}
