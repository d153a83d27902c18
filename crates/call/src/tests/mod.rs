//! The call in virtual time (quinn's `Pair` style): a [`World`] plays the gateway, the media
//! engine, the ACD, the CRM and the voicemail store around one [`Call`], answers what they
//! would answer at once, and lets a test decide everything else (when a phone answers, when
//! a playback ends, when a lookup comes back) and jump the clock to the next deadline.

mod flows;
mod privacy;
mod properties;
mod secrets;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use acd::{Action, CallKey};
use chrono::TimeZone;
use media::{Codec, Direction};
use sip_gateway::sdp::Negotiated;
use sip_gateway::ua::{CallRef, EndReason};

use crate::*;

const TREE: &str = r#"
[ivr]
default_language = "it"
default_entry = "route"

[ivr.timers]
digit_timeout_ms = 5000
inter_digit_timeout_ms = 3000

[ivr.entries]
"100" = "route"
"200" = "ani"
"300" = "mailbox"
"400" = "hangup"
"500" = "menu"
"600" = "pin"

[ivr.schedules.main]
[ivr.schedules.main.calendar]
always_open = true

[ivr.nodes.route]
kind = "route"
queue = "q1"
area = "a1"

[ivr.nodes.ani]
kind = "identify"
method = "ani"
on_success = "route"
on_failure = "route"

[ivr.nodes.mailbox]
kind = "voicemail"
mailbox = "general"

[ivr.nodes.hangup]
kind = "hangup"
prompts = "goodbye"

[ivr.nodes.menu]
kind = "menu"
prompts = "menu_main"
options = { "1" = "route", "2" = "mailbox", "3" = "pin" }
labels = { "1" = "Servizi al cittadino" }
attempts = 2
on_failure = "hangup"

[ivr.nodes.pin]
kind = "identify"
method = "pin"
prompts = "pin_request"
max_digits = 5
min_digits = 5
attempts = 2
invalid_prompts = "pin_invalid"
on_success = "route"
on_failure = "route"
"#;

#[derive(serde::Deserialize)]
struct File {
    ivr: ivr::IvrConfig,
}

pub(crate) fn tree() -> Arc<ivr::Tree> {
    let cfg = toml::from_str::<File>(TREE).unwrap().ivr;
    match ivr::Tree::build(&cfg, &|_| true) {
        Ok((tree, _)) => tree,
        Err(problems) => panic!("{problems:#?}"),
    }
}

pub(crate) fn negotiated(direction: Direction) -> Negotiated {
    Negotiated {
        remote_rtp: "127.0.0.1:30000".parse().unwrap(),
        codec: Codec::Pcmu,
        payload_type: 0,
        dtmf_payload_type: Some(101),
        ptime_ms: 20,
        remote_direction: direction,
        local_direction: direction,
        media_index: 0,
    }
}

pub(crate) fn settings() -> Settings {
    Settings {
        language: "it".into(),
        answer_delay: Duration::ZERO,
        max_duration: Duration::from_secs(3600),
        hold_music: "hold_music".into(),
        voicemail: VoicemailLimits {
            greeting_prompt: "voicemail_greeting".into(),
            max_length: Duration::from_secs(120),
            min_length: Duration::from_secs(1),
        },
        acd: true,
    }
}

pub(crate) const LOCAL_RTP: &str = "127.0.0.1:40000";
pub(crate) const CALL_ID: &str = "0190a5f0-0000-7000-8000-000000000001";

/// What the fakes answer at once; `None` leaves the answer to the test.
pub(crate) struct Auto {
    pub place: bool,
    pub bridge: Option<Result<(), String>>,
    pub ticket: Option<Option<String>>,
    pub admit: Option<Result<PathBuf, VoicemailRefusal>>,
    pub file: Option<Filing>,
    pub lookup: Option<Option<Customer>>,
    pub transfer: Option<Result<(), TransferRefused>>,
    /// PIN lookups go through this guard first, as the switchboard's do (shared by the
    /// calls of a test); a miss is reported to it.
    pub pins: Option<std::rc::Rc<std::cell::RefCell<PinGuard>>>,
}

impl Default for Auto {
    fn default() -> Self {
        Auto {
            place: true,
            bridge: Some(Ok(())),
            ticket: Some(Some("2026120210000011".into())),
            admit: Some(Ok(PathBuf::from("/vm/general/call.wav"))),
            file: Some(Filing::Opened {
                number: "2026120210000012".into(),
                queue: "voicemail".into(),
            }),
            lookup: Some(None),
            transfer: Some(Ok(())),
            pins: None,
        }
    }
}

pub(crate) struct World {
    pub call: Call,
    pub now: Instant,
    /// Every command so far, in order.
    pub out: Vec<Command>,
    seen: usize,
    next_leg: u64,
    pub auto: Auto,
    /// Placements the test answers itself (agent logins).
    pub held_placements: Vec<String>,
    /// Lookups the test answers itself (ids).
    pub held_lookups: Vec<u32>,
    /// Every agent leg the fakes placed, in order.
    pub legs: Vec<CallRef>,
    /// The caller's number (the PIN guard's key).
    pub caller: Option<String>,
    /// The ends the gateway owes for legs the call hung up.
    pub owed: VecDeque<Input>,
    answers: VecDeque<Input>,
}

impl World {
    pub fn start(dialled: &str) -> World {
        World::with(dialled, settings(), Auto::default())
    }

    pub fn with(dialled: &str, settings: Settings, auto: Auto) -> World {
        World::build(dialled, settings, auto, false)
    }

    /// A call whose trusted trunk asked that the caller's number be withheld.
    pub fn withheld(dialled: &str, auto: Auto) -> World {
        World::build(dialled, settings(), auto, true)
    }

    fn build(dialled: &str, settings: Settings, auto: Auto, caller_withheld: bool) -> World {
        let t0 = Instant::now();
        let setup = Setup {
            id: CALL_ID.into(),
            sip_call_id: "sip-1@example.org".into(),
            caller: Some("+390600000001".into()),
            caller_withheld,
            dialled: Some(dialled.into()),
            media: negotiated(Direction::SendRecv),
            settings,
            tree: tree(),
            wall: chrono::Utc.with_ymd_and_hms(2026, 12, 2, 10, 0, 0).unwrap(),
        };
        let mut w = World {
            call: Call::new(setup, t0),
            now: t0,
            out: Vec::new(),
            seen: 0,
            next_leg: 100,
            auto,
            held_placements: Vec::new(),
            held_lookups: Vec::new(),
            owed: VecDeque::new(),
            legs: Vec::new(),
            caller: Some("+390600000001".into()),
            answers: VecDeque::new(),
        };
        w.pump();
        w
    }

    /// Feeds an input at the current time and everything the fakes answer to it.
    pub fn input(&mut self, input: Input) {
        self.call.handle(input, self.now);
        self.pump();
    }

    /// Moves the clock by `d`, firing every deadline on the way in order.
    pub fn advance(&mut self, d: Duration) {
        let until = self.now + d;
        while let Some(t) = self.call.poll_timeout()
            && t <= until
        {
            self.now = self.now.max(t);
            self.call.handle_timeout(self.now);
            self.pump();
        }
        self.now = until;
    }

    /// The commands given since the last call of `take`.
    pub fn take(&mut self) -> Vec<Command> {
        let new = self.out[self.seen..].to_vec();
        self.seen = self.out.len();
        new
    }

    fn pump(&mut self) {
        loop {
            while let Some(c) = self.call.poll_command() {
                self.answer(&c);
                self.out.push(c);
            }
            match self.answers.pop_front() {
                Some(input) => self.call.handle(input, self.now),
                None => break,
            }
        }
    }

    fn answer(&mut self, c: &Command) {
        let answer = match c {
            Command::Media(MediaCommand::AllocateCaller) => {
                Some(Input::CallerMediaAllocated(Ok(LOCAL_RTP
                    .parse::<SocketAddr>()
                    .unwrap())))
            }
            Command::Media(MediaCommand::Bridge { .. }) => {
                self.auto.bridge.clone().map(Input::Bridged)
            }
            Command::PlaceAgentLeg { agent, .. } => {
                if self.auto.place {
                    Some(Input::AgentLegPlaced {
                        agent: agent.clone(),
                        result: Ok(self.new_leg()),
                    })
                } else {
                    self.held_placements.push(agent.clone());
                    None
                }
            }
            Command::Crm(CrmCommand::OpenTicket { .. }) => {
                self.auto.ticket.clone().map(Input::TicketOpened)
            }
            Command::Crm(CrmCommand::LookupPin { id, .. }) if self.auto.pins.is_some() => {
                let pins = self.auto.pins.clone().unwrap();
                let caller = self.caller.clone();
                let verdict = pins.borrow_mut().check(caller.as_deref(), self.now);
                match verdict.reason() {
                    Some(reason) => Some(Input::PinRefused { id: *id, reason }),
                    None => {
                        let found = self.auto.lookup.clone().flatten();
                        if found.is_none() {
                            pins.borrow_mut().failed(caller.as_deref(), self.now);
                        }
                        Some(Input::LookupResult { id: *id, found })
                    }
                }
            }
            Command::Crm(CrmCommand::LookupPin { id, .. } | CrmCommand::LookupAni { id, .. }) => {
                match self.auto.lookup.clone() {
                    Some(found) => Some(Input::LookupResult { id: *id, found }),
                    None => {
                        self.held_lookups.push(*id);
                        None
                    }
                }
            }
            Command::Acd(AcdCommand::Transfer { .. }) => {
                self.auto.transfer.clone().map(Input::TransferResult)
            }
            Command::Voicemail(VoicemailCommand::Admit { .. }) => {
                self.auto.admit.clone().map(Input::VoicemailAdmitted)
            }
            Command::Voicemail(VoicemailCommand::File { .. }) => {
                self.auto.file.clone().map(Input::VoicemailFiled)
            }
            Command::Gateway(GatewayCommand::Hangup(Leg::Caller)) => {
                self.owed
                    .push_back(Input::CallerEnded(EndReason::LocalHangup));
                None
            }
            Command::Gateway(GatewayCommand::Hangup(Leg::Agent(call))) => {
                self.owed.push_back(Input::Agent(
                    *call,
                    AgentLegEvent::Ended(EndReason::LocalHangup),
                ));
                None
            }
            _ => None,
        };
        if let Some(a) = answer {
            self.answers.push_back(a);
        }
    }

    pub fn new_leg(&mut self) -> CallRef {
        self.next_leg += 1;
        self.legs.push(CallRef(self.next_leg));
        CallRef(self.next_leg)
    }

    /// Delivers the ends the gateway owes (our hang-ups confirmed).
    pub fn deliver_owed(&mut self) {
        while let Some(input) = self.owed.pop_front() {
            self.input(input);
        }
    }

    // ---- what tests ask about --------------------------------------------------------------

    pub fn key() -> CallKey {
        CallKey::from(CALL_ID)
    }

    pub fn offer(&mut self, agent: &str) {
        self.input(Input::Acd(Action::Offer {
            call: World::key(),
            agent: agent.into(),
        }));
    }

    /// The agent leg placed last.
    pub fn agent_leg(&self) -> CallRef {
        self.out
            .iter()
            .rev()
            .find_map(|c| match c {
                Command::Publish(events::Event::CallOffered { .. }) => Some(CallRef(self.next_leg)),
                _ => None,
            })
            .expect("an agent leg was placed")
    }

    pub fn acd_reports(&self) -> Vec<acd::Input> {
        self.out
            .iter()
            .filter_map(|c| match c {
                Command::Acd(AcdCommand::Report(r)) => Some(r.clone()),
                _ => None,
            })
            .collect()
    }

    pub fn steps(&self) -> Vec<String> {
        self.out
            .iter()
            .filter_map(|c| match c {
                Command::Crm(CrmCommand::Card(CardWrite::Step(s))) => Some(s.clone()),
                _ => None,
            })
            .collect()
    }

    pub fn finished(&self) -> Option<(events::Outcome, Option<events::CallOutcome>)> {
        let mut found = self.out.iter().filter_map(|c| match c {
            Command::Finished { outcome, journey } => Some((*outcome, *journey)),
            _ => None,
        });
        let first = found.next();
        assert!(found.next().is_none(), "finished twice: {:#?}", self.out);
        first
    }

    pub fn last_play(&self) -> (PlayToken, Vec<String>) {
        self.out
            .iter()
            .rev()
            .find_map(|c| match c {
                Command::Media(MediaCommand::Play { token, prompts, .. }) => {
                    Some((*token, prompts.clone()))
                }
                _ => None,
            })
            .expect("something was played")
    }

    pub fn count(&self, pred: impl Fn(&Command) -> bool) -> usize {
        self.out.iter().filter(|c| pred(c)).count()
    }

    /// Takes the call from the IVR into queue `q1` (dialled 100: a route node).
    pub fn queued() -> World {
        let w = World::start("100");
        assert_eq!(w.call.phase(), Phase::Queued, "{:#?}", w.out);
        w
    }

    /// Queued, offered to `agent`, ringing.
    pub fn ringing(agent: &str) -> World {
        let mut w = World::queued();
        w.offer(agent);
        assert_eq!(w.call.phase(), Phase::Offering);
        w
    }

    /// Ringing `agent`, who answers: bridged and talking.
    pub fn talking(agent: &str) -> World {
        let mut w = World::ringing(agent);
        let leg = w.agent_leg();
        w.input(Input::Agent(
            leg,
            AgentLegEvent::Answered(negotiated(Direction::SendRecv)),
        ));
        assert_eq!(w.call.phase(), Phase::Talking, "{:#?}", w.out);
        w
    }
}
