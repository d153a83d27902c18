//! Leaving a message (R-IVR-5): the mailbox must admit it (quota, disk), then the box
//! greeting and a tone, then the caller's audio recorded until `#`, hang-up or the maximum
//! length; the message is handed to the CRM as a Service Request (R-VM-1) and the caller hears
//! it was saved. Files, quota and the hand-off are the voicemail store's: this phase only asks.

use std::path::PathBuf;
use std::time::Instant;

use events::{CallOutcome, Event, TicketChannel};
use media::RecordingEnd;
use tracing::{info, warn};

use crate::{
    CLOSING_PROMPT_LIMIT, Call, Ended, FILING_WAIT, Filing, GatewayCommand, Input, Leg,
    MediaCommand, PlayToken, RECORDING_FINISH_WAIT, State, VoicemailCommand, VoicemailRefusal,
};

pub(crate) struct VmState {
    mailbox: String,
    stage: Stage,
}

enum Stage {
    /// Waiting for the mailbox to admit a message.
    Admitting,
    /// The greeting and the tone play; `#` skips to the end.
    Greeting { token: PlayToken, path: PathBuf },
    /// Recording; after the caller left, the engine has a little while to close the file.
    Recording {
        caller_gone: Option<(Ended, Instant)>,
    },
    /// The message is being handed to the CRM.
    Filing {
        caller_gone: Option<Ended>,
        max_reached: bool,
        until: Instant,
    },
    /// Closing prompts, then we hang up.
    Closing {
        token: PlayToken,
        rest: Vec<String>,
        journey: CallOutcome,
        until: Instant,
    },
}

impl VmState {
    pub(crate) fn timeout(&self, deadline: Option<Instant>) -> Option<Instant> {
        match &self.stage {
            Stage::Admitting | Stage::Greeting { .. } => deadline,
            Stage::Recording { caller_gone } => caller_gone
                .as_ref()
                .map(|(_, at)| *at + RECORDING_FINISH_WAIT),
            Stage::Filing { until, .. } | Stage::Closing { until, .. } => Some(*until),
        }
    }
}

impl Call {
    pub(crate) fn start_voicemail(&mut self, mailbox: String, _now: Instant) {
        self.step(format!("voicemail {mailbox}"));
        self.caller.journey.push(events::JourneyStep::Voicemail {
            mailbox: mailbox.clone(),
        });
        self.voicemail(VoicemailCommand::Admit {
            mailbox: mailbox.clone(),
        });
        self.state = State::Voicemail(Box::new(VmState {
            mailbox,
            stage: Stage::Admitting,
        }));
    }

    pub(crate) fn on_voicemail(&mut self, mut vm: Box<VmState>, input: Input, now: Instant) {
        match input {
            Input::CallerMediaChanged(media) => {
                self.caller_media_changed(media);
                self.state = State::Voicemail(vm);
                return;
            }
            Input::CallerMediaGone => {
                warn!("media leg gone");
                if matches!(vm.stage, Stage::Recording { .. }) {
                    warn!("the recording did not finish");
                }
                let (caller_gone, journey) = match vm.stage {
                    Stage::Recording { caller_gone } => {
                        (caller_gone.map(|(ended, _)| ended), CallOutcome::OutOfHours)
                    }
                    Stage::Filing { caller_gone, .. } => (caller_gone, CallOutcome::Voicemail),
                    Stage::Closing { journey, .. } => (None, journey),
                    Stage::Admitting | Stage::Greeting { .. } => (None, CallOutcome::OutOfHours),
                };
                let ended = caller_gone.unwrap_or_else(|| {
                    self.gateway(GatewayCommand::Hangup(Leg::Caller));
                    Ended::Local
                });
                return self.end(ended, Some(journey), now);
            }
            _ => {}
        }
        match vm.stage {
            Stage::Admitting => match input {
                Input::VoicemailAdmitted(Ok(path)) => {
                    let greeting = self.setup.settings.voicemail.greeting_prompt.clone();
                    let token = self.play(vec![greeting, "beep".into()], false, true);
                    vm.stage = Stage::Greeting { token, path };
                }
                Input::VoicemailAdmitted(Err(VoicemailRefusal::Unavailable(error))) => {
                    warn!(%error, "cannot create the mailbox folder");
                    self.step("voicemail: storage unavailable".into());
                    return self.closing(vec!["goodbye".into()], CallOutcome::OutOfHours, now);
                }
                Input::VoicemailAdmitted(Err(VoicemailRefusal::Full(why))) => {
                    warn!(%why, "voicemail refused: storage limit");
                    self.step(format!("voicemail: storage full ({why})"));
                    return self.closing(vec!["goodbye".into()], CallOutcome::OutOfHours, now);
                }
                Input::CallerEnded(reason) => {
                    return self.end(Ended::Remote(reason), Some(CallOutcome::OutOfHours), now);
                }
                Input::Shutdown => {
                    self.gateway(GatewayCommand::Hangup(Leg::Caller));
                    return self.end(Ended::Local, Some(CallOutcome::OutOfHours), now);
                }
                _ => {}
            },
            Stage::Greeting { token, ref path } => match input {
                Input::PlaybackFinished {
                    token: done,
                    interrupted,
                } if done == token => {
                    if interrupted {
                        // `#` (barge-in) skips straight to the end, as a message too short.
                        self.step("voicemail: ended before the tone, nothing recorded".into());
                        return self.closing(vec!["goodbye".into()], CallOutcome::OutOfHours, now);
                    }
                    let path = path.clone();
                    self.start_recording(&mut vm, path);
                }
                Input::PlaybackMissing { token: done } if done == token => {
                    let path = path.clone();
                    self.start_recording(&mut vm, path);
                }
                Input::CallerEnded(reason) => {
                    self.step("hung up during the greeting".into());
                    return self.end(Ended::Remote(reason), Some(CallOutcome::OutOfHours), now);
                }
                Input::Shutdown => {
                    self.gateway(GatewayCommand::Hangup(Leg::Caller));
                    self.step("hung up during the greeting".into());
                    return self.end(Ended::Local, Some(CallOutcome::OutOfHours), now);
                }
                _ => {}
            },
            Stage::Recording {
                ref mut caller_gone,
            } => match input {
                Input::CallerEnded(reason) if caller_gone.is_none() => {
                    // The caller hung up: that ends the message (it is kept).
                    self.media(MediaCommand::StopRecording);
                    *caller_gone = Some((Ended::Remote(reason), now));
                }
                Input::Shutdown if caller_gone.is_none() => {
                    self.gateway(GatewayCommand::Hangup(Leg::Caller));
                    self.media(MediaCommand::StopRecording);
                    *caller_gone = Some((Ended::Local, now));
                }
                Input::Dtmf { digit: '#', .. } => self.media(MediaCommand::StopRecording),
                Input::RecordingFinished {
                    path,
                    duration,
                    end,
                } => {
                    let gone = caller_gone.take().map(|(ended, _)| ended);
                    return self.recorded(vm, gone, path, duration, end, now);
                }
                _ => {}
            },
            Stage::Filing {
                ref mut caller_gone,
                max_reached,
                ..
            } => match input {
                Input::VoicemailFiled(filing) => {
                    self.filing_pending = false;
                    self.filed(filing);
                    let gone = caller_gone.take();
                    if max_reached && gone.is_none() {
                        self.play(vec!["voicemail_too_long".into()], false, false);
                    }
                    return self.left_message(gone, true, now);
                }
                Input::CallerEnded(reason) if caller_gone.is_none() => {
                    *caller_gone = Some(Ended::Remote(reason));
                }
                Input::Shutdown if caller_gone.is_none() => {
                    self.gateway(GatewayCommand::Hangup(Leg::Caller));
                    *caller_gone = Some(Ended::Local);
                }
                _ => {}
            },
            Stage::Closing {
                token,
                ref mut rest,
                journey,
                ..
            } => match input {
                Input::PlaybackFinished { token: done, .. }
                | Input::PlaybackMissing { token: done }
                    if done == token =>
                {
                    let rest = std::mem::take(rest);
                    return self.closing(rest, journey, now);
                }
                Input::CallerEnded(reason) => {
                    return self.end(Ended::Remote(reason), Some(journey), now);
                }
                Input::Shutdown => {
                    self.gateway(GatewayCommand::Hangup(Leg::Caller));
                    return self.end(Ended::Local, Some(journey), now);
                }
                _ => {}
            },
        }
        self.state = State::Voicemail(vm);
    }

    pub(crate) fn voicemail_timeout(&mut self, vm: Box<VmState>, now: Instant) {
        match vm.stage {
            Stage::Admitting | Stage::Greeting { .. }
                if self.deadline.is_some_and(|d| now >= d) =>
            {
                warn!("maximum call duration reached in the voicemail");
                self.gateway(GatewayCommand::Hangup(Leg::Caller));
                self.end(Ended::Local, Some(CallOutcome::OutOfHours), now)
            }
            Stage::Recording {
                caller_gone: Some((ended, at)),
            } if now >= at + RECORDING_FINISH_WAIT => {
                warn!("the recording did not finish");
                self.end(ended, Some(CallOutcome::OutOfHours), now)
            }
            Stage::Filing {
                caller_gone, until, ..
            } if now >= until => {
                warn!(mailbox = %vm.mailbox, "the message's hand-off goes on without the call");
                self.filing_pending = false;
                self.left_message(caller_gone, true, now)
            }
            Stage::Closing {
                rest,
                journey,
                until,
                ..
            } if now >= until => self.closing(rest, journey, now),
            _ => self.state = State::Voicemail(vm),
        }
    }

    fn start_recording(&mut self, vm: &mut VmState, path: PathBuf) {
        let max = self.setup.settings.voicemail.max_length;
        info!(path = %path.display(), "recording a message");
        self.media(MediaCommand::StartRecording { path, max });
        vm.stage = Stage::Recording { caller_gone: None };
    }

    fn recorded(
        &mut self,
        mut vm: Box<VmState>,
        caller_gone: Option<Ended>,
        path: PathBuf,
        duration: std::time::Duration,
        end: RecordingEnd,
        now: Instant,
    ) {
        if let RecordingEnd::Error(error) = &end {
            warn!(%error, "recording failed");
            self.step(format!("voicemail: recording failed ({error})"));
            return self.left_message(caller_gone, false, now);
        }
        if duration < self.setup.settings.voicemail.min_length {
            info!(
                ms = duration.as_millis() as u64,
                "message too short: discarded"
            );
            self.voicemail(VoicemailCommand::Discard { path });
            self.step(format!(
                "voicemail: too short ({} ms), discarded",
                duration.as_millis()
            ));
            return self.left_message(caller_gone, false, now);
        }
        info!(path = %path.display(), seconds = duration.as_secs_f32(), reason = ?end, "message recorded");
        self.step(format!(
            "voicemail: {:.1} s recorded ({})",
            duration.as_secs_f32(),
            path.display()
        ));
        self.voicemail(VoicemailCommand::File {
            mailbox: vm.mailbox.clone(),
            path,
            duration,
            caller: self.caller.number.clone(),
        });
        self.filing_pending = true;
        vm.stage = Stage::Filing {
            caller_gone,
            max_reached: end == RecordingEnd::MaxDuration,
            until: now + FILING_WAIT,
        };
        self.state = State::Voicemail(vm);
    }

    /// What the hand-off gave, on the call card and the bus.
    pub(crate) fn filed(&mut self, filing: Filing) {
        match filing {
            Filing::Opened { number, queue } => {
                self.step(format!("voicemail: opened Service Request {number}"));
                self.publish(Event::TicketCreated {
                    number,
                    queue,
                    channel: TicketChannel::Voicemail,
                    call_id: Some(self.id.clone()),
                    owner: None,
                    by: None,
                });
            }
            Filing::Joined { number } => {
                self.step(format!("voicemail: joined Service Request {number}"));
            }
            Filing::Pending => {
                self.step("voicemail: Service Request pending (message kept)".into())
            }
            Filing::NoCrm => {}
        }
    }

    /// The message is done with: the caller hears it was saved and goodbye, unless gone.
    fn left_message(&mut self, caller_gone: Option<Ended>, saved: bool, now: Instant) {
        let journey = if saved {
            CallOutcome::Voicemail
        } else {
            CallOutcome::OutOfHours
        };
        if let Some(ended) = caller_gone {
            return self.end(ended, Some(journey), now);
        }
        let mut prompts = Vec::new();
        if saved {
            prompts.push("voicemail_saved".to_string());
        }
        prompts.push("goodbye".to_string());
        self.closing(prompts, journey, now);
    }

    /// Plays the next closing prompt, or hangs up when none is left.
    fn closing(&mut self, mut prompts: Vec<String>, journey: CallOutcome, now: Instant) {
        if prompts.is_empty() {
            self.gateway(GatewayCommand::Hangup(Leg::Caller));
            return self.end(Ended::Local, Some(journey), now);
        }
        let first = prompts.remove(0);
        let token = self.play(vec![first], false, false);
        self.state = State::Voicemail(Box::new(VmState {
            mailbox: String::new(),
            stage: Stage::Closing {
                token,
                rest: prompts,
                journey,
                until: now + CLOSING_PROMPT_LIMIT,
            },
        }));
    }
}
