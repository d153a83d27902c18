use super::*;
use crate::Codec;
use std::io::Cursor;

fn audio(ssrc: u32, timestamp: u32, payload: &[u8]) -> ReceivedAudio<'_> {
    ReceivedAudio {
        ssrc,
        timestamp,
        codec: Codec::Pcmu,
        payload,
    }
}

fn read_back(bytes: Vec<u8>) -> (hound::WavSpec, Vec<i16>) {
    let mut r = hound::WavReader::new(Cursor::new(bytes)).unwrap();
    let spec = r.spec();
    let s = r.samples::<i16>().map(Result::unwrap).collect();
    (spec, s)
}

/// A loud µ-law frame (decodes to 8031).
const LOUD: u8 = 0x9F;

#[test]
fn gaps_are_filled_by_timestamp_and_late_packets_dropped() {
    let now = Instant::now();
    let mut cur = Cursor::new(Vec::new());
    {
        let mut r = Recorder::new(&mut cur, Duration::from_secs(10), now).unwrap();
        let frame = [LOUD; 160];
        r.handle_audio(audio(1, 1000, &frame), now).unwrap();
        // Two packets lost (320 samples), then one arrives.
        r.handle_audio(audio(1, 1480, &frame), now).unwrap();
        // A late duplicate of the first is ignored.
        r.handle_audio(audio(1, 1000, &frame), now).unwrap();
        // Silence suppression: 1 s without packets, timestamps jump by 8000.
        r.handle_audio(audio(1, 1640 + 8000, &frame), now).unwrap();
        assert_eq!(r.samples(), 160 + 320 + 160 + 8000 + 160);
        assert_eq!(r.duration(), Duration::from_micros(1_100_000));
        r.finalize().unwrap();
    }
    let (spec, s) = read_back(cur.into_inner());
    assert_eq!(spec, wav_spec());
    assert_eq!(s.len(), 8800);
    let loud = g711::ulaw_decode(LOUD);
    assert!(s[..160].iter().all(|&x| x == loud));
    assert!(s[160..480].iter().all(|&x| x == 0));
    assert!(s[480..640].iter().all(|&x| x == loud));
    assert!(s[640..8640].iter().all(|&x| x == 0));
    assert!(s[8640..].iter().all(|&x| x == loud));
}

#[test]
fn timestamp_wrap_is_not_a_gap() {
    let now = Instant::now();
    let mut cur = Cursor::new(Vec::new());
    let mut r = Recorder::new(&mut cur, Duration::from_secs(10), now).unwrap();
    let frame = [LOUD; 160];
    r.handle_audio(audio(1, u32::MAX - 159, &frame), now)
        .unwrap();
    r.handle_audio(audio(1, 0, &frame), now).unwrap();
    assert_eq!(r.samples(), 320);
}

#[test]
fn new_source_is_placed_by_arrival_time() {
    let now = Instant::now();
    let mut cur = Cursor::new(Vec::new());
    let mut r = Recorder::new(&mut cur, Duration::from_secs(10), now).unwrap();
    let frame = [LOUD; 160];
    r.handle_audio(audio(1, 5, &frame), now).unwrap();
    // A new SSRC 520 ms later with an unrelated timestamp: 500 ms of silence in between.
    r.handle_audio(audio(2, 999_999, &frame), now + Duration::from_millis(520))
        .unwrap();
    assert_eq!(r.samples(), 160 + 4000 + 160);
}

#[test]
fn max_duration_truncates_and_says_full() {
    let now = Instant::now();
    let mut cur = Cursor::new(Vec::new());
    let mut r = Recorder::new(&mut cur, Duration::from_millis(50), now).unwrap();
    let frame = [LOUD; 160];
    assert_eq!(
        r.handle_audio(audio(1, 0, &frame), now).unwrap(),
        RecordProgress::Continue
    );
    assert_eq!(
        r.handle_audio(audio(1, 160, &frame), now).unwrap(),
        RecordProgress::Continue
    );
    assert_eq!(
        r.handle_audio(audio(1, 320, &frame), now).unwrap(),
        RecordProgress::Full
    );
    assert_eq!(r.samples(), 400);
    assert_eq!(
        r.handle_audio(audio(1, 480, &frame), now).unwrap(),
        RecordProgress::Full
    );
    assert!(!r.past_deadline(now + Duration::from_millis(1000)));
    assert!(r.past_deadline(now + Duration::from_millis(1050)));
}

#[test]
fn file_recording_appears_only_when_finished() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vm.wav");
    let now = Instant::now();
    let mut rec = FileRecording::start(path.clone(), Duration::from_secs(5), now).unwrap();
    let frame = [LOUD; 160];
    for k in 0..10u32 {
        if k == 4 {
            continue; // lost
        }
        rec.recorder()
            .handle_audio(audio(1, k * 160, &frame), now)
            .unwrap();
    }
    assert!(!path.exists(), "nothing at the target path while recording");
    assert!(temp_path(&path).exists());
    let ev = rec.finish(RecordingEnd::Stopped);
    assert_eq!(
        ev,
        MediaEvent::RecordingFinished {
            path: path.clone(),
            duration: Duration::from_millis(200),
            reason: RecordingEnd::Stopped
        }
    );
    assert!(!temp_path(&path).exists());
    let r = hound::WavReader::open(&path).unwrap();
    assert_eq!(r.spec(), wav_spec());
    assert_eq!(r.duration(), 1600);
}

#[test]
fn unwritable_target_reports_an_error_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no/such/dir/x.wav");
    let err = FileRecording::start(missing, Duration::from_secs(1), Instant::now())
        .err()
        .unwrap();
    assert!(err.contains("x.wav.tmp"), "{err}");
    // The rename fails when the target is a directory: the temporary file is removed.
    let target = dir.path().join("is_a_dir");
    std::fs::create_dir_all(target.join("child")).unwrap();
    let rec = FileRecording::start(target.clone(), Duration::from_secs(1), Instant::now()).unwrap();
    match rec.finish(RecordingEnd::Stopped) {
        MediaEvent::RecordingFinished {
            reason: RecordingEnd::Error(e),
            ..
        } => assert!(e.contains("rename"), "{e}"),
        other => panic!("expected an error, got {other:?}"),
    }
    assert!(!temp_path(&target).exists());
}

/// A write error (a full disk) mid-recording: what reached the disk is kept as a valid WAV
/// at the target path and the recording ends as at its maximum, so the call files it.
#[test]
fn a_write_error_keeps_the_audio_written() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vm.wav");
    let now = Instant::now();
    let mut rec = FileRecording::start(path.clone(), Duration::from_secs(60), now).unwrap();
    let frame = [LOUD; 160];
    for k in 0..150u32 {
        rec.recorder()
            .handle_audio(audio(1, k * 160, &frame), now)
            .unwrap();
    }
    let ev = rec.fail("cannot write vm.wav: No space left on device (os error 28)".into());
    assert_eq!(
        ev,
        MediaEvent::RecordingFinished {
            path: path.clone(),
            duration: Duration::from_secs(3),
            reason: RecordingEnd::MaxDuration,
        }
    );
    assert!(!temp_path(&path).exists());
    let mut r = hound::WavReader::open(&path).unwrap();
    assert_eq!(r.spec(), wav_spec());
    assert_eq!(r.len(), 150 * 160);
    let loud = crate::g711::ulaw_decode(LOUD);
    assert!(r.samples::<i16>().all(|s| s.unwrap() == loud));
}

/// What a full disk leaves: a header with stale sizes and audio cut mid-sample. The header
/// is set to the whole samples there.
#[test]
fn salvage_sets_the_header_to_the_whole_samples_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cut.wav.tmp");
    let mut w = hound::WavWriter::create(&path, wav_spec()).unwrap();
    for i in 0..8000i16 {
        w.write_sample(i).unwrap();
    }
    w.finalize().unwrap();
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.truncate(44 + 2 * 4000 + 1);
    bytes[4..8].copy_from_slice(&0u32.to_le_bytes());
    bytes[40..44].copy_from_slice(&0u32.to_le_bytes());
    std::fs::write(&path, bytes).unwrap();
    assert_eq!(salvage(&path).unwrap(), Some(Duration::from_millis(500)));
    let mut r = hound::WavReader::open(&path).unwrap();
    assert_eq!(r.len(), 4000);
    assert_eq!(r.samples::<i16>().nth(3999).unwrap().unwrap(), 3999);
    // Nothing playable: not a message.
    let empty = dir.path().join("empty.wav.tmp");
    std::fs::write(&empty, b"RIFF").unwrap();
    assert_eq!(salvage(&empty).unwrap(), None);
    let mut rec = FileRecording::start(
        dir.path().join("e.wav"),
        Duration::from_secs(1),
        Instant::now(),
    )
    .unwrap();
    let _ = rec.recorder();
    match rec.fail("disk full".into()) {
        MediaEvent::RecordingFinished {
            reason: RecordingEnd::Error(e),
            duration,
            ..
        } => {
            assert_eq!((e.as_str(), duration), ("disk full", Duration::ZERO));
        }
        other => panic!("expected an error, got {other:?}"),
    }
    assert!(!dir.path().join("e.wav").exists() && !dir.path().join("e.wav.tmp").exists());
}
