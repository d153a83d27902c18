//! The site's administration (R-PLT-2, R-ACD-7): users and queues through the API, admins
//! only, every change audited and published as `site.changed`, narrowed rights ending the
//! user's sessions.

use axum::http::StatusCode;
use serde_json::json;

use crate::common::{Fixture, both};

async fn admins_create_users_and_queues_others_are_refused(f: Fixture) {
    let adm = f.login("adm").await;
    let mut events = f.bus.subscribe();
    // The contract: POST /api/v1/queues {name, …} → 201; POST /api/v1/users → 201.
    let q = f
        .post(
            "/api/v1/queues",
            &adm,
            json!({"name": "anagrafe", "announce_every_s": 30, "service_level_s": 20}),
        )
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(q.headers["location"], "/api/v1/queues/anagrafe");
    assert_eq!(q.json["takes_calls"], true);
    assert_eq!(q.json["service_level_s"], 20);
    assert_eq!(q.json["members"], json!([]));
    let u = f
        .post(
            "/api/v1/users",
            &adm,
            json!({"login": "4001", "full_name": "Lia Neri", "role": "agent_first_level",
                   "password": "password-di-lia", "queues": [{"queue": "anagrafe", "weight": 2}],
                   "permissions": [{"queue": "anagrafe", "access": "write"}],
                   "phone": {"kind": "registering"}}),
        )
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(u.headers["location"], "/api/v1/users/4001");
    assert_eq!(u.json["role"], "agent_first_level");
    assert_eq!(
        u.json["queues"],
        json!([{"queue": "anagrafe", "weight": 2}])
    );
    assert_eq!(
        u.json["permissions"],
        json!([{"queue": "anagrafe", "access": "write"}])
    );
    assert_eq!(u.json["phone"]["kind"], "registering");
    assert_eq!(u.json["phone"]["has_secret"], false);
    // The new user signs in with the web password; the queue shows its member.
    f.call(
        "POST",
        "/api/v1/session",
        None,
        Some(json!({"login": "4001", "password": "password-di-lia"})),
    )
    .await
    .expect(StatusCode::OK);
    let shown = f
        .get("/api/v1/queues/anagrafe", &adm)
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        shown.json["members"],
        json!([{"login": "4001", "weight": 2}])
    );
    // Each change went out as site.changed, by the admin.
    let mut subjects = Vec::new();
    while let Ok(e) = events.try_recv() {
        if let events::Event::SiteChanged { subject, by, .. } = e {
            assert_eq!(by, "adm");
            subjects.push(subject);
        }
    }
    assert_eq!(subjects, ["queue:anagrafe", "user:4001"]);

    // Others: 403, whatever they ask.
    for who in ["sup", "a1"] {
        let token = f.login(who).await;
        for (method, path, body) in [
            ("GET", "/api/v1/users", None),
            (
                "POST",
                "/api/v1/users",
                Some(
                    json!({"login": "x1", "full_name": "X", "role": "admin", "password": "12345678"}),
                ),
            ),
            ("GET", "/api/v1/users/4001", None),
            (
                "PATCH",
                "/api/v1/users/4001",
                Some(json!({"active": false})),
            ),
            ("DELETE", "/api/v1/users/4001", None),
            ("POST", "/api/v1/users/4001/phone/secret", None),
            ("POST", "/api/v1/queues", Some(json!({"name": "x"}))),
            ("GET", "/api/v1/queues/anagrafe", None),
            ("GET", "/api/v1/admin/queues", None),
            (
                "PATCH",
                "/api/v1/queues/anagrafe",
                Some(json!({"weight": 5})),
            ),
            ("DELETE", "/api/v1/queues/anagrafe", None),
        ] {
            f.call(method, path, Some(&token), body)
                .await
                .problem(StatusCode::FORBIDDEN);
        }
    }
    // Without a session: 401.
    f.call("GET", "/api/v1/users", None, None)
        .await
        .problem(StatusCode::UNAUTHORIZED);
}
both!(admins_create_users_and_queues_others_are_refused);

async fn bad_requests_get_clear_errors(f: Fixture) {
    let adm = f.login("adm").await;
    for body in [
        json!({"login": "bad login", "full_name": "X", "role": "admin", "password": "12345678"}),
        json!({"login": "x2", "full_name": "X", "role": "king", "password": "12345678"}),
        json!({"login": "x2", "full_name": "X", "role": "admin", "password": "short"}),
        json!({"login": "x2", "full_name": "X", "role": "admin", "password": "12345678",
               "phone": {"kind": "static"}}),
        json!({"login": "x2", "full_name": "X", "role": "admin", "password": "12345678",
               "permissions": [{"queue": "cittadini", "access": "all"}]}),
    ] {
        f.post("/api/v1/users", &adm, body.clone())
            .await
            .problem(StatusCode::UNPROCESSABLE_ENTITY);
    }
    // Unknown fields are refused (a typo never passes silently).
    let r = f
        .post(
            "/api/v1/users",
            &adm,
            json!({"login": "x2", "full_name": "X", "role": "admin", "password": "12345678", "rol": "x"}),
        )
        .await;
    assert!(r.status.is_client_error(), "{}", r.text);
    f.post(
        "/api/v1/users",
        &adm,
        json!({"login": "a1", "full_name": "X", "role": "admin", "password": "12345678"}),
    )
    .await
    .problem(StatusCode::CONFLICT);
    for body in [
        json!({"name": "Con Spazi"}),
        json!({"name": "q1", "weight": 0}),
        json!({"name": "q1", "max_wait_s": 60}),
        json!({"name": "q1", "max_wait_s": 60, "overflow": "nessuna"}),
    ] {
        f.post("/api/v1/queues", &adm, body)
            .await
            .problem(StatusCode::UNPROCESSABLE_ENTITY);
    }
    f.post("/api/v1/queues", &adm, json!({"name": "cittadini"}))
        .await
        .problem(StatusCode::CONFLICT);
    f.get("/api/v1/queues/nessuna", &adm)
        .await
        .problem(StatusCode::NOT_FOUND);
    f.get("/api/v1/users/nessuno", &adm)
        .await
        .problem(StatusCode::NOT_FOUND);
    // A queue holding tickets, and raw, cannot be deleted; an empty one can.
    let a1 = f.login("a1").await;
    f.ticket(&a1, "cittadini", "certificato").await;
    let detail = f
        .call("DELETE", "/api/v1/queues/cittadini", Some(&adm), None)
        .await
        .problem(StatusCode::CONFLICT);
    assert!(detail.contains("1 tickets"), "{detail}");
    f.call("DELETE", "/api/v1/queues/raw", Some(&adm), None)
        .await
        .problem(StatusCode::CONFLICT);
    f.post("/api/v1/queues", &adm, json!({"name": "temporanea"}))
        .await
        .expect(StatusCode::CREATED);
    f.call("DELETE", "/api/v1/queues/temporanea", Some(&adm), None)
        .await
        .expect(StatusCode::NO_CONTENT);
    // An admin cannot lock themselves out.
    f.call(
        "PATCH",
        "/api/v1/users/adm",
        Some(&adm),
        Some(json!({"active": false})),
    )
    .await
    .problem(StatusCode::CONFLICT);
    f.call("DELETE", "/api/v1/users/adm", Some(&adm), None)
        .await
        .problem(StatusCode::CONFLICT);
}
both!(bad_requests_get_clear_errors);

async fn narrowing_a_users_rights_ends_their_sessions(f: Fixture) {
    let adm = f.login("adm").await;
    let a1 = f.login("a1").await;
    f.get("/api/v1/session", &a1).await.expect(StatusCode::OK);
    // More rights: the session goes on.
    f.call(
        "PATCH",
        "/api/v1/users/a1",
        Some(&adm),
        Some(
            json!({"permissions": [{"queue": "cittadini", "access": "write"},
                                    {"queue": "imprese", "access": "write"}]}),
        ),
    )
    .await
    .expect(StatusCode::OK);
    f.get("/api/v1/session", &a1).await.expect(StatusCode::OK);
    // A permission lowered: the session ends at once.
    let r = f
        .call(
            "PATCH",
            "/api/v1/users/a1",
            Some(&adm),
            Some(
                json!({"permissions": [{"queue": "cittadini", "access": "write"},
                                        {"queue": "imprese", "access": "read"}]}),
            ),
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(r.json["permissions"][1]["access"], "read");
    f.get("/api/v1/session", &a1)
        .await
        .problem(StatusCode::UNAUTHORIZED);
    // Disabled: no session, no new login.
    let a1 = f.login("a1").await;
    f.call("DELETE", "/api/v1/users/a1", Some(&adm), None)
        .await
        .expect(StatusCode::NO_CONTENT);
    f.get("/api/v1/session", &a1)
        .await
        .problem(StatusCode::UNAUTHORIZED);
    f.call(
        "POST",
        "/api/v1/session",
        None,
        Some(json!({"login": "a1", "password": "pw-a1"})),
    )
    .await
    .problem(StatusCode::UNAUTHORIZED);
    let shown = f.get("/api/v1/users/a1", &adm).await.expect(StatusCode::OK);
    assert_eq!(shown.json["active"], false);
    // Enabled again with a new password (the admin's reset).
    f.call(
        "PATCH",
        "/api/v1/users/a1",
        Some(&adm),
        Some(json!({"active": true, "password": "nuova-password-a1"})),
    )
    .await
    .expect(StatusCode::OK);
    f.call(
        "POST",
        "/api/v1/session",
        None,
        Some(json!({"login": "a1", "password": "nuova-password-a1"})),
    )
    .await
    .expect(StatusCode::OK);
    // The audit trail names the admin for each change.
    let a1_id = f.store.user_by_login("a1").await.unwrap().unwrap().id;
    let adm_id = f.store.user_by_login("adm").await.unwrap().unwrap().id;
    let audit = f.store.audit_log(&format!("user:{a1_id}")).await.unwrap();
    let details: Vec<&str> = audit.iter().filter_map(|a| a.detail.as_deref()).collect();
    assert_eq!(
        details,
        [
            "permissions: cittadini:write, imprese:write",
            "permissions: cittadini:write, imprese:read",
            "disabled",
            "enabled",
            "password",
        ]
    );
    assert!(audit.iter().all(|a| a.actor == Some(adm_id)));
}
both!(narrowing_a_users_rights_ends_their_sessions);

async fn a_phone_gets_its_own_secret(f: Fixture) {
    let adm = f.login("adm").await;
    // No phone: no secret to set.
    f.post("/api/v1/users/a1/phone/secret", &adm, json!({}))
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY);
    f.call(
        "PATCH",
        "/api/v1/users/a1",
        Some(&adm),
        Some(json!({"phone": {"kind": "registering"}})),
    )
    .await
    .expect(StatusCode::OK);
    assert!(f.store.sip_credentials().await.unwrap().is_empty());
    // Generated when none is given, shown once, never stored in clear.
    let r = f
        .call("POST", "/api/v1/users/a1/phone/secret", Some(&adm), None)
        .await
        .expect(StatusCode::OK);
    assert_eq!(r.headers["cache-control"], "no-store");
    let secret = r.json["secret"].as_str().unwrap().to_string();
    assert_eq!(secret.len(), 20);
    let creds = f.store.sip_credentials().await.unwrap();
    assert_eq!(creds.len(), 1);
    assert_eq!(
        creds[0].ha1_md5,
        crm::credentials::ha1_md5("a1", &f.store.settings().sip_realm, &secret)
    );
    // The web password is not the phone's secret.
    assert_ne!(
        creds[0].ha1_md5,
        crm::credentials::ha1_md5("a1", &f.store.settings().sip_realm, "pw-a1")
    );
    let shown = f.get("/api/v1/users/a1", &adm).await.expect(StatusCode::OK);
    assert_eq!(shown.json["phone"]["has_secret"], true);
    assert!(!shown.text.contains(&secret));
    // Rotated by the admin with a chosen one; too short is refused.
    f.post(
        "/api/v1/users/a1/phone/secret",
        &adm,
        json!({"secret": "scelto-dall-admin"}),
    )
    .await
    .expect(StatusCode::OK);
    f.post(
        "/api/v1/users/a1/phone/secret",
        &adm,
        json!({"secret": "corto"}),
    )
    .await
    .problem(StatusCode::UNPROCESSABLE_ENTITY);
    // A static phone; then none (the secret goes with it).
    let r = f
        .call(
            "PATCH",
            "/api/v1/users/a1",
            Some(&adm),
            Some(json!({"phone": {"kind": "static", "contact": "sip:a1@192.0.2.30:5060"}})),
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(r.json["phone"]["contact"], "sip:a1@192.0.2.30:5060");
    let r = f
        .call(
            "PATCH",
            "/api/v1/users/a1",
            Some(&adm),
            Some(json!({"phone": null})),
        )
        .await
        .expect(StatusCode::OK);
    assert!(r.json["phone"].is_null());
    assert!(f.store.sip_credentials().await.unwrap().is_empty());
}
both!(a_phone_gets_its_own_secret);

async fn queue_settings_change_and_clear(f: Fixture) {
    let adm = f.login("adm").await;
    f.post("/api/v1/queues", &adm, json!({"name": "anagrafe"}))
        .await
        .expect(StatusCode::CREATED);
    let r = f
        .call(
            "PATCH",
            "/api/v1/queues/anagrafe",
            Some(&adm),
            Some(json!({"max_wait_s": 90, "overflow": "cittadini", "weight": 3})),
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(r.json["overflow"], "cittadini");
    assert_eq!(r.json["weight"], 3);
    // Another queue overflows into cittadini's neighbour: cittadini cannot go while so.
    let r = f
        .call(
            "PATCH",
            "/api/v1/queues/anagrafe",
            Some(&adm),
            Some(json!({"max_wait_s": null, "overflow": null})),
        )
        .await
        .expect(StatusCode::OK);
    assert!(r.json["overflow"].is_null() && r.json["max_wait_s"].is_null());
    assert_eq!(r.json["weight"], 3, "what is absent stays");
    f.call(
        "PATCH",
        "/api/v1/queues/anagrafe",
        Some(&adm),
        Some(json!({"overflow": "voicemail:main"})),
    )
    .await
    .problem(StatusCode::UNPROCESSABLE_ENTITY);
    let audit = f.store.audit_log("queue:anagrafe").await.unwrap();
    assert_eq!(audit.len(), 3);
}
both!(queue_settings_change_and_clear);

async fn admins_list_every_queue_those_without_calls_included(f: Fixture) {
    let adm = f.login("adm").await;
    // A queue for written requests only: the ACD's live list does not name it.
    f.post(
        "/api/v1/queues",
        &adm,
        json!({"name": "protocollo", "takes_calls": false}),
    )
    .await
    .expect(StatusCode::CREATED);
    let live = f.get("/api/v1/queues", &adm).await.expect(StatusCode::OK);
    let live: Vec<&str> = live
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["name"].as_str().unwrap())
        .collect();
    assert!(!live.contains(&"protocollo"), "{live:?}");
    let all = f
        .get("/api/v1/admin/queues", &adm)
        .await
        .expect(StatusCode::OK);
    let all = all.json.as_array().unwrap();
    let names: Vec<&str> = all.iter().map(|q| q["name"].as_str().unwrap()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "by name");
    for name in live.iter().chain([&"protocollo"]) {
        assert!(names.contains(name), "{name} in {names:?}");
    }
    let written = all.iter().find(|q| q["name"] == "protocollo").unwrap();
    assert_eq!(written["takes_calls"], false);
    assert_eq!(written["members"], json!([]));
}
both!(admins_list_every_queue_those_without_calls_included);
