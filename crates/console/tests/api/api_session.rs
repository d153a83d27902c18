//! Sessions: login, 401s, idle expiry on the fake clock, logout, cookie auth with CSRF.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::TimeDelta;
use serde_json::json;

use crate::common::{Fixture, both, t0};

async fn login_returns_a_token_csrf_token_and_cookie(f: Fixture) {
    let r = f
        .call(
            "POST",
            "/api/v1/session",
            None,
            Some(json!({"login": "a1", "password": "pw-a1"})),
        )
        .await
        .expect(StatusCode::OK);
    let token = r.json["token"].as_str().unwrap();
    assert_eq!(token.len(), 64, "256 bits in hex");
    assert_eq!(r.json["csrf_token"].as_str().unwrap().len(), 32);
    assert_eq!(r.json["user"]["login"], "a1");
    assert_eq!(r.json["user"]["roles"], json!(["agent_first_level"]));
    let expires: chrono::DateTime<chrono::Utc> =
        r.json["expires_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(expires, t0() + TimeDelta::hours(8));
    let cookie = r.headers["set-cookie"].to_str().unwrap();
    assert!(
        cookie.starts_with(&format!("centralino_session={token};")),
        "{cookie}"
    );
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert_eq!(r.headers["cache-control"], "no-store");
    let me = f.get("/api/v1/session", token).await.expect(StatusCode::OK);
    assert_eq!(me.json["user"]["login"], "a1");
    assert_eq!(me.json["via_cookie"], false);
}
both!(login_returns_a_token_csrf_token_and_cookie);

async fn wrong_password_and_unknown_login_get_the_same_401(f: Fixture) {
    let wrong = f
        .call(
            "POST",
            "/api/v1/session",
            None,
            Some(json!({"login": "a1", "password": "nope"})),
        )
        .await;
    let unknown = f
        .call(
            "POST",
            "/api/v1/session",
            None,
            Some(json!({"login": "nobody", "password": "nope"})),
        )
        .await;
    assert!(
        wrong.headers["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
    assert_eq!(wrong.text, unknown.text);
    let detail = wrong.problem(StatusCode::UNAUTHORIZED);
    assert_eq!(detail, "wrong login or password");
    unknown.problem(StatusCode::UNAUTHORIZED);
    // A body without a password is a validation error, not a login attempt.
    f.call(
        "POST",
        "/api/v1/session",
        None,
        Some(json!({"login": "a1"})),
    )
    .await
    .problem(StatusCode::UNPROCESSABLE_ENTITY);
}
both!(wrong_password_and_unknown_login_get_the_same_401);

async fn missing_or_unknown_tokens_are_401_with_a_bearer_challenge(f: Fixture) {
    let r = f.call("GET", "/api/v1/tickets", None, None).await;
    assert_eq!(r.headers["www-authenticate"], "Bearer realm=\"centralino\"");
    r.problem(StatusCode::UNAUTHORIZED);
    let r = f.get("/api/v1/tickets", &"0".repeat(64)).await;
    assert!(
        r.headers["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("error=\"invalid_token\"")
    );
    r.problem(StatusCode::UNAUTHORIZED);
}
both!(missing_or_unknown_tokens_are_401_with_a_bearer_challenge);

async fn sessions_expire_after_eight_idle_hours(f: Fixture) {
    let token = f.login("a1").await;
    f.advance(TimeDelta::hours(3));
    f.get("/api/v1/session", &token)
        .await
        .expect(StatusCode::OK);
    // Unused from 3 h to 11 h: dead, before its absolute end at 12 h.
    f.advance(TimeDelta::hours(8));
    f.get("/api/v1/session", &token)
        .await
        .problem(StatusCode::UNAUTHORIZED);
}
both!(sessions_expire_after_eight_idle_hours);

async fn busy_sessions_end_twelve_hours_after_login(f: Fixture) {
    let token = f.login("a1").await;
    // Used every four hours, so never idle for long: alive until login + 12 h.
    for _ in 0..2 {
        f.advance(TimeDelta::hours(4));
        f.get("/api/v1/session", &token)
            .await
            .expect(StatusCode::OK);
    }
    f.advance(TimeDelta::hours(4) - TimeDelta::seconds(1));
    f.get("/api/v1/session", &token)
        .await
        .expect(StatusCode::OK);
    f.advance(TimeDelta::seconds(1));
    f.get("/api/v1/session", &token)
        .await
        .problem(StatusCode::UNAUTHORIZED);
    // A new login opens a new twelve hours.
    let again = f.login("a1").await;
    f.get("/api/v1/session", &again)
        .await
        .expect(StatusCode::OK);
}
both!(busy_sessions_end_twelve_hours_after_login);

async fn logout_ends_the_session(f: Fixture) {
    let token = f.login("a1").await;
    let other = f.login("a1").await;
    let r = f
        .call("DELETE", "/api/v1/session", Some(&token), None)
        .await
        .expect(StatusCode::NO_CONTENT);
    assert!(
        r.headers["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    f.get("/api/v1/session", &token)
        .await
        .problem(StatusCode::UNAUTHORIZED);
    // Another session of the same user lives on.
    f.get("/api/v1/session", &other)
        .await
        .expect(StatusCode::OK);
}
both!(logout_ends_the_session);

fn cookie_request(method: &str, path: &str, token: &str, csrf: Option<&str>) -> Request<Body> {
    let mut b = Request::builder()
        .method(method)
        .uri(path)
        .header("cookie", format!("theme=dark; centralino_session={token}"))
        .header("content-type", "application/json");
    if let Some(c) = csrf {
        b = b.header("x-csrf-token", c);
    }
    b.body(Body::from(
        json!({"title": "via cookie", "queue": "cittadini"}).to_string(),
    ))
    .unwrap()
}

async fn cookie_sessions_need_the_csrf_token_to_change_things(f: Fixture) {
    let r = f
        .call(
            "POST",
            "/api/v1/session",
            None,
            Some(json!({"login": "a1", "password": "pw-a1"})),
        )
        .await
        .expect(StatusCode::OK);
    let token = r.json["token"].as_str().unwrap().to_string();
    let csrf = r.json["csrf_token"].as_str().unwrap().to_string();
    // Reads need no CSRF token.
    let me = f
        .send(cookie_request("GET", "/api/v1/session", &token, None))
        .await
        .expect(StatusCode::OK);
    assert_eq!(me.json["via_cookie"], true);
    // Writes do.
    let detail = f
        .send(cookie_request("POST", "/api/v1/tickets", &token, None))
        .await
        .problem(StatusCode::FORBIDDEN);
    assert!(detail.contains("X-CSRF-Token"), "{detail}");
    f.send(cookie_request(
        "POST",
        "/api/v1/tickets",
        &token,
        Some(&"f".repeat(32)),
    ))
    .await
    .problem(StatusCode::FORBIDDEN);
    f.send(cookie_request("DELETE", "/api/v1/session", &token, None))
        .await
        .problem(StatusCode::FORBIDDEN);
    f.send(cookie_request(
        "POST",
        "/api/v1/tickets",
        &token,
        Some(&csrf),
    ))
    .await
    .expect(StatusCode::CREATED);
    // The bearer header needs none.
    f.post(
        "/api/v1/tickets",
        &token,
        json!({"title": "via bearer", "queue": "cittadini"}),
    )
    .await
    .expect(StatusCode::CREATED);
}
both!(cookie_sessions_need_the_csrf_token_to_change_things);
