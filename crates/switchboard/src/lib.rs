//! # switchboard
//!
//! The call controller's tokio side. For each call the gateway offers, the switchboard starts a
//! thin driver task around the call's sans-IO machine (the `call` crate: IVR, queue, agent,
//! voicemail), routes the gateway's, the ACD's and the media engine's reports to it, and
//! carries its commands out; every step is published on the [`events::EventBus`].
//!
//! ## Run loop
//! [`Switchboard::run`] consumes the gateway's events until the gateway stops or a shutdown
//! is asked for and every call has ended. Each call lives in its own task; the run loop only
//! routes gateway events to them, so a slow call never delays another.

mod browser;
pub mod card;
pub mod config;
mod driver;
pub mod events;
pub mod items;
pub mod queues;
pub mod reload;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use media::{EngineStats, MediaEngine, Prompt, PromptLibrary};
use sip_gateway::gateway::{Gateway, GatewayStats};
use sip_gateway::transaction::Peer;
use sip_gateway::ua::{CallRef, OutgoingCall, UaError, UaEvent};
use tokio::sync::{mpsc, oneshot, watch};
use tracing::{info, warn};

use ::events::live::PortFuture;
use ::events::telemetry::{
    Histogram, MediaFigures, SEND_INTERVAL_BOUNDS, SipFigures, Telemetry, TelemetryProbe,
};

use ::call::{AgentLegEvent, Input as CallInput};
pub use browser::{BrowserCall, BrowserPhones};
pub use card::CardWriter;
pub use events::{Event, EventBus, Outcome};
pub use queues::{AcdHandle, TicketItem};
pub use reload::{Reload, prompt_users};

/// How calls to one dialled number are handled.
#[derive(Debug, Clone)]
pub struct CallSettings {
    /// Prompt language (a folder of the prompt library).
    pub language: String,
    /// Ringing time before the answer (180 Ringing is sent when it is not zero).
    pub answer_delay: Duration,
    /// A call is ended after this long in any case.
    pub max_duration: Duration,
}

/// Where an agent's phone is when it does not register (static contact).
#[derive(Debug, Clone)]
pub struct StaticPhone {
    /// The Request-URI of INVITEs to it.
    pub uri: rsip::Uri,
    /// Where to send them.
    pub peer: Peer,
}

/// Voicemail recording limits (R-IVR-5); the `voicemail` crate's.
pub use voicemail::VoicemailSettings;

/// Call handling: the default and per dialled number.
#[derive(Debug, Clone)]
pub struct SwitchboardConfig {
    pub default: CallSettings,
    pub numbers: HashMap<String, CallSettings>,
    /// The prompt looped while a caller waits in queue.
    pub hold_music: String,
    pub voicemail: VoicemailSettings,
    /// Agents' phones with a fixed address, by login.
    pub phones: HashMap<String, StaticPhone>,
    /// How the WebRTC legs of browser phones bind (`[webrtc]`); `plain_peer` is set per call.
    pub webrtc: webrtc_leg::LegConfig,
}

/// The engines and stores a switchboard drives.
pub struct Engines {
    /// The IVR tree new calls start on.
    pub ivr: Arc<ivr::Tree>,
    /// The ACD; without one, calls routed to a queue end.
    pub acd: Option<AcdHandle>,
    /// The CRM, for PIN and caller-number lookups and Service Requests.
    pub store: Option<crm::Store>,
    /// The call card writer (journaled).
    pub card: Option<CardWriter>,
    /// Mailboxes and the hand-off of messages to the CRM; without it, calls sent to
    /// voicemail are told it is unavailable.
    pub voicemail: Option<voicemail::Voicemail>,
}

/// Asks of call tasks that the run loop carries out.
enum Control {
    /// Place a call (to an agent's phone) whose events go to `inbox`.
    Place {
        out: Box<OutgoingCall>,
        inbox: mpsc::UnboundedSender<CallInput>,
        /// A browser phone's call: the agent and the WebRTC leg whose offer `out` carries.
        browser: Option<(String, webrtc_leg::OfferedLeg)>,
        reply: oneshot::Sender<Result<CallRef, UaError>>,
    },
}

/// How a call reaches the world: the SIP gateway, the media engine, the agents' phones, and
/// the run loop, which places calls so that a placed call's first response finds its route.
pub(crate) struct Lines {
    gateway: Gateway,
    media: MediaEngine,
    /// Agents' phones with a fixed address, by login; replaced whole by [`PhoneBook`].
    phones: RwLock<Arc<HashMap<String, StaticPhone>>>,
    control: mpsc::UnboundedSender<Control>,
    /// How browser phones' WebRTC legs bind.
    webrtc: webrtc_leg::LegConfig,
    /// The WebRTC legs of browser phones' calls.
    browser: Arc<browser::BrowserLegs>,
}

impl Lines {
    /// Where to ring an agent: a registered binding first (the most recent), else the
    /// configured static contact.
    async fn phone_of(&self, login: &str) -> Option<StaticPhone> {
        let mut bindings = self.gateway.bindings(login).await;
        bindings.sort_by_key(|b| b.expires_at);
        if let Some(binding) = bindings.last()
            && let Ok(uri) = rsip::Uri::try_from(binding.contact_uri.as_str())
        {
            return Some(StaticPhone {
                uri,
                peer: binding.peer(),
            });
        }
        self.phones
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(login)
            .cloned()
    }

    /// Places a call through the run loop, so its events are routed to `inbox` from the
    /// first one on.
    async fn place_call(
        &self,
        out: OutgoingCall,
        inbox: mpsc::UnboundedSender<CallInput>,
        browser: Option<(String, webrtc_leg::OfferedLeg)>,
    ) -> Result<CallRef, UaError> {
        let (reply, rx) = oneshot::channel();
        self.control
            .send(Control::Place {
                out: Box::new(out),
                inbox,
                browser,
                reply,
            })
            .map_err(|_| UaError::NotPlaced("switchboard stopped".into()))?;
        rx.await
            .map_err(|_| UaError::NotPlaced("switchboard stopped".into()))?
    }
}

/// What callers go through and hear: the IVR tree and the prompts (each swapped whole by
/// administrators, [`IvrReloader`]: a call keeps the tree it started on, a playback the
/// prompts it holds), and the settings of each dialled number.
pub(crate) struct Script {
    ivr: RwLock<Arc<ivr::Tree>>,
    prompts: RwLock<Arc<PromptLibrary>>,
    default: CallSettings,
    numbers: HashMap<String, CallSettings>,
    /// The prompt looped while a caller waits in queue.
    hold_music: String,
    voicemail: VoicemailSettings,
}

impl Script {
    fn settings_for(&self, dialled: Option<&str>) -> CallSettings {
        dialled
            .and_then(|number| self.numbers.get(number))
            .unwrap_or(&self.default)
            .clone()
    }

    fn prompt(&self, language: &str, name: &str) -> Option<Arc<Prompt>> {
        self.prompts
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(language, name)
    }

    fn ivr_tree(&self) -> Arc<ivr::Tree> {
        self.ivr.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// The services a call hands its work to: the bus it publishes on, the ACD, the CRM, the
/// call card's writer and the voicemail boxes.
pub(crate) struct Services {
    bus: EventBus,
    acd: Option<AcdHandle>,
    store: Option<crm::Store>,
    card: Option<CardWriter>,
    voicemail: Option<voicemail::Voicemail>,
    /// Failed PINs across calls: a PIN is looked up only while it allows.
    pins: Mutex<::call::PinGuard>,
}

impl Services {
    /// The PIN guard (a poisoned lock still holds a usable count).
    pub(crate) fn pins(&self) -> std::sync::MutexGuard<'_, ::call::PinGuard> {
        self.pins.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The calls in progress: counted for telemetry, and signalled when one ends so that a
/// shutdown can wait for the last.
pub(crate) struct Tally {
    active: Arc<AtomicU64>,
    finished: mpsc::UnboundedSender<()>,
}

impl Tally {
    fn started(&self) {
        self.active.fetch_add(1, Ordering::Relaxed);
    }

    fn finished(&self) {
        self.active.fetch_sub(1, Ordering::Relaxed);
        let _ = self.finished.send(());
    }

    fn active(&self) -> u64 {
        self.active.load(Ordering::Relaxed)
    }
}

/// What a call's task is given: each handle for its own purpose.
#[derive(Clone)]
pub(crate) struct CallHandles {
    lines: Arc<Lines>,
    script: Arc<Script>,
    services: Arc<Services>,
    tally: Arc<Tally>,
}

/// Reads the engines' counters without disturbing calls; the consoles read them through
/// [`events::telemetry::TelemetryProbe`].
#[derive(Clone)]
pub struct TelemetrySource {
    gateway: Gateway,
    media: MediaEngine,
    active: Arc<AtomicU64>,
}

impl TelemetrySource {
    pub async fn snapshot(&self) -> Telemetry {
        Telemetry {
            calls_active: self.active.load(Ordering::Relaxed),
            sip: self.gateway.stats().await.map(sip_figures),
            media: media_figures(&self.media.stats()),
        }
    }
}

impl TelemetryProbe for TelemetrySource {
    fn read(&self) -> PortFuture<'_, Telemetry> {
        Box::pin(self.snapshot())
    }
}

fn sip_figures(sip: GatewayStats) -> SipFigures {
    let t = &sip.transactions_stats;
    SipFigures {
        datagrams_received: sip.datagrams_received,
        datagrams_sent: sip.datagrams_sent,
        malformed: sip.ua.malformed,
        denied: sip.ua.denied,
        auth_failures: sip.ua.auth_failures,
        registers_dropped: sip.registrar.as_ref().map_or(0, |r| r.challenges_dropped),
        registered_phones: sip.registrar.map(|r| r.registered_users as u64),
        transactions_live: sip.transactions as u64,
        server_transactions: t.server_created,
        client_transactions: t.client_created,
        retransmissions_sent: t.retransmissions_sent,
        retransmissions_absorbed: t.retransmissions_absorbed,
        timeouts_no_answer: t.timeouts,
        timeouts_no_ack: t.ack_timeouts,
        tcp_connections: sip.tcp_connections as u64,
        ws_connections: sip.ws.open as u64,
        ws_refused_upgrades: sip.ws.refused_connections,
        ws_refused_messages: sip.ws.refused_frames,
        ws_timed_out: sip.ws.timed_out,
        dialogs_active: sip.calls as u64,
    }
}

fn media_figures(media: &EngineStats) -> MediaFigures {
    let h = &media.send_interval;
    MediaFigures {
        legs_active: media.legs_active,
        rtp_packets_sent: media.rtp_packets_sent,
        rtp_packets_received: media.rtp_packets_received,
        rtp_packets_relayed: media.rtp_packets_relayed,
        rtcp_packets_sent: media.rtcp_packets_sent,
        late_ticks: media.late_ticks,
        rtp_foreign_packets: media.rtp_foreign_packets,
        send_interval: Histogram {
            buckets: SEND_INTERVAL_BOUNDS
                .iter()
                .map(|&bound| (bound, h.count_at_most(Duration::from_secs_f64(bound))))
                .collect(),
            count: h.count(),
            sum: h.sum(),
        },
    }
}

/// The call controller.
pub struct Switchboard {
    handles: CallHandles,
    finished: mpsc::UnboundedReceiver<()>,
    control: mpsc::UnboundedReceiver<Control>,
}

/// Where the run loop sends a SIP call's events.
struct Route {
    inbox: mpsc::UnboundedSender<CallInput>,
    /// A leg we placed toward an agent (its events are wrapped as [`AgentLegEvent`]).
    placed: bool,
}

/// Replaces the agents' phones at fixed addresses: offers made from now on ring the new ones.
#[derive(Clone)]
pub struct PhoneBook {
    lines: Arc<Lines>,
}

impl PhoneBook {
    pub fn replace(&self, phones: HashMap<String, StaticPhone>) {
        *self.lines.phones.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(phones);
    }
}

/// Replaces the IVR tree of new calls; calls in progress finish on theirs.
#[derive(Clone)]
pub struct IvrReloader {
    script: Arc<Script>,
}

impl IvrReloader {
    pub fn replace(&self, tree: Arc<ivr::Tree>) {
        *self.script.ivr.write().unwrap_or_else(|e| e.into_inner()) = tree;
        info!("IVR tree replaced: new calls use it");
    }

    /// Replaces every prompt at once (an administrator uploaded, replaced, deleted or restored
    /// some): playbacks that start from now on use the new ones.
    pub fn replace_prompts(&self, prompts: Arc<PromptLibrary>) {
        *self
            .script
            .prompts
            .write()
            .unwrap_or_else(|e| e.into_inner()) = prompts;
        info!("prompts replaced: new playbacks use them");
    }

    /// The prompts in force.
    pub fn prompts(&self) -> Arc<PromptLibrary> {
        self.script
            .prompts
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// Prompts the switchboard itself plays, whatever the IVR tree says: queue announcements
/// (with the `num_*` numbers), the transfer notice, the voicemail beep and notices. An
/// administrator may replace them but not delete them.
pub const SYSTEM_PROMPTS: &[&str] = &[
    "beep",
    "transfer",
    "queue_position",
    "queue_in_line",
    "queue_wait",
    "less_than_a_minute",
    "minute",
    "minutes",
    "voicemail_saved",
    "voicemail_too_long",
];

impl Switchboard {
    pub fn new(
        gateway: Gateway,
        media: MediaEngine,
        prompts: Arc<PromptLibrary>,
        bus: EventBus,
        config: SwitchboardConfig,
        engines: Engines,
    ) -> Self {
        let (finished_tx, finished) = mpsc::unbounded_channel();
        let (control_tx, control) = mpsc::unbounded_channel();
        Switchboard {
            handles: CallHandles {
                lines: Arc::new(Lines {
                    gateway,
                    media,
                    phones: RwLock::new(Arc::new(config.phones)),
                    control: control_tx,
                    webrtc: config.webrtc,
                    browser: Arc::default(),
                }),
                script: Arc::new(Script {
                    ivr: RwLock::new(engines.ivr),
                    prompts: RwLock::new(prompts),
                    default: config.default,
                    numbers: config.numbers,
                    hold_music: config.hold_music,
                    voicemail: config.voicemail,
                }),
                services: Arc::new(Services {
                    bus,
                    acd: engines.acd,
                    store: engines.store,
                    card: engines.card,
                    voicemail: engines.voicemail,
                    pins: Mutex::new(::call::PinGuard::new(::call::PinLimits::default())),
                }),
                tally: Arc::new(Tally {
                    active: Arc::new(AtomicU64::new(0)),
                    finished: finished_tx,
                }),
            },
            finished,
            control,
        }
    }

    /// Limits on failed PINs across calls (`[call]` `pin_failures_*`); the defaults of
    /// [`call::PinLimits`] until set. Counts so far are forgotten.
    #[must_use]
    pub fn with_pin_limits(self, limits: ::call::PinLimits) -> Self {
        *self.handles.services.pins() = ::call::PinGuard::new(limits);
        self
    }

    pub fn telemetry(&self) -> TelemetrySource {
        TelemetrySource {
            gateway: self.handles.lines.gateway.clone(),
            media: self.handles.lines.media.clone(),
            active: self.handles.tally.active.clone(),
        }
    }

    /// The browser phones in a call and their quality, for the supervisor.
    pub fn browser_phones(&self) -> BrowserPhones {
        BrowserPhones {
            legs: self.handles.lines.browser.clone(),
            gateway: self.handles.lines.gateway.clone(),
        }
    }

    /// A handle that replaces the agents' static phones (the administration changed them).
    pub fn phone_book(&self) -> PhoneBook {
        PhoneBook {
            lines: self.handles.lines.clone(),
        }
    }

    /// A handle that swaps the IVR tree and the prompts (SIGHUP, admin API).
    pub fn ivr_reloader(&self) -> IvrReloader {
        IvrReloader {
            script: self.handles.script.clone(),
        }
    }

    /// Routes gateway events to call tasks until the gateway stops, or until `shutdown` turns
    /// true and every call has ended (new calls are then refused with 503).
    pub async fn run(
        mut self,
        mut gateway_events: mpsc::UnboundedReceiver<UaEvent>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let mut routes: HashMap<CallRef, Route> = HashMap::new();
        let gateway = self.handles.lines.gateway.clone();
        let acd = self.handles.services.acd.clone();
        let mut registrations = gateway.subscribe_registrations();
        let mut stopping = false;
        loop {
            if stopping && self.handles.tally.active() == 0 {
                info!("all calls ended");
                return;
            }
            tokio::select! {
                event = gateway_events.recv() => match event {
                    Some(UaEvent::IncomingCall(incoming)) => {
                        if stopping {
                            gateway.reject(incoming.call, 503);
                            self.handles.services.bus.publish(Event::CallRefused {
                                caller: incoming.caller().map(str::to_string),
                                called: incoming.dialled.clone(),
                                reason: "shutdown".into(),
                                at: chrono::Utc::now(),
                            });
                            continue;
                        }
                        let (tx, rx) = mpsc::unbounded_channel();
                        routes.insert(incoming.call, Route { inbox: tx.clone(), placed: false });
                        self.handles.tally.started();
                        driver::spawn(self.handles.clone(), new_call_id(), *incoming, rx, tx);
                    }
                    Some(UaEvent::MediaChanged { call, media }) => {
                        if let Some(route) = routes.get(&call) {
                            let _ = route.inbox.send(if route.placed {
                                CallInput::Agent(call, AgentLegEvent::MediaChanged(media))
                            } else {
                                CallInput::CallerMediaChanged(media)
                            });
                        }
                    }
                    Some(UaEvent::Progress { call, status }) => {
                        if let Some(route) = routes.get(&call) {
                            let _ = route.inbox.send(CallInput::Agent(call, AgentLegEvent::Progress(status)));
                        }
                    }
                    Some(UaEvent::Answered { call, media }) => {
                        if let Some(route) = routes.get(&call) {
                            let _ = route.inbox.send(CallInput::Agent(call, AgentLegEvent::Answered(media)));
                        }
                    }
                    // A browser phone answered: its WebRTC leg takes the answer, and the call
                    // hears of an ordinary answer whose RTP goes through the leg.
                    Some(UaEvent::AnsweredSdp { call, sdp }) => {
                        match self.handles.lines.browser.answered(call, &sdp) {
                            Ok(media) => {
                                if let Some(route) = routes.get(&call) {
                                    let _ = route.inbox.send(CallInput::Agent(call, AgentLegEvent::Answered(media)));
                                }
                            }
                            Err(error) => {
                                warn!(?call, %error, "browser phone's answer refused: hanging up");
                                gateway.hangup(call);
                            }
                        }
                    }
                    Some(UaEvent::TransferRequested { call, target, .. }) => match routes.get(&call) {
                        Some(route) if route.placed => {
                            let user = target.user;
                            let _ = route.inbox.send(CallInput::Agent(call, AgentLegEvent::TransferRequested { user }));
                        }
                        // The trunk's side cannot move its own caller: only agents transfer.
                        _ => {
                            info!(?call, target = %target.uri, "REFER on a caller's leg declined");
                            gateway.notify_transfer(call, 603);
                        }
                    },
                    // Refused at the trunk before it was a call: only the event log hears
                    // of it (SLA.C.1 counts it as a contact that found no free line).
                    Some(UaEvent::CallRefused { caller, called, reason, .. }) => {
                        self.handles.services.bus.publish(Event::CallRefused {
                            caller,
                            called,
                            reason: reason.into(),
                            at: chrono::Utc::now(),
                        });
                    }
                    Some(UaEvent::CallEnded { call, reason }) => {
                        self.handles.lines.browser.ended(call);
                        if let Some(route) = routes.remove(&call) {
                            let _ = route.inbox.send(if route.placed {
                                CallInput::Agent(call, AgentLegEvent::Ended(reason))
                            } else {
                                CallInput::CallerEnded(reason)
                            });
                        }
                    }
                    None => {
                        warn!("gateway stopped");
                        return;
                    }
                },
                Some(control) = self.control.recv() => match control {
                    Control::Place { out, inbox, browser, reply } => {
                        // Awaited here, before the next gateway event is read: the placed
                        // call's first response cannot overtake its route (nor its browser
                        // leg).
                        let placed = gateway.call(*out).await;
                        if let Ok(call) = &placed {
                            routes.insert(*call, Route { inbox, placed: true });
                            if let Some((login, leg)) = browser {
                                self.handles.lines.browser.placed(*call, login, leg);
                            }
                        }
                        let _ = reply.send(placed);
                    }
                },
                registration = registrations.recv() => match registration {
                    Ok(event) => {
                        info!(user = %event.user, registered = event.registered, contacts = event.bindings.len(), "agent phone registration");
                        if let Some(acd) = &acd {
                            acd.input(acd::Input::AgentRegistered {
                                login: event.user.clone(),
                                registered: event.registered,
                            });
                        }
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        warn!(missed = n, "registration events missed: resynchronising");
                        if let Some(acd) = &acd {
                            for user in gateway.registered_users().await {
                                acd.input(acd::Input::AgentRegistered { login: user, registered: true });
                            }
                        }
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => {
                        registrations = gateway.subscribe_registrations();
                    }
                },
                changed = shutdown.changed(), if !stopping => {
                    if changed.is_err() || *shutdown.borrow() {
                        info!(calls = routes.len(), "shutting down: ending calls in progress");
                        stopping = true;
                        for route in routes.values().filter(|r| !r.placed) {
                            let _ = route.inbox.send(CallInput::Shutdown);
                        }
                    }
                }
                Some(()) = self.finished.recv() => {}
            }
        }
    }
}

/// A call id unique across nodes and sortable by time (UUID v7).
fn new_call_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_ids_are_uuid_v7_and_distinct() {
        let a = new_call_id();
        let b = new_call_id();
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "7", "version nibble: {a}");
        assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"), "variant: {a}");
    }
}
