//! [`Engine`]: walks one call through a [`Tree`], sans-IO.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use calendar::{ClosedReason, Status};
use chrono::{DateTime, Utc};

use crate::config::IdentifyMethod;
use crate::tree::{DigitRules, Node, NodeId, Tree};
use crate::types::{Action, CallInfo, Customer, Failure, IdentifiedBy, Input, Step, StepKind};

/// How long to wait for `PlaybackDone` after [`Action::StopPlayback`] before going on anyway.
pub const STOP_GRACE: Duration = Duration::from_secs(2);

/// Keys accepted from the caller (RFC 4733 §3.2 events 0-15).
const DTMF: &str = "0123456789*#ABCD";

/// What runs when a playback ends.
#[derive(Debug, Clone)]
enum After {
    /// Wait for digits for the current node.
    Listen,
    /// Go to a node.
    Goto(NodeId),
    /// Emit a terminal action.
    Finish(Action),
}

#[derive(Debug, Clone)]
enum Phase {
    /// A `Play` is out; `stopping` once `StopPlayback` was sent.
    Playing {
        barge_in: bool,
        after: After,
        stopping: bool,
    },
    /// Waiting for digits (menu, collect, PIN).
    Listening,
    /// Waiting for `LookupResult`.
    Lookup,
    /// A terminal action was emitted; inputs are ignored.
    Finished,
}

/// One call's walk through the IVR tree.
///
/// Feed it [`Input`]s and timeouts, then drain [`Engine::poll_action`] (commands, in order)
/// and [`Engine::poll_step`] (call card lines). It never reads the clock: `now` comes with
/// every call, and the wall time for schedules is the `wall` given at start plus the
/// monotonic time elapsed since.
#[derive(Debug)]
pub struct Engine {
    tree: Arc<Tree>,
    call: CallInfo,
    language: String,
    start: Instant,
    wall: DateTime<Utc>,
    node: NodeId,
    /// Attempt at the current menu or identification (1-based).
    attempt: u32,
    /// The current identify node is taking a PIN (method `pin`, or `ani` fallen back).
    pin_mode: bool,
    phase: Phase,
    digits: String,
    /// Keys typed ahead (barge-in, during a lookup) not consumed yet.
    carry: VecDeque<char>,
    /// A terminator key that belongs to input already complete: the caller typed all the
    /// digits, then the optional `#` ("12345#" with `#` optional). Dropped if it comes before
    /// the inter-digit timeout and before any other key.
    swallow: Option<(char, Instant)>,
    timer: Option<Instant>,
    customer: Option<Customer>,
    identified_by: IdentifiedBy,
    collected: BTreeMap<String, String>,
    actions: VecDeque<Action>,
    steps: VecDeque<Step>,
}

impl Engine {
    /// Starts a call at the entry for `call.dialled`; the first actions are ready to poll.
    pub fn new(tree: Arc<Tree>, call: CallInfo, now: Instant, wall: DateTime<Utc>) -> Engine {
        let language = if call.language.is_empty() {
            tree.default_language.clone()
        } else {
            call.language.clone()
        };
        let entry = tree.entry(call.dialled.as_deref());
        let mut engine = Engine {
            tree,
            call,
            language,
            start: now,
            wall,
            node: entry,
            attempt: 1,
            pin_mode: false,
            phase: Phase::Listening,
            digits: String::new(),
            carry: VecDeque::new(),
            swallow: None,
            timer: None,
            customer: None,
            identified_by: IdentifiedBy::None,
            collected: BTreeMap::new(),
            actions: VecDeque::new(),
            steps: VecDeque::new(),
        };
        engine.goto(entry, now);
        engine
    }

    /// Feeds one event. Call [`Engine::poll_action`] and [`Engine::poll_timeout`] afterwards.
    pub fn handle_input(&mut self, input: Input, now: Instant) {
        match input {
            Input::Digit(d) => {
                let d = d.to_ascii_uppercase();
                if let Some((key, until)) = self.swallow.take()
                    && key == d
                    && now <= until
                {
                    return;
                }
                self.on_digit(d, now)
            }
            Input::PlaybackDone { .. } => {
                if let Phase::Playing { after, .. } = &self.phase {
                    let after = after.clone();
                    self.timer = None;
                    if let Some(next) = self.after(after, now) {
                        self.goto(next, now);
                    }
                }
            }
            Input::LookupResult(customer) => {
                if matches!(self.phase, Phase::Lookup) {
                    self.on_lookup(customer, now);
                }
            }
            Input::IdentificationRefused => {
                if matches!(self.phase, Phase::Lookup) {
                    self.on_refused(now);
                }
            }
        }
    }

    /// Fires the timer if `now` reached [`Engine::poll_timeout`]; harmless otherwise.
    pub fn handle_timeout(&mut self, now: Instant) {
        match self.timer {
            Some(t) if t <= now => self.timer = None,
            _ => return,
        }
        match &self.phase {
            // Media did not confirm the stop: go on as if it had.
            Phase::Playing { .. } => {
                self.handle_input(Input::PlaybackDone { interrupted: true }, now)
            }
            Phase::Listening => {
                if let Some(next) = self.listen_timeout(now) {
                    self.goto(next, now);
                }
            }
            Phase::Lookup | Phase::Finished => {}
        }
    }

    /// When [`Engine::handle_timeout`] wants to be called next, if at all.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timer
    }

    /// The next command for the switchboard, in order.
    #[must_use]
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// The next call card line, in order.
    #[must_use]
    pub fn poll_step(&mut self) -> Option<Step> {
        self.steps.pop_front()
    }

    /// Whether the terminal action was emitted.
    pub fn is_finished(&self) -> bool {
        matches!(self.phase, Phase::Finished)
    }

    /// The identified customer, if any.
    pub fn customer(&self) -> Option<&Customer> {
        self.customer.as_ref()
    }

    /// How the customer was identified.
    pub fn identified_by(&self) -> IdentifiedBy {
        self.identified_by
    }

    /// Values stored by collect nodes.
    pub fn collected(&self) -> &BTreeMap<String, String> {
        &self.collected
    }

    /// Whether a key pressed now may end up in a PIN, so that its value must not be shown in
    /// logs or events. Call it before [`Engine::handle_input`] with the key.
    ///
    /// True at an identify node (its prompts, the PIN itself, the lookup, a retry) and for keys
    /// typed ahead into a prompt that the node playing it may not consume (a menu's key after
    /// the choice, an announcement's keys, a collect node's keys past its last digit or its
    /// terminator): those reach whatever node comes next, which may take a PIN. A key the
    /// current menu or collect node consumes at once is not secret.
    pub fn key_is_secret(&self, key: char) -> bool {
        let node = &self.tree.nodes[self.node];
        if matches!(node, Node::Identify(_)) {
            return true;
        }
        match &self.phase {
            Phase::Listening | Phase::Finished => false,
            Phase::Lookup => true,
            // The engine drops keys typed into a prompt without barge-in.
            Phase::Playing {
                barge_in: false, ..
            } => false,
            Phase::Playing { barge_in: true, .. } => match node {
                Node::Menu { .. } => !self.carry.is_empty(),
                Node::Collect { rules, .. } => {
                    let ends = |k: &char| rules.terminator == Some(*k);
                    self.carry.iter().any(ends)
                        || (!ends(&key)
                            && self.digits.len() + self.carry.len() + 1 > rules.max_digits)
                }
                _ => true,
            },
        }
    }

    /// The node the call is in.
    pub fn current_node(&self) -> &str {
        &self.tree.names[self.node]
    }

    /// The tree this call started with (a reload does not change it).
    pub fn tree(&self) -> &Arc<Tree> {
        &self.tree
    }

    fn step(&mut self, kind: StepKind, now: Instant) {
        self.steps.push_back(Step {
            at: now,
            offset: now.saturating_duration_since(self.start),
            kind,
        });
    }

    fn name(&self, id: NodeId) -> String {
        self.tree.names[id].clone()
    }

    /// Enters `id` and follows every transition that needs no input.
    fn goto(&mut self, mut id: NodeId, now: Instant) {
        // Build rejects loops without input; this guard only keeps a bad tree from spinning.
        for _ in 0..=self.tree.nodes.len() {
            match self.enter(id, now) {
                Some(next) => id = next,
                None => return,
            }
        }
        self.finish(Action::Hangup, now);
    }

    fn enter(&mut self, id: NodeId, now: Instant) -> Option<NodeId> {
        let tree = Arc::clone(&self.tree);
        self.node = id;
        self.attempt = 1;
        self.digits.clear();
        self.timer = None;
        self.step(
            StepKind::Entered {
                node: self.name(id),
            },
            now,
        );
        let lang = self.language.clone();
        match &tree.nodes[id] {
            Node::Announcement {
                prompts,
                next,
                barge_in,
            } => self.play(prompts.get(&lang), *barge_in, After::Goto(*next), now),
            Node::Menu {
                prompts, barge_in, ..
            }
            | Node::Collect {
                prompts, barge_in, ..
            } => self.play(prompts.get(&lang), *barge_in, After::Listen, now),
            Node::Identify(i) => {
                self.pin_mode = i.method == IdentifyMethod::Pin;
                if self.pin_mode {
                    return self.play(i.prompts.get(&lang), i.barge_in, After::Listen, now);
                }
                match self.call.caller.clone().filter(|c| !c.trim().is_empty()) {
                    Some(caller) => {
                        self.phase = Phase::Lookup;
                        self.actions.push_back(Action::LookupAni { caller });
                        None
                    }
                    None => self.id_miss(true, now),
                }
            }
            Node::Schedule {
                schedule,
                open,
                closed,
                open_prompts,
                closed_prompts,
                holiday_prompts,
            } => {
                let elapsed = now.saturating_duration_since(self.start);
                let wall = self.wall + chrono::Duration::from_std(elapsed).unwrap_or_default();
                let s = &tree.schedules[*schedule];
                let status = s.calendar.status(wall);
                let (target, prompts, reason) = match &status {
                    Status::Open => (*open, open_prompts, None),
                    Status::Closed(ClosedReason::OutsideHours) => {
                        (*closed, closed_prompts, Some("outside hours".to_string()))
                    }
                    Status::Closed(ClosedReason::Holiday(h)) => {
                        (*closed, holiday_prompts, Some(format!("holiday: {h}")))
                    }
                    Status::Closed(ClosedReason::Closure(label)) => (
                        *closed,
                        holiday_prompts,
                        Some(format!("closure: {}", label.as_deref().unwrap_or("closed"))),
                    ),
                };
                self.step(
                    StepKind::Schedule {
                        node: self.name(id),
                        schedule: s.name.clone(),
                        open: status == Status::Open,
                        reason,
                    },
                    now,
                );
                self.play(prompts.get(&lang), false, After::Goto(target), now)
            }
            Node::Route {
                queue,
                area,
                sr_type,
                prompts,
            } => {
                let action = Action::RouteToQueue {
                    queue: queue.clone(),
                    area: area.clone(),
                    sr_type: sr_type.clone(),
                    customer: self.customer.clone(),
                    identified_by: self.identified_by,
                };
                self.play(prompts.get(&lang), false, After::Finish(action), now)
            }
            Node::Voicemail { mailbox, prompts } => {
                let action = Action::Voicemail {
                    mailbox: mailbox.clone(),
                    customer: self.customer.clone(),
                    identified_by: self.identified_by,
                };
                self.play(prompts.get(&lang), false, After::Finish(action), now)
            }
            Node::Hangup { prompts } => self.play(
                prompts.get(&lang),
                false,
                After::Finish(Action::Hangup),
                now,
            ),
        }
    }

    /// Plays `prompts`, then `after`. Empty prompts, or keys typed ahead into a prompt that
    /// allows barge-in, skip straight to `after`.
    fn play(
        &mut self,
        prompts: &[String],
        barge_in: bool,
        after: After,
        now: Instant,
    ) -> Option<NodeId> {
        if !barge_in {
            self.carry.clear();
        }
        if prompts.is_empty() || (barge_in && !self.carry.is_empty()) {
            return self.after(after, now);
        }
        self.actions.push_back(Action::Play {
            prompts: prompts.to_vec(),
            barge_in,
        });
        self.phase = Phase::Playing {
            barge_in,
            after,
            stopping: false,
        };
        None
    }

    fn after(&mut self, after: After, now: Instant) -> Option<NodeId> {
        match after {
            After::Listen => self.listen(now),
            After::Goto(next) => Some(next),
            After::Finish(action) => {
                self.finish(action, now);
                None
            }
        }
    }

    fn finish(&mut self, action: Action, now: Instant) {
        let outcome = match &action {
            Action::RouteToQueue { queue, .. } => format!("route {queue}"),
            Action::Voicemail { mailbox, .. } => format!("voicemail {mailbox}"),
            _ => "hangup".to_string(),
        };
        self.step(StepKind::Final { outcome }, now);
        self.actions.push_back(action);
        self.phase = Phase::Finished;
        self.timer = None;
        self.carry.clear();
    }

    /// Digit rules of the current node: first-digit and inter-digit timeouts and limits.
    fn rules(&self) -> DigitRules {
        match &self.tree.nodes[self.node] {
            Node::Collect { rules, .. } => *rules,
            Node::Identify(i) => i.rules,
            Node::Menu { timeout, .. } => DigitRules {
                max_digits: 1,
                min_digits: 1,
                terminator: None,
                first: *timeout,
                inter: *timeout,
            },
            _ => DigitRules {
                max_digits: 1,
                min_digits: 1,
                terminator: None,
                first: Duration::ZERO,
                inter: Duration::ZERO,
            },
        }
    }

    /// Starts waiting for digits, first consuming keys typed ahead.
    fn listen(&mut self, now: Instant) -> Option<NodeId> {
        self.phase = Phase::Listening;
        while let Some(d) = self.carry.pop_front() {
            if let Some(next) = self.listen_digit(d, now) {
                return next;
            }
        }
        let rules = self.rules();
        let wait = if self.digits.is_empty() {
            rules.first
        } else {
            rules.inter
        };
        self.timer = Some(now + wait);
        None
    }

    fn on_digit(&mut self, d: char, now: Instant) {
        if !DTMF.contains(d) {
            return;
        }
        match &mut self.phase {
            Phase::Playing {
                barge_in: true,
                stopping,
                ..
            } => {
                self.carry.push_back(d);
                if !*stopping {
                    *stopping = true;
                    self.actions.push_back(Action::StopPlayback);
                    self.timer = Some(now + STOP_GRACE);
                }
            }
            Phase::Playing { .. } | Phase::Finished => {}
            Phase::Lookup => self.carry.push_back(d),
            Phase::Listening => {
                self.timer = None;
                match self.listen_digit(d, now) {
                    Some(Some(next)) => self.goto(next, now),
                    Some(None) => {}
                    None => self.timer = Some(now + self.rules().inter),
                }
            }
        }
    }

    /// One key while listening: `None` to keep listening, `Some(next)` when the node is done
    /// listening (with a node to go to, or waiting on something else).
    fn listen_digit(&mut self, d: char, now: Instant) -> Option<Option<NodeId>> {
        let tree = Arc::clone(&self.tree);
        match &tree.nodes[self.node] {
            Node::Menu {
                options, labels, ..
            } => {
                if let Some((_, target)) = options.iter().find(|(k, _)| *k == d) {
                    let label = labels.iter().find(|(k, _)| *k == d).map(|(_, l)| l.clone());
                    self.step(
                        StepKind::Choice {
                            node: self.name(self.node),
                            digit: d,
                            label,
                        },
                        now,
                    );
                    Some(Some(*target))
                } else {
                    self.carry.clear();
                    Some(self.menu_failed(Failure::Invalid(d), now))
                }
            }
            Node::Collect { rules, .. } => self.typed(d, *rules, now),
            Node::Identify(i) => self.typed(d, i.rules, now),
            _ => Some(None),
        }
    }

    /// A key for a collect or PIN node.
    fn typed(&mut self, d: char, rules: DigitRules, now: Instant) -> Option<Option<NodeId>> {
        if rules.terminator == Some(d) {
            return Some(self.digits_done(now));
        }
        self.digits.push(d);
        if self.digits.len() >= rules.max_digits {
            self.swallow = rules.terminator.map(|t| (t, now + rules.inter));
            Some(self.digits_done(now))
        } else {
            None
        }
    }

    fn listen_timeout(&mut self, now: Instant) -> Option<NodeId> {
        match &self.tree.nodes[self.node] {
            Node::Menu { .. } => self.menu_failed(Failure::NoInput, now),
            _ => self.digits_done(now),
        }
    }

    fn menu_failed(&mut self, failure: Failure, now: Instant) -> Option<NodeId> {
        let tree = Arc::clone(&self.tree);
        let Node::Menu {
            prompts,
            attempts,
            invalid,
            no_input,
            on_failure,
            barge_in,
            ..
        } = &tree.nodes[self.node]
        else {
            return None;
        };
        self.step(
            StepKind::Retry {
                node: self.name(self.node),
                failure,
                attempt: self.attempt,
                of: *attempts,
            },
            now,
        );
        if self.attempt >= *attempts {
            return Some(*on_failure);
        }
        self.attempt += 1;
        let explain = match failure {
            Failure::Invalid(_) => invalid,
            Failure::NoInput => no_input,
        };
        let mut all = explain.get(&self.language).to_vec();
        all.extend_from_slice(prompts.get(&self.language));
        self.play(&all, *barge_in, After::Listen, now)
    }

    /// The digits of a collect or PIN node are complete (max, terminator or timeout).
    fn digits_done(&mut self, now: Instant) -> Option<NodeId> {
        self.timer = None;
        let tree = Arc::clone(&self.tree);
        match &tree.nodes[self.node] {
            Node::Collect { store, next, .. } => {
                let digits = std::mem::take(&mut self.digits);
                self.collected.insert(store.clone(), digits.clone());
                self.step(
                    StepKind::Collected {
                        node: self.name(self.node),
                        store: store.clone(),
                        digits,
                    },
                    now,
                );
                Some(*next)
            }
            Node::Identify(i) => {
                if self.digits.len() < i.rules.min_digits.max(1) {
                    let no_input = self.digits.is_empty();
                    return self.id_miss(no_input, now);
                }
                let pin = std::mem::take(&mut self.digits);
                self.phase = Phase::Lookup;
                self.actions.push_back(Action::LookupPin { pin });
                None
            }
            _ => None,
        }
    }
}

mod identify;

#[cfg(test)]
#[path = "engine_tests.rs"]
pub(crate) mod tests;

#[cfg(test)]
mod flow_tests;
