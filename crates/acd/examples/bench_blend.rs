//! Blended routing's item decisions (issue 16) with 10 queues, 1,000 blended agents (each in 1
//! to 3 queues) and 10,000 waiting items of four channels.
//!
//! `cargo run --release -p acd --example bench_blend`
//!
//! - "agent frees up": an agent finishes an item and takes the best waiting item of its
//!   queues (channel priority, then arrival); the timed span is the `handle(ItemDone)` that
//!   emits the next offer (and the engine's not-ready/ready round trip around it).
//! - "item arrives, agents free": every agent idle, an item arrives and goes to the
//!   longest-idle member of its queue (a scan of the queue's members).
//! - "item arrives, all busy": the item joins its queue's ordered map.

use std::time::{Duration, Instant};

use acd::{
    Acd, AcdConfig, AgentConfig, Blend, BlendConfig, BlendInput, Input, ItemAction, ItemChannel,
    Mode, QueueConfig, RequestedState,
};

const QUEUES: usize = 10;
const AGENTS: usize = 1_000;
const WAITING: usize = 10_000;
const ITERATIONS: usize = 100_000;

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
        .map(|q| QueueConfig::new(format!("q{q}")))
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
    blend: Blend,
    now: Instant,
    offers: Vec<(String, String)>,
}

impl Driver {
    fn handle(&mut self, input: BlendInput) -> Duration {
        self.now += Duration::from_millis(1);
        let started = Instant::now();
        self.blend.handle(input, self.now).expect("accepted");
        let spent = started.elapsed();
        while self.blend.poll_action().is_some() {}
        while let Some(action) = self.blend.poll_item() {
            if let ItemAction::Offer { item, agent, .. } = action {
                self.offers.push((item.0, agent));
            }
        }
        while self.blend.poll_event().is_some() {}
        spent
    }

    fn accept_all(&mut self, holding: &mut Vec<(String, String)>) {
        for (item, agent) in std::mem::take(&mut self.offers) {
            self.handle(BlendInput::ItemAccepted {
                item: item.as_str().into(),
                agent: agent.clone(),
            });
            holding.push((item, agent));
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

fn driver(config: &AcdConfig, logins: &[String]) -> Driver {
    let start = Instant::now();
    let acd = Acd::new(config.clone(), start).expect("valid");
    let mut d = Driver {
        blend: Blend::new(acd, BlendConfig::default()),
        now: start,
        offers: Vec::new(),
    };
    for login in logins {
        d.handle(BlendInput::SetMode {
            login: login.clone(),
            mode: Mode::Blended,
        });
        d.handle(BlendInput::Call(Input::SetAgentState {
            login: login.clone(),
            state: RequestedState::Ready,
        }));
    }
    d
}

fn main() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let config = config(&mut rng);
    let logins: Vec<String> = config.agents.iter().map(|a| a.login.clone()).collect();
    let mut next = 0usize;
    let mut new_item = |rng: &mut Rng| {
        next += 1;
        BlendInput::ItemArrived {
            item: format!("item-{next}").as_str().into(),
            channel: ItemChannel::ALL[rng.below(4)],
            queue: format!("q{}", rng.below(QUEUES)),
        }
    };

    // Phase 1: every agent holds an item, 10,000 wait; each finished item frees an agent who
    // takes the next; a new item keeps the queues full.
    let mut d = driver(&config, &logins);
    let mut holding = Vec::new();
    let waiting = |d: &Driver| {
        (0..QUEUES)
            .map(|q| d.blend.waiting_items(&format!("q{q}")).len())
            .sum::<usize>()
    };
    while waiting(&d) < WAITING {
        let input = new_item(&mut rng);
        d.handle(input);
        d.accept_all(&mut holding);
    }
    let (mut freed, mut arrived_busy) = (
        Vec::with_capacity(ITERATIONS),
        Vec::with_capacity(ITERATIONS),
    );
    for _ in 0..ITERATIONS {
        let (item, agent) = holding.swap_remove(rng.below(holding.len()));
        freed.push(d.handle(BlendInput::ItemDone {
            item: item.as_str().into(),
            agent,
        }));
        assert_eq!(d.offers.len(), 1, "the freed agent takes a waiting item");
        d.accept_all(&mut holding);
        let input = new_item(&mut rng);
        arrived_busy.push(d.handle(input));
    }
    let still = waiting(&d);

    // Phase 2: every agent idle; each item goes to the longest-idle member and is done at once.
    let mut d = driver(&config, &logins);
    let mut arrived_free = Vec::with_capacity(ITERATIONS);
    for _ in 0..ITERATIONS {
        let input = new_item(&mut rng);
        arrived_free.push(d.handle(input));
        assert_eq!(d.offers.len(), 1, "an idle agent takes the item");
        let mut one = Vec::new();
        d.accept_all(&mut one);
        let (item, agent) = one.pop().expect("one item");
        d.handle(BlendInput::ItemDone {
            item: item.as_str().into(),
            agent,
        });
    }

    println!(
        "acd blend: {QUEUES} queues, {AGENTS} blended agents in 1-3 queues, {still} items waiting in phase 1, {ITERATIONS} decisions per case"
    );
    println!("command: cargo run --release -p acd --example bench_blend");
    report("agent frees up", freed);
    report("item arrives, agents free", arrived_free);
    report("item arrives, all busy", arrived_busy);
}
