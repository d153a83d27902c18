//! The voicemail boxes on disk (R-IVR-5): one folder per mailbox under the voicemail folder,
//! a quota over all of them plus the disk's free space, and the retention sweep. Every
//! function here does blocking file IO: call them from `spawn_blocking`, never on a call task.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tracing::info;

use crate::VoicemailSettings;

/// The most a message can take: 8 kHz 16-bit mono for the maximum length, plus the header.
fn largest_message(settings: &VoicemailSettings) -> u64 {
    settings.max_length.as_secs().saturating_add(1) * 16_000 + 44
}

/// The WAV files under the voicemail folder (mailbox folders one level down).
fn messages(dir: &Path) -> Vec<(PathBuf, std::fs::Metadata)> {
    let mut out = Vec::new();
    let Ok(boxes) = std::fs::read_dir(dir) else {
        return out;
    };
    for mailbox in boxes.flatten() {
        let Ok(files) = std::fs::read_dir(mailbox.path()) else {
            continue;
        };
        for file in files.flatten() {
            let path = file.path();
            if path.extension().is_some_and(|e| e == "wav")
                && let Ok(meta) = file.metadata()
            {
                out.push((path, meta));
            }
        }
    }
    out
}

/// Whether one more message of the maximum length fits in the quota and on the disk.
pub(crate) fn storage_allows(settings: &VoicemailSettings) -> Result<(), String> {
    let need = largest_message(settings);
    let used: u64 = messages(&settings.dir).iter().map(|(_, m)| m.len()).sum();
    if used.saturating_add(need) > settings.max_total_bytes {
        return Err(format!(
            "messages take {used} bytes of the {} allowed",
            settings.max_total_bytes
        ));
    }
    let stat = rustix::fs::statvfs(&settings.dir).map_err(|e| e.to_string())?;
    let free = stat.f_bavail.saturating_mul(stat.f_frsize);
    if free < settings.min_free_bytes.saturating_add(need) {
        return Err(format!(
            "{free} bytes free on the disk, {} must stay free",
            settings.min_free_bytes
        ));
    }
    Ok(())
}

/// Deletes message files older than the retention, now and every hour.
pub(crate) fn spawn_retention(settings: &VoicemailSettings) {
    let Some(retention) = settings.retention else {
        return;
    };
    let dir = settings.dir.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(3600));
        loop {
            every.tick().await;
            let dir = dir.clone();
            let removed = tokio::task::spawn_blocking(move || sweep(&dir, retention))
                .await
                .unwrap_or(0);
            if removed > 0 {
                info!(removed, "voicemail files past their retention deleted");
            }
        }
    });
}

fn sweep(dir: &Path, retention: Duration) -> usize {
    let now = std::time::SystemTime::now();
    let mut removed = 0;
    for (path, meta) in messages(dir) {
        let old = meta
            .modified()
            .ok()
            .and_then(|m| now.duration_since(m).ok())
            .is_some_and(|age| age > retention);
        if old && std::fs::remove_file(&path).is_ok() {
            removed += 1;
        }
    }
    removed
}

/// A mailbox name as a folder name: letters, digits, `-` and `_` only.
pub(crate) fn sanitize(mailbox: &str) -> String {
    let name: String = mailbox
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if name.is_empty() {
        "general".into()
    } else {
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(dir: &Path, max_total_bytes: u64) -> VoicemailSettings {
        VoicemailSettings {
            dir: dir.to_path_buf(),
            greeting_prompt: "voicemail_greeting".into(),
            max_length: Duration::from_secs(10),
            min_length: Duration::from_secs(1),
            queue: "voicemail".into(),
            max_total_bytes,
            min_free_bytes: 0,
            retention: None,
            sla: None,
        }
    }

    #[test]
    fn the_quota_counts_every_mailbox_and_the_largest_next_message() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("general")).unwrap();
        std::fs::write(dir.path().join("general/a.wav"), vec![0u8; 100_000]).unwrap();
        std::fs::write(dir.path().join("general/notes.txt"), vec![0u8; 900_000]).unwrap();
        // 100,000 used + 176,044 for a 10 s message.
        assert!(storage_allows(&settings(dir.path(), 276_044)).is_ok());
        let refused = storage_allows(&settings(dir.path(), 276_043)).unwrap_err();
        assert!(refused.contains("100000 bytes"), "{refused}");
        // Free disk space: asking for more than any disk has.
        let mut s = settings(dir.path(), u64::MAX);
        s.min_free_bytes = u64::MAX / 2;
        assert!(storage_allows(&s).unwrap_err().contains("must stay free"));
    }

    #[test]
    fn retention_deletes_only_old_message_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("general")).unwrap();
        let old = dir.path().join("general/old.wav");
        let new = dir.path().join("general/new.wav");
        std::fs::write(&old, b"RIFF").unwrap();
        std::fs::write(&new, b"RIFF").unwrap();
        let two_days_ago = std::time::SystemTime::now() - Duration::from_secs(2 * 86_400);
        std::fs::File::options()
            .write(true)
            .open(&old)
            .unwrap()
            .set_modified(two_days_ago)
            .unwrap();
        assert_eq!(sweep(dir.path(), Duration::from_secs(86_400)), 1);
        assert!(!old.exists());
        assert!(new.exists());
    }
}
