//! End to end: the site's people and queues are data. From an empty data directory (`init`
//! makes the first admin, no demo), an administrator creates a queue and
//! an agent through the API (and, from another process, through `centralino user add`), the
//! running server applies them without a restart: the agent's phone registers with its own
//! digest secret (not the web password), takes a call the IVR routes to the new queue, and
//! the Service Request opens in that queue. Needs `sipp` (Debian `sip-tester`).

mod common;

use std::time::Duration;

use common::agents::*;
use common::*;

const WAIT: Duration = Duration::from_secs(15);

/// The site's own configuration: no demo data, an MD5 registrar, and an IVR that routes
/// every call to the queue `anagrafe`, which does not exist when the server starts.
fn site_config() -> String {
    "[registrar]\nenabled = true\nrealm = \"centralino\"\nalgorithms = [\"MD5\"]\n\n\
     [call]\nanswer_delay_ms = 0\nmax_duration_s = 120\n\n\
     [acd]\nring_timeout_s = 10\nwrap_up_s = 1\n\n\
     [ivr]\ndefault_entry = \"to_queue\"\n\n\
     [ivr.nodes.to_queue]\nkind = \"route\"\nqueue = \"anagrafe\"\narea = \"anagrafe\"\n"
        .to_string()
}

/// Runs `centralino ARGS --config … --data …` against `server`'s site; its output.
fn cli(server: &Server, args: &[&str], env: &[(&str, &str)]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_centralino"))
        .args(args)
        .arg("--config")
        .arg(server.dir().join("centralino.toml"))
        .arg("--data")
        .arg(server.dir().join("data"))
        .env_remove("DATABASE_URL")
        .envs(env.iter().copied())
        .output()
        .expect("run centralino");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "centralino {args:?}: {text}");
    text
}

/// Demo data (for the admin and supervisor), an MD5 registrar, and an IVR that routes every
/// call to the queue `anagrafe`, which does not exist when the server starts.
fn config() -> String {
    "[database]\ndemo_data = true\n\n\
     [registrar]\nenabled = true\nrealm = \"centralino\"\nalgorithms = [\"MD5\"]\n\n\
     [call]\nanswer_delay_ms = 0\nmax_duration_s = 120\n\n\
     [acd]\nring_timeout_s = 10\nwrap_up_s = 1\n\n\
     [ivr]\ndefault_entry = \"to_queue\"\n\n\
     [ivr.nodes.to_queue]\nkind = \"route\"\nqueue = \"anagrafe\"\narea = \"anagrafe\"\n"
        .to_string()
}

/// `method path` with a JSON body as `token`; the status and the body as JSON.
fn call(
    server: &Server,
    method: &str,
    path: &str,
    token: &str,
    body: Option<&str>,
) -> (u16, serde_json::Value) {
    let (status, text) = server
        .http(method, path, Some(token), body)
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    let json = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
    (status, json)
}

/// Answers one call and checks its Service Request went to `anagrafe`, owned by `agent`.
fn one_call_reaches(server: &Server, api: &Api, phone: &Phone, agent: &str) {
    let run = phone.start(server, "agent_answer_bye.xml", &["-m", "1", "-d", "1000"]);
    api.wait(&format!("agent {agent} registered"), WAIT, |api| {
        let a = api.agent(agent);
        if a["registered"] == true {
            Ok(())
        } else {
            Err(a.to_string())
        }
    });
    api.set_state(agent, "ready");
    api.wait_agent(agent, "ready", None);
    let caller = sipp_start("uac_server_bye.xml", server, &[]).wait();
    caller.assert_ok(server);
    run.wait().assert_ok(server);
    let card = api.ended_call(&caller.call_id());
    assert_eq!(card["outcome"], "answered", "card: {card}");
    assert_eq!(card["agent"], agent, "card: {card}");
    assert_eq!(card["queue"], "anagrafe", "card: {card}");
    let call_id = card["call_id"].as_str().expect("call id");
    let tickets = api.tickets_of(call_id);
    assert_eq!(tickets.len(), 1, "{tickets:?}");
    assert_eq!(tickets[0]["queue"], "anagrafe", "{}", tickets[0]);
    assert_eq!(tickets[0]["owner"], agent, "{}", tickets[0]);
}

#[test]
fn a_queue_and_an_agent_made_through_the_api_take_a_call_without_a_restart() {
    // A real site from an empty data directory: no demo, the first admin made by init.
    let server = Server::start(&site_config());
    let password = "una password lunga per l'amministratrice";
    let out = cli(
        &server,
        &["init"],
        &[("CENTRALINO_ADMIN_PASSWORD", password)],
    );
    assert!(!out.contains(password), "{out}");
    assert!(
        server.wait_log(
            |l| l.contains("routes to a queue that takes no calls") && l.contains("anagrafe"),
            Duration::from_secs(5)
        ),
        "no warning for the missing queue\n{}",
        tail(&server.log(), 40)
    );
    let admin = server.login("admin", password);
    let (status, queue) = call(
        &server,
        "POST",
        "/api/v1/queues",
        &admin,
        Some(r#"{"name": "anagrafe", "announce_every_s": 30}"#),
    );
    assert_eq!(status, 201, "{queue}");
    let (status, user) = call(
        &server,
        "POST",
        "/api/v1/users",
        &admin,
        Some(
            r#"{"login": "5001", "full_name": "Nora Blu", "role": "agent_first_level",
                "password": "password-di-nora", "queues": [{"queue": "anagrafe"}],
                "permissions": [{"queue": "anagrafe", "access": "write"}],
                "phone": {"kind": "registering"}}"#,
        ),
    );
    assert_eq!(status, 201, "{user}");
    let (status, secret) = call(
        &server,
        "POST",
        "/api/v1/users/5001/phone/secret",
        &admin,
        None,
    );
    assert_eq!(status, 200, "{secret}");
    let secret = secret["secret"]
        .as_str()
        .expect("a generated secret")
        .to_string();
    assert_ne!(secret, "password-di-nora");

    // Applied at once: the ACD knows the queue and the agent.
    let api = Api {
        server: &server,
        token: admin.clone(),
    };
    api.wait("the new queue and agent in the ACD", WAIT, |api| {
        let agents = api.get("/api/v1/agents");
        let queues = api.get("/api/v1/queues");
        let has_agent = agents
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x["login"] == "5001"));
        let has_queue = queues
            .as_array()
            .is_some_and(|q| q.iter().any(|x| x["name"] == "anagrafe"));
        if has_agent && has_queue {
            Ok(())
        } else {
            Err(format!("{agents} {queues}"))
        }
    });
    // The phone registers with its own secret.
    let phone = Phone::register_with(&server, "5001", &secret);
    one_call_reaches(&server, &api, &phone, "5001");
}

#[test]
fn an_agent_added_from_the_command_line_serves_the_running_server() {
    let server = Server::start(&config());
    let cli = |args: &[&str], env: &[(&str, &str)]| cli(&server, args, env);
    cli(&["queue", "add", "anagrafe", "--announce-every", "30"], &[]);
    let added = cli(
        &[
            "user",
            "add",
            "5002",
            "--name",
            "Ugo Viola",
            "--role",
            "agent_first_level",
            "--queue",
            "anagrafe:2",
            "--write",
            "anagrafe",
            "--phone",
            "registering",
        ],
        &[("CENTRALINO_PASSWORD", "password-di-ugo")],
    );
    assert!(!added.contains("password-di-ugo"), "{added}");
    let secret_out = cli(&["user", "phone-secret", "5002"], &[]);
    let secret = secret_out
        .lines()
        .find_map(|l| l.strip_prefix("phone secret (shown once): "))
        .unwrap_or_else(|| panic!("no secret printed: {secret_out}"))
        .trim()
        .to_string();
    let listed = cli(&["user", "list"], &[]);
    assert!(
        listed.lines().any(|l| l.starts_with("5002")
            && l.contains("anagrafe:2")
            && l.contains("registering")),
        "{listed}"
    );
    assert!(!listed.contains(&secret), "{listed}");
    // The running server notices the other process's change.
    let api = Api::supervisor(&server);
    api.wait("the CLI's agent in the ACD", WAIT, |api| {
        let agents = api.get("/api/v1/agents");
        if agents
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x["login"] == "5002"))
        {
            Ok(())
        } else {
            Err(agents.to_string())
        }
    });
    let phone = Phone::register_with(&server, "5002", &secret);
    one_call_reaches(&server, &api, &phone, "5002");
    // Disabled from the command line: out of the ACD.
    cli(&["user", "disable", "5002"], &[]);
    api.wait("5002 gone from the ACD", WAIT, |api| {
        let agents = api.get("/api/v1/agents");
        if agents
            .as_array()
            .is_some_and(|a| !a.iter().any(|x| x["login"] == "5002"))
        {
            Ok(())
        } else {
            Err(agents.to_string())
        }
    });
}
