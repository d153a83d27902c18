//! Leaving a message (R-IVR-5): the box greeting and a tone, then the caller's audio recorded
//! to WAV until `#`, hang-up or the maximum length. The media engine writes the file aside and
//! renames it into place, so a crash never leaves a half file counted as a message.

use std::path::{Path, PathBuf};
use std::time::Duration;

use media::{MediaEvent, PlayOptions, RecordingEnd};
use tracing::{info, warn};

use super::{CallCtx, CallInput, Common, Ended, Journey, common, log_media, sleep_until};
use crate::VoicemailSettings;
use crate::events::Event;

/// How long we wait for the media engine to close a recording after asking it to stop.
const FINISH_WAIT: Duration = Duration::from_secs(3);

/// Records a message into `mailbox`; the call ends with it.
pub(crate) async fn run(ctx: &mut CallCtx<'_>, mailbox: &str) -> (Ended, Journey) {
    let settings = ctx.shared.config.voicemail.clone();
    ctx.step(format!("voicemail {mailbox}"));
    let dir = settings.dir.join(sanitize(mailbox));
    if let Err(error) = std::fs::create_dir_all(&dir) {
        warn!(%error, dir = %dir.display(), "cannot create the mailbox folder");
        ctx.step("voicemail: storage unavailable".into());
        hang_up_politely(ctx).await;
        return (Ended::Local, Journey::OutOfHours);
    }
    // Before the greeting: a caller must not speak into a box that cannot keep the message.
    if let Err(why) = storage_allows(&settings) {
        warn!(%why, "voicemail refused: storage limit");
        ctx.step(format!("voicemail: storage full ({why})"));
        hang_up_politely(ctx).await;
        return (Ended::Local, Journey::OutOfHours);
    }
    let greeting = ctx.play(
        &[settings.greeting_prompt.clone(), "beep".into()],
        PlayOptions {
            looped: false,
            barge_in: true,
        },
    );
    // The greeting: `#` (barge-in) skips straight to the end, as a message too short.
    let mut skip = false;
    if let Some(greeting) = greeting {
        loop {
            tokio::select! {
                msg = ctx.input.recv() => {
                    if let Some(Common::Over(ended)) = common(ctx, msg.as_ref()) {
                        ctx.step("hung up during the greeting".into());
                        return (ended, Journey::OutOfHours);
                    }
                }
                event = ctx.media_events.recv() => match event {
                    Some(MediaEvent::PlaybackFinished { id, interrupted }) if id == greeting => {
                        skip = interrupted;
                        break;
                    }
                    Some(MediaEvent::Dtmf { .. }) => {}
                    Some(event) => log_media(&event),
                    None => return (Ended::Local, Journey::OutOfHours),
                },
                _ = sleep_until(Some(ctx.deadline)) => {
                    ctx.shared.gateway.hangup(ctx.call);
                    return (Ended::Local, Journey::OutOfHours);
                }
            }
        }
    }
    if skip {
        ctx.step("voicemail: ended before the tone, nothing recorded".into());
        hang_up_politely(ctx).await;
        return (Ended::Local, Journey::OutOfHours);
    }

    let path: PathBuf = dir.join(format!("{}.wav", ctx.call_id));
    ctx.leg.start_recording(path.clone(), settings.max_length);
    info!(path = %path.display(), "recording a message");

    let mut caller_gone: Option<Ended> = None;
    let finished = loop {
        tokio::select! {
            msg = ctx.input.recv(), if caller_gone.is_none() => {
                if let Some(Common::Over(ended)) = common(ctx, msg.as_ref()) {
                    // The caller hung up: that ends the message (it is kept).
                    ctx.leg.stop_recording();
                    caller_gone = Some(ended);
                } else if let Some(CallInput::Shutdown) = msg {
                    ctx.leg.stop_recording();
                }
            }
            event = ctx.media_events.recv() => match event {
                Some(MediaEvent::Dtmf { digit: '#', .. }) => ctx.leg.stop_recording(),
                Some(MediaEvent::RecordingFinished { path, duration, reason }) => {
                    break Some((path, duration, reason));
                }
                Some(event) => log_media(&event),
                None => break None,
            },
            _ = tokio::time::sleep(FINISH_WAIT), if caller_gone.is_some() => break None,
        }
    };
    let Some((path, duration, reason)) = finished else {
        warn!("the recording did not finish");
        return (caller_gone.unwrap_or(Ended::Local), Journey::OutOfHours);
    };
    if let RecordingEnd::Error(error) = &reason {
        warn!(%error, "recording failed");
        ctx.step(format!("voicemail: recording failed ({error})"));
        return finish(ctx, caller_gone, false).await;
    }
    if duration < settings.min_length {
        info!(
            ms = duration.as_millis() as u64,
            "message too short: discarded"
        );
        let _ = std::fs::remove_file(&path);
        ctx.step(format!(
            "voicemail: too short ({} ms), discarded",
            duration.as_millis()
        ));
        return finish(ctx, caller_gone, false).await;
    }
    info!(path = %path.display(), seconds = duration.as_secs_f32(), ?reason, "message recorded");
    ctx.step(format!(
        "voicemail: {:.1} s recorded ({})",
        duration.as_secs_f32(),
        path.display()
    ));
    if let Some(store) = &ctx.shared.store {
        let caller = ctx.caller.number.clone();
        match super::message::file(
            store,
            settings.sla.as_ref(),
            &settings.queue,
            ctx.call_id,
            caller.as_deref(),
            &path,
            duration.as_secs_f32(),
        )
        .await
        {
            Some(filed) => {
                ctx.step(format!(
                    "voicemail: {} Service Request {}",
                    if filed.joined { "joined" } else { "opened" },
                    filed.number
                ));
                if !filed.joined {
                    ctx.shared.bus.publish(Event::TicketCreated {
                        number: filed.number,
                        queue: filed.queue,
                        channel: crate::events::TicketChannel::Voicemail,
                        call_id: Some(ctx.call_id.to_string()),
                        owner: None,
                    });
                }
            }
            None => ctx.step("voicemail: Service Request pending (message kept)".into()),
        }
    }
    if reason == RecordingEnd::MaxDuration && caller_gone.is_none() {
        let _ = ctx.play(
            &["voicemail_too_long".into()],
            PlayOptions {
                looped: false,
                barge_in: false,
            },
        );
    }
    finish(ctx, caller_gone, true).await
}

async fn finish(
    ctx: &mut CallCtx<'_>,
    caller_gone: Option<Ended>,
    saved: bool,
) -> (Ended, Journey) {
    let journey = if saved {
        Journey::Voicemail
    } else {
        Journey::OutOfHours
    };
    if let Some(ended) = caller_gone {
        return (ended, journey);
    }
    if saved {
        play_and_wait(ctx, "voicemail_saved").await;
    }
    hang_up_politely(ctx).await;
    (Ended::Local, journey)
}

async fn hang_up_politely(ctx: &mut CallCtx<'_>) {
    play_and_wait(ctx, "goodbye").await;
    ctx.shared.gateway.hangup(ctx.call);
}

/// Plays one prompt to its end (or until the caller leaves).
async fn play_and_wait(ctx: &mut CallCtx<'_>, name: &str) {
    let Some(id) = ctx.play(
        &[name.to_string()],
        PlayOptions {
            looped: false,
            barge_in: false,
        },
    ) else {
        return;
    };
    loop {
        tokio::select! {
            event = ctx.media_events.recv() => match event {
                Some(MediaEvent::PlaybackFinished { id: done, .. }) if done == id => return,
                Some(_) => {}
                None => return,
            },
            _ = tokio::time::sleep(Duration::from_secs(30)) => return,
        }
    }
}

/// The most a message can take: 8 kHz 16-bit mono for the maximum length, plus the header.
fn largest_message(settings: &VoicemailSettings) -> u64 {
    settings.max_length.as_secs().saturating_add(1) * 16_000 + 44
}

/// The WAV files under the voicemail folder (mailbox folders one level down).
fn messages(dir: &Path) -> Vec<(PathBuf, std::fs::Metadata)> {
    let mut out = Vec::new();
    let Ok(boxes) = std::fs::read_dir(dir) else {
        return out;
    };
    for mailbox in boxes.flatten() {
        let Ok(files) = std::fs::read_dir(mailbox.path()) else {
            continue;
        };
        for file in files.flatten() {
            let path = file.path();
            if path.extension().is_some_and(|e| e == "wav")
                && let Ok(meta) = file.metadata()
            {
                out.push((path, meta));
            }
        }
    }
    out
}

/// Whether one more message of the maximum length fits in the quota and on the disk.
fn storage_allows(settings: &VoicemailSettings) -> Result<(), String> {
    let need = largest_message(settings);
    let used: u64 = messages(&settings.dir).iter().map(|(_, m)| m.len()).sum();
    if used.saturating_add(need) > settings.max_total_bytes {
        return Err(format!(
            "messages take {used} bytes of the {} allowed",
            settings.max_total_bytes
        ));
    }
    let stat = rustix::fs::statvfs(&settings.dir).map_err(|e| e.to_string())?;
    let free = stat.f_bavail.saturating_mul(stat.f_frsize);
    if free < settings.min_free_bytes.saturating_add(need) {
        return Err(format!(
            "{free} bytes free on the disk, {} must stay free",
            settings.min_free_bytes
        ));
    }
    Ok(())
}

/// Deletes message files older than the retention, now and every hour.
pub(crate) fn spawn_retention(settings: &VoicemailSettings) {
    let Some(retention) = settings.retention else {
        return;
    };
    let dir = settings.dir.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(3600));
        loop {
            every.tick().await;
            let dir = dir.clone();
            let removed = tokio::task::spawn_blocking(move || sweep(&dir, retention))
                .await
                .unwrap_or(0);
            if removed > 0 {
                info!(removed, "voicemail files past their retention deleted");
            }
        }
    });
}

fn sweep(dir: &Path, retention: Duration) -> usize {
    let now = std::time::SystemTime::now();
    let mut removed = 0;
    for (path, meta) in messages(dir) {
        let old = meta
            .modified()
            .ok()
            .and_then(|m| now.duration_since(m).ok())
            .is_some_and(|age| age > retention);
        if old && std::fs::remove_file(&path).is_ok() {
            removed += 1;
        }
    }
    removed
}

/// A mailbox name as a folder name: letters, digits, `-` and `_` only.
fn sanitize(mailbox: &str) -> String {
    let name: String = mailbox
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if name.is_empty() {
        "general".into()
    } else {
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(dir: &Path, max_total_bytes: u64) -> VoicemailSettings {
        VoicemailSettings {
            dir: dir.to_path_buf(),
            greeting_prompt: "voicemail_greeting".into(),
            max_length: Duration::from_secs(10),
            min_length: Duration::from_secs(1),
            queue: "voicemail".into(),
            max_total_bytes,
            min_free_bytes: 0,
            retention: None,
            sla: None,
        }
    }

    #[test]
    fn the_quota_counts_every_mailbox_and_the_largest_next_message() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("general")).unwrap();
        std::fs::write(dir.path().join("general/a.wav"), vec![0u8; 100_000]).unwrap();
        std::fs::write(dir.path().join("general/notes.txt"), vec![0u8; 900_000]).unwrap();
        // 100,000 used + 176,044 for a 10 s message.
        assert!(storage_allows(&settings(dir.path(), 276_044)).is_ok());
        let refused = storage_allows(&settings(dir.path(), 276_043)).unwrap_err();
        assert!(refused.contains("100000 bytes"), "{refused}");
        // Free disk space: asking for more than any disk has.
        let mut s = settings(dir.path(), u64::MAX);
        s.min_free_bytes = u64::MAX / 2;
        assert!(storage_allows(&s).unwrap_err().contains("must stay free"));
    }

    #[test]
    fn retention_deletes_only_old_message_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("general")).unwrap();
        let old = dir.path().join("general/old.wav");
        let new = dir.path().join("general/new.wav");
        std::fs::write(&old, b"RIFF").unwrap();
        std::fs::write(&new, b"RIFF").unwrap();
        let two_days_ago = std::time::SystemTime::now() - Duration::from_secs(2 * 86_400);
        std::fs::File::options()
            .write(true)
            .open(&old)
            .unwrap()
            .set_modified(two_days_ago)
            .unwrap();
        assert_eq!(sweep(dir.path(), Duration::from_secs(86_400)), 1);
        assert!(!old.exists());
        assert!(new.exists());
    }
}
