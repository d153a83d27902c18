//! Issue 14, descriptor exhaustion and admission over TCP, against the real gateway on
//! loopback: connections from outside `allow_from` are closed at accept; idle connections
//! above the per-address cap are closed at once, those under it when their first-message time
//! runs out; meanwhile SIP over UDP and a new TCP connection from another address are served,
//! and a connection that carried a valid message stays open.

use std::net::SocketAddr;
use std::time::Duration;

use sip_gateway::gateway::{Gateway, GatewayConfig};
use sip_gateway::transport::{ConnectionTimeouts, TcpLimits};
use sip_gateway::ua::{UaEvent, UserAgentConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream, UdpSocket};

/// Bound on every wait: well above the one-second first-message time-out used here.
const WAIT: Duration = Duration::from_secs(10);

/// A gateway and its event receiver (kept by the test, so the gateway has a switchboard).
async fn start(
    allow_from: &[&str],
    tcp: TcpLimits,
) -> (Gateway, tokio::sync::mpsc::UnboundedReceiver<UaEvent>) {
    Gateway::start(GatewayConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        ua: UserAgentConfig {
            allow_from: allow_from.iter().map(|n| n.parse().unwrap()).collect(),
            tcp,
            ..UserAgentConfig::default()
        },
    })
    .await
    .unwrap()
}

/// A TCP connection to `to` from the loopback address `from`.
async fn connect_from(from: &str, to: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(format!("{from}:0").parse().unwrap()).unwrap();
    socket.connect(to).await.unwrap()
}

/// Waits for the peer to close `stream` (EOF or reset); `false` if it is still open at `WAIT`.
async fn closed_by_peer(stream: &mut TcpStream) -> bool {
    let mut buf = [0u8; 512];
    loop {
        match tokio::time::timeout(WAIT, stream.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

fn options(transport: &str, local: SocketAddr, branch: &str) -> String {
    format!(
        "OPTIONS sip:ping@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/{transport} {local};branch=z9hG4bK{branch}\r\n\
         From: <sip:probe@127.0.0.1>;tag=t{branch}\r\nTo: <sip:ping@127.0.0.1>\r\n\
         Call-ID: {branch}@test\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    )
}

/// Sends an OPTIONS on `stream` and reads until the end of a response: its status line.
async fn options_over_tcp(stream: &mut TcpStream, branch: &str) -> String {
    let local = stream.local_addr().unwrap();
    stream
        .write_all(options("TCP", local, branch).as_bytes())
        .await
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 2048];
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tokio::time::timeout(WAIT, stream.read(&mut buf))
            .await
            .expect("a response in time")
            .unwrap();
        assert!(n > 0, "closed before answering");
        got.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&got)
        .lines()
        .next()
        .unwrap()
        .to_string()
}

async fn options_over_udp(to: SocketAddr) -> String {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let local = socket.local_addr().unwrap();
    socket
        .send_to(options("UDP", local, "udp").as_bytes(), to)
        .await
        .unwrap();
    let mut buf = [0u8; 2048];
    let (n, _) = tokio::time::timeout(WAIT, socket.recv_from(&mut buf))
        .await
        .expect("a response in time")
        .unwrap();
    String::from_utf8_lossy(&buf[..n])
        .lines()
        .next()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn connections_from_outside_allow_from_are_closed_at_accept() {
    let (gateway, _events) = start(&["127.0.0.2/32"], TcpLimits::default()).await;
    let mut stranger = connect_from("127.0.0.1", gateway.local_addr()).await;
    assert!(
        closed_by_peer(&mut stranger).await,
        "closed before anything is read"
    );
    let mut allowed = connect_from("127.0.0.2", gateway.local_addr()).await;
    assert_eq!(
        options_over_tcp(&mut allowed, "allowed").await,
        "SIP/2.0 200 OK"
    );
    let stats = gateway.stats().await.unwrap();
    assert_eq!(stats.ua.denied, 1);
}

#[tokio::test]
async fn idle_connections_are_capped_and_timed_out_while_others_are_served() {
    let per_address = 4;
    let (gateway, _events) = start(
        &["127.0.0.0/8"],
        TcpLimits {
            max_connections: 16,
            max_connections_per_address: per_address,
            timeouts: ConnectionTimeouts {
                first_message: Some(Duration::from_secs(1)),
                idle: Duration::from_secs(600),
            },
        },
    )
    .await;
    let to = gateway.local_addr();
    // A connection that carries a valid message first: it earns the long idle time-out.
    let mut phone = connect_from("127.0.0.3", to).await;
    assert_eq!(
        options_over_tcp(&mut phone, "phone1").await,
        "SIP/2.0 200 OK"
    );
    // An attacker opens many idle connections from one address.
    let mut idle = Vec::new();
    for _ in 0..12 {
        idle.push(connect_from("127.0.0.5", to).await);
    }
    // The ones over the per-address cap are closed at once; UDP and another address are
    // served meanwhile.
    assert_eq!(options_over_udp(to).await, "SIP/2.0 200 OK");
    let mut newcomer = connect_from("127.0.0.4", to).await;
    assert_eq!(
        options_over_tcp(&mut newcomer, "newcomer").await,
        "SIP/2.0 200 OK"
    );
    let started = std::time::Instant::now();
    for (i, stream) in idle.iter_mut().enumerate() {
        assert!(
            closed_by_peer(stream).await,
            "idle connection {i} still open"
        );
    }
    // Those under the cap lasted until the first-message time-out, not the long idle one.
    assert!(started.elapsed() < WAIT);
    let stats = gateway.stats().await.unwrap();
    assert_eq!(stats.tcp_refused, 12 - per_address as u64);
    // The phone's connection, which carried a valid message, is still served.
    assert_eq!(
        options_over_tcp(&mut phone, "phone2").await,
        "SIP/2.0 200 OK"
    );
}

/// Descriptors run out: `accept` fails with EMFILE. The accept loop backs off (a hundred
/// milliseconds per failure) instead of spinning, UDP is served meanwhile, and once the idle
/// connections time out the gateway accepts again. (nextest runs each test in its own process,
/// so the lowered limit touches no other test.)
#[tokio::test]
async fn accept_backs_off_when_descriptors_run_out() {
    let (gateway, _events) = start(
        &["127.0.0.0/8"],
        TcpLimits {
            timeouts: ConnectionTimeouts {
                first_message: Some(Duration::from_secs(1)),
                idle: Duration::from_secs(600),
            },
            ..TcpLimits::default()
        },
    )
    .await;
    let to = gateway.local_addr();
    let udp_probe = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    // The clients' sockets are made before the limit drops, so only the gateway's `accept`
    // needs a new descriptor afterwards (connecting allocates none).
    let sockets: Vec<TcpSocket> = (0..6)
        .map(|_| {
            let socket = TcpSocket::new_v4().unwrap();
            socket.bind("127.0.0.6:0".parse().unwrap()).unwrap();
            socket
        })
        .collect();
    // The kernel hands out the lowest free descriptor and refuses one at or above the soft
    // limit: a limit equal to the lowest free descriptor makes every allocation fail.
    let lowest_free = {
        use std::os::fd::AsRawFd;
        std::fs::File::open("/dev/null").unwrap().as_raw_fd() as u64
    };
    let (soft, hard) = rlimit::getrlimit(rlimit::Resource::NOFILE).unwrap();
    rlimit::setrlimit(rlimit::Resource::NOFILE, lowest_free, hard).unwrap();
    let mut clients = Vec::new();
    for socket in sockets {
        clients.push(socket.connect(to).await.unwrap());
    }
    // Let the accept loop meet EMFILE for a while: a measured window, not a synchronisation.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let during = gateway.stats().await.unwrap().tcp_accept_errors;
    // UDP needs no new descriptor: still served.
    let local = udp_probe.local_addr().unwrap();
    udp_probe
        .send_to(options("UDP", local, "emfile").as_bytes(), to)
        .await
        .unwrap();
    let mut buf = [0u8; 2048];
    let (n, _) = tokio::time::timeout(WAIT, udp_probe.recv_from(&mut buf))
        .await
        .expect("UDP answered while TCP accept fails")
        .unwrap();
    assert!(buf[..n].starts_with(b"SIP/2.0 200"));
    assert!(during >= 1, "accept failed at least once");
    assert!(
        during <= 10,
        "{during} accept failures in half a second: the loop spins instead of backing off"
    );
    drop(clients);
    rlimit::setrlimit(rlimit::Resource::NOFILE, soft, hard).unwrap();
    // With descriptors back, a new connection is accepted and served.
    let mut phone = connect_from("127.0.0.7", to).await;
    assert_eq!(
        options_over_tcp(&mut phone, "after").await,
        "SIP/2.0 200 OK"
    );
}
