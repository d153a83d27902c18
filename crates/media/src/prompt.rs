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
    /// Loads a WAV file: a rate of [`PROMPT_SAMPLE_RATES`], mono or stereo, 8/16/24/32-bit
    /// integer or 32-bit float, at most [`MAX_PROMPT_LENGTH`] long.
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

    /// The WAV data of `r` (as [`Prompt::from_wav_file`] accepts) converted to the playback
    /// format, 8 kHz 16-bit mono, as a WAV file's bytes; with its length. A header that
    /// declares an unusable format or more than [`MAX_PROMPT_LENGTH`] is refused before any
    /// sample is read.
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

/// The sample rates a prompt may have (Hz): the standard ones from 8 to 48 kHz. Each shares a
/// large divisor with 8 kHz, which keeps the converter's FFTs small; a rate such as 1 Hz or a
/// prime one would make them (and the memory they take) enormous.
pub const PROMPT_SAMPLE_RATES: [u32; 9] = [
    8000, 11_025, 12_000, 16_000, 22_050, 24_000, 32_000, 44_100, 48_000,
];

/// The longest a prompt may last (the console's upload limit is the same). Checked from the
/// WAV header, before anything is decoded.
pub const MAX_PROMPT_LENGTH: Duration = Duration::from_secs(600);

/// The most channels a prompt may have (mono or stereo).
pub const MAX_CHANNELS: u16 = 2;

/// The largest block the converter produces per step (samples at 8 kHz); its FFT sizes follow.
const MAX_CONVERTER_BLOCK: usize = 8192;

/// Decodes WAV data and resamples it to 8 kHz mono 16-bit samples. The header is checked
/// first (sample rate, channels, sample format, and the length it declares against
/// [`MAX_PROMPT_LENGTH`]); the samples are then converted as they are read, so memory stays
/// within the 8 kHz result whatever the header says.
fn decode_to_8k<R: Read>(r: R, name: &str) -> Result<Vec<i16>, MediaError> {
    let wav_err = |source| MediaError::Wav {
        name: name.to_string(),
        source,
    };
    let mut reader = hound::WavReader::new(r).map_err(wav_err)?;
    let spec = reader.spec();
    if !PROMPT_SAMPLE_RATES.contains(&spec.sample_rate) {
        return Err(MediaError::UnsupportedRate {
            name: name.to_string(),
            found: spec.sample_rate,
        });
    }
    if !(1..=MAX_CHANNELS).contains(&spec.channels) {
        return Err(MediaError::UnsupportedChannels {
            name: name.to_string(),
            found: spec.channels,
        });
    }
    let int_bits = match (spec.sample_format, spec.bits_per_sample) {
        (hound::SampleFormat::Int, bits @ (8 | 16 | 24 | 32)) => Some(bits),
        (hound::SampleFormat::Float, 32) => None,
        (format, bits) => {
            return Err(MediaError::UnsupportedFormat {
                name: name.to_string(),
                found: format!("{bits}-bit {format:?}"),
            });
        }
    };
    let frames = reader.duration();
    let declared = Duration::from_secs_f64(f64::from(frames) / f64::from(spec.sample_rate));
    if declared > MAX_PROMPT_LENGTH {
        return Err(MediaError::TooLong {
            name: name.to_string(),
            seconds: declared.as_secs_f64(),
            max_seconds: MAX_PROMPT_LENGTH.as_secs(),
        });
    }
    if frames == 0 {
        return Err(MediaError::EmptyPrompt {
            name: name.to_string(),
        });
    }
    let resample_err = |reason| MediaError::Resample {
        name: name.to_string(),
        from_hz: spec.sample_rate,
        reason,
    };
    let mut converter = To8k::new(spec.sample_rate, frames as usize).map_err(resample_err)?;
    let channels = usize::from(spec.channels);
    let mut read: u64 = 0;
    let read_err = |e: hound::Error, read: u64| match e {
        // hound reports the end of the data as "Failed to read enough bytes" (Other).
        hound::Error::IoError(io)
            if io.kind() == std::io::ErrorKind::UnexpectedEof
                || io.to_string().contains("read enough bytes") =>
        {
            MediaError::Truncated {
                name: name.to_string(),
                declared: u64::from(frames),
                read: read / channels as u64,
            }
        }
        other => wav_err(other),
    };
    // Down-mixed frames, handed to the converter a block at a time.
    let mut block: Vec<f32> = Vec::with_capacity(4096);
    let (mut sum, mut in_frame) = (0f32, 0);
    let mut push = |value: f32, converter: &mut To8k| -> Result<(), MediaError> {
        sum += value;
        in_frame += 1;
        if in_frame == channels {
            block.push(sum / channels as f32);
            (sum, in_frame) = (0.0, 0);
            if block.len() == block.capacity() {
                converter.push_slice(&block).map_err(resample_err)?;
                block.clear();
            }
        }
        Ok(())
    };
    match int_bits {
        Some(bits) => {
            let scale = 1.0 / (1u64 << (bits - 1)) as f64;
            for s in reader.samples::<i32>() {
                let v = s.map_err(|e| read_err(e, read))?;
                read += 1;
                push((v as f64 * scale) as f32, &mut converter)?;
            }
        }
        None => {
            for s in reader.samples::<f32>() {
                let v = s.map_err(|e| read_err(e, read))?;
                read += 1;
                // NaN or infinity would reach the FFT, which cannot take them (rubato
                // panics); full scale is ±1, past it is clipping.
                if !v.is_finite() {
                    return Err(MediaError::UnsupportedFormat {
                        name: name.to_string(),
                        found: format!("a float sample that is not a number ({v}) at {read}"),
                    });
                }
                push(v.clamp(-1.0, 1.0), &mut converter)?;
            }
        }
    }
    converter.push_slice(&block).map_err(resample_err)?;
    Ok(to_i16(&converter.finish().map_err(resample_err)?))
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

fn to_i16(samples: &[f32]) -> Vec<i16> {
    samples
        .iter()
        .map(|&s| (s * 32768.0).round().clamp(-32768.0, 32767.0) as i16)
        .collect()
}

/// Converts mono audio to 8 kHz as it comes, with rubato's synchronous FFT resampler
/// (band-limited, so content above 4 kHz is filtered out rather than aliased). The
/// resampler's delay is removed so the output lines up with the input and has
/// `len × 8000 / rate` samples.
pub(crate) struct To8k {
    /// `None` at 8 kHz: samples pass through.
    resampler: Option<FftFixedInOut<f32>>,
    input: Vec<Vec<f32>>,
    filled: usize,
    output: Vec<Vec<f32>>,
    out: Vec<f32>,
    delay: usize,
    wanted: usize,
}

impl To8k {
    /// For `frames` samples at `rate` Hz (at most [`MAX_PROMPT_LENGTH`] of them).
    pub(crate) fn new(rate: u32, frames: usize) -> Result<To8k, String> {
        if rate == 0 {
            return Err("the WAV header says 0 Hz".to_string());
        }
        let wanted = (frames as u64 * u64::from(SAMPLE_RATE)).div_ceil(u64::from(rate));
        let limit = MAX_PROMPT_LENGTH.as_secs() * u64::from(SAMPLE_RATE);
        if wanted > limit {
            return Err(format!(
                "{frames} samples at {rate} Hz are more than {} s",
                MAX_PROMPT_LENGTH.as_secs()
            ));
        }
        let wanted = wanted as usize;
        if rate == SAMPLE_RATE {
            return Ok(To8k {
                resampler: None,
                input: Vec::new(),
                filled: 0,
                output: Vec::new(),
                out: Vec::with_capacity(wanted),
                delay: 0,
                wanted,
            });
        }
        let resampler = FftFixedInOut::<f32>::new(rate as usize, SAMPLE_RATE as usize, 1024, 1)
            .map_err(|e| e.to_string())?;
        if resampler.output_frames_max() > MAX_CONVERTER_BLOCK
            || resampler.input_frames_max() > MAX_CONVERTER_BLOCK * 8
        {
            return Err(format!(
                "{rate} Hz needs conversion blocks of {} samples, above the {MAX_CONVERTER_BLOCK} allowed",
                resampler.output_frames_max()
            ));
        }
        let delay = resampler.output_delay();
        Ok(To8k {
            input: vec![vec![0f32; resampler.input_frames_next()]],
            filled: 0,
            output: resampler.output_buffer_allocate(true),
            out: Vec::with_capacity(wanted + delay + resampler.output_frames_max()),
            delay,
            wanted,
            resampler: Some(resampler),
        })
    }

    /// Input samples, in order.
    pub(crate) fn push_slice(&mut self, mut samples: &[f32]) -> Result<(), String> {
        if self.resampler.is_none() {
            let room = self.wanted.saturating_sub(self.out.len());
            self.out
                .extend_from_slice(&samples[..samples.len().min(room)]);
            return Ok(());
        }
        while !samples.is_empty() {
            let chunk = self.input[0].len();
            let take = (chunk - self.filled).min(samples.len());
            self.input[0][self.filled..self.filled + take].copy_from_slice(&samples[..take]);
            self.filled += take;
            samples = &samples[take..];
            if self.filled == chunk {
                self.step()?;
            }
        }
        Ok(())
    }

    fn step(&mut self) -> Result<(), String> {
        let Some(resampler) = self.resampler.as_mut() else {
            return Ok(());
        };
        self.input[0][self.filled..].fill(0.0);
        self.filled = 0;
        let (_, produced) = resampler
            .process_into_buffer(&self.input, &mut self.output, None)
            .map_err(|e| e.to_string())?;
        // Past what is wanted is only the zero padding's echo.
        let room = (self.wanted + self.delay).saturating_sub(self.out.len());
        self.out
            .extend_from_slice(&self.output[0][..produced.min(room)]);
        Ok(())
    }

    /// The converted audio: the input's length at 8 kHz (short input is padded with silence).
    pub(crate) fn finish(mut self) -> Result<Vec<f32>, String> {
        if self.resampler.is_some() {
            // Flush what is buffered and the resampler's delay with silence.
            let mut steps = 0;
            while self.out.len() < self.wanted + self.delay {
                self.step()?;
                steps += 1;
                if steps > 1 + self.delay + self.wanted {
                    return Err("the converter produced no output".to_string());
                }
            }
            self.out.drain(..self.delay);
        }
        self.out.resize(self.wanted, 0.0);
        Ok(self.out)
    }
}

/// Resamples mono audio to 8 kHz (see [`To8k`]); for tests that look at the converter alone.
#[cfg(test)]
pub(crate) fn resample_to_8k(mono: &[f32], rate: u32) -> Result<Vec<f32>, String> {
    let mut converter = To8k::new(rate, mono.len())?;
    converter.push_slice(mono)?;
    converter.finish()
}

#[cfg(test)]
#[path = "prompt_tests.rs"]
mod tests;
