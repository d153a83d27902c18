//! Leaving a message (R-IVR-5): the box greeting and a tone, then the caller's audio recorded
//! to WAV until `#`, hang-up or the maximum length. The media engine writes the file aside and
//! renames it into place, so a crash never leaves a half file counted as a message. Mailboxes,
//! quota and the hand-off to the CRM are the `voicemail` crate's ([`voicemail::Voicemail`]).

use std::path::PathBuf;
use std::time::Duration;

use media::{MediaEvent, PlayOptions, RecordingEnd};
use tracing::{info, warn};
use voicemail::{Filing, Refusal};

use super::{CallCtx, CallInput, Common, Ended, Journey, common, log_media, sleep_until};
use crate::events::Event;

/// How long we wait for the media engine to close a recording after asking it to stop.
const FINISH_WAIT: Duration = Duration::from_secs(3);

/// Records a message into `mailbox`; the call ends with it.
pub(crate) async fn run(ctx: &mut CallCtx<'_>, mailbox: &str) -> (Ended, Journey) {
    let settings = ctx.shared.config.voicemail.clone();
    ctx.step(format!("voicemail {mailbox}"));
    let Some(vm) = ctx.shared.voicemail.clone() else {
        warn!("no voicemail storage configured");
        ctx.step("voicemail: storage unavailable".into());
        hang_up_politely(ctx).await;
        return (Ended::Local, Journey::OutOfHours);
    };
    // Before the greeting: a caller must not speak into a box that cannot keep the message.
    let admitted: PathBuf = match vm.admit(mailbox, ctx.call_id).await {
        Ok(path) => path,
        Err(Refusal::Unavailable(_)) => {
            ctx.step("voicemail: storage unavailable".into());
            hang_up_politely(ctx).await;
            return (Ended::Local, Journey::OutOfHours);
        }
        Err(Refusal::Full(why)) => {
            warn!(%why, "voicemail refused: storage limit");
            ctx.step(format!("voicemail: storage full ({why})"));
            hang_up_politely(ctx).await;
            return (Ended::Local, Journey::OutOfHours);
        }
    };
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

    let path = admitted;
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
        vm.discard(&path).await;
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
    let message = voicemail::Message {
        call_id: ctx.call_id.to_string(),
        caller: ctx.caller.number.clone(),
        mailbox: mailbox.to_string(),
        path: path.clone(),
        duration,
    };
    match vm.file(message).await {
        Filing::Opened { number } => {
            ctx.step(format!("voicemail: opened Service Request {number}"));
            ctx.shared.bus.publish(Event::TicketCreated {
                number,
                queue: settings.queue.clone(),
                channel: crate::events::TicketChannel::Voicemail,
                call_id: Some(ctx.call_id.to_string()),
                owner: None,
            });
        }
        Filing::Joined { number } => {
            ctx.step(format!("voicemail: joined Service Request {number}"));
        }
        Filing::Pending => ctx.step("voicemail: Service Request pending (message kept)".into()),
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
