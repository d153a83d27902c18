//! The handle a call holds for its media leg, and the stream of its events.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use tokio::sync::mpsc;

use crate::error::MediaError;
use crate::event::{LegId, MediaEvent, PlaybackId};
use crate::playout::PlayOptions;
use crate::prompt::Prompt;
use crate::session::StreamParams;
use crate::shard::{LegCommand, ShardCommand};

/// A media leg: an RTP/RTCP port pair served by one of the engine's shards.
///
/// Commands are queued to the shard and applied on its next tick (within 20 ms), in order.
/// Dropping the handle closes the leg: a playing prompt is reported interrupted, a recording is
/// finished with [`RecordingEnd::LegClosed`](crate::RecordingEnd::LegClosed), an RTCP BYE is
/// sent and the ports are freed.
pub struct MediaLeg {
    id: LegId,
    local: SocketAddr,
    shard_index: usize,
    shard: mpsc::UnboundedSender<ShardCommand>,
    next_playback: Arc<AtomicU64>,
}

impl std::fmt::Debug for MediaLeg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaLeg")
            .field("id", &self.id)
            .field("local", &self.local)
            .field("shard", &self.shard_index)
            .finish()
    }
}

impl MediaLeg {
    pub(crate) fn new(
        id: LegId,
        local: SocketAddr,
        shard_index: usize,
        shard: mpsc::UnboundedSender<ShardCommand>,
        next_playback: Arc<AtomicU64>,
    ) -> Self {
        MediaLeg {
            id,
            local,
            shard_index,
            shard,
            next_playback,
        }
    }

    fn send(&self, command: LegCommand) {
        // If the shard is gone the runtime is shutting down; nothing is left to do.
        let _ = self.shard.send(ShardCommand::Leg(self.id, command));
    }

    pub fn id(&self) -> LegId {
        self.id
    }

    /// The engine shard serving this leg.
    pub fn shard(&self) -> usize {
        self.shard_index
    }

    pub(crate) fn shard_sender(&self) -> &mpsc::UnboundedSender<ShardCommand> {
        &self.shard
    }

    /// The RTP address (RTCP is on port + 1).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The first call starts the stream; later calls (re-INVITE) change remote, codec,
    /// payload types, ptime or direction without breaking sequence numbers or timestamps.
    pub fn configure(&self, params: StreamParams) {
        self.send(LegCommand::Configure(params));
    }

    /// Plays the prompts back to back, replacing what is playing (reported interrupted).
    pub fn play(&self, prompts: Vec<Arc<Prompt>>, options: PlayOptions) -> PlaybackId {
        let id = PlaybackId(self.next_playback.fetch_add(1, Relaxed));
        self.send(LegCommand::Play {
            id,
            prompts,
            options,
        });
        id
    }

    pub fn stop_playback(&self) {
        self.send(LegCommand::StopPlayback);
    }

    /// Sends a digit as RFC 4733 telephone-events (needs a negotiated payload type and a
    /// sending direction; otherwise ignored with a warning).
    pub fn send_dtmf(&self, digit: char, duration: Duration) {
        self.send(LegCommand::SendDtmf { digit, duration });
    }

    /// Records the received audio to `path` (written as `path.tmp`, renamed when finished).
    /// A recording already running is finished first ([`RecordingEnd::Stopped`](crate::RecordingEnd::Stopped)).
    pub fn start_recording(&self, path: PathBuf, max_duration: Duration) {
        self.send(LegCommand::StartRecording { path, max_duration });
    }

    pub fn stop_recording(&self) {
        self.send(LegCommand::StopRecording);
    }

    /// Bridges this leg with `other` (B2BUA: caller and agent): from the shard's next tick
    /// each RTP packet one leg accepts is relayed on the other, under the other's SSRC,
    /// payload types, sequence and timestamps (RFC 3550 §8.2), transcoded between µ-law and
    /// A-law when the codecs differ, telephone-events included (still reported as
    /// [`MediaEvent::Dtmf`] by the leg that received them). Prompts playing on either leg
    /// stop; both legs report [`MediaEvent::Bridged`]. A leg already bridged elsewhere is
    /// unbridged first ([`BridgeEnd::Replaced`](crate::BridgeEnd::Replaced)). Direction
    /// follows each leg's [`StreamParams::direction`] (RFC 3264 §8.4): re-`configure` a leg
    /// for hold and nothing is sent to it. Dropping either leg ends the bridge
    /// ([`BridgeEnd::OtherClosed`](crate::BridgeEnd::OtherClosed) on the survivor).
    ///
    /// Both legs must be served by one shard (relaying happens inside its tick): allocate the
    /// second with [`MediaEngine::allocate_near`](crate::MediaEngine::allocate_near).
    pub fn bridge(&self, other: &MediaLeg) -> Result<(), MediaError> {
        if self.id == other.id {
            return Err(MediaError::BridgeToSelf(self.id.0));
        }
        if !self.shard.same_channel(&other.shard) {
            return Err(MediaError::DifferentShards {
                leg: self.id.0,
                leg_shard: self.shard_index,
                other: other.id.0,
                other_shard: other.shard_index,
            });
        }
        self.shard
            .send(ShardCommand::Bridge(self.id, other.id))
            .map_err(|_| MediaError::EngineStopped)
    }

    /// Ends this leg's bridge, if any; both legs report
    /// [`BridgeEnd::Unbridged`](crate::BridgeEnd::Unbridged) and resume their own streams
    /// (comfort silence, prompts) with sequence numbers and timestamps continuing.
    pub fn unbridge(&self) {
        let _ = self.shard.send(ShardCommand::Unbridge(self.id));
    }
}

impl Drop for MediaLeg {
    fn drop(&mut self) {
        let _ = self.shard.send(ShardCommand::Close(self.id));
    }
}

/// The events of one leg, in order.
#[derive(Debug)]
pub struct MediaEvents {
    rx: mpsc::UnboundedReceiver<MediaEvent>,
}

impl MediaEvents {
    pub(crate) fn new(rx: mpsc::UnboundedReceiver<MediaEvent>) -> Self {
        MediaEvents { rx }
    }

    /// The next event; `None` once the leg is closed and every event was read.
    pub async fn recv(&mut self) -> Option<MediaEvent> {
        self.rx.recv().await
    }

    /// The next event if one is already waiting.
    pub fn try_recv(&mut self) -> Option<MediaEvent> {
        self.rx.try_recv().ok()
    }
}
