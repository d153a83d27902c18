//! Announcement management (R-IVR-6): list, listen, upload with conversion, replace, delete,
//! backup and restore, who may do what, and the library handed to the calls each time.

use axum::body::Body;
use axum::http::{Request, StatusCode};

use crate::common::{Fixture, Resp, both, wav};

/// `method path` with a raw body of `content_type` as `token`'s user.
async fn raw(f: &Fixture, method: &str, path: &str, token: &str, ct: &str, body: Vec<u8>) -> Resp {
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", ct)
        .body(Body::from(body))
        .unwrap();
    f.send(req).await
}

fn names(r: &Resp) -> Vec<(String, String)> {
    r.json["prompts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                format!(
                    "{}/{}",
                    p["language"].as_str().unwrap(),
                    p["name"].as_str().unwrap()
                ),
                p["source"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

async fn upload_converts_replaces_and_reaches_the_calls(f: Fixture) {
    let adm = f.login("adm").await;
    let list = f.get("/api/v1/prompts", &adm).await.expect(StatusCode::OK);
    assert_eq!(
        names(&list),
        [
            ("it/hold_music".to_string(), "shipped".to_string()),
            ("it/welcome".to_string(), "shipped".to_string())
        ]
    );
    let welcome = &list.json["prompts"][1];
    assert_eq!(welcome["in_use_by"], serde_json::json!(["IVR tree"]));

    // A 44.1 kHz stereo upload replaces the shipped welcome, converted to 8 kHz mono.
    let r = raw(
        &f,
        "PUT",
        "/api/v1/prompts/it/welcome",
        &adm,
        "audio/wav",
        wav(44_100, 2, 1000.0, 2.0),
    )
    .await
    .expect(StatusCode::OK);
    assert_eq!(r.json["source"], "uploaded");
    let seconds = r.json["duration_s"].as_f64().unwrap();
    assert!((1.9..=2.1).contains(&seconds), "{}", r.text);
    let stored = std::fs::read(f.prompt_dir.path().join("uploaded/it/welcome.wav")).unwrap();
    assert_eq!(u16::from_le_bytes([stored[22], stored[23]]), 1, "mono");
    assert_eq!(
        u32::from_le_bytes(stored[24..28].try_into().unwrap()),
        8000,
        "8 kHz"
    );
    // The calls got the new library.
    let lib = f
        .applied
        .lock()
        .unwrap()
        .clone()
        .expect("a library was applied");
    assert!((lib.get("it", "welcome").unwrap().duration().as_secs_f64() - 2.0).abs() < 0.1);

    // Listening gives the WAV in force.
    let audio = f
        .get("/api/v1/prompts/it/welcome", &adm)
        .await
        .expect(StatusCode::OK);
    assert_eq!(audio.headers["content-type"], "audio/wav");

    // A new prompt in a known language, then deleted (nothing uses it).
    raw(
        &f,
        "PUT",
        "/api/v1/prompts/it/greeting_box2",
        &adm,
        "audio/wav",
        wav(16_000, 1, 500.0, 1.0),
    )
    .await
    .expect(StatusCode::OK);
    f.call(
        "DELETE",
        "/api/v1/prompts/it/greeting_box2",
        Some(&adm),
        None,
    )
    .await
    .expect(StatusCode::NO_CONTENT);
    // Deleting the uploaded welcome brings the shipped one back.
    f.call("DELETE", "/api/v1/prompts/it/welcome", Some(&adm), None)
        .await
        .expect(StatusCode::NO_CONTENT);
    let list = f.get("/api/v1/prompts", &adm).await.expect(StatusCode::OK);
    assert!(names(&list).contains(&("it/welcome".to_string(), "shipped".to_string())));
    // A shipped prompt itself cannot be deleted.
    let why = f
        .call("DELETE", "/api/v1/prompts/it/welcome", Some(&adm), None)
        .await
        .problem(StatusCode::CONFLICT);
    assert!(why.contains("shipped"), "{why}");

    // Every change is in the audit log, with who did it.
    let log = f.store.audit_log("prompt:it/welcome").await.unwrap();
    let actions: Vec<&str> = log.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["prompt.replace", "prompt.delete"]);
    assert!(log.iter().all(|e| e.actor.is_some()));
}
both!(upload_converts_replaces_and_reaches_the_calls);

async fn bad_uploads_and_other_roles_change_nothing(f: Fixture) {
    let adm = f.login("adm").await;
    let sup = f.login("sup").await;
    let a1 = f.login("a1").await;
    let put = "/api/v1/prompts/it/welcome";
    // Supervisors list and listen; agents do not even list.
    f.get("/api/v1/prompts", &sup).await.expect(StatusCode::OK);
    f.get("/api/v1/prompts/it/welcome", &sup)
        .await
        .expect(StatusCode::OK);
    f.get("/api/v1/prompts", &a1)
        .await
        .problem(StatusCode::FORBIDDEN);
    // Only admins change.
    raw(&f, "PUT", put, &sup, "audio/wav", wav(8000, 1, 300.0, 0.5))
        .await
        .problem(StatusCode::FORBIDDEN);
    f.get("/api/v1/prompts/backup", &sup)
        .await
        .problem(StatusCode::FORBIDDEN);
    // Not WAV, empty, a bad name, an unknown language.
    let why = raw(
        &f,
        "PUT",
        put,
        &adm,
        "audio/wav",
        b"hello, not a wav".to_vec(),
    )
    .await
    .problem(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(why.contains("not a usable WAV"), "{why}");
    raw(&f, "PUT", put, &adm, "audio/wav", Vec::new())
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY);
    raw(
        &f,
        "PUT",
        "/api/v1/prompts/it/Bad-Name",
        &adm,
        "audio/wav",
        wav(8000, 1, 300.0, 0.5),
    )
    .await
    .problem(StatusCode::UNPROCESSABLE_ENTITY);
    raw(
        &f,
        "PUT",
        "/api/v1/prompts/xx/welcome",
        &adm,
        "audio/wav",
        wav(8000, 1, 300.0, 0.5),
    )
    .await
    .problem(StatusCode::UNPROCESSABLE_ENTITY);
    // Larger than 20 MB: refused before it is read.
    raw(&f, "PUT", put, &adm, "audio/wav", vec![0; 21 * 1024 * 1024])
        .await
        .expect(StatusCode::PAYLOAD_TOO_LARGE);
    assert!(!f.prompt_dir.path().join("uploaded/it/welcome.wav").exists());
    assert!(f.applied.lock().unwrap().is_none(), "nothing was applied");
    // An uploaded-only prompt in use cannot be deleted: here `welcome` is used by the IVR,
    // so one uploaded without a shipped version stays.
    std::fs::remove_file(f.prompt_dir.path().join("shipped/it/welcome.wav")).unwrap();
    raw(&f, "PUT", put, &adm, "audio/wav", wav(8000, 1, 300.0, 0.5))
        .await
        .expect(StatusCode::OK);
    let why = f
        .call("DELETE", put, Some(&adm), None)
        .await
        .problem(StatusCode::CONFLICT);
    assert!(why.contains("IVR tree"), "{why}");
}
both!(bad_uploads_and_other_roles_change_nothing);

async fn backup_then_restore_round_trip(f: Fixture) {
    let adm = f.login("adm").await;
    raw(
        &f,
        "PUT",
        "/api/v1/prompts/it/welcome",
        &adm,
        "audio/wav",
        wav(22_050, 1, 1000.0, 1.0),
    )
    .await
    .expect(StatusCode::OK);
    let backup = f
        .get("/api/v1/prompts/backup", &adm)
        .await
        .expect(StatusCode::OK);
    assert_eq!(backup.headers["content-type"], "application/x-tar");
    // The archive of the prompts in force: the uploaded welcome, the shipped hold music.
    let bytes = {
        let req = Request::builder()
            .uri("/api/v1/prompts/backup")
            .header("authorization", format!("Bearer {adm}"))
            .body(Body::empty())
            .unwrap();
        let response = tower::ServiceExt::oneshot(f.app.clone(), req)
            .await
            .unwrap();
        http_body_util::BodyExt::collect(response.into_body())
            .await
            .unwrap()
            .to_bytes()
            .to_vec()
    };
    let mut archive = tar::Archive::new(bytes.as_slice());
    let mut entries: Vec<(String, u64)> = archive
        .entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (e.path().unwrap().to_string_lossy().into_owned(), e.size())
        })
        .collect();
    entries.sort();
    assert_eq!(entries.len(), 2, "{entries:?}");
    assert_eq!(entries[1].0, "it/welcome.wav");
    assert_eq!(entries[1].1, 44 + 2 * 8000, "the uploaded 1 s version");

    // Lose the upload, restore the archive: it is back.
    f.call("DELETE", "/api/v1/prompts/it/welcome", Some(&adm), None)
        .await
        .expect(StatusCode::NO_CONTENT);
    let r = raw(
        &f,
        "POST",
        "/api/v1/prompts/restore",
        &adm,
        "application/x-tar",
        bytes,
    )
    .await
    .expect(StatusCode::OK);
    assert_eq!(r.json["restored"], 2);
    let lib = f.applied.lock().unwrap().clone().unwrap();
    assert!((lib.get("it", "welcome").unwrap().duration().as_secs_f64() - 1.0).abs() < 0.05);

    // A damaged archive, or one with a bad entry, changes nothing.
    let mut bad = tar::Builder::new(Vec::new());
    let data = wav(8000, 1, 300.0, 0.5);
    let mut header = tar::Header::new_gnu();
    header.set_size(data.len() as u64);
    header.set_cksum();
    bad.append_data(&mut header, "it/ok_one.wav", data.as_slice())
        .unwrap();
    let junk = b"not a wav";
    let mut header = tar::Header::new_gnu();
    header.set_size(junk.len() as u64);
    header.set_cksum();
    bad.append_data(&mut header, "it/broken.wav", &junk[..])
        .unwrap();
    let why = raw(
        &f,
        "POST",
        "/api/v1/prompts/restore",
        &adm,
        "application/x-tar",
        bad.into_inner().unwrap(),
    )
    .await
    .problem(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(why.contains("it/broken.wav"), "{why}");
    assert!(
        !f.prompt_dir.path().join("uploaded/it/ok_one.wav").exists(),
        "all or nothing"
    );
}
both!(backup_then_restore_round_trip);
