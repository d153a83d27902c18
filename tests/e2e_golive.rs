//! Going live (issue 13), through the real binary on loopback: `serve` refuses the demo on
//! a public address unless forced; `init` makes the first administrator of an empty site;
//! `backup` → wipe → `restore` gives back the same tickets, prompts, voicemail files and a
//! PIN key that still matches, on SQLite (the backup taken while serving) and PostgreSQL;
//! a damaged archive is refused and changes nothing. The production files in contrib/ are
//! checked by the product's own configuration loader and by `systemd-analyze verify`.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
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

// ---- backup and restore -----------------------------------------------------------------

/// What must survive a backup: the tickets, a PIN lookup, the prompt and voicemail files.
#[derive(Debug, PartialEq)]
struct Site {
    tickets: Vec<crm::Ticket>,
    pin_customer: Option<crm::CustomerId>,
    files: Vec<(String, Vec<u8>)>,
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Reads a site's state through the CRM, with the PIN key found in `data`.
fn read_site(url: &str, data: &Path) -> Site {
    let secret = fs::read(data.join("pin.key")).expect("pin.key");
    runtime().block_on(async {
        let settings = crm::Settings {
            pin_secret: secret,
            ..crm::Settings::default()
        };
        let store = crm::Store::connect_with(url, settings).await.expect("open");
        let page = store
            .search_tickets(&crm::TicketQuery {
                limit: 1000,
                ..Default::default()
            })
            .await
            .expect("tickets");
        let mut tickets = page.tickets;
        tickets.sort_by_key(|t| t.id.0);
        let pin_customer = store.customer_id_with_pin("12345").await.expect("pin");
        store.close().await;
        let mut files = Vec::new();
        for folder in ["prompts", "voicemail"] {
            collect(&data.join(folder), folder, &mut files);
        }
        files.sort();
        Site {
            tickets,
            pin_customer,
            files,
        }
    })
}

fn collect(dir: &Path, prefix: &str, out: &mut Vec<(String, Vec<u8>)>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = format!("{prefix}/{}", e.file_name().to_string_lossy());
        if e.file_type().unwrap().is_dir() {
            collect(&e.path(), &name, out);
        } else {
            out.push((name, fs::read(e.path()).unwrap()));
        }
    }
}

fn sqlite_url(data: &Path) -> String {
    format!("sqlite://{}?mode=rw", data.join("centralino.db").display())
}

/// A voicemail message as the mailbox keeps it (the bytes only matter here).
fn leave_voicemail(data: &Path) {
    let dir = data.join("voicemail").join("general");
    fs::create_dir_all(&dir).unwrap();
    let wav = fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../prompts/it/voicemail_saved.wav"
    ))
    .unwrap();
    fs::write(dir.join("0199-test-call.wav"), wav).unwrap();
}

#[test]
fn backup_while_serving_then_wipe_and_restore_on_sqlite() {
    let mut server = Server::start_demo("");
    let config_text = fs::read_to_string(server.dir().join("centralino.toml")).unwrap();
    let data = server.dir().join("data");
    let data_arg = data.to_str().unwrap().to_string();
    run_ok(
        &["gen-tickets", "30", "--seed", "5", "--data", &data_arg],
        &[],
    );
    // An uploaded announcement, through the API, and a voicemail file.
    let token = server.login("admin", "demo-admin");
    let wav = fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../prompts/en/welcome.wav"
    ))
    .unwrap();
    let (status, body) = server
        .http_bytes(
            "PUT",
            "/api/v1/prompts/it/welcome",
            &token,
            "audio/wav",
            &wav,
        )
        .unwrap();
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    leave_voicemail(&data);
    let before = read_site(&sqlite_url(&data), &data);
    assert_eq!(before.tickets.len(), 30);
    assert!(before.pin_customer.is_some());
    assert_eq!(
        before.files.len(),
        2,
        "{:?}",
        before.files.iter().map(|f| &f.0).collect::<Vec<_>>()
    );

    // Taken while the server runs.
    let keep = TempDir::new("archives");
    let archive = keep.path().join("site.tar");
    let out = run_ok(
        &[
            "backup",
            "--data",
            &data_arg,
            "--output",
            archive.to_str().unwrap(),
        ],
        &[],
    );
    assert!(out.contains("backup written"), "{out}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(&archive).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the archive holds pin.key: {mode:o}");
    }
    let mut again = centralino();
    again
        .args(["backup", "--data", &data_arg, "--output"])
        .arg(&archive);
    let out = finish(again);
    assert!(
        !out.status.success(),
        "an existing archive is never replaced"
    );

    // Wipe: the server stops and its whole folder goes.
    server.sigterm();
    assert!(server.wait_exit(Duration::from_secs(20)).is_some());
    drop(server);
    assert!(!data.exists());

    // Restore into a new site with the same configuration.
    let site = TempDir::new("restored");
    let config = site.path().join("centralino.toml");
    fs::write(&config, &config_text).unwrap();
    let restored = site.path().join("data");
    let restored_arg = restored.to_str().unwrap().to_string();
    let archive_arg = archive.to_str().unwrap().to_string();
    let config_arg = config.to_str().unwrap().to_string();
    let out = run_ok(
        &[
            "restore",
            &archive_arg,
            "--config",
            &config_arg,
            "--data",
            &restored_arg,
        ],
        &[],
    );
    assert!(out.contains("with 30 tickets"), "{out}");
    assert_eq!(read_site(&sqlite_url(&restored), &restored), before);

    // Over data: refused without --force, then replaced.
    let mut command = centralino();
    command.args(["restore", &archive_arg, "--data", &restored_arg]);
    let out = finish(command);
    assert_eq!(out.status.code(), Some(2), "{}", said_by(&out));
    assert!(said_by(&out).contains("--force"), "{}", said_by(&out));
    run_ok(
        &["restore", &archive_arg, "--data", &restored_arg, "--force"],
        &[],
    );
    assert_eq!(read_site(&sqlite_url(&restored), &restored), before);

    // Damaged archives: refused with a message, nothing written.
    let bytes = fs::read(&archive).unwrap();
    // One byte of the first member's content (the database: its header is 512 bytes).
    let mut flipped = bytes.clone();
    flipped[512 + 100] ^= 0x55;
    for (name, content) in [
        ("flipped.tar", flipped),
        ("truncated.tar", bytes[..bytes.len() / 2].to_vec()),
        ("empty.tar", Vec::new()),
        (
            "garbage.tar",
            b"not an archive at all, just text".repeat(40),
        ),
    ] {
        let path = keep.path().join(name);
        fs::write(&path, content).unwrap();
        let target = keep.path().join(format!("{name}.data"));
        let mut command = centralino();
        command
            .args(["restore"])
            .arg(&path)
            .arg("--data")
            .arg(&target);
        let out = finish(command);
        let text = said_by(&out);
        assert_eq!(out.status.code(), Some(1), "{name}: {text}");
        assert!(
            text.contains("damaged or not a centralino backup"),
            "{name}: {text}"
        );
        assert!(!text.contains("panicked"), "{name}: {text}");
        let left: Vec<_> = fs::read_dir(&target).unwrap().flatten().collect();
        assert!(left.is_empty(), "{name}: nothing written, found {left:?}");
    }
}

/// A PostgreSQL database of its own for this test, dropped at the end.
struct PgDatabase {
    name: String,
}

const PG_ADMIN: &str = "postgres://postgres@127.0.0.1:5432/test";

impl PgDatabase {
    fn create(label: &str) -> PgDatabase {
        let name = format!(
            "centralino_{label}_{}_{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
                % 1_000_000_000
        );
        psql(&format!("CREATE DATABASE {name}"));
        PgDatabase { name }
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:5432/{}", self.name)
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .args(["--no-psqlrc", "-q", "-d", PG_ADMIN, "-c"])
            .arg(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .output();
    }
}

fn psql(sql: &str) {
    let out = Command::new("psql")
        .args([
            "--no-psqlrc",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            PG_ADMIN,
            "-c",
            sql,
        ])
        .output()
        .expect("psql (PostgreSQL client) on PATH");
    assert!(
        out.status.success(),
        "psql {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn backup_wipe_and_restore_on_postgresql() {
    let source = PgDatabase::create("ops_src");
    let dir = TempDir::new("pg-backup");
    let data = dir.path().join("data");
    let data_arg = data.to_str().unwrap().to_string();
    let source_url = source.url();
    let env = [("DATABASE_URL", source_url.as_str())];
    run_ok(&["demo-data", "--data", &data_arg], &env);
    run_ok(
        &["gen-tickets", "25", "--seed", "9", "--data", &data_arg],
        &env,
    );
    let prompts = data.join("prompts").join("it");
    fs::create_dir_all(&prompts).unwrap();
    fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../prompts/en/goodbye.wav"),
        prompts.join("goodbye.wav"),
    )
    .unwrap();
    leave_voicemail(&data);
    let before = read_site(&source_url, &data);
    assert_eq!(before.tickets.len(), 25);
    assert!(before.pin_customer.is_some());

    let archive = dir.path().join("pg.tar");
    let archive_arg = archive.to_str().unwrap().to_string();
    let out = run_ok(
        &["backup", "--data", &data_arg, "--output", &archive_arg],
        &env,
    );
    assert!(out.contains("postgres database"), "{out}");

    // Wipe: the database and the data directory.
    drop(source);
    fs::remove_dir_all(&data).unwrap();

    let target = PgDatabase::create("ops_dst");
    let target_url = target.url();
    let env = [("DATABASE_URL", target_url.as_str())];
    let out = run_ok(&["restore", &archive_arg, "--data", &data_arg], &env);
    assert!(out.contains("with 25 tickets"), "{out}");
    assert_eq!(read_site(&target_url, &data), before);

    // Over a database with tables: refused, then replaced with --force.
    let mut command = centralino();
    command
        .args(["restore", &archive_arg, "--data", &data_arg])
        .env("DATABASE_URL", &target_url);
    let out = finish(command);
    assert_eq!(out.status.code(), Some(2), "{}", said_by(&out));
    assert!(said_by(&out).contains("tables"), "{}", said_by(&out));
    run_ok(
        &["restore", &archive_arg, "--data", &data_arg, "--force"],
        &env,
    );
    assert_eq!(read_site(&target_url, &data), before);
}

// ---- the production files ---------------------------------------------------------------

fn contrib(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../contrib")
        .join(name)
}

#[test]
fn the_production_configuration_is_valid_and_has_no_demo() {
    let text = fs::read_to_string(contrib("production.toml")).unwrap();
    assert!(text.contains("demo_data = false"));
    // Its prompts folder is where the install puts the shipped ones; here, the source's.
    let shipped = concat!(env!("CARGO_MANIFEST_DIR"), "/../../prompts");
    let local = text.replace("/usr/local/share/centralino/prompts", shipped);
    let dir = TempDir::new("production");
    let path = dir.path().join("centralino.toml");
    fs::write(&path, local).unwrap();
    let out = run_ok(&["check-config", path.to_str().unwrap()], &[]);
    assert!(out.contains("valid"), "{out}");
}

#[test]
fn the_systemd_units_pass_systemd_analyze() {
    if Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("SKIPPED: systemd-analyze is not installed");
        return;
    }
    // The units as installed, their ExecStart pointing at the binary under test.
    let dir = TempDir::new("unit");
    let mut paths = Vec::new();
    for name in [
        "centralino.service",
        "centralino-backup.service",
        "centralino-backup.timer",
    ] {
        let unit = fs::read_to_string(contrib(name)).unwrap();
        let unit = unit.replace(
            "/usr/local/bin/centralino",
            env!("CARGO_BIN_EXE_centralino"),
        );
        let path = dir.path().join(name);
        fs::write(&path, unit).unwrap();
        paths.push(path);
    }
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .args(&paths)
        .output()
        .unwrap();
    let text = said_by(&out);
    // Only the lines about these units count (the host's own units may have warnings).
    let ours: Vec<&str> = text.lines().filter(|l| l.contains("centralino")).collect();
    assert!(out.status.success() && ours.is_empty(), "{text}");
}
