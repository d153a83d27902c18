//! Dispatch decision latency with 10 queues, 1,000 agents (each in 1 to 3 queues) and 10,000
//! waiting calls.
//!
//! `cargo run --release -p acd --example bench_dispatch`
//!
//! - "agent frees up": a talking agent's call ends (wrap-up 0), the agent takes the best head
//!   call among its queues; the timed span is the `handle(CallEnded)` that emits the Offer.
//! - "call arrives, agent free": all agents idle, a call arrives and goes to the longest-idle
//!   agent of its queue; the timed span is the `handle(CallArrived)` that emits the Offer.
//! - "call arrives, all busy": the call joins the tail of a queue of 10,000 waiting calls.

use std::time::{Duration, Instant};

use acd::{Acd, AcdConfig, Action, AgentConfig, Input, QueueConfig, RequestedState};

const QUEUES: usize = 10;
const AGENTS: usize = 1_000;
const WAITING: usize = 10_000;
const ITERATIONS: usize = 200_000;

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        usize::try_from(self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33).expect("fits") % n
    }
}

fn config(rng: &mut Rng) -> AcdConfig {
    let queues = (0..QUEUES)
        .map(|q| QueueConfig {
            weight: 1 + u32::try_from(q % 3).expect("small"),
            ..QueueConfig::new(format!("q{q}"))
        })
        .collect();
    let agents = (0..AGENTS)
        .map(|a| {
            let mut queues: Vec<String> = Vec::new();
            for _ in 0..=rng.below(3) {
                let name = format!("q{}", rng.below(QUEUES));
                if !queues.contains(&name) {
                    queues.push(name);
                }
            }
            AgentConfig {
                login: format!("{}", 10_000 + a),
                queues,
                weights: Vec::new(),
                static_contact: true,
            }
        })
        .collect();
    AcdConfig {
        queues,
        agents,
        ring_timeout_s: 15,
        wrap_up_s: 0,
        blend: Default::default(),
    }
}

struct Driver {
    acd: Acd,
    now: Instant,
    offers: Vec<(String, String)>,
}

impl Driver {
    fn handle(&mut self, input: Input) -> Duration {
        self.now += Duration::from_millis(1);
        let started = Instant::now();
        self.acd.handle(input, self.now).expect("accepted");
        let spent = started.elapsed();
        while let Some(action) = self.acd.poll_action() {
            if let Action::Offer { call, agent } = action {
                self.offers.push((call.0, agent));
            }
        }
        while self.acd.poll_event().is_some() {}
        spent
    }

    /// Answers every pending offer; returns (call, agent) pairs now talking.
    fn answer_all(&mut self, talking: &mut Vec<(String, String)>) {
        for (call, agent) in std::mem::take(&mut self.offers) {
            self.handle(Input::OfferAnswered {
                call: call.as_str().into(),
                agent: agent.clone(),
            });
            talking.push((call, agent));
        }
    }
}

fn report(name: &str, mut samples: Vec<Duration>) {
    samples.sort_unstable();
    let pick = |p: f64| {
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss,
            reason = "an index"
        )]
        let i = ((samples.len() - 1) as f64 * p) as usize;
        samples[i]
    };
    println!(
        "{name:<28} n={:<7} p50={:>8.2?} p99={:>8.2?} max={:>8.2?}",
        samples.len(),
        pick(0.50),
        pick(0.99),
        samples[samples.len() - 1]
    );
}

fn main() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let config = config(&mut rng);
    let logins: Vec<String> = config.agents.iter().map(|a| a.login.clone()).collect();
    let start = Instant::now();
    let mut d = Driver {
        acd: Acd::new(config, start).expect("valid"),
        now: start,
        offers: Vec::new(),
    };
    let mut next_call = 0usize;
    let mut new_call = |rng: &mut Rng| {
        next_call += 1;
        Input::CallArrived {
            call: format!("call-{next_call}").into(),
            queue: format!("q{}", rng.below(QUEUES)),
            at_head: rng.below(50) == 0,
        }
    };

    // Phase 1: every agent busy, 10,000 waiting; each ended call frees an agent who takes the
    // next call; a new call keeps the queues at 10,000.
    for login in &logins {
        d.handle(Input::SetAgentState {
            login: login.clone(),
            state: RequestedState::Ready,
        });
    }
    let mut talking = Vec::new();
    while d
        .acd
        .queue_stats(d.now)
        .iter()
        .map(|q| q.waiting)
        .sum::<usize>()
        < WAITING
    {
        let input = new_call(&mut rng);
        d.handle(input);
        d.answer_all(&mut talking);
    }
    let (mut freed, mut arrived_busy) = (
        Vec::with_capacity(ITERATIONS),
        Vec::with_capacity(ITERATIONS),
    );
    for _ in 0..ITERATIONS {
        let (call, _) = talking.swap_remove(rng.below(talking.len()));
        freed.push(d.handle(Input::CallEnded {
            call: call.as_str().into(),
        }));
        assert_eq!(d.offers.len(), 1, "the freed agent takes a waiting call");
        d.answer_all(&mut talking);
        let input = new_call(&mut rng);
        arrived_busy.push(d.handle(input));
    }
    let waiting: usize = d.acd.queue_stats(d.now).iter().map(|q| q.waiting).sum();

    // Phase 2: drain the queues, then every agent idle; each arriving call goes to the
    // longest-idle agent of its queue and ends right after the answer.
    while !talking.is_empty() {
        let (call, _) = talking.swap_remove(0);
        d.handle(Input::CallEnded {
            call: call.as_str().into(),
        });
        d.answer_all(&mut talking);
    }
    let mut arrived_free = Vec::with_capacity(ITERATIONS);
    for _ in 0..ITERATIONS {
        let input = new_call(&mut rng);
        arrived_free.push(d.handle(input));
        assert_eq!(d.offers.len(), 1, "an idle agent takes the call");
        d.answer_all(&mut talking);
        let (call, _) = talking.pop().expect("one call");
        d.handle(Input::CallEnded {
            call: call.as_str().into(),
        });
    }

    println!(
        "acd dispatch: {QUEUES} queues, {AGENTS} agents in 1-3 queues, {waiting} calls waiting in phase 1, {ITERATIONS} decisions per case"
    );
    println!("command: cargo run --release -p acd --example bench_dispatch");
    report("agent frees up -> Offer", freed);
    report("call arrives, agent free", arrived_free);
    report("call arrives, all busy", arrived_busy);
}
