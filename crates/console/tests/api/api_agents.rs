//! Agents and queues from the ACD: an agent sets and sees their own state; supervisors see
//! and set everyone's; unknown agents are 404, unknown states 422, refusals 409.

use axum::http::StatusCode;
use serde_json::json;

use crate::common::{Fixture, both};

async fn agent_sets_own_state_and_sees_only_themselves(f: Fixture) {
    let a1 = f.login("a1").await;
    let agents = f.get("/api/v1/agents", &a1).await.expect(StatusCode::OK);
    let list = agents.json.as_array().unwrap();
    assert_eq!(list.len(), 1, "{}", agents.text);
    assert_eq!(list[0]["login"], "a1");
    assert_eq!(list[0]["state"], "logged_out");
    assert_eq!(list[0]["registered"], true);

    f.put("/api/v1/agents/a1/state", &a1, json!({"state": "ready"}))
        .await
        .expect(StatusCode::NO_CONTENT);
    let agents = f.get("/api/v1/agents", &a1).await.expect(StatusCode::OK);
    assert_eq!(agents.json[0]["state"], "ready");
    assert_eq!(agents.json[0]["queues"], json!(["cittadini"]));

    f.put(
        "/api/v1/agents/a1/state",
        &a1,
        json!({"state": "not_ready", "reason": "break"}),
    )
    .await
    .expect(StatusCode::NO_CONTENT);
    let agents = f.get("/api/v1/agents", &a1).await.expect(StatusCode::OK);
    assert_eq!(agents.json[0]["state"], "not_ready");
    assert_eq!(agents.json[0]["reason"], "break");

    // Someone else's state: 403.
    f.put("/api/v1/agents/a3/state", &a1, json!({"state": "ready"}))
        .await
        .expect(StatusCode::FORBIDDEN);
    // A state that does not exist: 422.
    f.put("/api/v1/agents/a1/state", &a1, json!({"state": "asleep"}))
        .await
        .expect(StatusCode::UNPROCESSABLE_ENTITY);
}
both!(agent_sets_own_state_and_sees_only_themselves);

async fn supervisor_sees_everyone_and_sets_states(f: Fixture) {
    let sup = f.login("sup").await;
    f.put("/api/v1/agents/a3/state", &sup, json!({"state": "ready"}))
        .await
        .expect(StatusCode::NO_CONTENT);
    let agents = f.get("/api/v1/agents", &sup).await.expect(StatusCode::OK);
    let list = agents.json.as_array().unwrap();
    assert_eq!(list.len(), 3, "{}", agents.text);
    let a3 = list.iter().find(|a| a["login"] == "a3").unwrap();
    assert_eq!(a3["state"], "ready");
    // Unknown agent: 404.
    f.put(
        "/api/v1/agents/nobody/state",
        &sup,
        json!({"state": "ready"}),
    )
    .await
    .expect(StatusCode::NOT_FOUND);

    let queues = f.get("/api/v1/queues", &sup).await.expect(StatusCode::OK);
    let list = queues.json.as_array().unwrap();
    assert_eq!(list.len(), 2, "{}", queues.text);
    let cittadini = list.iter().find(|q| q["name"] == "cittadini").unwrap();
    assert_eq!(cittadini["waiting"], 0);
    assert_eq!(cittadini["agents"]["ready"], 1);
    assert_eq!(cittadini["agents"]["available"], 1);
    assert_eq!(cittadini["agents"]["logged_out"], 1);
    assert_eq!(cittadini["answered"], 0);
}
both!(supervisor_sees_everyone_and_sets_states);

async fn agents_see_only_the_queues_they_serve(f: Fixture) {
    let a2 = f.login("a2").await;
    let queues = f.get("/api/v1/queues", &a2).await.expect(StatusCode::OK);
    let names: Vec<_> = queues
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["secondo-livello"]);
    // Not an agent of the ACD: no queues, and no agents but nobody.
    let ro = f.login("ro").await;
    let queues = f.get("/api/v1/queues", &ro).await.expect(StatusCode::OK);
    assert_eq!(queues.json, json!([]));
    f.put("/api/v1/agents/ro/state", &ro, json!({"state": "ready"}))
        .await
        .expect(StatusCode::NOT_FOUND);
    // Without a token: 401.
    f.call("GET", "/api/v1/queues", None, None)
        .await
        .expect(StatusCode::UNAUTHORIZED);
}
both!(agents_see_only_the_queues_they_serve);

async fn transfer_refuses_unknown_calls_and_calls_not_in_conversation(f: Fixture) {
    let a1 = f.login("a1").await;
    let body = json!({"queue": "secondo-livello", "note": "back office"});
    f.post("/api/v1/calls/no-such-call/transfer", &a1, body.clone())
        .await
        .expect(StatusCode::NOT_FOUND);
    // A call that exists but no agent talks on: only a supervisor may try, and the ACD says no.
    f.store
        .start_call(&crm::NewCall {
            call_id: "c-queued".into(),
            sip_call_id: None,
            caller: "+390611111111".into(),
            dialled: "800100200".into(),
            started: f.now(),
        })
        .await
        .unwrap();
    f.post("/api/v1/calls/c-queued/transfer", &a1, body.clone())
        .await
        .expect(StatusCode::FORBIDDEN);
    let sup = f.login("sup").await;
    f.post("/api/v1/calls/c-queued/transfer", &sup, body)
        .await
        .expect(StatusCode::CONFLICT);
}
both!(transfer_refuses_unknown_calls_and_calls_not_in_conversation);

async fn hold_refuses_unknown_calls_and_calls_not_in_conversation(f: Fixture) {
    let a1 = f.login("a1").await;
    f.post(
        "/api/v1/calls/no-such-call/hold",
        &a1,
        json!({"held": true}),
    )
    .await
    .expect(StatusCode::NOT_FOUND);
    f.store
        .start_call(&crm::NewCall {
            call_id: "c-waiting".into(),
            sip_call_id: None,
            caller: "+390611111112".into(),
            dialled: "800100200".into(),
            started: f.now(),
        })
        .await
        .unwrap();
    // Nobody talks on it: nothing to hold, for the agent or the supervisor.
    for who in ["a1", "sup"] {
        let token = f.login(who).await;
        f.post(
            "/api/v1/calls/c-waiting/hold",
            &token,
            json!({"held": true}),
        )
        .await
        .expect(StatusCode::CONFLICT);
    }
    // A body that is not {held: bool}: 422.
    f.post("/api/v1/calls/c-waiting/hold", &a1, json!({"held": "yes"}))
        .await
        .expect(StatusCode::UNPROCESSABLE_ENTITY);
}
both!(hold_refuses_unknown_calls_and_calls_not_in_conversation);
