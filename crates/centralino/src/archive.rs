//! The backup archive's format (`centralino backup` writes it, `centralino restore` reads it):
//! its member names, its manifest, and the reading of an archive, which is untrusted input.
//! In the library so that a fuzz target (`fuzz/fuzz_targets/restore_archive.rs`) can call it.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, BufReader, Read};
use std::path::{Component, Path};

use anyhow::Context;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The `format` of a manifest.
pub const FORMAT: &str = "centralino-backup";
/// The manifest's layout version.
pub const FORMAT_VERSION: u32 = 1;
/// The manifest's member name.
pub const MANIFEST: &str = "manifest.json";
/// The PIN key's name, in the data directory and in the archive.
pub const PIN_KEY: &str = "pin.key";
/// The data directory's folders that are archived whole.
pub const FOLDERS: &[&str] = &["prompts", "voicemail", "journal"];
/// The SQLite copy's member name.
pub const SQLITE_MEMBER: &str = "database/centralino.db";
/// The PostgreSQL dump's member name.
pub const POSTGRES_MEMBER: &str = "database/centralino.pgdump";

/// Most members an archive may have.
const MAX_MEMBERS: usize = 1_000_000;
/// Largest manifest read.
const MAX_MANIFEST: u64 = 64 << 20;
/// Largest PIN key read.
const MAX_PIN_KEY: u64 = 4096;
/// Longest member path.
const MAX_PATH: usize = 1024;

/// What the archive holds, written last as `manifest.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Always [`FORMAT`].
    pub format: String,
    /// [`FORMAT_VERSION`] when written.
    pub format_version: u32,
    /// The centralino that wrote it.
    pub centralino_version: String,
    /// The newest database migration applied at the time.
    pub schema_version: i64,
    /// `sqlite` or `postgres`.
    pub database: String,
    /// When, RFC 3339 UTC.
    pub created_at: String,
    /// Every other member.
    pub members: Vec<Member>,
}

/// One archived file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Member {
    /// Path inside the archive, `/`-separated.
    pub path: String,
    /// Bytes.
    pub size: u64,
    /// SHA-256, lower-case hex.
    pub sha256: String,
}

/// A reader that hashes and counts what passes through it.
pub struct Hashing<R> {
    inner: R,
    /// SHA-256 so far.
    pub hasher: Sha256,
    /// Bytes so far.
    pub count: u64,
}

impl<R> Hashing<R> {
    /// Wraps `inner`.
    pub fn new(inner: R) -> Self {
        Hashing {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

/// Opens a new file for writing, refusing to replace one; `0600` on Unix from the start.
pub fn create_private_file(path: &Path) -> io::Result<fs::File> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

/// An archive unpacked and checked.
pub struct Unpacked {
    pub manifest: Manifest,
    /// The staging folder (removed on drop).
    pub dir: tempfile::TempDir,
}

/// Unpacks `archive` into a staging folder in `data` and checks it against its manifest.
pub fn unpack(archive: &Path, data: &Path) -> anyhow::Result<Unpacked> {
    let file =
        fs::File::open(archive).with_context(|| format!("cannot open {}", archive.display()))?;
    unpack_from(BufReader::new(file), &archive.display().to_string(), data)
}

/// [`unpack`] from any reader (`shown`: how errors name the archive). The archive is
/// untrusted input: a damaged one is an error naming what is wrong, never a panic, and
/// nothing is written outside the staging folder (`fuzz/fuzz_targets/restore_archive.rs`).
pub fn unpack_from(archive: impl Read, shown: &str, data: &Path) -> anyhow::Result<Unpacked> {
    let dir = tempfile::Builder::new()
        .prefix(".restore-")
        .tempdir_in(data)
        .with_context(|| format!("cannot create a staging folder in {}", data.display()))?;
    let damaged =
        |what: String| anyhow::anyhow!("{shown} is damaged or not a centralino backup: {what}");
    let mut tar = tar::Archive::new(archive);
    let mut found: BTreeMap<String, Member> = BTreeMap::new();
    let mut manifest: Option<Vec<u8>> = None;
    let entries = tar.entries().map_err(|e| damaged(e.to_string()))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| damaged(e.to_string()))?;
        if found.len() >= MAX_MEMBERS {
            return Err(damaged(format!("more than {MAX_MEMBERS} members")));
        }
        let path = entry.path().map_err(|e| damaged(e.to_string()))?;
        let name = member_name(&path).map_err(damaged)?;
        let entry_type = entry.header().entry_type();
        if !entry_type.is_file() {
            return Err(damaged(format!(
                "{name}: not a regular file ({entry_type:?})"
            )));
        }
        let size = entry.header().size().map_err(|e| damaged(e.to_string()))?;
        if manifest.is_some() {
            return Err(damaged(format!("{name} after the manifest")));
        }
        if found.contains_key(&name) {
            return Err(damaged(format!("{name} twice")));
        }
        if name == MANIFEST {
            if size > MAX_MANIFEST {
                return Err(damaged(format!("a manifest of {size} bytes")));
            }
            let mut text = Vec::with_capacity(size as usize);
            (&mut entry)
                .take(size)
                .read_to_end(&mut text)
                .map_err(|e| damaged(format!("{name}: {e}")))?;
            if text.len() as u64 != size {
                return Err(damaged(format!("{name} is truncated")));
            }
            manifest = Some(text);
            continue;
        }
        if name == PIN_KEY && size > MAX_PIN_KEY {
            return Err(damaged(format!("a pin.key of {size} bytes")));
        }
        let target = dir.path().join(&name);
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent)?;
        }
        let mut out = create_private_file(&target)
            .with_context(|| format!("cannot write {}", target.display()))?;
        let mut reader = Hashing::new((&mut entry).take(size));
        io::copy(&mut reader, &mut out).map_err(|e| damaged(format!("{name}: {e}")))?;
        if reader.count != size {
            return Err(damaged(format!(
                "{name} is truncated ({} of {size} bytes)",
                reader.count
            )));
        }
        found.insert(
            name.clone(),
            Member {
                path: name,
                size,
                sha256: hex::encode(reader.hasher.finalize()),
            },
        );
    }
    let Some(text) = manifest else {
        return Err(damaged(
            "no manifest.json (it is the last member: the archive is truncated)".into(),
        ));
    };
    let manifest: Manifest =
        serde_json::from_slice(&text).map_err(|e| damaged(format!("manifest.json: {e}")))?;
    if manifest.format != FORMAT || manifest.format_version != FORMAT_VERSION {
        return Err(damaged(format!(
            "expected format {FORMAT} version {FORMAT_VERSION}, got {} version {}",
            manifest.format, manifest.format_version
        )));
    }
    for listed in &manifest.members {
        match found.remove(&listed.path) {
            Some(got) if got == *listed => {}
            Some(got) => {
                return Err(damaged(format!(
                    "{}: checksum mismatch (manifest {} bytes sha256 {}, archive {} bytes \
                     sha256 {})",
                    listed.path, listed.size, listed.sha256, got.size, got.sha256
                )));
            }
            None => return Err(damaged(format!("{} is missing", listed.path))),
        }
    }
    if let Some(extra) = found.keys().next() {
        return Err(damaged(format!("{extra} is not in the manifest")));
    }
    let database = match manifest.database.as_str() {
        "sqlite" => SQLITE_MEMBER,
        "postgres" => POSTGRES_MEMBER,
        other => return Err(damaged(format!("unknown database kind `{other}`"))),
    };
    for needed in [database, PIN_KEY] {
        if !manifest.members.iter().any(|m| m.path == needed) {
            return Err(damaged(format!("{needed} is missing")));
        }
    }
    Ok(Unpacked { manifest, dir })
}

/// A member path a backup writes, checked: relative, no `..`, UTF-8, bounded, under a
/// known name.
fn member_name(path: &Path) -> Result<String, String> {
    let shown = path.display().to_string();
    let mut parts = Vec::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => match part.to_str() {
                Some(part) => parts.push(part),
                None => return Err(format!("{shown}: not UTF-8")),
            },
            Component::CurDir => {}
            _ => return Err(format!("{shown}: not a plain relative path")),
        }
    }
    let name = parts.join("/");
    if name.len() > MAX_PATH || parts.len() > 32 {
        return Err(format!("{shown}: path too long"));
    }
    let known = name == MANIFEST
        || name == PIN_KEY
        || name == SQLITE_MEMBER
        || name == POSTGRES_MEMBER
        || (parts.len() >= 2 && FOLDERS.contains(&parts[0]));
    if known {
        Ok(name)
    } else {
        Err(format!("{shown}: not a member a backup writes"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_paths_a_backup_writes_are_accepted() {
        assert_eq!(member_name(Path::new("pin.key")).unwrap(), "pin.key");
        assert_eq!(
            member_name(Path::new("./voicemail/general/a.wav")).unwrap(),
            "voicemail/general/a.wav"
        );
        for bad in [
            "../pin.key",
            "/etc/passwd",
            "prompts/../../x",
            "etc/shadow",
            "prompts",
            "database/other.db",
        ] {
            assert!(member_name(Path::new(bad)).is_err(), "{bad}");
        }
    }
}
