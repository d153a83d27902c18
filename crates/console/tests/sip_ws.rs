//! SIP over WebSocket at `/ws` (RFC 7118, issue 17) over real sockets on 127.0.0.1 (ports
//! chosen at run time): the real gateway behind the web server, a tungstenite client as the
//! browser. The subprotocol is required; REGISTER is challenged then bound; the bound phone
//! is rung on its WebSocket; closing it unbinds; garbage, over-long messages, silence and one
//! WebSocket too many are refused and counted, and the server keeps serving.

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use sip_gateway::auth::{Algorithm, Credentials, ha1, parse_digest, response_digest};
use sip_gateway::gateway::{Gateway, GatewayConfig};
use sip_gateway::registrar::RegistrarConfig;
use sip_gateway::transaction::{Peer, TransportKind};
use sip_gateway::transport::ws::WsLimits;
use sip_gateway::ua::{OutgoingCall, UaEvent, UserAgentConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Every wait is bounded by this.
const WAIT: Duration = Duration::from_secs(10);
const REALM: &str = "centralino";
const CONTACT: &str = "sip:lcrkf7u1@1i8ld7hcb1pl.invalid;transport=ws";

struct Env {
    http: SocketAddr,
    gateway: Gateway,
    _calls: mpsc::UnboundedReceiver<UaEvent>,
    _stop: watch::Sender<bool>,
}

/// The gateway (registrar on, 1001 / demo1001) and `/ws` on a web server of its own.
async fn start(ws: WsLimits) -> Env {
    let (gateway, calls) = Gateway::start(GatewayConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        ua: UserAgentConfig {
            registrar: Some(RegistrarConfig {
                realm: REALM.into(),
                ..RegistrarConfig::default()
            }),
            credentials: Credentials::from_passwords(REALM, [("1001", "demo1001")]),
            ws,
            ..UserAgentConfig::default()
        },
    })
    .await
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let http = listener.local_addr().unwrap();
    let (stop, stopped) = watch::channel(false);
    tokio::spawn(console::server::serve(
        listener,
        console::sip_ws::router(gateway.ws_port()),
        None,
        console::server::HttpLimits::default(),
        stopped,
    ));
    Env {
        http,
        gateway,
        _calls: calls,
        _stop: stop,
    }
}

async fn connect(env: &Env, protocol: Option<&str>) -> Result<Ws, WsError> {
    connect_from(env, protocol, None).await
}

async fn connect_from(
    env: &Env,
    protocol: Option<&str>,
    origin: Option<&str>,
) -> Result<Ws, WsError> {
    let mut request = format!("ws://{}/ws", env.http)
        .into_client_request()
        .unwrap();
    if let Some(origin) = origin {
        request
            .headers_mut()
            .insert("Origin", HeaderValue::from_str(origin).unwrap());
    }
    if let Some(protocol) = protocol {
        request.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            HeaderValue::from_str(protocol).unwrap(),
        );
    }
    let (ws, response) = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(request))
        .await
        .expect("the handshake is answered in time")?;
    assert_eq!(
        response
            .headers()
            .get("Sec-WebSocket-Protocol")
            .map(|v| v.to_str().unwrap()),
        Some("sip"),
        "the server answers with the subprotocol"
    );
    Ok(ws)
}

/// The next message from the server: its text, or how it closed.
#[derive(Debug)]
enum Got {
    Sip(String),
    Closed(Option<(CloseCode, String)>),
}

async fn next(ws: &mut Ws) -> Got {
    loop {
        let message = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("the server says something in time");
        match message {
            Some(Ok(Message::Text(text))) => return Got::Sip(text.to_string()),
            Some(Ok(Message::Binary(bytes))) => {
                return Got::Sip(String::from_utf8(bytes.to_vec()).unwrap());
            }
            Some(Ok(Message::Close(frame))) => {
                return Got::Closed(frame.map(|f| (f.code, f.reason.to_string())));
            }
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => return Got::Closed(None),
        }
    }
}

async fn next_sip(ws: &mut Ws) -> String {
    match next(ws).await {
        Got::Sip(text) => text,
        other => panic!("expected a SIP message, got {other:?}"),
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

/// A REGISTER as JsSIP writes it, answering `challenge` (a WWW-Authenticate value) when given.
fn register(cseq: u32, challenge: Option<&str>, expires: u32) -> String {
    let uri = "sip:127.0.0.1";
    let auth = challenge
        .map(|challenge| {
            let params = parse_digest(challenge).unwrap();
            let nonce = params.get("nonce").unwrap();
            let ha1 = ha1(Algorithm::Md5, "1001", REALM, "demo1001");
            let response = response_digest(
                Algorithm::Md5,
                &ha1,
                nonce,
                "00000001",
                "0a4f113b",
                "auth",
                "REGISTER",
                uri,
            );
            format!(
                "Authorization: Digest algorithm=MD5, username=\"1001\", realm=\"{REALM}\", \
                 nonce=\"{nonce}\", uri=\"{uri}\", response=\"{response}\", qop=auth, \
                 cnonce=\"0a4f113b\", nc=00000001\r\n"
            )
        })
        .unwrap_or_default();
    format!(
        "REGISTER {uri} SIP/2.0\r\n\
         Via: SIP/2.0/WS 1i8ld7hcb1pl.invalid;branch=z9hG4bK84413{cseq}\r\n\
         Max-Forwards: 69\r\n\
         To: <sip:1001@127.0.0.1>\r\n\
         From: <sip:1001@127.0.0.1>;tag=p2u2n2an2n\r\n\
         Call-ID: 5hvbnf0frlaoo4ggq3gqg5\r\n\
         CSeq: {cseq} REGISTER\r\n\
         Contact: <{CONTACT}>;+sip.ice;reg-id=1;\
         +sip.instance=\"<urn:uuid:be2b3b59-0af1-4a0a-8f46-8a7c4a6b2ec9>\";expires={expires}\r\n\
         Expires: {expires}\r\n\
         Supported: path,gruu,outbound\r\n\
         User-Agent: JsSIP 3.10.0\r\n\
         {auth}Content-Length: 0\r\n\r\n"
    )
}

/// Sends a REGISTER without credentials: the 401's MD5 challenge.
async fn challenged(ws: &mut Ws) -> String {
    ws.send(Message::text(register(1, None, 600)))
        .await
        .unwrap();
    let reply = next_sip(ws).await;
    assert!(reply.starts_with("SIP/2.0 401 "), "{reply}");
    header(&reply, "WWW-Authenticate")
        .into_iter()
        .find(|c| c.contains("MD5"))
        .expect("an MD5 challenge")
        .to_string()
}

#[tokio::test]
async fn a_browser_registers_over_ws_is_rung_on_its_socket_and_unbound_when_it_closes() {
    let env = start(WsLimits::default()).await;
    let mut ws = connect(&env, Some("sip")).await.unwrap();

    let challenge = challenged(&mut ws).await;
    assert!(challenge.starts_with("Digest "), "{challenge}");
    ws.send(Message::text(register(2, Some(&challenge), 600)))
        .await
        .unwrap();
    let ok = next_sip(&mut ws).await;
    assert!(ok.starts_with("SIP/2.0 200 OK\r\n"), "{ok}");
    assert_eq!(header(&ok, "Contact"), [format!("<{CONTACT}>;expires=600")]);
    assert_eq!(header(&ok, "CSeq"), ["2 REGISTER"]);

    let bindings = env.gateway.bindings("1001").await;
    assert_eq!(bindings.len(), 1);
    assert_eq!(bindings[0].transport, TransportKind::Ws);
    assert_eq!(bindings[0].contact_uri, CONTACT);

    // Ringing the agent: the INVITE goes out on the WebSocket, not to the `.invalid` host.
    env.gateway
        .call(OutgoingCall {
            target: rsip::Uri::try_from(CONTACT).unwrap(),
            peer: Peer {
                addr: "127.0.0.1:9".parse().unwrap(),
                transport: TransportKind::Udp,
            },
            to: "<sip:1001@127.0.0.1>".into(),
            from_user: "0600000001".into(),
            from_display: None,
            local_rtp: "127.0.0.1:20010".parse().unwrap(),
            dtmf_payload_type: 101,
            external_offer: None,
        })
        .await
        .unwrap();
    let invite = next_sip(&mut ws).await;
    assert!(
        invite.starts_with("INVITE sip:lcrkf7u1@1i8ld7hcb1pl.invalid"),
        "{invite}"
    );
    assert!(
        header(&invite, "Via")[0].starts_with("SIP/2.0/WS "),
        "{invite}"
    );

    // The tab closes: the binding goes at once, and so does the WebSocket's slot.
    let mut registrations = env.gateway.subscribe_registrations();
    ws.close(None).await.unwrap();
    let event = tokio::time::timeout(WAIT, registrations.recv())
        .await
        .expect("unregistered in time")
        .unwrap();
    assert_eq!((event.user.as_str(), event.registered), ("1001", false));
    assert!(env.gateway.bindings("1001").await.is_empty());
    let stats = env.gateway.stats().await.unwrap();
    assert_eq!((stats.ws.open, stats.ws.opened), (0, 1));
    assert_eq!(stats.registrar.unwrap().bindings, 0);
}

#[tokio::test]
async fn without_the_sip_subprotocol_a_handshake_or_our_origin_the_upgrade_is_refused_clearly() {
    let env = start(WsLimits::default()).await;
    for protocol in [None, Some("chat"), Some("SIP2")] {
        match connect(&env, protocol).await {
            Err(WsError::Http(response)) => {
                assert_eq!(response.status(), 400, "{protocol:?}");
                let body = String::from_utf8(response.body().clone().unwrap_or_default()).unwrap();
                assert!(body.contains("Sec-WebSocket-Protocol: sip"), "{body}");
                assert!(body.contains("sip-subprotocol-required"), "{body}");
            }
            other => panic!("{protocol:?}: expected a refusal, got {other:?}"),
        }
    }
    // One of several offered is fine.
    connect(&env, Some("chat, sip")).await.unwrap();
    // A page of ours may open it; a page elsewhere may not reach the trunk through the
    // agent's browser.
    let ours = format!("http://{}", env.http);
    connect_from(&env, Some("sip"), Some(&ours)).await.unwrap();
    match connect_from(&env, Some("sip"), Some("https://evil.example")).await {
        Err(WsError::Http(response)) => {
            assert_eq!(response.status(), 403);
            let body = String::from_utf8(response.body().clone().unwrap_or_default()).unwrap();
            assert!(body.contains("cross-origin"), "{body}");
        }
        other => panic!("expected 403 for another origin, got {other:?}"),
    }

    // A plain GET is not a WebSocket at all.
    let mut tcp = TcpStream::connect(env.http).await.unwrap();
    tcp.write_all(b"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    tokio::time::timeout(WAIT, tcp.read_to_string(&mut answer))
        .await
        .unwrap()
        .unwrap();
    let status = answer.lines().next().unwrap();
    assert!(
        status.starts_with("HTTP/1.1 400") || status.starts_with("HTTP/1.1 426"),
        "{answer}"
    );
    assert!(answer.contains("application/problem+json"), "{answer}");
    assert!(answer.contains("SIP over WebSocket (RFC 7118)"), "{answer}");
    assert_eq!(env.gateway.stats().await.unwrap().ws.opened, 2);
}

#[tokio::test]
async fn garbage_and_oversized_messages_are_refused_and_the_server_keeps_serving() {
    let env = start(WsLimits {
        max_message_bytes: 4096,
        ..WsLimits::default()
    })
    .await;

    // Not SIP at all: closed with 1008 and the reason.
    let mut ws = connect(&env, Some("sip")).await.unwrap();
    ws.send(Message::text("hello, is this the phone?"))
        .await
        .unwrap();
    match next(&mut ws).await {
        Got::Closed(Some((code, reason))) => {
            assert_eq!(code, CloseCode::Policy);
            assert!(reason.contains("not a SIP message"), "{reason}");
        }
        other => panic!("expected a close, got {other:?}"),
    }

    // SIP that does not parse: a 400, as over UDP and TCP, and the socket stays.
    let mut ws = connect(&env, Some("sip")).await.unwrap();
    ws.send(Message::text(
        "OPTIONS sip:127.0.0.1 SIP/2.0\r\n\
         Via: SIP/2.0/WS a.invalid;branch=z9hG4bKbad1\r\n\
         From: <sip:1001@127.0.0.1>;tag=a\r\n\
         To: <sip:1001@127.0.0.1>\r\n\
         Call-ID: bad-1\r\n\
         CSeq: one OPTIONS\r\n\r\n",
    ))
    .await
    .unwrap();
    let reply = next_sip(&mut ws).await;
    assert!(reply.starts_with("SIP/2.0 400 "), "{reply}");
    challenged(&mut ws).await;

    // Binary garbage that claims nothing, and a message over the bound.
    let mut ws = connect(&env, Some("sip")).await.unwrap();
    ws.send(Message::binary(vec![0u8, 159, 146, 150]))
        .await
        .unwrap();
    assert!(matches!(
        next(&mut ws).await,
        Got::Closed(Some((CloseCode::Policy, _)))
    ));
    let mut ws = connect(&env, Some("sip")).await.unwrap();
    let big = register(1, None, 600).replace(
        "Supported:",
        &format!("X-Padding: {}\r\nSupported:", "a".repeat(5000)),
    );
    ws.send(Message::text(big)).await.unwrap();
    match next(&mut ws).await {
        Got::Closed(Some((code, _))) => assert_eq!(code, CloseCode::Size),
        other => panic!("expected a close for size, got {other:?}"),
    }

    // Still serving: a new browser is challenged.
    let mut ws = connect(&env, Some("sip")).await.unwrap();
    challenged(&mut ws).await;
    let stats = env.gateway.stats().await.unwrap();
    assert_eq!(stats.ws.refused_frames, 3, "{:?}", stats.ws);
    assert!(stats.ua.malformed >= 1);
}

#[tokio::test]
async fn one_websocket_too_many_gets_503_and_a_silent_one_is_closed() {
    let env = start(WsLimits {
        max_connections: 1,
        first_message: Duration::from_millis(300),
        ..WsLimits::default()
    })
    .await;
    let mut first = connect(&env, Some("sip")).await.unwrap();
    match connect(&env, Some("sip")).await {
        Err(WsError::Http(response)) => {
            assert_eq!(response.status(), 503);
            let body = String::from_utf8(response.body().clone().unwrap_or_default()).unwrap();
            assert!(body.contains("sip.ws_max_connections"), "{body}");
        }
        other => panic!("expected 503, got {other:?}"),
    }
    // The first one never says anything: closed at the first-message deadline.
    match next(&mut first).await {
        Got::Closed(Some((code, reason))) => {
            assert_eq!(code, CloseCode::Normal);
            assert_eq!(reason, "no SIP message in time");
        }
        other => panic!("expected a close, got {other:?}"),
    }
    let stats = env.gateway.stats().await.unwrap().ws;
    assert_eq!((stats.refused_connections, stats.timed_out), (1, 1));
}
