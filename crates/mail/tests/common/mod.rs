//! A real mail system for tests: dovecot (IMAP, IMAPS, LMTP; passwd-file users; Maildirs in
//! a temp dir; a self-signed certificate made with openssl) and postfix (an SMTP relay with
//! STARTTLS delivering every mail for `example.test` and `comune.test` to that dovecot by
//! LMTP), each with a configuration of its own in a temp dir, on free loopback ports.
//! Needs root (both servers drop to their own users) and the Debian packages
//! `dovecot-imapd dovecot-lmtpd postfix openssl` (scripts/install-test-deps.sh).
//!
//! Later tests reuse it: `MailSystem::start(&["urp", "mario"])`, then send to
//! `<user>@comune.test` / `<user>@example.test` over SMTP at `smtp_port` and read
//! `<user>` (password `secret`) over IMAP at `imap_port` / `imaps_port`.

#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The users' password.
pub const PASSWORD: &str = "secret";

/// The running servers; stopped when dropped.
pub struct MailSystem {
    pub dir: tempfile::TempDir,
    pub imap_port: u16,
    pub imaps_port: u16,
    pub lmtp_port: u16,
    pub smtp_port: u16,
    /// The CA to trust (the self-signed server certificate), PEM.
    pub ca_pem: Vec<u8>,
    dovecot: Child,
    relay_running: bool,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Waits (bounded) until `port` accepts connections.
fn wait_listening(port: u16, what: &str, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            panic!(
                "{what} did not listen on {port}: {}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl MailSystem {
    /// Starts dovecot and postfix with these mail users.
    pub fn start(users: &[&str]) -> MailSystem {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().to_path_buf();
        let mode = |p: &Path, m: u32| {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
        };
        mode(&d, 0o755);
        let (imap_port, imaps_port, lmtp_port, smtp_port) =
            (free_port(), free_port(), free_port(), free_port());
        // A test CA and a server certificate it signs (webpki refuses a CA certificate
        // used as the server's own).
        let ssl = |args: &[&str]| run(Command::new("openssl").current_dir(&d).args(args));
        ssl(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=centralino test CA",
            "-keyout",
            "ca-key.pem",
            "-out",
            "ca.pem",
        ]);
        ssl(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-keyout",
            "key.pem",
            "-out",
            "server.csr",
        ]);
        std::fs::write(
            d.join("ext.cnf"),
            "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n",
        )
        .unwrap();
        ssl(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca-key.pem",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
            "-out",
            "cert.pem",
        ]);
        mode(&d.join("key.pem"), 0o644);
        let ca_pem = std::fs::read(d.join("ca.pem")).unwrap();

        // dovecot
        let mail = d.join("mail");
        std::fs::create_dir_all(&mail).unwrap();
        std::os::unix::fs::chown(&mail, Some(8), Some(8)).unwrap(); // Debian's `mail` user
        for sub in ["dovecot/run", "dovecot/state"] {
            std::fs::create_dir_all(d.join(sub)).unwrap();
        }
        let passwd: String = users
            .iter()
            .map(|u| format!("{u}:{{PLAIN}}{PASSWORD}:8:8::{}\n", mail.join(u).display()))
            .collect();
        std::fs::write(d.join("dovecot/passwd"), passwd).unwrap();
        let dd = d.display();
        std::fs::write(
            d.join("dovecot/dovecot.conf"),
            format!(
                "base_dir = {dd}/dovecot/run\nstate_dir = {dd}/dovecot/state\n\
                 log_path = {dd}/dovecot/log\nprotocols = imap lmtp\nlisten = 127.0.0.1\n\
                 ssl = yes\nssl_cert = <{dd}/cert.pem\nssl_key = <{dd}/key.pem\n\
                 disable_plaintext_auth = no\nauth_mechanisms = plain login\n\
                 first_valid_uid = 8\nmail_location = maildir:~/Maildir\n\
                 auth_username_format = %Ln\n\
                 passdb {{\n driver = passwd-file\n args = scheme=PLAIN {dd}/dovecot/passwd\n}}\n\
                 userdb {{\n driver = passwd-file\n args = {dd}/dovecot/passwd\n}}\n\
                 service imap-login {{\n inet_listener imap {{\n address = 127.0.0.1\n port = {imap_port}\n }}\n\
                 inet_listener imaps {{\n address = 127.0.0.1\n port = {imaps_port}\n ssl = yes\n }}\n}}\n\
                 service lmtp {{\n inet_listener lmtp {{\n address = 127.0.0.1\n port = {lmtp_port}\n }}\n}}\n\
                 service stats {{\n unix_listener stats-reader {{\n mode = 0666\n }}\n\
                 unix_listener stats-writer {{\n mode = 0666\n }}\n}}\n"
            ),
        )
        .unwrap();
        let dovecot = Command::new("/usr/sbin/dovecot")
            .arg("-F")
            .arg("-c")
            .arg(d.join("dovecot/dovecot.conf"))
            .stdin(Stdio::null())
            .spawn()
            .expect("dovecot (Debian dovecot-imapd) must be installed");
        for p in [imap_port, imaps_port, lmtp_port] {
            wait_listening(p, "dovecot", &d.join("dovecot/log"));
        }

        // postfix
        let pf = d.join("postfix");
        std::fs::create_dir_all(pf.join("queue")).unwrap();
        std::fs::create_dir_all(pf.join("data")).unwrap();
        run(Command::new("chown").arg("postfix").arg(pf.join("data")));
        let pd = pf.display();
        std::fs::write(
            pf.join("main.cf"),
            format!(
                "compatibility_level = 3.6\nqueue_directory = {pd}/queue\ndata_directory = {pd}/data\n\
                 command_directory = /usr/sbin\ndaemon_directory = /usr/lib/postfix/sbin\n\
                 meta_directory = /etc/postfix\nshlib_directory = /usr/lib/postfix\n\
                 mail_owner = postfix\nsetgid_group = postdrop\ninet_interfaces = 127.0.0.1\n\
                 inet_protocols = ipv4\nmyhostname = relay.example.test\nmydomain = example.test\n\
                 myorigin = example.test\nmydestination =\nlocal_recipient_maps =\n\
                 virtual_mailbox_domains = example.test comune.test\n\
                 virtual_transport = lmtp:inet:127.0.0.1:{lmtp_port}\nmynetworks = 127.0.0.0/8\n\
                 smtpd_relay_restrictions = permit_mynetworks, reject\n\
                 maillog_file_prefixes = {dd}\nmaillog_file = {pd}/log\nsmtputf8_enable = no\n\
                 biff = no\nalias_maps =\nalias_database =\n\
                 smtpd_tls_cert_file = {dd}/cert.pem\nsmtpd_tls_key_file = {dd}/key.pem\n\
                 smtpd_tls_security_level = may\n"
            ),
        )
        .unwrap();
        let master = std::fs::read_to_string("/etc/postfix/master.cf").unwrap();
        let master: String = master
            .lines()
            .map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                if l.starts_with('#') || l.starts_with(' ') || f.len() < 8 {
                    return format!("{l}\n");
                }
                // No chroot (the queue is in the temp dir); SMTP on our port only.
                let service = if f[0] == "smtp" && f[1] == "inet" {
                    format!("127.0.0.1:{smtp_port}")
                } else {
                    f[0].to_string()
                };
                format!(
                    "{service} {} {} {} n {}\n",
                    f[1],
                    f[2],
                    f[3],
                    f[5..].join(" ")
                )
            })
            .collect();
        std::fs::write(pf.join("master.cf"), master).unwrap();
        let mut sys = MailSystem {
            dir,
            imap_port,
            imaps_port,
            lmtp_port,
            smtp_port,
            ca_pem,
            dovecot,
            relay_running: false,
        };
        sys.start_relay();
        sys
    }

    fn postfix(&self, verb: &str) {
        run(Command::new("/usr/sbin/postfix")
            .arg("-c")
            .arg(self.dir.path().join("postfix"))
            .arg(verb)
            .stdout(Stdio::null()));
    }

    /// Starts the relay (again) and waits until it listens.
    pub fn start_relay(&mut self) {
        self.postfix("start");
        self.relay_running = true;
        wait_listening(
            self.smtp_port,
            "postfix",
            &self.dir.path().join("postfix/log"),
        );
    }

    /// Stops the relay (its port refuses connections when this returns).
    pub fn stop_relay(&mut self) {
        self.postfix("stop");
        self.relay_running = false;
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", self.smtp_port)).is_ok() {
            assert!(Instant::now() < deadline, "postfix did not stop");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The relay's log (for failure messages).
    pub fn logs(&self) -> String {
        let r = |p: &str| std::fs::read_to_string(self.dir.path().join(p)).unwrap_or_default();
        format!(
            "--- postfix\n{}\n--- dovecot\n{}",
            r("postfix/log"),
            r("dovecot/log")
        )
    }

    /// Where the temp dir is.
    pub fn path(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }
}

impl Drop for MailSystem {
    fn drop(&mut self) {
        if self.relay_running {
            let _ = Command::new("/usr/sbin/postfix")
                .arg("-c")
                .arg(self.dir.path().join("postfix"))
                .arg("stop")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        let _ = self.dovecot.kill();
        let _ = self.dovecot.wait();
    }
}
