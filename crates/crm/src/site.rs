//! The site's people and queues as data (DESIGN.md "Where things live"; R-PLT-2, R-ACD-7):
//! a queue's call distribution settings (one thing with the CRM queue, created once), the
//! agents' queue memberships with their weights, the agents' phones (registering, or a
//! static contact) each with its own SIP digest secret, and users' roles, state and per-queue
//! permissions.
//!
//! Every change is audited and bumps the **site revision** in the same transaction; the
//! running service watches the revision (and the `site.changed` event the API publishes) and
//! applies the new [`Site`] to the ACD, the registrar and the switchboard without a restart.
//!
//! A phone's secret is its own: set by an administrator or generated, kept as the HA1 values
//! for the configured realm (as [`crate::credentials`] computes them). A new realm makes every
//! secret unusable until it is set again. Users without a phone have no digest credentials.

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::access::{Access, Role, User, audit_in_tx};
use crate::credentials::{ha1_md5, ha1_sha256};
use crate::error::{Error, Result};
use crate::queues::Queue;
use crate::store::Store;
use crate::types::{Actor, QueueId, flag, from_ms, to_ms};

/// Longest name of a queue.
const MAX_QUEUE_NAME: usize = 64;

/// How a queue distributes calls (the ACD's settings of it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSettings {
    /// Whether calls are queued here (a queue for written channels only does not).
    pub takes_calls: bool,
    /// An agent serving several queues takes the head call whose wait × weight is highest.
    /// 1 to 100.
    pub weight: u32,
    /// Announce position and expected wait every this many seconds; `None`: hold music only.
    pub announce_every_s: Option<u64>,
    /// Longest wait before the call goes to `overflow`.
    pub max_wait_s: Option<u64>,
    /// Another queue's name or `voicemail:<box>`.
    pub overflow: Option<String>,
    /// Expected wait per position announced while the queue has no recent answers.
    pub expected_wait_s: u64,
    /// Calls answered within this many seconds count as on time.
    pub service_level_s: u64,
    /// Calls transferred here go to the head of the queue.
    pub transfers_at_head: bool,
}

impl Default for QueueSettings {
    fn default() -> Self {
        QueueSettings {
            takes_calls: true,
            weight: 1,
            announce_every_s: None,
            max_wait_s: None,
            overflow: None,
            expected_wait_s: 60,
            service_level_s: 30,
            transfers_at_head: false,
        }
    }
}

/// A queue with its distribution settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteQueue {
    /// The CRM queue.
    pub queue: Queue,
    /// How it distributes calls.
    pub settings: QueueSettings,
}

/// One queue an agent serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    /// The queue's name.
    pub queue: String,
    /// 1 to 100: among the queues an agent serves, the head call's wait is multiplied by the
    /// queue's weight and by this one.
    pub weight: u32,
}

/// An agent's phone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PhoneKind {
    /// The phone registers (REGISTER with digest authentication).
    Registering,
    /// The phone is at a fixed SIP URI and never registers.
    Static {
        /// E.g. `sip:1001@192.0.2.10:5060`.
        contact: String,
    },
}

/// A phone as the administration shows it (never its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phone {
    /// Registering or static.
    pub kind: PhoneKind,
    /// Whether a secret is set for the realm in force (a registering phone needs one).
    pub has_secret: bool,
    /// When the secret was last set.
    pub secret_changed: Option<DateTime<Utc>>,
}

/// A user with what the administration sees of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteUser {
    /// The account.
    pub user: User,
    /// Queues served through the ACD.
    pub memberships: Vec<Membership>,
    /// CRM permissions: queue name → access.
    pub permissions: Vec<(String, Access)>,
    /// The phone, if the user has one.
    pub phone: Option<Phone>,
    /// The directory entry's DN of a directory-managed account (its role and queues are
    /// rewritten from the directory's groups at each sign-in).
    pub directory_dn: Option<String>,
}

/// Everything the running service takes from the database: the queues that take calls, and
/// the active users who serve one, with their phones.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Site {
    /// The revision this was read at.
    pub revision: i64,
    /// Queues that take calls, by name.
    pub queues: Vec<SiteQueue>,
    /// Active users with at least one membership, by login.
    pub agents: Vec<SiteUser>,
}

/// What to change of a user (`None`: unchanged).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserChange {
    /// A new display name.
    pub full_name: Option<String>,
    /// A new role.
    pub role: Option<Role>,
    /// Enable or disable.
    pub active: Option<bool>,
}

/// A queue name: 1-64 of `a-z`, `0-9`, `-`, `_`, `.`, not starting with `voicemail:`.
pub fn check_queue_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= MAX_QUEUE_NAME
        && name.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.')
        });
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "queue name",
            "1-64 of a-z, 0-9, '-', '_' and '.'",
            name,
        ))
    }
}

/// A login: 1-64 of letters, digits, `.`, `-`, `_`, `@` (it is also a SIP user).
pub fn check_login(login: &str) -> Result<()> {
    let ok = !login.is_empty()
        && login.len() <= 64
        && login
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'@'));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "login",
            "1-64 of letters, digits, '.', '-', '_' and '@'",
            login,
        ))
    }
}

/// A static contact: `sip:user@IP[:port][;params]` with an IP address (no DNS at call time).
pub fn check_contact(contact: &str) -> Result<()> {
    let rest = contact
        .strip_prefix("sip:")
        .ok_or_else(|| Error::invalid("contact", "a sip: URI", contact))?;
    let host_port = rest.split(';').next().unwrap_or_default();
    let host_port = host_port.rsplit_once('@').map_or(host_port, |(_, h)| h);
    let ip_ok = host_port.parse::<std::net::SocketAddr>().is_ok()
        || host_port.parse::<std::net::IpAddr>().is_ok();
    if ip_ok && contact.len() <= 256 && !contact.chars().any(char::is_whitespace) {
        Ok(())
    } else {
        Err(Error::invalid(
            "contact",
            "a SIP URI with an IP address, e.g. sip:1001@192.0.2.10:5060",
            contact,
        ))
    }
}

fn check_weight(what: &'static str, weight: u32) -> Result<()> {
    if (1..=100).contains(&weight) {
        Ok(())
    } else {
        Err(Error::invalid(what, "1 to 100", weight))
    }
}

/// The settings on their own (the overflow target's existence is checked against the
/// database by the caller).
fn check_settings(s: &QueueSettings) -> Result<()> {
    check_weight("weight", s.weight)?;
    for (what, value) in [
        ("announce_every_s", s.announce_every_s),
        ("max_wait_s", s.max_wait_s),
        ("expected_wait_s", Some(s.expected_wait_s)),
        ("service_level_s", Some(s.service_level_s)),
    ] {
        if let Some(v) = value
            && !(1..=86_400).contains(&v)
        {
            return Err(Error::invalid(what, "1 to 86400 seconds", v));
        }
    }
    match (&s.max_wait_s, &s.overflow) {
        (Some(_), None) => Err(Error::invalid(
            "overflow",
            "a target (a queue or voicemail:<box>) since max_wait_s is set",
            "nothing",
        )),
        (None, Some(o)) => Err(Error::invalid(
            "max_wait_s",
            "a number of seconds since overflow is set",
            format!("nothing (overflow {o})"),
        )),
        _ => Ok(()),
    }
}

const QUEUE_COLUMNS: &str = "id, name, second_level, takes_calls, weight, announce_every_s, \
     max_wait_s, overflow, expected_wait_s, service_level_s, transfers_at_head";

fn site_queue(row: &AnyRow) -> Result<SiteQueue> {
    let secs = |c: &str| -> Result<Option<u64>> {
        Ok(row.try_get::<Option<i64>, _>(c)?.map(|v| v.max(0) as u64))
    };
    Ok(SiteQueue {
        queue: Queue {
            id: QueueId(row.try_get("id")?),
            name: row.try_get("name")?,
            second_level: flag(row, "second_level")?,
        },
        settings: QueueSettings {
            takes_calls: flag(row, "takes_calls")?,
            weight: row.try_get::<i64, _>("weight")?.clamp(1, 100) as u32,
            announce_every_s: secs("announce_every_s")?,
            max_wait_s: secs("max_wait_s")?,
            overflow: row.try_get("overflow")?,
            expected_wait_s: secs("expected_wait_s")?.unwrap_or(60),
            service_level_s: secs("service_level_s")?.unwrap_or(30),
            transfers_at_head: flag(row, "transfers_at_head")?,
        },
    })
}

type Tx = sqlx::Transaction<'static, sqlx::Any>;

async fn bump_revision(tx: &mut Tx) -> Result<()> {
    sqlx::query("UPDATE site_revision SET revision = revision + 1 WHERE id = 1")
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The audited, revision-bumping end of every change.
async fn changed(
    mut tx: Tx,
    actor: Actor,
    action: &str,
    object: &str,
    detail: Option<&str>,
    now: DateTime<Utc>,
) -> Result<()> {
    audit_in_tx(&mut tx, actor, action, object, detail, now).await?;
    bump_revision(&mut tx).await?;
    tx.commit().await?;
    Ok(())
}

/// The end of every change of a user: audited on `user:<id>` with `detail`.
async fn user_changed(
    tx: Tx,
    actor: Actor,
    user: &User,
    detail: Option<&str>,
    now: DateTime<Utc>,
) -> Result<()> {
    changed(
        tx,
        actor,
        "change",
        &format!("user:{}", user.id),
        detail,
        now,
    )
    .await
}

impl Store {
    /// The user called `login`, or not found.
    async fn user_named(&self, login: &str) -> Result<User> {
        self.user_by_login(login)
            .await?
            .ok_or_else(|| Error::not_found("user", login))
    }

    /// The ids of the queues `names`, in order; an unknown or repeated name is refused as
    /// an invalid `what`.
    async fn queue_ids<'a>(
        &self,
        what: &'static str,
        names: impl Iterator<Item = &'a str>,
    ) -> Result<Vec<QueueId>> {
        let mut ids: Vec<QueueId> = Vec::new();
        for name in names {
            let id = self
                .queue_by_name(name)
                .await?
                .ok_or_else(|| Error::invalid("queue", "an existing queue", name))?;
            if ids.contains(&id) {
                return Err(Error::invalid(what, "each queue once", name));
            }
            ids.push(id);
        }
        Ok(ids)
    }

    /// The site revision: it grows with every change of people, queues or phones.
    pub async fn site_revision(&self) -> Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT revision FROM site_revision WHERE id = 1")
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// Every queue with its settings, by name.
    pub async fn site_queues(&self) -> Result<Vec<SiteQueue>> {
        let rows = sqlx::query(&format!("SELECT {QUEUE_COLUMNS} FROM queues ORDER BY name"))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(site_queue).collect()
    }

    /// One queue with its settings.
    pub async fn site_queue(&self, name: &str) -> Result<SiteQueue> {
        let row = sqlx::query(&format!(
            "SELECT {QUEUE_COLUMNS} FROM queues WHERE name = $1"
        ))
        .bind(name)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| Error::not_found("queue", name))?;
        site_queue(&row)
    }

    /// Checks that `overflow` names another existing queue, or is `voicemail:<box>`.
    async fn check_overflow(&self, queue: &str, overflow: Option<&str>) -> Result<()> {
        let Some(target) = overflow else {
            return Ok(());
        };
        if let Some(mailbox) = target.strip_prefix("voicemail:") {
            return if mailbox.is_empty() || mailbox.len() > 64 {
                Err(Error::invalid("overflow", "voicemail:<box>", target))
            } else {
                Ok(())
            };
        }
        if target == queue {
            return Err(Error::invalid(
                "overflow",
                "another queue than itself",
                target,
            ));
        }
        match self.queue_by_name(target).await? {
            Some(_) => Ok(()),
            None => Err(Error::invalid(
                "overflow",
                "an existing queue or voicemail:<box>",
                target,
            )),
        }
    }

    /// Creates a queue with its distribution settings (one thing: the CRM queue tickets go to
    /// and the ACD queue calls wait in); a duplicate name is refused. Audited.
    pub async fn create_site_queue(
        &self,
        name: &str,
        second_level: bool,
        settings: &QueueSettings,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<SiteQueue> {
        check_queue_name(name)?;
        check_settings(settings)?;
        self.check_overflow(name, settings.overflow.as_deref())
            .await?;
        if self.queue_by_name(name).await?.is_some() {
            return Err(Error::Duplicate {
                what: "queue",
                key: name.to_string(),
            });
        }
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO queues (name, second_level, created, takes_calls, weight, \
             announce_every_s, max_wait_s, overflow, expected_wait_s, service_level_s, \
             transfers_at_head) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(name)
        .bind(second_level)
        .bind(to_ms(now))
        .bind(settings.takes_calls)
        .bind(i64::from(settings.weight))
        .bind(settings.announce_every_s.map(|v| v as i64))
        .bind(settings.max_wait_s.map(|v| v as i64))
        .bind(settings.overflow.as_deref())
        .bind(settings.expected_wait_s as i64)
        .bind(settings.service_level_s as i64)
        .bind(settings.transfers_at_head)
        .execute(&mut *tx)
        .await?;
        changed(
            tx,
            actor,
            "create",
            &format!("queue:{name}"),
            Some(&describe(second_level, settings)),
            now,
        )
        .await?;
        self.site_queue(name).await
    }

    /// Replaces a queue's distribution settings and level. Audited with the new values.
    pub async fn update_site_queue(
        &self,
        name: &str,
        second_level: bool,
        settings: &QueueSettings,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<SiteQueue> {
        check_settings(settings)?;
        self.check_overflow(name, settings.overflow.as_deref())
            .await?;
        let mut tx = self.begin_write().await?;
        let updated = sqlx::query(
            "UPDATE queues SET second_level = $1, takes_calls = $2, weight = $3, \
             announce_every_s = $4, max_wait_s = $5, overflow = $6, expected_wait_s = $7, \
             service_level_s = $8, transfers_at_head = $9 WHERE name = $10",
        )
        .bind(second_level)
        .bind(settings.takes_calls)
        .bind(i64::from(settings.weight))
        .bind(settings.announce_every_s.map(|v| v as i64))
        .bind(settings.max_wait_s.map(|v| v as i64))
        .bind(settings.overflow.as_deref())
        .bind(settings.expected_wait_s as i64)
        .bind(settings.service_level_s as i64)
        .bind(settings.transfers_at_head)
        .bind(name)
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() == 0 {
            return Err(Error::not_found("queue", name));
        }
        changed(
            tx,
            actor,
            "change",
            &format!("queue:{name}"),
            Some(&describe(second_level, settings)),
            now,
        )
        .await?;
        self.site_queue(name).await
    }

    /// Deletes a queue that holds no ticket, is no other queue's overflow and is not `raw`;
    /// its memberships and permissions go with it. Audited.
    pub async fn delete_site_queue(
        &self,
        name: &str,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let id = self
            .queue_by_name(name)
            .await?
            .ok_or_else(|| Error::not_found("queue", name))?;
        if name == "raw" {
            return Err(Error::InUse {
                what: "queue",
                key: name.into(),
                by: "the system (new e-mail and web tickets arrive there)".into(),
            });
        }
        let tickets: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tickets WHERE queue_id = $1")
            .bind(id.0)
            .fetch_one(&self.pool)
            .await?;
        if tickets > 0 {
            return Err(Error::InUse {
                what: "queue",
                key: name.into(),
                by: format!("{tickets} tickets (move them, or stop its calls instead)"),
            });
        }
        let users: Vec<String> =
            sqlx::query_scalar("SELECT name FROM queues WHERE overflow = $1 ORDER BY name")
                .bind(name)
                .fetch_all(&self.pool)
                .await?;
        if !users.is_empty() {
            return Err(Error::InUse {
                what: "queue",
                key: name.into(),
                by: format!("the overflow of {}", users.join(", ")),
            });
        }
        let mut tx = self.begin_write().await?;
        for sql in [
            "DELETE FROM queue_members WHERE queue_id = $1",
            "DELETE FROM queue_permissions WHERE queue_id = $1",
            "DELETE FROM notification_queues WHERE queue_id = $1",
            "DELETE FROM queues WHERE id = $1",
        ] {
            sqlx::query(sql).bind(id.0).execute(&mut *tx).await?;
        }
        changed(tx, actor, "delete", &format!("queue:{name}"), None, now).await
    }

    /// Who serves `queue` through the ACD, with their weights, by login (disabled users too:
    /// the administration shows them).
    pub async fn queue_members(&self, queue: &str) -> Result<Vec<(String, u32)>> {
        sqlx::query(
            "SELECT u.login, m.weight FROM queue_members m JOIN queues q ON q.id = m.queue_id \
             JOIN users u ON u.id = m.user_id WHERE q.name = $1 ORDER BY u.login",
        )
        .bind(queue)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok((
                r.try_get("login")?,
                r.try_get::<i64, _>("weight")?.clamp(1, 100) as u32,
            ))
        })
        .collect()
    }

    /// Every user with memberships, permissions and phone, by login.
    pub async fn site_users(&self) -> Result<Vec<SiteUser>> {
        let rows =
            sqlx::query("SELECT id, login, full_name, role, active FROM users ORDER BY login")
                .fetch_all(&self.pool)
                .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let user = crate::access::user_from_row(row)?;
            out.push(self.site_user_of(user).await?);
        }
        Ok(out)
    }

    /// One user with memberships, permissions and phone.
    pub async fn site_user(&self, login: &str) -> Result<SiteUser> {
        let user = self.user_named(login).await?;
        self.site_user_of(user).await
    }

    async fn site_user_of(&self, user: User) -> Result<SiteUser> {
        let memberships = sqlx::query(
            "SELECT q.name, m.weight FROM queue_members m JOIN queues q ON q.id = m.queue_id \
             WHERE m.user_id = $1 ORDER BY q.name",
        )
        .bind(user.id.0)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(Membership {
                queue: r.try_get("name")?,
                weight: r.try_get::<i64, _>("weight")?.clamp(1, 100) as u32,
            })
        })
        .collect::<Result<Vec<_>>>()?;
        let permissions = sqlx::query(
            "SELECT q.name, p.can_write FROM queue_permissions p JOIN queues q \
             ON q.id = p.queue_id WHERE p.user_id = $1 ORDER BY q.name",
        )
        .bind(user.id.0)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            let access = if flag(r, "can_write")? {
                Access::Write
            } else {
                Access::Read
            };
            Ok((r.try_get("name")?, access))
        })
        .collect::<Result<Vec<_>>>()?;
        let phone = sqlx::query(
            "SELECT static_contact, sip_realm, sip_ha1_md5, secret_changed FROM phones \
             WHERE user_id = $1",
        )
        .bind(user.id.0)
        .fetch_optional(&self.pool)
        .await?
        .map(|r| -> Result<Phone> {
            let contact: Option<String> = r.try_get("static_contact")?;
            let realm: Option<String> = r.try_get("sip_realm")?;
            let ha1: Option<String> = r.try_get("sip_ha1_md5")?;
            Ok(Phone {
                kind: match contact {
                    Some(contact) => PhoneKind::Static { contact },
                    None => PhoneKind::Registering,
                },
                has_secret: ha1.is_some()
                    && realm.as_deref() == Some(self.settings.sip_realm.as_str()),
                secret_changed: r.try_get::<Option<i64>, _>("secret_changed")?.map(from_ms),
            })
        })
        .transpose()?;
        let directory_dn: Option<String> =
            sqlx::query_scalar("SELECT directory_dn FROM users WHERE id = $1")
                .bind(user.id.0)
                .fetch_one(&self.pool)
                .await?;
        Ok(SiteUser {
            user,
            memberships,
            permissions,
            phone,
            directory_dn,
        })
    }

    /// What the running service applies: the revision, the queues that take calls and the
    /// active users who serve at least one of them.
    pub async fn site(&self) -> Result<Site> {
        let revision = self.site_revision().await?;
        let queues: Vec<SiteQueue> = self
            .site_queues()
            .await?
            .into_iter()
            .filter(|q| q.settings.takes_calls)
            .collect();
        let mut agents = Vec::new();
        for user in self.site_users().await? {
            if !user.user.active {
                continue;
            }
            let memberships: Vec<Membership> = user
                .memberships
                .iter()
                .filter(|m| queues.iter().any(|q| q.queue.name == m.queue))
                .cloned()
                .collect();
            if !memberships.is_empty() {
                agents.push(SiteUser {
                    memberships,
                    ..user
                });
            }
        }
        Ok(Site {
            revision,
            queues,
            agents,
        })
    }

    /// Creates a user (audited). The web password is argon2 only; a phone and its secret are
    /// set apart ([`Store::set_phone`], [`Store::set_sip_secret`]).
    pub async fn add_user(
        &self,
        login: &str,
        full_name: &str,
        role: Role,
        password: &str,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<User> {
        check_login(login)?;
        if full_name.trim().is_empty() || full_name.len() > 200 {
            return Err(Error::invalid("full_name", "1-200 characters", full_name));
        }
        let user = self
            .create_user(login, full_name, role, password, now)
            .await?;
        let tx = self.begin_write().await?;
        changed(
            tx,
            actor,
            "create",
            &format!("user:{}", user.id),
            Some(&format!("{login} ({})", role.as_str())),
            now,
        )
        .await?;
        Ok(user)
    }

    /// Changes a user's name, role or state (audited: what changed). A disabled user cannot
    /// log in, is offered no calls and their phone's credentials stop working.
    pub async fn update_user(
        &self,
        login: &str,
        change: &UserChange,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<User> {
        let user = self.user_named(login).await?;
        let mut what = Vec::new();
        let mut tx = self.begin_write().await?;
        if let Some(name) = &change.full_name {
            if name.trim().is_empty() || name.len() > 200 {
                return Err(Error::invalid("full_name", "1-200 characters", name));
            }
            sqlx::query("UPDATE users SET full_name = $1 WHERE id = $2")
                .bind(name.as_str())
                .bind(user.id.0)
                .execute(&mut *tx)
                .await?;
            what.push("full_name".to_string());
        }
        if let Some(role) = change.role {
            sqlx::query("UPDATE users SET role = $1 WHERE id = $2")
                .bind(role.as_str())
                .bind(user.id.0)
                .execute(&mut *tx)
                .await?;
            what.push(format!("role {}", role.as_str()));
        }
        if let Some(active) = change.active {
            sqlx::query("UPDATE users SET active = $1 WHERE id = $2")
                .bind(active)
                .bind(user.id.0)
                .execute(&mut *tx)
                .await?;
            what.push(if active { "enabled" } else { "disabled" }.to_string());
        }
        if what.is_empty() {
            return Ok(user);
        }
        user_changed(tx, actor, &user, Some(&what.join(", ")), now).await?;
        self.user(user.id).await
    }

    /// Replaces the queues `login` serves through the ACD, each with its weight (1-100).
    /// Audited with the new list.
    pub async fn set_memberships(
        &self,
        login: &str,
        memberships: &[Membership],
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let user = self.user_named(login).await?;
        for m in memberships {
            check_weight("weight", m.weight)?;
        }
        let queues = self
            .queue_ids("queues", memberships.iter().map(|m| m.queue.as_str()))
            .await?;
        let ids: Vec<(QueueId, u32)> = queues
            .into_iter()
            .zip(memberships.iter().map(|m| m.weight))
            .collect();
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM queue_members WHERE user_id = $1")
            .bind(user.id.0)
            .execute(&mut *tx)
            .await?;
        for (queue, weight) in &ids {
            sqlx::query(
                "INSERT INTO queue_members (user_id, queue_id, weight) VALUES ($1, $2, $3)",
            )
            .bind(user.id.0)
            .bind(queue.0)
            .bind(i64::from(*weight))
            .execute(&mut *tx)
            .await?;
        }
        let detail = memberships
            .iter()
            .map(|m| format!("{}×{}", m.queue, m.weight))
            .collect::<Vec<_>>()
            .join(", ");
        user_changed(tx, actor, &user, Some(&format!("queues: {detail}")), now).await
    }

    /// Replaces `login`'s CRM permissions (queue name → read or write). Audited.
    pub async fn set_permissions(
        &self,
        login: &str,
        permissions: &[(String, Access)],
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let user = self.user_named(login).await?;
        let queues = self
            .queue_ids("permissions", permissions.iter().map(|(q, _)| q.as_str()))
            .await?;
        let ids: Vec<(QueueId, Access)> = queues
            .into_iter()
            .zip(permissions.iter().map(|(_, a)| *a))
            .collect();
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM queue_permissions WHERE user_id = $1")
            .bind(user.id.0)
            .execute(&mut *tx)
            .await?;
        for (queue, access) in &ids {
            sqlx::query(
                "INSERT INTO queue_permissions (user_id, queue_id, can_write) VALUES ($1, $2, $3)",
            )
            .bind(user.id.0)
            .bind(queue.0)
            .bind(*access == Access::Write)
            .execute(&mut *tx)
            .await?;
        }
        let detail = permissions
            .iter()
            .map(|(q, a)| format!("{q}:{}", if *a == Access::Write { "write" } else { "read" }))
            .collect::<Vec<_>>()
            .join(", ");
        user_changed(
            tx,
            actor,
            &user,
            Some(&format!("permissions: {detail}")),
            now,
        )
        .await
    }

    /// Gives `login` a phone of `kind`, or takes it away (`None`: its secret goes too).
    /// Changing the kind keeps the secret. Audited.
    pub async fn set_phone(
        &self,
        login: &str,
        kind: Option<&PhoneKind>,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let user = self.user_named(login).await?;
        let mut tx = self.begin_write().await?;
        let detail = match kind {
            None => {
                sqlx::query("DELETE FROM phones WHERE user_id = $1")
                    .bind(user.id.0)
                    .execute(&mut *tx)
                    .await?;
                "phone removed".to_string()
            }
            Some(kind) => {
                let contact = match kind {
                    PhoneKind::Registering => None,
                    PhoneKind::Static { contact } => {
                        check_contact(contact)?;
                        Some(contact.as_str())
                    }
                };
                sqlx::query(
                    "INSERT INTO phones (user_id, static_contact) VALUES ($1, $2) \
                     ON CONFLICT (user_id) DO UPDATE SET static_contact = excluded.static_contact",
                )
                .bind(user.id.0)
                .bind(contact)
                .execute(&mut *tx)
                .await?;
                match contact {
                    Some(c) => format!("phone at {c}"),
                    None => "registering phone".to_string(),
                }
            }
        };
        user_changed(tx, actor, &user, Some(&detail), now).await
    }

    /// Sets the digest secret of `login`'s phone (its HA1s for the realm in force); a user
    /// without a phone is refused. The secret itself is neither kept nor audited.
    pub async fn set_sip_secret(
        &self,
        login: &str,
        secret: &str,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<()> {
        if secret.len() < 8 || secret.len() > 128 || secret.chars().any(char::is_control) {
            return Err(Error::invalid(
                "secret",
                "8-128 printable characters",
                format!("{} characters", secret.chars().count()),
            ));
        }
        let user = self.user_named(login).await?;
        let realm = self.settings.sip_realm.clone();
        let mut tx = self.begin_write().await?;
        let updated = sqlx::query(
            "UPDATE phones SET sip_realm = $1, sip_ha1_md5 = $2, sip_ha1_sha256 = $3, \
             secret_changed = $4 WHERE user_id = $5",
        )
        .bind(realm.as_str())
        .bind(ha1_md5(login, &realm, secret))
        .bind(ha1_sha256(login, &realm, secret))
        .bind(to_ms(now))
        .bind(user.id.0)
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() == 0 {
            return Err(Error::invalid(
                "phone",
                "a user with a phone (set one first)",
                login,
            ));
        }
        user_changed(tx, actor, &user, Some("phone secret"), now).await
    }
}

/// A queue's settings in the audit log's words.
fn describe(second_level: bool, s: &QueueSettings) -> String {
    let mut parts = vec![
        format!("level {}", if second_level { 2 } else { 1 }),
        format!("calls {}", if s.takes_calls { "yes" } else { "no" }),
        format!("weight {}", s.weight),
        format!("service level {} s", s.service_level_s),
    ];
    if let Some(a) = s.announce_every_s {
        parts.push(format!("announce every {a} s"));
    }
    if let (Some(w), Some(o)) = (s.max_wait_s, &s.overflow) {
        parts.push(format!("after {w} s to {o}"));
    }
    if s.transfers_at_head {
        parts.push("transfers at head".into());
    }
    parts.join(", ")
}

/// A random phone secret: 20 characters of an alphabet without look-alikes (about 115 bits).
pub fn generate_secret() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    (0..20)
        .map(|_| ALPHABET[rand::random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// Shorthand used by the role checks of the administration.
impl Role {
    /// Whether the role answers calls (first- and second-level agents).
    pub fn is_agent(self) -> bool {
        matches!(self, Role::AgentFirstLevel | Role::AgentSecondLevel)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_logins_and_contacts_are_checked() {
        assert!(check_queue_name("cittadini").is_ok());
        assert!(check_queue_name("secondo-livello").is_ok());
        for bad in ["", "Cittadini", "voicemail:x", "a b", &"x".repeat(65)] {
            assert!(check_queue_name(bad).is_err(), "{bad}");
        }
        assert!(check_login("1001").is_ok());
        assert!(check_login("m.rossi@example.org").is_ok());
        for bad in ["", "a b", "a\nb", "a;b"] {
            assert!(check_login(bad).is_err(), "{bad:?}");
        }
        assert!(check_contact("sip:1001@192.0.2.10:5060").is_ok());
        assert!(check_contact("sip:1001@192.0.2.10").is_ok());
        assert!(check_contact("sip:1001@[::1]:5060;transport=tcp").is_ok());
        for bad in [
            "1001@192.0.2.10",
            "sip:1001@phone.example.org",
            "sip:1 @1.2.3.4",
        ] {
            assert!(check_contact(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn settings_are_checked_alone() {
        assert!(check_settings(&QueueSettings::default()).is_ok());
        let bad_weight = QueueSettings {
            weight: 0,
            ..QueueSettings::default()
        };
        assert!(check_settings(&bad_weight).is_err());
        let no_target = QueueSettings {
            max_wait_s: Some(60),
            ..QueueSettings::default()
        };
        assert!(check_settings(&no_target).is_err());
        let no_wait = QueueSettings {
            overflow: Some("voicemail:main".into()),
            ..QueueSettings::default()
        };
        assert!(check_settings(&no_wait).is_err());
        let zero = QueueSettings {
            announce_every_s: Some(0),
            ..QueueSettings::default()
        };
        assert!(check_settings(&zero).is_err());
    }

    #[test]
    fn secrets_are_long_and_distinct() {
        let a = generate_secret();
        let b = generate_secret();
        assert_eq!(a.len(), 20);
        assert_ne!(a, b);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric()));
    }
}
