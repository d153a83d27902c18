//! The messages on disk: `<dir>/<mailbox>/<call id>.wav`, the `.filed` marker beside a
//! filed one, the storage quota and the retention sweep. Everything here is blocking file
//! IO: the [`crate::Voicemail`] handle runs it on the blocking pool.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::VoicemailSettings;

/// The extension of a message.
pub(crate) const WAV: &str = "wav";
/// The extension of the marker written beside a message once its Service Request holds it.
pub(crate) const FILED: &str = "filed";

/// A mailbox name (or a call id) as a file name: letters, digits, `-` and `_` only; an
/// empty name is `general`.
pub fn sanitize(mailbox: &str) -> String {
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

/// The marker beside a message: `<call id>.filed`, holding the ticket number.
pub(crate) fn marker(wav: &Path) -> PathBuf {
    wav.with_extension(FILED)
}

/// The call id a message's file name carries.
pub(crate) fn call_id_of(wav: &Path) -> Option<String> {
    Some(wav.file_stem()?.to_str()?.to_string())
}

/// The mailbox folder a message is in.
pub(crate) fn mailbox_of(wav: &Path) -> String {
    wav.parent()
        .and_then(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The most a message can take: 8 kHz 16-bit mono for the maximum length, plus the header.
pub(crate) fn largest_message(settings: &VoicemailSettings) -> u64 {
    settings.max_length.as_secs().saturating_add(1) * 16_000 + 44
}

/// Every file directly inside the mailbox folders (one level down from `dir`).
pub(crate) fn files(dir: &Path) -> Vec<(PathBuf, std::fs::Metadata)> {
    let mut out = Vec::new();
    let Ok(boxes) = std::fs::read_dir(dir) else {
        return out;
    };
    for mailbox in boxes.flatten() {
        let Ok(files) = std::fs::read_dir(mailbox.path()) else {
            continue;
        };
        for file in files.flatten() {
            if let Ok(meta) = file.metadata()
                && meta.is_file()
            {
                out.push((file.path(), meta));
            }
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// The messages (WAV files) under the voicemail folder.
pub(crate) fn messages(dir: &Path) -> Vec<(PathBuf, std::fs::Metadata)> {
    files(dir)
        .into_iter()
        .filter(|(p, _)| p.extension().is_some_and(|e| e == WAV))
        .collect()
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

/// The messages past `retention` at `now`, each with whether it is marked filed.
pub(crate) fn past_retention(
    dir: &Path,
    retention: Duration,
    now: SystemTime,
) -> Vec<(PathBuf, bool)> {
    messages(dir)
        .into_iter()
        .filter(|(_, meta)| {
            meta.modified()
                .ok()
                .and_then(|m| now.duration_since(m).ok())
                .is_some_and(|age| age > retention)
        })
        .map(|(path, _)| {
            let filed = marker(&path).exists();
            (path, filed)
        })
        .collect()
}

/// Deletes a filed message and its marker; true when the message is gone.
pub(crate) fn delete_filed(wav: &Path) -> bool {
    let gone = match std::fs::remove_file(wav) {
        Ok(()) => true,
        Err(e) => e.kind() == std::io::ErrorKind::NotFound,
    };
    if gone {
        let _ = std::fs::remove_file(marker(wav));
    }
    gone
}

/// The messages with no marker: not known to be filed.
pub(crate) fn unfiled(dir: &Path) -> Vec<(PathBuf, std::fs::Metadata)> {
    messages(dir)
        .into_iter()
        .filter(|(p, _)| !marker(p).exists())
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn settings(dir: &Path, max_total_bytes: u64) -> VoicemailSettings {
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
        std::fs::create_dir_all(dir.path().join("sales")).unwrap();
        std::fs::write(dir.path().join("general/a.wav"), vec![0u8; 60_000]).unwrap();
        std::fs::write(dir.path().join("sales/b.wav"), vec![0u8; 40_000]).unwrap();
        // Neither markers, notes nor a recording in progress count.
        std::fs::write(dir.path().join("general/notes.txt"), vec![0u8; 900_000]).unwrap();
        std::fs::write(dir.path().join("general/a.filed"), vec![0u8; 900_000]).unwrap();
        std::fs::write(dir.path().join("general/c.wav.tmp"), vec![0u8; 900_000]).unwrap();
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
    fn sanitize_keeps_names_inside_the_voicemail_folder() {
        assert_eq!(sanitize("general"), "general");
        assert_eq!(sanitize("sales-2_b"), "sales-2_b");
        assert_eq!(sanitize("../../etc"), "______etc");
        assert_eq!(sanitize("a/b c"), "a_b_c");
        assert_eq!(sanitize("città"), "citt_");
        assert_eq!(sanitize(""), "general");
    }

    #[test]
    fn markers_and_call_ids() {
        let wav = Path::new("/v/general/0190-ab.wav");
        assert_eq!(marker(wav), Path::new("/v/general/0190-ab.filed"));
        assert_eq!(call_id_of(wav).as_deref(), Some("0190-ab"));
        assert_eq!(mailbox_of(wav), "general");
    }
}
