//! A ticket's attachments (R-VM-1: the citizen's voicemail is playable): every attachment in
//! the ticket JSON carries a `url`, served to those who may read the ticket's queue (403
//! otherwise, 404 for content that is not on this ticket), audio inline and anything else
//! as a download, `nosniff` always; each listening is written in the ticket's history.

use axum::http::StatusCode;
use base64::Engine;
use serde_json::json;

use crate::common::{Fixture, both, wav};

async fn ticket_with(
    f: &Fixture,
    token: &str,
    queue: &str,
    files: &[(&str, &str, Vec<u8>)],
) -> serde_json::Value {
    let attachments: Vec<serde_json::Value> = files
        .iter()
        .map(|(name, ct, bytes)| {
            json!({"filename": name, "content_type": ct,
                   "content_base64": base64::engine::general_purpose::STANDARD.encode(bytes)})
        })
        .collect();
    let r = f
        .post(
            "/api/v1/tickets",
            token,
            json!({"title": "messaggio in segreteria", "queue": queue, "channel": "voicemail",
                   "article": {"kind": "voicemail", "subject": "messaggio", "body": "",
                               "attachments": attachments}}),
        )
        .await
        .expect(StatusCode::CREATED);
    let number = r.json["number"].as_str().unwrap().to_string();
    f.get(&format!("/api/v1/tickets/{number}"), token)
        .await
        .expect(StatusCode::OK)
        .json
}

async fn attachments_are_served_to_readers_only(f: Fixture) {
    let a1 = f.login("a1").await;
    let audio = wav(8000, 1, 400.0, 0.05);
    let page = b"<html><script>alert(1)</script></html>".to_vec();
    let t = ticket_with(
        &f,
        &a1,
        "cittadini",
        &[
            ("messaggio.wav", "audio/wav", audio.clone()),
            ("pagina.html", "text/html", page.clone()),
        ],
    )
    .await;
    let number = t["number"].as_str().unwrap();
    let files = t["articles"][0]["attachments"].as_array().unwrap();
    let url = files[0]["url"].as_str().unwrap().to_string();
    assert_eq!(
        url,
        format!(
            "/api/v1/tickets/{number}/attachments/{}",
            files[0]["sha256"].as_str().unwrap()
        )
    );
    // A reader of cittadini hears it, inline, as audio.
    let r = f.get(&url, &a1).await.expect(StatusCode::OK);
    assert_eq!(r.headers["content-type"], "audio/wav");
    assert!(
        r.headers["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("inline; filename=\"messaggio.wav\""),
        "{:?}",
        r.headers
    );
    assert_eq!(r.headers["x-content-type-options"], "nosniff");
    let bytes = f.get_bytes(&url, &a1).await;
    assert_eq!(bytes, audio, "the caller's audio, byte for byte");
    // Anything that is not a safe type downloads as bytes, never as a page of this site.
    let html_url = files[1]["url"].as_str().unwrap();
    let r = f.get(html_url, &a1).await.expect(StatusCode::OK);
    assert_eq!(r.headers["content-type"], "application/octet-stream");
    assert!(
        r.headers["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment;")
    );
    // a2 reads cittadini too; ro reads no queue: 403; a supervisor reads everything.
    f.get(&url, &f.login("a2").await)
        .await
        .expect(StatusCode::OK);
    f.get(&url, &f.login("ro").await)
        .await
        .problem(StatusCode::FORBIDDEN);
    f.get(&url, &f.login("sup").await)
        .await
        .expect(StatusCode::OK);
    // Content that is on another ticket is not reachable through this one.
    let other = ticket_with(
        &f,
        &a1,
        "cittadini",
        &[("altro.txt", "text/plain", b"ciao".to_vec())],
    )
    .await;
    let other_sha = other["articles"][0]["attachments"][0]["sha256"]
        .as_str()
        .unwrap();
    f.get(
        &format!("/api/v1/tickets/{number}/attachments/{other_sha}"),
        &a1,
    )
    .await
    .problem(StatusCode::NOT_FOUND);
    f.get(
        &format!("/api/v1/tickets/{number}/attachments/not-a-hash"),
        &a1,
    )
    .await
    .problem(StatusCode::NOT_FOUND);
    f.get("/api/v1/tickets/000/attachments/00", &a1)
        .await
        .problem(StatusCode::NOT_FOUND);
    // Who listened is in the history.
    let t = f
        .get(&format!("/api/v1/tickets/{number}"), &a1)
        .await
        .expect(StatusCode::OK);
    let listened: Vec<(String, String)> = t.json["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["kind"] == "listened")
        .map(|h| {
            (
                h["actor"].as_str().unwrap().to_string(),
                h["new"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        listened,
        [
            ("a1".to_string(), "messaggio.wav".to_string()),
            ("a1".to_string(), "messaggio.wav".to_string()),
            ("a1".to_string(), "pagina.html".to_string()),
            ("a2".to_string(), "messaggio.wav".to_string()),
            ("sup".to_string(), "messaggio.wav".to_string()),
        ]
    );
}
both!(attachments_are_served_to_readers_only);
