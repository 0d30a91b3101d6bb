//! RFC 3261 §17 transactions, sans-IO, with RFC 6026's Accepted state.
//!
//! ```text
//!   driver ── handle_request / handle_response / handle_timeout / handle_transport_error (now)
//!      ▲                         │
//!      └── poll_transmit ◄── TransactionLayer ──► poll_event (Timeout, TransportError, Terminated)
//!                               keyed by branch (RFC 3261 §17.1.3, §17.2.3, RFC 2543 fallback)
//! ```
//! No clock, socket or task lives here: every entry point takes `now`, and
//! [`TransactionLayer::poll_timeout`] says when to call [`TransactionLayer::handle_timeout`].

use std::net::SocketAddr;

mod invite_client;
mod invite_server;
mod key;
mod layer;
mod non_invite_client;
mod non_invite_server;
pub mod stateless;
mod timers;
mod uas_2xx;

pub use invite_client::ack_for_non2xx;
pub use key::TransactionKey;
pub use layer::TransactionLayer;
pub use timers::{Timer, TimerConfig};
pub use uas_2xx::{Uas2xxAction, Uas2xxRetransmit};

/// A SIP transport (RFC 3261 §18, RFC 7118).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// UDP — unreliable: requests and responses are retransmitted.
    Udp,
    /// TCP.
    Tcp,
    /// TLS over TCP.
    Tls,
    /// WebSocket.
    Ws,
    /// Secure WebSocket.
    Wss,
}

impl Transport {
    /// Reliable transports switch off retransmissions and zero Timers D, I, J, K
    /// (RFC 3261 §17.1.1.2, §17.1.2.2, §17.2.1, §17.2.2).
    pub fn is_reliable(self) -> bool {
        self != Transport::Udp
    }

    /// The transport's name in a Via header (RFC 3261 §20.42, RFC 7118 §5.2).
    pub fn via_name(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
            Transport::Ws => "WS",
            Transport::Wss => "WSS",
        }
    }
}

/// Where a message goes or came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Target {
    /// The transport.
    pub transport: Transport,
    /// The remote address (for a stream transport: the connection's peer).
    pub addr: SocketAddr,
}

/// Identifies a transaction inside one [`TransactionLayer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TransactionId(pub u64);

/// Bytes for the transport driver to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Destination.
    pub target: Target,
    /// The serialized message.
    pub bytes: Vec<u8>,
    /// The transaction that sent it; `None` for stateless sends (ACK for 2xx, 400s).
    pub transaction: Option<TransactionId>,
}

/// Transaction states (RFC 3261 Figures 5–8, RFC 6026 Figures 3 and 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransactionState {
    /// INVITE client, request sent.
    Calling,
    /// Non-INVITE (client or server), before any provisional response.
    Trying,
    /// A provisional response was received or sent.
    Proceeding,
    /// A non-2xx final (or any non-INVITE final) response was received or sent.
    Completed,
    /// INVITE server: the ACK for a non-2xx response arrived.
    Confirmed,
    /// RFC 6026: a 2xx to an INVITE was received or sent.
    Accepted,
    /// Done; the transaction is removed from the layer.
    Terminated,
}

/// Something the transaction user must know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransactionEvent {
    /// A transaction timer expired with no answer: B or F (client; the TU acts as if a 408
    /// arrived, RFC 3261 §8.1.3.1) or H (server; the ACK never came).
    Timeout {
        /// The transaction.
        id: TransactionId,
        /// Which timer.
        timer: Timer,
    },
    /// The transport reported a failure sending for this transaction (RFC 3261 §17.1.4,
    /// §17.2.4); the TU may fail over to the next target (RFC 3263).
    TransportError {
        /// The transaction.
        id: TransactionId,
    },
    /// The transaction ended and was removed.
    Terminated {
        /// The transaction.
        id: TransactionId,
    },
}

/// What [`TransactionLayer::handle_request`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestAction {
    /// A new server transaction: pass the request to the TU, which answers with
    /// [`TransactionLayer::send_response`]. For a CANCEL, `cancels` is the INVITE
    /// transaction it targets, if any (RFC 3261 §9.2).
    New {
        /// The new transaction.
        id: TransactionId,
        /// For CANCEL: the matching INVITE server transaction.
        cancels: Option<TransactionId>,
    },
    /// A retransmission, absorbed (the last response was re-sent if there is one).
    Retransmission(TransactionId),
    /// The ACK for a non-2xx final response, absorbed by its transaction.
    AckAbsorbed(TransactionId),
    /// An ACK that matches no transaction (the ACK for a 2xx): pass it to the dialog layer.
    StrayAck,
}

/// What [`TransactionLayer::handle_response`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseAction {
    /// Pass the response to the TU for this client transaction.
    Deliver(TransactionId),
    /// A retransmission absorbed by the transaction.
    Absorbed(TransactionId),
    /// No transaction matches: drop it, or (a 2xx to an INVITE) let the dialog layer see it
    /// (RFC 3261 §17.1.1.2, RFC 6026 §8.4).
    Stray,
}

/// Transaction-layer errors returned to the TU.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No transaction with this id (already terminated?).
    #[error("unknown transaction")]
    UnknownTransaction,
    /// The transaction cannot send this response in its current state.
    #[error("response not allowed in the transaction's state")]
    InvalidState,
    /// The request's top Via has no branch parameter.
    #[error("request has no Via branch")]
    MissingBranch,
    /// A client transaction with this branch and method already exists.
    #[error("duplicate transaction")]
    DuplicateTransaction,
    /// ACK is not sent through a client transaction (RFC 3261 §17.1.1.3, §13.2.2.4);
    /// use [`TransactionLayer::send_stateless`].
    #[error("ACK is not a transaction")]
    AckIsNotATransaction,
}

/// What a state machine asks the layer to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Action {
    Send(Vec<u8>),
    Timeout(Timer),
    TransportError,
}

/// Whether a response is passed up or absorbed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Disposition {
    Deliver,
    Absorbed,
}
