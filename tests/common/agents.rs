//! Agents' phones and the ACD's API for the end-to-end ACD tests (`tests/e2e_acd.rs`).
//!
//! - [`acd_config`]: a server config with the demo data (users 1001, 1002, … with SIP digest
//!   credentials for realm "centralino", password `demo` + login), a registrar that challenges
//!   with MD5 only (SIPp 3.6 answers only MD5), one queue `cittadini` and an IVR whose default
//!   entry routes straight to it, so calls reach the ACD at once.
//! - [`Phone`]: an agent's phone played by SIPp. [`Phone::register`] runs
//!   `agent_register.xml` (digest REGISTER) from a fresh port; [`Phone::start`] then runs a UAS
//!   scenario (`agent_*.xml`) on that same port, where the registrar sends INVITEs (the binding
//!   points at the REGISTER's source), and waits until SIPp listens.
//! - [`Api`]: the REST API as the demo supervisor (agent states, queues, call cards, tickets),
//!   with [`Api::wait`] to synchronise on live state instead of sleeping.
//! - [`EchoProbe`]: the caller's RTP end, held by the test, that sends numbered PCMU frames
//!   and recognises them when they come back (an agent running SIPp's `-rtp_echo`).

use std::collections::HashMap;

use super::*;

/// The supervisor of the demo data.
pub const SUPERVISOR: (&str, &str) = ("supervisor", "demo-supervisor");
/// The queue of [`acd_config`] (a CRM queue of the demo data, so answered calls open tickets).
pub const QUEUE: &str = "cittadini";

/// A config for ACD tests: demo data, MD5 registrar, queue [`QUEUE`] served by `agents`,
/// calls routed straight to it, ring timeout `ring_timeout_s`, wrap-up 1 s.
pub fn acd_config(ring_timeout_s: u64, agents: &[&str]) -> String {
    let mut toml = format!(
        "[database]\ndemo_data = true\n\n\
         [registrar]\nenabled = true\nrealm = \"centralino\"\nalgorithms = [\"MD5\"]\n\n\
         [call]\nanswer_delay_ms = 0\nmax_duration_s = 120\n\n\
         [acd]\nring_timeout_s = {ring_timeout_s}\nwrap_up_s = 1\n\n\
         [[acd.queues]]\nname = \"{QUEUE}\"\n\n"
    );
    for login in agents {
        toml.push_str(&format!(
            "[[acd.agents]]\nlogin = \"{login}\"\nqueues = [\"{QUEUE}\"]\n\n"
        ));
    }
    toml.push_str(&format!(
        "[ivr]\ndefault_entry = \"to_queue\"\n\n\
         [ivr.nodes.to_queue]\nkind = \"route\"\nqueue = \"{QUEUE}\"\narea = \"{QUEUE}\"\n"
    ));
    toml
}

/// True when a UDP socket is bound to 127.0.0.1:`port` or 0.0.0.0:`port` (read from
/// /proc/net/udp, so nothing is bound by the check itself).
pub fn udp_listening(port: u16) -> bool {
    let wanted = [
        format!("0100007F:{port:04X}"),
        format!("00000000:{port:04X}"),
    ];
    fs::read_to_string("/proc/net/udp")
        .map(|table| {
            table.lines().skip(1).any(|line| {
                line.split_whitespace()
                    .nth(1)
                    .is_some_and(|local| wanted.iter().any(|w| w == local))
            })
        })
        .unwrap_or(false)
}

/// An agent's phone: SIPp on a port of its own, registered as `login`.
pub struct Phone {
    pub login: String,
    pub sip_port: u16,
    pub media_port: u16,
}

impl Phone {
    /// Registers `login` (password `demo` + login) with digest authentication from a fresh
    /// port; fails the test unless the registrar accepted it.
    pub fn register(server: &Server, login: &str) -> Phone {
        Phone::register_with(server, login, &format!("demo{login}"))
    }

    /// [`Phone::register`] with the phone's own digest secret `password`.
    pub fn register_with(server: &Server, login: &str, password: &str) -> Phone {
        let phone = Phone {
            login: login.to_string(),
            sip_port: free_sip_port(),
            media_port: free_port(true),
        };
        let password = password.to_string();
        let port = phone.sip_port.to_string();
        let run = spawn_sipp(
            server,
            "agent_register.xml",
            vec![
                format!("127.0.0.1:{}", server.sip_port),
                "-s".into(),
                login.into(),
                "-au".into(),
                login.into(),
                "-ap".into(),
                password,
                "-key".into(),
                "expires".into(),
                "600".into(),
                "-p".into(),
                port,
                "-m".into(),
                "1".into(),
            ],
            Duration::from_secs(10),
        );
        run.wait().assert_ok(server);
        phone
    }

    /// Runs the UAS `scenario` (tests/sipp/agent_*.xml) on the registered port, with `args`
    /// (`-m N`, `-d ms`, `-rtp_echo`, `-timeout 60s` for a longer bound than
    /// [`SIPP_TIMEOUT`], …), and waits until SIPp listens there.
    pub fn start(&self, server: &Server, scenario: &str, args: &[&str]) -> SippRun {
        let mut argv: Vec<String> = vec![
            "-p".into(),
            self.sip_port.to_string(),
            "-mp".into(),
            self.media_port.to_string(),
        ];
        if !args.contains(&"-m") {
            argv.extend(["-m".into(), "1".into()]);
        }
        // SIPp's -timeout counts from its start: a test whose calls come late gives its own.
        let mut limit = SIPP_TIMEOUT;
        let mut rest = args.iter();
        while let Some(arg) = rest.next() {
            if *arg == "-timeout" {
                let value = rest.next().expect("-timeout needs a value such as 60s");
                let secs = value.trim_end_matches('s').parse().unwrap_or_else(|e| {
                    panic!("-timeout {value}: whole seconds such as 60s expected ({e})")
                });
                limit = Duration::from_secs(secs);
            } else {
                argv.push(arg.to_string());
            }
        }
        let mut run = spawn_sipp(server, scenario, argv, limit);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !udp_listening(self.sip_port) {
            if !run.running() || Instant::now() > deadline {
                let result = run.wait();
                panic!(
                    "agent {}'s SIPp did not start listening on {}\n{}",
                    self.login,
                    self.sip_port,
                    result.report()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        run
    }
}

/// Starts SIPp from tests/sipp with `args` plus the harness's common options (loopback,
/// traces into the server's dir, `-timeout` of `limit`).
fn spawn_sipp(server: &Server, scenario: &str, args: Vec<String>, limit: Duration) -> SippRun {
    let name = server.next_run(scenario);
    let dir = server.dir();
    let files = (
        dir.join(format!("{name}-messages.log")),
        dir.join(format!("{name}-errors.log")),
        dir.join(format!("{name}-screen.log")),
        dir.join(format!("{name}-output.log")),
    );
    let scenario_path = sipp_dir().join(scenario);
    assert!(
        scenario_path.is_file(),
        "no scenario {}",
        scenario_path.display()
    );
    let mut argv: Vec<String> = vec![
        "-sf".into(),
        scenario_path.display().to_string(),
        "-i".into(),
        "127.0.0.1".into(),
        "-timeout".into(),
        format!("{}s", limit.as_secs()),
        "-timeout_error".into(),
        "-nostdin".into(),
        "-trace_msg".into(),
        "-message_file".into(),
        files.0.display().to_string(),
        "-trace_err".into(),
        "-error_file".into(),
        files.1.display().to_string(),
        "-trace_screen".into(),
        "-screen_file".into(),
        files.2.display().to_string(),
    ];
    argv.extend(args);
    let out = File::create(&files.3).expect("create SIPp output file");
    let command = format!("(cd {} && sipp {})", sipp_dir().display(), argv.join(" "));
    let child = Command::new("sipp")
        .args(&argv)
        .current_dir(sipp_dir())
        .stdin(Stdio::null())
        .stdout(out.try_clone().expect("clone output handle"))
        .stderr(out)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run sipp ({e}): install SIPp (sip-tester)"));
    SippRun {
        child,
        name,
        scenario: scenario.to_string(),
        command,
        started: Instant::now(),
        limit,
        files,
    }
}

/// The SIP messages of a SIPp run with the given start line prefix and direction.
pub fn messages_starting(run: &SippResult, dir: &str, prefix: &str) -> Vec<String> {
    run.sip_messages()
        .into_iter()
        .filter(|(d, m)| *d == dir && m.starts_with(prefix))
        .map(|(_, m)| m)
        .collect()
}

/// The REST API as the demo supervisor.
pub struct Api<'a> {
    pub server: &'a Server,
    pub token: String,
}

impl<'a> Api<'a> {
    pub fn supervisor(server: &'a Server) -> Api<'a> {
        Api {
            server,
            token: server.login(SUPERVISOR.0, SUPERVISOR.1),
        }
    }

    pub fn get(&self, path: &str) -> serde_json::Value {
        self.server.api_get(path, &self.token)
    }

    /// `PUT /api/v1/agents/{login}/state`; fails the test unless 204.
    pub fn set_state(&self, login: &str, state: &str) {
        let body = format!("{{\"state\":\"{state}\"}}");
        let path = format!("/api/v1/agents/{login}/state");
        let (status, text) = self
            .server
            .http("PUT", &path, Some(&self.token), Some(&body))
            .expect("PUT agent state");
        assert_eq!(status, 204, "PUT {path} {body}: {text}");
    }

    /// One agent of `GET /api/v1/agents`.
    pub fn agent(&self, login: &str) -> serde_json::Value {
        let agents = self.get("/api/v1/agents");
        agents
            .as_array()
            .and_then(|a| a.iter().find(|x| x["login"] == login))
            .cloned()
            .unwrap_or_else(|| panic!("no agent {login} in {agents}"))
    }

    /// One queue of `GET /api/v1/queues`.
    pub fn queue(&self, name: &str) -> serde_json::Value {
        let queues = self.get("/api/v1/queues");
        queues
            .as_array()
            .and_then(|a| a.iter().find(|x| x["name"] == name))
            .cloned()
            .unwrap_or_else(|| panic!("no queue {name} in {queues}"))
    }

    /// Polls `probe` every 50 ms until it yields a value; fails the test (with the last
    /// state seen and the server log) after `timeout`.
    pub fn wait<T>(
        &self,
        what: &str,
        timeout: Duration,
        mut probe: impl FnMut(&Api) -> Result<T, String>,
    ) -> T {
        let deadline = Instant::now() + timeout;
        loop {
            match probe(self) {
                Ok(value) => return value,
                Err(last) if Instant::now() > deadline => panic!(
                    "timed out after {timeout:?} waiting for {what}; last seen: {last}\n\
                     --- server log ---\n{}",
                    tail(&self.server.log(), 150)
                ),
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }

    /// Waits until the registrar has (`registered`) or no longer has a binding of `login`'s
    /// phone, as the agents API says.
    pub fn wait_registered(&self, login: &str, registered: bool) {
        self.wait(
            &format!("agent {login} registered={registered}"),
            Duration::from_secs(15),
            |api| {
                let a = api.agent(login);
                if a["registered"] == registered {
                    Ok(())
                } else {
                    Err(a.to_string())
                }
            },
        );
    }

    /// Waits until agent `login` is in `state` (and, when given, with `reason`).
    pub fn wait_agent(&self, login: &str, state: &str, reason: Option<&str>) -> serde_json::Value {
        self.wait(
            &format!("agent {login} {state} {reason:?}"),
            Duration::from_secs(10),
            |api| {
                let a = api.agent(login);
                let ok = a["state"] == state && reason.is_none_or(|r| a["reason"] == r);
                if ok { Ok(a) } else { Err(a.to_string()) }
            },
        )
    }

    /// The call card of a SIP dialog once the call has ended (the card is written behind the
    /// call, so it is polled until `ended` is set).
    pub fn ended_call(&self, sip_call_id: &str) -> serde_json::Value {
        let path = format!("/api/v1/calls?sip_call_id={}", url_escape(sip_call_id));
        self.wait(
            &format!("the ended call card of {sip_call_id}"),
            Duration::from_secs(10),
            |api| {
                let (status, text) = api
                    .server
                    .http("GET", &path, Some(&api.token), None)
                    .map_err(|e| e.to_string())?;
                let card: serde_json::Value =
                    serde_json::from_str(&text).map_err(|e| format!("{status} {text}: {e}"))?;
                if status == 200 && !card["ended"].is_null() && !card["outcome"].is_null() {
                    Ok(card)
                } else {
                    Err(format!("{status} {text}"))
                }
            },
        )
    }

    /// `GET /api/v1/tickets?call_id=…`: the tickets of one call (our call id).
    pub fn tickets_of(&self, call_id: &str) -> Vec<serde_json::Value> {
        let page = self.get(&format!("/api/v1/tickets?call_id={}", url_escape(call_id)));
        page["tickets"]
            .as_array()
            .cloned()
            .unwrap_or_else(|| panic!("no tickets list in {page}"))
    }

    /// A counter (summed over its label sets) from `/metrics`.
    pub fn metric(&self, name: &str) -> f64 {
        let (status, text) = self.server.http_get("/metrics").expect("GET /metrics");
        assert_eq!(status, 200, "GET /metrics: {text}");
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .filter(|l| {
                l.strip_prefix(name)
                    .is_some_and(|rest| rest.starts_with(' ') || rest.starts_with('{'))
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }
}

/// Percent-escapes what a query value may not carry as is.
pub fn url_escape(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The RTP port of the SDP in the first 200 (INVITE) a caller's SIPp received so far.
pub fn answered_rtp_port(messages: &str) -> Option<u16> {
    let start = messages.find("SIP/2.0 200")?;
    messages[start..]
        .lines()
        .find_map(|l| l.trim().strip_prefix("m=audio "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|p| p.parse().ok())
}

/// The caller's RTP end, held by the test: numbered PCMU frames out, recognised on return.
pub struct EchoProbe {
    pub socket: UdpSocket,
    ssrc: u32,
    seq: u16,
}

impl EchoProbe {
    pub fn new() -> EchoProbe {
        let socket = UdpSocket::bind((LOCALHOST, 0)).expect("bind RTP probe");
        EchoProbe {
            socket,
            ssrc: 0x5eed_ac0d,
            seq: 0,
        }
    }

    pub fn port(&self) -> u16 {
        self.socket.local_addr().expect("local addr").port()
    }

    /// The 160-byte µ-law frame number `n`: a loud sawtooth whose first two bytes carry `n`
    /// in codes that G.711 maps back to themselves (no 0x7F/0xFF, the two zeros).
    pub fn frame(n: u16) -> Vec<u8> {
        let mut frame: Vec<u8> = (0..160u16).map(|i| (0x10 + (i % 32)) as u8).collect();
        frame[0] = 0x20 + (n >> 8) as u8 % 0x40;
        frame[1] = 0x80 + (n & 0x3f) as u8;
        frame[2] = 0xa0 + ((n >> 6) & 0x1f) as u8;
        frame
    }

    /// Sends `count` frames to `to`, one every 20 ms, receiving meanwhile; then keeps
    /// receiving up to `linger`. Returns the numbers of our frames that came back.
    pub fn exchange(&mut self, to: SocketAddr, count: u16, linger: Duration) -> Vec<u16> {
        self.exchange_counting(to, count, linger).0
    }

    /// [`EchoProbe::exchange`], also counting the audio packets received that were not our
    /// frames (a prompt or hold music the server plays).
    pub fn exchange_counting(
        &mut self,
        to: SocketAddr,
        count: u16,
        linger: Duration,
    ) -> (Vec<u16>, usize) {
        self.socket
            .set_read_timeout(Some(Duration::from_millis(5)))
            .expect("set read timeout");
        let known: HashMap<Vec<u8>, u16> = (0..count).map(|n| (Self::frame(n), n)).collect();
        let mut back = Vec::new();
        let mut others = 0;
        let mut buf = [0u8; 2048];
        let start = Instant::now();
        let mut next_send = start;
        let mut sent = 0u16;
        let end_of_sending = start + Duration::from_millis(20 * u64::from(count));
        while Instant::now() < end_of_sending + linger {
            if sent < count && Instant::now() >= next_send {
                let mut packet = Vec::with_capacity(172);
                packet.extend([0x80, if sent == 0 { 0x80 } else { 0x00 }]);
                packet.extend(self.seq.to_be_bytes());
                packet.extend((u32::from(sent) * 160).to_be_bytes());
                packet.extend(self.ssrc.to_be_bytes());
                packet.extend(Self::frame(sent));
                self.socket.send_to(&packet, to).expect("send RTP");
                self.seq = self.seq.wrapping_add(1);
                sent += 1;
                next_send += Duration::from_millis(20);
            }
            if let Ok((n, _)) = self.socket.recv_from(&mut buf)
                && n >= 12 + 160
                && buf[1] & 0x7f == 0
            {
                match known.get(&buf[n - 160..n]) {
                    Some(&k) => back.push(k),
                    None => others += 1,
                }
            }
        }
        (back, others)
    }
}

impl EchoProbe {
    /// Streams a `freq` Hz µ-law tone to `to` for `duration`, one 20 ms packet at a time,
    /// and returns the µ-law audio received meanwhile (PCMU packets only), decoded.
    pub fn tone_exchange(&mut self, to: SocketAddr, freq: f64, duration: Duration) -> Vec<i16> {
        self.socket
            .set_read_timeout(Some(Duration::from_millis(5)))
            .expect("set read timeout");
        let mut received = Vec::new();
        let mut buf = [0u8; 2048];
        let start = Instant::now();
        let mut next_send = start;
        let mut n = 0u32;
        while Instant::now() < start + duration {
            if Instant::now() >= next_send {
                let mut packet = Vec::with_capacity(172);
                packet.extend([0x80, if n == 0 { 0x80 } else { 0x00 }]);
                packet.extend(self.seq.to_be_bytes());
                packet.extend((n * 160).to_be_bytes());
                packet.extend(self.ssrc.to_be_bytes());
                packet.extend((0..160u32).map(|i| {
                    let t = f64::from(n * 160 + i) / 8000.0;
                    let x = (2.0 * std::f64::consts::PI * freq * t).sin() * 8000.0;
                    media::g711::ulaw_encode(x as i16)
                }));
                self.socket.send_to(&packet, to).expect("send RTP");
                self.seq = self.seq.wrapping_add(1);
                n += 1;
                next_send += Duration::from_millis(20);
            }
            if let Ok((len, _)) = self.socket.recv_from(&mut buf)
                && len > 12
                && buf[1] & 0x7f == 0
            {
                received.extend(buf[12..len].iter().map(|&b| media::g711::ulaw_decode(b)));
            }
        }
        received
    }
}

impl Default for EchoProbe {
    fn default() -> Self {
        Self::new()
    }
}
