//! Identification by PIN or caller number (R-IVR-4): lookups, misses, the second attempt
//! and the fallback from ANI to PIN.

use std::sync::Arc;
use std::time::Instant;

use super::{After, Engine};
use crate::tree::{Node, NodeId};
use crate::types::{Customer, IdentifiedBy, StepKind};

impl Engine {
    pub(super) fn method(&self) -> IdentifiedBy {
        if self.pin_mode {
            IdentifiedBy::Pin
        } else {
            IdentifiedBy::Ani
        }
    }

    pub(super) fn on_lookup(&mut self, customer: Option<Customer>, now: Instant) {
        let Some(c) = customer else {
            if let Some(next) = self.id_miss(false, now) {
                self.goto(next, now);
            }
            return;
        };
        let tree = Arc::clone(&self.tree);
        let Node::Identify(i) = &tree.nodes[self.node] else {
            return;
        };
        self.step(
            StepKind::Identification {
                node: self.name(self.node),
                method: self.method(),
                attempt: self.attempt,
                customer_id: Some(c.id),
                no_input: false,
            },
            now,
        );
        self.customer = Some(c);
        self.identified_by = self.method();
        let lang = self.language.clone();
        if let Some(next) = self.play(
            i.identified.get(&lang),
            false,
            After::Goto(i.on_success),
            now,
        ) {
            self.goto(next, now);
        }
    }

    /// The PIN was not looked up (the caller's number, or everyone, failed too often lately):
    /// unidentified at once, without a second attempt.
    pub(super) fn on_refused(&mut self, now: Instant) {
        let tree = Arc::clone(&self.tree);
        let Node::Identify(i) = &tree.nodes[self.node] else {
            return;
        };
        self.step(
            StepKind::Identification {
                node: self.name(self.node),
                method: self.method(),
                attempt: self.attempt,
                customer_id: None,
                no_input: false,
            },
            now,
        );
        self.digits.clear();
        self.carry.clear();
        let lang = self.language.clone();
        if let Some(next) = self.play(
            i.not_identified.get(&lang),
            false,
            After::Goto(i.on_failure),
            now,
        ) {
            self.goto(next, now);
        }
    }

    /// An identification attempt failed: explain and try again, fall back from ANI to PIN, or
    /// go on unidentified (R-IVR-4).
    pub(super) fn id_miss(&mut self, no_input: bool, now: Instant) -> Option<NodeId> {
        let tree = Arc::clone(&self.tree);
        let Node::Identify(i) = &tree.nodes[self.node] else {
            return None;
        };
        self.step(
            StepKind::Identification {
                node: self.name(self.node),
                method: self.method(),
                attempt: self.attempt,
                customer_id: None,
                no_input,
            },
            now,
        );
        let lang = self.language.clone();
        self.digits.clear();
        if !self.pin_mode {
            if i.fallback_to_pin {
                self.pin_mode = true;
                self.attempt = 1;
                return self.play(i.prompts.get(&lang), i.barge_in, After::Listen, now);
            }
        } else if self.attempt < i.attempts {
            self.attempt += 1;
            self.carry.clear();
            let explain = if no_input { &i.no_input } else { &i.invalid };
            let mut all = explain.get(&lang).to_vec();
            all.extend_from_slice(i.prompts.get(&lang));
            return self.play(&all, i.barge_in, After::Listen, now);
        }
        self.play(
            i.not_identified.get(&lang),
            false,
            After::Goto(i.on_failure),
            now,
        )
    }
}
