//! The `[acd]` section of the configuration: queues, agents and the distribution timers.
//!
//! Durations are whole seconds in fields ending in `_s`, so the TOML reads
//! `ring_timeout_s = 15`. Unknown keys are refused (`deny_unknown_fields`); cross references
//! (an agent's queues, an overflow target) are checked by [`AcdConfig::validate`], which reports
//! every problem with its path, e.g. `acd.agents[2].queues[0]: unknown queue "x"`.

use std::collections::HashSet;
use std::fmt;
use std::time::Duration;

use serde::Deserialize;

/// Default ring timeout (the demo's 15 s).
pub const DEFAULT_RING_TIMEOUT_S: u64 = 15;
/// Default wrap-up after each call (the demo's 5 s).
pub const DEFAULT_WRAP_UP_S: u64 = 5;
/// Default service-level threshold: answered within 30 s.
pub const DEFAULT_SERVICE_LEVEL_S: u64 = 30;
/// Default expected wait per position announced when a queue has no recent answers.
pub const DEFAULT_EXPECTED_WAIT_S: u64 = 60;

/// The whole `[acd]` section.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcdConfig {
    /// The queues, one per service area or skill (R-ACD-1).
    #[serde(default)]
    pub queues: Vec<QueueConfig>,
    /// The agents and the queues each one serves.
    #[serde(default)]
    pub agents: Vec<AgentConfig>,
    /// How long an offered agent's phone rings before the offer is withdrawn and the agent is made
    /// not ready with reason "no answer" (R-ACD-4).
    #[serde(default = "default_ring_timeout_s")]
    pub ring_timeout_s: u64,
    /// After-call work before the agent is ready again.
    #[serde(default = "default_wrap_up_s")]
    pub wrap_up_s: u64,
    /// Blended routing (`[acd.blend]`, R-ACD-5): the items' priorities and offer time-out.
    #[serde(default)]
    pub blend: BlendSection,
}

/// Default time an item is offered to an agent before it goes to someone else.
pub const DEFAULT_OFFER_TIMEOUT_S: u64 = 30;
/// Default interval between two reconciliations of the items with the CRM's open tickets.
pub const DEFAULT_RESCAN_S: u64 = 30;

/// `[acd.blend]`: how off-line items (e-mail, web, voicemail, fax tickets) are offered.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlendSection {
    /// How long an item is offered to an agent before the offer is withdrawn (the agent goes
    /// not ready "no answer", as for an unanswered call).
    #[serde(default = "default_offer_timeout_s")]
    pub offer_timeout_s: u64,
    /// Each channel's priority (`email`, `web`, `voicemail`, `fax`), lower first, 0 to 254;
    /// a channel not listed comes after every listed one. Absent: voicemail 1, web and
    /// e-mail 2, fax 3.
    #[serde(default)]
    pub priorities: Option<std::collections::BTreeMap<String, u8>>,
    /// Every this many seconds the open written tickets are read again from the CRM, so an
    /// item whose creation or change was not announced on the bus (mail ingest, a write
    /// replayed from the journal) still reaches the ACD.
    #[serde(default = "default_rescan_s")]
    pub rescan_s: u64,
}

impl Default for BlendSection {
    fn default() -> Self {
        BlendSection {
            offer_timeout_s: DEFAULT_OFFER_TIMEOUT_S,
            priorities: None,
            rescan_s: DEFAULT_RESCAN_S,
        }
    }
}

impl BlendSection {
    /// The engine's settings (unknown channels are reported by [`AcdConfig::validate`] and
    /// left out here).
    #[must_use]
    pub fn config(&self) -> crate::BlendConfig {
        let mut config = crate::BlendConfig {
            offer_timeout: Duration::from_secs(self.offer_timeout_s.max(1)),
            ..crate::BlendConfig::default()
        };
        if let Some(priorities) = &self.priorities {
            config.priorities = priorities
                .iter()
                .filter_map(|(name, p)| Some((crate::ItemChannel::parse(name)?, *p)))
                .collect();
        }
        config
    }

    fn validate(&self, push: &mut impl FnMut(String, String)) {
        if self.offer_timeout_s == 0 {
            push(
                "acd.blend.offer_timeout_s".into(),
                "expected at least 1 second, got 0".into(),
            );
        }
        if self.rescan_s == 0 {
            push(
                "acd.blend.rescan_s".into(),
                "expected at least 1 second, got 0".into(),
            );
        }
        for (name, priority) in self.priorities.iter().flatten() {
            if crate::ItemChannel::parse(name).is_none() {
                push(
                    format!("acd.blend.priorities.{name}"),
                    format!("expected a channel (email, web, voicemail or fax), got \"{name}\""),
                );
            } else if *priority == u8::MAX {
                push(
                    format!("acd.blend.priorities.{name}"),
                    "expected a priority from 0 to 254, got 255".into(),
                );
            }
        }
    }
}

fn default_offer_timeout_s() -> u64 {
    DEFAULT_OFFER_TIMEOUT_S
}
fn default_rescan_s() -> u64 {
    DEFAULT_RESCAN_S
}

/// One queue.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueConfig {
    /// Unique name, referenced by the IVR and by agents.
    pub name: String,
    /// When an agent serving several queues frees up, each queue's head call competes with its
    /// waiting time multiplied by this weight; the highest product wins. 1 to 100.
    #[serde(default = "default_weight")]
    pub weight: u32,
    /// Announce position and expected wait to each waiting caller every this many seconds
    /// (R-ACD-3). None: no announcements, hold music only.
    #[serde(default)]
    pub announce_every_s: Option<u64>,
    /// Longest a caller may wait here; then the call goes to `overflow`.
    #[serde(default)]
    pub max_wait_s: Option<u64>,
    /// Where a call goes after `max_wait_s`: another queue's name or `voicemail:<box>`.
    #[serde(default)]
    pub overflow: Option<String>,
    /// Expected wait per position in queue announced while the queue has no recent answers.
    #[serde(default = "default_expected_wait_s")]
    pub default_expected_wait_s: u64,
    /// Service-level threshold: a call answered within this many seconds counts as on time.
    #[serde(default = "default_service_level_s")]
    pub service_level_s: u64,
    /// Calls transferred into this queue go to the head (ahead of ordinary callers) instead of
    /// the tail.
    #[serde(default)]
    pub transfers_at_head: bool,
}

/// One agent.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    /// Login, equal to the SIP user of the agent's phone.
    pub login: String,
    /// Queues this agent serves.
    pub queues: Vec<String>,
    /// The agent's weight in each of `queues`, in the same order (missing ones weigh 1), 1 to
    /// 100: when the agent frees up, each queue's head call competes with its wait × the
    /// queue's weight × this one.
    #[serde(default)]
    pub weights: Vec<u32>,
    /// The phone has a static contact (no REGISTER): it counts as registered from the start.
    #[serde(default)]
    pub static_contact: bool,
}

/// Where an overflowing call goes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum OverflowTarget {
    /// Another queue of this ACD: the engine moves the call there itself.
    Queue(String),
    /// A voicemail box: the call leaves the ACD and the driver routes it.
    Voicemail(String),
}

impl OverflowTarget {
    /// Parses `voicemail:<box>` or a queue name.
    #[must_use]
    pub fn parse(text: &str) -> Self {
        match text.strip_prefix("voicemail:") {
            Some(mailbox) => Self::Voicemail(mailbox.to_owned()),
            None => Self::Queue(text.to_owned()),
        }
    }
}

impl fmt::Display for OverflowTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Queue(name) => f.write_str(name),
            Self::Voicemail(mailbox) => write!(f, "voicemail:{mailbox}"),
        }
    }
}

/// One problem found by [`AcdConfig::validate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// Where: `acd.agents[2].queues[0]`.
    pub path: String,
    /// What is wrong, saying what was expected and what came.
    pub message: String,
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

fn default_ring_timeout_s() -> u64 {
    DEFAULT_RING_TIMEOUT_S
}
fn default_wrap_up_s() -> u64 {
    DEFAULT_WRAP_UP_S
}
fn default_weight() -> u32 {
    1
}
fn default_expected_wait_s() -> u64 {
    DEFAULT_EXPECTED_WAIT_S
}
fn default_service_level_s() -> u64 {
    DEFAULT_SERVICE_LEVEL_S
}

impl Default for AcdConfig {
    fn default() -> Self {
        Self {
            queues: Vec::new(),
            agents: Vec::new(),
            ring_timeout_s: DEFAULT_RING_TIMEOUT_S,
            wrap_up_s: DEFAULT_WRAP_UP_S,
            blend: BlendSection::default(),
        }
    }
}

impl QueueConfig {
    /// A queue with every optional setting at its default.
    #[must_use]
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            weight: 1,
            announce_every_s: None,
            max_wait_s: None,
            overflow: None,
            default_expected_wait_s: DEFAULT_EXPECTED_WAIT_S,
            service_level_s: DEFAULT_SERVICE_LEVEL_S,
            transfers_at_head: false,
        }
    }

    /// `announce_every_s` as a duration.
    #[must_use]
    pub fn announce_every(&self) -> Option<Duration> {
        self.announce_every_s.map(Duration::from_secs)
    }

    /// `service_level_s` as a duration.
    #[must_use]
    pub fn service_level(&self) -> Duration {
        Duration::from_secs(self.service_level_s)
    }

    /// `max_wait_s` as a duration.
    #[must_use]
    pub fn max_wait(&self) -> Option<Duration> {
        self.max_wait_s.map(Duration::from_secs)
    }

    /// `overflow` parsed.
    #[must_use]
    pub fn overflow_target(&self) -> Option<OverflowTarget> {
        self.overflow.as_deref().map(OverflowTarget::parse)
    }
}

impl AgentConfig {
    /// An agent serving `queues`, registering its phone (no static contact).
    #[must_use]
    pub fn new(login: impl Into<String>, queues: &[&str]) -> Self {
        Self {
            login: login.into(),
            queues: queues.iter().map(|q| (*q).to_owned()).collect(),
            weights: Vec::new(),
            static_contact: false,
        }
    }
}

impl AcdConfig {
    /// `ring_timeout_s` as a duration.
    #[must_use]
    pub fn ring_timeout(&self) -> Duration {
        Duration::from_secs(self.ring_timeout_s)
    }

    /// `wrap_up_s` as a duration.
    #[must_use]
    pub fn wrap_up(&self) -> Duration {
        Duration::from_secs(self.wrap_up_s)
    }

    /// Checks cross references and ranges. Returns every problem found, in file order; empty
    /// means valid.
    #[must_use]
    pub fn validate(&self) -> Vec<ConfigProblem> {
        let mut problems = Vec::new();
        let mut push =
            |path: String, message: String| problems.push(ConfigProblem { path, message });
        if self.ring_timeout_s == 0 {
            push(
                "acd.ring_timeout_s".into(),
                "expected at least 1 second, got 0".into(),
            );
        }
        self.blend.validate(&mut push);
        let mut names = HashSet::new();
        for (i, queue) in self.queues.iter().enumerate() {
            let at = format!("acd.queues[{i}]");
            if queue.name.trim().is_empty() {
                push(
                    format!("{at}.name"),
                    "expected a queue name, got an empty string".into(),
                );
            } else if queue.name.starts_with("voicemail:") {
                push(
                    format!("{at}.name"),
                    format!(
                        "a queue name cannot start with \"voicemail:\", got \"{}\"",
                        queue.name
                    ),
                );
            }
            if !names.insert(queue.name.as_str()) {
                push(
                    format!("{at}.name"),
                    format!("duplicate queue \"{}\"", queue.name),
                );
            }
            if !(1..=100).contains(&queue.weight) {
                push(
                    format!("{at}.weight"),
                    format!("expected 1 to 100, got {}", queue.weight),
                );
            }
            if queue.announce_every_s == Some(0) {
                push(
                    format!("{at}.announce_every_s"),
                    "expected at least 1 second, got 0".into(),
                );
            }
            if queue.max_wait_s == Some(0) {
                push(
                    format!("{at}.max_wait_s"),
                    "expected at least 1 second, got 0".into(),
                );
            }
            match (&queue.max_wait_s, &queue.overflow) {
                (Some(_), None) => push(format!("{at}.overflow"), "max_wait_s is set: expected an overflow target (a queue or \"voicemail:<box>\")".into()),
                (None, Some(_)) => push(format!("{at}.max_wait_s"), "overflow is set: expected max_wait_s too".into()),
                _ => {}
            }
        }
        for (i, queue) in self.queues.iter().enumerate() {
            match queue.overflow_target() {
                Some(OverflowTarget::Queue(target)) if target == queue.name => {
                    push(
                        format!("acd.queues[{i}].overflow"),
                        format!("a queue cannot overflow into itself (\"{target}\")"),
                    );
                }
                Some(OverflowTarget::Queue(target)) if !names.contains(target.as_str()) => {
                    push(
                        format!("acd.queues[{i}].overflow"),
                        format!("unknown queue \"{target}\""),
                    );
                }
                Some(OverflowTarget::Voicemail(mailbox)) if mailbox.is_empty() => {
                    push(
                        format!("acd.queues[{i}].overflow"),
                        "expected \"voicemail:<box>\", got an empty box".into(),
                    );
                }
                _ => {}
            }
        }
        let mut logins = HashSet::new();
        for (i, agent) in self.agents.iter().enumerate() {
            let at = format!("acd.agents[{i}]");
            if agent.login.trim().is_empty() {
                push(
                    format!("{at}.login"),
                    "expected a login, got an empty string".into(),
                );
            }
            if !logins.insert(agent.login.as_str()) {
                push(
                    format!("{at}.login"),
                    format!("duplicate agent \"{}\"", agent.login),
                );
            }
            if agent.weights.len() > agent.queues.len() {
                push(
                    format!("{at}.weights"),
                    format!(
                        "expected at most one weight per queue ({}), got {}",
                        agent.queues.len(),
                        agent.weights.len()
                    ),
                );
            }
            for (j, weight) in agent.weights.iter().enumerate() {
                if !(1..=100).contains(weight) {
                    push(
                        format!("{at}.weights[{j}]"),
                        format!("expected 1 to 100, got {weight}"),
                    );
                }
            }
            let mut seen = HashSet::new();
            for (j, queue) in agent.queues.iter().enumerate() {
                if !names.contains(queue.as_str()) {
                    push(
                        format!("{at}.queues[{j}]"),
                        format!("unknown queue \"{queue}\""),
                    );
                } else if !seen.insert(queue.as_str()) {
                    push(
                        format!("{at}.queues[{j}]"),
                        format!("queue \"{queue}\" listed twice"),
                    );
                }
            }
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> AcdConfig {
        toml::from_str(text).expect("valid TOML")
    }

    #[test]
    fn demo_section_parses_with_defaults() {
        let config = parse(
            r#"
            ring_timeout_s = 15
            wrap_up_s = 5
            [[queues]]
            name = "cittadini"
            announce_every_s = 30
            [[queues]]
            name = "secondo-livello"
            weight = 2
            transfers_at_head = true
            max_wait_s = 300
            overflow = "voicemail:100"
            [[agents]]
            login = "1001"
            queues = ["cittadini"]
            [[agents]]
            login = "2001"
            queues = ["secondo-livello"]
            static_contact = true
            "#,
        );
        assert_eq!(config.validate(), vec![]);
        assert_eq!(config.queues[0].weight, 1);
        assert_eq!(
            config.queues[0].announce_every(),
            Some(Duration::from_secs(30))
        );
        assert_eq!(config.queues[0].service_level_s, 30);
        assert_eq!(
            config.queues[1].overflow_target(),
            Some(OverflowTarget::Voicemail("100".into()))
        );
        assert!(config.agents[1].static_contact);
        assert_eq!(config.ring_timeout(), Duration::from_secs(15));
    }

    #[test]
    fn the_blend_section_sets_priorities_and_time_out_and_names_bad_fields() {
        let config = parse(
            r#"
            [blend]
            offer_timeout_s = 45
            [blend.priorities]
            email = 1
            web = 1
            voicemail = 0
            "#,
        );
        assert_eq!(config.validate(), vec![]);
        let blend = config.blend.config();
        assert_eq!(blend.offer_timeout, Duration::from_secs(45));
        assert_eq!(blend.priority(crate::ItemChannel::Voicemail), 0);
        assert_eq!(blend.priority(crate::ItemChannel::Email), 1);
        // Not listed: after every listed channel.
        assert_eq!(blend.priority(crate::ItemChannel::Fax), u8::MAX);
        // Absent: the defaults.
        assert_eq!(parse("").blend.config(), crate::BlendConfig::default());

        let bad = parse(
            "[blend]\noffer_timeout_s = 0\nrescan_s = 0\n[blend.priorities]\npigeon = 1\nfax = 255\n",
        );
        let paths: Vec<String> = bad.validate().into_iter().map(|p| p.path).collect();
        assert_eq!(
            paths,
            [
                "acd.blend.offer_timeout_s",
                "acd.blend.rescan_s",
                "acd.blend.priorities.fax",
                "acd.blend.priorities.pigeon",
            ]
        );
        let err = toml::from_str::<AcdConfig>("[blend]\noffer_timeout = 3\n").unwrap_err();
        assert!(err.to_string().contains("offer_timeout"), "{err}");
    }

    #[test]
    fn unknown_keys_are_refused() {
        let err =
            toml::from_str::<AcdConfig>("[[queues]]\nname = \"a\"\nwieght = 2\n").unwrap_err();
        assert!(err.to_string().contains("wieght"), "{err}");
    }

    #[test]
    fn problems_carry_paths() {
        let mut config = AcdConfig::default();
        config.queues.push(QueueConfig::new("a"));
        config.queues.push(QueueConfig {
            weight: 0,
            max_wait_s: Some(10),
            overflow: Some("nowhere".into()),
            ..QueueConfig::new("b")
        });
        config.queues.push(QueueConfig {
            max_wait_s: Some(5),
            ..QueueConfig::new("a")
        });
        config.agents.push(AgentConfig::new("1001", &["a"]));
        config.agents.push(AgentConfig::new("1001", &["a", "a"]));
        config.agents.push(AgentConfig::new("1003", &["x"]));
        config.ring_timeout_s = 0;
        let text: Vec<String> = config.validate().iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            vec![
                "acd.ring_timeout_s: expected at least 1 second, got 0",
                "acd.queues[1].weight: expected 1 to 100, got 0",
                "acd.queues[2].name: duplicate queue \"a\"",
                "acd.queues[2].overflow: max_wait_s is set: expected an overflow target (a queue or \"voicemail:<box>\")",
                "acd.queues[1].overflow: unknown queue \"nowhere\"",
                "acd.agents[1].login: duplicate agent \"1001\"",
                "acd.agents[1].queues[1]: queue \"a\" listed twice",
                "acd.agents[2].queues[0]: unknown queue \"x\"",
            ]
        );
    }

    #[test]
    fn overflow_into_itself_is_refused() {
        let mut config = AcdConfig::default();
        config.queues.push(QueueConfig {
            max_wait_s: Some(5),
            overflow: Some("a".into()),
            ..QueueConfig::new("a")
        });
        assert_eq!(
            config.validate()[0].to_string(),
            "acd.queues[0].overflow: a queue cannot overflow into itself (\"a\")"
        );
    }
}
