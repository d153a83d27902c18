//! # The SIP transaction layer (RFC 3261 §17, amended by RFC 6026), sans-IO
//!
//! A [`TransactionLayer`] holds every client and server transaction of one SIP endpoint. It never
//! touches a socket, never reads the clock and never spawns a task: the driver hands it parsed
//! messages and the current [`Instant`](std::time::Instant), and collects what it wants sent,
//! what it wants the transaction user (TU: the dialog layer and the user-agent core) to know, and
//! when it next wants to be woken.
//!
//! ## Run loop
//!
//! ```text
//!   ┌──────────────► handle_message(msg, peer, now)      a message from the transport
//!   │                send_request / send_response(.., now)  the TU acts
//!   │                handle_transport_error(id, now)     a send failed
//!   │                handle_timeout(now)                 the deadline from poll_timeout passed
//!   │                        │
//!   │                        ▼
//!   │      while let Some(t) = poll_transmit() { send t.message to t.peer }
//!   │      while let Some(e) = poll_event()    { give e to the TU (which may call send_*) }
//!   │                        │
//!   └──── sleep until poll_timeout() or the next input ◄┘
//! ```
//!
//! **The one invariant the driver must keep:** after *every* call that takes `now` (and after
//! [`TransactionLayer::send_stateless`]), drain [`TransactionLayer::poll_transmit`] and
//! [`TransactionLayer::poll_event`] to `None`, then re-read [`TransactionLayer::poll_timeout`]
//! and call [`TransactionLayer::handle_timeout`] no later than that instant. The deadline can move
//! after any input, so a cached value is stale. Waking late is allowed (timers then fire in
//! deadline order at the late `now`); waking early is harmless.
//!
//! `now` must never go backwards between calls.
//!
//! ## What the layer does by itself
//!
//! * Retransmits requests (Timers A and E), final responses (Timer G) and INVITE 2xx responses
//!   (RFC 3261 §13.3.1.4, which the TU core would otherwise do), over UDP; over TCP only the 2xx
//!   is retransmitted, because its ACK is end-to-end.
//! * Absorbs retransmitted requests and responses, re-sending the last response (server side) or
//!   the ACK for a non-2xx final (client side, RFC 3261 §17.1.1.3).
//! * Sends `100 Trying` for an INVITE the TU has not answered within 200 ms (RFC 3261 §17.2.1).
//! * Builds and sends the ACK for a non-2xx final response to an INVITE (RFC 3261 §17.1.1.3).
//!   The ACK for a 2xx is the TU's: it is its own transaction, sent with
//!   [`TransactionLayer::send_stateless`].
//!
//! Messages are expected in the canonical header forms of `rsip::Header` (the facade in
//! `crate::message` normalises compact forms before they get here).
//!
//! Timer values come from [`TimerConfig`]; the table of RFC 3261 Appendix A, with RFC 6026's L
//! and M, is in [`TimerConfig`]'s documentation.

mod client;
mod context;
mod inbound;
mod key;

pub use key::{copied_into_responses, response_to};
mod layer;
mod server;
mod timer;

#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::time::Duration;

pub use layer::{DEFAULT_MAX_TRANSACTIONS, TransactionLayer, new_branch};

/// The protocol timers' base values (RFC 3261 §17.1.1.1 and Appendix A).
///
/// Every transaction timer derives from these three:
///
/// | timer | value | where |
/// |---|---|---|
/// | A | `T1`, doubling (UDP only) | INVITE client, Calling: request retransmission |
/// | B | `64*T1` | INVITE client, Calling: transaction timeout |
/// | D | at least 32 s (`max(32 s, 64*T1)`) on UDP, 0 on TCP | INVITE client, Completed |
/// | E | `T1`, doubling up to `T2`; `T2` in Proceeding (UDP only) | non-INVITE client: resend |
/// | F | `64*T1` | non-INVITE client: transaction timeout |
/// | G | `T1`, doubling up to `T2` (UDP only) | INVITE server, Completed: resend final |
/// | H | `64*T1` | INVITE server, Completed: wait for ACK |
/// | I | `T4` on UDP, 0 on TCP | INVITE server, Confirmed |
/// | J | `64*T1` on UDP, 0 on TCP | non-INVITE server, Completed |
/// | K | `T4` on UDP, 0 on TCP | non-INVITE client, Completed |
/// | L | `64*T1` | INVITE server, Accepted (RFC 6026 §8.7) |
/// | M | `64*T1` | INVITE client, Accepted (RFC 6026 §8.4) |
/// | 2xx | `T1`, doubling up to `T2` | INVITE server, Accepted: resend 2xx (RFC 3261 §13.3.1.4) |
/// | 100 | 200 ms | INVITE server, Proceeding: `100 Trying` if the TU is silent (§17.2.1) |
///
/// Timer D is not scaled down with `T1`: RFC 3261 §17.1.1.2 asks for "at least 32 seconds",
/// because it must outlast the *peer's* Timer H, and the peer's `T1` is not ours to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimerConfig {
    /// RTT estimate; 500 ms by default (RFC 3261 §17.1.1.1).
    pub t1: Duration,
    /// The longest retransmit interval for non-INVITE requests and INVITE responses; 4 s.
    pub t2: Duration,
    /// How long a message may stay in the network; 5 s.
    pub t4: Duration,
}

impl Default for TimerConfig {
    fn default() -> Self {
        Self {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
        }
    }
}

impl TimerConfig {
    /// The shortest `T1` the layer accepts: a zero `T1` would make Timers A, E and G fire
    /// forever at the same instant.
    pub const MIN_T1: Duration = Duration::from_millis(1);

    /// This configuration made safe to run: `T1` at least [`Self::MIN_T1`], `T2` at least `T1`
    /// (RFC 3261 §17.1.2.2 caps intervals at `T2`, which presumes `T2 >= T1`).
    #[must_use]
    pub fn normalized(&self) -> Self {
        let t1 = self.t1.max(Self::MIN_T1);
        Self {
            t1,
            t2: self.t2.max(t1),
            t4: self.t4,
        }
    }

    /// `64*T1`: Timers B, F, H, J (UDP), L and M.
    #[must_use]
    pub fn timeout(&self) -> Duration {
        self.t1.saturating_mul(64)
    }

    /// Timer D: at least 32 s on an unreliable transport, 0 on a reliable one (RFC 3261
    /// §17.1.1.2).
    #[must_use]
    pub fn timer_d(&self, transport: TransportKind) -> Duration {
        if transport.is_reliable() {
            Duration::ZERO
        } else {
            self.timeout().max(Duration::from_secs(32))
        }
    }
}

/// The transport a transaction runs over. Only reliability matters to the transaction layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransportKind {
    /// Unreliable: the layer retransmits (Timers A, E, G) and lingers (D, I, J, K).
    Udp,
    /// Reliable: no retransmissions below the TU, Timers D, I, J, K are zero.
    Tcp,
    /// SIP over WebSocket (RFC 7118): reliable like TCP, but a flow the peer opened to the web
    /// listener that we can never open ourselves; what is sent to such a peer goes on its
    /// WebSocket or nowhere.
    Ws,
    /// The same over a secure WebSocket (the web listener is HTTPS): `WSS` in our Via.
    Wss,
}

impl TransportKind {
    /// Whether the transport delivers reliably (RFC 3261 §18: TCP, TLS, SCTP; RFC 7118 §5:
    /// WebSocket).
    #[must_use]
    pub fn is_reliable(self) -> bool {
        matches!(self, Self::Tcp | Self::Ws | Self::Wss)
    }

    /// Whether this is a browser's WebSocket flow (RFC 7118), secure or not.
    #[must_use]
    pub fn is_websocket(self) -> bool {
        matches!(self, Self::Ws | Self::Wss)
    }

    /// The transport's name in a Via header (RFC 3261 §20.42, RFC 7118 §5.2).
    #[must_use]
    pub fn via_name(self) -> &'static str {
        match self {
            Self::Udp => "UDP",
            Self::Tcp => "TCP",
            Self::Ws => "WS",
            Self::Wss => "WSS",
        }
    }
}

/// The remote end of a transaction: where its messages come from and go to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Peer {
    pub addr: SocketAddr,
    pub transport: TransportKind,
}

/// A transaction's handle. Unique for the life of a [`TransactionLayer`]; never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TransactionId(pub u64);

/// A message the layer wants sent.
#[derive(Debug, Clone)]
pub struct Transmit {
    pub peer: Peer,
    pub message: rsip::SipMessage,
}

/// What the layer tells the transaction user.
#[derive(Debug, Clone)]
pub enum TransactionEvent {
    /// A new request created a server transaction (retransmissions are absorbed, never
    /// reported again). RFC 3261 §17.2.
    Request {
        id: TransactionId,
        request: rsip::Request,
        peer: Peer,
    },
    /// A CANCEL (its own server transaction `id`) and the INVITE server transaction it matches
    /// (RFC 3261 §9.2), if any still in Proceeding. The TU answers 200 to `id` and 487 to
    /// `invite` (or 481 when `invite` is None).
    ///
    /// When `invite` is `None` but the INVITE transaction is still alive (already answered),
    /// [`TransactionLayer::cancel_target`] finds it: RFC 3261 §9.2 then wants a 200 to the
    /// CANCEL and nothing more, rather than a 481.
    Cancel {
        id: TransactionId,
        invite: Option<TransactionId>,
        request: rsip::Request,
        peer: Peer,
    },
    /// An ACK that matched no server transaction in Completed state: the ACK for a 2xx (RFC 3261
    /// §17.2.1, §13.3.1.4), for the dialog layer. When it matches an INVITE server transaction
    /// in Accepted state, that transaction stops retransmitting its 2xx as well.
    Ack { request: rsip::Request, peer: Peer },
    /// A response for a client transaction (provisional or final). Includes 2xx retransmissions
    /// absorbed in the RFC 6026 Accepted state, flagged, so the TU can re-send its ACK.
    Response {
        id: TransactionId,
        response: rsip::Response,
        retransmission: bool,
    },
    /// A response that matched no client transaction (RFC 3261 §18.1.2: passed to the core).
    StrayResponse {
        response: rsip::Response,
        peer: Peer,
    },
    /// Timer B or F fired with no final response (or 64*T1 passed after a CANCEL with no final
    /// response to the INVITE, RFC 3261 §9.1). The TU acts as if it got a 408.
    Timeout { id: TransactionId },
    /// An INVITE server transaction's final response was never acknowledged: Timer L after a 2xx
    /// (the TU should send BYE, RFC 3261 §13.3.1.4), or Timer H after a 3xx-6xx (RFC 3261
    /// §17.2.1). `final_status` is the unacknowledged response's status code.
    AckTimeout {
        id: TransactionId,
        final_status: u16,
    },
    /// The transport failed for this transaction (the driver reports it via
    /// [`TransactionLayer::handle_transport_error`]). RFC 3261 §17.1.4, §17.2.4.
    TransportError { id: TransactionId },
    /// The transaction is gone (Terminated); its id will not be used again.
    Terminated { id: TransactionId },
    /// A new request arrived while the layer already holds its `max_transactions`: no
    /// transaction was created. The TU should answer 503 statelessly (RFC 3261 §21.5.4) with
    /// [`TransactionLayer::send_stateless`].
    Overloaded { request: rsip::Request, peer: Peer },
}

/// A transaction's state, for inspection ([`TransactionLayer::state`]). RFC 3261 §17 and RFC
/// 6026 §7 name them; Terminated transactions no longer exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransactionState {
    /// INVITE client, request sent, nothing heard.
    Calling,
    /// Non-INVITE client or server, before any provisional response.
    Trying,
    /// A provisional response has been received (client) or sent (server).
    Proceeding,
    /// A 2xx to an INVITE was received (client) or sent (server): RFC 6026.
    Accepted,
    /// A final response (3xx-6xx for INVITE, any for non-INVITE) was received or sent.
    Completed,
    /// INVITE server: the ACK for its 3xx-6xx arrived.
    Confirmed,
}

/// Running counters, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TransactionStats {
    /// Server transactions created by new requests.
    pub server_created: u64,
    /// Client transactions created by [`TransactionLayer::send_request`].
    pub client_created: u64,
    /// Messages the layer re-sent by itself: Timers A, E, G, 2xx retransmission, the last
    /// response re-sent for a retransmitted request, the ACK re-sent for a retransmitted final.
    pub retransmissions_sent: u64,
    /// Retransmitted requests, responses and ACKs recognised and absorbed.
    pub retransmissions_absorbed: u64,
    /// Client transactions that timed out (Timers B and F, RFC 3261 §9.1).
    pub timeouts: u64,
    /// INVITE server transactions whose final response was never acknowledged (Timers H, L).
    pub ack_timeouts: u64,
    /// `100 Trying` sent by the layer on the TU's behalf.
    pub trying_sent: u64,
    /// Responses that matched no client transaction.
    pub stray_responses: u64,
    /// Requests refused because `max_transactions` was reached.
    pub overloaded: u64,
    /// Messages dropped because they lacked what matching needs (top Via, CSeq, Call-ID).
    pub malformed: u64,
    /// Transactions ended by a transport error.
    pub transport_errors: u64,
}

/// Why the layer refused a TU call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransactionError {
    /// ACK is never a client transaction (RFC 3261 §17.1.1.3, §13.2.2.4).
    #[error("ACK does not start a client transaction: send it with send_stateless")]
    AckNotAllowed,
    /// The request cannot be matched later: it lacks a top Via with a branch, or a CSeq.
    #[error("request cannot start a transaction: {0}")]
    InvalidRequest(String),
    /// Another live client transaction already uses this branch and method (RFC 3261 §8.1.1.7).
    #[error("branch {branch} is already used by client transaction {existing:?}")]
    DuplicateBranch {
        branch: String,
        existing: TransactionId,
    },
    /// `max_transactions` are alive.
    #[error("transaction limit reached: {0} transactions alive")]
    LimitReached(usize),
    /// The id names no live transaction (it may have terminated).
    #[error("no live transaction {0:?}")]
    UnknownTransaction(TransactionId),
    /// Responses go on server transactions only.
    #[error("transaction {0:?} is a client transaction; expected a server transaction")]
    NotServerTransaction(TransactionId),
    /// Status codes run from 100 to 699 (RFC 3261 §7.2).
    #[error("status code {0} is out of range: expected 100 to 699")]
    InvalidStatus(u16),
    /// The state machine does not allow this response now (e.g. a second final response).
    #[error("transaction {id:?} is {state:?}: it cannot send a {status} response")]
    InvalidState {
        id: TransactionId,
        state: TransactionState,
        status: u16,
    },
}
