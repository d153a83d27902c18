//! # call
//!
//! One inbound call, from the trunk's INVITE to the last BYE, as a sans-IO state machine: the
//! caller's leg is answered, walks the IVR tree, waits in an ACD queue with hold music and
//! announcements, rings the agent the ACD picks (a second leg, B2BUA), is bridged and talks,
//! may be held, transferred or overflowed, or leaves a voicemail; then it ends with exactly
//! one outcome.
//!
//! The machine has no sockets, no clock and no tasks. It is told what happened
//! ([`Call::handle`]), asks for what must be done ([`Call::poll_command`]: gateway, media, ACD,
//! CRM, voicemail and event-bus commands) and says when it next needs to be woken
//! ([`Call::poll_timeout`], then [`Call::handle_timeout`]). Its phase is a [`Phase`].
//!
//! ## Run loop
//! The driver (the switchboard's call task) keeps one invariant: **after every `handle` or
//! `handle_timeout`, drain `poll_command` to `None` and carry each command out in order, then
//! sleep until `poll_timeout`.** Commands that have an answer (a media allocation, a placed
//! agent leg, a lookup, a bridge, a ticket, a voicemail hand-off) are answered with an
//! [`Input`] whenever the answer comes; the machine never assumes it comes at once, so a
//! caller who hangs up while an agent's phone is being dialled, a lookup that never answers or
//! a 200 OK that crosses our CANCEL are all ordinary inputs. The call is over when
//! [`Call::is_finished`]: by then every leg and playback it opened was released, the ACD heard
//! the end of every offer, and [`Command::Finished`] carried the outcome.

mod io;
mod ivr_phase;
pub mod pin_guard;
mod prompts;
mod queue_phase;
mod voicemail_phase;

#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use events::{CallOutcome, Event, IdentifiedBy, MediaDirection, Outcome};
use sip_gateway::sdp::Negotiated;
use sip_gateway::ua::{CallRef, EndReason};
use tracing::{debug, info, warn};

pub use io::{
    AcdCommand, AgentLegEvent, CardWrite, Command, CrmCommand, Customer, Filing, GatewayCommand,
    Identity, Input, Leg, MediaCommand, Phase, PlayToken, Settings, Setup, TransferRefused,
    VoicemailCommand, VoicemailLimits, VoicemailRefusal,
};
pub use pin_guard::{PinGuard, PinLimits, PinVerdict};
pub use prompts::number_prompts;

/// The tracing target of the `dtmf received` line (debug): `RUST_LOG=info,call::dtmf=debug`
/// shows menu keys, never a PIN's.
pub const DTMF_LOG_TARGET: &str = "call::dtmf";

/// How long we wait for the gateway to confirm the end of a call we hung up (the BYE
/// transaction times out after 64*T1 = 32 s; we stop waiting earlier and let it finish).
pub const HANGUP_WAIT: Duration = Duration::from_secs(5);

/// How long a PIN or caller-number lookup may take before the call goes on without it.
pub const LOOKUP_LIMIT: Duration = Duration::from_secs(2);

/// How long we wait for the media engine to close a recording after the caller left.
pub const RECORDING_FINISH_WAIT: Duration = Duration::from_secs(3);

/// The longest a closing prompt ("saved", "goodbye") is waited for.
pub const CLOSING_PROMPT_LIMIT: Duration = Duration::from_secs(30);

/// The longest the hand-off of a recorded message to the CRM is waited for: past it the
/// caller hears the message was saved (it is, on disk) and the hand-off goes on without the
/// call. A database that is away costs the hand-off its timeouts (5 s each) before it is
/// journaled.
pub const FILING_WAIT: Duration = Duration::from_secs(30);

/// How the caller's side of a phase ended.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Ended {
    /// The caller hung up (or the leg failed) with this reason.
    Remote(EndReason),
    /// We hung up (flow finished, shutdown, media gone).
    Local,
}

/// What the IVR learnt about the caller, carried into the queue and the Service Request.
#[derive(Debug, Clone, Default)]
pub(crate) struct Caller {
    pub number: Option<String>,
    pub customer: Option<Customer>,
    pub identified_by: IdentifiedBy,
    pub area: Option<String>,
    pub sr_type: Option<String>,
    /// The call card's steps, as written.
    pub path: Vec<String>,
    /// The same way, typed, for the screen pop.
    pub journey: Vec<events::JourneyStep>,
}

/// The phase's own state.
pub(crate) enum State {
    Setup,
    Ringing { answer_at: Instant },
    Ivr(Box<ivr_phase::IvrState>),
    Queue(Box<queue_phase::QueueState>),
    Voicemail(Box<voicemail_phase::VmState>),
    Ending(Box<Ending>),
    Finished,
}

/// What the call waits for before it is over.
pub(crate) struct Ending {
    outcome: Outcome,
    journey: Option<CallOutcome>,
    /// We hung up the caller and wait for the gateway to confirm it.
    caller_confirm: bool,
    deadline: Instant,
}

/// One inbound call. See the crate documentation for the run loop.
pub struct Call {
    pub(crate) id: String,
    pub(crate) setup: Setup,
    pub(crate) state: State,
    pub(crate) caller: Caller,
    pub(crate) commands: VecDeque<Command>,
    /// When the call arrived (duration of `call.ended`).
    started: Instant,
    /// When it was answered: the maximum duration counts from there.
    pub(crate) deadline: Option<Instant>,
    pub(crate) next_token: u32,
    /// Agent legs we hung up (withdrawn offers, a 200 that crossed our CANCEL, transfers)
    /// and whose end the gateway has not reported yet.
    pub(crate) retired: Vec<CallRef>,
    /// Offers whose leg is being placed (the answer may come after the call moved on).
    pub(crate) placing: Vec<String>,
    /// A Service Request being opened; `call.connected` waits for its number.
    pub(crate) ticket_pending: bool,
    /// A message hand-off the call still waits for.
    pub(crate) filing_pending: bool,
    /// Agent legs whose media was released (each is released once, whatever arrives late).
    pub(crate) released: Vec<CallRef>,
    /// Our RTP address on the caller's leg, while that leg is allocated.
    pub(crate) local_rtp: Option<SocketAddr>,
    /// The answered conversation whose `call.connected` waits for the ticket's number.
    pub(crate) connected: Option<queue_phase::Connected>,
    /// We hung up because no RTP came from the caller or from the agent's phone in
    /// conversation: the call ends as `failed`.
    pub(crate) media_timed_out: bool,
    /// The service is stopping under the call (`Input::Shutdown` before it ended): it
    /// ends `interrupted`, whatever ended its phase.
    interrupted: bool,
}

impl Call {
    /// A new call at `now`: publishes `call.started` and asks for the caller's media leg.
    pub fn new(setup: Setup, now: Instant) -> Call {
        info!(
            caller = setup.caller.as_deref().unwrap_or("anonymous"),
            withheld = setup.caller_withheld,
            dialled = setup.dialled.as_deref().unwrap_or(""),
            "incoming call"
        );
        let mut call = Call {
            id: setup.id.clone(),
            caller: Caller {
                number: setup.caller.clone(),
                ..Caller::default()
            },
            setup,
            state: State::Setup,
            commands: VecDeque::new(),
            started: now,
            deadline: None,
            next_token: 0,
            retired: Vec::new(),
            placing: Vec::new(),
            ticket_pending: false,
            filing_pending: false,
            local_rtp: None,
            connected: None,
            released: Vec::new(),
            media_timed_out: false,
            interrupted: false,
        };
        call.publish(Event::CallStarted {
            call_id: call.id.clone(),
            sip_call_id: call.setup.sip_call_id.clone(),
            caller: call.shown_caller(),
            dialled: call.setup.dialled.clone(),
        });
        call.media(MediaCommand::AllocateCaller);
        call
    }

    /// The caller's number as agents may see it: [`events::ANONYMOUS_CALLER`] when the trunk
    /// asked for privacy (the CRM still gets the number), else the number.
    pub(crate) fn shown_caller(&self) -> Option<String> {
        if self.setup.caller_withheld {
            Some(events::ANONYMOUS_CALLER.to_string())
        } else {
            self.caller.number.clone()
        }
    }

    /// Our call id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Where the call stands.
    pub fn phase(&self) -> Phase {
        match &self.state {
            State::Setup => Phase::Setup,
            State::Ringing { .. } => Phase::Ringing,
            State::Ivr(_) => Phase::Ivr,
            State::Queue(q) => q.phase(),
            State::Voicemail(_) => Phase::Voicemail,
            State::Ending(_) => Phase::Ending,
            State::Finished => Phase::Finished,
        }
    }

    /// True once [`Command::Finished`] was given: drop the machine.
    pub fn is_finished(&self) -> bool {
        matches!(self.state, State::Finished)
    }

    /// The next thing to do; drain to `None` after every `handle` and `handle_timeout`.
    #[must_use]
    pub fn poll_command(&mut self) -> Option<Command> {
        self.commands.pop_front()
    }

    /// When [`Call::handle_timeout`] must be called next; `None` when nothing is timed.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.state {
            State::Setup | State::Finished => None,
            State::Ringing { answer_at } => Some(*answer_at),
            State::Ivr(ivr) => ivr.timeout().into_iter().chain(self.deadline).min(),
            State::Queue(_) => self.deadline,
            State::Voicemail(vm) => vm.timeout(self.deadline),
            State::Ending(e) => Some(e.deadline),
        }
    }

    /// Something happened at `now`.
    pub fn handle(&mut self, input: Input, now: Instant) {
        if self.is_finished() {
            debug!(?input, "input after the end of the call");
            return;
        }
        if matches!(input, Input::Shutdown) && !matches!(self.state, State::Ending(_)) {
            self.interrupted = true;
        }
        let input = match input {
            Input::CallerMediaTimeout => match self.media_timeout() {
                Some(input) => input,
                None => return,
            },
            other => other,
        };
        // What every phase treats alike: legs that are only waited for, late answers.
        let input = match self.settle(input) {
            Some(input) => input,
            None => {
                self.maybe_finish(now);
                return;
            }
        };
        match std::mem::replace(&mut self.state, State::Finished) {
            State::Setup => self.on_setup(input, now),
            State::Ringing { answer_at } => self.on_ringing(answer_at, input, now),
            State::Ivr(ivr) => self.on_ivr(ivr, input, now),
            State::Queue(q) => self.on_queue(q, input, now),
            State::Voicemail(vm) => self.on_voicemail(vm, input, now),
            State::Ending(e) => self.on_ending(e, input, now),
            State::Finished => {}
        }
        self.maybe_finish(now);
    }

    /// Time passed: call when [`Call::poll_timeout`] is reached (early calls are harmless).
    pub fn handle_timeout(&mut self, now: Instant) {
        match std::mem::replace(&mut self.state, State::Finished) {
            State::Setup => self.state = State::Setup,
            State::Ringing { answer_at } if now >= answer_at => self.answer(now),
            State::Ringing { answer_at } => self.state = State::Ringing { answer_at },
            State::Ivr(ivr) => self.ivr_timeout(ivr, now),
            State::Queue(q) => self.queue_timeout(q, now),
            State::Voicemail(vm) => self.voicemail_timeout(vm, now),
            State::Ending(e) if now >= e.deadline => {
                if e.caller_confirm {
                    warn!("no confirmation of our hang-up");
                }
                self.finish(*e, now);
            }
            State::Ending(e) => self.state = State::Ending(e),
            State::Finished => {}
        }
        self.maybe_finish(now);
    }

    /// No RTP from the caller: in an answered phase we hang up, and the phase hears that the
    /// caller is gone (as if they had hung up: the queue lets the ACD know, an agent's leg is
    /// ended, a recording is closed and filed). Before the answer no RTP is owed, and once
    /// ending there is nothing left to stop.
    fn media_timeout(&mut self) -> Option<Input> {
        match self.state {
            State::Ivr(_) | State::Queue(_) | State::Voicemail(_) => {}
            State::Setup | State::Ringing { .. } | State::Ending(_) | State::Finished => {
                debug!("no RTP from the caller before the answer or while ending");
                return None;
            }
        }
        warn!(
            reason = "media_timeout",
            "no RTP from the caller: hanging up"
        );
        self.media_timed_out = true;
        self.step("media_timeout: no RTP from the caller".to_string());
        self.gateway(GatewayCommand::Hangup(Leg::Caller));
        Some(Input::CallerEnded(EndReason::LocalHangup))
    }

    /// Inputs about things that outlive the phase that started them: placed legs answered
    /// after the offer was withdrawn, retired legs' ends, late ticket and filing answers.
    /// Returns the input when the phase must see it.
    fn settle(&mut self, input: Input) -> Option<Input> {
        match input {
            Input::AgentLegPlaced { agent, result } => {
                if let Some(i) = self.placing.iter().position(|a| *a == agent) {
                    self.placing.remove(i);
                }
                let current = matches!(&self.state, State::Queue(q) if q.awaits_placement(&agent));
                if current {
                    return Some(Input::AgentLegPlaced { agent, result });
                }
                // The offer was withdrawn (or the call moved on) while the phone was dialled.
                if let Ok(call) = result {
                    info!(agent = %agent, "the withdrawn offer's leg is closed");
                    self.gateway(GatewayCommand::Hangup(Leg::Agent(call)));
                    self.release_agent(call);
                    self.retired.push(call);
                }
                None
            }
            Input::Agent(call, event) if self.retired.contains(&call) => {
                match event {
                    // A 200 that crossed our CANCEL (RFC 3261 §9.1) is ended with BYE.
                    AgentLegEvent::Answered(_) => {
                        self.gateway(GatewayCommand::Hangup(Leg::Agent(call)))
                    }
                    AgentLegEvent::TransferRequested { .. } => {
                        self.gateway(GatewayCommand::NotifyTransfer { call, status: 481 })
                    }
                    AgentLegEvent::Ended(_) => self.retired.retain(|c| *c != call),
                    AgentLegEvent::Progress(_) | AgentLegEvent::MediaChanged(_) => {}
                }
                None
            }
            Input::TicketOpened(ticket) if !self.in_conversation() => {
                // The conversation ended before the ticket's number came back.
                self.ticket_pending = false;
                self.ticket_opened(ticket);
                None
            }
            Input::VoicemailFiled(filing)
                if !matches!(self.state, State::Voicemail(_)) && self.filing_pending =>
            {
                self.filing_pending = false;
                self.filed(filing);
                None
            }
            Input::AgentMediaTimeout(call)
                if self.retired.contains(&call) || self.released.contains(&call) =>
            {
                debug!(?call, "no RTP from an agent leg already closed");
                None
            }
            Input::LookupResult { .. } | Input::PinRefused { .. }
                if !matches!(self.state, State::Ivr(_)) =>
            {
                None
            }
            other => Some(other),
        }
    }

    fn in_conversation(&self) -> bool {
        matches!(&self.state, State::Queue(q) if q.talking())
    }

    fn on_setup(&mut self, input: Input, now: Instant) {
        match input {
            Input::CallerMediaAllocated(Ok(local_rtp)) => {
                self.local_rtp = Some(local_rtp);
                let media = self.setup.media.clone();
                self.media(MediaCommand::Configure {
                    leg: Leg::Caller,
                    media,
                });
                let card = CardWrite::Start {
                    sip_call_id: self.setup.sip_call_id.clone(),
                    caller: self.setup.caller.clone().unwrap_or_default(),
                    dialled: self.setup.dialled.clone().unwrap_or_default(),
                };
                self.card(card);
                if self.setup.caller_withheld {
                    self.step(events::WITHHELD_STEP.to_string());
                }
                if self.setup.settings.answer_delay.is_zero() {
                    self.answer(now);
                } else {
                    self.gateway(GatewayCommand::Ring);
                    self.state = State::Ringing {
                        answer_at: now + self.setup.settings.answer_delay,
                    };
                }
            }
            Input::CallerMediaAllocated(Err(error)) => {
                warn!(%error, "no media port: refusing the call");
                self.gateway(GatewayCommand::Reject { status: 503 });
                self.end_now(Outcome::Rejected, None, now);
            }
            Input::CallerEnded(reason) => {
                // Cancelled before we had a port: nothing was written yet.
                self.end_now(ended_outcome(&reason, false), None, now);
            }
            Input::Shutdown => {
                self.gateway(GatewayCommand::Reject { status: 503 });
                self.end_now(Outcome::Rejected, None, now);
            }
            other => {
                debug!(?other, "ignored before the media leg");
                self.state = State::Setup;
            }
        }
    }

    fn on_ringing(&mut self, answer_at: Instant, input: Input, now: Instant) {
        match input {
            Input::CallerMediaChanged(media) => {
                self.media(MediaCommand::Configure {
                    leg: Leg::Caller,
                    media,
                });
                self.state = State::Ringing { answer_at };
            }
            Input::CallerEnded(reason) => {
                self.release_caller();
                self.end_now(
                    ended_outcome(&reason, false),
                    Some(CallOutcome::EndedInIvr),
                    now,
                );
            }
            Input::Shutdown | Input::CallerMediaGone => {
                self.gateway(GatewayCommand::Reject { status: 503 });
                self.release_caller();
                self.end_now(Outcome::Rejected, Some(CallOutcome::EndedInIvr), now);
            }
            other => {
                debug!(?other, "ignored before the answer");
                self.state = State::Ringing { answer_at };
            }
        }
    }

    /// 200 OK to the caller, then the IVR.
    fn answer(&mut self, now: Instant) {
        let local_rtp = self
            .local_rtp
            .expect("answered only after the media leg was allocated");
        self.gateway(GatewayCommand::Answer { local_rtp });
        let codec = self.setup.media.codec.encoding_name();
        info!(codec, rtp = %local_rtp, "answered");
        self.publish(Event::CallAnswered {
            call_id: self.id.clone(),
            codec: codec.to_string(),
        });
        self.deadline = Some(now + self.setup.settings.max_duration);
        self.start_ivr(now);
    }

    /// What every answered phase does with the caller's media change.
    pub(crate) fn caller_media_changed(&mut self, media: Negotiated) {
        let direction = direction(media.local_direction);
        info!(direction = direction.as_str(), "media changed");
        self.media(MediaCommand::Configure {
            leg: Leg::Caller,
            media,
        });
        self.publish(Event::MediaChanged {
            call_id: self.id.clone(),
            direction,
        });
    }

    /// The caller's side is over: wait for what is still open, then finish.
    pub(crate) fn end(&mut self, ended: Ended, journey: Option<CallOutcome>, now: Instant) {
        let (mut outcome, caller_confirm) = match ended {
            Ended::Remote(reason) => (ended_outcome(&reason, true), false),
            Ended::Local => (Outcome::ServerHangup, true),
        };
        if self.media_timed_out {
            // The media path failed; our BYE's own confirmation is the gateway's.
            outcome = Outcome::Failed;
        }
        self.state = State::Ending(Box::new(Ending {
            outcome,
            journey,
            caller_confirm,
            deadline: now + HANGUP_WAIT,
        }));
    }

    /// Ends at once (the caller's leg needs no confirmation).
    fn end_now(&mut self, outcome: Outcome, journey: Option<CallOutcome>, now: Instant) {
        self.state = State::Ending(Box::new(Ending {
            outcome,
            journey,
            caller_confirm: false,
            deadline: now + HANGUP_WAIT,
        }));
    }

    fn on_ending(&mut self, mut e: Box<Ending>, input: Input, _now: Instant) {
        match input {
            Input::CallerEnded(reason) => {
                debug!(?reason, "end confirmed");
                e.caller_confirm = false;
            }
            Input::Agent(call, AgentLegEvent::Answered(_)) if !self.released.contains(&call) => {
                // An agent leg we never knew as current: end it too.
                self.gateway(GatewayCommand::Hangup(Leg::Agent(call)));
                self.release_agent(call);
                self.retired.push(call);
            }
            Input::PlaybackFinished { .. }
            | Input::PlaybackMissing { .. }
            | Input::Dtmf { .. }
            | Input::RecordingFinished { .. }
            | Input::CallerMediaGone
            | Input::Shutdown => {}
            Input::Acd(acd::Action::Offer { call, agent }) => {
                // The ACD offered before it heard the end: the offer goes back at once.
                self.acd(AcdCommand::Report(acd::Input::OfferFailed {
                    call,
                    agent,
                    reason: acd::OfferFailure::Unreachable,
                }));
            }
            other => debug!(?other, "ignored while ending"),
        }
        self.state = State::Ending(e);
    }

    /// Finishes once nothing is awaited any more.
    fn maybe_finish(&mut self, now: Instant) {
        if let State::Ending(e) = &self.state
            && !e.caller_confirm
            && self.retired.is_empty()
            && self.placing.is_empty()
            && !self.ticket_pending
            && !self.filing_pending
        {
            let State::Ending(e) = std::mem::replace(&mut self.state, State::Finished) else {
                unreachable!("checked above");
            };
            self.finish(*e, now);
        }
    }

    fn finish(&mut self, mut e: Ending, now: Instant) {
        if self.interrupted {
            // The stop ended the call, not the caller nor the flow: recorded as such (the
            // journey written so far is in the call card's steps).
            e.outcome = Outcome::Interrupted;
            e.journey = e.journey.map(|_| CallOutcome::Interrupted);
        }
        if !self.placing.is_empty() || !self.retired.is_empty() {
            warn!(
                placing = self.placing.len(),
                retired = self.retired.len(),
                "agent legs still closing: the gateway ends them"
            );
        }
        info!(outcome = e.outcome.as_str(), "call ended");
        self.release_caller();
        if let Some(journey) = e.journey {
            self.card(CardWrite::End { outcome: journey });
        }
        self.publish(Event::CallEnded {
            call_id: self.id.clone(),
            outcome: e.outcome,
            duration_ms: now.saturating_duration_since(self.started).as_millis() as u64,
        });
        self.commands.push_back(Command::Finished {
            outcome: e.outcome,
            journey: e.journey,
        });
        self.state = State::Finished;
    }

    /// Closes an agent leg's media, once.
    pub(crate) fn release_agent(&mut self, call: CallRef) {
        if !self.released.contains(&call) {
            self.released.push(call);
            self.media(MediaCommand::Release(Leg::Agent(call)));
        }
    }

    fn release_caller(&mut self) {
        if self.local_rtp.take().is_some() {
            self.media(MediaCommand::Release(Leg::Caller));
        }
    }

    // ---- small helpers shared by the phases -----------------------------------------------

    pub(crate) fn gateway(&mut self, c: GatewayCommand) {
        self.commands.push_back(Command::Gateway(c));
    }

    pub(crate) fn media(&mut self, c: MediaCommand) {
        self.commands.push_back(Command::Media(c));
    }

    pub(crate) fn acd(&mut self, c: AcdCommand) {
        self.commands.push_back(Command::Acd(c));
    }

    pub(crate) fn crm(&mut self, c: CrmCommand) {
        self.commands.push_back(Command::Crm(c));
    }

    pub(crate) fn card(&mut self, w: CardWrite) {
        self.crm(CrmCommand::Card(w));
    }

    pub(crate) fn voicemail(&mut self, c: VoicemailCommand) {
        self.commands.push_back(Command::Voicemail(c));
    }

    pub(crate) fn publish(&mut self, e: Event) {
        self.commands.push_back(Command::Publish(e));
    }

    /// Plays prompts to the caller; the token answers in the media events.
    pub(crate) fn play(&mut self, prompts: Vec<String>, looped: bool, barge_in: bool) -> PlayToken {
        self.next_token += 1;
        let token = PlayToken(self.next_token);
        self.media(MediaCommand::Play {
            token,
            prompts,
            looped,
            barge_in,
        });
        token
    }

    /// Records a step of the call card (R-TEL-2) and shows it live.
    pub(crate) fn step(&mut self, step: String) {
        info!(%step, "call step");
        self.publish(Event::IvrStep {
            call_id: self.id.clone(),
            step: step.clone(),
        });
        self.card(CardWrite::Step(step.clone()));
        self.caller.path.push(step);
    }

    /// The wall-clock time of an instant of the call.
    pub(crate) fn wall(&self, now: Instant) -> DateTime<Utc> {
        self.setup.wall
            + chrono::Duration::from_std(now.saturating_duration_since(self.started))
                .unwrap_or_default()
    }

    /// A key the caller pressed, shown live and in the debug log: its value only when it
    /// cannot be part of a PIN (`secret` false), [`events::MASKED_DIGIT`] otherwise. Never at
    /// info: a helpline's log must not spell a citizen's keys beside the step naming them.
    pub(crate) fn dtmf(&mut self, digit: char, duration: Duration, secret: bool) {
        let shown = if secret { events::MASKED_DIGIT } else { digit };
        debug!(
            target: DTMF_LOG_TARGET,
            digit = %shown,
            duration_ms = duration.as_millis() as u64,
            "dtmf received"
        );
        self.publish(Event::Dtmf {
            call_id: self.id.clone(),
            digit: shown,
        });
    }
}

/// The event stream's name of an SDP direction.
pub fn direction(d: media::Direction) -> MediaDirection {
    match d {
        media::Direction::SendRecv => MediaDirection::SendRecv,
        media::Direction::SendOnly => MediaDirection::SendOnly,
        media::Direction::RecvOnly => MediaDirection::RecvOnly,
        media::Direction::Inactive => MediaDirection::Inactive,
    }
}

/// Who ended the call, from how the caller's leg ended.
pub(crate) fn ended_outcome(reason: &EndReason, answered: bool) -> Outcome {
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
