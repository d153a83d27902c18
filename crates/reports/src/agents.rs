//! The per-agent report: time logged in, ready, not ready (by reason), ringing, talking and in
//! wrap-up; calls offered, answered and let ring; average handling time (talk + wrap-up per
//! answered call); Service Requests closed.
//!
//! Times are cut at the hours' edges (an agent ready 08:45–09:30 counts 15 minutes in the
//! 08:00 band and 30 in the 09:00 band), so every sampling adds whole hours. Offers count when the phone rang, answers when they were answered.

use std::collections::{BTreeMap, BTreeSet};

use events::AgentStatus;
use serde::Serialize;

use crate::ledger::{Folded, OfferResult, VisitEnd};
use crate::period::{Bucket, Period, Sampling};
use crate::stats::round2;

#[derive(Debug, Clone, Default)]
struct AgentAcc {
    ms: BTreeMap<&'static str, i64>,
    not_ready: BTreeMap<String, i64>,
    offered: u64,
    answered: u64,
    ring_no_answer: u64,
    talk_ms: u64,
    wrap_ms: u64,
    closed: u64,
}

/// One agent in one bucket. Times in seconds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgentRow {
    pub bucket: Bucket,
    pub label: String,
    pub agent: String,
    /// Every state but logged out.
    pub logged_in_s: f64,
    pub ready_s: f64,
    pub not_ready_s: f64,
    /// Not-ready time per reason (`""` when the agent gave none).
    pub not_ready_by_reason_s: BTreeMap<String, f64>,
    pub ringing_s: f64,
    pub talking_s: f64,
    pub wrap_up_s: f64,
    /// Times the ACD rang the agent.
    pub offered: u64,
    pub answered: u64,
    pub ring_no_answer: u64,
    /// (talk + wrap-up of the answered calls) ÷ answered, seconds.
    pub average_handling_s: Option<f64>,
    pub tickets_closed: u64,
}

#[expect(
    clippy::cast_precision_loss,
    reason = "milliseconds stay far below 2^52"
)]
fn secs(ms: i64) -> f64 {
    round2(ms as f64 / 1000.0)
}

/// The agents' report of `period`: rows per bucket and agent, in order.
pub fn agent_report(period: &Period, folded: &Folded, sampling: Sampling) -> Vec<AgentRow> {
    let mut acc: BTreeMap<(Bucket, String), AgentAcc> = BTreeMap::new();
    let mut agents: BTreeSet<String> = BTreeSet::new();
    for h in &folded.agent_hours {
        if !period.contains(h.hour) {
            continue;
        }
        agents.insert(h.agent.clone());
        let ms = i64::try_from(h.ms).unwrap_or(i64::MAX);
        let a = acc
            .entry((period.bucket(sampling, h.hour), h.agent.clone()))
            .or_default();
        *a.ms.entry(h.state.as_str()).or_default() += ms;
        match h.state {
            AgentStatus::NotReady => {
                *a.not_ready
                    .entry(h.reason.clone().unwrap_or_default())
                    .or_default() += ms;
            }
            // Handling time counts each wrap-up whole, where it started.
            AgentStatus::WrapUp => a.wrap_ms += h.started_ms,
            _ => {}
        }
    }
    for call in &folded.calls {
        for v in &call.visits {
            for o in &v.offers {
                if period.contains(o.at) {
                    agents.insert(o.agent.clone());
                    let a = acc
                        .entry((period.bucket(sampling, o.at), o.agent.clone()))
                        .or_default();
                    a.offered += 1;
                    a.ring_no_answer += u64::from(o.result == OfferResult::RingNoAnswer);
                }
            }
            if let VisitEnd::Answered {
                agent, at, talk_ms, ..
            } = &v.end
                && period.contains(*at)
            {
                agents.insert(agent.clone());
                let a = acc
                    .entry((period.bucket(sampling, *at), agent.clone()))
                    .or_default();
                a.answered += 1;
                a.talk_ms += talk_ms.unwrap_or(0);
            }
        }
    }
    for c in &folded.closures {
        if let Some(by) = &c.by
            && period.contains(c.at)
        {
            agents.insert(by.clone());
            acc.entry((period.bucket(sampling, c.at), by.clone()))
                .or_default()
                .closed += 1;
        }
    }
    for bucket in period.buckets(sampling) {
        for agent in &agents {
            acc.entry((bucket, agent.clone())).or_default();
        }
    }
    acc.into_iter()
        .map(|((bucket, agent), a)| {
            let get = |s: AgentStatus| a.ms.get(s.as_str()).copied().unwrap_or(0);
            let logged_in: i64 = a.ms.values().sum();
            #[expect(clippy::cast_precision_loss, reason = "small counts")]
            let aht = (a.answered > 0)
                .then(|| round2((a.talk_ms + a.wrap_ms) as f64 / 1000.0 / a.answered as f64));
            AgentRow {
                label: bucket.to_string(),
                bucket,
                agent,
                logged_in_s: secs(logged_in),
                ready_s: secs(get(AgentStatus::Ready)),
                not_ready_s: secs(get(AgentStatus::NotReady)),
                not_ready_by_reason_s: a
                    .not_ready
                    .iter()
                    .map(|(r, ms)| (r.clone(), secs(*ms)))
                    .collect(),
                ringing_s: secs(get(AgentStatus::Ringing)),
                talking_s: secs(get(AgentStatus::Talking)),
                wrap_up_s: secs(get(AgentStatus::WrapUp)),
                offered: a.offered,
                answered: a.answered,
                ring_no_answer: a.ring_no_answer,
                average_handling_s: aht,
                tickets_closed: a.closed,
            }
        })
        .collect()
}
