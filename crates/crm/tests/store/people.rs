//! Customers, users, permissions, audit, call records.

use chrono::Duration;
use crm::{
    Access, Actor, AnsweredCall, CallOutcome, CustomerUpdate, Error, IdentityResult, NewCall,
    NewCustomer, QueueEvent, QueueEventKind, Role, State, Store, TicketType,
};

use crate::common::{both, t0, users};

async fn customers_by_phone_and_pin(store: Store) {
    let ids = users(&store, &[Role::AgentFirstLevel]).await;
    let a = Actor::User(ids[0]);
    let maria = store
        .create_customer(
            NewCustomer {
                full_name: "Maria Esempio".into(),
                organisation: Some("Comune di Prova".into()),
                email: Some("maria@example.org".into()),
                phones: vec!["06 0000 0001".into()],
                pin: Some("12345".into()),
                guest: false,
            },
            Actor::System,
            t0(),
        )
        .await
        .unwrap();
    assert_eq!(maria.phones, ["+390600000001"]);
    assert!(maria.has_pin);
    let by_phone = store
        .customer_by_phone("+39 06 0000 0001", a, t0())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_phone.id, maria.id);
    let by_pin = store
        .customer_by_pin("12345", a, t0())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_pin.id, maria.id);
    assert!(
        store
            .customer_by_pin("54321", a, t0())
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .customer_by_pin("12a", a, t0())
            .await
            .unwrap()
            .is_none()
    );
    // The PIN is not readable back: only its HMAC is stored.
    let dup = NewCustomer {
        full_name: "Other".into(),
        pin: Some("12345".into()),
        ..NewCustomer::default()
    };
    let err = store
        .create_customer(dup, Actor::System, t0())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Duplicate { what: "PIN", .. }), "{err}");
    assert!(!err.to_string().contains("12345"));
    store
        .set_customer_pin(maria.id, "99999", a, t0())
        .await
        .unwrap();
    assert!(
        store
            .customer_by_pin("12345", a, t0())
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .customer_by_pin("99999", a, t0())
            .await
            .unwrap()
            .is_some()
    );

    let guest = store
        .create_guest(Some("3331234567"), Actor::System, t0())
        .await
        .unwrap();
    assert!(guest.guest);
    assert_eq!(guest.phones, ["+393331234567"]);
    let seen = store.customer(guest.id, a, t0()).await.unwrap();
    assert_eq!(seen, guest);

    // A discrepancy found on a call: corrected and recorded.
    let update = CustomerUpdate {
        full_name: Some("Anna Esempio".into()),
        email: Some(Some("anna@example.org".into())),
        add_phones: vec!["+39 333 1234567".into(), "06 2222 3333".into()],
        known: true,
        ..CustomerUpdate::default()
    };
    let anna = store
        .update_customer(guest.id, update, a, t0())
        .await
        .unwrap();
    assert!(!anna.guest);
    assert_eq!(anna.phones, ["+390622223333", "+393331234567"]);
    let changes: Vec<String> = store
        .audit_log(&format!("customer:{}", guest.id))
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "change")
        .filter_map(|e| e.detail)
        .collect();
    assert_eq!(
        changes,
        [
            "full_name: guest +393331234567 → Anna Esempio",
            "email:  → anna@example.org",
            "guest: true → false",
            "phone: → +390622223333",
        ]
    );
    let t = store
        .create_ticket(crm::NewTicket::new("x", crm::Channel::Phone), a, t0())
        .await
        .unwrap();
    let t = store
        .set_ticket_customer(t.id, Some(anna.id), a, t0())
        .await
        .unwrap();
    assert_eq!(t.customer, Some(anna.id));
    let last = store.history(t.id).await.unwrap().pop().unwrap();
    assert_eq!(
        (last.kind.as_str(), last.new),
        ("customer", Some(anna.id.to_string()))
    );

    let log = store
        .audit_log(&format!("customer:{}", maria.id))
        .await
        .unwrap();
    let reads = log.iter().filter(|e| e.action == "read").count();
    assert_eq!(reads, 3, "every read of personal data is audited: {log:?}");
    assert!(
        log.iter()
            .all(|e| !e.detail.clone().unwrap_or_default().contains("99999"))
    );
}
both!(customers_by_phone_and_pin);

async fn users_roles_and_permissions(store: Store) {
    let ids = users(
        &store,
        &[Role::AgentFirstLevel, Role::Supervisor, Role::Admin],
    )
    .await;
    let q = store.create_queue("cittadini", false, t0()).await.unwrap();
    let other = store.create_queue("tecnica", false, t0()).await.unwrap();
    assert_eq!(
        store.authenticate("a1", "pw").await.unwrap().unwrap().id,
        ids[0]
    );
    assert!(store.authenticate("a1", "wrong").await.unwrap().is_none());
    assert!(store.authenticate("nobody", "pw").await.unwrap().is_none());
    assert!(matches!(
        store
            .create_user("a1", "again", Role::Admin, "x", t0())
            .await,
        Err(Error::Duplicate { .. })
    ));
    assert_eq!(store.queue_access(ids[0], q.id).await.unwrap(), None);
    store.grant_queue(ids[0], q.id, Access::Read).await.unwrap();
    assert_eq!(
        store.queue_access(ids[0], q.id).await.unwrap(),
        Some(Access::Read)
    );
    store
        .grant_queue(ids[0], q.id, Access::Write)
        .await
        .unwrap();
    assert_eq!(
        store.queue_access(ids[0], q.id).await.unwrap(),
        Some(Access::Write)
    );
    assert_eq!(store.queue_access(ids[0], other.id).await.unwrap(), None);
    assert_eq!(
        store.queue_access(ids[1], other.id).await.unwrap(),
        Some(Access::Read)
    );
    assert_eq!(
        store.queue_access(ids[2], other.id).await.unwrap(),
        Some(Access::Write)
    );
    assert_eq!(store.user(ids[1]).await.unwrap().role, Role::Supervisor);
}
both!(users_roles_and_permissions);

async fn call_card_and_ticket_for_answered_call(store: Store) {
    let ids = users(&store, &[Role::AgentFirstLevel]).await;
    let q = store.create_queue("tecnica", false, t0()).await.unwrap();
    let customer = store
        .create_customer(
            NewCustomer {
                full_name: "Giulio Esempio".into(),
                phones: vec!["+390600000002".into()],
                pin: Some("54321".into()),
                ..NewCustomer::default()
            },
            Actor::System,
            t0(),
        )
        .await
        .unwrap();
    let call = NewCall {
        call_id: "c-0001".into(),
        sip_call_id: Some("abc@127.0.0.1".into()),
        caller: "+390600000002".into(),
        dialled: "800100202".into(),
        started: t0(),
    };
    store.start_call(&call).await.unwrap();
    store.start_call(&call).await.unwrap(); // replay: no change
    store.record_ivr_step("c-0001", "area:2").await.unwrap();
    store.record_ivr_step("c-0001", "pin:ok").await.unwrap();
    store
        .set_call_identity("c-0001", Some(customer.id), IdentityResult::Pin)
        .await
        .unwrap();
    let enter = QueueEvent {
        call_id: "c-0001".into(),
        queue: "tecnica".into(),
        at: t0() + Duration::seconds(20),
        kind: QueueEventKind::Enter,
        agent: None,
        detail: None,
    };
    store.queue_event(&enter).await.unwrap();
    let answered = AnsweredCall {
        queue: q.id,
        agent: Some(ids[0]),
        agent_login: Some("a1".into()),
        answered: t0() + Duration::seconds(65),
        wait_ms: 45_000,
        title: "technical problem".into(),
        ticket_type: TicketType::TechnicalProblem,
        service_area: Some("2".into()),
    };
    let now = t0() + Duration::seconds(65);
    let t = store
        .open_ticket_for_answered_call("c-0001", answered.clone(), now)
        .await
        .unwrap();
    assert_eq!(t.call_id.as_deref(), Some("c-0001"));
    assert_eq!(t.customer, Some(customer.id));
    assert_eq!(
        (t.queue, t.owner, t.state),
        (q.id, Some(ids[0]), State::New)
    );
    assert_eq!(t.ticket_type, TicketType::TechnicalProblem);
    let again = store
        .open_ticket_for_answered_call("c-0001", answered.clone(), now)
        .await
        .unwrap();
    assert_eq!(again.id, t.id, "idempotent for replays");
    let arts = store.articles(t.id).await.unwrap();
    assert_eq!(arts.len(), 1);
    assert!(arts[0].body.contains("waited 45 s"), "{}", arts[0].body);
    store
        .end_call("c-0001", now + Duration::minutes(3), CallOutcome::Answered)
        .await
        .unwrap();
    let card = store.call("c-0001").await.unwrap();
    assert_eq!(card.ivr_path, ["area:2", "pin:ok"]);
    assert_eq!(card.identity, IdentityResult::Pin);
    assert_eq!(card.ticket, Some(t.id));
    assert_eq!(card.wait_ms, Some(45_000));
    assert_eq!(card.agent.as_deref(), Some("a1"));
    assert_eq!(card.queue.as_deref(), Some("tecnica"));
    assert_eq!(card.outcome, Some(CallOutcome::Answered));
    let by_sip = store
        .call_by_sip_call_id("abc@127.0.0.1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_sip, card);
    let kinds: Vec<_> = store
        .queue_events("c-0001")
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    // The connect row is the event log's (queue.connected), not the ticket's.
    assert_eq!(kinds, [QueueEventKind::Enter]);
    assert!(matches!(
        store
            .open_ticket_for_answered_call("nope", answered, now)
            .await,
        Err(Error::NotFound { what: "call", .. })
    ));
}
both!(call_card_and_ticket_for_answered_call);
