//! A synthetic event log: a contact center's calls over a span of days, as the switchboard
//! and the ACD would publish them, for the reports' benchmark and a lived-in demo.
//!
//! Deterministic for a seed. Calls arrive in the opening hours (08:00–18:00 local, Monday to
//! Friday, more in the morning), are welcomed by the IVR, queue in one of the queues and are
//! answered by the agent idle the longest, abandoned, or sent to voicemail; agents log in,
//! ring, talk, wrap up, take breaks and log out, so every report has something to count.
//! A few calls are refused (no free line) at peaks.

use std::collections::VecDeque;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Timelike, Utc, Weekday};
use chrono_tz::Tz;
use events::{AgentStatus, Event, Outcome, TicketChange, TicketChannel, TicketField};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::period::local_midnight;

/// What to generate.
#[derive(Debug, Clone)]
pub struct SynthSpec {
    pub first_day: NaiveDate,
    pub days: u32,
    /// Calls over the whole span.
    pub calls: u64,
    pub queues: Vec<String>,
    pub agents: u32,
    pub tz: Tz,
    pub seed: u64,
}

struct AgentSim {
    login: String,
    /// Free from this instant.
    free_at: DateTime<Utc>,
}

/// The events, in publication order, with their times.
pub fn synthesize(spec: &SynthSpec) -> Vec<(DateTime<Utc>, Event)> {
    synthesize_from(spec, 0)
}

/// As [`synthesize`], numbering calls (and their tickets) after `first_seq`: a long span
/// generated in parts (a month at a time, `first_seq` the calls of the parts before) keeps
/// every call id unique.
pub fn synthesize_from(spec: &SynthSpec, first_seq: u64) -> Vec<(DateTime<Utc>, Event)> {
    let mut rng = StdRng::seed_from_u64(spec.seed);
    let open_days: Vec<NaiveDate> = (0..spec.days)
        .filter_map(|i| {
            spec.first_day
                .checked_add_days(chrono::Days::new(u64::from(i)))
        })
        .filter(|d| !matches!(d.weekday(), Weekday::Sat | Weekday::Sun))
        .collect();
    let per_day = spec.calls / (open_days.len().max(1) as u64);
    let mut extra = spec.calls % (open_days.len().max(1) as u64);
    let mut out: Vec<(DateTime<Utc>, Event)> = Vec::new();
    let mut seq = first_seq;
    for day in open_days {
        let midnight = local_midnight(spec.tz, day);
        let opens = midnight + Duration::hours(8);
        let closes = midnight + Duration::hours(18);
        let mut agents: VecDeque<AgentSim> = (0..spec.agents)
            .map(|i| AgentSim {
                login: format!("{}", 2001 + i),
                free_at: opens,
            })
            .collect();
        let mut day_events: Vec<(DateTime<Utc>, Event)> = Vec::new();
        for a in &agents {
            day_events.push((opens, state(&a.login, AgentStatus::Ready, None, opens)));
        }
        let n = per_day + u64::from(extra > 0);
        extra = extra.saturating_sub(1);
        // Arrival times: more in the morning (two thirds before 13:00).
        let mut arrivals: Vec<DateTime<Utc>> = (0..n)
            .map(|_| {
                let secs = if rng.random_bool(2.0 / 3.0) {
                    rng.random_range(0..5 * 3600)
                } else {
                    rng.random_range(5 * 3600..10 * 3600)
                };
                opens + Duration::seconds(secs)
            })
            .collect();
        arrivals.sort();
        for at in arrivals {
            seq += 1;
            let id = format!("syn-{seq}");
            let queue = spec.queues[rng.random_range(0..spec.queues.len())].clone();
            day_events.push((
                at,
                Event::CallStarted {
                    call_id: id.clone(),
                    sip_call_id: format!("{id}@synth.example.org"),
                    caller: Some(format!("+39060000{:04}", seq % 10_000)),
                    dialled: Some("800000000".into()),
                },
            ));
            if rng.random_ratio(1, 200) {
                // No free line.
                day_events.push((at, ended(&id, Outcome::Rejected, 0)));
                continue;
            }
            day_events.push((
                at,
                Event::CallAnswered {
                    call_id: id.clone(),
                    codec: "PCMA".into(),
                },
            ));
            let entered = at + Duration::seconds(rng.random_range(15..40));
            if entered >= closes || rng.random_ratio(1, 25) {
                // Ended in the IVR.
                day_events.push((entered, ended(&id, Outcome::CallerHangup, ms(entered - at))));
                continue;
            }
            day_events.push((
                entered,
                Event::QueueEntered {
                    call_id: id.clone(),
                    queue: queue.clone(),
                    position: 1,
                    at: entered,
                },
            ));
            // The agent idle the longest: the front of the deque is the one free first.
            let mut best = 0;
            for (i, a) in agents.iter().enumerate() {
                if a.free_at < agents[best].free_at {
                    best = i;
                }
            }
            let free = agents[best].free_at.max(entered);
            let wait = free - entered + Duration::seconds(rng.random_range(2..8));
            let patience = Duration::seconds(rng.random_range(10..240));
            let max_wait = Duration::seconds(180);
            if wait > patience && patience < max_wait {
                let left = entered + patience;
                day_events.push((
                    left,
                    Event::QueueAbandoned {
                        call_id: id.clone(),
                        queue: queue.clone(),
                        position: 1,
                        wait_ms: ms(patience),
                        within_service_level: patience <= Duration::seconds(30),
                        at: left,
                    },
                ));
                day_events.push((left, ended(&id, Outcome::Abandoned, ms(left - at))));
                continue;
            }
            if wait > max_wait {
                let left = entered + max_wait;
                day_events.push((
                    left,
                    Event::QueueOverflowed {
                        call_id: id.clone(),
                        queue: queue.clone(),
                        wait_ms: ms(max_wait),
                        within_service_level: false,
                        to: "voicemail:general".into(),
                        at: left,
                    },
                ));
                let done = left + Duration::seconds(rng.random_range(20..60));
                day_events.push((done, ended(&id, Outcome::CallerHangup, ms(done - at))));
                day_events.push((
                    done,
                    Event::TicketCreated {
                        number: format!("V{seq}"),
                        queue: queue.clone(),
                        channel: TicketChannel::Voicemail,
                        call_id: Some(id.clone()),
                        owner: None,
                        by: None,
                    },
                ));
                continue;
            }
            let agent = agents.remove(best).expect("an agent");
            let rung = entered + wait - Duration::seconds(2);
            let connected = entered + wait;
            let talk = Duration::seconds(rng.random_range(60..420));
            let done = connected + talk;
            let wrap = Duration::seconds(rng.random_range(10..90));
            day_events.extend([
                (
                    rung,
                    Event::QueueOffered {
                        call_id: id.clone(),
                        queue: queue.clone(),
                        agent: agent.login.clone(),
                        at: rung,
                    },
                ),
                (rung, state(&agent.login, AgentStatus::Ringing, None, rung)),
                (
                    connected,
                    Event::QueueConnected {
                        call_id: id.clone(),
                        queue: queue.clone(),
                        agent: agent.login.clone(),
                        wait_ms: ms(wait),
                        within_service_level: wait <= Duration::seconds(30),
                        at: connected,
                    },
                ),
                (
                    connected,
                    state(&agent.login, AgentStatus::Talking, None, connected),
                ),
                (
                    connected,
                    Event::TicketCreated {
                        number: format!("T{seq}"),
                        queue: queue.clone(),
                        channel: TicketChannel::Phone,
                        call_id: Some(id.clone()),
                        owner: Some(agent.login.clone()),
                        by: None,
                    },
                ),
                (
                    done,
                    Event::QueueCompleted {
                        call_id: id.clone(),
                        queue: queue.clone(),
                        agent: agent.login.clone(),
                        talk_ms: ms(talk),
                        at: done,
                    },
                ),
                (done, ended(&id, Outcome::CallerHangup, ms(done - at))),
                (done, state(&agent.login, AgentStatus::WrapUp, None, done)),
            ]);
            if rng.random_ratio(3, 5) {
                day_events.push((
                    done + wrap / 2,
                    Event::TicketUpdated {
                        number: format!("T{seq}"),
                        queue: queue.clone(),
                        owner: Some(agent.login.clone()),
                        by: Some(agent.login.clone()),
                        changes: vec![TicketChange {
                            field: TicketField::State,
                            old: Some("open".into()),
                            new: Some("closed_successful".into()),
                        }],
                    },
                ));
            }
            let mut free_at = done + wrap;
            day_events.push((
                free_at,
                state(&agent.login, AgentStatus::Ready, None, free_at),
            ));
            if rng.random_ratio(1, 30) {
                let back = free_at + Duration::minutes(rng.random_range(5..20));
                day_events.push((
                    free_at,
                    state(&agent.login, AgentStatus::NotReady, Some("break"), free_at),
                ));
                day_events.push((back, state(&agent.login, AgentStatus::Ready, None, back)));
                free_at = back;
            }
            agents.push_back(AgentSim {
                login: agent.login,
                free_at,
            });
        }
        let last = day_events
            .iter()
            .map(|(at, _)| *at)
            .max()
            .unwrap_or(closes)
            .max(closes);
        for a in &agents {
            day_events.push((last, state(&a.login, AgentStatus::LoggedOut, None, last)));
        }
        day_events.sort_by_key(|(at, _)| *at);
        debug_assert!(day_events.iter().all(|(at, _)| at.hour() < 24));
        out.extend(day_events);
    }
    out
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.num_milliseconds()).unwrap_or(0)
}

fn ended(id: &str, outcome: Outcome, duration_ms: u64) -> Event {
    Event::CallEnded {
        call_id: id.to_owned(),
        outcome,
        duration_ms,
    }
}

fn state(login: &str, state: AgentStatus, reason: Option<&str>, at: DateTime<Utc>) -> Event {
    Event::AgentState {
        login: login.to_owned(),
        state,
        reason: reason.map(str::to_owned),
        registered: true,
        since: at,
    }
}
