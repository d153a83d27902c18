//! The thin driver of one call: a tokio task that owns the call's [`call::Call`] machine, its
//! media legs and its playbacks, feeds it what the gateway, the media engine, the ACD, the CRM
//! and the voicemail boxes report, carries out its commands, and sleeps until its next
//! deadline. It decides nothing: every decision is the machine's, tested in virtual time in
//! the `call` crate.
//!
//! Commands whose answer is local and immediate (a media allocation, a bridge, a placed agent
//! leg, an ACD transfer) are answered at once; those that wait on the database or the disk (a
//! lookup, the Service Request, a voicemail hand-off) run beside the call and answer through
//! its inbox, so a slow database never stalls the call's audio or its timers.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use ::call::{
    AcdCommand, CardWrite, Command, CrmCommand, Customer, Filing, GatewayCommand, Identity, Input,
    Leg, MediaCommand, PlayToken, Setup, TransferRefused, VoicemailCommand, VoicemailRefusal,
};
use chrono::Utc;
use crm::CallWrite;
use crm::calls::{AnsweredCall, CallOutcome, IdentityResult, NewCall};
use media::{MediaEvent, MediaEvents, MediaLeg, PlayOptions, PlaybackId, StreamParams};
use sip_gateway::sdp::Negotiated;
use sip_gateway::ua::{CallRef, IncomingCall, OutgoingCall};
use tokio::sync::mpsc;
use tracing::{Instrument, debug, info, info_span, warn};

use crate::{CallHandles, Lines, Script, Services};

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

/// Starts the task of an incoming call; `inbox` carries everything addressed to it.
pub(crate) fn spawn(
    handles: CallHandles,
    call_id: String,
    incoming: IncomingCall,
    input: mpsc::UnboundedReceiver<Input>,
    inbox: mpsc::UnboundedSender<Input>,
) {
    let span = info_span!("call", %call_id, sip_call_id = %incoming.sip_call_id);
    tokio::spawn(
        async move {
            let CallHandles {
                lines,
                script,
                services,
                tally,
            } = handles;
            let settings = script.settings_for(incoming.dialled.as_deref());
            let voicemail = &script.voicemail;
            let setup = Setup {
                id: call_id.clone(),
                sip_call_id: incoming.sip_call_id.clone(),
                caller: incoming.caller().map(str::to_string),
                caller_withheld: incoming.privacy_id,
                dialled: incoming.dialled.clone(),
                media: incoming.media.clone(),
                settings: ::call::Settings {
                    language: settings.language.clone(),
                    answer_delay: settings.answer_delay,
                    max_duration: settings.max_duration,
                    hold_music: script.hold_music.clone(),
                    voicemail: ::call::VoicemailLimits {
                        greeting_prompt: voicemail.greeting_prompt.clone(),
                        max_length: voicemail.max_length,
                        min_length: voicemail.min_length,
                    },
                    acd: services.acd.is_some(),
                },
                tree: script.ivr_tree(),
                wall: Utc::now(),
            };
            let mut driver = Driver {
                core: ::call::Call::new(setup, Instant::now()),
                caller: incoming.from_user.clone(),
                lines,
                script,
                services,
                call_id,
                sip: incoming.call,
                language: settings.language,
                caller_leg: None,
                caller_events: None,
                agents: HashMap::new(),
                playbacks: HashMap::new(),
                input,
                inbox,
            };
            driver.run().await;
            tally.finished();
        }
        .instrument(span),
    );
}

struct Driver {
    core: ::call::Call,
    /// The caller's number (the From user), for the PIN guard.
    caller: Option<String>,
    /// The gateway, media engine and agents' phones the call's legs go through.
    lines: Arc<Lines>,
    /// The prompts it plays.
    script: Arc<Script>,
    /// The ACD, CRM, call card, voicemail and bus it hands work to.
    services: Arc<Services>,
    call_id: String,
    /// The caller's SIP call.
    sip: CallRef,
    language: String,
    caller_leg: Option<MediaLeg>,
    caller_events: Option<MediaEvents>,
    /// The media legs of agent phones, by their SIP call.
    agents: HashMap<CallRef, MediaLeg>,
    /// The media engine's playbacks and the machine's tokens for them.
    playbacks: HashMap<PlaybackId, PlayToken>,
    input: mpsc::UnboundedReceiver<Input>,
    /// This call's own inbox, for the ACD, placed calls and background work to answer to.
    inbox: mpsc::UnboundedSender<Input>,
}

impl Driver {
    async fn run(&mut self) {
        loop {
            while let Some(command) = self.core.poll_command() {
                self.execute(command).await;
            }
            if self.core.is_finished() {
                return;
            }
            let deadline = self.core.poll_timeout().map(tokio::time::Instant::from_std);
            tokio::select! {
                msg = self.input.recv() => match msg {
                    Some(input) => self.core.handle(input, Instant::now()),
                    // Every sender is gone (the switchboard stopped): nothing more will come.
                    None => self.core.handle(Input::Shutdown, Instant::now()),
                },
                event = next_media(&mut self.caller_events) => self.on_media(event),
                _ = sleep_until(deadline) => self.core.handle_timeout(Instant::now()),
            }
        }
    }

    fn on_media(&mut self, event: Option<MediaEvent>) {
        let now = Instant::now();
        match event {
            Some(MediaEvent::Dtmf { digit, duration }) => {
                self.core.handle(Input::Dtmf { digit, duration }, now)
            }
            Some(MediaEvent::PlaybackFinished { id, interrupted }) => {
                if let Some(token) = self.playbacks.remove(&id) {
                    self.core
                        .handle(Input::PlaybackFinished { token, interrupted }, now);
                }
            }
            Some(MediaEvent::RecordingFinished {
                path,
                duration,
                reason,
            }) => self.core.handle(
                Input::RecordingFinished {
                    path,
                    duration,
                    end: reason,
                },
                now,
            ),
            Some(MediaEvent::RtpTimeout) => self.core.handle(Input::CallerMediaTimeout, now),
            Some(event) => log_media(&event),
            None => {
                self.caller_events = None;
                self.core.handle(Input::CallerMediaGone, now);
            }
        }
    }

    fn leg(&self, leg: Leg) -> Option<&MediaLeg> {
        match leg {
            Leg::Caller => self.caller_leg.as_ref(),
            Leg::Agent(call) => self.agents.get(&call),
        }
    }

    async fn execute(&mut self, command: Command) {
        match command {
            Command::Gateway(c) => self.gateway(c),
            Command::Media(c) => self.media(c).await,
            Command::PlaceAgentLeg {
                agent,
                caller,
                display,
            } => {
                let result = self.place(&agent, caller, display).await;
                self.core
                    .handle(Input::AgentLegPlaced { agent, result }, Instant::now());
            }
            Command::Acd(c) => self.acd(c).await,
            Command::Crm(c) => self.crm(c),
            Command::Voicemail(c) => self.voicemail(c),
            Command::Publish(event) => self.services.bus.publish(event),
            Command::Finished { .. } => {}
        }
    }

    fn gateway(&self, c: GatewayCommand) {
        let gateway = &self.lines.gateway;
        match c {
            GatewayCommand::Ring => gateway.ring(self.sip),
            GatewayCommand::Answer { local_rtp } => gateway.answer(self.sip, local_rtp),
            GatewayCommand::Reject { status } => gateway.reject(self.sip, status),
            GatewayCommand::Hangup(Leg::Caller) => gateway.hangup(self.sip),
            GatewayCommand::Hangup(Leg::Agent(call)) => gateway.hangup(call),
            GatewayCommand::NotifyTransfer { call, status } => {
                gateway.notify_transfer(call, status)
            }
        }
    }

    async fn media(&mut self, c: MediaCommand) {
        let now = Instant::now();
        match c {
            MediaCommand::AllocateCaller => {
                let result = match self.lines.media.allocate().await {
                    Ok((leg, events)) => {
                        let addr = leg.local_addr();
                        self.caller_leg = Some(leg);
                        self.caller_events = Some(events);
                        Ok(addr)
                    }
                    Err(error) => Err(error.to_string()),
                };
                self.core.handle(Input::CallerMediaAllocated(result), now);
            }
            MediaCommand::Configure { leg, media } => {
                if let Some(leg) = self.leg(leg) {
                    leg.configure(params(&media));
                }
            }
            MediaCommand::Play {
                token,
                prompts,
                looped,
                barge_in,
            } => {
                let found: Vec<_> = prompts
                    .iter()
                    .filter_map(|name| {
                        let prompt = self.script.prompt(&self.language, name);
                        if prompt.is_none() {
                            warn!(prompt = %name, language = %self.language, "prompt missing");
                        }
                        prompt
                    })
                    .collect();
                match &self.caller_leg {
                    Some(leg) if !found.is_empty() => {
                        let id = leg.play(found, PlayOptions { looped, barge_in });
                        self.playbacks.insert(id, token);
                    }
                    _ => self.core.handle(Input::PlaybackMissing { token }, now),
                }
            }
            MediaCommand::StopPlayback => {
                if let Some(leg) = &self.caller_leg {
                    leg.stop_playback();
                }
            }
            MediaCommand::Bridge { agent } => {
                let result = match (&self.caller_leg, self.agents.get(&agent)) {
                    (Some(caller), Some(agent)) => caller.bridge(agent).map_err(|e| e.to_string()),
                    _ => Err("no such leg".to_string()),
                };
                self.core.handle(Input::Bridged(result), now);
            }
            MediaCommand::Unbridge => {
                if let Some(leg) = &self.caller_leg {
                    leg.unbridge();
                }
            }
            MediaCommand::StartRecording { path, max } => {
                if let Some(leg) = &self.caller_leg {
                    leg.start_recording(path, max);
                }
            }
            MediaCommand::StopRecording => {
                if let Some(leg) = &self.caller_leg {
                    leg.stop_recording();
                }
            }
            MediaCommand::Release(Leg::Caller) => {
                self.caller_leg = None;
                self.caller_events = None;
                self.playbacks.clear();
            }
            MediaCommand::Release(Leg::Agent(call)) => {
                self.agents.remove(&call);
            }
        }
    }

    /// Rings `login`'s phone: a leg next to the caller's, and an INVITE to the phone's
    /// registered (or configured) contact. Events of the new dialog come to this call's inbox
    /// from the first one on.
    async fn place(
        &mut self,
        login: &str,
        caller: String,
        display: Option<String>,
    ) -> Result<CallRef, acd::OfferFailure> {
        let Some(phone) = self.lines.phone_of(login).await else {
            warn!(agent = %login, "no contact for the agent's phone");
            return Err(acd::OfferFailure::Unreachable);
        };
        let Some(near) = &self.caller_leg else {
            return Err(acd::OfferFailure::Unreachable);
        };
        let (leg, events) = match self.lines.media.allocate_near(near).await {
            Ok(pair) => pair,
            Err(error) => {
                warn!(%error, "no media port for the agent leg");
                return Err(acd::OfferFailure::Unreachable);
            }
        };
        // A phone registered over a WebSocket is a browser's: its media is WebRTC, through a
        // leg whose plain side is the engine's agent leg.
        let browser = if phone.peer.transport.is_websocket() {
            match crate::browser::offer(&self.lines.webrtc, leg.local_addr()).await {
                Ok((offered, sdp)) => Some((offered, sdp)),
                Err(error) => {
                    crate::browser::offer_failed(login, &error);
                    return Err(acd::OfferFailure::Unreachable);
                }
            }
        } else {
            None
        };
        let (browser, external_offer) = match browser {
            Some((offered, sdp)) => (Some((login.to_string(), offered)), Some(sdp)),
            None => (None, None),
        };
        let out = OutgoingCall {
            target: phone.uri,
            to: format!("<sip:{login}@{}>", phone.peer.addr),
            peer: phone.peer,
            from_user: caller,
            from_display: display,
            local_rtp: leg.local_addr(),
            dtmf_payload_type: 101,
            external_offer,
        };
        match self
            .lines
            .place_call(out, self.inbox.clone(), browser)
            .await
        {
            Ok(call) => {
                // The agent's leg's RTP time-out goes to the call (it ends the
                // conversation); the rest it reports is only logged: the agent's own keys
                // are the phone's business.
                tokio::spawn(agent_media(events, call, self.inbox.clone()).in_current_span());
                self.agents.insert(call, leg);
                Ok(call)
            }
            Err(error) => {
                warn!(%error, agent = %login, "cannot ring the agent");
                Err(acd::OfferFailure::Unreachable)
            }
        }
    }

    async fn acd(&mut self, c: AcdCommand) {
        let Some(acd) = self.services.acd.clone() else {
            return;
        };
        match c {
            AcdCommand::Enqueue { queue } => {
                acd.enqueue(&self.call_id, &queue, false, self.inbox.clone())
            }
            AcdCommand::Report(input) => acd.input(input),
            AcdCommand::Transfer { queue } => {
                // The ACD answers at once; its `Transferred` for this call follows in the inbox.
                let result =
                    acd.transfer(&self.call_id, &queue)
                        .await
                        .map_err(|error| TransferRefused {
                            status: match error {
                                acd::AcdError::UnknownQueue(_) => 404,
                                _ => 503,
                            },
                            reason: error.to_string(),
                        });
                self.core
                    .handle(Input::TransferResult(result), Instant::now());
            }
        }
    }

    fn crm(&mut self, c: CrmCommand) {
        match c {
            CrmCommand::LookupPin { id, pin } => {
                let verdict = self
                    .services
                    .pins()
                    .check(self.caller.as_deref(), Instant::now());
                match verdict.reason() {
                    None => self.lookup(id, Lookup::Pin(pin)),
                    Some(reason) => self
                        .core
                        .handle(Input::PinRefused { id, reason }, Instant::now()),
                }
            }
            CrmCommand::LookupAni { id, number } => self.lookup(id, Lookup::Ani(number)),
            CrmCommand::Card(write) => {
                if let Some(card) = &self.services.card {
                    card.write(card_write(&self.call_id, write));
                }
            }
            CrmCommand::OpenTicket {
                queue,
                agent,
                waited,
                title,
                sr_type,
                area,
            } => {
                let services = self.services.clone();
                let inbox = self.inbox.clone();
                let call_id = self.call_id.clone();
                tokio::spawn(
                    async move {
                        let ticket = open_ticket(
                            &services,
                            &call_id,
                            Answer {
                                queue,
                                agent,
                                waited,
                                title,
                                sr_type,
                                area,
                            },
                        )
                        .await;
                        let _ = inbox.send(Input::TicketOpened(ticket));
                    }
                    .in_current_span(),
                );
            }
            CrmCommand::MoveTicket { agent, queue } => {
                let services = self.services.clone();
                let call_id = self.call_id.clone();
                tokio::spawn(
                    async move { move_ticket_on_transfer(&services, &call_id, &agent, &queue).await }
                        .in_current_span(),
                );
            }
        }
    }

    /// A customer lookup beside the call; the machine gives it up after its own limit.
    fn lookup(&mut self, id: u32, what: Lookup) {
        let Some(store) = self.services.store.clone() else {
            self.core
                .handle(Input::LookupResult { id, found: None }, Instant::now());
            return;
        };
        let inbox = self.inbox.clone();
        let services = self.services.clone();
        let caller = self.caller.clone();
        tokio::spawn(
            async move {
                let now = Utc::now();
                let found = match &what {
                    Lookup::Pin(pin) => store.customer_by_pin(pin, crm::Actor::System, now).await,
                    Lookup::Ani(number) => {
                        store
                            .customer_by_phone(number, crm::Actor::System, now)
                            .await
                    }
                };
                let found = match found {
                    Ok(found) => found.map(|c| Customer {
                        id: c.id.0,
                        name: c.full_name,
                    }),
                    Err(error) => {
                        // A malformed number is a miss, not a failure of the service.
                        info!(%error, "lookup found nothing");
                        None
                    }
                };
                if found.is_none() && matches!(what, Lookup::Pin(_)) {
                    services.pins().failed(caller.as_deref(), Instant::now());
                }
                let _ = inbox.send(Input::LookupResult { id, found });
            }
            .in_current_span(),
        );
    }

    /// The voicemail boxes' work (files, quota, the hand-off to the CRM) runs beside the call.
    fn voicemail(&mut self, c: VoicemailCommand) {
        let Some(vm) = self.services.voicemail.clone() else {
            let now = Instant::now();
            match c {
                VoicemailCommand::Admit { .. } => {
                    warn!("no voicemail storage configured");
                    self.core.handle(
                        Input::VoicemailAdmitted(Err(VoicemailRefusal::Unavailable(
                            "no voicemail storage configured".into(),
                        ))),
                        now,
                    );
                }
                VoicemailCommand::File { .. } => {
                    self.core.handle(Input::VoicemailFiled(Filing::NoCrm), now)
                }
                VoicemailCommand::Discard { .. } => {}
            }
            return;
        };
        let inbox = self.inbox.clone();
        let call_id = self.call_id.clone();
        let queue = vm.settings().queue.clone();
        tokio::spawn(
            async move {
                let answer = match c {
                    VoicemailCommand::Admit { mailbox } => {
                        Input::VoicemailAdmitted(vm.admit(&mailbox, &call_id).await.map_err(
                            |refusal| match refusal {
                                voicemail::Refusal::Unavailable(why) => {
                                    VoicemailRefusal::Unavailable(why)
                                }
                                voicemail::Refusal::Full(why) => VoicemailRefusal::Full(why),
                            },
                        ))
                    }
                    VoicemailCommand::Discard { path } => {
                        vm.discard(&path).await;
                        return;
                    }
                    VoicemailCommand::File {
                        mailbox,
                        path,
                        duration,
                        caller,
                    } => {
                        let message = voicemail::Message {
                            call_id,
                            caller,
                            mailbox,
                            path,
                            duration,
                        };
                        Input::VoicemailFiled(match vm.file(message).await {
                            voicemail::Filing::Opened { number } => {
                                Filing::Opened { number, queue }
                            }
                            voicemail::Filing::Joined { number } => Filing::Joined { number },
                            voicemail::Filing::Pending => Filing::Pending,
                        })
                    }
                };
                let _ = inbox.send(answer);
            }
            .in_current_span(),
        );
    }
}

enum Lookup {
    Pin(String),
    Ani(String),
}

/// The call card's write, stamped with the wall clock.
fn card_write(call_id: &str, write: CardWrite) -> CallWrite {
    let call_id = call_id.to_string();
    match write {
        CardWrite::Start {
            sip_call_id,
            caller,
            dialled,
        } => CallWrite::StartCall(NewCall {
            call_id,
            sip_call_id: Some(sip_call_id),
            caller,
            dialled,
            started: Utc::now(),
        }),
        CardWrite::Step(step) => CallWrite::IvrStep { call_id, step },
        CardWrite::Identity { customer, result } => CallWrite::Identity {
            call_id,
            customer: customer.map(crm::CustomerId),
            result: match result {
                Identity::NotAttempted => IdentityResult::NotAttempted,
                Identity::Pin => IdentityResult::Pin,
                Identity::Ani => IdentityResult::Ani,
                Identity::Failed => IdentityResult::Failed,
            },
        },
        CardWrite::End { outcome } => CallWrite::EndCall {
            call_id,
            ended: Utc::now(),
            outcome: match outcome {
                events::CallOutcome::Answered => CallOutcome::Answered,
                events::CallOutcome::Abandoned => CallOutcome::Abandoned,
                events::CallOutcome::Voicemail => CallOutcome::Voicemail,
                events::CallOutcome::EndedInIvr => CallOutcome::EndedInIvr,
                events::CallOutcome::OutOfHours => CallOutcome::OutOfHours,
                events::CallOutcome::Interrupted => CallOutcome::Interrupted,
            },
        },
    }
}

/// What the machine knows of an answered call, for its Service Request.
struct Answer {
    queue: String,
    agent: String,
    waited: std::time::Duration,
    title: String,
    sr_type: Option<String>,
    area: Option<String>,
}

/// Opens the Service Request at answer (R-SR-1); its number, when the database took it.
async fn open_ticket(services: &Services, call_id: &str, a: Answer) -> Option<String> {
    let store = services.store.as_ref()?;
    let card = services.card.as_ref()?;
    // With the database away the queue and the agent are journaled by name, resolved when
    // the write is applied: the Service Request opens then, never lost.
    let queue_id = match store.queue_by_name(&a.queue).await {
        Ok(Some(id)) => Some(id),
        Ok(None) => {
            warn!(queue = %a.queue, "no CRM queue of that name: no Service Request");
            return None;
        }
        Err(error) => {
            warn!(%error, "CRM unreachable: the Service Request is journaled");
            None
        }
    };
    let agent = store.user_by_login(&a.agent).await.ok().flatten();
    let ticket_type = a
        .sr_type
        .as_deref()
        .and_then(|t| t.parse().ok())
        .unwrap_or(crm::TicketType::InformationRequest);
    let answered = AnsweredCall {
        queue: queue_id.unwrap_or(crm::QueueId(0)),
        agent: agent.as_ref().map(|u| u.id),
        agent_login: Some(a.agent.clone()),
        answered: Utc::now(),
        wait_ms: a.waited.as_millis() as u64,
        title: a.title,
        ticket_type,
        service_area: a.area,
    };
    let write = match queue_id {
        Some(_) => CallWrite::OpenTicket {
            call_id: call_id.to_string(),
            answered,
            now: Utc::now(),
        },
        None => CallWrite::OpenTicketNamed {
            call_id: call_id.to_string(),
            queue: a.queue.clone(),
            answered,
            now: Utc::now(),
        },
    };
    let ticket = card.open_ticket(write).await?;
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
    Some(ticket.number.to_string())
}

/// A transfer asked by the agent's phone (REFER): the call's Service Request goes to the
/// target queue as a second-level assignment by that agent, with a note saying how, as the
/// API's transfer does. A database that does not answer leaves the ticket where it was
/// (logged): the call itself is already on its way.
async fn move_ticket_on_transfer(services: &Services, call_id: &str, login: &str, queue: &str) {
    let Some(store) = services.store.as_ref() else {
        return;
    };
    let result: crm::Result<Option<String>> = async {
        let Some(ticket) = store.call(call_id).await?.ticket else {
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

/// Logs what a leg reports that the machine does not act on.
fn log_media(event: &MediaEvent) {
    match event {
        MediaEvent::RemoteLatched { addr } => debug!(%addr, "RTP latched to the peer's source"),
        other => debug!(?other, "media event"),
    }
}

/// An agent leg's media events: its RTP time-out goes to the call's inbox as
/// [`Input::AgentMediaTimeout`]; the rest is logged. Ends with the leg (or the call).
async fn agent_media(mut events: MediaEvents, call: CallRef, inbox: mpsc::UnboundedSender<Input>) {
    while let Some(event) = events.recv().await {
        match event {
            MediaEvent::RtpTimeout => {
                if inbox.send(Input::AgentMediaTimeout(call)).is_err() {
                    return;
                }
            }
            other => log_media(&other),
        }
    }
}

async fn next_media(events: &mut Option<MediaEvents>) -> Option<MediaEvent> {
    match events {
        Some(events) => events.recv().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}
