//! The `[voicemail]` section of the configuration file, its validation, and the
//! [`VoicemailSettings`] it gives. The file's envelope (TOML syntax, line numbers, the other
//! sections) is the application's; this crate owns what the section says.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

/// Voicemail recording limits and hand-off (R-IVR-5, R-VM-1, R-VM-2).
#[derive(Debug, Clone)]
pub struct VoicemailSettings {
    /// Folder of `<mailbox>/<call id>.wav`.
    pub dir: PathBuf,
    pub greeting_prompt: String,
    pub max_length: Duration,
    /// Shorter messages are discarded (and logged).
    pub min_length: Duration,
    /// The CRM queue of the Service Requests the messages open.
    pub queue: String,
    /// All messages together may not take more than this (a message that could pass it is
    /// not recorded; the caller is told and the refusal logged).
    pub max_total_bytes: u64,
    /// Keep at least this much of the disk free.
    pub min_free_bytes: u64,
    /// Filed message files older than this are deleted (their audio stays attached to the
    /// Service Request in the CRM); `None` keeps them. Unfiled ones are always kept.
    pub retention: Option<Duration>,
    /// The take-in-charge and resolution targets of voicemail tickets (R-VM-2).
    pub sla: Option<crm::QueueSla>,
}

/// `[voicemail]`: recording messages (R-IVR-5) and their Service Requests (R-VM-1, R-VM-2).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VoicemailConfig {
    pub greeting_prompt: String,
    pub max_length_s: u64,
    /// Messages shorter than this are discarded (and logged), milliseconds.
    pub min_length_ms: u64,
    /// The CRM queue where messages open their Service Requests (R-VM-1).
    pub queue: String,
    /// All message files together may not take more (MiB).
    pub max_total_mb: u64,
    /// Disk space that must stay free (MiB).
    pub min_free_mb: u64,
    /// Message files older than this are deleted (days; 0 keeps them). Their audio stays
    /// attached to the Service Request; a message not filed yet is never deleted.
    pub retention_days: u64,
    /// Take in charge within this much working time (minutes; 0: no clock), R-VM-2.
    pub take_in_charge_min: u64,
    /// Resolve within this much working time (minutes; 0: no clock).
    pub resolve_min: u64,
    /// The business calendar the clocks count on.
    pub calendar: Option<calendar::CalendarConfig>,
}

impl Default for VoicemailConfig {
    fn default() -> Self {
        VoicemailConfig {
            greeting_prompt: "voicemail_greeting".into(),
            max_length_s: 120,
            min_length_ms: 1500,
            queue: "voicemail".into(),
            max_total_mb: 2048,
            min_free_mb: 512,
            retention_days: 90,
            take_in_charge_min: 240,
            resolve_min: 1440,
            calendar: None,
        }
    }
}

/// One problem in `[voicemail]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// The key, from the top of the file: `voicemail.calendar`.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

impl VoicemailConfig {
    /// Every problem found; empty means valid.
    #[must_use]
    pub fn validate(&self) -> Vec<ConfigProblem> {
        let mut problems = Vec::new();
        if let Some(cal) = &self.calendar
            && let Err(e) = calendar::BusinessCalendar::new(cal)
        {
            problems.push(ConfigProblem {
                path: "voicemail.calendar".into(),
                message: e.to_string(),
            });
        }
        problems
    }

    /// The voicemail tickets' clocks, when `[voicemail.calendar]` is given (and valid).
    pub fn sla(&self) -> Option<crm::QueueSla> {
        let calendar = calendar::BusinessCalendar::new(self.calendar.as_ref()?).ok()?;
        let minutes = |m: u64| (m > 0).then(|| chrono::Duration::minutes(m as i64));
        Some(crm::QueueSla {
            calendar: Arc::new(calendar),
            first_response: minutes(self.take_in_charge_min),
            solution: minutes(self.resolve_min),
        })
    }

    /// The settings, messages kept under `<data>/voicemail`.
    pub fn settings(&self, data: &Path) -> VoicemailSettings {
        VoicemailSettings {
            dir: data.join("voicemail"),
            greeting_prompt: self.greeting_prompt.clone(),
            max_length: Duration::from_secs(self.max_length_s),
            min_length: Duration::from_millis(self.min_length_ms),
            queue: self.queue.clone(),
            max_total_bytes: self.max_total_mb.saturating_mul(1 << 20),
            min_free_bytes: self.min_free_mb.saturating_mul(1 << 20),
            retention: (self.retention_days > 0)
                .then(|| Duration::from_secs(self.retention_days.saturating_mul(86_400))),
            sla: self.sla(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> VoicemailConfig {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn defaults_and_settings() {
        let c = parse("");
        assert!(c.validate().is_empty());
        let s = c.settings(Path::new("/data"));
        assert_eq!(s.dir, Path::new("/data/voicemail"));
        assert_eq!(s.max_length, Duration::from_secs(120));
        assert_eq!(s.min_length, Duration::from_millis(1500));
        assert_eq!(s.max_total_bytes, 2048 << 20);
        assert_eq!(s.retention, Some(Duration::from_secs(90 * 86_400)));
        assert!(s.sla.is_none(), "no calendar, no clocks");
        let keep = parse("retention_days = 0").settings(Path::new("/d"));
        assert_eq!(keep.retention, None);
    }

    #[test]
    fn unknown_keys_are_refused() {
        let e = toml::from_str::<VoicemailConfig>("max_lenght_s = 3").unwrap_err();
        assert!(e.to_string().contains("max_lenght_s"), "{e}");
    }

    #[test]
    fn a_bad_calendar_names_the_field() {
        let c = parse("[calendar]\ntimezone = \"Europe/Nowhere\"\nmon = [\"09:00-18:00\"]\n");
        let problems = c.validate();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].path, "voicemail.calendar");
        assert!(c.sla().is_none());
    }
}
