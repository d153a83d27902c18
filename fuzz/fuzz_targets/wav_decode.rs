//! The prompt upload path: `Prompt::convert_wav` (header checks, decoding, down-mix, the
//! 8 kHz converter) on any bytes. A refusal is fine; a panic, or an allocation past
//! libFuzzer's limits (`-rss_limit_mb`, `-malloc_limit_mb`), is not. What converts must read
//! back as a prompt of the same length, within the limit.

#![no_main]

use std::io::Cursor;

use libfuzzer_sys::fuzz_target;
use media::{MAX_PROMPT_LENGTH, Prompt};

fuzz_target!(|data: &[u8]| {
    let Ok((wav, length)) = Prompt::convert_wav(Cursor::new(data), "fuzz") else {
        return;
    };
    assert!(length <= MAX_PROMPT_LENGTH, "{length:?}");
    let prompt = Prompt::from_wav_reader(Cursor::new(wav), "fuzz").expect("our WAV reads back");
    let samples = (length.as_secs_f64() * 8000.0).round() as usize;
    assert_eq!(prompt.samples(), samples);
});
