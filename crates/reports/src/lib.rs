//! # reports
//!
//! The figures the service is judged by (R-SUP-2 … R-SUP-5), computed from the persisted
//! event log — the same events the live console observes — so a report and the console can
//! never disagree. Sans-IO: callers read the events (and the CRM's tickets) and hand them
//! over; nothing here reads a clock or a database.
//!
//! - [`ledger`]: the fold of events into call records (queue visits, offers), agents' time
//!   per hour and state, and ticket closures;
//! - [`period`]: a report's period (whole local days) and its sampling (hour band, day,
//!   week, month);
//! - [`queues`]: the per-queue report and the phone channel's overview;
//! - [`agents`]: the per-agent report;
//! - [`tickets`]: the Service Requests report;
//! - [`availability`]: the components' down time from the availability records;
//! - [`sla`]: the contract's monthly SLA report with the overflow rule and penalty points;
//! - [`erlang`]: the Erlang-C forecast;
//! - [`export`]: reports as tables, and tables as CSV and XLSX;
//! - [`facts`]: the fold persisted at a watermark (compact per-call facts), and reports
//!   assembled from it and the events after it;
//! - [`schedule`]: when a report set is e-mailed (week, month, two months);
//! - [`synth`]: a synthetic event log for benchmarks and demos.

pub mod agents;
pub mod availability;
pub mod erlang;
pub mod export;
pub mod facts;
pub mod ledger;
pub mod period;
pub mod queues;
pub mod schedule;
pub mod sla;
pub mod stats;
pub mod synth;
pub mod synth_tickets;
pub mod tickets;

pub use ledger::{
    AgentHour, AgentOpen, CallRecord, Checkpoint, Folded, Ledger, OpenState, QueueVisit, VisitEnd,
};
pub use period::{Bucket, Period, PeriodError, Sampling};

#[cfg(test)]
mod facts_tests;
#[cfg(test)]
mod tests;
