//! The hand-off of messages to a real database, SQLite and PostgreSQL: a message filed while
//! the database is down becomes exactly one ticket when it returns; a replay after a crash
//! does not file twice; a recording a crash interrupted is repaired and filed at start.
//!
//! "Down" is real and deterministic on both: on SQLite another connection holds the write
//! lock (`BEGIN EXCLUSIVE`) so writes meet the busy timeout; on PostgreSQL the test's
//! database stops taking connections (`ALLOW_CONNECTIONS false`) and its sessions are
//! terminated. PostgreSQL is `CENTRALINO_TEST_PG` (default
//! `postgres://postgres@127.0.0.1:5432/test`), where each test creates and drops a database.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use crm::{Channel, JournaledStore, Store, TicketQuery};
use sqlx::Connection;
use voicemail::{Filing, Message, Voicemail, VoicemailSettings};

fn crm_settings() -> crm::Settings {
    crm::Settings {
        default_country_code: Some("39".into()),
        pin_secret: b"test".to_vec(),
        // A write waiting for the database gives up (and is journaled) after this.
        acquire_timeout: Duration::from_millis(500),
        max_connections: 4,
        ..crm::Settings::default()
    }
}

/// The message time: Monday 2 March 2026, 09:00 UTC.
fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap()
}

/// A database the test can take away and bring back.
enum Db {
    Sqlite {
        url: String,
        /// The task holding the write lock, and how to make it let go.
        lock: Option<(
            tokio::sync::oneshot::Sender<()>,
            tokio::task::JoinHandle<()>,
        )>,
    },
    Postgres {
        admin: String,
        name: String,
    },
}

impl Db {
    async fn down(&mut self) {
        match self {
            Db::Sqlite { url, lock } => {
                let (locked_tx, locked) = tokio::sync::oneshot::channel();
                let (release, released) = tokio::sync::oneshot::channel::<()>();
                let url = url.clone();
                let holder = tokio::spawn(async move {
                    let mut c = sqlx::AnyConnection::connect(&url).await.unwrap();
                    sqlx::query("BEGIN EXCLUSIVE")
                        .execute(&mut c)
                        .await
                        .unwrap();
                    locked_tx.send(()).unwrap();
                    let _ = released.await;
                    sqlx::query("ROLLBACK").execute(&mut c).await.unwrap();
                    c.close().await.unwrap();
                });
                locked.await.unwrap();
                *lock = Some((release, holder));
            }
            Db::Postgres { admin, name } => {
                let mut c = sqlx::AnyConnection::connect(admin).await.unwrap();
                for sql in [
                    format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false"),
                    format!(
                        "SELECT pg_terminate_backend(pid)::text FROM pg_stat_activity \
                         WHERE datname = '{name}'"
                    ),
                ] {
                    sqlx::query(&sql).execute(&mut c).await.unwrap();
                }
            }
        }
    }

    async fn up(&mut self) {
        match self {
            Db::Sqlite { lock, .. } => {
                let (release, holder) = lock.take().expect("down before up");
                release.send(()).unwrap();
                holder.await.unwrap();
            }
            Db::Postgres { admin, name } => {
                let mut c = sqlx::AnyConnection::connect(admin).await.unwrap();
                sqlx::query(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true"))
                    .execute(&mut c)
                    .await
                    .unwrap();
            }
        }
    }
}

/// What every test gets: a migrated store with a `voicemail` queue, the database handle,
/// and a folder for messages and the journal.
struct World {
    store: Store,
    db: Db,
    dir: PathBuf,
}

impl World {
    fn journal_path(&self) -> PathBuf {
        self.dir.join("journal/calls.jsonl")
    }

    /// A voicemail handle as at a (re)start: its own journaled store on the journal file.
    fn voicemail(&self) -> Voicemail {
        let journal = Arc::new(JournaledStore::new(self.store.clone(), self.journal_path()));
        let always_open = calendar::CalendarConfig::always_open();
        let settings = VoicemailSettings {
            dir: self.dir.join("voicemail"),
            greeting_prompt: "voicemail_greeting".into(),
            max_length: Duration::from_secs(120),
            min_length: Duration::from_secs(1),
            queue: "voicemail".into(),
            max_total_bytes: u64::MAX,
            min_free_bytes: 0,
            retention: Some(Duration::from_secs(86_400)),
            sla: Some(crm::QueueSla {
                calendar: Arc::new(calendar::BusinessCalendar::new(&always_open).unwrap()),
                first_response: Some(chrono::Duration::hours(4)),
                solution: Some(chrono::Duration::hours(24)),
            }),
        };
        Voicemail::with_clock(settings, journal, Arc::new(t0))
    }

    async fn voicemail_tickets(&self) -> Vec<crm::Ticket> {
        self.store
            .search_tickets(&TicketQuery {
                channel: Some(Channel::Voicemail),
                limit: 100,
                ..TicketQuery::default()
            })
            .await
            .unwrap()
            .tickets
    }
}

fn write_wav(path: &Path, seconds: u32) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..seconds * 8000 {
        w.write_sample(((i % 20) as i16 - 10) * 1000).unwrap();
    }
    w.finalize().unwrap();
}

/// Records a message of `seconds` for `call_id` as the call would.
async fn record(vm: &Voicemail, call_id: &str, caller: &str, seconds: u32) -> Message {
    let path = vm.admit("general", call_id).await.unwrap();
    write_wav(&path, seconds);
    Message {
        call_id: call_id.into(),
        caller: Some(caller.into()),
        mailbox: "general".into(),
        path,
        duration: Duration::from_secs(seconds.into()),
    }
}

fn number(f: &Filing) -> String {
    match f {
        Filing::Opened { number } | Filing::Joined { number } => number.clone(),
        Filing::Pending => panic!("expected a ticket, got {f:?}"),
    }
}

async fn filed_while_down_becomes_one_ticket(mut w: World) {
    let vm = w.voicemail();
    let message = record(&vm, "call-down-1", "+390600000009", 2).await;
    let wav = message.path.clone();
    w.db.down().await;

    assert_eq!(vm.file(message.clone()).await, Filing::Pending);
    assert_eq!(vm.pending(), ["call-down-1"]);
    assert_eq!(
        vm.journal().pending().unwrap(),
        1,
        "the hand-off is journaled"
    );
    assert!(!wav.with_extension("filed").exists());
    // Still down: the retry finds nothing, and the message stays.
    assert_eq!(vm.retry_pending().await, 0);
    assert_eq!(vm.journal().pending().unwrap(), 1);
    // Retention never deletes an unfiled message, however old.
    let later = std::time::SystemTime::now() + Duration::from_secs(30 * 86_400);
    assert_eq!(vm.sweep(later).await.kept_unfiled, 1);
    assert!(wav.exists());

    w.db.up().await;
    assert_eq!(vm.retry_pending().await, 1);
    assert!(vm.pending().is_empty());
    assert_eq!(vm.journal().pending().unwrap(), 0);
    let marker = std::fs::read_to_string(wav.with_extension("filed")).unwrap();

    let tickets = w.voicemail_tickets().await;
    assert_eq!(tickets.len(), 1, "{tickets:?}");
    let t = &tickets[0];
    assert_eq!(t.number, marker);
    assert_eq!(t.call_id.as_deref(), Some("call-down-1"));
    assert_eq!(w.store.queue(t.queue).await.unwrap().name, "voicemail");
    assert_eq!(
        t.created,
        t0(),
        "the ticket is the message's, not the replay's"
    );
    // R-VM-2: the clocks run from the message (always open: 4 h and 24 h later).
    assert_eq!(
        t.sla.first_response_due,
        Some(t0() + chrono::Duration::hours(4))
    );
    assert_eq!(t.sla.solution_due, Some(t0() + chrono::Duration::hours(24)));
    let customer = w
        .store
        .customer(t.customer.unwrap(), crm::Actor::System, t0())
        .await
        .unwrap();
    assert!(customer.guest);
    assert_eq!(customer.phones, ["+390600000009"]);
    let articles = w.store.articles(t.id).await.unwrap();
    assert_eq!(articles.len(), 1);
    assert_eq!(articles[0].attachments.len(), 1);
    assert_eq!(articles[0].attachments[0].filename, "call-down-1.wav");
    assert_eq!(articles[0].attachments[0].size, 44 + 2 * 16_000);

    // Filed again (a restart's recovery, a late duplicate): the same ticket, nothing added.
    assert_eq!(
        vm.file(message).await,
        Filing::Opened {
            number: t.number.clone()
        }
    );
    assert_eq!(w.voicemail_tickets().await.len(), 1);
    assert_eq!(w.store.articles(t.id).await.unwrap().len(), 1);
    assert_eq!(w.store.voicemail_count().await.unwrap(), 1);
    // Filed and past its retention: now the file may go (its audio is in the ticket).
    assert_eq!(vm.sweep(later).await.deleted, 1);
    assert!(!wav.exists());
}

async fn a_replay_after_a_crash_does_not_file_twice(mut w: World) {
    let vm = w.voicemail();
    let first = record(&vm, "call-crash-1", "+390600000008", 2).await;
    let second = record(&vm, "call-crash-2", "+390600000008", 3).await;
    w.db.down().await;
    assert_eq!(vm.file(first.clone()).await, Filing::Pending);
    assert_eq!(vm.file(second.clone()).await, Filing::Pending);
    assert_eq!(vm.journal().pending().unwrap(), 2);
    // The journal as it is before the replay: what a crash between the commits and the
    // journal's rewrite leaves on disk.
    let journal_before = std::fs::read(w.journal_path()).unwrap();
    w.db.up().await;
    assert_eq!(vm.retry_pending().await, 2);
    let tickets = w.voicemail_tickets().await;
    assert_eq!(
        tickets.len(),
        1,
        "the second message joins the first's ticket"
    );
    let t = tickets[0].clone();
    assert_eq!(w.store.articles(t.id).await.unwrap().len(), 2);

    // The crash: the journal still holds both hand-offs, and the second message's marker
    // was never written.
    drop(vm);
    std::fs::write(w.journal_path(), &journal_before).unwrap();
    std::fs::remove_file(second.path.with_extension("filed")).unwrap();

    // The restart: recovery files the unmarked message again, the replay applies both
    // entries again; nothing new is written.
    let vm = w.voicemail();
    let report = vm.recover().await;
    assert_eq!((report.filed, report.pending), (1, 0), "{report:?}");
    assert_eq!(vm.retry_pending().await, 0);
    assert_eq!(
        vm.journal().pending().unwrap(),
        0,
        "the journal is replayed"
    );
    assert!(second.path.with_extension("filed").exists());
    assert_eq!(w.voicemail_tickets().await.len(), 1);
    assert_eq!(w.store.articles(t.id).await.unwrap().len(), 2);
    assert_eq!(w.store.voicemail_count().await.unwrap(), 2);
    let again = vm.file(second).await;
    assert_eq!(
        again,
        Filing::Joined {
            number: t.number.clone()
        }
    );
    assert_eq!(number(&vm.file(first).await), t.number);
    assert_eq!(w.store.articles(t.id).await.unwrap().len(), 2);
}

async fn an_interrupted_recording_is_repaired_and_filed_at_start(w: World) {
    // The call card knows the caller; the crash came mid-recording.
    w.store
        .start_call(&crm::NewCall {
            call_id: "call-tmp-1".into(),
            sip_call_id: None,
            caller: "+390600000007".into(),
            dialled: "800100299".into(),
            started: t0(),
        })
        .await
        .unwrap();
    let general = w.dir.join("voicemail/general");
    std::fs::create_dir_all(&general).unwrap();
    let tmp = general.join("call-tmp-1.wav.tmp");
    write_wav(&tmp, 3);
    // As a crash leaves it: header sizes never updated, half a sample at the end.
    let mut bytes = std::fs::read(&tmp).unwrap();
    bytes[4..8].copy_from_slice(&[0; 4]);
    bytes[40..44].copy_from_slice(&[0; 4]);
    bytes.push(0x11);
    std::fs::write(&tmp, bytes).unwrap();

    let vm = w.voicemail();
    let report = vm.recover().await;
    assert_eq!(
        (report.recovered, report.filed, report.pending),
        (1, 1, 0),
        "{report:?}"
    );
    let wav = general.join("call-tmp-1.wav");
    assert!(!tmp.exists() && wav.exists());
    let reader = hound::WavReader::open(&wav).unwrap();
    assert_eq!(reader.len(), 3 * 8000);
    let tickets = w.voicemail_tickets().await;
    assert_eq!(tickets.len(), 1);
    let t = &tickets[0];
    assert_eq!(t.call_id.as_deref(), Some("call-tmp-1"));
    let customer = w
        .store
        .customer(t.customer.unwrap(), crm::Actor::System, t0())
        .await
        .unwrap();
    assert_eq!(customer.phones, ["+390600000007"], "the call card's caller");
    // A second start finds nothing to do.
    assert_eq!(
        w.voicemail().recover().await,
        voicemail::Recovery::default()
    );
}

/// A caller who withheld the number (the call card's privacy step): the message still finds
/// the caller's customer by the number, but the ticket agents read does not show it.
async fn a_withheld_number_is_not_in_the_voicemail_ticket(w: World) {
    w.store
        .start_call(&crm::NewCall {
            call_id: "call-withheld-1".into(),
            sip_call_id: None,
            caller: "+390600000008".into(),
            dialled: "800100299".into(),
            started: t0(),
        })
        .await
        .unwrap();
    w.store
        .record_ivr_step("call-withheld-1", events::WITHHELD_STEP)
        .await
        .unwrap();
    let vm = w.voicemail();
    let message = record(&vm, "call-withheld-1", "+390600000008", 2).await;
    number(&vm.file(message).await);
    let tickets = w.voicemail_tickets().await;
    assert_eq!(tickets.len(), 1);
    let t = &tickets[0];
    assert!(!t.title.contains("0600000008"), "{}", t.title);
    let customer = w
        .store
        .customer(t.customer.unwrap(), crm::Actor::System, t0())
        .await
        .unwrap();
    assert_eq!(customer.phones, ["+390600000008"], "matched by the number");
    let articles = w.store.articles(t.id).await.unwrap();
    for a in &articles {
        let text = format!("{a:?}");
        assert!(!text.contains("0600000008"), "{text}");
    }
}

async fn sqlite<F, Fut>(body: F)
where
    F: FnOnce(World) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    sqlx::any::install_default_drivers();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("crm.db").display());
    let store = Store::connect_with(&url, crm_settings()).await.unwrap();
    store.create_queue("voicemail", false, t0()).await.unwrap();
    body(World {
        store: store.clone(),
        db: Db::Sqlite { url, lock: None },
        dir: dir.path().to_path_buf(),
    })
    .await;
    store.close().await;
}

async fn postgres<F, Fut>(body: F)
where
    F: FnOnce(World) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    sqlx::any::install_default_drivers();
    let admin = std::env::var("CENTRALINO_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string());
    let name = format!("voicemail_test_{:016x}", rand::random::<u64>());
    let mut c = sqlx::AnyConnection::connect(&admin)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at {admin} must be reachable: {e}"));
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut c)
        .await
        .unwrap();
    let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap();
    let store = Store::connect_with(&format!("{base}/{name}"), crm_settings())
        .await
        .unwrap();
    store.create_queue("voicemail", false, t0()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let world = World {
        store: store.clone(),
        db: Db::Postgres {
            admin: admin.clone(),
            name: name.clone(),
        },
        dir: dir.path().to_path_buf(),
    };
    let result = tokio::spawn(body(world)).await;
    store.close().await;
    for sql in [
        format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true"),
        format!("DROP DATABASE {name} WITH (FORCE)"),
    ] {
        sqlx::query(&sql).execute(&mut c).await.unwrap();
    }
    if let Err(e) = result {
        std::panic::resume_unwind(e.into_panic());
    }
}

macro_rules! both {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                crate::sqlite(super::$name).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                crate::postgres(super::$name).await
            }
        }
    };
}

both!(filed_while_down_becomes_one_ticket);
both!(a_replay_after_a_crash_does_not_file_twice);
both!(an_interrupted_recording_is_repaired_and_filed_at_start);
both!(a_withheld_number_is_not_in_the_voicemail_ticket);
