//! The configuration file (TOML): the envelope of the sections the crates own. Unknown keys
//! are refused; every error names its line and field. With no file, the built-in demo
//! (`config/demo.toml`) is used.
//!
//! Each section is a type of the crate that uses it, which also validates it and turns it
//! into its runtime settings (`sip_gateway::config`, `media::config`, `console::config`,
//! `switchboard::config`, `crm::config`, `voicemail`, `ivr`, `acd`); this file parses the
//! whole, resolves relative paths, and locates each problem the crates report by its
//! dotted path.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;
use switchboard::config::{CallSection, NumberSection, PhoneSection, PromptsSection};

/// The demo configuration `serve` runs with when given none.
pub const DEMO: &str = include_str!("../../../config/demo.toml");

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub sip: sip_gateway::config::SipSection,
    pub media: media::config::MediaSection,
    pub http: console::config::HttpSection,
    pub prompts: PromptsSection,
    pub call: CallSection,
    pub numbers: Vec<NumberSection>,
    pub database: crm::config::DatabaseConfig,
    pub registrar: sip_gateway::config::RegistrarSection,
    /// Agents' phones at fixed addresses (no REGISTER).
    pub phones: Vec<PhoneSection>,
    pub voicemail: voicemail::VoicemailConfig,
    /// Escalation clocks of the CRM queues.
    pub sla: crm::config::SlaConfig,
    /// The IVR tree; without one, the built-in [`DEFAULT_IVR`] (welcome, goodbye).
    pub ivr: Option<ivr::IvrConfig>,
    /// Queues and agents.
    pub acd: acd::AcdConfig,
    /// Operators' sign-in against the administration's directory; absent: local accounts only.
    pub directory: Option<directory::DirectoryConfig>,
    /// Reports and the SLA: short abandons, the sized load per month.
    pub reports: console::api::reports::ReportsSection,
    /// Heartbeats and the components' probes (issue 15).
    pub availability: crate::health::AvailabilitySection,
    /// The event log's in-memory bound (issue 14).
    pub events: EventsSection,
    /// The citizen's public web form (issue 16).
    pub web_form: console::api::web_form::WebFormSection,
    /// E-mail in (IMAP mailboxes) and out (the SMTP relay) (issue 16); absent: no mail.
    pub mail: mail::config::MailSection,
    /// The WebRTC legs of agents' browser phones (issue 17).
    pub webrtc: switchboard::config::WebRtcSection,
    /// What validation found worth saying but not wrong (e.g. unreachable IVR nodes).
    #[serde(skip)]
    pub warnings: Vec<ConfigError>,
}

/// `[events]`: how many events wait in memory for the event log's writer; past that they
/// wait in `<data>/events.spill` (never dropped, never blocking a publisher).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EventsSection {
    pub memory_limit: usize,
}

impl Default for EventsSection {
    fn default() -> Self {
        EventsSection {
            memory_limit: events::DEFAULT_MEMORY_LIMIT,
        }
    }
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

/// How a problem's path finds its line.
#[derive(Clone, Copy)]
enum Locate {
    /// The flat sections' keys: the key's own line, none when the file does not write it.
    Key,
    /// The nested trees (IVR, ACD, …): the key's line, else its nearest enclosing item's.
    Nearest,
}

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
        let (mut errors, warnings) = config.validate(text);
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

    /// Every section checked by its crate, and the checks across sections; each problem
    /// located by its path. Returns (errors, warnings).
    fn validate(&self, text: &str) -> (Vec<ConfigError>, Vec<ConfigError>) {
        let error = |how: Locate, path: String, at: Option<String>, message: String| {
            let at = at.as_deref().unwrap_or(&path);
            let line = match how {
                Locate::Key => locate(text, at).filter(|&(_, whole)| whole),
                Locate::Nearest => locate(text, at),
            };
            ConfigError {
                line: line.map(|(line, _)| line),
                field: path,
                message,
            }
        };
        let key = |path, message| error(Locate::Key, path, None, message);
        let near = |path, message| error(Locate::Nearest, path, None, message);
        let mut errors: Vec<ConfigError> = Vec::new();
        errors.extend(
            self.sip
                .validate()
                .into_iter()
                .map(|p| key(p.path, p.message)),
        );
        errors.extend(
            self.media
                .validate()
                .into_iter()
                .map(|p| key(p.path, p.message)),
        );
        errors.extend(
            self.http
                .validate()
                .into_iter()
                .map(|p| key(p.path, p.message)),
        );
        errors.extend(
            self.web_form
                .validate()
                .into_iter()
                .map(|p| near(p.path, p.message)),
        );
        errors.extend(
            self.reports
                .problems()
                .into_iter()
                .map(|(path, message)| near(path, message)),
        );
        errors.extend(
            self.availability
                .problems()
                .into_iter()
                .map(|(path, message)| key(path, message)),
        );
        if self.events.memory_limit == 0 {
            errors.push(key(
                "events.memory_limit".into(),
                "expected at least 1 event, got 0".into(),
            ));
        }
        errors.extend(
            self.mail
                .problems()
                .into_iter()
                .map(|(path, message)| near(path, message)),
        );
        if !self.reports.mail.is_empty() && (self.mail.from.is_none() || self.mail.smtp.is_none()) {
            errors.push(near(
                "reports.mail".into(),
                "report sets are e-mailed: they need [mail] from and [mail.smtp]".into(),
            ));
        }
        let database = self.database.validate().into_iter();
        errors.extend(database.map(|p| error(Locate::Key, p.path, p.at, p.message)));
        let call = self.call.validate(&self.numbers).into_iter();
        errors.extend(call.map(|p| key(p.path, p.message)));
        // The IVR tree, its prompts checked against those on disk; its warnings kept.
        let mut warnings = Vec::new();
        let names = self.prompts.names();
        let problems = match self.ivr_tree(&|name: &str| names.contains(name)) {
            Ok((_, warnings)) => warnings,
            Err(problems) => problems,
        };
        for problem in problems {
            let path = format!("ivr.{}", problem.path.trim_start_matches("ivr."));
            let mut located = near(path, problem.message);
            if self.ivr.is_none() {
                located.line = None;
                located.field = format!("(built-in) {}", located.field);
            }
            match problem.severity {
                ivr::Severity::Error => errors.push(located),
                ivr::Severity::Warning => warnings.push(located),
            }
        }
        errors.extend(
            self.acd
                .validate()
                .into_iter()
                .map(|p| near(p.path, p.message)),
        );
        // Queues are data: a route to a queue the file does not list may name one of the
        // database's (checked at start, and a reload that routes to a missing one is refused).
        if let Some(tree) = &self.ivr {
            let routes = switchboard::config::validate_routes(tree, &self.acd).into_iter();
            warnings.extend(routes.map(|p| near(p.path, p.message)));
        }
        let phones = switchboard::config::validate_phones(&self.phones, &self.acd).into_iter();
        errors.extend(phones.map(|p| near(p.path, p.message)));
        errors.extend(
            self.voicemail
                .validate()
                .into_iter()
                .map(|p| near(p.path, p.message)),
        );
        let sla = self.sla.validate().into_iter();
        errors.extend(sla.map(|p| error(Locate::Nearest, p.path, p.at, p.message)));
        errors.extend(
            self.registrar
                .validate()
                .into_iter()
                .map(|p| near(p.path, p.message)),
        );
        errors.extend(
            self.webrtc
                .validate()
                .into_iter()
                .map(|p| near(p.path, p.message)),
        );
        if let Some(directory) = &self.directory {
            let problems = directory.validate().into_iter();
            errors.extend(problems.map(|p| near(p.path, p.message)));
        }
        (errors, warnings)
    }

    /// The switchboard's settings; `data` holds the voicemail folder.
    pub fn switchboard(&self, data: &Path) -> switchboard::SwitchboardConfig {
        let voicemail = self.voicemail.settings(data);
        let mut config = self
            .call
            .switchboard(&self.numbers, &self.phones, voicemail);
        config.webrtc = self.webrtc.leg_config(self.sip.listen.ip());
        config
    }

    /// The ACD's configuration: `[acd]`, with the agents whose phone is a `[[phones]]` static
    /// contact counted as registered from the start.
    pub fn acd_config(&self) -> acd::AcdConfig {
        switchboard::config::acd_with_phones(&self.acd, &self.phones)
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
    ) -> Result<(Arc<ivr::Tree>, Vec<ivr::Problem>), Vec<ivr::Problem>> {
        ivr::Tree::build(&self.ivr_config(), known_prompt)
    }

    /// Prompt name → what uses it, in this configuration.
    pub fn prompt_users(&self) -> std::collections::BTreeMap<String, Vec<String>> {
        switchboard::prompt_users(
            &self.ivr_config(),
            &self.call.hold_music,
            &self.voicemail.greeting_prompt,
        )
    }
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

/// The line of the value at a dotted `path` (`ivr.nodes.main.options.1`,
/// `acd.agents[2].queues[0]`), or of its nearest enclosing item that exists, and whether the
/// whole path was found: for problems found after parsing.
fn locate(text: &str, path: &str) -> Option<(usize, bool)> {
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
                _ => return best.map(|l| (l, false)),
            };
            let Some((key, found)) = current.iter().find(|(k, _)| k.get_ref().as_ref() == name)
            else {
                return best.map(|l| (l, false));
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
                return best.map(|l| (l, false));
            };
            let Some(item) = items.get(index) else {
                return best.map(|l| (l, false));
            };
            best = Some(line_of(item.span().start));
            value = Some(item);
        }
    }
    best.map(|l| (l, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn locate_path(text: &str, path: &str) -> Option<usize> {
        locate(text, path).map(|(line, _)| line)
    }

    #[test]
    fn the_demo_configuration_is_valid() {
        let config = Config::demo();
        assert!(config.numbers.iter().any(|n| n.number == "800100200"));
        assert_eq!(
            config.sip.listen,
            "127.0.0.1:5060".parse::<std::net::SocketAddr>().unwrap()
        );
        assert_eq!(
            config.http.listen,
            "127.0.0.1:8080".parse::<std::net::SocketAddr>().unwrap()
        );
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
    fn the_mail_section_names_its_field_and_line() {
        let text = "[mail]\nfrom = \"urp@comune.example\"\n[mail.smtp]\nhost = \"smtp.example\"\n\
                    [[mail.mailbox]]\nname = \"urp\"\nhost = \"imap.example\"\ntls = \"none\"\n\
                    user = \"u\"\npassword_file = \"/p\"\nqueue = \"urp\"\n";
        let err = Config::parse(text, "x.toml").unwrap_err();
        assert_eq!(err.errors.len(), 1, "{err}");
        assert_eq!(err.errors[0].field, "mail.mailbox[0].tls");
        assert_eq!(err.errors[0].line, Some(8), "{err}");
        let ok = text.replace("tls = \"none\"", "tls = \"starttls\"");
        assert_eq!(
            Config::parse(&ok, "x.toml").unwrap().mail.mailbox[0].queue,
            "urp"
        );
    }

    #[test]
    fn the_reports_section_names_a_bad_month_and_its_line() {
        let text = "[reports]\nshort_abandon_s = 5\n\n[reports.sized.march]\ncalls = 100\n";
        let err = Config::parse(text, "x.toml").unwrap_err();
        assert_eq!(err.errors.len(), 1, "{err}");
        assert_eq!(err.errors[0].field, "reports.sized.march");
        assert_eq!(err.errors[0].line, Some(4));
        let ok = "[reports.sized.default]\ncalls = 100\n[reports.sized.\"2026-03\"]\noffline = 9\n";
        let config = Config::parse(ok, "x.toml").unwrap();
        assert_eq!(config.reports.sized["2026-03"].offline, Some(9));
        let err = Config::parse("[reports]\nshort_abandon = 5\n", "x.toml").unwrap_err();
        assert_eq!(err.errors[0].field, "reports.short_abandon");
    }

    #[test]
    fn the_materializer_interval_defaults_to_a_minute_and_zero_turns_it_off() {
        let config = Config::parse("", "x.toml").unwrap();
        assert_eq!(
            config.reports.materialize_every(),
            Some(std::time::Duration::from_secs(60))
        );
        let off = Config::parse("[reports]\nmaterialize_every_s = 0\n", "x.toml").unwrap();
        assert_eq!(off.reports.materialize_every(), None);
        let err = Config::parse("[reports]\nmaterialize_every_s = 90000\n", "x.toml").unwrap_err();
        assert_eq!(err.errors[0].field, "reports.materialize_every_s", "{err}");

        // Report sets e-mailed: each bad field named; mail must be configured.
        let set = "[[reports.mail]]\nname = \"monthly\"\nto = [\"direzione@example.org\"]\n\
                   reports = [\"sla\", \"queues\"]\nevery = \"two_months\"\nday = 2\nat = \"07:30\"\n";
        let mail = "[mail]\nfrom = \"urp@comune.example\"\n[mail.smtp]\nhost = \"smtp.example\"\n";
        let ok = Config::parse(&format!("{mail}{set}"), "x.toml").unwrap();
        assert_eq!(ok.reports.mail[0].name, "monthly");
        let err = Config::parse(set, "x.toml").unwrap_err();
        assert_eq!(err.errors[0].field, "reports.mail", "{err}");
        let bad = "[[reports.mail]]\nname = \"a b\"\nto = [\"nobody\"]\n\
                   reports = [\"sla\", \"pie\"]\nevery = \"week\"\nweekday = \"lun\"\n\
                   at = \"25:00\"\nlang = \"de\"\nformat = \"pdf\"\nsampling = \"year\"\n\
                   [[reports.mail]]\nname = \"m\"\nto = [\"a@example.org\"]\nreports = [\"queues\"]\n\
                   every = \"month\"\nday = 31\n";
        let err = Config::parse(&format!("{mail}{bad}"), "x.toml").unwrap_err();
        let fields: Vec<&str> = err.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "reports.mail[0].name",
                "reports.mail[0].to",
                "reports.mail[0].reports",
                "reports.mail[0].reports",
                "reports.mail[0].at",
                "reports.mail[0].lang",
                "reports.mail[0].format",
                "reports.mail[0].sampling",
                "reports.mail[1].day",
            ],
            "{err}"
        );
        // The set's `name` is on the second line after the four of `[mail]`.
        assert_eq!(err.errors[0].line, Some(mail.lines().count() + 2), "{err}");
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
    fn flat_keys_get_a_line_only_when_written() {
        // t2_ms (default 4000) below t1_ms: the file does not write t2_ms.
        let err = Config::parse("[sip]\nt1_ms = 5000\n", "x.toml").unwrap_err();
        assert_eq!(err.errors[0].field, "sip.t2_ms");
        assert_eq!(err.errors[0].line, None);
        let err = Config::parse("[sip]\nt1_ms = 5000\nt2_ms = 10\n", "x.toml").unwrap_err();
        assert_eq!(err.errors[0].line, Some(3));
    }

    #[test]
    fn wrong_types_name_the_line() {
        let text = "[sip]\nlisten = \"not an address\"\n";
        let err = Config::parse(text, "x.toml").unwrap_err();
        assert_eq!(err.errors[0].line, Some(2));
        assert_eq!(err.errors[0].field, "sip.listen");
    }

    #[test]
    fn websocket_limits_name_their_field_and_line() {
        let text = "[sip]\nws_max_connections = 16\nws_max_message_bytes = 100\n";
        let err = Config::parse(text, "x.toml").unwrap_err();
        assert_eq!(err.errors.len(), 1, "{err}");
        assert_eq!(err.errors[0].field, "sip.ws_max_message_bytes");
        assert_eq!(err.errors[0].line, Some(3));
        assert!(err.to_string().contains("not 100"), "{err}");
        let text = "[sip]\nws_max_connections = 16\nws_idle_timeout_s = 30\n";
        let config = Config::parse(text, "x.toml").unwrap();
        assert_eq!(config.sip.ws_max_connections, 16);
        assert_eq!(config.sip.ws_idle_timeout_s, 30);
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
    fn the_directory_section_is_checked_by_its_crate_and_located_here() {
        let text = "[http.login]\nwindow_s = 0\n\n[directory]\nurl = \"ldap://127.0.0.1:389\"\n\
            user_dn = \"uid={login},ou=people,dc=example,dc=org\"\ngroup_attribute = \"memberOf\"\n\n\
            [[directory.groups]]\ndn = \"cn=sportello,ou=groups,dc=example,dc=org\"\nrole = \"agent_first_level\"\n\n\
            [[directory.groups]]\ndn = \"no-dn\"\nrole = \"admin\"\n";
        let err = Config::parse(text, "x.toml").unwrap_err();
        let found: Vec<_> = err
            .errors
            .iter()
            .map(|e| (e.line, e.field.as_str()))
            .collect();
        assert_eq!(
            found,
            [
                (Some(2), "http.login.window_s"),
                (Some(14), "directory.groups[1].dn")
            ],
            "{err}"
        );
        let err = Config::parse("[directory]\nurl = \"ldap://h\"\nuser_dn = \"uid={login},dc=x\"\ngroup_attribute = \"memberOf\"\nbind_pw = 1\n", "x.toml").unwrap_err();
        assert_eq!(err.errors[0].field, "directory.bind_pw", "{err}");
        assert_eq!(err.errors[0].line, Some(5));
        assert!(Config::demo().directory.is_none());
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
        let names = config.prompts.names();
        let (tree, _) = config.ivr_tree(&|n| names.contains(n)).unwrap();
        assert_eq!(tree.entry_name(Some("800100202")), "area2_pin");
        assert_eq!(config.acd.queues.len(), 4);
    }

    #[test]
    fn a_route_to_a_queue_the_file_does_not_list_is_a_warning() {
        // Queues are data: the database may have it (checked at start and reload).
        let text = "[ivr]\ndefault_entry = \"route\"\n\n\
            [ivr.nodes.route]\nkind = \"route\"\nqueue = \"anagrafe\"\n";
        let config = Config::parse(text, "x.toml").unwrap();
        let warning = config
            .warnings
            .iter()
            .find(|w| w.field == "ivr.nodes.route.queue")
            .unwrap_or_else(|| panic!("{:?}", config.warnings));
        assert_eq!(warning.line, Some(6));
        assert!(
            warning.message.contains("must exist in the database"),
            "{warning:?}"
        );
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
            found.contains(&(Some(20), "acd.agents[0].queues[1]")),
            "{err}"
        );
        assert!(found.contains(&(Some(24), "phones[0].contact")), "{err}");
    }
}
