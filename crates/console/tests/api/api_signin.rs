//! Sign-in (issue 13): rate limits (429 with `Retry-After`, per login and per address) and
//! the directory sign-in end to end against a real slapd ([`crate::slapd`]).

use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use chrono::TimeDelta;
use console::api::session::limit::LimitSettings;
use console::api::session::{SignIn, SignInSettings};
use console::api::{Api, ApiConfig, Clock};
use crm::{Access, Role};
use serde_json::json;
use tower::ServiceExt;

use crate::common::{Fixture, Resp, both};
use crate::slapd::{ADMIN_DN, ADMIN_PW, Slapd};

/// The API over the fixture's store and clock, with these sign-in settings.
fn app_with(f: &Fixture, settings: SignInSettings) -> Router {
    let clock = f.clock.clone();
    let config = ApiConfig {
        clock: Clock::from_fn(move || *clock.lock().unwrap()),
        signin: SignIn::new(settings),
        ..ApiConfig::default()
    };
    console::api::router(Api::new(f.store.clone(), config))
}

/// `POST /api/v1/session` on `app`, from `peer` when given (as `ConnectInfo` would).
async fn login(app: &Router, login: &str, password: &str, peer: Option<&str>) -> Resp {
    let mut req = Request::post("/api/v1/session")
        .header("content-type", "application/json")
        .body(Body::from(
            json!({"login": login, "password": password}).to_string(),
        ))
        .unwrap();
    if let Some(peer) = peer {
        let addr: SocketAddr = peer.parse().unwrap();
        req.extensions_mut().insert(ConnectInfo(addr));
    }
    crate::common::send_to(app, req).await
}

async fn repeated_failures_of_one_login_get_429_with_retry_after(f: Fixture) {
    let app = f.app.clone();
    for _ in 0..5 {
        login(&app, "a1", "wrong", None)
            .await
            .problem(StatusCode::UNAUTHORIZED);
    }
    // The sixth try is refused before the password is looked at, even the right one.
    let r = login(&app, "a1", "pw-a1", None).await;
    assert_eq!(r.headers["retry-after"], "900", "the 15-minute window");
    let detail = r.problem(StatusCode::TOO_MANY_REQUESTS);
    assert!(detail.contains("try again in 900 s"), "{detail}");
    let r = login(&app, "A1", "pw-a1", None).await;
    assert_eq!(
        r.status,
        StatusCode::TOO_MANY_REQUESTS,
        "logins count without case"
    );
    // Other accounts are not held.
    login(&app, "a3", "pw-a3", None)
        .await
        .expect(StatusCode::OK);
    f.advance(TimeDelta::minutes(10));
    let r = login(&app, "a1", "pw-a1", None).await;
    assert_eq!(r.headers["retry-after"], "300");
    f.advance(TimeDelta::minutes(5));
    login(&app, "a1", "pw-a1", None)
        .await
        .expect(StatusCode::OK);
}
both!(repeated_failures_of_one_login_get_429_with_retry_after);

async fn an_address_failing_on_many_logins_gets_429_and_success_does_not_clear_it(f: Fixture) {
    let app = app_with(
        &f,
        SignInSettings {
            limits: LimitSettings {
                per_login: 100,
                per_address: 3,
                ..LimitSettings::default()
            },
            ..SignInSettings::default()
        },
    );
    let here = Some("192.0.2.7:50000");
    login(&app, "a1", "wrong", here)
        .await
        .expect(StatusCode::UNAUTHORIZED);
    login(&app, "nobody", "wrong", here)
        .await
        .expect(StatusCode::UNAUTHORIZED);
    // A good login from the same address does not wipe its failures against others.
    login(&app, "a3", "pw-a3", here)
        .await
        .expect(StatusCode::OK);
    login(&app, "a2", "wrong", here)
        .await
        .expect(StatusCode::UNAUTHORIZED);
    let r = login(&app, "ro", "pw-ro", Some("192.0.2.7:50001")).await;
    assert_eq!(r.headers["retry-after"], "900");
    r.problem(StatusCode::TOO_MANY_REQUESTS);
    // Another address is not held.
    login(&app, "ro", "pw-ro", Some("198.51.100.1:4000"))
        .await
        .expect(StatusCode::OK);
}
both!(an_address_failing_on_many_logins_gets_429_and_success_does_not_clear_it);

/// The mapping of the directory tests.
const GROUPS: &str = r#"
[[groups]]
dn = "cn=sportello,ou=groups,dc=example,dc=org"
role = "agent_first_level"
queues = { cittadini = "write", imprese = "read" }

[[groups]]
dn = "CN=Backoffice, OU=Groups, DC=example, DC=org"
role = "agent_second_level"
queues = { imprese = "write", secondo-livello = "write", archivio = "read" }
"#;

fn directory(text: &str) -> directory::Directory {
    let config: directory::DirectoryConfig = toml::from_str(text).unwrap();
    let settings = config.settings().unwrap_or_else(|p| panic!("{p}"));
    directory::Directory::new(settings)
}

fn direct_bind(slapd: &Slapd) -> directory::Directory {
    directory(&format!(
        "url = \"{}\"\ntimeout_s = 5\nuser_dn = \"uid={{login}},ou=people,dc=example,dc=org\"\n\
         group_base_dn = \"ou=groups,dc=example,dc=org\"\ngroup_filter = \"(member={{dn}})\"\n{GROUPS}",
        slapd.url()
    ))
}

fn with_directory(f: &Fixture, directory: directory::Directory) -> Router {
    app_with(
        f,
        SignInSettings {
            directory: Some(directory),
            ..SignInSettings::default()
        },
    )
}

async fn queue(f: &Fixture, name: &str) -> crm::QueueId {
    f.store.queue_by_name(name).await.unwrap().unwrap()
}

async fn directory_users_sign_in_with_their_groups_role_and_queues(f: Fixture) {
    let mut slapd = tokio::task::spawn_blocking(Slapd::start).await.unwrap();
    let app = with_directory(&f, direct_bind(&slapd));

    // anna (sportello) signs in: provisioned with the mapped role and queues, no password.
    let r = login(&app, "anna", "anna-pw", None)
        .await
        .expect(StatusCode::OK);
    assert_eq!(r.json["user"]["roles"], json!(["agent_first_level"]));
    assert_eq!(r.json["user"]["full_name"], "Anna Esempio");
    let token = r.json["token"].as_str().unwrap().to_string();
    let me = app
        .clone()
        .oneshot(
            Request::get("/api/v1/session")
                .header("authorization", format!("Bearer {token}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK, "the session works");
    let record = f.store.login_record("anna").await.unwrap().unwrap();
    assert_eq!(record.password_hash, None, "no local password");
    assert_eq!(
        record.directory_dn.as_deref(),
        Some("uid=anna,ou=people,dc=example,dc=org")
    );
    // The administration sees which accounts the directory manages.
    let adm = f.login("adm").await;
    let shown = f
        .get("/api/v1/users/anna", &adm)
        .await
        .expect(StatusCode::OK);
    assert_eq!(shown.json["directory"], true);
    let local = f.get("/api/v1/users/a1", &adm).await.expect(StatusCode::OK);
    assert_eq!(local.json["directory"], false);
    let anna = record.user.id;
    let access = |q| f.store.queue_access(anna, q);
    assert_eq!(
        access(queue(&f, "cittadini").await).await.unwrap(),
        Some(Access::Write)
    );
    assert_eq!(
        access(queue(&f, "imprese").await).await.unwrap(),
        Some(Access::Read)
    );
    assert_eq!(
        access(queue(&f, "secondo-livello").await).await.unwrap(),
        None
    );
    let audit = f
        .store
        .audit_log(&format!("user:{}", anna.0))
        .await
        .unwrap();
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert!(audit[0].detail.as_deref().unwrap().contains("created"));
    // Signing in again changes nothing, so audits nothing.
    login(&app, "anna", "anna-pw", None)
        .await
        .expect(StatusCode::OK);
    let audit = f
        .store
        .audit_log(&format!("user:{}", anna.0))
        .await
        .unwrap();
    assert_eq!(audit.len(), 1);

    // A wrong password and a directory user in no mapped group get the same 401.
    let wrong = login(&app, "anna", "nope", None).await;
    let outside = login(&app, "carla", "carla-pw", None).await;
    assert_eq!(wrong.text, outside.text);
    outside.problem(StatusCode::UNAUTHORIZED);
    wrong.problem(StatusCode::UNAUTHORIZED);
    assert!(
        f.store.login_record("carla").await.unwrap().is_none(),
        "not provisioned"
    );
    let empty = login(&app, "anna", "", None).await;
    assert_eq!(
        empty.status,
        StatusCode::UNAUTHORIZED,
        "an empty password never binds"
    );

    // bruno is in two mapped groups: the higher role, the wider access; unknown queues skipped.
    let r = login(&app, "bruno", "bruno-pw", None)
        .await
        .expect(StatusCode::OK);
    assert_eq!(r.json["user"]["roles"], json!(["agent_second_level"]));
    let bruno = f.store.login_record("bruno").await.unwrap().unwrap().user;
    assert_eq!(bruno.role, Role::AgentSecondLevel);
    for (name, expected) in [
        ("cittadini", Some(Access::Write)),
        ("imprese", Some(Access::Write)),
        ("secondo-livello", Some(Access::Write)),
    ] {
        let got = f.store.queue_access(bruno.id, queue(&f, name).await).await;
        assert_eq!(got.unwrap(), expected, "{name}");
    }

    // Local accounts keep working, and a directory user cannot take one over.
    login(&app, "a1", "pw-a1", None)
        .await
        .expect(StatusCode::OK);
    login(&app, "adm", "adm-ldap-pw", None)
        .await
        .expect(StatusCode::UNAUTHORIZED);
    let r = login(&app, "adm", "pw-adm", None)
        .await
        .expect(StatusCode::OK);
    assert_eq!(r.json["user"]["roles"], json!(["admin"]));

    // anna leaves her group in the directory: refused at her next sign-in.
    slapd.ldap(
        "ldapmodify",
        "dn: cn=sportello,ou=groups,dc=example,dc=org\nchangetype: modify\ndelete: member\n\
         member: uid=anna,ou=people,dc=example,dc=org\n",
    );
    login(&app, "anna", "anna-pw", None)
        .await
        .problem(StatusCode::UNAUTHORIZED);

    // The directory goes away: its users get 503, local accounts still sign in.
    slapd.stop();
    let r = login(&app, "bruno", "bruno-pw", None).await;
    assert!(r.headers.contains_key("retry-after"));
    assert_eq!(
        r.json["type"],
        "urn:centralino:problem:directory-unavailable"
    );
    r.problem(StatusCode::SERVICE_UNAVAILABLE);
    login(&app, "a1", "pw-a1", None)
        .await
        .expect(StatusCode::OK);
}
both!(directory_users_sign_in_with_their_groups_role_and_queues);

async fn search_then_bind_with_a_service_account(f: Fixture) {
    let slapd = tokio::task::spawn_blocking(Slapd::start).await.unwrap();
    let secrets = tempfile::tempdir().unwrap();
    let file = secrets.path().join("ldap-password");
    std::fs::write(&file, format!("{ADMIN_PW}\n")).unwrap();
    let text = |file: &std::path::Path| {
        format!(
            "url = \"{}\"\nbase_dn = \"ou=people,dc=example,dc=org\"\nuser_filter = \"(&(objectClass=inetOrgPerson)(uid={{login}}))\"\n\
             bind_dn = \"{ADMIN_DN}\"\nbind_password_file = \"{}\"\n\
             group_base_dn = \"ou=groups,dc=example,dc=org\"\n{GROUPS}",
            slapd.url(),
            file.display()
        )
    };
    let app = with_directory(&f, directory(&text(&file)));
    let r = login(&app, "bruno", "bruno-pw", None)
        .await
        .expect(StatusCode::OK);
    assert_eq!(r.json["user"]["full_name"], "Bruno Esempio");
    login(&app, "nobody", "x", None)
        .await
        .problem(StatusCode::UNAUTHORIZED);
    // A filter metacharacter in the login is escaped, not a wildcard.
    login(&app, "*", "anna-pw", None)
        .await
        .problem(StatusCode::UNAUTHORIZED);
    // A wrong service password is the directory's outage for operators, not their fault.
    std::fs::write(&file, "wrong-service-password\n").unwrap();
    let app = with_directory(&f, directory(&text(&file)));
    let r = login(&app, "bruno", "bruno-pw", None).await;
    r.problem(StatusCode::SERVICE_UNAVAILABLE);
}
both!(search_then_bind_with_a_service_account);

/// What a `fmt` subscriber writes, kept in memory.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

async fn login_names_cannot_forge_log_lines(f: Fixture) {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let forged = "mallory\n2026-03-02T09:00:00Z  INFO console::api::session: login login=adm role=admin\r\x1b[2J";
    // Five failures, then the rate limit's refusal, then the same name from a second address;
    // the handlers run inside this future, which carries the capturing subscriber on every
    // thread that polls it.
    let last = tracing::instrument::WithSubscriber::with_subscriber(
        async {
            for _ in 0..6 {
                login(&f.app, forged, "wrong", Some("192.0.2.10:5000")).await;
            }
            login(&f.app, forged, "wrong", Some("192.0.2.11:5000")).await
        },
        subscriber,
    )
    .await;
    assert_eq!(last.status, StatusCode::TOO_MANY_REQUESTS, "{}", last.text);
    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    // One line per event: five failures, two refusals by the limit.
    assert_eq!(lines.len(), 7, "{text}");
    let refused = lines
        .iter()
        .filter(|l| l.contains("too many failures"))
        .count();
    assert_eq!(refused, 2, "{text}");
    for line in &lines {
        assert!(line.contains("WARN"), "{line}");
        assert!(
            line.contains(r#"login="mallory\n2026-03-02T09:00:00Z  INFO"#),
            "the name is written escaped: {line}"
        );
        assert!(
            line.contains(r"\r\u{1b}[2J"),
            "control characters escaped: {line}"
        );
        assert!(!line.contains('\r') && !line.contains('\u{1b}'), "{line:?}");
    }
    assert!(
        !text.lines().any(|l| l.starts_with("2026-03-02T09:00:00Z")),
        "a forged line: {text}"
    );
}
both!(login_names_cannot_forge_log_lines);
