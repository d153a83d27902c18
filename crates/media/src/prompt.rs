//! Voice prompts: decoded from WAV once, down-mixed, resampled to 8 kHz with `rubato` and kept
//! as ready-to-send G.711 in both laws, in 20 ms frames.

use std::io::Read;
use std::path::Path;
use std::time::Duration;

use rubato::{FftFixedInOut, Resampler};

use crate::error::MediaError;
use crate::{Codec, g711};

/// The G.711 sample rate.
pub const SAMPLE_RATE: u32 = 8000;
/// Samples (and G.711 bytes) in one 20 ms frame.
pub const FRAME_SAMPLES: usize = 160;

/// A prompt ready to play: 8 kHz G.711, padded with silence to whole 20 ms frames.
#[derive(Debug)]
pub struct Prompt {
    name: String,
    samples: usize,
    pcmu: Box<[u8]>,
    pcma: Box<[u8]>,
}

impl Prompt {
    /// Loads a WAV file (any rate, any channel count; 8/16/24/32-bit integer or float).
    pub fn from_wav_file(path: &Path, name: &str) -> Result<Prompt, MediaError> {
        let file = std::fs::File::open(path).map_err(|source| MediaError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_wav_reader(std::io::BufReader::new(file), name)
    }

    /// Loads WAV data from any reader.
    pub fn from_wav_reader<R: Read>(r: R, name: &str) -> Result<Prompt, MediaError> {
        Ok(Self::from_samples_8k(&decode_to_8k(r, name)?, name))
    }

    /// The WAV data of `r` (any rate, channels, 8-32-bit integer or 32-bit float) converted
    /// to the playback format, 8 kHz 16-bit mono, as a WAV file's bytes; with its length.
    pub fn convert_wav<R: Read>(r: R, name: &str) -> Result<(Vec<u8>, Duration), MediaError> {
        let samples = decode_to_8k(r, name)?;
        let mut out = std::io::Cursor::new(Vec::with_capacity(44 + samples.len() * 2));
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: SAMPLE_RATE,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let wav_err = |source| MediaError::Wav {
            name: name.to_string(),
            source,
        };
        let mut writer = hound::WavWriter::new(&mut out, spec).map_err(wav_err)?;
        for s in &samples {
            writer.write_sample(*s).map_err(wav_err)?;
        }
        writer.finalize().map_err(wav_err)?;
        let length = Duration::from_secs_f64(samples.len() as f64 / f64::from(SAMPLE_RATE));
        Ok((out.into_inner(), length))
    }
}

/// Decodes WAV data and resamples it to 8 kHz mono 16-bit samples.
fn decode_to_8k<R: Read>(r: R, name: &str) -> Result<Vec<i16>, MediaError> {
    let wav_err = |source| MediaError::Wav {
        name: name.to_string(),
        source,
    };
    let mut reader = hound::WavReader::new(r).map_err(wav_err)?;
    let spec = reader.spec();
    let channels = spec.channels.max(1) as usize;
    let interleaved: Vec<f32> = match (spec.sample_format, spec.bits_per_sample) {
        (hound::SampleFormat::Int, bits @ (8 | 16 | 24 | 32)) => {
            let scale = 1.0 / (1u64 << (bits - 1)) as f64;
            reader
                .samples::<i32>()
                .map(|s| s.map(|v| (v as f64 * scale) as f32))
                .collect::<Result<_, _>>()
                .map_err(wav_err)?
        }
        (hound::SampleFormat::Float, 32) => reader
            .samples::<f32>()
            .collect::<Result<_, _>>()
            .map_err(wav_err)?,
        (format, bits) => {
            return Err(MediaError::UnsupportedFormat {
                name: name.to_string(),
                found: format!("{bits}-bit {format:?}"),
            });
        }
    };
    let mono = downmix(&interleaved, channels);
    if mono.is_empty() {
        return Err(MediaError::EmptyPrompt {
            name: name.to_string(),
        });
    }
    let at_8k = resample_to_8k(&mono, spec.sample_rate).map_err(|reason| MediaError::Resample {
        name: name.to_string(),
        from_hz: spec.sample_rate,
        reason,
    })?;
    Ok(to_i16(&at_8k))
}

impl Prompt {
    /// Builds a prompt from 8 kHz mono 16-bit samples (e.g. generated tones).
    pub fn from_samples_8k(samples: &[i16], name: &str) -> Prompt {
        let padded = samples.len().div_ceil(FRAME_SAMPLES) * FRAME_SAMPLES;
        let mut linear = samples.to_vec();
        linear.resize(padded, 0);
        let mut pcmu = vec![0u8; padded].into_boxed_slice();
        let mut pcma = vec![0u8; padded].into_boxed_slice();
        g711::encode(Codec::Pcmu, &linear, &mut pcmu);
        g711::encode(Codec::Pcma, &linear, &mut pcma);
        Prompt {
            name: name.to_string(),
            samples: samples.len(),
            pcmu,
            pcma,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The audio's duration at 8 kHz (before padding to whole frames).
    pub fn duration(&self) -> Duration {
        Duration::from_micros(self.samples as u64 * 1_000_000 / SAMPLE_RATE as u64)
    }

    /// Number of audio samples (8 kHz), without the padding to whole frames.
    pub fn samples(&self) -> usize {
        self.samples
    }

    /// Number of 20 ms frames (160 bytes each) for `codec`.
    pub fn frames(&self, codec: Codec) -> usize {
        self.encoded(codec).len() / FRAME_SAMPLES
    }

    /// All frames back to back, encoded in `codec`.
    pub fn encoded(&self, codec: Codec) -> &[u8] {
        match codec {
            Codec::Pcmu => &self.pcmu,
            Codec::Pcma => &self.pcma,
        }
    }

    /// Frame `index` in `codec` (160 bytes).
    pub fn frame(&self, codec: Codec, index: usize) -> Option<&[u8]> {
        self.encoded(codec)
            .get(index * FRAME_SAMPLES..(index + 1) * FRAME_SAMPLES)
    }
}

/// Averages interleaved channels into one.
fn downmix(interleaved: &[f32], channels: usize) -> Vec<f32> {
    if channels == 1 {
        return interleaved.to_vec();
    }
    interleaved
        .chunks_exact(channels)
        .map(|frame| frame.iter().sum::<f32>() / channels as f32)
        .collect()
}

fn to_i16(samples: &[f32]) -> Vec<i16> {
    samples
        .iter()
        .map(|&s| (s * 32768.0).round().clamp(-32768.0, 32767.0) as i16)
        .collect()
}

/// Resamples mono audio to 8 kHz with rubato's synchronous FFT resampler (band-limited, so
/// content above 4 kHz is filtered out rather than aliased). The resampler's delay is removed so
/// the output lines up with the input and has `len × 8000 / rate` samples.
pub(crate) fn resample_to_8k(mono: &[f32], rate: u32) -> Result<Vec<f32>, String> {
    if rate == SAMPLE_RATE {
        return Ok(mono.to_vec());
    }
    if rate == 0 {
        return Err("the WAV header says 0 Hz".to_string());
    }
    let mut resampler = FftFixedInOut::<f32>::new(rate as usize, SAMPLE_RATE as usize, 1024, 1)
        .map_err(|e| e.to_string())?;
    let chunk_in = resampler.input_frames_next();
    let delay = resampler.output_delay();
    let wanted = (mono.len() as u64 * SAMPLE_RATE as u64).div_ceil(rate as u64) as usize;
    let mut out = Vec::with_capacity(wanted + delay + resampler.output_frames_max());
    let mut input = vec![vec![0f32; chunk_in]];
    let mut output = resampler.output_buffer_allocate(true);
    let mut pos = 0;
    while out.len() < wanted + delay {
        let take = chunk_in.min(mono.len().saturating_sub(pos));
        input[0][..take].copy_from_slice(&mono[pos..pos + take]);
        input[0][take..].fill(0.0);
        pos += take;
        let (_, produced) = resampler
            .process_into_buffer(&input, &mut output, None)
            .map_err(|e| e.to_string())?;
        out.extend_from_slice(&output[0][..produced]);
    }
    out.drain(..delay);
    out.truncate(wanted);
    Ok(out)
}

#[cfg(test)]
#[path = "prompt_tests.rs"]
mod tests;
