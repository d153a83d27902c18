//! One task per call: it owns the caller's media leg, walks the IVR tree with it, queues it in
//! the ACD, rings the agent chosen and bridges the two legs, and writes the call card.
//!
//! The phases are separate modules: [`ivr`] (menus, identification, schedule) and [`queue`]
//! (waiting, offering, talking). Each returns how the call went on or ended.

mod ivr;
mod queue;
mod voicemail;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use crm::CallWrite;
use crm::calls::{CallOutcome, NewCall};
use media::{MediaEvent, MediaEvents, MediaLeg, PlayOptions, StreamParams};
use sip_gateway::sdp::Negotiated;
use sip_gateway::ua::{CallRef, EndReason, IncomingCall};
use tokio::sync::mpsc;
use tracing::{Instrument, debug, info, info_span, warn};

use crate::events::{Event, Outcome};
use crate::{CallSettings, Shared};

/// What reaches a call's task.
#[derive(Debug)]
pub(crate) enum CallInput {
    /// The caller's leg: a re-INVITE changed the media.
    MediaChanged(Negotiated),
    /// The caller's leg ended.
    Ended(EndReason),
    /// The process is stopping: end the call cleanly.
    Shutdown,
    /// The ACD's command for this call.
    Acd(acd::Action),
    /// The ACD refused the call (unknown queue).
    QueueRefused(String),
    /// The leg we placed toward an agent's phone (which one: a withdrawn leg can still
    /// report while the next agent's rings).
    Agent(CallRef, AgentLegEvent),
    /// The ACD moved the call to another queue (transfer to second level, R-ACD-6).
    Transferred { queue: String },
}

/// What happens on the agent's leg.
#[derive(Debug)]
pub(crate) enum AgentLegEvent {
    Progress(u16),
    Answered(Negotiated),
    MediaChanged(Negotiated),
    /// The agent's phone asked by REFER to send the caller to the queue named by `user`
    /// (the user part of `Refer-To`), a blind transfer (R-ACD-6).
    TransferRequested {
        user: Option<String>,
    },
    Ended(EndReason),
}

/// How long we wait for the gateway to confirm the end of a call we hung up (the BYE
/// transaction times out after 64*T1 = 32 s; we stop waiting earlier and let it finish).
const HANGUP_WAIT: Duration = Duration::from_secs(5);

pub(crate) fn params(media: &Negotiated) -> StreamParams {
    StreamParams {
        remote: media.remote_rtp,
        codec: media.codec,
        payload_type: media.payload_type,
        dtmf_payload_type: media.dtmf_payload_type,
        ptime_ms: media.ptime_ms,
        direction: media.local_direction,
    }
}

/// What the IVR learnt about the caller, carried into the queue and the Service Request.
#[derive(Debug, Clone, Default)]
pub(crate) struct Caller {
    pub number: Option<String>,
    pub customer: Option<(i64, String)>,
    pub identified_by: crate::events::IdentifiedBy,
    pub area: Option<String>,
    pub sr_type: Option<String>,
    pub path: Vec<String>,
}

/// Everything a phase needs about the call.
pub(crate) struct CallCtx<'a> {
    pub shared: &'a Shared,
    pub call_id: &'a str,
    pub call: CallRef,
    pub leg: MediaLeg,
    pub media_events: MediaEvents,
    pub input: mpsc::UnboundedReceiver<CallInput>,
    /// This task's own inbox, for the ACD and placed calls to answer to.
    pub inbox: mpsc::UnboundedSender<CallInput>,
    pub settings: CallSettings,
    pub deadline: tokio::time::Instant,
    pub caller: Caller,
}

impl CallCtx<'_> {
    /// Plays named prompts in the call's language; `None` when none of them exists.
    pub fn play(&self, names: &[String], options: PlayOptions) -> Option<media::PlaybackId> {
        let found: Vec<_> = names
            .iter()
            .filter_map(|name| {
                let prompt = self.shared.prompt(&self.settings.language, name);
                if prompt.is_none() {
                    warn!(prompt = %name, language = %self.settings.language, "prompt missing");
                }
                prompt
            })
            .collect();
        (!found.is_empty()).then(|| self.leg.play(found, options))
    }

    /// Records a step of the call card (R-TEL-2) and shows it live.
    pub fn step(&mut self, step: String) {
        info!(%step, "call step");
        self.shared.bus.publish(Event::IvrStep {
            call_id: self.call_id.to_string(),
            step: step.clone(),
        });
        if let Some(card) = &self.shared.card {
            card.write(CallWrite::IvrStep {
                call_id: self.call_id.to_string(),
                step: step.clone(),
            });
        }
        self.caller.path.push(step);
    }

    pub fn write(&self, w: CallWrite) {
        if let Some(card) = &self.shared.card {
            card.write(w);
        }
    }
}

/// How a phase left the call.
#[derive(Debug)]
pub(crate) enum Ended {
    /// The caller hung up (or the leg failed) with this reason.
    Remote(EndReason),
    /// We hung up (flow finished, shutdown, media gone).
    Local,
}

pub(crate) fn spawn(
    shared: Arc<Shared>,
    call_id: String,
    incoming: IncomingCall,
    input: mpsc::UnboundedReceiver<CallInput>,
    inbox: mpsc::UnboundedSender<CallInput>,
) {
    let span = info_span!("call", %call_id, sip_call_id = %incoming.sip_call_id);
    tokio::spawn(
        async move {
            let started = Instant::now();
            let (outcome, crm_outcome) = run(&shared, &call_id, incoming, input, inbox).await;
            info!(outcome = outcome.as_str(), "call ended");
            if let Some(crm_outcome) = crm_outcome
                && let Some(card) = &shared.card
            {
                card.write(CallWrite::EndCall {
                    call_id: call_id.clone(),
                    ended: Utc::now(),
                    outcome: crm_outcome,
                });
            }
            shared.bus.publish(Event::CallEnded {
                call_id,
                outcome,
                duration_ms: started.elapsed().as_millis() as u64,
            });
            shared.call_finished();
        }
        .instrument(span),
    );
}

/// What the caller's journey amounted to, for the call card.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Journey {
    Ivr,
    OutOfHours,
    Queued,
    Answered,
    Voicemail,
}

fn crm_outcome(journey: Journey) -> CallOutcome {
    match journey {
        Journey::Ivr => CallOutcome::EndedInIvr,
        Journey::OutOfHours => CallOutcome::OutOfHours,
        Journey::Queued => CallOutcome::Abandoned,
        Journey::Answered => CallOutcome::Answered,
        Journey::Voicemail => CallOutcome::Voicemail,
    }
}

async fn run(
    shared: &Shared,
    call_id: &str,
    incoming: IncomingCall,
    mut input: mpsc::UnboundedReceiver<CallInput>,
    inbox: mpsc::UnboundedSender<CallInput>,
) -> (Outcome, Option<CallOutcome>) {
    let call = incoming.call;
    info!(
        caller = incoming.from_user.as_deref().unwrap_or("anonymous"),
        dialled = incoming.dialled.as_deref().unwrap_or(""),
        source = %incoming.source.addr,
        "incoming call"
    );
    shared.bus.publish(Event::CallStarted {
        call_id: call_id.to_string(),
        sip_call_id: incoming.sip_call_id.clone(),
        caller: incoming.from_user.clone(),
        dialled: incoming.dialled.clone(),
    });
    let settings = shared.settings_for(incoming.dialled.as_deref());
    let (leg, media_events) = match shared.media.allocate().await {
        Ok(pair) => pair,
        Err(error) => {
            warn!(%error, "no media port: refusing the call");
            shared.gateway.reject(call, 503);
            return (Outcome::Rejected, None);
        }
    };
    leg.configure(params(&incoming.media));
    if let Some(card) = &shared.card {
        card.write(CallWrite::StartCall(NewCall {
            call_id: call_id.to_string(),
            sip_call_id: Some(incoming.sip_call_id.clone()),
            caller: incoming.from_user.clone().unwrap_or_default(),
            dialled: incoming.dialled.clone().unwrap_or_default(),
            started: Utc::now(),
        }));
    }

    // Answer, after the configured ringing time.
    if !settings.answer_delay.is_zero() {
        shared.gateway.ring(call);
        let ring = tokio::time::sleep(settings.answer_delay);
        tokio::pin!(ring);
        loop {
            tokio::select! {
                _ = &mut ring => break,
                msg = input.recv() => match msg {
                    Some(CallInput::MediaChanged(media)) => leg.configure(params(&media)),
                    Some(CallInput::Ended(reason)) => {
                        return (ended_outcome(&reason, false), Some(CallOutcome::EndedInIvr));
                    }
                    Some(CallInput::Shutdown) | None => {
                        shared.gateway.reject(call, 503);
                        return (Outcome::Rejected, Some(CallOutcome::EndedInIvr));
                    }
                    Some(other) => debug!(?other, "ignored before the answer"),
                },
            }
        }
    }
    shared.gateway.answer(call, leg.local_addr());
    info!(codec = incoming.media.codec.encoding_name(), rtp = %leg.local_addr(), "answered");
    shared.bus.publish(Event::CallAnswered {
        call_id: call_id.to_string(),
        codec: incoming.media.codec.encoding_name().to_string(),
    });

    let started = Instant::now();
    let mut ctx = CallCtx {
        shared,
        call_id,
        call,
        leg,
        media_events,
        input,
        inbox,
        deadline: tokio::time::Instant::from_std(started + settings.max_duration),
        settings,
        caller: Caller {
            number: incoming.from_user.clone(),
            identified_by: crate::events::IdentifiedBy::None,
            ..Caller::default()
        },
    };
    let (ended, journey) = match ivr::run(&mut ctx, incoming.dialled.as_deref()).await {
        ivr::Next::Ended(ended, journey) => (ended, journey),
        ivr::Next::Queue { queue } => queue::run(&mut ctx, queue).await,
        ivr::Next::Voicemail { mailbox } => voicemail::run(&mut ctx, &mailbox).await,
    };
    let outcome = match ended {
        Ended::Remote(reason) => ended_outcome(&reason, true),
        Ended::Local => {
            finish(&mut ctx.input).await;
            Outcome::ServerHangup
        }
    };
    (outcome, Some(crm_outcome(journey)))
}

/// Waits for the caller's leg between phases: the common part of every phase's select.
pub(crate) enum Common {
    /// Handled (media change); go on.
    Continue,
    /// The call is over.
    Over(Ended),
}

/// Handles what every phase treats alike: media changes, the caller's end, shutdown.
pub(crate) fn common(ctx: &CallCtx<'_>, msg: Option<&CallInput>) -> Option<Common> {
    match msg {
        Some(CallInput::MediaChanged(media)) => {
            info!(
                direction = media.local_direction.attribute(),
                "media changed"
            );
            ctx.leg.configure(params(media));
            ctx.shared.bus.publish(Event::MediaChanged {
                call_id: ctx.call_id.to_string(),
                direction: crate::events::direction(media.local_direction),
            });
            Some(Common::Continue)
        }
        Some(CallInput::Ended(reason)) => Some(Common::Over(Ended::Remote(reason.clone()))),
        Some(CallInput::Shutdown) | None => {
            ctx.shared.gateway.hangup(ctx.call);
            Some(Common::Over(Ended::Local))
        }
        _ => None,
    }
}

/// Logs what the caller's leg reports that no phase acts on.
pub(crate) fn log_media(event: &MediaEvent) {
    match event {
        MediaEvent::RemoteLatched { addr } => debug!(%addr, "RTP latched to the peer's source"),
        MediaEvent::RtpTimeout => warn!("no RTP from the caller"),
        other => debug!(?other, "media event"),
    }
}

/// After we hung up: wait (bounded) for the gateway to confirm, so shutdown can count calls.
async fn finish(input: &mut mpsc::UnboundedReceiver<CallInput>) {
    let wait = async {
        while let Some(msg) = input.recv().await {
            if let CallInput::Ended(reason) = msg {
                debug!(?reason, "end confirmed");
                return;
            }
        }
    };
    if tokio::time::timeout(HANGUP_WAIT, wait).await.is_err() {
        warn!("no confirmation of our hang-up");
    }
}

fn ended_outcome(reason: &EndReason, answered: bool) -> Outcome {
    match reason {
        EndReason::RemoteBye if answered => Outcome::CallerHangup,
        EndReason::RemoteBye | EndReason::Cancelled => Outcome::Abandoned,
        EndReason::LocalHangup => Outcome::ServerHangup,
        EndReason::Rejected(_) => Outcome::Rejected,
        EndReason::AckTimeout | EndReason::TransportError | EndReason::Declined(_) => {
            Outcome::Failed
        }
    }
}

pub(crate) async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}
