//! The registrar against real peers on loopback: SIPp registers with digest authentication
//! (`tests/sipp/register_digest.xml`), refreshes and unregisters; a wrong password is refused
//! and counted (`tests/sipp/register_wrong_password.xml`); and a hand-made phone "behind NAT"
//! registers and then receives our INVITE at the address it registered from.

use std::net::UdpSocket;
use std::path::PathBuf;
use std::process::{Output, Stdio};
use std::time::Duration;

use sip_gateway::auth::{Algorithm, Credentials, ha1, parse_digest, response_digest};
use sip_gateway::gateway::{Gateway, GatewayConfig};
use sip_gateway::registrar::{RegistrarConfig, RegistrationEvent};
use sip_gateway::transaction::{Peer, TransportKind};
use sip_gateway::ua::{OutgoingCall, UaEvent, UserAgentConfig};
use tokio::sync::broadcast;

fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn scenario(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/sipp")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

/// A gateway with the registrar on, challenging with `algorithms`.
async fn start_gateway(
    algorithms: &[Algorithm],
) -> (Gateway, tokio::sync::mpsc::UnboundedReceiver<UaEvent>) {
    Gateway::start(GatewayConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        ua: UserAgentConfig {
            registrar: Some(RegistrarConfig {
                algorithms: algorithms.to_vec(),
                ..RegistrarConfig::default()
            }),
            credentials: Credentials::from_passwords(
                "centralino",
                [("1001", "demo1001"), ("1002", "demo1002")],
            ),
            ..UserAgentConfig::default()
        },
    })
    .await
    .unwrap()
}

/// Runs one SIPp client scenario against the gateway and returns its output.
async fn run_sipp(gateway: &Gateway, scenario_file: &str, port: u16, extra: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let child = tokio::process::Command::new("sipp")
        .arg(gateway.local_addr().to_string())
        .args(["-sf", &scenario(scenario_file), "-s", "1001"])
        .args(["-i", "127.0.0.1", "-p", &port.to_string()])
        .args(extra)
        .args(["-m", "1", "-nostdin", "-timeout", "20s", "-timeout_error"])
        .args(["-trace_err"])
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("sipp is required (scripts/install-test-deps.sh installs it)");
    let output = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("sipp finishes its scenario")
        .unwrap();
    let errors = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with("_errors.log"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .collect::<String>();
    assert!(
        output.status.success(),
        "sipp {scenario_file} failed: {}\n{errors}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

async fn next_registration(rx: &mut broadcast::Receiver<RegistrationEvent>) -> RegistrationEvent {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("a registration event within 10 s")
        .expect("gateway running")
}

#[tokio::test]
async fn sipp_registers_with_digest_refreshes_and_unregisters() {
    // SIPp 3.6.1 reads only the first WWW-Authenticate and knows only MD5 ("createAuthHeader:
    // authentication must use MD5 or AKAv1-MD5" when SHA-256 comes first).
    let (gateway, _events) = start_gateway(&[Algorithm::Md5]).await;
    let mut registrations = gateway.subscribe_registrations();
    let port = free_udp_port();
    run_sipp(
        &gateway,
        "register_digest.xml",
        port,
        &[
            "-au",
            "1001",
            "-ap",
            "demo1001",
            "-key",
            "contact_host",
            "10.0.0.5",
        ],
    )
    .await;

    let registered = next_registration(&mut registrations).await;
    assert_eq!(registered.user, "1001");
    assert!(registered.registered);
    let [binding] = registered.bindings.as_slice() else {
        panic!("one binding: {registered:?}")
    };
    assert_eq!(binding.contact_uri, format!("sip:1001@10.0.0.5:{port}"));
    assert_eq!(
        binding.source,
        format!("127.0.0.1:{port}").parse().unwrap(),
        "the binding remembers where the REGISTER came from"
    );
    assert_eq!(binding.transport, TransportKind::Udp);
    // The refresh changed nothing visible; the unregistration is the next event.
    let unregistered = next_registration(&mut registrations).await;
    assert!(!unregistered.registered);
    assert!(unregistered.bindings.is_empty());
    assert!(gateway.bindings("1001").await.is_empty());
    assert!(gateway.registered_users().await.is_empty());

    let stats = gateway.stats().await.unwrap();
    assert_eq!(stats.auth_failures, 0);
    let registrar = stats.registrar.expect("registrar enabled");
    assert_eq!(registrar.registers, 6, "three challenged REGISTERs");
    assert_eq!(registrar.challenges, 3);
}

#[tokio::test]
async fn sipp_with_a_wrong_password_gets_401_again_and_is_counted() {
    let (gateway, _events) = start_gateway(&[Algorithm::Md5]).await;
    let mut registrations = gateway.subscribe_registrations();
    run_sipp(
        &gateway,
        "register_wrong_password.xml",
        free_udp_port(),
        &["-au", "1001", "-ap", "not-the-password"],
    )
    .await;
    let stats = gateway.stats().await.unwrap();
    assert_eq!(stats.auth_failures, 1);
    assert_eq!(stats.registrar.unwrap().auth_failures, 1);
    assert!(gateway.bindings("1001").await.is_empty());
    assert!(matches!(
        registrations.try_recv(),
        Err(broadcast::error::TryRecvError::Empty)
    ));
}

/// A phone whose Contact names a private address it cannot be reached on: registers, then
/// our INVITE must reach the socket the REGISTER came from.
#[tokio::test]
async fn a_call_to_a_registered_phone_reaches_the_address_it_registered_from() {
    // The default: SHA-256 and MD5 challenges in one 401; this phone picks MD5.
    let (gateway, _events) = start_gateway(&[Algorithm::Sha256, Algorithm::Md5]).await;
    let phone = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let local = phone.local_addr().unwrap();
    let server = gateway.local_addr();
    let ruri = format!("sip:{server}");
    let register = |cseq: u32, auth: &str| {
        format!(
            "REGISTER {ruri} SIP/2.0\r\n\
             Via: SIP/2.0/UDP 10.0.0.5:5062;branch=z9hG4bKnat{cseq};rport\r\n\
             From: <sip:1002@127.0.0.1>;tag=nat\r\n\
             To: <sip:1002@127.0.0.1>\r\n\
             Call-ID: nat-phone\r\n\
             CSeq: {cseq} REGISTER\r\n\
             Contact: <sip:1002@10.0.0.5:5062>\r\n\
             Expires: 300\r\n{auth}\
             Max-Forwards: 70\r\n\
             Content-Length: 0\r\n\r\n"
        )
    };
    let mut buf = vec![0u8; 65_535];
    let mut exchange = async |message: String| -> String {
        phone.send_to(message.as_bytes(), server).await.unwrap();
        let (n, _) = tokio::time::timeout(Duration::from_secs(5), phone.recv_from(&mut buf))
            .await
            .expect("an answer")
            .unwrap();
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    let challenge = exchange(register(1, "")).await;
    assert!(challenge.starts_with("SIP/2.0 401 "), "{challenge}");
    let www = challenge
        .lines()
        .find(|l| l.starts_with("WWW-Authenticate:") && l.contains("MD5"))
        .unwrap()
        .trim_start_matches("WWW-Authenticate:");
    let nonce = parse_digest(www).unwrap().get("nonce").unwrap().to_string();
    let ha1 = ha1(Algorithm::Md5, "1002", "centralino", "demo1002");
    let response = response_digest(
        Algorithm::Md5,
        &ha1,
        &nonce,
        "00000001",
        "nat",
        "auth",
        "REGISTER",
        &ruri,
    );
    let auth = format!(
        "Authorization: Digest username=\"1002\", realm=\"centralino\", nonce=\"{nonce}\", \
         uri=\"{ruri}\", response=\"{response}\", algorithm=MD5, cnonce=\"nat\", qop=auth, \
         nc=00000001\r\n"
    );
    let ok = exchange(register(2, &auth)).await;
    assert!(ok.starts_with("SIP/2.0 200 "), "{ok}");

    let bindings = gateway.bindings("1002").await;
    let [binding] = bindings.as_slice() else {
        panic!("{bindings:?}")
    };
    assert_eq!(binding.source, local);
    // The switchboard calls the contact; the peer it gives is unreachable (the private
    // address), the gateway must use the flow.
    let call = gateway
        .call(OutgoingCall {
            target: rsip::Uri::try_from(binding.contact_uri.as_str()).unwrap(),
            peer: Peer {
                addr: "10.0.0.5:5062".parse().unwrap(),
                transport: TransportKind::Udp,
            },
            to: "<sip:1002@127.0.0.1>".into(),
            from_user: "0600000001".into(),
            from_display: None,
            local_rtp: "127.0.0.1:20400".parse().unwrap(),
            dtmf_payload_type: 101,
            external_offer: None,
        })
        .await
        .unwrap();
    let (n, from) = tokio::time::timeout(Duration::from_secs(5), phone.recv_from(&mut buf))
        .await
        .expect("the INVITE reaches the registered flow")
        .unwrap();
    let invite = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert_eq!(from, server);
    assert!(
        invite.starts_with("INVITE sip:1002@10.0.0.5:5062 SIP/2.0\r\n"),
        "{invite}"
    );
    gateway.hangup(call);
}
