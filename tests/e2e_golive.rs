//! Going live (issue 13), through the real binary on loopback: `serve` refuses the demo on
//! a public address unless forced; `init` makes the first administrator of an empty site.

mod common;

use std::fs;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{Server, TempDir, free_sip_port};

fn centralino() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_centralino"));
    command
        .env_remove("DATABASE_URL")
        .env_remove("CENTRALINO_ADMIN_PASSWORD")
        .env("NO_COLOR", "1")
        .env("RUST_LOG", "info")
        .stdin(Stdio::null());
    command
}

/// Runs a command that must end by itself within 60 s; its output.
fn finish(mut command: Command) -> Output {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start centralino");
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "{command:?} still running after 60 s\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("output")
}

fn said_by(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn run_ok(args: &[&str], env: &[(&str, &str)]) -> String {
    let mut command = centralino();
    command.args(args).envs(env.iter().copied());
    let out = finish(command);
    let text = said_by(&out);
    assert!(out.status.success(), "centralino {args:?}: {text}");
    text
}

// ---- the demo on a public address -------------------------------------------------------

#[test]
fn serve_refuses_the_demo_on_a_non_loopback_address() {
    let dir = TempDir::new("refuse");
    let data = dir.path().join("data");
    let mut command = centralino();
    command.args(["serve", "--data"]).arg(&data).args([
        "--sip-listen",
        &format!("127.0.0.1:{}", free_sip_port()),
        "--http-listen",
        &format!("0.0.0.0:{}", free_sip_port()),
    ]);
    let out = finish(command);
    let text = said_by(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains("refusing to serve the demo accounts"),
        "{text}"
    );
    assert!(text.contains("database.demo_data = true"), "{text}");
    assert!(text.contains("(http.listen or --http-listen)"), "{text}");
    assert!(text.contains("--force-demo"), "{text}");
    assert!(!data.exists(), "nothing is created before the refusal");

    // A site configuration over a database where the demo was loaded once: its accounts
    // still have their published passwords, so a public address is refused too.
    run_ok(&["demo-data", "--data", data.to_str().unwrap()], &[]);
    let site = dir.path().join("site.toml");
    fs::write(&site, "[database]\ndemo_data = false\n").unwrap();
    let mut command = centralino();
    command
        .args(["serve", "--config"])
        .arg(&site)
        .arg("--data")
        .arg(&data)
        .args([
            "--sip-listen",
            &format!("0.0.0.0:{}", free_sip_port()),
            "--http-listen",
            &format!("127.0.0.1:{}", free_sip_port()),
        ]);
    let out = finish(command);
    let said = said_by(&out);
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(
        said.contains("the database still has demo accounts with their published passwords"),
        "{said}"
    );
    assert!(said.contains("(sip.listen or --sip-listen)"), "{said}");
}

#[test]
fn force_demo_serves_on_a_public_address_with_a_warning() {
    let dir = TempDir::new("force-demo");
    let log_path = dir.path().join("server.log");
    let log = fs::File::create(&log_path).unwrap();
    let http_port = free_sip_port();
    let mut child = centralino()
        .args(["serve", "--force-demo", "--data"])
        .arg(dir.path().join("data"))
        .args([
            "--sip-listen",
            &format!("127.0.0.1:{}", free_sip_port()),
            "--http-listen",
            &format!("0.0.0.0:{http_port}"),
        ])
        .current_dir(dir.path())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("start centralino");
    let read = || fs::read_to_string(&log_path).unwrap_or_default();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut exited = None;
    while !read().contains("centralino ready") {
        if let Some(status) = child.try_wait().unwrap() {
            exited = Some(status);
            break;
        }
        if Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // Stopped at once: it was listening on every interface.
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let status = wait_exit(&mut child, Duration::from_secs(20));
    let log = read();
    assert!(exited.is_none(), "exited ({exited:?}) before ready:\n{log}");
    assert!(log.contains("centralino ready"), "{log}");
    assert!(log.contains("WARN"), "{log}");
    assert!(
        log.contains(&format!(
            "--force-demo: the demo accounts, whose passwords are published, are served on \
             0.0.0.0:{http_port}"
        )),
        "{log}"
    );
    assert!(status.success(), "{status}\n{log}");
}

fn wait_exit(child: &mut std::process::Child, timeout: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("centralino did not stop within {timeout:?} of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

// ---- init -------------------------------------------------------------------------------

#[test]
fn init_gives_an_empty_site_its_administrator() {
    // A site configuration: no demo data. The server starts on an empty database.
    let server = Server::start("");
    let config = server.dir().join("centralino.toml");
    let data = server.dir().join("data");
    let (status, _) = server
        .http(
            "POST",
            "/api/v1/session",
            None,
            Some(r#"{"login":"1001","password":"demo1001"}"#),
        )
        .unwrap();
    assert_eq!(status, 401, "no demo accounts on a site");

    // Without --config: the demo configuration, refused.
    let mut command = centralino();
    command.args(["init", "--data"]).arg(&data);
    let out = finish(command);
    assert_eq!(out.status.code(), Some(2), "{}", said_by(&out));
    assert!(said_by(&out).contains("--config"), "{}", said_by(&out));

    let site = [
        "--config",
        config.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
    ];
    let password = "correct horse battery staple";
    let mut args = vec!["init"];
    args.extend(site);
    let out = run_ok(&args, &[("CENTRALINO_ADMIN_PASSWORD", password)]);
    assert!(out.contains("created the administrator `admin`"), "{out}");
    assert!(
        !out.contains(password),
        "the given password is never echoed: {out}"
    );
    server.login("admin", password);

    // Again: refused, nothing changes.
    let mut command = centralino();
    command
        .args(&args)
        .env("CENTRALINO_ADMIN_PASSWORD", "another long password");
    let out = finish(command);
    assert_eq!(out.status.code(), Some(2), "{}", said_by(&out));
    assert!(
        said_by(&out).contains("already initialised"),
        "{}",
        said_by(&out)
    );
    server.login("admin", password);

    // --force: a generated password, printed once on stdout and nowhere else.
    let mut forced = args.clone();
    forced.push("--force");
    let mut command = centralino();
    command.args(&forced);
    let out = finish(command);
    assert!(out.status.success(), "{}", said_by(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let generated = stdout
        .lines()
        .find_map(|l| l.strip_prefix("password: "))
        .unwrap_or_else(|| panic!("a password line: {stdout}"))
        .to_string();
    assert_eq!(generated.len(), 20, "{stdout}");
    assert!(!String::from_utf8_lossy(&out.stderr).contains(&generated));
    assert!(!server.log().contains(&generated));
    server.login("admin", &generated);

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(data.join("pin.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "pin.key mode {mode:o}");
    }
}
