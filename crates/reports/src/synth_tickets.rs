//! The Service Requests of a synthetic event log ([`crate::synth`]): what the CRM would hold
//! after the same days, so SLA.C.4 and SLA.O.1–O.3 have something to measure.
//!
//! - **Phone**: one per `ticket.created` of the log (an answered call opens one, its agent
//!   the owner, taken in charge at once). Those the log closes during the wrap-up are
//!   resolved at first contact; of the others, most are closed later on the business
//!   calendar (not at first contact), a few stay open.
//! - **Off-line**: the log's voicemail requests, plus e-mail and web requests (8 for every 100
//!   calls) arriving at any hour of any day. Each is taken in charge after a working-time
//!   delay (nearly nine in ten within the 4 working hours of SLA.O.1) and resolved after
//!   another (most within 24 working hours, a few past 48), on `calendar`, so a request left
//!   on Friday evening is handled on Monday.
//!
//! Deterministic for the spec's seed; sans-IO like the rest of the crate.

use std::collections::HashMap;

use calendar::BusinessCalendar;
use chrono::{DateTime, Duration, Utc};
use events::{Event, TicketChannel, TicketField};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::synth::SynthSpec;

/// One synthetic Service Request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SynthTicket {
    pub channel: TicketChannel,
    pub queue: String,
    pub created: DateTime<Utc>,
    /// The call that opened it (phone and voicemail).
    pub call_id: Option<String>,
    /// Who it was from: a fictional number or an `example.org` address.
    pub sender: String,
    /// The agent (login) who takes it in charge and closes it.
    pub agent: String,
    /// Taken in charge.
    pub taken: Option<DateTime<Utc>>,
    /// Closed.
    pub resolved: Option<DateTime<Utc>>,
    /// Judged at closing (phone requests that were closed).
    pub first_contact: Option<bool>,
}

/// E-mail and web requests for every 100 calls.
const WRITTEN_PER_100_CALLS: u64 = 8;

/// The Service Requests of `events` (as [`crate::synth::synthesize_from`] made them for
/// `spec`), oldest first.
pub fn synthesize_tickets(
    spec: &SynthSpec,
    events: &[(DateTime<Utc>, Event)],
    calendar: &BusinessCalendar,
) -> Vec<SynthTicket> {
    let mut rng = StdRng::seed_from_u64(spec.seed ^ 0x7_1C4E_7500);
    let agents: Vec<String> = (0..spec.agents.max(1))
        .map(|i| format!("{}", 2001 + i))
        .collect();
    let closed_in_call: HashMap<&str, DateTime<Utc>> = events
        .iter()
        .filter_map(|(at, e)| match e {
            Event::TicketUpdated {
                number, changes, ..
            } if changes.iter().any(|c| {
                c.field == TicketField::State
                    && c.new.as_deref().is_some_and(|s| s.starts_with("closed"))
            }) =>
            {
                Some((number.as_str(), *at))
            }
            _ => None,
        })
        .collect();
    let callers: HashMap<&str, &str> = events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::CallStarted {
                call_id,
                caller: Some(caller),
                ..
            } => Some((call_id.as_str(), caller.as_str())),
            _ => None,
        })
        .collect();
    let later = |from: DateTime<Utc>, minutes: i64| {
        let d = Duration::minutes(minutes);
        calendar.add_working_time(from, d).unwrap_or(from + d)
    };

    let mut out = Vec::new();
    for (at, e) in events {
        let Event::TicketCreated {
            number,
            queue,
            channel,
            call_id,
            owner,
            ..
        } = e
        else {
            continue;
        };
        let sender = call_id
            .as_deref()
            .and_then(|c| callers.get(c))
            .map_or_else(|| "+390600000000".to_owned(), |c| (*c).to_owned());
        let mut t = SynthTicket {
            channel: *channel,
            queue: queue.clone(),
            created: *at,
            call_id: call_id.clone(),
            sender,
            agent: owner
                .clone()
                .unwrap_or_else(|| agents[rng.random_range(0..agents.len())].clone()),
            taken: None,
            resolved: None,
            first_contact: None,
        };
        if *channel == TicketChannel::Phone {
            t.taken = Some(*at);
            if let Some(closed) = closed_in_call.get(number.as_str()) {
                t.resolved = Some(*closed);
                t.first_contact = Some(true);
            } else if rng.random_ratio(9, 10) {
                t.resolved = Some(later(*at, rng.random_range(30..2_400)));
                t.first_contact = Some(false);
            }
        } else {
            offline_times(&mut t, &mut rng, &later);
        }
        out.push(t);
    }

    let calls = events
        .iter()
        .filter(|(_, e)| matches!(e, Event::CallStarted { .. }))
        .count() as u64;
    let written = calls * WRITTEN_PER_100_CALLS / 100;
    let first = crate::period::local_midnight(spec.tz, spec.first_day);
    let span_s = i64::from(spec.days.max(1)) * 86_400;
    for n in 0..written {
        let created = first + Duration::seconds(rng.random_range(0..span_s));
        let channel = if rng.random_ratio(7, 10) {
            TicketChannel::Email
        } else {
            TicketChannel::Web
        };
        let mut t = SynthTicket {
            channel,
            queue: spec.queues[rng.random_range(0..spec.queues.len())].clone(),
            created,
            call_id: None,
            sender: format!("cittadino{}@example.org", (spec.seed + n) % 10_000),
            agent: agents[rng.random_range(0..agents.len())].clone(),
            taken: None,
            resolved: None,
            first_contact: None,
        };
        offline_times(&mut t, &mut rng, &later);
        out.push(t);
    }
    out.sort_by_key(|t| t.created);
    out
}

/// Taken in charge and resolved after working-time delays, some past the clocks.
fn offline_times(
    t: &mut SynthTicket,
    rng: &mut StdRng,
    later: &impl Fn(DateTime<Utc>, i64) -> DateTime<Utc>,
) {
    // Minutes of working time.
    let take = if rng.random_ratio(88, 100) {
        rng.random_range(5..240)
    } else {
        rng.random_range(240..720)
    };
    let resolve = match rng.random_range(0..100) {
        0..85 => rng.random_range(60..24 * 60),
        85..97 => rng.random_range(24 * 60..48 * 60),
        _ => rng.random_range(48 * 60..72 * 60),
    }
    .max(take + 15);
    t.taken = Some(later(t.created, take));
    t.resolved = Some(later(t.created, resolve));
}

#[cfg(test)]
mod tests {
    use calendar::CalendarConfig;
    use chrono::NaiveDate;

    use super::*;
    use crate::synth::synthesize;

    fn office() -> BusinessCalendar {
        let day = vec!["08:00-18:00".to_owned()];
        BusinessCalendar::new(&CalendarConfig {
            timezone: "Europe/Rome".into(),
            mon: day.clone(),
            tue: day.clone(),
            wed: day.clone(),
            thu: day.clone(),
            fri: day,
            ..CalendarConfig::default()
        })
        .unwrap()
    }

    #[test]
    fn every_logged_request_has_its_ticket_and_the_written_channels_are_added() {
        let spec = SynthSpec {
            first_day: NaiveDate::from_ymd_opt(2025, 3, 3).unwrap(),
            days: 14,
            calls: 1_000,
            queues: vec!["anagrafe".into(), "tributi".into()],
            agents: 4,
            tz: chrono_tz::Europe::Rome,
            seed: 3,
        };
        let events = synthesize(&spec);
        let cal = office();
        let tickets = synthesize_tickets(&spec, &events, &cal);
        assert_eq!(
            tickets,
            synthesize_tickets(&spec, &events, &cal),
            "deterministic"
        );
        let logged = events
            .iter()
            .filter(|(_, e)| matches!(e, Event::TicketCreated { .. }))
            .count();
        let count = |c: TicketChannel| tickets.iter().filter(|t| t.channel == c).count();
        assert_eq!(
            count(TicketChannel::Phone) + count(TicketChannel::Voicemail),
            logged
        );
        assert_eq!(
            count(TicketChannel::Email) + count(TicketChannel::Web),
            1_000 * 8 / 100
        );
        let phone: Vec<_> = tickets
            .iter()
            .filter(|t| t.channel == TicketChannel::Phone)
            .collect();
        let first = phone
            .iter()
            .filter(|t| t.first_contact == Some(true))
            .count();
        let share = first as f64 / phone.len() as f64;
        assert!((0.5..0.7).contains(&share), "first contact {share}");
        for t in &tickets {
            assert!(t.taken.is_none_or(|at| at >= t.created), "{t:?}");
            assert!(t.resolved.is_none_or(|at| Some(at) >= t.taken), "{t:?}");
            assert!(
                t.sender.ends_with("@example.org") || t.sender.starts_with("+39060000"),
                "{t:?}"
            );
        }
        // Off-line: most taken within 4 working hours, some not; some resolved past 48.
        let offline: Vec<_> = tickets
            .iter()
            .filter(|t| t.channel != TicketChannel::Phone)
            .collect();
        let within = |t: &SynthTicket, at: Option<DateTime<Utc>>, hours: i64| {
            at.unwrap()
                <= cal
                    .add_working_time(t.created, Duration::hours(hours))
                    .unwrap()
        };
        let taken = offline.iter().filter(|t| within(t, t.taken, 4)).count();
        let share = taken as f64 / offline.len() as f64;
        assert!((0.75..0.97).contains(&share), "taken within 4 h: {share}");
        assert!(offline.iter().any(|t| !within(t, t.resolved, 48)));
        // A request created on a weekend is taken in charge on a working day.
        let weekend = offline
            .iter()
            .find(|t| !cal.is_open(t.created))
            .expect("some arrive out of hours");
        assert!(cal.is_open(weekend.taken.unwrap() - Duration::seconds(1)));
    }
}
