//! Blended routing through the API (R-ACD-5): an agent sets their mode (a supervisor of their
//! queues too; anyone else 403), sees it in `GET /api/v1/agents`; a written ticket becomes an
//! item offered to a blended agent, who accepts it (the ticket becomes theirs), finishes it
//! or declines it; nobody else may act on it.

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::common::{Fixture, both};

/// Polls `GET /api/v1/agents` as `token` until `login`'s entry satisfies `ok` (the ACD and
/// the item feeder run as their own tasks); panics with the last answer after 10 s.
async fn agent_until(f: &Fixture, token: &str, login: &str, ok: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let agents = f.get("/api/v1/agents", token).await.expect(StatusCode::OK);
        let me = agents
            .json
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["login"] == login)
            .cloned()
            .unwrap_or(Value::Null);
        if ok(&me) {
            return me;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{login} never got there: {me}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A ticket of `channel` in `queue` opened through the API as `token`'s user.
async fn written(f: &Fixture, token: &str, queue: &str, title: &str, channel: &str) -> String {
    let body = json!({"title": title, "queue": queue, "channel": channel});
    let r = f
        .post("/api/v1/tickets", token, body)
        .await
        .expect(StatusCode::CREATED);
    r.json["number"].as_str().unwrap().to_string()
}

async fn modes_are_set_by_the_agent_or_a_supervisor_of_their_queues(f: Fixture) {
    let a1 = f.login("a1").await;
    let me = agent_until(&f, &a1, "a1", |_| true).await;
    assert_eq!(me["mode"], "online", "{me}");
    assert_eq!(me["item"], Value::Null);

    f.put("/api/v1/agents/a1/mode", &a1, json!({"mode": "blended"}))
        .await
        .expect(StatusCode::NO_CONTENT);
    let me = agent_until(&f, &a1, "a1", |_| true).await;
    assert_eq!(me["mode"], "blended");

    // A mode that does not exist: 422 naming the field.
    let detail = f
        .put("/api/v1/agents/a1/mode", &a1, json!({"mode": "asleep"}))
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(detail.contains("mode"), "{detail}");
    // Another agent's mode: 403.
    f.put("/api/v1/agents/a3/mode", &a1, json!({"mode": "offline"}))
        .await
        .problem(StatusCode::FORBIDDEN);
    // A supervisor of a2's queue (secondo-livello) sets a2's mode, not a1's (cittadini is
    // only read by every supervisor, not supervised).
    let sup = f.login("sup").await;
    f.put("/api/v1/agents/a2/mode", &sup, json!({"mode": "offline"}))
        .await
        .expect(StatusCode::NO_CONTENT);
    f.put("/api/v1/agents/a1/mode", &sup, json!({"mode": "online"}))
        .await
        .problem(StatusCode::FORBIDDEN);
    let a2 = agent_until(&f, &sup, "a2", |_| true).await;
    assert_eq!(a2["mode"], "offline");
    // Admins set anyone's; an unknown agent is 404.
    let adm = f.login("adm").await;
    f.put("/api/v1/agents/a1/mode", &adm, json!({"mode": "online"}))
        .await
        .expect(StatusCode::NO_CONTENT);
    f.put(
        "/api/v1/agents/nobody/mode",
        &adm,
        json!({"mode": "online"}),
    )
    .await
    .problem(StatusCode::NOT_FOUND);
    // No session: 401.
    let r = f
        .call(
            "PUT",
            "/api/v1/agents/a1/mode",
            None,
            Some(json!({"mode": "online"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}
both!(modes_are_set_by_the_agent_or_a_supervisor_of_their_queues);

async fn an_item_is_offered_accepted_and_done(f: Fixture) {
    switchboard::items::spawn_feeder(
        f.store.clone(),
        &f.bus,
        f.acd.clone(),
        Duration::from_secs(3600),
    );
    let a1 = f.login("a1").await;
    let a3 = f.login("a3").await;
    f.put("/api/v1/agents/a1/mode", &a1, json!({"mode": "blended"}))
        .await
        .expect(StatusCode::NO_CONTENT);
    f.put("/api/v1/agents/a1/state", &a1, json!({"state": "ready"}))
        .await
        .expect(StatusCode::NO_CONTENT);
    // A phone ticket is no item; an e-mail one is, offered to the blended agent.
    written(&f, &a3, "cittadini", "Telefonata", "phone").await;
    let number = written(&f, &a3, "cittadini", "Certificato di residenza", "email").await;
    let me = agent_until(&f, &a1, "a1", |a| !a["item"].is_null()).await;
    assert_eq!(me["item"], json!({"number": number, "phase": "offered"}));
    // Held off calls meanwhile.
    assert_eq!(me["state"], "not_ready", "{me}");

    // Only the agent it is offered to acts on it.
    let path = |step: &str| format!("/api/v1/items/{number}/{step}");
    f.post(&path("accept"), &a3, json!({}))
        .await
        .problem(StatusCode::FORBIDDEN);
    f.post(&path("decline"), &a3, json!({}))
        .await
        .problem(StatusCode::FORBIDDEN);
    f.post("/api/v1/items/2026030210000099/accept", &a1, json!({}))
        .await
        .problem(StatusCode::NOT_FOUND);
    // Done before accept: refused.
    f.post(&path("done"), &a1, json!({}))
        .await
        .problem(StatusCode::CONFLICT);

    f.post(&path("accept"), &a1, json!({}))
        .await
        .expect(StatusCode::NO_CONTENT);
    let ticket = f
        .get(&format!("/api/v1/tickets/{number}"), &a1)
        .await
        .expect(StatusCode::OK);
    assert_eq!(ticket.json["owner"], "a1", "{}", ticket.text);
    // The ticket taken by its agent stays their item until done.
    let me = agent_until(&f, &a1, "a1", |a| a["item"]["phase"] == "accepted").await;
    assert_eq!(me["item"]["number"], number.as_str());
    // Ready for calls while holding an item: refused, the item first.
    f.put("/api/v1/agents/a1/state", &a1, json!({"state": "ready"}))
        .await
        .problem(StatusCode::CONFLICT);

    f.post(&path("done"), &a1, json!({}))
        .await
        .expect(StatusCode::NO_CONTENT);
    let me = agent_until(&f, &a1, "a1", |a| a["item"].is_null()).await;
    assert_eq!(me["state"], "ready", "{me}");
    // Gone: 404.
    f.post(&path("done"), &a1, json!({}))
        .await
        .problem(StatusCode::NOT_FOUND);
}
both!(an_item_is_offered_accepted_and_done);

async fn a_declined_item_goes_to_another_agent_and_a_closed_one_leaves(f: Fixture) {
    switchboard::items::spawn_feeder(
        f.store.clone(),
        &f.bus,
        f.acd.clone(),
        Duration::from_secs(3600),
    );
    let a1 = f.login("a1").await;
    let a3 = f.login("a3").await;
    for (login, token) in [("a1", &a1), ("a3", &a3)] {
        f.put(
            &format!("/api/v1/agents/{login}/mode"),
            token,
            json!({"mode": "offline"}),
        )
        .await
        .expect(StatusCode::NO_CONTENT);
        f.put(
            &format!("/api/v1/agents/{login}/state"),
            token,
            json!({"state": "ready"}),
        )
        .await
        .expect(StatusCode::NO_CONTENT);
    }
    // Off-line agents are never ready for calls.
    let me = agent_until(&f, &a1, "a1", |_| true).await;
    assert_eq!(me["state"], "not_ready", "{me}");
    assert_eq!(me["mode"], "offline");

    let number = written(&f, &a1, "cittadini", "Modulo web", "web").await;
    // Offered to one of them; whoever it is declines, and it goes to the other.
    let sup = f.login("sup").await;
    let holder = |agents: &Value| {
        agents
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["item"]["number"] == number.as_str())
            .map(|a| a["login"].as_str().unwrap().to_string())
    };
    let first = loop_until(&f, &sup, |agents| holder(agents)).await;
    let (token, other) = if first == "a1" {
        (&a1, "a3")
    } else {
        (&a3, "a1")
    };
    f.post(&format!("/api/v1/items/{number}/decline"), token, json!({}))
        .await
        .expect(StatusCode::NO_CONTENT);
    let second = loop_until(&f, &sup, |agents| {
        holder(agents).filter(|h| h.as_str() != first)
    })
    .await;
    assert_eq!(second, other);

    // Closed in the CRM: the item leaves, the agent is free.
    let t = f
        .put(
            &format!("/api/v1/tickets/{number}/state"),
            &sup,
            json!({"state": "closed_successful"}),
        )
        .await;
    if t.status != StatusCode::OK {
        // Supervisors read cittadini only: its writer closes it.
        let writer = if other == "a1" { &a3 } else { &a1 };
        f.put(
            &format!("/api/v1/tickets/{number}/state"),
            writer,
            json!({"state": "closed_successful"}),
        )
        .await
        .expect(StatusCode::OK);
    }
    loop_until(&f, &sup, |agents| holder(agents).is_none().then_some(())).await;
}
both!(a_declined_item_goes_to_another_agent_and_a_closed_one_leaves);

/// Polls `GET /api/v1/agents` as `token` until `pick` finds something; 10 s at most.
async fn loop_until<T>(f: &Fixture, token: &str, pick: impl Fn(&Value) -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let agents = f.get("/api/v1/agents", token).await.expect(StatusCode::OK);
        if let Some(found) = pick(&agents.json) {
            return found;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never: {}",
            agents.text
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn a_moved_ticket_is_offered_in_its_new_queue_and_a_taken_one_leaves(f: Fixture) {
    switchboard::items::spawn_feeder(
        f.store.clone(),
        &f.bus,
        f.acd.clone(),
        Duration::from_secs(3600),
    );
    let a1 = f.login("a1").await;
    let a2 = f.login("a2").await;
    let adm = f.login("adm").await;
    // a2 serves secondo-livello, off-line; nobody takes items in cittadini (on-line agents).
    f.put("/api/v1/agents/a2/mode", &a2, json!({"mode": "offline"}))
        .await
        .expect(StatusCode::NO_CONTENT);
    f.put("/api/v1/agents/a2/state", &a2, json!({"state": "ready"}))
        .await
        .expect(StatusCode::NO_CONTENT);
    let number = written(&f, &a1, "cittadini", "Segnalazione per fax", "fax").await;
    // Moved by the administration into a2's queue: offered to a2 there.
    f.put(
        &format!("/api/v1/tickets/{number}/queue"),
        &adm,
        json!({"queue": "secondo-livello"}),
    )
    .await
    .expect(StatusCode::OK);
    let b = agent_until(&f, &a2, "a2", |a| !a["item"].is_null()).await;
    assert_eq!(b["item"], json!({"number": number, "phase": "offered"}));
    // Taken by someone else meanwhile (the admin locks it): withdrawn from a2, who is free.
    f.post(&format!("/api/v1/tickets/{number}/lock"), &adm, json!({}))
        .await
        .expect(StatusCode::OK);
    let b = agent_until(&f, &a2, "a2", |a| a["item"].is_null()).await;
    assert_eq!(b["state"], "not_ready", "{b}");
    assert_eq!(b["reason"], "off-line work", "{b}");
    f.post(&format!("/api/v1/items/{number}/accept"), &a2, json!({}))
        .await
        .problem(StatusCode::NOT_FOUND);
}
both!(a_moved_ticket_is_offered_in_its_new_queue_and_a_taken_one_leaves);
