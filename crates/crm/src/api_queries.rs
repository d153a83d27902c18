//! Read-only queries the HTTP API needs beyond the other modules: customer search for the
//! agent desktop and existence checks that must not count as a read of personal data.
//!
//! Nothing here writes, and nothing here audits: the caller decides what it shows and
//! audits that (R-PLT-2), so a search that returns ten customers writes ten `read` rows
//! only if the ten are shown.

use sqlx::Row;

use crate::customers::Customer;
use crate::error::Result;
use crate::store::Store;
use crate::types::{CustomerId, flag};

/// Escapes `%`, `_` and `\` for a `LIKE … ESCAPE '\'` pattern.
fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

impl Store {
    /// Customers whose name, organisation or e-mail contains `text` (case-insensitive), or
    /// one of whose phone numbers contains the digits of `text` (when it has at least three),
    /// known customers before guests, then by name; at most `limit` (1 to 200). Not audited.
    pub async fn search_customers(&self, text: &str, limit: u32) -> Result<Vec<Customer>> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(Vec::new());
        }
        let pattern = format!("%{}%", like_escape(&text.to_lowercase()));
        let digits: String = text.chars().filter(char::is_ascii_digit).collect();
        let phone_pattern = if digits.len() >= 3 {
            format!("%{digits}%")
        } else {
            // Matches no E.164 number (they hold only `+` and digits).
            "-".to_string()
        };
        let limit = limit.clamp(1, 200);
        let sql = format!(
            "SELECT c.id, c.full_name, c.organisation, c.email, c.guest, c.pin_hmac \
             FROM customers c WHERE LOWER(c.full_name) LIKE $1 ESCAPE '\\' \
             OR LOWER(COALESCE(c.organisation, '')) LIKE $1 ESCAPE '\\' \
             OR LOWER(COALESCE(c.email, '')) LIKE $1 ESCAPE '\\' \
             OR EXISTS (SELECT 1 FROM customer_phones p WHERE p.customer_id = c.id \
                        AND p.e164 LIKE $2) \
             ORDER BY c.guest, c.full_name, c.id LIMIT {limit}"
        );
        let rows = sqlx::query(&sql)
            .bind(pattern)
            .bind(phone_pattern)
            .fetch_all(&self.pool)
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let id: i64 = row.try_get("id")?;
            let phones: Vec<String> = sqlx::query_scalar(
                "SELECT e164 FROM customer_phones WHERE customer_id = $1 ORDER BY e164",
            )
            .bind(id)
            .fetch_all(&self.pool)
            .await?;
            out.push(Customer {
                id: CustomerId(id),
                full_name: row.try_get("full_name")?,
                organisation: row.try_get("organisation")?,
                email: row.try_get("email")?,
                guest: flag(row, "guest")?,
                has_pin: row.try_get::<Option<String>, _>("pin_hmac")?.is_some(),
                phones,
            });
        }
        Ok(out)
    }

    /// Whether a customer with this id exists (not a read of its data: not audited).
    pub async fn customer_exists(&self, id: CustomerId) -> Result<bool> {
        let found: Option<i64> = sqlx::query_scalar("SELECT id FROM customers WHERE id = $1")
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await?;
        Ok(found.is_some())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn like_patterns_are_escaped() {
        assert_eq!(super::like_escape("50%_a\\b"), "50\\%\\_a\\\\b");
        assert_eq!(super::like_escape("rossi"), "rossi");
    }
}
