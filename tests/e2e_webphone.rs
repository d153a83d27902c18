//! The agent desktop's browser phone (issue 17) in a real headless Chromium with fake media
//! (its microphone a 440 Hz tone): the page fetches the agent's phone credentials from the
//! session (`GET /api/v1/me/phone`, no password in the page), JsSIP registers over `/ws`, the
//! registrar has the binding (the agents API says registered), the agent goes Ready, the
//! microphone's level meter moves, the device lists are filled; a network blip (the page's
//! WebSocket dropped) shows "reconnecting…" then registered again with the agent still Ready;
//! a caller in the queue rings the browser, the screen pop gets Answer and Decline and the
//! phone the call's id, Decline ends the ringing; a WebRTC call whose other end is a peer in
//! the page itself (see `INJECT_INVITE`: the phone's own answer path, without the server) is
//! answered, its far end's 1 kHz read by `dominantFrequency()`, muted, refused hold (the
//! server has no conversation on that call: 409, shown), hung up with a BYE; signing out unregisters (a REGISTER with Expires: 0). An agent whose
//! phone has no secret sees "No browser phone".
//! Every wait is for a DOM or API condition, bounded, never a sleep. A screenshot of the
//! desktop with its phone is kept in `target/test-artifacts/e2e_webphone/`.
//! Needs `chromium`/`chromium-driver` (scripts/install-test-deps.sh).
//!
//! Calls to the browser (a SIPp caller bridged to it, tones both ways, hang-up, transfer) build
//! on [`Browser::phone_desktop`].

mod common;

use std::time::Duration;

use common::Server;
use common::agents::{Api, acd_config};
use common::web::Browser;

const WAIT: Duration = Duration::from_secs(15);

/// Records every WebSocket the page opens in `window.__sockets`, before any script of the
/// page runs: the test's way to drop the phone's connection as a network blip would.
const RECORD_SOCKETS: &str = "(() => { const Native = window.WebSocket; window.__sockets = []; \
     window.WebSocket = class extends Native { constructor(...a) { super(...a); \
     window.__sockets.push(this); } }; })();";

/// Plays the far end of a call in the page itself (the phone's answer path alone; calls
/// through the server's WebRTC leg are `tests/e2e_webphone_call.rs`): a second RTCPeerConnection sending a 1 kHz tone makes a WebRTC
/// offer, which arrives on the phone's WebSocket as an INVITE (dispatched as a message from
/// the server); what the phone sends is captured on its way to the server. `window.__peer`
/// holds the peer and the captured messages.
const INJECT_INVITE: &str = r#"
const done = arguments[arguments.length - 1];
(async () => {
  const ws = window.__sockets.find((s) => new URL(s.url).pathname === '/ws' && s.readyState === WebSocket.OPEN);
  const sent = [];
  const send = ws.send.bind(ws);
  ws.send = (m) => { sent.push(String(m)); return send(m); };
  const ctx = new AudioContext();
  const osc = ctx.createOscillator();
  osc.frequency.value = 1000;
  const dest = ctx.createMediaStreamDestination();
  osc.connect(dest);
  osc.start();
  const pc = new RTCPeerConnection({ iceServers: [] });
  pc.addTrack(dest.stream.getAudioTracks()[0], dest.stream);
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise((resolve) => {
    if (pc.iceGatheringState === 'complete') resolve();
    pc.addEventListener('icegatheringstatechange', () => { if (pc.iceGatheringState === 'complete') resolve(); });
  });
  const sdp = pc.localDescription.sdp;
  const head = [
    'INVITE sip:1001@127.0.0.1 SIP/2.0',
    'Via: SIP/2.0/WS peer.invalid;branch=z9hG4bKpeerinvite1',
    'Max-Forwards: 70',
    'From: <sip:caller@127.0.0.1>;tag=peertag',
    'To: <sip:1001@127.0.0.1>',
    'Call-ID: in-page-peer-call',
    'CSeq: 1 INVITE',
    'Contact: <sip:caller@peer.invalid;transport=ws>',
    'Content-Type: application/sdp',
    `Content-Length: ${new TextEncoder().encode(sdp).length}`,
  ];
  window.__peer = { pc, ws, sent, ctx };
  ws.dispatchEvent(new MessageEvent('message', { data: head.join('\r\n') + '\r\n\r\n' + sdp }));
  done(true);
})().catch((e) => done(String(e)));
"#;

/// The phone's 200 OK answered: its SDP to the peer, and the ACK dispatched to the phone.
const INJECT_ACK: &str = r#"
const done = arguments[arguments.length - 1];
(async () => {
  const { pc, ws, sent } = window.__peer;
  const ok = sent.find((m) => m.startsWith('SIP/2.0 200') && m.includes('in-page-peer-call'));
  const [head, body] = ok.split('\r\n\r\n');
  const header = (name) => head.split('\r\n').find((l) => l.toLowerCase().startsWith(name.toLowerCase() + ':')).slice(name.length + 1).trim();
  await pc.setRemoteDescription({ type: 'answer', sdp: body });
  const contact = header('Contact').replace(/^.*<([^>]+)>.*$/, '$1');
  const ack = [
    `ACK ${contact} SIP/2.0`,
    'Via: SIP/2.0/WS peer.invalid;branch=z9hG4bKpeerack1',
    'Max-Forwards: 70',
    'From: <sip:caller@127.0.0.1>;tag=peertag',
    `To: ${header('To')}`,
    'Call-ID: in-page-peer-call',
    'CSeq: 1 ACK',
    'Content-Length: 0',
  ];
  ws.dispatchEvent(new MessageEvent('message', { data: ack.join('\r\n') + '\r\n\r\n' }));
  done(true);
})().catch((e) => done(String(e)));
"#;

#[test]
fn the_desktops_browser_phone_registers_rings_answers_survives_a_blip_and_follows_the_desk() {
    let server = Server::start(&acd_config(10, &["1001"]));
    let api = Api::supervisor(&server);
    assert_eq!(api.agent("1001")["registered"], false, "no phone yet");

    // An agent whose phone has no secret: no browser phone, nothing else changes.
    let admin = server.login("admin", "demo-admin");
    let body = r#"{"login": "4001", "full_name": "Lia Neri", "role": "agent_first_level",
        "password": "password-di-lia", "queues": [{"queue": "cittadini", "weight": 1}],
        "permissions": [{"queue": "cittadini", "access": "write"}],
        "phone": {"kind": "registering"}}"#;
    let (status, text) = server
        .http("POST", "/api/v1/users", Some(&admin), Some(body))
        .unwrap();
    assert_eq!(status, 201, "{text}");
    let plain = Browser::start_phone(440.0);
    plain.login(&server, "/desktop", "4001", "password-di-lia", "/desktop");
    plain.wait_js(
        "no browser phone",
        "const s = document.getElementById('phone-section'); \
         return s.dataset.status === 'phone_no_browser' \
         && !document.getElementById('phone-none').hidden \
         && document.getElementById('phone-controls').hidden \
         && document.getElementById('phone-none').textContent === 'No browser phone' \
         && window.centralinoPhone.state().enabled === false",
        WAIT,
    );
    drop(plain);

    // 1001 signs in: the page's phone registers over /ws, and the registrar has the binding.
    let desk = Browser::start_phone(440.0);
    desk.cdp(
        "Page.addScriptToEvaluateOnNewDocument",
        serde_json::json!({ "source": RECORD_SOCKETS }),
    );
    desk.sign_in_phone(&server, "1001", "demo1001");
    api.wait_registered("1001", true);
    let state = desk.phone_state();
    assert_eq!(state["registered"], true, "{state}");
    assert_eq!(state["inCall"], false, "{state}");
    assert_eq!(state["callId"], serde_json::Value::Null, "{state}");
    desk.wait_js(
        "#phone-state saying registered",
        "const p = document.getElementById('phone-state'); \
         return p.dataset.browser === 'registered' && p.textContent === 'registered' \
         && document.getElementById('phone-section').dataset.status === 'registered'",
        WAIT,
    );
    // No password anywhere in the page: the phone signed in with the HA1 of the session.
    let html = desk.eval("return document.documentElement.outerHTML");
    assert!(!html.as_str().unwrap().contains("demo1001"));

    // Ready, from the desktop.
    desk.click("#btn-ready");
    api.wait_agent("1001", "ready", None);
    desk.wait_js(
        "the badge saying ready",
        "return document.getElementById('agent-state').dataset.state === 'ready'",
        WAIT,
    );

    // The fake microphone's tone moves the level meter; the device lists are filled.
    desk.wait_js(
        "the microphone level meter moving",
        "const m = document.getElementById('phone-mic-level'); \
         return m.value > 0.05 && Number(m.getAttribute('aria-valuenow')) > 0.05",
        WAIT,
    );
    let devices = desk.wait_js(
        "microphones and speakers listed",
        "const mic = document.getElementById('phone-mic'); \
         const spk = document.getElementById('phone-speaker'); \
         return mic.options.length > 0 && spk.options.length > 0 \
         && [mic.options.length, spk.options.length, mic.options[0].textContent]",
        WAIT,
    );
    eprintln!("e2e_webphone: devices {devices}");
    desk.screenshot("e2e_webphone", "registered_ready");
    // A chosen microphone is remembered.
    let chosen = desk.eval(
        "const mic = document.getElementById('phone-mic'); \
         mic.value = mic.options[mic.options.length - 1].value; \
         mic.dispatchEvent(new Event('change')); \
         return localStorage.getItem('centralino.phone.mic') === mic.value",
    );
    assert_eq!(chosen, true);
    desk.wait_js(
        "the meter moving on the chosen microphone",
        "return document.getElementById('phone-mic-level').value > 0.05",
        WAIT,
    );
    // Auto-answer is remembered too.
    desk.click("#phone-auto-answer");
    assert_eq!(
        desk.eval("return localStorage.getItem('centralino.phone.autoAnswer')"),
        "true"
    );
    desk.click("#phone-auto-answer");

    // A network blip: the phone's WebSocket drops. The registrar removes the binding with
    // its flow; JsSIP reconnects, the page says reconnecting… then registered; the agent's
    // ACD state is untouched by any of it.
    let dropped = desk.eval(
        "const ws = window.__sockets.filter((s) => new URL(s.url).pathname === '/ws' \
         && s.readyState === WebSocket.OPEN); ws.forEach((s) => s.close()); return ws.length",
    );
    assert_eq!(dropped, 1, "one phone WebSocket open");
    desk.wait_js(
        "reconnecting… on the desktop",
        "const p = document.getElementById('phone-state'); \
         return p.dataset.browser === 'phone_reconnecting' && p.textContent === 'reconnecting…'",
        WAIT,
    );
    desk.wait_js(
        "registered again after the blip",
        "return document.getElementById('phone-state').dataset.browser === 'registered' \
         && window.centralinoPhone.state().registered",
        WAIT,
    );
    api.wait_registered("1001", true);
    assert_eq!(
        api.agent("1001")["state"],
        "ready",
        "the blip kept the agent ready"
    );
    assert_eq!(
        desk.eval("return document.getElementById('agent-state').dataset.state"),
        "ready"
    );

    // A caller waits: the ACD rings the browser over /ws. The phone rings and the screen pop
    // (call.offered) carries Answer and Decline and gives the phone our call id. (Answering
    // needs the server's WebRTC offer: the call tests build on this.) Decline sends 486.
    let caller = common::sipp_start("uac_server_bye.xml", &server, &[]);
    let call_id = desk.wait_js(
        "the browser ringing with Answer and Decline on the screen pop",
        "const s = window.centralinoPhone.state(); const pop = document.getElementById('pop'); \
         return s.ringing && !s.inCall && s.callId && !pop.hidden \
         && pop.dataset.callId === s.callId \
         && !document.getElementById('pop-answer').hidden \
         && !document.getElementById('pop-decline').hidden \
         && document.getElementById('pop-close').hidden \
         && document.activeElement === document.getElementById('pop-answer') && s.callId",
        WAIT,
    );
    assert!(
        call_id.as_str().is_some_and(|id| !id.is_empty()),
        "{call_id}"
    );
    desk.screenshot("e2e_webphone", "ringing");
    desk.click_button("Decline");
    desk.wait_js(
        "the ringing over after Decline",
        "const s = window.centralinoPhone.state(); \
         return !s.ringing && !s.inCall && document.getElementById('pop-answer').hidden \
         && !document.getElementById('pop-close').hidden",
        WAIT,
    );
    caller.kill();

    // A WebRTC call answered in the browser, the server's side played in the page (see
    // INJECT_INVITE): it rings, Answer answers, the far end's 1 kHz reaches the far-end meter
    // and dominantFrequency(); Mute mutes; Hold asks the server, which has no conversation on
    // that call (409: the error is shown and nothing is held); Hang up sends BYE.
    assert_eq!(desk.eval_async(INJECT_INVITE), true, "the offer injected");
    desk.wait_js(
        "the in-page call ringing",
        "return window.centralinoPhone.state().ringing \
         && !document.getElementById('pop-answer').hidden",
        WAIT,
    );
    desk.click_button("Answer");
    desk.wait_js(
        "the phone's 200 OK with its answer",
        "return window.__peer.sent.some((m) => m.startsWith('SIP/2.0 200') \
         && m.includes('in-page-peer-call') && m.includes('a=fingerprint'))",
        WAIT,
    );
    assert_eq!(
        desk.eval_async(INJECT_ACK),
        true,
        "the answer applied, ACK injected"
    );
    desk.wait_js(
        "in call, the call controls shown",
        "const s = window.centralinoPhone.state(); \
         return s.inCall && !s.ringing && !document.getElementById('phone-call-controls').hidden \
         && document.getElementById('phone-call-state').textContent === 'In call'",
        WAIT,
    );
    let hz = desk.wait_js(
        "the far end's 1 kHz on the far-end meter",
        "const f = window.centralinoPhone.dominantFrequency(); \
         return document.getElementById('phone-far-level').value > 0.05 \
         && Math.abs(f - 1000) < 25 && f",
        WAIT,
    );
    eprintln!("e2e_webphone: far end dominant frequency {hz} Hz");
    desk.click("#phone-mute");
    desk.wait_js(
        "muted",
        "return window.centralinoPhone.state().muted \
         && document.getElementById('phone-mute').getAttribute('aria-pressed') === 'true' \
         && document.getElementById('phone-mic-level').value === 0",
        WAIT,
    );
    desk.click("#phone-mute");
    desk.click("#phone-hold");
    desk.wait_js(
        "the hold refused by the server, shown, nothing held",
        "return document.getElementById('status').classList.contains('error') \
         && !window.centralinoPhone.state().held && !window.centralinoPhone.state().muted",
        WAIT,
    );
    desk.screenshot("e2e_webphone", "in_call");
    desk.click_button("Hang up");
    desk.wait_js(
        "the call over, a BYE sent",
        "return !window.centralinoPhone.state().inCall \
         && window.__peer.sent.some((m) => m.startsWith('BYE ') && m.includes('in-page-peer-call')) \
         && document.getElementById('phone-call-controls').hidden",
        WAIT,
    );

    // Signing out of the desk unregisters the phone: the binding is gone.
    desk.click("#sign-out");
    desk.wait_js("the login page", "return location.pathname === '/'", WAIT);
    api.wait_registered("1001", false);
    // By the phone's REGISTER with Expires: 0, not by its WebSocket closing.
    let log = server.log();
    let last = log
        .lines()
        .rfind(|l| l.contains("sip_gateway::registrar") && l.contains("user=1001"))
        .unwrap_or_default();
    assert!(
        last.contains("registration changed") && last.contains("contacts=0"),
        "{}",
        common::tail(&log, 30)
    );
}
