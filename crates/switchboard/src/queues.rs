//! The ACD's driver: one task owns the sans-IO [`acd::Blend`] (the call engine [`acd::Acd`]
//! with off-line items, R-ACD-5), feeds it what call tasks, the registrar, the API and the
//! item feeder ([`crate::items`]) report, runs its timers on tokio time, and carries its
//! actions to the call tasks (ring an agent, announce a position, overflow) and to the bus
//! (an item offered to an agent's desktop). Its events are translated once, into the bus's
//! typed `queue.*`, `agent.*` and `item.*` events; the queue log, the console's figures and
//! the metrics are derived from those by the event log's writer (console::record).
//!
//! Nothing here decides anything: distribution is the engine's.

use std::collections::HashMap;
use std::time::Instant;

use acd::{
    AcdError, AcdEvent, Action, AgentView, BlendError, BlendInput, CallKey, Input, ItemAction,
    ItemChannel, ItemKey, Mode, QueueStats, RequestedState,
};
use chrono::{DateTime, Utc};
use events::live::{
    AgentLive, AgentRequest, AgentsByStatus, ItemStep, LiveAcd, LiveView, PortFuture, QueueLive,
    Refused,
};
use events::{AgentMode, TicketChannel};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info, warn};

use crate::events::{Event, EventBus};
use ::call::Input as CallInput;

/// What the driver is asked.
enum Command {
    /// A call enters a queue; its task takes the ACD's actions for it through `tx`.
    Enqueue {
        call: CallKey,
        queue: String,
        at_head: bool,
        tx: mpsc::UnboundedSender<CallInput>,
    },
    Input(Input),
    SetState {
        login: String,
        state: RequestedState,
        reply: oneshot::Sender<Result<(), BlendError>>,
    },
    SetMode {
        login: String,
        mode: Mode,
        reply: oneshot::Sender<Result<(), BlendError>>,
    },
    Item {
        login: String,
        item: ItemKey,
        step: ItemStep,
        reply: oneshot::Sender<Result<(), BlendError>>,
    },
    /// What the CRM says of a written ticket now (see [`crate::items`]).
    Sync(TicketItem),
    /// A rescan of the CRM began: items queued before it and not in its answer are gone.
    RescanMark(oneshot::Sender<u64>),
    Rescanned {
        mark: u64,
        open: std::collections::HashSet<String>,
    },
    Snapshot(oneshot::Sender<LiveView>),
    Transfer {
        call: CallKey,
        queue: String,
        reply: oneshot::Sender<Result<(), acd::AcdError>>,
    },
    /// The desktop holds or resumes a call in conversation.
    Hold {
        call: CallKey,
        held: bool,
        reply: oneshot::Sender<Result<(), acd::AcdError>>,
    },
}

/// A written-channel ticket as the CRM has it now: what decides whether it is an item, where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketItem {
    /// The ticket number (the item's key).
    pub number: String,
    /// Its queue's name.
    pub queue: String,
    /// Its channel (e-mail, web, voicemail, fax).
    pub channel: ItemChannel,
    /// Its owner's login.
    pub owner: Option<String>,
    /// New or open: not pending, closed or merged.
    pub open: bool,
    /// Its subject, for the desktop's pop.
    pub subject: Option<String>,
    /// Its customer's name, for the desktop's pop.
    pub customer: Option<String>,
}

/// Talks to the ACD task; cheap to clone.
#[derive(Clone)]
pub struct AcdHandle {
    commands: mpsc::UnboundedSender<Command>,
}

impl AcdHandle {
    /// Starts the driver over `engine`, items with the default settings.
    pub fn spawn(engine: acd::Acd, bus: EventBus) -> AcdHandle {
        AcdHandle::spawn_blend(acd::Blend::new(engine, acd::BlendConfig::default()), bus)
    }

    /// Starts the driver over `engine` with its items (R-ACD-5).
    pub fn spawn_blend(engine: acd::Blend, bus: EventBus) -> AcdHandle {
        let (commands, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(engine, rx, bus));
        AcdHandle { commands }
    }

    /// Sets how an agent works (on-line, off-line, blended).
    pub async fn set_mode(&self, login: &str, mode: Mode) -> Result<(), BlendError> {
        let (reply, rx) = oneshot::channel();
        let stopped = || BlendError::Acd(AcdError::UnknownAgent(login.to_string()));
        self.commands
            .send(Command::SetMode {
                login: login.to_string(),
                mode,
                reply,
            })
            .map_err(|_| stopped())?;
        rx.await.map_err(|_| stopped())?
    }

    /// `login` accepts, declines or finishes item `number`.
    pub async fn item_step(
        &self,
        login: &str,
        number: &str,
        step: ItemStep,
    ) -> Result<(), BlendError> {
        let (reply, rx) = oneshot::channel();
        let stopped = || BlendError::UnknownItem(ItemKey::from(number));
        self.commands
            .send(Command::Item {
                login: login.to_string(),
                item: ItemKey::from(number),
                step,
                reply,
            })
            .map_err(|_| stopped())?;
        rx.await.map_err(|_| stopped())?
    }

    /// What the CRM says of a written ticket now: the ACD queues, moves or withdraws its item.
    pub fn sync_item(&self, ticket: TicketItem) {
        let _ = self.commands.send(Command::Sync(ticket));
    }

    /// A rescan of the CRM begins: the mark to give [`AcdHandle::rescanned`].
    pub(crate) async fn rescan_mark(&self) -> Option<u64> {
        let (tx, rx) = oneshot::channel();
        self.commands.send(Command::RescanMark(tx)).ok()?;
        rx.await.ok()
    }

    /// The rescan begun at `mark` found these tickets open: the items queued before the mark
    /// whose ticket is not among them are withdrawn.
    pub(crate) fn rescanned(&self, mark: u64, open: std::collections::HashSet<String>) {
        let _ = self.commands.send(Command::Rescanned { mark, open });
    }

    pub(crate) fn enqueue(
        &self,
        call: &str,
        queue: &str,
        at_head: bool,
        tx: mpsc::UnboundedSender<CallInput>,
    ) {
        let _ = self.commands.send(Command::Enqueue {
            call: CallKey::from(call),
            queue: queue.to_string(),
            at_head,
            tx,
        });
    }

    /// Reports something to the engine (offer answered or failed, call ended, abandon, an
    /// agent's registration).
    pub fn input(&self, input: Input) {
        let _ = self.commands.send(Command::Input(input));
    }

    /// Sets an agent's state (API, desktop, supervisor).
    pub async fn set_state(&self, login: &str, state: RequestedState) -> Result<(), BlendError> {
        let (reply, rx) = oneshot::channel();
        let stopped = || BlendError::Acd(AcdError::UnknownAgent(login.to_string()));
        self.commands
            .send(Command::SetState {
                login: login.to_string(),
                state,
                reply,
            })
            .map_err(|_| stopped())?;
        rx.await.map_err(|_| stopped())?
    }

    /// Transfers a call in conversation to `queue` (R-ACD-6): the agent enters wrap-up, the
    /// call task drops the agent's leg and the caller waits in `queue`.
    pub async fn transfer(&self, call_id: &str, queue: &str) -> Result<(), acd::AcdError> {
        let (reply, rx) = oneshot::channel();
        let call = CallKey::from(call_id);
        self.commands
            .send(Command::Transfer {
                call: call.clone(),
                queue: queue.to_string(),
                reply,
            })
            .map_err(|_| acd::AcdError::UnknownCall(call.clone()))?;
        rx.await.map_err(|_| acd::AcdError::UnknownCall(call))?
    }

    /// The agent in conversation on `call_id` holds (`true`) or resumes its caller from the
    /// desktop; `UnknownCall` when the ACD has no such call.
    pub async fn hold(&self, call_id: &str, held: bool) -> Result<(), acd::AcdError> {
        let (reply, rx) = oneshot::channel();
        let call = CallKey::from(call_id);
        self.commands
            .send(Command::Hold {
                call: call.clone(),
                held,
                reply,
            })
            .map_err(|_| acd::AcdError::UnknownCall(call.clone()))?;
        rx.await.map_err(|_| acd::AcdError::UnknownCall(call))?
    }

    /// The service is stopping: every signed-in agent is logged out with `reason`. Returns
    /// once the ACD has published their `agent.state` events on the bus (the snapshot that
    /// follows on the same channel is answered after the engine's outputs are drained), so
    /// an event log flushed afterwards has them.
    pub async fn log_out_all(&self, reason: &str) {
        self.input(Input::LogOutAll {
            reason: reason.to_string(),
        });
        let _ = self.snapshot().await;
    }

    /// The live view of queues and agents; `None` once the ACD task has stopped.
    pub async fn snapshot(&self) -> Option<LiveView> {
        let (tx, rx) = oneshot::channel();
        self.commands.send(Command::Snapshot(tx)).ok()?;
        rx.await.ok()
    }
}

/// The consoles' view of the ACD (CONTRACT.md `/api/v1/queues`, `/api/v1/agents`, agent
/// states, transfers), in the event vocabulary's words.
impl LiveAcd for AcdHandle {
    fn view(&self) -> PortFuture<'_, Option<LiveView>> {
        Box::pin(self.snapshot())
    }

    fn set_state<'a>(
        &'a self,
        login: &'a str,
        request: AgentRequest,
    ) -> PortFuture<'a, Result<(), Refused>> {
        let state = match request {
            AgentRequest::Ready => RequestedState::Ready,
            AgentRequest::NotReady { reason } => RequestedState::NotReady { reason },
            AgentRequest::LoggedOut => RequestedState::LoggedOut,
        };
        Box::pin(async move {
            AcdHandle::set_state(self, login, state)
                .await
                .map_err(blend_refused)
        })
    }

    fn set_mode<'a>(
        &'a self,
        login: &'a str,
        mode: AgentMode,
    ) -> PortFuture<'a, Result<(), Refused>> {
        let mode = match mode {
            AgentMode::Online => Mode::Online,
            AgentMode::Offline => Mode::Offline,
            AgentMode::Blended => Mode::Blended,
        };
        Box::pin(async move {
            AcdHandle::set_mode(self, login, mode)
                .await
                .map_err(blend_refused)
        })
    }

    fn item<'a>(
        &'a self,
        login: &'a str,
        number: &'a str,
        step: ItemStep,
    ) -> PortFuture<'a, Result<(), Refused>> {
        Box::pin(async move {
            AcdHandle::item_step(self, login, number, step)
                .await
                .map_err(blend_refused)
        })
    }

    fn transfer<'a>(
        &'a self,
        call_id: &'a str,
        queue: &'a str,
    ) -> PortFuture<'a, Result<(), Refused>> {
        Box::pin(async move {
            AcdHandle::transfer(self, call_id, queue)
                .await
                .map_err(refused)
        })
    }

    fn hold<'a>(&'a self, call_id: &'a str, held: bool) -> PortFuture<'a, Result<(), Refused>> {
        Box::pin(async move { AcdHandle::hold(self, call_id, held).await.map_err(refused) })
    }
}

fn blend_refused(error: BlendError) -> Refused {
    match error {
        BlendError::Acd(error) => refused(error),
        BlendError::UnknownItem(item) => Refused::UnknownItem(item.0),
        other => Refused::Other(other.to_string()),
    }
}

/// A call input's refusal in the call engine's words (items never refuse a call input but
/// for a ready request while holding one, which is not a call's).
fn call_error(error: BlendError, call: &CallKey) -> AcdError {
    match error {
        BlendError::Acd(error) => error,
        _ => AcdError::UnknownCall(call.clone()),
    }
}

fn refused(error: AcdError) -> Refused {
    match error {
        AcdError::UnknownAgent(login) => Refused::UnknownAgent(login),
        AcdError::UnknownQueue(queue) => Refused::UnknownQueue(queue),
        AcdError::UnknownCall(call) => Refused::UnknownCall(call.0),
        other => Refused::Other(other.to_string()),
    }
}

/// The engine's figures as the live view, with each agent's mode and item.
fn live_view(engine: &acd::Blend, at: Instant) -> LiveView {
    let mut view = live_view_of(at, engine.acd().queue_stats(at), engine.acd().agents(at));
    for agent in &mut view.agents {
        agent.mode = engine.mode(&agent.login).map(mode).unwrap_or_default();
        agent.item = engine.item_of(&agent.login).map(|key| {
            let accepted = engine.item(key).is_some_and(|i| i.accepted);
            (key.0.clone(), accepted)
        });
    }
    view
}

/// The vocabulary's word for a mode.
fn mode(mode: Mode) -> AgentMode {
    match mode {
        Mode::Online => AgentMode::Online,
        Mode::Offline => AgentMode::Offline,
        Mode::Blended => AgentMode::Blended,
    }
}

/// The vocabulary's word for an item's channel.
fn channel(channel: ItemChannel) -> TicketChannel {
    match channel {
        ItemChannel::Email => TicketChannel::Email,
        ItemChannel::Web => TicketChannel::Web,
        ItemChannel::Voicemail => TicketChannel::Voicemail,
        ItemChannel::Fax => TicketChannel::Fax,
    }
}

/// The engine's figures as the live view.
fn live_view_of(at: Instant, queues: Vec<QueueStats>, agents: Vec<AgentView>) -> LiveView {
    LiveView {
        at,
        queues: queues
            .into_iter()
            .map(|q| QueueLive {
                name: q.name,
                waiting: q.waiting,
                ringing: q.ringing,
                oldest_wait: q.oldest_wait,
                agents: AgentsByStatus {
                    logged_out: q.agents.logged_out,
                    ready: q.agents.ready,
                    ringing: q.agents.ringing,
                    talking: q.agents.talking,
                    wrap_up: q.agents.wrap_up,
                    not_ready: q.agents.not_ready,
                    available: q.agents.available,
                },
                expected_wait: q.expected_wait,
            })
            .collect(),
        agents: agents
            .into_iter()
            .map(|a| AgentLive {
                login: a.login,
                status: crate::events::status(a.state),
                reason: a.reason,
                since: a.since,
                registered: a.registered,
                queues: a.queues,
                current_call: a.current_call.map(|c| c.0),
                mode: AgentMode::Online,
                item: None,
            })
            .collect(),
    }
}

/// What the driver keeps of an item beside the engine: what the desktop's pop shows, and
/// when it was queued (a rescan withdraws only items older than itself).
struct ItemInfo {
    subject: Option<String>,
    customer: Option<String>,
    queued: u64,
}

/// The driver's state beside the engine.
struct Driver {
    engine: acd::Blend,
    bus: EventBus,
    calls: HashMap<CallKey, mpsc::UnboundedSender<CallInput>>,
    items: HashMap<ItemKey, ItemInfo>,
    /// Counts syncs and rescans: the order of item arrivals and rescan marks.
    clock: u64,
    /// Why the offers the engine cancels now end (`no_answer` unless withdrawing).
    cancel_reason: &'static str,
}

impl Driver {
    fn publish(&self, event: Event) {
        trace(&event);
        self.bus.publish(event);
    }

    /// An item's queue as the engine has it (empty for an unknown item).
    fn queue_of(&self, item: &ItemKey) -> String {
        self.engine.item(item).map(|i| i.queue).unwrap_or_default()
    }

    fn step(
        &mut self,
        login: String,
        item: ItemKey,
        step: ItemStep,
        now: Instant,
    ) -> Result<(), BlendError> {
        let queue = self.queue_of(&item);
        let at = Utc::now();
        let (input, event) = match step {
            ItemStep::Accept => (
                BlendInput::ItemAccepted {
                    item: item.clone(),
                    agent: login.clone(),
                },
                Event::ItemAccepted {
                    number: item.0.clone(),
                    queue,
                    agent: login,
                    at,
                },
            ),
            ItemStep::Decline => (
                BlendInput::ItemDeclined {
                    item: item.clone(),
                    agent: login.clone(),
                },
                Event::ItemDeclined {
                    number: item.0.clone(),
                    queue,
                    agent: login,
                    reason: "declined".into(),
                    at,
                },
            ),
            ItemStep::Done => (
                BlendInput::ItemDone {
                    item: item.clone(),
                    agent: login.clone(),
                },
                Event::ItemDone {
                    number: item.0.clone(),
                    queue,
                    agent: Some(login),
                    reason: "done".into(),
                    at,
                },
            ),
        };
        self.engine.handle(input, now)?;
        if step == ItemStep::Done {
            self.items.remove(&item);
        }
        self.publish(event);
        Ok(())
    }

    /// The CRM's word on a written ticket: queue, move or withdraw its item.
    fn sync(&mut self, t: TicketItem, now: Instant) {
        self.clock += 1;
        let key = ItemKey(t.number.clone());
        match self.engine.item(&key) {
            Some(view) => {
                let reason = if !t.open {
                    "closed"
                } else if let Some(owner) = &t.owner {
                    // The agent who accepted it took the ticket: theirs until done.
                    if view.agent.as_ref() == Some(owner) {
                        return;
                    }
                    "taken"
                } else if view.queue != t.queue {
                    "moved"
                } else {
                    // A rescan's sync says nothing of the customer: what was known stays.
                    if let Some(info) = self.items.get_mut(&key) {
                        info.subject = t.subject.or(info.subject.take());
                        info.customer = t.customer.or(info.customer.take());
                    }
                    return;
                };
                let known = self
                    .items
                    .get(&key)
                    .map(|i| (i.subject.clone(), i.customer.clone()));
                self.withdraw(&key, reason, now);
                if reason == "moved" {
                    let (subject, customer) = known.unwrap_or_default();
                    self.arrive(
                        TicketItem {
                            subject: t.subject.or(subject),
                            customer: t.customer.or(customer),
                            ..t
                        },
                        now,
                    );
                }
            }
            None if t.open && t.owner.is_none() && self.engine.takes_items(&t.queue) => {
                self.arrive(t, now);
            }
            None => {}
        }
    }

    fn arrive(&mut self, t: TicketItem, now: Instant) {
        let key = ItemKey(t.number.clone());
        self.items.insert(
            key.clone(),
            ItemInfo {
                subject: t.subject,
                customer: t.customer,
                queued: self.clock,
            },
        );
        // Published before the engine's offer, so the stream reads queued → offered.
        self.publish(Event::ItemQueued {
            number: t.number,
            queue: t.queue.clone(),
            channel: channel(t.channel),
            at: Utc::now(),
        });
        let input = BlendInput::ItemArrived {
            item: key.clone(),
            channel: t.channel,
            queue: t.queue,
        };
        if let Err(error) = self.engine.handle(input, now) {
            warn!(%error, item = %key.0, "item refused by the ACD");
            self.items.remove(&key);
        }
    }

    fn withdraw(&mut self, key: &ItemKey, reason: &'static str, now: Instant) {
        let Some(view) = self.engine.item(key) else {
            return;
        };
        self.cancel_reason = "withdrawn";
        let result = self
            .engine
            .handle(BlendInput::ItemWithdrawn { item: key.clone() }, now);
        // The cancelled offer's `item.declined` comes before the `item.done`.
        self.drain_items();
        self.cancel_reason = "no_answer";
        if result.is_ok() {
            self.items.remove(key);
            self.publish(Event::ItemDone {
                number: key.0.clone(),
                queue: view.queue,
                agent: view.agent.filter(|_| view.accepted),
                reason: reason.into(),
                at: Utc::now(),
            });
        }
    }

    /// A new configuration without some queue: its items leave first (their tickets stay in
    /// the CRM; were the change refused, the next rescan queues them again), so a queue
    /// holding written tickets never blocks the site's changes as a queue with calls does.
    fn unqueue_removed(&mut self, config: &acd::AcdConfig, now: Instant) {
        let gone: Vec<ItemKey> = self
            .items
            .keys()
            .filter(|key| {
                self.engine
                    .item(key)
                    .is_some_and(|i| !config.queues.iter().any(|q| q.name == i.queue))
            })
            .cloned()
            .collect();
        for key in gone {
            self.withdraw(&key, "queue_removed", now);
        }
    }

    /// Items queued before `mark` whose tickets a rescan no longer found open are gone.
    fn rescanned(&mut self, mark: u64, open: &std::collections::HashSet<String>, now: Instant) {
        let gone: Vec<ItemKey> = self
            .items
            .iter()
            .filter(|(key, info)| info.queued < mark && !open.contains(&key.0))
            .map(|(key, _)| key.clone())
            .collect();
        for key in gone {
            self.withdraw(&key, "closed", now);
        }
    }

    /// Carries the engine's item actions to the bus (the desktops).
    fn drain_items(&mut self) {
        while let Some(action) = self.engine.poll_item() {
            let event = match action {
                ItemAction::Offer {
                    item,
                    channel: c,
                    queue,
                    agent,
                } => {
                    let info = self.items.get(&item);
                    Event::ItemOffered {
                        number: item.0.clone(),
                        queue,
                        channel: channel(c),
                        agent,
                        subject: info.and_then(|i| i.subject.clone()),
                        customer: info.and_then(|i| i.customer.clone()),
                        at: Utc::now(),
                    }
                }
                ItemAction::CancelOffer { item, agent } => Event::ItemDeclined {
                    queue: self.queue_of(&item),
                    number: item.0,
                    agent,
                    reason: self.cancel_reason.into(),
                    at: Utc::now(),
                },
            };
            self.publish(event);
        }
    }
}

async fn run(engine: acd::Blend, mut commands: mpsc::UnboundedReceiver<Command>, bus: EventBus) {
    let mut d = Driver {
        engine,
        bus,
        calls: HashMap::new(),
        items: HashMap::new(),
        clock: 0,
        cancel_reason: "no_answer",
    };
    let mut day = chrono::Local::now().date_naive();
    loop {
        let deadline = d.engine.poll_timeout().map(tokio::time::Instant::from_std);
        tokio::select! {
            command = commands.recv() => {
                let now = Instant::now();
                match command {
                    Some(Command::Enqueue { call, queue, at_head, tx }) => {
                        d.calls.insert(call.clone(), tx);
                        let input = Input::CallArrived { call: call.clone(), queue, at_head };
                        if let Err(error) = d.engine.handle(BlendInput::Call(input), now) {
                            warn!(%error, %call, "call refused by the ACD");
                            if let Some(tx) = d.calls.remove(&call) {
                                let _ = tx.send(CallInput::QueueRefused(error.to_string()));
                            }
                        }
                    }
                    Some(Command::Input(input)) => {
                        if let Input::Reconfigure(config) = &input {
                            d.unqueue_removed(config, now);
                        }
                        if let Err(error) = d.engine.handle(BlendInput::Call(input.clone()), now) {
                            debug!(%error, ?input, "input refused by the ACD");
                        }
                    }
                    Some(Command::SetState { login, state, reply }) => {
                        let input = Input::SetAgentState { login, state };
                        let result = d.engine.handle(BlendInput::Call(input), now);
                        let _ = reply.send(result);
                    }
                    Some(Command::SetMode { login, mode: m, reply }) => {
                        let before = d.engine.mode(&login);
                        let input = BlendInput::SetMode { login: login.clone(), mode: m };
                        let result = d.engine.handle(input, now);
                        if result.is_ok() && before != Some(m) {
                            // Before the offer the new mode may bring.
                            d.publish(Event::AgentModeChanged { login, mode: mode(m), at: Utc::now() });
                        }
                        let _ = reply.send(result);
                    }
                    Some(Command::Item { login, item, step, reply }) => {
                        let _ = reply.send(d.step(login, item, step, now));
                    }
                    Some(Command::Sync(ticket)) => d.sync(ticket, now),
                    Some(Command::RescanMark(reply)) => {
                        d.clock += 1;
                        let _ = reply.send(d.clock);
                    }
                    Some(Command::Rescanned { mark, open }) => d.rescanned(mark, &open, now),
                    Some(Command::Transfer { call, queue, reply }) => {
                        let input = Input::Transfer { call: call.clone(), queue: queue.clone() };
                        let result = d.engine.handle(BlendInput::Call(input), now);
                        if result.is_ok()
                            && let Some(tx) = d.calls.get(&call)
                        {
                            let _ = tx.send(CallInput::Transferred { queue });
                        }
                        let _ = reply.send(result.map_err(|e| call_error(e, &call)));
                    }
                    Some(Command::Hold { call, held, reply }) => {
                        let result = match d.calls.get(&call) {
                            Some(tx) if tx.send(CallInput::Hold { held }).is_ok() => Ok(()),
                            _ => Err(acd::AcdError::UnknownCall(call)),
                        };
                        let _ = reply.send(result);
                    }
                    Some(Command::Snapshot(reply)) => {
                        let _ = reply.send(live_view(&d.engine, now));
                    }
                    None => return,
                }
            }
            _ = sleep_until(deadline) => d.engine.handle_timeout(Instant::now()),
        }
        let today = chrono::Local::now().date_naive();
        if today != day {
            info!("a new day: queue counters reset");
            d.engine.reset_counters();
            day = today;
        }
        while let Some(action) = d.engine.poll_action() {
            let call = match &action {
                Action::Offer { call, .. }
                | Action::CancelOffer { call, .. }
                | Action::Announce { call, .. }
                | Action::Overflow { call, .. } => call.clone(),
            };
            match d.calls.get(&call) {
                Some(tx) => {
                    let _ = tx.send(CallInput::Acd(action));
                }
                None => warn!(%call, ?action, "ACD action for a call that has no task"),
            }
        }
        d.drain_items();
        let now = Instant::now();
        let mut touched: Vec<String> = Vec::new();
        while let Some(event) = d.engine.poll_event() {
            if let Some(queue) = event_queue(&event)
                && !touched.iter().any(|q| q == queue)
            {
                touched.push(queue.to_string());
            }
            match &event {
                AcdEvent::Abandon { call, .. }
                | AcdEvent::Interrupted { call, .. }
                | AcdEvent::Complete { call, .. }
                | AcdEvent::Overflow { call, .. } => {
                    d.calls.remove(call);
                }
                _ => {}
            }
            let event = translate(d.engine.acd(), &event, now);
            d.publish(event);
        }
        if !touched.is_empty() {
            for stats in d.engine.acd().queue_stats(now) {
                if touched.contains(&stats.name) {
                    d.bus.publish(Event::QueueChanged {
                        queue: stats.name.clone(),
                        waiting: stats.waiting + stats.ringing,
                        oldest_wait_s: stats.oldest_wait.map_or(0.0, |d| d.as_secs_f64()),
                    });
                }
            }
        }
    }
}

fn event_queue(event: &AcdEvent) -> Option<&str> {
    match event {
        AcdEvent::Enter { queue, .. }
        | AcdEvent::Offer { queue, .. }
        | AcdEvent::Connect { queue, .. }
        | AcdEvent::RingNoAnswer { queue, .. }
        | AcdEvent::Reject { queue, .. }
        | AcdEvent::Abandon { queue, .. }
        | AcdEvent::Interrupted { queue, .. }
        | AcdEvent::Complete { queue, .. }
        | AcdEvent::Transfer { queue, .. }
        | AcdEvent::Overflow { queue, .. } => Some(queue),
        AcdEvent::AgentState { .. } => None,
    }
}

/// The wall-clock time of a monotonic instant of the engine.
fn wall(at: Instant, now: Instant) -> DateTime<Utc> {
    let ago = now.saturating_duration_since(at);
    Utc::now() - chrono::Duration::from_std(ago).unwrap_or_default()
}

/// The bus event of an ACD event: the one translation. The queue log, the console's figures
/// and the metrics are all derived from these events by their readers.
fn translate(engine: &acd::Acd, event: &AcdEvent, now: Instant) -> Event {
    let ms = |d: &std::time::Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    // Judged as the engine counts it: a wait at most the queue's threshold is on time.
    let on_time = |queue: &str, wait: &std::time::Duration| {
        engine
            .service_level_threshold(queue)
            .is_some_and(|t| *wait <= t)
    };
    match event.clone() {
        AcdEvent::Enter {
            at,
            call,
            queue,
            position,
        } => Event::QueueEntered {
            call_id: call.0,
            queue,
            position,
            at: wall(at, now),
        },
        AcdEvent::Offer {
            at,
            call,
            queue,
            agent,
        } => Event::QueueOffered {
            call_id: call.0,
            queue,
            agent,
            at: wall(at, now),
        },
        AcdEvent::Connect {
            at,
            call,
            queue,
            agent,
            wait,
        } => Event::QueueConnected {
            call_id: call.0,
            within_service_level: on_time(&queue, &wait),
            queue,
            agent,
            wait_ms: ms(&wait),
            at: wall(at, now),
        },
        AcdEvent::RingNoAnswer {
            at,
            call,
            queue,
            agent,
            rang,
        } => Event::QueueRingNoAnswer {
            call_id: call.0,
            queue,
            agent,
            rang_ms: ms(&rang),
            at: wall(at, now),
        },
        AcdEvent::Reject {
            at,
            call,
            queue,
            agent,
            reason,
        } => Event::QueueRejected {
            call_id: call.0,
            queue,
            agent,
            reason,
            at: wall(at, now),
        },
        AcdEvent::Abandon {
            at,
            call,
            queue,
            position,
            wait,
        } => Event::QueueAbandoned {
            call_id: call.0,
            within_service_level: on_time(&queue, &wait),
            queue,
            position,
            wait_ms: ms(&wait),
            at: wall(at, now),
        },
        AcdEvent::Interrupted {
            at,
            call,
            queue,
            position,
            wait,
        } => Event::QueueLeft {
            call_id: call.0,
            within_service_level: on_time(&queue, &wait),
            queue,
            position,
            wait_ms: ms(&wait),
            reason: "interrupted".into(),
            at: wall(at, now),
        },
        AcdEvent::Complete {
            at,
            call,
            queue,
            agent,
            talk,
        } => Event::QueueCompleted {
            call_id: call.0,
            queue,
            agent,
            talk_ms: ms(&talk),
            at: wall(at, now),
        },
        AcdEvent::Transfer {
            at,
            call,
            queue,
            agent,
            to,
        } => Event::QueueTransferred {
            call_id: call.0,
            queue,
            agent,
            to,
            at: wall(at, now),
        },
        AcdEvent::Overflow {
            at,
            call,
            queue,
            wait,
            to,
        } => Event::QueueOverflowed {
            call_id: call.0,
            within_service_level: on_time(&queue, &wait),
            queue,
            wait_ms: ms(&wait),
            to: to.to_string(),
            at: wall(at, now),
        },
        AcdEvent::AgentState {
            at,
            login,
            state,
            reason,
            registered,
            ..
        } => Event::AgentState {
            login,
            state: crate::events::status(state),
            reason,
            registered,
            since: wall(at, now),
        },
    }
}

/// Logs an event of the ACD (the operator's view in the process log).
fn trace(event: &Event) {
    match event {
        Event::QueueEntered {
            call_id,
            queue,
            position,
            ..
        } => info!(call = %call_id, %queue, position, "call queued"),
        Event::QueueOffered {
            call_id,
            queue,
            agent,
            ..
        } => info!(call = %call_id, %queue, %agent, "offering the call"),
        Event::QueueConnected {
            call_id,
            agent,
            wait_ms,
            ..
        } => info!(call = %call_id, %agent, wait_ms, "agent connected"),
        Event::QueueRingNoAnswer {
            call_id,
            agent,
            rang_ms,
            ..
        } => info!(call = %call_id, %agent, rang_s = rang_ms / 1000, "agent did not answer"),
        Event::QueueRejected {
            call_id,
            agent,
            reason,
            ..
        } => info!(call = %call_id, %agent, %reason, "offer failed"),
        Event::QueueAbandoned {
            call_id,
            queue,
            position,
            wait_ms,
            ..
        } => info!(call = %call_id, %queue, position, wait_ms, "caller abandoned"),
        Event::QueueTransferred {
            call_id, agent, to, ..
        } => info!(call = %call_id, %agent, %to, "transferred"),
        Event::QueueOverflowed {
            call_id,
            queue,
            to,
            wait_ms,
            ..
        } => info!(call = %call_id, %queue, %to, wait_s = wait_ms / 1000, "overflow"),
        Event::AgentState {
            login,
            state,
            reason,
            registered,
            ..
        } => info!(agent = %login, state = state.as_str(),
            reason = reason.as_deref().unwrap_or(""), registered, "agent state"),
        Event::ItemOffered {
            number,
            channel,
            agent,
            ..
        } => info!(item = %number, channel = channel.as_str(), %agent, "offering the item"),
        Event::ItemDone { number, reason, .. } => {
            info!(item = %number, %reason, "item left the ACD")
        }
        _ => {}
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn ticket(number: &str, queue: &str, owner: Option<&str>, open: bool) -> TicketItem {
        TicketItem {
            number: number.into(),
            queue: queue.into(),
            channel: ItemChannel::Email,
            owner: owner.map(str::to_string),
            open,
            subject: Some("Certificato".into()),
            customer: Some("Maria Rossi".into()),
        }
    }

    /// The next item event on the bus (other events skipped), within 5 s.
    async fn next_item(rx: &mut tokio::sync::broadcast::Receiver<Event>) -> Event {
        tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                let e = rx.recv().await.unwrap();
                if e.kind().starts_with("item.") || e.kind() == "agent.mode" {
                    return e;
                }
            }
        })
        .await
        .expect("an item event")
    }

    #[tokio::test]
    async fn the_driver_follows_the_crm_and_publishes_item_events() {
        let config = acd::AcdConfig {
            queues: vec![acd::QueueConfig::new("q0"), acd::QueueConfig::new("q1")],
            agents: vec![acd::AgentConfig {
                static_contact: true,
                ..acd::AgentConfig::new("1001", &["q0"])
            }],
            ..acd::AcdConfig::default()
        };
        let bus = EventBus::default();
        let mut rx = bus.subscribe();
        let acd = AcdHandle::spawn(acd::Acd::new(config, Instant::now()).unwrap(), bus);
        acd.set_mode("1001", Mode::Offline).await.unwrap();
        assert!(matches!(
            next_item(&mut rx).await,
            Event::AgentModeChanged {
                mode: AgentMode::Offline,
                ..
            }
        ));
        acd.set_state("1001", RequestedState::Ready).await.unwrap();

        // A phone-free, unowned open ticket: queued and offered with its subject.
        acd.sync_item(ticket("t1", "q0", None, true));
        assert!(
            matches!(next_item(&mut rx).await, Event::ItemQueued { ref number, .. } if number == "t1")
        );
        match next_item(&mut rx).await {
            Event::ItemOffered {
                number,
                agent,
                subject,
                customer,
                channel,
                ..
            } => {
                assert_eq!((number.as_str(), agent.as_str()), ("t1", "1001"));
                assert_eq!(subject.as_deref(), Some("Certificato"));
                assert_eq!(customer.as_deref(), Some("Maria Rossi"));
                assert_eq!(channel, TicketChannel::Email);
            }
            other => panic!("{other:?}"),
        }
        // Taken by someone else: the offer is withdrawn, the item leaves.
        acd.sync_item(ticket("t1", "q0", Some("1002"), true));
        assert!(
            matches!(next_item(&mut rx).await, Event::ItemDeclined { ref reason, .. } if reason == "withdrawn")
        );
        assert!(
            matches!(next_item(&mut rx).await, Event::ItemDone { ref reason, agent: None, .. } if reason == "taken")
        );

        // Into a queue the agent does not serve, then moved into theirs: queued again there.
        acd.sync_item(ticket("t2", "q1", None, true));
        assert!(
            matches!(next_item(&mut rx).await, Event::ItemQueued { ref queue, .. } if queue == "q1")
        );
        acd.sync_item(ticket("t2", "q0", None, true));
        assert!(
            matches!(next_item(&mut rx).await, Event::ItemDone { ref reason, .. } if reason == "moved")
        );
        assert!(
            matches!(next_item(&mut rx).await, Event::ItemQueued { ref queue, .. } if queue == "q0")
        );
        assert!(
            matches!(next_item(&mut rx).await, Event::ItemOffered { ref number, .. } if number == "t2")
        );
        // Accepted, and the ticket taken by its agent: still theirs.
        acd.item_step("1001", "t2", ItemStep::Accept).await.unwrap();
        assert!(matches!(
            next_item(&mut rx).await,
            Event::ItemAccepted { .. }
        ));
        acd.sync_item(ticket("t2", "q0", Some("1001"), true));
        let view = acd.snapshot().await.unwrap();
        assert_eq!(view.agents[0].item, Some(("t2".to_string(), true)));
        assert_eq!(view.agents[0].mode, AgentMode::Offline);

        // A queue the ACD does not know: no item. A rescan that no longer finds t2 open
        // (closed meanwhile) ends it; the agent is free.
        acd.sync_item(ticket("t3", "elsewhere", None, true));
        let mark = acd.rescan_mark().await.unwrap();
        acd.rescanned(mark, std::collections::HashSet::new());
        match next_item(&mut rx).await {
            Event::ItemDone {
                number,
                reason,
                agent,
                ..
            } => {
                assert_eq!((number.as_str(), reason.as_str()), ("t2", "closed"));
                assert_eq!(agent.as_deref(), Some("1001"));
            }
            other => panic!("{other:?}"),
        }
        let view = acd.snapshot().await.unwrap();
        assert_eq!(view.agents[0].item, None);
        // A reconfiguration without q1 takes its items out first (no refusal for them).
        acd.sync_item(ticket("t4", "q1", None, true));
        assert!(
            matches!(next_item(&mut rx).await, Event::ItemQueued { ref number, .. } if number == "t4")
        );
        acd.input(Input::Reconfigure(acd::AcdConfig {
            queues: vec![acd::QueueConfig::new("q0")],
            agents: vec![acd::AgentConfig {
                static_contact: true,
                ..acd::AgentConfig::new("1001", &["q0"])
            }],
            ..acd::AcdConfig::default()
        }));
        assert!(
            matches!(next_item(&mut rx).await, Event::ItemDone { ref number, ref reason, .. } if number == "t4" && reason == "queue_removed")
        );
        let view = acd.snapshot().await.unwrap();
        assert_eq!(view.queues.len(), 1, "q1 removed: {view:?}");
        // Unknown items are refused in the vocabulary's words.
        assert!(matches!(
            acd.item_step("1001", "t9", ItemStep::Done).await,
            Err(BlendError::UnknownItem(_))
        ));
    }
}
