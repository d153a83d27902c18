//! Report sets e-mailed (issue 15): the scheduled task queues a period once per recipient,
//! whatever restarts; `POST /api/v1/reports/mail/{set}` sends a set now, for admins only.
//! On SQLite and PostgreSQL. (The mail's way through a real relay to a real mailbox, and its
//! workbook against the JSON reports: tests/e2e_report_mail.rs.)

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{Duration, TimeZone, Utc};
use console::api::reports::{MailFrom, ReportMailSet, ReportsConfig, ReportsSection};
use console::api::{Api, ApiConfig, Clock};
use console::report_mail::ReportMailer;
use crm::LoggedEvent;

use crate::api_reports::{logged, morning};
use crate::common::{Fixture, Resp, both, send_to};

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

fn set(every: &str) -> ReportMailSet {
    toml::from_str(&format!(
        "name = \"mensile\"\nto = [\"direzione@example.org\", \"urp@example.org\"]\n\
         reports = [\"sla\", \"queues\", \"tickets\"]\nevery = \"{every}\"\nday = 1\n"
    ))
    .unwrap()
}

fn config(mail: bool) -> ReportsConfig {
    ReportsConfig {
        section: ReportsSection {
            mail: vec![set("month")],
            ..ReportsSection::default()
        },
        calendar: None,
        mail_from: mail.then(|| MailFrom {
            from: "URP <urp@comune.example.org>".into(),
            message_id_domain: "centralino.example.org".into(),
        }),
    }
}

async fn with_morning(f: &Fixture) {
    let rows: Vec<LoggedEvent> = morning()
        .iter()
        .enumerate()
        .map(|(n, (at, e))| logged(n, *at, e))
        .collect();
    f.store.append_events(&rows).await.unwrap();
}

fn app(f: &Fixture, reports: ReportsConfig) -> Router {
    let clock = f.clock.clone();
    let config = ApiConfig {
        clock: Clock::from_fn(move || *clock.lock().unwrap()),
        reports,
        ..ApiConfig::default()
    };
    console::api::router(Api::new(f.store.clone(), config))
}

async fn post(app: &Router, path: &str, token: Option<&str>) -> Resp {
    let mut b = Request::post(path);
    if let Some(t) = token {
        b = b.header("authorization", format!("Bearer {t}"));
    }
    send_to(app, b.body(Body::empty()).unwrap()).await
}

/// Logs `login` in on `app` (sessions belong to the router's API).
async fn login(app: &Router, login: &str) -> String {
    let body = serde_json::json!({"login": login, "password": format!("pw-{login}")});
    let req = Request::post("/api/v1/session")
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let r = send_to(app, req).await.expect(StatusCode::OK);
    r.json["token"].as_str().unwrap().to_string()
}

async fn the_schedule_queues_a_period_once_per_recipient(f: Fixture) {
    with_morning(&f).await;
    let mailer = |store: crm::Store| ReportMailer {
        store,
        config: config(true),
        from: "URP <urp@comune.example.org>".into(),
        message_id_domain: "centralino.example.org".into(),
    };
    // 1 April 2026, 06:00 in Rome (04:00 UTC): March falls due.
    let due = Utc.with_ymd_and_hms(2026, 4, 1, 4, 0, 0).unwrap();
    let first = mailer(f.store.clone()).run_once(due).await;
    let outcome = first.into_iter().next().unwrap().unwrap();
    assert_eq!(
        (outcome.period.as_str(), outcome.queued),
        ("2026-03-01..2026-03-31", 2)
    );
    // Restarts at the same instant, a minute and a week later: nothing more.
    for now in [due, due + Duration::minutes(1), due + Duration::days(7)] {
        let again = mailer(f.store.clone()).run_once(now).await;
        assert_eq!(
            again.into_iter().next().unwrap().unwrap().queued,
            0,
            "{now}"
        );
    }
    let outbox = f.store.outbox(None, 10).await.unwrap();
    assert_eq!(outbox.len(), 2);
    let mut recipients: Vec<&str> = outbox.iter().map(|m| m.mail.recipient.as_str()).collect();
    recipients.sort_unstable();
    assert_eq!(recipients, ["direzione@example.org", "urp@example.org"]);
    for m in &outbox {
        assert_eq!(
            m.mail.dedup_key,
            format!(
                "reports:mensile:2026-03-01..2026-03-31:{}",
                m.mail.recipient
            )
        );
        assert_eq!(m.mail.sender, "URP <urp@comune.example.org>");
        assert_eq!(
            m.mail.subject,
            "[centralino] mensile: rapporti dal 2026-03-01 al 2026-03-31"
        );
        // The SLA summary: three queued calls, one abandoned under 5 s (not counted).
        assert!(
            m.mail.body.contains("Livelli di servizio di 2026-03"),
            "{}",
            m.mail.body
        );
        assert!(
            m.mail.body.contains("- SLA.C.3: 50,00 %"),
            "{}",
            m.mail.body
        );
        assert_eq!(m.mail.attachments.len(), 1);
        let a = &m.mail.attachments[0];
        assert_eq!(a.filename, "centralino-mensile-2026-03-01_2026-03-31.xlsx");
        assert_eq!(a.content_type, XLSX);
        assert!(a.content.starts_with(b"PK"), "a zip (XLSX) workbook");
    }
    // April falls due on 1 May.
    let may = Utc.with_ymd_and_hms(2026, 5, 1, 4, 0, 0).unwrap();
    let next = mailer(f.store.clone()).run_once(may).await;
    let next = next.into_iter().next().unwrap().unwrap();
    assert_eq!(
        (next.period.as_str(), next.queued),
        ("2026-04-01..2026-04-30", 2)
    );
}
both!(the_schedule_queues_a_period_once_per_recipient);

async fn csv_sets_attach_a_file_per_report(f: Fixture) {
    with_morning(&f).await;
    let mut s = set("two_months");
    s.format = Some("csv".into());
    s.lang = Some("en".into());
    let mut reports = config(true);
    reports.section.mail = vec![s];
    let mailer = ReportMailer {
        store: f.store.clone(),
        config: reports,
        from: "urp@comune.example.org".into(),
        message_id_domain: "centralino.example.org".into(),
    };
    // 1 May 2026 06:00 Rome: March-April falls due; an SLA per month.
    let due = Utc.with_ymd_and_hms(2026, 5, 1, 4, 0, 0).unwrap();
    let r = mailer
        .run_once(due)
        .await
        .into_iter()
        .next()
        .unwrap()
        .unwrap();
    assert_eq!((r.period.as_str(), r.queued), ("2026-03-01..2026-04-30", 2));
    let m = &f.store.outbox(None, 1).await.unwrap()[0].mail;
    let names: Vec<&str> = m.attachments.iter().map(|a| a.filename.as_str()).collect();
    assert_eq!(
        names,
        [
            "centralino-mensile-2026-03-01_2026-04-30-sla-2026-03.csv",
            "centralino-mensile-2026-03-01_2026-04-30-sla-2026-04.csv",
            "centralino-mensile-2026-03-01_2026-04-30-queues.csv",
            "centralino-mensile-2026-03-01_2026-04-30-tickets.csv",
        ]
    );
    let march = String::from_utf8(m.attachments[0].content.clone()).unwrap();
    assert!(march.contains("SLA.C.3"), "{march}");
    assert!(m.body.contains("Service levels of 2026-03"), "{}", m.body);
    assert!(m.body.contains("Service levels of 2026-04"), "{}", m.body);
    assert!(
        m.body.contains("not measured"),
        "April has no calls: {}",
        m.body
    );
}
both!(csv_sets_attach_a_file_per_report);

async fn admins_send_a_set_now(f: Fixture) {
    with_morning(&f).await;
    // 10 April 2026: the latest ended month is March.
    *f.clock.lock().unwrap() = Utc.with_ymd_and_hms(2026, 4, 10, 8, 0, 0).unwrap();
    let app = app(&f, config(true));
    let (adm, sup, a1) = (
        login(&app, "adm").await,
        login(&app, "sup").await,
        login(&app, "a1").await,
    );
    post(&app, "/api/v1/reports/mail/mensile", None)
        .await
        .expect(StatusCode::UNAUTHORIZED);
    for t in [&sup, &a1] {
        let why = post(&app, "/api/v1/reports/mail/mensile", Some(t))
            .await
            .problem(StatusCode::FORBIDDEN);
        assert!(why.contains("only admins"), "{why}");
    }
    let why = post(&app, "/api/v1/reports/mail/settimanale", Some(&adm))
        .await
        .problem(StatusCode::NOT_FOUND);
    assert!(why.contains("settimanale"), "{why}");
    assert!(f.store.outbox(None, 10).await.unwrap().is_empty());

    let r = post(&app, "/api/v1/reports/mail/mensile", Some(&adm))
        .await
        .expect(StatusCode::ACCEPTED);
    assert_eq!(
        r.json,
        serde_json::json!({"set": "mensile", "period": "2026-03-01..2026-03-31", "queued": 2})
    );
    let outbox = f.store.outbox(None, 10).await.unwrap();
    assert_eq!(outbox.len(), 2);
    assert!(outbox.iter().all(|m| {
        m.mail
            .dedup_key
            .starts_with("reports:mensile:2026-03-01..2026-03-31:now-")
            && m.mail.attachments.len() == 1
    }));
    // Sent by hand again a second later: sent again (its own keys), and the scheduled
    // mail of March is not blocked by it.
    f.advance(Duration::seconds(1));
    let r = post(&app, "/api/v1/reports/mail/mensile", Some(&adm))
        .await
        .expect(StatusCode::ACCEPTED);
    assert_eq!(r.json["queued"], 2);
    assert!(
        !f.store
            .mail_queued("reports:mensile:2026-03-01..2026-03-31:urp@example.org")
            .await
            .unwrap()
    );

    // Without [mail]: 503 (the log says mail is not configured), nothing queued.
    let no_mail = app_without_mail(&f);
    let adm = login(&no_mail, "adm").await;
    post(&no_mail, "/api/v1/reports/mail/mensile", Some(&adm))
        .await
        .problem(StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(f.store.outbox(None, 10).await.unwrap().len(), 4);
}
both!(admins_send_a_set_now);

fn app_without_mail(f: &Fixture) -> Router {
    app(f, config(false))
}
