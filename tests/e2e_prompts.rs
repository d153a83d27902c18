//! Announcement management end to end (R-IVR-6): an admin replaces the welcome prompt through
//! the API with a 44.1 kHz stereo recording of a 1 kHz tone; the next call hears it (the RTP
//! the server sends decodes to that tone), without a restart. Then backup → delete the
//! upload → restore brings the same prompt back, and calls hear it again.

mod common;

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use common::web::Browser;
use common::*;

/// A 16-bit PCM WAV of a `freq` Hz sine: `rate` Hz, `channels` alike.
fn wav(rate: u32, channels: u16, freq: f64, seconds: f64) -> Vec<u8> {
    let frames = (f64::from(rate) * seconds) as u32;
    let data_len = frames * u32::from(channels) * 2;
    let mut out = Vec::new();
    out.extend(b"RIFF");
    out.extend((36 + data_len).to_le_bytes());
    out.extend(b"WAVEfmt ");
    out.extend(16u32.to_le_bytes());
    out.extend(1u16.to_le_bytes());
    out.extend(channels.to_le_bytes());
    out.extend(rate.to_le_bytes());
    out.extend((rate * u32::from(channels) * 2).to_le_bytes());
    out.extend((channels * 2).to_le_bytes());
    out.extend(16u16.to_le_bytes());
    out.extend(b"data");
    out.extend(data_len.to_le_bytes());
    for i in 0..frames {
        let t = f64::from(i) / f64::from(rate);
        let v = (12000.0 * (2.0 * std::f64::consts::PI * freq * t).sin()) as i16;
        for _ in 0..channels {
            out.extend(v.to_le_bytes());
        }
    }
    out
}

/// G.711 µ-law to linear (ITU-T G.711).
fn ulaw_to_linear(byte: u8) -> i16 {
    let b = !byte;
    let sign = b & 0x80;
    let exp = (b >> 4) & 0x07;
    let mantissa = i32::from(b & 0x0f);
    let magnitude = (((mantissa << 3) + 0x84) << exp) - 0x84;
    (if sign != 0 { -magnitude } else { magnitude }) as i16
}

/// Places a call whose SDP points at a probe socket and returns 1 s of the audio the server
/// sends (PCMU decoded), skipping the first 200 ms.
fn heard(server: &Server) -> Vec<i16> {
    let probe = UdpSocket::bind("127.0.0.1:0").expect("bind RTP probe");
    probe
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let port = probe.local_addr().unwrap().port().to_string();
    let run = sipp_start(
        "uac_media_probe.xml",
        server,
        &["-key", "rtp_port", &port, "-d", "3000"],
    );
    let mut samples = Vec::new();
    let mut packets = 0;
    let deadline = Instant::now() + Duration::from_secs(8);
    let mut buf = [0u8; 2048];
    while Instant::now() < deadline && packets < 60 {
        if let Ok((n, _)) = probe.recv_from(&mut buf)
            && n > 12
            && buf[1] & 0x7f == 0
        {
            packets += 1;
            if packets > 10 {
                samples.extend(buf[12..n].iter().map(|b| ulaw_to_linear(*b)));
            }
        }
    }
    run.wait().assert_ok(server);
    assert!(
        packets >= 60,
        "only {packets} RTP packets of the prompt arrived"
    );
    samples
}

#[test]
fn a_replaced_prompt_is_heard_by_the_next_call_and_survives_backup_and_restore() {
    let config = format!(
        "[database]\ndemo_data = true\n\n{}",
        listening(0, "welcome", 30)
    );
    let server = Server::start(&config);
    let admin = server.login("admin", "demo-admin");
    let candidates = [300.0, 440.0, 600.0, 1000.0, 1500.0];

    let upload = wav(44_100, 2, 1000.0, 3.0);
    let (status, body) = server
        .http_bytes(
            "PUT",
            "/api/v1/prompts/it/welcome",
            &admin,
            "audio/wav",
            &upload,
        )
        .unwrap();
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let entry: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(entry["source"], "uploaded", "{entry}");
    assert_eq!(
        entry["in_use_by"],
        serde_json::json!(["IVR tree"]),
        "{entry}"
    );
    assert_eq!(
        dominant(&heard(&server), &candidates),
        1000.0,
        "the new welcome is heard"
    );

    // The admin page lists it as uploaded, playable, with its users.
    let page = Browser::start();
    page.login(&server, "/admin", "admin", "demo-admin", "/admin");
    page.wait_js(
        "the uploaded welcome on the admin page",
        "const r = document.querySelector('#prompts tr[data-prompt=\"it/welcome\"]'); \
         return r && r.querySelector('.source').textContent.length > 0 \
         && r.textContent.includes('IVR') \
         && !!r.querySelector('audio[src=\"/api/v1/prompts/it/welcome\"]')",
        Duration::from_secs(15),
    );
    page.screenshot("e2e_prompts", "admin-prompts");

    // Back up, delete the upload (the shipped welcome returns), restore.
    let (status, archive) = server
        .http_bytes(
            "GET",
            "/api/v1/prompts/backup",
            &admin,
            "application/octet-stream",
            b"",
        )
        .unwrap();
    assert_eq!(status, 200);
    let (status, _) = server
        .http_bytes(
            "DELETE",
            "/api/v1/prompts/it/welcome",
            &admin,
            "audio/wav",
            b"",
        )
        .unwrap();
    assert_eq!(status, 204);
    let list = server.api_get("/api/v1/prompts", &admin);
    let welcome = list["prompts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["language"] == "it" && p["name"] == "welcome")
        .cloned()
        .unwrap();
    assert_eq!(welcome["source"], "shipped", "{welcome}");
    let (status, body) = server
        .http_bytes(
            "POST",
            "/api/v1/prompts/restore",
            &admin,
            "application/x-tar",
            &archive,
        )
        .unwrap();
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(
        dominant(&heard(&server), &candidates),
        1000.0,
        "restored and heard"
    );
}

/// A WAV whose header says 1 Hz (6 MB of samples: the converter once asked for hundreds of
/// GB and the process died), or a prime rate, or 6 channels, or more data than it holds: each
/// is refused with a 422 that says why, and the server goes on serving.
#[test]
fn hostile_wav_uploads_are_refused_and_the_server_stays_up() {
    let server = Server::start("[database]\ndemo_data = true\n");
    let admin = server.login("admin", "demo-admin");
    let mut one_hz = wav(8000, 1, 440.0, 0.0);
    one_hz.extend(std::iter::repeat_n(0u8, 6 * 1024 * 1024));
    let data_len = (one_hz.len() - 44) as u32;
    one_hz[4..8].copy_from_slice(&(36 + data_len).to_le_bytes());
    one_hz[24..28].copy_from_slice(&1u32.to_le_bytes());
    one_hz[28..32].copy_from_slice(&2u32.to_le_bytes());
    one_hz[40..44].copy_from_slice(&data_len.to_le_bytes());
    let mut prime = wav(8000, 1, 440.0, 1.0);
    prime[24..28].copy_from_slice(&7919u32.to_le_bytes());
    prime[28..32].copy_from_slice(&(7919u32 * 2).to_le_bytes());
    let mut truncated = wav(16_000, 1, 440.0, 2.0);
    truncated.truncate(44 + 1000);
    for (what, upload, why) in [
        ("1 Hz", one_hz, "found 1 Hz"),
        ("7919 Hz", prime, "found 7919 Hz"),
        ("6 channels", wav(8000, 6, 440.0, 0.1), "found 6"),
        ("truncated", truncated, "the data ends after 500"),
    ] {
        let started = Instant::now();
        let (status, body) = server
            .http_bytes(
                "PUT",
                "/api/v1/prompts/it/welcome",
                &admin,
                "audio/wav",
                &upload,
            )
            .unwrap();
        let body = String::from_utf8_lossy(&body);
        assert_eq!(status, 422, "{what}: {body}");
        assert!(body.contains(why), "{what}: {body}");
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{what} took {:?}",
            started.elapsed()
        );
    }
    let (status, _) = server.http_get("/api/v1/health").unwrap();
    assert_eq!(status, 200, "the server is still up");
}
