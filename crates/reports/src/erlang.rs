//! Erlang C: the forecast the supervisor console shows per queue for the next 30 minutes —
//! the service level the agents ready now can give at the current arrival rate and handling
//! time, and how many agents the target needs.
//!
//! With arrival rate λ (calls/s), mean handling time h (s), traffic A = λh erlangs and N
//! agents (N > A), the probability that a call waits is Erlang C:
//! `C(N, A) = N·B(N, A) / (N − A·(1 − B(N, A)))`, with Erlang B from the stable recursion
//! `B(0) = 1, B(n) = A·B(n−1) / (n + A·B(n−1))`. The share of calls answered within t is
//! `1 − C(N, A)·e^(−(N − A)·t/h)`. With N ≤ A the queue grows without bound: every call waits
//! and the service level is 0.
//!
//! Inputs that are not rates or times (negative, NaN, infinite) give no forecast rather than
//! a number: [`service_level`] is 0 and [`agents_needed`] `None` for them, so a corrupt
//! measurement can never show as a good service level.

use chrono::{DateTime, Duration, Utc};
use events::AgentStatus;
use serde::Serialize;

use crate::ledger::{Folded, VisitEnd, hour_of};

/// Whether `x` is a usable rate or duration: finite and not negative.
fn usable(x: f64) -> bool {
    x.is_finite() && x >= 0.0
}

/// Erlang B: the probability that all `agents` are busy with `traffic` erlangs offered.
pub fn erlang_b(agents: u32, traffic: f64) -> f64 {
    if !usable(traffic) {
        return 1.0;
    }
    let mut b = 1.0;
    for n in 1..=agents {
        b = traffic * b / (f64::from(n) + traffic * b);
    }
    b
}

/// Erlang C: the probability that a call waits. 1 when `agents` cannot carry `traffic`.
pub fn erlang_c(agents: u32, traffic: f64) -> f64 {
    if !usable(traffic) {
        return 1.0;
    }
    if traffic == 0.0 {
        return 0.0;
    }
    let n = f64::from(agents);
    if n <= traffic {
        return 1.0;
    }
    let b = erlang_b(agents, traffic);
    n * b / (n - traffic * (1.0 - b))
}

/// The share (0–1) of calls answered within `target_s` seconds.
pub fn service_level(agents: u32, arrivals_per_s: f64, handling_s: f64, target_s: f64) -> f64 {
    if !(usable(arrivals_per_s) && usable(handling_s) && usable(target_s)) {
        return 0.0;
    }
    let traffic = arrivals_per_s * handling_s;
    if !traffic.is_finite() {
        return 0.0;
    }
    if traffic == 0.0 {
        return 1.0;
    }
    let n = f64::from(agents);
    if n <= traffic || handling_s <= 0.0 {
        return 0.0;
    }
    (1.0 - erlang_c(agents, traffic) * (-(n - traffic) * target_s / handling_s).exp())
        .clamp(0.0, 1.0)
}

/// The fewest agents for `goal` (0–1) of calls within `target_s`; `None` past 10,000 agents.
pub fn agents_needed(
    arrivals_per_s: f64,
    handling_s: f64,
    target_s: f64,
    goal: f64,
) -> Option<u32> {
    if !(usable(arrivals_per_s) && usable(handling_s) && usable(target_s) && goal.is_finite()) {
        return None;
    }
    let traffic = arrivals_per_s * handling_s;
    if traffic > 10_000.0 {
        return None;
    }
    if traffic == 0.0 {
        return Some(0);
    }
    // Start just above the traffic: fewer agents can never keep up.
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "traffic is positive and bounded by the loop's limit"
    )]
    let first = (traffic.floor() as u32).saturating_add(1);
    (first..=10_000).find(|&n| service_level(n, arrivals_per_s, handling_s, target_s) >= goal)
}

/// A queue's forecast for the next half hour.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Forecast {
    /// Calls per hour, as measured over the recent window.
    pub arrivals_per_hour: f64,
    /// Mean handling time (talk + wrap-up), seconds.
    pub handling_s: f64,
    /// Erlangs offered.
    pub traffic: f64,
    /// Agents ready or busy on the queue now.
    pub agents: u32,
    /// Expected share answered within the target with those agents, percent.
    pub expected_service_level_pct: f64,
    /// Agents the goal needs.
    pub agents_needed: Option<u32>,
}

/// The forecast from `arrivals` calls over `window_s` seconds.
#[expect(clippy::cast_precision_loss, reason = "small counts")]
pub fn forecast(
    arrivals: u64,
    window_s: f64,
    handling_s: f64,
    agents: u32,
    target_s: f64,
    goal: f64,
) -> Forecast {
    let rate = if window_s > 0.0 {
        arrivals as f64 / window_s
    } else {
        0.0
    };
    Forecast {
        arrivals_per_hour: crate::stats::round2(rate * 3600.0),
        handling_s: crate::stats::round2(handling_s),
        traffic: crate::stats::round2(rate * handling_s),
        agents,
        expected_service_level_pct: crate::stats::round2(
            100.0 * service_level(agents, rate, handling_s, target_s),
        ),
        agents_needed: agents_needed(rate, handling_s, target_s, goal),
    }
}

/// What a queue's forecast is measured from, read off the fold at `now`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Measured {
    /// Calls that entered the queue in the arrival window `(now − arrival_window, now]`.
    pub arrivals: u64,
    /// Calls answered from the queue in the handling window whose talk has ended.
    pub handled: u64,
    /// Mean talk of those calls plus the mean wrap-up that followed the queue's calls in the
    /// window, seconds; `None` when no call ended in the window.
    pub handling_s: Option<f64>,
}

/// Arrivals and handling time of `queue` from the fold at `now`. Arrivals are the queue's
/// offered calls (every `queue.entered`, as the queue report counts them) in the last
/// `arrival_window`; handling is talk (calls answered in the last `handling_window` whose talk
/// ended) plus wrap-up (the wrap-ups that followed the queue's calls, from the hours the
/// window touches: agent time is folded per clock hour).
pub fn measure(
    folded: &Folded,
    queue: &str,
    now: DateTime<Utc>,
    arrival_window: Duration,
    handling_window: Duration,
) -> Measured {
    let since = now - arrival_window;
    let handled_since = now - handling_window;
    let (mut arrivals, mut talks, mut talk_ms) = (0u64, 0u64, 0u64);
    for visit in folded
        .calls
        .iter()
        .flat_map(|c| &c.visits)
        .filter(|v| v.queue == queue)
    {
        if visit.entered_at > since && visit.entered_at <= now {
            arrivals += 1;
        }
        if let VisitEnd::Answered {
            at,
            talk_ms: Some(talk),
            ..
        } = &visit.end
            && *at > handled_since
            && *at <= now
        {
            talks += 1;
            talk_ms += talk;
        }
    }
    let first_hour = hour_of(handled_since);
    let (mut wrap_ups, mut wrap_ms) = (0u64, 0u64);
    for h in folded.agent_hours.iter().filter(|h| {
        h.state == AgentStatus::WrapUp
            && h.queue.as_deref() == Some(queue)
            && h.hour >= first_hour
            && h.hour <= now
    }) {
        wrap_ups += h.started;
        wrap_ms += h.started_ms;
    }
    #[expect(clippy::cast_precision_loss, reason = "sums stay far below 2^52 ms")]
    let handling_s = (talks > 0).then(|| {
        let talk = talk_ms as f64 / talks as f64;
        let wrap = if wrap_ups > 0 {
            wrap_ms as f64 / wrap_ups as f64
        } else {
            0.0
        };
        (talk + wrap) / 1000.0
    });
    Measured {
        arrivals,
        handled: talks,
        handling_s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, eps: f64) -> bool {
        (a - b).abs() < eps
    }

    #[test]
    fn textbook_values() {
        // 360 calls/h, 240 s handling = 24 erlangs. Expected values from the closed form
        // with factorials (A^N/N!·N/(N−A) over the sum), computed independently.
        let rate = 360.0 / 3600.0;
        assert!(
            close(erlang_c(25, 24.0), 0.7785, 0.0005),
            "{}",
            erlang_c(25, 24.0)
        );
        assert!(close(erlang_c(30, 24.0), 0.1729, 0.0005));
        let sl = service_level(28, rate, 240.0, 20.0);
        assert!(close(sl, 0.7613, 0.0005), "{sl}");
        assert_eq!(agents_needed(rate, 240.0, 20.0, 0.8), Some(29));
        assert_eq!(agents_needed(rate, 240.0, 20.0, 0.85), Some(30));
        // Erlang B of 1 agent: A / (1 + A).
        assert!(close(erlang_b(1, 1.0), 0.5, 1e-12));
    }

    #[test]
    fn edges() {
        assert_eq!(erlang_c(3, 0.0), 0.0);
        assert_eq!(erlang_c(2, 2.0), 1.0);
        assert_eq!(
            service_level(2, 1.0, 2.0, 30.0),
            0.0,
            "2 erlangs on 2 agents"
        );
        assert_eq!(service_level(0, 0.0, 120.0, 30.0), 1.0, "no calls");
        assert_eq!(agents_needed(0.0, 120.0, 30.0, 0.9), Some(0));
        // More agents never lower the service level.
        let mut last = 0.0;
        for n in 1..40 {
            let sl = service_level(n, 0.1, 180.0, 30.0);
            assert!(sl >= last, "{n}: {sl} < {last}");
            last = sl;
        }
        // Exactly on the boundary: 3 agents for 3 erlangs cannot keep up, 4 can.
        assert_eq!(erlang_c(3, 3.0), 1.0);
        assert!(erlang_c(4, 3.0) < 1.0);
        assert_eq!(
            agents_needed(0.1, 30.0, 30.0, 0.0),
            Some(4),
            "first N above A = 3"
        );
        // Traffic beyond any staffing this forecast sizes.
        assert_eq!(agents_needed(100.0, 200.0, 30.0, 0.9), None);
        // No agents on duty with calls arriving.
        assert_eq!(service_level(0, 0.01, 180.0, 30.0), 0.0);
        let f = forecast(60, 1800.0, 180.0, 8, 30.0, 0.9);
        assert_eq!(f.arrivals_per_hour, 120.0);
        assert_eq!(f.traffic, 6.0);
        assert!(f.agents_needed.unwrap() >= 7);
    }

    /// Erlang C against the closed form `A^N/N!·N/(N−A) / (Σ_{k<N} A^k/k! + A^N/N!·N/(N−A))`,
    /// values computed independently (Python, exact factorials) and found in the usual tables.
    #[test]
    fn erlang_c_table() {
        for (agents, traffic, expected) in [
            (2, 1.0, 0.333_333),
            (3, 2.0, 0.444_444),
            (5, 4.0, 0.554_113),
            (10, 8.0, 0.409_180),
            (11, 10.0, 0.682_118),
            (15, 10.0, 0.102_042),
        ] {
            let c = erlang_c(agents, traffic);
            assert!(close(c, expected, 5e-6), "C({agents}, {traffic}) = {c}");
        }
        // 200 calls/h of 180 s = 10 erlangs on 11 agents: 1 − 0.682118·e^(−30/180).
        let sl = service_level(11, 200.0 / 3600.0, 180.0, 30.0);
        assert!(close(sl, 0.422_599, 5e-6), "{sl}");
        // Many agents: the recursion stays finite and the level reaches 1.
        assert!(close(service_level(500, 1.0, 400.0, 30.0), 1.0, 1e-9));
    }

    /// Three calls enter `q` over an hour; one is answered (talk 120 s, then 30 s of wrap-up),
    /// one abandons, one enters before the window.
    #[test]
    fn measured_from_the_fold() {
        use chrono::TimeZone as _;
        use events::{Event, Outcome};
        let t = |m: i64| Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap() + Duration::minutes(m);
        let entered = |id: &str, m: i64| Event::QueueEntered {
            call_id: id.into(),
            queue: "q".into(),
            position: 1,
            at: t(m),
        };
        let events = vec![
            (
                t(0),
                Event::AgentState {
                    login: "a".into(),
                    state: AgentStatus::Ready,
                    reason: None,
                    registered: true,
                    since: t(0),
                },
            ),
            (t(5), entered("old", 5)),
            (t(40), entered("c1", 40)),
            (
                t(41),
                Event::QueueConnected {
                    call_id: "c1".into(),
                    queue: "q".into(),
                    agent: "a".into(),
                    wait_ms: 60_000,
                    within_service_level: false,
                    at: t(41),
                },
            ),
            (
                t(41),
                Event::AgentState {
                    login: "a".into(),
                    state: AgentStatus::Talking,
                    reason: None,
                    registered: true,
                    since: t(41),
                },
            ),
            (
                t(43),
                Event::QueueCompleted {
                    call_id: "c1".into(),
                    queue: "q".into(),
                    agent: "a".into(),
                    talk_ms: 120_000,
                    at: t(43),
                },
            ),
            (
                t(43),
                Event::AgentState {
                    login: "a".into(),
                    state: AgentStatus::WrapUp,
                    reason: None,
                    registered: true,
                    since: t(43),
                },
            ),
            (
                t(43) + Duration::seconds(30),
                Event::AgentState {
                    login: "a".into(),
                    state: AgentStatus::Ready,
                    reason: None,
                    registered: true,
                    since: t(43) + Duration::seconds(30),
                },
            ),
            (t(50), entered("c2", 50)),
            (
                t(51),
                Event::QueueAbandoned {
                    call_id: "c2".into(),
                    queue: "q".into(),
                    position: 1,
                    wait_ms: 60_000,
                    within_service_level: false,
                    at: t(51),
                },
            ),
            (
                t(51),
                Event::CallEnded {
                    call_id: "c2".into(),
                    outcome: Outcome::Abandoned,
                    duration_ms: 0,
                },
            ),
        ];
        let folded = Folded::from_events(events.iter().map(|(at, e)| (*at, e)), t(60));
        let m = measure(
            &folded,
            "q",
            t(60),
            Duration::minutes(30),
            Duration::hours(4),
        );
        assert_eq!(m.arrivals, 2, "c1 and c2; `old` entered 55 minutes ago");
        assert_eq!(m.handled, 1);
        assert_eq!(m.handling_s, Some(150.0), "120 s talk + 30 s wrap-up");
        let m = measure(
            &folded,
            "q",
            t(60),
            Duration::minutes(55),
            Duration::minutes(10),
        );
        assert_eq!(
            m.arrivals, 2,
            "the window's start (`old`, 55 minutes ago) is excluded"
        );
        let m = measure(
            &folded,
            "q",
            t(60),
            Duration::minutes(56),
            Duration::minutes(10),
        );
        assert_eq!(m.arrivals, 3);
        assert_eq!(m.handling_s, None, "c1 was answered 19 minutes ago");
        assert_eq!(
            measure(
                &folded,
                "other",
                t(60),
                Duration::hours(1),
                Duration::hours(1)
            )
            .arrivals,
            0
        );
    }

    #[test]
    fn inputs_that_are_not_rates_give_no_forecast() {
        for (rate, handling) in [
            (f64::NAN, 180.0),
            (0.1, f64::NAN),
            (-0.1, -180.0),
            (f64::INFINITY, 180.0),
            (0.1, f64::INFINITY),
        ] {
            assert_eq!(
                service_level(10, rate, handling, 30.0),
                0.0,
                "{rate} {handling}"
            );
            assert_eq!(
                agents_needed(rate, handling, 30.0, 0.9),
                None,
                "{rate} {handling}"
            );
        }
        assert_eq!(erlang_c(3, f64::NAN), 1.0);
        assert_eq!(erlang_c(3, -1.0), 1.0);
        assert_eq!(service_level(10, 0.1, 180.0, -1.0), 0.0);
        let f = forecast(10, 0.0, 180.0, 2, 30.0, 0.9);
        assert_eq!(
            f.arrivals_per_hour, 0.0,
            "an empty window measures no arrivals"
        );
        assert_eq!(f.agents_needed, Some(0));
    }
}
