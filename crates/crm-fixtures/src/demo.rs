//! The demo's CRM data (CONTRACT "The demo"): queues, the two demo customers, the agents, the
//! supervisor and the administrator, all invented.
//!
//! [`load_demo_data`] is idempotent: it creates only what is missing, so running it at every
//! `centralino serve` start changes nothing once the data is there (no rows, no audit entries).
//! It goes through the store's ordinary functions (argon2 hashes, SIP HA1s, PIN HMACs, audit).
//!
//! | login | password | role | writes in |
//! |---|---|---|---|
//! | `1001`, `1002` | `demo1001`, `demo1002` | first level | `cittadini`, `altro` |
//! | `1003` | `demo1003` | first level | `tecnica` |
//! | `2001` | `demo2001` | second level | `secondo-livello`, `voicemail` |
//! | `supervisor` | `demo-supervisor` | supervisor | (reads every queue) |
//! | `admin` | `demo-admin` | admin | (every queue) |

use chrono::{DateTime, Utc};
use crm::{Access, Actor, Error, NewCustomer, PhoneKind, QueueId, Result, Role, Store};

/// The demo's queues and whether each is second level (R-SR-11). `voicemail` collects the
/// out-of-hours messages (R-VM-1), worked by the back office.
pub const DEMO_QUEUES: &[(&str, bool)] = &[
    ("raw", false),
    ("cittadini", false),
    ("tecnica", false),
    ("altro", false),
    ("secondo-livello", true),
    ("voicemail", false),
];

/// One demo operator.
#[derive(Debug, Clone, Copy)]
pub struct DemoUser {
    /// Login (and SIP user for agents).
    pub login: &'static str,
    /// Display name.
    pub full_name: &'static str,
    /// Role.
    pub role: Role,
    /// Password.
    pub password: &'static str,
    /// Queues the user writes in.
    pub writes: &'static [&'static str],
}

/// The demo operators (CONTRACT "The demo": password `demo` + the login for agents).
pub const DEMO_USERS: &[DemoUser] = &[
    DemoUser {
        login: "1001",
        full_name: "Operatore 1001",
        role: Role::AgentFirstLevel,
        password: "demo1001",
        writes: &["cittadini", "altro"],
    },
    DemoUser {
        login: "1002",
        full_name: "Operatore 1002",
        role: Role::AgentFirstLevel,
        password: "demo1002",
        writes: &["cittadini", "altro"],
    },
    DemoUser {
        login: "1003",
        full_name: "Operatore 1003",
        role: Role::AgentFirstLevel,
        password: "demo1003",
        writes: &["tecnica"],
    },
    DemoUser {
        login: "2001",
        full_name: "Operatore 2001 (secondo livello)",
        role: Role::AgentSecondLevel,
        password: "demo2001",
        writes: &["secondo-livello", "voicemail"],
    },
    DemoUser {
        login: "supervisor",
        full_name: "Supervisore demo",
        role: Role::Supervisor,
        password: "demo-supervisor",
        writes: &[],
    },
    DemoUser {
        login: "admin",
        full_name: "Amministratore demo",
        role: Role::Admin,
        password: "demo-admin",
        writes: &[],
    },
];

/// One demo customer.
#[derive(Debug, Clone, Copy)]
pub struct DemoCustomer {
    /// Name.
    pub full_name: &'static str,
    /// Phone, E.164.
    pub phone: &'static str,
    /// PIN typed in area 2 of the IVR.
    pub pin: &'static str,
    /// E-mail (example.org: invented).
    pub email: &'static str,
}

/// The demo customers.
pub const DEMO_CUSTOMERS: &[DemoCustomer] = &[
    DemoCustomer {
        full_name: "Maria Rossi",
        phone: "+390600000001",
        pin: "12345",
        email: "maria.rossi@example.org",
    },
    DemoCustomer {
        full_name: "Giulio Bianchi",
        phone: "+390600000002",
        pin: "54321",
        email: "giulio.bianchi@example.org",
    },
];

/// How to load the demo.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// The time written on what is created (the store never reads the clock).
    pub now: DateTime<Utc>,
    /// Synthetic tickets ([`crate::synth`]) to add when the store has no ticket yet; 0: none.
    pub sample_tickets: u64,
    /// Seed of the sample tickets.
    pub seed: u64,
}

impl DemoOptions {
    /// The demo data at `now`, without sample tickets.
    pub fn new(now: DateTime<Utc>) -> Self {
        DemoOptions {
            now,
            sample_tickets: 0,
            seed: 1,
        }
    }
}

/// What a [`load_demo_data`] run created; all empty when everything was already there.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DemoReport {
    /// Queues created.
    pub queues: Vec<String>,
    /// Operators created.
    pub users: Vec<String>,
    /// Operators whose SIP credentials were missing for the realm in force and were made
    /// again from the unchanged demo password.
    pub credentials: Vec<String>,
    /// `login → queue` write grants added.
    pub grants: Vec<String>,
    /// Customers created, or whose demo PIN had to be set again (another PIN secret).
    pub customers: Vec<String>,
    /// Sample tickets generated.
    pub tickets: u64,
}

impl DemoReport {
    /// Whether the run changed anything.
    pub fn changed(&self) -> bool {
        *self != DemoReport::default()
    }
}

/// Loads the demo data into `store`, creating only what is missing (see the module doc).
pub async fn load_demo_data(store: &Store, options: &DemoOptions) -> Result<DemoReport> {
    let now = options.now;
    let mut report = DemoReport::default();
    for (name, second_level) in DEMO_QUEUES {
        if store.queue_by_name(name).await?.is_none() {
            store.create_queue(name, *second_level, now).await?;
            report.queues.push((*name).to_string());
        }
    }
    let with_credentials: Vec<String> = store
        .sip_credentials()
        .await?
        .into_iter()
        .map(|c| c.login)
        .collect();
    for u in DEMO_USERS {
        let user = match store.user_by_login(u.login).await? {
            Some(existing) => existing,
            None => {
                report.users.push(u.login.to_string());
                store
                    .create_user(u.login, u.full_name, u.role, u.password, now)
                    .await?
            }
        };
        // The demo agents' phones register with the demo password as their secret (CONTRACT
        // "The demo"); only while the web password is still the demo one, so an operator's
        // own secret is never overwritten.
        let missing = !with_credentials.iter().any(|l| l == u.login);
        if u.role.is_agent() && missing && store.authenticate(u.login, u.password).await?.is_some()
        {
            if store.site_user(u.login).await?.phone.is_none() {
                store
                    .set_phone(u.login, Some(&PhoneKind::Registering), Actor::System, now)
                    .await?;
            }
            store
                .set_sip_secret(u.login, u.password, Actor::System, now)
                .await?;
            report.credentials.push(u.login.to_string());
        }
        for queue in u.writes {
            let q = queue_id(store, queue).await?;
            if store.queue_access(user.id, q).await? != Some(Access::Write) {
                store.grant_queue(user.id, q, Access::Write).await?;
                report.grants.push(format!("{} → {queue}", u.login));
            }
        }
    }
    for c in DEMO_CUSTOMERS {
        if ensure_customer(store, c, now).await? {
            report.customers.push(c.full_name.to_string());
        }
    }
    if options.sample_tickets > 0 && store.ticket_count().await? == 0 {
        let made =
            crate::synth::generate_tickets(store, options.sample_tickets, options.seed, 1, now)
                .await?;
        report.tickets = made.tickets;
    }
    Ok(report)
}

async fn queue_id(store: &Store, name: &str) -> Result<QueueId> {
    store
        .queue_by_name(name)
        .await?
        .ok_or_else(|| Error::NotFound {
            what: "queue",
            key: name.to_string(),
        })
}

/// Creates the customer unless one has its phone; makes sure its PIN finds it. Looks up
/// without the audited readers so that a run that finds everything writes nothing. Returns
/// whether anything was written.
async fn ensure_customer(store: &Store, c: &DemoCustomer, now: DateTime<Utc>) -> Result<bool> {
    let by_phone = store.customer_id_with_phone(c.phone).await?;
    let Some(id) = by_phone else {
        store
            .create_customer(
                NewCustomer {
                    full_name: c.full_name.to_string(),
                    organisation: None,
                    email: Some(c.email.to_string()),
                    phones: vec![c.phone.to_string()],
                    pin: Some(c.pin.to_string()),
                    guest: false,
                },
                Actor::System,
                now,
            )
            .await?;
        return Ok(true);
    };
    let by_pin = store.customer_id_with_pin(c.pin).await?;
    if by_pin == Some(id) {
        return Ok(false);
    }
    store
        .set_customer_pin(id, c.pin, Actor::System, now)
        .await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agents_follow_the_contract() {
        for u in DEMO_USERS {
            if matches!(u.role, Role::AgentFirstLevel | Role::AgentSecondLevel) {
                assert_eq!(u.password, format!("demo{}", u.login));
                assert!(!u.writes.is_empty(), "{} writes somewhere", u.login);
            }
            for q in u.writes {
                assert!(DEMO_QUEUES.iter().any(|(name, _)| name == q), "{q}");
            }
        }
        let second: Vec<_> = DEMO_QUEUES.iter().filter(|(_, s)| *s).collect();
        assert_eq!(second, [&("secondo-livello", true)]);
        for c in DEMO_CUSTOMERS {
            assert!(c.email.ends_with("@example.org"));
            assert_eq!(
                crm::customers::normalize_phone(c.phone, None).unwrap(),
                c.phone
            );
        }
    }
}
