//! [`Tree::build`]: an [`IvrConfig`] checked node by node into a [`Tree`], then checked as a
//! whole (`validate`), with every [`Problem`] found on the way.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use calendar::BusinessCalendar;

use crate::config::{IvrConfig, NodeConfig, Prompts};
use crate::problem::{Problem, Severity};
use crate::tree::{DigitRules, Identify, Node, NodeId, PromptSet, Schedule, Tree};
use crate::validate;

impl Tree {
    /// Checks `cfg` and builds the tree. `known_prompts` answers whether a prompt name exists
    /// (the switchboard looks for `prompts/<language>/<name>.wav`).
    ///
    /// `Ok` carries the tree and its warnings (unreachable nodes, unused schedules); `Err`
    /// carries every problem, errors and warnings, when there is at least one error.
    #[allow(clippy::type_complexity)]
    pub fn build(
        cfg: &IvrConfig,
        known_prompts: &dyn Fn(&str) -> bool,
    ) -> Result<(Arc<Tree>, Vec<Problem>), Vec<Problem>> {
        let mut b = Builder {
            cfg,
            known_prompts,
            problems: Vec::new(),
            ids: cfg
                .nodes
                .keys()
                .enumerate()
                .map(|(i, n)| (n.as_str(), i))
                .collect(),
        };
        let mut schedules = Vec::new();
        let mut schedule_ids = HashMap::new();
        for (name, s) in &cfg.schedules {
            let out_of_hours = match &s.out_of_hours {
                Some(p) => b.prompts(&format!("ivr.schedules.{name}.out_of_hours"), p),
                None => PromptSet::default(),
            };
            match BusinessCalendar::new(&s.calendar) {
                Ok(calendar) => {
                    schedule_ids.insert(name.as_str(), schedules.len());
                    schedules.push(Schedule {
                        name: name.clone(),
                        calendar,
                        out_of_hours,
                    });
                }
                Err(errors) => {
                    for e in errors.0 {
                        b.error(
                            format!("ivr.schedules.{name}.calendar.{}", e.field),
                            e.message,
                        );
                    }
                }
            }
        }
        let mut nodes = Vec::with_capacity(cfg.nodes.len());
        for (name, node) in &cfg.nodes {
            nodes.push(b.node(name, node, &schedule_ids, &schedules));
        }
        let default_entry = b.target("ivr.default_entry".into(), &cfg.default_entry);
        let mut entries = HashMap::new();
        for (number, node) in &cfg.entries {
            let path = format!("ivr.entries.{number}");
            if number.is_empty() || !number.chars().all(|c| c.is_ascii_digit() || c == '+') {
                b.warning(
                    path.clone(),
                    format!("expected a dialled number (digits, optional +), got {number:?}"),
                );
            }
            entries.insert(number.clone(), b.target(path, node));
        }
        let mut problems = b.problems;
        if !problems.iter().any(|p| p.severity == Severity::Error) {
            let tree = Tree {
                nodes,
                names: cfg.nodes.keys().cloned().collect(),
                schedules,
                entries,
                default_entry,
                default_language: cfg.default_language.clone(),
            };
            validate::graph(&tree, cfg, &mut problems);
            if !problems.iter().any(|p| p.severity == Severity::Error) {
                return Ok((Arc::new(tree), problems));
            }
        }
        problems.sort_by_key(|p| p.severity);
        Err(problems)
    }
}

struct Builder<'a> {
    cfg: &'a IvrConfig,
    known_prompts: &'a dyn Fn(&str) -> bool,
    problems: Vec<Problem>,
    ids: BTreeMap<&'a str, NodeId>,
}

const DTMF: &str = "0123456789*#ABCD";

impl Builder<'_> {
    fn error(&mut self, path: String, message: String) {
        self.problems.push(Problem {
            path,
            message,
            severity: Severity::Error,
        });
    }

    fn warning(&mut self, path: String, message: String) {
        self.problems.push(Problem {
            path,
            message,
            severity: Severity::Warning,
        });
    }

    fn target(&mut self, path: String, name: &str) -> NodeId {
        match self.ids.get(name) {
            Some(&id) => id,
            None => {
                self.error(
                    path,
                    format!("unknown node {name:?}: expected a name from [ivr.nodes]"),
                );
                0
            }
        }
    }

    fn prompts(&mut self, path: &str, p: &Prompts) -> PromptSet {
        let check = |b: &mut Self, path: String, names: &[String]| {
            for (i, n) in names.iter().enumerate() {
                if !(b.known_prompts)(n) {
                    b.error(
                        format!("{path}[{i}]"),
                        format!("missing prompt {n:?}: no recording by that name"),
                    );
                }
            }
            names.to_vec()
        };
        match p {
            Prompts::One(n) => {
                if !(self.known_prompts)(n) {
                    self.error(
                        path.to_string(),
                        format!("missing prompt {n:?}: no recording by that name"),
                    );
                }
                PromptSet {
                    default: vec![n.clone()],
                    by_language: Vec::new(),
                }
            }
            Prompts::List(l) => PromptSet {
                default: check(self, path.to_string(), l),
                by_language: Vec::new(),
            },
            Prompts::ByLanguage(map) => {
                let mut set = PromptSet::default();
                for (lang, names) in map {
                    let names = check(self, format!("{path}.{lang}"), names);
                    if lang == "default" {
                        set.default = names;
                    } else {
                        set.by_language.push((lang.clone(), names));
                    }
                }
                if !map.contains_key("default") {
                    match map.get(&self.cfg.default_language) {
                        Some(d) => set.default = d.clone(),
                        None => self.error(
                            path.to_string(),
                            format!(
                                "expected a `default` list or one for the default language {:?}",
                                self.cfg.default_language
                            ),
                        ),
                    }
                }
                set
            }
        }
    }

    fn terminator(&mut self, path: String, t: &str) -> Option<char> {
        let mut chars = t.chars();
        match (chars.next(), chars.next()) {
            (None, _) => None,
            (Some(c), None) if DTMF.contains(c) => Some(c),
            _ => {
                self.error(
                    path,
                    format!("expected one key of 0-9 * # A-D, or \"\" for none, got {t:?}"),
                );
                None
            }
        }
    }

    fn positive(&mut self, path: String, v: u32, what: &str) -> u32 {
        if v == 0 {
            self.error(path, format!("expected {what} of at least 1, got 0"));
            return 1;
        }
        v
    }

    fn rules(
        &mut self,
        p: &str,
        max: u32,
        min: u32,
        term: &str,
        first: Option<u64>,
        inter: Option<u64>,
    ) -> DigitRules {
        let max_digits = self.positive(format!("{p}.max_digits"), max, "max_digits") as usize;
        if min as usize > max_digits {
            self.error(
                format!("{p}.min_digits"),
                format!("expected min_digits <= max_digits ({max_digits}), got {min}"),
            );
        }
        let terminator = self.terminator(format!("{p}.terminator"), term);
        let t = self.cfg.timers;
        DigitRules {
            max_digits,
            min_digits: min as usize,
            terminator,
            first: Duration::from_millis(first.unwrap_or(t.digit_timeout_ms)),
            inter: Duration::from_millis(inter.unwrap_or(t.inter_digit_timeout_ms)),
        }
    }

    fn node(
        &mut self,
        name: &str,
        node: &NodeConfig,
        schedule_ids: &HashMap<&str, usize>,
        schedules: &[Schedule],
    ) -> Node {
        let p = format!("ivr.nodes.{name}");
        match node {
            NodeConfig::Announcement(a) => Node::Announcement {
                prompts: self.prompts(&format!("{p}.prompts"), &a.prompts),
                next: self.target(format!("{p}.next"), &a.next),
                barge_in: a.barge_in,
            },
            NodeConfig::Menu(m) => {
                let mut options = Vec::new();
                for (digit, target) in &m.options {
                    let path = format!("{p}.options.{digit}");
                    let id = self.target(path.clone(), target);
                    let mut chars = digit.chars();
                    match (chars.next(), chars.next()) {
                        (Some(c), None) if DTMF.contains(c) => options.push((c, id)),
                        _ => self.error(
                            path,
                            format!("expected one key of 0-9 * # A-D, got {digit:?}"),
                        ),
                    }
                }
                if options.is_empty() && !m.options.is_empty() {
                    // Errors already reported.
                } else if options.is_empty() {
                    self.error(
                        format!("{p}.options"),
                        "expected at least one option".into(),
                    );
                }
                let mut labels = Vec::new();
                for (digit, label) in &m.labels {
                    match digit.chars().next() {
                        Some(d)
                            if digit.chars().count() == 1
                                && options.iter().any(|(o, _)| *o == d) =>
                        {
                            labels.push((d, label.clone()));
                        }
                        _ => self.warning(
                            format!("{p}.labels.{digit}"),
                            "a label for a digit that is not an option: ignored".into(),
                        ),
                    }
                }
                Node::Menu {
                    prompts: self.prompts(&format!("{p}.prompts"), &m.prompts),
                    options,
                    labels,
                    attempts: self.positive(format!("{p}.attempts"), m.attempts, "attempts"),
                    invalid: self.prompts(&format!("{p}.invalid_prompts"), &m.invalid_prompts),
                    no_input: self.prompts(&format!("{p}.no_input_prompts"), &m.no_input_prompts),
                    on_failure: self.target(format!("{p}.on_failure"), &m.on_failure),
                    barge_in: m.barge_in,
                    timeout: Duration::from_millis(
                        m.digit_timeout_ms
                            .unwrap_or(self.cfg.timers.digit_timeout_ms),
                    ),
                }
            }
            NodeConfig::Collect(c) => Node::Collect {
                prompts: self.prompts(&format!("{p}.prompts"), &c.prompts),
                store: c.store.clone(),
                rules: self.rules(
                    &p,
                    c.max_digits,
                    0,
                    &c.terminator,
                    c.digit_timeout_ms,
                    c.inter_digit_timeout_ms,
                ),
                next: self.target(format!("{p}.next"), &c.next),
                barge_in: c.barge_in,
            },
            NodeConfig::Identify(i) => Node::Identify(Box::new(Identify {
                method: i.method,
                prompts: self.prompts(&format!("{p}.prompts"), &i.prompts),
                rules: self.rules(
                    &p,
                    i.max_digits,
                    i.min_digits,
                    &i.terminator,
                    i.digit_timeout_ms,
                    i.inter_digit_timeout_ms,
                ),
                attempts: self.positive(format!("{p}.attempts"), i.attempts, "attempts"),
                invalid: self.prompts(&format!("{p}.invalid_prompts"), &i.invalid_prompts),
                no_input: self.prompts(&format!("{p}.no_input_prompts"), &i.no_input_prompts),
                identified: self.prompts(&format!("{p}.identified_prompts"), &i.identified_prompts),
                not_identified: self.prompts(
                    &format!("{p}.not_identified_prompts"),
                    &i.not_identified_prompts,
                ),
                fallback_to_pin: i.fallback_to_pin,
                on_success: self.target(format!("{p}.on_success"), &i.on_success),
                on_failure: self.target(format!("{p}.on_failure"), &i.on_failure),
                barge_in: i.barge_in,
            })),
            NodeConfig::Schedule(s) => {
                let schedule = match schedule_ids.get(s.schedule.as_str()) {
                    Some(&id) => id,
                    None => {
                        if !self.cfg.schedules.contains_key(&s.schedule) {
                            self.error(
                                format!("{p}.schedule"),
                                format!(
                                    "unknown schedule {:?}: expected a name from [ivr.schedules]",
                                    s.schedule
                                ),
                            );
                        }
                        0
                    }
                };
                let opt = |b: &mut Self, field: &str, v: &Option<Prompts>| {
                    v.as_ref()
                        .map(|v| b.prompts(&format!("{p}.{field}"), v))
                        .unwrap_or_default()
                };
                let open_prompts = opt(self, "open_prompts", &s.open_prompts);
                let closed_prompts = match &s.closed_prompts {
                    Some(c) => self.prompts(&format!("{p}.closed_prompts"), c),
                    None => schedule_ids
                        .get(s.schedule.as_str())
                        .map(|&id| schedules[id].out_of_hours.clone())
                        .unwrap_or_default(),
                };
                let holiday_prompts = match &s.holiday_prompts {
                    Some(h) => self.prompts(&format!("{p}.holiday_prompts"), h),
                    None => closed_prompts.clone(),
                };
                Node::Schedule {
                    schedule,
                    open: self.target(format!("{p}.open"), &s.open),
                    closed: self.target(format!("{p}.closed"), &s.closed),
                    open_prompts,
                    closed_prompts,
                    holiday_prompts,
                }
            }
            NodeConfig::Route(r) => {
                if r.queue.trim().is_empty() {
                    self.error(
                        format!("{p}.queue"),
                        "expected a queue name, got \"\"".into(),
                    );
                }
                Node::Route {
                    queue: r.queue.clone(),
                    area: r.area.clone(),
                    sr_type: r.sr_type.clone(),
                    prompts: self.prompts(&format!("{p}.prompts"), &r.prompts),
                }
            }
            NodeConfig::Voicemail(v) => {
                if v.mailbox.trim().is_empty() {
                    self.error(
                        format!("{p}.mailbox"),
                        "expected a mailbox name, got \"\"".into(),
                    );
                }
                Node::Voicemail {
                    mailbox: v.mailbox.clone(),
                    prompts: self.prompts(&format!("{p}.prompts"), &v.prompts),
                }
            }
            NodeConfig::Hangup(h) => Node::Hangup {
                prompts: self.prompts(&format!("{p}.prompts"), &h.prompts),
            },
        }
    }
}

#[cfg(test)]
#[path = "build_tests.rs"]
mod tests;
