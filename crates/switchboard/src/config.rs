//! The sections of the configuration file about calls: `[call]`, `[[numbers]]` (settings per
//! dialled number), `[[phones]]` (agents' phones at fixed addresses) and `[prompts]`; their
//! validation, the checks that tie them to the IVR and ACD sections, and the
//! [`SwitchboardConfig`] they give. The file's envelope (TOML syntax, line numbers) is the
//! application's.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use sip_gateway::transaction::{Peer, TransportKind};

use crate::{CallSettings, StaticPhone, SwitchboardConfig, VoicemailSettings};

/// One problem in the call sections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// The key, from the top of the file: `numbers[1].number`.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

fn problem(path: impl Into<String>, message: impl Into<String>) -> ConfigProblem {
    ConfigProblem {
        path: path.into(),
        message: message.into(),
    }
}

/// `[call]`: how every call is handled, whatever the IVR does with it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CallSection {
    /// Prompt language.
    pub language: String,
    /// Ringing before the answer (180 Ringing is sent when not zero).
    pub answer_delay_ms: u64,
    /// A call is ended after this long in any case.
    pub max_duration_s: u64,
    /// The prompt looped while a caller waits in queue.
    pub hold_music: String,
    /// Failed PIN identifications one caller number may make within
    /// `pin_failure_window_s`; past it that number's PINs are not looked up (the call goes
    /// on unidentified). 0: no limit.
    pub pin_failures_per_caller: u32,
    /// The sliding window of `pin_failures_per_caller`.
    pub pin_failure_window_s: u64,
    /// Failed PIN identifications from all callers together within a minute; past it no PIN
    /// is looked up until the minute has passed (numbers that change every call). 0: no limit.
    pub pin_failures_per_minute: u32,
}

impl Default for CallSection {
    fn default() -> Self {
        CallSection {
            language: "it".into(),
            answer_delay_ms: 0,
            max_duration_s: 3600,
            hold_music: "hold_music".into(),
            pin_failures_per_caller: 5,
            pin_failure_window_s: 900,
            pin_failures_per_minute: 30,
        }
    }
}

/// `[[numbers]]`: a dialled number with its own settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NumberSection {
    pub number: String,
    pub name: Option<String>,
    pub language: Option<String>,
    pub answer_delay_ms: Option<u64>,
}

/// `[[phones]]`: an agent's phone at a fixed address (no REGISTER).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhoneSection {
    /// The agent's login.
    pub login: String,
    /// Its SIP URI, e.g. `sip:1001@192.0.2.10:5060` (UDP; `;transport=tcp` for TCP).
    pub contact: String,
}

/// `[prompts]`: where the shipped prompts are.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PromptsSection {
    /// Folder of `<language>/<name>.wav`; relative paths are taken from the config file's
    /// folder (the application resolves them). Empty: the prompts shipped with centralino.
    pub dir: String,
}

impl CallSection {
    /// Every problem of `[call]` and `[[numbers]]`; empty means valid.
    #[must_use]
    pub fn validate(&self, numbers: &[NumberSection]) -> Vec<ConfigProblem> {
        let mut problems = Vec::new();
        if self.language.trim().is_empty() {
            problems.push(problem("call.language", "must not be empty"));
        }
        if self.max_duration_s == 0 {
            problems.push(problem("call.max_duration_s", "must be above 0"));
        }
        if self.pin_failures_per_caller > 0 && self.pin_failure_window_s == 0 {
            problems.push(problem(
                "call.pin_failure_window_s",
                "must be above 0 while pin_failures_per_caller limits",
            ));
        }
        let mut seen = HashMap::new();
        for (i, number) in numbers.iter().enumerate() {
            let path = format!("numbers[{i}].number");
            if number.number.is_empty()
                || !number
                    .number
                    .chars()
                    .all(|c| c.is_ascii_digit() || c == '+')
            {
                problems.push(problem(
                    path,
                    format!(
                        "'{}' is not a phone number (digits, optional +)",
                        number.number
                    ),
                ));
            } else if let Some(first) = seen.insert(number.number.clone(), i) {
                problems.push(problem(
                    path,
                    format!(
                        "'{}' is already configured in numbers[{first}]",
                        number.number
                    ),
                ));
            }
        }
        problems
    }

    /// The settings of calls to `number` (the defaults without one).
    pub fn settings(&self, number: Option<&NumberSection>) -> CallSettings {
        CallSettings {
            language: number
                .and_then(|n| n.language.clone())
                .unwrap_or_else(|| self.language.clone()),
            answer_delay: Duration::from_millis(
                number
                    .and_then(|n| n.answer_delay_ms)
                    .unwrap_or(self.answer_delay_ms),
            ),
            max_duration: Duration::from_secs(self.max_duration_s),
        }
    }

    /// The limits on failed PINs across calls.
    pub fn pin_limits(&self) -> ::call::PinLimits {
        ::call::PinLimits {
            per_caller: self.pin_failures_per_caller,
            window: Duration::from_secs(self.pin_failure_window_s),
            per_minute: self.pin_failures_per_minute,
            ..::call::PinLimits::default()
        }
    }

    /// The switchboard's settings.
    pub fn switchboard(
        &self,
        numbers: &[NumberSection],
        phones: &[PhoneSection],
        voicemail: VoicemailSettings,
    ) -> SwitchboardConfig {
        SwitchboardConfig {
            default: self.settings(None),
            numbers: numbers
                .iter()
                .map(|n| (n.number.clone(), self.settings(Some(n))))
                .collect(),
            hold_music: self.hold_music.clone(),
            voicemail,
            phones: phones
                .iter()
                .filter_map(|p| Some((p.login.clone(), static_phone(&p.contact)?)))
                .collect(),
            webrtc: webrtc_leg::LegConfig::default(),
        }
    }
}

/// The problems of `[[phones]]`: each a usable SIP URI of an agent of `acd`.
#[must_use]
pub fn validate_phones(phones: &[PhoneSection], acd: &acd::AcdConfig) -> Vec<ConfigProblem> {
    let mut problems = Vec::new();
    for (i, phone) in phones.iter().enumerate() {
        if static_phone(&phone.contact).is_none() {
            problems.push(problem(
                format!("phones[{i}].contact"),
                format!(
                    "'{}' is not a SIP URI with an IP address (e.g. sip:1001@192.0.2.10:5060)",
                    phone.contact
                ),
            ));
        } else if !acd.agents.iter().any(|a| a.login == phone.login) {
            problems.push(problem(
                format!("phones[{i}].login"),
                format!("'{}' is not an agent of [[acd.agents]]", phone.login),
            ));
        }
    }
    problems
}

/// IVR routes to queues the file's `[[acd.queues]]` do not list (they must then exist in the
/// database: queues are data).
#[must_use]
pub fn validate_routes(ivr: &ivr::IvrConfig, acd: &acd::AcdConfig) -> Vec<ConfigProblem> {
    let queues: HashSet<&str> = acd.queues.iter().map(|q| q.name.as_str()).collect();
    let mut known: Vec<_> = queues.iter().copied().collect();
    known.sort_unstable();
    let known = if known.is_empty() {
        "none configured".to_string()
    } else {
        known.join(", ")
    };
    ivr.nodes
        .iter()
        .filter_map(|(name, node)| match node {
            ivr::NodeConfig::Route(route) if !queues.contains(route.queue.as_str()) => {
                Some(problem(
                    format!("ivr.nodes.{name}.queue"),
                    format!(
                        "queue \"{}\" is not one of the file's [[acd.queues]] ({known}): it must exist in the database",
                        route.queue
                    ),
                ))
            }
            _ => None,
        })
        .collect()
}

/// The ACD's configuration: `acd`, with the agents whose phone is a `[[phones]]` static
/// contact counted as registered from the start.
pub fn acd_with_phones(acd: &acd::AcdConfig, phones: &[PhoneSection]) -> acd::AcdConfig {
    let mut acd = acd.clone();
    for agent in &mut acd.agents {
        if phones.iter().any(|p| p.login == agent.login) {
            agent.static_contact = true;
        }
    }
    acd
}

/// A static phone's URI and where to send to it; `None` if the URI is not usable (validation
/// reports it).
pub fn static_phone(contact: &str) -> Option<StaticPhone> {
    let uri = rsip::Uri::try_from(contact).ok()?;
    let host = uri.host_with_port.host.to_string();
    let port = uri.host_with_port.port.map(|p| *p.value()).unwrap_or(5060);
    let ip: IpAddr = host.trim_matches(|c| c == '[' || c == ']').parse().ok()?;
    let tcp = contact.to_ascii_lowercase().contains("transport=tcp");
    Some(StaticPhone {
        uri,
        peer: Peer {
            addr: SocketAddr::new(ip, port),
            transport: if tcp {
                TransportKind::Tcp
            } else {
                TransportKind::Udp
            },
        },
    })
}

impl PromptsSection {
    /// The prompt folder to load: `dir`, else `./prompts` when it has Italian prompts, else
    /// the prompts of the source tree.
    pub fn dir(&self) -> PathBuf {
        if !self.dir.is_empty() {
            return PathBuf::from(&self.dir);
        }
        let local = PathBuf::from("prompts");
        if local.join("it").is_dir() {
            return local;
        }
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../prompts"))
    }

    /// The names of the prompts on disk, in any language (`<dir>/<lang>/<name>.wav`).
    pub fn names(&self) -> HashSet<String> {
        prompt_names(&self.dir())
    }
}

/// The names of the prompts in `dir`, in any language (`<dir>/<lang>/<name>.wav`).
pub fn prompt_names(dir: &Path) -> HashSet<String> {
    let mut names = HashSet::new();
    let Ok(languages) = std::fs::read_dir(dir) else {
        return names;
    };
    for language in languages.flatten() {
        let Ok(files) = std::fs::read_dir(language.path()) else {
            continue;
        };
        for file in files.flatten() {
            let path = file.path();
            if path
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("wav"))
                && let Some(stem) = path.file_stem()
            {
                names.insert(stem.to_string_lossy().into_owned());
            }
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_and_numbers_are_checked() {
        let call = CallSection {
            max_duration_s: 0,
            ..CallSection::default()
        };
        let numbers: Vec<NumberSection> = ["800100200", "800100200", "abc"]
            .into_iter()
            .map(|n| NumberSection {
                number: n.into(),
                name: None,
                language: None,
                answer_delay_ms: None,
            })
            .collect();
        let paths: Vec<_> = call
            .validate(&numbers)
            .into_iter()
            .map(|p| p.path)
            .collect();
        assert_eq!(
            paths,
            [
                "call.max_duration_s",
                "numbers[1].number",
                "numbers[2].number"
            ]
        );
    }

    #[test]
    fn static_phones_count_as_registered_agents() {
        let mut acd = acd::AcdConfig::default();
        for login in ["1001", "1002"] {
            acd.agents.push(acd::AgentConfig::new(login, &[]));
        }
        let phones = [PhoneSection {
            login: "1002".into(),
            contact: "sip:1002@192.0.2.10:5062;transport=tcp".into(),
        }];
        let with = acd_with_phones(&acd, &phones);
        assert!(!with.agents[0].static_contact);
        assert!(with.agents[1].static_contact);
        let phone = static_phone(&phones[0].contact).unwrap();
        assert_eq!(
            phone.peer.addr,
            "192.0.2.10:5062".parse::<SocketAddr>().unwrap()
        );
        assert_eq!(phone.peer.transport, TransportKind::Tcp);
        assert!(validate_phones(&phones, &acd).is_empty());
        let bad = [PhoneSection {
            login: "1003".into(),
            contact: "not a uri".into(),
        }];
        assert_eq!(validate_phones(&bad, &acd)[0].path, "phones[0].contact");
    }
}

/// `[webrtc]`: how the WebRTC legs of agents' browser phones bind (issue 17).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebRtcSection {
    /// The address the browser-facing ICE/DTLS/SRTP sockets bind (one system-chosen UDP port
    /// per call); absent: the SIP listener's address (the media engine's).
    pub bind: Option<std::net::IpAddr>,
    /// The address browsers are told (the ICE host candidate) when the server sits behind a
    /// 1:1 NAT; absent: `bind`.
    pub public_address: Option<std::net::IpAddr>,
    /// ICE and DTLS must complete this long after the browser answers, or the leg is closed.
    pub establish_timeout_s: u64,
    /// An established leg whose ICE consent is missing this long is closed.
    pub consent_timeout_s: u64,
}

impl Default for WebRtcSection {
    fn default() -> Self {
        WebRtcSection {
            bind: None,
            public_address: None,
            establish_timeout_s: 10,
            consent_timeout_s: 30,
        }
    }
}

impl WebRtcSection {
    pub fn validate(&self) -> Vec<ConfigProblem> {
        let mut problems = Vec::new();
        if !(1..=120).contains(&self.establish_timeout_s) {
            problems.push(problem(
                "webrtc.establish_timeout_s",
                format!("must be 1 to 120 s, not {}", self.establish_timeout_s),
            ));
        }
        if !(5..=300).contains(&self.consent_timeout_s) {
            problems.push(problem(
                "webrtc.consent_timeout_s",
                format!("must be 5 to 300 s, not {}", self.consent_timeout_s),
            ));
        }
        for (path, addr) in [
            ("webrtc.bind", self.bind),
            ("webrtc.public_address", self.public_address),
        ] {
            if addr.is_some_and(|a| a.is_unspecified() || a.is_multicast()) {
                problems.push(problem(
                    path,
                    "must be one address browsers can reach, not a wildcard or multicast one",
                ));
            }
        }
        problems
    }

    /// The legs' configuration; `sip_ip` is the SIP listener's address (used when `bind` is
    /// absent, unless it is a wildcard: then loopback, and `bind` should be set).
    pub fn leg_config(&self, sip_ip: std::net::IpAddr) -> webrtc_leg::LegConfig {
        let fallback = if sip_ip.is_unspecified() {
            std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST)
        } else {
            sip_ip
        };
        webrtc_leg::LegConfig {
            bind: self.bind.unwrap_or(fallback),
            public_addr: self.public_address,
            plain_bind: fallback,
            plain_peer: None,
            establish_timeout: Duration::from_secs(self.establish_timeout_s),
            consent_timeout: Duration::from_secs(self.consent_timeout_s),
        }
    }
}
