//! Ticket search, show and create, with the queue permissions.

use axum::http::StatusCode;
use chrono::TimeDelta;
use serde_json::json;

use crate::common::{Fixture, both};

async fn create_then_show_with_articles_and_history(f: Fixture) {
    let a1 = f.login("a1").await;
    let r = f
        .post(
            "/api/v1/tickets",
            &a1,
            json!({
                "title": "Stampante rotta",
                "queue": "cittadini",
                "priority": 4,
                "type": "technical_problem",
                "channel": "phone",
                "call_id": "call-1",
                "service_area": "anagrafe",
                "owner": "a3",
                "article": {"kind": "phone_received", "subject": "guasto",
                            "body": "la stampante non stampa",
                            "attachments": [{"filename": "a.txt", "content_type": "text/plain",
                                             "content_base64": "aGVsbG8="}]},
            }),
        )
        .await
        .expect(StatusCode::CREATED);
    let number = r.json["number"].as_str().unwrap().to_string();
    assert!(number.starts_with("2026030242"), "{number}");
    assert_eq!(r.headers["location"], format!("/api/v1/tickets/{number}"));
    assert_eq!(r.json["queue"], "cittadini");
    assert_eq!(r.json["state"], "new");
    assert_eq!(r.json["priority"], 4);
    assert_eq!(r.json["type"], "technical_problem");
    assert_eq!(r.json["owner"], "a3");
    assert_eq!(r.json["call_id"], "call-1");

    let t = f
        .get(&format!("/api/v1/tickets/{number}"), &a1)
        .await
        .expect(StatusCode::OK);
    let articles = t.json["articles"].as_array().unwrap();
    assert_eq!(articles.len(), 1);
    assert_eq!(articles[0]["kind"], "phone_received");
    assert_eq!(articles[0]["sender"], "Operator a1");
    assert_eq!(articles[0]["created_by"], "a1");
    assert_eq!(articles[0]["attachments"][0]["size"], 5);
    let kinds: Vec<&str> = t.json["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["created", "article"]);
    assert_eq!(t.json["history"][0]["actor"], "a1");
    assert_eq!(t.json["children"], json!([]));
}
both!(create_then_show_with_articles_and_history);

async fn create_needs_write_access_to_the_queue(f: Fixture) {
    let a1 = f.login("a1").await;
    // Read-only queue, no access at all, and the default `raw` queue.
    for queue in [json!("imprese"), json!("secondo-livello"), json!(null)] {
        let detail = f
            .post(
                "/api/v1/tickets",
                &a1,
                json!({"title": "x", "queue": queue}),
            )
            .await
            .problem(StatusCode::FORBIDDEN);
        assert!(detail.contains("no write access"), "{detail}");
    }
    // Supervisors read everything but write only where granted.
    let sup = f.login("sup").await;
    f.post(
        "/api/v1/tickets",
        &sup,
        json!({"title": "x", "queue": "imprese"}),
    )
    .await
    .problem(StatusCode::FORBIDDEN);
    f.ticket(&sup, "secondo-livello", "ok").await;
    // Admins write everywhere, `raw` by default.
    let adm = f.login("adm").await;
    let r = f
        .post("/api/v1/tickets", &adm, json!({"title": "raw one"}))
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(r.json["queue"], "raw");
}
both!(create_needs_write_access_to_the_queue);

async fn create_validates_its_body(f: Fixture) {
    let a1 = f.login("a1").await;
    for (body, needle) in [
        (json!({"title": " ", "queue": "cittadini"}), "title"),
        (json!({"title": "x", "queue": "nessuna"}), "queue"),
        (
            json!({"title": "x", "queue": "cittadini", "priority": 9}),
            "priority",
        ),
        (
            json!({"title": "x", "queue": "cittadini", "type": "pigeon"}),
            "ticket type",
        ),
        (
            json!({"title": "x", "queue": "cittadini", "owner": "ro"}),
            "write access",
        ),
        (
            json!({"title": "x", "queue": "cittadini", "customer_id": 999}),
            "customer",
        ),
        (
            json!({"title": "x", "queue": "cittadini", "colour": "red"}),
            "colour",
        ),
    ] {
        let detail = f
            .post("/api/v1/tickets", &a1, body.clone())
            .await
            .problem(StatusCode::UNPROCESSABLE_ENTITY);
        assert!(detail.contains(needle), "{body}: {detail}");
    }
    let r = f
        .send(
            axum::http::Request::post("/api/v1/tickets")
                .header("authorization", format!("Bearer {a1}"))
                .header("content-type", "application/json")
                .body(axum::body::Body::from("{not json"))
                .unwrap(),
        )
        .await;
    r.problem(StatusCode::BAD_REQUEST);
}
both!(create_validates_its_body);

async fn show_is_404_for_unknown_and_403_for_unreadable_queues(f: Fixture) {
    let adm = f.login("adm").await;
    let second = f.ticket(&adm, "secondo-livello", "back office").await;
    let imprese = f.ticket(&adm, "imprese", "impresa").await;
    let a1 = f.login("a1").await;
    f.get("/api/v1/tickets/2026030242999999", &a1)
        .await
        .problem(StatusCode::NOT_FOUND);
    f.get(&format!("/api/v1/tickets/{second}"), &a1)
        .await
        .problem(StatusCode::FORBIDDEN);
    // Read access is enough to see.
    f.get(&format!("/api/v1/tickets/{imprese}"), &a1)
        .await
        .expect(StatusCode::OK);
    let ro = f.login("ro").await;
    f.get(&format!("/api/v1/tickets/{imprese}"), &ro)
        .await
        .problem(StatusCode::FORBIDDEN);
    let sup = f.login("sup").await;
    f.get(&format!("/api/v1/tickets/{imprese}"), &sup)
        .await
        .expect(StatusCode::OK);
}
both!(show_is_404_for_unknown_and_403_for_unreadable_queues);

fn numbers(r: &crate::common::Resp) -> Vec<String> {
    r.json["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["number"].as_str().unwrap().to_string())
        .collect()
}

async fn search_returns_only_readable_queues(f: Fixture) {
    let adm = f.login("adm").await;
    let c1 = f.ticket(&adm, "cittadini", "stampante rotta").await;
    f.advance(TimeDelta::minutes(1));
    let i1 = f.ticket(&adm, "imprese", "fattura errata").await;
    f.advance(TimeDelta::minutes(1));
    let s1 = f.ticket(&adm, "secondo-livello", "stampante in rete").await;
    f.advance(TimeDelta::minutes(1));
    let r1 = f.ticket(&adm, "raw", "senza coda").await;

    let a1 = f.login("a1").await;
    let r = f.get("/api/v1/tickets", &a1).await.expect(StatusCode::OK);
    assert_eq!(r.json["total"], 2);
    assert_eq!(numbers(&r), [i1.as_str(), c1.as_str()], "newest first");
    let sup = f.login("sup").await;
    let r = f
        .get("/api/v1/tickets?sort=created", &sup)
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        numbers(&r),
        [c1.clone(), i1.clone(), s1.clone(), r1.clone()]
    );
    // Naming a queue one cannot read is refused, not silently emptied.
    f.get("/api/v1/tickets?queue=secondo-livello", &a1)
        .await
        .problem(StatusCode::FORBIDDEN);
    let r = f
        .get("/api/v1/tickets?queue=imprese", &a1)
        .await
        .expect(StatusCode::OK);
    assert_eq!(numbers(&r), [i1.as_str()]);
    // Full text still stays inside readable queues.
    let r = f
        .get("/api/v1/tickets?q=stampante", &a1)
        .await
        .expect(StatusCode::OK);
    assert_eq!(numbers(&r), [c1.as_str()]);
    // Someone with no queue sees nothing (not everything).
    let ro = f.login("ro").await;
    let r = f.get("/api/v1/tickets", &ro).await.expect(StatusCode::OK);
    assert_eq!(r.json["total"], 0);
    assert_eq!(numbers(&r), Vec::<String>::new());
}
both!(search_returns_only_readable_queues);

async fn search_filters_pages_and_sorts(f: Fixture) {
    let a1 = f.login("a1").await;
    let mut all = Vec::new();
    for i in 0..5 {
        f.advance(TimeDelta::minutes(1));
        all.push(f.ticket(&a1, "cittadini", &format!("richiesta {i}")).await);
    }
    f.put(
        &format!("/api/v1/tickets/{}/priority", all[1]),
        &a1,
        json!({"priority": 5}),
    )
    .await
    .expect(StatusCode::OK);
    f.put(
        &format!("/api/v1/tickets/{}/state", all[2]),
        &a1,
        json!({"state": "closed_successful"}),
    )
    .await
    .expect(StatusCode::OK);
    let get = |q: &str| {
        let path = format!("/api/v1/tickets?{q}");
        let (f, a1) = (&f, a1.clone());
        async move { f.get(&path, &a1).await }
    };
    let r = get("per_page=2&page=2&sort=number")
        .await
        .expect(StatusCode::OK);
    assert_eq!(r.json["total"], 5);
    assert_eq!(r.json["page"], 2);
    assert_eq!(numbers(&r), [all[2].as_str(), all[3].as_str()]);
    let r = get("priority=5").await.expect(StatusCode::OK);
    assert_eq!(numbers(&r), [all[1].as_str()]);
    let r = get("state=new,open&sort=number")
        .await
        .expect(StatusCode::OK);
    assert_eq!(r.json["total"], 4);
    let r = get("state=closed_successful").await.expect(StatusCode::OK);
    assert_eq!(numbers(&r), [all[2].as_str()]);
    let prefix = &all[0][..10];
    let r = get(&format!("number={prefix}*&per_page=100"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(r.json["total"], 5);
    let r = get(&format!("number={}", all[4]))
        .await
        .expect(StatusCode::OK);
    assert_eq!(numbers(&r), [all[4].as_str()]);
    let r = get("channel=email").await.expect(StatusCode::OK);
    assert_eq!(r.json["total"], 0);
    let from = (f.now() - TimeDelta::seconds(30)).to_rfc3339();
    let r = get(&format!("created_from={}", from.replace('+', "%2B")))
        .await
        .expect(StatusCode::OK);
    assert_eq!(numbers(&r), [all[4].as_str()]);
    for bad in [
        "sort=colour",
        "state=lost",
        "priority=0",
        "per_page=1000",
        "created_to=yesterday",
        "owner=nobody",
        "page=x",
        "nonsense=1",
        "number=12a",
    ] {
        get(bad).await.problem(StatusCode::UNPROCESSABLE_ENTITY);
    }
}
both!(search_filters_pages_and_sorts);

/// Queue targets for the due list: 60 working minutes to take in charge, on a calendar
/// open at every hour (the fake clock is a Monday morning anyway).
fn hour_to_take_in_charge() -> crm::QueueTargets {
    let config: calendar::CalendarConfig = toml::from_str(
        "timezone = \"Europe/Rome\"\nmon = [\"00:00-24:00\"]\ntue = [\"00:00-24:00\"]\n\
         wed = [\"00:00-24:00\"]\nthu = [\"00:00-24:00\"]\nfri = [\"00:00-24:00\"]\n\
         sat = [\"00:00-24:00\"]\nsun = [\"00:00-24:00\"]\n",
    )
    .unwrap();
    crm::QueueTargets {
        sla: crm::QueueSla {
            calendar: std::sync::Arc::new(calendar::BusinessCalendar::new(&config).unwrap()),
            first_response: Some(TimeDelta::minutes(60)),
            solution: None,
        },
        update: None,
    }
}

async fn due_list_shows_readable_queues_earliest_first_and_refuses_others(f: Fixture) {
    for name in ["cittadini", "secondo-livello"] {
        let q = f.store.queue_by_name(name).await.unwrap().unwrap();
        f.store.set_queue_sla(q, Some(hour_to_take_in_charge()));
    }
    let a1 = f.login("a1").await;
    let sup = f.login("sup").await;
    let early = f.ticket(&a1, "cittadini", "Lampione spento").await;
    f.advance(TimeDelta::minutes(20));
    let late = f.ticket(&a1, "cittadini", "Buca in strada").await;
    let second = f.ticket(&sup, "secondo-livello", "Ricorso").await;

    // 50 minutes after the first: it is due within 20 minutes, the others in 30.
    f.advance(TimeDelta::minutes(30));
    let r = f
        .get("/api/v1/tickets/due?within_min=20", &a1)
        .await
        .expect(StatusCode::OK);
    let numbers: Vec<&str> = r.json["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["number"].as_str().unwrap())
        .collect();
    assert_eq!(numbers, [early.as_str()]);
    assert_eq!(r.json["tickets"][0]["overdue"], false);
    assert!(r.json["tickets"][0]["sla"]["first_response_due"].is_string());

    // 70 minutes after the first: overdue, then the second; a1 cannot read secondo-livello.
    f.advance(TimeDelta::minutes(20));
    let r = f
        .get("/api/v1/tickets/due?within_min=20", &a1)
        .await
        .expect(StatusCode::OK);
    let seen: Vec<(&str, bool)> = r.json["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["number"].as_str().unwrap(),
                t["overdue"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(seen, [(early.as_str(), true), (late.as_str(), false)]);
    f.get("/api/v1/tickets/due?queue=secondo-livello", &a1)
        .await
        .problem(StatusCode::FORBIDDEN);
    let r = f
        .get("/api/v1/tickets/due?within_min=60", &sup)
        .await
        .expect(StatusCode::OK);
    assert_eq!(r.json["tickets"].as_array().unwrap().len(), 3, "{}", r.text);
    assert!(r.text.contains(&second));

    // Taking it in charge stops the first clock: off the list.
    f.post(&format!("/api/v1/tickets/{early}/lock"), &a1, json!({}))
        .await
        .expect(StatusCode::OK);
    let r = f
        .get("/api/v1/tickets/due?within_min=30", &a1)
        .await
        .expect(StatusCode::OK);
    assert!(!r.text.contains(&early), "{}", r.text);
    f.get("/api/v1/tickets/due?within_min=99999", &a1)
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY);
    f.call("GET", "/api/v1/tickets/due", None, None)
        .await
        .expect(StatusCode::UNAUTHORIZED);
}
both!(due_list_shows_readable_queues_earliest_first_and_refuses_others);
