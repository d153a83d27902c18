//! The queue phase: hold music and announcements while the ACD looks for an agent; ringing
//! the agent it picks (a new dialog toward the agent's phone, B2BUA); at answer the bridge, the
//! Service Request (R-SR-1) and the screen pop; then the conversation, hold and resume, blind
//! transfer by REFER (R-ACD-6, RFC 3515), until either side ends it (BYE ends both legs).

use std::time::{Duration, Instant};

use acd::{Action, CallKey, OfferFailure};
use events::{CallOutcome, Event, TicketChannel};
use sip_gateway::ua::{CallRef, EndReason};
use tracing::{info, warn};

use crate::prompts::announcement;
use crate::{
    AcdCommand, AgentLegEvent, Call, Command, CrmCommand, Ended, GatewayCommand, Input, Leg,
    MediaCommand, Phase, PlayToken, State, TransferRefused,
};

/// Where the agent side stands.
pub(crate) enum Agent {
    /// Nobody is offered the call.
    None,
    /// The ACD offered the call to `agent`; the leg to the phone is being placed.
    Placing { agent: String },
    /// The agent's phone rings on `call`.
    Ringing { agent: String, call: CallRef },
    /// The phone answered; the legs are being bridged.
    Bridging { agent: String, call: CallRef },
    /// In conversation.
    Talking(Conversation),
}

pub(crate) struct Conversation {
    agent: String,
    call: CallRef,
    /// The agent holds the caller (re-INVITE without sendrecv, RFC 3264 §8.4).
    held: bool,
    /// The phone asked for a transfer by REFER to this queue: its final NOTIFY is owed.
    refer: Option<String>,
}

pub(crate) struct QueueState {
    queue: String,
    /// When the call entered its current queue (a transfer restarts the wait).
    since: Instant,
    music: Option<PlayToken>,
    announcing: Option<PlayToken>,
    agent: Agent,
    /// An agent talked to the caller in this queue.
    talked: bool,
}

/// An answered call waiting for its Service Request's number (`call.connected` carries it).
pub(crate) struct Connected {
    agent: String,
    queue: String,
    waited: Duration,
}

impl QueueState {
    pub(crate) fn phase(&self) -> Phase {
        match &self.agent {
            Agent::None => Phase::Queued,
            Agent::Placing { .. } | Agent::Ringing { .. } | Agent::Bridging { .. } => {
                Phase::Offering
            }
            Agent::Talking(c) if c.held => Phase::Held,
            Agent::Talking(_) => Phase::Talking,
        }
    }

    pub(crate) fn awaits_placement(&self, login: &str) -> bool {
        matches!(&self.agent, Agent::Placing { agent } if agent == login)
    }

    pub(crate) fn talking(&self) -> bool {
        matches!(self.agent, Agent::Talking(_))
    }

    /// The SIP call of the agent leg, when there is one.
    fn agent_call(&self) -> Option<CallRef> {
        match &self.agent {
            Agent::Ringing { call, .. } | Agent::Bridging { call, .. } => Some(*call),
            Agent::Talking(c) => Some(c.call),
            Agent::None | Agent::Placing { .. } => None,
        }
    }

    fn journey(&self) -> CallOutcome {
        if self.talked {
            CallOutcome::Answered
        } else {
            CallOutcome::Abandoned
        }
    }
}

impl Call {
    pub(crate) fn start_queue(&mut self, queue: String, now: Instant) {
        if !self.setup.settings.acd {
            warn!(%queue, "no ACD configured: the call cannot queue");
            self.gateway(GatewayCommand::Hangup(Leg::Caller));
            return self.end(Ended::Local, Some(CallOutcome::EndedInIvr), now);
        }
        self.publish(Event::CallQueued {
            call_id: self.id.clone(),
            queue: queue.clone(),
            area: self.caller.area.clone(),
        });
        self.caller.journey.push(events::JourneyStep::Queued {
            queue: queue.clone(),
        });
        self.acd(AcdCommand::Enqueue {
            queue: queue.clone(),
        });
        let music = Some(self.hold_music());
        self.state = State::Queue(Box::new(QueueState {
            queue,
            since: now,
            music,
            announcing: None,
            agent: Agent::None,
            talked: false,
        }));
    }

    fn hold_music(&mut self) -> PlayToken {
        let music = self.setup.settings.hold_music.clone();
        self.play(vec![music], true, false)
    }

    fn key(&self) -> CallKey {
        CallKey::from(self.id.as_str())
    }

    pub(crate) fn on_queue(&mut self, mut q: Box<QueueState>, input: Input, now: Instant) {
        match input {
            Input::CallerMediaChanged(media) => self.caller_media_changed(media),
            Input::CallerEnded(reason) => return self.leave_queue(q, Ended::Remote(reason), now),
            Input::Shutdown => {
                self.gateway(GatewayCommand::Hangup(Leg::Caller));
                return self.leave_queue(q, Ended::Local, now);
            }
            Input::CallerMediaGone => {
                warn!("media leg gone");
                self.gateway(GatewayCommand::Hangup(Leg::Caller));
                return self.leave_queue(q, Ended::Local, now);
            }
            Input::Acd(action) => return self.on_acd(q, action, now),
            Input::QueueRefused(why) => {
                warn!(queue = %q.queue, %why, "the queue refused the call");
                self.step(format!("queue refused: {why}"));
                self.drop_agent(&mut q);
                self.gateway(GatewayCommand::Hangup(Leg::Caller));
                return self.end(Ended::Local, Some(CallOutcome::EndedInIvr), now);
            }
            Input::Transferred { queue: to } => self.transferred(&mut q, to, now),
            Input::Hold { held } => self.hold(&mut q, held),
            Input::TransferResult(result) => self.transfer_result(&mut q, result),
            Input::AgentLegPlaced { agent, result } => match result {
                Ok(call) => {
                    info!(agent = %agent, "ringing the agent");
                    self.publish(Event::CallOffered {
                        call_id: self.id.clone(),
                        agent: agent.clone(),
                        queue: q.queue.clone(),
                        channel: TicketChannel::Phone,
                        caller: self.shown_caller(),
                        customer_id: self.caller.customer.as_ref().map(|c| c.id),
                        customer_name: self.caller.customer.as_ref().map(|c| c.name.clone()),
                        identified_by: self.caller.identified_by,
                        area: self.caller.area.clone(),
                        sr_type: self.caller.sr_type.clone(),
                        ivr_path: self.caller.path.clone(),
                        journey: self.caller.journey.clone(),
                        waited_ms: now.saturating_duration_since(q.since).as_millis() as u64,
                    });
                    q.agent = Agent::Ringing { agent, call };
                }
                Err(reason) => {
                    warn!(agent = %agent, reason = reason.reason(), "cannot ring the agent");
                    q.agent = Agent::None;
                    self.acd(AcdCommand::Report(acd::Input::OfferFailed {
                        call: self.key(),
                        agent,
                        reason,
                    }));
                }
            },
            Input::Agent(call, event) if q.agent_call() == Some(call) => {
                return self.on_agent(q, call, event, now);
            }
            Input::AgentMediaTimeout(call) if q.agent_call() == Some(call) => {
                return self.agent_media_timeout(q, call, now);
            }
            Input::Agent(call, event) => {
                // A leg this call never knew as current (a race with its own placement).
                if let AgentLegEvent::Answered(_) = event
                    && !self.released.contains(&call)
                {
                    self.gateway(GatewayCommand::Hangup(Leg::Agent(call)));
                    self.release_agent(call);
                    self.retired.push(call);
                }
            }
            Input::Bridged(result) => self.bridged(&mut q, result, now),
            Input::TicketOpened(ticket) => {
                self.ticket_pending = false;
                self.ticket_opened(ticket);
            }
            Input::PlaybackFinished { token, .. } | Input::PlaybackMissing { token }
                if Some(token) == q.announcing =>
            {
                q.announcing = None;
                if !q.talked && !q.talking() {
                    q.music = Some(self.hold_music());
                }
            }
            Input::PlaybackFinished { token, interrupted } if Some(token) == q.music => {
                if !interrupted && !q.talked && !q.talking() && q.announcing.is_none() {
                    q.music = Some(self.hold_music());
                }
            }
            Input::PlaybackMissing { token } if Some(token) == q.music => q.music = None,
            // Nothing in the queue takes a PIN.
            Input::Dtmf { digit, duration } => self.dtmf(digit, duration, false),
            other => tracing::debug!(?other, "ignored in the queue"),
        }
        self.state = State::Queue(q);
    }

    fn on_acd(&mut self, mut q: Box<QueueState>, action: Action, now: Instant) {
        match action {
            Action::Offer { call, agent } => {
                if !matches!(q.agent, Agent::None) {
                    warn!(agent = %agent, "offered while another agent is offered: refused");
                    self.acd(AcdCommand::Report(acd::Input::OfferFailed {
                        call,
                        agent,
                        reason: OfferFailure::Unreachable,
                    }));
                } else {
                    self.placing.push(agent.clone());
                    // A withheld caller reaches the phone as RFC 3323's anonymous From, with
                    // no name either (the desktop's screen pop names an identified customer).
                    let (caller, display) = if self.setup.caller_withheld {
                        (
                            events::ANONYMOUS_CALLER.to_string(),
                            Some("Anonymous".to_string()),
                        )
                    } else {
                        (
                            self.caller
                                .number
                                .clone()
                                .unwrap_or_else(|| events::ANONYMOUS_CALLER.into()),
                            self.caller.customer.as_ref().map(|c| c.name.clone()),
                        )
                    };
                    self.commands.push_back(Command::PlaceAgentLeg {
                        agent: agent.clone(),
                        caller,
                        display,
                    });
                    q.agent = Agent::Placing { agent };
                }
            }
            Action::CancelOffer { agent, .. } => match &q.agent {
                Agent::Placing { agent: a } if *a == agent => {
                    info!(agent = %agent, "withdrawing the offer");
                    q.agent = Agent::None;
                }
                Agent::Ringing { agent: a, call } if *a == agent => {
                    info!(agent = %agent, "withdrawing the offer");
                    let call = *call;
                    self.retire(call);
                    q.agent = Agent::None;
                }
                _ => {}
            },
            Action::Announce {
                position,
                expected_wait,
                ..
            } if matches!(q.agent, Agent::None) => {
                q.announcing = Some(self.play(announcement(position, expected_wait), false, false));
            }
            Action::Announce { .. } => {}
            Action::Overflow { target, .. } => {
                // Overflow to another queue is the engine's; what reaches us leaves the ACD
                // for a voicemail box.
                self.step(format!("overflow {target:?}"));
                let mailbox = match &target {
                    acd::OverflowTarget::Voicemail(m) => m.clone(),
                    other => format!("{other:?}"),
                };
                self.drop_agent(&mut q);
                return self.start_voicemail(mailbox, now);
            }
        }
        self.state = State::Queue(q);
    }

    /// The agent holds (`held`) or resumes the caller, from the phone (a re-INVITE without
    /// sendrecv, RFC 3264 §8.4) or from the desktop ([`Input::Hold`]): the caller hears the
    /// hold music, then the agent again. Outside a conversation, or already so, nothing.
    fn hold(&mut self, q: &mut QueueState, held: bool) {
        if let Agent::Talking(c) = &mut q.agent {
            if held && !c.held {
                c.held = true;
                let agent = c.agent.clone();
                self.media(MediaCommand::Unbridge);
                q.music = Some(self.hold_music());
                self.step("on hold by the agent".to_string());
                info!(agent = %agent, "caller on hold: hold music");
            } else if !held && c.held {
                c.held = false;
                let (agent, call) = (c.agent.clone(), c.call);
                q.music = None;
                self.media(MediaCommand::Bridge { agent: call });
                self.step("off hold".to_string());
                info!(agent = %agent, "caller off hold: bridged again");
            }
        }
    }

    fn on_agent(
        &mut self,
        mut q: Box<QueueState>,
        call: CallRef,
        event: AgentLegEvent,
        now: Instant,
    ) {
        match event {
            AgentLegEvent::Progress(status) => {
                if let Agent::Ringing { agent, .. } = &q.agent {
                    info!(agent = %agent, status, "agent phone progress");
                }
            }
            AgentLegEvent::Answered(media) => {
                if let Agent::Ringing { agent, .. } = &q.agent {
                    let agent = agent.clone();
                    self.media(MediaCommand::Configure {
                        leg: Leg::Agent(call),
                        media,
                    });
                    self.media(MediaCommand::Bridge { agent: call });
                    q.agent = Agent::Bridging { agent, call };
                }
            }
            AgentLegEvent::MediaChanged(media) => {
                let direction = crate::direction(media.local_direction);
                info!(direction = direction.as_str(), "agent media changed");
                self.media(MediaCommand::Configure {
                    leg: Leg::Agent(call),
                    media,
                });
                self.hold(&mut q, direction != events::MediaDirection::SendRecv);
            }
            AgentLegEvent::TransferRequested { user } => {
                let target = match &q.agent {
                    Agent::Talking(c) if c.refer.is_none() => user,
                    _ => None,
                };
                match target {
                    Some(target) => {
                        if let Agent::Talking(c) = &mut q.agent {
                            c.refer = Some(target.clone());
                        }
                        self.acd(AcdCommand::Transfer { queue: target });
                    }
                    None => {
                        info!("REFER without a queue to go to");
                        self.gateway(GatewayCommand::NotifyTransfer { call, status: 404 });
                    }
                }
            }
            AgentLegEvent::Ended(reason) => {
                self.release_agent(call);
                match std::mem::replace(&mut q.agent, Agent::None) {
                    Agent::Talking(c) => {
                        info!(agent = %c.agent, ?reason, "agent ended the call");
                        self.acd(AcdCommand::Report(acd::Input::CallEnded {
                            call: self.key(),
                        }));
                        self.gateway(GatewayCommand::Hangup(Leg::Caller));
                        return self.end(Ended::Local, Some(CallOutcome::Answered), now);
                    }
                    Agent::Ringing { agent, .. } | Agent::Bridging { agent, .. } => {
                        let failure = failure(&reason);
                        info!(agent = %agent, reason = failure.reason(), "offer failed");
                        self.acd(AcdCommand::Report(acd::Input::OfferFailed {
                            call: self.key(),
                            agent,
                            reason: failure,
                        }));
                    }
                    other => q.agent = other,
                }
            }
        }
        self.state = State::Queue(q);
    }

    /// No RTP from the agent's phone on a two-way leg: in a conversation the agent's side is
    /// taken as gone, as if the phone had hung up, except that we end its leg too (BYE both
    /// sides), the ACD hears the end of the call (the agent goes to wrap-up) and the call
    /// ends `failed` with the card's step saying whose media stopped. Before the bridge no
    /// RTP is owed; while the agent holds the call the media engine does not time out.
    fn agent_media_timeout(&mut self, mut q: Box<QueueState>, call: CallRef, now: Instant) {
        let Agent::Talking(c) = &q.agent else {
            tracing::debug!(
                ?call,
                "no RTP from an agent leg not in conversation: ignored"
            );
            self.state = State::Queue(q);
            return;
        };
        if c.held {
            // A time-out that crossed the agent's hold: a held phone owes no RTP.
            tracing::debug!(
                ?call,
                "no RTP from the agent's phone while it holds: ignored"
            );
            self.state = State::Queue(q);
            return;
        };
        warn!(
            agent = %c.agent,
            reason = "agent_media_timeout",
            "no RTP from the agent's phone: hanging up both legs"
        );
        self.media_timed_out = true;
        self.step("media_timeout: no RTP from the agent's phone".to_string());
        self.drop_agent(&mut q);
        self.acd(AcdCommand::Report(acd::Input::CallEnded {
            call: self.key(),
        }));
        self.gateway(GatewayCommand::Hangup(Leg::Caller));
        self.end(Ended::Local, Some(CallOutcome::Answered), now);
    }

    fn bridged(&mut self, q: &mut QueueState, result: Result<(), String>, now: Instant) {
        match (std::mem::replace(&mut q.agent, Agent::None), result) {
            (Agent::Bridging { agent, call }, Ok(())) => {
                let waited = now.saturating_duration_since(q.since);
                q.talked = true;
                q.music = None;
                q.announcing = None;
                self.acd(AcdCommand::Report(acd::Input::OfferAnswered {
                    call: self.key(),
                    agent: agent.clone(),
                }));
                info!(agent = %agent, waited_ms = waited.as_millis() as u64, "agent answered: bridged");
                // The title is read by agents: a withheld number is not in it.
                let title = match (&self.caller.customer, self.shown_caller()) {
                    (Some(c), _) if self.setup.caller_withheld => {
                        format!("Phone call from {} (number withheld)", c.name)
                    }
                    (Some(c), number) => format!(
                        "Phone call from {} ({})",
                        c.name,
                        number.as_deref().unwrap_or(events::ANONYMOUS_CALLER)
                    ),
                    (None, number) => format!(
                        "Phone call from {}",
                        number.as_deref().unwrap_or(events::ANONYMOUS_CALLER)
                    ),
                };
                self.crm(CrmCommand::OpenTicket {
                    queue: q.queue.clone(),
                    agent: agent.clone(),
                    waited,
                    title,
                    sr_type: self.caller.sr_type.clone(),
                    area: self.caller.area.clone(),
                });
                self.ticket_pending = true;
                self.connected = Some(Connected {
                    agent: agent.clone(),
                    queue: q.queue.clone(),
                    waited,
                });
                q.agent = Agent::Talking(Conversation {
                    agent,
                    call,
                    held: false,
                    refer: None,
                });
            }
            (Agent::Bridging { agent, call }, Err(error)) => {
                warn!(%error, "cannot bridge the legs");
                self.retire(call);
                self.acd(AcdCommand::Report(acd::Input::OfferFailed {
                    call: self.key(),
                    agent,
                    reason: OfferFailure::Unreachable,
                }));
            }
            (Agent::Talking(c), Err(error)) => {
                warn!(%error, "cannot bridge the legs again after hold");
                q.agent = Agent::Talking(c);
            }
            (other, _) => q.agent = other,
        }
    }

    /// The answered call's Service Request is open (or journaled): the screen pop learns it.
    pub(crate) fn ticket_opened(&mut self, ticket: Option<String>) {
        let Some(c) = self.connected.take() else {
            return;
        };
        if let Some(number) = &ticket {
            info!(ticket = %number, "Service Request opened");
            self.publish(Event::TicketCreated {
                number: number.clone(),
                queue: c.queue.clone(),
                channel: TicketChannel::Phone,
                call_id: Some(self.id.clone()),
                owner: Some(c.agent.clone()),
                by: None,
            });
        }
        self.publish(Event::CallConnected {
            call_id: self.id.clone(),
            agent: c.agent,
            queue: c.queue,
            waited_ms: c.waited.as_millis() as u64,
            ticket,
        });
    }

    fn transfer_result(&mut self, q: &mut QueueState, result: Result<(), TransferRefused>) {
        let Agent::Talking(c) = &mut q.agent else {
            return;
        };
        let Some(target) = c.refer.clone() else {
            return;
        };
        match result {
            Ok(()) => {
                // `Transferred` follows (or came first): it ends the agent's leg after the
                // final NOTIFY.
                info!(agent = %c.agent, to = %target, "blind transfer by the agent's phone");
                let agent = c.agent.clone();
                self.crm(CrmCommand::MoveTicket {
                    agent,
                    queue: target,
                });
            }
            Err(refused) => {
                warn!(agent = %c.agent, to = %target, reason = %refused.reason, "transfer by REFER refused");
                let call = c.call;
                c.refer = None;
                self.step(format!("transfer to {target} refused: {}", refused.reason));
                self.gateway(GatewayCommand::NotifyTransfer {
                    call,
                    status: refused.status,
                });
            }
        }
    }

    /// R-ACD-6: the agent sent the caller (and the SR) on; the ACD already queues the call
    /// there. The agent's leg goes, the caller waits again.
    fn transferred(&mut self, q: &mut QueueState, to: String, now: Instant) {
        match std::mem::replace(&mut q.agent, Agent::None) {
            Agent::Talking(c) => {
                self.media(MediaCommand::Unbridge);
                if c.refer.is_some() {
                    // RFC 3515: the phone learns the caller was taken over.
                    self.gateway(GatewayCommand::NotifyTransfer {
                        call: c.call,
                        status: 200,
                    });
                }
                self.retire(c.call);
                info!(agent = %c.agent, to = %to, "transferred");
            }
            Agent::Ringing { call, .. } | Agent::Bridging { call, .. } => self.retire(call),
            Agent::Placing { .. } | Agent::None => {}
        }
        self.step(format!("transferred to {to}"));
        self.caller
            .journey
            .push(events::JourneyStep::Transferred { queue: to.clone() });
        q.queue = to;
        q.since = now;
        q.talked = false;
        q.music = None;
        q.announcing = Some(self.play(vec!["transfer".to_string()], false, false));
    }

    /// Hangs up an agent leg and waits for its end in the background of the call.
    fn retire(&mut self, call: CallRef) {
        self.gateway(GatewayCommand::Hangup(Leg::Agent(call)));
        self.release_agent(call);
        self.retired.push(call);
    }

    /// Ends whatever agent leg there is (the call leaves the queue another way).
    fn drop_agent(&mut self, q: &mut QueueState) {
        if let Some(call) = q.agent_call() {
            self.retire(call);
        }
        q.agent = Agent::None;
    }

    /// The caller's side ended while queued or talking: the agent's leg goes too and the ACD
    /// hears it: cut by the service's stop (never an abandon), ended after a conversation,
    /// or abandoned.
    fn leave_queue(&mut self, mut q: Box<QueueState>, ended: Ended, now: Instant) {
        self.drop_agent(&mut q);
        let report = if self.interrupted {
            acd::Input::CallInterrupted { call: self.key() }
        } else if q.talked {
            acd::Input::CallEnded { call: self.key() }
        } else {
            acd::Input::CallAbandoned { call: self.key() }
        };
        self.acd(AcdCommand::Report(report));
        self.end(ended, Some(q.journey()), now);
    }

    pub(crate) fn queue_timeout(&mut self, q: Box<QueueState>, now: Instant) {
        if self.deadline.is_some_and(|d| now >= d) {
            warn!("maximum call duration reached");
            self.gateway(GatewayCommand::Hangup(Leg::Caller));
            return self.leave_queue(q, Ended::Local, now);
        }
        self.state = State::Queue(q);
    }
}

/// Why an agent's phone did not take the call (RFC 3261 §21 classes).
pub(crate) fn failure(reason: &EndReason) -> OfferFailure {
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
