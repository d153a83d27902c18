//! The IVR phase: the call walks the tree of [`ivr::Engine`] (menus, schedules, PIN/ANI
//! identification) until it is routed to a queue or a mailbox, or the engine hangs up. The
//! engine never touches the database: its lookups are commands, bounded by [`LOOKUP_LIMIT`];
//! a database that does not answer counts as "not found" (the call goes on unidentified).

use std::collections::VecDeque;
use std::time::Instant;

use events::{CallOutcome, IdentifiedBy, JourneyStep};
use tracing::{info, warn};

use crate::{
    Call, CardWrite, CrmCommand, Customer, Ended, GatewayCommand, Identity, Input, LOOKUP_LIMIT,
    Leg, MediaCommand, PlayToken, State,
};

pub(crate) struct IvrState {
    engine: ivr::Engine,
    playing: Option<PlayToken>,
    /// A lookup under way: its id and when it is given up.
    lookup: Option<(u32, Instant)>,
    next_lookup: u32,
    /// Media inputs that arrived during a lookup: the engine hears them after its answer, in
    /// order, as it would have had the lookup been instant.
    deferred: VecDeque<Input>,
    /// The customer the last lookup found (for the journey's "identified as").
    found: Option<Customer>,
    /// The last schedule decision was "closed".
    closed: bool,
    identification_tried: bool,
}

impl IvrState {
    pub(crate) fn timeout(&self) -> Option<Instant> {
        match self.lookup {
            Some((_, limit)) => Some(limit),
            None => self.engine.poll_timeout(),
        }
    }

    fn journey(&self) -> CallOutcome {
        if self.closed {
            CallOutcome::OutOfHours
        } else {
            CallOutcome::EndedInIvr
        }
    }
}

impl Call {
    pub(crate) fn start_ivr(&mut self, now: Instant) {
        let engine = ivr::Engine::new(
            self.setup.tree.clone(),
            ivr::CallInfo {
                caller: self.caller.number.clone(),
                dialled: self.setup.dialled.clone(),
                language: self.setup.settings.language.clone(),
            },
            now,
            self.wall(now),
        );
        let ivr = Box::new(IvrState {
            engine,
            playing: None,
            lookup: None,
            next_lookup: 0,
            deferred: VecDeque::new(),
            found: None,
            closed: false,
            identification_tried: false,
        });
        self.run_ivr(ivr, now);
    }

    pub(crate) fn on_ivr(&mut self, mut ivr: Box<IvrState>, input: Input, now: Instant) {
        match input {
            Input::CallerMediaChanged(media) => self.caller_media_changed(media),
            Input::CallerEnded(reason) => {
                let journey = ivr.journey();
                self.drain_steps(&mut ivr);
                return self.end(Ended::Remote(reason), Some(journey), now);
            }
            Input::Shutdown => {
                self.gateway(GatewayCommand::Hangup(Leg::Caller));
                let journey = ivr.journey();
                return self.end(Ended::Local, Some(journey), now);
            }
            Input::CallerMediaGone => {
                warn!("media leg gone");
                self.gateway(GatewayCommand::Hangup(Leg::Caller));
                return self.end(Ended::Local, Some(CallOutcome::EndedInIvr), now);
            }
            Input::LookupResult { id, found } => match ivr.lookup {
                Some((pending, _)) if pending == id => {
                    ivr.lookup = None;
                    ivr.found = found.clone();
                    ivr.engine.handle_input(
                        ivr::Input::LookupResult(found.map(|c| ivr::Customer {
                            id: c.id,
                            name: c.name,
                        })),
                        now,
                    );
                    return self.replay_deferred(ivr, now);
                }
                _ => {}
            },
            Input::Dtmf { digit, duration } if ivr.lookup.is_some() => {
                // Shown as it arrives; the engine hears it after the lookup. A lookup is an
                // identification: the key may be part of a PIN.
                self.dtmf(digit, duration, true);
                ivr.deferred.push_back(Input::Dtmf { digit, duration });
            }
            Input::PinRefused { id, reason } => {
                if matches!(ivr.lookup, Some((pending, _)) if pending == id) {
                    ivr.lookup = None;
                    warn!(%reason, "PIN entry refused: the call goes on unidentified");
                    let node = ivr.engine.current_node().to_string();
                    self.step(format!("{node}: pin refused ({reason})"));
                    ivr.engine
                        .handle_input(ivr::Input::IdentificationRefused, now);
                    return self.replay_deferred(ivr, now);
                }
            }
            media @ (Input::PlaybackFinished { .. } | Input::PlaybackMissing { .. })
                if ivr.lookup.is_some() =>
            {
                ivr.deferred.push_back(media);
            }
            Input::Dtmf { digit, duration } => {
                self.dtmf(digit, duration, ivr.engine.key_is_secret(digit));
                ivr.engine.handle_input(ivr::Input::Digit(digit), now);
            }
            Input::PlaybackFinished { token, interrupted } if Some(token) == ivr.playing => {
                ivr.playing = None;
                ivr.engine
                    .handle_input(ivr::Input::PlaybackDone { interrupted }, now);
            }
            Input::PlaybackMissing { token } if Some(token) == ivr.playing => {
                ivr.playing = None;
                ivr.engine
                    .handle_input(ivr::Input::PlaybackDone { interrupted: false }, now);
            }
            other => tracing::debug!(?other, "ignored in the IVR"),
        }
        self.run_ivr(ivr, now);
    }

    fn replay_deferred(&mut self, mut ivr: Box<IvrState>, now: Instant) {
        if self.run_ivr_actions(&mut ivr, now) {
            return;
        }
        while ivr.lookup.is_none()
            && let Some(input) = ivr.deferred.pop_front()
        {
            self.on_ivr_media(&mut ivr, input, now);
            if self.run_ivr_actions(&mut ivr, now) {
                return;
            }
        }
        self.state = State::Ivr(ivr);
    }

    fn on_ivr_media(&mut self, ivr: &mut IvrState, input: Input, now: Instant) {
        match input {
            // Shown when it arrived (during the lookup).
            Input::Dtmf { digit, .. } => ivr.engine.handle_input(ivr::Input::Digit(digit), now),
            Input::PlaybackFinished { token, interrupted } if Some(token) == ivr.playing => {
                ivr.playing = None;
                ivr.engine
                    .handle_input(ivr::Input::PlaybackDone { interrupted }, now);
            }
            Input::PlaybackMissing { token } if Some(token) == ivr.playing => {
                ivr.playing = None;
                ivr.engine
                    .handle_input(ivr::Input::PlaybackDone { interrupted: false }, now);
            }
            _ => {}
        }
    }

    pub(crate) fn ivr_timeout(&mut self, mut ivr: Box<IvrState>, now: Instant) {
        if self.deadline.is_some_and(|d| now >= d) {
            warn!("maximum call duration reached in the IVR");
            self.gateway(GatewayCommand::Hangup(Leg::Caller));
            return self.end(Ended::Local, Some(CallOutcome::EndedInIvr), now);
        }
        match ivr.lookup {
            Some((_, limit)) if now >= limit => {
                warn!("customer lookup timed out: the call goes on unidentified");
                ivr.lookup = None;
                ivr.engine.handle_input(ivr::Input::LookupResult(None), now);
                return self.replay_deferred(ivr, now);
            }
            Some(_) => {}
            None => {
                if ivr.engine.poll_timeout().is_some_and(|t| now >= t) {
                    ivr.engine.handle_timeout(now);
                }
            }
        }
        self.run_ivr(ivr, now);
    }

    /// Carries out the engine's actions; leaves the state set (IVR, or the next phase).
    fn run_ivr(&mut self, mut ivr: Box<IvrState>, now: Instant) {
        if !self.run_ivr_actions(&mut ivr, now) {
            self.state = State::Ivr(ivr);
        }
    }

    /// Carries out the engine's actions until it waits. True when the call left the IVR
    /// (the next phase's state is then set); false when the IVR goes on (the caller keeps
    /// `ivr` as the state).
    fn run_ivr_actions(&mut self, ivr: &mut IvrState, now: Instant) -> bool {
        while ivr.lookup.is_none()
            && let Some(action) = ivr.engine.poll_action()
        {
            match action {
                ivr::Action::Play { prompts, barge_in } => {
                    ivr.playing = Some(self.play(prompts, false, barge_in));
                }
                ivr::Action::StopPlayback => self.media(MediaCommand::StopPlayback),
                ivr::Action::LookupPin { pin } => {
                    ivr.next_lookup += 1;
                    let id = ivr.next_lookup;
                    ivr.lookup = Some((id, now + LOOKUP_LIMIT));
                    self.crm(CrmCommand::LookupPin { id, pin });
                }
                ivr::Action::LookupAni { caller } => {
                    ivr.next_lookup += 1;
                    let id = ivr.next_lookup;
                    ivr.lookup = Some((id, now + LOOKUP_LIMIT));
                    self.crm(CrmCommand::LookupAni { id, number: caller });
                }
                ivr::Action::RouteToQueue {
                    queue,
                    area,
                    sr_type,
                    customer,
                    identified_by,
                } => {
                    self.drain_steps(ivr);
                    self.identify(customer, identified_by, ivr.identification_tried);
                    self.caller.area = area;
                    self.caller.sr_type = sr_type;
                    self.media(MediaCommand::StopPlayback);
                    self.start_queue(queue, now);
                    return true;
                }
                ivr::Action::Voicemail {
                    mailbox,
                    customer,
                    identified_by,
                } => {
                    self.drain_steps(ivr);
                    self.identify(customer, identified_by, ivr.identification_tried);
                    self.media(MediaCommand::StopPlayback);
                    self.start_voicemail(mailbox, now);
                    return true;
                }
                ivr::Action::Hangup => {
                    self.drain_steps(ivr);
                    info!("the IVR hangs up");
                    self.gateway(GatewayCommand::Hangup(Leg::Caller));
                    let journey = ivr.journey();
                    self.end(Ended::Local, Some(journey), now);
                    return true;
                }
            }
        }
        self.drain_steps(ivr);
        false
    }

    /// Copies the engine's call-card steps to the card and the bus.
    fn drain_steps(&mut self, ivr: &mut IvrState) {
        while let Some(step) = ivr.engine.poll_step() {
            match &step.kind {
                ivr::StepKind::Schedule { open, .. } => ivr.closed = !open,
                ivr::StepKind::Identification { .. } => ivr.identification_tried = true,
                _ => {}
            }
            if let Some(journey) = journey_step(&step.kind, ivr.found.as_ref()) {
                self.caller.journey.push(journey);
            }
            self.step(step.to_string());
        }
    }

    /// Writes the identification result to the call card and keeps it for the queue phase.
    fn identify(&mut self, customer: Option<ivr::Customer>, by: ivr::IdentifiedBy, tried: bool) {
        let (result, identified_by) = match (&customer, by) {
            (Some(_), ivr::IdentifiedBy::Pin) => (Identity::Pin, IdentifiedBy::Pin),
            (Some(_), ivr::IdentifiedBy::Ani) => (Identity::Ani, IdentifiedBy::Ani),
            _ if tried => (Identity::Failed, IdentifiedBy::None),
            _ => (Identity::NotAttempted, IdentifiedBy::None),
        };
        self.caller.identified_by = identified_by;
        self.card(CardWrite::Identity {
            customer: customer.as_ref().map(|c| c.id),
            result,
        });
        self.caller.customer = customer.map(|c| Customer {
            id: c.id,
            name: c.name,
        });
    }
}

/// What an IVR step means to the agent who will take the call; `None` for the plumbing
/// (entering nodes, digits collected, an open schedule).
fn journey_step(kind: &ivr::StepKind, found: Option<&Customer>) -> Option<JourneyStep> {
    let by = |method: &ivr::IdentifiedBy| match method {
        ivr::IdentifiedBy::Pin => IdentifiedBy::Pin,
        ivr::IdentifiedBy::Ani => IdentifiedBy::Ani,
        ivr::IdentifiedBy::None => IdentifiedBy::None,
    };
    match kind {
        ivr::StepKind::Schedule {
            open: false,
            reason,
            ..
        } => Some(JourneyStep::Closed {
            reason: reason.clone(),
        }),
        ivr::StepKind::Choice { digit, label, .. } => Some(JourneyStep::Menu {
            digit: *digit,
            label: label.clone(),
        }),
        ivr::StepKind::Retry { failure, .. } => Some(JourneyStep::MenuRetry {
            no_input: matches!(failure, ivr::Failure::NoInput),
        }),
        ivr::StepKind::Identification {
            method,
            customer_id: Some(id),
            ..
        } => Some(JourneyStep::Identified {
            by: by(method),
            customer: found.filter(|c| c.id == *id).map(|c| c.name.clone()),
        }),
        ivr::StepKind::Identification {
            method,
            customer_id: None,
            no_input: false,
            ..
        } => Some(JourneyStep::NotIdentified { by: by(method) }),
        _ => None,
    }
}
