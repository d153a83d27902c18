//! Reports and the contract's SLA (issue 15, R-SUP-2 … R-SUP-5), computed by
//! [`reports`] from the event log and the CRM's tickets — the same events the live console
//! observes:
//!
//! - `GET /api/v1/reports/{report}?from=YYYY-MM-DD&to=YYYY-MM-DD&sampling=…&format=…&lang=…`
//!   with `report` one of `queues`, `calls`, `agents`, `tickets`;
//! - `GET /api/v1/reports/sla?month=YYYY-MM&format=…&lang=…`.
//!
//! `format` is `json` (default), `csv` or `xlsx`; `lang` (`it`, `en`) names the columns of
//! CSV and XLSX. Supervisors and administrators read reports (supervisors read every queue,
//! as the permission matrix says); agents get 403.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use calendar::{BusinessCalendar, CalendarConfig};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use crm::{Role, Store};
use events::{Event, TicketChannel};
use reports::export::{
    Lang, Table, agents_table, calls_table, queue_table, sla_table, tickets_table, to_csv, to_xlsx,
};
use reports::period::{Period, Sampling};
use reports::queues::{CallsOptions, calls_overview, queue_report};
use reports::sla::{SlaInputs, SlaReport, SlaSettings, TicketFacts, sla_report};
use reports::{Folded, agents::agent_report, tickets::ticket_report};
use serde::{Deserialize, Serialize};

use super::auth::ApiQuery;
use super::error::{ApiError, ApiResult};
use super::{Api, Caller};

/// `[reports]`: what the contract sizes and what counts as a short abandon.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReportsSection {
    /// Hang-ups in queue shorter than this are not counted as abandoned (seconds).
    pub short_abandon_s: u64,
    /// The sized load per month, for the overflow rule (§8.7), by `YYYY-MM`; a month not
    /// listed takes `default`.
    pub sized: BTreeMap<String, SizedLoad>,
    /// `serve` folds the event log into report facts this often (seconds; 0: only when a
    /// report is asked for).
    pub materialize_every_s: u64,
    /// Report sets e-mailed on a schedule (`[[reports.mail]]`, [`crate::report_mail`]).
    pub mail: Vec<ReportMailSet>,
}

/// `[[reports.mail]]`: a set of reports e-mailed every week, month or two months.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ReportMailSet {
    /// The set's name (letters, digits, `-`, `_`): in the mail's subject, its outbox key
    /// and `POST /api/v1/reports/mail/{name}`.
    pub name: String,
    /// Recipients' addresses (each gets a mail of their own).
    pub to: Vec<String>,
    /// The reports in it, in order: `sla`, `queues`, `calls`, `agents`, `tickets`.
    pub reports: Vec<String>,
    /// `week`, `month` or `two_months`.
    pub every: String,
    /// `month`, `two_months`: the day of the month after the period it is sent (1-28,
    /// default 1).
    #[serde(default)]
    pub day: Option<u32>,
    /// `week`: the weekday of the week after it is sent (`mon` … `sun`, default `mon`).
    #[serde(default)]
    pub weekday: Option<String>,
    /// Local time it is sent, `HH:MM` (default `06:00`).
    #[serde(default)]
    pub at: Option<String>,
    /// Language of the mail and the columns: `it` (default) or `en`.
    #[serde(default)]
    pub lang: Option<String>,
    /// `xlsx` (default: one workbook, a sheet per report) or `csv` (a file per report).
    #[serde(default)]
    pub format: Option<String>,
    /// Rows of the historical reports: `total`, `hour_band`, `day`, `week` or `month`
    /// (default `day`).
    #[serde(default)]
    pub sampling: Option<String>,
}

/// The reports a set may hold.
pub const MAIL_REPORTS: [&str; 5] = ["sla", "queues", "calls", "agents", "tickets"];

fn weekday_of(s: &str) -> Option<chrono::Weekday> {
    use chrono::Weekday::{Fri, Mon, Sat, Sun, Thu, Tue, Wed};
    [Mon, Tue, Wed, Thu, Fri, Sat, Sun]
        .into_iter()
        .zip(["mon", "tue", "wed", "thu", "fri", "sat", "sun"])
        .find(|(_, n)| *n == s)
        .map(|(d, _)| d)
}

fn plausible_address(a: &str) -> bool {
    let Some((local, domain)) = a.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !a.chars().any(|c| c.is_whitespace() || ",;<>\"".contains(c))
}

impl ReportMailSet {
    /// The schedule in time zone `tz`, or why not (as (field, message), the field relative
    /// to the set).
    pub fn schedule(
        &self,
        tz: chrono_tz::Tz,
    ) -> Result<reports::schedule::Schedule, (&'static str, String)> {
        use reports::schedule::{Every, Schedule};
        let at = match &self.at {
            None => chrono::NaiveTime::from_hms_opt(6, 0, 0).unwrap_or_default(),
            Some(s) => chrono::NaiveTime::parse_from_str(s, "%H:%M")
                .map_err(|_| ("at", format!("`{s}`: expected a local time as HH:MM")))?,
        };
        let day = self.day.unwrap_or(1);
        let every = match self.every.as_str() {
            "week" => {
                if self.day.is_some() {
                    return Err(("day", "a weekly set is sent on a `weekday`".to_owned()));
                }
                let w = self.weekday.as_deref().unwrap_or("mon");
                Every::Week {
                    weekday: weekday_of(w).ok_or_else(|| {
                        (
                            "weekday",
                            format!("`{w}`: expected mon, tue, wed, thu, fri, sat or sun"),
                        )
                    })?,
                }
            }
            "month" | "two_months" => {
                if self.weekday.is_some() {
                    return Err((
                        "weekday",
                        "a monthly set is sent on a `day` of the month".to_owned(),
                    ));
                }
                if self.every == "month" {
                    Every::Month { day }
                } else {
                    Every::TwoMonths { day }
                }
            }
            other => {
                return Err((
                    "every",
                    format!("`{other}`: expected week, month or two_months"),
                ));
            }
        };
        Schedule::new(every, at, tz).map_err(|e| ("day", e.to_string()))
    }

    /// The language of the mail and the columns.
    pub fn lang(&self) -> Lang {
        Lang::parse(self.lang.as_deref().unwrap_or("it"))
    }

    /// The sampling of the historical reports.
    pub fn sampling(&self) -> Sampling {
        self.sampling
            .as_deref()
            .and_then(Sampling::parse)
            .unwrap_or(Sampling::Day)
    }

    /// CSV files instead of one workbook.
    pub fn csv(&self) -> bool {
        self.format.as_deref() == Some("csv")
    }

    fn problems(&self, i: usize, out: &mut Vec<(String, String)>) {
        let mut p = |f: &str, m: String| out.push((format!("reports.mail[{i}].{f}"), m));
        if self.name.is_empty()
            || !self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            p(
                "name",
                "expected letters, digits, `-` or `_` (it names the set in keys and URLs)".into(),
            );
        }
        if self.to.is_empty() {
            p("to", "expected at least one recipient".into());
        }
        for a in &self.to {
            if !plausible_address(a) {
                p(
                    "to",
                    format!("`{a}`: expected an address such as name@example.org"),
                );
            }
        }
        if self.reports.is_empty() {
            p(
                "reports",
                format!("expected some of {}", MAIL_REPORTS.join(", ")),
            );
        }
        let mut seen = std::collections::HashSet::new();
        for r in &self.reports {
            if !MAIL_REPORTS.contains(&r.as_str()) {
                p(
                    "reports",
                    format!("`{r}`: expected one of {}", MAIL_REPORTS.join(", ")),
                );
            } else if !seen.insert(r) {
                p("reports", format!("`{r}` is listed twice"));
            }
        }
        if self.every == "week" && self.reports.iter().any(|r| r == "sla") {
            p(
                "reports",
                "the SLA report is monthly: put `sla` in a `month` or `two_months` set".into(),
            );
        }
        if let Err((field, message)) = self.schedule(chrono_tz::UTC) {
            p(field, message);
        }
        if let Some(l) = &self.lang
            && l != "it"
            && l != "en"
        {
            p("lang", format!("`{l}`: expected it or en"));
        }
        if let Some(f) = &self.format
            && f != "xlsx"
            && f != "csv"
        {
            p("format", format!("`{f}`: expected xlsx or csv"));
        }
        if let Some(s) = &self.sampling
            && Sampling::parse(s).is_none()
        {
            p(
                "sampling",
                format!("`{s}`: expected total, hour_band, day, week or month"),
            );
        }
    }
}

impl Default for ReportsSection {
    fn default() -> Self {
        ReportsSection {
            short_abandon_s: 5,
            sized: BTreeMap::new(),
            materialize_every_s: 60,
            mail: Vec::new(),
        }
    }
}

/// A month's sized volumes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SizedLoad {
    /// Calls expected in the month.
    pub calls: Option<u64>,
    /// Off-line requests (voicemail, e-mail, web, fax) expected in the month.
    pub offline: Option<u64>,
}

impl ReportsSection {
    /// Problems as (field, message).
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if self.short_abandon_s > 600 {
            out.push((
                "reports.short_abandon_s".to_owned(),
                "at most 600 seconds".to_owned(),
            ));
        }
        if self.materialize_every_s > 86_400 {
            out.push((
                "reports.materialize_every_s".to_owned(),
                "at most 86400 seconds (a day); 0 turns the periodic run off".to_owned(),
            ));
        }
        let mut names = std::collections::HashSet::new();
        for (i, set) in self.mail.iter().enumerate() {
            set.problems(i, &mut out);
            if !names.insert(set.name.as_str()) {
                out.push((
                    format!("reports.mail[{i}].name"),
                    format!("`{}`: another set has this name", set.name),
                ));
            }
        }
        for key in self.sized.keys() {
            if key != "default" && parse_month(key).is_none() {
                out.push((
                    format!("reports.sized.{key}"),
                    "expected a month as YYYY-MM, or `default`".to_owned(),
                ));
            }
        }
        out
    }

    /// The interval of the background materializer, `None` when it is off.
    pub fn materialize_every(&self) -> Option<std::time::Duration> {
        (self.materialize_every_s > 0)
            .then(|| std::time::Duration::from_secs(self.materialize_every_s))
    }

    pub(super) fn sized_for(&self, month: &str) -> SizedLoad {
        self.sized
            .get(month)
            .or_else(|| self.sized.get("default"))
            .copied()
            .unwrap_or_default()
    }
}

/// What the report routes need besides the store.
#[derive(Debug, Clone, Default)]
pub struct ReportsConfig {
    pub section: ReportsSection,
    /// The service's business calendar (`[sla.calendar]`): service time and working-time
    /// clocks; absent: around the clock.
    pub calendar: Option<Arc<BusinessCalendar>>,
    /// Where report sets are e-mailed from (`[mail] from` and the Message-ID domain);
    /// absent: mail is not configured and the sets are not sent.
    pub mail_from: Option<MailFrom>,
}

/// Our From and the right side of our Message-IDs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailFrom {
    pub from: String,
    pub message_id_domain: String,
}

impl ReportsConfig {
    pub(super) fn calendar(&self) -> (Arc<BusinessCalendar>, &'static str) {
        match &self.calendar {
            Some(c) => (c.clone(), "sla.calendar"),
            None => {
                let cfg = CalendarConfig {
                    always_open: true,
                    ..CalendarConfig::default()
                };
                let cal = BusinessCalendar::new(&cfg).unwrap_or_else(|_| {
                    unreachable!("an always-open calendar in the default time zone is valid")
                });
                (Arc::new(cal), "around the clock (no [sla.calendar])")
            }
        }
    }
}

fn parse_month(s: &str) -> Option<(i32, u32)> {
    let (y, m) = s.split_once('-')?;
    let (y, m) = (y.parse().ok()?, m.parse().ok()?);
    (s.len() == 7 && (1..=12).contains(&m)).then_some((y, m))
}

/// Query of the historical reports.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ReportQuery {
    /// First day, `YYYY-MM-DD` (local).
    pub from: String,
    /// Last day, included.
    pub to: String,
    /// `total`, `hour_band`, `day` (default), `week` or `month`.
    pub sampling: Option<String>,
    /// `json` (default), `csv` or `xlsx`.
    pub format: Option<String>,
    /// Column names of CSV and XLSX: `it` or `en` (default).
    pub lang: Option<String>,
}

/// Query of the SLA report.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SlaQuery {
    /// The month, `YYYY-MM`.
    pub month: String,
    /// `json` (default), `csv` or `xlsx`.
    pub format: Option<String>,
    /// `it` or `en` (default).
    pub lang: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Csv,
    Xlsx,
}

fn format_of(s: Option<&str>) -> ApiResult<Format> {
    match s.unwrap_or("json") {
        "json" => Ok(Format::Json),
        "csv" => Ok(Format::Csv),
        "xlsx" => Ok(Format::Xlsx),
        other => Err(ApiError::invalid("format", "json, csv or xlsx", other)),
    }
}

fn may_read_reports(caller: &Caller) -> ApiResult<()> {
    if matches!(caller.user.role, Role::Supervisor | Role::Admin) {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!(
            "role {} may not read reports",
            caller.user.role
        )))
    }
}

/// The reports' input for `period`: the event log folded up to `now`, from the stored facts
/// (brought up to date first) and the events that arrived since ([`crate::report_facts`]).
/// Every call that counts in the period is complete as far as the log goes: a call that
/// entered a queue before midnight and was answered after counts as answered.
pub(crate) async fn fold(store: &Store, period: &Period, now: DateTime<Utc>) -> ApiResult<Folded> {
    let failed = |e: crate::report_facts::FactsLoadError| match e {
        crate::report_facts::FactsLoadError::Store(e) => ApiError::Store(e),
        e @ crate::report_facts::FactsLoadError::Facts(_) => ApiError::Unavailable(e.to_string()),
    };
    crate::report_facts::materialize(store)
        .await
        .map_err(failed)?;
    crate::report_facts::folded(store, period.start(), period.end(), now)
        .await
        .map_err(failed)
}

async fn tickets(store: &Store, period: &Period) -> ApiResult<Vec<TicketFacts>> {
    let rows = store.ticket_facts(period.start(), period.end()).await?;
    Ok(rows
        .into_iter()
        .filter_map(|t| {
            let channel = TicketChannel::parse(&t.channel)?;
            Some(TicketFacts {
                from_answered_call: channel == TicketChannel::Phone && t.call_id.is_some(),
                number: t.number,
                channel,
                ticket_type: t.ticket_type,
                queue: t.queue,
                created_at: t.created,
                taken_at: t.first_response_at,
                resolved_at: t.closed,
                first_contact: t.first_contact.unwrap_or(false),
            })
        })
        .collect())
}

/// The historical reports' names.
pub const HISTORICAL: [&str; 4] = ["queues", "calls", "agents", "tickets"];

/// A historical report (`queues`, `calls`, `agents` or `tickets`) of `period` as the API
/// answers it: the JSON body and the tables of CSV and XLSX. The e-mailed report sets
/// ([`crate::report_mail`]) render through here too.
pub async fn historical(
    store: &Store,
    config: &ReportsConfig,
    now: DateTime<Utc>,
    report: &str,
    period: &Period,
    sampling: Sampling,
    lang: Lang,
) -> ApiResult<(serde_json::Value, Vec<Table>)> {
    let options = CallsOptions {
        sampling,
        short_abandon_ms: config.section.short_abandon_s * 1000,
        queues: Vec::new(),
    };
    let (json, tables) = match report {
        "queues" => {
            let r = queue_report(period, &fold(store, period, now).await?, &options);
            (serde_json::to_value(&r), vec![queue_table(&r, lang)])
        }
        "calls" => {
            let rows = calls_overview(period, &fold(store, period, now).await?, &options);
            (
                serde_json::to_value(serde_json::json!({ "rows": rows })),
                vec![calls_table(&rows, lang)],
            )
        }
        "agents" => {
            let rows = agent_report(period, &fold(store, period, now).await?, sampling);
            (
                serde_json::to_value(serde_json::json!({ "rows": rows })),
                vec![agents_table(&rows, lang)],
            )
        }
        "tickets" => {
            let (cal, _) = config.calendar();
            let rows = ticket_report(
                period,
                &tickets(store, period).await?,
                sampling,
                &cal,
                &SlaSettings::default(),
                now,
            );
            (
                serde_json::to_value(serde_json::json!({ "rows": rows })),
                vec![tickets_table(&rows, lang)],
            )
        }
        other => return Err(ApiError::NotFound(format!("no report `{other}`"))),
    };
    let json = json.map_err(|e| ApiError::Unavailable(format!("cannot render: {e}")))?;
    Ok((json, tables))
}

/// The contract's SLA report of the month `period` (made by [`Period::month`]) and the name
/// of the calendar it was measured on, as the API answers it; the e-mailed report sets
/// render through here too.
pub async fn sla_of_month(
    store: &Store,
    config: &ReportsConfig,
    now: DateTime<Utc>,
    period: &Period,
) -> ApiResult<(SlaReport, &'static str)> {
    let month = format!("{}-{:02}", period.from.year(), period.from.month());
    let sized = config.section.sized_for(&month);
    let settings = SlaSettings {
        short_abandon_ms: config.section.short_abandon_s * 1000,
        sized_calls: sized.calls,
        sized_offline: sized.offline,
        ..SlaSettings::default()
    };
    let (cal, calendar_name) = config.calendar();
    let folded = fold(store, period, now).await?;
    let tickets = tickets(store, period).await?;
    let records: Vec<(DateTime<Utc>, Event)> = store
        .availability_records(period.start(), period.end())
        .await?
        .into_iter()
        .filter_map(|e| Some((e.at, serde_json::from_str::<Event>(&e.body).ok()?)))
        .collect();
    // The components' health as recorded (reports::availability); none: not measured.
    let downtimes = reports::availability::downtimes(
        records.iter().map(|(at, e)| (*at, e)),
        period.start(),
        period.end(),
    );
    let report = sla_report(
        period,
        SlaInputs {
            folded: &folded,
            tickets: &tickets,
            downtimes: downtimes.as_deref(),
            calendar: &cal,
            as_of: now,
        },
        &settings,
    );
    Ok((report, calendar_name))
}

fn tabular(tables: &[Table], format: Format, name: &str) -> ApiResult<Response> {
    let failed = |e: reports::export::ExportError| ApiError::Unavailable(e.to_string());
    let (bytes, content_type, ext) = match format {
        Format::Csv => (
            to_csv(tables).map_err(failed)?,
            "text/csv; charset=utf-8",
            "csv",
        ),
        Format::Xlsx => (
            to_xlsx(tables).map_err(failed)?,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "xlsx",
        ),
        Format::Json => unreachable!("JSON is answered by the caller"),
    };
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"centralino-{name}.{ext}\""),
            ),
        ],
        bytes,
    )
        .into_response())
}

/// The JSON envelope of a historical report.
#[derive(Debug, Serialize)]
struct Envelope<T: Serialize> {
    report: String,
    from: NaiveDate,
    to: NaiveDate,
    timezone: String,
    sampling: Sampling,
    generated_at: DateTime<Utc>,
    #[serde(flatten)]
    body: T,
}

/// `GET /api/v1/reports/{report}`: a historical report.
#[utoipa::path(
    get,
    operation_id = "reports_show",
    path = "/api/v1/reports/{report}",
    tag = "reports",
    summary = "A historical report: queues, calls, agents or tickets (supervisors, admins)",
    params(
        ("report" = String, Path, description = "`queues`, `calls`, `agents` or `tickets`"),
        ReportQuery,
    ),
    responses(
        (status = 200, description = "the report as JSON, CSV or XLSX",
            body = crate::api::schema::Report),
        (status = 401, response = crate::api::schema::Unauthorized),
        (status = 403, response = crate::api::schema::Forbidden),
        (status = 404, response = crate::api::schema::NotFound),
        (status = 422, response = crate::api::schema::Invalid),
    )
)]
pub async fn show(
    State(api): State<Api>,
    caller: Caller,
    Path(report): Path<String>,
    ApiQuery(q): ApiQuery<ReportQuery>,
) -> ApiResult<Response> {
    may_read_reports(&caller)?;
    if !HISTORICAL.contains(&report.as_str()) {
        return Err(ApiError::NotFound(format!("no report `{report}`")));
    }
    let day = |what: &str, s: &str| {
        s.parse::<NaiveDate>()
            .map_err(|_| ApiError::invalid(what, "a day as YYYY-MM-DD", s))
    };
    let (from, to) = (day("from", &q.from)?, day("to", &q.to)?);
    let sampling = match q.sampling.as_deref() {
        None => Sampling::Day,
        Some(s) => Sampling::parse(s).ok_or_else(|| {
            ApiError::invalid("sampling", "total, hour_band, day, week or month", s)
        })?,
    };
    let format = format_of(q.format.as_deref())?;
    let lang = Lang::parse(q.lang.as_deref().unwrap_or("en"));
    let tz = api.store().settings().time_zone;
    let period = Period::new(from, to, tz).map_err(|e| ApiError::Invalid(e.to_string()))?;
    let (json, tables) = historical(
        api.store(),
        &api.config().reports,
        api.now(),
        &report,
        &period,
        sampling,
        lang,
    )
    .await?;
    if format != Format::Json {
        return tabular(&tables, format, &format!("{report}-{from}-{to}"));
    }
    let body = json;
    Ok(axum::Json(Envelope {
        report,
        from,
        to,
        timezone: tz.name().to_owned(),
        sampling,
        generated_at: api.now(),
        body,
    })
    .into_response())
}

/// `GET /api/v1/reports/sla`: the contract's monthly SLA report.
#[utoipa::path(
    get,
    operation_id = "reports_sla",
    path = "/api/v1/reports/sla",
    tag = "reports",
    summary = "The contract's SLA report of a month (supervisors, admins)",
    params(SlaQuery),
    responses(
        (status = 200, description = "each service level measured, its threshold after the \
            overflow rule and the points below it, as JSON, CSV or XLSX",
            body = crate::api::schema::Report),
        (status = 401, response = crate::api::schema::Unauthorized),
        (status = 403, response = crate::api::schema::Forbidden),
        (status = 422, response = crate::api::schema::Invalid),
    )
)]
pub async fn sla(
    State(api): State<Api>,
    caller: Caller,
    ApiQuery(q): ApiQuery<SlaQuery>,
) -> ApiResult<Response> {
    may_read_reports(&caller)?;
    let (year, month) =
        parse_month(&q.month).ok_or_else(|| ApiError::invalid("month", "YYYY-MM", &q.month))?;
    let format = format_of(q.format.as_deref())?;
    let lang = Lang::parse(q.lang.as_deref().unwrap_or("en"));
    let tz = api.store().settings().time_zone;
    let period = Period::month(year, month, tz)
        .ok_or_else(|| ApiError::invalid("month", "YYYY-MM", &q.month))?;
    let (report, calendar_name) =
        sla_of_month(api.store(), &api.config().reports, api.now(), &period).await?;
    if format != Format::Json {
        return tabular(
            &[sla_table(&report, lang)],
            format,
            &format!("sla-{}-{:02}", period.from.year(), period.from.month()),
        );
    }
    let mut body = serde_json::to_value(&report)
        .map_err(|e| ApiError::Unavailable(format!("cannot render: {e}")))?;
    body["timezone"] = tz.name().into();
    body["calendar"] = calendar_name.into();
    body["generated_at"] = serde_json::to_value(api.now()).unwrap_or_default();
    Ok(axum::Json(body).into_response())
}

/// What `POST /api/v1/reports/mail/{set}` queued.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReportMailQueued {
    /// The set.
    pub set: String,
    /// The period sent, `YYYY-MM-DD..YYYY-MM-DD`: the latest the set's schedule has ended.
    pub period: String,
    /// Mails queued in the outbox, one per recipient.
    pub queued: usize,
}

/// `POST /api/v1/reports/mail/{set}`: e-mails a report set now (administrators).
#[utoipa::path(
    post,
    operation_id = "reports_mail_now",
    path = "/api/v1/reports/mail/{set}",
    tag = "reports",
    summary = "E-mail a configured report set now, for its latest ended period (admins)",
    params(("set" = String, Path, description = "the set's `name` in `[[reports.mail]]`")),
    responses(
        (status = 202, description = "one mail per recipient queued in the outbox",
            body = ReportMailQueued),
        (status = 401, response = crate::api::schema::Unauthorized),
        (status = 403, response = crate::api::schema::Forbidden),
        (status = 404, response = crate::api::schema::NotFound),
        (status = 503, response = crate::api::schema::Unavailable),
    )
)]
pub async fn mail_now(
    State(api): State<Api>,
    caller: Caller,
    Path(set): Path<String>,
) -> ApiResult<Response> {
    if caller.user.role != Role::Admin {
        return Err(ApiError::Forbidden(format!(
            "only admins send report sets, not {}",
            caller.user.login
        )));
    }
    let config = &api.config().reports;
    if !config.section.mail.iter().any(|s| s.name == set) {
        return Err(ApiError::NotFound(format!("no report set `{set}`")));
    }
    let Some(from) = &config.mail_from else {
        return Err(ApiError::Unavailable(
            "mail is not configured ([mail] from and [mail.smtp])".to_owned(),
        ));
    };
    let mailer = crate::report_mail::ReportMailer {
        store: api.store().clone(),
        config: config.clone(),
        from: from.from.clone(),
        message_id_domain: from.message_id_domain.clone(),
    };
    let outcome = mailer
        .send_now(&set, api.now())
        .await
        .map_err(|e| match e {
            crate::report_mail::ReportMailError::Render { source, .. } => source,
            crate::report_mail::ReportMailError::Store { source, .. } => ApiError::Store(source),
            e => ApiError::Unavailable(e.to_string()),
        })?;
    Ok((
        axum::http::StatusCode::ACCEPTED,
        axum::Json(ReportMailQueued {
            set: outcome.set,
            period: outcome.period,
            queued: outcome.queued,
        }),
    )
        .into_response())
}
