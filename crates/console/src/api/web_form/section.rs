//! `[web_form]` and what it runs with: the section and its checks, the submission counter per
//! client address, the outcomes the metric counts.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use serde::Deserialize;

use crate::config::ConfigProblem;

/// `[web_form]`: the public web form.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebFormSection {
    /// Serve the form and its route (off: 404).
    pub enabled: bool,
    /// The CRM queue the requests open their tickets in.
    pub queue: String,
    /// Longest name, in characters.
    pub max_name_chars: usize,
    /// Longest e-mail address, in characters (RFC 5321 §4.5.3.1.3 paths: 254).
    pub max_email_chars: usize,
    /// Longest subject, in characters.
    pub max_subject_chars: usize,
    /// Longest text, in characters.
    pub max_body_chars: usize,
    /// Largest attachment, KiB (0: no attachments). The CRM's `attachment_max_bytes` also holds.
    pub max_attachment_kb: usize,
    /// The media types an attachment may have.
    pub attachment_types: Vec<String>,
    /// Submissions accepted from one client address per window (each counts, whatever its fate).
    pub max_requests_per_address: u32,
    /// The window, seconds.
    pub window_s: u64,
    /// Addresses tracked at most (ended windows are dropped first, then the oldest).
    pub max_tracked: usize,
    /// Take in charge within this much working time (minutes; 0: the queue's targets), SLA.O.1.
    pub take_in_charge_min: u64,
    /// Resolve within this much working time (minutes; 0: the queue's targets), SLA.O.2.
    pub resolve_min: u64,
}

impl Default for WebFormSection {
    fn default() -> Self {
        WebFormSection {
            enabled: false,
            queue: "raw".into(),
            max_name_chars: 200,
            max_email_chars: 254,
            max_subject_chars: 200,
            max_body_chars: 10_000,
            max_attachment_kb: 5 * 1024,
            attachment_types: vec![
                "application/pdf".into(),
                "image/png".into(),
                "image/jpeg".into(),
                "text/plain".into(),
            ],
            max_requests_per_address: 5,
            window_s: 3600,
            max_tracked: 10_000,
            take_in_charge_min: 240,
            resolve_min: 1440,
        }
    }
}

impl WebFormSection {
    /// Every problem found; empty means valid.
    #[must_use]
    pub fn validate(&self) -> Vec<ConfigProblem> {
        let mut problems = Vec::new();
        let mut bad = |key: &str, message: String| {
            problems.push(ConfigProblem {
                path: format!("web_form.{key}"),
                message,
            })
        };
        if self.queue.trim().is_empty() {
            bad(
                "queue",
                "expected a CRM queue name, got an empty one".into(),
            );
        }
        for (key, v) in [
            ("max_name_chars", self.max_name_chars),
            ("max_email_chars", self.max_email_chars),
            ("max_subject_chars", self.max_subject_chars),
            ("max_body_chars", self.max_body_chars),
        ] {
            if !(1..=1_000_000).contains(&v) {
                bad(key, format!("expected 1 to 1000000, got {v}"));
            }
        }
        if self.max_attachment_kb > 100 * 1024 {
            bad(
                "max_attachment_kb",
                format!("expected at most 102400, got {}", self.max_attachment_kb),
            );
        }
        for t in &self.attachment_types {
            if !is_media_type(t) {
                bad(
                    "attachment_types",
                    format!("expected media types such as `application/pdf`, got `{t}`"),
                );
            }
        }
        if self.max_requests_per_address == 0 {
            bad(
                "max_requests_per_address",
                "expected at least 1, got 0".into(),
            );
        }
        if self.window_s == 0 {
            bad("window_s", "expected at least 1, got 0".into());
        }
        if self.max_tracked == 0 {
            bad("max_tracked", "expected at least 1, got 0".into());
        }
        problems
    }

    /// The running form; `calendar` is the service's business calendar (`[sla] calendar`):
    /// without one, the web form's own targets cannot count working time and the queue's
    /// targets apply.
    pub fn form(&self, calendar: Option<Arc<calendar::BusinessCalendar>>) -> WebForm {
        let minutes = |m: u64| (m > 0).then(|| TimeDelta::minutes(m as i64));
        let sla = calendar
            .filter(|_| self.take_in_charge_min > 0 || self.resolve_min > 0)
            .map(|calendar| crm::QueueSla {
                calendar,
                first_response: minutes(self.take_in_charge_min),
                solution: minutes(self.resolve_min),
            });
        WebForm {
            submissions: Arc::new(Mutex::new(Submissions::new(
                self.max_requests_per_address,
                Duration::from_secs(self.window_s),
                self.max_tracked,
            ))),
            section: self.clone(),
            sla,
        }
    }

    /// The largest body accepted: the attachment, the fields (four bytes a character at
    /// most) and 16 KiB for the multipart framing.
    pub fn max_body_bytes(&self) -> usize {
        let chars = self.max_name_chars
            + self.max_email_chars
            + self.max_subject_chars
            + self.max_body_chars;
        self.max_attachment_kb * 1024 + chars * 4 + 16 * 1024
    }
}

fn is_media_type(t: &str) -> bool {
    let ok = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+-.".contains(&b))
    };
    t.split_once('/').is_some_and(|(a, b)| ok(a) && ok(b))
}

/// The web form as it runs: its section, its clocks, its rate limiter.
#[derive(Debug, Clone)]
pub struct WebForm {
    pub(super) section: WebFormSection,
    pub(super) sla: Option<crm::QueueSla>,
    pub(super) submissions: Arc<Mutex<Submissions>>,
}

impl WebForm {
    /// The section it was built from.
    pub fn section(&self) -> &WebFormSection {
        &self.section
    }
}

/// What became of a submission (the metric's `outcome` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A ticket was opened.
    Opened,
    /// The honeypot field came filled: success shown, nothing opened.
    Honeypot,
    /// Refused: too many from the address.
    RateLimited,
    /// Refused: a field is missing, too long or malformed, or the body unreadable.
    Invalid,
    /// Refused: the body or the attachment is over its limit.
    TooLarge,
}

impl Outcome {
    /// Every outcome.
    pub const ALL: [Outcome; 5] = [
        Outcome::Opened,
        Outcome::Honeypot,
        Outcome::RateLimited,
        Outcome::Invalid,
        Outcome::TooLarge,
    ];

    /// The label.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Opened => "opened",
            Outcome::Honeypot => "honeypot",
            Outcome::RateLimited => "rate_limited",
            Outcome::Invalid => "invalid",
            Outcome::TooLarge => "too_large",
        }
    }
}

/// Submissions per client address in fixed windows, sans-IO (the time handed in).
#[derive(Debug)]
pub struct Submissions {
    limit: u32,
    window: TimeDelta,
    max_tracked: usize,
    windows: HashMap<IpAddr, (DateTime<Utc>, u32)>,
}

impl Submissions {
    /// `limit` submissions per `window` per address, at most `max_tracked` addresses.
    pub fn new(limit: u32, window: Duration, max_tracked: usize) -> Self {
        Submissions {
            limit,
            window: TimeDelta::from_std(window).unwrap_or(TimeDelta::MAX),
            max_tracked: max_tracked.max(1),
            windows: HashMap::new(),
        }
    }

    /// Counts one submission from `addr` at `now`: `Ok(())`, or `Err(retry_after)` (whole
    /// seconds, at least one) when the address has used its window.
    pub fn admit(&mut self, addr: IpAddr, now: DateTime<Utc>) -> Result<(), Duration> {
        let key = address_key(addr);
        let window = self.window;
        let entry = self.windows.get(&key).copied();
        let (start, count) = match entry {
            Some((start, count)) if now < start + window => (start, count),
            _ => (now, 0),
        };
        if count >= self.limit {
            let left = (start + window - now).num_milliseconds().max(0) as u64;
            return Err(Duration::from_secs(left.div_ceil(1000).max(1)));
        }
        if entry.is_none() && self.windows.len() >= self.max_tracked {
            self.windows.retain(|_, (s, _)| now < *s + window);
            if self.windows.len() >= self.max_tracked
                && let Some(oldest) = self.windows.iter().min_by_key(|(_, w)| w.0).map(|e| *e.0)
            {
                self.windows.remove(&oldest);
            }
        }
        self.windows.insert(key, (start, count + 1));
        Ok(())
    }
}

/// IPv4 as is, IPv6 by its /64 (one host usually holds a whole /64).
fn address_key(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut o = v6.octets();
                o[8..].fill(0);
                IpAddr::V6(o.into())
            }
        },
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_rate_limit_counts_per_address_and_window() {
        let t0 = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
        let mut s = Submissions::new(2, Duration::from_secs(60), 10);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        assert!(s.admit(a, t0).is_ok());
        assert!(s.admit(a, t0 + TimeDelta::seconds(10)).is_ok());
        assert_eq!(
            s.admit(a, t0 + TimeDelta::seconds(20)),
            Err(Duration::from_secs(40))
        );
        assert!(
            s.admit(b, t0 + TimeDelta::seconds(20)).is_ok(),
            "another address"
        );
        assert!(
            s.admit(a, t0 + TimeDelta::seconds(60)).is_ok(),
            "a new window"
        );
    }

    #[test]
    fn ipv6_counts_per_64_and_memory_is_bounded() {
        let t0 = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
        let mut s = Submissions::new(1, Duration::from_secs(60), 2);
        assert!(s.admit("2001:db8::1".parse().unwrap(), t0).is_ok());
        assert!(
            s.admit("2001:db8::2".parse().unwrap(), t0).is_err(),
            "same /64"
        );
        assert!(s.admit("2001:db8:0:1::1".parse().unwrap(), t0).is_ok());
        assert!(s.admit("192.0.2.9".parse().unwrap(), t0).is_ok());
        assert!(s.windows.len() <= 2);
    }

    #[test]
    fn the_section_is_checked() {
        let s = WebFormSection {
            queue: " ".into(),
            attachment_types: vec!["pdf".into()],
            window_s: 0,
            ..WebFormSection::default()
        };
        let paths: Vec<_> = s.validate().into_iter().map(|p| p.path).collect();
        assert_eq!(
            paths,
            [
                "web_form.queue",
                "web_form.attachment_types",
                "web_form.window_s"
            ]
        );
        assert!(WebFormSection::default().validate().is_empty());
    }
}
