//! G.711 µ-law and A-law (ITU-T G.711), table-based.
//!
//! The tables follow the ITU-T G.191 software tool library reference (`g711.c`): µ-law is a
//! function of the top 14 bits of a 16-bit sample, A-law of the top 12 bits plus sign, so both
//! encoders are a single table lookup. The tables are computed at compile time.

/// The µ-law byte that decodes to 0 (positive zero): comfort silence for PCMU.
pub const ULAW_SILENCE: u8 = 0xFF;
/// The A-law byte that decodes to +8, the smallest positive level: comfort silence for PCMA.
pub const ALAW_SILENCE: u8 = 0xD5;

/// µ-law expansion, G.191 `ulaw_expand`.
const fn ulaw_expand(code: u8) -> i16 {
    let negative = code < 0x80;
    let inverted = !code;
    let exponent = ((inverted >> 4) & 0x07) as i32;
    let mantissa = (inverted & 0x0F) as i32;
    let step = 4 << (exponent + 1);
    let magnitude = (0x80 << exponent) + step * mantissa + step / 2 - 4 * 33;
    if negative {
        -magnitude as i16
    } else {
        magnitude as i16
    }
}

/// A-law expansion, G.191 `alaw_expand`.
const fn alaw_expand(code: u8) -> i16 {
    let ix = (code ^ 0x55) & 0x7F;
    let exponent = (ix >> 4) as i32;
    let mut mantissa = (ix & 0x0F) as i32;
    if exponent > 0 {
        mantissa += 16;
    }
    mantissa = (mantissa << 4) + 0x08;
    if exponent > 1 {
        mantissa <<= exponent - 1;
    }
    if code > 127 {
        mantissa as i16
    } else {
        -mantissa as i16
    }
}

/// µ-law compression of one 16-bit sample, G.191 `ulaw_compress` (uses one's complement for
/// negative values, so the result only depends on `sample >> 2`).
const fn ulaw_compress(sample: i16) -> u8 {
    let mut absno: i32 = if sample < 0 {
        ((!sample) >> 2) as i32 + 33
    } else {
        (sample >> 2) as i32 + 33
    };
    if absno > 0x1FFF {
        absno = 0x1FFF;
    }
    let mut i = absno >> 6;
    let mut segno = 1;
    while i != 0 {
        segno += 1;
        i >>= 1;
    }
    let high_nibble = 0x0008 - segno;
    let low_nibble = 0x000F - ((absno >> segno) & 0x000F);
    let mut out = (high_nibble << 4) | low_nibble;
    if sample >= 0 {
        out |= 0x0080;
    }
    out as u8
}

/// A-law compression of one 16-bit sample, G.191 `alaw_compress` (depends only on `sample >> 4`).
const fn alaw_compress(sample: i16) -> u8 {
    let mut ix: i32 = if sample < 0 {
        ((!sample) >> 4) as i32
    } else {
        (sample >> 4) as i32
    };
    if ix > 15 {
        let mut exponent = 1;
        while ix > 16 + 15 {
            ix >>= 1;
            exponent += 1;
        }
        ix -= 16;
        ix += exponent << 4;
    }
    if sample >= 0 {
        ix |= 0x0080;
    }
    (ix ^ 0x0055) as u8
}

const fn build_ulaw_decode() -> [i16; 256] {
    let mut table = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = ulaw_expand(i as u8);
        i += 1;
    }
    table
}

const fn build_alaw_decode() -> [i16; 256] {
    let mut table = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = alaw_expand(i as u8);
        i += 1;
    }
    table
}

/// Indexed by `(sample >> 2) & 0x3FFF` (14-bit two's complement).
const fn build_ulaw_encode() -> [u8; 1 << 14] {
    let mut table = [0u8; 1 << 14];
    let mut i = 0;
    while i < (1 << 14) {
        // Sign-extend the 14-bit index back into a 16-bit sample.
        let sample = ((i as i32) << 18 >> 16) as i16;
        table[i] = ulaw_compress(sample);
        i += 1;
    }
    table
}

/// Indexed by `(sample >> 4) & 0x0FFF` (12-bit two's complement).
const fn build_alaw_encode() -> [u8; 1 << 12] {
    let mut table = [0u8; 1 << 12];
    let mut i = 0;
    while i < (1 << 12) {
        let sample = ((i as i32) << 20 >> 16) as i16;
        table[i] = alaw_compress(sample);
        i += 1;
    }
    table
}

static ULAW_DECODE: [i16; 256] = build_ulaw_decode();
static ALAW_DECODE: [i16; 256] = build_alaw_decode();
static ULAW_ENCODE: [u8; 1 << 14] = build_ulaw_encode();
static ALAW_ENCODE: [u8; 1 << 12] = build_alaw_encode();

/// Encodes one 16-bit linear sample to µ-law.
#[inline]
pub fn ulaw_encode(sample: i16) -> u8 {
    ULAW_ENCODE[((sample >> 2) as u16 & 0x3FFF) as usize]
}

/// Decodes one µ-law byte to a 16-bit linear sample.
#[inline]
pub fn ulaw_decode(code: u8) -> i16 {
    ULAW_DECODE[code as usize]
}

/// Encodes one 16-bit linear sample to A-law.
#[inline]
pub fn alaw_encode(sample: i16) -> u8 {
    ALAW_ENCODE[((sample >> 4) as u16 & 0x0FFF) as usize]
}

/// Decodes one A-law byte to a 16-bit linear sample.
#[inline]
pub fn alaw_decode(code: u8) -> i16 {
    ALAW_DECODE[code as usize]
}

/// Encodes `input` into `output` (same length) with the given codec.
pub fn encode(codec: crate::Codec, input: &[i16], output: &mut [u8]) {
    debug_assert_eq!(input.len(), output.len());
    match codec {
        crate::Codec::Pcmu => {
            for (o, &s) in output.iter_mut().zip(input) {
                *o = ulaw_encode(s);
            }
        }
        crate::Codec::Pcma => {
            for (o, &s) in output.iter_mut().zip(input) {
                *o = alaw_encode(s);
            }
        }
    }
}

/// Decodes `input` into `output` (same length) with the given codec.
pub fn decode(codec: crate::Codec, input: &[u8], output: &mut [i16]) {
    debug_assert_eq!(input.len(), output.len());
    let table = match codec {
        crate::Codec::Pcmu => &ULAW_DECODE,
        crate::Codec::Pcma => &ALAW_DECODE,
    };
    for (o, &c) in output.iter_mut().zip(input) {
        *o = table[c as usize];
    }
}

/// µ-law byte → A-law byte through the 16-bit linear value (G.711 §3 and §2 tables).
const fn build_ulaw_to_alaw() -> [u8; 256] {
    let mut table = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = alaw_compress(ulaw_expand(i as u8));
        i += 1;
    }
    table
}

/// A-law byte → µ-law byte through the 16-bit linear value.
const fn build_alaw_to_ulaw() -> [u8; 256] {
    let mut table = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = ulaw_compress(alaw_expand(i as u8));
        i += 1;
    }
    table
}

static ULAW_TO_ALAW: [u8; 256] = build_ulaw_to_alaw();
static ALAW_TO_ULAW: [u8; 256] = build_alaw_to_ulaw();

/// Transcodes G.711 bytes from one law to the other through linear PCM (decode, then encode),
/// folded into one 256-entry table per direction at compile time; copies when `from == to`.
/// `input` and `output` have the same length (one byte per sample either way).
pub fn transcode(from: crate::Codec, to: crate::Codec, input: &[u8], output: &mut [u8]) {
    debug_assert_eq!(input.len(), output.len());
    let table = match (from, to) {
        (crate::Codec::Pcmu, crate::Codec::Pcma) => &ULAW_TO_ALAW,
        (crate::Codec::Pcma, crate::Codec::Pcmu) => &ALAW_TO_ULAW,
        _ => {
            output.copy_from_slice(input);
            return;
        }
    };
    for (o, &c) in output.iter_mut().zip(input) {
        *o = table[c as usize];
    }
}

/// The byte that encodes silence in `codec`.
pub const fn silence(codec: crate::Codec) -> u8 {
    match codec {
        crate::Codec::Pcmu => ULAW_SILENCE,
        crate::Codec::Pcma => ALAW_SILENCE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Decoder output for the end points and zero levels (G.191 `ulaw_expand`/`alaw_expand`,
    /// 16-bit scale).
    #[test]
    fn known_decode_vectors() {
        assert_eq!(ulaw_decode(0xFF), 0);
        assert_eq!(ulaw_decode(0x7F), 0);
        assert_eq!(ulaw_decode(0xFE), 8);
        assert_eq!(ulaw_decode(0xF0), 120);
        assert_eq!(ulaw_decode(0x80), 32124);
        assert_eq!(ulaw_decode(0x00), -32124);
        assert_eq!(alaw_decode(0xD5), 8);
        assert_eq!(alaw_decode(0x55), -8);
        assert_eq!(alaw_decode(0xAA), 32256);
        assert_eq!(alaw_decode(0x2A), -32256);
    }

    #[test]
    fn known_encode_vectors() {
        assert_eq!(ulaw_encode(0), 0xFF);
        assert_eq!(ulaw_encode(-1), 0x7F);
        assert_eq!(ulaw_encode(i16::MAX), 0x80);
        assert_eq!(ulaw_encode(i16::MIN), 0x00);
        assert_eq!(alaw_encode(0), 0xD5);
        assert_eq!(alaw_encode(-1), 0x55);
        assert_eq!(alaw_encode(i16::MAX), 0xAA);
        assert_eq!(alaw_encode(i16::MIN), 0x2A);
    }

    /// ITU-T G.711 tables 5 and 6: the "digital milliwatt", a 1 kHz sine at 0 dBm0 sampled at
    /// phases π/8 + kπ/4. Encoding that sine must give exactly the tabulated code sequence.
    #[test]
    #[allow(clippy::approx_constant)] // 3.14 is A-law's overload level in dBm0, not π
    fn digital_milliwatt_sequences() {
        const ULAW_DMW: [u8; 8] = [0x1E, 0x0B, 0x0B, 0x1E, 0x9E, 0x8B, 0x8B, 0x9E];
        const ALAW_DMW: [u8; 8] = [0x34, 0x21, 0x21, 0x34, 0xB4, 0xA1, 0xA1, 0xB4];
        // 0 dBm0 peak: µ-law overload (8159 in 14 bits) is +3.17 dBm0, A-law (4096 in 13 bits)
        // is +3.14 dBm0.
        let ulaw_peak = 8159.0 * 4.0 / 10f64.powf(3.17 / 20.0);
        let alaw_peak = 4096.0 * 8.0 / 10f64.powf(3.14 / 20.0);
        for k in 0..8 {
            // The tables start on the negative half-cycle.
            let phase = std::f64::consts::PI / 8.0 + k as f64 * std::f64::consts::PI / 4.0;
            let s = -phase.sin();
            let expected_u = ULAW_DMW[k];
            let expected_a = ALAW_DMW[k];
            assert_eq!(
                ulaw_encode((s * ulaw_peak).round() as i16),
                expected_u,
                "µ-law k={k}"
            );
            assert_eq!(
                alaw_encode((s * alaw_peak).round() as i16),
                expected_a,
                "A-law k={k}"
            );
        }
    }

    #[test]
    fn every_code_round_trips() {
        for code in 0..=255u8 {
            let expected_u = if code == 0x7F { 0xFF } else { code };
            assert_eq!(
                ulaw_encode(ulaw_decode(code)),
                expected_u,
                "µ-law {code:#04x}"
            );
            assert_eq!(alaw_encode(alaw_decode(code)), code, "A-law {code:#04x}");
        }
    }

    #[test]
    fn tables_match_the_reference_algorithm() {
        for s in i16::MIN..=i16::MAX {
            assert_eq!(ulaw_encode(s), ulaw_compress(s));
            assert_eq!(alaw_encode(s), alaw_compress(s));
        }
    }

    #[test]
    fn silence_bytes_decode_to_near_zero() {
        assert_eq!(ulaw_decode(silence(crate::Codec::Pcmu)), 0);
        assert_eq!(alaw_decode(silence(crate::Codec::Pcma)), 8);
    }

    #[test]
    fn transcode_goes_through_linear_pcm() {
        use crate::Codec::{Pcma, Pcmu};
        let all: Vec<u8> = (0..=255).collect();
        let mut out = vec![0u8; 256];
        transcode(Pcmu, Pcma, &all, &mut out);
        for (&u, &a) in all.iter().zip(&out) {
            assert_eq!(a, alaw_encode(ulaw_decode(u)), "µ-law {u:#04x}");
        }
        transcode(Pcma, Pcmu, &all, &mut out);
        for (&a, &u) in all.iter().zip(&out) {
            assert_eq!(u, ulaw_encode(alaw_decode(a)), "A-law {a:#04x}");
        }
        transcode(Pcmu, Pcmu, &all, &mut out);
        assert_eq!(out, all);
        // Silence stays (near) silence across the laws.
        transcode(Pcmu, Pcma, &[ULAW_SILENCE], &mut out[..1]);
        assert!(alaw_decode(out[0]).abs() <= 8);
    }

    proptest! {
        /// Quantisation error stays within half a step of the segment the sample falls in
        /// (steps double per segment; the top of the range clips at the last level).
        #[test]
        fn ulaw_round_trip_error_is_bounded(s in any::<i16>()) {
            let back = ulaw_decode(ulaw_encode(s)) as i32;
            let err = (back - s as i32).abs();
            let bound = (s as i32).abs() / 16 + 8;
            prop_assert!(err <= bound, "s={} back={} err={}", s, back, err);
        }

        #[test]
        fn alaw_round_trip_error_is_bounded(s in any::<i16>()) {
            let back = alaw_decode(alaw_encode(s)) as i32;
            let err = (back - s as i32).abs();
            let bound = (s as i32).abs() / 16 + 16;
            prop_assert!(err <= bound, "s={} back={} err={}", s, back, err);
        }

        #[test]
        fn encoding_is_monotonic(a in any::<i16>(), b in any::<i16>()) {
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            prop_assert!(ulaw_decode(ulaw_encode(lo)) <= ulaw_decode(ulaw_encode(hi)));
            prop_assert!(alaw_decode(alaw_encode(lo)) <= alaw_decode(alaw_encode(hi)));
        }

        /// A-law → µ-law → A-law is lossless: µ-law is finer than A-law at every level
        /// but the loudest, so each A-law level survives the trip.
        #[test]
        fn transcoding_round_trip_keeps_the_level(code in any::<u8>()) {
            use crate::Codec::{Pcma, Pcmu};
            let mut u = [0u8];
            let mut back = [0u8];
            transcode(Pcma, Pcmu, &[code], &mut u);
            transcode(Pcmu, Pcma, &u, &mut back);
            let (orig, got) = (alaw_decode(code) as i32, alaw_decode(back[0]) as i32);
            prop_assert!((orig - got).abs() <= orig.abs() / 16 + 16, "{} -> {}", orig, got);
        }

        #[test]
        fn slice_codecs_match_scalar(samples in proptest::collection::vec(any::<i16>(), 0..400)) {
            for codec in [crate::Codec::Pcmu, crate::Codec::Pcma] {
                let mut enc = vec![0u8; samples.len()];
                encode(codec, &samples, &mut enc);
                let mut dec = vec![0i16; samples.len()];
                decode(codec, &enc, &mut dec);
                for (i, &s) in samples.iter().enumerate() {
                    let (e, d) = match codec {
                        crate::Codec::Pcmu => (ulaw_encode(s), ulaw_decode(ulaw_encode(s))),
                        crate::Codec::Pcma => (alaw_encode(s), alaw_decode(alaw_encode(s))),
                    };
                    prop_assert_eq!(enc[i], e);
                    prop_assert_eq!(dec[i], d);
                }
            }
        }
    }
}
