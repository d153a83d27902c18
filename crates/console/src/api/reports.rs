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
use crm::Role;
use events::{Event, TicketChannel};
use reports::export::{
    Lang, Table, agents_table, calls_table, queue_table, sla_table, tickets_table, to_csv, to_xlsx,
};
use reports::period::{Period, Sampling};
use reports::queues::{CallsOptions, calls_overview, queue_report};
use reports::sla::{SlaInputs, SlaSettings, TicketFacts, sla_report};
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
}

impl Default for ReportsSection {
    fn default() -> Self {
        ReportsSection {
            short_abandon_s: 5,
            sized: BTreeMap::new(),
            materialize_every_s: 60,
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

/// The reports' input for `period`: the event log folded up to now, from the stored facts
/// (brought up to date first) and the events that arrived since ([`crate::report_facts`]).
/// Every call that counts in the period is complete as far as the log goes: a call that
/// entered a queue before midnight and was answered after counts as answered.
pub(super) async fn fold(api: &Api, period: &Period) -> ApiResult<Folded> {
    let failed = |e: crate::report_facts::FactsLoadError| match e {
        crate::report_facts::FactsLoadError::Store(e) => ApiError::Store(e),
        e @ crate::report_facts::FactsLoadError::Facts(_) => ApiError::Unavailable(e.to_string()),
    };
    let store = api.store();
    crate::report_facts::materialize(store)
        .await
        .map_err(failed)?;
    crate::report_facts::folded(store, period.start(), period.end(), api.now())
        .await
        .map_err(failed)
}

async fn tickets(api: &Api, period: &Period) -> ApiResult<Vec<TicketFacts>> {
    let rows = api
        .store()
        .ticket_facts(period.start(), period.end())
        .await?;
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
    if !["queues", "calls", "agents", "tickets"].contains(&report.as_str()) {
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
    let config = &api.config().reports;
    let options = CallsOptions {
        sampling,
        short_abandon_ms: config.section.short_abandon_s * 1000,
        queues: Vec::new(),
    };
    let (json, tables) = match report.as_str() {
        "queues" => {
            let r = queue_report(&period, &fold(&api, &period).await?, &options);
            (serde_json::to_value(&r), vec![queue_table(&r, lang)])
        }
        "calls" => {
            let rows = calls_overview(&period, &fold(&api, &period).await?, &options);
            (
                serde_json::to_value(serde_json::json!({ "rows": rows })),
                vec![calls_table(&rows, lang)],
            )
        }
        "agents" => {
            let rows = agent_report(&period, &fold(&api, &period).await?, sampling);
            (
                serde_json::to_value(serde_json::json!({ "rows": rows })),
                vec![agents_table(&rows, lang)],
            )
        }
        _ => {
            let (cal, _) = config.calendar();
            let rows = ticket_report(
                &period,
                &tickets(&api, &period).await?,
                sampling,
                &cal,
                &SlaSettings::default(),
                api.now(),
            );
            (
                serde_json::to_value(serde_json::json!({ "rows": rows })),
                vec![tickets_table(&rows, lang)],
            )
        }
    };
    if format != Format::Json {
        return tabular(&tables, format, &format!("{report}-{from}-{to}"));
    }
    let body = json.map_err(|e| ApiError::Unavailable(format!("cannot render: {e}")))?;
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
    let config = &api.config().reports;
    let sized = config.section.sized_for(&q.month);
    let settings = SlaSettings {
        short_abandon_ms: config.section.short_abandon_s * 1000,
        sized_calls: sized.calls,
        sized_offline: sized.offline,
        ..SlaSettings::default()
    };
    let (cal, calendar_name) = config.calendar();
    let folded = fold(&api, &period).await?;
    let tickets = tickets(&api, &period).await?;
    let records: Vec<(DateTime<Utc>, Event)> = api
        .store()
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
        &period,
        SlaInputs {
            folded: &folded,
            tickets: &tickets,
            downtimes: downtimes.as_deref(),
            calendar: &cal,
            as_of: api.now(),
        },
        &settings,
    );
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
