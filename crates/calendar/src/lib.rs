//! The business calendar shared by the IVR schedules and the CRM SLA clocks (R-IVR-1,
//! R-SR escalation): weekly opening windows in a time zone (Europe/Rome by default), Italian
//! national holidays with Easter computed, extra closures, and working-time arithmetic.
//!
//! # Run loop
//!
//! There is none: a [`BusinessCalendar`] is a pure value. It never reads the clock; every query
//! takes the instant it is about (`DateTime<Utc>`), so callers pass their own wall time and
//! tests pass fixed dates. Build it once from a [`CalendarConfig`] (configuration load or
//! reload), share it behind an `Arc`, and ask:
//!
//! ```
//! use calendar::{BusinessCalendar, CalendarConfig};
//! use chrono::{Duration, TimeZone, Utc};
//!
//! let cfg: CalendarConfig = toml::from_str(r#"
//!     mon = ["08:00-19:00"]
//!     tue = ["08:00-19:00"]
//!     fri = ["08:00-19:00"]
//!     italian_holidays = true
//! "#).unwrap();
//! let cal = BusinessCalendar::new(&cfg).unwrap();
//! // Friday 2025-06-06 20:00 in Rome (18:00 UTC): closed; 4 working hours later is
//! // Monday 12:00 in Rome.
//! let friday_evening = Utc.with_ymd_and_hms(2025, 6, 6, 18, 0, 0).unwrap();
//! assert!(!cal.is_open(friday_evening));
//! let due = cal.add_working_time(friday_evening, Duration::hours(4)).unwrap();
//! assert_eq!(due, Utc.with_ymd_and_hms(2025, 6, 9, 10, 0, 0).unwrap());
//! ```
//!
//! Windows are wall-clock times; see [`BusinessCalendar`] for what happens on the days the
//! clocks change.

mod business;
mod config;
mod holidays;

pub use business::{BusinessCalendar, ClosedReason, HORIZON_DAYS, Status};
pub use config::{CalendarConfig, ClosureConfig, ClosureTable, ConfigErrors, FieldError};
pub use holidays::{easter_sunday, italian_holiday};
