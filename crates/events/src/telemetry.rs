//! The engines' running counters, as `/metrics` and the health check read them: calls in
//! progress, the SIP gateway's and the media engine's totals.
//!
//! The gateway and the media engine keep richer statistics of their own; the crate that runs
//! them implements [`TelemetryProbe`] by copying what is exposed into these plain figures, so
//! the consoles depend on this vocabulary and not on the engines' internals.

use std::time::Duration;

use crate::live::PortFuture;

/// Upper bounds (seconds) of the buckets of the media send-interval histogram: fine around
/// the 20 ms packet time, where jitter shows.
pub const SEND_INTERVAL_BOUNDS: [f64; 16] = [
    0.005, 0.01, 0.015, 0.018, 0.019, 0.02, 0.021, 0.022, 0.025, 0.03, 0.04, 0.05, 0.075, 0.1,
    0.15, 0.2,
];

/// One reading of every counter.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Telemetry {
    pub calls_active: u64,
    /// `None` when the SIP gateway has stopped.
    pub sip: Option<SipFigures>,
    pub media: MediaFigures,
}

/// The SIP gateway's counters (totals since start, unless named live).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SipFigures {
    pub datagrams_received: u64,
    pub datagrams_sent: u64,
    /// Messages that did not parse.
    pub malformed: u64,
    /// Requests dropped because their source is outside the allow-list.
    pub denied: u64,
    /// Digest authentications that failed.
    pub auth_failures: u64,
    /// REGISTERs without valid credentials dropped unanswered: their source address was over
    /// its challenge rate (a REGISTER flood).
    pub registers_dropped: u64,
    /// Phones registered now; `None` without a registrar.
    pub registered_phones: Option<u64>,
    /// Transactions alive now.
    pub transactions_live: u64,
    pub server_transactions: u64,
    pub client_transactions: u64,
    pub retransmissions_sent: u64,
    pub retransmissions_absorbed: u64,
    /// Client transactions that got no final answer.
    pub timeouts_no_answer: u64,
    /// INVITE server transactions whose 2xx/final answer got no ACK.
    pub timeouts_no_ack: u64,
    /// TCP connections open now.
    pub tcp_connections: u64,
    /// SIP-over-WebSocket flows (browser phones, `/ws`) open now.
    pub ws_connections: u64,
    /// WebSocket upgrades refused (outside `allow_from`, over the limit).
    pub ws_refused_upgrades: u64,
    /// WebSocket messages refused (not SIP, too large); each closed its flow.
    pub ws_refused_messages: u64,
    /// WebSocket flows closed for silence.
    pub ws_timed_out: u64,
    /// Dialogs (calls) the gateway holds now: offered, answered or hanging up.
    pub dialogs_active: u64,
}

/// The media engine's counters (totals since start, unless named live).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MediaFigures {
    /// Legs open now.
    pub legs_active: u64,
    pub rtp_packets_sent: u64,
    pub rtp_packets_received: u64,
    /// Relayed between bridged legs (also counted as sent).
    pub rtp_packets_relayed: u64,
    pub rtcp_packets_sent: u64,
    /// Send passes that started more than 5 ms late.
    pub late_ticks: u64,
    /// RTP and RTCP datagrams dropped because they came from a source other than the leg's
    /// peer (off-path injection, a hijack attempt, a stray stream).
    pub rtp_foreign_packets: u64,
    /// Intervals between successive send passes of each shard, in the buckets of
    /// [`SEND_INTERVAL_BOUNDS`].
    pub send_interval: Histogram,
}

/// A cumulative histogram: for each upper bound, how many observations were at most it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Histogram {
    /// `(upper bound in seconds, observations ≤ it)`, bounds ascending.
    pub buckets: Vec<(f64, u64)>,
    pub count: u64,
    pub sum: Duration,
}

/// Reads [`Telemetry`] without disturbing calls.
pub trait TelemetryProbe: Send + Sync {
    fn read(&self) -> PortFuture<'_, Telemetry>;
}
