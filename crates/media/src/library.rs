//! Prompts per language, loaded from `<dir>/<lang>/<name>.wav`.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use crate::error::MediaError;
use crate::prompt::Prompt;

/// All prompts, by language then name. Cheap to share: prompts are `Arc`s.
#[derive(Debug, Default, Clone)]
pub struct PromptLibrary {
    by_lang: HashMap<String, HashMap<String, Arc<Prompt>>>,
}

impl PromptLibrary {
    pub fn new() -> Self {
        Self::default()
    }

    /// Loads every `<dir>/<lang>/<name>.wav` (extension case-insensitive); other files and
    /// deeper folders are ignored. Any unreadable WAV fails the whole load, naming the file.
    pub fn load_dir(dir: &Path) -> Result<PromptLibrary, MediaError> {
        let io_err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| MediaError::Io { path, source }
        };
        let mut lib = PromptLibrary::new();
        for lang_entry in std::fs::read_dir(dir).map_err(io_err(dir))? {
            let lang_entry = lang_entry.map_err(io_err(dir))?;
            let lang_path = lang_entry.path();
            if !lang_path.is_dir() {
                continue;
            }
            let Some(lang) = lang_path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            for file in std::fs::read_dir(&lang_path).map_err(io_err(&lang_path))? {
                let path = file.map_err(io_err(&lang_path))?.path();
                let is_wav = path
                    .extension()
                    .and_then(|e| e.to_str())
                    .is_some_and(|e| e.eq_ignore_ascii_case("wav"));
                if !is_wav || !path.is_file() {
                    continue;
                }
                let Some(name) = path.file_stem().and_then(|n| n.to_str()) else {
                    continue;
                };
                let prompt = Prompt::from_wav_file(&path, name).map_err(|e| match e {
                    MediaError::Io { .. } => e,
                    other => MediaError::Io {
                        path: path.clone(),
                        source: std::io::Error::new(std::io::ErrorKind::InvalidData, other),
                    },
                })?;
                lib.insert(lang, prompt);
            }
        }
        Ok(lib)
    }

    /// Loads each folder of `dirs` in turn as [`PromptLibrary::load_dir`] does, a later
    /// folder's prompt replacing an earlier one of the same language and name (prompts an
    /// administrator uploaded over the shipped ones). A folder that does not exist is skipped.
    pub fn load_layers(dirs: &[&Path]) -> Result<PromptLibrary, MediaError> {
        let mut lib = PromptLibrary::new();
        for dir in dirs.iter().filter(|d| d.is_dir()) {
            let layer = PromptLibrary::load_dir(dir)?;
            for (lang, prompts) in layer.by_lang {
                lib.by_lang.entry(lang).or_default().extend(prompts);
            }
        }
        Ok(lib)
    }

    pub fn get(&self, lang: &str, name: &str) -> Option<Arc<Prompt>> {
        self.by_lang.get(lang)?.get(name).cloned()
    }

    /// Languages, sorted.
    pub fn languages(&self) -> Vec<String> {
        let mut v: Vec<String> = self.by_lang.keys().cloned().collect();
        v.sort();
        v
    }

    /// Prompt names in `lang`, sorted (empty for an unknown language).
    pub fn names(&self, lang: &str) -> Vec<String> {
        let mut v: Vec<String> = self
            .by_lang
            .get(lang)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        v.sort();
        v
    }

    /// Adds or replaces a prompt under its own name.
    pub fn insert(&mut self, lang: &str, prompt: Prompt) {
        self.by_lang
            .entry(lang.to_string())
            .or_default()
            .insert(prompt.name().to_string(), Arc::new(prompt));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_wav(path: &Path, rate: u32, seconds: f64) {
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: rate,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(path, spec).unwrap();
        for i in 0..(rate as f64 * seconds) as i32 {
            w.write_sample(((i % 40) * 500 - 10_000) as i16).unwrap();
        }
        w.finalize().unwrap();
    }

    #[test]
    fn loads_languages_and_names_and_ignores_other_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("it")).unwrap();
        std::fs::create_dir_all(dir.path().join("en/nested")).unwrap();
        write_wav(&dir.path().join("it/welcome.wav"), 16_000, 0.5);
        write_wav(&dir.path().join("it/goodbye.WAV"), 8000, 0.2);
        write_wav(&dir.path().join("en/welcome.wav"), 44_100, 0.1);
        std::fs::write(dir.path().join("en/README.txt"), "hi").unwrap();
        std::fs::write(dir.path().join("top.wav"), "not in a language folder").unwrap();
        let lib = PromptLibrary::load_dir(dir.path()).unwrap();
        assert_eq!(lib.languages(), vec!["en", "it"]);
        assert_eq!(lib.names("it"), vec!["goodbye", "welcome"]);
        assert_eq!(lib.names("fr"), Vec::<String>::new());
        let p = lib.get("it", "welcome").unwrap();
        assert_eq!(p.duration(), Duration::from_millis(500));
        assert_eq!(p.frames(crate::Codec::Pcma), 25);
        assert!(lib.get("en", "goodbye").is_none());
    }

    #[test]
    fn a_broken_wav_names_its_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("it")).unwrap();
        std::fs::write(dir.path().join("it/broken.wav"), "RIFF garbage").unwrap();
        let err = PromptLibrary::load_dir(dir.path()).unwrap_err();
        assert!(err.to_string().contains("broken.wav"), "{err}");
        let err = PromptLibrary::load_dir(&dir.path().join("missing")).unwrap_err();
        assert!(err.to_string().contains("missing"), "{err}");
    }

    #[test]
    fn insert_replaces_by_name() {
        let mut lib = PromptLibrary::new();
        lib.insert("it", Prompt::from_samples_8k(&[0; 160], "beep"));
        lib.insert("it", Prompt::from_samples_8k(&[0; 320], "beep"));
        assert_eq!(lib.get("it", "beep").unwrap().frames(crate::Codec::Pcmu), 2);
    }

    use std::time::Duration;
}
