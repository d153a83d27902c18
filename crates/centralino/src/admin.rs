//! `centralino user …` and `centralino queue …`: the site's administration from the command
//! line, on the same store functions as the API and the admin pages (checked, audited as the
//! system, counted in the site revision: a running `serve` applies the change within
//! `site::WATCH_EVERY`).
//!
//! Passwords and phone secrets never travel on the command line (other users could read it
//! in the process list): they come from a file (`--password-file`), from the environment
//! (`CENTRALINO_PASSWORD`, `CENTRALINO_PHONE_SECRET`), or are generated and printed once.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use chrono::Utc;
use clap::Subcommand;
use crm::{Access, Actor, Membership, PhoneKind, QueueSettings, Role, Store, UserChange};

/// `centralino user …`.
#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Every user: role, state, queues, phone.
    List,
    /// Create a user. The web password comes from --password-file, CENTRALINO_PASSWORD, or
    /// is generated and printed once.
    Add {
        login: String,
        /// Display name.
        #[arg(long)]
        name: String,
        /// agent_first_level, agent_second_level, supervisor or admin.
        #[arg(long)]
        role: String,
        #[arg(long)]
        password_file: Option<PathBuf>,
        /// A queue served through the ACD, `name` or `name:weight` (repeatable).
        #[arg(long = "queue")]
        queues: Vec<String>,
        /// A queue whose tickets the user may change (repeatable).
        #[arg(long = "write")]
        writes: Vec<String>,
        /// A queue whose tickets the user may read (repeatable).
        #[arg(long = "read")]
        reads: Vec<String>,
        /// `registering`, or the static phone's SIP URI (`sip:1001@192.0.2.10:5060`).
        #[arg(long)]
        phone: Option<String>,
    },
    /// Set a user's web password (from --password-file, CENTRALINO_PASSWORD, or generated).
    Passwd {
        login: String,
        #[arg(long)]
        password_file: Option<PathBuf>,
    },
    /// Set a phone's SIP secret (from --secret-file, CENTRALINO_PHONE_SECRET, or generated).
    PhoneSecret {
        login: String,
        #[arg(long)]
        secret_file: Option<PathBuf>,
    },
    /// Disable a user: no sign-in, no calls, the phone stops authenticating.
    Disable { login: String },
    /// Enable a disabled user.
    Enable { login: String },
}

/// `centralino queue …`.
#[derive(Subcommand, Debug)]
pub enum QueueCommand {
    /// Every queue with its settings and members.
    List,
    /// Create a queue: the CRM queue and the ACD queue, one thing.
    Add {
        name: String,
        /// A back-office queue (tickets assigned to the second level).
        #[arg(long)]
        second_level: bool,
        /// Tickets only (e-mail, web form): no calls wait here.
        #[arg(long)]
        no_calls: bool,
        /// Announce position and wait every this many seconds.
        #[arg(long)]
        announce_every: Option<u64>,
        /// Calls answered within this many seconds count as on time (default 30).
        #[arg(long)]
        service_level: Option<u64>,
        /// After this many seconds of wait, the call goes to --overflow.
        #[arg(long, requires = "overflow")]
        max_wait: Option<u64>,
        /// Another queue, or `voicemail:<box>`.
        #[arg(long, requires = "max_wait")]
        overflow: Option<String>,
        /// Weight against the other queues an agent serves (1-100, default 1).
        #[arg(long)]
        weight: Option<u32>,
    },
}

/// A secret from `file`, else the environment variable `env`, else generated (and then
/// printed, since nobody knows it yet). Returns it and whether it was generated.
fn secret(file: Option<&Path>, env: &str) -> anyhow::Result<(String, bool)> {
    if let Some(path) = file {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let line = text.lines().next().unwrap_or_default().to_string();
        if line.is_empty() {
            bail!(
                "{} is empty: expected the secret on its first line",
                path.display()
            );
        }
        return Ok((line, false));
    }
    if let Ok(value) = std::env::var(env)
        && !value.is_empty()
    {
        return Ok((value, false));
    }
    Ok((crm::site::generate_secret(), true))
}

fn role(text: &str) -> anyhow::Result<Role> {
    text.parse::<Role>().map_err(|_| {
        anyhow::anyhow!(
            "--role: expected agent_first_level, agent_second_level, supervisor or admin, got {text}"
        )
    })
}

/// `name` or `name:weight`.
fn membership(text: &str) -> anyhow::Result<Membership> {
    let (queue, weight) = match text.rsplit_once(':') {
        Some((q, w)) => (
            q,
            w.parse::<u32>()
                .with_context(|| format!("--queue {text}: the weight after ':' is a number"))?,
        ),
        None => (text, 1),
    };
    Ok(Membership {
        queue: queue.to_string(),
        weight,
    })
}

fn phone(text: &str) -> PhoneKind {
    if text == "registering" {
        PhoneKind::Registering
    } else {
        PhoneKind::Static {
            contact: text.to_string(),
        }
    }
}

/// Runs a `user` command.
pub async fn user(store: &Store, command: UserCommand) -> anyhow::Result<()> {
    let (now, actor) = (Utc::now(), Actor::System);
    match command {
        UserCommand::List => {
            println!(
                "{:<16} {:<20} {:<6} {:<30} phone",
                "login", "role", "active", "queues"
            );
            for u in store.site_users().await? {
                let queues: Vec<String> = u
                    .memberships
                    .iter()
                    .map(|m| format!("{}:{}", m.queue, m.weight))
                    .collect();
                let phone = match &u.phone {
                    None => "-".to_string(),
                    Some(p) => {
                        let kind = match &p.kind {
                            PhoneKind::Registering => "registering".to_string(),
                            PhoneKind::Static { contact } => contact.clone(),
                        };
                        if p.has_secret {
                            kind
                        } else {
                            format!("{kind} (no secret)")
                        }
                    }
                };
                println!(
                    "{:<16} {:<20} {:<6} {:<30} {phone}",
                    u.user.login,
                    u.user.role.as_str(),
                    if u.user.active { "yes" } else { "no" },
                    queues.join(",")
                );
            }
        }
        UserCommand::Add {
            login,
            name,
            role: role_name,
            password_file,
            queues,
            writes,
            reads,
            phone: phone_text,
        } => {
            let role = role(&role_name)?;
            let memberships = queues
                .iter()
                .map(|q| membership(q))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let (password, generated) = secret(password_file.as_deref(), "CENTRALINO_PASSWORD")?;
            if password.chars().count() < 8 {
                bail!("the password needs at least 8 characters");
            }
            store
                .add_user(&login, &name, role, &password, actor, now)
                .await
                .with_context(|| format!("cannot create user {login}"))?;
            if !memberships.is_empty() {
                store
                    .set_memberships(&login, &memberships, actor, now)
                    .await?;
            }
            let permissions: Vec<(String, Access)> = writes
                .iter()
                .map(|q| (q.clone(), Access::Write))
                .chain(reads.iter().map(|q| (q.clone(), Access::Read)))
                .collect();
            if !permissions.is_empty() {
                store
                    .set_permissions(&login, &permissions, actor, now)
                    .await?;
            }
            if let Some(p) = &phone_text {
                store.set_phone(&login, Some(&phone(p)), actor, now).await?;
            }
            println!("user {login} created ({})", role.as_str());
            if generated {
                println!("web password (shown once): {password}");
            }
            if phone_text.is_some() {
                println!("set the phone's secret with: centralino user phone-secret {login}");
            }
        }
        UserCommand::Passwd {
            login,
            password_file,
        } => {
            let user = store
                .user_by_login(&login)
                .await?
                .with_context(|| format!("no user {login}"))?;
            let (password, generated) = secret(password_file.as_deref(), "CENTRALINO_PASSWORD")?;
            if password.chars().count() < 8 {
                bail!("the password needs at least 8 characters");
            }
            store.set_password(user.id, &password, actor, now).await?;
            println!("password of {login} set");
            if generated {
                println!("web password (shown once): {password}");
            }
        }
        UserCommand::PhoneSecret { login, secret_file } => {
            let (value, generated) = secret(secret_file.as_deref(), "CENTRALINO_PHONE_SECRET")?;
            store
                .set_sip_secret(&login, &value, actor, now)
                .await
                .with_context(|| format!("cannot set the phone secret of {login}"))?;
            println!("phone secret of {login} set");
            if generated {
                println!("phone secret (shown once): {value}");
            }
        }
        UserCommand::Disable { login } => {
            let change = UserChange {
                active: Some(false),
                ..UserChange::default()
            };
            store.update_user(&login, &change, actor, now).await?;
            println!("user {login} disabled");
        }
        UserCommand::Enable { login } => {
            let change = UserChange {
                active: Some(true),
                ..UserChange::default()
            };
            store.update_user(&login, &change, actor, now).await?;
            println!("user {login} enabled");
        }
    }
    Ok(())
}

/// Runs a `queue` command.
pub async fn queue(store: &Store, command: QueueCommand) -> anyhow::Result<()> {
    let (now, actor) = (Utc::now(), Actor::System);
    match command {
        QueueCommand::List => {
            println!(
                "{:<20} {:<6} {:<6} {:<7} {:<14} {:<24} members",
                "name", "level", "calls", "weight", "service level", "overflow"
            );
            for q in store.site_queues().await? {
                let members: Vec<String> = store
                    .queue_members(&q.queue.name)
                    .await?
                    .into_iter()
                    .map(|(login, weight)| format!("{login}:{weight}"))
                    .collect();
                let s = &q.settings;
                let overflow = match (&s.max_wait_s, &s.overflow) {
                    (Some(w), Some(o)) => format!("after {w} s to {o}"),
                    _ => "-".to_string(),
                };
                println!(
                    "{:<20} {:<6} {:<6} {:<7} {:<14} {:<24} {}",
                    q.queue.name,
                    if q.queue.second_level { 2 } else { 1 },
                    if s.takes_calls { "yes" } else { "no" },
                    s.weight,
                    format!("{} s", s.service_level_s),
                    overflow,
                    members.join(",")
                );
            }
        }
        QueueCommand::Add {
            name,
            second_level,
            no_calls,
            announce_every,
            service_level,
            max_wait,
            overflow,
            weight,
        } => {
            let d = QueueSettings::default();
            let settings = QueueSettings {
                takes_calls: !no_calls,
                weight: weight.unwrap_or(d.weight),
                announce_every_s: announce_every,
                max_wait_s: max_wait,
                overflow,
                service_level_s: service_level.unwrap_or(d.service_level_s),
                ..d
            };
            store
                .create_site_queue(&name, second_level, &settings, actor, now)
                .await
                .with_context(|| format!("cannot create queue {name}"))?;
            println!("queue {name} created");
        }
    }
    Ok(())
}
