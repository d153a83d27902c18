//! A test's own telephone: an RTP socket that the SIPp caller's SDP points at
//! (`uac_keypad*.xml`, `-key rtp_port N`). Like a real phone it sends audio all the time (a
//! quiet 400 Hz PCMU tone, 20 ms packets, from the moment it hears the server) and presses
//! keys as RFC 4733 telephone-events in the same RTP stream: an event packet every 50 ms while
//! the key is down (100 ms, audio suppressed meanwhile), the end packet three times
//! (§2.5.1.4), and a pause between keys.

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The payload type the keypad scenarios offer for telephone-event.
pub const EVENT_PT: u8 = 101;

/// The RTP stream's state, shared by the audio thread and the keys.
struct Stream {
    seq: u16,
    timestamp: u32,
    key_down: bool,
    /// µ-law frames to send instead of the tone, in order (see [`Keypad::speak`]).
    voice: std::collections::VecDeque<Vec<u8>>,
}

pub struct Keypad {
    socket: Arc<UdpSocket>,
    server: Option<SocketAddr>,
    stream: Arc<Mutex<Stream>>,
    stop: Arc<AtomicBool>,
    audio: Option<JoinHandle<()>>,
}

const SSRC: u32 = 0x4b45_5950; // "KEYP"

fn header(marker: bool, pt: u8, seq: u16, timestamp: u32) -> Vec<u8> {
    let mut p = Vec::with_capacity(172);
    p.push(0x80);
    p.push(if marker { 0x80 } else { 0 } | pt);
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&timestamp.to_be_bytes());
    p.extend_from_slice(&SSRC.to_be_bytes());
    p
}

/// G.711 µ-law of a 16-bit sample (ITU-T G.711, the 14-bit reference with bias 0x84).
fn ulaw(sample: i16) -> u8 {
    let mut s = i32::from(sample) >> 2;
    let sign = if s < 0 {
        s = -s;
        0x80
    } else {
        0
    };
    let mag = (s.min(8159) + 0x21) as u32;
    let exp = (32 - mag.leading_zeros()).saturating_sub(6).min(7);
    let mantissa = (mag >> (exp + 1)) & 0x0f;
    !(sign | (exp << 4) as u8 | mantissa as u8)
}

impl Keypad {
    pub fn new() -> Keypad {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind keypad RTP socket");
        Keypad {
            socket: Arc::new(socket),
            server: None,
            stream: Arc::new(Mutex::new(Stream {
                seq: 1000,
                timestamp: 8000,
                key_down: false,
                voice: Default::default(),
            })),
            stop: Arc::new(AtomicBool::new(false)),
            audio: None,
        }
    }

    /// The port for `-key rtp_port`.
    pub fn port(&self) -> String {
        self.socket
            .local_addr()
            .expect("keypad addr")
            .port()
            .to_string()
    }

    /// Waits for the server's RTP (the call is answered and a prompt plays), learns where to
    /// send, and starts talking; false if nothing came within `timeout`.
    pub fn wait_for_audio(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut buf = [0u8; 2048];
        self.socket
            .set_read_timeout(Some(Duration::from_millis(100)))
            .expect("set timeout");
        while Instant::now() < deadline {
            if let Ok((n, from)) = self.socket.recv_from(&mut buf)
                && n >= 12
            {
                self.server = Some(from);
                self.start_audio(from);
                return true;
            }
        }
        false
    }

    fn start_audio(&mut self, to: SocketAddr) {
        let (socket, stream, stop) = (self.socket.clone(), self.stream.clone(), self.stop.clone());
        self.audio = Some(std::thread::spawn(move || {
            let mut next = Instant::now();
            let mut phase = 0.0f64;
            let mut first = true;
            while !stop.load(Ordering::Relaxed) {
                {
                    let mut s = stream.lock().unwrap();
                    if !s.key_down {
                        let mut p = header(first, 0, s.seq, s.timestamp);
                        match s.voice.pop_front() {
                            Some(frame) => p.extend_from_slice(&frame),
                            None => {
                                for _ in 0..160 {
                                    let v = (phase.sin() * 3000.0) as i16;
                                    phase += 2.0 * std::f64::consts::PI * 400.0 / 8000.0;
                                    p.push(ulaw(v));
                                }
                            }
                        }
                        let _ = socket.send_to(&p, to);
                        s.seq = s.seq.wrapping_add(1);
                        first = false;
                    }
                    s.timestamp = s.timestamp.wrapping_add(160);
                }
                next += Duration::from_millis(20);
                if let Some(wait) = next.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
            }
        }));
    }

    /// Speaks `frames` (160-byte µ-law payloads, e.g. from [`pcap_payloads`]) one per 20 ms
    /// in place of the tone, and returns once the last was sent.
    pub fn speak(&mut self, frames: Vec<Vec<u8>>) {
        let n = frames.len();
        self.stream.lock().unwrap().voice.extend(frames);
        let deadline = Instant::now() + Duration::from_millis(20 * n as u64 + 2000);
        while !self.stream.lock().unwrap().voice.is_empty() {
            assert!(
                Instant::now() < deadline,
                "the voice frames were not sent in time"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Presses `keys` one after the other (`0-9`, `*`, `#`).
    pub fn press(&mut self, keys: &str) {
        let server = self
            .server
            .expect("wait_for_audio first: no server RTP address yet");
        for key in keys.chars() {
            let event = match key {
                '0'..='9' => key as u8 - b'0',
                '*' => 10,
                '#' => 11,
                other => panic!("not a keypad key: {other}"),
            };
            let start = {
                let mut s = self.stream.lock().unwrap();
                s.key_down = true;
                s.timestamp
            };
            // Key down 100 ms: updates at 0, 50, 100 ms (durations 0, 400, 800 samples).
            for (i, duration) in [0u16, 400, 800].into_iter().enumerate() {
                self.send_event(server, start, event, i == 0, false, duration);
                std::thread::sleep(Duration::from_millis(50));
            }
            // Key up: the end packet, three times (RFC 4733 §2.5.1.4).
            for _ in 0..3 {
                self.send_event(server, start, event, false, true, 800);
            }
            self.stream.lock().unwrap().key_down = false;
            // A person's pause between keys.
            std::thread::sleep(Duration::from_millis(150));
        }
    }

    fn send_event(
        &self,
        to: SocketAddr,
        timestamp: u32,
        event: u8,
        marker: bool,
        end: bool,
        duration: u16,
    ) {
        let mut s = self.stream.lock().unwrap();
        let mut p = header(marker, EVENT_PT, s.seq, timestamp);
        p.push(event);
        p.push(if end { 0x80 } else { 0 } | 10); // E bit, volume -10 dBm0
        p.extend_from_slice(&duration.to_be_bytes());
        self.socket.send_to(&p, to).expect("send telephone-event");
        s.seq = s.seq.wrapping_add(1);
    }
}

impl Drop for Keypad {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(audio) = self.audio.take() {
            let _ = audio.join();
        }
    }
}

/// The RTP payloads of a classic pcap of Ethernet/IPv4/UDP/RTP packets (those
/// tests/sipp/make_pcap.py writes), in order: what SIPp's `play_pcap_audio` would send.
pub fn pcap_payloads(path: &std::path::Path) -> Vec<Vec<u8>> {
    let data = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(
        &data[..4],
        &0xa1b2_c3d4u32.to_le_bytes(),
        "a little-endian classic pcap"
    );
    let mut out = Vec::new();
    let mut at = 24;
    while at + 16 <= data.len() {
        let len = u32::from_le_bytes(data[at + 8..at + 12].try_into().unwrap()) as usize;
        let packet = &data[at + 16..at + 16 + len];
        // Ethernet (14) + IPv4 without options (20) + UDP (8) + RTP header (12).
        out.push(packet[14 + 20 + 8 + 12..].to_vec());
        at += 16 + len;
    }
    out
}
