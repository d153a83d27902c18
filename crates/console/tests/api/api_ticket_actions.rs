//! Ticket actions: articles, state, lock, owner, responsible, queue (move, second level,
//! reject), priority, type, links; 403 by queue and role, 409 from the life cycle.

use axum::http::StatusCode;
use chrono::TimeDelta;
use serde_json::json;

use crate::common::{Fixture, both};

fn path(number: &str, action: &str) -> String {
    format!("/api/v1/tickets/{number}/{action}")
}

async fn articles_need_write_access(f: Fixture) {
    let adm = f.login("adm").await;
    let imprese = f.ticket(&adm, "imprese", "impresa").await;
    let a1 = f.login("a1").await;
    let mine = f.ticket(&a1, "cittadini", "mio").await;
    let body = json!({"kind": "note", "subject": "s", "body": "b"});
    let r = f
        .post(&path(&mine, "articles"), &a1, body.clone())
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(r.json["kind"], "note");
    assert_eq!(r.json["customer_visible"], false);
    assert_eq!(r.json["created_by"], "a1");
    // a1 only reads `imprese`.
    let detail = f
        .post(&path(&imprese, "articles"), &a1, body.clone())
        .await
        .problem(StatusCode::FORBIDDEN);
    assert!(
        detail.contains("no write access to queue imprese"),
        "{detail}"
    );
    f.post(&path("2026030242999999", "articles"), &a1, body)
        .await
        .problem(StatusCode::NOT_FOUND);
    let big = json!({"subject": "s", "body": "b", "attachments": [{"filename": "f",
        "content_type": "application/octet-stream", "content_base64": "A".repeat(2000)}]});
    f.post(&path(&mine, "articles"), &a1, big)
        .await
        .problem(StatusCode::PAYLOAD_TOO_LARGE);
    let bad = json!({"subject": "s", "body": "b", "attachments": [{"filename": "f",
        "content_type": "text/plain", "content_base64": "***"}]});
    f.post(&path(&mine, "articles"), &a1, bad)
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY);
}
both!(articles_need_write_access);

async fn state_changes_follow_the_life_cycle(f: Fixture) {
    let a1 = f.login("a1").await;
    let n = f.ticket(&a1, "cittadini", "x").await;
    let until = (f.now() + TimeDelta::days(1)).to_rfc3339();
    let r = f
        .put(
            &path(&n, "state"),
            &a1,
            json!({"state": "pending_reminder", "pending_until": until}),
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(r.json["state"], "pending_reminder");
    assert!(r.json["pending_until"].is_string());
    f.put(
        &path(&n, "state"),
        &a1,
        json!({"state": "pending_reminder"}),
    )
    .await
    .problem(StatusCode::UNPROCESSABLE_ENTITY);
    f.put(&path(&n, "state"), &a1, json!({"state": "merged"}))
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY);
    let past = (f.now() - TimeDelta::hours(1)).to_rfc3339();
    let detail = f
        .put(
            &path(&n, "state"),
            &a1,
            json!({"state": "pending_reminder", "pending_until": past}),
        )
        .await
        .problem(StatusCode::CONFLICT);
    assert!(detail.contains("expected a time after"), "{detail}");
    let r = f
        .put(
            &path(&n, "state"),
            &a1,
            json!({"state": "closed_successful"}),
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(r.json["state"], "closed_successful");
    assert_eq!(r.json["pending_until"], json!(null));
    // Closed: the other close, locking and priority are refused until reopened.
    for (action, body) in [
        ("state", json!({"state": "closed_unsuccessful"})),
        ("priority", json!({"priority": 1})),
    ] {
        let d = f
            .put(&path(&n, action), &a1, body)
            .await
            .problem(StatusCode::CONFLICT);
        assert!(d.contains("reopen it first"), "{d}");
    }
    f.post(&path(&n, "lock"), &a1, json!({}))
        .await
        .problem(StatusCode::CONFLICT);
    f.put(&path(&n, "state"), &a1, json!({"state": "open"}))
        .await
        .expect(StatusCode::OK);
    let a2 = f.login("a2").await;
    f.put(
        &path(&n, "state"),
        &a2,
        json!({"state": "closed_successful"}),
    )
    .await
    .problem(StatusCode::FORBIDDEN);
}
both!(state_changes_follow_the_life_cycle);

async fn lock_unlock_and_locked_by_someone_else(f: Fixture) {
    let a1 = f.login("a1").await;
    let a3 = f.login("a3").await;
    let n = f.ticket(&a1, "cittadini", "x").await;
    let r = f
        .post(&path(&n, "lock"), &a1, json!({}))
        .await
        .expect(StatusCode::OK);
    assert_eq!(r.json["locked"], true);
    assert_eq!(r.json["owner"], "a1");
    assert_eq!(r.json["state"], "open");
    let d = f
        .put(&path(&n, "priority"), &a3, json!({"priority": 5}))
        .await
        .problem(StatusCode::CONFLICT);
    assert!(d.contains("locked by user"), "{d}");
    f.post(&path(&n, "lock"), &a3, json!({}))
        .await
        .problem(StatusCode::CONFLICT);
    f.post(&path(&n, "unlock"), &a1, json!({}))
        .await
        .expect(StatusCode::OK);
    f.post(&path(&n, "unlock"), &a1, json!({}))
        .await
        .problem(StatusCode::CONFLICT);
    let ro = f.login("ro").await;
    f.post(&path(&n, "lock"), &ro, json!({}))
        .await
        .problem(StatusCode::FORBIDDEN);
}
both!(lock_unlock_and_locked_by_someone_else);

async fn owner_responsible_priority_and_type(f: Fixture) {
    let a1 = f.login("a1").await;
    let n = f.ticket(&a1, "cittadini", "x").await;
    let r = f
        .put(&path(&n, "owner"), &a1, json!({"owner": "a3"}))
        .await
        .expect(StatusCode::OK);
    assert_eq!(r.json["owner"], "a3");
    let r = f
        .put(&path(&n, "owner"), &a1, json!({"owner": null}))
        .await
        .expect(StatusCode::OK);
    assert_eq!(r.json["owner"], json!(null));
    // a2 only reads `cittadini`: cannot be its owner.
    let d = f
        .put(&path(&n, "owner"), &a1, json!({"owner": "a2"}))
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(d.contains("write access to queue cittadini"), "{d}");
    f.put(&path(&n, "owner"), &a1, json!({"owner": "ghost"}))
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY);
    let r = f
        .put(&path(&n, "responsible"), &a1, json!({"responsible": "adm"}))
        .await
        .expect(StatusCode::OK);
    assert_eq!(r.json["responsible"], "adm");
    let r = f
        .put(&path(&n, "priority"), &a1, json!({"priority": 1}))
        .await
        .expect(StatusCode::OK);
    assert_eq!(r.json["priority"], 1);
    f.put(&path(&n, "priority"), &a1, json!({"priority": 6}))
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY);
    let r = f
        .put(&path(&n, "type"), &a1, json!({"type": "payment_problem"}))
        .await
        .expect(StatusCode::OK);
    assert_eq!(r.json["type"], "payment_problem");
    f.put(&path(&n, "type"), &a1, json!({"type": "pigeon"}))
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY);
    let t = f
        .get(&format!("/api/v1/tickets/{n}"), &a1)
        .await
        .expect(StatusCode::OK);
    let owner_rows: Vec<_> = t.json["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["kind"] == "owner")
        .map(|h| (h["old"].clone(), h["new"].clone()))
        .collect();
    assert_eq!(
        owner_rows,
        [(json!(null), json!("a3")), (json!("a3"), json!(null))],
        "history names logins"
    );
}
both!(owner_responsible_priority_and_type);

async fn queue_moves_second_level_and_rejection(f: Fixture) {
    let a1 = f.login("a1").await;
    let n = f.ticket(&a1, "cittadini", "x").await;
    // A plain move needs write access to the target too: a1 only reads `imprese`.
    f.put(&path(&n, "queue"), &a1, json!({"queue": "imprese"}))
        .await
        .problem(StatusCode::FORBIDDEN);
    f.put(&path(&n, "queue"), &a1, json!({}))
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY);
    // `imprese` is not second level.
    f.put(
        &path(&n, "queue"),
        &a1,
        json!({"action": "assign_second_level", "queue": "imprese"}),
    )
    .await
    .problem(StatusCode::UNPROCESSABLE_ENTITY);
    f.post(&path(&n, "lock"), &a1, json!({}))
        .await
        .expect(StatusCode::OK);
    let r = f
        .put(
            &path(&n, "queue"),
            &a1,
            json!({"action": "assign_second_level", "queue": "secondo-livello", "reason": "serve il back office"}),
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(r.json["queue"], "secondo-livello");
    assert_eq!(r.json["locked"], false, "released for the back office");
    // Now a1 cannot touch it, and first level may not reject anyway.
    f.put(&path(&n, "priority"), &a1, json!({"priority": 2}))
        .await
        .problem(StatusCode::FORBIDDEN);
    let a2 = f.login("a2").await;
    f.put(&path(&n, "queue"), &a2, json!({"action": "reject"}))
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY);
    // A queue named in the rejection must be writable by the one rejecting: a2 only reads
    // `cittadini` and has nothing on `imprese`.
    for queue in ["imprese", "cittadini"] {
        let d = f
            .put(
                &path(&n, "queue"),
                &a2,
                json!({"action": "reject", "reason": "altrove", "queue": queue}),
            )
            .await
            .problem(StatusCode::FORBIDDEN);
        assert!(d.contains(queue), "{d}");
    }
    let r = f
        .put(
            &path(&n, "queue"),
            &a2,
            json!({"action": "reject", "reason": "non di competenza"}),
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(r.json["queue"], "cittadini", "back where it came from");
    let a3 = f.login("a3").await;
    let d = f
        .put(
            &path(&n, "queue"),
            &a3,
            json!({"action": "reject", "reason": "no"}),
        )
        .await
        .problem(StatusCode::FORBIDDEN);
    assert!(d.contains("agent_first_level"), "{d}");
    let adm = f.login("adm").await;
    let r = f
        .put(&path(&n, "queue"), &adm, json!({"queue": "imprese"}))
        .await
        .expect(StatusCode::OK);
    assert_eq!(r.json["queue"], "imprese");
    let t = f
        .get(&format!("/api/v1/tickets/{n}"), &adm)
        .await
        .expect(StatusCode::OK);
    let hops: Vec<_> = t.json["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["kind"] == "queue")
        .map(|h| h["new"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(hops, ["secondo-livello", "cittadini", "imprese"]);
}
both!(queue_moves_second_level_and_rejection);

async fn links_children_and_merge(f: Fixture) {
    let a1 = f.login("a1").await;
    let parent = f.ticket(&a1, "cittadini", "guasto rete").await;
    let child = f.ticket(&a1, "cittadini", "anche io senza rete").await;
    let other = f.ticket(&a1, "cittadini", "doppione").await;
    let adm = f.login("adm").await;
    let imprese = f.ticket(&adm, "imprese", "altra coda").await;
    let r = f
        .post(
            &path(&child, "links"),
            &a1,
            json!({"kind": "parent", "ticket": parent}),
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(r.json["parent"], parent.as_str());
    // Write access to the other ticket is needed too.
    f.post(
        &path(&parent, "links"),
        &a1,
        json!({"kind": "child", "ticket": imprese}),
    )
    .await
    .problem(StatusCode::FORBIDDEN);
    f.post(
        &path(&parent, "links"),
        &a1,
        json!({"kind": "child", "ticket": "2026030242999999"}),
    )
    .await
    .problem(StatusCode::UNPROCESSABLE_ENTITY);
    // A cycle is refused.
    f.post(
        &path(&child, "links"),
        &a1,
        json!({"kind": "child", "ticket": parent}),
    )
    .await
    .problem(StatusCode::UNPROCESSABLE_ENTITY);
    let t = f
        .get(&format!("/api/v1/tickets/{parent}"), &a1)
        .await
        .expect(StatusCode::OK);
    assert_eq!(t.json["children"][0]["number"], child.as_str());
    // Closing the parent closes the child (R-SR-8).
    f.put(
        &path(&parent, "state"),
        &a1,
        json!({"state": "closed_successful"}),
    )
    .await
    .expect(StatusCode::OK);
    let c = f
        .get(&format!("/api/v1/tickets/{child}"), &a1)
        .await
        .expect(StatusCode::OK);
    assert_eq!(c.json["state"], "closed_successful");
    // Merge: the source turns merged, and nothing changes it afterwards.
    let r = f
        .post(
            &path(&other, "links"),
            &a1,
            json!({"kind": "merge_into", "ticket": parent}),
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(r.json["state"], "merged");
    assert_eq!(r.json["merged_into"], parent.as_str());
    let d = f
        .post(
            &path(&other, "articles"),
            &a1,
            json!({"subject": "s", "body": "b"}),
        )
        .await
        .problem(StatusCode::CONFLICT);
    assert!(d.contains("merged"), "{d}");
}
both!(links_children_and_merge);

/// SLA.C.4: a ticket opened by a call is judged at closing (here `false`: the closer a1 is
/// not talking on the call nor in its wrap-up: the ACD has a1 logged out), can be read by
/// whoever reads the ticket and corrected by whoever may close it; the correction stays
/// over a later closing.
async fn first_contact_is_judged_at_closing_and_corrected(f: Fixture) {
    let at = f.now();
    f.store
        .start_call(&crm::NewCall {
            call_id: "call-fc".into(),
            sip_call_id: None,
            caller: "+390600000001".into(),
            dialled: "800100201".into(),
            started: at,
        })
        .await
        .unwrap();
    let queue = f.store.queue_by_name("cittadini").await.unwrap().unwrap();
    let t = f
        .store
        .open_ticket_for_answered_call(
            "call-fc",
            crm::AnsweredCall {
                queue,
                agent: Some(f.a1),
                agent_login: Some("a1".into()),
                answered: at,
                wait_ms: 1000,
                title: "chiamata".into(),
                ticket_type: crm::TicketType::Other,
                service_area: None,
            },
            at,
        )
        .await
        .unwrap();
    f.store
        .end_call(
            "call-fc",
            at + TimeDelta::minutes(3),
            crm::CallOutcome::Answered,
        )
        .await
        .unwrap();
    let a1 = f.login("a1").await;
    let fc = path(&t.number, "first-contact");
    let r = f.get(&fc, &a1).await.expect(StatusCode::OK);
    assert_eq!(
        r.json["first_contact"],
        serde_json::Value::Null,
        "not judged yet"
    );
    f.put(
        &path(&t.number, "state"),
        &a1,
        json!({"state": "closed_successful"}),
    )
    .await
    .expect(StatusCode::OK);
    let r = f.get(&fc, &a1).await.expect(StatusCode::OK);
    assert_eq!(r.json["first_contact"], false, "{}", r.json);
    assert_eq!(r.json["corrected"], false);
    assert_eq!(r.json["by"], "a1");
    // The operator corrects it.
    let r = f
        .put(&fc, &a1, json!({"first_contact": true}))
        .await
        .expect(StatusCode::OK);
    assert_eq!(r.json["first_contact"], true);
    assert_eq!(r.json["corrected"], true);
    // Reopened and closed again: the correction stays.
    f.put(&path(&t.number, "state"), &a1, json!({"state": "open"}))
        .await
        .expect(StatusCode::OK);
    f.put(
        &path(&t.number, "state"),
        &a1,
        json!({"state": "closed_successful"}),
    )
    .await
    .expect(StatusCode::OK);
    let r = f.get(&fc, &a1).await.expect(StatusCode::OK);
    assert_eq!(r.json["first_contact"], true);
    // A wrong body is 422 naming the field; a ticket not there 404.
    f.put(&fc, &a1, json!({"first_contact": "yes"}))
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY);
    f.put(
        &path("2026030242999999", "first-contact"),
        &a1,
        json!({"first_contact": true}),
    )
    .await
    .problem(StatusCode::NOT_FOUND);
    // Only read access to `imprese`: a1 may read the flag of its tickets but not correct it.
    let adm = f.login("adm").await;
    let imprese = f.ticket(&adm, "imprese", "impresa").await;
    f.get(&path(&imprese, "first-contact"), &a1)
        .await
        .expect(StatusCode::OK);
    f.put(
        &path(&imprese, "first-contact"),
        &a1,
        json!({"first_contact": true}),
    )
    .await
    .problem(StatusCode::FORBIDDEN);
}
both!(first_contact_is_judged_at_closing_and_corrected);
