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

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context;
use tracing::info;

use centralino::archive::unpack;

use crate::backup::{
    FOLDERS, PIN_KEY, POSTGRES_MEMBER, SQLITE_MEMBER, create_private_file, libpq_target, run_tool,
    sqlite_file,
};
use crate::maintenance::{Refused, SiteArgs, create_private_dir, database_kind};

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
