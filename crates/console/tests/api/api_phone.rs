//! The browser phone's credentials (issue 17): `GET /api/v1/me/phone` gives the signed-in
//! operator their own phone's digest HA1 for the realm in force, never a password, and only
//! when their phone registers with a secret set.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::json;

use crate::common::{Fixture, Resp, both};

const PATH: &str = "/api/v1/me/phone";

/// `GET /api/v1/me/phone` as `token`'s user, the page loaded from `host`.
async fn my_phone(f: &Fixture, token: Option<&str>, host: &str) -> Resp {
    let mut b = Request::builder().uri(PATH).header("host", host);
    if let Some(t) = token {
        b = b.header("authorization", format!("Bearer {t}"));
    }
    f.send(b.body(Body::empty()).unwrap()).await
}

async fn an_agent_gets_their_own_phones_ha1_and_nothing_else(f: Fixture) {
    let adm = f.login("adm").await;
    let realm = f.store.settings().sip_realm.clone();
    // a1: a registering phone with a secret the admin chose; a3: a registering phone without
    // a secret; a2: a static phone with a secret; ro: no phone at all.
    for (login, phone) in [
        ("a1", json!({"kind": "registering"})),
        ("a3", json!({"kind": "registering"})),
        (
            "a2",
            json!({"kind": "static", "contact": "sip:a2@192.0.2.30:5060"}),
        ),
    ] {
        f.call(
            "PATCH",
            &format!("/api/v1/users/{login}"),
            Some(&adm),
            Some(json!({ "phone": phone })),
        )
        .await
        .expect(StatusCode::OK);
    }
    let secret = "segreto-del-telefono-a1";
    for login in ["a1", "a2"] {
        f.post(
            &format!("/api/v1/users/{login}/phone/secret"),
            &adm,
            json!({ "secret": secret }),
        )
        .await
        .expect(StatusCode::OK);
    }

    let a1 = f.login("a1").await;
    let r = my_phone(&f, Some(&a1), "127.0.0.1:8080")
        .await
        .expect(StatusCode::OK);
    assert_eq!(r.headers["cache-control"], "no-store");
    let ha1 = crm::credentials::ha1_md5("a1", &realm, secret);
    assert_eq!(
        r.json,
        json!({
            "login": "a1",
            "uri": "sip:a1@127.0.0.1",
            "ws_path": "/ws",
            "realm": realm,
            "ha1": ha1,
            "display_name": "Operator a1",
        })
    );
    // The MD5 HA1 of md5(login:realm:secret), computed here independently.
    assert_eq!(
        md5_hex(&format!("a1:{realm}:{secret}")),
        r.json["ha1"].as_str().unwrap()
    );
    // Never a password: neither the phone's secret nor the web password, nor the SHA-256 HA1.
    for plain in [secret, "pw-a1"] {
        assert!(!r.text.contains(plain), "{}", r.text);
    }
    assert!(
        !r.text
            .contains(&crm::credentials::ha1_sha256("a1", &realm, secret))
    );
    // The host is the page's, without its port.
    let r = my_phone(&f, Some(&a1), "desk.example.org")
        .await
        .expect(StatusCode::OK);
    assert_eq!(r.json["uri"], "sip:a1@desk.example.org");

    // No secret, a static phone, no phone, or a secret of an older realm: 404 with a reason.
    for login in ["a3", "a2", "ro"] {
        let token = f.login(login).await;
        let detail = my_phone(&f, Some(&token), "127.0.0.1:8080")
            .await
            .problem(StatusCode::NOT_FOUND);
        assert!(detail.contains("no browser phone"), "{login}: {detail}");
    }
    // Without a session: 401.
    my_phone(&f, None, "127.0.0.1:8080")
        .await
        .problem(StatusCode::UNAUTHORIZED);
    // A disabled operator's phone is not given out (their sessions end too).
    assert!(
        f.store
            .registering_phone_credential(f.a1)
            .await
            .unwrap()
            .is_some()
    );
    f.call("DELETE", "/api/v1/users/a1", Some(&adm), None)
        .await
        .expect(StatusCode::NO_CONTENT);
    assert!(
        f.store
            .registering_phone_credential(f.a1)
            .await
            .unwrap()
            .is_none()
    );
}
both!(an_agent_gets_their_own_phones_ha1_and_nothing_else);

/// RFC 1321 MD5 of `text`, lower-case hex, by the `md-5` crate directly.
fn md5_hex(text: &str) -> String {
    use md5::Digest as _;
    hex::encode(md5::Md5::digest(text.as_bytes()))
}
