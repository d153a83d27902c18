//! A real softphone calls the demo: baresip (Debian package), headless, driven over its
//! `ctrl_tcp` interface. It dials the main number, hears our prompt, sends keypad digits as
//! RFC 4733 events, and is hung up on when it goes quiet. A second, independent SIP/RTP stack
//! beside SIPp.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::agents::{Api, EchoProbe, acd_config, answered_rtp_port, udp_listening};
use common::{Server, TempDir, field, free_sip_port, listening, sipp_start, tail};

/// baresip, killed when the test ends.
struct Baresip {
    child: Child,
    log: std::path::PathBuf,
    /// Its configuration and log (removed after the phone).
    _dir: TempDir,
}

impl Drop for Baresip {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Baresip {
    fn log(&self) -> String {
        std::fs::read(&self.log)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }
}

/// A netstring-framed JSON command for baresip's ctrl_tcp module.
fn command(ctrl: &mut TcpStream, command: &str, params: &str) {
    let json = format!(r#"{{"command":"{command}","params":"{params}","token":"t"}}"#);
    let frame = format!("{}:{json},", json.len());
    ctrl.write_all(frame.as_bytes()).expect("ctrl_tcp write");
}

fn connect_ctrl(port: u16) -> TcpStream {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(stream) => return stream,
            // Polling for a listener we cannot be told about: bounded by the deadline.
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => panic!("baresip's ctrl_tcp never listened on {port}: {e}"),
        }
    }
}

#[test]
fn baresip_calls_hears_us_and_each_digit_arrives_once() {
    require_baresip();
    let server = Server::start(&listening(0, "welcome", 4));
    let (phone, ctrl_port) = start_baresip(&server, "800100200");
    let offered = |line: &str| line.contains("incoming call") && line.contains("caller=\"tour\"");
    assert!(
        server.wait_log(|l| l.lines().any(offered), Duration::from_secs(15)),
        "baresip's call never reached us\n--- baresip ---\n{}\n--- server ---\n{}",
        tail(&phone.log(), 40),
        tail(&server.log(), 40)
    );
    let log = server.log();
    let line = log.lines().find(|l| offered(l)).unwrap();
    let call_id = field(line, "sip_call_id").expect("the call's span names its Call-ID");

    let mut ctrl = connect_ctrl(ctrl_port);
    // Each key is pressed once the previous one was reported: synchronised on our events.
    for (n, digit) in ["4", "2"].into_iter().enumerate() {
        command(&mut ctrl, "sndcode", digit);
        assert!(
            server.wait_log(
                |_| server.dtmf_digits(&call_id).len() > n,
                Duration::from_secs(5)
            ),
            "digit {digit} not reported\n--- baresip ---\n{}\n--- server ---\n{}",
            tail(&phone.log(), 40),
            tail(&server.log(), 60)
        );
    }
    // Silence: the listening IVR hangs up after 4 s without a digit.
    assert!(
        server.wait_log(
            |l| l.contains("outcome=\"server_hangup\"") && l.contains(&call_id),
            Duration::from_secs(15)
        ),
        "the server did not hang up\n{}",
        tail(&server.log(), 40)
    );
    assert_eq!(
        server.dtmf_digits(&call_id),
        vec!["4", "2"],
        "each digit exactly once"
    );

    let phone_log = phone.log();
    assert!(
        phone_log.contains("Call established"),
        "{}",
        tail(&phone_log, 40)
    );
    assert!(
        phone_log.contains("incoming rtp for 'audio' established"),
        "baresip heard no RTP from us\n{}",
        tail(&phone_log, 40)
    );
    let (status, metrics) = server.http_get("/metrics").expect("metrics");
    assert_eq!(status, 200);
    let received: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("centralino_rtp_packets_received_total "))
        .and_then(|v| v.trim().parse().ok())
        .expect("RTP counter");
    assert!(
        received >= 100,
        "baresip's audio reached us: {received} packets"
    );
}

/// Starts baresip dialling `number` on `server`; the phone and its ctrl_tcp port.
fn start_baresip(server: &Server, number: &str) -> (Baresip, u16) {
    let dir = TempDir::new("baresip");
    let sip_port = free_sip_port();
    let ctrl_port = free_sip_port();
    std::fs::write(
        dir.path().join("config"),
        format!(
            "poll_method epoll\nsip_listen 127.0.0.1:{sip_port}\nnet_interface 127.0.0.1\n\
             audio_player null\naudio_source ausine,440\nausrc_srate 48000\nausrc_channels 2\n\
             module_path /usr/lib/baresip/modules\nmodule g711.so\nmodule ausine.so\n\
             module account.so\nmodule menu.so\nmodule ctrl_tcp.so\n\
             ctrl_tcp_listen 127.0.0.1:{ctrl_port}\nrtp_ports 62000-62999\n"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("accounts"),
        "<sip:tour@127.0.0.1>;regint=0;dtmfmode=rtpevent;audio_codecs=PCMU/8000/1\n",
    )
    .unwrap();
    let log = dir.path().join("baresip.log");
    let child = Command::new("baresip")
        .arg("-f")
        .arg(dir.path())
        .arg("-e")
        .arg(format!("/dial sip:{number}@{}", server.sip_addr()))
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .expect("baresip starts");
    let phone = Baresip {
        child,
        log,
        _dir: dir,
    };
    (phone, ctrl_port)
}

fn require_baresip() {
    assert!(
        Command::new("baresip")
            .arg("-h")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok(),
        "baresip is required (scripts/install-test-deps.sh installs it)"
    );
}

/// The demo's area 2 from a real softphone: direct dial, PIN typed on baresip's keypad, the
/// sub-menu, the route to `tecnica`; the call card shows the path and the PIN identification.
#[test]
fn baresip_walks_the_demo_pin_path() {
    require_baresip();
    let server = Server::start_demo("");
    let token = server.login("supervisor", "demo-supervisor");
    let (phone, ctrl_port) = start_baresip(&server, "800100202");
    let offered = |line: &str| line.contains("incoming call") && line.contains("caller=\"tour\"");
    assert!(
        server.wait_log(|l| l.lines().any(offered), Duration::from_secs(15)),
        "baresip's call never reached us\n{}",
        tail(&phone.log(), 40)
    );
    let log = server.log();
    let call_id = field(log.lines().find(|l| offered(l)).unwrap(), "sip_call_id").unwrap();
    let step = |text: &str| {
        let found = server.wait_log(
            |_| {
                server
                    .call_log(&call_id)
                    .iter()
                    .any(|l| l.contains("call step") && l.contains(text))
            },
            Duration::from_secs(30),
        );
        assert!(
            found,
            "step {text:?} never came\n{}",
            server.call_log(&call_id).join("\n")
        );
    };
    step("enter area2_pin");
    let mut ctrl = connect_ctrl(ctrl_port);
    // One key at a time, each once our side reported the previous one.
    let mut sent = 0;
    let mut press = |keys: &str| {
        for key in keys.chars() {
            command(&mut ctrl, "sndcode", &key.to_string());
            sent += 1;
            assert!(
                server.wait_log(
                    |_| server.dtmf_digits(&call_id).len() >= sent,
                    Duration::from_secs(5)
                ),
                "key {key} not reported\n{}",
                tail(&server.log(), 40)
            );
        }
    };
    press("12345#");
    step("area2_pin: pin hit");
    step("enter area2_menu");
    press("2");
    step("route tecnica");
    drop(phone); // hang up (the process goes; the server ends the call on RTP timeout or BYE)
    // The call card is written behind the call by the journaled writer: wait for it to hold
    // the identification (bounded) rather than race the writer.
    let path = format!("/api/v1/calls?sip_call_id={call_id}");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let card = loop {
        let card = server.api_get(&path, &token);
        let written = card["identity"] == "pin" && card["queue"] == "tecnica";
        if written || std::time::Instant::now() > deadline {
            break card;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(card["identity"], "pin", "{card}");
    assert_eq!(card["queue"], "tecnica", "{card}");
    let steps: Vec<String> = card["ivr_path"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect();
    assert!(
        steps.iter().any(|s| s.contains("area2_menu: chose 2")),
        "{steps:#?}"
    );
}

/// The agent's softphone is baresip: a static contact (`[[phones]]`, no REGISTER) that
/// answers by itself. A SIPp caller queues, the ACD offers the call to agent 1001, baresip
/// rings and answers, and the audio crosses the bridge both ways: the caller's frames reach
/// baresip, baresip's tone reaches the caller. The Service Request opens at answer.
#[test]
fn a_caller_reaches_the_agents_softphone_and_they_talk() {
    require_baresip();
    let dir = TempDir::new("baresip-agent");
    let sip_port = free_sip_port();
    std::fs::write(
        dir.path().join("config"),
        format!(
            "poll_method epoll\nsip_listen 127.0.0.1:{sip_port}\nnet_interface 127.0.0.1\n\
             audio_player null\naudio_source ausine,440\nausrc_srate 48000\nausrc_channels 2\n\
             module_path /usr/lib/baresip/modules\nmodule g711.so\nmodule ausine.so\n\
             module account.so\nmodule menu.so\nrtp_ports 63000-63999\n"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("accounts"),
        "<sip:1001@127.0.0.1>;regint=0;answermode=auto;audio_codecs=PCMU/8000/1\n",
    )
    .unwrap();
    let log = dir.path().join("baresip.log");
    let child = Command::new("baresip")
        .arg("-f")
        .arg(dir.path())
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .expect("baresip starts");
    let phone = Baresip {
        child,
        log,
        _dir: dir,
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while !udp_listening(sip_port) {
        assert!(
            Instant::now() < deadline,
            "baresip never listened on {sip_port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    let mut config = acd_config(8, &["1001"]);
    config.push_str(&format!(
        "\n[[phones]]\nlogin = \"1001\"\ncontact = \"sip:1001@127.0.0.1:{sip_port}\"\n"
    ));
    let server = Server::start(&config);
    let api = Api::supervisor(&server);
    api.set_state("1001", "ready");
    api.wait_agent("1001", "ready", None);

    let mut probe = EchoProbe::new();
    let rtp_port = probe.port().to_string();
    let caller = sipp_start(
        "uac_media_probe.xml",
        &server,
        &["-key", "rtp_port", &rtp_port, "-d", "6000"],
    );
    api.wait_agent("1001", "talking", None);
    let server_rtp = answered_rtp_port(&caller.messages_so_far())
        .expect("the server's SDP answer in the caller's message log");
    // Our frames go to baresip; what comes back is baresip's 440 Hz tone, relayed.
    let (_, from_phone) = probe.exchange_counting(
        std::net::SocketAddr::from(([127, 0, 0, 1], server_rtp)),
        50,
        Duration::from_millis(300),
    );
    assert!(
        from_phone >= 30,
        "baresip's audio crossed the bridge: {from_phone} packets in 1.3 s"
    );
    let caller = caller.wait();
    caller.assert_ok(&server);

    let phone_log = phone.log();
    assert!(
        phone_log.contains("Call established"),
        "{}",
        tail(&phone_log, 40)
    );
    assert!(
        phone_log.contains("incoming rtp for 'audio' established"),
        "the caller's audio reached baresip\n{}",
        tail(&phone_log, 40)
    );
    let card = api.ended_call(&caller.call_id());
    assert_eq!(card["outcome"], "answered", "card: {card}");
    assert_eq!(card["agent"], "1001", "card: {card}");
    assert!(
        card["ticket"].is_string(),
        "the Service Request opened: {card}"
    );
}
