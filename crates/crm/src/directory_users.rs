//! Operators whose sign-in the administration's directory vouches for (issue 13): read what a
//! login needs (the local hash, whether the account is the directory's), and provision or
//! update a directory-managed account from what its groups give.
//!
//! A directory-managed account has `directory_dn` set and no local password (`password_hash`
//! is empty and never verifies; no SIP HA1s). Its full name, role and queue permissions are
//! rewritten at each directory sign-in, in one transaction with the audit row of what
//! changed. A local account (no `directory_dn`) is never taken over by a directory sign-in.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sqlx::Row;

use crate::access::{Access, Role, User, audit_in_tx};
use crate::error::{Error, Result};
use crate::store::Store;
use crate::types::{Actor, UserId, to_ms};

/// What a login needs to know of an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginRecord {
    /// The account.
    pub user: User,
    /// Its argon2 PHC hash; `None` when it has no local password.
    pub password_hash: Option<String>,
    /// The directory entry's DN of a directory-managed account.
    pub directory_dn: Option<String>,
}

/// What a directory sign-in did to the account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provisioned {
    /// The account as it is now.
    pub user: User,
    /// Created by this sign-in.
    pub created: bool,
    /// Name, role or queue permissions changed (or created).
    pub changed: bool,
    /// Queue names the mapping gives that the store does not know (skipped).
    pub unknown_queues: Vec<String>,
}

fn grants_text(grants: &BTreeMap<String, Access>) -> String {
    let parts: Vec<String> = grants
        .iter()
        .map(|(q, a)| {
            let a = match a {
                Access::Read => "read",
                Access::Write => "write",
            };
            format!("{q}={a}")
        })
        .collect();
    if parts.is_empty() {
        "none".into()
    } else {
        parts.join(",")
    }
}

impl Store {
    /// The account called `login` with its hash and directory DN, if any.
    pub async fn login_record(&self, login: &str) -> Result<Option<LoginRecord>> {
        let row = sqlx::query(
            "SELECT id, login, full_name, role, active, password_hash, directory_dn \
             FROM users WHERE login = $1",
        )
        .bind(login)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let phc: String = row.try_get("password_hash")?;
        Ok(Some(LoginRecord {
            user: User {
                id: UserId(row.try_get("id")?),
                login: row.try_get("login")?,
                full_name: row.try_get("full_name")?,
                role: row.try_get::<String, _>("role")?.parse()?,
                active: crate::types::flag(&row, "active")?,
            },
            password_hash: (!phc.is_empty()).then_some(phc),
            directory_dn: row.try_get("directory_dn")?,
        }))
    }

    /// Creates or updates the directory-managed account `login` with `full_name`, `role`
    /// and exactly the queue permissions `grants` (queue name → access; unknown queues are
    /// skipped and returned). A local account of that login is refused
    /// ([`Error::Duplicate`]); a disabled account stays disabled. Audited (`change` on
    /// `user:ID`, actor the system) when something changed.
    pub async fn provision_directory_user(
        &self,
        login: &str,
        full_name: &str,
        dn: &str,
        role: Role,
        grants: &BTreeMap<String, Access>,
        now: DateTime<Utc>,
    ) -> Result<Provisioned> {
        let mut tx = self.begin_write().await?;
        let sql = format!(
            "SELECT id, full_name, role, active, directory_dn FROM users WHERE login = $1{}",
            self.for_update()
        );
        let existing = sqlx::query(&sql)
            .bind(login)
            .fetch_optional(&mut *tx)
            .await?;
        let mut known: BTreeMap<String, Access> = BTreeMap::new();
        let mut ids = Vec::new();
        let mut unknown_queues = Vec::new();
        for (name, &access) in grants {
            let id: Option<i64> = sqlx::query_scalar("SELECT id FROM queues WHERE name = $1")
                .bind(name)
                .fetch_optional(&mut *tx)
                .await?;
            match id {
                Some(id) => {
                    known.insert(name.clone(), access);
                    ids.push((id, access));
                }
                None => unknown_queues.push(name.clone()),
            }
        }
        let (id, active, created, mut changed) = match existing {
            Some(row) => {
                let dn_before: Option<String> = row.try_get("directory_dn")?;
                if dn_before.is_none() {
                    return Err(Error::Duplicate {
                        what: "local user",
                        key: login.to_string(),
                    });
                }
                let id: i64 = row.try_get("id")?;
                let name_before: String = row.try_get("full_name")?;
                let role_before: String = row.try_get("role")?;
                let active = crate::types::flag(&row, "active")?;
                let changed = name_before != full_name
                    || role_before != role.as_str()
                    || dn_before.as_deref() != Some(dn);
                if changed {
                    sqlx::query(
                        "UPDATE users SET full_name = $1, role = $2, directory_dn = $3 \
                         WHERE id = $4",
                    )
                    .bind(full_name)
                    .bind(role.as_str())
                    .bind(dn)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                }
                (id, active, false, changed)
            }
            None => {
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO users (login, full_name, role, password_hash, active, created, \
                     directory_dn) VALUES ($1, $2, $3, '', $4, $5, $6) RETURNING id",
                )
                .bind(login)
                .bind(full_name)
                .bind(role.as_str())
                .bind(true)
                .bind(to_ms(now))
                .bind(dn)
                .fetch_one(&mut *tx)
                .await?;
                (id, true, true, true)
            }
        };
        let rows = sqlx::query("SELECT q.name, p.can_write FROM queue_permissions p JOIN queues q ON q.id = p.queue_id WHERE p.user_id = $1")
            .bind(id)
            .fetch_all(&mut *tx)
            .await?;
        let mut before: BTreeMap<String, Access> = BTreeMap::new();
        for r in &rows {
            let access = if crate::types::flag(r, "can_write")? {
                Access::Write
            } else {
                Access::Read
            };
            before.insert(r.try_get("name")?, access);
        }
        if before != known {
            changed = true;
            sqlx::query("DELETE FROM queue_permissions WHERE user_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            for (queue_id, access) in &ids {
                sqlx::query(
                    "INSERT INTO queue_permissions (user_id, queue_id, can_write) \
                     VALUES ($1, $2, $3)",
                )
                .bind(id)
                .bind(queue_id)
                .bind(*access == Access::Write)
                .execute(&mut *tx)
                .await?;
            }
        }
        if changed {
            let detail = format!(
                "directory sign-in {}: role {}, queues {}, dn {dn}",
                if created { "created" } else { "updated" },
                role.as_str(),
                grants_text(&known)
            );
            audit_in_tx(
                &mut tx,
                Actor::System,
                "change",
                &format!("user:{id}"),
                Some(&detail),
                now,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(Provisioned {
            user: User {
                id: UserId(id),
                login: login.to_string(),
                full_name: full_name.to_string(),
                role,
                active,
            },
            created,
            changed,
            unknown_queues,
        })
    }
}
