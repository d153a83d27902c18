//! Escalation clocks as values (R-VM-2, issue "escalation"): a queue's targets, a ticket's
//! clocks and how they start, stop and move, the sweep that announces them. No database:
//! the store keeps the clocks on the ticket rows ([`crate::sla`]).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Duration, Utc};

use crate::lifecycle::State;
use crate::types::{QueueId, TicketId};

/// A queue's service targets, in working time on its calendar.
#[derive(Debug, Clone)]
pub struct QueueSla {
    /// The calendar the working time is counted on.
    pub calendar: Arc<calendar::BusinessCalendar>,
    /// Taking in charge (SLA.O.1: 4 working hours for off-line requests).
    pub first_response: Option<Duration>,
    /// Resolution (SLA.O.2/3: 24 or 48 working hours).
    pub solution: Option<Duration>,
}

/// A ticket's clocks (all `None` when its queue has no targets).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct TicketSla {
    /// Due time of taking in charge.
    pub first_response_due: Option<DateTime<Utc>>,
    /// When an operator took it in charge (stops the first clock).
    pub first_response_at: Option<DateTime<Utc>>,
    /// Due time of the next customer-visible update.
    pub update_due: Option<DateTime<Utc>>,
    /// When the update clock last started: creation, or the last customer-visible update.
    pub update_from: Option<DateTime<Utc>>,
    /// Due time of the resolution.
    pub solution_due: Option<DateTime<Utc>>,
}

/// Which clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Clock {
    /// Taking in charge.
    FirstResponse,
    /// The next customer-visible update.
    Update,
    /// Resolution.
    Solution,
}

impl Clock {
    /// `first_response`, `update` or `solution` (as serialised).
    pub fn as_str(self) -> &'static str {
        match self {
            Clock::FirstResponse => "first_response",
            Clock::Update => "update",
            Clock::Solution => "solution",
        }
    }
}

/// A clock due within the window asked for, or overdue.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Escalation {
    /// The ticket.
    pub ticket: TicketId,
    /// Its number.
    pub number: String,
    /// Its queue.
    pub queue: QueueId,
    /// Which clock.
    pub kind: Clock,
    /// When it is (was) due.
    pub due: DateTime<Utc>,
    /// How late it is (`None`: not yet due); serialised as whole seconds.
    #[serde(serialize_with = "seconds")]
    pub overdue_by: Option<Duration>,
}

fn seconds<S: serde::Serializer>(
    d: &Option<Duration>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_some(&d.num_seconds()),
        None => s.serialize_none(),
    }
}

/// The per-queue targets a store applies (configuration, shared by clones of the store).
pub(crate) type QueueSlas = Arc<RwLock<HashMap<QueueId, QueueTargets>>>;

impl QueueSla {
    /// The clocks of a ticket whose clocks start at `from` (counted from the next opening
    /// when `from` is out of hours).
    pub fn due_from(&self, from: DateTime<Utc>) -> TicketSla {
        let add = |d: Option<Duration>| d.and_then(|d| self.calendar.add_working_time(from, d));
        TicketSla {
            first_response_due: add(self.first_response),
            first_response_at: None,
            update_due: None,
            update_from: None,
            solution_due: add(self.solution),
        }
    }

    /// As [`Self::due_from`], with the update clock too.
    pub(crate) fn start(&self, update: Option<Duration>, from: DateTime<Utc>) -> TicketSla {
        let mut sla = self.due_from(from);
        if update.is_some() {
            sla.update_from = Some(from);
            sla.update_due = update.and_then(|d| self.calendar.add_working_time(from, d));
        }
        sla
    }
}

/// A queue's targets with the update target, as the store keeps them.
#[derive(Debug, Clone)]
pub struct QueueTargets {
    /// First response and solution on the calendar.
    pub sla: QueueSla,
    /// The longest a ticket may go without a customer-visible update (working time).
    pub update: Option<Duration>,
}

impl TicketSla {
    /// True when no clock was ever set.
    pub fn is_empty(&self) -> bool {
        self.first_response_due.is_none()
            && self.update_due.is_none()
            && self.solution_due.is_none()
    }

    /// The running clocks with their due times: the first clock until taken in charge.
    pub fn running(&self) -> impl Iterator<Item = (Clock, DateTime<Utc>)> {
        let first = self
            .first_response_due
            .filter(|_| self.first_response_at.is_none());
        [
            (Clock::FirstResponse, first),
            (Clock::Update, self.update_due),
            (Clock::Solution, self.solution_due),
        ]
        .into_iter()
        .filter_map(|(c, d)| Some((c, d?)))
    }

    /// The earliest running due time of a ticket in `state` (`None` once closed or merged).
    pub fn next_due(&self, state: State) -> Option<DateTime<Utc>> {
        if state.is_closed() || state == State::Merged {
            return None;
        }
        self.running().map(|(_, d)| d).min()
    }

    /// An operator acted at `now`: the first clock stops; a customer-visible update restarts
    /// the update clock under `targets` (the ticket's queue's).
    pub(crate) fn operator_acted(
        &mut self,
        now: DateTime<Utc>,
        customer_visible: bool,
        targets: Option<&QueueTargets>,
    ) {
        // Recorded with or without a target: the time of the first response is a fact the
        // reports use, and a later move to a queue with targets keeps it.
        if self.first_response_at.is_none() {
            self.first_response_at = Some(now);
        }
        if customer_visible
            && let Some(t) = targets
            && let Some(update) = t.update
        {
            self.update_from = Some(now);
            self.update_due = t.sla.calendar.add_working_time(now, update);
        }
    }

    /// Moved to a queue with `targets` (or none): every due time is recomputed, first
    /// response and solution from `created`, the update clock from its last start.
    pub(crate) fn requeued(&mut self, created: DateTime<Utc>, targets: Option<&QueueTargets>) {
        let Some(t) = targets else {
            let taken = self.first_response_at;
            *self = TicketSla {
                first_response_at: taken,
                ..TicketSla::default()
            };
            return;
        };
        let from = self.update_from.unwrap_or(created);
        let mut new = t.sla.start(t.update, created);
        if t.update.is_some() {
            new.update_from = Some(from);
            new.update_due = t
                .update
                .and_then(|d| t.sla.calendar.add_working_time(from, d));
        }
        new.first_response_at = self.first_response_at;
        *self = new;
    }
}

/// What an escalation sweep announces of a clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Due within the warning window.
    DueSoon,
    /// Past its due time.
    Overdue,
}

impl Stage {
    /// The stage of `e` as [`Store::escalations`](crate::Store::escalations) found it.
    pub fn of(e: &Escalation) -> Stage {
        if e.overdue_by.is_some() {
            Stage::Overdue
        } else {
            Stage::DueSoon
        }
    }

    /// `due_soon` or `overdue`.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::DueSoon => "due_soon",
            Stage::Overdue => "overdue",
        }
    }
}

/// The escalation sweep's memory (sans-IO): fed the list [`Store::escalations`](crate::Store::escalations) returns at
/// each sweep, it answers which clocks just became due soon or overdue, each once.
///
/// A clock is known by its ticket, kind and due time, so a clock that moves (a move to
/// another queue, an update restarting it) is announced again at its new time, and one that
/// stops (taken in charge, closed) is forgotten. The first sweep after a start announces
/// nothing: it only learns what is already due (consoles read the lists when they connect),
/// so a restart never floods them.
#[derive(Debug, Default)]
pub struct EscalationWatch {
    known: std::collections::HashSet<(TicketId, Clock, DateTime<Utc>, Stage)>,
    primed: bool,
}

impl EscalationWatch {
    /// A watch that has seen nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The clocks of `current` (this sweep's escalations) not announced at their stage yet.
    pub fn sweep(&mut self, current: &[Escalation]) -> Vec<(Stage, Escalation)> {
        let keys: std::collections::HashSet<_> = current
            .iter()
            .map(|e| (e.ticket, e.kind, e.due, Stage::of(e)))
            .collect();
        let mut out = Vec::new();
        if self.primed {
            for e in current {
                let key = (e.ticket, e.kind, e.due, Stage::of(e));
                if !self.known.contains(&key) {
                    out.push((key.3, e.clone()));
                }
            }
        }
        self.known = keys;
        self.primed = true;
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use chrono_tz::Europe::Rome;

    fn targets(update: Option<i64>) -> QueueTargets {
        let config: calendar::CalendarConfig = toml::from_str(
            "timezone = \"Europe/Rome\"\nitalian_holidays = true\n\
             mon = [\"08:00-19:00\"]\ntue = [\"08:00-19:00\"]\nwed = [\"08:00-19:00\"]\n\
             thu = [\"08:00-19:00\"]\nfri = [\"08:00-19:00\"]\n",
        )
        .unwrap();
        QueueTargets {
            sla: QueueSla {
                calendar: Arc::new(calendar::BusinessCalendar::new(&config).unwrap()),
                first_response: Some(Duration::hours(4)),
                solution: Some(Duration::hours(22)),
            },
            update: update.map(Duration::hours),
        }
    }

    fn escalation(ticket: i64, kind: Clock, due: DateTime<Utc>, now: DateTime<Utc>) -> Escalation {
        Escalation {
            ticket: TicketId(ticket),
            number: format!("n{ticket}"),
            queue: QueueId(1),
            kind,
            due,
            overdue_by: (due <= now).then(|| now - due),
        }
    }

    #[test]
    fn the_watch_announces_each_stage_once_and_nothing_at_start() {
        let mut watch = EscalationWatch::new();
        let t0 = rome(23, 9, 0);
        let due = rome(23, 9, 20);
        let late = escalation(1, Clock::FirstResponse, rome(23, 8, 0), t0);
        // At start: already due soon and overdue clocks are learnt, not announced.
        let first = [escalation(2, Clock::Solution, due, t0), late.clone()];
        assert!(watch.sweep(&first).is_empty());
        assert!(watch.sweep(&first).is_empty(), "nothing new");
        // A new ticket comes within the window: due soon, once.
        let t1 = rome(23, 9, 1);
        let third = escalation(3, Clock::FirstResponse, rome(23, 9, 25), t1);
        let now = [
            escalation(2, Clock::Solution, due, t1),
            late.clone(),
            third.clone(),
        ];
        let notices = watch.sweep(&now);
        assert_eq!(notices, vec![(Stage::DueSoon, third.clone())]);
        assert!(watch.sweep(&now).is_empty());
        // Time passes: ticket 2's clock crosses its due time.
        let t2 = rome(23, 9, 21);
        let crossed = escalation(2, Clock::Solution, due, t2);
        let now = [
            crossed.clone(),
            late.clone(),
            escalation(3, Clock::FirstResponse, rome(23, 9, 25), t2),
        ];
        assert_eq!(watch.sweep(&now), vec![(Stage::Overdue, crossed.clone())]);
        assert!(watch.sweep(&now).is_empty());
        // Ticket 3 is taken in charge (gone from the list), then ticket 2 moves queue: its
        // clock has a new due time, announced again.
        let moved = escalation(2, Clock::Solution, rome(23, 9, 40), t2);
        assert_eq!(
            watch.sweep(&[moved.clone(), late.clone()]),
            vec![(Stage::DueSoon, moved)]
        );
    }

    fn rome(d: u32, h: u32, m: u32) -> DateTime<Utc> {
        Rome.with_ymd_and_hms(2026, 11, d, h, m, 0)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn friday_evening_counts_from_monday_morning() {
        let t = targets(Some(8));
        let sla = t.sla.start(t.update, rome(20, 18, 30));
        assert_eq!(sla.first_response_due, Some(rome(23, 11, 30)));
        assert_eq!(sla.update_due, Some(rome(23, 15, 30)));
        // 30 min Friday, 11 h Monday, 10.5 h Tuesday.
        assert_eq!(sla.solution_due, Some(rome(24, 18, 30)));
        assert_eq!(sla.next_due(State::New), Some(rome(23, 11, 30)));
        assert_eq!(sla.next_due(State::ClosedSuccessful), None);
    }

    #[test]
    fn taking_in_charge_stops_the_first_clock_and_updates_restart_theirs() {
        let t = targets(Some(2));
        let mut sla = t.sla.start(t.update, rome(23, 8, 0));
        assert_eq!(sla.next_due(State::New), Some(rome(23, 10, 0)));
        sla.operator_acted(rome(23, 9, 0), false, Some(&t));
        assert_eq!(sla.first_response_at, Some(rome(23, 9, 0)));
        assert_eq!(sla.update_due, Some(rome(23, 10, 0)));
        sla.operator_acted(rome(23, 9, 30), true, Some(&t));
        assert_eq!(sla.first_response_at, Some(rome(23, 9, 0)), "stopped once");
        assert_eq!(sla.update_due, Some(rome(23, 11, 30)));
        assert_eq!(sla.running().count(), 2);
    }

    #[test]
    fn a_move_recomputes_from_creation_or_clears() {
        let t = targets(None);
        let created = rome(23, 8, 0);
        let mut sla = t.sla.start(t.update, created);
        let mut strict = targets(Some(1));
        strict.sla.first_response = Some(Duration::hours(1));
        sla.requeued(created, Some(&strict));
        assert_eq!(sla.first_response_due, Some(rome(23, 9, 0)));
        assert_eq!(sla.update_due, Some(rome(23, 9, 0)));
        sla.operator_acted(rome(23, 8, 30), false, Some(&strict));
        sla.requeued(created, None);
        assert!(sla.is_empty());
        assert_eq!(sla.first_response_at, Some(rome(23, 8, 30)));
    }
}
