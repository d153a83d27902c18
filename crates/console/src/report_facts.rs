//! Report facts (issue 15): the event log folded by [`reports::Ledger`] up to a watermark and
//! stored in the CRM (`crm::report_facts`), so reports read one compact row per call instead
//! of parsing every event of their period.
//!
//! - [`materialize`] folds the events after the watermark, a chunk at a time, each chunk's
//!   facts and the new watermark in one transaction (a crash keeps the last chunk committed;
//!   two materializers never store one chunk twice). The reports API runs it before
//!   reading, so the tail left for a report is what arrived since; `centralino reports synth`
//!   runs it after generating.
//! - [`folded`] assembles a report's input: the stored facts of the period, plus the events
//!   after the watermark folded in memory on the open state saved with it, from one state
//!   of the database. It equals folding the whole log (see `reports::facts`).
//! - [`Materializer`] runs [`materialize`] in the background every few seconds
//!   (`[reports] materialize_every_s`), so the first report of the morning finds the night's
//!   events already folded; a failed pass is logged and tried again at the next tick.

use std::collections::HashSet;

use chrono::{DateTime, TimeDelta, Utc};
use crm::{FactBatch, FactCall, FactClosure, FactHour, LoggedEvent, Store, Watermark};
use events::Event;
use reports::facts::{
    FactsError, assemble, decode_call, decode_open, encode_call, encode_open, status_of,
};
use reports::ledger::{AgentHour, Closure, call_span};
use reports::{Folded, Ledger};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{debug, warn};

/// Events folded per transaction.
pub const CHUNK: u32 = 50_000;

/// A call without an event for this long is stored as it is (its `call.ended` was lost,
/// e.g. in a crash); a later event about it takes it back.
pub const STALE: TimeDelta = TimeDelta::hours(24);

/// Why facts could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum FactsLoadError {
    #[error(transparent)]
    Store(#[from] crm::Error),
    #[error(transparent)]
    Facts(#[from] FactsError),
}

/// The events of `rows` that parse, in order; the others are counted and skipped (as the
/// fold of raw events always did).
fn parse(rows: &[(i64, LoggedEvent)]) -> Vec<(DateTime<Utc>, Event)> {
    let mut out = Vec::with_capacity(rows.len());
    let mut unreadable = 0usize;
    for (_, e) in rows {
        match serde_json::from_str::<Event>(&e.body) {
            Ok(event) => out.push((e.at, event)),
            Err(_) => unreadable += 1,
        }
    }
    if unreadable > 0 {
        warn!(
            unreadable,
            "reports: event log rows that are not events were skipped"
        );
    }
    out
}

fn resume(open: &str, mentioned: &[FactCall]) -> Result<Ledger, FactsError> {
    let mut ledger = Ledger::resume(decode_open(open)?);
    for c in mentioned {
        ledger.reopen(decode_call(&c.call_id, &c.body)?);
    }
    Ok(ledger)
}

fn span_ms(from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
    // One more: stored instants are rounded down to the millisecond.
    (to - from).num_milliseconds() + 1
}

/// Folds every event after the watermark into facts; returns how many events were folded.
pub async fn materialize(store: &Store) -> Result<u64, FactsLoadError> {
    materialize_in_chunks(store, CHUNK).await
}

/// As [`materialize`], `chunk` events per transaction.
pub async fn materialize_in_chunks(store: &Store, chunk: u32) -> Result<u64, FactsLoadError> {
    let mut folded = 0u64;
    loop {
        let wm = store.report_watermark().await?;
        let events = store.events_after(wm.last_event, chunk.max(1)).await?;
        let Some((upto, last)) = events.last() else {
            return Ok(folded);
        };
        let mentioned = store.report_calls_mentioned(wm.last_event, *upto).await?;
        let mut ledger = resume(&wm.open, &mentioned)?;
        for (at, e) in &parse(&events) {
            ledger.observe(*at, e);
        }
        let cp = ledger.checkpoint(last.at - STALE);
        let mut max_span_ms = wm.max_span_ms;
        let calls = cp
            .calls
            .iter()
            .map(|c| {
                let (first_at, last_at) = call_span(c);
                max_span_ms = max_span_ms.max(span_ms(first_at, last_at));
                FactCall {
                    call_id: c.call_id.clone(),
                    first_at,
                    last_at,
                    body: encode_call(c),
                }
            })
            .collect();
        let stored: HashSet<&str> = mentioned.iter().map(|c| c.call_id.as_str()).collect();
        let reopened = cp
            .open
            .calls
            .iter()
            .filter(|c| stored.contains(c.call_id.as_str()))
            .map(|c| c.call_id.clone())
            .collect();
        let batch = FactBatch {
            from_event: wm.last_event,
            watermark: Watermark {
                last_event: *upto,
                max_span_ms,
                open: encode_open(&cp.open),
            },
            calls,
            reopened,
            hours: cp
                .agent_hours
                .into_iter()
                .map(|h| FactHour {
                    hour: h.hour,
                    agent: h.agent,
                    state: h.state.as_str().to_owned(),
                    reason: h.reason,
                    queue: h.queue,
                    ms: i64::try_from(h.ms).unwrap_or(i64::MAX),
                    started: i64::try_from(h.started).unwrap_or(i64::MAX),
                    started_ms: i64::try_from(h.started_ms).unwrap_or(i64::MAX),
                })
                .collect(),
            closures: cp
                .closures
                .into_iter()
                .map(|c| FactClosure {
                    at: c.at,
                    number: c.number,
                    queue: c.queue,
                    by: c.by,
                })
                .collect(),
        };
        // `false`: another materializer stored this chunk first; go on from its watermark.
        if store.store_report_facts(&batch).await? {
            folded += events.len() as u64;
        }
    }
}

/// The input of the reports of `[from, to)`: stored facts plus the tail folded in memory,
/// agents' open spans closed at `until` (now).
pub async fn folded(
    store: &Store,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Folded, FactsLoadError> {
    let read = store.report_read(from, to).await?;
    let mut ledger = resume(&read.watermark.open, &read.mentioned)?;
    for (at, e) in &parse(&read.tail) {
        ledger.observe(*at, e);
    }
    let tail = ledger.finish(until);
    let calls = read
        .calls
        .iter()
        .map(|c| decode_call(&c.call_id, &c.body))
        .collect::<Result<Vec<_>, _>>()?;
    let hours = read
        .hours
        .into_iter()
        .map(|h| {
            Ok(AgentHour {
                hour: h.hour,
                state: status_of(&h.state)
                    .ok_or_else(|| FactsError(format!("agent state `{}`", h.state)))?,
                agent: h.agent,
                reason: h.reason,
                queue: h.queue,
                ms: u64::try_from(h.ms).unwrap_or(0),
                started: u64::try_from(h.started).unwrap_or(0),
                started_ms: u64::try_from(h.started_ms).unwrap_or(0),
            })
        })
        .collect::<Result<Vec<_>, FactsError>>()?;
    let closures = read
        .closures
        .into_iter()
        .map(|c| Closure {
            number: c.number,
            queue: c.queue,
            by: c.by,
            at: c.at,
        })
        .collect();
    Ok(assemble(calls, hours, closures, tail))
}

/// What the background materializer has done so far (its last pass is the most recent).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Passes {
    /// Passes that ended, well or not.
    pub done: u64,
    /// Events folded over all passes.
    pub folded: u64,
    /// Passes that failed.
    pub failed: u64,
    /// The error of the last pass, `None` when it succeeded.
    pub last_error: Option<String>,
}

/// [`materialize`] run in the background every `every`: the first pass at once, then one
/// per tick (a pass longer than the interval delays the next, never two at once). An error
/// is logged and the next tick tries again. [`Materializer::stop`] ends it: a pass cut
/// there loses only its uncommitted chunk (each chunk is one transaction).
#[derive(Debug)]
pub struct Materializer {
    stop: watch::Sender<bool>,
    passes: watch::Receiver<Passes>,
    task: JoinHandle<()>,
}

impl Materializer {
    /// Starts the task on the current runtime.
    pub fn spawn(store: Store, every: std::time::Duration) -> Materializer {
        let (stop, mut stopped) = watch::channel(false);
        let (report, passes) = watch::channel(Passes::default());
        let every = every.max(std::time::Duration::from_millis(1));
        let task = tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    biased;
                    _ = stopped.changed() => return,
                    _ = ticks.tick() => {}
                }
                let outcome = tokio::select! {
                    biased;
                    _ = stopped.changed() => return,
                    outcome = materialize(&store) => outcome,
                };
                report.send_modify(|p| {
                    p.done += 1;
                    match outcome {
                        Ok(folded) => {
                            if folded > 0 {
                                debug!(folded, "reports: facts brought up to date");
                            }
                            p.folded += folded;
                            p.last_error = None;
                        }
                        Err(error) => {
                            warn!(%error, "reports: report facts not brought up to date; trying again at the next tick");
                            p.failed += 1;
                            p.last_error = Some(error.to_string());
                        }
                    }
                });
            }
        });
        Materializer { stop, passes, task }
    }

    /// The passes so far; `changed()` wakes at the end of each.
    pub fn passes(&self) -> watch::Receiver<Passes> {
        self.passes.clone()
    }

    /// Stops the task and waits for it (a pass in progress is abandoned at its next await).
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        if let Err(error) = self.task.await
            && error.is_panic()
        {
            warn!(%error, "reports: the facts materializer panicked");
        }
    }
}
