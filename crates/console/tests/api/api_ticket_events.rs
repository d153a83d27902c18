//! Issue 12: the REST API publishes `ticket.created` for every ticket it opens (every
//! channel) and `ticket.updated` with what changed.

use axum::http::StatusCode;
use events::{Event, TicketChange, TicketChannel, TicketField};
use serde_json::json;

use crate::common::{Fixture, both};

fn change(field: TicketField, old: Option<&str>, new: Option<&str>) -> TicketChange {
    TicketChange {
        field,
        old: old.map(str::to_string),
        new: new.map(str::to_string),
    }
}

async fn ticket_routes_publish_what_they_change(f: Fixture) {
    let mut bus = f.bus.subscribe();
    let a1 = f.login("a1").await;
    let r = f
        .post(
            "/api/v1/tickets",
            &a1,
            json!({"title": "Modulo web", "queue": "cittadini", "channel": "web"}),
        )
        .await
        .expect(StatusCode::CREATED);
    let number = r.json["number"].as_str().unwrap().to_string();
    assert_eq!(
        bus.try_recv().unwrap(),
        Event::TicketCreated {
            number: number.clone(),
            queue: "cittadini".into(),
            channel: TicketChannel::Web,
            call_id: None,
            owner: None,
            by: Some("a1".into()),
        }
    );
    let updated = |changes| Event::TicketUpdated {
        number: number.clone(),
        queue: "cittadini".into(),
        owner: None,
        by: Some("a1".into()),
        changes,
    };
    let path = |what: &str| format!("/api/v1/tickets/{number}/{what}");
    f.put(&path("priority"), &a1, json!({"priority": 5}))
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        bus.try_recv().unwrap(),
        updated(vec![change(TicketField::Priority, Some("3"), Some("5"))])
    );
    f.put(&path("state"), &a1, json!({"state": "open"}))
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        bus.try_recv().unwrap(),
        updated(vec![change(TicketField::State, Some("new"), Some("open"))])
    );
    f.post(
        &path("articles"),
        &a1,
        json!({"subject": "nota", "body": "richiamato"}),
    )
    .await
    .expect(StatusCode::CREATED);
    assert_eq!(
        bus.try_recv().unwrap(),
        updated(vec![change(TicketField::Article, None, Some("note"))])
    );
    // A request the store refuses publishes nothing.
    f.put(&path("priority"), &a1, json!({"priority": 9}))
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bus.try_recv().is_err());
}
both!(ticket_routes_publish_what_they_change);
