//! Helpers for the fault drills (tests/e2e_drills.rs): callers held in a state, the
//! database read from outside, a SQLite outage made by another process holding its lock.

use std::path::Path;
use std::time::{Duration, Instant};

use super::keypad::Keypad;
use super::{Server, SippRun, sipp_start, tail};

/// A call from SIPp held in progress, with the test's keypad on its media.
pub struct HeldCall {
    pub run: SippRun,
    pub keypad: Keypad,
    pub sip_call_id: String,
}

impl HeldCall {
    /// Dials `number` from `from` and holds the call up to `hold_s` (the caller's BYE after
    /// that); returns once the server answered (prompt audio arrived) and SIPp traced the
    /// INVITE's Call-ID.
    pub fn dial(server: &Server, number: &str, from: &str, hold_s: u64) -> HeldCall {
        HeldCall::dial_with("uac_keypad.xml", server, number, from, hold_s)
    }

    /// [`HeldCall::dial`] with another SIPp scenario taking the same keys
    /// (`uac_keypad_server_bye.xml`: the server must hang up within `hold_s`).
    pub fn dial_with(
        scenario: &str,
        server: &Server,
        number: &str,
        from: &str,
        hold_s: u64,
    ) -> HeldCall {
        let mut keypad = Keypad::new();
        let port = keypad.port();
        let hold = (hold_s * 1000).to_string();
        let timeout = format!("{}s", hold_s + 20);
        let run = sipp_start(
            scenario,
            server,
            &[
                "-s", number, "-key", "rtp_port", &port, "-key", "caller", from, "-d", &hold,
                "-timeout", &timeout,
            ],
        );
        assert!(
            keypad.wait_for_audio(Duration::from_secs(10)),
            "no prompt audio: the call was not answered\n{}",
            tail(&server.log(), 40)
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        let sip_call_id = loop {
            let traced = run.messages_so_far().lines().find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.trim()
                    .eq_ignore_ascii_case("Call-ID")
                    .then(|| value.trim().to_string())
            });
            if let Some(id) = traced {
                break id;
            }
            assert!(Instant::now() < deadline, "SIPp never traced its INVITE");
            std::thread::sleep(Duration::from_millis(50));
        };
        HeldCall {
            run,
            keypad,
            sip_call_id,
        }
    }

    /// Waits (up to `limit`) until this call's log has a line containing `text`.
    pub fn wait_log(&self, server: &Server, text: &str, limit: Duration) {
        let found = server.wait_log(
            |_| {
                server
                    .call_log(&self.sip_call_id)
                    .iter()
                    .any(|l| l.contains(text))
            },
            limit,
        );
        assert!(
            found,
            "{text:?} never came for {}\n--- call log ---\n{}",
            self.sip_call_id,
            server.call_log(&self.sip_call_id).join("\n")
        );
    }
}

/// Runs `sql` on the SQLite database at `db` with the `sqlite3` shell (another process, as an
/// operator would) and returns its output, one row a line, columns split by `|`.
pub fn sqlite(db: &Path, sql: &str) -> String {
    let out = std::process::Command::new("sqlite3")
        .arg("-bail")
        .arg(db)
        .arg(sql)
        .output()
        .expect("run sqlite3");
    assert!(
        out.status.success(),
        "sqlite3 {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Polls `check` every 50 ms until it returns `Some` or `limit` passes.
pub fn poll<T>(what: &str, limit: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Another process holds the CRM's SQLite write lock (`BEGIN EXCLUSIVE` in the `sqlite3`
/// shell) until released or dropped: the server's writes meet the busy timeout and count as
/// "database away" (root ignores file modes, so making the file unwritable would not stop
/// the server); its reads go on (WAL).
pub struct DatabaseLock(std::process::Child);

impl DatabaseLock {
    pub fn hold(db: &Path) -> DatabaseLock {
        use std::io::{BufRead, Write};
        let mut child = std::process::Command::new("sqlite3")
            .arg(db)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("the sqlite3 shell (scripts/install-test-deps.sh)");
        let stdin = child.stdin.as_mut().unwrap();
        writeln!(stdin, "BEGIN EXCLUSIVE;\nSELECT 'locked';").unwrap();
        stdin.flush().unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "locked", "the lock was not taken");
        DatabaseLock(child)
    }

    pub fn release(mut self) {
        use std::io::Write;
        let mut stdin = self.0.stdin.take().unwrap();
        writeln!(stdin, "ROLLBACK;\n.quit").unwrap();
        drop(stdin);
        assert!(self.0.wait().unwrap().success());
    }
}

impl Drop for DatabaseLock {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A small tmpfs mounted over a directory until dropped (needs root): a disk that fills.
pub struct SmallDisk(std::path::PathBuf);

impl SmallDisk {
    pub fn mount(dir: &Path, size: &str) -> SmallDisk {
        std::fs::create_dir_all(dir).expect("create the mount point");
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .status()
            .expect("run mount");
        assert!(status.success(), "mount tmpfs on {}", dir.display());
        SmallDisk(dir.to_path_buf())
    }

    /// Fills what is left with a file of zeros, until the disk says ENOSPC; the bytes written.
    pub fn fill(&self) -> u64 {
        use std::io::Write;
        let mut f = std::fs::File::create(self.0.join("filler")).expect("create the filler");
        let block = vec![0u8; 4096];
        let mut written = 0u64;
        loop {
            match f.write(&block) {
                Ok(0) => break,
                Ok(n) => written += n as u64,
                Err(e) => {
                    assert_eq!(e.raw_os_error(), Some(28), "expected ENOSPC, got {e}");
                    break;
                }
            }
        }
        written
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

/// A PostgreSQL cluster of the test's own (initdb into a temporary folder, owned by the
/// `postgres` user, on a free port on 127.0.0.1, trust authentication), started and stopped
/// with `pg_ctl`: stopping it never touches the machine's shared server. Removed on drop.
pub struct PrivatePostgres {
    bin: std::path::PathBuf,
    dir: std::path::PathBuf,
    pub port: u16,
}

impl PrivatePostgres {
    /// Creates and starts the cluster with a database `centralino`.
    pub fn start() -> PrivatePostgres {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL installed (/usr/lib/postgresql)")
            .flatten()
            .map(|e| e.path().join("bin"))
            .filter(|b| b.join("initdb").exists())
            .max()
            .expect("an initdb under /usr/lib/postgresql/*/bin");
        let dir = std::env::temp_dir().join(format!(
            "centralino-pg-{}-{:x}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let pg = PrivatePostgres {
            bin,
            dir,
            port: super::free_sip_port(),
        };
        pg.as_postgres(&["chown", "-R", "postgres:postgres"], &[&pg.dir], true);
        let data = pg.dir.join("data");
        pg.as_postgres(
            &[
                pg.bin.join("initdb").to_str().unwrap(),
                "-A",
                "trust",
                "-U",
                "postgres",
                "-D",
            ],
            &[&data],
            false,
        );
        pg.start_again();
        let out = std::process::Command::new("psql")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &pg.port.to_string(),
                "-U",
                "postgres",
            ])
            .args(["-d", "postgres", "-c", "CREATE DATABASE centralino"])
            .output()
            .expect("run psql");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        pg
    }

    fn as_postgres(&self, command: &[&str], paths: &[&Path], as_root: bool) {
        let mut c = if as_root {
            std::process::Command::new(command[0])
        } else {
            let mut c = std::process::Command::new("runuser");
            c.args(["-u", "postgres", "--", command[0]]);
            c
        };
        c.args(&command[1..]).args(paths);
        let out = c.output().expect("run a PostgreSQL tool");
        assert!(
            out.status.success(),
            "{command:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn pg_ctl(&self, args: &[&str]) {
        let data = self.dir.join("data");
        let mut all = vec![self.bin.join("pg_ctl").to_str().unwrap().to_string()];
        all.extend(["-D".to_string(), data.to_str().unwrap().to_string()]);
        all.extend(args.iter().map(|s| s.to_string()));
        let refs: Vec<&str> = all.iter().map(String::as_str).collect();
        self.as_postgres(&refs, &[], false);
    }

    /// The URL of its `centralino` database.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/centralino", self.port)
    }

    /// Stops the server (`pg_ctl stop -m fast`: connections are cut).
    pub fn stop(&self) {
        self.pg_ctl(&["stop", "-m", "fast", "-w"]);
    }

    /// Starts the server (again) and waits until it takes connections.
    pub fn start_again(&self) {
        let log = self.dir.join("server.log");
        let options = format!(
            "-c listen_addresses=127.0.0.1 -c port={} -c unix_socket_directories={} -c fsync=off",
            self.port,
            self.dir.display()
        );
        self.pg_ctl(&["start", "-w", "-l", log.to_str().unwrap(), "-o", &options]);
    }

    /// Runs `sql` with `psql` and returns its rows, columns split by `|`.
    pub fn query(&self, sql: &str) -> String {
        let out = std::process::Command::new("psql")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
            ])
            .args(["-d", "centralino", "-At", "-F", "|", "-c", sql])
            .output()
            .expect("run psql");
        assert!(
            out.status.success(),
            "psql {sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let data = self.dir.join("data");
        let _ = std::process::Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join("pg_ctl"))
            .args(["-D"])
            .arg(&data)
            .args(["stop", "-m", "immediate", "-w"])
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
