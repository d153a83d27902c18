//! `centralino backup`: one archive with everything a site needs to come back: a consistent
//! copy of the database, `pin.key` (without it no PIN matches), the uploaded prompts, the
//! voicemail files and the outage journal. The configuration file is not in it: it lives in
//! `/etc` and is backed up with the host's configuration.
//!
//! The archive is a plain tar (owner-only, 0600: it holds the PIN key):
//!
//! | member | what |
//! |---|---|
//! | `database/centralino.db` | SQLite: `VACUUM INTO`, one read transaction, taken while serving |
//! | `database/centralino.pgdump` | PostgreSQL: `pg_dump --format=custom` |
//! | `pin.key` | the PIN HMAC key |
//! | `prompts/…`, `voicemail/…`, `journal/…` | those folders of the data directory |
//! | `manifest.json` | last: format, versions, database kind, time, size and SHA-256 of each member |
//!
//! The files are copied into a staging folder first, so a message being recorded meanwhile
//! is archived as it was at one moment, and its checksum is of what the archive holds. The
//! archive is written under a `.partial` name and renamed when complete.

use std::fs;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context;
use sha2::Digest;
use tracing::info;

use crate::maintenance::{SiteArgs, database_kind};

pub use centralino::archive::{
    FOLDERS, FORMAT, FORMAT_VERSION, Hashing, MANIFEST, Manifest, Member, PIN_KEY, POSTGRES_MEMBER,
    SQLITE_MEMBER, create_private_file,
};

/// `centralino backup`.
#[derive(clap::Args, Debug)]
pub struct BackupArgs {
    #[command(flatten)]
    pub site: SiteArgs,
    /// The archive to write (refused if it exists); default
    /// `centralino-backup-<UTC time>.tar` in the current directory.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
}

/// Runs `backup`.
pub async fn run(args: BackupArgs) -> anyhow::Result<()> {
    let config = args.site.config()?;
    let data = &args.site.data;
    let pin_key = data.join(PIN_KEY);
    if !pin_key.is_file() {
        anyhow::bail!(
            "{} not found: is {} the data directory the server uses (--data)?",
            pin_key.display(),
            data.display()
        );
    }
    let now = chrono::Utc::now();
    let output = args.output.clone().unwrap_or_else(|| {
        PathBuf::from(format!(
            "centralino-backup-{}.tar",
            now.format("%Y%m%dT%H%M%SZ")
        ))
    });
    if output.exists() {
        anyhow::bail!("{} exists: choose another --output", output.display());
    }
    let parent = match output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    // Staging next to the archive: the same disk the archive needs anyway.
    let staging = tempfile::Builder::new()
        .prefix(".centralino-backup-")
        .tempdir_in(&parent)
        .with_context(|| format!("cannot create a staging folder in {}", parent.display()))?;

    let url = config.database.url(data);
    let backend = crm::Backend::from_url(&url)?;
    let secret =
        fs::read(&pin_key).with_context(|| format!("cannot read {}", pin_key.display()))?;
    let mut members: Vec<(String, PathBuf)> = Vec::new();
    let schema_version = match backend {
        crm::Backend::Sqlite => {
            let file = sqlite_file(&url).context("an in-memory database cannot be backed up")?;
            if !file.is_file() {
                anyhow::bail!("no database at {}", file.display());
            }
            // Lazily: no migration runs, the database stays as the server left it.
            let settings = config.database.settings(secret, &config.registrar.realm)?;
            let store = crm::Store::connect_lazy_with(&url, settings)?;
            let copy = staging.path().join("centralino.db");
            let result: crm::Result<i64> = async {
                let version = store.schema_version().await?;
                store.snapshot_sqlite(&copy).await?;
                Ok(version)
            }
            .await;
            store.close().await;
            let version = result.with_context(|| format!("cannot copy {}", file.display()))?;
            members.push((SQLITE_MEMBER.into(), copy));
            version
        }
        crm::Backend::Postgres => {
            let settings = config.database.settings(secret, &config.registrar.realm)?;
            let store = crm::Store::connect_lazy_with(&url, settings)?;
            let version = store.schema_version().await;
            store.close().await;
            let version = version.with_context(|| {
                format!(
                    "cannot read the schema of {}: is it a centralino database?",
                    crate::redact(&url)
                )
            })?;
            let dump = staging.path().join("centralino.pgdump");
            pg_dump(&url, &dump)?;
            members.push((POSTGRES_MEMBER.into(), dump));
            version
        }
    };
    members.push((PIN_KEY.into(), pin_key.clone()));
    for folder in FOLDERS {
        let copied = staging.path().join("files").join(folder);
        copy_tree(&data.join(folder), &copied, folder, &mut members)?;
    }

    let partial = output.with_extension("tar.partial");
    let manifest = write_archive(&partial, &members, |members| Manifest {
        format: FORMAT.into(),
        format_version: FORMAT_VERSION,
        centralino_version: env!("CARGO_PKG_VERSION").into(),
        schema_version,
        database: database_kind(backend).into(),
        created_at: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        members,
    })
    .inspect_err(|_| {
        let _ = fs::remove_file(&partial);
    })?;
    fs::rename(&partial, &output).with_context(|| {
        format!(
            "cannot rename {} to {}",
            partial.display(),
            output.display()
        )
    })?;
    let bytes: u64 = manifest.members.iter().map(|m| m.size).sum();
    info!(
        archive = %output.display(),
        files = manifest.members.len(),
        bytes,
        database = %manifest.database,
        schema = manifest.schema_version,
        "backup written"
    );
    println!(
        "backup written: {} ({} files, {bytes} bytes; {} database, schema {})",
        output.display(),
        manifest.members.len(),
        manifest.database,
        manifest.schema_version
    );
    Ok(())
}

/// `pg_dump --format=custom` of `url` into `file`; the password goes by `PGPASSWORD`.
fn pg_dump(url: &str, file: &Path) -> anyhow::Result<()> {
    let (target, password) = libpq_target(url);
    let mut command = Command::new("pg_dump");
    command
        .arg("--format=custom")
        .arg("--no-owner")
        .arg("--no-privileges")
        .arg("--file")
        .arg(file)
        .arg("--dbname")
        .arg(&target);
    if let Some(password) = password {
        command.env("PGPASSWORD", password);
    }
    run_tool(command, "pg_dump")
}

/// Runs a PostgreSQL client tool; a clear error when it is missing or fails.
pub fn run_tool(mut command: Command, name: &str) -> anyhow::Result<()> {
    let output = command.output().map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => anyhow::anyhow!(
            "{name} not found on PATH: install the PostgreSQL client tools of the server's \
             major version (Debian: postgresql-client)"
        ),
        _ => anyhow::anyhow!("cannot run {name}: {e}"),
    })?;
    if !output.status.success() {
        anyhow::bail!(
            "{name} failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}

/// Copies the regular files under `from` (when it exists) to `to`, listing each as
/// `<prefix>/<relative path>`. Symbolic links and other special files are skipped.
fn copy_tree(
    from: &Path,
    to: &Path,
    prefix: &str,
    members: &mut Vec<(String, PathBuf)>,
) -> anyhow::Result<()> {
    let entries = match fs::read_dir(from) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", from.display())),
    };
    let mut entries: Vec<_> = entries
        .collect::<Result<_, _>>()
        .with_context(|| format!("cannot read {}", from.display()))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            tracing::warn!(file = %entry.path().display(), "not archived: the name is not UTF-8");
            continue;
        };
        let kind = entry.file_type()?;
        let (source, target) = (entry.path(), to.join(name));
        let member = format!("{prefix}/{name}");
        if kind.is_dir() {
            copy_tree(&source, &target, &member, members)?;
        } else if kind.is_file() {
            fs::create_dir_all(to)?;
            match fs::copy(&source, &target) {
                Ok(_) => members.push((member, target)),
                // Gone meanwhile (a message filed and moved, retention): not part of it.
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(e).with_context(|| format!("cannot copy {}", source.display()));
                }
            }
        }
    }
    Ok(())
}

/// Writes the tar: every member with its checksum, then the manifest `make` builds from them.
fn write_archive(
    path: &Path,
    members: &[(String, PathBuf)],
    make: impl FnOnce(Vec<Member>) -> Manifest,
) -> anyhow::Result<Manifest> {
    let file =
        create_private_file(path).with_context(|| format!("cannot create {}", path.display()))?;
    let mut tar = tar::Builder::new(BufWriter::new(file));
    let mut listed = Vec::with_capacity(members.len());
    for (name, source) in members {
        let file =
            fs::File::open(source).with_context(|| format!("cannot read {}", source.display()))?;
        let size = file.metadata()?.len();
        let mut reader = Hashing::new(file.take(size));
        let mut header = tar::Header::new_gnu();
        header.set_size(size);
        header.set_mode(0o600);
        header.set_mtime(chrono::Utc::now().timestamp().max(0) as u64);
        header.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut header, name, &mut reader)
            .with_context(|| format!("cannot archive {name}"))?;
        if reader.count != size {
            anyhow::bail!("{} changed while being archived", source.display());
        }
        listed.push(Member {
            path: name.clone(),
            size,
            sha256: hex::encode(reader.hasher.finalize()),
        });
    }
    let manifest = make(listed);
    let json = serde_json::to_vec_pretty(&manifest)?;
    let mut header = tar::Header::new_gnu();
    header.set_size(json.len() as u64);
    header.set_mode(0o600);
    header.set_mtime(chrono::Utc::now().timestamp().max(0) as u64);
    header.set_entry_type(tar::EntryType::Regular);
    tar.append_data(&mut header, MANIFEST, json.as_slice())?;
    let mut out = tar.into_inner()?;
    out.flush()?;
    let file = out.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    Ok(manifest)
}

/// The file an `sqlite:` URL names (`None` for an in-memory database).
pub fn sqlite_file(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path))
}

/// A `postgres://` URL split for libpq's tools: the URL without its password (so that
/// `ps` does not show it) and the password, percent-decoded, for `PGPASSWORD`.
pub fn libpq_target(url: &str) -> (String, Option<String>) {
    let (Some(scheme), Some(at)) = (url.find("://"), url.rfind('@')) else {
        return (url.to_string(), None);
    };
    if at <= scheme {
        return (url.to_string(), None);
    }
    let userinfo = &url[scheme + 3..at];
    match userinfo.split_once(':') {
        Some((user, password)) => (
            format!("{}{user}{}", &url[..scheme + 3], &url[at..]),
            Some(percent_decode(password)),
        ),
        None => (url.to_string(), None),
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_name_their_file() {
        assert_eq!(
            sqlite_file("sqlite:///var/lib/centralino/centralino.db?mode=rwc"),
            Some(PathBuf::from("/var/lib/centralino/centralino.db"))
        );
        assert_eq!(
            sqlite_file("sqlite://data/c.db"),
            Some(PathBuf::from("data/c.db"))
        );
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(sqlite_file("postgres://x@y/z"), None);
    }

    #[test]
    fn passwords_leave_the_url_for_the_environment() {
        assert_eq!(
            libpq_target("postgres://app:s%40cret@db.example.org:5432/centralino"),
            (
                "postgres://app@db.example.org:5432/centralino".to_string(),
                Some("s@cret".to_string())
            )
        );
        assert_eq!(
            libpq_target("postgres://app@127.0.0.1/test"),
            ("postgres://app@127.0.0.1/test".to_string(), None)
        );
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("%zz%41"), "%zzA");
    }
}
