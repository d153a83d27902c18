//! Agents' notifications on the store side (issue 16, R-SR-9).
//!
//! Each operator opts in ([`Store::set_notification_prefs`]): which kinds of news
//! ([`NoticeKind`]: a new ticket, the citizen writing again, a pending reminder due, a note, a
//! move into a queue), by e-mail (to an address of their own) and/or live on the desktop, for
//! the queues they follow, which must be queues they may read. No preferences: no
//! notification. The notifier (`console::notify`) reads:
//! - [`Store::notification_subscribers`]: every active operator with preferences, with the
//!   queues they follow and may read;
//! - [`Store::ticket_events_after`]: the ticket events of the event log after its cursor,
//!   in log order ([`Store::notify_cursor`] / [`Store::set_notify_cursor`]), so a restart
//!   neither loses nor repeats a notification (each mail is also keyed in the outbox).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use events::NoticeKind;
use sqlx::Row;

use crate::access::{Role, audit_in_tx};
use crate::error::{Error, Result};
use crate::event_log::LoggedEvent;
use crate::store::Store;
use crate::types::{Actor, UserId, from_ms, to_ms};

/// The ticket events a notification can come from.
pub const TICKET_EVENT_KINDS: [&str; 3] = ["ticket.created", "ticket.updated", "ticket.reminder"];

/// One operator's choices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationPrefs {
    /// The kinds they want, in [`NoticeKind::ALL`] order, each once.
    pub kinds: Vec<NoticeKind>,
    /// The queues they follow, by name, sorted.
    pub queues: Vec<String>,
    /// Where e-mail notifications go.
    pub address: Option<String>,
    /// By e-mail (needs `address`).
    pub by_email: bool,
    /// Live on the desktop.
    pub on_desktop: bool,
}

impl Default for NotificationPrefs {
    /// Nothing chosen (no notification); the desktop is the channel once kinds are chosen.
    fn default() -> Self {
        NotificationPrefs {
            kinds: Vec::new(),
            queues: Vec::new(),
            address: None,
            by_email: false,
            on_desktop: true,
        }
    }
}

/// An operator the notifier may notify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscriber {
    /// Login.
    pub login: String,
    /// Role.
    pub role: Role,
    /// Their choices.
    pub prefs: NotificationPrefs,
    /// The queues they may read, by name; `None`: every queue (admins, supervisors).
    pub readable: Option<BTreeSet<String>>,
}

impl Subscriber {
    /// Whether they may read tickets of `queue`.
    pub fn may_read(&self, queue: &str) -> bool {
        self.readable.as_ref().is_none_or(|r| r.contains(queue))
    }
}

/// A plausible mailbox address: `local@domain`, no spaces, brackets or line breaks (it goes
/// into a header), at most 254 characters.
pub fn valid_address(a: &str) -> bool {
    let Some((local, domain)) = a.split_once('@') else {
        return false;
    };
    a.len() <= 254
        && !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && a.chars()
            .all(|c| !c.is_whitespace() && !c.is_control() && !matches!(c, '<' | '>' | ',' | ';'))
}

fn kinds_text(kinds: &[NoticeKind]) -> String {
    kinds
        .iter()
        .map(|k| k.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

fn kinds_of(text: &str) -> Vec<NoticeKind> {
    let set: BTreeSet<NoticeKind> = text.split(',').filter_map(NoticeKind::parse).collect();
    NoticeKind::ALL
        .into_iter()
        .filter(|k| set.contains(k))
        .collect()
}

impl Store {
    /// `user`'s notification choices (the default when they made none).
    pub async fn notification_prefs(&self, user: UserId) -> Result<NotificationPrefs> {
        let row = sqlx::query(
            "SELECT kinds, address, by_email, on_desktop FROM notification_prefs \
             WHERE user_id = $1",
        )
        .bind(user.0)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(NotificationPrefs::default());
        };
        let queues: Vec<String> = sqlx::query_scalar(
            "SELECT q.name FROM notification_queues n JOIN queues q ON q.id = n.queue_id \
             WHERE n.user_id = $1 ORDER BY q.name",
        )
        .bind(user.0)
        .fetch_all(&self.pool)
        .await?;
        Ok(NotificationPrefs {
            kinds: kinds_of(&row.try_get::<String, _>("kinds")?),
            queues,
            address: row.try_get("address")?,
            by_email: crate::types::flag(&row, "by_email")?,
            on_desktop: crate::types::flag(&row, "on_desktop")?,
        })
    }

    /// Replaces `user`'s choices; returns them as stored (kinds in order, queues sorted).
    /// Refused ([`Error::Invalid`], naming the field): an address that is not one, e-mail
    /// without an address, a queue that does not exist or that `user` may not read.
    pub async fn set_notification_prefs(
        &self,
        user: UserId,
        prefs: &NotificationPrefs,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<NotificationPrefs> {
        let address = prefs
            .address
            .as_deref()
            .map(str::trim)
            .filter(|a| !a.is_empty());
        if let Some(a) = address
            && !valid_address(a)
        {
            return Err(Error::invalid("address", "an e-mail address", a));
        }
        if prefs.by_email && address.is_none() {
            return Err(Error::invalid(
                "address",
                "an e-mail address when by_email is true",
                "",
            ));
        }
        let mut queues = BTreeMap::new();
        for name in &prefs.queues {
            let id = self
                .queue_by_name(name)
                .await?
                .ok_or_else(|| Error::invalid("queues", "names of existing queues", name))?;
            if self.queue_access(user, id).await?.is_none() {
                return Err(Error::invalid("queues", "queues the user may read", name));
            }
            queues.insert(name.clone(), id);
        }
        let kinds: Vec<NoticeKind> = NoticeKind::ALL
            .into_iter()
            .filter(|k| prefs.kinds.contains(k))
            .collect();
        let stored = NotificationPrefs {
            kinds,
            queues: queues.keys().cloned().collect(),
            address: address.map(str::to_string),
            by_email: prefs.by_email,
            on_desktop: prefs.on_desktop,
        };
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO notification_prefs (user_id, kinds, address, by_email, on_desktop, changed) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (user_id) DO UPDATE SET \
             kinds = excluded.kinds, address = excluded.address, by_email = excluded.by_email, \
             on_desktop = excluded.on_desktop, changed = excluded.changed",
        )
        .bind(user.0)
        .bind(kinds_text(&stored.kinds))
        .bind(stored.address.clone())
        .bind(stored.by_email)
        .bind(stored.on_desktop)
        .bind(to_ms(now))
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM notification_queues WHERE user_id = $1")
            .bind(user.0)
            .execute(&mut *tx)
            .await?;
        for id in queues.values() {
            sqlx::query("INSERT INTO notification_queues (user_id, queue_id) VALUES ($1, $2)")
                .bind(user.0)
                .bind(id.0)
                .execute(&mut *tx)
                .await?;
        }
        let detail = format!(
            "kinds [{}], queues [{}], e-mail {}, desktop {}",
            kinds_text(&stored.kinds),
            stored.queues.join(","),
            stored.by_email,
            stored.on_desktop
        );
        audit_in_tx(
            &mut tx,
            actor,
            "notifications",
            &format!("user:{}", user.0),
            Some(&detail),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(stored)
    }

    /// Every active operator who chose at least one kind, by login, with the queues they
    /// follow and may read.
    pub async fn notification_subscribers(&self) -> Result<Vec<Subscriber>> {
        let sql = format!(
            "SELECT u.id, u.login, u.role, p.kinds, p.address, p.by_email, p.on_desktop \
             FROM notification_prefs p JOIN users u ON u.id = p.user_id \
             WHERE u.active = {} AND p.kinds <> '' ORDER BY u.login",
            self.true_literal()
        );
        let rows = sqlx::query(&sql).fetch_all(&self.pool).await?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let mut followed: BTreeMap<i64, Vec<String>> = BTreeMap::new();
        for r in sqlx::query(
            "SELECT n.user_id, q.name FROM notification_queues n \
             JOIN queues q ON q.id = n.queue_id ORDER BY q.name",
        )
        .fetch_all(&self.pool)
        .await?
        {
            followed
                .entry(r.try_get("user_id")?)
                .or_default()
                .push(r.try_get("name")?);
        }
        let mut granted: BTreeMap<i64, BTreeSet<String>> = BTreeMap::new();
        for r in sqlx::query(
            "SELECT p.user_id, q.name FROM queue_permissions p JOIN queues q ON q.id = p.queue_id",
        )
        .fetch_all(&self.pool)
        .await?
        {
            granted
                .entry(r.try_get("user_id")?)
                .or_default()
                .insert(r.try_get("name")?);
        }
        rows.iter()
            .map(|r| {
                let id: i64 = r.try_get("id")?;
                let role: Role = r.try_get::<String, _>("role")?.parse()?;
                let readable = match role {
                    Role::Admin | Role::Supervisor => None,
                    _ => Some(granted.remove(&id).unwrap_or_default()),
                };
                Ok(Subscriber {
                    login: r.try_get("login")?,
                    role,
                    prefs: NotificationPrefs {
                        kinds: kinds_of(&r.try_get::<String, _>("kinds")?),
                        queues: followed.remove(&id).unwrap_or_default(),
                        address: r.try_get("address")?,
                        by_email: crate::types::flag(r, "by_email")?,
                        on_desktop: crate::types::flag(r, "on_desktop")?,
                    },
                    readable,
                })
            })
            .collect()
    }

    /// The ticket events ([`TICKET_EVENT_KINDS`]) logged after row `after`, at most `limit`,
    /// in log order, each with its row id (the next cursor).
    pub async fn ticket_events_after(
        &self,
        after: i64,
        limit: u32,
    ) -> Result<Vec<(i64, LoggedEvent)>> {
        let rows = sqlx::query(
            "SELECT id, event_id, at, kind, call_id, body FROM event_log \
             WHERE id > $1 AND kind IN ($2, $3, $4) ORDER BY id LIMIT $5",
        )
        .bind(after)
        .bind(TICKET_EVENT_KINDS[0])
        .bind(TICKET_EVENT_KINDS[1])
        .bind(TICKET_EVENT_KINDS[2])
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("id")?,
                    LoggedEvent {
                        event_id: r.try_get("event_id")?,
                        at: from_ms(r.try_get("at")?),
                        kind: r.try_get("kind")?,
                        call_id: r.try_get("call_id")?,
                        body: r.try_get("body")?,
                        queue_row: None,
                    },
                ))
            })
            .collect()
    }

    /// Where the reader `name` of the event log stands; the first call sets it to the end
    /// of the log (the past is not notified when the feature is switched on).
    pub async fn notify_cursor(&self, name: &str) -> Result<i64> {
        let at: Option<i64> =
            sqlx::query_scalar("SELECT last_id FROM notification_cursor WHERE name = $1")
                .bind(name)
                .fetch_optional(&self.pool)
                .await?;
        if let Some(at) = at {
            return Ok(at);
        }
        let mut tx = self.begin_write().await?;
        let end: Option<i64> = sqlx::query_scalar("SELECT MAX(id) FROM event_log")
            .fetch_one(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO notification_cursor (name, last_id) VALUES ($1, $2) \
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(end.unwrap_or(0))
        .execute(&mut *tx)
        .await?;
        let at: i64 = sqlx::query_scalar("SELECT last_id FROM notification_cursor WHERE name = $1")
            .bind(name)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(at)
    }

    /// Moves the cursor `name` forward to `id` (never back).
    pub async fn set_notify_cursor(&self, name: &str, id: i64) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE notification_cursor SET last_id = $2 WHERE name = $1 AND last_id < $2")
            .bind(name)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_that_could_break_a_header_are_refused() {
        for ok in ["a.b@example.org", "ufficio+urp@comune.example.org"] {
            assert!(valid_address(ok), "{ok}");
        }
        for bad in [
            "",
            "a",
            "@example.org",
            "a@",
            "a@example",
            "a@.org",
            "a b@example.org",
            "a@example.org\r\nBcc: x@example.org",
            "<a@example.org>",
            "a@b@example.org",
            "a@example.org,b@example.org",
        ] {
            assert!(!valid_address(bad), "{bad:?}");
        }
    }

    #[test]
    fn kinds_round_trip_in_order_and_ignore_unknown_names() {
        let k = kinds_of("note,created,bogus,,note");
        assert_eq!(k, vec![NoticeKind::Created, NoticeKind::Note]);
        assert_eq!(kinds_text(&k), "created,note");
        assert!(kinds_of("").is_empty());
    }
}
