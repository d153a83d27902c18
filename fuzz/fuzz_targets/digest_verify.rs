//! Digest verification (RFC 7616 as used by RFC 3261 §22): `parse_digest` and
//! `DigestAuth::verify` on a fuzzed `Authorization` value. The placeholder `NONCE` in the
//! input is replaced by a nonce the verifier really issued, so the fuzzer reaches the checks
//! past the nonce (response, nc replay, stale). A success must name a known user.

#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use sip_gateway::auth::{Algorithm, Credentials, DigestAuth, ha1, parse_digest, response_digest};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = parse_digest(text);
    let t0 = Instant::now();
    let mut auth = DigestAuth::new("centralino", Duration::from_secs(300), b"fuzz secret")
        .with_algorithms(&[Algorithm::Sha256, Algorithm::Md5]);
    let credentials = Credentials::from_passwords("centralino", [("1001", "demo1001")]);
    let nonce = auth.issue_nonce(t0);
    let mut value = text.replace("NONCE", &nonce);
    let uri = "sip:127.0.0.1:5060";
    // `RESPONSE` becomes the right answer for the parameters given, so success, replay and
    // stale nonces are reached too.
    if value.contains("RESPONSE")
        && let Ok(p) = parse_digest(&value)
    {
        let algorithm = p
            .get("algorithm")
            .and_then(Algorithm::from_token)
            .unwrap_or(Algorithm::Md5);
        let user = p.get("username").unwrap_or("1001");
        let right = response_digest(
            algorithm,
            &ha1(algorithm, user, "centralino", "demo1001"),
            p.get("nonce").unwrap_or(""),
            p.get("nc").unwrap_or(""),
            p.get("cnonce").unwrap_or(""),
            p.get("qop").unwrap_or(""),
            "REGISTER",
            p.get("uri").unwrap_or(uri),
        );
        value = value.replace("RESPONSE", &right);
    }
    for at in [t0, t0, t0 + Duration::from_secs(400)] {
        if let Ok(user) = auth.verify("REGISTER", uri, &value, &credentials, at) {
            assert!(credentials.get(&user).is_some(), "authenticated an unknown user");
        }
    }
    let _ = auth.challenge(true, t0);
    auth.handle_timeout(t0 + Duration::from_secs(1000));
});
