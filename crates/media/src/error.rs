//! The crate's error type.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

/// Everything that can go wrong in the media engine, naming what was expected and what came.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// The [`MediaConfig`](crate::MediaConfig) cannot work.
    #[error("invalid media configuration: {0}")]
    InvalidConfig(String),
    /// Every even port of the range is in use (RTP on an even port, RTCP on the next one).
    #[error(
        "no free RTP/RTCP port pair on {bind_ip} in {port_min}-{port_max}: {tried} tries, every even port in use"
    )]
    PortsExhausted {
        bind_ip: IpAddr,
        port_min: u16,
        port_max: u16,
        tried: usize,
    },
    /// A socket could not be bound or set up for a reason other than the port being in use.
    #[error("cannot set up UDP socket {addr}: {source}")]
    Socket {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// The engine's shard tasks are gone (runtime shut down).
    #[error("media engine is not running: its shard tasks have stopped")]
    EngineStopped,
    /// Two legs served by different shards cannot be bridged: relaying happens inside one
    /// shard's tick. Allocate the second leg with `MediaEngine::allocate_near`.
    #[error(
        "cannot bridge leg {leg} (shard {leg_shard}) with leg {other} (shard {other_shard}): expected both on one shard of one engine; allocate the second with allocate_near"
    )]
    DifferentShards {
        leg: u64,
        leg_shard: usize,
        other: u64,
        other_shard: usize,
    },
    /// A leg cannot be bridged with itself.
    #[error("cannot bridge leg {0} with itself: expected two different legs")]
    BridgeToSelf(u64),
    /// `MediaEngine::start` was called outside a tokio runtime.
    #[error("MediaEngine::start must be called inside a tokio runtime")]
    NoRuntime,
    /// A WAV prompt could not be read or parsed.
    #[error("prompt {name:?}: expected a readable RIFF/WAVE file: {source}")]
    Wav {
        name: String,
        #[source]
        source: hound::Error,
    },
    /// A WAV prompt uses a sample format we cannot play.
    #[error(
        "prompt {name:?}: expected PCM with 8, 16, 24 or 32-bit integer or 32-bit float samples, found {found}"
    )]
    UnsupportedFormat { name: String, found: String },
    /// A WAV prompt's sample rate is not one of [`PROMPT_SAMPLE_RATES`](crate::prompt::PROMPT_SAMPLE_RATES).
    #[error(
        "prompt {name:?}: expected a sample rate of 8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100 or 48000 Hz, found {found} Hz"
    )]
    UnsupportedRate { name: String, found: u32 },
    /// A WAV prompt has more channels than mono or stereo.
    #[error("prompt {name:?}: expected 1 or 2 channels, found {found}")]
    UnsupportedChannels { name: String, found: u16 },
    /// A WAV header declares more audio than a prompt may last.
    #[error(
        "prompt {name:?}: the WAV header declares {seconds:.1} s of audio, expected at most {max_seconds} s"
    )]
    TooLong {
        name: String,
        seconds: f64,
        max_seconds: u64,
    },
    /// A WAV prompt's data ends before the samples its header declares.
    #[error(
        "prompt {name:?}: the WAV header declares {declared} samples per channel, the data ends after {read}"
    )]
    Truncated {
        name: String,
        declared: u64,
        read: u64,
    },
    /// A WAV prompt holds no audio.
    #[error("prompt {name:?}: expected at least one sample, found an empty data chunk")]
    EmptyPrompt { name: String },
    /// Resampling to 8 kHz failed.
    #[error("prompt {name:?}: resampling {from_hz} Hz to 8000 Hz failed: {reason}")]
    Resample {
        name: String,
        from_hz: u32,
        reason: String,
    },
    /// A file or directory could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}
