//! Report sets e-mailed on a schedule (issue 15, `[[reports.mail]]`).
//!
//! Each set names its recipients, its reports (`sla`, `queues`, `calls`, `agents`,
//! `tickets`), its period (`week`, `month`, `two_months`: [`reports::schedule`]), its
//! language and format. At every tick [`ReportMailer::run_once`] asks each set's schedule
//! which period is due now and, unless it was queued before, renders the reports through
//! the functions the reports API answers with ([`crate::api::reports::historical`],
//! [`crate::api::reports::sla_of_month`]) and queues one mail per recipient in the
//! persistent outbox (`crm::Store::queue_mail`): the XLSX workbook (a sheet per report, an
//! SLA sheet per month) or a CSV file per report attached, and a short plain-text summary
//! of the SLA in the body. The outbox's sender (`mail::smtp`) sends it.
//!
//! **Exactly once per period, across restarts**: the outbox key of each mail is
//! `reports:<set>:<from>..<to>:<recipient>`; `queue_mail` writes a key once, so a tick after
//! a restart that finds the period due again queues nothing (and renders nothing: the keys
//! are looked up first). A crash between two recipients' mails leaves the rest to the next
//! tick. Sending a set by hand (`POST /api/v1/reports/mail/{set}`) uses keys of its own, so
//! it neither blocks nor repeats the scheduled mail.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Datelike, Utc};
use crm::{NewAttachment, OutgoingMail, Store};
use reports::export::{Lang, Table, sla_table, to_csv, to_xlsx};
use reports::period::Period;
use reports::sla::{Direction, SlaReport};
use tokio::task::JoinHandle;
use tracing::{info, warn};

use crate::api::error::ApiError;
use crate::api::reports::{ReportMailSet, ReportsConfig, historical, sla_of_month};

/// Where report mail comes from.
#[derive(Debug, Clone)]
pub struct ReportMailer {
    pub store: Store,
    pub config: ReportsConfig,
    /// Our From (`[mail] from`).
    pub from: String,
    /// Right side of our Message-IDs.
    pub message_id_domain: String,
}

/// What one set did at one tick.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetOutcome {
    pub set: String,
    /// The period, `from..to`.
    pub period: String,
    /// Mails queued now (0: all were queued before).
    pub queued: usize,
}

/// Why a set could not be sent.
#[derive(Debug, thiserror::Error)]
pub enum ReportMailError {
    #[error("no report set `{0}`")]
    NoSuchSet(String),
    #[error("report set `{set}`: {message}")]
    Invalid { set: String, message: String },
    #[error("report set `{set}`: {source}")]
    Render { set: String, source: ApiError },
    #[error("report set `{set}`: cannot build the attachment: {message}")]
    Export { set: String, message: String },
    #[error("report set `{set}`: cannot queue the mail: {source}")]
    Store { set: String, source: crm::Error },
}

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// The months a period covers, as month periods.
fn months(period: &Period) -> Vec<Period> {
    let mut out = Vec::new();
    let mut d = period.from;
    while d <= period.to {
        let Some(m) = Period::month(d.year(), d.month(), period.tz) else {
            break;
        };
        d = match m.to.succ_opt() {
            Some(next) => next,
            None => break,
        };
        out.push(m);
    }
    out
}

fn pct(x: f64, lang: Lang) -> String {
    let s = format!("{x:.2} %");
    match lang {
        Lang::It => s.replace('.', ","),
        Lang::En => s,
    }
}

/// The SLA summary of the body: a line per service level.
pub fn sla_summary(report: &SlaReport, lang: Lang) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} {}:",
        match lang {
            Lang::It => "Livelli di servizio di",
            Lang::En => "Service levels of",
        },
        report.month
    );
    for l in &report.lines {
        let sign = match l.direction {
            Direction::AtLeast => "≥",
            Direction::AtMost => "≤",
        };
        let threshold = pct(l.applied_threshold_pct, lang);
        let _ = match (l.measured_pct, l.met, lang) {
            (Some(m), Some(true), Lang::It) => writeln!(
                out,
                "- {}: {} (soglia {sign} {threshold}): rispettato",
                l.id,
                pct(m, lang)
            ),
            (Some(m), Some(true), Lang::En) => writeln!(
                out,
                "- {}: {} (threshold {sign} {threshold}): met",
                l.id,
                pct(m, lang)
            ),
            (Some(m), _, Lang::It) => writeln!(
                out,
                "- {}: {} (soglia {sign} {threshold}): NON rispettato, {} punti di penale",
                l.id,
                pct(m, lang),
                l.penalty_points
            ),
            (Some(m), _, Lang::En) => writeln!(
                out,
                "- {}: {} (threshold {sign} {threshold}): NOT met, {} penalty points",
                l.id,
                pct(m, lang),
                l.penalty_points
            ),
            (None, _, Lang::It) => writeln!(out, "- {}: non misurato (nessun caso)", l.id),
            (None, _, Lang::En) => writeln!(out, "- {}: not measured (nothing counted)", l.id),
        };
    }
    out
}

/// A set rendered for one period: what every recipient's mail holds.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub subject: String,
    pub body: String,
    pub attachments: Vec<NewAttachment>,
}

impl ReportMailer {
    fn set(&self, name: &str) -> Result<&ReportMailSet, ReportMailError> {
        self.config
            .section
            .mail
            .iter()
            .find(|s| s.name == name)
            .ok_or_else(|| ReportMailError::NoSuchSet(name.to_owned()))
    }

    /// Renders `set` for `period` as of `now`.
    pub async fn render(
        &self,
        set: &ReportMailSet,
        period: &Period,
        now: DateTime<Utc>,
    ) -> Result<Rendered, ReportMailError> {
        let lang = set.lang();
        let render = |source| ReportMailError::Render {
            set: set.name.clone(),
            source,
        };
        let mut tables: Vec<Table> = Vec::new();
        let mut summaries = Vec::new();
        for r in &set.reports {
            if r == "sla" {
                for month in months(period) {
                    let (report, _) = sla_of_month(&self.store, &self.config, now, &month)
                        .await
                        .map_err(render)?;
                    summaries.push(sla_summary(&report, lang));
                    tables.push(sla_table(&report, lang));
                }
            } else {
                let (_, t) = historical(
                    &self.store,
                    &self.config,
                    now,
                    r,
                    period,
                    set.sampling(),
                    lang,
                )
                .await
                .map_err(render)?;
                tables.extend(t);
            }
        }
        let export = |e: reports::export::ExportError| ReportMailError::Export {
            set: set.name.clone(),
            message: e.to_string(),
        };
        let stem = format!("centralino-{}-{}_{}", set.name, period.from, period.to);
        let attachments = if set.csv() {
            tables
                .iter()
                .zip(&set.reports_per_table(period))
                .map(|(t, name)| {
                    Ok(NewAttachment {
                        filename: format!("{stem}-{name}.csv"),
                        content_type: "text/csv; charset=utf-8".into(),
                        content: to_csv(std::slice::from_ref(t)).map_err(export)?,
                    })
                })
                .collect::<Result<Vec<_>, ReportMailError>>()?
        } else {
            vec![NewAttachment {
                filename: format!("{stem}.xlsx"),
                content_type: XLSX.into(),
                content: to_xlsx(&tables).map_err(export)?,
            }]
        };
        let (subject, intro, attached) = match lang {
            Lang::It => (
                format!(
                    "[centralino] {}: rapporti dal {} al {}",
                    set.name, period.from, period.to
                ),
                format!(
                    "Rapporti del centralino \"{}\", periodo dal {} al {} ({}).",
                    set.name,
                    period.from,
                    period.to,
                    period.tz.name()
                ),
                "In allegato",
            ),
            Lang::En => (
                format!(
                    "[centralino] {}: reports {} to {}",
                    set.name, period.from, period.to
                ),
                format!(
                    "Reports of the contact center \"{}\", period {} to {} ({}).",
                    set.name,
                    period.from,
                    period.to,
                    period.tz.name()
                ),
                "Attached",
            ),
        };
        let mut body = format!(
            "{intro}\n{attached}: {} ({}).\n",
            set.reports.join(", "),
            if set.csv() { "CSV" } else { "XLSX" }
        );
        for s in summaries {
            body.push('\n');
            body.push_str(&s);
        }
        Ok(Rendered {
            subject,
            body,
            attachments,
        })
    }

    /// Queues `set` for `period` to every recipient whose key (`reports:<set>:<from>..<to>`,
    /// then `tag` if any, then the recipient) was not queued before; renders only if one is
    /// missing. Returns how many mails were queued.
    pub async fn queue_set(
        &self,
        set: &ReportMailSet,
        period: &Period,
        tag: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<usize, ReportMailError> {
        let store_err = |source| ReportMailError::Store {
            set: set.name.clone(),
            source,
        };
        let base = match tag {
            Some(t) => format!("reports:{}:{}..{}:{t}", set.name, period.from, period.to),
            None => format!("reports:{}:{}..{}", set.name, period.from, period.to),
        };
        let mut missing = Vec::new();
        for to in &set.to {
            let key = format!("{base}:{to}");
            if !self.store.mail_queued(&key).await.map_err(store_err)? {
                missing.push((key, to));
            }
        }
        if missing.is_empty() {
            return Ok(0);
        }
        let r = self.render(set, period, now).await?;
        let mut queued = 0;
        for (key, to) in missing {
            let mail = OutgoingMail {
                dedup_key: key,
                ticket: None,
                message_id: format!(
                    "reports.{}.{}.{:016x}@{}",
                    set.name,
                    period.from,
                    rand::random::<u64>(),
                    self.message_id_domain
                ),
                in_reply_to: None,
                sender: self.from.clone(),
                recipient: to.clone(),
                subject: r.subject.clone(),
                body: r.body.clone(),
                attachments: r.attachments.clone(),
            };
            queued += usize::from(self.store.queue_mail(&mail, now).await.map_err(store_err)?);
        }
        Ok(queued)
    }

    /// Queues every set whose period is due at `now` and not queued yet. A set that fails
    /// is logged and tried again at the next tick; the others go on.
    pub async fn run_once(&self, now: DateTime<Utc>) -> Vec<Result<SetOutcome, ReportMailError>> {
        let tz = self.store.settings().time_zone;
        let mut out = Vec::new();
        for set in &self.config.section.mail {
            let schedule = match set.schedule(tz) {
                Ok(s) => s,
                Err((field, message)) => {
                    out.push(Err(ReportMailError::Invalid {
                        set: set.name.clone(),
                        message: format!("{field}: {message}"),
                    }));
                    continue;
                }
            };
            let Some(due) = schedule.due(now) else {
                continue;
            };
            out.push(
                self.queue_set(set, &due.period, None, now)
                    .await
                    .map(|queued| SetOutcome {
                        set: set.name.clone(),
                        period: due.label(),
                        queued,
                    }),
            );
        }
        out
    }

    /// Sends `name` now for the latest period that has ended (an administrator's request):
    /// under keys of its own, so it goes even when the scheduled mail went.
    pub async fn send_now(
        &self,
        name: &str,
        now: DateTime<Utc>,
    ) -> Result<SetOutcome, ReportMailError> {
        let set = self.set(name)?;
        let tz = self.store.settings().time_zone;
        let period = set
            .schedule(tz)
            .ok()
            .and_then(|s| s.last_ended(now))
            .ok_or_else(|| ReportMailError::Invalid {
                set: set.name.clone(),
                message: "no period has ended".to_owned(),
            })?;
        let tag = format!("now-{}", now.timestamp_millis());
        let queued = self.queue_set(set, &period, Some(&tag), now).await?;
        Ok(SetOutcome {
            set: set.name.clone(),
            period: format!("{}..{}", period.from, period.to),
            queued,
        })
    }

    /// Runs [`Self::run_once`] every `every` (the first at once) with the time `clock`
    /// gives, until the task is aborted; `wake` (the outbox sender's) is notified when mail
    /// was queued.
    pub fn spawn(
        self,
        every: Duration,
        clock: Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>,
        wake: Option<Arc<tokio::sync::Notify>>,
    ) -> JoinHandle<()> {
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every.max(Duration::from_millis(1)));
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                let mut any = false;
                for outcome in self.run_once(clock()).await {
                    match outcome {
                        Ok(o) if o.queued > 0 => {
                            any = true;
                            info!(set = %o.set, period = %o.period, mails = o.queued, "report set queued");
                        }
                        Ok(_) => {}
                        Err(error) => {
                            warn!(%error, "report set not queued; trying again at the next tick");
                        }
                    }
                }
                if any && let Some(w) = &wake {
                    w.notify_one();
                }
            }
        })
    }
}

impl ReportMailSet {
    /// The name of each table a set renders for `period`, in order (CSV file names).
    fn reports_per_table(&self, period: &Period) -> Vec<String> {
        let mut out = Vec::new();
        for r in &self.reports {
            if r == "sla" {
                for m in months(period) {
                    out.push(format!("sla-{}-{:02}", m.from.year(), m.from.month()));
                }
            } else {
                out.push(r.clone());
            }
        }
        out
    }
}
