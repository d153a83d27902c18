//! Recording the caller's audio to WAV (8 kHz, 16-bit, mono).
//!
//! [`Recorder`] is the sans-IO part: it places received payloads on a timeline by RTP timestamp,
//! filling gaps (lost packets, silence suppression) with silence so the file's duration is the
//! call's, and stops at the maximum duration. [`FileRecording`] writes it to `<path>.tmp` and
//! renames it to `<path>` only once the WAV header is final, so a crash never leaves a
//! half-written file at `path`.

use std::fs::File;
use std::io::{BufWriter, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::event::{MediaEvent, RecordingEnd};
use crate::g711;
use crate::prompt::SAMPLE_RATE;
use crate::session::ReceivedAudio;

/// A timestamp jump larger than this (or backwards by more than this) is a discontinuity (a
/// sender restart), not a gap: the timeline is resynchronised by arrival time instead.
const MAX_GAP_SAMPLES: u32 = 30 * SAMPLE_RATE;
/// Wall-clock grace past the maximum duration before the recording is stopped even if the
/// timeline has not reached it (e.g. the peer stopped sending).
pub const WALL_CLOCK_GRACE: Duration = Duration::from_secs(1);

/// The WAV format recordings use.
pub fn wav_spec() -> hound::WavSpec {
    hound::WavSpec {
        channels: 1,
        sample_rate: SAMPLE_RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    }
}

/// Whether a recording goes on after a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordProgress {
    Continue,
    /// The maximum duration was reached: finish the recording.
    Full,
}

#[derive(Debug, Clone, Copy)]
struct Position {
    ssrc: u32,
    /// The RTP timestamp the next sample would carry.
    next_timestamp: u32,
    last_arrival: Instant,
}

/// Places received audio on a timeline and writes it to a WAV writer.
pub struct Recorder<W: Write + Seek> {
    writer: hound::WavWriter<W>,
    max_samples: u64,
    written: u64,
    position: Option<Position>,
    started: Instant,
    max_duration: Duration,
    scratch: [i16; 960],
}

impl<W: Write + Seek> Recorder<W> {
    pub fn new(out: W, max_duration: Duration, now: Instant) -> Result<Self, hound::Error> {
        Ok(Recorder {
            writer: hound::WavWriter::new(out, wav_spec())?,
            max_samples: max_duration.as_micros() as u64 * SAMPLE_RATE as u64 / 1_000_000,
            written: 0,
            position: None,
            started: now,
            max_duration,
            scratch: [0; 960],
        })
    }

    /// Samples written so far.
    pub fn samples(&self) -> u64 {
        self.written
    }

    pub fn duration(&self) -> Duration {
        Duration::from_micros(self.written * 1_000_000 / SAMPLE_RATE as u64)
    }

    fn write_silence(&mut self, samples: u64) -> Result<(), hound::Error> {
        let mut left = samples.min(self.max_samples - self.written);
        while left > 0 {
            // Chunks keep hound's sample buffer at one packet's size.
            let n = left.min(self.scratch.len() as u64);
            let mut w = self.writer.get_i16_writer(n as u32);
            for _ in 0..n {
                w.write_sample(0);
            }
            w.flush()?;
            self.written += n;
            left -= n;
        }
        Ok(())
    }

    fn write_samples(&mut self, payload: &[u8], codec: crate::Codec) -> Result<(), hound::Error> {
        for chunk in payload.chunks(self.scratch.len()) {
            let room = (self.max_samples - self.written) as usize;
            let chunk = &chunk[..chunk.len().min(room)];
            let pcm = &mut self.scratch[..chunk.len()];
            g711::decode(codec, chunk, pcm);
            let mut w = self.writer.get_i16_writer(pcm.len() as u32);
            for &s in pcm.iter() {
                w.write_sample(s);
            }
            w.flush()?;
            self.written += chunk.len() as u64;
        }
        Ok(())
    }

    /// Adds one received packet's audio.
    pub fn handle_audio(
        &mut self,
        audio: ReceivedAudio<'_>,
        now: Instant,
    ) -> Result<RecordProgress, hound::Error> {
        if self.written >= self.max_samples {
            return Ok(RecordProgress::Full);
        }
        let len = audio.payload.len() as u32;
        match self.position {
            Some(pos) if pos.ssrc == audio.ssrc => {
                let delta = audio.timestamp.wrapping_sub(pos.next_timestamp) as i32;
                if delta < 0 && delta.unsigned_abs() <= MAX_GAP_SAMPLES {
                    // Late or duplicate: its place on the timeline is already written.
                    return Ok(RecordProgress::Continue);
                }
                if delta > 0 && delta as u32 <= MAX_GAP_SAMPLES {
                    self.write_silence(delta as u64)?;
                } else if delta != 0 {
                    self.resync(pos, now)?;
                }
            }
            Some(pos) => self.resync(pos, now)?,
            None => {}
        }
        self.write_samples(audio.payload, audio.codec)?;
        self.position = Some(Position {
            ssrc: audio.ssrc,
            next_timestamp: audio.timestamp.wrapping_add(len),
            last_arrival: now,
        });
        Ok(if self.written >= self.max_samples {
            RecordProgress::Full
        } else {
            RecordProgress::Continue
        })
    }

    /// A new source or a timestamp jump: fill the silence by arrival time.
    fn resync(&mut self, pos: Position, now: Instant) -> Result<(), hound::Error> {
        let elapsed = now.saturating_duration_since(pos.last_arrival);
        // The last packet covered up to ~one packet time after its arrival; fill the rest.
        let elapsed_samples = elapsed.as_micros() as u64 * SAMPLE_RATE as u64 / 1_000_000;
        let gap = elapsed_samples.saturating_sub(160);
        self.write_silence(gap)
    }

    /// Whether the wall clock says the recording has run too long.
    pub fn past_deadline(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.started) >= self.max_duration + WALL_CLOCK_GRACE
    }

    /// Writes the final header and returns the underlying writer's result.
    pub fn finalize(self) -> Result<Duration, hound::Error> {
        let d = self.duration();
        self.writer.finalize()?;
        Ok(d)
    }
}

/// `<path>.tmp`: where a recording is written until it is finished.
pub fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".tmp");
    PathBuf::from(name)
}

/// A recording being written to disk.
pub struct FileRecording {
    path: PathBuf,
    recorder: Recorder<BufWriter<File>>,
}

impl FileRecording {
    /// Creates `<path>.tmp` and starts a recording of at most `max_duration`.
    pub fn start(path: PathBuf, max_duration: Duration, now: Instant) -> Result<Self, String> {
        let tmp = temp_path(&path);
        let file =
            File::create(&tmp).map_err(|e| format!("cannot create {}: {e}", tmp.display()))?;
        let recorder = Recorder::new(BufWriter::with_capacity(32 * 1024, file), max_duration, now)
            .map_err(|e| format!("cannot write WAV header to {}: {e}", tmp.display()))?;
        Ok(FileRecording { path, recorder })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn recorder(&mut self) -> &mut Recorder<BufWriter<File>> {
        &mut self.recorder
    }

    /// Finalises the WAV and renames it into place; on failure removes the temporary file and
    /// reports [`RecordingEnd::Error`].
    pub fn finish(self, reason: RecordingEnd) -> MediaEvent {
        let tmp = temp_path(&self.path);
        let duration = self.recorder.duration();
        let result = self
            .recorder
            .finalize()
            .map_err(|e| format!("cannot finish {}: {e}", tmp.display()))
            .and_then(|_| {
                std::fs::rename(&tmp, &self.path).map_err(|e| {
                    format!(
                        "cannot rename {} to {}: {e}",
                        tmp.display(),
                        self.path.display()
                    )
                })
            });
        let reason = match result {
            Ok(()) => reason,
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                RecordingEnd::Error(e)
            }
        };
        MediaEvent::RecordingFinished {
            path: self.path,
            duration,
            reason,
        }
    }

    /// Abandons the recording after a write error.
    pub fn fail(self, error: String) -> MediaEvent {
        let tmp = temp_path(&self.path);
        drop(self.recorder);
        let _ = std::fs::remove_file(&tmp);
        MediaEvent::RecordingFinished {
            path: self.path,
            duration: Duration::ZERO,
            reason: RecordingEnd::Error(error),
        }
    }
}

#[cfg(test)]
#[path = "recording_tests.rs"]
mod tests;
