//! Reloading a configuration into a running switchboard (SIGHUP, the console's reload), and
//! the prompt routes' view of which prompt is used by what.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use media::PromptLibrary;
use tracing::error;

use crate::IvrReloader;

/// Builds the IVR tree of `ivr`, with its prompts checked against `prompts`.
pub fn build_ivr(
    ivr: &ivr::IvrConfig,
    prompts: &PromptLibrary,
) -> Result<Arc<ivr::Tree>, Vec<ivr::Problem>> {
    let languages = prompts.languages();
    let known = |name: &str| languages.iter().any(|l| prompts.get(l, name).is_some());
    ivr::Tree::build(ivr, &known).map(|(tree, _warnings)| tree)
}

/// What a reload replaces in a running switchboard: the IVR tree of new calls and the prompts
/// (shipped and uploaded, read again from disk). Calls in progress go on undisturbed. (The
/// ACD's queues and agents are the database's: the binary applies them.)
#[derive(Clone)]
pub struct Reload {
    pub ivr: IvrReloader,
    /// The administrators' uploaded prompts, layered over the shipped ones.
    pub uploaded: PathBuf,
}

impl Reload {
    /// Applies a new (validated) configuration: the prompts of `prompts_dir` and the uploaded
    /// folder, and the tree of `ivr`. If the prompts cannot be read or the tree is not valid
    /// against them, nothing changes and every problem is returned (and logged). Blocking:
    /// it decodes every prompt.
    pub fn apply(&self, ivr: &ivr::IvrConfig, prompts_dir: &Path) -> Result<(), String> {
        let prompts = match PromptLibrary::load_layers(&[prompts_dir, &self.uploaded]) {
            Ok(lib) => Arc::new(lib),
            Err(e) => {
                error!("reload refused: prompts cannot be read: {e}");
                return Err(format!("prompts cannot be read: {e}"));
            }
        };
        match build_ivr(ivr, &prompts) {
            Ok(tree) => {
                self.ivr.replace_prompts(prompts);
                self.ivr.replace(tree);
            }
            Err(problems) => {
                let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
                for problem in &text {
                    error!("reload refused: {problem}");
                }
                return Err(text.join("\n"));
            }
        }
        Ok(())
    }
}

/// Prompt name → what uses it: the IVR tree, the hold music, the voicemail greeting, and the
/// prompts the switchboard plays itself (queue announcements with their numbers, notices).
pub fn prompt_users(
    ivr: &ivr::IvrConfig,
    hold_music: &str,
    voicemail_greeting: &str,
) -> BTreeMap<String, Vec<String>> {
    let mut users: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let asked = RefCell::new(BTreeSet::new());
    // The tree asks about every prompt name it refers to.
    let _ = ivr::Tree::build(ivr, &|name| {
        asked.borrow_mut().insert(name.to_string());
        true
    });
    let mut add = |name: &str, user: &str| {
        users
            .entry(name.to_string())
            .or_default()
            .push(user.to_string());
    };
    for name in asked.into_inner() {
        add(&name, "IVR tree");
    }
    add(hold_music, "queues (hold music)");
    add(voicemail_greeting, "voicemail (greeting)");
    for name in crate::SYSTEM_PROMPTS {
        add(name, "queue and voicemail announcements");
    }
    for n in (0..20).chain([20, 30, 40, 50, 60, 70, 80, 90, 100]) {
        add(&format!("num_{n}"), "queue announcements (numbers)");
    }
    users
}
