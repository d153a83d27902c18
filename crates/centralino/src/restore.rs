//! `centralino restore ARCHIVE`: puts a [`backup`](crate::backup) back. Stop the server
//! first.
//!
//! The archive is unpacked into a staging folder inside the data directory and checked
//! before anything is replaced: only regular files at the paths a backup writes, sizes
//! bounded, every member listed in the manifest with its size and SHA-256, the database of
//! the kind the configuration names. A damaged or truncated archive fails with a message
//! and changes nothing. A target that holds data (a database with tables, `pin.key`,
//! prompts, voicemail, journal) is replaced only with `--force`.
//!
//! Then the database (SQLite: the file; PostgreSQL: `pg_restore` into the configured
//! database, every table of its schema dropped first under `--force`), `pin.key` and the
//! folders are put in place, and the store is opened once: migrations bring an older
//! backup up to this version.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, BufReader, Read};
use std::path::{Component, Path, PathBuf};
use std::process::Command;

use anyhow::Context;
use sha2::Digest;
use tracing::info;

use crate::backup::{
    FOLDERS, FORMAT, FORMAT_VERSION, Hashing, MANIFEST, Manifest, Member, PIN_KEY, POSTGRES_MEMBER,
    SQLITE_MEMBER, create_private_file, libpq_target, run_tool, sqlite_file,
};
use crate::maintenance::{Refused, SiteArgs, create_private_dir, database_kind};

/// Most members an archive may have.
const MAX_MEMBERS: usize = 1_000_000;
/// Largest manifest read.
const MAX_MANIFEST: u64 = 64 << 20;
/// Largest PIN key read.
const MAX_PIN_KEY: u64 = 4096;
/// Longest member path.
const MAX_PATH: usize = 1024;

/// `centralino restore`.
#[derive(clap::Args, Debug)]
pub struct RestoreArgs {
    /// The archive `centralino backup` wrote.
    pub archive: PathBuf,
    #[command(flatten)]
    pub site: SiteArgs,
    /// Replace the database and files that are already there.
    #[arg(long)]
    pub force: bool,
}

/// An archive unpacked and checked.
struct Unpacked {
    manifest: Manifest,
    /// The staging folder (removed on drop).
    dir: tempfile::TempDir,
}

/// Runs `restore`.
pub async fn run(args: RestoreArgs) -> anyhow::Result<()> {
    let config = args.site.config()?;
    let data = &args.site.data;
    // Readable before anything is created.
    fs::File::open(&args.archive)
        .with_context(|| format!("cannot open {}", args.archive.display()))?;
    create_private_dir(data)
        .with_context(|| format!("cannot create the data directory {}", data.display()))?;
    let url = config.database.url(data);
    let backend = crm::Backend::from_url(&url)?;

    let unpacked = unpack(&args.archive, data)?;
    let manifest = &unpacked.manifest;
    if manifest.database != database_kind(backend) {
        anyhow::bail!(
            "{} holds a {} database but the configuration names a {} one ({}): restore into \
             the same kind of database",
            args.archive.display(),
            manifest.database,
            database_kind(backend),
            crate::redact(&url)
        );
    }
    let staged = unpacked.dir.path();
    let secret = fs::read(staged.join(PIN_KEY))?;
    let settings = config.database.settings(secret, &config.registrar.realm)?;

    // What is there already.
    let mut occupied = Vec::new();
    if data.join(PIN_KEY).exists() {
        occupied.push(data.join(PIN_KEY).display().to_string());
    }
    for folder in FOLDERS {
        let files = count_files(&data.join(folder));
        if files > 0 {
            occupied.push(format!("{} ({files} files)", data.join(folder).display()));
        }
    }
    let sqlite_target = match backend {
        crm::Backend::Sqlite => {
            let file = sqlite_file(&url).context("cannot restore into an in-memory database")?;
            if fs::metadata(&file).map(|m| m.len() > 0).unwrap_or(false) {
                occupied.push(format!("the database {}", file.display()));
            }
            Some(file)
        }
        crm::Backend::Postgres => {
            let store = crm::Store::connect_lazy_with(&url, settings.clone())?;
            let tables = store.table_count().await;
            let tables = match tables {
                Ok(n) => n,
                Err(e) => {
                    store.close().await;
                    return Err(e).with_context(|| {
                        format!("cannot reach the database {}", crate::redact(&url))
                    });
                }
            };
            if tables > 0 {
                occupied.push(format!(
                    "the database {} ({tables} tables)",
                    crate::redact(&url)
                ));
                if args.force {
                    store.drop_all_tables().await.with_context(|| {
                        format!("cannot empty the database {}", crate::redact(&url))
                    })?;
                }
            }
            store.close().await;
            None
        }
    };
    if !occupied.is_empty() && !args.force {
        return Err(Refused(format!(
            "refusing to restore over data already there: {}. Stop centralino, then run \
             again with --force to replace it with the archive's",
            occupied.join(", ")
        ))
        .into());
    }

    // The database.
    match &sqlite_target {
        Some(file) => {
            for suffix in ["", "-wal", "-shm", "-journal"] {
                let path = PathBuf::from(format!("{}{suffix}", file.display()));
                match fs::remove_file(&path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => {
                        return Err(e).with_context(|| format!("cannot remove {}", path.display()));
                    }
                }
            }
            if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
                create_private_dir(dir)?;
            }
            move_file(&staged.join(SQLITE_MEMBER), file)?;
        }
        None => {
            let (target, password) = libpq_target(&url);
            let mut command = Command::new("pg_restore");
            command
                .arg("--no-owner")
                .arg("--no-privileges")
                .arg("--single-transaction")
                .arg("--exit-on-error")
                .arg("--dbname")
                .arg(&target)
                .arg(staged.join(POSTGRES_MEMBER));
            if let Some(password) = password {
                command.env("PGPASSWORD", password);
            }
            run_tool(command, "pg_restore")?;
        }
    }
    // The PIN key, then the folders: the archive's state replaces what was there.
    let _ = fs::remove_file(data.join(PIN_KEY));
    move_file(&staged.join(PIN_KEY), &data.join(PIN_KEY))?;
    for folder in FOLDERS {
        let target = data.join(folder);
        match fs::remove_dir_all(&target) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("cannot clear {}", target.display())),
        }
        let source = staged.join(folder);
        if source.is_dir() {
            fs::rename(&source, &target).with_context(|| {
                format!("cannot move {} to {}", source.display(), target.display())
            })?;
        }
    }

    // Opened once: the migrations bring an older backup's schema up to this version.
    let store = crate::open_store(&config, data).await?;
    let tickets = store.ticket_count().await;
    let schema = store.schema_version().await;
    store.close().await;
    let (tickets, schema) = (tickets?, schema?);
    let count = |prefix: &str| {
        manifest
            .members
            .iter()
            .filter(|m| m.path.starts_with(prefix))
            .count()
    };
    let (prompts, voicemail) = (count("prompts/"), count("voicemail/"));
    info!(
        archive = %args.archive.display(),
        created_at = %manifest.created_at,
        tickets, prompts, voicemail, schema,
        "restored"
    );
    println!(
        "restored {} (written {} by centralino {}): {} database with {tickets} tickets \
         (schema {} → {schema}), {prompts} prompt files, {voicemail} voicemail files, pin.key",
        args.archive.display(),
        manifest.created_at,
        manifest.centralino_version,
        manifest.database,
        manifest.schema_version
    );
    Ok(())
}

/// Unpacks `archive` into a staging folder in `data` and checks it against its manifest.
fn unpack(archive: &Path, data: &Path) -> anyhow::Result<Unpacked> {
    let file =
        fs::File::open(archive).with_context(|| format!("cannot open {}", archive.display()))?;
    let dir = tempfile::Builder::new()
        .prefix(".restore-")
        .tempdir_in(data)
        .with_context(|| format!("cannot create a staging folder in {}", data.display()))?;
    let damaged = |what: String| {
        anyhow::anyhow!(
            "{} is damaged or not a centralino backup: {what}",
            archive.display()
        )
    };
    let mut tar = tar::Archive::new(BufReader::new(file));
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

/// Regular files under `dir` (0 when it does not exist).
fn count_files(dir: &Path) -> usize {
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => count_files(&e.path()),
            Ok(_) => 1,
            Err(_) => 0,
        })
        .sum()
}

/// Renames `from` to `to`, copying when they are on different file systems.
fn move_file(from: &Path, to: &Path) -> anyhow::Result<()> {
    if fs::rename(from, to).is_ok() {
        return Ok(());
    }
    let mut source = fs::File::open(from)?;
    let mut target =
        create_private_file(to).with_context(|| format!("cannot write {}", to.display()))?;
    io::copy(&mut source, &mut target)?;
    target.sync_all()?;
    Ok(())
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
