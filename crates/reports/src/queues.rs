//! Calls: the per-queue report (offered, answered, abandoned, overflowed, answer/queue/talk/
//! wrap-up times, service level) and the overview of all calls of the phone channel
//! (contacts, refused, reached the welcome, queued, answered, abandoned, sent to voicemail).
//!
//! Definitions, shared with the live console so the two never disagree:
//! - a queue's **offered** calls are its entries (`queue.entered`): a call transferred or
//!   overflowed to a second queue is offered to both;
//! - **abandoned** counts the hang-ups while waiting whose wait reached the short-abandon
//!   threshold; shorter ones are `abandoned_short` (a caller who changed their mind at once
//!   is not a service failure);
//! - **service level** is the console's: answered within the queue's threshold ÷ (answered +
//!   abandoned after the threshold + overflowed after it), each as the ACD judged it;
//! - waits are bucketed by when the call entered the queue, wrap-ups by when they started.

use std::collections::{BTreeMap, BTreeSet};

use events::Outcome;
use serde::Serialize;

use crate::ledger::{Folded, VisitEnd};
use crate::period::{Bucket, Period, Sampling};
use crate::stats::{DurationSummary, Durations, percent, round2};

/// Choices of the calls reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallsOptions {
    pub sampling: Sampling,
    /// Hang-ups in queue shorter than this are not counted as abandoned.
    pub short_abandon_ms: u64,
    /// Queues that get rows even without calls (the configured ones).
    pub queues: Vec<String>,
}

impl Default for CallsOptions {
    fn default() -> CallsOptions {
        CallsOptions {
            sampling: Sampling::Total,
            short_abandon_ms: 5_000,
            queues: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Default)]
struct QueueAcc {
    offered: u64,
    answered: u64,
    answered_in_target: u64,
    abandoned: u64,
    abandoned_short: u64,
    abandoned_late: u64,
    overflowed: u64,
    overflowed_late: u64,
    transferred: u64,
    waiting: u64,
    answer: Durations,
    queue_time: Durations,
    talk: Durations,
    wrap_ups: u64,
    wrap_up_ms: u64,
}

/// One queue in one bucket.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueueRow {
    pub bucket: Bucket,
    /// The bucket as people read it (`2026-03-02`, `2026-W10`, `08:00-09:00`).
    pub label: String,
    pub queue: String,
    pub offered: u64,
    pub answered: u64,
    pub answered_within_target: u64,
    pub abandoned: u64,
    pub abandoned_short: u64,
    pub overflowed: u64,
    /// Answered, then transferred by the agent to another queue.
    pub transferred: u64,
    /// Entered and still without an end when the report was computed.
    pub waiting: u64,
    /// Waits of the answered calls.
    pub answer_time: DurationSummary,
    /// Waits of every call that left the queue (answered, abandoned, overflowed).
    pub queue_time: DurationSummary,
    pub talk_time: DurationSummary,
    /// Wrap-ups that followed the queue's calls, and their mean length in seconds.
    pub wrap_ups: u64,
    pub average_wrap_up_s: Option<f64>,
    /// Percent, as the console computes it.
    pub service_level_pct: Option<f64>,
    /// Abandoned (over the short threshold) ÷ offered, percent.
    pub abandoned_pct: Option<f64>,
}

/// The queue report: rows per bucket and queue, in order, and one total per queue.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueueReport {
    pub sampling: Sampling,
    pub rows: Vec<QueueRow>,
    pub totals: Vec<QueueRow>,
}

fn row(bucket: Bucket, queue: &str, mut a: QueueAcc) -> QueueRow {
    let counted = a.answered + a.abandoned_late + a.overflowed_late;
    QueueRow {
        bucket,
        label: bucket.to_string(),
        queue: queue.to_owned(),
        offered: a.offered,
        answered: a.answered,
        answered_within_target: a.answered_in_target,
        abandoned: a.abandoned,
        abandoned_short: a.abandoned_short,
        overflowed: a.overflowed,
        transferred: a.transferred,
        waiting: a.waiting,
        answer_time: a.answer.summary(),
        queue_time: a.queue_time.summary(),
        talk_time: a.talk.summary(),
        wrap_ups: a.wrap_ups,
        #[expect(clippy::cast_precision_loss, reason = "sums stay far below 2^52 ms")]
        average_wrap_up_s: (a.wrap_ups > 0)
            .then(|| round2(a.wrap_up_ms as f64 / a.wrap_ups as f64 / 1000.0)),
        service_level_pct: percent(a.answered_in_target, counted),
        abandoned_pct: percent(a.abandoned, a.offered),
    }
}

fn accumulate(
    period: &Period,
    folded: &Folded,
    options: &CallsOptions,
    sampling: Sampling,
) -> BTreeMap<(Bucket, String), QueueAcc> {
    let mut acc: BTreeMap<(Bucket, String), QueueAcc> = BTreeMap::new();
    let mut queues: BTreeSet<String> = options.queues.iter().cloned().collect();
    for call in &folded.calls {
        for v in &call.visits {
            if !period.contains(v.entered_at) {
                continue;
            }
            queues.insert(v.queue.clone());
            let a = acc
                .entry((period.bucket(sampling, v.entered_at), v.queue.clone()))
                .or_default();
            a.offered += 1;
            match &v.end {
                VisitEnd::Waiting => a.waiting += 1,
                VisitEnd::Answered {
                    wait_ms,
                    within_service_level,
                    talk_ms,
                    transferred_to,
                    ..
                } => {
                    a.answered += 1;
                    a.answered_in_target += u64::from(*within_service_level);
                    a.answer.push(*wait_ms);
                    a.queue_time.push(*wait_ms);
                    if let Some(t) = talk_ms {
                        a.talk.push(*t);
                    }
                    a.transferred += u64::from(transferred_to.is_some());
                }
                VisitEnd::Abandoned {
                    wait_ms,
                    within_service_level,
                    ..
                } => {
                    if *wait_ms < options.short_abandon_ms {
                        a.abandoned_short += 1;
                    } else {
                        a.abandoned += 1;
                    }
                    a.abandoned_late += u64::from(!within_service_level);
                    a.queue_time.push(*wait_ms);
                }
                VisitEnd::Overflowed {
                    wait_ms,
                    within_service_level,
                    ..
                } => {
                    a.overflowed += 1;
                    a.overflowed_late += u64::from(!within_service_level);
                    a.queue_time.push(*wait_ms);
                }
            }
        }
    }
    for h in &folded.agent_hours {
        let Some(queue) = &h.queue else { continue };
        if h.state != events::AgentStatus::WrapUp || h.started == 0 || !period.contains(h.hour) {
            continue;
        }
        queues.insert(queue.clone());
        let a = acc
            .entry((period.bucket(sampling, h.hour), queue.clone()))
            .or_default();
        a.wrap_ups += h.started;
        a.wrap_up_ms += h.started_ms;
    }
    for bucket in period.buckets(sampling) {
        for q in &queues {
            acc.entry((bucket, q.clone())).or_default();
        }
    }
    acc
}

/// The per-queue report of `period`.
pub fn queue_report(period: &Period, folded: &Folded, options: &CallsOptions) -> QueueReport {
    let rows = accumulate(period, folded, options, options.sampling)
        .into_iter()
        .map(|((b, q), a)| row(b, &q, a))
        .collect();
    let totals = accumulate(period, folded, options, Sampling::Total)
        .into_iter()
        .map(|((b, q), a)| row(b, &q, a))
        .collect();
    QueueReport {
        sampling: options.sampling,
        rows,
        totals,
    }
}

/// Every call of the phone channel in one bucket (by when it started).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CallsRow {
    pub bucket: Option<Bucket>,
    pub label: String,
    /// Calls that reached us (`call.started`).
    pub contacts: u64,
    /// Refused: no free line, no media, over capacity.
    pub refused: u64,
    /// Answered by the IVR: the caller heard the welcome.
    pub welcomed: u64,
    /// Entered at least one queue.
    pub queued: u64,
    /// Talked to an agent.
    pub answered: u64,
    /// Hung up in a queue (after the short-abandon threshold) without being answered.
    pub abandoned: u64,
    /// Sent to a voicemail box by a queue's overflow.
    pub to_voicemail: u64,
    /// Ended before any queue (in the IVR, out of hours, a menu without queue).
    pub ended_before_queue: u64,
}

/// The phone channel's calls per bucket, in order (every bucket of the period has a row).
pub fn calls_overview(period: &Period, folded: &Folded, options: &CallsOptions) -> Vec<CallsRow> {
    let mut rows: BTreeMap<Bucket, CallsRow> = period
        .buckets(options.sampling)
        .into_iter()
        .map(|b| {
            (
                b,
                CallsRow {
                    bucket: Some(b),
                    label: b.to_string(),
                    ..CallsRow::default()
                },
            )
        })
        .collect();
    for call in &folded.calls {
        if call.partial || !period.contains(call.started_at) {
            continue;
        }
        let r = rows
            .entry(period.bucket(options.sampling, call.started_at))
            .or_default();
        r.contacts += 1;
        r.refused += u64::from(call.outcome == Some(Outcome::Rejected) && !call.welcomed);
        r.welcomed += u64::from(call.welcomed);
        let answered = call
            .visits
            .iter()
            .any(|v| matches!(v.end, VisitEnd::Answered { .. }));
        r.queued += u64::from(!call.visits.is_empty());
        r.answered += u64::from(answered);
        let last = call.visits.last().map(|v| &v.end);
        r.abandoned += u64::from(
            !answered
                && matches!(last, Some(VisitEnd::Abandoned { wait_ms, .. })
                    if *wait_ms >= options.short_abandon_ms),
        );
        r.to_voicemail += u64::from(call.visits.iter().any(
            |v| matches!(&v.end, VisitEnd::Overflowed { to, .. } if to.starts_with("voicemail:")),
        ));
        r.ended_before_queue += u64::from(call.visits.is_empty() && call.ended_at.is_some());
    }
    rows.into_values().collect()
}
