//! Customers: search by phone or text, audited reads, create and change, PIN never shown.

use axum::http::StatusCode;
use serde_json::json;

use crate::common::{Fixture, both};

async fn create_read_and_the_audit_trail(f: Fixture) {
    let a1 = f.login("a1").await;
    let r = f
        .post(
            "/api/v1/customers",
            &a1,
            json!({"full_name": "Mario Rossi", "email": "mario@example.org",
                   "organisation": "Comune", "phones": ["06 1234 5678"], "pin": "4321"}),
        )
        .await
        .expect(StatusCode::CREATED);
    let id = r.json["id"].as_i64().unwrap();
    assert_eq!(r.headers["location"], format!("/api/v1/customers/{id}"));
    assert_eq!(r.json["phones"], json!(["+390612345678"]));
    assert_eq!(r.json["has_pin"], true);
    assert!(!r.text.contains("4321"), "PIN leaked: {}", r.text);
    assert!(r.json.get("pin").is_none());
    let r = f
        .get(&format!("/api/v1/customers/{id}"), &a1)
        .await
        .expect(StatusCode::OK);
    assert_eq!(r.json["full_name"], "Mario Rossi");
    f.get("/api/v1/customers/9999", &a1)
        .await
        .problem(StatusCode::NOT_FOUND);
    // Who saw what (R-PLT-2): admins only.
    f.get(&format!("/api/v1/customers/{id}/audit"), &a1)
        .await
        .problem(StatusCode::FORBIDDEN);
    let sup = f.login("sup").await;
    f.get(&format!("/api/v1/customers/{id}/audit"), &sup)
        .await
        .problem(StatusCode::FORBIDDEN);
    let adm = f.login("adm").await;
    let audit = f
        .get(&format!("/api/v1/customers/{id}/audit"), &adm)
        .await
        .expect(StatusCode::OK);
    let rows: Vec<(String, String)> = audit
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["actor"].as_str().unwrap().to_string(),
                r["action"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("a1".to_string(), "create".to_string()),
            ("a1".into(), "read".into())
        ]
    );
    f.get("/api/v1/customers/9999/audit", &adm)
        .await
        .problem(StatusCode::NOT_FOUND);
}
both!(create_read_and_the_audit_trail);

async fn search_by_phone_and_text_is_audited(f: Fixture) {
    let adm = f.login("adm").await;
    for (name, phone) in [
        ("Mario Rossi", "06 1111 1111"),
        ("Anna Rossini", "06 2222 2222"),
        ("Luca Bianchi", "06 3333 3333"),
    ] {
        f.post(
            "/api/v1/customers",
            &adm,
            json!({"full_name": name, "phones": [phone]}),
        )
        .await
        .expect(StatusCode::CREATED);
    }
    let a1 = f.login("a1").await;
    let r = f
        .get("/api/v1/customers?phone=%2B390622222222", &a1)
        .await
        .expect(StatusCode::OK);
    assert_eq!(r.json.as_array().unwrap().len(), 1);
    assert_eq!(r.json[0]["full_name"], "Anna Rossini");
    let id = r.json[0]["id"].as_i64().unwrap();
    let r = f
        .get("/api/v1/customers?q=rOsSi", &a1)
        .await
        .expect(StatusCode::OK);
    let names: Vec<&str> = r
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["full_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Anna Rossini", "Mario Rossi"]);
    let r = f
        .get("/api/v1/customers?q=3333", &a1)
        .await
        .expect(StatusCode::OK);
    assert_eq!(r.json[0]["full_name"], "Luca Bianchi");
    let r = f
        .get("/api/v1/customers?q=nessuno", &a1)
        .await
        .expect(StatusCode::OK);
    assert_eq!(r.json, json!([]));
    let log = f.store.audit_log(&format!("customer:{id}")).await.unwrap();
    let reads: Vec<_> = log
        .iter()
        .filter(|e| e.action == "read")
        .map(|e| e.detail.clone().unwrap())
        .collect();
    assert_eq!(reads, ["by phone", "by search"]);
    for bad in ["", "?q=%20", "?phone=1&q=x", "?phone=abc", "?name=x"] {
        f.get(&format!("/api/v1/customers{bad}"), &a1)
            .await
            .problem(StatusCode::UNPROCESSABLE_ENTITY);
    }
}
both!(search_by_phone_and_text_is_audited);

async fn update_changes_fields_and_pin_and_supervisors_only_read(f: Fixture) {
    let a1 = f.login("a1").await;
    let r = f
        .post(
            "/api/v1/customers",
            &a1,
            json!({"full_name": "Guest", "organisation": "X", "guest": true}),
        )
        .await
        .expect(StatusCode::CREATED);
    let id = r.json["id"].as_i64().unwrap();
    let url = format!("/api/v1/customers/{id}");
    let r = f
        .call("PATCH", &url, Some(&a1), Some(json!({"full_name": "Giulia Verdi", "organisation": null,
              "email": "g@example.org", "add_phones": ["+39 333 1234567"], "known": true, "pin": "987654"})))
        .await
        .expect(StatusCode::OK);
    assert_eq!(r.json["full_name"], "Giulia Verdi");
    assert_eq!(r.json["organisation"], json!(null));
    assert_eq!(r.json["email"], "g@example.org");
    assert_eq!(r.json["guest"], false);
    assert_eq!(r.json["has_pin"], true);
    assert!(!r.text.contains("987654"));
    // Absent fields stay.
    let r = f
        .call(
            "PATCH",
            &url,
            Some(&a1),
            Some(json!({"full_name": "Giulia Verdi Neri"})),
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(r.json["email"], "g@example.org");
    // A PIN in use by someone else is a conflict; a malformed one invalid.
    let other = f
        .post("/api/v1/customers", &a1, json!({"full_name": "Altro"}))
        .await
        .expect(StatusCode::CREATED);
    let other_url = format!("/api/v1/customers/{}", other.json["id"]);
    f.call(
        "PATCH",
        &other_url,
        Some(&a1),
        Some(json!({"pin": "987654"})),
    )
    .await
    .problem(StatusCode::CONFLICT);
    f.call("PATCH", &other_url, Some(&a1), Some(json!({"pin": "12"})))
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY);
    f.call(
        "PATCH",
        "/api/v1/customers/9999",
        Some(&a1),
        Some(json!({"known": true})),
    )
    .await
    .problem(StatusCode::NOT_FOUND);
    f.post("/api/v1/customers", &a1, json!({"full_name": ""}))
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY);
    // Supervisors read the registry but do not change it.
    let sup = f.login("sup").await;
    f.get(&url, &sup).await.expect(StatusCode::OK);
    f.call("PATCH", &url, Some(&sup), Some(json!({"known": true})))
        .await
        .problem(StatusCode::FORBIDDEN);
    f.post("/api/v1/customers", &sup, json!({"full_name": "Nuovo"}))
        .await
        .problem(StatusCode::FORBIDDEN);
    let adm = f.login("adm").await;
    let audit = f
        .get(&format!("{url}/audit"), &adm)
        .await
        .expect(StatusCode::OK);
    let details: Vec<&str> = audit
        .json
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] == "change")
        .map(|r| r["detail"].as_str().unwrap())
        .collect();
    assert!(details.contains(&"pin"), "{details:?}");
    assert!(details.contains(&"organisation: X → "), "{details:?}");
    assert!(details.contains(&"guest: true → false"), "{details:?}");
}
both!(update_changes_fields_and_pin_and_supervisors_only_read);
