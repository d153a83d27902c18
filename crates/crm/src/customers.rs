//! The customer registry (R-SR-7): known and guest customers, E.164 phone numbers, PINs kept
//! as HMAC-SHA256 under a server secret (looked up, never read back), audited reads (R-PLT-2).

use std::path::Path;

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::access::audit_in_tx;
use crate::error::{Error, Result};
use crate::store::Store;
use crate::types::{Actor, CustomerId, to_ms};

/// Country codes whose national numbers keep their leading 0 after the country code
/// (Italy, San Marino, Vatican: `06 1234` → `+39 06 1234`); elsewhere the 0 is a trunk prefix.
const KEEP_TRUNK_ZERO: &[&str] = &["39", "378", "379"];

/// Normalises a phone number to E.164 (`+` and 3 to 15 digits).
///
/// Spaces, dashes, dots, slashes and parentheses are dropped. `+…` and `00…` are
/// international; anything else is national and needs `default_country_code`.
pub fn normalize_phone(input: &str, default_country_code: Option<&str>) -> Result<String> {
    let expected = "a phone number: +CC…, 00CC… or a national number with a default country";
    let trimmed: String = input
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '/' | '(' | ')'))
        .collect();
    let digits = if let Some(rest) = trimmed.strip_prefix('+') {
        rest.to_string()
    } else if let Some(rest) = trimmed.strip_prefix("00") {
        rest.to_string()
    } else {
        let cc = default_country_code.ok_or_else(|| Error::invalid("phone", expected, input))?;
        let national = if KEEP_TRUNK_ZERO.contains(&cc) {
            trimmed.as_str()
        } else {
            trimmed.strip_prefix('0').unwrap_or(&trimmed)
        };
        format!("{cc}{national}")
    };
    if !(3..=15).contains(&digits.len())
        || !digits.bytes().all(|b| b.is_ascii_digit())
        || digits.starts_with('0')
    {
        return Err(Error::invalid("phone", expected, input));
    }
    Ok(format!("+{digits}"))
}

/// Reads the PIN secret from `path`, or creates it there (32 random bytes). On Unix the file
/// is created with mode 0600, so the secret is never readable by others, not even for the
/// moment between writing and a later `chmod`. Two processes creating it at once agree on
/// the first one's secret.
pub fn load_or_create_secret(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Write;
    match std::fs::read(path) {
        Ok(s) if !s.is_empty() => return Ok(s),
        Ok(_) => {
            // Left empty (a crash between creating and writing): its mode is already ours or
            // the operator's; make it private before writing the secret into it.
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
            }
            let secret = rand::random::<[u8; 32]>().to_vec();
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .truncate(true)
                .open(path)?;
            file.write_all(&secret)?;
            file.sync_all()?;
            return Ok(secret);
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = match options.open(path) {
        Ok(file) => file,
        // Another process created it meanwhile: its secret is the one.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return match std::fs::read(path)? {
                s if !s.is_empty() => Ok(s),
                _ => Err(std::io::Error::other(format!(
                    "{} is being created by another process; try again",
                    path.display()
                ))),
            };
        }
        Err(e) => return Err(e),
    };
    let secret = rand::random::<[u8; 32]>().to_vec();
    file.write_all(&secret)?;
    file.sync_all()?;
    Ok(secret)
}

/// A customer as the store shows it: the PIN is never part of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Customer {
    /// Id.
    pub id: CustomerId,
    /// Name.
    pub full_name: String,
    /// Organisation.
    pub organisation: Option<String>,
    /// E-mail.
    pub email: Option<String>,
    /// Created on the fly (caller not in the registry).
    pub guest: bool,
    /// Whether a PIN is set.
    pub has_pin: bool,
    /// Phone numbers, E.164.
    pub phones: Vec<String>,
}

/// A customer to create.
#[derive(Debug, Clone, Default)]
pub struct NewCustomer {
    /// Name.
    pub full_name: String,
    /// Organisation.
    pub organisation: Option<String>,
    /// E-mail.
    pub email: Option<String>,
    /// Phone numbers as typed; normalised to E.164.
    pub phones: Vec<String>,
    /// PIN (digits), stored only as its HMAC.
    pub pin: Option<String>,
    /// Guest (created on the fly).
    pub guest: bool,
}

/// Changes to a customer's registry data; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct CustomerUpdate {
    /// New name.
    pub full_name: Option<String>,
    /// New organisation (`Some(None)` clears it).
    pub organisation: Option<Option<String>>,
    /// New e-mail (`Some(None)` clears it).
    pub email: Option<Option<String>>,
    /// Phone numbers to add (normalised).
    pub add_phones: Vec<String>,
    /// Turn a guest into a known customer.
    pub known: bool,
}

impl Store {
    pub(crate) fn pin_hmac(&self, pin: &str) -> Result<String> {
        if !(4..=12).contains(&pin.len()) || !pin.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::invalid("PIN", "4 to 12 digits", "(hidden)"));
        }
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.settings.pin_secret)
            .map_err(|_| Error::invalid("PIN secret", "a non-empty key", "(hidden)"))?;
        mac.update(pin.as_bytes());
        Ok(hex::encode(mac.finalize().into_bytes()))
    }

    /// Normalises with the configured default country code.
    pub fn normalize_phone(&self, input: &str) -> Result<String> {
        normalize_phone(input, self.settings.default_country_code.as_deref())
    }

    /// Creates a customer; audited as a change.
    pub async fn create_customer(
        &self,
        new: NewCustomer,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<Customer> {
        let phones = new
            .phones
            .iter()
            .map(|p| self.normalize_phone(p))
            .collect::<Result<Vec<_>>>()?;
        let pin = new.pin.as_deref().map(|p| self.pin_hmac(p)).transpose()?;
        if let Some(h) = &pin {
            let taken: Option<i64> =
                sqlx::query_scalar("SELECT id FROM customers WHERE pin_hmac = $1")
                    .bind(h)
                    .fetch_optional(&self.pool)
                    .await?;
            if taken.is_some() {
                return Err(Error::Duplicate {
                    what: "PIN",
                    key: "(hidden)".into(),
                });
            }
        }
        let mut tx = self.begin_write().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO customers (full_name, organisation, email, guest, pin_hmac, created, changed) \
             VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id",
        )
        .bind(&new.full_name)
        .bind(new.organisation.clone())
        .bind(new.email.clone())
        .bind(new.guest)
        .bind(pin.clone())
        .bind(to_ms(now))
        .fetch_one(&mut *tx)
        .await?;
        for p in &phones {
            sqlx::query(
                "INSERT INTO customer_phones (customer_id, e164) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            )
            .bind(id)
            .bind(p)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        let object = format!("customer:{id}");
        self.audit(actor, "create", &object, None, now).await?;
        Ok(Customer {
            id: CustomerId(id),
            full_name: new.full_name,
            organisation: new.organisation,
            email: new.email,
            guest: new.guest,
            has_pin: pin.is_some(),
            phones,
        })
    }

    /// A guest customer created on the fly for an unknown caller (R-SR-7).
    pub async fn create_guest(
        &self,
        phone: Option<&str>,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<Customer> {
        let full_name = match phone {
            Some(p) => format!("guest {}", self.normalize_phone(p)?),
            None => "guest".to_string(),
        };
        self.create_customer(
            NewCustomer {
                full_name,
                phones: phone.map(|p| vec![p.to_string()]).unwrap_or_default(),
                guest: true,
                ..NewCustomer::default()
            },
            actor,
            now,
        )
        .await
    }

    /// Sets or replaces a customer's PIN; audited as a change (the PIN itself is not logged).
    pub async fn set_customer_pin(
        &self,
        id: CustomerId,
        pin: &str,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let h = self.pin_hmac(pin)?;
        let done = sqlx::query("UPDATE customers SET pin_hmac = $1, changed = $2 WHERE id = $3")
            .bind(h)
            .bind(to_ms(now))
            .bind(id.0)
            .execute(&self.pool)
            .await;
        match done {
            Ok(r) if r.rows_affected() == 0 => return Err(Error::not_found("customer", id)),
            Ok(_) => {}
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                return Err(Error::Duplicate {
                    what: "PIN",
                    key: "(hidden)".into(),
                });
            }
            Err(e) => return Err(e.into()),
        }
        self.audit(actor, "change", &format!("customer:{id}"), Some("pin"), now)
            .await
    }

    /// Updates registry data (R-SR-7: discrepancies found on a call are corrected and
    /// recorded): each changed field becomes an audit row `change` with `field: old → new`.
    pub async fn update_customer(
        &self,
        id: CustomerId,
        update: CustomerUpdate,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<Customer> {
        let before = self.customer(id, actor, now).await?;
        let phones = update
            .add_phones
            .iter()
            .map(|p| self.normalize_phone(p))
            .collect::<Result<Vec<_>>>()?;
        let full_name = update.full_name.unwrap_or_else(|| before.full_name.clone());
        let organisation = update
            .organisation
            .unwrap_or_else(|| before.organisation.clone());
        let email = update.email.unwrap_or_else(|| before.email.clone());
        let guest = before.guest && !update.known;
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "UPDATE customers SET full_name = $1, organisation = $2, email = $3, guest = $4, \
             changed = $5 WHERE id = $6",
        )
        .bind(&full_name)
        .bind(organisation.clone())
        .bind(email.clone())
        .bind(guest)
        .bind(to_ms(now))
        .bind(id.0)
        .execute(&mut *tx)
        .await?;
        let mut changes = Vec::new();
        let show = |v: &Option<String>| v.clone().unwrap_or_default();
        if full_name != before.full_name {
            changes.push(format!("full_name: {} → {full_name}", before.full_name));
        }
        if organisation != before.organisation {
            let (old, new) = (show(&before.organisation), show(&organisation));
            changes.push(format!("organisation: {old} → {new}"));
        }
        if email != before.email {
            changes.push(format!("email: {} → {}", show(&before.email), show(&email)));
        }
        if guest != before.guest {
            changes.push("guest: true → false".to_string());
        }
        for p in phones.iter().filter(|p| !before.phones.contains(p)) {
            sqlx::query("INSERT INTO customer_phones (customer_id, e164) VALUES ($1, $2)")
                .bind(id.0)
                .bind(p)
                .execute(&mut *tx)
                .await?;
            changes.push(format!("phone: → {p}"));
        }
        for c in &changes {
            let object = format!("customer:{id}");
            audit_in_tx(&mut tx, actor, "change", &object, Some(c), now).await?;
        }
        tx.commit().await?;
        self.customer(id, actor, now).await
    }

    /// The guest customer for an unidentified caller (R-SR-7): the existing guest with that
    /// number, or a new one. Known customers are never matched here: only the IVR identifies
    /// them. `None` when the caller number is not a phone number (anonymous, SIP URI).
    pub(crate) async fn guest_for_caller_in_tx(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        caller: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<CustomerId>> {
        let Ok(e164) = self.normalize_phone(caller) else {
            return Ok(None);
        };
        let known: Option<i64> = sqlx::query_scalar(&format!(
            "SELECT c.id FROM customers c JOIN customer_phones p ON p.customer_id = c.id \
             WHERE p.e164 = $1 AND c.guest = {} ORDER BY c.id LIMIT 1",
            self.true_literal()
        ))
        .bind(&e164)
        .fetch_optional(&mut **tx)
        .await?;
        if let Some(id) = known {
            return Ok(Some(CustomerId(id)));
        }
        let id = self
            .insert_guest_in_tx(tx, &e164, "guest for answered call", now)
            .await?;
        Ok(Some(CustomerId(id)))
    }

    /// A new guest customer (R-SR-7) with the phone `e164`, audited as created by the system
    /// with `why`; its id.
    pub(crate) async fn insert_guest_in_tx(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        e164: &str,
        why: &str,
        now: DateTime<Utc>,
    ) -> Result<i64> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO customers (full_name, guest, created, changed) \
             VALUES ($1, $2, $3, $3) RETURNING id",
        )
        .bind(format!("guest {e164}"))
        .bind(true)
        .bind(to_ms(now))
        .fetch_one(&mut **tx)
        .await?;
        sqlx::query("INSERT INTO customer_phones (customer_id, e164) VALUES ($1, $2)")
            .bind(id)
            .bind(e164)
            .execute(&mut **tx)
            .await?;
        audit_in_tx(
            tx,
            Actor::System,
            "create",
            &format!("customer:{id}"),
            Some(why),
            now,
        )
        .await?;
        Ok(id)
    }

    /// The customer with `phone` (E.164), known ones before guests; the id alone, so the
    /// lookup reads no personal data and is not audited (idempotent loaders use it).
    pub async fn customer_id_with_phone(&self, phone: &str) -> Result<Option<CustomerId>> {
        let id: Option<i64> = sqlx::query_scalar(
            "SELECT c.id FROM customers c JOIN customer_phones p ON p.customer_id = c.id \
             WHERE p.e164 = $1 ORDER BY c.guest, c.id LIMIT 1",
        )
        .bind(phone)
        .fetch_optional(&self.pool)
        .await?;
        Ok(id.map(CustomerId))
    }

    /// The customer whose PIN is `pin`; the id alone, not audited (see
    /// [`Self::customer_id_with_phone`]).
    pub async fn customer_id_with_pin(&self, pin: &str) -> Result<Option<CustomerId>> {
        let id: Option<i64> = sqlx::query_scalar("SELECT id FROM customers WHERE pin_hmac = $1")
            .bind(self.pin_hmac(pin)?)
            .fetch_optional(&self.pool)
            .await?;
        Ok(id.map(CustomerId))
    }

    /// Every known (not guest) customer with the sender its articles carry (e-mail, else
    /// name), by id. Not audited: for bulk tools that write on the customers' behalf
    /// (synthetic tickets, imports), never for an operator's screen.
    pub async fn customer_senders(&self) -> Result<Vec<(CustomerId, String)>> {
        let rows = sqlx::query(
            "SELECT id, COALESCE(email, full_name) AS sender FROM customers \
             WHERE guest = $1 ORDER BY id",
        )
        .bind(false)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((CustomerId(r.try_get("id")?), r.try_get("sender")?)))
            .collect()
    }

    async fn load_customer(&self, row: &AnyRow) -> Result<Customer> {
        let id: i64 = row.try_get("id")?;
        let phones: Vec<String> = sqlx::query_scalar(
            "SELECT e164 FROM customer_phones WHERE customer_id = $1 ORDER BY e164",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        Ok(Customer {
            id: CustomerId(id),
            full_name: row.try_get("full_name")?,
            organisation: row.try_get("organisation")?,
            email: row.try_get("email")?,
            guest: crate::types::flag(row, "guest")?,
            has_pin: row.try_get::<Option<String>, _>("pin_hmac")?.is_some(),
            phones,
        })
    }

    async fn read_customer(
        &self,
        row: Option<AnyRow>,
        actor: Actor,
        how: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Customer>> {
        let Some(row) = row else { return Ok(None) };
        let c = self.load_customer(&row).await?;
        self.audit(actor, "read", &format!("customer:{}", c.id), Some(how), now)
            .await?;
        Ok(Some(c))
    }

    /// A customer by id; the read is audited.
    pub async fn customer(
        &self,
        id: CustomerId,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<Customer> {
        let row = sqlx::query(
            "SELECT id, full_name, organisation, email, guest, pin_hmac FROM customers WHERE id = $1",
        )
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await?;
        self.read_customer(row, actor, "by id", now)
            .await?
            .ok_or_else(|| Error::not_found("customer", id))
    }

    /// The customer (known before guests, oldest first) with this phone number, as the IVR's
    /// ANI identification needs (R-IVR-4); the read is audited.
    pub async fn customer_by_phone(
        &self,
        phone: &str,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<Option<Customer>> {
        let e164 = self.normalize_phone(phone)?;
        let row = sqlx::query(
            "SELECT c.id, c.full_name, c.organisation, c.email, c.guest, c.pin_hmac \
             FROM customers c JOIN customer_phones p ON p.customer_id = c.id \
             WHERE p.e164 = $1 ORDER BY c.guest, c.id LIMIT 1",
        )
        .bind(e164)
        .fetch_optional(&self.pool)
        .await?;
        self.read_customer(row, actor, "by phone", now).await
    }

    /// The customer with this PIN (R-IVR-4); the read is audited, the PIN is not logged.
    pub async fn customer_by_pin(
        &self,
        pin: &str,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<Option<Customer>> {
        let Ok(h) = self.pin_hmac(pin) else {
            return Ok(None);
        };
        let row = sqlx::query(
            "SELECT id, full_name, organisation, email, guest, pin_hmac FROM customers WHERE pin_hmac = $1",
        )
        .bind(h)
        .fetch_optional(&self.pool)
        .await?;
        self.read_customer(row, actor, "by pin", now).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pin_secret_is_created_private_and_then_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("pin.key");
        let first = load_or_create_secret(&path).unwrap();
        assert_eq!(first.len(), 32);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{mode:o}");
        }
        assert_eq!(load_or_create_secret(&path).unwrap(), first);
        // An empty file (a crash before the write) gets a secret.
        std::fs::write(&path, b"").unwrap();
        assert_eq!(load_or_create_secret(&path).unwrap().len(), 32);
    }

    #[test]
    fn phones_normalise_to_e164() {
        let it = Some("39");
        assert_eq!(
            normalize_phone("06 0000 0001", it).unwrap(),
            "+390600000001"
        );
        assert_eq!(
            normalize_phone("+39 06-000.000/01", None).unwrap(),
            "+390600000001"
        );
        assert_eq!(
            normalize_phone("0039 333 1234567", None).unwrap(),
            "+393331234567"
        );
        assert_eq!(
            normalize_phone("020 7946 0000", Some("44")).unwrap(),
            "+442079460000"
        );
        assert!(normalize_phone("06 1234", None).is_err());
        assert!(normalize_phone("+39 06 abc", None).is_err());
        assert!(normalize_phone("+1234567890123456", None).is_err());
    }

    #[test]
    fn secret_is_created_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/pin.key");
        let a = load_or_create_secret(&path).unwrap();
        let b = load_or_create_secret(&path).unwrap();
        assert_eq!(a.len(), 32);
        assert_eq!(a, b);
    }
}
