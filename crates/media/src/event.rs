//! What a leg reports to its owner.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Identifies a leg within its engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LegId(pub u64);

/// Identifies one `play` request; unique within the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PlaybackId(pub u64);

/// Why a recording ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordingEnd {
    /// `stop_recording` was called (or a new recording replaced it).
    Stopped,
    /// The maximum duration was reached.
    MaxDuration,
    /// The leg was closed while recording.
    LegClosed,
    /// Writing or finishing the file failed; nothing was left at the target path.
    Error(String),
}

/// Why a bridge ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BridgeEnd {
    /// `unbridge` was called on either leg.
    Unbridged,
    /// Either leg was bridged to a third one.
    Replaced,
    /// The other leg was closed (its call hung up), or was gone before the bridge started.
    OtherClosed,
}

/// An event from one leg.
#[derive(Debug, Clone, PartialEq)]
pub enum MediaEvent {
    /// A telephone-event digit (RFC 4733 §3.2): `'0'-'9'`, `'*'`, `'#'`, `'A'-'D'`, reported
    /// once, when it ends.
    Dtmf { digit: char, duration: Duration },
    /// A playback ended: all its prompts were played, or it was stopped, replaced or barged in.
    PlaybackFinished { id: PlaybackId, interrupted: bool },
    /// A recording was finished and renamed into place (or failed: see `reason`).
    RecordingFinished {
        path: PathBuf,
        duration: Duration,
        reason: RecordingEnd,
    },
    /// RTP arrived from the peer; from now on we send to this address (symmetric RTP).
    RemoteLatched { addr: SocketAddr },
    /// No RTP arrived for the configured inactivity timeout.
    RtpTimeout,
    /// The leg now relays to and from `other` (a prompt that was playing was stopped and
    /// reported interrupted just before).
    Bridged { other: LegId },
    /// The bridge with `other` ended; the leg's own stream (comfort silence, prompts) resumes.
    BridgeEnded { other: LegId, reason: BridgeEnd },
}
