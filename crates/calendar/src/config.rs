//! [`CalendarConfig`]: the business calendar as configuration (TOML-friendly serde types), and
//! its validation into the checked form [`crate::BusinessCalendar`] is built from.

use chrono::{NaiveDate, Weekday};
use serde::{Deserialize, Serialize};

/// Minutes in a day; a window may end at `24:00` (= 1440).
pub(crate) const DAY_MINUTES: u16 = 24 * 60;

/// The business calendar as written in the configuration.
///
/// ```toml
/// timezone = "Europe/Rome"          # default
/// label = "Service hours"
/// mon = ["08:00-13:00", "14:00-19:00"]
/// sat = ["08:00-14:00"]
/// italian_holidays = true
/// closures = ["2025-08-14", "2025-12-24..2025-12-31", { from = "2026-01-02", label = "Inventory" }]
/// ```
///
/// Windows are wall-clock times in `timezone`, minute resolution, `start < end`, `24:00` allowed
/// as an end. Several windows per day may be given; they must not overlap (touching windows such
/// as `08:00-12:00` and `12:00-14:00` are fine and count as one). `always_open = true` is short
/// for `00:00-24:00` on every weekday (holidays and closures still close it when configured);
/// `always_closed = true` means the calendar never opens. Both exclude weekday windows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalendarConfig {
    /// IANA time zone name, parsed with `chrono-tz`.
    #[serde(default = "default_timezone")]
    pub timezone: String,
    /// What the calendar is, for people (e.g. "Service hours, area 2").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Open around the clock, every day.
    #[serde(default)]
    pub always_open: bool,
    /// Never open.
    #[serde(default)]
    pub always_closed: bool,
    /// Monday windows, `"HH:MM-HH:MM"`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mon: Vec<String>,
    /// Tuesday windows.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tue: Vec<String>,
    /// Wednesday windows.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub wed: Vec<String>,
    /// Thursday windows.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub thu: Vec<String>,
    /// Friday windows.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fri: Vec<String>,
    /// Saturday windows.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sat: Vec<String>,
    /// Sunday windows.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sun: Vec<String>,
    /// Closed on the Italian national holidays ([`crate::italian_holiday`]).
    #[serde(default)]
    pub italian_holidays: bool,
    /// Extra closed dates and date ranges (local dates, both ends included).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub closures: Vec<ClosureConfig>,
}

fn default_timezone() -> String {
    "Europe/Rome".to_string()
}

impl Default for CalendarConfig {
    /// No windows: closed until windows are added (or `always_open` is set).
    fn default() -> Self {
        CalendarConfig {
            timezone: default_timezone(),
            label: None,
            always_open: false,
            always_closed: false,
            mon: Vec::new(),
            tue: Vec::new(),
            wed: Vec::new(),
            thu: Vec::new(),
            fri: Vec::new(),
            sat: Vec::new(),
            sun: Vec::new(),
            italian_holidays: false,
            closures: Vec::new(),
        }
    }
}

impl CalendarConfig {
    /// A calendar open around the clock.
    pub fn always_open() -> Self {
        CalendarConfig {
            always_open: true,
            ..Default::default()
        }
    }

    /// A calendar that never opens.
    pub fn always_closed() -> Self {
        CalendarConfig {
            always_closed: true,
            ..Default::default()
        }
    }

    /// The windows of one weekday with the field name they came from.
    pub(crate) fn day(&self, day: Weekday) -> (&'static str, &[String]) {
        match day {
            Weekday::Mon => ("mon", &self.mon),
            Weekday::Tue => ("tue", &self.tue),
            Weekday::Wed => ("wed", &self.wed),
            Weekday::Thu => ("thu", &self.thu),
            Weekday::Fri => ("fri", &self.fri),
            Weekday::Sat => ("sat", &self.sat),
            Weekday::Sun => ("sun", &self.sun),
        }
    }
}

/// One extra closure: `"2025-08-14"`, `"2025-12-24..2025-12-31"`, or a table
/// `{ from = "2025-12-24", to = "2025-12-31", label = "Christmas" }` (`to` defaults to `from`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ClosureConfig {
    /// A date or a `from..to` range.
    Text(String),
    /// A labelled date or range.
    Table(ClosureTable),
}

/// A closure written as a table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClosureTable {
    /// First closed date, `YYYY-MM-DD`.
    pub from: String,
    /// Last closed date (included); defaults to `from`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// Why (shown to operators, e.g. "Patron saint's day").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

/// A configuration field that does not hold what it should.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    /// The field, relative to the calendar table: `mon[0]`, `timezone`, `closures[2]`.
    pub field: String,
    /// What was expected and what came.
    pub message: String,
}

/// Every problem found in one [`CalendarConfig`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid calendar: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct ConfigErrors(pub Vec<FieldError>);

/// A checked closure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Closure {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub label: Option<String>,
}

/// Parses `"HH:MM"` into minutes since midnight; `24:00` allowed when `end`.
fn parse_hhmm(s: &str, end: bool) -> Option<u16> {
    let (h, m) = s.trim().split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let h: u16 = h.parse().ok()?;
    let m: u16 = m.parse().ok()?;
    if m > 59 {
        return None;
    }
    match (h, m) {
        (24, 0) if end => Some(DAY_MINUTES),
        (0..=23, _) => Some(h * 60 + m),
        _ => None,
    }
}

/// Parses `"HH:MM-HH:MM"` with start < end.
pub(crate) fn parse_window(s: &str) -> Option<(u16, u16)> {
    let (a, b) = s.split_once('-')?;
    let start = parse_hhmm(a, false)?;
    let end = parse_hhmm(b, true)?;
    (start < end).then_some((start, end))
}

fn parse_date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok()
}

/// Checks the weekday windows: sorted, non-overlapping, touching windows merged.
pub(crate) fn check_windows(
    cfg: &CalendarConfig,
    errors: &mut Vec<FieldError>,
) -> [Vec<(u16, u16)>; 7] {
    let mut week: [Vec<(u16, u16)>; 7] = Default::default();
    let any_window = [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
        Weekday::Sat,
        Weekday::Sun,
    ]
    .iter()
    .any(|d| !cfg.day(*d).1.is_empty());
    if cfg.always_open && cfg.always_closed {
        errors.push(FieldError {
            field: "always_open".into(),
            message: "expected at most one of always_open and always_closed, got both".into(),
        });
    }
    if (cfg.always_open || cfg.always_closed) && any_window {
        let which = if cfg.always_open {
            "always_open"
        } else {
            "always_closed"
        };
        errors.push(FieldError {
            field: which.into(),
            message: format!("{which} = true excludes weekday windows (mon..sun); remove one"),
        });
    }
    for (i, slot) in week.iter_mut().enumerate() {
        let day = Weekday::try_from(i as u8).unwrap_or(Weekday::Mon);
        if cfg.always_open && !cfg.always_closed {
            slot.push((0, DAY_MINUTES));
            continue;
        }
        let (name, windows) = cfg.day(day);
        let mut parsed: Vec<(u16, u16, usize)> = Vec::new();
        for (j, w) in windows.iter().enumerate() {
            match parse_window(w) {
                Some((s, e)) => parsed.push((s, e, j)),
                None => errors.push(FieldError {
                    field: format!("{name}[{j}]"),
                    message: format!("expected HH:MM-HH:MM with start < end, got {w:?}"),
                }),
            }
        }
        parsed.sort();
        for pair in parsed.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            if b.0 < a.1 {
                errors.push(FieldError {
                    field: format!("{name}[{}]", b.2),
                    message: format!(
                        "window {} overlaps {name}[{}] {}; expected separate windows",
                        windows[b.2].trim(),
                        a.2,
                        windows[a.2].trim()
                    ),
                });
            }
        }
        for (s, e, _) in parsed {
            match slot.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => slot.push((s, e)),
            }
        }
    }
    if cfg.always_closed {
        week = Default::default();
    }
    week
}

/// Checks the closures.
pub(crate) fn check_closures(cfg: &CalendarConfig, errors: &mut Vec<FieldError>) -> Vec<Closure> {
    let mut out = Vec::new();
    for (i, c) in cfg.closures.iter().enumerate() {
        let field = format!("closures[{i}]");
        let (from, to, label) = match c {
            ClosureConfig::Text(t) => match t.split_once("..") {
                Some((a, b)) => (a, Some(b), None),
                None => (t.as_str(), None, None),
            },
            ClosureConfig::Table(t) => (t.from.as_str(), t.to.as_deref(), t.label.clone()),
        };
        let parsed_from = parse_date(from);
        let parsed_to = match to {
            Some(t) => parse_date(t),
            None => parsed_from,
        };
        match (parsed_from, parsed_to) {
            (Some(f), Some(t)) if f <= t => out.push(Closure {
                from: f,
                to: t,
                label,
            }),
            (Some(_), Some(_)) => errors.push(FieldError {
                field,
                message: format!(
                    "expected a range with from <= to, got {from:?}..{:?}",
                    to.unwrap_or_default()
                ),
            }),
            _ => errors.push(FieldError {
                field,
                message: format!(
                    "expected YYYY-MM-DD or YYYY-MM-DD..YYYY-MM-DD, got {:?}",
                    match to {
                        Some(t) => format!("{from}..{t}"),
                        None => from.to_string(),
                    }
                ),
            }),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_parse_with_minute_resolution() {
        assert_eq!(parse_window("08:00-19:00"), Some((480, 1140)));
        assert_eq!(parse_window(" 08:30 - 12:45 "), Some((510, 765)));
        assert_eq!(parse_window("00:00-24:00"), Some((0, 1440)));
        assert_eq!(parse_window("19:00-08:00"), None);
        assert_eq!(parse_window("08:00-08:00"), None);
        assert_eq!(parse_window("24:00-24:00"), None);
        assert_eq!(parse_window("8:00-19:00"), None);
        assert_eq!(parse_window("08:60-19:00"), None);
        assert_eq!(parse_window("08:00"), None);
    }

    #[test]
    fn bad_window_names_field_and_expectation() {
        let cfg = CalendarConfig {
            mon: vec!["19:00-08:00".into()],
            ..Default::default()
        };
        let mut errors = Vec::new();
        check_windows(&cfg, &mut errors);
        assert_eq!(
            errors[0].to_string(),
            "mon[0]: expected HH:MM-HH:MM with start < end, got \"19:00-08:00\""
        );
    }

    #[test]
    fn overlapping_windows_refused_touching_merged() {
        let cfg = CalendarConfig {
            tue: vec!["12:00-14:00".into(), "08:00-12:00".into()],
            wed: vec!["08:00-13:00".into(), "12:00-14:00".into()],
            ..Default::default()
        };
        let mut errors = Vec::new();
        let week = check_windows(&cfg, &mut errors);
        assert_eq!(week[1], vec![(480, 840)]);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field, "wed[1]");
        assert!(errors[0].message.contains("overlaps wed[0]"), "{errors:?}");
    }

    #[test]
    fn always_flags_conflict_with_windows() {
        let cfg = CalendarConfig {
            always_open: true,
            always_closed: true,
            fri: vec!["08:00-19:00".into()],
            ..Default::default()
        };
        let mut errors = Vec::new();
        check_windows(&cfg, &mut errors);
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["always_open", "always_open"]);
    }

    #[test]
    fn closures_as_dates_ranges_and_tables() {
        let toml = r#"
            closures = ["2025-08-14", "2025-12-24..2025-12-31",
                        { from = "2026-02-02", label = "Inventory" },
                        "2025-13-01", "2025-05-02..2025-05-01"]
        "#;
        let cfg: CalendarConfig = toml::from_str(toml).unwrap();
        let mut errors = Vec::new();
        let closures = check_closures(&cfg, &mut errors);
        assert_eq!(closures.len(), 3);
        assert_eq!(
            closures[1].to,
            NaiveDate::from_ymd_opt(2025, 12, 31).unwrap()
        );
        assert_eq!(closures[2].label.as_deref(), Some("Inventory"));
        assert_eq!(errors[0].field, "closures[3]");
        assert!(errors[0].message.contains("YYYY-MM-DD"));
        assert_eq!(errors[1].field, "closures[4]");
        assert!(errors[1].message.contains("from <= to"));
    }

    #[test]
    fn unknown_keys_refused() {
        let err = toml::from_str::<CalendarConfig>("monday = [\"08:00-19:00\"]").unwrap_err();
        assert!(err.to_string().contains("unknown field `monday`"), "{err}");
        let cfg: CalendarConfig = toml::from_str("").unwrap();
        assert_eq!(cfg.timezone, "Europe/Rome");
    }
}
