//! A real OpenLDAP server for the directory sign-in tests: each test starts its own `slapd`
//! (Debian packages `slapd` and `ldap-utils`, scripts/install-test-deps.sh) on a free
//! loopback port, with a temporary `slapd.conf` and mdb database under `dc=example,dc=org`,
//! loads invented people and groups with `ldapadd`, and kills it when dropped.

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The directory's administrator (`rootdn`), which loads the data.
pub const ADMIN_DN: &str = "cn=admin,dc=example,dc=org";
pub const ADMIN_PW: &str = "admin-secret";

/// People and groups (invented; example.org):
///
/// | uid | password | groups |
/// |---|---|---|
/// | anna | anna-pw | sportello |
/// | bruno | bruno-pw | sportello, backoffice |
/// | carla | carla-pw | staff (mapped nowhere) |
/// | adm | adm-ldap-pw | sportello (a local account has this login) |
pub const DATA: &str = "\
dn: dc=example,dc=org
objectClass: dcObject
objectClass: organization
o: Example
dc: example

dn: ou=people,dc=example,dc=org
objectClass: organizationalUnit
ou: people

dn: ou=groups,dc=example,dc=org
objectClass: organizationalUnit
ou: groups

dn: uid=anna,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: anna
cn: Anna Esempio
sn: Esempio
userPassword: anna-pw

dn: uid=bruno,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: bruno
cn: Bruno Esempio
sn: Esempio
userPassword: bruno-pw

dn: uid=carla,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: carla
cn: Carla Esempio
sn: Esempio
userPassword: carla-pw

dn: uid=adm,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: adm
cn: Not The Local Admin
sn: Esempio
userPassword: adm-ldap-pw

dn: cn=sportello,ou=groups,dc=example,dc=org
objectClass: groupOfNames
cn: sportello
member: uid=anna,ou=people,dc=example,dc=org
member: uid=bruno,ou=people,dc=example,dc=org
member: uid=adm,ou=people,dc=example,dc=org

dn: cn=backoffice,ou=groups,dc=example,dc=org
objectClass: groupOfNames
cn: backoffice
member: uid=bruno,ou=people,dc=example,dc=org

dn: cn=staff,ou=groups,dc=example,dc=org
objectClass: groupOfNames
cn: staff
member: uid=carla,ou=people,dc=example,dc=org
";

/// A running slapd; killed (and waited for) when dropped.
pub struct Slapd {
    child: Option<Child>,
    pub port: u16,
    dir: tempfile::TempDir,
}

fn need(program: &str) {
    let found = Command::new("sh")
        .args([
            "-c",
            &format!("command -v {program} || test -x /usr/sbin/{program}"),
        ])
        .stdout(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        found,
        "{program} is not installed: run scripts/install-test-deps.sh (Debian packages slapd, ldap-utils)"
    );
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

impl Slapd {
    /// Starts slapd with [`DATA`] loaded; waits (bounded) until it answers.
    pub fn start() -> Slapd {
        need("slapd");
        need("ldapadd");
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("db");
        std::fs::create_dir(&db).unwrap();
        let conf = dir.path().join("slapd.conf");
        let config = format!(
            "include /etc/ldap/schema/core.schema\n\
             include /etc/ldap/schema/cosine.schema\n\
             include /etc/ldap/schema/inetorgperson.schema\n\
             pidfile {pid}\n\
             modulepath /usr/lib/ldap\n\
             moduleload back_mdb\n\
             database mdb\n\
             suffix \"dc=example,dc=org\"\n\
             rootdn \"{ADMIN_DN}\"\n\
             rootpw {ADMIN_PW}\n\
             directory {db}\n\
             maxsize 10485760\n\
             access to attrs=userPassword by self =xw by anonymous auth by * none\n\
             access to * by * read\n",
            pid = dir.path().join("slapd.pid").display(),
            db = db.display(),
        );
        std::fs::write(&conf, config).unwrap();
        let port = free_port();
        let slapd = if Path::new("/usr/sbin/slapd").exists() {
            "/usr/sbin/slapd".to_string()
        } else {
            "slapd".to_string()
        };
        let log = std::fs::File::create(dir.path().join("slapd.log")).unwrap();
        // -d 0: stay in the foreground (so the test owns the process), log nothing.
        let child = Command::new(slapd)
            .arg("-h")
            .arg(format!("ldap://127.0.0.1:{port}/"))
            .arg("-f")
            .arg(&conf)
            .args(["-d", "0"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("slapd starts");
        let mut slapd = Slapd {
            child: Some(child),
            port,
            dir,
        };
        slapd.wait_ready();
        slapd.ldap("ldapadd", DATA);
        slapd
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("slapd.log")).unwrap_or_default()
    }

    /// Polls a TCP connection until slapd accepts one (10 s at most).
    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                panic!("slapd exited ({status}) before answering:\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "slapd does not answer on 127.0.0.1:{} after 10 s:\n{}",
                self.port,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `ldap://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("ldap://127.0.0.1:{}", self.port)
    }

    /// Runs `ldapadd` or `ldapmodify` as the directory's administrator with `ldif`.
    pub fn ldap(&self, tool: &str, ldif: &str) {
        let mut child = Command::new(tool)
            .args(["-x", "-H", &self.url(), "-D", ADMIN_DN, "-w", ADMIN_PW])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{tool}: {e}"));
        child
            .stdin
            .take()
            .unwrap()
            .write_all(ldif.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{tool} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Kills slapd now (the directory becomes unreachable).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        self.stop();
    }
}
