//! What backing up, restoring and initialising a deployment need from the store: a
//! consistent copy of an SQLite database taken while it serves, the schema version, whether
//! a database is empty, and who administers it. Nothing here runs on a call's path.

use std::path::Path;

use sqlx::Row;

use crate::error::{Error, Result};
use crate::settings::Backend;
use crate::store::Store;

impl Store {
    /// Writes a consistent copy of the SQLite database to `path`, which must not exist:
    /// `VACUUM INTO`, one read transaction, so writers go on meanwhile and the copy is the
    /// database as of one commit (WAL included). PostgreSQL has `pg_dump` for this.
    pub async fn snapshot_sqlite(&self, path: &Path) -> Result<()> {
        if self.backend != Backend::Sqlite {
            return Err(Error::invalid(
                "backend",
                "SQLite (PostgreSQL is copied by pg_dump)",
                "postgres",
            ));
        }
        let target = path
            .to_str()
            .ok_or_else(|| Error::invalid("snapshot path", "UTF-8", path.display()))?;
        sqlx::query("VACUUM INTO $1")
            .bind(target)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The newest schema migration applied (0 when none is).
    pub async fn schema_version(&self) -> Result<i64> {
        let version: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations")
            .fetch_one(&self.pool)
            .await?;
        Ok(version.unwrap_or(0))
    }

    /// The tables of the database (its current schema on PostgreSQL): 0 for an empty one.
    /// Runs no migration, so it may be asked of a store opened lazily.
    pub async fn table_count(&self) -> Result<i64> {
        let sql = match self.backend {
            Backend::Sqlite => {
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' \
                 AND name NOT LIKE 'sqlite_%'"
            }
            Backend::Postgres => {
                "SELECT COUNT(*) FROM information_schema.tables \
                 WHERE table_schema = current_schema()"
            }
        };
        Ok(sqlx::query_scalar(sql).fetch_one(&self.pool).await?)
    }

    /// Drops every table of the current schema (PostgreSQL), so that a dump restored over
    /// it finds nothing in its way and nothing newer stays behind.
    pub async fn drop_all_tables(&self) -> Result<()> {
        if self.backend != Backend::Postgres {
            return Err(Error::invalid("backend", "PostgreSQL", "sqlite"));
        }
        let rows = sqlx::query(
            "SELECT table_name::text AS name FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
        )
        .fetch_all(&self.pool)
        .await?;
        for row in rows {
            let name: String = row.try_get("name")?;
            let quoted = name.replace('"', "\"\"");
            sqlx::query(&format!("DROP TABLE IF EXISTS \"{quoted}\" CASCADE"))
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }

    /// The logins of the operators with the admin role, active or not, in login order.
    pub async fn admin_logins(&self) -> Result<Vec<String>> {
        Ok(
            sqlx::query_scalar("SELECT login FROM users WHERE role = $1 ORDER BY login")
                .bind("admin")
                .fetch_all(&self.pool)
                .await?,
        )
    }
}
