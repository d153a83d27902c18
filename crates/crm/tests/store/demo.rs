//! Demo data, SIP credentials and the synthetic ticket generator.

use crm::credentials::{ha1_md5, ha1_sha256};
use crm::{Access, Actor, Role, State, Store, TicketQuery};
use crm_fixtures::{DemoOptions, generate_tickets, load_demo_data};

use crate::common::{both, t0};

async fn demo_data_is_complete_and_idempotent(store: Store) {
    let first = load_demo_data(&store, &DemoOptions::new(t0()))
        .await
        .unwrap();
    assert!(first.changed());
    assert_eq!(first.users.len(), 6);
    assert_eq!(first.customers, ["Maria Rossi", "Giulio Bianchi"]);
    // `raw` comes from the first migration.
    assert!(!first.queues.contains(&"raw".to_string()));
    for q in [
        "cittadini",
        "tecnica",
        "altro",
        "secondo-livello",
        "voicemail",
    ] {
        assert!(first.queues.contains(&q.to_string()), "{q}");
    }
    let second_level = store
        .queue_by_name("secondo-livello")
        .await
        .unwrap()
        .unwrap();
    assert!(store.queue(second_level).await.unwrap().second_level);

    let audit_before = store.audit_log("customer:1").await.unwrap().len();
    let again = load_demo_data(&store, &DemoOptions::new(t0()))
        .await
        .unwrap();
    assert!(!again.changed(), "second run changed {again:?}");
    assert_eq!(
        store.audit_log("customer:1").await.unwrap().len(),
        audit_before
    );

    // Logins and passwords from CONTRACT "The demo".
    for (login, password, role) in [
        ("1001", "demo1001", Role::AgentFirstLevel),
        ("1002", "demo1002", Role::AgentFirstLevel),
        ("1003", "demo1003", Role::AgentFirstLevel),
        ("2001", "demo2001", Role::AgentSecondLevel),
        ("supervisor", "demo-supervisor", Role::Supervisor),
        ("admin", "demo-admin", Role::Admin),
    ] {
        let u = store.authenticate(login, password).await.unwrap();
        assert_eq!(u.map(|u| u.role), Some(role), "{login}");
        assert!(store.authenticate(login, "wrong").await.unwrap().is_none());
    }
    let access = |login: &'static str, queue: &'static str| {
        let store = store.clone();
        async move {
            let u = store.user_by_login(login).await.unwrap().unwrap();
            let queue = store.queue_by_name(queue).await.unwrap().unwrap();
            store.queue_access(u.id, queue).await.unwrap()
        }
    };
    assert_eq!(access("1001", "cittadini").await, Some(Access::Write));
    assert_eq!(access("1002", "altro").await, Some(Access::Write));
    assert_eq!(access("1001", "tecnica").await, None);
    assert_eq!(access("1003", "tecnica").await, Some(Access::Write));
    assert_eq!(access("1003", "cittadini").await, None);
    assert_eq!(access("2001", "secondo-livello").await, Some(Access::Write));
    assert_eq!(access("supervisor", "tecnica").await, Some(Access::Read));
    assert_eq!(access("admin", "altro").await, Some(Access::Write));

    let maria = store
        .customer_by_pin("12345", Actor::System, t0())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(maria.full_name, "Maria Rossi");
    assert_eq!(maria.phones, ["+390600000001"]);
    assert_eq!(maria.email.as_deref(), Some("maria.rossi@example.org"));
    let giulio = store
        .customer_by_phone("06 0000 0002", Actor::System, t0())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(giulio.full_name, "Giulio Bianchi");
    let by_pin = store.customer_by_pin("54321", Actor::System, t0()).await;
    assert_eq!(by_pin.unwrap().map(|c| c.id), Some(giulio.id));
}
both!(demo_data_is_complete_and_idempotent);

async fn demo_pin_is_set_again_under_a_new_secret(store: Store) {
    load_demo_data(&store, &DemoOptions::new(t0()))
        .await
        .unwrap();
    // The same database opened with another PIN secret (a lost pin.key).
    let mut settings = store.settings().clone();
    settings.pin_secret = b"another-secret".to_vec();
    let moved = store.open_another_with(settings).await.unwrap();
    let report = load_demo_data(&moved, &DemoOptions::new(t0()))
        .await
        .unwrap();
    assert_eq!(report.customers, ["Maria Rossi", "Giulio Bianchi"]);
    assert!(report.users.is_empty());
    let maria = moved.customer_by_pin("12345", Actor::System, t0()).await;
    assert_eq!(maria.unwrap().unwrap().full_name, "Maria Rossi");
    let again = load_demo_data(&moved, &DemoOptions::new(t0()))
        .await
        .unwrap();
    assert!(!again.changed(), "{again:?}");
    moved.close().await;
}
both!(demo_pin_is_set_again_under_a_new_secret);

async fn phone_secrets_are_their_own(store: Store) {
    load_demo_data(&store, &DemoOptions::new(t0()))
        .await
        .unwrap();
    // Only the agents have phones; the demo's secret is the demo password.
    let creds = store.sip_credentials().await.unwrap();
    let logins: Vec<&str> = creds.iter().map(|c| c.login.as_str()).collect();
    assert_eq!(logins, ["1001", "1002", "1003", "2001"]);
    let c1001 = &creds[0];
    assert_eq!(c1001.ha1_md5, ha1_md5("1001", "centralino", "demo1001"));
    assert_eq!(
        c1001.ha1_sha256,
        ha1_sha256("1001", "centralino", "demo1001")
    );
    assert_eq!(c1001.ha1_md5.len(), 32);
    assert_eq!(c1001.ha1_sha256.len(), 64);
    assert!(
        c1001
            .ha1_md5
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    );

    // A new web password: the old one no longer logs in; the phone's secret is unchanged.
    let u = store.user_by_login("1001").await.unwrap().unwrap();
    store
        .set_password(u.id, "nuova-password", Actor::System, t0())
        .await
        .unwrap();
    assert!(
        store
            .authenticate("1001", "demo1001")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .authenticate("1001", "nuova-password")
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(store.sip_credentials().await.unwrap()[0], *c1001);
    let audit = store.audit_log(&format!("user:{}", u.id)).await.unwrap();
    assert_eq!(audit.last().unwrap().detail.as_deref(), Some("password"));
    assert!(
        store
            .set_password(u.id, "", Actor::System, t0())
            .await
            .is_err()
    );

    // The phone's own secret: new HA1s, audited without the secret.
    store
        .set_sip_secret("1001", "segreto-del-telefono", Actor::User(u.id), t0())
        .await
        .unwrap();
    let c = store.sip_credentials().await.unwrap().remove(0);
    assert_eq!(
        c.ha1_md5,
        ha1_md5("1001", "centralino", "segreto-del-telefono")
    );
    assert_eq!(
        c.ha1_sha256,
        ha1_sha256("1001", "centralino", "segreto-del-telefono")
    );
    let audit = store.audit_log(&format!("user:{}", u.id)).await.unwrap();
    assert_eq!(
        audit.last().unwrap().detail.as_deref(),
        Some("phone secret")
    );
    assert!(
        store
            .set_sip_secret("1001", "short", Actor::System, t0())
            .await
            .is_err(),
        "too short"
    );
    // A user without a phone has no secret to set.
    assert!(
        store
            .set_sip_secret("supervisor", "a-long-secret", Actor::System, t0())
            .await
            .is_err()
    );

    // The demo loader never overwrites an operator's own secret.
    let report = load_demo_data(&store, &DemoOptions::new(t0()))
        .await
        .unwrap();
    assert!(!report.changed(), "{report:?}");

    // Another realm: nothing stored matches until secrets are set again; the demo loader
    // remakes those of the agents whose web password is still the demo one.
    let mut settings = store.settings().clone();
    settings.sip_realm = "centralino.example.org".to_string();
    let other = store.open_another_with(settings).await.unwrap();
    assert!(other.sip_credentials().await.unwrap().is_empty());
    let report = load_demo_data(&other, &DemoOptions::new(t0()))
        .await
        .unwrap();
    assert_eq!(report.credentials, ["1002", "1003", "2001"]);
    let creds = other.sip_credentials().await.unwrap();
    assert_eq!(creds.len(), 3, "1001 changed its password: not remade");
    assert_eq!(
        creds[0].ha1_md5,
        ha1_md5("1002", "centralino.example.org", "demo1002")
    );
    // An unknown user is refused.
    assert!(
        store
            .set_password(crm::UserId(9999), "x", Actor::System, t0())
            .await
            .is_err()
    );
    other.close().await;
}
both!(phone_secrets_are_their_own);

async fn synthetic_tickets_spread_and_search(store: Store) {
    load_demo_data(&store, &DemoOptions::new(t0()))
        .await
        .unwrap();
    let report = generate_tickets(&store, 450, 7, 3, t0()).await.unwrap();
    assert_eq!(report.tickets, 450);
    assert_eq!(report.customers, 22);

    let all = store
        .search_tickets(&TicketQuery {
            limit: 1000,
            ..TicketQuery::default()
        })
        .await
        .unwrap();
    let mut states = std::collections::HashMap::new();
    let mut queues = std::collections::HashSet::new();
    let mut numbers = std::collections::HashSet::new();
    for t in &all.tickets {
        *states.entry(t.state).or_insert(0) += 1;
        queues.insert(t.queue);
        numbers.insert(t.number.clone());
        assert!(t.created <= t0());
        if t.locked {
            assert!(t.owner.is_some());
        }
    }
    assert_eq!(numbers.len(), 450, "unique numbers");
    for s in [
        State::New,
        State::Open,
        State::PendingReminder,
        State::ClosedSuccessful,
        State::ClosedUnsuccessful,
    ] {
        assert!(states.get(&s).copied().unwrap_or(0) > 5, "{s}: {states:?}");
    }
    assert!(queues.len() >= 5, "{queues:?}");

    // Each ticket has its article and history; the text is searchable.
    let t = &all.tickets[17];
    let articles = store.articles(t.id).await.unwrap();
    assert_eq!(articles.len(), 1);
    assert_eq!(articles[0].subject, t.title);
    assert!(store.history(t.id).await.unwrap().len() >= 2);
    let word = t
        .title
        .split_whitespace()
        .last()
        .unwrap()
        .trim_matches(|c: char| !c.is_alphanumeric());
    let hits = store
        .search_tickets(&TicketQuery {
            text: Some(word.to_string()),
            ..TicketQuery::default()
        })
        .await
        .unwrap();
    assert!(hits.total >= 1, "{word}");

    // Same seed, same text: running again adds 450 tickets whose (creation time, title)
    // pairs repeat the first run's, whatever the number of writers.
    generate_tickets(&store, 450, 7, 1, t0()).await.unwrap();
    let titles = |from: usize| {
        let store = store.clone();
        async move {
            let page = store
                .search_tickets(&TicketQuery {
                    limit: 1000,
                    sort: crm::SortBy::Created,
                    ..TicketQuery::default()
                })
                .await
                .unwrap();
            let mut v: Vec<(i64, String)> = page.tickets[from..]
                .iter()
                .map(|t| (t.created.timestamp_millis(), t.title.clone()))
                .collect();
            v.sort();
            v
        }
    };
    let both_runs = titles(0).await;
    // Every (created, title) pair occurs twice: once per run.
    for pair in both_runs.chunks(2) {
        assert_eq!(pair[0], pair[1]);
    }
}
both!(synthetic_tickets_spread_and_search);

async fn postgres_commits_wait_for_the_flush_unless_told_not_to(store: Store) {
    if store.backend() != crm::Backend::Postgres {
        // SQLite: synchronous = NORMAL (1) on every connection, whatever the setting.
        assert_eq!(store.commit_mode().await.unwrap(), "1");
        return;
    }
    assert_eq!(store.commit_mode().await.unwrap(), "on");
    let mut settings = store.settings().clone();
    settings.postgres_synchronous_commit = false;
    let deferred = store.open_another_with(settings).await.unwrap();
    assert_eq!(deferred.commit_mode().await.unwrap(), "off");
    // Creates go on as before through the writer, whose connection is set the same way.
    let t = deferred
        .create_ticket(
            crm::NewTicket::new("commit differito", crm::Channel::Phone),
            Actor::System,
            t0(),
        )
        .await
        .unwrap();
    assert_eq!(store.ticket(t.id).await.unwrap().title, "commit differito");
    deferred.close().await;
}
both!(postgres_commits_wait_for_the_flush_unless_told_not_to);

/// `database.sqlite_synchronous = "full"`: every connection commits with an fsync
/// (`synchronous` 2), and creates go on through the writer thread set the same way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_commits_fsync_when_set_to_full() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("crm.db").display());
    let mut settings = crate::common::settings();
    settings.sqlite_synchronous = crm::SqliteSynchronous::Full;
    let store = Store::connect_with(&url, settings).await.unwrap();
    assert_eq!(store.commit_mode().await.unwrap(), "2");
    let t = store
        .create_ticket(
            crm::NewTicket::new("commit sincrono", crm::Channel::Phone),
            Actor::System,
            t0(),
        )
        .await
        .unwrap();
    assert_eq!(store.ticket(t.id).await.unwrap().title, "commit sincrono");
    store.close().await;
}
