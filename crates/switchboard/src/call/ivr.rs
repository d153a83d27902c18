//! The IVR phase: the call walks the tree of [`ivr::Engine`] (menus, schedules, PIN/ANI
//! identification) until it is routed to a queue or a mailbox, or the engine hangs up. The
//! engine never touches the database: its lookups are made here, with a time limit, and a
//! database that does not answer counts as "not found" (the call goes on unidentified).

use std::time::{Duration, Instant};

use chrono::Utc;
use crm::CallWrite;
use crm::calls::IdentityResult;
use ivr::{Action, CallInfo, Customer, IdentifiedBy, Input};
use media::{MediaEvent, PlayOptions, PlaybackId};
use tracing::{info, warn};

use super::{CallCtx, Common, Ended, Journey, common, log_media, sleep_until};
use crate::events::Event;

/// How long a PIN or caller-number lookup may take before the call goes on without it.
const LOOKUP_LIMIT: Duration = Duration::from_secs(2);

/// Where the IVR sends the call.
pub(crate) enum Next {
    Ended(Ended, Journey),
    Queue { queue: String },
    Voicemail { mailbox: String },
}

pub(crate) async fn run(ctx: &mut CallCtx<'_>, dialled: Option<&str>) -> Next {
    let tree = ctx.shared.ivr_tree();
    let mut engine = ivr::Engine::new(
        tree,
        CallInfo {
            caller: ctx.caller.number.clone(),
            dialled: dialled.map(str::to_string),
            language: ctx.settings.language.clone(),
        },
        Instant::now(),
        Utc::now(),
    );
    let mut playing: Option<PlaybackId> = None;
    let mut seen = Seen::default();
    loop {
        // Carry out what the engine asks, feeding back what completes at once.
        while let Some(action) = engine.poll_action() {
            match action {
                Action::Play { prompts, barge_in } => {
                    playing = ctx.play(
                        &prompts,
                        PlayOptions {
                            looped: false,
                            barge_in,
                        },
                    );
                    if playing.is_none() {
                        engine.handle_input(
                            Input::PlaybackDone { interrupted: false },
                            Instant::now(),
                        );
                    }
                }
                Action::StopPlayback => ctx.leg.stop_playback(),
                Action::LookupPin { pin } => {
                    let found = lookup(ctx, Lookup::Pin(pin)).await;
                    engine.handle_input(Input::LookupResult(found), Instant::now());
                }
                Action::LookupAni { caller } => {
                    let found = lookup(ctx, Lookup::Ani(caller)).await;
                    engine.handle_input(Input::LookupResult(found), Instant::now());
                }
                Action::RouteToQueue {
                    queue,
                    area,
                    sr_type,
                    customer,
                    identified_by,
                } => {
                    drain_steps(ctx, &mut engine, &mut seen);
                    identify(ctx, customer, identified_by, seen.identification_tried);
                    ctx.caller.area = area;
                    ctx.caller.sr_type = sr_type;
                    ctx.leg.stop_playback();
                    return Next::Queue { queue };
                }
                Action::Voicemail {
                    mailbox,
                    customer,
                    identified_by,
                } => {
                    drain_steps(ctx, &mut engine, &mut seen);
                    identify(ctx, customer, identified_by, seen.identification_tried);
                    ctx.leg.stop_playback();
                    return Next::Voicemail { mailbox };
                }
                Action::Hangup => {
                    drain_steps(ctx, &mut engine, &mut seen);
                    info!("the IVR hangs up");
                    ctx.shared.gateway.hangup(ctx.call);
                    let journey = if seen.closed {
                        Journey::OutOfHours
                    } else {
                        Journey::Ivr
                    };
                    return Next::Ended(Ended::Local, journey);
                }
            }
        }
        drain_steps(ctx, &mut engine, &mut seen);

        let deadline = engine
            .poll_timeout()
            .map(tokio::time::Instant::from_std)
            .map_or(ctx.deadline, |d| d.min(ctx.deadline));
        tokio::select! {
            msg = ctx.input.recv() => {
                if let Some(Common::Over(ended)) = common(ctx, msg.as_ref()) {
                    let journey = if seen.closed { Journey::OutOfHours } else { Journey::Ivr };
                    return Next::Ended(ended, journey);
                }
            }
            event = ctx.media_events.recv() => match event {
                Some(MediaEvent::Dtmf { digit, duration }) => {
                    info!(digit = %digit, duration_ms = duration.as_millis() as u64, "dtmf received");
                    ctx.shared.bus.publish(Event::Dtmf { call_id: ctx.call_id.to_string(), digit });
                    engine.handle_input(Input::Digit(digit), Instant::now());
                }
                Some(MediaEvent::PlaybackFinished { id, interrupted }) => {
                    if Some(id) == playing {
                        playing = None;
                        engine.handle_input(Input::PlaybackDone { interrupted }, Instant::now());
                    }
                }
                Some(event) => log_media(&event),
                None => {
                    warn!("media leg gone");
                    ctx.shared.gateway.hangup(ctx.call);
                    return Next::Ended(Ended::Local, Journey::Ivr);
                }
            },
            _ = sleep_until(Some(deadline)) => {
                if tokio::time::Instant::now() >= ctx.deadline {
                    warn!("maximum call duration reached in the IVR");
                    ctx.shared.gateway.hangup(ctx.call);
                    return Next::Ended(Ended::Local, Journey::Ivr);
                }
                engine.handle_timeout(Instant::now());
            }
        }
    }
}

/// What the steps so far tell about the call.
#[derive(Default)]
struct Seen {
    /// The last schedule decision was "closed".
    closed: bool,
    identification_tried: bool,
}

/// Copies the engine's call-card steps to the card and the bus.
fn drain_steps(ctx: &mut CallCtx<'_>, engine: &mut ivr::Engine, seen: &mut Seen) {
    while let Some(step) = engine.poll_step() {
        match &step.kind {
            ivr::StepKind::Schedule { open, .. } => seen.closed = !open,
            ivr::StepKind::Identification { .. } => seen.identification_tried = true,
            _ => {}
        }
        ctx.step(step.to_string());
    }
}

/// Writes the identification result to the call card and keeps it for the queue phase.
fn identify(ctx: &mut CallCtx<'_>, customer: Option<Customer>, by: IdentifiedBy, tried: bool) {
    let result = match (&customer, by) {
        (Some(_), IdentifiedBy::Pin) => IdentityResult::Pin,
        (Some(_), IdentifiedBy::Ani) => IdentityResult::Ani,
        _ if tried => IdentityResult::Failed,
        _ => IdentityResult::NotAttempted,
    };
    ctx.caller.identified_by = match (&customer, by) {
        (Some(_), IdentifiedBy::Pin) => crate::events::IdentifiedBy::Pin,
        (Some(_), IdentifiedBy::Ani) => crate::events::IdentifiedBy::Ani,
        _ => crate::events::IdentifiedBy::None,
    };
    ctx.write(CallWrite::Identity {
        call_id: ctx.call_id.to_string(),
        customer: customer.as_ref().map(|c| crm::CustomerId(c.id)),
        result,
    });
    ctx.caller.customer = customer.map(|c| (c.id, c.name));
}

enum Lookup {
    Pin(String),
    Ani(String),
}

/// Looks a caller up in the CRM, within [`LOOKUP_LIMIT`].
async fn lookup(ctx: &CallCtx<'_>, what: Lookup) -> Option<Customer> {
    let store = ctx.shared.store.as_ref()?;
    let now = Utc::now();
    let query = async {
        match &what {
            Lookup::Pin(pin) => store.customer_by_pin(pin, crm::Actor::System, now).await,
            Lookup::Ani(number) => {
                store
                    .customer_by_phone(number, crm::Actor::System, now)
                    .await
            }
        }
    };
    match tokio::time::timeout(LOOKUP_LIMIT, query).await {
        Ok(Ok(Some(c))) => Some(Customer {
            id: c.id.0,
            name: c.full_name,
        }),
        Ok(Ok(None)) => None,
        Ok(Err(error)) => {
            // A malformed number is a miss, not a failure of the service.
            info!(%error, "lookup found nothing");
            None
        }
        Err(_) => {
            warn!("customer lookup timed out: the call goes on unidentified");
            None
        }
    }
}
