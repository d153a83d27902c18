//! The `[database]` and `[sla]` sections of the configuration file, their validation, and
//! what they give: the store's settings, its URL and the queues' escalation targets. The
//! file's envelope (TOML syntax, line numbers, the other sections) is the application's.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;

use crate::{QueueSla, QueueTargets, Settings, Store, SystemId};

/// One problem in `[database]` or `[sla]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// The key, from the top of the file: `database.system_id`.
    pub path: String,
    /// What is wrong.
    pub message: String,
    /// Where the file shows it, when that is not at `path` (a missing `[sla.calendar]` is
    /// shown at the first queue that needs it).
    pub at: Option<String>,
}

impl ConfigProblem {
    fn new(path: impl Into<String>, message: impl Into<String>) -> ConfigProblem {
        ConfigProblem {
            path: path.into(),
            message: message.into(),
            at: None,
        }
    }
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// `[database]`: where the CRM keeps its data.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `postgres://…` or `sqlite://…`; empty: a SQLite file in the data directory. The
    /// `DATABASE_URL` environment variable, when set, wins.
    pub url: String,
    /// Country calling code that turns national numbers into E.164 (39 for Italy).
    pub default_country_code: String,
    /// The two-digit OTRS system id inside every ticket number.
    pub system_id: u8,
    /// Load the demo's queues, users and customers at start (idempotent; CONTRACT.md).
    pub demo_data: bool,
    /// PostgreSQL: `false` commits without waiting for the WAL flush (see
    /// [`Settings::postgres_synchronous_commit`]).
    pub postgres_synchronous_commit: bool,
    /// SQLite: `normal` (default) or `full` (see [`crate::SqliteSynchronous`]).
    pub sqlite_synchronous: crate::SqliteSynchronous,
    /// Call writes kept in memory while the database is slow or away; beyond, they spill
    /// to disk beside the journal (see [`crate::write_queue`]).
    pub queued_writes_max: usize,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            url: String::new(),
            default_country_code: "39".into(),
            system_id: 10,
            demo_data: false,
            postgres_synchronous_commit: true,
            sqlite_synchronous: crate::SqliteSynchronous::Normal,
            queued_writes_max: crate::write_queue::DEFAULT_LIMIT,
        }
    }
}

impl DatabaseConfig {
    /// Every problem found; empty means valid.
    #[must_use]
    pub fn validate(&self) -> Vec<ConfigProblem> {
        let mut problems = Vec::new();
        if self.system_id > 99 {
            problems.push(ConfigProblem::new(
                "database.system_id",
                format!("must be 0-99 (two digits), not {}", self.system_id),
            ));
        }
        if !self.default_country_code.is_empty()
            && !self
                .default_country_code
                .chars()
                .all(|c| c.is_ascii_digit())
        {
            problems.push(ConfigProblem::new(
                "database.default_country_code",
                format!(
                    "'{}' is not a country calling code (digits only, e.g. 39)",
                    self.default_country_code
                ),
            ));
        }
        if self.queued_writes_max == 0 {
            problems.push(ConfigProblem::new(
                "database.queued_writes_max",
                "must be at least 1 (writes beyond it spill to disk)",
            ));
        }
        problems
    }

    /// The database URL: `DATABASE_URL`, else `url`, else a SQLite file in `data`.
    pub fn url(&self, data: &Path) -> String {
        match std::env::var("DATABASE_URL") {
            Ok(url) if !url.trim().is_empty() => url,
            _ if !self.url.is_empty() => self.url.clone(),
            _ => format!("sqlite://{}?mode=rwc", data.join("centralino.db").display()),
        }
    }

    /// The store's settings: these, the PIN secret and the agents' SIP realm.
    pub fn settings(&self, pin_secret: Vec<u8>, sip_realm: &str) -> crate::Result<Settings> {
        Ok(Settings {
            system_id: SystemId::new(self.system_id)?,
            sip_realm: sip_realm.to_string(),
            default_country_code: (!self.default_country_code.is_empty())
                .then(|| self.default_country_code.clone()),
            pin_secret,
            postgres_synchronous_commit: self.postgres_synchronous_commit,
            sqlite_synchronous: self.sqlite_synchronous,
            ..Settings::default()
        })
    }
}

/// `[sla]`: per-queue escalation targets (first response, update, solution) in working
/// minutes on one business calendar, and the sweep that announces due and overdue clocks.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SlaConfig {
    /// Announce a clock this many minutes before it is due (`ticket.escalation`, due_soon).
    pub warn_min: u64,
    /// Seconds between escalation sweeps.
    pub sweep_s: u64,
    /// The calendar every queue's working time counts on (required when a queue has targets).
    pub calendar: Option<calendar::CalendarConfig>,
    /// Targets by CRM queue name.
    pub queues: BTreeMap<String, QueueSlaConfig>,
}

/// `[sla.queues.<name>]`: working minutes; 0 means no such clock.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueueSlaConfig {
    /// Taken in charge (first operator action) within this.
    pub first_response_min: u64,
    /// A customer-visible update at least this often.
    pub update_min: u64,
    /// Resolved within this.
    pub solution_min: u64,
}

impl Default for SlaConfig {
    fn default() -> Self {
        SlaConfig {
            warn_min: 30,
            sweep_s: 30,
            calendar: None,
            queues: Default::default(),
        }
    }
}

impl SlaConfig {
    /// Every problem found; empty means valid.
    #[must_use]
    pub fn validate(&self) -> Vec<ConfigProblem> {
        let mut problems = Vec::new();
        if let Some(cal) = &self.calendar
            && let Err(e) = calendar::BusinessCalendar::new(cal)
        {
            problems.push(ConfigProblem::new("sla.calendar", e.to_string()));
        }
        if self.calendar.is_none()
            && let Some(name) = self.queues.keys().next()
        {
            problems.push(ConfigProblem {
                at: Some(format!("sla.queues.{name}")),
                ..ConfigProblem::new(
                    "sla.calendar",
                    "queue targets need [sla.calendar] to count working time on",
                )
            });
        }
        if self.sweep_s == 0 {
            problems.push(ConfigProblem::new(
                "sla.sweep_s",
                "expected at least 1 second",
            ));
        }
        problems
    }

    /// The escalation targets by CRM queue name (none without a valid calendar, which
    /// validation reports).
    pub fn queue_targets(&self) -> Vec<(String, QueueTargets)> {
        let Some(calendar) = self
            .calendar
            .as_ref()
            .and_then(|c| calendar::BusinessCalendar::new(c).ok())
        else {
            return Vec::new();
        };
        let calendar = Arc::new(calendar);
        let minutes = |m: u64| (m > 0).then(|| chrono::Duration::minutes(m as i64));
        self.queues
            .iter()
            .map(|(name, q)| {
                let targets = QueueTargets {
                    sla: QueueSla {
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

    /// Gives every CRM queue the targets named for it, and none to the others; a name that
    /// is no CRM queue yet is logged (a reload after creating it applies them).
    pub async fn apply(&self, store: &Store) -> crate::Result<()> {
        let targets = self.queue_targets();
        let queues = store.queues().await?;
        for queue in &queues {
            let mine = targets
                .iter()
                .find(|(name, _)| *name == queue.name)
                .map(|(_, t)| t.clone());
            store.set_queue_sla(queue.id, mine);
        }
        for (name, _) in &targets {
            if !queues.iter().any(|q| &q.name == name) {
                tracing::warn!(
                    queue = %name,
                    "sla.queues: no CRM queue has this name; targets not applied"
                );
            }
        }
        tracing::info!(queues = targets.len(), "escalation targets applied");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_values_are_checked() {
        let c: DatabaseConfig =
            toml::from_str("system_id = 100\ndefault_country_code = \"+39\"").expect("parses");
        let paths: Vec<_> = c.validate().into_iter().map(|p| p.path).collect();
        assert_eq!(
            paths,
            ["database.system_id", "database.default_country_code"]
        );
        assert!(DatabaseConfig::default().validate().is_empty());
    }

    #[test]
    fn sqlite_synchronous_is_normal_unless_set_to_full() {
        let c = DatabaseConfig::default();
        assert_eq!(c.sqlite_synchronous, crate::SqliteSynchronous::Normal);
        let c: DatabaseConfig = toml::from_str("sqlite_synchronous = \"full\"").unwrap();
        let s = c.settings(vec![1; 32], "centralino").unwrap();
        assert_eq!(s.sqlite_synchronous, crate::SqliteSynchronous::Full);
        let e = toml::from_str::<DatabaseConfig>("sqlite_synchronous = \"fast\"").unwrap_err();
        assert!(e.to_string().contains("normal"), "{e}");
    }

    #[test]
    fn queue_targets_need_a_calendar_shown_at_the_first_queue() {
        let c: SlaConfig =
            toml::from_str("sweep_s = 0\n[queues.tecnica]\nfirst_response_min = 60\n").unwrap();
        let problems = c.validate();
        assert_eq!(problems[0].path, "sla.calendar");
        assert_eq!(problems[0].at.as_deref(), Some("sla.queues.tecnica"));
        assert_eq!(problems[1].path, "sla.sweep_s");
        assert!(c.queue_targets().is_empty());
    }

    #[test]
    fn the_demo_gives_its_queues_escalation_targets() {
        #[derive(Deserialize)]
        struct Demo {
            sla: SlaConfig,
        }
        let demo: Demo = toml::from_str(include_str!("../../../config/demo.toml")).unwrap();
        assert!(demo.sla.validate().is_empty());
        let targets = demo.sla.queue_targets();
        let names: Vec<_> = targets.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            ["altro", "cittadini", "raw", "secondo-livello", "tecnica"]
        );
        let (_, second) = &targets[3];
        assert_eq!(second.update, Some(chrono::Duration::minutes(480)));
        assert_eq!(second.sla.solution, Some(chrono::Duration::minutes(2880)));
    }
}
