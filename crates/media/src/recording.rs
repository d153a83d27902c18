//! Recording the caller's audio to WAV (8 kHz, 16-bit, mono).
//!
//! [`Recorder`] is the sans-IO part: it places received payloads on a timeline by RTP timestamp,
//! filling gaps (lost packets, silence suppression) with silence so the file's duration is the
//! call's, and stops at the maximum duration. [`FileRecording`] writes it to `<path>.tmp` and
//! renames it to `<path>` only once the WAV header is final, so a crash never leaves a
//! half-written file at `path`.
//!
//! **A write that fails** (the disk filled up, ENOSPC; an I/O error) does not lose what was
//! recorded: [`FileRecording::fail`] keeps the audio that reached the disk, sets the WAV
//! header's sizes to it in place (no new block is needed: the header's bytes are already
//! there) and renames the file into place, ending the recording as if its maximum had been
//! reached ([`RecordingEnd::MaxDuration`]): the call files the message and tells the caller
//! it was saved, as it would at the maximum length. Only when nothing playable reached the
//! disk is the file removed and [`RecordingEnd::Error`] reported.

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

    /// Ends the recording after a write error, keeping what reached the disk (see the
    /// module docs); `error` is reported only when nothing could be kept.
    pub fn fail(self, error: String) -> MediaEvent {
        let tmp = temp_path(&self.path);
        // Dropping the writer tries once more to write what it buffered (and the header):
        // whatever of it reaches the disk is kept too.
        drop(self.recorder);
        let kept = salvage(&tmp).and_then(|kept| {
            std::fs::rename(&tmp, &self.path)?;
            Ok(kept)
        });
        match kept {
            Ok(Some(duration)) if !duration.is_zero() => {
                tracing::error!(%error, path = %self.path.display(), ms = duration.as_millis() as u64,
                    "recording cut by a write error: the audio written is kept");
                MediaEvent::RecordingFinished {
                    path: self.path,
                    duration,
                    reason: RecordingEnd::MaxDuration,
                }
            }
            other => {
                if let Err(e) = other {
                    tracing::error!(error = %e, path = %tmp.display(), "cannot keep a cut recording");
                }
                let _ = std::fs::remove_file(&tmp);
                let _ = std::fs::remove_file(&self.path);
                MediaEvent::RecordingFinished {
                    path: self.path,
                    duration: Duration::ZERO,
                    reason: RecordingEnd::Error(error),
                }
            }
        }
    }
}

/// Sets the RIFF and data sizes of the WAV at `path` to the audio it holds (whole 16-bit
/// samples; a torn last one is cut), writing only over bytes already there. `Ok(None)` when
/// the file does not hold a header up to its data chunk.
pub fn salvage(path: &Path) -> std::io::Result<Option<Duration>> {
    use std::io::{Read, SeekFrom};
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)?;
    let len = f.metadata()?.len();
    let mut head = vec![0u8; len.min(4096) as usize];
    f.read_exact(&mut head)?;
    if head.len() < 12 || &head[0..4] != b"RIFF" || &head[8..12] != b"WAVE" {
        return Ok(None);
    }
    let le32 = |b: &[u8]| u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    let mut at = 12usize;
    while at + 8 <= head.len() {
        let size = le32(&head[at + 4..at + 8]) as usize;
        if &head[at..at + 4] == b"data" {
            let start = (at + 8) as u64;
            let frame = u64::from(wav_spec().bits_per_sample / 8) * u64::from(wav_spec().channels);
            let data = (len - start) - (len - start) % frame;
            f.set_len(start + data)?;
            let riff = u32::try_from(start + data - 8).unwrap_or(u32::MAX);
            f.seek(SeekFrom::Start(4))?;
            f.write_all(&riff.to_le_bytes())?;
            f.seek(SeekFrom::Start(at as u64 + 4))?;
            f.write_all(&u32::try_from(data).unwrap_or(u32::MAX).to_le_bytes())?;
            f.sync_all()?;
            let samples = data / frame;
            return Ok(Some(Duration::from_micros(
                samples * 1_000_000 / u64::from(SAMPLE_RATE),
            )));
        }
        at = at.saturating_add(8 + size + (size & 1));
    }
    Ok(None)
}

#[cfg(test)]
#[path = "recording_tests.rs"]
mod tests;
