//! One task per call: it owns the call's media leg and flow, and turns flow actions into
//! gateway and media commands.

use std::sync::Arc;
use std::time::{Duration, Instant};

use media::{MediaEvent, MediaLeg, PlayOptions, StreamParams};
use sip_gateway::sdp::Negotiated;
use sip_gateway::ua::{EndReason, IncomingCall};
use tokio::sync::mpsc;
use tracing::{Instrument, debug, info, info_span, warn};

use crate::events::{Event, Outcome};
use crate::flow::{FlowAction, FlowInput, PlaceholderFlow};
use crate::{CallSettings, Shared};

/// What the switchboard forwards to a call's task.
#[derive(Debug)]
pub(crate) enum CallInput {
    MediaChanged(Negotiated),
    Ended(EndReason),
    /// The process is stopping: end the call cleanly.
    Shutdown,
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

pub(crate) fn spawn(
    shared: Arc<Shared>,
    call_id: String,
    incoming: IncomingCall,
    input: mpsc::UnboundedReceiver<CallInput>,
) {
    let span = info_span!("call", %call_id, sip_call_id = %incoming.sip_call_id);
    tokio::spawn(
        async move {
            let started = Instant::now();
            let outcome = run(&shared, &call_id, incoming, input).await;
            info!(outcome = outcome.as_str(), "call ended");
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

async fn run(
    shared: &Shared,
    call_id: &str,
    incoming: IncomingCall,
    mut input: mpsc::UnboundedReceiver<CallInput>,
) -> Outcome {
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
    let (leg, mut media_events) = match shared.media.allocate().await {
        Ok(pair) => pair,
        Err(error) => {
            warn!(%error, "no media port: refusing the call");
            shared.gateway.reject(call, 503);
            return Outcome::Rejected;
        }
    };
    leg.configure(params(&incoming.media));

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
                    Some(CallInput::Ended(reason)) => return ended_outcome(&reason, false),
                    Some(CallInput::Shutdown) | None => {
                        shared.gateway.reject(call, 503);
                        return Outcome::Rejected;
                    }
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

    let mut flow = PlaceholderFlow::new(settings.placeholder.clone());
    flow.handle_input(FlowInput::Answered, Instant::now());
    loop {
        if let Some(outcome) = apply_actions(shared, &mut flow, &leg, &settings, call) {
            return finish(outcome, &mut input).await;
        }
        let deadline = flow.poll_timeout().map(tokio::time::Instant::from_std);
        tokio::select! {
            event = media_events.recv() => match event {
                Some(event) => on_media(shared, call_id, &mut flow, event),
                None => {
                    warn!("media leg gone");
                    shared.gateway.hangup(call);
                    return finish(Outcome::Failed, &mut input).await;
                }
            },
            msg = input.recv() => match msg {
                Some(CallInput::MediaChanged(media)) => {
                    info!(direction = media.local_direction.attribute(), "media changed");
                    leg.configure(params(&media));
                    shared.bus.publish(Event::MediaChanged {
                        call_id: call_id.to_string(),
                        direction: media.local_direction.attribute().to_string(),
                    });
                }
                Some(CallInput::Ended(reason)) => return ended_outcome(&reason, true),
                Some(CallInput::Shutdown) | None => {
                    shared.gateway.hangup(call);
                    return finish(Outcome::ServerHangup, &mut input).await;
                }
            },
            _ = sleep_until(deadline) => flow.handle_timeout(Instant::now()),
        }
    }
}

/// Carries out the flow's actions; returns an outcome when the flow hung up.
fn apply_actions(
    shared: &Shared,
    flow: &mut PlaceholderFlow,
    leg: &MediaLeg,
    settings: &CallSettings,
    call: sip_gateway::ua::CallRef,
) -> Option<Outcome> {
    while let Some(action) = flow.poll_action() {
        match action {
            FlowAction::Play { prompts, barge_in } => {
                let found: Vec<_> = prompts
                    .iter()
                    .filter_map(|name| {
                        let prompt = shared.prompt(&settings.language, name);
                        if prompt.is_none() {
                            warn!(prompt = %name, language = %settings.language, "prompt missing");
                        }
                        prompt
                    })
                    .collect();
                if found.is_empty() {
                    flow.handle_input(
                        FlowInput::PlaybackDone { interrupted: false },
                        Instant::now(),
                    );
                } else {
                    leg.play(
                        found,
                        PlayOptions {
                            looped: false,
                            barge_in,
                        },
                    );
                }
            }
            FlowAction::Hangup => {
                info!("hanging up");
                shared.gateway.hangup(call);
                return Some(Outcome::ServerHangup);
            }
        }
    }
    None
}

fn on_media(shared: &Shared, call_id: &str, flow: &mut PlaceholderFlow, event: MediaEvent) {
    match event {
        MediaEvent::Dtmf { digit, duration } => {
            info!(digit = %digit, duration_ms = duration.as_millis() as u64, "dtmf received");
            shared.bus.publish(Event::Dtmf {
                call_id: call_id.to_string(),
                digit,
            });
            flow.handle_input(FlowInput::Digit(digit), Instant::now());
        }
        MediaEvent::PlaybackFinished { interrupted, .. } => {
            flow.handle_input(FlowInput::PlaybackDone { interrupted }, Instant::now());
        }
        MediaEvent::RemoteLatched { addr } => debug!(%addr, "RTP latched to the caller's source"),
        MediaEvent::RtpTimeout => {
            warn!("no RTP from the caller");
        }
        other => debug!(?other, "media event"),
    }
}

/// After we hung up: wait (bounded) for the gateway to confirm, so shutdown can count calls.
async fn finish(outcome: Outcome, input: &mut mpsc::UnboundedReceiver<CallInput>) -> Outcome {
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
    outcome
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

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}
