//! Leaving a message (R-IVR-5): the box greeting and a tone, then the caller's audio recorded
//! to WAV until `#`, hang-up or the maximum length. The media engine writes the file aside and
//! renames it into place, so a crash never leaves a half file counted as a message.

use std::path::PathBuf;
use std::time::Duration;

use media::{MediaEvent, PlayOptions, RecordingEnd};
use tracing::{info, warn};

use super::{CallCtx, CallInput, Common, Ended, Journey, common, log_media, sleep_until};
use crate::events::Event;

/// How long we wait for the media engine to close a recording after asking it to stop.
const FINISH_WAIT: Duration = Duration::from_secs(3);

/// Records a message into `mailbox`; the call ends with it.
pub(crate) async fn run(ctx: &mut CallCtx<'_>, mailbox: &str) -> (Ended, Journey) {
    let settings = ctx.shared.config.voicemail.clone();
    ctx.step(format!("voicemail {mailbox}"));
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

    let dir = settings.dir.join(sanitize(mailbox));
    if let Err(error) = std::fs::create_dir_all(&dir) {
        warn!(%error, dir = %dir.display(), "cannot create the mailbox folder");
        ctx.step("voicemail: storage unavailable".into());
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
                        channel: "voicemail".into(),
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
