//! SIP over WebSocket on the real binary's web listener (issue 17, RFC 7118): a tungstenite
//! client plays the agent's browser at `ws://…/ws` with the `sip` subprotocol. It registers
//! with a digest (401 first, as over UDP), the ACD rings it on that WebSocket when a SIPp
//! caller waits in its queue, and closing the WebSocket makes the agent unregistered at once.
//! Without the subprotocol the upgrade is refused; garbage is refused and the server goes on.

mod common;

use std::net::TcpStream;
use std::time::Duration;

use common::Server;
use common::agents::{Api, acd_config};
use sip_gateway::auth::{Algorithm, ha1, parse_digest, response_digest};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::stream::MaybeTlsStream;
use tokio_tungstenite::tungstenite::{self, Message, WebSocket};

type Ws = WebSocket<MaybeTlsStream<TcpStream>>;

/// Every wait is bounded by this.
const WAIT: Duration = Duration::from_secs(10);
const CONTACT: &str = "sip:e2e7ws@k2j4h5g6.invalid;transport=ws";

fn connect(server: &Server, protocol: Option<&str>) -> Result<Ws, tungstenite::Error> {
    let mut request = format!("ws://127.0.0.1:{}/ws", server.http_port)
        .into_client_request()
        .unwrap();
    if let Some(protocol) = protocol {
        request.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            HeaderValue::from_str(protocol).unwrap(),
        );
    }
    let stream = TcpStream::connect(("127.0.0.1", server.http_port)).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    let (ws, response) =
        tungstenite::client(request, MaybeTlsStream::Plain(stream)).map_err(|e| match e {
            tungstenite::HandshakeError::Failure(e) => e,
            tungstenite::HandshakeError::Interrupted(_) => panic!("blocking handshake interrupted"),
        })?;
    assert_eq!(
        response.headers().get("Sec-WebSocket-Protocol").unwrap(),
        "sip"
    );
    Ok(ws)
}

#[derive(Debug)]
enum Got {
    Sip(String),
    Closed(Option<(CloseCode, String)>),
}

/// The next SIP message or the close (a read past `WAIT` fails the test).
fn next(ws: &mut Ws) -> Got {
    loop {
        match ws.read() {
            Ok(Message::Text(text)) => return Got::Sip(text.to_string()),
            Ok(Message::Binary(bytes)) => return Got::Sip(String::from_utf8_lossy(&bytes).into()),
            Ok(Message::Close(frame)) => {
                return Got::Closed(frame.map(|f| (f.code, f.reason.to_string())));
            }
            Ok(_) => continue,
            Err(tungstenite::Error::Io(e)) if e.kind() == std::io::ErrorKind::WouldBlock => {
                panic!("nothing from the server within {WAIT:?}")
            }
            Err(_) => return Got::Closed(None),
        }
    }
}

fn next_sip(ws: &mut Ws) -> String {
    match next(ws) {
        Got::Sip(text) => text,
        other => panic!("expected SIP, got {other:?}"),
    }
}

fn header<'a>(message: &'a str, name: &str) -> Vec<&'a str> {
    message
        .lines()
        .filter_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
        .collect()
}

/// A JsSIP-style REGISTER for `login` (password `demo` + login), answering `challenge`.
fn register(login: &str, cseq: u32, challenge: Option<&str>) -> String {
    let uri = "sip:127.0.0.1";
    let auth = challenge
        .map(|challenge| {
            let params = parse_digest(challenge).unwrap();
            let nonce = params.get("nonce").unwrap();
            let password = format!("demo{login}");
            let ha1 = ha1(Algorithm::Md5, login, "centralino", &password);
            let response = response_digest(
                Algorithm::Md5,
                &ha1,
                nonce,
                "00000001",
                "c0ffee",
                "auth",
                "REGISTER",
                uri,
            );
            format!(
                "Authorization: Digest algorithm=MD5, username=\"{login}\", \
                 realm=\"centralino\", nonce=\"{nonce}\", uri=\"{uri}\", \
                 response=\"{response}\", qop=auth, cnonce=\"c0ffee\", nc=00000001\r\n"
            )
        })
        .unwrap_or_default();
    format!(
        "REGISTER {uri} SIP/2.0\r\n\
         Via: SIP/2.0/WS k2j4h5g6.invalid;branch=z9hG4bKe2ews{cseq}\r\n\
         Max-Forwards: 69\r\n\
         To: <sip:{login}@127.0.0.1>\r\n\
         From: <sip:{login}@127.0.0.1>;tag=e2ewstag\r\n\
         Call-ID: e2e-ws-{login}\r\n\
         CSeq: {cseq} REGISTER\r\n\
         Contact: <{CONTACT}>;+sip.ice;reg-id=1;\
         +sip.instance=\"<urn:uuid:0f0e0d0c-0b0a-4908-8706-050403020100>\";expires=600\r\n\
         Expires: 600\r\n\
         User-Agent: JsSIP 3.10.0\r\n\
         {auth}Content-Length: 0\r\n\r\n"
    )
}

/// Registers `login` on `ws`: the 401's MD5 challenge answered, the 200 checked.
fn register_over(ws: &mut Ws, login: &str) {
    ws.send(Message::text(register(login, 1, None))).unwrap();
    let challenge = next_sip(ws);
    assert!(challenge.starts_with("SIP/2.0 401 "), "{challenge}");
    let md5 = header(&challenge, "WWW-Authenticate")
        .into_iter()
        .find(|c| c.contains("MD5"))
        .expect("an MD5 challenge")
        .to_string();
    ws.send(Message::text(register(login, 2, Some(&md5))))
        .unwrap();
    let ok = next_sip(ws);
    assert!(ok.starts_with("SIP/2.0 200 OK\r\n"), "{ok}");
    assert_eq!(header(&ok, "Contact"), [format!("<{CONTACT}>;expires=600")]);
}

#[test]
fn a_browser_registers_over_ws_is_rung_there_by_the_acd_and_unregistered_when_it_closes() {
    let server = Server::start(&acd_config(10, &["1001"]));
    let api = Api::supervisor(&server);
    let mut ws = connect(&server, Some("sip")).unwrap();
    register_over(&mut ws, "1001");
    api.wait_registered("1001", true);
    api.set_state("1001", "ready");
    api.wait_agent("1001", "ready", None);

    // A caller waits in the queue: the ACD rings 1001 on the WebSocket.
    let caller = common::sipp_start("uac_server_bye.xml", &server, &[]);
    let invite = next_sip(&mut ws);
    assert!(
        invite.starts_with("INVITE sip:e2e7ws@k2j4h5g6.invalid"),
        "{invite}"
    );
    assert!(
        header(&invite, "Via")[0].starts_with("SIP/2.0/WS "),
        "{invite}"
    );
    // Busy: the 486 goes back on the socket, and the ACK for it comes on it too.
    let busy = format!(
        "SIP/2.0 486 Busy Here\r\nVia: {}\r\nFrom: {}\r\nTo: {};tag=busyws\r\nCall-ID: {}\r\n\
         CSeq: {}\r\nContent-Length: 0\r\n\r\n",
        header(&invite, "Via")[0],
        header(&invite, "From")[0],
        header(&invite, "To")[0],
        header(&invite, "Call-ID")[0],
        header(&invite, "CSeq")[0],
    );
    ws.send(Message::text(busy)).unwrap();
    let ack = next_sip(&mut ws);
    assert!(ack.starts_with("ACK "), "{ack}");

    // The tab closes: unregistered at once, not when the 600 s run out.
    ws.close(None).unwrap();
    while !matches!(next(&mut ws), Got::Closed(_)) {}
    api.wait_registered("1001", false);
    assert!(
        server.wait_log(
            |log| log.contains("registration removed: its flow closed"),
            WAIT
        ),
        "{}",
        common::tail(&server.log(), 40)
    );
    caller.kill();
}

#[test]
fn the_upgrade_needs_the_sip_subprotocol_and_garbage_leaves_the_server_serving() {
    let server = Server::start(&acd_config(10, &["1002"]));
    match connect(&server, None) {
        Err(tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 400);
            let body = String::from_utf8(response.body().clone().unwrap_or_default()).unwrap();
            assert!(body.contains("Sec-WebSocket-Protocol: sip"), "{body}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    let mut ws = connect(&server, Some("sip")).unwrap();
    ws.send(Message::text("\u{1f4de} ring ring")).unwrap();
    match next(&mut ws) {
        Got::Closed(Some((code, reason))) => {
            assert_eq!(code, CloseCode::Policy);
            assert!(reason.contains("not a SIP message"), "{reason}");
        }
        other => panic!("expected a close, got {other:?}"),
    }
    // A fresh WebSocket registers as if nothing happened.
    let mut ws = connect(&server, Some("sip")).unwrap();
    register_over(&mut ws, "1002");
    let api = Api::supervisor(&server);
    api.wait_registered("1002", true);
    assert!(
        server.wait_log(|log| log.contains("SIP WebSocket frame refused"), WAIT),
        "the refusal is logged"
    );
}

/// JsSIP (npm, run by Node with the `ws` package as its WebSocket), a standard WebRTC SIP
/// client, registering agents' phones over `/ws` (tests/interop/jssip_register.mjs).
struct JsSip {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
}

impl JsSip {
    fn start(server: &Server, login: &str) -> JsSip {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/interop");
        assert!(
            dir.join("node_modules/jssip/package.json").exists(),
            "JsSIP is required in tests/interop/node_modules (scripts/install-test-deps.sh \
             installs it with npm ci)"
        );
        let mut child = std::process::Command::new("node")
            .current_dir(&dir)
            .arg("jssip_register.mjs")
            .arg(format!("ws://127.0.0.1:{}/ws", server.http_port))
            .arg(login)
            .arg(format!("demo{login}"))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("node is required (scripts/install-test-deps.sh)");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        JsSip { child, lines }
    }

    /// Waits for the script's next line starting with `expected` (it prints `FAILED …` on
    /// any failure); INVITE lines are passed over unless one is expected (the ACD may ring
    /// again). The line is returned.
    fn expect(&self, expected: &str) -> String {
        loop {
            let line = self
                .lines
                .recv_timeout(WAIT)
                .unwrap_or_else(|e| panic!("JsSIP said nothing ({e}); expected {expected}"));
            if line.starts_with("INVITE ") && !expected.starts_with("INVITE ") {
                continue;
            }
            assert!(
                line.starts_with(expected),
                "JsSIP: {line}; expected {expected}"
            );
            return line;
        }
    }
}

impl Drop for JsSip {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn jssip_registers_over_ws_is_rung_there_and_a_killed_one_is_unregistered_by_its_close() {
    let server = Server::start(&acd_config(10, &["1001", "1002"]));
    let api = Api::supervisor(&server);
    let mut polite = JsSip::start(&server, "1001");
    polite.expect("REGISTERED");
    api.wait_registered("1001", true);
    // Rung by the ACD: JsSIP gets the INVITE at its own contact over the WebSocket (and,
    // with no WebRTC in Node, declines it with 488 over the same WebSocket).
    api.set_state("1001", "ready");
    api.wait_agent("1001", "ready", None);
    let caller = common::sipp_start("uac_server_bye.xml", &server, &[]);
    let invite = polite.expect("INVITE sip:");
    assert!(invite.contains(".invalid;transport="), "{invite}");
    assert!(
        server.wait_log(
            |log| log
                .lines()
                .any(|l| l.contains("offer failed") && l.contains("agent=1001")),
            WAIT
        ),
        "{}",
        common::tail(&server.log(), 40)
    );
    caller.kill();
    // Its standard input closes: it sends REGISTER with Expires: 0 and leaves.
    drop(polite.child.stdin.take());
    polite.expect("UNREGISTERED");
    let status = polite.child.wait().unwrap();
    assert!(status.success(), "{status}");
    api.wait_registered("1001", false);

    // A tab that vanishes says nothing: its WebSocket's end unregisters it.
    let mut vanished = JsSip::start(&server, "1002");
    vanished.expect("REGISTERED");
    api.wait_registered("1002", true);
    vanished.child.kill().unwrap();
    api.wait_registered("1002", false);
    assert!(
        !server.log().contains("SIP WebSocket frame refused"),
        "a vanished peer is no refusal"
    );
}

/// Open file descriptors of the server process (its sockets among them).
fn open_fds(server: &Server) -> usize {
    let pid = server.pid().expect("the server runs");
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// A browser phone that answers the server's WebRTC offer with plain RTP (no DTLS-SRTP, no
/// fingerprint): the answer is refused with a clear log line, the call to that phone is hung
/// up (ACK, then BYE on its WebSocket), and the WebRTC leg's sockets are released with the
/// call's media legs once the caller is gone.
#[test]
fn an_answer_without_dtls_to_the_webrtc_offer_is_refused_and_leaks_nothing() {
    let server = Server::start(&acd_config(10, &["1003"]));
    let api = Api::supervisor(&server);
    let mut ws = connect(&server, Some("sip")).unwrap();
    register_over(&mut ws, "1003");
    api.wait_registered("1003", true);
    api.set_state("1003", "ready");
    api.wait_agent("1003", "ready", None);
    let before = open_fds(&server);

    // The caller hangs up by itself 5 s after the IVR answered it.
    let caller = common::sipp_start(
        "uac_answer_bye.xml",
        &server,
        &["-d", "5000", "-timeout", "30s"],
    );
    let invite = next_sip(&mut ws);
    assert!(invite.starts_with("INVITE "), "{invite}");
    for wanted in [
        "m=audio 9 UDP/TLS/RTP/SAVPF 0 8 101",
        "a=fingerprint:sha-256 ",
        "a=ice-lite",
        "a=setup:actpass",
        "a=rtcp-mux",
        " typ host",
    ] {
        assert!(
            invite.contains(wanted),
            "{wanted} in the WebRTC offer:\n{invite}"
        );
    }
    let plain = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
                 m=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";
    let ok = format!(
        "SIP/2.0 200 OK\r\nVia: {}\r\nFrom: {}\r\nTo: {};tag=plainanswer\r\nCall-ID: {}\r\n\
         CSeq: {}\r\nContact: <{CONTACT}>\r\nContent-Type: application/sdp\r\n\
         Content-Length: {}\r\n\r\n{plain}",
        header(&invite, "Via")[0],
        header(&invite, "From")[0],
        header(&invite, "To")[0],
        header(&invite, "Call-ID")[0],
        header(&invite, "CSeq")[0],
        plain.len()
    );
    ws.send(Message::text(ok)).unwrap();
    let ack = next_sip(&mut ws);
    assert!(ack.starts_with("ACK "), "{ack}");
    let bye = next_sip(&mut ws);
    assert!(
        bye.starts_with("BYE "),
        "the refused answer's call hung up: {bye}"
    );
    let bye_ok = format!(
        "SIP/2.0 200 OK\r\nVia: {}\r\nFrom: {}\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: {}\r\n\
         Content-Length: 0\r\n\r\n",
        header(&bye, "Via")[0],
        header(&bye, "From")[0],
        header(&bye, "To")[0],
        header(&bye, "Call-ID")[0],
        header(&bye, "CSeq")[0],
    );
    ws.send(Message::text(bye_ok)).unwrap();
    assert!(
        server.wait_log(
            |log| log.contains("browser phone's answer refused")
                && log.contains("RTP/AVP")
                && log.contains("UDP/TLS/RTP/SAVPF"),
            WAIT
        ),
        "the refusal names what came and what was expected\n{}",
        common::tail(&server.log(), 40)
    );
    let phones = api.get("/api/v1/phones/browser");
    assert_eq!(phones["calls"], serde_json::json!([]), "{phones}");

    // The caller leaves; every socket of the call (media legs, the WebRTC leg) is released.
    let caller = caller.wait();
    caller.assert_ok(&server);
    api.wait("the call's sockets released", WAIT, |_| {
        let now = open_fds(&server);
        if now <= before {
            Ok(())
        } else {
            Err(format!("{now} descriptors open, {before} before the call"))
        }
    });
}
