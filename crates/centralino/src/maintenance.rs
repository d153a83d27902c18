//! What the maintenance commands (`init`, `backup`, `restore`, `user`, `queue`) share: which site they act
//! on (its configuration and data directory), the refusal that exits 2, and a data
//! directory private to the service from its creation.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::config::Config;

/// The site a maintenance command acts on.
#[derive(clap::Args, Debug, Clone)]
pub struct SiteArgs {
    /// Configuration file (TOML); the database is `DATABASE_URL`, else `database.url`.
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    /// Data directory (SQLite database, pin.key, uploaded prompts, voicemail).
    #[arg(long, global = true, default_value = "./data")]
    pub data: PathBuf,
}

impl SiteArgs {
    /// The configuration (the built-in demo without `--config`).
    pub fn config(&self) -> anyhow::Result<Config> {
        crate::load_config(self.config.as_deref())
    }
}

/// A command that would do something unsafe and was told not to: the process exits 2 and
/// the message says what to change or which flag forces it.
#[derive(Debug)]
pub struct Refused(pub String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

/// Creates `dir` (and its parents) when missing; a directory created here is `0750`, so
/// the service's group may read what it holds and nobody else.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o750);
    }
    builder.create(dir)
}

/// A database kind's name (in messages and in a backup's manifest).
pub fn database_kind(backend: crm::Backend) -> &'static str {
    match backend {
        crm::Backend::Sqlite => "sqlite",
        crm::Backend::Postgres => "postgres",
    }
}
