//! `centralino init`: the first start of a real site. Creates the data directory (0750),
//! the PIN key (0600 from its creation), the database schema and the first administrator,
//! whose password is generated and printed once on stdout, or read from a file or from
//! `CENTRALINO_ADMIN_PASSWORD`. Nothing secret reaches the log.
//!
//! Run twice, it refuses: the site already has an administrator. `--force` sets the named
//! administrator's password again (the way back in after losing it); it never turns an
//! agent into an administrator and never replaces `pin.key` or any data.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::Context;
use crm::{Actor, Role};
use rand::Rng;
use tracing::info;

use crate::maintenance::{Refused, SiteArgs, create_private_dir};

/// The environment variable `init` reads the administrator's password from.
pub const PASSWORD_ENV: &str = "CENTRALINO_ADMIN_PASSWORD";
/// The shortest password `init` accepts.
const MIN_PASSWORD: usize = 12;
/// The longest password file `init` reads.
const MAX_PASSWORD_FILE: u64 = 4096;
/// Length of a generated password: 20 characters of 54, about 115 bits.
const GENERATED_LEN: usize = 20;
/// Letters and digits that cannot be misread (no 0/O/o, 1/l/I).
const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/// `centralino init`.
#[derive(clap::Args, Debug)]
pub struct InitArgs {
    #[command(flatten)]
    pub site: SiteArgs,
    /// Login of the first administrator.
    #[arg(long, default_value = "admin")]
    pub admin: String,
    /// The administrator's display name.
    #[arg(long, default_value = "Administrator")]
    pub name: String,
    /// Read the administrator's password from this file (its first line) instead of
    /// generating one; `CENTRALINO_ADMIN_PASSWORD` is the other way.
    #[arg(long)]
    pub password_file: Option<PathBuf>,
    /// The site already has this administrator: set its password again.
    #[arg(long)]
    pub force: bool,
}

/// Where the password came from, for the closing message.
enum Password {
    Generated(String),
    Given { password: String, from: String },
}

impl Password {
    fn text(&self) -> &str {
        match self {
            Password::Generated(p) | Password::Given { password: p, .. } => p,
        }
    }
}

/// Runs `init`.
pub async fn run(args: InitArgs) -> anyhow::Result<()> {
    let config = args.site.config()?;
    if config.database.demo_data {
        let which = match &args.site.config {
            Some(path) => format!("{} sets database.demo_data = true", path.display()),
            None => "without --config, the built-in demo configuration is used".to_string(),
        };
        return Err(Refused(format!(
            "init prepares a real site, but {which}: pass the site's configuration with \
             --config (contrib/production.toml is a commented start), where demo_data is false"
        ))
        .into());
    }
    check_login(&args.admin)?;
    // Read or make the password before anything is written: a bad file changes nothing.
    let password = password(args.password_file.as_deref())?;
    let data = &args.site.data;
    create_private_dir(data)
        .with_context(|| format!("cannot create the data directory {}", data.display()))?;
    let store = crate::open_store(&config, data).await?;
    let outcome = admin(&store, &args, password.text()).await;
    let version = store.schema_version().await;
    let backend = crate::maintenance::database_kind(store.backend());
    store.close().await;
    let what = outcome?;
    let version = version.context("cannot read the schema version")?;
    info!(
        data = %data.display(),
        backend,
        schema = version,
        login = %args.admin,
        "site initialised: {what}"
    );
    println!(
        "centralino: {what} `{}` (data directory {}, {backend} database, schema {version})",
        args.admin,
        data.display()
    );
    match &password {
        Password::Generated(p) => {
            println!("password: {p}");
            println!(
                "It is shown only this once and is not stored anywhere in clear: keep it in \
                 your password manager now."
            );
        }
        Password::Given { from, .. } => println!("password: the one in {from}"),
    }
    Ok(())
}

/// Creates the administrator, or with `--force` sets its password again. Returns what it did.
async fn admin(store: &crm::Store, args: &InitArgs, password: &str) -> anyhow::Result<String> {
    let now = chrono::Utc::now();
    if let Some(user) = store.user_by_login(&args.admin).await? {
        if user.role != Role::Admin {
            return Err(Refused(format!(
                "the operator `{}` exists and is not an administrator: init never changes \
                 an operator's role; choose another login with --admin",
                args.admin
            ))
            .into());
        }
        if !args.force {
            return Err(Refused(format!(
                "the site is already initialised: the administrator `{}` exists. \
                 `centralino init --force` sets its password again; nothing else changes",
                args.admin
            ))
            .into());
        }
        store
            .set_password(user.id, password, Actor::System, now)
            .await
            .context("cannot set the administrator's password")?;
        return Ok("new password for the administrator".into());
    }
    let admins = store.admin_logins().await?;
    if !admins.is_empty() && !args.force {
        return Err(Refused(format!(
            "the site is already initialised: administrators {} exist. Run with --force \
             to add `{}` as another one",
            admins.join(", "),
            args.admin
        ))
        .into());
    }
    let user = store
        .create_user(&args.admin, &args.name, Role::Admin, password, now)
        .await
        .context("cannot create the administrator")?;
    store
        .audit(
            Actor::System,
            "create",
            &format!("user:{}", user.id.0),
            Some("init: first administrator"),
            now,
        )
        .await?;
    Ok("created the administrator".into())
}

/// A login the consoles and the phones can use: 1-64 letters, digits, `.`, `_`, `-`.
fn check_login(login: &str) -> anyhow::Result<()> {
    let ok = !login.is_empty()
        && login.len() <= 64
        && login
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        anyhow::bail!(
            "--admin `{login}`: expected 1-64 letters, digits, '.', '_' or '-' (it is also \
             the SIP user name)"
        )
    }
}

/// The password: from `file`, else from the environment, else generated.
fn password(file: Option<&Path>) -> anyhow::Result<Password> {
    let from_env = std::env::var(PASSWORD_ENV).ok().filter(|p| !p.is_empty());
    let (password, from) = match (file, from_env) {
        (Some(_), Some(_)) => anyhow::bail!(
            "both --password-file and {PASSWORD_ENV} give a password: keep one of them"
        ),
        (Some(path), None) => (read_password_file(path)?, path.display().to_string()),
        (None, Some(p)) => (p, format!("${PASSWORD_ENV}")),
        (None, None) => return Ok(Password::Generated(generate())),
    };
    check_password(&password, &from)?;
    Ok(Password::Given { password, from })
}

/// The first line of `path`, without its line end.
fn read_password_file(path: &Path) -> anyhow::Result<String> {
    let file = std::fs::File::open(path)
        .with_context(|| format!("cannot read the password file {}", path.display()))?;
    let mut text = String::new();
    file.take(MAX_PASSWORD_FILE + 1)
        .read_to_string(&mut text)
        .with_context(|| format!("{}: expected UTF-8 text", path.display()))?;
    if text.len() as u64 > MAX_PASSWORD_FILE {
        anyhow::bail!(
            "{}: expected one line with the password, got more than {MAX_PASSWORD_FILE} bytes",
            path.display()
        );
    }
    Ok(text.lines().next().unwrap_or_default().to_string())
}

fn check_password(password: &str, from: &str) -> anyhow::Result<()> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD {
        anyhow::bail!(
            "the password in {from} is too short: expected at least {MIN_PASSWORD} characters, \
             got {chars}"
        );
    }
    if password.chars().any(char::is_control) {
        anyhow::bail!("the password in {from} has control characters: expected one line of text");
    }
    Ok(())
}

fn generate() -> String {
    let mut rng = rand::rng();
    (0..GENERATED_LEN)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_passwords_are_long_and_unambiguous() {
        let a = generate();
        assert_eq!(a.len(), GENERATED_LEN);
        assert!(a.bytes().all(|b| ALPHABET.contains(&b)));
        assert_ne!(a, generate());
        assert!(check_password(&a, "x").is_ok());
    }

    #[test]
    fn short_or_multiline_passwords_and_odd_logins_are_refused() {
        let e = check_password("short", "f").unwrap_err().to_string();
        assert!(e.contains("at least 12"), "{e}");
        assert!(check_password("long enough\tbut tabbed", "f").is_err());
        assert!(check_login("admin").is_ok());
        assert!(check_login("ad min").is_err());
        assert!(check_login("").is_err());
    }

    #[test]
    fn a_password_file_gives_its_first_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw");
        std::fs::write(&path, "correct horse battery\nsecond line\n").unwrap();
        assert_eq!(read_password_file(&path).unwrap(), "correct horse battery");
        std::fs::write(&path, vec![b'a'; 5000]).unwrap();
        assert!(read_password_file(&path).is_err());
    }
}
