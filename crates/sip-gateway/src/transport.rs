//! TCP connections for SIP (RFC 3261 §18.3): framing by Content-Length, one reader and one
//! writer task per connection, connections reused in both directions and keyed by the peer's
//! address. UDP needs no more than the socket the driver owns.

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

/// A connection idle this long is closed (RFC 3261 §18.3 leaves the policy to us).
const IDLE_TIMEOUT: Duration = Duration::from_secs(600);

/// Runs one connection until it closes, reporting through `events`.
pub fn spawn_connection(stream: TcpStream, peer: SocketAddr, events: mpsc::Sender<StreamEvent>) {
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
        loop {
            let read = tokio::time::timeout(IDLE_TIMEOUT, reader.read(&mut buf)).await;
            let n = match read {
                Ok(Ok(0)) | Err(_) => break,
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

/// Connects to `peer` and runs the connection; the first message is sent once it is up.
pub fn spawn_connect(peer: SocketAddr, first: Vec<u8>, events: mpsc::Sender<StreamEvent>) {
    tokio::spawn(async move {
        match tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(peer)).await {
            Ok(Ok(mut stream)) => {
                if stream.write_all(&first).await.is_ok() {
                    spawn_connection(stream, peer, events);
                }
            }
            Ok(Err(error)) => warn!(%peer, %error, "TCP connect failed"),
            Err(_) => warn!(%peer, "TCP connect timed out"),
        }
    });
}
