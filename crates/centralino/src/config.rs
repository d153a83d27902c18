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
}

impl Default for DatabaseSection {
    fn default() -> Self {
        DatabaseSection {
            url: String::new(),
            default_country_code: "39".into(),
            system_id: 10,
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

/// How calls are handled until the IVR tree takes over (issue 4): the welcome prompt, then
/// digits are logged until the caller is silent for `idle_hangup_s`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CallSection {
    pub language: String,
    pub welcome_prompt: String,
    pub answer_delay_ms: u64,
    pub idle_hangup_s: u64,
    pub max_duration_s: u64,
}

/// A dialled number with its own settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NumberSection {
    pub number: String,
    pub name: Option<String>,
    pub language: Option<String>,
    pub welcome_prompt: Option<String>,
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
            welcome_prompt: "welcome".into(),
            answer_delay_ms: 0,
            idle_hangup_s: 30,
            max_duration_s: 3600,
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
    /// Parses and validates `text`; `source_name` prefixes every error.
    pub fn parse(text: &str, source_name: &str) -> Result<Config, ConfigErrors> {
        let config: Config = toml::from_str(text).map_err(|error| ConfigErrors {
            source_name: source_name.to_string(),
            errors: vec![syntax_error(text, &error)],
        })?;
        let mut errors = config.validate(text);
        errors.sort_by_key(|e| e.line);
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
        let mut config = Config::parse(&text, &name)?;
        if !config.prompts.dir.is_empty() && Path::new(&config.prompts.dir).is_relative() {
            let base = path.parent().unwrap_or(Path::new("."));
            config.prompts.dir = base.join(&config.prompts.dir).display().to_string();
        }
        Ok(config)
    }

    /// The built-in demo configuration.
    pub fn demo() -> Config {
        Config::parse(DEMO, "config/demo.toml").expect("the demo configuration is valid")
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
        if self.call.idle_hangup_s == 0 {
            fail("call", None, "idle_hangup_s", "must be above 0".into());
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
            placeholder: switchboard::flow::PlaceholderSettings {
                welcome_prompt: number
                    .and_then(|n| n.welcome_prompt.clone())
                    .unwrap_or_else(|| call.welcome_prompt.clone()),
                idle_hangup: Duration::from_secs(call.idle_hangup_s),
                max_duration: Duration::from_secs(call.max_duration_s),
            },
        }
    }

    pub fn switchboard(&self) -> switchboard::SwitchboardConfig {
        switchboard::SwitchboardConfig {
            default: self.call_settings(None),
            numbers: self
                .numbers
                .iter()
                .map(|n| (n.number.clone(), self.call_settings(Some(n))))
                .collect(),
        }
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
        let text = "[media]\nrtp_port_min = 30000\nrtp_port_max = 20000\n\n[call]\nidle_hangup_s = 0\n\n\
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
                (Some(6), "call.idle_hangup_s"),
                (Some(12), "numbers[1].number"),
                (Some(15), "numbers[2].number"),
            ]
        );
    }
}
