//! Persisted per-call facts: the fold of the event log cut at a watermark, kept compact so a
//! report reads one short row per call instead of re-parsing a dozen JSON events per call.
//!
//! The event log stays the single source of truth. A materializer feeds the events after
//! the watermark to a [`Ledger`] resumed from the [`OpenState`] saved with the watermark,
//! takes back ([`Ledger::reopen`]) the final records of calls those events are about, and
//! [`Ledger::checkpoint`]s it: final calls, agent hours and closures are stored, the open
//! state is saved with the new watermark, all in one transaction. A report reads the facts
//! of its period and folds only the events after the watermark the same way, in memory
//! ([`assemble`]). Since a resumed fold is the uninterrupted fold, the figures are those of
//! folding the whole log (proved by the tests of this module).
//!
//! The encoding ([`encode_call`], [`encode_open`]) is a `|`-separated token list, strings
//! escaped, times in nanoseconds (exact: the events' times round-trip).

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use events::{AgentStatus, Event, Outcome};

use crate::ledger::{
    AgentHour, AgentOpen, CallRecord, Closure, Folded, Offer, OfferResult, OpenState, QueueVisit,
    VisitEnd,
};

/// A fact that does not decode (a row written by something else, or damaged).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FactsError(pub String);

impl std::fmt::Display for FactsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "undecodable report fact: {}", self.0)
    }
}

impl std::error::Error for FactsError {}

fn bad(what: &str) -> FactsError {
    FactsError(what.to_owned())
}

fn escape(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '%' => out.push_str("%25"),
            '|' => out.push_str("%7C"),
            '\n' => out.push_str("%0A"),
            c => out.push(c),
        }
    }
}

fn unescape(s: &str) -> Result<String, FactsError> {
    if !s.contains('%') {
        return Ok(s.to_owned());
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('%') {
        out.push_str(&rest[..i]);
        let code = rest.get(i + 1..i + 3).ok_or_else(|| bad("escape"))?;
        out.push(match code {
            "25" => '%',
            "7C" => '|',
            "0A" => '\n',
            _ => return Err(bad("escape")),
        });
        rest = &rest[i + 3..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Writes tokens.
struct W(String);

impl W {
    fn tok(&mut self, s: &str) {
        if !self.0.is_empty() {
            self.0.push('|');
        }
        self.0.push_str(s);
    }
    fn text(&mut self, s: &str) {
        if !self.0.is_empty() {
            self.0.push('|');
        }
        self.0.push('=');
        escape(s, &mut self.0);
    }
    fn opt_text(&mut self, s: Option<&str>) {
        match s {
            Some(s) => self.text(s),
            None => self.tok("~"),
        }
    }
    fn int(&mut self, n: i64) {
        self.tok(&n.to_string());
    }
    fn uint(&mut self, n: u64) {
        self.tok(&n.to_string());
    }
    fn flag(&mut self, b: bool) {
        self.tok(if b { "1" } else { "0" });
    }
    /// `t` as nanoseconds after `base`.
    fn time(&mut self, t: DateTime<Utc>, base: DateTime<Utc>) {
        // Calls last hours, not centuries: the difference fits.
        self.int((t - base).num_nanoseconds().unwrap_or(i64::MAX));
    }
    fn opt_time(&mut self, t: Option<DateTime<Utc>>, base: DateTime<Utc>) {
        match t {
            Some(t) => self.time(t, base),
            None => self.tok("~"),
        }
    }
    fn instant(&mut self, t: DateTime<Utc>) {
        self.tok(&format!("{}.{}", t.timestamp(), t.timestamp_subsec_nanos()));
    }
}

/// Reads tokens.
struct R<'a>(std::str::Split<'a, char>);

impl<'a> R<'a> {
    fn tok(&mut self) -> Result<&'a str, FactsError> {
        self.0.next().ok_or_else(|| bad("truncated"))
    }
    fn text(&mut self) -> Result<String, FactsError> {
        let t = self.tok()?;
        unescape(t.strip_prefix('=').ok_or_else(|| bad("text"))?)
    }
    fn opt_text(&mut self) -> Result<Option<String>, FactsError> {
        let t = self.tok()?;
        if t == "~" {
            return Ok(None);
        }
        Ok(Some(unescape(
            t.strip_prefix('=').ok_or_else(|| bad("text"))?,
        )?))
    }
    fn int(&mut self) -> Result<i64, FactsError> {
        self.tok()?.parse().map_err(|_| bad("number"))
    }
    fn uint(&mut self) -> Result<u64, FactsError> {
        self.tok()?.parse().map_err(|_| bad("number"))
    }
    fn count(&mut self) -> Result<usize, FactsError> {
        self.tok()?.parse().map_err(|_| bad("count"))
    }
    fn flag(&mut self) -> Result<bool, FactsError> {
        match self.tok()? {
            "1" => Ok(true),
            "0" => Ok(false),
            _ => Err(bad("flag")),
        }
    }
    fn time(&mut self, base: DateTime<Utc>) -> Result<DateTime<Utc>, FactsError> {
        Ok(base + chrono::Duration::nanoseconds(self.int()?))
    }
    fn opt_time(&mut self, base: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, FactsError> {
        let t = self.tok()?;
        if t == "~" {
            return Ok(None);
        }
        let n: i64 = t.parse().map_err(|_| bad("time"))?;
        Ok(Some(base + chrono::Duration::nanoseconds(n)))
    }
    fn instant(&mut self) -> Result<DateTime<Utc>, FactsError> {
        let t = self.tok()?;
        let (s, n) = t.split_once('.').ok_or_else(|| bad("instant"))?;
        let (s, n) = (
            s.parse().map_err(|_| bad("instant"))?,
            n.parse().map_err(|_| bad("instant"))?,
        );
        DateTime::from_timestamp(s, n).ok_or_else(|| bad("instant"))
    }
    fn end(&mut self) -> Result<(), FactsError> {
        match self.0.next() {
            None => Ok(()),
            Some(_) => Err(bad("trailing tokens")),
        }
    }
}

fn outcome_of(s: &str) -> Result<Outcome, FactsError> {
    Outcome::ALL
        .into_iter()
        .find(|o| o.as_str() == s)
        .ok_or_else(|| bad("outcome"))
}

/// An agent state by its wire name.
pub fn status_of(s: &str) -> Option<AgentStatus> {
    AgentStatus::ALL.into_iter().find(|a| a.as_str() == s)
}

fn write_call(w: &mut W, c: &CallRecord) {
    let base = c.started_at;
    w.instant(base);
    w.flag(c.partial);
    w.opt_text(c.caller.as_deref());
    w.opt_text(c.dialled.as_deref());
    w.flag(c.welcomed);
    w.opt_time(c.ended_at, base);
    w.opt_text(c.outcome.map(Outcome::as_str));
    w.uint(c.visits.len() as u64);
    for v in &c.visits {
        w.text(&v.queue);
        w.time(v.entered_at, base);
        w.uint(v.offers.len() as u64);
        for o in &v.offers {
            w.text(&o.agent);
            w.time(o.at, base);
            w.tok(match o.result {
                OfferResult::Pending => "P",
                OfferResult::Answered => "A",
                OfferResult::RingNoAnswer => "N",
                OfferResult::Rejected => "R",
            });
        }
        match &v.end {
            VisitEnd::Waiting => w.tok("W"),
            VisitEnd::Answered {
                agent,
                wait_ms,
                within_service_level,
                at,
                talk_ms,
                transferred_to,
            } => {
                w.tok("A");
                w.text(agent);
                w.uint(*wait_ms);
                w.flag(*within_service_level);
                w.time(*at, base);
                match talk_ms {
                    Some(t) => w.uint(*t),
                    None => w.tok("~"),
                }
                w.opt_text(transferred_to.as_deref());
            }
            VisitEnd::Abandoned {
                wait_ms,
                within_service_level,
                at,
            } => {
                w.tok("B");
                w.uint(*wait_ms);
                w.flag(*within_service_level);
                w.time(*at, base);
            }
            VisitEnd::Overflowed {
                wait_ms,
                within_service_level,
                to,
                at,
            } => {
                w.tok("O");
                w.uint(*wait_ms);
                w.flag(*within_service_level);
                w.text(to);
                w.time(*at, base);
            }
        }
    }
}

fn read_call(r: &mut R<'_>, call_id: String) -> Result<CallRecord, FactsError> {
    let base = r.instant()?;
    let partial = r.flag()?;
    let caller = r.opt_text()?;
    let dialled = r.opt_text()?;
    let welcomed = r.flag()?;
    let ended_at = r.opt_time(base)?;
    let outcome = r.opt_text()?.map(|o| outcome_of(&o)).transpose()?;
    let n = r.count()?;
    let mut visits = Vec::with_capacity(n.min(64));
    for _ in 0..n {
        let queue = r.text()?;
        let entered_at = r.time(base)?;
        let k = r.count()?;
        let mut offers = Vec::with_capacity(k.min(64));
        for _ in 0..k {
            let agent = r.text()?;
            let at = r.time(base)?;
            let result = match r.tok()? {
                "P" => OfferResult::Pending,
                "A" => OfferResult::Answered,
                "N" => OfferResult::RingNoAnswer,
                "R" => OfferResult::Rejected,
                _ => return Err(bad("offer result")),
            };
            offers.push(Offer { agent, at, result });
        }
        let end = match r.tok()? {
            "W" => VisitEnd::Waiting,
            "A" => {
                let agent = r.text()?;
                let wait_ms = r.uint()?;
                let within_service_level = r.flag()?;
                let at = r.time(base)?;
                let talk_ms = match r.tok()? {
                    "~" => None,
                    t => Some(t.parse().map_err(|_| bad("talk"))?),
                };
                VisitEnd::Answered {
                    agent,
                    wait_ms,
                    within_service_level,
                    at,
                    talk_ms,
                    transferred_to: r.opt_text()?,
                }
            }
            "B" => VisitEnd::Abandoned {
                wait_ms: r.uint()?,
                within_service_level: r.flag()?,
                at: r.time(base)?,
            },
            "O" => VisitEnd::Overflowed {
                wait_ms: r.uint()?,
                within_service_level: r.flag()?,
                to: r.text()?,
                at: r.time(base)?,
            },
            _ => return Err(bad("visit end")),
        };
        visits.push(QueueVisit {
            queue,
            entered_at,
            offers,
            end,
        });
    }
    Ok(CallRecord {
        call_id,
        started_at: base,
        partial,
        caller,
        dialled,
        welcomed,
        ended_at,
        outcome,
        visits,
    })
}

/// A call record as stored (its id is stored apart).
pub fn encode_call(call: &CallRecord) -> String {
    let mut w = W(String::with_capacity(96));
    write_call(&mut w, call);
    w.0
}

/// Back from [`encode_call`].
pub fn decode_call(call_id: &str, body: &str) -> Result<CallRecord, FactsError> {
    let mut r = R(body.split('|'));
    let call = read_call(&mut r, call_id.to_owned())?;
    r.end()?;
    Ok(call)
}

/// The open state as stored with the watermark: a line per open call and per agent.
pub fn encode_open(open: &OpenState) -> String {
    let mut out = String::new();
    for c in &open.calls {
        let mut w = W(String::new());
        w.tok("C");
        w.text(&c.call_id);
        write_call(&mut w, c);
        out.push_str(&w.0);
        out.push('\n');
    }
    for a in &open.agents {
        let mut w = W(String::new());
        w.tok("A");
        w.text(&a.login);
        w.tok(a.state.as_str());
        w.opt_text(a.reason.as_deref());
        w.instant(a.since);
        w.opt_text(a.last_queue.as_deref());
        w.opt_text(a.span_queue.as_deref());
        out.push_str(&w.0);
        out.push('\n');
    }
    out
}

/// Back from [`encode_open`].
pub fn decode_open(s: &str) -> Result<OpenState, FactsError> {
    let mut open = OpenState::default();
    for line in s.lines().filter(|l| !l.is_empty()) {
        let mut r = R(line.split('|'));
        match r.tok()? {
            "C" => {
                let id = r.text()?;
                open.calls.push(read_call(&mut r, id)?);
            }
            "A" => open.agents.push(AgentOpen {
                login: r.text()?,
                state: status_of(r.tok()?).ok_or_else(|| bad("agent state"))?,
                reason: r.opt_text()?,
                since: r.instant()?,
                last_queue: r.opt_text()?,
                span_queue: r.opt_text()?,
            }),
            _ => return Err(bad("open state line")),
        }
        r.end()?;
    }
    Ok(open)
}

/// The calls whose stored (final) record must be taken back before folding `events` on
/// top of `open`: those an event is about, that are not open, and whose first event here is
/// not their start (a call's id is new at `call.started`).
pub fn to_reopen<'a>(open: &OpenState, events: impl IntoIterator<Item = &'a Event>) -> Vec<String> {
    let mut seen: HashSet<&str> = open.calls.iter().map(|c| c.call_id.as_str()).collect();
    let mut out = Vec::new();
    for e in events {
        let Some(id) = crate::Ledger::call_of(e) else {
            continue;
        };
        if seen.insert(id) && !matches!(e, Event::CallStarted { .. }) {
            out.push(id.to_owned());
        }
    }
    out
}

/// Agent hours summed per (hour, agent, state, reason, queue), in that order: hours stored
/// by successive checkpoints, plus those of the tail, become what one fold would give.
/// (Sorted in place and summed run by run: no key is copied, which a year's ~200,000 rows
/// made measurable; equal keys keep the first row, as a map insertion would.)
pub fn merge_hours(hours: impl IntoIterator<Item = AgentHour>) -> Vec<AgentHour> {
    fn key(
        h: &AgentHour,
    ) -> (
        DateTime<Utc>,
        &str,
        &'static str,
        Option<&str>,
        Option<&str>,
    ) {
        (
            h.hour,
            h.agent.as_str(),
            h.state.as_str(),
            h.reason.as_deref(),
            h.queue.as_deref(),
        )
    }
    let mut all: Vec<AgentHour> = hours.into_iter().collect();
    all.sort_by(|a, b| key(a).cmp(&key(b)));
    let mut out: Vec<AgentHour> = Vec::with_capacity(all.len());
    for h in all {
        match out.last_mut() {
            Some(m) if key(m) == key(&h) => {
                m.ms += h.ms;
                m.started += h.started;
                m.started_ms += h.started_ms;
            }
            _ => out.push(h),
        }
    }
    out
}

/// A report's input from the stored facts of its period and the fold of the tail (the
/// events after the watermark, on top of the open state and the reopened calls): a tail
/// record replaces a stored one of the same call.
pub fn assemble(
    stored_calls: Vec<CallRecord>,
    stored_hours: Vec<AgentHour>,
    stored_closures: Vec<Closure>,
    tail: Folded,
) -> Folded {
    let in_tail: HashSet<&str> = tail.calls.iter().map(|c| c.call_id.as_str()).collect();
    let mut calls: Vec<CallRecord> = stored_calls
        .into_iter()
        .filter(|c| !in_tail.contains(c.call_id.as_str()))
        .collect();
    calls.extend(tail.calls);
    let mut closures = stored_closures;
    closures.extend(tail.closures);
    Folded {
        calls,
        agent_hours: merge_hours(stored_hours.into_iter().chain(tail.agent_hours)),
        closures,
    }
}

/// Keeps only the calls whose span meets `[from, to)`.
pub fn meets(call: &CallRecord, from: DateTime<Utc>, to: DateTime<Utc>) -> bool {
    let (first, last) = crate::ledger::call_span(call);
    first < to && last >= from
}
