//! The figures derived from the event log (issue 12): the supervisor console's "today"
//! queue counters, its calls-per-hour chart and the event-driven metrics. They are never
//! kept anywhere else: the event log's writer ([`crate::record`]) hands each event to
//! [`Figures::observe`] once it is written, and at start [`Figures::rebuild`] reads the
//! stored log back into fresh state, so a restart shows what was shown before it.
//!
//! # Run loop
//! No task of its own: a value shared (cheap to clone) between the writer, which observes,
//! and the API and event stream, which read. Time is what the events carry (when they were
//! published) and what readers pass in; the day boundary is the [`DayOf`] given (local
//! midnight in production), so tests choose theirs.
//!
//! "Today" per queue, as the ACD counts it (acd::stats): answered (`queue.connected`),
//! abandoned, overflowed, each split by whether the wait was within the queue's service
//! level as the event says; the service level is answered on time ÷ (answered + abandoned
//! late + overflowed late); the average answer time is the mean wait of the answered calls.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use ::events::Event;
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use serde::Serialize;

use crate::events::hourly::{HourCount, Hourly};
use crate::metrics::Metrics;

/// The calendar day an instant falls on, for "today" (local midnight in production).
pub type DayOf = Arc<dyn Fn(DateTime<Utc>) -> NaiveDate + Send + Sync>;

/// The day in the server's local time zone.
pub fn local_day() -> DayOf {
    Arc::new(|at: DateTime<Utc>| at.with_timezone(&chrono::Local).date_naive())
}

/// How far back [`Figures::rebuild`] reads: the chart's 24 hours and the longest local day.
const REBUILD_WINDOW: TimeDelta = TimeDelta::hours(26);

/// One queue's counters since midnight.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct QueueDay {
    /// Calls that entered the queue.
    pub entered: u64,
    pub answered: u64,
    pub answered_within_service_level: u64,
    pub abandoned: u64,
    pub abandoned_late: u64,
    pub overflowed: u64,
    pub overflowed_late: u64,
    /// Sum of the waits of the answered calls.
    pub answer_wait_ms: u64,
}

impl QueueDay {
    /// Answered on time ÷ (answered + abandoned late + overflowed late); `None` before the
    /// first call counts.
    #[expect(
        clippy::cast_precision_loss,
        reason = "call counts stay far below 2^52"
    )]
    pub fn service_level(&self) -> Option<f64> {
        let counted = self.answered + self.abandoned_late + self.overflowed_late;
        (counted > 0).then(|| self.answered_within_service_level as f64 / counted as f64)
    }

    /// Mean wait of the calls answered, seconds; `None` before the first.
    #[expect(clippy::cast_precision_loss, reason = "waits stay far below 2^52 ms")]
    pub fn avg_answer_time_s(&self) -> Option<f64> {
        (self.answered > 0).then(|| self.answer_wait_ms as f64 / self.answered as f64 / 1000.0)
    }

    fn observe(&mut self, event: &Event) {
        match event {
            Event::QueueEntered { .. } => self.entered += 1,
            Event::QueueConnected {
                wait_ms,
                within_service_level,
                ..
            } => {
                self.answered += 1;
                self.answered_within_service_level += u64::from(*within_service_level);
                self.answer_wait_ms += wait_ms;
            }
            Event::QueueAbandoned {
                within_service_level,
                ..
            } => {
                self.abandoned += 1;
                self.abandoned_late += u64::from(!within_service_level);
            }
            Event::QueueOverflowed {
                within_service_level,
                ..
            } => {
                self.overflowed += 1;
                self.overflowed_late += u64::from(!within_service_level);
            }
            _ => {}
        }
    }
}

/// The counters of one day.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Today {
    /// The day counted; `None` before the first event.
    pub day: Option<NaiveDate>,
    /// Queue name → counters (queues with no event today are absent).
    pub queues: BTreeMap<String, QueueDay>,
    /// `centralino_calls_total` today, by outcome.
    pub calls_ended: BTreeMap<String, u64>,
    /// Service Requests created today, by channel.
    pub tickets_created: BTreeMap<String, u64>,
}

impl Today {
    /// The counters of `queue` (zero when it saw nothing today).
    pub fn queue(&self, queue: &str) -> QueueDay {
        self.queues.get(queue).copied().unwrap_or_default()
    }
}

struct State {
    today: Today,
    hourly: Hourly,
}

/// The derived figures; see the module docs. Cheap to clone.
#[derive(Clone)]
pub struct Figures {
    state: Arc<Mutex<State>>,
    metrics: Arc<Metrics>,
    day_of: DayOf,
}

impl std::fmt::Debug for Figures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Figures")
            .field("today", &self.lock().today)
            .finish_non_exhaustive()
    }
}

impl Default for Figures {
    fn default() -> Self {
        Figures::new(Arc::new(Metrics::new()), local_day())
    }
}

impl Figures {
    /// Empty figures counting into `metrics`, days cut by `day_of`.
    pub fn new(metrics: Arc<Metrics>, day_of: DayOf) -> Self {
        Figures {
            state: Arc::new(Mutex::new(State {
                today: Today::default(),
                hourly: Hourly::new(),
            })),
            metrics,
            day_of,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The metrics it counts into.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Counts `event`, published at `at`. Events of an earlier day than the one counted
    /// change only the hourly chart; one of a later day starts a new day.
    pub fn observe(&self, at: DateTime<Utc>, event: &Event) {
        let day = (self.day_of)(at);
        let mut state = self.lock();
        if let Event::CallStarted { .. } = event {
            state.hourly.record(at);
        }
        let today = &mut state.today;
        match today.day {
            Some(d) if d > day => return,
            Some(d) if d == day => {}
            _ => {
                *today = Today {
                    day: Some(day),
                    ..Today::default()
                }
            }
        }
        if let Some(queue) = event.queue() {
            let counted = matches!(
                event,
                Event::QueueEntered { .. }
                    | Event::QueueConnected { .. }
                    | Event::QueueAbandoned { .. }
                    | Event::QueueOverflowed { .. }
            );
            if counted {
                today
                    .queues
                    .entry(queue.to_string())
                    .or_default()
                    .observe(event);
            }
        }
        match event {
            Event::CallEnded { outcome, .. } => {
                *today
                    .calls_ended
                    .entry(outcome.as_str().to_string())
                    .or_default() += 1;
            }
            Event::TicketCreated { channel, .. } => {
                *today
                    .tickets_created
                    .entry(channel.as_str().to_string())
                    .or_default() += 1;
            }
            _ => {}
        }
        drop(state);
        self.metrics.observe(event);
    }

    /// Today's counters at `now` (empty once the day counted is over).
    pub fn today(&self, now: DateTime<Utc>) -> Today {
        let state = self.lock();
        if state.today.day == Some((self.day_of)(now)) {
            state.today.clone()
        } else {
            Today::default()
        }
    }

    /// Calls started per hour, the 24 hours ending at `now`.
    pub fn hourly(&self, now: DateTime<Utc>) -> Vec<HourCount> {
        self.lock().hourly.series(now)
    }

    /// Reads the stored event log back (from 26 hours before `now`, in log order) into
    /// these figures, which should be fresh; returns how many events it read. The metrics
    /// count today's events only, as the live figures do.
    pub async fn rebuild(&self, store: &crm::Store, now: DateTime<Utc>) -> crm::Result<usize> {
        // Everything logged since the window began: the writer has not started yet.
        let logged = store
            .events_between(now - REBUILD_WINDOW, DateTime::<Utc>::MAX_UTC)
            .await?;
        let today = (self.day_of)(now);
        let mut read = 0;
        for e in &logged {
            match serde_json::from_str::<Event>(&e.body) {
                Ok(event) => {
                    if (self.day_of)(e.at) == today {
                        self.observe(e.at, &event);
                    } else if let Event::CallStarted { .. } = event {
                        self.lock().hourly.record(e.at);
                    }
                    read += 1;
                }
                // A kind a newer version wrote, or a row damaged by hand: skipped, said.
                Err(error) => {
                    tracing::warn!(%error, event = %e.event_id, kind = %e.kind,
                        "event log row not understood: left out of the figures");
                }
            }
        }
        Ok(read)
    }
}
