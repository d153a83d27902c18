//! Per-leg counters for the supervisor.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Packets and payload bytes through one point of the relay.
#[derive(Debug, Default)]
pub(crate) struct Flow {
    packets: AtomicU64,
    bytes: AtomicU64,
}

impl Flow {
    pub(crate) fn add(&self, bytes: usize) {
        self.packets.fetch_add(1, Relaxed);
        self.bytes.fetch_add(bytes as u64, Relaxed);
    }

    fn snapshot(&self) -> FlowStats {
        FlowStats {
            packets: self.packets.load(Relaxed),
            payload_bytes: self.bytes.load(Relaxed),
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) from_browser: Flow,
    pub(crate) to_plain: Flow,
    pub(crate) from_plain: Flow,
    pub(crate) to_browser: Flow,
    pub(crate) dropped_no_peer: AtomicU64,
    pub(crate) dropped_foreign: AtomicU64,
    pub(crate) dropped_malformed: AtomicU64,
    pub(crate) dropped_not_connected: AtomicU64,
    pub(crate) send_errors: AtomicU64,
    /// The last round trip from the browser's reception reports, µs (0: none yet).
    pub(crate) round_trip_micros: std::sync::Arc<AtomicU64>,
}

impl Counters {
    pub(crate) fn snapshot(&self) -> LegStats {
        LegStats {
            from_browser: self.from_browser.snapshot(),
            to_plain: self.to_plain.snapshot(),
            from_plain: self.from_plain.snapshot(),
            to_browser: self.to_browser.snapshot(),
            dropped_no_peer: self.dropped_no_peer.load(Relaxed),
            dropped_foreign: self.dropped_foreign.load(Relaxed),
            dropped_malformed: self.dropped_malformed.load(Relaxed),
            dropped_not_connected: self.dropped_not_connected.load(Relaxed),
            send_errors: self.send_errors.load(Relaxed),
            browser_packets_lost: None,
            browser_jitter: None,
            browser_fraction_lost: None,
            round_trip_time: match self.round_trip_micros.load(Relaxed) {
                0 => None,
                us => Some(Duration::from_micros(us)),
            },
        }
    }
}

/// Packets and payload bytes (RTP headers not counted).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlowStats {
    pub packets: u64,
    pub payload_bytes: u64,
}

/// A leg's figures at one moment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LegStats {
    /// Decrypted RTP received from the browser.
    pub from_browser: FlowStats,
    /// Of it, sent on to the plain peer.
    pub to_plain: FlowStats,
    /// Plain RTP received from the plain peer.
    pub from_plain: FlowStats,
    /// Of it, handed to SRTP toward the browser.
    pub to_browser: FlowStats,
    /// Browser RTP dropped because no plain peer was set yet.
    pub dropped_no_peer: u64,
    /// Plain datagrams from an address other than the plain peer.
    pub dropped_foreign: u64,
    /// Plain datagrams that were not RTP.
    pub dropped_malformed: u64,
    /// Plain RTP dropped before ICE/DTLS completed.
    pub dropped_not_connected: u64,
    /// Sends that failed (plain socket errors, marshalling).
    pub send_errors: u64,
    /// Cumulative packets lost from the browser (RFC 3550 §6.4.1), from our receive side.
    pub browser_packets_lost: Option<i64>,
    /// Interarrival jitter of the browser's stream (RFC 3550 §6.4.1).
    pub browser_jitter: Option<Duration>,
    /// Fraction lost toward the browser, from its receiver reports.
    pub browser_fraction_lost: Option<f64>,
    /// Round-trip time from the browser's receiver reports (RFC 3550 §6.4.1, LSR/DLSR).
    pub round_trip_time: Option<Duration>,
}
