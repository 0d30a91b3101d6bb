//! What the agent reports: events, the outcome of each datagram, and counters.

use std::net::SocketAddr;
use std::time::Duration;

use super::LocalUfrag;

/// Something the call or the data path should act on, drained with
/// [`super::IceLiteAgent::poll_event`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum IceEvent {
    /// The first authenticated check arrived: `remote` is proven to hold the credentials
    /// and is now the address to send to (until a nomination says otherwise). The data
    /// path may latch this 5-tuple for DTLS/SRTP.
    Connected {
        /// Our address the check arrived on.
        local: SocketAddr,
        /// The browser's address.
        remote: SocketAddr,
    },
    /// The controlling agent nominated this pair with USE-CANDIDATE (RFC 8445 §8.1); it
    /// is the selected pair. Reported again if the browser later nominates another pair.
    Nominated {
        /// Our address.
        local: SocketAddr,
        /// The browser's address.
        remote: SocketAddr,
        /// Time from the agent's start (or restart) to this nomination.
        after: Duration,
    },
    /// RFC 7675 §5.1: no authenticated check on the selected pair for 30 s. Media must
    /// stop; the call decides whether to end. Only an ICE restart revives the agent.
    ConsentLost {
        /// Our address.
        local: SocketAddr,
        /// The browser's address.
        remote: SocketAddr,
    },
    /// New credentials are in force (RFC 8445 §9): the demultiplexer must route the new
    /// local ufrag to this agent and may forget the previous one.
    Restarted {
        /// The ufrag that is no longer valid.
        previous_local_ufrag: LocalUfrag,
        /// The ufrag now in force.
        local_ufrag: LocalUfrag,
    },
}

/// Why a datagram was not answered with a success response. The one place where a
/// reason becomes a wire code is [`CheckFailure::error_code`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CheckFailure {
    /// Not STUN at all (leading bits, magic cookie).
    NotStun,
    /// Shorter than its header says.
    Truncated,
    /// Broken attribute framing or trailing bytes (RFC 8489 §6.3: discarded).
    Malformed,
    /// A STUN message other than a Binding request (responses, indications, other methods).
    Unexpected,
    /// No FINGERPRINT (RFC 8445 §7.2.2 requires it on checks).
    MissingFingerprint,
    /// FINGERPRINT does not match.
    BadFingerprint,
    /// A known attribute with a malformed value.
    BadAttribute,
    /// USERNAME or MESSAGE-INTEGRITY missing (RFC 8489 §9.1.3).
    MissingCredentials,
    /// USERNAME is not `localufrag:remoteufrag` (RFC 8445 §7.3).
    WrongUsername,
    /// MESSAGE-INTEGRITY does not verify with the local password (RFC 8489 §9.1.3).
    BadIntegrity,
    /// Unknown comprehension-required attributes (RFC 8489 §6.3.1).
    UnknownAttributes,
    /// No PRIORITY (RFC 8445 §7.1.1).
    MissingPriority,
    /// The peer claims the controlled role too (RFC 8445 §7.3.1.1).
    RoleConflict,
    /// The caller's reply buffer is smaller than [`super::MAX_REPLY_LEN`].
    ReplyBufferTooSmall,
}

impl CheckFailure {
    /// Every reason, for exporting counters.
    pub const ALL: [CheckFailure; 14] = [
        CheckFailure::NotStun,
        CheckFailure::Truncated,
        CheckFailure::Malformed,
        CheckFailure::Unexpected,
        CheckFailure::MissingFingerprint,
        CheckFailure::BadFingerprint,
        CheckFailure::BadAttribute,
        CheckFailure::MissingCredentials,
        CheckFailure::WrongUsername,
        CheckFailure::BadIntegrity,
        CheckFailure::UnknownAttributes,
        CheckFailure::MissingPriority,
        CheckFailure::RoleConflict,
        CheckFailure::ReplyBufferTooSmall,
    ];

    /// The STUN error code sent back, or `None` when the datagram is silently dropped
    /// (RFC 8489 §6.3: malformed or unexpected messages are discarded).
    pub fn error_code(self) -> Option<u16> {
        match self {
            CheckFailure::NotStun
            | CheckFailure::Truncated
            | CheckFailure::Malformed
            | CheckFailure::Unexpected
            | CheckFailure::MissingFingerprint
            | CheckFailure::BadFingerprint
            | CheckFailure::ReplyBufferTooSmall => None,
            // RFC 8489 §9.1.3 / §6.3.1.1: malformed or incomplete requests.
            CheckFailure::BadAttribute
            | CheckFailure::MissingCredentials
            | CheckFailure::MissingPriority => Some(400),
            // RFC 8489 §9.1.3: unknown username or bad integrity.
            CheckFailure::WrongUsername | CheckFailure::BadIntegrity => Some(401),
            CheckFailure::UnknownAttributes => Some(420),
            CheckFailure::RoleConflict => Some(487),
        }
    }

    /// Whether the error response carries MESSAGE-INTEGRITY: only once the request is
    /// authenticated (RFC 8489 §9.1.3: never on 400/401 from the credential checks).
    pub(crate) fn authenticated(self) -> bool {
        matches!(
            self,
            CheckFailure::UnknownAttributes | CheckFailure::RoleConflict
        )
    }

    /// A stable metric label (snake case, no peer data).
    pub fn label(self) -> &'static str {
        match self {
            CheckFailure::NotStun => "not_stun",
            CheckFailure::Truncated => "truncated",
            CheckFailure::Malformed => "malformed",
            CheckFailure::Unexpected => "unexpected",
            CheckFailure::MissingFingerprint => "missing_fingerprint",
            CheckFailure::BadFingerprint => "bad_fingerprint",
            CheckFailure::BadAttribute => "bad_attribute",
            CheckFailure::MissingCredentials => "missing_credentials",
            CheckFailure::WrongUsername => "wrong_username",
            CheckFailure::BadIntegrity => "bad_integrity",
            CheckFailure::UnknownAttributes => "unknown_attributes",
            CheckFailure::MissingPriority => "missing_priority",
            CheckFailure::RoleConflict => "role_conflict",
            CheckFailure::ReplyBufferTooSmall => "reply_buffer_too_small",
        }
    }

    fn index(self) -> usize {
        CheckFailure::ALL
            .iter()
            .position(|r| *r == self)
            .unwrap_or(0)
    }
}

/// What [`super::IceLiteAgent::handle_stun`] did with a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "a reply may have been written that must be sent"]
pub enum Handled {
    /// A Binding success response is in `out[..len]`: send it to the source, from the
    /// local address the request arrived on.
    Success {
        /// Bytes to send.
        len: usize,
    },
    /// An error response is in `out[..len]`: send it back the same way.
    ErrorResponse {
        /// Bytes to send.
        len: usize,
        /// Why the check failed.
        reason: CheckFailure,
    },
    /// Nothing to send; the datagram was counted and dropped.
    Dropped {
        /// Why.
        reason: CheckFailure,
    },
}

impl Handled {
    /// Bytes of `out` to send back, if any.
    pub fn reply_len(&self) -> Option<usize> {
        match *self {
            Handled::Success { len } | Handled::ErrorResponse { len, .. } => Some(len),
            Handled::Dropped { .. } => None,
        }
    }

    /// The failure reason, if the check did not succeed.
    pub fn failure(&self) -> Option<CheckFailure> {
        match *self {
            Handled::Success { .. } => None,
            Handled::ErrorResponse { reason, .. } | Handled::Dropped { reason } => Some(reason),
        }
    }
}

/// Plain counters an agent keeps; the data path sums them into its metrics
/// (`docs/metrics.md`). Monotonic for the agent's life.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IceCounters {
    /// Authenticated checks answered with a success response.
    pub checks_ok: u64,
    /// Nominations (USE-CANDIDATE on a new pair).
    pub nominations: u64,
    /// Consent expiries (RFC 7675).
    pub consent_lost: u64,
    /// ICE restarts.
    pub restarts: u64,
    failed: [u64; CheckFailure::ALL.len()],
}

impl IceCounters {
    /// Datagrams that failed for `reason`.
    pub fn failed(&self, reason: CheckFailure) -> u64 {
        self.failed[reason.index()]
    }

    /// Datagrams that failed for any reason.
    pub fn failed_total(&self) -> u64 {
        self.failed.iter().sum()
    }

    /// Adds `other` into `self` (a worker summing its agents).
    pub fn merge(&mut self, other: &IceCounters) {
        self.checks_ok += other.checks_ok;
        self.nominations += other.nominations;
        self.consent_lost += other.consent_lost;
        self.restarts += other.restarts;
        for (a, b) in self.failed.iter_mut().zip(other.failed.iter()) {
            *a += b;
        }
    }

    pub(crate) fn count_failure(&mut self, reason: CheckFailure) {
        self.failed[reason.index()] += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The wire-code table, in one place (house style habit 8).
    #[test]
    fn failure_to_wire_code_table() {
        let table: [(CheckFailure, Option<u16>); 14] = [
            (CheckFailure::NotStun, None),
            (CheckFailure::Truncated, None),
            (CheckFailure::Malformed, None),
            (CheckFailure::Unexpected, None),
            (CheckFailure::MissingFingerprint, None),
            (CheckFailure::BadFingerprint, None),
            (CheckFailure::BadAttribute, Some(400)),
            (CheckFailure::MissingCredentials, Some(400)),
            (CheckFailure::WrongUsername, Some(401)),
            (CheckFailure::BadIntegrity, Some(401)),
            (CheckFailure::UnknownAttributes, Some(420)),
            (CheckFailure::MissingPriority, Some(400)),
            (CheckFailure::RoleConflict, Some(487)),
            (CheckFailure::ReplyBufferTooSmall, None),
        ];
        for (reason, code) in table {
            assert_eq!(reason.error_code(), code, "{reason:?}");
        }
        let labels: std::collections::HashSet<_> =
            CheckFailure::ALL.iter().map(|r| r.label()).collect();
        assert_eq!(labels.len(), CheckFailure::ALL.len(), "labels are distinct");
        for (i, r) in CheckFailure::ALL.iter().enumerate() {
            assert_eq!(r.index(), i);
        }
    }
}
