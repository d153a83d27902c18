//! [`Tree`]: the checked, immutable IVR the engine walks, and its nodes. It is built, and
//! checked, from an [`IvrConfig`](crate::IvrConfig) by [`Tree::build`] (in `build`).

use std::collections::HashMap;
use std::time::Duration;

use calendar::BusinessCalendar;

use crate::config::IdentifyMethod;

/// Index of a node in [`Tree`].
pub(crate) type NodeId = usize;

/// Prompt names per language.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct PromptSet {
    pub(crate) default: Vec<String>,
    pub(crate) by_language: Vec<(String, Vec<String>)>,
}

impl PromptSet {
    /// The names to play for `language`.
    pub(crate) fn get(&self, language: &str) -> &[String] {
        self.by_language
            .iter()
            .find(|(l, _)| l == language)
            .map_or(&self.default, |(_, p)| p)
    }
}

/// Rules for typed digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DigitRules {
    pub max_digits: usize,
    pub min_digits: usize,
    pub terminator: Option<char>,
    pub first: Duration,
    pub inter: Duration,
}

/// A checked node.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    Announcement {
        prompts: PromptSet,
        next: NodeId,
        barge_in: bool,
    },
    Menu {
        prompts: PromptSet,
        options: Vec<(char, NodeId)>,
        /// What each option is, in words (from `labels`).
        labels: Vec<(char, String)>,
        attempts: u32,
        invalid: PromptSet,
        no_input: PromptSet,
        on_failure: NodeId,
        barge_in: bool,
        timeout: Duration,
    },
    Collect {
        prompts: PromptSet,
        store: String,
        rules: DigitRules,
        next: NodeId,
        barge_in: bool,
    },
    Identify(Box<Identify>),
    Schedule {
        schedule: usize,
        open: NodeId,
        closed: NodeId,
        open_prompts: PromptSet,
        closed_prompts: PromptSet,
        holiday_prompts: PromptSet,
    },
    Route {
        queue: String,
        area: Option<String>,
        sr_type: Option<String>,
        prompts: PromptSet,
    },
    Voicemail {
        mailbox: String,
        prompts: PromptSet,
    },
    Hangup {
        prompts: PromptSet,
    },
}

/// A checked `identify` node.
#[derive(Debug, Clone)]
pub(crate) struct Identify {
    pub method: IdentifyMethod,
    pub prompts: PromptSet,
    pub rules: DigitRules,
    pub attempts: u32,
    pub invalid: PromptSet,
    pub no_input: PromptSet,
    pub identified: PromptSet,
    pub not_identified: PromptSet,
    pub fallback_to_pin: bool,
    pub on_success: NodeId,
    pub on_failure: NodeId,
    pub barge_in: bool,
}

/// A checked schedule.
#[derive(Debug, Clone)]
pub(crate) struct Schedule {
    pub name: String,
    pub calendar: BusinessCalendar,
    pub out_of_hours: PromptSet,
}

/// The IVR tree: immutable once built; calls share it through an `Arc`, and a reload builds a
/// new one while calls in progress keep the one they started with.
#[derive(Debug)]
pub struct Tree {
    pub(crate) nodes: Vec<Node>,
    pub(crate) names: Vec<String>,
    pub(crate) schedules: Vec<Schedule>,
    pub(crate) entries: HashMap<String, NodeId>,
    pub(crate) default_entry: NodeId,
    pub(crate) default_language: String,
}

impl Tree {
    /// The entry node for a dialled number.
    pub(crate) fn entry(&self, dialled: Option<&str>) -> NodeId {
        dialled
            .and_then(|d| self.entries.get(d))
            .copied()
            .unwrap_or(self.default_entry)
    }

    /// Every entry node, the default first.
    pub(crate) fn entry_nodes(&self) -> impl Iterator<Item = NodeId> + '_ {
        std::iter::once(self.default_entry).chain(self.entries.values().copied())
    }

    /// The name of the node a dialled number enters at.
    pub fn entry_name(&self, dialled: Option<&str>) -> &str {
        &self.names[self.entry(dialled)]
    }

    /// Node names, sorted.
    pub fn node_names(&self) -> &[String] {
        &self.names
    }
}
