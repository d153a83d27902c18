//! Blended routing (R-ACD-5, issue 16): off-line work items (e-mail, web requests, voicemail,
//! fax) offered to agents through the ACD beside calls, sans-IO like [`Acd`].
//!
//! # Run loop
//!
//! [`Blend`] owns an [`Acd`] and adds items to it; the driver uses it instead of the bare
//! engine and keeps the same invariant: **after every [`Blend::handle`] or
//! [`Blend::handle_timeout`], drain [`Blend::poll_action`] (calls), [`Blend::poll_item`]
//! (items) and [`Blend::poll_event`], and re-arm its timer from [`Blend::poll_timeout`].**
//!
//! # Modes
//!
//! Each agent works in one [`Mode`]:
//! - [`Mode::Online`] (the default): calls only, never an item.
//! - [`Mode::Offline`]: items only. The agent is held *not ready* for calls in the ACD with the
//!   reason [`OFFLINE_REASON`] (a request to be ready is taken as ready for items), so no call
//!   is ever offered to them; an item is offered whenever they have none in hand.
//! - [`Mode::Blended`]: calls take precedence. An item is offered only when the agent is idle
//!   (ready, no call ringing, talking or in wrap-up) and no call waits in any of their
//!   queues. While an item is offered or in hand the agent is *not ready* for calls with the
//!   reason [`ITEM_REASON`], so a call never reaches them in the middle of it; when the item
//!   is done, declined or withdrawn they are ready again (unless someone changed their state
//!   meanwhile).
//!
//! # Items
//!
//! An item enters a queue (the ACD's queue of the same name) with a channel; the channel's
//! priority ([`BlendConfig::priorities`], lower first) orders items within the queue, FIFO by
//! arrival within a priority. An offer is accepted, declined or times out
//! ([`BlendConfig::offer_timeout`]) like a call's; a declined or timed-out item goes back
//! under its original place and is not offered again to an agent who declined it; an agent
//! who lets an offer time out goes not ready ("no answer"), as for calls; one who logs out
//! with an item offered lets it go at once (an accepted item stays theirs: the ticket is in
//! their hands). An agent holds at most one item; an item is in at most one agent's hands.
//!
//! # Cost
//!
//! Calls keep the engine's O(log n) decisions: a call never looks at items. An agent who frees
//! up looks at the head of each of their queues' item lists, O(q · (log n + d)) where d is
//! the number of items at the head that this agent declined; an arriving item looks at the
//! members of its queue, O(members).

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::time::Instant;

pub use crate::blend_types::{
    BlendConfig, BlendError, BlendInput, ITEM_REASON, ItemAction, ItemChannel, ItemKey, ItemView,
    Mode, NO_ANSWER_REASON, OFFLINE_REASON,
};
use crate::engine::{Acd, AgentIdx};
use crate::types::{AcdError, AcdEvent, Action, AgentState, Input, RequestedState};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ItemPhase {
    Waiting,
    Offered { agent: AgentIdx, deadline: Instant },
    Working { agent: AgentIdx },
}

#[derive(Debug, Clone)]
pub(crate) struct Item {
    channel: ItemChannel,
    queue: String,
    pub(crate) place: (u8, u64),
    phase: ItemPhase,
    pub(crate) declined: BTreeSet<AgentIdx>,
}

/// The ACD with items: calls as [`Acd`] distributes them, items to agents by mode.
pub struct Blend {
    pub(crate) acd: Acd,
    config: BlendConfig,
    modes: HashMap<AgentIdx, Mode>,
    pub(crate) items: HashMap<ItemKey, Item>,
    /// Waiting items per queue name, by (priority, arrival).
    pub(crate) waiting: HashMap<String, BTreeMap<(u8, u64), ItemKey>>,
    /// The item each agent has offered or in hand.
    pub(crate) holding: HashMap<AgentIdx, ItemKey>,
    offer_timers: BTreeSet<(Instant, ItemKey)>,
    next_place: u64,
    item_actions: VecDeque<ItemAction>,
    events: VecDeque<AcdEvent>,
}

impl Blend {
    /// Items beside `acd`; every agent starts on-line.
    pub fn new(acd: Acd, config: BlendConfig) -> Self {
        Blend {
            acd,
            config,
            modes: HashMap::new(),
            items: HashMap::new(),
            waiting: HashMap::new(),
            holding: HashMap::new(),
            offer_timers: BTreeSet::new(),
            next_place: 0,
            item_actions: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// The call engine (live figures, agents' views).
    #[must_use]
    pub fn acd(&self) -> &Acd {
        &self.acd
    }

    /// An agent's mode (`None`: no such agent).
    #[must_use]
    pub fn mode(&self, login: &str) -> Option<Mode> {
        let a = *self.acd.agent_index.get(login)?;
        Some(self.modes.get(&a).copied().unwrap_or_default())
    }

    /// Items waiting in `queue`, in the order they will be offered (declines aside).
    #[must_use]
    pub fn waiting_items(&self, queue: &str) -> Vec<ItemKey> {
        self.waiting
            .get(queue)
            .map(|w| w.values().cloned().collect())
            .unwrap_or_default()
    }

    /// The item offered to or held by `login`.
    #[must_use]
    pub fn item_of(&self, login: &str) -> Option<&ItemKey> {
        let a = self.acd.agent_index.get(login)?;
        self.holding.get(a)
    }

    /// Where item `key` is: its channel, queue and the agent it is offered to or held by
    /// (`None`: no such item).
    #[must_use]
    pub fn item(&self, key: &ItemKey) -> Option<ItemView> {
        let item = self.items.get(key)?;
        let (agent, accepted) = match item.phase {
            ItemPhase::Waiting => (None, false),
            ItemPhase::Offered { agent, .. } => (Some(agent), false),
            ItemPhase::Working { agent } => (Some(agent), true),
        };
        Some(ItemView {
            channel: item.channel,
            queue: item.queue.clone(),
            agent: agent.map(|a| self.acd.agents[a].login.clone()),
            accepted,
        })
    }

    /// Whether `queue` is a queue of the ACD that takes items (configured and active).
    #[must_use]
    pub fn takes_items(&self, queue: &str) -> bool {
        self.acd
            .queue_index
            .get(queue)
            .is_some_and(|&q| self.acd.queues[q].active)
    }

    /// Starts a new day of the engine's counters ([`Acd::reset_counters`]).
    pub fn reset_counters(&mut self) {
        self.acd.reset_counters();
    }

    /// Handles one input at `now`.
    pub fn handle(&mut self, input: BlendInput, now: Instant) -> Result<(), BlendError> {
        match input {
            BlendInput::Call(input) => self.call_input(input, now)?,
            BlendInput::SetMode { login, mode } => self.set_mode(&login, mode, now)?,
            BlendInput::ItemArrived {
                item,
                channel,
                queue,
            } => {
                if self.items.contains_key(&item) {
                    return Err(BlendError::DuplicateItem(item));
                }
                let active = self
                    .acd
                    .queue_index
                    .get(&queue)
                    .map(|&q| self.acd.queues[q].active);
                if active != Some(true) {
                    return Err(AcdError::UnknownQueue(queue).into());
                }
                let place = (self.config.priority(channel), self.next_place);
                self.next_place += 1;
                self.waiting
                    .entry(queue.clone())
                    .or_default()
                    .insert(place, item.clone());
                let q = self.acd.queue_index[&queue];
                self.items.insert(
                    item,
                    Item {
                        channel,
                        queue,
                        place,
                        phase: ItemPhase::Waiting,
                        declined: BTreeSet::new(),
                    },
                );
                // The longest idle of the members who may take an item now.
                if let Some(a) = self.longest_idle_taker(q, None) {
                    self.offer_to(a, now);
                }
            }
            BlendInput::ItemAccepted { item, agent } => {
                let a = self.agent(&agent)?;
                let entry = self.item_mut(&item)?;
                match entry.phase {
                    ItemPhase::Offered {
                        agent: held,
                        deadline,
                    } if held == a => {
                        entry.phase = ItemPhase::Working { agent: a };
                        self.offer_timers.remove(&(deadline, item));
                    }
                    _ => return Err(not_the_agent(item, agent, "offered to")),
                }
            }
            BlendInput::ItemDeclined { item, agent } => {
                let a = self.agent(&agent)?;
                match self.item_mut(&item)?.phase {
                    ItemPhase::Offered { agent: held, .. } if held == a => {
                        self.give_back(&item, a, now);
                    }
                    _ => return Err(not_the_agent(item, agent, "offered to")),
                }
            }
            BlendInput::ItemDone { item, agent } => {
                let a = self.agent(&agent)?;
                match self.item_mut(&item)?.phase {
                    ItemPhase::Working { agent: held } if held == a => {
                        self.items.remove(&item);
                        self.release(a, now);
                    }
                    _ => return Err(not_the_agent(item, agent, "held by")),
                }
            }
            BlendInput::ItemWithdrawn { item } => {
                let entry = self
                    .items
                    .remove(&item)
                    .ok_or_else(|| BlendError::UnknownItem(item.clone()))?;
                match entry.phase {
                    ItemPhase::Waiting => {
                        if let Some(w) = self.waiting.get_mut(&entry.queue) {
                            w.remove(&entry.place);
                        }
                    }
                    ItemPhase::Offered { agent, deadline } => {
                        self.offer_timers.remove(&(deadline, item.clone()));
                        self.item_actions.push_back(ItemAction::CancelOffer {
                            item,
                            agent: self.acd.agents[agent].login.clone(),
                        });
                        self.release(agent, now);
                    }
                    ItemPhase::Working { agent } => self.release(agent, now),
                }
            }
        }
        Ok(())
    }

    /// Runs the engine's timers and the items' offer time-outs due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.acd.handle_timeout(now);
        self.settle(now);
        while let Some((deadline, item)) = self.offer_timers.first().cloned() {
            if deadline > now {
                break;
            }
            self.offer_timers.pop_first();
            let Some(ItemPhase::Offered { agent, .. }) = self.items.get(&item).map(|i| i.phase)
            else {
                continue;
            };
            let login = self.acd.agents[agent].login.clone();
            self.item_actions.push_back(ItemAction::CancelOffer {
                item: item.clone(),
                agent: login.clone(),
            });
            // As for a call: the agent who did not answer goes not ready, before the item
            // goes back (so it is not offered to them again at once).
            let not_ready = RequestedState::NotReady {
                reason: NO_ANSWER_REASON.into(),
            };
            let _ = self.acd.handle(
                Input::SetAgentState {
                    login,
                    state: not_ready,
                },
                now,
            );
            while let Some(event) = self.acd.poll_event() {
                self.events.push_back(event);
            }
            self.give_back(&item, agent, now);
        }
    }

    /// The earliest deadline of the engine and the item offers.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let items = self.offer_timers.first().map(|(t, _)| *t);
        match (self.acd.poll_timeout(), items) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The next call action ([`Acd::poll_action`]).
    pub fn poll_action(&mut self) -> Option<Action> {
        self.acd.poll_action()
    }

    /// The next item action.
    pub fn poll_item(&mut self) -> Option<ItemAction> {
        self.item_actions.pop_front()
    }

    /// The next event of the engine ([`Acd::poll_event`]), in order.
    pub fn poll_event(&mut self) -> Option<AcdEvent> {
        self.events.pop_front().or_else(|| self.acd.poll_event())
    }

    fn call_input(&mut self, input: Input, now: Instant) -> Result<(), BlendError> {
        // An off-line agent who asks to be ready is ready for items, never for calls.
        let input = match input {
            Input::SetAgentState {
                login,
                state: RequestedState::Ready,
            } if self.mode(&login) == Some(Mode::Offline) => Input::SetAgentState {
                login,
                state: RequestedState::NotReady {
                    reason: OFFLINE_REASON.into(),
                },
            },
            Input::SetAgentState {
                login,
                state: RequestedState::Ready,
            } if self.item_of(&login).is_some() => return Err(BlendError::HoldsItem(login)),
            Input::Reconfigure(config) => {
                // A queue with items stays, as one with calls does.
                for item in self.items.values() {
                    if !config.queues.iter().any(|q| q.name == item.queue) {
                        let n = self
                            .items
                            .values()
                            .filter(|i| i.queue == item.queue)
                            .count();
                        return Err(AcdError::QueueInUse {
                            queue: item.queue.clone(),
                            calls: n,
                        }
                        .into());
                    }
                }
                Input::Reconfigure(config)
            }
            other => other,
        };
        self.acd.handle(input, now)?;
        self.settle(now);
        Ok(())
    }

    fn set_mode(&mut self, login: &str, mode: Mode, now: Instant) -> Result<(), BlendError> {
        let a = self.agent(login)?;
        let before = self.modes.insert(a, mode).unwrap_or_default();
        let agent = &self.acd.agents[a];
        let holds_item = self.holding.contains_key(&a);
        let (state, reason) = (agent.state, agent.reason.clone());
        let request = match mode {
            // Held off calls; a call in progress ends first (the engine defers it).
            Mode::Offline if state != AgentState::LoggedOut && !holds_item => {
                Some(RequestedState::NotReady {
                    reason: OFFLINE_REASON.into(),
                })
            }
            Mode::Online | Mode::Blended
                if before == Mode::Offline
                    && state == AgentState::NotReady
                    && !holds_item
                    && reason.as_deref() == Some(OFFLINE_REASON) =>
            {
                Some(RequestedState::Ready)
            }
            _ => None,
        };
        if let Some(state) = request {
            self.acd.handle(
                Input::SetAgentState {
                    login: login.to_string(),
                    state,
                },
                now,
            )?;
        }
        self.settle(now);
        self.offer_to(a, now);
        Ok(())
    }

    /// Moves the engine's events out, and offers items to the agents they show freed up.
    fn settle(&mut self, now: Instant) {
        let mut freed = Vec::new();
        while let Some(event) = self.acd.poll_event() {
            if let AcdEvent::AgentState { login, .. } = &event
                && let Some(&a) = self.acd.agent_index.get(login)
            {
                freed.push(a);
            }
            self.events.push_back(event);
        }
        for a in freed {
            // An agent who logged out with an item offered lets it go at once (waiting for
            // the offer's time-out would sign them back in as "no answer").
            if self.acd.agents[a].state == AgentState::LoggedOut
                && let Some(key) = self.holding.get(&a).cloned()
                && matches!(
                    self.items.get(&key).map(|i| i.phase),
                    Some(ItemPhase::Offered { .. })
                )
            {
                self.item_actions.push_back(ItemAction::CancelOffer {
                    item: key.clone(),
                    agent: self.acd.agents[a].login.clone(),
                });
                self.give_back(&key, a, now);
                continue;
            }
            self.offer_to(a, now);
        }
    }

    /// Whether agent `a` may be offered an item now.
    pub(crate) fn may_take(&self, a: AgentIdx) -> bool {
        if self.holding.contains_key(&a) {
            return false;
        }
        let agent = &self.acd.agents[a];
        if !agent.active || agent.call.is_some() {
            return false;
        }
        match self.modes.get(&a).copied().unwrap_or_default() {
            Mode::Online => false,
            Mode::Offline => {
                agent.state == AgentState::NotReady
                    && agent.reason.as_deref() == Some(OFFLINE_REASON)
            }
            Mode::Blended => {
                agent.state == AgentState::Ready
                    && agent
                        .queues
                        .iter()
                        .all(|&q| self.acd.queues[q].waiting.is_empty())
            }
        }
    }

    /// Offers agent `a` the best item of their queues they have not declined, if they may
    /// take one.
    fn offer_to(&mut self, a: AgentIdx, now: Instant) {
        if !self.may_take(a) {
            return;
        }
        let mut best: Option<((u8, u64), ItemKey)> = None;
        for &q in &self.acd.agents[a].queues {
            let name = &self.acd.queues[q].config.name;
            let Some(w) = self.waiting.get(name) else {
                continue;
            };
            let head = w
                .iter()
                .find(|(_, key)| !self.items[*key].declined.contains(&a));
            if let Some((place, key)) = head
                && best.as_ref().is_none_or(|(b, _)| place < b)
            {
                best = Some((*place, key.clone()));
            }
        }
        let Some((place, key)) = best else { return };
        let login = self.acd.agents[a].login.clone();
        if self.modes.get(&a).copied().unwrap_or_default() == Mode::Blended {
            // Off calls while the item is offered or in hand.
            let not_ready = RequestedState::NotReady {
                reason: ITEM_REASON.into(),
            };
            if self
                .acd
                .handle(
                    Input::SetAgentState {
                        login: login.clone(),
                        state: not_ready,
                    },
                    now,
                )
                .is_err()
            {
                return;
            }
            while let Some(event) = self.acd.poll_event() {
                self.events.push_back(event);
            }
        }
        let item = self.items.get_mut(&key).expect("a waiting item is known");
        if let Some(w) = self.waiting.get_mut(&item.queue) {
            w.remove(&place);
        }
        let deadline = now + self.config.offer_timeout;
        item.phase = ItemPhase::Offered { agent: a, deadline };
        self.offer_timers.insert((deadline, key.clone()));
        self.holding.insert(a, key.clone());
        self.item_actions.push_back(ItemAction::Offer {
            item: key,
            channel: item.channel,
            queue: item.queue.clone(),
            agent: login,
        });
    }

    /// Puts an offered item back in its place (remembering who declined), frees the agent.
    fn give_back(&mut self, key: &ItemKey, a: AgentIdx, now: Instant) {
        let Some(item) = self.items.get_mut(key) else {
            return;
        };
        if let ItemPhase::Offered { deadline, .. } = item.phase {
            self.offer_timers.remove(&(deadline, key.clone()));
        }
        item.phase = ItemPhase::Waiting;
        item.declined.insert(a);
        let (queue, place) = (item.queue.clone(), item.place);
        self.waiting
            .entry(queue.clone())
            .or_default()
            .insert(place, key.clone());
        self.release(a, now);
        // Someone else may take it now (the agent's own next item was offered by `release`).
        if self
            .items
            .get(key)
            .is_some_and(|i| i.phase == ItemPhase::Waiting)
            && let Some(m) = self.longest_idle_taker(self.acd.queue_index[&queue], Some(a))
        {
            self.offer_to(m, now);
        }
    }

    /// The member of queue `q` (other than `except`) idle the longest among those who may
    /// take an item now: one pass over the members, no allocation.
    fn longest_idle_taker(&self, q: usize, except: Option<AgentIdx>) -> Option<AgentIdx> {
        self.acd.queues[q]
            .members
            .iter()
            .copied()
            .filter(|&m| Some(m) != except && self.may_take(m))
            .min_by_key(|&m| (self.acd.agents[m].since, m))
    }

    /// Agent `a` has no item any more: a blended agent held off calls for it is ready again.
    fn release(&mut self, a: AgentIdx, now: Instant) {
        self.holding.remove(&a);
        let agent = &self.acd.agents[a];
        let held_for_item =
            agent.state == AgentState::NotReady && agent.reason.as_deref() == Some(ITEM_REASON);
        if held_for_item {
            let login = agent.login.clone();
            let ready = if self.modes.get(&a).copied() == Some(Mode::Offline) {
                RequestedState::NotReady {
                    reason: OFFLINE_REASON.into(),
                }
            } else {
                RequestedState::Ready
            };
            let _ = self.acd.handle(
                Input::SetAgentState {
                    login,
                    state: ready,
                },
                now,
            );
        }
        self.settle(now);
        self.offer_to(a, now);
    }

    fn agent(&self, login: &str) -> Result<AgentIdx, BlendError> {
        self.acd
            .agent_index
            .get(login)
            .copied()
            .ok_or_else(|| AcdError::UnknownAgent(login.to_string()).into())
    }

    fn item_mut(&mut self, item: &ItemKey) -> Result<&mut Item, BlendError> {
        self.items
            .get_mut(item)
            .ok_or_else(|| BlendError::UnknownItem(item.clone()))
    }
}

/// Where an item is, for tests.
#[cfg(test)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ItemPhaseView {
    Waiting,
    Held(AgentIdx),
}

#[cfg(test)]
impl Blend {
    pub(crate) fn item_phase(&self, key: &ItemKey) -> Option<ItemPhaseView> {
        Some(match self.items.get(key)?.phase {
            ItemPhase::Waiting => ItemPhaseView::Waiting,
            ItemPhase::Offered { agent, .. } | ItemPhase::Working { agent } => {
                ItemPhaseView::Held(agent)
            }
        })
    }
}

fn not_the_agent(item: ItemKey, agent: String, expected: &'static str) -> BlendError {
    BlendError::NotTheAgent {
        item,
        agent,
        expected,
    }
}
