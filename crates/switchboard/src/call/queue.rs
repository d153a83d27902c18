//! The queue phase: hold music and announcements while the ACD looks for an agent; ringing
//! the agent it picks (a new dialog toward the agent's phone, B2BUA); at answer the bridge, the
//! Service Request (R-SR-1) and the screen pop; then the conversation until either side ends
//! it (BYE ends both legs).

use std::time::{Duration, Instant};

use acd::{Action, CallKey, Input, OfferFailure};
use chrono::Utc;
use crm::CallWrite;
use crm::calls::AnsweredCall;
use media::{MediaEvent, MediaEvents, MediaLeg, PlayOptions, PlaybackId};
use sip_gateway::ua::{CallRef, EndReason, OutgoingCall};
use tracing::{info, warn};

use super::{
    AgentLegEvent, CallCtx, CallInput, Common, Ended, Journey, common, log_media, params,
    sleep_until,
};
use crate::events::Event;

/// The agent leg while it rings or talks.
struct AgentLeg {
    agent: String,
    call: CallRef,
    leg: MediaLeg,
    events: MediaEvents,
    answered: bool,
    /// The phone asked for this transfer by REFER: its final NOTIFY is owed.
    referred: bool,
    /// The agent put the caller on hold (re-INVITE without sendrecv): the caller hears the
    /// hold music instead of the agent until the agent resumes.
    held: bool,
}

/// Where the call stands in the queue phase.
struct Queued {
    queue: String,
    /// When it entered its current queue (a transfer restarts the wait).
    since: Instant,
    music: Option<PlaybackId>,
    announcing: Option<PlaybackId>,
    agent: Option<AgentLeg>,
    talking_since: Option<Instant>,
}

impl Queued {
    fn journey(&self) -> Journey {
        if self.talking_since.is_some() {
            Journey::Answered
        } else {
            Journey::Queued
        }
    }

    /// What the ACD must hear when the call ends now.
    fn end_input(&self, key: &CallKey) -> Input {
        if self.talking_since.is_some() {
            Input::CallEnded { call: key.clone() }
        } else {
            Input::CallAbandoned { call: key.clone() }
        }
    }
}

/// Runs the queue phase until the call ends.
pub(crate) async fn run(ctx: &mut CallCtx<'_>, queue: String) -> (Ended, Journey) {
    let Some(acd) = ctx.shared.acd.clone() else {
        warn!(%queue, "no ACD configured: the call cannot queue");
        ctx.shared.gateway.hangup(ctx.call);
        return (Ended::Local, Journey::Ivr);
    };
    let key = CallKey::from(ctx.call_id);
    ctx.shared.bus.publish(Event::CallQueued {
        call_id: ctx.call_id.to_string(),
        queue: queue.clone(),
        area: ctx.caller.area.clone(),
    });
    acd.enqueue(ctx.call_id, &queue, false, ctx.inbox.clone());
    let mut q = Queued {
        queue,
        since: Instant::now(),
        music: hold_music(ctx),
        announcing: None,
        agent: None,
        talking_since: None,
    };

    loop {
        tokio::select! {
            msg = ctx.input.recv() => {
                match common(ctx, msg.as_ref()) {
                    Some(Common::Continue) => continue,
                    Some(Common::Over(ended)) => {
                        // The caller left (or we stop): the agent's leg goes too.
                        if let Some(a) = q.agent.take() {
                            ctx.shared.gateway.hangup(a.call);
                        }
                        acd.input(q.end_input(&key));
                        return (ended, q.journey());
                    }
                    None => {}
                }
                match msg {
                    Some(CallInput::Acd(Action::Offer { agent: login, .. })) => {
                        q.agent = ring(ctx, &acd, &key, login, &q.queue, q.since).await;
                    }
                    Some(CallInput::Acd(Action::CancelOffer { agent: login, .. })) => {
                        if let Some(a) = q.agent.take_if(|a| a.agent == login && !a.answered) {
                            info!(agent = %login, "withdrawing the offer");
                            ctx.shared.gateway.hangup(a.call);
                        }
                    }
                    Some(CallInput::Acd(Action::Announce { position, expected_wait, .. }))
                        if q.agent.is_none() =>
                    {
                        q.announcing = announce(ctx, position, expected_wait);
                        if q.announcing.is_none() {
                            q.music = hold_music(ctx);
                        }
                    }
                    Some(CallInput::Acd(Action::Overflow { target, .. })) => {
                        // Overflow to another queue is the engine's; what reaches us leaves
                        // the ACD for a voicemail box.
                        ctx.step(format!("overflow {target:?}"));
                        let mailbox = match &target {
                            acd::OverflowTarget::Voicemail(m) => m.clone(),
                            other => format!("{other:?}"),
                        };
                        return super::voicemail::run(ctx, &mailbox).await;
                    }
                    Some(CallInput::QueueRefused(why)) => {
                        warn!(queue = %q.queue, %why, "the queue refused the call");
                        ctx.step(format!("queue refused: {why}"));
                        ctx.shared.gateway.hangup(ctx.call);
                        return (Ended::Local, Journey::Ivr);
                    }
                    Some(CallInput::Transferred { queue: to }) => {
                        // R-ACD-6: the agent sent the caller (and the SR) on; the ACD already
                        // queues the call there. The agent's leg goes, the caller waits again.
                        if let Some(a) = q.agent.take() {
                            ctx.leg.unbridge();
                            if a.referred {
                                // RFC 3515: the phone learns the caller was taken over.
                                ctx.shared.gateway.notify_transfer(a.call, 200);
                            }
                            ctx.shared.gateway.hangup(a.call);
                            info!(agent = %a.agent, to = %to, "transferred");
                        }
                        ctx.step(format!("transferred to {to}"));
                        q.queue = to;
                        q.since = Instant::now();
                        q.talking_since = None;
                        q.music = None;
                        q.announcing = ctx.play(
                            &["transfer".to_string()],
                            PlayOptions { looped: false, barge_in: false },
                        );
                        if q.announcing.is_none() {
                            q.music = hold_music(ctx);
                        }
                    }
                    Some(CallInput::Agent(call, event)) => {
                        let current = q.agent.as_ref().is_some_and(|a| a.call == call);
                        if !current {
                            // A withdrawn or replaced leg: its late 487 or BYE is history; a
                            // 200 that crossed our CANCEL (RFC 3261 §9.1) is ended with BYE.
                            if let AgentLegEvent::Answered(_) = event {
                                ctx.shared.gateway.hangup(call);
                            }
                            continue;
                        }
                        if let Some(over) = on_agent(ctx, &acd, &key, &mut q, event).await {
                            return over;
                        }
                    }
                    _ => {}
                }
            }
            event = ctx.media_events.recv() => match event {
                Some(MediaEvent::PlaybackFinished { id, .. }) if Some(id) == q.announcing => {
                    q.announcing = None;
                    if q.talking_since.is_none() {
                        q.music = hold_music(ctx);
                    }
                }
                Some(MediaEvent::PlaybackFinished { id, interrupted }) if Some(id) == q.music => {
                    if !interrupted && q.talking_since.is_none() && q.announcing.is_none() {
                        q.music = hold_music(ctx);
                    }
                }
                Some(MediaEvent::Dtmf { digit, .. }) => {
                    ctx.shared.bus.publish(Event::Dtmf { call_id: ctx.call_id.to_string(), digit });
                }
                Some(event) => log_media(&event),
                None => {
                    warn!("media leg gone");
                    if let Some(a) = q.agent.take() {
                        ctx.shared.gateway.hangup(a.call);
                    }
                    acd.input(q.end_input(&key));
                    ctx.shared.gateway.hangup(ctx.call);
                    return (Ended::Local, q.journey());
                }
            },
            event = agent_media(q.agent.as_mut()) => {
                if let Some(event) = event {
                    log_media(&event);
                }
            }
            _ = sleep_until(Some(ctx.deadline)) => {
                warn!("maximum call duration reached");
                if let Some(a) = q.agent.take() {
                    ctx.shared.gateway.hangup(a.call);
                }
                acd.input(q.end_input(&key));
                ctx.shared.gateway.hangup(ctx.call);
                return (Ended::Local, q.journey());
            }
        }
    }
}

/// What the current agent leg reports; the end of the call when it ends it.
async fn on_agent(
    ctx: &mut CallCtx<'_>,
    acd: &crate::AcdHandle,
    key: &CallKey,
    q: &mut Queued,
    event: AgentLegEvent,
) -> Option<(Ended, Journey)> {
    let a = q.agent.as_mut()?;
    match event {
        AgentLegEvent::Progress(status) => {
            info!(agent = %a.agent, status, "agent phone progress");
        }
        AgentLegEvent::Answered(media) => {
            a.leg.configure(params(&media));
            if let Err(error) = ctx.leg.bridge(&a.leg) {
                warn!(%error, "cannot bridge the legs");
                ctx.shared.gateway.hangup(a.call);
                let login = a.agent.clone();
                q.agent = None;
                acd.input(Input::OfferFailed {
                    call: key.clone(),
                    agent: login,
                    reason: OfferFailure::Unreachable,
                });
                return None;
            }
            a.answered = true;
            let waited = q.since.elapsed();
            q.talking_since = Some(Instant::now());
            q.music = None;
            q.announcing = None;
            let login = a.agent.clone();
            acd.input(Input::OfferAnswered {
                call: key.clone(),
                agent: login.clone(),
            });
            info!(agent = %login, waited_ms = waited.as_millis() as u64, "agent answered: bridged");
            let ticket = open_ticket(ctx, &q.queue, &login, waited).await;
            ctx.shared.bus.publish(Event::CallConnected {
                call_id: ctx.call_id.to_string(),
                agent: login,
                queue: q.queue.clone(),
                waited_ms: waited.as_millis() as u64,
                ticket,
            });
        }
        AgentLegEvent::MediaChanged(media) => {
            info!(
                direction = media.local_direction.attribute(),
                "agent media changed"
            );
            a.leg.configure(params(&media));
            // Hold from the agent's phone (RFC 3264 §8.4: it offers sendonly or inactive):
            // the legs part and the caller hears the hold music, not silence; resuming
            // bridges them again (which stops the music).
            let held = media.local_direction.attribute() != "sendrecv";
            if a.answered && held && !a.held {
                a.held = true;
                ctx.leg.unbridge();
                q.music = hold_music(ctx);
                ctx.step("on hold by the agent".to_string());
                info!(agent = %a.agent, "caller on hold: hold music");
            } else if a.answered && !held && a.held {
                a.held = false;
                q.music = None;
                if let Err(error) = ctx.leg.bridge(&a.leg) {
                    warn!(%error, "cannot bridge the legs again after hold");
                }
                ctx.step("off hold".to_string());
                info!(agent = %a.agent, "caller off hold: bridged again");
            }
        }
        AgentLegEvent::TransferRequested { user } => {
            let Some(target) = user.filter(|_| a.answered) else {
                info!(agent = %a.agent, "REFER without a queue to go to");
                ctx.shared.gateway.notify_transfer(a.call, 404);
                return None;
            };
            match acd.transfer(ctx.call_id, &target).await {
                Ok(()) => {
                    // CallInput::Transferred follows in the inbox: it ends the agent's leg
                    // after the final NOTIFY.
                    a.referred = true;
                    info!(agent = %a.agent, to = %target, "blind transfer by the agent's phone");
                    move_ticket_on_transfer(ctx, &a.agent, &target).await;
                }
                Err(error) => {
                    let status = match error {
                        acd::AcdError::UnknownQueue(_) => 404,
                        _ => 503,
                    };
                    warn!(agent = %a.agent, to = %target, %error, "transfer by REFER refused");
                    ctx.step(format!("transfer to {target} refused: {error}"));
                    ctx.shared.gateway.notify_transfer(a.call, status);
                }
            }
        }
        AgentLegEvent::Ended(reason) => {
            let a = q.agent.take().expect("checked above");
            if a.answered {
                info!(agent = %a.agent, ?reason, "agent ended the call");
                acd.input(Input::CallEnded { call: key.clone() });
                ctx.shared.gateway.hangup(ctx.call);
                return Some((Ended::Local, Journey::Answered));
            }
            let reason = failure(&reason);
            info!(agent = %a.agent, reason = reason.reason(), "offer failed");
            acd.input(Input::OfferFailed {
                call: key.clone(),
                agent: a.agent,
                reason,
            });
        }
    }
    None
}

async fn agent_media(agent: Option<&mut AgentLeg>) -> Option<MediaEvent> {
    match agent {
        Some(a) => a.events.recv().await,
        None => std::future::pending().await,
    }
}

fn hold_music(ctx: &CallCtx<'_>) -> Option<PlaybackId> {
    ctx.play(
        std::slice::from_ref(&ctx.shared.config.hold_music),
        PlayOptions {
            looped: true,
            barge_in: false,
        },
    )
}

/// "You are number N in line. The expected wait is about M minutes." (R-ACD-3)
fn announce(ctx: &CallCtx<'_>, position: usize, expected: Duration) -> Option<PlaybackId> {
    let mut names = vec!["queue_position".to_string()];
    names.extend(number_prompts(position));
    names.push("queue_in_line".into());
    names.push("queue_wait".into());
    let minutes = expected.as_secs().div_ceil(60) as usize;
    if minutes == 0 {
        names.push("less_than_a_minute".into());
    } else {
        names.extend(number_prompts(minutes));
        names.push(if minutes == 1 { "minute" } else { "minutes" }.into());
    }
    ctx.play(
        &names,
        PlayOptions {
            looped: false,
            barge_in: false,
        },
    )
}

/// The prompts that say `n` (0-199): `num_N` up to twenty, tens plus units above.
pub(crate) fn number_prompts(n: usize) -> Vec<String> {
    let n = n.min(199);
    let mut out = Vec::new();
    let mut rest = n;
    if rest >= 100 {
        out.push("num_100".to_string());
        rest -= 100;
        if rest == 0 {
            return out;
        }
    }
    if rest <= 20 {
        out.push(format!("num_{rest}"));
    } else {
        out.push(format!("num_{}", rest / 10 * 10));
        if !rest.is_multiple_of(10) {
            out.push(format!("num_{}", rest % 10));
        }
    }
    out
}

/// Offers the call to `login` (see [`offer`]); a failure to ring goes back to the ACD.
async fn ring(
    ctx: &CallCtx<'_>,
    acd: &crate::AcdHandle,
    key: &CallKey,
    login: String,
    queue: &str,
    queued_at: Instant,
) -> Option<AgentLeg> {
    match offer(ctx, &login, queue, queued_at).await {
        Ok(a) => Some(a),
        Err(reason) => {
            acd.input(Input::OfferFailed {
                call: key.clone(),
                agent: login,
                reason,
            });
            None
        }
    }
}

/// Rings `login`'s phone: a leg next to the caller's, and an INVITE to the agent's contact.
async fn offer(
    ctx: &CallCtx<'_>,
    login: &str,
    queue: &str,
    queued_at: Instant,
) -> Result<AgentLeg, OfferFailure> {
    let Some(phone) = ctx.shared.phone_of(login).await else {
        warn!(agent = %login, "no contact for the agent's phone");
        return Err(OfferFailure::Unreachable);
    };
    let (leg, events) = match ctx.shared.media.allocate_near(&ctx.leg).await {
        Ok(pair) => pair,
        Err(error) => {
            warn!(%error, "no media port for the agent leg");
            return Err(OfferFailure::Unreachable);
        }
    };
    let caller = ctx
        .caller
        .number
        .clone()
        .unwrap_or_else(|| "anonymous".into());
    let out = OutgoingCall {
        target: phone.uri,
        to: format!("<sip:{login}@{}>", phone.peer.addr),
        peer: phone.peer,
        from_user: caller.clone(),
        from_display: ctx.caller.customer.as_ref().map(|(_, name)| name.clone()),
        local_rtp: leg.local_addr(),
        dtmf_payload_type: 101,
    };
    let call = match ctx.shared.place_call(out, ctx.inbox.clone()).await {
        Ok(call) => call,
        Err(error) => {
            warn!(%error, agent = %login, "cannot ring the agent");
            return Err(OfferFailure::Unreachable);
        }
    };
    info!(agent = %login, "ringing the agent");
    ctx.shared.bus.publish(Event::CallOffered {
        call_id: ctx.call_id.to_string(),
        agent: login.to_string(),
        queue: queue.to_string(),
        channel: crate::events::TicketChannel::Phone,
        caller: ctx.caller.number.clone(),
        customer_id: ctx.caller.customer.as_ref().map(|(id, _)| *id),
        customer_name: ctx.caller.customer.as_ref().map(|(_, name)| name.clone()),
        identified_by: ctx.caller.identified_by,
        area: ctx.caller.area.clone(),
        sr_type: ctx.caller.sr_type.clone(),
        ivr_path: ctx.caller.path.clone(),
        waited_ms: queued_at.elapsed().as_millis() as u64,
    });
    Ok(AgentLeg {
        agent: login.to_string(),
        call,
        leg,
        events,
        answered: false,
        referred: false,
        held: false,
    })
}

/// Why an agent's phone did not take the call (RFC 3261 §21 classes).
fn failure(reason: &EndReason) -> OfferFailure {
    match reason {
        EndReason::Rejected(486 | 600) | EndReason::Declined(486 | 600) => OfferFailure::Busy,
        EndReason::Rejected(603) | EndReason::Declined(603) => OfferFailure::Rejected,
        EndReason::Rejected(_) | EndReason::Declined(_) => OfferFailure::Unreachable,
        EndReason::Cancelled | EndReason::LocalHangup => OfferFailure::NoAnswer,
        EndReason::AckTimeout | EndReason::TransportError | EndReason::RemoteBye => {
            OfferFailure::Unreachable
        }
    }
}

/// A transfer asked by the agent's phone (REFER): the call's Service Request goes to the
/// target queue as a second-level assignment by that agent, with a note saying how, as the
/// API's transfer does. A database that does not answer leaves the ticket where it was
/// (logged): the call itself is already on its way.
async fn move_ticket_on_transfer(ctx: &CallCtx<'_>, login: &str, queue: &str) {
    let Some(store) = ctx.shared.store.as_ref() else {
        return;
    };
    let result: crm::Result<Option<String>> = async {
        let Some(ticket) = store.call(ctx.call_id).await?.ticket else {
            return Ok(None);
        };
        let Some(target) = store.queue_by_name(queue).await? else {
            return Ok(None);
        };
        let actor = match store.user_by_login(login).await? {
            Some(user) => crm::Actor::User(user.id),
            None => crm::Actor::System,
        };
        let note = format!("Call transferred to {queue} from {login}'s phone (SIP REFER).");
        let moved = store
            .assign_second_level(ticket, target, actor, Some(&note), Utc::now())
            .await?;
        Ok(Some(moved.number))
    }
    .await;
    match result {
        Ok(Some(number)) => info!(ticket = %number, %queue, "Service Request moved with the call"),
        Ok(None) => info!(%queue, "no Service Request (or CRM queue) to move with the call"),
        Err(error) => warn!(%error, %queue, "the Service Request stays in its queue"),
    }
}

/// Opens the Service Request at answer (R-SR-1); its number, when the database took it.
async fn open_ticket(
    ctx: &CallCtx<'_>,
    queue: &str,
    login: &str,
    waited: Duration,
) -> Option<String> {
    let store = ctx.shared.store.as_ref()?;
    let card = ctx.shared.card.as_ref()?;
    let queue_id = match store.queue_by_name(queue).await {
        Ok(Some(id)) => id,
        Ok(None) => {
            warn!(%queue, "no CRM queue of that name: no Service Request");
            return None;
        }
        Err(error) => {
            warn!(%error, "CRM unreachable: the Service Request is journaled");
            return None;
        }
    };
    let agent = store.user_by_login(login).await.ok().flatten();
    let caller = ctx.caller.number.as_deref().unwrap_or("anonymous");
    let title = match &ctx.caller.customer {
        Some((_, name)) => format!("Phone call from {name} ({caller})"),
        None => format!("Phone call from {caller}"),
    };
    let ticket_type = ctx
        .caller
        .sr_type
        .as_deref()
        .and_then(|t| t.parse().ok())
        .unwrap_or(crm::TicketType::InformationRequest);
    let ticket = card
        .open_ticket(CallWrite::OpenTicket {
            call_id: ctx.call_id.to_string(),
            answered: AnsweredCall {
                queue: queue_id,
                agent: agent.as_ref().map(|u| u.id),
                agent_login: Some(login.to_string()),
                answered: Utc::now(),
                wait_ms: waited.as_millis() as u64,
                title,
                ticket_type,
                service_area: ctx.caller.area.clone(),
            },
            now: Utc::now(),
        })
        .await?;
    info!(ticket = %ticket.number, "Service Request opened");
    // After a transfer the ticket already exists: the agent answering now takes it over.
    if let Some(agent) = &agent
        && ticket.owner != Some(agent.id)
    {
        let now = Utc::now();
        let actor = crm::Actor::User(agent.id);
        for action in [crm::Action::SetOwner(Some(agent.id)), crm::Action::Lock] {
            if let Err(error) = store.act(ticket.id, actor, action, now).await {
                warn!(%error, ticket = %ticket.number, "the answering agent could not take the ticket");
                break;
            }
        }
    }
    ctx.shared.bus.publish(Event::TicketCreated {
        number: ticket.number.to_string(),
        queue: queue.to_string(),
        channel: crate::events::TicketChannel::Phone,
        call_id: Some(ctx.call_id.to_string()),
        owner: Some(login.to_string()),
    });
    Some(ticket.number.to_string())
}

#[cfg(test)]
mod tests {
    use super::number_prompts;

    #[test]
    fn numbers_are_said_with_the_prompts_we_have() {
        assert_eq!(number_prompts(0), ["num_0"]);
        assert_eq!(number_prompts(7), ["num_7"]);
        assert_eq!(number_prompts(20), ["num_20"]);
        assert_eq!(number_prompts(21), ["num_20", "num_1"]);
        assert_eq!(number_prompts(40), ["num_40"]);
        assert_eq!(number_prompts(100), ["num_100"]);
        assert_eq!(number_prompts(145), ["num_100", "num_40", "num_5"]);
        assert_eq!(number_prompts(5000), ["num_100", "num_90", "num_9"]);
    }
}
