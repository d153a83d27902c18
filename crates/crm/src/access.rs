//! Operators and access (R-PLT-2): users with roles, per-queue read/write permissions,
//! argon2 password hashes, and the audit log of who saw or changed personal data.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::error::{Error, Result, parse_by_name};
pub use crate::settings::PasswordCost;
use crate::store::Store;
use crate::types::{Actor, QueueId, UserId, from_ms, name_enum, to_ms};

name_enum!(
    /// An operator's role (REQUIREMENTS "Who uses it").
    Role, "role", "agent_first_level, agent_second_level, supervisor or admin" {
        /// First-level operator (front end).
        AgentFirstLevel = "agent_first_level",
        /// Second-level operator (back office).
        AgentSecondLevel = "agent_second_level",
        /// Supervisor: reads every queue.
        Supervisor = "supervisor",
        /// Administrator: reads and writes every queue.
        Admin = "admin",
    }
);
parse_by_name!(Role);

/// What a user may do in a queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Access {
    /// See tickets.
    Read,
    /// See and change tickets.
    Write,
}

/// An operator account (the password hash never leaves the store).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Id.
    pub id: UserId,
    /// Login (SIP user = web login in the demo).
    pub login: String,
    /// Display name.
    pub full_name: String,
    /// Role.
    pub role: Role,
    /// Disabled accounts cannot log in.
    pub active: bool,
}

fn hasher(cost: PasswordCost) -> Result<Argon2<'static>> {
    let params = Params::new(cost.memory_kib, cost.iterations, 1, None)
        .map_err(|e| Error::PasswordHash(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes `password` as a PHC string (argon2id, random salt).
pub fn hash_password(password: &str, cost: PasswordCost) -> Result<String> {
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>())
        .map_err(|e| Error::PasswordHash(e.to_string()))?;
    Ok(hasher(cost)?
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| Error::PasswordHash(e.to_string()))?
        .to_string())
}

/// Checks `password` against a PHC hash (parameters are read from the hash).
pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

pub(crate) fn user_from_row(row: &AnyRow) -> Result<User> {
    Ok(User {
        id: UserId(row.try_get("id")?),
        login: row.try_get("login")?,
        full_name: row.try_get("full_name")?,
        role: row.try_get::<String, _>("role")?.parse()?,
        active: crate::types::flag(row, "active")?,
    })
}

/// One audit row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// When.
    pub at: DateTime<Utc>,
    /// Who (`None`: the system).
    pub actor: Option<UserId>,
    /// `read` or `change` (or another verb).
    pub action: String,
    /// The object, e.g. `customer:7`.
    pub object: String,
    /// Detail.
    pub detail: Option<String>,
}

const INSERT_AUDIT: &str =
    "INSERT INTO audit_log (at, actor_id, action, object, detail) VALUES ($1, $2, $3, $4, $5)";

fn audit_query<'q>(
    actor: Actor,
    action: &'q str,
    object: &'q str,
    detail: Option<&'q str>,
    now: DateTime<Utc>,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    sqlx::query(INSERT_AUDIT)
        .bind(to_ms(now))
        .bind(actor.user_id())
        .bind(action)
        .bind(object)
        .bind(detail)
}

/// Appends an audit row inside `tx`, with the change it records.
pub(crate) async fn audit_in_tx(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    actor: Actor,
    action: &str,
    object: &str,
    detail: Option<&str>,
    now: DateTime<Utc>,
) -> Result<()> {
    audit_query(actor, action, object, detail, now)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

impl Store {
    /// Creates an operator with an argon2 password hash; a duplicate login is refused. A
    /// phone and its own digest secret are set apart ([`crate::site`]).
    pub async fn create_user(
        &self,
        login: &str,
        full_name: &str,
        role: Role,
        password: &str,
        now: DateTime<Utc>,
    ) -> Result<User> {
        if self.user_by_login(login).await?.is_some() {
            return Err(Error::Duplicate {
                what: "user",
                key: login.to_string(),
            });
        }
        if password.is_empty() {
            return Err(Error::invalid("password", "a non-empty password", ""));
        }
        let phc = hash_password(password, self.settings.password_cost)?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO users (login, full_name, role, password_hash, active, created) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(login)
        .bind(full_name)
        .bind(role.as_str())
        .bind(phc)
        .bind(true)
        .bind(to_ms(now))
        .fetch_one(&self.pool)
        .await?;
        Ok(User {
            id: UserId(id),
            login: login.to_string(),
            full_name: full_name.to_string(),
            role,
            active: true,
        })
    }

    /// A user by login.
    pub async fn user_by_login(&self, login: &str) -> Result<Option<User>> {
        let row =
            sqlx::query("SELECT id, login, full_name, role, active FROM users WHERE login = $1")
                .bind(login)
                .fetch_optional(&self.pool)
                .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    /// A user by id.
    pub async fn user(&self, id: UserId) -> Result<User> {
        let row = sqlx::query("SELECT id, login, full_name, role, active FROM users WHERE id = $1")
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| Error::not_found("user", id))?;
        user_from_row(&row)
    }

    /// The active user whose login and password match, or `None`.
    pub async fn authenticate(&self, login: &str, password: &str) -> Result<Option<User>> {
        let row = sqlx::query(
            "SELECT id, login, full_name, role, active, password_hash FROM users WHERE login = $1",
        )
        .bind(login)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let phc: String = row.try_get("password_hash")?;
        let user = user_from_row(&row)?;
        Ok((user.active && verify_password(password, &phc)).then_some(user))
    }

    /// Grants `user` read or write access to `queue` (replacing any earlier grant).
    pub async fn grant_queue(&self, user: UserId, queue: QueueId, access: Access) -> Result<()> {
        sqlx::query(
            "INSERT INTO queue_permissions (user_id, queue_id, can_write) VALUES ($1, $2, $3) \
             ON CONFLICT (user_id, queue_id) DO UPDATE SET can_write = excluded.can_write",
        )
        .bind(user.0)
        .bind(queue.0)
        .bind(access == Access::Write)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// What `user` may do in `queue`: admins write everywhere, supervisors read everywhere
    /// (and write where granted), agents only where granted; inactive users nothing.
    pub async fn queue_access(&self, user: UserId, queue: QueueId) -> Result<Option<Access>> {
        let u = self.user(user).await?;
        if !u.active {
            return Ok(None);
        }
        if u.role == Role::Admin {
            return Ok(Some(Access::Write));
        }
        let row = sqlx::query(
            "SELECT can_write FROM queue_permissions WHERE user_id = $1 AND queue_id = $2",
        )
        .bind(user.0)
        .bind(queue.0)
        .fetch_optional(&self.pool)
        .await?;
        let granted = match row {
            Some(r) if crate::types::flag(&r, "can_write")? => Some(Access::Write),
            Some(_) => Some(Access::Read),
            None => None,
        };
        Ok(match (u.role, granted) {
            (Role::Supervisor, None) => Some(Access::Read),
            (_, g) => g,
        })
    }

    /// Active first- and second-level agents, by id.
    pub async fn active_agents(&self) -> Result<Vec<UserId>> {
        let sql = format!(
            "SELECT id FROM users WHERE active = {} AND role IN ($1, $2) ORDER BY id",
            self.true_literal()
        );
        let ids: Vec<i64> = sqlx::query_scalar(&sql)
            .bind(Role::AgentFirstLevel.as_str())
            .bind(Role::AgentSecondLevel.as_str())
            .fetch_all(&self.pool)
            .await?;
        Ok(ids.into_iter().map(UserId).collect())
    }

    /// Every write grant of an active user, as (queue, user), by queue then user.
    pub async fn write_grants(&self) -> Result<Vec<(QueueId, UserId)>> {
        let sql = format!(
            "SELECT p.user_id, p.queue_id FROM queue_permissions p JOIN users u \
             ON u.id = p.user_id WHERE p.can_write = {t} AND u.active = {t} \
             ORDER BY p.queue_id, p.user_id",
            t = self.true_literal()
        );
        let rows = sqlx::query(&sql).fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                Ok((
                    QueueId(r.try_get("queue_id")?),
                    UserId(r.try_get("user_id")?),
                ))
            })
            .collect()
    }

    /// Appends an audit row (R-PLT-2).
    pub async fn audit(
        &self,
        actor: Actor,
        action: &str,
        object: &str,
        detail: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        audit_query(actor, action, object, detail, now)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The audit rows about `object`, oldest first.
    pub async fn audit_log(&self, object: &str) -> Result<Vec<AuditEntry>> {
        let rows = sqlx::query(
            "SELECT at, actor_id, action, object, detail FROM audit_log WHERE object = $1 ORDER BY id",
        )
        .bind(object)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AuditEntry {
                    at: from_ms(r.try_get("at")?),
                    actor: r.try_get::<Option<i64>, _>("actor_id")?.map(UserId),
                    action: r.try_get("action")?,
                    object: r.try_get("object")?,
                    detail: r.try_get("detail")?,
                })
            })
            .collect()
    }
}
