//! Messages a crash left behind. The media engine records to `<call id>.wav.tmp` and renames
//! it to `<call id>.wav` once the header is final (see `media::recording`); a process that
//! dies mid-recording leaves the `.tmp` file with the audio written so far and a header whose
//! RIFF and data sizes are stale (zero, or the sizes of an earlier flush). [`repair`] sets
//! them from the file's length, keeping every whole sample written; the file is then renamed
//! into place and filed like any message.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use tracing::{info, warn};

/// The suffix of a recording in progress (`media::recording::temp_path`).
pub(crate) const TEMP_SUFFIX: &str = ".wav.tmp";

/// What [`repair`] kept of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repaired {
    /// Bytes of audio (the data chunk's size).
    pub data_bytes: u64,
    /// Their duration.
    pub duration: Duration,
}

fn le32(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

/// Sets a WAV file's RIFF and data chunk sizes to what the file holds (whole sample frames
/// only; a torn last frame is cut). `Ok(None)` when the file is not a WAV whose header was
/// written up to its data chunk: there is no audio to keep.
pub fn repair(path: &Path) -> std::io::Result<Option<Repaired>> {
    let mut f = OpenOptions::new().read(true).write(true).open(path)?;
    let len = f.metadata()?.len();
    let mut head = vec![0u8; len.min(4096) as usize];
    f.read_exact(&mut head)?;
    if head.len() < 12 || &head[0..4] != b"RIFF" || &head[8..12] != b"WAVE" {
        return Ok(None);
    }
    let (mut block_align, mut byte_rate) = (0u64, 0u64);
    let mut at = 12usize;
    while at + 8 <= head.len() {
        let id = &head[at..at + 4];
        let size = u64::from(le32(&head[at + 4..at + 8]));
        if id == b"fmt " && at + 8 + 16 <= head.len() {
            let fmt = &head[at + 8..];
            byte_rate = u64::from(le32(&fmt[8..12]));
            block_align = u64::from(u16::from_le_bytes([fmt[12], fmt[13]]));
        }
        if id == b"data" {
            if block_align == 0 || byte_rate == 0 {
                return Ok(None); // no format before the audio: nothing we can play
            }
            let start = (at + 8) as u64;
            let written = len - start;
            let data = written - written % block_align;
            let riff = u32::try_from(start + data - 8).unwrap_or(u32::MAX);
            let data32 = u32::try_from(data).unwrap_or(u32::MAX);
            f.set_len(start + data)?;
            f.seek(SeekFrom::Start(4))?;
            f.write_all(&riff.to_le_bytes())?;
            f.seek(SeekFrom::Start(at as u64 + 4))?;
            f.write_all(&data32.to_le_bytes())?;
            f.sync_all()?;
            return Ok(Some(Repaired {
                data_bytes: data,
                duration: Duration::from_micros(data * 1_000_000 / byte_rate),
            }));
        }
        // Chunks before the audio were written whole with the header: their sizes hold.
        at = at.saturating_add(8 + size as usize + (size as usize & 1));
    }
    Ok(None)
}

/// The audio a (finished) WAV holds, from its header; `None` when it is not one.
pub(crate) fn duration_of(path: &Path) -> Option<Duration> {
    let mut f = File::open(path).ok()?;
    let mut head = [0u8; 512];
    let n = f.read(&mut head).ok()?;
    let head = &head[..n];
    if head.len() < 12 || &head[0..4] != b"RIFF" || &head[8..12] != b"WAVE" {
        return None;
    }
    let mut byte_rate = 0u64;
    let mut at = 12usize;
    while at + 8 <= head.len() {
        let id = &head[at..at + 4];
        let size = u64::from(le32(&head[at + 4..at + 8]));
        if id == b"fmt " && at + 8 + 12 <= head.len() {
            byte_rate = u64::from(le32(&head[at + 16..at + 20]));
        }
        if id == b"data" {
            return (byte_rate > 0).then(|| Duration::from_micros(size * 1_000_000 / byte_rate));
        }
        at = at.saturating_add(8 + size as usize + (size as usize & 1));
    }
    None
}

/// What start-up did with the files a crash left.
#[derive(Debug, Clone, Default)]
pub(crate) struct TempReport {
    /// The messages brought back, renamed into place.
    pub recovered: Vec<PathBuf>,
    /// Removed: no audio, or shorter than the minimum message.
    pub discarded: usize,
}

/// Repairs every `<call id>.wav.tmp` under `dir` and renames it to `<call id>.wav`; those
/// holding less than `min_length` of audio are removed, as the call would have done.
pub(crate) fn recover_temp_files(dir: &Path, min_length: Duration) -> TempReport {
    let mut report = TempReport::default();
    for (tmp, _) in crate::mailbox::files(dir) {
        let Some(name) = tmp.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let Some(call_id) = name.strip_suffix(TEMP_SUFFIX) else {
            continue;
        };
        let wav = tmp.with_file_name(format!("{call_id}.wav"));
        if wav.exists() {
            // Renamed already (the crash came after): the temporary file is a leftover.
            let _ = std::fs::remove_file(&tmp);
            continue;
        }
        match repair(&tmp) {
            Ok(Some(r)) if r.duration >= min_length => match std::fs::rename(&tmp, &wav) {
                Ok(()) => {
                    info!(path = %wav.display(), seconds = r.duration.as_secs_f32(),
                        "voicemail: message interrupted by a crash recovered");
                    report.recovered.push(wav);
                }
                Err(error) => {
                    warn!(%error, path = %tmp.display(), "cannot rename a recovered message")
                }
            },
            Ok(r) => {
                info!(path = %tmp.display(), ms = r.map_or(0, |r| r.duration.as_millis() as u64),
                    "voicemail: interrupted recording too short to keep: removed");
                let _ = std::fs::remove_file(&tmp);
                report.discarded += 1;
            }
            Err(error) => {
                warn!(%error, path = %tmp.display(), "cannot repair an interrupted recording")
            }
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> hound::WavSpec {
        hound::WavSpec {
            channels: 1,
            sample_rate: 8000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        }
    }

    /// A WAV as a crash leaves it: `samples` written after a header whose sizes say zero,
    /// plus `torn` bytes of a frame cut in half.
    fn crashed_recording(path: &Path, samples: u32, torn: usize) {
        let mut w = hound::WavWriter::create(path, spec()).unwrap();
        for i in 0..samples {
            w.write_sample((i % 1000) as i16).unwrap();
        }
        w.finalize().unwrap();
        let mut bytes = std::fs::read(path).unwrap();
        bytes[4..8].copy_from_slice(&0u32.to_le_bytes());
        let data = bytes.windows(4).position(|w| w == b"data").unwrap();
        bytes[data + 4..data + 8].copy_from_slice(&0u32.to_le_bytes());
        bytes.extend(std::iter::repeat_n(0x7f, torn));
        std::fs::write(path, bytes).unwrap();
    }

    #[test]
    fn a_truncated_recording_becomes_a_valid_wav_of_the_written_length() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.wav.tmp");
        crashed_recording(&path, 12_345, 1);
        assert!(hound::WavReader::open(&path).map_or(true, |r| r.len() != 12_345));
        let r = repair(&path).unwrap().unwrap();
        assert_eq!(r.data_bytes, 2 * 12_345);
        assert_eq!(r.duration, Duration::from_micros(12_345 * 125));
        let mut reader = hound::WavReader::open(&path).unwrap();
        assert_eq!(reader.spec(), spec());
        assert_eq!(reader.len(), 12_345);
        let samples: Vec<i16> = reader.samples::<i16>().map(Result::unwrap).collect();
        assert_eq!(samples[1001], 1, "the audio is kept as written");
        assert_eq!(duration_of(&path), Some(r.duration));
        // Repairing a sound file changes nothing.
        assert_eq!(repair(&path).unwrap(), Some(r));
    }

    #[test]
    fn a_file_without_audio_is_not_a_message() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("e.wav.tmp");
        std::fs::write(&empty, b"").unwrap();
        assert_eq!(repair(&empty).unwrap(), None);
        let torn_header = dir.path().join("h.wav.tmp");
        std::fs::write(&torn_header, b"RIFF\0\0\0\0WAVEfmt ").unwrap();
        assert_eq!(repair(&torn_header).unwrap(), None);
    }

    #[test]
    fn start_up_renames_recovered_recordings_and_drops_short_ones() {
        let dir = tempfile::tempdir().unwrap();
        let general = dir.path().join("general");
        std::fs::create_dir_all(&general).unwrap();
        crashed_recording(&general.join("long.wav.tmp"), 16_000, 0);
        crashed_recording(&general.join("short.wav.tmp"), 800, 0);
        std::fs::write(general.join("nothing.wav.tmp"), b"RIFF").unwrap();
        let report = recover_temp_files(dir.path(), Duration::from_secs(1));
        assert_eq!(report.discarded, 2);
        assert_eq!(report.recovered.len(), 1);
        assert_eq!(report.recovered, [general.join("long.wav")]);
        assert_eq!(
            duration_of(&report.recovered[0]),
            Some(Duration::from_secs(2))
        );
        let left: Vec<_> = std::fs::read_dir(&general)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(left, ["long.wav"]);
    }
}
