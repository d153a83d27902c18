//! The event stream over a real WebSocket on 127.0.0.1 (port chosen at run time), and the web
//! pages' server-side checks: authentication (token, cookie, origin), the snapshot first,
//! filtering by role and queue, closing when the session ends; pages by role; CSRF.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use chrono::Utc;
use console::api::{Api, ApiConfig};
use console::events::EventStream;
use crm::{Access, Role, Settings, Store, SystemId};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use switchboard::{Event, EventBus};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;
const WAIT: Duration = Duration::from_secs(10);

struct Env {
    addr: SocketAddr,
    bus: EventBus,
    writer: console::EventLogWriter,
    _dir: tempfile::TempDir,
}

#[allow(clippy::needless_update)]
fn settings() -> Settings {
    Settings {
        system_id: SystemId::new(42).unwrap(),
        pin_secret: b"test-secret-not-for-production".to_vec(),
        password_cost: crm::PasswordCost {
            memory_kib: 64,
            iterations: 1,
        },
        ..Settings::default()
    }
}

/// Queues cittadini and tecnica; a1 (agent, cittadini), a3 (agent, tecnica), sup
/// (supervisor), adm (admin); an ACD on the same bus; served on 127.0.0.1:0; sessions
/// looked at every 50 ms.
async fn start() -> Env {
    start_with(Duration::from_millis(50), false).await
}

/// [`start`] with streams that look at their session every `check`, and an API that
/// publishes on the bus when `publish`.
async fn start_with(check: Duration, publish: bool) -> Env {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("crm.db").display());
    let store = Store::connect_with(&url, settings()).await.unwrap();
    let now = Utc::now();
    let cittadini = store.create_queue("cittadini", false, now).await.unwrap();
    let tecnica = store.create_queue("tecnica", false, now).await.unwrap();
    for (login, role, queue) in [
        ("a1", Role::AgentFirstLevel, Some(cittadini.id)),
        ("a3", Role::AgentFirstLevel, Some(tecnica.id)),
        ("sup", Role::Supervisor, None),
        ("adm", Role::Admin, None),
    ] {
        let u = store
            .create_user(login, login, role, &format!("pw-{login}"), now)
            .await
            .unwrap();
        if let Some(q) = queue {
            store.grant_queue(u.id, q, Access::Write).await.unwrap();
        }
    }
    // As the binary wires it: the recorded side of the bus feeds the event log's writer,
    // which derives the figures (the snapshot's calls per hour).
    let (bus, log) = EventBus::recorded(events::DEFAULT_CAPACITY, std::sync::Arc::new(Utc::now));
    let figures = console::Figures::default();
    let journaled = std::sync::Arc::new(crm::JournaledStore::new(
        store.clone(),
        dir.path().join("calls.jsonl"),
    ));
    let writer =
        console::EventLogWriter::start(bus.clone(), log, journaled, figures.clone(), now).await;
    let acd_config = acd::AcdConfig {
        queues: vec![
            acd::QueueConfig::new("cittadini"),
            acd::QueueConfig::new("tecnica"),
        ],
        agents: vec![
            acd::AgentConfig {
                static_contact: true,
                ..acd::AgentConfig::new("a1", &["cittadini"])
            },
            acd::AgentConfig {
                static_contact: true,
                ..acd::AgentConfig::new("a3", &["tecnica"])
            },
        ],
        ..acd::AcdConfig::default()
    };
    let engine = acd::Acd::new(acd_config, std::time::Instant::now()).unwrap();
    let acd = switchboard::AcdHandle::spawn(engine, bus.clone());
    let config = ApiConfig {
        figures,
        bus: publish.then(|| bus.clone()),
        ..ApiConfig::default()
    };
    let api = Api::with_acd(store, config, Some(std::sync::Arc::new(acd)));
    let stream = EventStream::new(api, Some(bus.clone()))
        .with_wrap_up(Some(Duration::from_secs(5)))
        .with_session_check(check);
    let app: Router = console::consoles_with(stream);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Env {
        addr,
        bus,
        writer,
        _dir: dir,
    }
}

/// A minimal HTTP/1.1 exchange: (status, headers, body).
async fn http(
    env: &Env,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> (u16, String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = TcpStream::connect(env.addr).await.unwrap();
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
        env.addr,
        body.len()
    );
    if !body.is_empty() {
        req.push_str("Content-Type: application/json\r\n");
    }
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(&body);
    s.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(WAIT, s.read_to_end(&mut raw))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, head.to_string(), body.to_string())
}

/// Logs in: (token, csrf token).
async fn login(env: &Env, who: &str) -> (String, String) {
    let (status, _, body) = http(
        env,
        "POST",
        "/api/v1/session",
        &[],
        Some(json!({"login": who, "password": format!("pw-{who}")})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    (
        v["token"].as_str().unwrap().into(),
        v["csrf_token"].as_str().unwrap().into(),
    )
}

async fn connect(env: &Env, headers: &[(&str, &str)], query: &str) -> Result<Ws, WsError> {
    let mut req = format!("ws://{}/api/v1/events{query}", env.addr)
        .into_client_request()
        .unwrap();
    for (k, v) in headers {
        let name = axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap();
        req.headers_mut().insert(name, v.parse().unwrap());
    }
    tokio_tungstenite::connect_async(req)
        .await
        .map(|(ws, _)| ws)
}

async fn next_json(ws: &mut Ws) -> Value {
    loop {
        let msg = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("a message within 10 s")
            .expect("stream open")
            .expect("no error");
        match msg {
            Message::Text(t) => return serde_json::from_str(&t).unwrap(),
            Message::Close(frame) => panic!("closed: {frame:?}"),
            _ => continue,
        }
    }
}

/// Messages up to and including the first one for which `last` holds.
async fn until(ws: &mut Ws, last: impl Fn(&Value) -> bool) -> Vec<Value> {
    let mut out = Vec::new();
    loop {
        let v = next_json(ws).await;
        let done = last(&v);
        out.push(v);
        if done {
            return out;
        }
    }
}

fn status_of(e: WsError) -> u16 {
    match e {
        WsError::Http(r) => r.status().as_u16(),
        other => panic!("expected an HTTP refusal, got {other}"),
    }
}

fn queued(call: &str, queue: &str) -> Event {
    Event::CallQueued {
        call_id: call.into(),
        queue: queue.into(),
        area: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_needs_a_live_session() {
    let env = start().await;
    assert_eq!(status_of(connect(&env, &[], "").await.unwrap_err()), 401);
    let bad = connect(&env, &[], "?token=0123").await.unwrap_err();
    assert_eq!(status_of(bad), 401);
    // The cookie from another site's page: refused even with a live session.
    let (token, _) = login(&env, "a1").await;
    let cookie = format!("centralino_session={token}");
    let foreign = connect(
        &env,
        &[("cookie", &cookie), ("origin", "https://evil.example")],
        "",
    )
    .await
    .unwrap_err();
    assert_eq!(status_of(foreign), 403);
    // From our own page: accepted.
    let origin = format!("http://{}", env.addr);
    let mut ws = connect(&env, &[("cookie", &cookie), ("origin", &origin)], "")
        .await
        .unwrap();
    assert_eq!(next_json(&mut ws).await["type"], "snapshot");
    // A bearer header works too (integrators).
    let bearer = format!("Bearer {token}");
    let mut ws = connect(&env, &[("authorization", &bearer)], "")
        .await
        .unwrap();
    assert_eq!(next_json(&mut ws).await["type"], "snapshot");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_see_their_queues_and_calls_supervisors_everything() {
    let env = start().await;
    let (a1, _) = login(&env, "a1").await;
    let (sup, _) = login(&env, "sup").await;
    let mut agent = connect(&env, &[], &format!("?token={a1}")).await.unwrap();
    let mut boss = connect(&env, &[], &format!("?token={sup}")).await.unwrap();

    let snap = next_json(&mut agent).await;
    assert_eq!(snap["type"], "snapshot");
    assert_eq!(snap["user"]["login"], "a1");
    assert_eq!(snap["wrap_up_s"], 5);
    let names = |v: &Value, key: &str, field: &str| -> Vec<String> {
        v[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x[field].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(names(&snap, "queues", "name"), ["cittadini"]);
    assert_eq!(names(&snap, "agents", "login"), ["a1"]);
    assert_eq!(snap["hourly"].as_array().unwrap().len(), 24);
    let snap = next_json(&mut boss).await;
    assert_eq!(names(&snap, "queues", "name"), ["cittadini", "tecnica"]);
    assert_eq!(names(&snap, "agents", "login"), ["a1", "a3"]);

    // a3 goes ready through the API: the ACD publishes agent.state on the bus.
    let (status, _, body) = http(
        &env,
        "PUT",
        "/api/v1/agents/a3/state",
        &[("authorization", &format!("Bearer {sup}"))],
        Some(json!({"state": "ready"})),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    env.bus.publish(Event::CallStarted {
        call_id: "c1".into(),
        sip_call_id: "s1".into(),
        caller: Some("+390600000009".into()),
        dialled: Some("800100200".into()),
    });
    env.bus.publish(queued("c1", "cittadini"));
    env.bus.publish(queued("c2", "tecnica"));
    env.bus.publish(Event::Dtmf {
        call_id: "c2".into(),
        digit: '9',
    });
    env.bus.publish(Event::Dtmf {
        call_id: "c1".into(),
        digit: '1',
    });
    env.bus.publish(Event::QueueChanged {
        queue: "cittadini".into(),
        waiting: 1,
        oldest_wait_s: 0.5,
    });
    let is_end = |v: &Value| v["type"] == "queue.changed";
    let seen = until(&mut agent, is_end).await;
    let kinds: Vec<String> = seen
        .iter()
        .map(|v| format!("{} {}", v["type"], v["call_id"]))
        .collect();
    assert_eq!(
        kinds,
        [
            r#""call.queued" "c1""#,
            r#""call.dtmf" "c1""#,
            r#""queue.changed" null"#
        ],
        "a1 sees only cittadini's call and queue: {seen:?}"
    );
    let all = until(&mut boss, is_end).await;
    let types: Vec<&str> = all.iter().map(|v| v["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "agent.state",
            "call.started",
            "call.queued",
            "call.queued",
            "call.dtmf",
            "call.dtmf",
            "queue.changed"
        ],
        "{all:?}"
    );
    assert_eq!(all[0]["login"], "a3");
    assert_eq!(all[0]["state"], "ready");
    // The hourly counter saw the call start once it was logged (a fresh snapshot shows it).
    env.writer.flush().await;
    let mut again = connect(&env, &[], &format!("?token={sup}")).await.unwrap();
    let snap = next_json(&mut again).await;
    let total: u64 = snap["hourly"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["calls"].as_u64().unwrap())
        .sum();
    assert_eq!(total, 1, "{}", snap["hourly"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_closes_the_stream() {
    let env = start().await;
    let (token, _) = login(&env, "a1").await;
    let mut ws = connect(&env, &[], &format!("?token={token}"))
        .await
        .unwrap();
    assert_eq!(next_json(&mut ws).await["type"], "snapshot");
    let (status, _, _) = http(
        &env,
        "DELETE",
        "/api/v1/session",
        &[("authorization", &format!("Bearer {token}"))],
        None,
    )
    .await;
    assert_eq!(status, 204);
    let code = loop {
        match tokio::time::timeout(WAIT, ws.next()).await.unwrap() {
            Some(Ok(Message::Close(Some(frame)))) => break u16::from(frame.code),
            Some(Ok(_)) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    assert_eq!(code, console::events::CLOSE_SESSION_ENDED);
    let _ = ws.close(None).await;
    let _ = ws.send(Message::Text("bye".into())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_users_stream_closes_at_once() {
    // Sessions are looked at hourly here: only the administrator's change can close it.
    let env = start_with(Duration::from_secs(3600), true).await;
    let (token, _) = login(&env, "a1").await;
    let (adm, _) = login(&env, "adm").await;
    let mut ws = connect(&env, &[], &format!("?token={token}"))
        .await
        .unwrap();
    assert_eq!(next_json(&mut ws).await["type"], "snapshot");
    let (status, _, body) = http(
        &env,
        "DELETE",
        "/api/v1/users/a1",
        &[("authorization", &format!("Bearer {adm}"))],
        None,
    )
    .await;
    assert_eq!(status, 204, "{body}");
    let code = loop {
        match tokio::time::timeout(WAIT, ws.next()).await.unwrap() {
            Some(Ok(Message::Close(Some(frame)))) => break u16::from(frame.code),
            Some(Ok(_)) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    assert_eq!(code, console::events::CLOSE_SESSION_ENDED);
    // Its token is dead for the API too.
    let (status, _, _) = http(
        &env,
        "GET",
        "/api/v1/session",
        &[("authorization", &format!("Bearer {token}"))],
        None,
    )
    .await;
    assert_eq!(status, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_stops_showing_a_queue_its_user_lost_at_once() {
    // Sessions are looked at hourly here: only the `site.changed` can make the stream look.
    let env = start_with(Duration::from_secs(3600), true).await;
    let (adm, _) = login(&env, "adm").await;
    let admin = format!("Bearer {adm}");
    let call = |method: &'static str, path: &'static str, body: Option<Value>| {
        let (env, admin) = (&env, admin.clone());
        async move {
            let (status, _, text) =
                http(env, method, path, &[("authorization", &admin)], body).await;
            assert!(
                (200..300).contains(&status),
                "{method} {path}: {status} {text}"
            );
        }
    };
    // a1 may read `estero` through a CRM permission (no ACD membership).
    call("POST", "/api/v1/queues", Some(json!({"name": "estero"}))).await;
    let grants = json!({"permissions": [
        {"queue": "cittadini", "access": "write"}, {"queue": "estero", "access": "read"}]});
    call("PATCH", "/api/v1/users/a1", Some(grants)).await;
    let (token, _) = login(&env, "a1").await;
    let mut ws = connect(&env, &[], &format!("?token={token}"))
        .await
        .unwrap();
    assert_eq!(next_json(&mut ws).await["type"], "snapshot");
    env.bus.publish(queued("c1", "estero"));
    let seen = next_json(&mut ws).await;
    assert_eq!(
        seen["call_id"], "c1",
        "a1 sees estero while allowed: {seen}"
    );
    // The queue is deleted (its permissions with it) and made again under the same name:
    // a1 has no right on the new one, and kept their session (they were no member).
    call("DELETE", "/api/v1/queues/estero", None).await;
    call("POST", "/api/v1/queues", Some(json!({"name": "estero"}))).await;
    env.bus.publish(queued("c2", "estero"));
    env.bus.publish(queued("c3", "cittadini"));
    env.bus.publish(Event::Dtmf {
        call_id: "c1".into(),
        digit: '5',
    });
    env.bus.publish(Event::QueueChanged {
        queue: "cittadini".into(),
        waiting: 1,
        oldest_wait_s: 0.5,
    });
    let seen = until(&mut ws, |v| v["type"] == "queue.changed").await;
    let calls: Vec<String> = seen
        .iter()
        .map(|v| format!("{} {}", v["type"], v["call_id"]))
        .collect();
    assert_eq!(
        calls,
        [r#""call.queued" "c3""#, r#""queue.changed" null"#],
        "nothing of estero, nor of its call followed before: {seen:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_are_checked_server_side_and_cookies_need_csrf() {
    let env = start().await;
    // No session: the login page, and the others redirect to it.
    let (status, head, body) = http(&env, "GET", "/", &[], None).await;
    assert_eq!(status, 200);
    assert!(body.contains("/assets/login.js"), "{body}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-security-policy: default-src 'none'"),
        "{head}"
    );
    let (status, head, _) = http(&env, "GET", "/desktop", &[], None).await;
    assert_eq!(status, 303);
    assert!(head.contains("location: /?next=/desktop"), "{head}");

    let (a1, a1_csrf) = login(&env, "a1").await;
    let agent_cookie = format!("centralino_session={a1}");
    let (status, _, body) = http(&env, "GET", "/desktop", &[("cookie", &agent_cookie)], None).await;
    assert_eq!(status, 200);
    assert!(body.contains("/assets/desktop.js"));
    let (status, _, body) = http(
        &env,
        "GET",
        "/supervisor",
        &[("cookie", &agent_cookie)],
        None,
    )
    .await;
    assert_eq!(status, 403, "an agent may not open the supervisor console");
    assert!(body.contains("403"));
    let (sup, _) = login(&env, "sup").await;
    let sup_cookie = format!("centralino_session={sup}");
    let (status, _, body) =
        http(&env, "GET", "/supervisor", &[("cookie", &sup_cookie)], None).await;
    assert_eq!(status, 200);
    assert!(body.contains("/assets/supervisor.js"));
    // Assets: embedded, typed; unknown ones 404.
    let (status, head, body) = http(&env, "GET", "/assets/desktop.js", &[], None).await;
    assert_eq!(status, 200);
    assert!(head.contains("text/javascript"), "{head}");
    assert!(body.contains("call.offered"));
    assert_eq!(
        http(&env, "GET", "/assets/secret.txt", &[], None).await.0,
        404
    );
    // The vendored SIP client of the desktop's phone: served like the others, under vendor/.
    let (status, head, body) =
        http(&env, "GET", "/assets/vendor/jssip-3.13.8.min.js", &[], None).await;
    assert_eq!(status, 200);
    assert!(head.contains("text/javascript"), "{head}");
    assert!(head.contains("max-age=3600"), "{head}");
    assert!(
        body.starts_with("/*!\n * JsSIP 3.13.8"),
        "the licence notice first"
    );
    assert!(body.contains("The MIT License"));
    for missing in ["/assets/vendor/secret.js", "/assets/vendor/../desktop.js"] {
        assert_eq!(
            http(&env, "GET", missing, &[], None).await.0,
            404,
            "{missing}"
        );
    }

    // A reloaded page learns its CSRF token from GET /api/v1/session (cookie only).
    let (status, _, body) = http(
        &env,
        "GET",
        "/api/v1/session",
        &[("cookie", &agent_cookie)],
        None,
    )
    .await;
    assert_eq!(status, 200);
    let me: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(me["csrf_token"], a1_csrf.as_str());
    // A state-changing call with the cookie but without the CSRF header: 403; with it: 204.
    let ready = Some(json!({"state": "ready"}));
    let path = "/api/v1/agents/a1/state";
    let (status, _, body) = http(
        &env,
        "PUT",
        path,
        &[("cookie", &agent_cookie)],
        ready.clone(),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("csrf"), "{body}");
    let headers = [
        ("cookie", agent_cookie.as_str()),
        ("x-csrf-token", a1_csrf.as_str()),
    ];
    let (status, _, body) = http(&env, "PUT", path, &headers, ready).await;
    assert_eq!(status, 204, "{body}");
}

/// The people-and-queues page (`/admin/site`) is served to admins only: no session goes to
/// the login page (and back here after it), an agent or a supervisor gets the 403 page, an
/// admin the page with its script, under the same Content Security Policy as every page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_admins_open_the_people_and_queues_page() {
    let env = start().await;
    let (status, head, _) = http(&env, "GET", "/admin/site", &[], None).await;
    assert_eq!(status, 303);
    assert!(head.contains("location: /?next=/admin/site"), "{head}");
    for who in ["a1", "sup"] {
        let (token, _) = login(&env, who).await;
        let cookie = format!("centralino_session={token}");
        let (status, _, body) =
            http(&env, "GET", "/admin/site", &[("cookie", &cookie)], None).await;
        assert_eq!(status, 403, "{who} may not open the people and queues");
        assert!(body.contains("id=\"forbidden\""), "{body}");
        assert!(!body.contains("/assets/site.js"), "{body}");
    }
    // The supervisor still opens the announcements page (unchanged).
    let (sup, _) = login(&env, "sup").await;
    let cookie = format!("centralino_session={sup}");
    assert_eq!(
        http(&env, "GET", "/admin", &[("cookie", &cookie)], None)
            .await
            .0,
        200
    );
    let (adm, _) = login(&env, "adm").await;
    let cookie = format!("centralino_session={adm}");
    let (status, head, body) = http(&env, "GET", "/admin/site", &[("cookie", &cookie)], None).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("/assets/site.js"), "{body}");
    let head = head.to_ascii_lowercase();
    assert!(
        head.contains("content-security-policy: default-src 'none'; script-src 'self'"),
        "{head}"
    );
    assert!(head.contains("cache-control: no-store"), "{head}");
    let (status, head, body) = http(&env, "GET", "/assets/site.js", &[], None).await;
    assert_eq!(status, 200);
    assert!(head.contains("text/javascript"), "{head}");
    assert!(
        body.contains("/phone/secret"),
        "the page sets phone secrets"
    );
}

/// `/reports` (R-SUP-2 … R-SUP-5): without a session the login page (and back here after
/// it), an agent the 403 page, supervisors and admins the page with its script.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supervisors_and_admins_open_the_reports_page_agents_do_not() {
    let env = start().await;
    let (status, head, _) = http(&env, "GET", "/reports", &[], None).await;
    assert_eq!(status, 303);
    assert!(head.contains("location: /?next=/reports"), "{head}");
    let (a1, _) = login(&env, "a1").await;
    let cookie = format!("centralino_session={a1}");
    let (status, _, body) = http(&env, "GET", "/reports", &[("cookie", &cookie)], None).await;
    assert_eq!(status, 403, "an agent may not open the reports");
    assert!(body.contains("id=\"forbidden\""), "{body}");
    assert!(!body.contains("/assets/reports.js"), "{body}");
    for who in ["sup", "adm"] {
        let (token, _) = login(&env, who).await;
        let cookie = format!("centralino_session={token}");
        let (status, head, body) =
            http(&env, "GET", "/reports", &[("cookie", &cookie)], None).await;
        assert_eq!(status, 200, "{who}: {body}");
        assert!(body.contains("/assets/reports.js"), "{body}");
        assert!(
            head.to_ascii_lowercase()
                .contains("content-security-policy: default-src 'none'; script-src 'self'"),
            "{head}"
        );
    }
    let (status, _, body) = http(&env, "GET", "/assets/reports.js", &[], None).await;
    assert_eq!(status, 200);
    assert!(
        body.contains("/api/v1/reports/"),
        "the page's script is served"
    );
}
