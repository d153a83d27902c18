//! The ACD's driver: one task owns the sans-IO [`acd::Acd`], feeds it what call tasks, the
//! registrar and the API report, runs its timers on tokio time, and carries its actions to the
//! call tasks (ring an agent, announce a position, overflow). Its events are translated once,
//! into the bus's typed `queue.*` and `agent.state` events; the queue log, the console's
//! figures and the metrics are derived from those by the event log's writer (console::record).
//!
//! Nothing here decides anything: distribution is the engine's.

use std::collections::HashMap;
use std::time::Instant;

use acd::{AcdError, AcdEvent, Action, AgentView, CallKey, Input, QueueStats, RequestedState};
use chrono::{DateTime, Utc};
use events::live::{
    AgentLive, AgentRequest, AgentsByStatus, LiveAcd, LiveView, PortFuture, QueueLive, Refused,
};
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
        reply: oneshot::Sender<Result<(), acd::AcdError>>,
    },
    Snapshot(oneshot::Sender<LiveView>),
    Transfer {
        call: CallKey,
        queue: String,
        reply: oneshot::Sender<Result<(), acd::AcdError>>,
    },
}

/// Talks to the ACD task; cheap to clone.
#[derive(Clone)]
pub struct AcdHandle {
    commands: mpsc::UnboundedSender<Command>,
}

impl AcdHandle {
    /// Starts the driver over `engine`.
    pub fn spawn(engine: acd::Acd, bus: EventBus) -> AcdHandle {
        let (commands, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(engine, rx, bus));
        AcdHandle { commands }
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
    pub async fn set_state(&self, login: &str, state: RequestedState) -> Result<(), acd::AcdError> {
        let (reply, rx) = oneshot::channel();
        self.commands
            .send(Command::SetState {
                login: login.to_string(),
                state,
                reply,
            })
            .map_err(|_| acd::AcdError::UnknownAgent(login.to_string()))?;
        rx.await
            .map_err(|_| acd::AcdError::UnknownAgent(login.to_string()))?
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
                .map_err(refused)
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
}

fn refused(error: AcdError) -> Refused {
    match error {
        AcdError::UnknownAgent(login) => Refused::UnknownAgent(login),
        AcdError::UnknownQueue(queue) => Refused::UnknownQueue(queue),
        AcdError::UnknownCall(call) => Refused::UnknownCall(call.0),
        other => Refused::Other(other.to_string()),
    }
}

/// The engine's figures as the live view.
fn live_view(at: Instant, queues: Vec<QueueStats>, agents: Vec<AgentView>) -> LiveView {
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
            })
            .collect(),
    }
}

async fn run(mut engine: acd::Acd, mut commands: mpsc::UnboundedReceiver<Command>, bus: EventBus) {
    let mut calls: HashMap<CallKey, mpsc::UnboundedSender<CallInput>> = HashMap::new();
    let mut day = chrono::Local::now().date_naive();
    loop {
        let deadline = engine.poll_timeout().map(tokio::time::Instant::from_std);
        tokio::select! {
            command = commands.recv() => {
                let now = Instant::now();
                match command {
                    Some(Command::Enqueue { call, queue, at_head, tx }) => {
                        calls.insert(call.clone(), tx);
                        let input = Input::CallArrived { call: call.clone(), queue, at_head };
                        if let Err(error) = engine.handle(input, now) {
                            warn!(%error, %call, "call refused by the ACD");
                            if let Some(tx) = calls.remove(&call) {
                                let _ = tx.send(CallInput::QueueRefused(error.to_string()));
                            }
                        }
                    }
                    Some(Command::Input(input)) => {
                        if let Err(error) = engine.handle(input.clone(), now) {
                            debug!(%error, ?input, "input refused by the ACD");
                        }
                    }
                    Some(Command::SetState { login, state, reply }) => {
                        let result = engine.handle(Input::SetAgentState { login, state }, now);
                        let _ = reply.send(result);
                    }
                    Some(Command::Transfer { call, queue, reply }) => {
                        let input = Input::Transfer { call: call.clone(), queue: queue.clone() };
                        let result = engine.handle(input, now);
                        if result.is_ok()
                            && let Some(tx) = calls.get(&call)
                        {
                            let _ = tx.send(CallInput::Transferred { queue });
                        }
                        let _ = reply.send(result);
                    }
                    Some(Command::Snapshot(reply)) => {
                        let _ = reply.send(live_view(now, engine.queue_stats(now), engine.agents(now)));
                    }
                    None => return,
                }
            }
            _ = sleep_until(deadline) => engine.handle_timeout(Instant::now()),
        }
        let today = chrono::Local::now().date_naive();
        if today != day {
            info!("a new day: queue counters reset");
            engine.reset_counters();
            day = today;
        }
        while let Some(action) = engine.poll_action() {
            let call = match &action {
                Action::Offer { call, .. }
                | Action::CancelOffer { call, .. }
                | Action::Announce { call, .. }
                | Action::Overflow { call, .. } => call.clone(),
            };
            match calls.get(&call) {
                Some(tx) => {
                    let _ = tx.send(CallInput::Acd(action));
                }
                None => warn!(%call, ?action, "ACD action for a call that has no task"),
            }
        }
        let now = Instant::now();
        let mut touched: Vec<String> = Vec::new();
        while let Some(event) = engine.poll_event() {
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
                    calls.remove(call);
                }
                _ => {}
            }
            let event = translate(&engine, &event, now);
            trace(&event);
            bus.publish(event);
        }
        if !touched.is_empty() {
            for stats in engine.queue_stats(now) {
                if touched.contains(&stats.name) {
                    bus.publish(Event::QueueChanged {
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
        _ => {}
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}
