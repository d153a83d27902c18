//! Report sets e-mailed on a schedule (issue 15), end to end against a real mail system
//! (postfix + dovecot, the harness of crates/mail/tests/common): a month of calls (the
//! synthetic generator's events, written to the event log as the server writes them) and a
//! `[[reports.mail]]` set sent on the 1st at 06:00. At 05:59 on 1 December November is not
//! due yet; at 06:00 it is: one mail per recipient goes through the persistent outbox, over
//! SMTP with STARTTLS to postfix, into the recipients' IMAP mailboxes. The test reads it over
//! IMAP, opens the attached XLSX with calamine and finds the numbers of the JSON reports the
//! API answers for November (SLA, queues, agents). A restart (a new mailer, the same
//! database) finds the period queued and sends nothing more. Needs root and
//! `dovecot-imapd dovecot-lmtpd postfix openssl` (scripts/install-test-deps.sh).

#[path = "../crates/mail/tests/common/mod.rs"]
mod mail_system;

use std::time::Duration;

use calamine::{Data, Reader, Xlsx};
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use console::api::reports::{
    MailFrom, ReportMailSet, ReportsConfig, ReportsSection, historical, sla_of_month,
};
use console::report_mail::ReportMailer;
use crm::{LoggedEvent, Store};
use futures_util::TryStreamExt;
use mail::imap::{Account, Security, connect};
use mail::outbox::RetryPolicy;
use mail::smtp::{Relay, Sender};
use mail_parser::MimeHeaders;
use mail_system::{MailSystem, PASSWORD};
use reports::export::Lang;
use reports::period::{Period, Sampling};
use reports::schedule::local_instant;
use reports::synth::{SynthSpec, synthesize};

const LIMIT: Duration = Duration::from_secs(30);
const ROME: chrono_tz::Tz = chrono_tz::Europe::Rome;

fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    local_instant(
        ROME,
        NaiveDate::from_ymd_opt(y, m, d).unwrap(),
        NaiveTime::from_hms_opt(h, min, 0).unwrap(),
    )
}

/// Every message in a user's INBOX, whole (read over IMAP with STARTTLS).
async fn inbox(sys: &MailSystem, user: &str) -> Vec<Vec<u8>> {
    let a = Account {
        host: "localhost".into(),
        port: sys.imap_port,
        security: Security::StartTls,
        user: user.into(),
        password: PASSWORD.into(),
        folder: "INBOX".into(),
        ca_pem: Some(sys.ca_pem.clone()),
        poll: Duration::from_secs(5),
    };
    let (mut s, _) = connect(&a).await.unwrap();
    let selected = s.select("INBOX").await.unwrap();
    if selected.exists == 0 {
        let _ = s.logout().await;
        return Vec::new();
    }
    let fetched: Vec<_> = s
        .fetch("1:*", "BODY.PEEK[]")
        .await
        .map(|st| st.try_collect::<Vec<_>>())
        .unwrap()
        .await
        .unwrap_or_default();
    let out = fetched
        .iter()
        .filter_map(|f| f.body().map(<[u8]>::to_vec))
        .collect();
    let _ = s.logout().await;
    out
}

fn sheet(bytes: &[u8], name: &str) -> Vec<Vec<Data>> {
    let mut book = Xlsx::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
    let range = book
        .worksheet_range(name)
        .unwrap_or_else(|e| panic!("sheet {name}: {e}"));
    range.rows().map(<[Data]>::to_vec).collect()
}

fn num(v: &serde_json::Value) -> Data {
    match v.as_f64() {
        Some(x) => Data::Float(x),
        None => Data::Empty,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_monthly_report_set_arrives_once_with_the_numbers_of_the_json_reports() {
    let sys = MailSystem::start(&["direzione", "ufficio"]);
    let db = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", db.path().join("crm.db").display());
    let settings = crm::Settings {
        time_zone: ROME,
        ..crm::Settings::default()
    };
    let store = Store::connect_with(&url, settings).await.unwrap();

    // November 2026: 600 calls over the working days, two queues, five agents.
    let events = synthesize(&SynthSpec {
        first_day: NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
        days: 30,
        calls: 600,
        queues: vec!["urp".into(), "tributi".into()],
        agents: 5,
        tz: ROME,
        seed: 15,
    });
    let rows: Vec<LoggedEvent> = events
        .iter()
        .enumerate()
        .map(|(i, (at, e))| LoggedEvent {
            event_id: format!("e2e-report-mail-{i}"),
            at: *at,
            kind: e.kind().to_string(),
            call_id: e.call_id().map(str::to_string),
            body: serde_json::to_string(e).unwrap(),
            queue_row: console::record::queue_log_row(e),
        })
        .collect();
    store.append_events(&rows).await.unwrap();

    let set: ReportMailSet = toml::from_str(
        "name = \"mensile\"\nto = [\"direzione@comune.test\", \"ufficio@comune.test\"]\n\
         reports = [\"sla\", \"queues\", \"agents\"]\nevery = \"month\"\nday = 1\nat = \"06:00\"\n\
         lang = \"it\"\n",
    )
    .unwrap();
    let config = ReportsConfig {
        section: ReportsSection {
            mail: vec![set],
            ..ReportsSection::default()
        },
        calendar: None,
        mail_from: Some(MailFrom {
            from: "URP <urp@comune.test>".into(),
            message_id_domain: "centralino.test".into(),
        }),
    };
    assert!(config.section.problems().is_empty());
    let mailer = ReportMailer {
        store: store.clone(),
        config: config.clone(),
        from: "URP <urp@comune.test>".into(),
        message_id_domain: "centralino.test".into(),
    };

    // 05:59 on 1 December: the latest due period is October (sent on 1 November), and
    // queued as such; November is not due yet.
    let before = mailer.run_once(at(2026, 12, 1, 5, 59)).await;
    let before = before.into_iter().next().unwrap().unwrap();
    assert_eq!(before.period, "2026-10-01..2026-10-31");
    assert!(
        !store
            .mail_queued("reports:mensile:2026-11-01..2026-11-30:direzione@comune.test")
            .await
            .unwrap()
    );
    // 06:00: November falls due: a mail per recipient.
    let now = at(2026, 12, 1, 6, 0);
    let outcome = mailer
        .run_once(now)
        .await
        .into_iter()
        .next()
        .unwrap()
        .unwrap();
    assert_eq!(
        (outcome.period.as_str(), outcome.queued),
        ("2026-11-01..2026-11-30", 2)
    );
    // A restart: a new mailer on the same database finds the period queued.
    let restarted = ReportMailer {
        store: store.clone(),
        config: config.clone(),
        from: "URP <urp@comune.test>".into(),
        message_id_domain: "centralino.test".into(),
    };
    for later in [now, at(2026, 12, 1, 6, 1), at(2026, 12, 20, 12, 0)] {
        let again = restarted
            .run_once(later)
            .await
            .into_iter()
            .next()
            .unwrap()
            .unwrap();
        assert_eq!(again.queued, 0, "{later}: nothing queued twice");
    }

    // The outbox's sender takes it to postfix over STARTTLS.
    let relay = Relay {
        host: "localhost".into(),
        port: sys.smtp_port,
        security: mail::smtp::Security::StartTls,
        credentials: None,
        ca_pem: Some(sys.ca_pem.clone()),
        timeout: Duration::from_secs(5),
    };
    let policy = RetryPolicy {
        first: Duration::from_millis(200),
        cap: Duration::from_secs(1),
        give_up_after: Duration::from_secs(3600),
    };
    let sender = Sender::new(&relay, store.clone(), policy).unwrap();
    let send_task = tokio::spawn(sender.run());

    let is_november = |raw: &Vec<u8>| {
        mail_parser::MessageParser::default()
            .parse(raw)
            .and_then(|m| m.subject().map(|s| s.contains("2026-11-01")))
            .unwrap_or(false)
    };
    let deadline = tokio::time::Instant::now() + LIMIT;
    let mut messages = inbox(&sys, "direzione").await;
    while !messages.iter().any(is_november) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "November's set did not reach direzione's INBOX\n{}",
            sys.logs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
        messages = inbox(&sys, "direzione").await;
    }
    let november: Vec<_> = messages
        .iter()
        .filter(|raw| is_november(raw))
        .filter_map(|raw| mail_parser::MessageParser::default().parse(raw))
        .collect();
    assert_eq!(november.len(), 1, "November's set arrived once");
    let m = &november[0];
    assert_eq!(
        m.subject().unwrap(),
        "[centralino] mensile: rapporti dal 2026-11-01 al 2026-11-30"
    );
    let body = m.body_text(0).unwrap();
    assert!(body.contains("Livelli di servizio di 2026-11"), "{body}");
    assert!(body.contains("SLA.C.2"), "{body}");
    assert_eq!(m.attachment_count(), 1);
    let a = m.attachment(0).unwrap();
    assert_eq!(
        a.attachment_name(),
        Some("centralino-mensile-2026-11-01_2026-11-30.xlsx")
    );
    let xlsx = a.contents().to_vec();

    // The workbook holds the JSON reports' numbers (as the API computes them at `now`).
    let month = Period::month(2026, 11, ROME).unwrap();
    let (sla, _) = sla_of_month(&store, &config, now, &month).await.unwrap();
    let sla_json = serde_json::to_value(&sla).unwrap();
    let sla_rows = sheet(&xlsx, "SLA 2026-11");
    assert_eq!(sla_rows[0][0], Data::String("Livello di servizio".into()));
    let lines = sla_json["lines"].as_array().unwrap();
    assert_eq!(sla_rows.len(), lines.len() + 1);
    assert!(sla.lines[0].denominator > 500, "the month's calls counted");
    for (row, line) in sla_rows[1..].iter().zip(lines) {
        assert_eq!(row[0], Data::String(line["id"].as_str().unwrap().into()));
        assert_eq!(row[1], num(&line["measured_pct"]), "{}", line["id"]);
        assert_eq!(row[2], num(&line["numerator"]), "{}", line["id"]);
        assert_eq!(row[3], num(&line["denominator"]), "{}", line["id"]);
        let measured = line["measured_pct"].as_f64();
        if let Some(x) = measured {
            let shown = format!("{x:.2} %").replace('.', ",");
            assert!(body.contains(&shown), "{shown} in the body:\n{body}");
        }
    }
    let (queues, _) = historical(
        &store,
        &config,
        now,
        "queues",
        &month,
        Sampling::Day,
        Lang::It,
    )
    .await
    .unwrap();
    let q_rows = sheet(&xlsx, "Code");
    let json_rows: Vec<&serde_json::Value> = queues["rows"]
        .as_array()
        .unwrap()
        .iter()
        .chain(queues["totals"].as_array().unwrap())
        .collect();
    assert_eq!(q_rows.len(), json_rows.len() + 1);
    let mut offered = 0.0;
    for (row, j) in q_rows[1..].iter().zip(&json_rows) {
        assert_eq!(row[1], Data::String(j["queue"].as_str().unwrap().into()));
        assert_eq!(row[2], num(&j["offered"]));
        assert_eq!(row[3], num(&j["answered"]));
        assert_eq!(row[5], num(&j["abandoned"]));
        assert_eq!(row[10], num(&j["answer_time"]["mean_s"]));
        assert_eq!(row[15], num(&j["service_level_pct"]));
        if row[0] == Data::String("Totale".into()) {
            offered += j["offered"].as_f64().unwrap();
        }
    }
    assert!(
        offered > 500.0,
        "the month's calls offered to the queues: {offered}"
    );
    let (agents, _) = historical(
        &store,
        &config,
        now,
        "agents",
        &month,
        Sampling::Day,
        Lang::It,
    )
    .await
    .unwrap();
    let a_rows = sheet(&xlsx, "Operatori");
    assert_eq!(a_rows.len(), agents["rows"].as_array().unwrap().len() + 1);

    // The second recipient got the same.
    let deadline = tokio::time::Instant::now() + LIMIT;
    while inbox(&sys, "ufficio").await.len() < 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "ufficio's copies\n{}",
            sys.logs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(store.outbox(Some("sent"), 10).await.unwrap().len(), 4);

    send_task.abort();
    store.close().await;
}
