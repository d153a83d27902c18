//! Call cards: by call id and SIP Call-ID; agents see their own calls and their queues'.

use axum::http::StatusCode;
use chrono::TimeDelta;
use crm::{AnsweredCall, CallOutcome, IdentityResult, NewCall, QueueEvent, QueueEventKind};
use serde_json::json;

use crate::common::{Fixture, both};

/// A call to `queue`, answered by a1 after 12 s, ended 3 minutes later.
async fn answered_call(f: &Fixture, call_id: &str, queue: &str) -> String {
    let store = &f.store;
    let started = f.now();
    store
        .start_call(&NewCall {
            call_id: call_id.into(),
            sip_call_id: Some(format!("sip-{call_id}@pbx")),
            caller: "+390612345678".into(),
            dialled: "0600000001".into(),
            started,
        })
        .await
        .unwrap();
    store.record_ivr_step(call_id, "menu:1").await.unwrap();
    store.record_ivr_step(call_id, "pin:ok").await.unwrap();
    let customer = store
        .create_customer(
            crm::NewCustomer {
                full_name: "Mario Rossi".into(),
                phones: vec!["+390612345678".into()],
                ..Default::default()
            },
            crm::Actor::System,
            started,
        )
        .await
        .unwrap();
    store
        .set_call_identity(call_id, Some(customer.id), IdentityResult::Ani)
        .await
        .unwrap();
    store
        .queue_event(&QueueEvent {
            call_id: call_id.into(),
            queue: queue.into(),
            at: started + TimeDelta::seconds(5),
            kind: QueueEventKind::Enter,
            agent: None,
            detail: None,
        })
        .await
        .unwrap();
    let queue_id = store.queue_by_name(queue).await.unwrap().unwrap();
    let answered = started + TimeDelta::seconds(17);
    let t = store
        .open_ticket_for_answered_call(
            call_id,
            AnsweredCall {
                queue: queue_id,
                agent: Some(f.a1),
                agent_login: Some("a1".into()),
                answered,
                wait_ms: 12_000,
                title: "chiamata".into(),
                ticket_type: crm::TicketType::InformationRequest,
                service_area: Some("anagrafe".into()),
            },
            answered,
        )
        .await
        .unwrap();
    store
        .end_call(
            call_id,
            answered + TimeDelta::minutes(3),
            CallOutcome::Answered,
        )
        .await
        .unwrap();
    t.number
}

async fn the_call_card_has_every_contract_field(f: Fixture) {
    let number = answered_call(&f, "c-1", "cittadini").await;
    let a1 = f.login("a1").await;
    let r = f.get("/api/v1/calls/c-1", &a1).await.expect(StatusCode::OK);
    let card = &r.json;
    assert_eq!(card["call_id"], "c-1");
    assert_eq!(card["sip_call_id"], "sip-c-1@pbx");
    assert_eq!(card["caller"], "+390612345678");
    assert_eq!(card["dialled"], "0600000001");
    assert_eq!(card["ivr_path"], json!(["menu:1", "pin:ok"]));
    assert_eq!(card["identity"], "ani");
    assert!(card["customer_id"].is_i64(), "identified by caller number");
    assert_eq!(card["queue"], "cittadini");
    assert_eq!(card["wait_ms"], 12_000);
    assert_eq!(card["agent"], "a1");
    assert_eq!(card["outcome"], "answered");
    assert_eq!(card["ticket"], number.as_str());
    for t in ["started", "answered", "ended"] {
        assert!(card[t].is_string(), "{t}: {card}");
    }
    let by_sip = f
        .get("/api/v1/calls?sip_call_id=sip-c-1@pbx", &a1)
        .await
        .expect(StatusCode::OK);
    assert_eq!(&by_sip.json, card);
}
both!(the_call_card_has_every_contract_field);

async fn agents_see_own_calls_and_their_queues_calls(f: Fixture) {
    // Answered by a1 in `imprese`, a queue a3 cannot read.
    answered_call(&f, "c-2", "imprese").await;
    let a1 = f.login("a1").await;
    f.get("/api/v1/calls/c-2", &a1).await.expect(StatusCode::OK);
    let a3 = f.login("a3").await;
    f.get("/api/v1/calls/c-2", &a3)
        .await
        .problem(StatusCode::FORBIDDEN);
    f.get("/api/v1/calls?sip_call_id=sip-c-2@pbx", &a3)
        .await
        .problem(StatusCode::FORBIDDEN);
    // Answered by a1 in `cittadini`: a3 reads the queue.
    answered_call(&f, "c-3", "cittadini").await;
    f.get("/api/v1/calls/c-3", &a3).await.expect(StatusCode::OK);
    let ro = f.login("ro").await;
    f.get("/api/v1/calls/c-3", &ro)
        .await
        .problem(StatusCode::FORBIDDEN);
    for who in ["sup", "adm"] {
        let t = f.login(who).await;
        f.get("/api/v1/calls/c-2", &t).await.expect(StatusCode::OK);
    }
}
both!(agents_see_own_calls_and_their_queues_calls);

async fn a_withheld_number_is_on_the_card_for_supervisors_only(f: Fixture) {
    answered_call(&f, "c-4", "cittadini").await;
    f.store
        .record_ivr_step("c-4", events::WITHHELD_STEP)
        .await
        .unwrap();
    // The agent who answered reads the card, without the number.
    let a1 = f.login("a1").await;
    let card = f.get("/api/v1/calls/c-4", &a1).await.expect(StatusCode::OK);
    assert_eq!(card.json["caller"], events::ANONYMOUS_CALLER);
    assert!(!card.text.contains("0612345678"), "{}", card.text);
    let by_sip = f
        .get("/api/v1/calls?sip_call_id=sip-c-4@pbx", &a1)
        .await
        .expect(StatusCode::OK);
    assert_eq!(by_sip.json["caller"], events::ANONYMOUS_CALLER);
    // Those who read every call see the number the call record keeps.
    for who in ["sup", "adm"] {
        let t = f.login(who).await;
        let card = f.get("/api/v1/calls/c-4", &t).await.expect(StatusCode::OK);
        assert_eq!(card.json["caller"], "+390612345678", "{who}");
    }
    // A call that was not withheld shows its number to the agent.
    answered_call(&f, "c-5", "cittadini").await;
    let card = f.get("/api/v1/calls/c-5", &a1).await.expect(StatusCode::OK);
    assert_eq!(card.json["caller"], "+390612345678");
}
both!(a_withheld_number_is_on_the_card_for_supervisors_only);

async fn unknown_calls_are_404_and_the_query_is_required(f: Fixture) {
    let sup = f.login("sup").await;
    f.get("/api/v1/calls/nope", &sup)
        .await
        .problem(StatusCode::NOT_FOUND);
    f.get("/api/v1/calls?sip_call_id=nope", &sup)
        .await
        .problem(StatusCode::NOT_FOUND);
    f.get("/api/v1/calls", &sup)
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY);
}
both!(unknown_calls_are_404_and_the_query_is_required);
