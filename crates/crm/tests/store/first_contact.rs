//! Resolved at first contact (SLA.C.4): judged at closing, corrected by an operator (the
//! correction survives a later judgement), in history; and the facts the reports read.

use chrono::Duration;
use crm::{Action, Actor, Channel, NewTicket, Role, Store};

use crate::common::{both, t0, users};

async fn first_contact_is_judged_corrected_and_read_by_reports(store: Store) {
    let ids = users(&store, &[Role::AgentFirstLevel]).await;
    let mut phone = NewTicket::new("tecnica", Channel::Phone);
    phone.call_id = Some("call-1".into());
    let phone = store
        .create_ticket(phone, Actor::System, t0())
        .await
        .unwrap();
    let mail = store
        .create_ticket(
            NewTicket::new("tecnica", Channel::Email),
            Actor::System,
            t0() + Duration::minutes(5),
        )
        .await
        .unwrap();
    // Outside the period read below.
    store
        .create_ticket(
            NewTicket::new("tecnica", Channel::Web),
            Actor::System,
            t0() + Duration::days(2),
        )
        .await
        .unwrap();
    assert_eq!(store.first_contact(phone.id).await.unwrap(), None);

    let closed_at = t0() + Duration::minutes(3);
    store
        .act(
            phone.id,
            Actor::User(ids[0]),
            Action::Close { successful: true },
            closed_at,
        )
        .await
        .unwrap();
    store
        .judge_first_contact(phone.id, true, Actor::User(ids[0]), closed_at)
        .await
        .unwrap();
    let judged = store.first_contact(phone.id).await.unwrap().unwrap();
    assert!(judged.first_contact && !judged.corrected);
    assert_eq!(judged.by, Some(ids[0]));

    // The operator corrects it; a later judgement (a reopen and close) keeps the correction.
    let later = t0() + Duration::minutes(10);
    store
        .correct_first_contact(phone.id, false, ids[0], later)
        .await
        .unwrap();
    store
        .judge_first_contact(phone.id, true, Actor::System, later + Duration::minutes(1))
        .await
        .unwrap();
    let corrected = store.first_contact(phone.id).await.unwrap().unwrap();
    assert!(!corrected.first_contact && corrected.corrected);
    let history = store.history(phone.id).await.unwrap();
    let marks: Vec<_> = history
        .iter()
        .filter(|h| h.kind == "first_contact")
        .map(|h| (h.old.clone(), h.new.clone()))
        .collect();
    assert_eq!(
        marks,
        vec![
            (None, Some("true".to_owned())),
            (Some("true".to_owned()), Some("false".to_owned())),
        ]
    );

    let facts = store
        .ticket_facts(t0() - Duration::hours(1), t0() + Duration::days(1))
        .await
        .unwrap();
    assert_eq!(facts.len(), 2, "{facts:?}");
    assert_eq!(facts[0].number, phone.number);
    assert_eq!(facts[0].channel, "phone");
    assert_eq!(facts[0].queue, "raw");
    assert_eq!(facts[0].call_id.as_deref(), Some("call-1"));
    assert_eq!(facts[0].closed, Some(closed_at));
    assert_eq!(facts[0].first_contact, Some(false));
    assert_eq!(facts[1].number, mail.number);
    assert_eq!(facts[1].channel, "email");
    assert_eq!(facts[1].first_contact, None);
    assert_eq!(facts[1].closed, None);
}
both!(first_contact_is_judged_corrected_and_read_by_reports);

/// A bulk import judges the flag in its transaction, by the closer at the closing time, and
/// a call's ticket is found by the call's id.
async fn an_import_judges_first_contact_at_its_close(store: Store) {
    let ids = users(&store, &[Role::AgentFirstLevel]).await;
    let mut phone = NewTicket::new("anagrafe", Channel::Phone);
    phone.call_id = Some("syn-1".into());
    let closed_at = t0() + Duration::minutes(4);
    let made = store
        .import_tickets(&[crm::ImportedTicket {
            ticket: phone,
            created: t0(),
            articles: Vec::new(),
            actions: vec![
                (Actor::User(ids[0]), Action::Lock, t0()),
                (
                    Actor::User(ids[0]),
                    Action::Close { successful: true },
                    closed_at,
                ),
            ],
            first_contact: Some(true),
        }])
        .await
        .unwrap();
    let judged = store.first_contact(made[0]).await.unwrap().unwrap();
    assert!(judged.first_contact && !judged.corrected);
    assert_eq!((judged.by, judged.at), (Some(ids[0]), closed_at));
    assert!(store.has_ticket_for_call("syn-1").await.unwrap());
    assert!(!store.has_ticket_for_call("syn-2").await.unwrap());
    let facts = store
        .ticket_facts(t0(), t0() + Duration::days(1))
        .await
        .unwrap();
    assert_eq!(facts[0].first_response_at, Some(t0()), "taken by the lock");
    assert_eq!(facts[0].first_contact, Some(true));
}
both!(an_import_judges_first_contact_at_its_close);
