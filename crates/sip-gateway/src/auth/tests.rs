//! Digest computation against the RFCs' worked examples, and verification with fake time.

use std::time::{Duration, Instant};

use super::*;

#[test]
fn rfc2617_section_3_5_md5_example() {
    let ha1 = ha1(
        Algorithm::Md5,
        "Mufasa",
        "testrealm@host.com",
        "Circle Of Life",
    );
    let response = response_digest(
        Algorithm::Md5,
        &ha1,
        "dcd98b7102dd2f0e8b11d0f600bfb0c093",
        "00000001",
        "0a4f113b",
        "auth",
        "GET",
        "/dir/index.html",
    );
    assert_eq!(response, "6629fae49393a05397450978507c4ef1");
}

#[test]
fn rfc7616_section_3_9_1_sha256_and_md5_examples() {
    let realm = "http-auth@example.org";
    let nonce = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";
    let cnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";
    let secrets = UserHa1::from_password("Mufasa", realm, "Circle of Life");
    let expect = [
        (
            Algorithm::Sha256,
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
        ),
        (Algorithm::Md5, "8ca523f5e9506fed4657c9700eebdbec"),
    ];
    for (alg, want) in expect {
        let got = response_digest(
            alg,
            secrets.get(alg),
            nonce,
            "00000001",
            cnonce,
            "auth",
            "GET",
            "/dir/index.html",
        );
        assert_eq!(got, want, "{alg}");
    }
}

const REALM: &str = "centralino";
const URI: &str = "sip:127.0.0.1:5060";

fn auth() -> DigestAuth {
    DigestAuth::new(REALM, Duration::from_secs(300), b"test secret")
}

fn creds() -> Credentials {
    Credentials::from_passwords(REALM, [("1001", "demo1001"), ("1002", "demo1002")])
}

/// The nonce of a challenge value.
pub(crate) fn nonce_of(challenge: &str) -> String {
    let p = parse_digest(challenge).unwrap();
    p.get("nonce").unwrap().to_string()
}

/// An `Authorization` a phone would send, answering `nonce` with `password`.
pub(crate) fn answer(
    alg: Algorithm,
    user: &str,
    password: &str,
    nonce: &str,
    nc: u32,
    method: &str,
    uri: &str,
) -> String {
    let ha1 = ha1(alg, user, REALM, password);
    let nc = format!("{nc:08x}");
    let response = response_digest(alg, &ha1, nonce, &nc, "c0ffee", "auth", method, uri);
    format!(
        "Digest username=\"{user}\", realm=\"{REALM}\", nonce=\"{nonce}\", uri=\"{uri}\", \
         response=\"{response}\", algorithm={alg}, cnonce=\"c0ffee\", qop=auth, nc={nc}"
    )
}

#[test]
fn challenge_offers_sha256_then_md5_with_one_nonce() {
    let mut a = auth();
    let t0 = Instant::now();
    let values = a.challenge(false, t0);
    assert_eq!(values.len(), 2);
    assert!(values[0].contains("algorithm=SHA-256"), "{}", values[0]);
    assert!(values[1].contains("algorithm=MD5"), "{}", values[1]);
    assert!(values[0].contains("realm=\"centralino\""));
    assert!(values[0].contains("qop=\"auth\""));
    assert!(!values[0].contains("stale"));
    assert_eq!(nonce_of(&values[0]), nonce_of(&values[1]));
    assert_eq!(nonce_of(&values[0]).len(), 64);
    assert!(a.challenge(true, t0)[1].ends_with("stale=true"));
}

#[test]
fn both_algorithms_verify_with_fresh_nonces() {
    let mut a = auth();
    let t0 = Instant::now();
    for alg in [Algorithm::Sha256, Algorithm::Md5] {
        let nonce = nonce_of(&a.challenge(false, t0)[0]);
        let h = answer(alg, "1001", "demo1001", &nonce, 1, "REGISTER", URI);
        assert_eq!(
            a.verify("REGISTER", URI, &h, &creds(), t0 + Duration::from_secs(1)),
            Ok("1001".to_string())
        );
    }
}

#[test]
fn wrong_password_unknown_user_and_tampering_fail() {
    let mut a = auth();
    let t0 = Instant::now();
    let nonce = a.issue_nonce(t0);
    let c = creds();
    let wrong = answer(Algorithm::Md5, "1001", "nope", &nonce, 1, "REGISTER", URI);
    assert_eq!(
        a.verify("REGISTER", URI, &wrong, &c, t0),
        Err(AuthFailure::WrongResponse)
    );
    let unknown = answer(Algorithm::Md5, "9999", "x", &nonce, 1, "REGISTER", URI);
    assert_eq!(
        a.verify("REGISTER", URI, &unknown, &c, t0),
        Err(AuthFailure::UnknownUser)
    );
    // Signed for INVITE, replayed on REGISTER: H(A2) differs.
    let other_method = answer(Algorithm::Md5, "1001", "demo1001", &nonce, 1, "INVITE", URI);
    assert_eq!(
        a.verify("REGISTER", URI, &other_method, &c, t0),
        Err(AuthFailure::WrongResponse)
    );
    let other_uri = answer(
        Algorithm::Md5,
        "1001",
        "demo1001",
        &nonce,
        1,
        "REGISTER",
        "sip:x",
    );
    assert!(matches!(
        a.verify("REGISTER", URI, &other_uri, &c, t0),
        Err(AuthFailure::UriMismatch { .. })
    ));
    let no_qop = "Digest username=\"1001\", realm=\"centralino\", nonce=\"n\", uri=\"sip:x\", \
                  response=\"00\"";
    assert!(matches!(
        a.verify("REGISTER", URI, no_qop, &c, t0),
        Err(AuthFailure::UnsupportedQop(_))
    ));
    let sess = answer(
        Algorithm::Md5,
        "1001",
        "demo1001",
        &nonce,
        1,
        "REGISTER",
        URI,
    )
    .replace("algorithm=MD5", "algorithm=MD5-sess");
    assert!(matches!(
        a.verify("REGISTER", URI, &sess, &c, t0),
        Err(AuthFailure::UnsupportedAlgorithm(_))
    ));
    let realm = answer(
        Algorithm::Md5,
        "1001",
        "demo1001",
        &nonce,
        1,
        "REGISTER",
        URI,
    )
    .replace("realm=\"centralino\"", "realm=\"other\"");
    assert!(matches!(
        a.verify("REGISTER", URI, &realm, &c, t0),
        Err(AuthFailure::WrongRealm { .. })
    ));
}

#[test]
fn expired_or_foreign_nonce_with_a_right_answer_is_stale() {
    let mut a = auth();
    let t0 = Instant::now();
    let nonce = a.issue_nonce(t0);
    let c = creds();
    let h = answer(
        Algorithm::Sha256,
        "1001",
        "demo1001",
        &nonce,
        1,
        "REGISTER",
        URI,
    );
    let late = t0 + Duration::from_secs(301);
    assert_eq!(
        a.verify("REGISTER", URI, &h, &c, late),
        Err(AuthFailure::Stale)
    );
    // A wrong answer on an old nonce is a failure, not a stale nonce.
    let wrong = answer(Algorithm::Sha256, "1001", "bad", &nonce, 1, "REGISTER", URI);
    assert_eq!(
        a.verify("REGISTER", URI, &wrong, &c, late),
        Err(AuthFailure::WrongResponse)
    );
    // A nonce signed under another secret (a previous run) is stale too.
    let mut before_restart = DigestAuth::new(REALM, Duration::from_secs(300), b"old secret");
    let old = before_restart.issue_nonce(t0);
    let h = answer(Algorithm::Md5, "1001", "demo1001", &old, 1, "REGISTER", URI);
    assert_eq!(
        a.verify("REGISTER", URI, &h, &c, t0),
        Err(AuthFailure::Stale)
    );
    // A forged nonce (time moved forward, MAC kept) as well.
    let mut forged = hex::decode(&nonce).unwrap();
    forged[0] ^= 1;
    let h = answer(
        Algorithm::Md5,
        "1001",
        "demo1001",
        &hex::encode(forged),
        1,
        "REGISTER",
        URI,
    );
    assert_eq!(
        a.verify("REGISTER", URI, &h, &c, t0),
        Err(AuthFailure::Stale)
    );
}

#[test]
fn replayed_nc_is_refused_and_a_higher_nc_accepted() {
    let mut a = auth();
    let t0 = Instant::now();
    let nonce = a.issue_nonce(t0);
    let c = creds();
    let first = answer(
        Algorithm::Md5,
        "1002",
        "demo1002",
        &nonce,
        1,
        "REGISTER",
        URI,
    );
    assert!(a.verify("REGISTER", URI, &first, &c, t0).is_ok());
    assert_eq!(
        a.verify("REGISTER", URI, &first, &c, t0),
        Err(AuthFailure::Replay { nc: 1, last: 1 })
    );
    let second = answer(
        Algorithm::Md5,
        "1002",
        "demo1002",
        &nonce,
        2,
        "REGISTER",
        URI,
    );
    assert!(a.verify("REGISTER", URI, &second, &c, t0).is_ok());
    assert_eq!(a.tracked_nonces(), 1);
    a.handle_timeout(t0 + Duration::from_secs(301));
    assert_eq!(a.tracked_nonces(), 0, "expired nonces are forgotten");
}

#[test]
fn algorithms_can_be_restricted_for_legacy_phones() {
    let mut a = auth().with_algorithms(&[Algorithm::Md5]);
    let t0 = Instant::now();
    let values = a.challenge(false, t0);
    assert_eq!(values.len(), 1);
    assert!(values[0].contains("algorithm=MD5"));
    let nonce = nonce_of(&values[0]);
    let sha = answer(
        Algorithm::Sha256,
        "1001",
        "demo1001",
        &nonce,
        1,
        "REGISTER",
        URI,
    );
    assert!(matches!(
        a.verify("REGISTER", URI, &sha, &creds(), t0),
        Err(AuthFailure::UnsupportedAlgorithm(_))
    ));
    let md5 = answer(
        Algorithm::Md5,
        "1001",
        "demo1001",
        &nonce,
        1,
        "REGISTER",
        URI,
    );
    assert!(a.verify("REGISTER", URI, &md5, &creds(), t0).is_ok());
}

#[test]
fn credentials_debug_hides_secrets() {
    let text = format!("{:?}", creds());
    assert!(text.contains("1001"));
    assert!(!text.contains(&ha1(Algorithm::Md5, "1001", REALM, "demo1001")));
}
