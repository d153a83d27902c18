//! TCP connections for SIP (RFC 3261 §18.3): framing by Content-Length, one reader and one
//! writer task per connection, connections reused in both directions and keyed by the peer's
//! address. UDP needs no more than the socket the driver owns. SIP over WebSocket (RFC 7118),
//! whose sockets the web server accepts, is the sibling in [`ws`].

pub mod ws;

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tracing::{debug, warn};

use crate::message::StreamFramer;

/// What connection tasks tell the driver.
#[derive(Debug)]
pub enum StreamEvent {
    /// A connection is up (accepted or connected); send to `writer` to reach `peer`.
    Opened {
        peer: SocketAddr,
        writer: mpsc::Sender<Vec<u8>>,
    },
    /// One whole SIP message arrived.
    Message { peer: SocketAddr, bytes: Vec<u8> },
    /// The connection is gone (closed by the peer, idle, or broken framing).
    Closed { peer: SocketAddr },
}

/// Queue depth per connection: beyond it the peer is not reading and messages are dropped
/// (UDP-like loss the transaction layer already copes with), never buffered without bound.
const WRITE_QUEUE: usize = 256;

/// How long a connection may stay open (RFC 3261 §18.3 leaves the policy to us).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionTimeouts {
    /// An accepted connection must deliver its first whole, parsable SIP message within this
    /// time of being accepted, or it is closed: idle or trickling connections cannot hold
    /// descriptors. `None` for connections we opened ourselves.
    pub first_message: Option<Duration>,
    /// Once a valid message came, the connection is closed after this long without input.
    pub idle: Duration,
}

impl Default for ConnectionTimeouts {
    fn default() -> Self {
        ConnectionTimeouts {
            first_message: Some(Duration::from_secs(10)),
            idle: Duration::from_secs(600),
        }
    }
}

/// Runs one connection until it closes, reporting through `events`.
pub fn spawn_connection(
    stream: TcpStream,
    peer: SocketAddr,
    events: mpsc::Sender<StreamEvent>,
    timeouts: ConnectionTimeouts,
) {
    let _ = stream.set_nodelay(true);
    let (mut reader, mut writer) = stream.into_split();
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(WRITE_QUEUE);
    let pong = tx.clone();
    let opened = events.clone();
    tokio::spawn(async move {
        if opened
            .send(StreamEvent::Opened { peer, writer: tx })
            .await
            .is_err()
        {
            return;
        }
        let write = tokio::spawn(async move {
            while let Some(bytes) = rx.recv().await {
                if let Err(error) = writer.write_all(&bytes).await {
                    debug!(%peer, %error, "TCP write failed");
                    break;
                }
            }
            let _ = writer.shutdown().await;
        });
        let mut framer = StreamFramer::default();
        let mut buf = vec![0u8; 16 * 1024];
        // Until a valid message arrives, one deadline from the start (not per read: a peer
        // sending a byte now and then must not keep the connection).
        let mut first_deadline = timeouts
            .first_message
            .map(|t| tokio::time::Instant::now() + t);
        loop {
            let deadline =
                first_deadline.unwrap_or_else(|| tokio::time::Instant::now() + timeouts.idle);
            let read = tokio::time::timeout_at(deadline, reader.read(&mut buf)).await;
            let n = match read {
                Err(_) => {
                    if first_deadline.is_some() {
                        debug!(%peer, "closing TCP connection: no valid SIP message in time");
                    }
                    break;
                }
                Ok(Ok(0)) => break,
                Ok(Ok(n)) => n,
                Ok(Err(error)) => {
                    debug!(%peer, %error, "TCP read failed");
                    break;
                }
            };
            framer.push(&buf[..n]);
            // RFC 5626 §3.5.1: each double-CRLF ping is answered with one CRLF.
            for _ in 0..framer.take_pings() {
                let _ = pong.try_send(b"\r\n".to_vec());
            }
            let mut broken = false;
            while let Some(next) = framer.next_message() {
                match next {
                    Ok(bytes) => {
                        // A malformed message is still passed on (it gets its 400), but only a
                        // valid one earns the long idle time-out.
                        if first_deadline.is_some() && crate::message::parse(&bytes).is_ok() {
                            first_deadline = None;
                        }
                        if events
                            .send(StreamEvent::Message { peer, bytes })
                            .await
                            .is_err()
                        {
                            broken = true;
                            break;
                        }
                    }
                    Err(error) => {
                        warn!(%peer, %error, "closing TCP connection: bad framing");
                        broken = true;
                        break;
                    }
                }
            }
            if broken {
                break;
            }
        }
        write.abort();
        let _ = events.send(StreamEvent::Closed { peer }).await;
    });
}

/// Connects to `peer` and runs the connection (closed after `idle` without input); the first
/// message is sent once it is up.
pub fn spawn_connect(
    peer: SocketAddr,
    first: Vec<u8>,
    events: mpsc::Sender<StreamEvent>,
    idle: Duration,
) {
    tokio::spawn(async move {
        match tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(peer)).await {
            Ok(Ok(mut stream)) => {
                if stream.write_all(&first).await.is_ok() {
                    let ours = ConnectionTimeouts {
                        first_message: None,
                        idle,
                    };
                    spawn_connection(stream, peer, events, ours);
                }
            }
            Ok(Err(error)) => warn!(%peer, %error, "TCP connect failed"),
            Err(_) => warn!(%peer, "TCP connect timed out"),
        }
    });
}

/// Limits on the TCP connections peers open to us: descriptors are a shared resource (RTP
/// ports need them too), so neither one address nor all of them together may take them all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpLimits {
    /// Accepted connections open at once; beyond it new ones are closed at accept.
    pub max_connections: usize,
    /// Accepted connections open at once from one IP address.
    pub max_connections_per_address: usize,
    /// See [`ConnectionTimeouts`].
    pub timeouts: ConnectionTimeouts,
}

impl Default for TcpLimits {
    fn default() -> Self {
        TcpLimits {
            max_connections: 1024,
            max_connections_per_address: 64,
            timeouts: ConnectionTimeouts::default(),
        }
    }
}
