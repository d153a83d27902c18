//! The prompt routes' view of the product (console's [`PromptAdmin`]): the two folders, who
//! uses which prompt, and the media side that converts uploads and hands reloaded prompts to
//! the calls.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use console::api::prompts::{PromptAdmin, PromptEngine};
use media::{Prompt, PromptLibrary};

use crate::config::Config;

/// Converts with the media engine's converter; reloads into the prompts new calls play.
struct CallPrompts {
    reloader: switchboard::IvrReloader,
}

impl PromptEngine for CallPrompts {
    fn convert(&self, bytes: &[u8], name: &str) -> Result<(Vec<u8>, Duration), String> {
        Prompt::convert_wav(bytes, name).map_err(|e| e.to_string())
    }

    fn reload(&self, layers: &[&Path]) -> Result<(), String> {
        let library = PromptLibrary::load_layers(layers).map_err(|e| e.to_string())?;
        self.reloader.replace_prompts(Arc::new(library));
        Ok(())
    }
}

/// The prompt routes' settings: `shipped` and `uploaded` folders; who uses which prompt is
/// read from the configuration in force (the file at `path` again, so a reload counts, else
/// `config`).
pub fn admin(
    config: &Config,
    path: Option<PathBuf>,
    shipped: PathBuf,
    uploaded: PathBuf,
    reloader: switchboard::IvrReloader,
) -> PromptAdmin {
    let fallback = config.clone();
    PromptAdmin {
        shipped,
        uploaded,
        in_use: Arc::new(move || {
            let current = path.as_deref().and_then(|p| Config::load(p).ok());
            current.as_ref().unwrap_or(&fallback).prompt_users()
        }),
        engine: Arc::new(CallPrompts { reloader }),
    }
}
