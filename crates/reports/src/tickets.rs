//! The Service Requests report: created per channel and type, resolved at first contact, and
//! taken in charge and resolved within the contract's clocks (working time on the business
//! calendar, as SLA.O.1–3 count them), per bucket of creation time.

use std::collections::BTreeMap;

use calendar::BusinessCalendar;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::period::{Bucket, Period, Sampling};
use crate::sla::{SlaSettings, TicketFacts};
use crate::stats::percent;

/// One channel and type in one bucket.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TicketRow {
    pub bucket: Bucket,
    pub label: String,
    pub channel: String,
    pub ticket_type: String,
    pub created: u64,
    /// Closed by now.
    pub resolved: u64,
    /// Flagged resolved at first contact.
    pub first_contact: u64,
    pub first_contact_pct: Option<f64>,
    /// Taken in charge within the first clock (4 working hours), of those whose clock ran out
    /// or stopped.
    pub taken_in_time: u64,
    pub taken_counted: u64,
    /// Resolved within the second clock (24 working hours), likewise.
    pub resolved_in_time: u64,
    pub resolved_counted: u64,
}

#[derive(Default)]
struct Acc {
    created: u64,
    resolved: u64,
    first_contact: u64,
    taken_in_time: u64,
    taken_counted: u64,
    resolved_in_time: u64,
    resolved_counted: u64,
}

/// The report of the tickets created in `period`, as of `as_of`.
pub fn ticket_report(
    period: &Period,
    tickets: &[TicketFacts],
    sampling: Sampling,
    calendar: &BusinessCalendar,
    settings: &SlaSettings,
    as_of: DateTime<Utc>,
) -> Vec<TicketRow> {
    let mut acc: BTreeMap<(Bucket, &'static str, &str), Acc> = BTreeMap::new();
    for t in tickets.iter().filter(|t| period.contains(t.created_at)) {
        let a = acc
            .entry((
                period.bucket(sampling, t.created_at),
                t.channel.as_str(),
                t.ticket_type.as_str(),
            ))
            .or_default();
        a.created += 1;
        a.resolved += u64::from(t.resolved_at.is_some());
        a.first_contact += u64::from(t.first_contact);
        if let Some(ok) = crate::sla::within(
            calendar,
            t.created_at,
            t.taken_at,
            settings.take_in_charge,
            as_of,
        ) {
            a.taken_counted += 1;
            a.taken_in_time += u64::from(ok);
        }
        if let Some(ok) = crate::sla::within(
            calendar,
            t.created_at,
            t.resolved_at,
            settings.resolve,
            as_of,
        ) {
            a.resolved_counted += 1;
            a.resolved_in_time += u64::from(ok);
        }
    }
    acc.into_iter()
        .map(|((bucket, channel, ticket_type), a)| TicketRow {
            label: bucket.to_string(),
            bucket,
            channel: channel.to_owned(),
            ticket_type: ticket_type.to_owned(),
            created: a.created,
            resolved: a.resolved,
            first_contact: a.first_contact,
            first_contact_pct: percent(a.first_contact, a.created),
            taken_in_time: a.taken_in_time,
            taken_counted: a.taken_counted,
            resolved_in_time: a.resolved_in_time,
            resolved_counted: a.resolved_counted,
        })
        .collect()
}
