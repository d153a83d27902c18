//! End to end: callers from SIPp queue in the ACD and reach agents' phones (SIPp UAS that
//! REGISTER with digest authentication), through the real `centralino serve` on loopback.
//!
//! Each test starts its own server (demo data, an IVR that routes straight to the queue
//! `cittadini`, ring timeout of a few seconds, wrap-up 1 s; see `common::agents`) and
//! synchronises on the API's live state (agents, queues, call cards), never on sleeps. Scripted
//! durations (talk time `-d`, a caller's patience) leave margins of 1.5 s or more around the
//! ring timeouts they race with. Needs `sipp` (Debian `sip-tester`).

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::agents::*;
use common::*;

const WAIT: Duration = Duration::from_secs(10);

/// Registers each login's phone and starts its UAS scenario; returns them in order.
fn phones(server: &Server, agents: &[(&str, &str, &[&str])]) -> Vec<(Phone, SippRun)> {
    agents
        .iter()
        .map(|(login, scenario, args)| {
            let phone = Phone::register(server, login);
            let run = phone.start(server, scenario, args);
            (phone, run)
        })
        .collect()
}

/// Waits until the registrar's bindings reached the ACD (`registered` in /api/v1/agents).
fn wait_registered(api: &Api, logins: &[&str]) {
    for login in logins {
        api.wait(&format!("agent {login} registered"), WAIT, |api| {
            let a = api.agent(login);
            if a["registered"] == true {
                Ok(())
            } else {
                Err(a.to_string())
            }
        });
    }
}

/// The SIP Call-ID of the call the agent is ringing with or talking on, as the API shows it
/// (our call id), once the agent reaches `state`.
fn current_call(api: &Api, login: &str, state: &str) -> String {
    let agent = api.wait_agent(login, state, None);
    agent["current_call"]
        .as_str()
        .unwrap_or_else(|| panic!("agent {login} {state} without a current call: {agent}"))
        .to_string()
}

/// Checks the call card and the Service Request of an answered call.
fn assert_answered(api: &Api, sip_call_id: &str, agent: &str) -> serde_json::Value {
    let card = api.ended_call(sip_call_id);
    assert_eq!(card["outcome"], "answered", "card: {card}");
    assert_eq!(card["agent"], agent, "card: {card}");
    assert_eq!(card["queue"], QUEUE, "card: {card}");
    assert!(
        card["answered"].is_string(),
        "answer time on the card: {card}"
    );
    assert!(card["wait_ms"].is_u64(), "wait on the card: {card}");
    let call_id = card["call_id"].as_str().expect("call id").to_string();
    // The Service Request opened at answer (R-SR-1), owned by the agent who answered.
    let tickets = api.tickets_of(&call_id);
    assert_eq!(
        tickets.len(),
        1,
        "one ticket for call {call_id}: {tickets:?}"
    );
    let ticket = &tickets[0];
    assert_eq!(ticket["owner"], agent, "ticket: {ticket}");
    assert_eq!(ticket["call_id"], call_id.as_str(), "ticket: {ticket}");
    assert_eq!(ticket["queue"], QUEUE, "ticket: {ticket}");
    assert_eq!(ticket["channel"], "phone", "ticket: {ticket}");
    assert_eq!(
        card["ticket"], ticket["number"],
        "the card names the ticket: {card}"
    );
    card
}

/// Two agents, three callers: the longest-idle agent takes the first call, the other the
/// second, the third waits and goes, in turn, to the first agent to be free again. Every call
/// ends with the agent's BYE, which ends the caller's leg too.
#[test]
fn callers_are_answered_in_arrival_order_by_the_longest_idle_agent() {
    let server = Server::start(&acd_config(4, &["1001", "1002"]));
    let api = Api::supervisor(&server);
    // 1002 talks 1 s per call and takes two; 1001 talks 5 s.
    let mut agents = phones(
        &server,
        &[
            ("1002", "agent_answer_bye.xml", &["-m", "2", "-d", "1000"]),
            ("1001", "agent_answer_bye.xml", &["-m", "1", "-d", "5000"]),
        ],
    );
    wait_registered(&api, &["1001", "1002"]);
    // 1002 is ready first: it has been idle longest, although 1001 comes first in the config.
    api.set_state("1002", "ready");
    api.wait_agent("1002", "ready", None);
    api.set_state("1001", "ready");
    api.wait_agent("1001", "ready", None);

    let first = sipp_start("uac_server_bye.xml", &server, &[]);
    let first_call = current_call(&api, "1002", "talking");
    let second = sipp_start("uac_server_bye.xml", &server, &[]);
    let second_call = current_call(&api, "1001", "talking");
    assert_ne!(first_call, second_call);
    let third = sipp_start("uac_server_bye.xml", &server, &[]);
    // The third caller waits: both agents talk.
    api.wait("the third caller waiting", WAIT, |api| {
        let q = api.queue(QUEUE);
        if q["waiting"] == 1 && q["agents"]["talking"] == 2 {
            Ok(())
        } else {
            Err(q.to_string())
        }
    });

    let callers: Vec<SippResult> = [first, second, third]
        .into_iter()
        .map(|r| r.wait())
        .collect();
    for caller in &callers {
        caller.assert_ok(&server);
    }
    let (_, run_1001) = agents.pop().expect("1001");
    let (_, run_1002) = agents.pop().expect("1002");
    run_1002.wait().assert_ok(&server);
    run_1001.wait().assert_ok(&server);

    let expected = ["1002", "1001", "1002"];
    let cards: Vec<serde_json::Value> = callers
        .iter()
        .zip(expected)
        .map(|(caller, agent)| assert_answered(&api, &caller.call_id(), agent))
        .collect();
    assert_eq!(cards[0]["call_id"], first_call.as_str());
    assert_eq!(cards[1]["call_id"], second_call.as_str());
    // Answered in arrival order; the third waited for 1002's talk and wrap-up (≥ 2 s).
    let answered: Vec<&str> = cards
        .iter()
        .map(|c| c["answered"].as_str().expect("answer time"))
        .collect();
    let parse = |t: &str| chrono::DateTime::parse_from_rfc3339(t).expect("RFC 3339 time");
    assert!(
        parse(answered[0]) < parse(answered[1]) && parse(answered[1]) < parse(answered[2]),
        "answer times in arrival order: {answered:?}"
    );
    let third_wait = cards[2]["wait_ms"].as_u64().expect("wait");
    assert!(
        (1_500..4_000).contains(&third_wait),
        "the third caller waited for 1002's call and wrap-up: {third_wait} ms"
    );
    let q = api.queue(QUEUE);
    assert_eq!(q["answered"], 3, "queue: {q}");
    assert_eq!(q["abandoned"], 0, "queue: {q}");
}

/// The longest-idle agent does not answer: after the ring timeout the offer is withdrawn
/// (CANCEL), that agent goes not ready ("no answer") and the call goes to the other agent.
#[test]
fn ring_no_answer_requeues_to_the_other_agent() {
    let server = Server::start(&acd_config(3, &["1001", "1002"]));
    let api = Api::supervisor(&server);
    let mut agents = phones(
        &server,
        &[
            ("1001", "agent_no_answer.xml", &[]),
            ("1002", "agent_answer_bye.xml", &["-d", "1000"]),
        ],
    );
    wait_registered(&api, &["1001", "1002"]);
    api.set_state("1001", "ready");
    api.wait_agent("1001", "ready", None);
    api.set_state("1002", "ready");
    api.wait_agent("1002", "ready", None);

    let caller = sipp_start("uac_server_bye.xml", &server, &[]);
    let ringing = current_call(&api, "1001", "ringing");
    let talking = current_call(&api, "1002", "talking");
    assert_eq!(ringing, talking, "the same call went to 1002");
    let no_answer = api.wait_agent("1001", "not_ready", Some("no answer"));
    assert!(no_answer["current_call"].is_null(), "{no_answer}");

    let caller = caller.wait();
    caller.assert_ok(&server);
    let (_, run_1002) = agents.pop().expect("1002");
    let (_, run_1001) = agents.pop().expect("1001");
    run_1002.wait().assert_ok(&server);
    let run_1001 = run_1001.wait();
    run_1001.assert_ok(&server);
    assert_eq!(
        messages_starting(&run_1001, "received", "CANCEL").len(),
        1,
        "1001's phone got the CANCEL of the withdrawn offer"
    );

    let card = assert_answered(&api, &caller.call_id(), "1002");
    let waited = card["wait_ms"].as_u64().expect("wait");
    assert!(
        waited >= 3_000,
        "the call rang 1001 for the 3 s ring timeout first: waited {waited} ms"
    );
    // 1001 stays not ready until someone makes it ready again.
    let a = api.agent("1001");
    assert_eq!(a["state"], "not_ready", "{a}");
    assert_eq!(a["reason"], "no answer", "{a}");
}

/// A busy phone (486): the agent goes not ready "busy" at once and the call goes to the other
/// agent without waiting for the ring timeout.
#[test]
fn busy_phone_passes_the_call_to_the_other_agent() {
    let server = Server::start(&acd_config(10, &["1001", "1002"]));
    let api = Api::supervisor(&server);
    let mut agents = phones(
        &server,
        &[
            ("1001", "agent_busy.xml", &[]),
            ("1002", "agent_answer_bye.xml", &["-d", "1000"]),
        ],
    );
    wait_registered(&api, &["1001", "1002"]);
    api.set_state("1001", "ready");
    api.wait_agent("1001", "ready", None);
    api.set_state("1002", "ready");
    api.wait_agent("1002", "ready", None);

    let caller = sipp_start("uac_server_bye.xml", &server, &[]);
    current_call(&api, "1002", "talking");
    let busy = api.wait_agent("1001", "not_ready", Some("busy"));
    assert!(busy["current_call"].is_null(), "{busy}");
    let caller = caller.wait();
    caller.assert_ok(&server);
    for (_, run) in agents.drain(..).rev() {
        run.wait().assert_ok(&server);
    }
    let card = assert_answered(&api, &caller.call_id(), "1002");
    let waited = card["wait_ms"].as_u64().expect("wait");
    assert!(
        waited < 5_000,
        "a busy phone must not cost the ring timeout (10 s): waited {waited} ms"
    );
}

/// A caller hangs up while waiting (no agent ready): counted abandoned, no ticket.
#[test]
fn caller_abandons_in_queue() {
    let server = Server::start(&acd_config(3, &["1001"]));
    let api = Api::supervisor(&server);
    // The caller waits 1.5 s on hold, then hangs up.
    let caller = sipp_start("uac_answer_bye.xml", &server, &["-d", "1500"]);
    api.wait("the caller waiting", WAIT, |api| {
        let q = api.queue(QUEUE);
        if q["waiting"] == 1 {
            Ok(())
        } else {
            Err(q.to_string())
        }
    });
    let caller = caller.wait();
    caller.assert_ok(&server);
    let q = api.wait("the abandon counted", WAIT, |api| {
        let q = api.queue(QUEUE);
        if q["abandoned"] == 1 && q["waiting"] == 0 {
            Ok(q)
        } else {
            Err(q.to_string())
        }
    });
    assert_eq!(q["answered"], 0, "{q}");
    let card = api.ended_call(&caller.call_id());
    assert_eq!(card["outcome"], "abandoned", "card: {card}");
    assert!(card["agent"].is_null(), "card: {card}");
    assert!(card["ticket"].is_null(), "no ticket: {card}");
    let call_id = card["call_id"].as_str().expect("call id");
    assert!(
        api.tickets_of(call_id).is_empty(),
        "no ticket for {call_id}"
    );
}

/// A caller hangs up while the agent's phone rings: the phone gets CANCEL, the agent is
/// ready again (not "no answer": the agent did nothing wrong), the call counts abandoned.
#[test]
fn caller_abandons_while_the_agent_rings() {
    let server = Server::start(&acd_config(4, &["1001"]));
    let api = Api::supervisor(&server);
    let mut agents = phones(&server, &[("1001", "agent_no_answer.xml", &[])]);
    wait_registered(&api, &["1001"]);
    api.set_state("1001", "ready");
    api.wait_agent("1001", "ready", None);

    // Rings within a few hundred ms; the caller leaves after 2 s, before the 4 s ring timeout.
    let caller = sipp_start("uac_answer_bye.xml", &server, &["-d", "2000"]);
    current_call(&api, "1001", "ringing");
    let caller = caller.wait();
    caller.assert_ok(&server);
    let (_, agent) = agents.pop().expect("1001");
    let agent = agent.wait();
    agent.assert_ok(&server);
    assert_eq!(
        messages_starting(&agent, "received", "CANCEL").len(),
        1,
        "the phone got CANCEL"
    );
    assert_eq!(
        messages_starting(&agent, "sent", "SIP/2.0 487").len(),
        1,
        "the phone ended its INVITE with 487"
    );
    let a = api.wait_agent("1001", "ready", None);
    assert!(a["reason"].is_null(), "{a}");
    let q = api.wait("the abandon counted", WAIT, |api| {
        let q = api.queue(QUEUE);
        if q["abandoned"] == 1 {
            Ok(q)
        } else {
            Err(q.to_string())
        }
    });
    assert_eq!(q["answered"], 0, "{q}");
    let card = api.ended_call(&caller.call_id());
    assert_eq!(card["outcome"], "abandoned", "card: {card}");
    assert!(card["ticket"].is_null(), "no ticket: {card}");
}

/// Audio crosses the bridge both ways: the caller's frames reach the agent's phone, which
/// echoes them (SIPp -rtp_echo), and come back to the caller. Then the caller's BYE ends the
/// agent's leg too; the card and the Service Request name queue, wait and agent.
#[test]
fn audio_crosses_the_bridge_and_the_callers_bye_ends_both_legs() {
    let server = Server::start(&acd_config(4, &["1001"]));
    let api = Api::supervisor(&server);
    let mut agents = phones(
        &server,
        &[("1001", "agent_answer_wait_bye.xml", &["-rtp_echo"])],
    );
    wait_registered(&api, &["1001"]);
    api.set_state("1001", "ready");
    api.wait_agent("1001", "ready", None);
    let relayed_before = api.metric("centralino_rtp_packets_relayed_total");

    let mut probe = EchoProbe::new();
    let rtp_port = probe.port().to_string();
    // The caller's SDP points at the probe; the caller hangs up 4 s after the answer.
    let caller = sipp_start(
        "uac_media_probe.xml",
        &server,
        &["-key", "rtp_port", &rtp_port, "-d", "4000"],
    );
    current_call(&api, "1001", "talking");
    let server_rtp = answered_rtp_port(&caller.messages_so_far())
        .expect("the server's SDP answer in the caller's message log");
    let back = probe.exchange(
        SocketAddr::from(([127, 0, 0, 1], server_rtp)),
        50,
        Duration::from_millis(500),
    );
    assert!(
        back.len() >= 40,
        "{} of 50 frames came back across the bridge (caller → agent → caller): {back:?}",
        back.len()
    );
    assert!(
        back.windows(2).all(|w| w[0] < w[1]),
        "frames came back in order, once each: {back:?}"
    );
    let relayed = api.metric("centralino_rtp_packets_relayed_total") - relayed_before;
    assert!(
        relayed >= 80.0,
        "both directions relayed (≥ 2 × 40 packets): {relayed}"
    );
    // Both legs are dialogs the gateway holds (centralino_sip_dialogs_active), and RTP from
    // another port than the latched caller's is dropped and counted
    // (centralino_rtp_foreign_packets_total).
    let dialogs = api.metric("centralino_sip_dialogs_active");
    assert!(
        dialogs >= 2.0,
        "caller and agent legs are live dialogs: {dialogs}"
    );
    let foreign_before = api.metric("centralino_rtp_foreign_packets_total");
    let intruder = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind intruder");
    for n in 0..10u16 {
        let mut packet = vec![0x80, 0x00];
        packet.extend(n.to_be_bytes());
        packet.extend((u32::from(n) * 160).to_be_bytes());
        packet.extend(0x0bad_f00d_u32.to_be_bytes());
        packet.extend(EchoProbe::frame(n));
        intruder
            .send_to(&packet, SocketAddr::from(([127, 0, 0, 1], server_rtp)))
            .expect("send foreign RTP");
    }
    let foreign = api.wait(
        "the foreign packets counted on /metrics",
        Duration::from_secs(5),
        |api| {
            let n = api.metric("centralino_rtp_foreign_packets_total") - foreign_before;
            if n >= 10.0 {
                Ok(n)
            } else {
                Err(format!("{n} counted"))
            }
        },
    );
    assert_eq!(foreign, 10.0, "each foreign datagram counted once");

    let caller = caller.wait();
    caller.assert_ok(&server);
    let (_, agent) = agents.pop().expect("1001");
    let agent = agent.wait();
    agent.assert_ok(&server);
    assert_eq!(
        messages_starting(&agent, "received", "BYE").len(),
        1,
        "the caller's BYE ended the agent's leg"
    );
    let card = assert_answered(&api, &caller.call_id(), "1001");
    let waited = card["wait_ms"].as_u64().expect("wait");
    assert!(waited < 3_000, "answered at the first ring: {waited} ms");
    // Wrap-up (1 s), then ready for the next call; no dialog is left behind.
    api.wait_agent("1001", "ready", None);
    api.wait("no dialog left", Duration::from_secs(5), |api| {
        let n = api.metric("centralino_sip_dialogs_active");
        if n == 0.0 {
            Ok(())
        } else {
            Err(format!("{n} dialogs"))
        }
    });
}

/// An agent's phone that answers and then sends no RTP (a phone that died, a network that
/// dropped it) is hung up at the media time-out (2 s here), and so is the caller, whose own RTP
/// flows all along (the test sends it): the call card says whose media stopped, `call.ended`
/// says `failed` and the agent goes through wrap-up to ready.
#[test]
fn an_agents_phone_that_sends_no_rtp_ends_the_call_at_the_media_timeout() {
    let server = Server::start(&format!("rtp_timeout_s = 2\n{}", acd_config(4, &["1001"])));
    let api = Api::supervisor(&server);
    // Without -rtp_echo the agent's SIPp sends no RTP at all.
    let mut agents = phones(&server, &[("1001", "agent_answer_wait_bye.xml", &[])]);
    wait_registered(&api, &["1001"]);
    api.set_state("1001", "ready");
    api.wait_agent("1001", "ready", None);
    let caller = sipp_start("uac_server_bye.xml", &server, &[]);
    current_call(&api, "1001", "talking");
    let server_rtp = answered_rtp_port(&caller.messages_so_far())
        .expect("the server's SDP answer in the caller's message log");
    // The caller talks: one 20 ms PCMU frame per tick from 127.0.0.1 (the address of its
    // SDP) until the server's BYE, at most 15 s.
    let voice = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind the caller's RTP");
    let started = std::time::Instant::now();
    let mut n = 0u16;
    while !caller.messages_so_far().contains("BYE sip:") {
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "no BYE 15 s after the agent answered"
        );
        let mut packet = vec![0x80, 0x00];
        packet.extend(n.to_be_bytes());
        packet.extend((u32::from(n) * 160).to_be_bytes());
        packet.extend(0x1234_5678_u32.to_be_bytes());
        packet.extend(EchoProbe::frame(n));
        voice
            .send_to(&packet, SocketAddr::from(([127, 0, 0, 1], server_rtp)))
            .expect("send the caller's RTP");
        n = n.wrapping_add(1);
        std::thread::sleep(Duration::from_millis(20));
    }
    let hung_up_after = started.elapsed();
    assert!(
        hung_up_after >= Duration::from_millis(1500),
        "BYE after {hung_up_after:?}, before the 2 s time-out could pass"
    );
    let caller = caller.wait();
    caller.assert_ok(&server);
    let (_, agent) = agents.pop().expect("1001");
    let agent = agent.wait();
    agent.assert_ok(&server);
    assert_eq!(
        messages_starting(&agent, "received", "BYE").len(),
        1,
        "the agent's leg got our BYE"
    );
    let card = assert_answered(&api, &caller.call_id(), "1001");
    let steps = card["ivr_path"].to_string();
    assert!(
        steps.contains("media_timeout: no RTP from the agent's phone"),
        "the card says whose media stopped: {card}"
    );
    let log = server.call_log(&caller.call_id()).join("\n");
    assert!(log.contains("outcome=\"failed\""), "{log}");
    // The ACD heard the end: wrap-up (1 s), then ready.
    api.wait_agent("1001", "ready", None);
}

/// Transfer to second level (R-ACD-6): agent 1001 talks with the caller and sends the call,
/// with its Service Request, to `secondo-livello` through the API. 1001's leg ends and 1001
/// enters wrap-up; 2001's phone rings and answers; the ticket moved to the second-level queue,
/// with the note in its history and 2001 as its owner. 2001 hangs up, which ends the caller.
#[test]
fn transfer_to_second_level_with_the_service_request() {
    let mut config = acd_config(4, &["1001"]);
    config.push_str(
        "\n[[acd.queues]]\nname = \"secondo-livello\"\n\n\
         [[acd.agents]]\nlogin = \"2001\"\nqueues = [\"secondo-livello\"]\n",
    );
    let server = Server::start(&config);
    let api = Api::supervisor(&server);
    let mut agents = phones(
        &server,
        &[
            ("1001", "agent_answer_wait_bye.xml", &[]),
            ("2001", "agent_answer_bye.xml", &["-d", "1500"]),
        ],
    );
    wait_registered(&api, &["1001", "2001"]);
    api.set_state("1001", "ready");
    api.set_state("2001", "ready");
    api.wait_agent("2001", "ready", None);

    let caller = sipp_start("uac_server_bye.xml", &server, &["-timeout", "40s"]);
    let call_id = current_call(&api, "1001", "talking");
    let token = server.login("1001", "demo1001");
    // Someone else may not transfer 1001's call.
    let other = server.login("1002", "demo1002");
    let body = r#"{"queue":"secondo-livello","note":"needs the back office"}"#;
    let path = format!("/api/v1/calls/{call_id}/transfer");
    let (status, text) = server
        .http("POST", &path, Some(&other), Some(body))
        .unwrap();
    assert_eq!(status, 403, "{text}");
    let (status, text) = server
        .http("POST", &path, Some(&token), Some(body))
        .unwrap();
    assert_eq!(status, 200, "{text}");

    let (_, second) = agents.pop().expect("2001");
    let (_, first) = agents.pop().expect("1001");
    let first = first.wait();
    first.assert_ok(&server);
    api.wait_agent("1001", "ready", None);
    current_call(&api, "2001", "talking");
    let second = second.wait();
    second.assert_ok(&server);
    let caller = caller.wait();
    caller.assert_ok(&server);

    let card = api.ended_call(&caller.call_id());
    assert_eq!(card["outcome"], "answered", "card: {card}");
    assert!(
        card["ivr_path"].as_array().unwrap().iter().any(|s| s
            .as_str()
            .unwrap()
            .contains("transferred to secondo-livello")),
        "card: {card}"
    );
    let tickets = api.tickets_of(card["call_id"].as_str().unwrap());
    assert_eq!(tickets.len(), 1, "{tickets:?}");
    assert_eq!(tickets[0]["queue"], "secondo-livello", "{}", tickets[0]);
    assert_eq!(tickets[0]["owner"], "2001", "{}", tickets[0]);
    let number = tickets[0]["number"].as_str().unwrap();
    let detail = api.get(&format!("/api/v1/tickets/{number}"));
    assert!(
        detail.to_string().contains("needs the back office"),
        "the note is in the ticket: {detail}"
    );
}

/// R-ACD-6 from the phone: agent 1001's phone (SIPp) transfers the caller blind by SIP REFER
/// to `secondo-livello`. The gateway answers 202 and NOTIFYs "100 Trying" then "200 OK"
/// (checked by the scenario), ends 1001's leg with BYE; 2001's phone rings and answers; the
/// Service Request moved to the second-level queue with the note saying how, owned by 2001.
#[test]
fn blind_transfer_by_refer_from_the_agents_phone() {
    let mut config = acd_config(4, &["1001"]);
    config.push_str(
        "\n[[acd.queues]]\nname = \"secondo-livello\"\n\n\
         [[acd.agents]]\nlogin = \"2001\"\nqueues = [\"secondo-livello\"]\n",
    );
    let server = Server::start(&config);
    let api = Api::supervisor(&server);
    let mut agents = phones(
        &server,
        &[
            (
                "1001",
                "agent_refer.xml",
                &["-key", "refer_to", "secondo-livello", "-d", "1000"],
            ),
            ("2001", "agent_answer_bye.xml", &["-d", "1500"]),
        ],
    );
    wait_registered(&api, &["1001", "2001"]);
    api.set_state("1001", "ready");
    api.set_state("2001", "ready");
    api.wait_agent("2001", "ready", None);

    let caller = sipp_start("uac_server_bye.xml", &server, &["-timeout", "40s"]);
    let (_, second) = agents.pop().expect("2001");
    let (_, first) = agents.pop().expect("1001");
    let first = first.wait();
    first.assert_ok(&server);
    let second = second.wait();
    second.assert_ok(&server);
    let caller = caller.wait();
    caller.assert_ok(&server);

    let card = api.ended_call(&caller.call_id());
    assert_eq!(card["outcome"], "answered", "card: {card}");
    assert!(
        card["ivr_path"].as_array().unwrap().iter().any(|s| s
            .as_str()
            .unwrap()
            .contains("transferred to secondo-livello")),
        "card: {card}"
    );
    let tickets = api.tickets_of(card["call_id"].as_str().unwrap());
    assert_eq!(tickets.len(), 1, "{tickets:?}");
    assert_eq!(tickets[0]["queue"], "secondo-livello", "{}", tickets[0]);
    assert_eq!(tickets[0]["owner"], "2001", "{}", tickets[0]);
    let number = tickets[0]["number"].as_str().unwrap();
    let detail = api.get(&format!("/api/v1/tickets/{number}"));
    assert!(
        detail.to_string().contains("SIP REFER"),
        "the note says how it moved: {detail}"
    );
}

/// A REFER naming no queue: NOTIFY "404" ends the subscription (checked by the scenario), the
/// call stays with the agent, who then hangs up; the ticket stays in its queue.
#[test]
fn refer_to_an_unknown_queue_is_reported_and_the_call_goes_on() {
    let server = Server::start(&acd_config(4, &["1001"]));
    let api = Api::supervisor(&server);
    let mut agents = phones(
        &server,
        &[(
            "1001",
            "agent_refer_unknown.xml",
            &["-key", "refer_to", "nowhere", "-d", "1000"],
        )],
    );
    wait_registered(&api, &["1001"]);
    api.set_state("1001", "ready");
    let caller = sipp_start("uac_server_bye.xml", &server, &["-timeout", "30s"]);
    let (_, first) = agents.pop().expect("1001");
    let first = first.wait();
    first.assert_ok(&server);
    let caller = caller.wait();
    caller.assert_ok(&server);
    let card = assert_answered(&api, &caller.call_id(), "1001");
    assert!(
        card["ivr_path"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s.as_str().unwrap().contains("transfer to nowhere refused")),
        "card: {card}"
    );
}

/// Hold across the bridge: the agent's phone sends re-INVITE a=sendonly (answered recvonly),
/// the caller hears the hold music instead of the agent (their frames no longer come back);
/// the agent resumes (sendrecv) and the audio crosses the bridge both ways again.
#[test]
fn hold_from_the_agents_phone_plays_music_and_resume_bridges_again() {
    let server = Server::start(&acd_config(4, &["1001"]));
    let api = Api::supervisor(&server);
    let mut agents = phones(&server, &[("1001", "agent_hold.xml", &["-rtp_echo"])]);
    wait_registered(&api, &["1001"]);
    api.set_state("1001", "ready");
    api.wait_agent("1001", "ready", None);

    let mut probe = EchoProbe::new();
    let rtp_port = probe.port().to_string();
    let caller = sipp_start(
        "uac_media_probe.xml",
        &server,
        &["-key", "rtp_port", &rtp_port, "-d", "12000"],
    );
    current_call(&api, "1001", "talking");
    let server_rtp = answered_rtp_port(&caller.messages_so_far())
        .expect("the server's SDP answer in the caller's message log");
    let to = SocketAddr::from(([127, 0, 0, 1], server_rtp));
    // The phone holds 4 s after its answer and resumes 4 s later (agent_hold.xml); the
    // caller hangs up 12 s after the answer: each exchange below has seconds of margin.
    let (echoed, _) = probe.exchange_counting(to, 25, Duration::from_millis(300));
    assert!(echoed.len() >= 15, "bridged before the hold: {echoed:?}");

    assert!(
        server.wait_log(|l| l.contains("caller on hold"), WAIT),
        "the agent's hold reached the call"
    );
    let (echoed, music) = probe.exchange_counting(to, 50, Duration::from_millis(200));
    assert!(
        echoed.len() <= 2,
        "on hold the agent's side is not relayed: {echoed:?}"
    );
    assert!(
        music >= 30,
        "the caller hears the hold music: {music} packets in 1.2 s"
    );

    assert!(
        server.wait_log(|l| l.contains("caller off hold"), WAIT),
        "the agent resumed"
    );
    let (echoed, _) = probe.exchange_counting(to, 25, Duration::from_millis(300));
    assert!(
        echoed.len() >= 15,
        "bridged again after the hold: {echoed:?}"
    );

    let caller = caller.wait();
    caller.assert_ok(&server);
    let (_, agent) = agents.pop().expect("1001");
    let agent = agent.wait();
    agent.assert_ok(&server);
    let card = assert_answered(&api, &caller.call_id(), "1001");
    let path = card["ivr_path"].to_string();
    assert!(
        path.contains("on hold by the agent") && path.contains("off hold"),
        "card: {card}"
    );
}

/// Issue 12: the supervisor's today figures and the event metrics are derived from the event
/// log, so the real binary, stopped and started again on the same data, shows the same.
#[test]
fn a_restart_keeps_the_supervisors_figures() {
    let mut server = Server::start(&acd_config(3, &["1001"]));
    let (before, metrics_before) = {
        let api = Api::supervisor(&server);
        let caller = sipp_start("uac_answer_bye.xml", &server, &["-d", "1500"]);
        let caller = caller.wait();
        caller.assert_ok(&server);
        let q = api.wait("the abandon counted", WAIT, |api| {
            let q = api.queue(QUEUE);
            if q["abandoned"] == 1 && q["waiting"] == 0 {
                Ok(q)
            } else {
                Err(q.to_string())
            }
        });
        api.ended_call(&caller.call_id());
        (q, event_metrics(&server))
    };
    assert!(
        metrics_before.contains("centralino_calls_total{outcome=\"caller_hangup\"} 1"),
        "{metrics_before}"
    );
    server.restart();
    let api = Api::supervisor(&server);
    let after = api.queue(QUEUE);
    for figure in [
        "answered",
        "abandoned",
        "service_level",
        "avg_answer_time_s",
    ] {
        assert_eq!(
            after[figure], before[figure],
            "{figure}: {before} then {after}"
        );
    }
    assert_eq!(event_metrics(&server), metrics_before);
    assert!(
        server.log().contains("figures rebuilt from the event log"),
        "{}",
        tail(&server.log(), 40)
    );
}

/// The metrics lines derived from events (calls by outcome, Service Requests by channel).
fn event_metrics(server: &Server) -> String {
    let (status, body) = server.http_get("/metrics").expect("GET /metrics");
    assert_eq!(status, 200, "{body}");
    body.lines()
        .filter(|l| {
            l.starts_with("centralino_calls_total{") || l.starts_with("centralino_tickets_created")
        })
        .collect::<Vec<_>>()
        .join("\n")
}
