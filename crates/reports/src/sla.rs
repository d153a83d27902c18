//! The contract's monthly SLA report (seed 004 §7, §8.7; R-SUP-3, R-SUP-4): each service
//! level measured over a calendar month, the threshold that applies after the overflow rule,
//! and the points (or fractions) below it that penalties are counted in.
//!
//! # Definitions
//! Exactly as implemented (and unit-tested at their edges):
//! - **Queued call**: a call that entered at least one queue during the month. Its *queue
//!   time* is the sum of its waits in queues up to the first answer (a call overflowed from
//!   one queue to another keeps waiting). A call that hung up in queue before the
//!   short-abandon threshold is not counted in C.2 and C.3 (it is reported apart); a call
//!   still waiting when the report is computed is not counted yet.
//! - **SLA.C.1** contacts that found a free line and reached the welcome message ÷ contacts
//!   (calls that reached the trunk, refused ones included); at least 90 %.
//! - **SLA.C.2** queued calls whose queue time is *below* 30 s ÷ queued calls, at least 90 %
//!   (30.000 s is not below 30 s); and **SLA.C.2 max**: queued calls whose queue time is not
//!   above 90 s ÷ queued calls, 100 % (90.000 s is not above 90 s). A caller who hung up after
//!   20 s had a queue time of 20 s: C.2 measures waiting, C.3 measures giving up.
//! - **SLA.C.3** queued calls abandoned ÷ queued calls, at most 5 %.
//! - **SLA.C.4** Service Requests opened by an answered call and resolved at first contact
//!   (the ticket's flag) ÷ Service Requests opened by answered calls; at least 80 %.
//! - **SLA.O.1–3** requests of the off-line channels (voicemail, e-mail, web, fax) created in
//!   the month: taken in charge within 4 working hours (at least 80 %), resolved within 24
//!   working hours (at least 80 %), within 48 working hours (100 %), on the business
//!   calendar (R-VM-2). A request not yet taken in charge or resolved counts as late once its
//!   time has run out, and as pending (not counted) before.
//! - **Availability**: the share of the month's service time (the business calendar's open
//!   hours) and of the other hours each component was up: ACD and CTI at least 90 % in service
//!   time and 85 % in the other hours; IVR at least 95 % around the clock.
//! - **Overflow rule** (§8.7): when the month's volume exceeds the sized load, each full 10 %
//!   above it lowers the call SLAs' thresholds (C.1–C.4, with the call volume) or the off-line
//!   ones (O.1–O.3, with the off-line volume) by one point: +9 % lowers nothing, +10 % one
//!   point, +25 % two. For an "at most" level (C.3) the point raises the ceiling.
//! - **Points below**: how far the measure is on the wrong side of the applied threshold, in
//!   percentage points; penalties count every point *or fraction* (§7.4), so 2.3 points below
//!   are 3 penalty points.

use calendar::BusinessCalendar;
use chrono::{DateTime, Duration, Utc};
use events::TicketChannel;
use serde::Serialize;

use crate::ledger::{CallRecord, Folded, VisitEnd};
use crate::period::Period;
use crate::stats::{percent, round2};

/// A Service Request as the SLA report reads it (from the CRM).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketFacts {
    pub number: String,
    pub channel: TicketChannel,
    /// Wire name of its type.
    pub ticket_type: String,
    pub queue: String,
    pub created_at: DateTime<Utc>,
    /// Taken in charge: the first operator action (the first-response clock stopped).
    pub taken_at: Option<DateTime<Utc>>,
    /// Closed (successfully or not) — resolved.
    pub resolved_at: Option<DateTime<Utc>>,
    /// Opened by a call an agent answered.
    pub from_answered_call: bool,
    /// Resolved at first contact.
    pub first_contact: bool,
}

/// A component whose availability the contract measures (the events' vocabulary).
pub use events::Component;

/// A time a component was down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Downtime {
    pub component: Component,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

/// The contract's figures, with its values as defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlaSettings {
    /// C.2: queue time below this.
    pub queue_time_target_ms: u64,
    /// C.2 max: queue time never above this.
    pub queue_time_max_ms: u64,
    /// Hang-ups in queue shorter than this are not counted (C.2, C.3).
    pub short_abandon_ms: u64,
    /// O.1: taken in charge within this much working time.
    pub take_in_charge: Duration,
    /// O.2.
    pub resolve: Duration,
    /// O.3.
    pub resolve_all: Duration,
    /// The month's sized call volume (§4.1.2), for the overflow rule; `None`: no rule.
    pub sized_calls: Option<u64>,
    /// The month's sized off-line volume (§4.2.2).
    pub sized_offline: Option<u64>,
}

impl Default for SlaSettings {
    fn default() -> SlaSettings {
        SlaSettings {
            queue_time_target_ms: 30_000,
            queue_time_max_ms: 90_000,
            short_abandon_ms: 5_000,
            take_in_charge: Duration::hours(4),
            resolve: Duration::hours(24),
            resolve_all: Duration::hours(48),
            sized_calls: None,
            sized_offline: None,
        }
    }
}

/// Which side of the threshold is good.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    AtLeast,
    AtMost,
}

/// One service level of the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SlaLine {
    /// `SLA.C.1`, …, `ACD.service_time`, …
    pub id: &'static str,
    pub numerator: u64,
    pub denominator: u64,
    /// Percent; `None` when nothing was counted (no calls, no requests).
    pub measured_pct: Option<f64>,
    pub direction: Direction,
    /// The contract's threshold, percent.
    pub threshold_pct: f64,
    /// Points the overflow rule moves it by.
    pub overflow_points: u32,
    /// The threshold applied.
    pub applied_threshold_pct: f64,
    /// Percentage points on the wrong side of the applied threshold (0 when met).
    pub points_below: f64,
    /// Every point or fraction below counts (§7.4).
    pub penalty_points: u32,
    /// `None` when nothing was counted.
    pub met: Option<bool>,
}

/// The overflow rule's input and result for one volume.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Overflow {
    pub volume: u64,
    pub sized: Option<u64>,
    pub points: u32,
}

/// The month's report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SlaReport {
    pub month: String,
    pub calls: Overflow,
    pub offline: Overflow,
    pub lines: Vec<SlaLine>,
    /// Queued calls not counted: hung up before the short-abandon threshold.
    pub short_abandoned: u64,
    /// Off-line requests with a clock not yet run out when the report was computed (not
    /// counted in that clock's line).
    pub offline_pending: u64,
}

/// Full 10 % steps of `volume` above `sized` (§8.7).
pub fn overflow_points(volume: u64, sized: Option<u64>) -> u32 {
    match sized {
        Some(sized) if sized > 0 && volume > sized => {
            u32::try_from((volume - sized).saturating_mul(10) / sized).unwrap_or(u32::MAX)
        }
        _ => 0,
    }
}

/// One line from its counts.
pub fn line(
    id: &'static str,
    numerator: u64,
    denominator: u64,
    direction: Direction,
    threshold_pct: f64,
    overflow: u32,
) -> SlaLine {
    let measured = percent(numerator, denominator);
    let applied = match direction {
        Direction::AtLeast => (threshold_pct - f64::from(overflow)).max(0.0),
        Direction::AtMost => (threshold_pct + f64::from(overflow)).min(100.0),
    };
    let below = measured.map_or(0.0, |m| match direction {
        Direction::AtLeast => (applied - m).max(0.0),
        Direction::AtMost => (m - applied).max(0.0),
    });
    let below = round2(below);
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "0 ≤ below ≤ 100"
    )]
    let penalty = below.ceil() as u32;
    SlaLine {
        id,
        numerator,
        denominator,
        measured_pct: measured,
        direction,
        threshold_pct,
        overflow_points: overflow,
        applied_threshold_pct: applied,
        points_below: below,
        penalty_points: penalty,
        met: measured.map(|_| below == 0.0),
    }
}

/// How a queued call went, for C.2 and C.3.
enum Queued {
    /// Not counted: still waiting, or hung up before the short-abandon threshold.
    Waiting,
    Short,
    Counted {
        queue_time_ms: u64,
        abandoned: bool,
    },
}

fn queued(call: &CallRecord, short_abandon_ms: u64) -> Queued {
    let mut waited = 0;
    for v in &call.visits {
        match &v.end {
            VisitEnd::Waiting => return Queued::Waiting,
            VisitEnd::Answered { wait_ms, .. } => {
                return Queued::Counted {
                    queue_time_ms: waited + wait_ms,
                    abandoned: false,
                };
            }
            VisitEnd::Abandoned { wait_ms, .. } => {
                let total = waited + wait_ms;
                if call.outcome == Some(events::Outcome::Interrupted) {
                    // The service's stop cut the wait, not the caller (issue 14): the wait
                    // counts for C.2, no abandonment for C.3.
                    return Queued::Counted {
                        queue_time_ms: total,
                        abandoned: false,
                    };
                }
                if total < short_abandon_ms {
                    return Queued::Short;
                }
                return Queued::Counted {
                    queue_time_ms: total,
                    abandoned: true,
                };
            }
            VisitEnd::Overflowed { wait_ms, .. } => waited += wait_ms,
        }
    }
    // Overflowed out of every queue (to voicemail): waited, unanswered, not abandoned.
    Queued::Counted {
        queue_time_ms: waited,
        abandoned: false,
    }
}

/// What the SLA report reads besides the events.
#[derive(Debug, Clone, Copy)]
pub struct SlaInputs<'a> {
    pub folded: &'a Folded,
    pub tickets: &'a [TicketFacts],
    /// The components' recorded downtimes; `None` when availability is not recorded (its
    /// lines are then reported as not measured, never as 100 %).
    pub downtimes: Option<&'a [Downtime]>,
    /// The service time (open hours) and the working-time clock of O.1–O.3.
    pub calendar: &'a BusinessCalendar,
    /// When the report is computed (clocks still running are pending before it).
    pub as_of: DateTime<Utc>,
}

/// Whether a clock of `limit` working time from `from` stopped in time at `done`; `None`
/// while it still runs at `as_of`.
pub(crate) fn within(
    calendar: &BusinessCalendar,
    from: DateTime<Utc>,
    done: Option<DateTime<Utc>>,
    limit: Duration,
    as_of: DateTime<Utc>,
) -> Option<bool> {
    match done {
        Some(done) => Some(calendar.working_time_between(from, done) <= limit),
        None if calendar.working_time_between(from, as_of) > limit => Some(false),
        None => None,
    }
}

/// The SLA report of the month `period`.
pub fn sla_report(period: &Period, inputs: SlaInputs<'_>, settings: &SlaSettings) -> SlaReport {
    let calls: Vec<&CallRecord> = inputs
        .folded
        .calls
        .iter()
        .filter(|c| !c.partial && period.contains(c.started_at))
        .collect();
    let contacts = calls.len() as u64;
    let welcomed = calls.iter().filter(|c| c.welcomed).count() as u64;

    let (mut counted, mut fast, mut not_too_long, mut abandoned, mut short) = (0, 0, 0, 0, 0);
    for c in calls.iter().filter(|c| !c.visits.is_empty()) {
        match queued(c, settings.short_abandon_ms) {
            Queued::Waiting => {}
            Queued::Short => short += 1,
            Queued::Counted {
                queue_time_ms,
                abandoned: gave_up,
            } => {
                counted += 1;
                fast += u64::from(queue_time_ms < settings.queue_time_target_ms);
                not_too_long += u64::from(queue_time_ms <= settings.queue_time_max_ms);
                abandoned += u64::from(gave_up);
            }
        }
    }

    let month_tickets: Vec<&TicketFacts> = inputs
        .tickets
        .iter()
        .filter(|t| period.contains(t.created_at))
        .collect();
    let answered_tickets: Vec<&&TicketFacts> = month_tickets
        .iter()
        .filter(|t| t.channel == TicketChannel::Phone && t.from_answered_call)
        .collect();
    let first_contact = answered_tickets.iter().filter(|t| t.first_contact).count() as u64;

    let offline: Vec<&&TicketFacts> = month_tickets
        .iter()
        .filter(|t| t.channel != TicketChannel::Phone)
        .collect();
    let (mut o1, mut o2, mut o3) = ((0, 0), (0, 0), (0, 0));
    let mut offline_pending = 0;
    for t in &offline {
        let clocks = [
            (&mut o1, settings.take_in_charge, t.taken_at),
            (&mut o2, settings.resolve, t.resolved_at),
            (&mut o3, settings.resolve_all, t.resolved_at),
        ];
        let mut any_pending = false;
        for (tally, limit, done) in clocks {
            match within(inputs.calendar, t.created_at, done, limit, inputs.as_of) {
                Some(on_time) => {
                    tally.1 += 1;
                    tally.0 += u64::from(on_time);
                }
                None => any_pending = true,
            }
        }
        offline_pending += u64::from(any_pending);
    }

    let call_points = overflow_points(contacts, settings.sized_calls);
    let offline_points = overflow_points(offline.len() as u64, settings.sized_offline);
    let mut lines = vec![
        line(
            "SLA.C.1",
            welcomed,
            contacts,
            Direction::AtLeast,
            90.0,
            call_points,
        ),
        line(
            "SLA.C.2",
            fast,
            counted,
            Direction::AtLeast,
            90.0,
            call_points,
        ),
        line(
            "SLA.C.2.max",
            not_too_long,
            counted,
            Direction::AtLeast,
            100.0,
            call_points,
        ),
        line(
            "SLA.C.3",
            abandoned,
            counted,
            Direction::AtMost,
            5.0,
            call_points,
        ),
        line(
            "SLA.C.4",
            first_contact,
            answered_tickets.len() as u64,
            Direction::AtLeast,
            80.0,
            call_points,
        ),
        line(
            "SLA.O.1",
            o1.0,
            o1.1,
            Direction::AtLeast,
            80.0,
            offline_points,
        ),
        line(
            "SLA.O.2",
            o2.0,
            o2.1,
            Direction::AtLeast,
            80.0,
            offline_points,
        ),
        line(
            "SLA.O.3",
            o3.0,
            o3.1,
            Direction::AtLeast,
            100.0,
            offline_points,
        ),
    ];
    lines.extend(availability(period, inputs.downtimes, inputs.calendar));
    SlaReport {
        month: period.from.format("%Y-%m").to_string(),
        calls: Overflow {
            volume: contacts,
            sized: settings.sized_calls,
            points: call_points,
        },
        offline: Overflow {
            volume: offline.len() as u64,
            sized: settings.sized_offline,
            points: offline_points,
        },
        lines,
        short_abandoned: short,
        offline_pending,
    }
}

/// The infrastructure lines: up time of the ACD, CTI and IVR, in seconds of up time over
/// seconds of the measured hours.
fn availability(
    period: &Period,
    downtimes: Option<&[Downtime]>,
    calendar: &BusinessCalendar,
) -> Vec<SlaLine> {
    let Some(downtimes) = downtimes else {
        return [
            ("ACD.service_time", 90.0),
            ("ACD.other_hours", 85.0),
            ("CTI.service_time", 90.0),
            ("CTI.other_hours", 85.0),
            ("IVR.around_the_clock", 95.0),
        ]
        .into_iter()
        .map(|(id, threshold)| line(id, 0, 0, Direction::AtLeast, threshold, 0))
        .collect();
    };
    let (start, end) = (period.start(), period.end());
    let secs = |d: Duration| u64::try_from(d.num_seconds()).unwrap_or(0);
    let all = end - start;
    let service = calendar.working_time_between(start, end);
    let other = all - service;
    let down = |component: Component| {
        let (mut in_service, mut total) = (Duration::zero(), Duration::zero());
        for d in downtimes.iter().filter(|d| d.component == component) {
            let (a, b) = (d.from.max(start), d.to.min(end));
            if b > a {
                total += b - a;
                in_service += calendar.working_time_between(a, b);
            }
        }
        (in_service, total - in_service, total)
    };
    let mut out = Vec::new();
    for (component, service_id, other_id) in [
        (Component::Acd, "ACD.service_time", "ACD.other_hours"),
        (Component::Cti, "CTI.service_time", "CTI.other_hours"),
    ] {
        let (down_service, down_other, _) = down(component);
        out.push(line(
            service_id,
            secs(service - down_service),
            secs(service),
            Direction::AtLeast,
            90.0,
            0,
        ));
        out.push(line(
            other_id,
            secs(other - down_other),
            secs(other),
            Direction::AtLeast,
            85.0,
            0,
        ));
    }
    let (_, _, ivr_down) = down(Component::Ivr);
    out.push(line(
        "IVR.around_the_clock",
        secs(all - ivr_down),
        secs(all),
        Direction::AtLeast,
        95.0,
        0,
    ));
    out
}
