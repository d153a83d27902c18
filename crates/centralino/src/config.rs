//! The configuration file (TOML). Unknown keys are refused; every error names its line and
//! field. With no file, the built-in demo (`config/demo.toml`) is used.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// The demo configuration `serve` runs with when given none.
pub const DEMO: &str = include_str!("../../../config/demo.toml");

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub sip: SipSection,
    pub media: MediaSection,
    pub http: HttpSection,
    pub prompts: PromptsSection,
    pub call: CallSection,
    pub numbers: Vec<NumberSection>,
    pub database: DatabaseSection,
    pub registrar: RegistrarSection,
    /// Agents' phones at fixed addresses (no REGISTER).
    pub phones: Vec<PhoneSection>,
    /// `[voicemail]`, the voicemail crate's section (it validates it).
    pub voicemail: voicemail::VoicemailConfig,
    /// Escalation clocks of the CRM queues.
    pub sla: SlaSection,
    /// The IVR tree; without one, the built-in [`DEFAULT_IVR`] (welcome, goodbye).
    pub ivr: Option<ivr::IvrConfig>,
    /// Queues and agents.
    pub acd: acd::AcdConfig,
    /// What validation found worth saying but not wrong (e.g. unreachable IVR nodes).
    #[serde(skip)]
    pub warnings: Vec<ConfigError>,
}

/// The IVR of a configuration that has no `[ivr]`: the welcome prompt, then goodbye.
pub const DEFAULT_IVR: &str = r#"
[ivr]
default_entry = "welcome"
[ivr.nodes.welcome]
kind = "announcement"
prompts = "welcome"
next = "goodbye"
[ivr.nodes.goodbye]
kind = "hangup"
prompts = "goodbye"
"#;

/// Agents' phones registering to us (RFC 3261 §10, digest authentication).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RegistrarSection {
    /// Accept REGISTER from agents' phones (their SIP user is their login).
    pub enabled: bool,
    /// Digest realm; the CRM keeps each user's digest hashes for it.
    pub realm: String,
    /// Challenge algorithms, in order of preference: `SHA-256`, `MD5`. Some phones (and
    /// SIPp) answer only the first challenge and only MD5.
    pub algorithms: Vec<String>,
    pub min_expires_s: u64,
    pub max_expires_s: u64,
}

impl Default for RegistrarSection {
    fn default() -> Self {
        RegistrarSection {
            enabled: true,
            realm: "centralino".into(),
            algorithms: vec!["MD5".into(), "SHA-256".into()],
            min_expires_s: 60,
            max_expires_s: 3600,
        }
    }
}

/// An agent's phone at a fixed address.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhoneSection {
    /// The agent's login.
    pub login: String,
    /// Its SIP URI, e.g. `sip:1001@192.0.2.10:5060` (UDP; `;transport=tcp` for TCP).
    pub contact: String,
}

/// `[sla]`: per-queue escalation targets (first response, update, solution) in working
/// minutes on one business calendar, and the sweep that announces due and overdue clocks.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SlaSection {
    /// Announce a clock this many minutes before it is due (`ticket.escalation`, due_soon).
    pub warn_min: u64,
    /// Seconds between escalation sweeps.
    pub sweep_s: u64,
    /// The calendar every queue's working time counts on (required when a queue has targets).
    pub calendar: Option<calendar::CalendarConfig>,
    /// Targets by CRM queue name.
    pub queues: std::collections::BTreeMap<String, QueueSlaSection>,
}

/// `[sla.queues.<name>]`: working minutes; 0 means no such clock.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueueSlaSection {
    /// Taken in charge (first operator action) within this.
    pub first_response_min: u64,
    /// A customer-visible update at least this often.
    pub update_min: u64,
    /// Resolved within this.
    pub solution_min: u64,
}

impl Default for SlaSection {
    fn default() -> Self {
        SlaSection {
            warn_min: 30,
            sweep_s: 30,
            calendar: None,
            queues: Default::default(),
        }
    }
}

/// Where the CRM keeps its data.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseSection {
    /// `postgres://…` or `sqlite://…`; empty: a SQLite file in the data directory. The
    /// `DATABASE_URL` environment variable, when set, wins.
    pub url: String,
    /// Country calling code that turns national numbers into E.164 (39 for Italy).
    pub default_country_code: String,
    /// The two-digit OTRS system id inside every ticket number.
    pub system_id: u8,
    /// Load the demo's queues, users and customers at start (idempotent; CONTRACT.md).
    pub demo_data: bool,
}

impl Default for DatabaseSection {
    fn default() -> Self {
        DatabaseSection {
            url: String::new(),
            default_country_code: "39".into(),
            system_id: 10,
            demo_data: false,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SipSection {
    /// UDP and TCP address of the trunk.
    pub listen: SocketAddr,
    /// RFC 3261 §17.1.1.1 timer base values, in milliseconds.
    pub t1_ms: u64,
    pub t2_ms: u64,
    pub t4_ms: u64,
    /// Calls beyond this are refused with 503.
    pub max_calls: usize,
    /// Networks allowed to send SIP requests (the PBX/carrier, agents' phones); requests from
    /// anywhere else are dropped unanswered.
    pub allow_from: Vec<ipnet::IpNet>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MediaSection {
    /// RTP ports (even ones carry RTP, the next odd one RTCP), on the SIP address.
    pub rtp_port_min: u16,
    pub rtp_port_max: u16,
    /// A call that receives no RTP for this long is reported; 0 disables the check.
    pub rtp_timeout_s: u64,
    /// Media tasks sharing the 20 ms tick (0: one per CPU).
    pub shards: usize,
    /// Scheduling priority of the media threads (see `media::ThreadPriority`).
    pub priority: MediaPriority,
}

/// `media.priority`: `high` (default) raises the media threads' priority where the process
/// may (`CAP_SYS_NICE`, systemd `LimitNICE=-10`), `normal` leaves them as every thread.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MediaPriority {
    Normal,
    #[default]
    High,
}

impl From<MediaPriority> for media::ThreadPriority {
    fn from(p: MediaPriority) -> Self {
        match p {
            MediaPriority::Normal => media::ThreadPriority::Normal,
            MediaPriority::High => media::ThreadPriority::High,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpSection {
    pub listen: SocketAddr,
    /// Serve /metrics to non-loopback clients too.
    pub metrics_public: bool,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PromptsSection {
    /// Folder of `<language>/<name>.wav`; relative paths are taken from the config file's
    /// folder. Empty: the prompts shipped with centralino.
    pub dir: String,
}

/// How every call is handled, whatever the IVR does with it.
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
}

/// A dialled number with its own settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NumberSection {
    pub number: String,
    pub name: Option<String>,
    pub language: Option<String>,
    pub answer_delay_ms: Option<u64>,
}

impl Default for SipSection {
    fn default() -> Self {
        SipSection {
            listen: "127.0.0.1:5060".parse().expect("valid literal"),
            t1_ms: 500,
            t2_ms: 4000,
            t4_ms: 5000,
            max_calls: 5000,
            allow_from: vec![
                "127.0.0.0/8".parse().expect("valid literal"),
                "::1/128".parse().expect("valid literal"),
            ],
        }
    }
}

impl Default for MediaSection {
    fn default() -> Self {
        MediaSection {
            rtp_port_min: 20000,
            rtp_port_max: 29999,
            rtp_timeout_s: 60,
            shards: 0,
            priority: MediaPriority::High,
        }
    }
}

impl Default for HttpSection {
    fn default() -> Self {
        HttpSection {
            listen: "127.0.0.1:8080".parse().expect("valid literal"),
            metrics_public: false,
        }
    }
}

impl Default for CallSection {
    fn default() -> Self {
        CallSection {
            language: "it".into(),
            answer_delay_ms: 0,
            max_duration_s: 3600,
            hold_music: "hold_music".into(),
        }
    }
}

/// One problem in a configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// 1-based line, when the problem sits on one.
    pub line: Option<usize>,
    /// Dotted path of the field (`media.rtp_port_min`, `numbers[1].number`).
    pub field: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: {}: {}", self.field, self.message),
            None => write!(f, "{}: {}", self.field, self.message),
        }
    }
}

/// Every problem found in a file, in line order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors {
    pub source_name: String,
    pub errors: Vec<ConfigError>,
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for error in &self.errors {
            writeln!(f, "{}: {error}", self.source_name)?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

impl Config {
    /// Parses and validates `text`; `source_name` prefixes every error. Relative prompt
    /// folders are taken from the working directory.
    pub fn parse(text: &str, source_name: &str) -> Result<Config, ConfigErrors> {
        Config::parse_in(text, source_name, None)
    }

    /// Parses and validates `text`, a file in `base` (relative paths are taken from there).
    fn parse_in(
        text: &str,
        source_name: &str,
        base: Option<&Path>,
    ) -> Result<Config, ConfigErrors> {
        let mut config: Config = toml::from_str(text).map_err(|error| ConfigErrors {
            source_name: source_name.to_string(),
            errors: vec![syntax_error(text, &error)],
        })?;
        if let Some(base) = base
            && !config.prompts.dir.is_empty()
            && Path::new(&config.prompts.dir).is_relative()
        {
            config.prompts.dir = base.join(&config.prompts.dir).display().to_string();
        }
        let mut errors = config.validate(text);
        let (engine_errors, warnings) = config.validate_engines(text);
        errors.extend(engine_errors);
        errors.sort_by_key(|e| e.line);
        config.warnings = warnings;
        if errors.is_empty() {
            Ok(config)
        } else {
            Err(ConfigErrors {
                source_name: source_name.to_string(),
                errors,
            })
        }
    }

    /// Reads and validates a file.
    pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|error| ConfigErrors {
            source_name: name.clone(),
            errors: vec![ConfigError {
                line: None,
                field: "(file)".into(),
                message: format!("cannot read: {error}"),
            }],
        })?;
        Config::parse_in(&text, &name, Some(path.parent().unwrap_or(Path::new("."))))
    }

    /// The built-in demo configuration.
    pub fn demo() -> Config {
        Config::parse(DEMO, "config/demo.toml").expect("the demo configuration is valid")
    }

    /// The names of the prompts on disk, in any language (`<dir>/<lang>/<name>.wav`).
    pub fn prompt_names(&self) -> std::collections::HashSet<String> {
        let mut names = std::collections::HashSet::new();
        let Ok(languages) = std::fs::read_dir(self.prompts_dir()) else {
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

    /// The IVR tree and the ACD configuration checked by their own crates; problems located
    /// by their paths. Returns (errors, warnings).
    fn validate_engines(&self, text: &str) -> (Vec<ConfigError>, Vec<ConfigError>) {
        let mut errors = Vec::new();
        let mut warnings = Vec::new();
        let names = self.prompt_names();
        let known = |name: &str| names.contains(name);
        let (ivr_text, ivr_prefix) = if self.ivr.is_some() {
            (text, "ivr.")
        } else {
            (DEFAULT_IVR, "(built-in) ivr.")
        };
        let problems = match self.ivr_tree(&known) {
            Ok((_, warnings)) => warnings,
            Err(problems) => problems,
        };
        for problem in problems {
            let path = format!("ivr.{}", problem.path.trim_start_matches("ivr."));
            let located = ConfigError {
                line: locate_path(ivr_text, &path).filter(|_| self.ivr.is_some()),
                field: format!("{ivr_prefix}{}", path.trim_start_matches("ivr.")),
                message: problem.message,
            };
            match problem.severity {
                ivr::Severity::Error => errors.push(located),
                ivr::Severity::Warning => warnings.push(located),
            }
        }
        for problem in self.acd.validate() {
            errors.push(ConfigError {
                line: locate_path(text, &problem.path),
                field: problem.path,
                message: problem.message,
            });
        }
        // Every queue the IVR routes to must exist in the ACD.
        let queues: std::collections::HashSet<&str> =
            self.acd.queues.iter().map(|q| q.name.as_str()).collect();
        if let Some(tree) = &self.ivr {
            for (name, node) in &tree.nodes {
                if let ivr::NodeConfig::Route(route) = node
                    && !queues.contains(route.queue.as_str())
                {
                    let path = format!("ivr.nodes.{name}.queue");
                    errors.push(ConfigError {
                        line: locate_path(text, &path),
                        field: path,
                        message: format!(
                            "queue \"{}\" is not one of the [[acd.queues]] ({})",
                            route.queue,
                            if queues.is_empty() {
                                "none configured".to_string()
                            } else {
                                let mut q: Vec<_> = queues.iter().copied().collect();
                                q.sort_unstable();
                                q.join(", ")
                            }
                        ),
                    });
                }
            }
        }
        for (i, phone) in self.phones.iter().enumerate() {
            let path = format!("phones[{i}].contact");
            if static_phone(&phone.contact).is_none() {
                errors.push(ConfigError {
                    line: locate_path(text, &path),
                    field: path,
                    message: format!(
                        "'{}' is not a SIP URI with an IP address (e.g. sip:1001@192.0.2.10:5060)",
                        phone.contact
                    ),
                });
            } else if !self.acd.agents.iter().any(|a| a.login == phone.login) {
                let path = format!("phones[{i}].login");
                errors.push(ConfigError {
                    line: locate_path(text, &path),
                    field: path,
                    message: format!("'{}' is not an agent of [[acd.agents]]", phone.login),
                });
            }
        }
        for problem in self.voicemail.validate() {
            errors.push(ConfigError {
                line: locate_path(text, &problem.path),
                field: problem.path,
                message: problem.message,
            });
        }
        if let Some(cal) = &self.sla.calendar
            && let Err(problems) = calendar::BusinessCalendar::new(cal)
        {
            let path = "sla.calendar";
            errors.push(ConfigError {
                line: locate_path(text, path),
                field: path.into(),
                message: problems.to_string(),
            });
        }
        if self.sla.calendar.is_none()
            && let Some(name) = self.sla.queues.keys().next()
        {
            let path = format!("sla.queues.{name}");
            errors.push(ConfigError {
                line: locate_path(text, &path),
                field: "sla.calendar".into(),
                message: "queue targets need [sla.calendar] to count working time on".into(),
            });
        }
        if self.sla.sweep_s == 0 {
            let path = "sla.sweep_s";
            errors.push(ConfigError {
                line: locate_path(text, path),
                field: path.into(),
                message: "expected at least 1 second".into(),
            });
        }
        for (i, algorithm) in self.registrar.algorithms.iter().enumerate() {
            if !matches!(algorithm.as_str(), "MD5" | "SHA-256") {
                let path = format!("registrar.algorithms[{i}]");
                errors.push(ConfigError {
                    line: locate_path(text, &path),
                    field: path,
                    message: format!("'{algorithm}' is not MD5 or SHA-256"),
                });
            }
        }
        (errors, warnings)
    }

    fn validate(&self, text: &str) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        let mut fail = |section: &str, index: Option<usize>, key: &str, message: String| {
            let field = match index {
                Some(i) => format!("{section}[{i}].{key}"),
                None => format!("{section}.{key}"),
            };
            errors.push(ConfigError {
                line: locate(text, section, index, key),
                field,
                message,
            });
        };
        let sip = &self.sip;
        if sip.t1_ms == 0 {
            fail("sip", None, "t1_ms", "must be above 0".into());
        }
        if sip.t2_ms < sip.t1_ms {
            fail(
                "sip",
                None,
                "t2_ms",
                format!("must be at least t1_ms ({} < {})", sip.t2_ms, sip.t1_ms),
            );
        }
        if sip.allow_from.is_empty() {
            fail(
                "sip",
                None,
                "allow_from",
                "is empty: no peer could reach the trunk (list the PBX's networks)".into(),
            );
        }
        if sip.max_calls == 0 {
            fail("sip", None, "max_calls", "must be above 0".into());
        }
        let media = &self.media;
        if media.rtp_port_min < 1024 {
            fail(
                "media",
                None,
                "rtp_port_min",
                format!("must be 1024 or more, not {}", media.rtp_port_min),
            );
        }
        if media.rtp_port_max <= media.rtp_port_min {
            fail(
                "media",
                None,
                "rtp_port_max",
                format!(
                    "must be above rtp_port_min ({} <= {})",
                    media.rtp_port_max, media.rtp_port_min
                ),
            );
        }
        if self.database.system_id > 99 {
            fail(
                "database",
                None,
                "system_id",
                format!("must be 0-99 (two digits), not {}", self.database.system_id),
            );
        }
        if !self.database.default_country_code.is_empty()
            && !self
                .database
                .default_country_code
                .chars()
                .all(|c| c.is_ascii_digit())
        {
            fail(
                "database",
                None,
                "default_country_code",
                format!(
                    "'{}' is not a country calling code (digits only, e.g. 39)",
                    self.database.default_country_code
                ),
            );
        }
        if self.call.language.trim().is_empty() {
            fail("call", None, "language", "must not be empty".into());
        }
        if self.call.max_duration_s == 0 {
            fail("call", None, "max_duration_s", "must be above 0".into());
        }
        let mut seen = std::collections::HashMap::new();
        for (i, number) in self.numbers.iter().enumerate() {
            if number.number.is_empty()
                || !number
                    .number
                    .chars()
                    .all(|c| c.is_ascii_digit() || c == '+')
            {
                fail(
                    "numbers",
                    Some(i),
                    "number",
                    format!(
                        "'{}' is not a phone number (digits, optional +)",
                        number.number
                    ),
                );
            } else if let Some(first) = seen.insert(number.number.clone(), i) {
                fail(
                    "numbers",
                    Some(i),
                    "number",
                    format!(
                        "'{}' is already configured in numbers[{first}]",
                        number.number
                    ),
                );
            }
        }
        errors
    }

    /// The database URL: `DATABASE_URL`, else `database.url`, else a SQLite file in `data`.
    pub fn database_url(&self, data: &Path) -> String {
        match std::env::var("DATABASE_URL") {
            Ok(url) if !url.trim().is_empty() => url,
            _ if !self.database.url.is_empty() => self.database.url.clone(),
            _ => format!("sqlite://{}?mode=rwc", data.join("centralino.db").display()),
        }
    }

    /// The prompt folder to load.
    pub fn prompts_dir(&self) -> PathBuf {
        if !self.prompts.dir.is_empty() {
            return PathBuf::from(&self.prompts.dir);
        }
        let local = PathBuf::from("prompts");
        if local.join("it").is_dir() {
            return local;
        }
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../prompts"))
    }

    pub fn call_settings(&self, number: Option<&NumberSection>) -> switchboard::CallSettings {
        let call = &self.call;
        switchboard::CallSettings {
            language: number
                .and_then(|n| n.language.clone())
                .unwrap_or_else(|| call.language.clone()),
            answer_delay: Duration::from_millis(
                number
                    .and_then(|n| n.answer_delay_ms)
                    .unwrap_or(call.answer_delay_ms),
            ),
            max_duration: Duration::from_secs(call.max_duration_s),
        }
    }

    /// The switchboard's settings; `data` holds the voicemail folder.
    pub fn switchboard(&self, data: &Path) -> switchboard::SwitchboardConfig {
        switchboard::SwitchboardConfig {
            default: self.call_settings(None),
            numbers: self
                .numbers
                .iter()
                .map(|n| (n.number.clone(), self.call_settings(Some(n))))
                .collect(),
            hold_music: self.call.hold_music.clone(),
            voicemail: self.voicemail.settings(data),
            phones: self
                .phones
                .iter()
                .filter_map(|p| Some((p.login.clone(), static_phone(&p.contact)?)))
                .collect(),
        }
    }

    /// The ACD's configuration: `[acd]`, with the agents whose phone is a `[[phones]]` static
    /// contact counted as registered from the start.
    pub fn acd_config(&self) -> acd::AcdConfig {
        let mut acd = self.acd.clone();
        for agent in &mut acd.agents {
            if self.phones.iter().any(|p| p.login == agent.login) {
                agent.static_contact = true;
            }
        }
        acd
    }

    /// The escalation targets of `[sla.queues]` by CRM queue name (none without a valid
    /// `[sla.calendar]`, which validation reports).
    pub fn queue_slas(&self) -> Vec<(String, crm::QueueTargets)> {
        let Some(calendar) = self
            .sla
            .calendar
            .as_ref()
            .and_then(|c| calendar::BusinessCalendar::new(c).ok())
        else {
            return Vec::new();
        };
        let calendar = std::sync::Arc::new(calendar);
        let minutes = |m: u64| (m > 0).then(|| chrono::Duration::minutes(m as i64));
        self.sla
            .queues
            .iter()
            .map(|(name, q)| {
                let targets = crm::QueueTargets {
                    sla: crm::QueueSla {
                        calendar: calendar.clone(),
                        first_response: minutes(q.first_response_min),
                        solution: minutes(q.solution_min),
                    },
                    update: minutes(q.update_min),
                };
                (name.clone(), targets)
            })
            .collect()
    }

    /// The IVR configuration in force: `[ivr]`, or the built-in default.
    pub fn ivr_config(&self) -> ivr::IvrConfig {
        self.ivr.clone().unwrap_or_else(|| {
            #[derive(Deserialize)]
            struct Only {
                ivr: ivr::IvrConfig,
            }
            toml::from_str::<Only>(DEFAULT_IVR)
                .expect("the built-in IVR parses")
                .ivr
        })
    }

    /// Builds the IVR tree, checking prompts against `known_prompt`.
    pub fn ivr_tree(
        &self,
        known_prompt: &dyn Fn(&str) -> bool,
    ) -> Result<(std::sync::Arc<ivr::Tree>, Vec<ivr::Problem>), Vec<ivr::Problem>> {
        ivr::Tree::build(&self.ivr_config(), known_prompt)
    }
}

/// A static phone's URI and where to send to it; `None` if the URI is not usable (validation
/// reports it).
pub fn static_phone(contact: &str) -> Option<switchboard::StaticPhone> {
    use sip_gateway::transaction::{Peer, TransportKind};
    let uri = rsip::Uri::try_from(contact).ok()?;
    let host = uri.host_with_port.host.to_string();
    let port = uri.host_with_port.port.map(|p| *p.value()).unwrap_or(5060);
    let ip: std::net::IpAddr = host.trim_matches(|c| c == '[' || c == ']').parse().ok()?;
    let tcp = contact.to_ascii_lowercase().contains("transport=tcp");
    Some(switchboard::StaticPhone {
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

/// A TOML or type error, located by the parser's span.
fn syntax_error(text: &str, error: &toml::de::Error) -> ConfigError {
    let (line, field) = match error.span() {
        Some(span) => {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            let key = text.lines().nth(line - 1).and_then(|l| {
                let (k, _) = l.split_once('=')?;
                let k = k.trim();
                (!k.is_empty() && !k.starts_with('[')).then(|| k.to_string())
            });
            let section = section_at(text, line);
            let field = match (section, key) {
                (Some(s), Some(k)) => format!("{s}.{k}"),
                (None, Some(k)) => k,
                (Some(s), None) => s,
                (None, None) => "(file)".into(),
            };
            (Some(line), field)
        }
        None => (None, "(file)".into()),
    };
    ConfigError {
        line,
        field,
        message: error.message().trim().to_string(),
    }
}

/// The `[section]` or `[[section]]` header in force at `line`.
fn section_at(text: &str, line: usize) -> Option<String> {
    text.lines()
        .take(line)
        .filter_map(|l| {
            let l = l.trim();
            l.starts_with('[')
                .then(|| l.trim_matches(|c| c == '[' || c == ']').trim().to_string())
        })
        .last()
}

/// The line of `key` in `[section]` (or in the `index`-th `[[section]]`), for errors found
/// after parsing.
fn locate(text: &str, section: &str, index: Option<usize>, key: &str) -> Option<usize> {
    let mut current: Option<String> = None;
    let mut occurrence: usize = 0;
    let mut in_target = false;
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.starts_with('[') {
            let name = line
                .trim_matches(|c| c == '[' || c == ']')
                .trim()
                .to_string();
            if name == section {
                in_target = match index {
                    Some(i) => {
                        let hit = occurrence == i;
                        occurrence += 1;
                        hit
                    }
                    None => true,
                };
            } else {
                in_target = false;
            }
            current = Some(name);
            continue;
        }
        if in_target
            && current.is_some()
            && let Some((k, _)) = line.split_once('=')
            && k.trim() == key
        {
            return Some(n + 1);
        }
    }
    None
}

/// The line of the value at a dotted `path` (`ivr.nodes.main.options.1`,
/// `acd.agents[2].queues[0]`), or of its nearest enclosing item that exists: for problems
/// that the engines' own validation finds after parsing.
pub fn locate_path(text: &str, path: &str) -> Option<usize> {
    use toml::de::{DeTable, DeValue};
    let root = DeTable::parse(text).ok()?;
    let line_of = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
    let mut best = None;
    let mut table: Option<&DeTable<'_>> = Some(root.get_ref());
    let mut value: Option<&toml::Spanned<DeValue<'_>>> = None;
    for segment in path.split('.') {
        let (name, indexes) = match segment.find('[') {
            Some(at) => (&segment[..at], &segment[at..]),
            None => (segment, ""),
        };
        if !name.is_empty() {
            let current = match (table, value.map(|v| v.get_ref())) {
                (Some(t), _) => t,
                (None, Some(DeValue::Table(t))) => t,
                _ => break,
            };
            let Some((key, found)) = current.iter().find(|(k, _)| k.get_ref().as_ref() == name)
            else {
                break;
            };
            best = Some(line_of(key.span().start));
            value = Some(found);
            table = None;
        }
        for index in indexes
            .split(['[', ']'])
            .filter(|s| !s.is_empty())
            .filter_map(|s| s.parse::<usize>().ok())
        {
            let Some(DeValue::Array(items)) = value.map(|v| v.get_ref()) else {
                return best;
            };
            let Some(item) = items.get(index) else {
                return best;
            };
            best = Some(line_of(item.span().start));
            value = Some(item);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_configuration_is_valid() {
        let config = Config::demo();
        assert!(config.numbers.iter().any(|n| n.number == "800100200"));
        assert_eq!(config.sip.listen, "127.0.0.1:5060".parse().unwrap());
        assert_eq!(config.http.listen, "127.0.0.1:8080".parse().unwrap());
    }

    #[test]
    fn an_empty_file_gives_the_defaults() {
        let config = Config::parse("", "t").unwrap();
        assert_eq!(config.media.rtp_port_min, 20000);
        assert_eq!(config.media.rtp_port_max, 29999);
        assert_eq!(config.sip.t1_ms, 500);
    }

    #[test]
    fn unknown_keys_are_refused_with_line_and_field() {
        let text = "[sip]\nt1_ms = 500\n\n[media]\nrtp_port_minimum = 3\n";
        let err = Config::parse(text, "x.toml").unwrap_err();
        assert_eq!(err.errors.len(), 1);
        let e = &err.errors[0];
        assert_eq!(e.line, Some(5));
        assert_eq!(e.field, "media.rtp_port_minimum");
        assert!(e.message.contains("unknown field"), "{}", e.message);
        assert!(
            err.to_string()
                .starts_with("x.toml: line 5: media.rtp_port_minimum:")
        );
    }

    #[test]
    fn queue_targets_need_a_calendar_and_name_their_line() {
        let text = "[sla]\nsweep_s = 0\n\n[sla.queues.tecnica]\nfirst_response_min = 60\n";
        let err = Config::parse(text, "x.toml").unwrap_err();
        let fields: Vec<_> = err
            .errors
            .iter()
            .map(|e| (e.field.as_str(), e.line))
            .collect();
        assert!(fields.contains(&("sla.calendar", Some(4))), "{err}");
        assert!(fields.contains(&("sla.sweep_s", Some(2))), "{err}");
        let err = Config::parse("[sla.queues.x]\nfirst_respons_min = 1\n", "x.toml").unwrap_err();
        assert_eq!(
            err.errors[0].field, "sla.queues.x.first_respons_min",
            "{err}"
        );
        assert_eq!(err.errors[0].line, Some(2));
    }

    #[test]
    fn the_voicemail_section_is_checked_by_its_crate_and_located_here() {
        let text =
            "[voicemail]\nmax_length_s = 60\n\n[voicemail.calendar]\ntimezone = \"Mars/Olympus\"\n";
        let err = Config::parse(text, "x.toml").unwrap_err();
        assert_eq!(err.errors.len(), 1, "{err}");
        assert_eq!(err.errors[0].field, "voicemail.calendar");
        assert_eq!(err.errors[0].line, Some(4));
        let err = Config::parse("[voicemail]\nmax_lenght_s = 1\n", "x.toml").unwrap_err();
        assert_eq!(err.errors[0].field, "voicemail.max_lenght_s", "{err}");
        assert_eq!(err.errors[0].line, Some(2));
        let demo = Config::demo().switchboard(Path::new("/data")).voicemail;
        assert_eq!(demo.dir, Path::new("/data/voicemail"));
        assert!(demo.sla.is_some(), "the demo's voicemail calendar");
    }

    #[test]
    fn the_demo_gives_its_queues_escalation_targets() {
        let config = Config::parse(DEMO, "demo.toml").unwrap();
        let slas = config.queue_slas();
        let names: Vec<_> = slas.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            ["altro", "cittadini", "raw", "secondo-livello", "tecnica"]
        );
        let (_, second) = &slas[3];
        assert_eq!(second.update, Some(chrono::Duration::minutes(480)));
        assert_eq!(second.sla.solution, Some(chrono::Duration::minutes(2880)));
    }

    #[test]
    fn allow_from_takes_networks_and_names_a_bad_one() {
        let config =
            Config::parse("[sip]\nallow_from = [\"192.0.2.0/24\", \"::1/128\"]\n", "t").unwrap();
        assert_eq!(config.sip.allow_from.len(), 2);
        let err = Config::parse("[sip]\nallow_from = [\"192.0.2.300/24\"]\n", "t").unwrap_err();
        assert_eq!(err.errors[0].line, Some(2));
        assert_eq!(err.errors[0].field, "sip.allow_from");
    }

    #[test]
    fn wrong_types_name_the_line() {
        let text = "[sip]\nlisten = \"not an address\"\n";
        let err = Config::parse(text, "x.toml").unwrap_err();
        assert_eq!(err.errors[0].line, Some(2));
        assert_eq!(err.errors[0].field, "sip.listen");
    }

    #[test]
    fn every_semantic_error_is_reported_with_its_line() {
        let text = "[media]\nrtp_port_min = 30000\nrtp_port_max = 20000\n\n[call]\nmax_duration_s = 0\n\n\
            [[numbers]]\nnumber = \"800100200\"\n\n[[numbers]]\nnumber = \"800100200\"\n\n[[numbers]]\nnumber = \"abc\"\n";
        let err = Config::parse(text, "x.toml").unwrap_err();
        let found: Vec<_> = err
            .errors
            .iter()
            .map(|e| (e.line, e.field.as_str()))
            .collect();
        assert_eq!(
            found,
            vec![
                (Some(3), "media.rtp_port_max"),
                (Some(6), "call.max_duration_s"),
                (Some(12), "numbers[1].number"),
                (Some(15), "numbers[2].number"),
            ]
        );
    }

    #[test]
    fn nested_paths_are_located_by_line() {
        let text = "[sip]\nt1_ms = 500\n\n[ivr.nodes.main]\nkind = \"menu\"\noptions = { 1 = \"a\", 2 = \"b\" }\n\n\
            [[acd.agents]]\nlogin = \"1001\"\n\n[[acd.agents]]\nlogin = \"1002\"\nqueues = [\n  \"x\",\n  \"y\",\n]\n";
        assert_eq!(locate_path(text, "sip.t1_ms"), Some(2));
        assert_eq!(locate_path(text, "ivr.nodes.main.kind"), Some(5));
        assert_eq!(locate_path(text, "ivr.nodes.main.options.2"), Some(6));
        assert_eq!(locate_path(text, "acd.agents[1].login"), Some(12));
        assert_eq!(locate_path(text, "acd.agents[1].queues[1]"), Some(15));
        // Missing leaves fall back to the nearest existing item.
        assert_eq!(locate_path(text, "ivr.nodes.main.attempts"), Some(4));
        assert_eq!(locate_path(text, "nothing.here"), None);
    }

    #[test]
    fn the_demo_tree_and_queues_are_checked_clean() {
        let config = Config::demo();
        assert!(config.warnings.is_empty(), "{:?}", config.warnings);
        let names = config.prompt_names();
        let (tree, _) = config.ivr_tree(&|n| names.contains(n)).unwrap();
        assert_eq!(tree.entry_name(Some("800100202")), "area2_pin");
        assert_eq!(config.acd.queues.len(), 4);
    }

    #[test]
    fn ivr_and_acd_errors_name_their_line_and_field() {
        let text = "[ivr]\ndefault_entry = \"menu\"\n\n[ivr.nodes.menu]\nkind = \"menu\"\nprompts = \"menu_main\"\n\
            options = { \"1\" = \"nowhere\", \"2\" = \"route\" }\non_failure = \"route\"\n\n\
            [ivr.nodes.route]\nkind = \"route\"\nqueue = \"missing\"\n\n\
            [acd]\n[[acd.queues]]\nname = \"q\"\n\n[[acd.agents]]\nlogin = \"1001\"\nqueues = [\"q\", \"x\"]\n\n\
            [[phones]]\nlogin = \"1001\"\ncontact = \"not a uri\"\n";
        let err = Config::parse(text, "x.toml").unwrap_err();
        let found: Vec<_> = err
            .errors
            .iter()
            .map(|e| (e.line, e.field.as_str()))
            .collect();
        assert!(
            found.contains(&(Some(7), "ivr.nodes.menu.options.1")),
            "{err}"
        );
        assert!(
            found.contains(&(Some(12), "ivr.nodes.route.queue")),
            "{err}"
        );
        assert!(
            found.contains(&(Some(20), "acd.agents[0].queues[1]")),
            "{err}"
        );
        assert!(found.contains(&(Some(24), "phones[0].contact")), "{err}");
    }

    #[test]
    fn static_phones_count_as_registered_agents() {
        let text = "[acd]\n[[acd.queues]]\nname = \"q\"\n[[acd.agents]]\nlogin = \"1001\"\nqueues = [\"q\"]\n\
            [[acd.agents]]\nlogin = \"1002\"\nqueues = [\"q\"]\n\n\
            [[phones]]\nlogin = \"1002\"\ncontact = \"sip:1002@192.0.2.10:5062;transport=tcp\"\n";
        let config = Config::parse(text, "t").unwrap();
        let acd = config.acd_config();
        assert!(!acd.agents[0].static_contact);
        assert!(acd.agents[1].static_contact);
        let phone = static_phone(&config.phones[0].contact).unwrap();
        assert_eq!(phone.peer.addr, "192.0.2.10:5062".parse().unwrap());
        assert_eq!(
            phone.peer.transport,
            sip_gateway::transaction::TransportKind::Tcp
        );
    }
}
