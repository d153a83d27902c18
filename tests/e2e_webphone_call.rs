//! A SIP caller talks with an agent whose phone is the desktop's browser phone (issue 17), in
//! a real headless Chromium with fake media (its microphone a 440 Hz tone), through the
//! server's WebRTC leg: the ACD rings the browser over `/ws` with the leg's offer (ICE-lite,
//! DTLS-SRTP), the agent answers from the screen pop, and the leg bridges the browser to the
//! SIPp caller through the media engine like any phone.
//!
//! - The caller streams 1 kHz and hears the browser's 440 Hz (the dominant frequency of the
//!   RTP it received); the page hears 1 kHz (`dominantFrequency()`, WebAudio in the page).
//! - The supervisor's `GET /api/v1/phones/browser` shows the agent on the browser phone and
//!   the call's RTCP figures.
//! - Hold and resume from the page put the caller on hold music and back (the call card says
//!   so); hang-up from the page ends the caller's call with a BYE, and the leg is released.
//! - A second call is transferred from the page to the second-level queue: the call and its
//!   Service Request move, and the browser's call ends.
//!
//! Every wait is bounded and waits for a condition. Needs `chromium`/`chromium-driver` and
//! `sipp` (scripts/install-test-deps.sh).

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::agents::{Api, EchoProbe, QUEUE, acd_config, answered_rtp_port};
use common::web::Browser;
use common::{Server, dominant, sipp_start};

const WAIT: Duration = Duration::from_secs(20);
const SECOND_LEVEL: &str = "secondo-livello";

/// The server's RTP port from the caller's 200 OK, once it has come.
fn server_rtp(caller: &common::SippRun) -> SocketAddr {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(port) = answered_rtp_port(&caller.messages_so_far()) {
            return SocketAddr::from(([127, 0, 0, 1], port));
        }
        assert!(Instant::now() < deadline, "no 200 OK for the caller");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The browser rings with the screen pop's Answer; the agent answers from the pop.
fn answer_from_the_pop(desk: &Browser) -> String {
    let call_id = desk.wait_js(
        "the browser ringing, Answer on the screen pop",
        "const s = window.centralinoPhone.state(); const pop = document.getElementById('pop'); \
         return s.ringing && !pop.hidden && !document.getElementById('pop-answer').hidden \
         && s.callId",
        WAIT,
    );
    desk.click_button("Answer");
    desk.wait_js(
        "in call in the page",
        "const s = window.centralinoPhone.state(); return s.inCall && !s.ringing",
        WAIT,
    );
    call_id.as_str().expect("the call id").to_string()
}

#[test]
fn a_sip_caller_talks_with_the_browser_phone_through_the_webrtc_leg() {
    let mut config = acd_config(10, &["1001"]);
    config.push_str(&format!(
        "\n[[acd.queues]]\nname = \"{SECOND_LEVEL}\"\n\n\
         [[acd.agents]]\nlogin = \"2001\"\nqueues = [\"{SECOND_LEVEL}\"]\n"
    ));
    let server = Server::start(&config);
    let api = Api::supervisor(&server);
    let desk = Browser::phone_desktop(&server, "1001", "demo1001", 440.0);
    api.wait_registered("1001", true);
    desk.click("#btn-ready");
    api.wait_agent("1001", "ready", None);

    // The caller walks the IVR into the queue; the ACD rings the browser with the leg's offer.
    let mut probe = EchoProbe::new();
    let rtp_port = probe.port().to_string();
    let caller = sipp_start(
        "uac_media_probe_server_bye.xml",
        &server,
        &["-key", "rtp_port", &rtp_port, "-timeout", "90s"],
    );
    let call_id = answer_from_the_pop(&desk);
    api.wait_agent("1001", "talking", None);
    let to_server = server_rtp(&caller);

    // Tones both ways, at once: the caller's 1 kHz and the browser's 440 Hz microphone.
    let (heard_by_caller, heard_in_page) = std::thread::scope(|s| {
        let streaming = s.spawn(|| probe.tone_exchange(to_server, 1000.0, Duration::from_secs(4)));
        let in_page = desk.wait_js(
            "the caller's 1 kHz heard in the page",
            "const f = window.centralinoPhone.dominantFrequency(); \
             return document.getElementById('phone-far-level').value > 0.02 \
             && Math.abs(f - 1000) < 30 && f",
            WAIT,
        );
        (streaming.join().expect("the caller's stream"), in_page)
    });
    eprintln!("e2e_webphone_call: the page hears {heard_in_page} Hz");
    assert!(
        heard_by_caller.len() >= 8000,
        "a second or more of audio came back to the caller: {} samples",
        heard_by_caller.len()
    );
    // The last two seconds: the browser's microphone, relayed through the leg and the bridge.
    let tail = &heard_by_caller[heard_by_caller.len() - 16000.min(heard_by_caller.len())..];
    assert_eq!(
        dominant(tail, &[300.0, 440.0, 600.0, 800.0, 1000.0]),
        440.0,
        "the caller hears the browser's 440 Hz"
    );

    // The supervisor sees 1001 on the browser phone, and the call's RTCP figures.
    let phones = api.wait("the browser call's RTCP figures", WAIT, |api| {
        let p = api.get("/api/v1/phones/browser");
        let call = &p["calls"][0];
        if p["registered"] == serde_json::json!(["1001"])
            && call["login"] == "1001"
            && call["state"] == "connected"
            && call["packets_from_browser"].as_u64() > Some(100)
            && call["packets_to_browser"].as_u64() > Some(100)
            && call["jitter_ms"].is_number()
            && call["round_trip_ms"].is_number()
            && call["packets_lost"].is_number()
        {
            Ok(p)
        } else {
            Err(p.to_string())
        }
    });
    eprintln!("e2e_webphone_call: supervisor sees {phones}");
    let jitter = phones["calls"][0]["jitter_ms"].as_f64().unwrap();
    assert!(jitter < 100.0, "loopback jitter is small: {phones}");
    let rtt = phones["calls"][0]["round_trip_ms"].as_f64().unwrap();
    assert!(rtt > 0.0 && rtt < 100.0, "a loopback round trip: {phones}");

    // Hold and resume from the page: hold music for the caller meanwhile.
    desk.click("#phone-hold");
    desk.wait_js(
        "held",
        "return window.centralinoPhone.state().held \
         && document.getElementById('phone-hold').getAttribute('aria-pressed') === 'true'",
        WAIT,
    );
    desk.click("#phone-hold");
    desk.wait_js(
        "resumed",
        "return !window.centralinoPhone.state().held",
        WAIT,
    );

    // Hang-up from the page: the caller gets a BYE, the leg is released.
    desk.click("#phone-hangup");
    let caller = caller.wait();
    caller.assert_ok(&server);
    let card = api.ended_call(&caller.call_id());
    assert_eq!(card["outcome"], "answered", "card: {card}");
    assert_eq!(card["agent"], "1001", "card: {card}");
    assert_eq!(card["call_id"], call_id.as_str(), "card: {card}");
    let steps = card["ivr_path"].to_string();
    assert!(
        steps.contains("on hold by the agent") && steps.contains("off hold"),
        "the card says the caller was held and resumed: {card}"
    );
    assert_eq!(
        api.tickets_of(&call_id).len(),
        1,
        "the Service Request opened at the answer"
    );
    api.wait("the browser leg released", WAIT, |api| {
        let p = api.get("/api/v1/phones/browser");
        if p["calls"] == serde_json::json!([]) {
            Ok(())
        } else {
            Err(p.to_string())
        }
    });
    desk.wait_js(
        "the page out of the call",
        "return !window.centralinoPhone.state().inCall",
        WAIT,
    );
    api.wait_agent("1001", "ready", None);

    // A second call, transferred from the page to second level with its Service Request.
    let mut probe = EchoProbe::new();
    let rtp_port = probe.port().to_string();
    let caller = sipp_start(
        "uac_media_probe.xml",
        &server,
        &[
            "-key", "rtp_port", &rtp_port, "-d", "6000", "-timeout", "60s",
        ],
    );
    let call_id = answer_from_the_pop(&desk);
    api.wait_agent("1001", "talking", None);
    let to_server = server_rtp(&caller);
    // Media flows before the transfer (the caller hears the browser).
    let heard = probe.tone_exchange(to_server, 1000.0, Duration::from_secs(2));
    assert!(!heard.is_empty(), "the caller hears the browser");
    desk.eval(&format!(
        "document.getElementById('phone-transfer-queue').value = '{SECOND_LEVEL}'; \
         document.getElementById('phone-transfer-note').value = 'needs the back office'; \
         return true"
    ));
    desk.click("#phone-transfer");
    desk.wait_js(
        "the browser's call over after the transfer",
        "return !window.centralinoPhone.state().inCall",
        WAIT,
    );
    api.wait(
        "the caller waiting in the second-level queue",
        WAIT,
        |api| {
            let queues = api.get("/api/v1/queues");
            let waiting = queues
                .as_array()
                .into_iter()
                .flatten()
                .find(|q| q["name"] == SECOND_LEVEL)
                .map(|q| q["waiting"].as_u64().unwrap_or(0))
                .unwrap_or(0);
            if waiting == 1 {
                Ok(())
            } else {
                Err(queues.to_string())
            }
        },
    );
    let caller = caller.wait();
    caller.assert_ok(&server);
    let card = api.ended_call(&caller.call_id());
    assert!(
        card["ivr_path"]
            .to_string()
            .contains("transferred to secondo-livello"),
        "card: {card}"
    );
    let tickets = api.tickets_of(&call_id);
    assert_eq!(tickets.len(), 1, "{tickets:?}");
    assert_eq!(tickets[0]["queue"], SECOND_LEVEL, "{}", tickets[0]);
    let number = tickets[0]["number"].as_str().unwrap();
    let detail = api.get(&format!("/api/v1/tickets/{number}"));
    assert!(
        detail.to_string().contains("needs the back office"),
        "the note is in the ticket: {detail}"
    );
    assert_ne!(QUEUE, SECOND_LEVEL);
}

/// The SIP.js bundle `scripts/install-test-deps.sh` builds (global `SIP`).
fn sipjs_bundle() -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/interop/sipjs.bundle.js");
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (scripts/install-test-deps.sh installs SIP.js and bundles it)",
            path.display()
        )
    })
}

/// A second, independent WebRTC SIP client: SIP.js 0.21 (its `SimpleUser`) in a page of the
/// server, with its own digest password, registers over `/ws`, auto-answers the ACD's call
/// (the server's WebRTC offer), talks with the SIPp caller (440 Hz one way, 1 kHz the other,
/// measured in the page with WebAudio), and hangs up, which ends the caller's call with BYE.
#[test]
fn sip_js_in_a_page_registers_takes_a_call_and_hangs_up() {
    let server = Server::start(&acd_config(10, &["1002"]));
    let api = Api::supervisor(&server);
    let page = Browser::start_phone(440.0);
    page.goto(&server, "/");
    page.eval(&format!(
        "{}\n; window.SIP = SIP; return true",
        sipjs_bundle()
    ));
    let started = page.eval_async(&format!(
        r#"
const done = arguments[arguments.length - 1];
(async () => {{
  const remote = document.createElement('audio');
  remote.autoplay = true;
  document.body.appendChild(remote);
  const state = window.__sipjs = {{ registered: false, answered: false, hungUp: false, freq: 0 }};
  const user = new SIP.Web.SimpleUser('ws://127.0.0.1:{port}/ws', {{
    aor: 'sip:1002@127.0.0.1',
    media: {{ constraints: {{ audio: true, video: false }}, remote: {{ audio: remote }} }},
    userAgentOptions: {{
      authorizationUsername: '1002',
      authorizationPassword: 'demo1002',
      sessionDescriptionHandlerFactoryOptions: {{ peerConnectionConfiguration: {{ iceServers: [] }} }},
    }},
    delegate: {{
      onRegistered: () => {{ state.registered = true; }},
      onCallReceived: async () => {{
        await user.answer();
        state.answered = true;
        const ctx = new AudioContext();
        const analyser = ctx.createAnalyser();
        analyser.fftSize = 8192;
        ctx.createMediaStreamSource(user.remoteMediaStream).connect(analyser);
        const bins = new Float32Array(analyser.frequencyBinCount);
        state.measure = () => {{
          analyser.getFloatFrequencyData(bins);
          let best = 0;
          for (let i = 1; i < bins.length; i++) if (bins[i] > bins[best]) best = i;
          return best * ctx.sampleRate / analyser.fftSize;
        }};
      }},
      onCallHangup: () => {{ state.hungUp = true; }},
    }},
  }});
  window.__sipjsUser = user;
  await user.connect();
  await user.register();
  done(true);
}})().catch((e) => done(String(e)));
"#,
        port = server.http_port
    ));
    assert_eq!(
        started,
        true,
        "SIP.js connected and sent REGISTER\n{}",
        common::tail(&server.log(), 30)
    );
    page.wait_js(
        "SIP.js registered",
        "return window.__sipjs.registered",
        WAIT,
    );
    api.wait_registered("1002", true);
    api.set_state("1002", "ready");
    api.wait_agent("1002", "ready", None);

    let mut probe = EchoProbe::new();
    let rtp_port = probe.port().to_string();
    let caller = sipp_start(
        "uac_media_probe_server_bye.xml",
        &server,
        &["-key", "rtp_port", &rtp_port, "-timeout", "60s"],
    );
    page.wait_js("SIP.js answered", "return window.__sipjs.answered", WAIT);
    api.wait_agent("1002", "talking", None);
    let to_server = server_rtp(&caller);
    let (heard_by_caller, heard_in_page) = std::thread::scope(|s| {
        let streaming = s.spawn(|| probe.tone_exchange(to_server, 1000.0, Duration::from_secs(4)));
        let in_page = page.wait_js(
            "the caller's 1 kHz heard by SIP.js",
            "const f = window.__sipjs.measure(); return Math.abs(f - 1000) < 30 && f",
            WAIT,
        );
        (streaming.join().expect("the caller's stream"), in_page)
    });
    eprintln!("e2e_webphone_call: SIP.js hears {heard_in_page} Hz");
    assert!(heard_by_caller.len() >= 8000, "{}", heard_by_caller.len());
    let tail = &heard_by_caller[heard_by_caller.len() - 16000.min(heard_by_caller.len())..];
    assert_eq!(
        dominant(tail, &[300.0, 440.0, 600.0, 800.0, 1000.0]),
        440.0,
        "the caller hears SIP.js's 440 Hz"
    );

    assert_eq!(
        page.eval_async(
            "const done = arguments[arguments.length - 1]; \
             window.__sipjsUser.hangup().then(() => done(true), (e) => done(String(e)));"
        ),
        true
    );
    let caller = caller.wait();
    caller.assert_ok(&server);
    let card = api.ended_call(&caller.call_id());
    assert_eq!(card["outcome"], "answered", "card: {card}");
    assert_eq!(card["agent"], "1002", "card: {card}");
}
