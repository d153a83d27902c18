//! The registrar driven with fake time and hand-written REGISTERs.

use std::time::{Duration, Instant};

use rsip::Header;
use rsip::headers::UntypedHeader;

use super::*;
use crate::auth::{Algorithm, ha1, parse_digest, response_digest};
use crate::transaction::TransportKind;

const REALM: &str = "centralino";
const RURI: &str = "sip:127.0.0.1:5060";

fn config() -> RegistrarConfig {
    RegistrarConfig {
        nonce_secret: Some(b"fixed test secret".to_vec()),
        max_contacts_per_user: 3,
        ..RegistrarConfig::default()
    }
}

fn registrar() -> Registrar {
    Registrar::new(
        config(),
        Credentials::from_passwords(REALM, [("1001", "demo1001"), ("1002", "demo1002")]),
    )
}

fn source(port: u16) -> Peer {
    Peer {
        addr: format!("127.0.0.1:{port}").parse().unwrap(),
        transport: TransportKind::Udp,
    }
}

/// A phone: its identity, its Call-ID and CSeq counter, where it sends from.
struct Phone {
    user: &'static str,
    to_user: &'static str,
    password: &'static str,
    call_id: String,
    cseq: u32,
    nc: u32,
    nonce: Option<String>,
    algorithm: Algorithm,
    source: Peer,
}

impl Phone {
    fn new(user: &'static str, password: &'static str, port: u16) -> Phone {
        Phone {
            user,
            to_user: user,
            password,
            call_id: format!("reg-{user}-{port}"),
            cseq: 0,
            nc: 0,
            nonce: None,
            algorithm: Algorithm::Sha256,
            source: source(port),
        }
    }

    /// The next REGISTER with these Contact values and optional Expires header, answering
    /// the last challenge seen.
    fn request(&mut self, contacts: &[&str], expires: Option<&str>) -> rsip::Request {
        self.cseq += 1;
        let mut text = format!(
            "REGISTER {RURI} SIP/2.0\r\n\
             Via: SIP/2.0/UDP {};branch=z9hG4bK{}x{}\r\n\
             From: <sip:{}@127.0.0.1>;tag=ph{}\r\n\
             To: <sip:{}@127.0.0.1>\r\n\
             Call-ID: {}\r\n\
             CSeq: {} REGISTER\r\n\
             Max-Forwards: 70\r\n",
            self.source.addr,
            self.call_id,
            self.cseq,
            self.user,
            self.source.addr.port(),
            self.to_user,
            self.call_id,
            self.cseq
        );
        for c in contacts {
            text += &format!("Contact: {c}\r\n");
        }
        if let Some(e) = expires {
            text += &format!("Expires: {e}\r\n");
        }
        if let Some(nonce) = &self.nonce {
            self.nc += 1;
            let nc = format!("{:08x}", self.nc);
            let ha1 = ha1(self.algorithm, self.user, REALM, self.password);
            let response = response_digest(
                self.algorithm,
                &ha1,
                nonce,
                &nc,
                "abcdef",
                "auth",
                "REGISTER",
                RURI,
            );
            text += &format!(
                "Authorization: Digest username=\"{}\", realm=\"{REALM}\", nonce=\"{nonce}\", \
                 uri=\"{RURI}\", response=\"{response}\", algorithm={}, cnonce=\"abcdef\", \
                 qop=auth, nc={nc}\r\n",
                self.user, self.algorithm
            );
        }
        text += "Content-Length: 0\r\n\r\n";
        match crate::message::parse(text.as_bytes()).unwrap() {
            rsip::SipMessage::Request(r) => r,
            _ => unreachable!(),
        }
    }

    /// Sends one REGISTER; on a 401 takes the nonce of its first challenge.
    fn send(
        &mut self,
        reg: &mut Registrar,
        contacts: &[&str],
        expires: Option<&str>,
        now: Instant,
    ) -> rsip::Response {
        let request = self.request(contacts, expires);
        let resp = reg
            .handle_register(&request, &self.source, now)
            .expect("answered");
        if resp.status_code.code() == 401 {
            let challenge = challenges(&resp).remove(0);
            let p = parse_digest(&challenge).unwrap();
            self.nonce = Some(p.get("nonce").unwrap().to_string());
            self.nc = 0;
        }
        resp
    }

    /// REGISTER, answering a challenge when one comes: the final status.
    fn register(
        &mut self,
        reg: &mut Registrar,
        contacts: &[&str],
        expires: Option<&str>,
        now: Instant,
    ) -> rsip::Response {
        let resp = self.send(reg, contacts, expires, now);
        if resp.status_code.code() == 401 {
            return self.send(reg, contacts, expires, now);
        }
        resp
    }
}

fn code(resp: &rsip::Response) -> u16 {
    resp.status_code.code()
}

fn challenges(resp: &rsip::Response) -> Vec<String> {
    resp.headers
        .iter()
        .filter_map(|h| match h {
            Header::WwwAuthenticate(w) => Some(w.value().to_string()),
            _ => None,
        })
        .collect()
}

fn contacts(resp: &rsip::Response) -> Vec<String> {
    resp.headers
        .iter()
        .filter_map(|h| match h {
            Header::Contact(c) => Some(c.value().to_string()),
            _ => None,
        })
        .collect()
}

fn events(reg: &mut Registrar) -> Vec<RegistrationEvent> {
    std::iter::from_fn(|| reg.poll_event()).collect()
}

const DESK: &str = "<sip:1001@10.0.0.5:5062>";
const SOFT: &str = "<sip:1001@10.0.0.6:5064;transport=udp>";

#[test]
fn first_register_is_challenged_then_bound_and_announced() {
    let mut reg = registrar();
    let mut phone = Phone::new("1001", "demo1001", 5062);
    let t0 = Instant::now();
    let first = phone.send(&mut reg, &[DESK], Some("300"), t0);
    assert_eq!(code(&first), 401);
    let ch = challenges(&first);
    assert_eq!(ch.len(), 2);
    assert!(ch[0].contains("SHA-256") && ch[1].contains("MD5"));
    assert!(events(&mut reg).is_empty());
    let ok = phone.send(&mut reg, &[DESK], Some("300"), t0);
    assert_eq!(code(&ok), 200);
    assert_eq!(contacts(&ok), vec!["<sip:1001@10.0.0.5:5062>;expires=300"]);
    let bindings = reg.bindings("1001", t0);
    assert_eq!(bindings.len(), 1);
    assert_eq!(bindings[0].contact_uri, "sip:1001@10.0.0.5:5062");
    assert_eq!(bindings[0].source, phone.source.addr);
    assert_eq!(bindings[0].transport, TransportKind::Udp);
    assert_eq!(bindings[0].expires_at, t0 + Duration::from_secs(300));
    let ev = events(&mut reg);
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].user, "1001");
    assert!(ev[0].registered);
    assert_eq!(ev[0].bindings, bindings);
    let stats = reg.stats(t0);
    assert_eq!(
        (stats.registers, stats.challenges, stats.auth_failures),
        (2, 1, 0)
    );
    assert_eq!((stats.bindings, stats.registered_users), (1, 1));
    assert_eq!(reg.registered_users(t0), vec!["1001"]);
    assert_eq!(
        reg.binding_for_contact("SIP:1001@10.0.0.5:5062", t0),
        Some(bindings[0].clone())
    );
}

#[test]
fn md5_phones_register_too() {
    let mut reg = registrar();
    let mut phone = Phone::new("1002", "demo1002", 5070);
    phone.algorithm = Algorithm::Md5;
    let t0 = Instant::now();
    let ok = phone.register(&mut reg, &["<sip:1002@127.0.0.1:5070>"], None, t0);
    assert_eq!(code(&ok), 200);
    // No expiry asked: the default (3600).
    assert_eq!(
        contacts(&ok),
        vec!["<sip:1002@127.0.0.1:5070>;expires=3600"]
    );
}

#[test]
fn refresh_extends_the_binding_without_an_event_and_expiry_removes_it() {
    let mut reg = registrar();
    let mut phone = Phone::new("1001", "demo1001", 5062);
    let t0 = Instant::now();
    assert_eq!(
        code(&phone.register(&mut reg, &[DESK], Some("120"), t0)),
        200
    );
    events(&mut reg);
    assert_eq!(reg.poll_timeout(), Some(t0 + Duration::from_secs(120)));
    let t1 = t0 + Duration::from_secs(100);
    let refreshed = phone.register(&mut reg, &[DESK], Some("120"), t1);
    assert_eq!(code(&refreshed), 200, "same nonce, next nc");
    assert!(
        events(&mut reg).is_empty(),
        "a refresh changes nothing visible"
    );
    assert_eq!(reg.poll_timeout(), Some(t1 + Duration::from_secs(120)));
    // The old deadline passes: nothing expires.
    reg.handle_timeout(t0 + Duration::from_secs(121));
    assert_eq!(reg.bindings("1001", t0 + Duration::from_secs(121)).len(), 1);
    assert!(events(&mut reg).is_empty());
    // The new one passes: the binding goes, and the user is announced unregistered.
    let t2 = t1 + Duration::from_secs(120);
    assert!(reg.bindings("1001", t2).is_empty(), "filtered by now");
    reg.handle_timeout(t2);
    let ev = events(&mut reg);
    assert_eq!(ev.len(), 1);
    assert!(!ev[0].registered);
    assert!(ev[0].bindings.is_empty());
    assert_eq!(reg.poll_timeout(), None);
    assert_eq!(reg.stats(t2).bindings, 0);
}

#[test]
fn stale_nonce_gets_stale_true_and_is_not_a_failure() {
    let mut reg = registrar();
    let mut phone = Phone::new("1001", "demo1001", 5062);
    let t0 = Instant::now();
    assert_eq!(
        code(&phone.register(&mut reg, &[DESK], Some("3600"), t0)),
        200
    );
    let later = t0 + Duration::from_secs(1800);
    let stale = phone.send(&mut reg, &[DESK], Some("3600"), later);
    assert_eq!(code(&stale), 401);
    assert!(challenges(&stale).iter().all(|c| c.contains("stale=true")));
    assert_eq!(
        code(&phone.send(&mut reg, &[DESK], Some("3600"), later)),
        200
    );
    assert_eq!(reg.stats(later).auth_failures, 0);
}

#[test]
fn wrong_password_is_refused_counted_and_binds_nothing() {
    let mut reg = registrar();
    let mut phone = Phone::new("1001", "wrong", 5062);
    let t0 = Instant::now();
    let resp = phone.register(&mut reg, &[DESK], None, t0);
    assert_eq!(code(&resp), 401);
    assert!(
        challenges(&resp).iter().all(|c| !c.contains("stale")),
        "a wrong password is not stale"
    );
    assert_eq!(reg.stats(t0).auth_failures, 1);
    assert!(reg.bindings("1001", t0).is_empty());
    assert!(events(&mut reg).is_empty());
}

#[test]
fn replayed_register_is_a_failure() {
    let mut reg = registrar();
    let mut phone = Phone::new("1001", "demo1001", 5062);
    let t0 = Instant::now();
    phone.send(&mut reg, &[DESK], None, t0);
    let request = phone.request(&[DESK], None);
    assert_eq!(
        code(&reg.handle_register(&request, &phone.source, t0).unwrap()),
        200
    );
    // The same bytes again (a new branch would not change the digest): nc did not grow.
    let replay = reg.handle_register(&request, &source(6000), t0).unwrap();
    assert_eq!(code(&replay), 401);
    assert_eq!(reg.stats(t0).auth_failures, 1);
}

#[test]
fn a_user_cannot_register_another_users_address() {
    let mut reg = registrar();
    let mut phone = Phone::new("1002", "demo1002", 5070);
    phone.to_user = "1001";
    let t0 = Instant::now();
    assert_eq!(code(&phone.register(&mut reg, &[DESK], None, t0)), 403);
    assert!(reg.bindings("1001", t0).is_empty());
    assert!(reg.bindings("1002", t0).is_empty());
}

#[test]
fn several_contacts_and_removing_one_with_expires_zero() {
    let mut reg = registrar();
    let mut phone = Phone::new("1001", "demo1001", 5062);
    let t0 = Instant::now();
    let ok = phone.register(
        &mut reg,
        &[&format!("{DESK};expires=600"), SOFT],
        Some("300"),
        t0,
    );
    assert_eq!(code(&ok), 200);
    assert_eq!(
        contacts(&ok),
        vec![
            "<sip:1001@10.0.0.6:5064;transport=udp>;expires=300",
            "<sip:1001@10.0.0.5:5062>;expires=600",
        ]
    );
    assert_eq!(events(&mut reg).len(), 1);
    // A query (no Contact) lists them, with the time left.
    let t1 = t0 + Duration::from_secs(10);
    let query = phone.register(&mut reg, &[], None, t1);
    assert_eq!(contacts(&query).len(), 2);
    assert!(contacts(&query)[0].ends_with("expires=290"));
    assert!(events(&mut reg).is_empty());
    let removed = phone.register(&mut reg, &[&format!("{SOFT};expires=0")], None, t1);
    assert_eq!(code(&removed), 200);
    assert_eq!(
        contacts(&removed),
        vec!["<sip:1001@10.0.0.5:5062>;expires=590"]
    );
    let ev = events(&mut reg);
    assert_eq!(ev.len(), 1);
    assert!(ev[0].registered);
    assert_eq!(ev[0].bindings.len(), 1);
}

#[test]
fn wildcard_with_expires_zero_removes_all_and_needs_both() {
    let mut reg = registrar();
    let mut phone = Phone::new("1001", "demo1001", 5062);
    let t0 = Instant::now();
    phone.register(&mut reg, &[DESK, SOFT], None, t0);
    events(&mut reg);
    assert_eq!(code(&phone.register(&mut reg, &["*"], None, t0)), 400);
    assert_eq!(code(&phone.register(&mut reg, &["*"], Some("60"), t0)), 400);
    assert_eq!(
        code(&phone.register(&mut reg, &["*", DESK], Some("0"), t0)),
        400
    );
    assert_eq!(
        reg.bindings("1001", t0).len(),
        2,
        "failed requests change nothing"
    );
    let ok = phone.register(&mut reg, &["*"], Some("0"), t0);
    assert_eq!(code(&ok), 200);
    assert!(contacts(&ok).is_empty());
    assert!(reg.bindings("1001", t0).is_empty());
    let ev = events(&mut reg);
    assert_eq!(ev.len(), 1);
    assert!(!ev[0].registered);
    assert_eq!(reg.poll_timeout(), None);
}

#[test]
fn too_brief_gets_423_with_min_expires_and_too_long_is_shortened() {
    let mut reg = registrar();
    let mut phone = Phone::new("1001", "demo1001", 5062);
    let t0 = Instant::now();
    let brief = phone.register(&mut reg, &[DESK], Some("30"), t0);
    assert_eq!(code(&brief), 423);
    let min = brief.headers.iter().find_map(|h| match h {
        Header::MinExpires(m) => Some(m.value().to_string()),
        _ => None,
    });
    assert_eq!(min.as_deref(), Some("60"));
    assert!(reg.bindings("1001", t0).is_empty());
    let long = phone.register(&mut reg, &[DESK], Some("86400"), t0);
    assert_eq!(
        contacts(&long),
        vec!["<sip:1001@10.0.0.5:5062>;expires=3600"]
    );
}

#[test]
fn same_call_id_with_an_old_cseq_is_refused() {
    let mut reg = registrar();
    let mut phone = Phone::new("1001", "demo1001", 5062);
    let t0 = Instant::now();
    phone.send(&mut reg, &[DESK], None, t0);
    let older = phone.request(&[&format!("{DESK};expires=0")], None);
    // The newer one answers a second challenge (a reordered nc would be a replay first).
    phone.nonce = None;
    phone.send(&mut reg, &[DESK], None, t0);
    let newer = phone.request(&[DESK], None);
    assert_eq!(
        code(&reg.handle_register(&newer, &phone.source, t0).unwrap()),
        200
    );
    // The unregister sent first arrives last: §10.3 step 7 refuses it.
    let resp = reg.handle_register(&older, &phone.source, t0).unwrap();
    assert_eq!(code(&resp), 500);
    assert_eq!(reg.bindings("1001", t0).len(), 1);
    // Another Call-ID (the phone rebooted) may do anything.
    let mut rebooted = Phone::new("1001", "demo1001", 5062);
    rebooted.call_id = "after-reboot".into();
    let resp = rebooted.register(&mut reg, &[&format!("{DESK};expires=0")], None, t0);
    assert_eq!(code(&resp), 200);
    assert!(reg.bindings("1001", t0).is_empty());
}

#[test]
fn contact_limit_evicts_the_oldest_and_refuses_oversized_requests() {
    let mut reg = registrar();
    let mut phone = Phone::new("1001", "demo1001", 5062);
    let t0 = Instant::now();
    let uris: Vec<String> = (0..5)
        .map(|i| format!("<sip:1001@10.0.1.{i}:5060>"))
        .collect();
    let all: Vec<&str> = uris.iter().map(String::as_str).collect();
    assert_eq!(code(&phone.register(&mut reg, &all, None, t0)), 403);
    for (i, uri) in all.iter().enumerate() {
        let at = t0 + Duration::from_secs(i as u64);
        assert_eq!(code(&phone.register(&mut reg, &[uri], None, at)), 200);
    }
    let left: Vec<String> = reg
        .bindings("1001", t0 + Duration::from_secs(5))
        .into_iter()
        .map(|b| b.contact_uri)
        .collect();
    assert_eq!(left.len(), 3);
    for kept in ["10.0.1.2", "10.0.1.3", "10.0.1.4"] {
        assert!(left.iter().any(|u| u.contains(kept)), "{left:?}");
    }
}

#[test]
fn five_failures_lock_the_user_at_that_source_out_but_not_others() {
    let mut reg = registrar();
    let t0 = Instant::now();
    let mut attacker = Phone::new("1001", "guess", 7000);
    attacker.source.addr = "127.0.0.66:7000".parse().unwrap();
    attacker.send(&mut reg, &[DESK], None, t0);
    for i in 0..5 {
        let resp = attacker.send(&mut reg, &[DESK], None, t0 + Duration::from_secs(i));
        assert_eq!(code(&resp), 401, "attempt {i}");
    }
    assert_eq!(reg.stats(t0).auth_failures, 5);
    // Now even the right password for that user from that source is refused, unchallenged.
    let mut same_source = Phone::new("1001", "demo1001", 7001);
    same_source.source.addr = "127.0.0.66:7001".parse().unwrap();
    let t1 = t0 + Duration::from_secs(10);
    let resp = same_source.send(&mut reg, &[DESK], None, t1);
    assert_eq!(code(&resp), 403);
    assert!(challenges(&resp).is_empty());
    let stats = reg.stats(t1);
    assert_eq!(
        (
            stats.rate_limited,
            stats.blocked_users,
            stats.blocked_sources
        ),
        (1, 1, 0)
    );
    // The same user from another source is unaffected.
    let mut agent = Phone::new("1001", "demo1001", 5062);
    assert_eq!(code(&agent.register(&mut reg, &[DESK], None, t1)), 200);
    // After the cool-down the source may try again.
    let t2 = t0 + Duration::from_secs(5 + 300);
    reg.handle_timeout(t2);
    assert_eq!(
        code(&same_source.register(&mut reg, &[DESK], None, t2)),
        200
    );
}

/// A dual-stack socket shows an IPv4 client as `::ffff:a.b.c.d`: the lockout it earned that
/// way holds when the same host arrives over IPv4, and the other way round.
#[test]
fn a_lockout_holds_across_the_ipv4_and_ipv4_mapped_forms_of_one_address() {
    let mut reg = registrar();
    let t0 = Instant::now();
    let mut mapped = Phone::new("1001", "guess", 7000);
    mapped.source.addr = "[::ffff:127.0.0.66]:7000".parse().unwrap();
    mapped.send(&mut reg, &[DESK], None, t0);
    for i in 0..5 {
        mapped.send(&mut reg, &[DESK], None, t0 + Duration::from_secs(i));
    }
    let mut plain = Phone::new("1001", "demo1001", 7001);
    plain.source.addr = "127.0.0.66:7001".parse().unwrap();
    let t1 = t0 + Duration::from_secs(10);
    assert_eq!(code(&plain.send(&mut reg, &[DESK], None, t1)), 403);
    assert_eq!(reg.stats(t1).blocked_users, 1);
}

/// Issue 14: one phone with a wrong password behind an office NAT locked every agent's phone
/// at that address out. Another user from the same address still registers.
#[test]
fn a_locked_out_phone_does_not_lock_out_its_neighbours_behind_the_same_address() {
    let mut reg = registrar();
    let t0 = Instant::now();
    let mut misconfigured = Phone::new("1001", "old password", 5062);
    misconfigured.send(&mut reg, &[DESK], None, t0);
    for i in 0..6 {
        misconfigured.send(&mut reg, &[DESK], None, t0 + Duration::from_secs(i));
    }
    let t1 = t0 + Duration::from_secs(10);
    let mut right = Phone::new("1001", "demo1001", 5063);
    assert_eq!(code(&right.register(&mut reg, &[DESK], None, t1)), 403);
    let mut neighbour = Phone::new("1002", "demo1002", 5070);
    let resp = neighbour.register(&mut reg, &["<sip:1002@127.0.0.1:5070>"], None, t1);
    assert_eq!(
        code(&resp),
        200,
        "another agent at the same address registers"
    );
}

/// A scanner trying many user names from one address is stopped by the address limit, which
/// is higher than the user limit; other addresses are not.
#[test]
fn many_users_failing_from_one_address_lock_the_address() {
    let mut reg = Registrar::new(
        RegistrarConfig {
            max_address_failures: 12,
            ..config()
        },
        Credentials::from_passwords(REALM, [("1001", "demo1001"), ("1002", "demo1002")]),
    );
    let t0 = Instant::now();
    let scanner_ip = "127.0.0.77";
    // Three guesses each for a range of users (some exist, most do not): never five for one.
    let users = ["2000", "2001", "2002", "2003", "1001"];
    let mut failures = 0;
    'scan: for user in users {
        let mut guess = Phone::new(user, "1234", 9000);
        guess.source.addr = format!("{scanner_ip}:9000").parse().unwrap();
        guess.send(&mut reg, &[], None, t0);
        for _ in 0..3 {
            let resp = guess.send(&mut reg, &[], None, t0);
            if code(&resp) == 403 {
                break 'scan;
            }
            failures += 1;
        }
    }
    assert_eq!(failures, 12, "the twelfth failure locks the address");
    assert_eq!(reg.stats(t0).blocked_sources, 1);
    // Even a right password from there is refused now, for any user.
    let mut right = Phone::new("1002", "demo1002", 9001);
    right.source.addr = format!("{scanner_ip}:9001").parse().unwrap();
    assert_eq!(code(&right.send(&mut reg, &[], None, t0)), 403);
    // Another address is not affected.
    let mut agent = Phone::new("1002", "demo1002", 5070);
    let resp = agent.register(&mut reg, &["<sip:1002@127.0.0.1:5070>"], None, t0);
    assert_eq!(code(&resp), 200);
}

#[test]
fn new_credentials_apply_to_the_next_register() {
    let mut reg = registrar();
    let mut phone = Phone::new("1001", "demo1001", 5062);
    let t0 = Instant::now();
    assert_eq!(code(&phone.register(&mut reg, &[DESK], None, t0)), 200);
    reg.set_credentials(Credentials::from_passwords(REALM, [("1001", "changed")]));
    assert_eq!(reg.bindings("1001", t0).len(), 1, "bindings survive");
    assert_eq!(code(&phone.register(&mut reg, &[DESK], None, t0)), 401);
    phone.password = "changed";
    assert_eq!(code(&phone.register(&mut reg, &[DESK], None, t0)), 200);
}

#[test]
fn bad_contacts_are_400() {
    let mut reg = registrar();
    let mut phone = Phone::new("1001", "demo1001", 5062);
    let t0 = Instant::now();
    let resp = phone.register(&mut reg, &["<tel:+390600000001>"], None, t0);
    assert_eq!(code(&resp), 400);
    assert!(matches!(&resp.status_code, rsip::StatusCode::Other(400, r) if r == "Bad Contact"));
}

/// The shape of a response: status, header names in order, and the challenges with their
/// nonce blanked out. What an enumerator (svwar) could compare.
fn shape(resp: &rsip::Response) -> (u16, Vec<String>, Vec<String>) {
    let names = resp
        .headers
        .iter()
        .map(|h| {
            h.to_string()
                .split(':')
                .next()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    let challenges = challenges(resp)
        .into_iter()
        .map(|c| {
            let nonce = parse_digest(&c).unwrap().get("nonce").unwrap().to_string();
            c.replace(&nonce, "N")
        })
        .collect();
    (code(resp), names, challenges)
}

/// Issue 14, extension enumeration: a user that exists and one that does not are challenged
/// alike, a wrong answer for either fails alike, and both count toward the same lockouts.
#[test]
fn known_and_unknown_users_are_indistinguishable() {
    let mut reg = registrar();
    let t0 = Instant::now();
    let mut known = Phone::new("1001", "guess", 5062);
    let mut unknown = Phone::new("9999", "guess", 5064);
    let first = (
        known.send(&mut reg, &[DESK], None, t0),
        unknown.send(&mut reg, &["<sip:9999@127.0.0.1:5064>"], None, t0),
    );
    assert_eq!(shape(&first.0), shape(&first.1));
    assert_eq!(code(&first.0), 401);
    for i in 0..5 {
        let at = t0 + Duration::from_secs(i);
        let wrong = (
            known.send(&mut reg, &[DESK], None, at),
            unknown.send(&mut reg, &["<sip:9999@127.0.0.1:5064>"], None, at),
        );
        assert_eq!(shape(&wrong.0), shape(&wrong.1), "attempt {i}");
    }
    let stats = reg.stats(t0);
    assert_eq!((stats.auth_failures, stats.blocked_users), (10, 2));
    let locked = (
        known.send(&mut reg, &[DESK], None, t0),
        unknown.send(&mut reg, &["<sip:9999@127.0.0.1:5064>"], None, t0),
    );
    assert_eq!(shape(&locked.0), shape(&locked.1));
    assert_eq!(code(&locked.0), 403);
}

/// Issue 14: the challenges and refusals that REGISTERs with failed credentials cost are
/// limited per source address like those without credentials; valid credentials never are.
#[test]
fn failed_credentials_over_the_challenge_rate_get_no_answer_but_valid_ones_do() {
    let mut reg = Registrar::new(
        RegistrarConfig {
            challenge_rate: 1,
            challenge_burst: 3,
            max_failures: 100,
            max_address_failures: 100,
            ..config()
        },
        Credentials::from_passwords(REALM, [("1001", "demo1001"), ("1002", "demo1002")]),
    );
    let t0 = Instant::now();
    let mut guesser = Phone::new("1002", "guess", 5070);
    assert_eq!(code(&guesser.send(&mut reg, &[DESK], None, t0)), 401);
    let answered: Vec<Option<u16>> = (0..10)
        .map(|_| {
            let request = guesser.request(&[DESK], None);
            reg.handle_register(&request, &guesser.source, t0)
                .map(|r| code(&r))
        })
        .collect();
    assert_eq!(answered[..3], [Some(401); 3]);
    assert_eq!(answered[3..], [None; 7]);
    let stats = reg.stats(t0);
    assert_eq!(stats.auth_failures, 10, "every failure still counts");
    assert_eq!(stats.challenges_dropped, 7);
    // A phone at the same address with the right password registers at once.
    // (Its first, unauthenticated REGISTER is taken from the rate by the user agent before
    // parsing, not here.)
    let mut phone = Phone::new("1001", "demo1001", 5062);
    assert_eq!(code(&phone.register(&mut reg, &[DESK], None, t0)), 200);
    // A stale nonce's new challenge is a challenge too: none left now, one a second later.
    let later = t0 + Duration::from_secs(400);
    for _ in 0..3 {
        let request = guesser.request(&[DESK], None);
        let _ = reg.handle_register(&request, &guesser.source, later);
    }
    let request = phone.request(&[DESK], None);
    assert!(
        reg.handle_register(&request, &phone.source, later)
            .is_none()
    );
    let request = phone.request(&[DESK], None);
    let stale = reg
        .handle_register(&request, &phone.source, later + Duration::from_secs(1))
        .expect("a challenge earned back");
    assert!(challenges(&stale).iter().all(|c| c.contains("stale=true")));
}

/// Issue 14: a source in its cool-down gets its 403s within the challenge rate too.
#[test]
fn a_locked_out_source_is_answered_within_the_challenge_rate() {
    let mut reg = Registrar::new(
        RegistrarConfig {
            challenge_rate: 1,
            challenge_burst: 2,
            max_failures: 2,
            max_address_failures: 2,
            ..config()
        },
        Credentials::from_passwords(REALM, [("1001", "demo1001")]),
    );
    let t0 = Instant::now();
    let mut guesser = Phone::new("1001", "guess", 5070);
    assert_eq!(code(&guesser.send(&mut reg, &[DESK], None, t0)), 401);
    let codes: Vec<Option<u16>> = (0..4)
        .map(|_| {
            let request = guesser.request(&[DESK], None);
            reg.handle_register(&request, &guesser.source, t0)
                .map(|r| code(&r))
        })
        .collect();
    // Two failures (two challenges: the burst), then locked out: the 403s have no token left.
    assert_eq!(codes, [Some(401), Some(401), None, None]);
    let request = guesser.request(&[DESK], None);
    let refused = reg.handle_register(&request, &guesser.source, t0 + Duration::from_secs(1));
    assert_eq!(refused.map(|r| code(&r)), Some(403));
}

#[test]
fn a_closed_websocket_takes_its_bindings_and_only_those() {
    let mut reg = registrar();
    let t0 = Instant::now();
    // The browser: a JsSIP-style Contact over a WebSocket from 127.0.0.1:40000.
    let mut browser = Phone::new("1001", "demo1001", 40000);
    browser.source.transport = TransportKind::Ws;
    let ws_contact = "<sip:lcrkf7u1@1i8ld7hcb1pl.invalid;transport=ws>;+sip.ice;reg-id=1;\
                      +sip.instance=\"<urn:uuid:be2b3b59-0af1-4a0a-8f46-8a7c4a6b2ec9>\"";
    let ok = browser.register(&mut reg, &[ws_contact], Some("600"), t0);
    assert_eq!(code(&ok), 200);
    assert_eq!(
        contacts(&ok),
        vec!["<sip:lcrkf7u1@1i8ld7hcb1pl.invalid;transport=ws>;expires=600"]
    );
    // The same user's desk phone over UDP, and another user's over UDP from the same
    // address and port: a different flow (the transport differs).
    let mut desk = Phone::new("1001", "demo1001", 5062);
    assert_eq!(code(&desk.register(&mut reg, &[DESK], None, t0)), 200);
    let mut other = Phone::new("1002", "demo1002", 40000);
    let other_contact = "<sip:1002@127.0.0.1:40000>";
    assert_eq!(
        code(&other.register(&mut reg, &[other_contact], None, t0)),
        200
    );
    let ws_binding = &reg.bindings("1001", t0)[0];
    assert_eq!(ws_binding.transport, TransportKind::Ws);
    assert_eq!(ws_binding.peer(), browser.source);
    events(&mut reg);

    assert_eq!(reg.handle_flow_closed(&browser.source), 1);
    let left = reg.bindings("1001", t0);
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].contact_uri, "sip:1001@10.0.0.5:5062");
    assert_eq!(reg.bindings("1002", t0).len(), 1);
    let ev = events(&mut reg);
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].user, "1001");
    assert!(ev[0].registered, "the desk phone is still there");
    assert_eq!(reg.stats(t0).bindings, 2);
    // Nothing left on that flow: a second close changes nothing and says so.
    assert_eq!(reg.handle_flow_closed(&browser.source), 0);
    assert!(events(&mut reg).is_empty());

    // The last binding of a user going with its flow makes them unreachable.
    let mut only = Phone::new("1002", "demo1002", 40001);
    only.source.transport = TransportKind::Ws;
    reg.handle_flow_closed(&other.source);
    events(&mut reg);
    assert_eq!(
        code(&only.register(&mut reg, &["<sip:x@y.invalid;transport=ws>"], None, t0)),
        200
    );
    events(&mut reg);
    assert_eq!(reg.handle_flow_closed(&only.source), 1);
    let ev = events(&mut reg);
    assert_eq!((ev.len(), ev[0].registered), (1, false));
    assert_eq!(reg.registered_users(t0), vec!["1001"]);
    assert!(
        reg.poll_timeout().is_some(),
        "the desk's expiry is still scheduled"
    );
}

/// JsSIP and SIP.js keep only the last `WWW-Authenticate` of a 401 and answer MD5 only: over a
/// WebSocket the MD5 challenge comes last, whatever the configured order; elsewhere the
/// configured order stands (phones that answer only the first challenge).
#[test]
fn over_a_websocket_the_md5_challenge_comes_last() {
    let order = |reg: &mut Registrar, transport: TransportKind| -> Vec<String> {
        let mut phone = Phone::new("1001", "demo1001", 40100);
        phone.source.transport = transport;
        let resp = phone.send(reg, &[DESK], None, Instant::now());
        assert_eq!(code(&resp), 401);
        challenges(&resp)
            .iter()
            .map(|c| {
                parse_digest(c)
                    .unwrap()
                    .get("algorithm")
                    .unwrap()
                    .to_string()
            })
            .collect()
    };
    let mut md5_first = Registrar::new(
        RegistrarConfig {
            algorithms: vec![Algorithm::Md5, Algorithm::Sha256],
            ..config()
        },
        Credentials::from_passwords(REALM, [("1001", "demo1001")]),
    );
    assert_eq!(
        order(&mut md5_first, TransportKind::Udp),
        ["MD5", "SHA-256"]
    );
    assert_eq!(order(&mut md5_first, TransportKind::Ws), ["SHA-256", "MD5"]);
    let mut sha_first = registrar();
    assert_eq!(order(&mut sha_first, TransportKind::Ws), ["SHA-256", "MD5"]);
    // And the browser's MD5 answer to that challenge registers it.
    let mut browser = Phone::new("1001", "demo1001", 40101);
    browser.source.transport = TransportKind::Ws;
    browser.algorithm = Algorithm::Md5;
    let t0 = Instant::now();
    assert_eq!(
        code(&browser.register(&mut md5_first, &[SOFT], None, t0)),
        200
    );
}
