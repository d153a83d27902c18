//! The citizen's web form (issue 16): `POST /api/v1/public/requests` without login, as an
//! integrator calls it (JSON, form-encoded, multipart with an attachment) and as abuse meets
//! it (bad fields named, oversize 413, rate limit 429 with `Retry-After`, honeypot).

use std::net::IpAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::TimeZone;
use console::api::web_form::WebFormSection;
use console::api::{Api, ApiConfig, Clock};
use console::server::ClientIp;
use serde_json::{Value, json};

use crate::common::{Fixture, Resp, both, send_to};

fn calendar() -> Arc<calendar::BusinessCalendar> {
    let config: calendar::CalendarConfig = toml::from_str(
        "timezone = \"Europe/Rome\"\nitalian_holidays = true\n\
         mon = [\"08:00-19:00\"]\ntue = [\"08:00-19:00\"]\nwed = [\"08:00-19:00\"]\n\
         thu = [\"08:00-19:00\"]\nfri = [\"08:00-19:00\"]\n",
    )
    .unwrap();
    Arc::new(calendar::BusinessCalendar::new(&config).unwrap())
}

fn section() -> WebFormSection {
    WebFormSection {
        enabled: true,
        queue: "cittadini".into(),
        max_requests_per_address: 3,
        window_s: 600,
        max_body_chars: 2000,
        max_attachment_kb: 4,
        ..WebFormSection::default()
    }
}

/// The public router over the fixture's store and clock, with `form` (or none), and the
/// metrics it counts in.
fn public_app_with_metrics(
    f: &Fixture,
    form: Option<WebFormSection>,
) -> (Router, console::Figures) {
    let clock = f.clock.clone();
    let figures = console::Figures::default();
    let config = ApiConfig {
        clock: Clock::from_fn(move || *clock.lock().unwrap()),
        bus: Some(f.bus.clone()),
        web_form: form.map(|s| s.form(Some(calendar()))),
        figures: figures.clone(),
        ..ApiConfig::default()
    };
    (
        console::api::router(Api::new(f.store.clone(), config)),
        figures,
    )
}

fn public_app(f: &Fixture, form: Option<WebFormSection>) -> Router {
    public_app_with_metrics(f, form).0
}

async fn send(app: &Router, req: Request<Body>) -> Resp {
    send_to(app, req).await
}

fn post(content_type: &str, body: impl Into<Body>, from: &str) -> Request<Body> {
    let mut req = Request::post("/api/v1/public/requests")
        .header("content-type", content_type)
        .body(body.into())
        .unwrap();
    req.extensions_mut()
        .insert(ClientIp(from.parse::<IpAddr>().unwrap()));
    req
}

fn json_post(v: Value, from: &str) -> Request<Body> {
    post("application/json", v.to_string(), from)
}

fn maria() -> Value {
    json!({"name": "Maria Rossi", "email": "maria.rossi@example.org",
           "subject": "Certificato di residenza", "body": "Buongiorno,\nvorrei sapere…"})
}

/// One multipart part: its name, its file name and type when it is a file, its bytes.
type Part<'a> = (&'a str, Option<(&'a str, &'a str)>, &'a [u8]);

fn multipart(parts: &[Part<'_>]) -> (String, Vec<u8>) {
    let boundary = "----centralino-test-boundary";
    let mut out = Vec::new();
    for (name, file, content) in parts {
        out.extend(format!("--{boundary}\r\n").as_bytes());
        match file {
            Some((filename, ct)) => out.extend(
                format!(
                    "Content-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\n\
                     Content-Type: {ct}\r\n\r\n"
                )
                .as_bytes(),
            ),
            None => out.extend(
                format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
            ),
        }
        out.extend(*content);
        out.extend(b"\r\n");
    }
    out.extend(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), out)
}

async fn a_json_request_opens_a_web_ticket_with_clocks_from_arrival(f: Fixture) {
    let app = public_app(&f, Some(section()));
    let mut stream = f.bus.subscribe();
    let r = send(&app, json_post(maria(), "192.0.2.10"))
        .await
        .expect(StatusCode::CREATED);
    let number = r.json["number"].as_str().unwrap().to_string();
    assert!(crm::number::is_valid_number(&number), "{number}");
    assert_eq!(
        r.json.as_object().unwrap().len(),
        1,
        "only the number: {}",
        r.text
    );

    // The hook for the confirmation e-mail: ticket.created on channel web.
    let event = serde_json::to_value(stream.recv().await.unwrap()).unwrap();
    assert_eq!(event["type"], "ticket.created");
    assert_eq!(event["number"], number.as_str());
    assert_eq!(event["channel"], "web");
    assert_eq!(event["queue"], "cittadini");

    // The agents find it through their API, in the configured queue, with the text.
    let token = f.login("a1").await;
    let t = f
        .get(&format!("/api/v1/tickets/{number}"), &token)
        .await
        .expect(StatusCode::OK)
        .json;
    assert_eq!(t["channel"], "web");
    assert_eq!(t["queue"], "cittadini");
    assert_eq!(t["title"], "Certificato di residenza");
    assert_eq!(t["articles"][0]["kind"], "web");
    assert_eq!(t["articles"][0]["body"], "Buongiorno,\nvorrei sapere…");
    assert_eq!(
        t["articles"][0]["sender"],
        "Maria Rossi <maria.rossi@example.org>"
    );
    // SLA.O on the business calendar from arrival: Monday 10:00 Rome; take in charge within
    // 4 working hours (14:00 Rome), resolve within 24 (Mon 9 h + Tue 11 h + Wed 4 h).
    let rome = chrono_tz::Europe::Rome;
    let due = |s: &Value| {
        chrono::DateTime::parse_from_rfc3339(s.as_str().unwrap())
            .unwrap()
            .with_timezone(&chrono::Utc)
    };
    assert_eq!(
        due(&t["sla"]["first_response_due"]),
        rome.with_ymd_and_hms(2026, 3, 2, 14, 0, 0).unwrap()
    );
    assert_eq!(
        due(&t["sla"]["solution_due"]),
        rome.with_ymd_and_hms(2026, 3, 4, 12, 0, 0).unwrap()
    );
    // A guest customer with the name and address given.
    let c = f
        .get(&format!("/api/v1/customers/{}", t["customer_id"]), &token)
        .await
        .expect(StatusCode::OK)
        .json;
    assert_eq!(c["full_name"], "Maria Rossi");
    assert_eq!(c["email"], "maria.rossi@example.org");
    assert_eq!(c["guest"], true);
}
both!(a_json_request_opens_a_web_ticket_with_clocks_from_arrival);

async fn a_form_encoded_request_matches_the_customer_by_address(f: Fixture) {
    let app = public_app(&f, Some(section()));
    let first = send(&app, json_post(maria(), "192.0.2.10"))
        .await
        .expect(StatusCode::CREATED);
    let body = "name=Maria+Rossi&email=MARIA.Rossi%40Example.org&subject=Ancora&body=Seconda+richiesta&website=";
    let second = send(
        &app,
        post("application/x-www-form-urlencoded", body, "192.0.2.11"),
    )
    .await
    .expect(StatusCode::CREATED);
    let token = f.login("a1").await;
    let customer = |n: &Value| {
        let path = format!("/api/v1/tickets/{}", n.as_str().unwrap());
        let f = &f;
        let token = token.clone();
        async move { f.get(&path, &token).await.json["customer_id"].clone() }
    };
    let a = customer(&first.json["number"]).await;
    assert!(a.is_i64());
    assert_eq!(
        customer(&second.json["number"]).await,
        a,
        "same address, any case"
    );
}
both!(a_form_encoded_request_matches_the_customer_by_address);

async fn bad_fields_are_named_and_nothing_is_opened(f: Fixture) {
    let app = public_app(&f, Some(section()));
    let before = f.store.ticket_count().await.unwrap();
    let r = send(
        &app,
        json_post(
            json!({"name": "", "email": "nobody", "subject": "x".repeat(201)}),
            "192.0.2.20",
        ),
    )
    .await
    .expect(StatusCode::BAD_REQUEST);
    assert_eq!(r.headers["content-type"], "application/problem+json");
    let fields = r.json["fields"].as_object().unwrap();
    let mut names: Vec<_> = fields.keys().cloned().collect();
    names.sort();
    assert_eq!(names, ["body", "email", "name", "subject"], "{}", r.text);
    assert_eq!(fields["name"], "required");
    assert_eq!(fields["subject"], "at most 200 characters");
    // Unknown fields, broken JSON, an unknown media type.
    let mut extra = maria();
    extra["priority"] = json!(1);
    let r = send(&app, json_post(extra, "192.0.2.21"))
        .await
        .expect(StatusCode::BAD_REQUEST);
    assert!(
        r.json["detail"].as_str().unwrap().contains("priority"),
        "{}",
        r.text
    );
    send(&app, post("application/json", "{\"name\":", "192.0.2.22"))
        .await
        .expect(StatusCode::BAD_REQUEST);
    send(&app, post("text/plain", "hello", "192.0.2.23"))
        .await
        .expect(StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(f.store.ticket_count().await.unwrap(), before);
}
both!(bad_fields_are_named_and_nothing_is_opened);

async fn oversize_bodies_and_attachments_are_413(f: Fixture) {
    let app = public_app(&f, Some(section()));
    let limit = section().max_body_bytes();
    let mut huge = maria();
    huge["body"] = json!("a".repeat(limit + 1));
    let r = send(&app, json_post(huge, "192.0.2.30"))
        .await
        .expect(StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        r.json["detail"].as_str().unwrap().contains("bytes"),
        "{}",
        r.text
    );
    // A text field over its own limit but inside the body limit: 400 naming it.
    let mut long = maria();
    long["body"] = json!("a".repeat(2001));
    let r = send(&app, json_post(long, "192.0.2.31"))
        .await
        .expect(StatusCode::BAD_REQUEST);
    assert_eq!(r.json["fields"]["body"], "at most 2000 characters");
    // An attachment over 4 KiB.
    let mut pdf = b"%PDF-1.4\n".to_vec();
    pdf.resize(5 * 1024, b' ');
    let (ct, body) = multipart(&[
        ("name", None, b"Maria Rossi"),
        ("email", None, b"maria.rossi@example.org"),
        ("subject", None, b"Allegato"),
        ("body", None, b"Vedi allegato"),
        ("attachment", Some(("scan.pdf", "application/pdf")), &pdf),
    ]);
    let r = send(&app, post(&ct, body, "192.0.2.32"))
        .await
        .expect(StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(r.json["fields"]["attachment"], "at most 4 KiB");
}
both!(oversize_bodies_and_attachments_are_413);

async fn an_attachment_of_an_allowed_type_is_kept(f: Fixture) {
    let app = public_app(&f, Some(section()));
    // The fixture's CRM keeps attachments up to 1 KiB.
    let pdf = b"%PDF-1.4\n% a tiny document\n%%EOF\n";
    let (ct, body) = multipart(&[
        ("name", None, b"Giulio Bianchi"),
        ("email", None, b"giulio@example.org"),
        ("subject", None, b"Documento"),
        ("body", None, b"In allegato il documento."),
        ("website", None, b""),
        (
            "attachment",
            Some(("../../doc.pdf", "application/pdf")),
            pdf,
        ),
    ]);
    let r = send(&app, post(&ct, body, "192.0.2.40"))
        .await
        .expect(StatusCode::CREATED);
    let token = f.login("a1").await;
    let number = r.json["number"].as_str().unwrap();
    let t = f
        .get(&format!("/api/v1/tickets/{number}"), &token)
        .await
        .json;
    let a = &t["articles"][0]["attachments"][0];
    assert_eq!(a["filename"], "doc.pdf");
    assert_eq!(a["content_type"], "application/pdf");
    let bytes = f.get_bytes(a["url"].as_str().unwrap(), &token).await;
    assert_eq!(bytes, pdf);
    // An executable that claims to be a PDF, and a type not on the list: refused by name.
    for (file, ct_claimed, content) in [
        ("x.pdf", "application/pdf", &b"MZ\x90\x00 not a pdf"[..]),
        ("x.zip", "application/zip", &b"PK\x03\x04zip"[..]),
    ] {
        let (ct, body) = multipart(&[
            ("name", None, b"Giulio Bianchi"),
            ("email", None, b"giulio@example.org"),
            ("subject", None, b"Documento"),
            ("body", None, b"Testo"),
            ("attachment", Some((file, ct_claimed)), content),
        ]);
        let r = send(&app, post(&ct, body, "192.0.2.41"))
            .await
            .expect(StatusCode::BAD_REQUEST);
        assert!(
            r.json["fields"]["attachment"]
                .as_str()
                .unwrap()
                .starts_with("accepted types"),
            "{}",
            r.text
        );
    }
}
both!(an_attachment_of_an_allowed_type_is_kept);

async fn one_address_is_limited_with_retry_after(f: Fixture) {
    let app = public_app(&f, Some(section()));
    for _ in 0..3 {
        send(&app, json_post(maria(), "198.51.100.7"))
            .await
            .expect(StatusCode::CREATED);
    }
    let r = send(&app, json_post(maria(), "198.51.100.7"))
        .await
        .expect(StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers["retry-after"], "600");
    // Another address goes on; after the window, this one too.
    send(&app, json_post(maria(), "198.51.100.8"))
        .await
        .expect(StatusCode::CREATED);
    f.advance(chrono::TimeDelta::seconds(300));
    let r = send(&app, json_post(maria(), "198.51.100.7"))
        .await
        .expect(StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers["retry-after"], "300");
    f.advance(chrono::TimeDelta::seconds(300));
    send(&app, json_post(maria(), "198.51.100.7"))
        .await
        .expect(StatusCode::CREATED);
}
both!(one_address_is_limited_with_retry_after);

async fn a_filled_honeypot_looks_accepted_but_opens_nothing(f: Fixture) {
    let (app, figures) = public_app_with_metrics(&f, Some(section()));
    let before = f.store.ticket_count().await.unwrap();
    let mut bot = maria();
    bot["website"] = json!("http://spam.example");
    let r = send(&app, json_post(bot, "203.0.113.5"))
        .await
        .expect(StatusCode::CREATED);
    let number = r.json["number"].as_str().unwrap();
    assert!(crm::number::is_valid_number(number), "looks real: {number}");
    assert_eq!(
        f.store.ticket_count().await.unwrap(),
        before,
        "nothing opened"
    );
    let token = f.login("a1").await;
    f.get(&format!("/api/v1/tickets/{number}"), &token)
        .await
        .expect(StatusCode::NOT_FOUND);
    let metrics = figures
        .metrics()
        .render(&events::telemetry::Telemetry::default());
    assert!(
        metrics.contains("centralino_web_form_requests_total{outcome=\"honeypot\"} 1"),
        "{metrics}"
    );
}
both!(a_filled_honeypot_looks_accepted_but_opens_nothing);

async fn a_disabled_form_is_404(f: Fixture) {
    let app = public_app(&f, None);
    send(&app, json_post(maria(), "192.0.2.50"))
        .await
        .expect(StatusCode::NOT_FOUND);
}
both!(a_disabled_form_is_404);

/// Over a real socket behind a trusted reverse proxy (`http.trusted_proxies`): the limit
/// counts the citizen the proxy names in `X-Forwarded-For`, not the proxy, so one busy
/// citizen does not shut out the others who come through the same proxy.
async fn behind_a_trusted_proxy_the_limit_counts_each_citizen(f: Fixture) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let limits = console::server::HttpLimits {
        trusted_proxies: vec!["127.0.0.1/32".parse().unwrap()],
        ..console::server::HttpLimits::default()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (_stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(console::server::serve(
        listener,
        public_app(&f, Some(section())),
        None,
        limits,
        stopped,
    ));
    let body = maria().to_string();
    let post_as = |citizen: &'static str| {
        let body = body.clone();
        async move {
            let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
            let head = format!(
                "POST /api/v1/public/requests HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\
                 Content-Type: application/json\r\nContent-Length: {}\r\n\
                 X-Forwarded-For: {citizen}\r\n\r\n{body}",
                body.len()
            );
            stream.write_all(head.as_bytes()).await.unwrap();
            let mut answer = Vec::new();
            tokio::time::timeout(
                std::time::Duration::from_secs(10),
                stream.read_to_end(&mut answer),
            )
            .await
            .expect("an answer within 10 s")
            .unwrap();
            let answer = String::from_utf8_lossy(&answer).into_owned();
            answer
                .split(' ')
                .nth(1)
                .and_then(|s| s.parse::<u16>().ok())
                .unwrap_or_else(|| panic!("no status in {answer}"))
        }
    };
    for _ in 0..3 {
        assert_eq!(post_as("203.0.113.5").await, 201);
    }
    assert_eq!(post_as("203.0.113.5").await, 429);
    assert_eq!(
        post_as("203.0.113.6").await,
        201,
        "another citizen, same proxy"
    );
}
both!(behind_a_trusted_proxy_the_limit_counts_each_citizen);
