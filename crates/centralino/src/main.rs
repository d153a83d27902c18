//! `centralino`: the contact-center binary (CONTRACT.md, "Command line").

mod admin;
mod backup;
mod config;
mod exposure;
mod health;
mod init;
mod maintenance;
mod prompts;
mod recovery;
mod reports_synth;
mod restore;
mod serve;
mod site;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tracing::{error, info};

use config::Config;

#[derive(Parser)]
#[command(
    name = "centralino",
    version,
    about = "Contact center: SIP trunk, IVR, ACD and CRM"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the contact center (the built-in demo configuration when --config is not given).
    Serve(serve::ServeArgs),
    /// Validate a configuration file: exit 0 if valid, else print every error with its line.
    CheckConfig {
        /// The TOML file to check.
        file: PathBuf,
    },
    /// Create or update the database schema and exit (`serve` does this at start too).
    Migrate {
        /// Configuration file (TOML); the database is `DATABASE_URL`, else `database.url`.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Data directory (holds the SQLite database when no URL is given).
        #[arg(long, default_value = "./data")]
        data: PathBuf,
    },
    /// Create the demo's queues, users and customers in the database (idempotent).
    DemoData {
        /// Configuration file (TOML); the database is `DATABASE_URL`, else `database.url`.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Data directory (holds the SQLite database when no URL is given).
        #[arg(long, default_value = "./data")]
        data: PathBuf,
    },
    /// Administer users: list, add, passwd, phone-secret, disable, enable.
    User {
        #[command(subcommand)]
        action: admin::UserCommand,
        #[command(flatten)]
        site: maintenance::SiteArgs,
    },
    /// Administer queues: list, add.
    Queue {
        #[command(subcommand)]
        action: admin::QueueCommand,
        #[command(flatten)]
        site: maintenance::SiteArgs,
    },
    /// First start of a real site: data directory, schema, PIN key and the first
    /// administrator (password generated and printed once, or from --password-file or
    /// CENTRALINO_ADMIN_PASSWORD).
    Init(init::InitArgs),
    /// Write one archive with the database (a consistent copy, also while serving),
    /// pin.key, uploaded prompts, voicemail files and the journal.
    Backup(backup::BackupArgs),
    /// Put a backup archive back (server stopped); refuses to replace data without --force.
    Restore(restore::RestoreArgs),
    /// Reports: `synth` writes a synthetic year into the event log (benchmarks, demos).
    Reports {
        #[command(subcommand)]
        action: reports_synth::ReportsCommand,
    },
    /// Add N invented tickets (deterministic from the seed) for benchmarks and demos.
    GenTickets {
        /// How many.
        count: u64,
        /// Seed of the invented content.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Concurrent writers.
        #[arg(long, default_value_t = 1)]
        writers: usize,
        /// Configuration file (TOML); the database is `DATABASE_URL`, else `database.url`.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Data directory (holds the SQLite database when no URL is given).
        #[arg(long, default_value = "./data")]
        data: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::CheckConfig { file } => match Config::load(&file) {
            Ok(_) => {
                println!("{}: valid", file.display());
                ExitCode::SUCCESS
            }
            Err(errors) => {
                eprint!("{errors}");
                ExitCode::FAILURE
            }
        },
        Command::Serve(args) => run(serve::serve(args)),
        Command::Init(args) => run(init::run(args)),
        Command::Backup(args) => run(backup::run(args)),
        Command::Restore(args) => run(restore::run(args)),
        Command::DemoData { config, data } => run(async move {
            let config = load_config(config.as_deref())?;
            let store = open_store(&config, &data).await?;
            let report = crm_fixtures::demo::load_demo_data(
                &store,
                &crm_fixtures::demo::DemoOptions::new(chrono::Utc::now()),
            )
            .await
            .context("cannot load the demo data")?;
            info!(?report, "demo data in place");
            store.close().await;
            Ok(())
        }),
        Command::GenTickets {
            count,
            seed,
            writers,
            config,
            data,
        } => run(async move {
            let config = load_config(config.as_deref())?;
            let store = open_store(&config, &data).await?;
            let started = std::time::Instant::now();
            let report = crm_fixtures::synth::generate_tickets(
                &store,
                count,
                seed,
                writers.max(1),
                chrono::Utc::now(),
            )
            .await
            .context("cannot generate tickets")?;
            let secs = started.elapsed().as_secs_f64();
            info!(
                tickets = report.tickets,
                customers = report.customers,
                seconds = format!("{secs:.1}"),
                per_second = format!("{:.0}", report.tickets as f64 / secs.max(1e-9)),
                "synthetic tickets written"
            );
            store.close().await;
            Ok(())
        }),
        Command::User { action, site } => run(async move {
            let store = open_store(&site.config()?, &site.data).await?;
            let result = admin::user(&store, action).await;
            store.close().await;
            result
        }),
        Command::Queue { action, site } => run(async move {
            let store = open_store(&site.config()?, &site.data).await?;
            let result = admin::queue(&store, action).await;
            store.close().await;
            result
        }),
        Command::Reports { action } => run(reports_synth::run(action)),
        Command::Migrate { config, data } => run(async move {
            let config = load_config(config.as_deref())?;
            let store = open_store(&config, &data).await?;
            info!(backend = ?store.backend(), "database schema up to date");
            store.close().await;
            Ok(())
        }),
    }
}

/// Runs `work` on the main runtime with logging set up; errors are logged and exit 1.
fn run(work: impl std::future::Future<Output = anyhow::Result<()>>) -> ExitCode {
    init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("centralino")
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(work) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            error!("{error:#}");
            // A refusal (unsafe without a flag) exits 2, other failures 1.
            match error.is::<maintenance::Refused>() {
                true => ExitCode::from(2),
                false => ExitCode::FAILURE,
            }
        }
    }
}

fn load_config(path: Option<&std::path::Path>) -> anyhow::Result<Config> {
    match path {
        Some(path) => Config::load(path).map_err(|errors| anyhow::anyhow!("{errors}")),
        None => Ok(Config::demo()),
    }
}

/// Opens the CRM store (creating the data directory and the PIN secret when missing) and
/// brings its schema up to date.
async fn open_store(config: &Config, data: &std::path::Path) -> anyhow::Result<crm::Store> {
    std::fs::create_dir_all(data)
        .with_context(|| format!("cannot create the data directory {}", data.display()))?;
    let url = config.database.url(data);
    let pin_secret = crm::customers::load_or_create_secret(&data.join("pin.key"))
        .with_context(|| format!("cannot read or create {}", data.join("pin.key").display()))?;
    let settings = config
        .database
        .settings(pin_secret, &config.registrar.realm)?;
    crm::Store::connect_with(&url, settings)
        .await
        .with_context(|| format!("cannot open the database {}", redact(&url)))
}

/// A database URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .init();
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(
            super::redact("postgres://app:s3cret@db.example.org/centralino"),
            "postgres://app:***@db.example.org/centralino"
        );
        assert_eq!(
            super::redact("postgres://app@127.0.0.1/test"),
            "postgres://app@127.0.0.1/test"
        );
        assert_eq!(
            super::redact("sqlite://data/c.db?mode=rwc"),
            "sqlite://data/c.db?mode=rwc"
        );
    }
}
