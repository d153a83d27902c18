//! [`Problem`]: what is wrong in an IVR configuration, found by the per-node checks of
//! [`Tree::build`](crate::Tree::build) and the whole-tree checks of `validate`.

use std::fmt;

/// How bad a [`Problem`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// The tree is not built.
    Error,
    /// Built, but probably not what was meant.
    Warning,
}

/// Something wrong in the configuration, at `path` (e.g. `ivr.nodes.main.options.1`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Problem {
    /// Dotted path of the key, from the `ivr` table; list items as `name[i]`.
    pub path: String,
    /// What was expected and what came.
    pub message: String,
    /// Error or warning.
    pub severity: Severity,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{sev}: {}: {}", self.path, self.message)
    }
}
