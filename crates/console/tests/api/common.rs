//! The API test fixture: a fresh store (SQLite file, or a fresh PostgreSQL database on
//! `CENTRALINO_TEST_PG`, default `postgres://postgres@127.0.0.1:5432/postgres`), queues,
//! operators of every role, a fake clock, and the API router driven with `Router::oneshot`.

use std::future::Future;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use console::api::{Api, ApiConfig, Clock};
use crm::{Access, Role, Settings, Store, SystemId, UserId};
use http_body_util::BodyExt;
use serde_json::Value;
use sqlx::Connection;
use tower::ServiceExt;

/// Runs `$name` (an `async fn(Fixture)` in the parent module) on SQLite and PostgreSQL.
macro_rules! both {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                crate::common::run_sqlite(super::$name).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                crate::common::run_postgres(super::$name).await
            }
        }
    };
}
pub(crate) use both;

/// Test settings; fields added to crm's `Settings` later take their defaults.
#[allow(clippy::needless_update)]
fn settings() -> Settings {
    Settings {
        system_id: SystemId::new(42).unwrap(),
        default_country_code: Some("39".to_string()),
        pin_secret: b"test-secret-not-for-production".to_vec(),
        attachment_max_bytes: 1024,
        max_connections: 5,
        acquire_timeout: std::time::Duration::from_secs(30),
        password_cost: crm::PasswordCost {
            memory_kib: 64,
            iterations: 1,
        },
        time_zone: chrono_tz::Europe::Rome,
        ..Settings::default()
    }
}

/// Monday 2 March 2026, 09:00 UTC.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap()
}

/// An answer: status, headers, body as text and (when it parses) as JSON.
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
    pub json: Value,
}

impl Resp {
    /// Asserts the status, showing the body when it differs.
    #[track_caller]
    pub fn expect(self, status: StatusCode) -> Self {
        assert_eq!(self.status, status, "body: {}", self.text);
        self
    }

    /// Asserts a problem+json answer with this status; returns its detail.
    #[track_caller]
    pub fn problem(self, status: StatusCode) -> String {
        assert_eq!(self.status, status, "body: {}", self.text);
        assert_eq!(
            self.headers["content-type"], "application/problem+json",
            "{}",
            self.text
        );
        assert_eq!(self.json["status"], status.as_u16());
        assert!(
            self.json["type"]
                .as_str()
                .unwrap()
                .starts_with("urn:centralino:problem:")
        );
        assert!(self.json["title"].is_string());
        self.json["detail"].as_str().unwrap().to_string()
    }
}

/// Queues and operators, known to every test.
///
/// | login | role | cittadini | imprese | secondo-livello |
/// |---|---|---|---|---|
/// | a1 | agent 1st level | write | read | — |
/// | a2 | agent 2nd level | read | — | write |
/// | a3 | agent 1st level | write | — | — |
/// | ro | agent 1st level | — | — | — |
/// | sup | supervisor | (read all) | (read all) | write |
/// | adm | admin | (write all) | | |
pub struct Fixture {
    pub app: Router,
    pub store: Store,
    pub clock: Arc<Mutex<DateTime<Utc>>>,
    pub a1: UserId,
    /// The prompt folders (`shipped/`, `uploaded/`), removed with the fixture.
    pub prompt_dir: tempfile::TempDir,
    /// The last prompt library handed to the calls.
    pub applied: Arc<Mutex<Option<media::PromptLibrary>>>,
    /// The bus the API publishes on (`ticket.created`, `ticket.updated`).
    pub bus: events::EventBus,
    /// The ACD behind the API (blended routing's items are fed to it by the tests that
    /// need them).
    pub acd: switchboard::AcdHandle,
}

async fn fixture(store: Store) -> Fixture {
    let now = t0();
    let cittadini = store
        .create_queue("cittadini", false, now)
        .await
        .unwrap()
        .id;
    let imprese = store.create_queue("imprese", false, now).await.unwrap().id;
    let second = store
        .create_queue("secondo-livello", true, now)
        .await
        .unwrap()
        .id;
    let mut ids = Vec::new();
    for (login, role) in [
        ("a1", Role::AgentFirstLevel),
        ("a2", Role::AgentSecondLevel),
        ("a3", Role::AgentFirstLevel),
        ("ro", Role::AgentFirstLevel),
        ("sup", Role::Supervisor),
        ("adm", Role::Admin),
    ] {
        let name = format!("Operator {login}");
        let u = store
            .create_user(login, &name, role, &format!("pw-{login}"), now)
            .await
            .unwrap();
        ids.push(u.id);
    }
    let grants = [
        (0, cittadini, Access::Write),
        (0, imprese, Access::Read),
        (1, cittadini, Access::Read),
        (1, second, Access::Write),
        (2, cittadini, Access::Write),
        (4, second, Access::Write),
    ];
    for (i, q, a) in grants {
        store.grant_queue(ids[i], q, a).await.unwrap();
    }
    let clock = Arc::new(Mutex::new(now));
    let c = clock.clone();
    // Prompts: a shipped folder with `welcome` (used by the IVR) and `hold_music`, and an
    // empty folder for uploads; `applied` sees every library handed to the calls.
    let prompt_dir = tempfile::tempdir().unwrap();
    let shipped = prompt_dir.path().join("shipped");
    for (name, freq) in [("welcome", 400.0), ("hold_music", 600.0)] {
        let path = shipped.join("it").join(format!("{name}.wav"));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, wav(8000, 1, freq, 0.5)).unwrap();
    }
    let applied: Arc<Mutex<Option<media::PromptLibrary>>> = Arc::default();
    let sink = applied.clone();
    let prompts = console::api::prompts::PromptAdmin {
        shipped,
        uploaded: prompt_dir.path().join("uploaded"),
        in_use: Arc::new(|| {
            [("welcome".to_string(), vec!["IVR tree".to_string()])]
                .into_iter()
                .collect()
        }),
        engine: Arc::new(Applied(sink)),
    };
    let bus = events::EventBus::default();
    let config = ApiConfig {
        clock: Clock::from_fn(move || *c.lock().unwrap()),
        prompts: Some(prompts),
        bus: Some(bus.clone()),
        // The e-mail desk (api_mail_desk): replies queue in the outbox; no sender runs here.
        mail: Some(Arc::new(mail_desk())),
        ..ApiConfig::default()
    };
    // The ACD of the agent tests: a1 and a3 serve cittadini, a2 secondo-livello; phones with
    // static contacts count as registered.
    let acd_config = acd::AcdConfig {
        queues: vec![
            acd::QueueConfig::new("cittadini"),
            acd::QueueConfig::new("secondo-livello"),
        ],
        agents: vec![
            acd::AgentConfig {
                static_contact: true,
                ..acd::AgentConfig::new("a1", &["cittadini"])
            },
            acd::AgentConfig {
                static_contact: true,
                ..acd::AgentConfig::new("a2", &["secondo-livello"])
            },
            acd::AgentConfig {
                static_contact: true,
                ..acd::AgentConfig::new("a3", &["cittadini"])
            },
        ],
        ..acd::AcdConfig::default()
    };
    let engine = acd::Acd::new(acd_config, std::time::Instant::now()).unwrap();
    let acd = switchboard::AcdHandle::spawn(engine, events::EventBus::default());
    let app = console::api::router(Api::with_acd(
        store.clone(),
        config,
        Some(Arc::new(acd.clone())),
    ));
    Fixture {
        app,
        store,
        clock,
        a1: ids[0],
        prompt_dir,
        applied,
        bus,
        acd,
    }
}

/// The e-mail desk of the tests: English templates, replies quoted by default.
pub fn mail_desk() -> mail::desk::Desk {
    mail::desk::Desk {
        from: "URP Comune <urp@comune.example.org>".into(),
        message_id_domain: "comune.example.org".into(),
        lang: mail::template::Lang::En,
        quote_replies: true,
        closure_link: "https://comune.example.org/survey".into(),
        sweep_every: std::time::Duration::from_secs(30),
        wake: None,
    }
}

/// A 16-bit PCM WAV file of a sine at `freq` Hz: `rate` Hz, `channels` (the same on each).
pub fn wav(rate: u32, channels: u16, freq: f64, seconds: f64) -> Vec<u8> {
    let frames = (f64::from(rate) * seconds) as u32;
    let data_len = frames * u32::from(channels) * 2;
    let mut out = Vec::with_capacity(44 + data_len as usize);
    out.extend(b"RIFF");
    out.extend((36 + data_len).to_le_bytes());
    out.extend(b"WAVEfmt ");
    out.extend(16u32.to_le_bytes());
    out.extend(1u16.to_le_bytes());
    out.extend(channels.to_le_bytes());
    out.extend(rate.to_le_bytes());
    out.extend((rate * u32::from(channels) * 2).to_le_bytes());
    out.extend((channels * 2).to_le_bytes());
    out.extend(16u16.to_le_bytes());
    out.extend(b"data");
    out.extend(data_len.to_le_bytes());
    for i in 0..frames {
        let v = (8000.0
            * (2.0 * std::f64::consts::PI * freq * f64::from(i) / f64::from(rate)).sin())
            as i16;
        for _ in 0..channels {
            out.extend(v.to_le_bytes());
        }
    }
    out
}

impl Fixture {
    /// The fake time now.
    pub fn now(&self) -> DateTime<Utc> {
        *self.clock.lock().unwrap()
    }

    /// Moves the fake clock forward.
    pub fn advance(&self, d: TimeDelta) {
        *self.clock.lock().unwrap() += d;
    }

    /// Sends a prepared request.
    pub async fn send(&self, req: Request<Body>) -> Resp {
        send_to(&self.app, req).await
    }

    /// `method path` with an optional bearer token and JSON body.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Resp {
        let mut b = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            b = b.header("authorization", format!("Bearer {t}"));
        }
        let req = match body {
            Some(v) => b
                .header("content-type", "application/json")
                .body(Body::from(v.to_string())),
            None => b.body(Body::empty()),
        };
        self.send(req.unwrap()).await
    }

    /// `GET path` as `token`'s user: the answer's bytes (200 expected).
    pub async fn get_bytes(&self, path: &str, token: &str) -> Vec<u8> {
        let req = Request::builder()
            .uri(path)
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap();
        let response = self.app.clone().oneshot(req).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec()
    }

    pub async fn get(&self, path: &str, token: &str) -> Resp {
        self.call("GET", path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Resp {
        self.call("POST", path, Some(token), Some(body)).await
    }

    pub async fn put(&self, path: &str, token: &str, body: Value) -> Resp {
        self.call("PUT", path, Some(token), Some(body)).await
    }

    /// Logs `login` in (password `pw-LOGIN`); returns the bearer token.
    pub async fn login(&self, login: &str) -> String {
        let body = serde_json::json!({"login": login, "password": format!("pw-{login}")});
        let r = self
            .call("POST", "/api/v1/session", None, Some(body))
            .await
            .expect(StatusCode::OK);
        r.json["token"].as_str().unwrap().to_string()
    }

    /// Creates a ticket in `queue` as `token`'s user; returns its number.
    pub async fn ticket(&self, token: &str, queue: &str, title: &str) -> String {
        let body = serde_json::json!({"title": title, "queue": queue});
        let r = self
            .post("/api/v1/tickets", token, body)
            .await
            .expect(StatusCode::CREATED);
        r.json["number"].as_str().unwrap().to_string()
    }
}

pub async fn run_sqlite<F, Fut>(body: F)
where
    F: FnOnce(Fixture) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("crm.db").display());
    let store = Store::connect_with(&url, settings()).await.unwrap();
    let f = fixture(store.clone()).await;
    let result = tokio::spawn(body(f)).await;
    store.close().await;
    if let Err(e) = result {
        std::panic::resume_unwind(e.into_panic());
    }
}

pub async fn run_postgres<F, Fut>(body: F)
where
    F: FnOnce(Fixture) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    sqlx::any::install_default_drivers();
    let admin_url = std::env::var("CENTRALINO_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string());
    let name = format!("console_test_{:016x}", rand::random::<u64>());
    let mut admin = sqlx::AnyConnection::connect(&admin_url)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at {admin_url} must be reachable: {e}"));
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    let base = admin_url.rsplit_once('/').map(|(b, _)| b).unwrap();
    let store = Store::connect_with(&format!("{base}/{name}"), settings())
        .await
        .unwrap();
    let f = fixture(store.clone()).await;
    let result = tokio::spawn(body(f)).await;
    store.close().await;
    sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await
        .unwrap();
    if let Err(e) = result {
        std::panic::resume_unwind(e.into_panic());
    }
}

/// The media side of the prompt routes: the media engine's converter, and a sink that keeps
/// the last library handed to the calls.
struct Applied(Arc<Mutex<Option<media::PromptLibrary>>>);

impl console::api::prompts::PromptEngine for Applied {
    fn convert(&self, bytes: &[u8], name: &str) -> Result<(Vec<u8>, std::time::Duration), String> {
        media::Prompt::convert_wav(bytes, name).map_err(|e| e.to_string())
    }

    fn reload(&self, layers: &[&std::path::Path]) -> Result<(), String> {
        let library = media::PromptLibrary::load_layers(layers).map_err(|e| e.to_string())?;
        *self.0.lock().unwrap() = Some(library);
        Ok(())
    }
}

/// Sends a prepared request to `app` (a router of a test's own making) and reads the answer.
pub async fn send_to(app: &axum::Router, req: Request<Body>) -> Resp {
    let response = app.clone().oneshot(req).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    // Binary answers (a WAV, an archive) are shown lossily; tests read their bytes apart.
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    Resp {
        status,
        headers,
        text,
        json,
    }
}
