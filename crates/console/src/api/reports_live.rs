//! The supervisor console's live SLA gauges and Erlang-C forecast (issue 15, R-SUP-3):
//! `GET /api/v1/reports/live`.
//!
//! - **Gauges**: SLA.C.2 (queued calls answered in under 30 s, at least 90 %), SLA.C.2 max
//!   (none above 90 s) and SLA.C.3 (abandoned, at most 5 %) for **today** and **the month to
//!   date**. They are lines of [`reports::sla::sla_report`] itself, run over the same fold of
//!   the event log ([`super::reports::fold`]) as `GET /api/v1/reports/sla`, so the console and
//!   the monthly report cannot disagree: the month-to-date gauge *is* the month's report as of
//!   now (with the month's sized load and the overflow rule); today's gauge is the same
//!   function over today, with the contract's thresholds (the overflow rule is monthly).
//! - **Forecast** per queue for the next [`HORIZON_MIN`] minutes: the arrival rate over the
//!   last [`ARRIVAL_WINDOW_MIN`] minutes, the mean handling time (talk + wrap-up) over the last
//!   [`HANDLING_WINDOW_MIN`] minutes ([`reports::erlang::measure`]) and the agents on duty now
//!   (ready, ringing, talking or in wrap-up, from the ACD) give the expected share answered
//!   within [`TARGET_S`] s and the agents needed for [`GOAL_PCT`] % ([`reports::erlang`]).
//!   Without a handled call in the window the handling time is [`DEFAULT_HANDLING_S`] and the
//!   answer says so (`handling_measured: false`).
//!
//! One answer serves every console for [`CACHE_S`] seconds (it costs a fold of the month so
//! far: see PERFORMANCE.md, issue 15). Supervisors and administrators only, like the reports.

use chrono::{Datelike, Duration};
use crm::Role;
use reports::erlang::{Forecast, forecast, measure};
use reports::period::Period;
use reports::sla::{Direction, SlaInputs, SlaLine, SlaSettings, sla_report};
use serde::Serialize;

use super::error::{ApiError, ApiResult};
use super::reports::fold;
use super::{Api, Caller};

/// Arrivals are counted over this many minutes before now.
pub const ARRIVAL_WINDOW_MIN: i64 = 60;
/// Handling times are averaged over the calls answered this many minutes before now.
pub const HANDLING_WINDOW_MIN: i64 = 240;
/// The forecast's horizon (the rate and staff are taken as holding for it).
pub const HORIZON_MIN: i64 = 30;
/// SLA.C.2's target: answered within this many seconds …
pub const TARGET_S: f64 = 30.0;
/// … for this share of the calls.
pub const GOAL_PCT: f64 = 90.0;
/// The handling time assumed while no call of the queue ended in the handling window.
pub const DEFAULT_HANDLING_S: f64 = 180.0;

/// An answer is reused this long (every open console asks every 30 s and after call events).
pub const CACHE_S: i64 = 5;

/// The lines of the SLA report the gauges show.
const GAUGE_LINES: [&str; 3] = ["SLA.C.2", "SLA.C.2.max", "SLA.C.3"];

/// One service level, measured so far.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Gauge {
    /// `SLA.C.2`, `SLA.C.2.max` or `SLA.C.3`.
    pub id: String,
    pub numerator: u64,
    /// Queued calls counted (hung up before the short-abandon threshold, or still waiting:
    /// not counted).
    pub denominator: u64,
    /// Percent; null when no queued call was counted yet.
    pub measured_pct: Option<f64>,
    /// `at_least` or `at_most`.
    pub direction: String,
    /// The threshold applied (after the overflow rule, for the month).
    pub threshold_pct: f64,
    /// Points the overflow rule moved the threshold by.
    pub overflow_points: u32,
    /// Null when nothing was counted.
    pub met: Option<bool>,
}

impl From<&SlaLine> for Gauge {
    fn from(l: &SlaLine) -> Gauge {
        Gauge {
            id: l.id.to_owned(),
            numerator: l.numerator,
            denominator: l.denominator,
            measured_pct: l.measured_pct,
            direction: match l.direction {
                Direction::AtLeast => "at_least",
                Direction::AtMost => "at_most",
            }
            .to_owned(),
            threshold_pct: l.applied_threshold_pct,
            overflow_points: l.overflow_points,
            met: l.met,
        }
    }
}

/// The gauges of one period.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct GaugeSet {
    /// `today` or `month_to_date`.
    pub scope: String,
    /// First local day, `YYYY-MM-DD`.
    pub from: String,
    /// Last local day (today).
    pub to: String,
    pub gauges: Vec<Gauge>,
}

/// One queue's forecast for the next half hour.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct QueueForecast {
    pub queue: String,
    /// Calls that entered the queue in the arrival window.
    pub arrivals: u64,
    /// Calls per hour.
    pub arrivals_per_hour: f64,
    /// Mean talk + wrap-up, seconds.
    pub handling_s: f64,
    /// False: no call ended in the handling window, the default handling time was used.
    pub handling_measured: bool,
    /// Erlangs offered.
    pub traffic: f64,
    /// Agents on duty now (ready, ringing, talking, wrap-up).
    pub agents: u32,
    /// Agents ready now (idle).
    pub agents_ready: u32,
    /// Share answered within the target with the agents on duty, percent.
    pub expected_service_level_pct: f64,
    /// Agents the goal needs; null past what the forecast sizes (10,000).
    pub agents_needed: Option<u32>,
}

/// The forecast and the constants it was computed with.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ForecastSet {
    pub horizon_min: i64,
    pub arrival_window_min: i64,
    pub handling_window_min: i64,
    pub target_s: f64,
    pub goal_pct: f64,
    /// Queues in the ACD's configuration order.
    pub queues: Vec<QueueForecast>,
}

/// `GET /api/v1/reports/live`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LiveReport {
    /// RFC 3339.
    pub generated_at: String,
    pub timezone: String,
    /// Today's gauges, then the month to date's.
    pub sla: Vec<GaugeSet>,
    /// Null when no ACD runs on this node.
    pub forecast: Option<ForecastSet>,
}

/// `GET /api/v1/reports/live`: the SLA gauges and the forecast.
#[utoipa::path(
    get,
    operation_id = "reports_live",
    path = "/api/v1/reports/live",
    tag = "reports",
    summary = "Live SLA gauges (today, month to date) and the Erlang-C forecast per queue (supervisors, admins)",
    description = "SLA.C.2, SLA.C.2.max and SLA.C.3 as the monthly SLA report computes them, \
        for today and for the month so far; per queue, the service level the agents on duty \
        can give in the next 30 minutes at the arrival rate of the last 60 minutes and the \
        handling time (talk + wrap-up) of the last 4 hours, and the agents 90 % within 30 s needs.",
    responses(
        (status = 200, description = "gauges and forecast", body = LiveReport),
        (status = 401, response = crate::api::schema::Unauthorized),
        (status = 403, response = crate::api::schema::Forbidden),
    )
)]
pub async fn live(
    axum::extract::State(api): axum::extract::State<Api>,
    caller: Caller,
) -> ApiResult<axum::Json<LiveReport>> {
    if !matches!(caller.user.role, Role::Supervisor | Role::Admin) {
        return Err(ApiError::Forbidden(format!(
            "role {} may not read reports",
            caller.user.role
        )));
    }
    let now = api.now();
    if let Some((at, report)) = api.live_report().as_ref()
        && *at <= now
        && now - *at < Duration::seconds(CACHE_S)
    {
        return Ok(axum::Json(report.clone()));
    }
    let report = compute(&api, now).await?;
    *api.live_report() = Some((now, report.clone()));
    Ok(axum::Json(report))
}

/// The live report at `now`.
async fn compute(api: &Api, now: chrono::DateTime<chrono::Utc>) -> ApiResult<LiveReport> {
    let tz = api.store().settings().time_zone;
    let today = now.with_timezone(&tz).date_naive();
    let month = Period::month(today.year(), today.month(), tz)
        .ok_or_else(|| ApiError::Unavailable(format!("no month around {today}")))?;
    let day = Period::new(today, today, tz).map_err(|e| ApiError::Unavailable(e.to_string()))?;
    // One fold for both: today lies in the month (and the forecast's windows in its
    // look-back).
    let folded = fold(api.store(), &month, api.now()).await?;
    let config = &api.config().reports;
    let sized = config
        .section
        .sized_for(&month.from.format("%Y-%m").to_string());
    let (calendar, _) = config.calendar();
    let month_settings = SlaSettings {
        short_abandon_ms: config.section.short_abandon_s * 1000,
        sized_calls: sized.calls,
        sized_offline: sized.offline,
        ..SlaSettings::default()
    };
    let day_settings = SlaSettings {
        sized_calls: None,
        sized_offline: None,
        ..month_settings.clone()
    };
    let inputs = SlaInputs {
        folded: &folded,
        tickets: &[],
        downtimes: None,
        calendar: &calendar,
        as_of: now,
    };
    let set = |scope: &str, period: &Period, settings: &SlaSettings| {
        let report = sla_report(period, inputs, settings);
        GaugeSet {
            scope: scope.to_owned(),
            from: period.from.to_string(),
            to: today.to_string(),
            gauges: GAUGE_LINES
                .iter()
                .filter_map(|id| report.lines.iter().find(|l| l.id == *id))
                .map(Gauge::from)
                .collect(),
        }
    };
    let sla = vec![
        set("today", &day, &day_settings),
        set("month_to_date", &month, &month_settings),
    ];

    let view = match api.acd() {
        Ok(acd) => acd.view().await,
        Err(_) => None,
    };
    let forecast = view.map(|view| ForecastSet {
        horizon_min: HORIZON_MIN,
        arrival_window_min: ARRIVAL_WINDOW_MIN,
        handling_window_min: HANDLING_WINDOW_MIN,
        target_s: TARGET_S,
        goal_pct: GOAL_PCT,
        queues: view
            .queues
            .iter()
            .map(|q| {
                let m = measure(
                    &folded,
                    &q.name,
                    now,
                    Duration::minutes(ARRIVAL_WINDOW_MIN),
                    Duration::minutes(HANDLING_WINDOW_MIN),
                );
                let a = q.agents;
                let on_duty =
                    u32::try_from(a.ready + a.ringing + a.talking + a.wrap_up).unwrap_or(u32::MAX);
                let window_s = 60.0 * ARRIVAL_WINDOW_MIN as f64;
                let f: Forecast = forecast(
                    m.arrivals,
                    window_s,
                    m.handling_s.unwrap_or(DEFAULT_HANDLING_S),
                    on_duty,
                    TARGET_S,
                    GOAL_PCT / 100.0,
                );
                QueueForecast {
                    queue: q.name.clone(),
                    arrivals: m.arrivals,
                    arrivals_per_hour: f.arrivals_per_hour,
                    handling_s: f.handling_s,
                    handling_measured: m.handling_s.is_some(),
                    traffic: f.traffic,
                    agents: f.agents,
                    agents_ready: u32::try_from(a.ready).unwrap_or(u32::MAX),
                    expected_service_level_pct: f.expected_service_level_pct,
                    agents_needed: f.agents_needed,
                }
            })
            .collect(),
    });
    Ok(LiveReport {
        generated_at: now.to_rfc3339(),
        timezone: tz.name().to_owned(),
        sla,
        forecast,
    })
}
