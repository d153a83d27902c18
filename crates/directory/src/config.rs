//! The `[directory]` section of the configuration file: where the directory is, how an
//! operator's entry is found and bound, how their groups are read, and which groups give
//! which role and queues. The file's envelope (TOML syntax, line numbers) is the
//! application's; this module checks the section and names each problem's field.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::mapping::{GroupMapping, QueueAccess, normalise_dn};

/// One problem in `[directory]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// The key, from the top of the file: `directory.url`, `directory.groups[1].dn`.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// `[directory]`: operators' sign-in against the administration's LDAP or Active Directory.
///
/// An operator's entry is found either by a DN template (`user_dn`, "direct bind") or by a
/// search under `base_dn` with `user_filter` (as `bind_dn`, or anonymously), then bound with
/// the operator's password. Their groups come either from an attribute of their entry
/// (`group_attribute`, e.g. Active Directory's `memberOf`) or from a search under
/// `group_base_dn` with `group_filter`. `{login}` and `{dn}` are replaced, escaped (RFC 4514
/// in DNs, RFC 4515 in filters).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectoryConfig {
    /// `ldap://host:port` or `ldaps://host:port`.
    pub url: String,
    /// Upgrade an `ldap://` connection with StartTLS (RFC 4511 §4.14) before binding.
    #[serde(default)]
    pub starttls: bool,
    /// Bound on one whole sign-in (connect, binds, searches), in seconds (1 to 60).
    #[serde(default = "default_timeout_s")]
    pub timeout_s: u64,
    /// Direct bind: the operator's DN, with `{login}`: `uid={login},ou=people,dc=example,dc=org`.
    pub user_dn: Option<String>,
    /// Search then bind: where operators' entries are searched (subtree).
    pub base_dn: Option<String>,
    /// Search then bind: the filter that finds one operator, with `{login}`.
    #[serde(default = "default_user_filter")]
    pub user_filter: String,
    /// Search then bind: the service account that searches (anonymous when absent).
    pub bind_dn: Option<String>,
    /// The service account's password, read from this file (trailing newline dropped).
    pub bind_password_file: Option<PathBuf>,
    /// The service account's password, read from this environment variable.
    pub bind_password_env: Option<String>,
    /// The attribute holding the operator's display name.
    #[serde(default = "default_name_attribute")]
    pub name_attribute: String,
    /// Groups from this attribute of the operator's entry (`memberOf`).
    pub group_attribute: Option<String>,
    /// Groups searched under this DN (subtree) with `group_filter`.
    pub group_base_dn: Option<String>,
    /// The filter finding the operator's groups, with `{dn}` and/or `{login}`.
    #[serde(default = "default_group_filter")]
    pub group_filter: String,
    /// Directory group → role and queue permissions.
    #[serde(default)]
    pub groups: Vec<GroupSection>,
}

/// `[[directory.groups]]`: members of `dn` sign in with `role` and these queue permissions.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupSection {
    /// The group's DN.
    pub dn: String,
    /// The role it gives.
    pub role: crm::Role,
    /// Queue name → `read` or `write`.
    #[serde(default)]
    pub queues: BTreeMap<String, QueueAccess>,
}

fn default_timeout_s() -> u64 {
    5
}

fn default_user_filter() -> String {
    "(uid={login})".to_string()
}

fn default_name_attribute() -> String {
    "cn".to_string()
}

fn default_group_filter() -> String {
    "(|(member={dn})(uniqueMember={dn}))".to_string()
}

/// How an operator's entry is found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserLookup {
    /// Bind directly as this template, `{login}` replaced.
    Template(String),
    /// Search `base_dn` for `filter` (as `bind`, or anonymously), then bind as what is found.
    Search {
        /// Subtree to search.
        base_dn: String,
        /// Filter with `{login}`.
        filter: String,
        /// Service account DN and password.
        bind: Option<(String, String)>,
    },
}

/// How an operator's groups are read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupLookup {
    /// From this attribute of their entry.
    Attribute(String),
    /// By a search under `base_dn` with `filter` (`{dn}`, `{login}`).
    Search {
        /// Subtree to search.
        base_dn: String,
        /// Filter.
        filter: String,
    },
}

/// A valid `[directory]`, the service password read: what [`crate::Directory`] runs with.
#[derive(Clone, PartialEq, Eq)]
pub struct DirectorySettings {
    /// The URL.
    pub url: String,
    /// StartTLS.
    pub starttls: bool,
    /// Bound on one sign-in.
    pub timeout: Duration,
    /// How the entry is found.
    pub user: UserLookup,
    /// Display name attribute.
    pub name_attribute: String,
    /// How groups are read.
    pub groups: GroupLookup,
    /// The mapping.
    pub mapping: Vec<GroupMapping>,
}

impl fmt::Debug for DirectorySettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The service password is not printed.
        let user = match &self.user {
            UserLookup::Template(t) => format!("Template({t:?})"),
            UserLookup::Search {
                base_dn,
                filter,
                bind,
            } => format!(
                "Search {{ base_dn: {base_dn:?}, filter: {filter:?}, bind: {:?} }}",
                bind.as_ref().map(|(dn, _)| dn)
            ),
        };
        f.debug_struct("DirectorySettings")
            .field("url", &self.url)
            .field("starttls", &self.starttls)
            .field("timeout", &self.timeout)
            .field("user", &user)
            .field("name_attribute", &self.name_attribute)
            .field("groups", &self.groups)
            .field("mapping", &self.mapping)
            .finish()
    }
}

impl DirectoryConfig {
    /// Every problem found; empty means valid (reachability is found at sign-in, the
    /// service password file when [`DirectoryConfig::settings`] reads it).
    #[must_use]
    pub fn validate(&self) -> Vec<ConfigProblem> {
        let mut problems = Vec::new();
        let mut problem = |field: &str, message: String| {
            problems.push(ConfigProblem {
                path: format!("directory.{field}"),
                message,
            });
        };
        let ldaps = self.url.starts_with("ldaps://");
        match self
            .url
            .strip_prefix("ldap://")
            .or_else(|| self.url.strip_prefix("ldaps://"))
        {
            None => problem(
                "url",
                format!(
                    "{:?} is not an ldap:// or ldaps:// URL (ldap://host:389, ldaps://host:636)",
                    self.url
                ),
            ),
            Some(rest) => {
                let host = rest.split('/').next().unwrap_or("");
                if host.is_empty() {
                    problem("url", format!("{:?} names no host", self.url));
                } else if let Some((_, port)) = host.rsplit_once(':')
                    && !host.ends_with(']')
                    && port.parse::<u16>().map_or(true, |p| p == 0)
                {
                    problem("url", format!("{port:?} is not a port (1 to 65535)"));
                }
            }
        }
        if ldaps && self.starttls {
            problem(
                "starttls",
                "StartTLS upgrades a plain ldap:// connection; an ldaps:// one is encrypted already"
                    .into(),
            );
        }
        if !(1..=60).contains(&self.timeout_s) {
            problem(
                "timeout_s",
                format!("{} is not between 1 and 60 seconds", self.timeout_s),
            );
        }
        match (&self.user_dn, &self.base_dn) {
            (Some(_), Some(_)) => problem(
                "user_dn",
                "give either user_dn (direct bind) or base_dn (search then bind), not both".into(),
            ),
            (None, None) => problem(
                "user_dn",
                "give user_dn (direct bind, e.g. \"uid={login},ou=people,dc=example,dc=org\") or base_dn (search then bind)".into(),
            ),
            (Some(template), None) => {
                if !template.contains("{login}") {
                    problem("user_dn", format!("{template:?} does not contain {{login}}"));
                } else if !template.contains('=') {
                    problem("user_dn", format!("{template:?} is not a DN"));
                }
                if self.bind_dn.is_some() {
                    problem(
                        "bind_dn",
                        "a service account searches for operators: it needs base_dn, not user_dn"
                            .into(),
                    );
                }
            }
            (None, Some(base)) => {
                if !base.contains('=') {
                    problem("base_dn", format!("{base:?} is not a DN"));
                }
                if !self.user_filter.contains("{login}") {
                    problem(
                        "user_filter",
                        format!("{:?} does not contain {{login}}", self.user_filter),
                    );
                } else if !is_parenthesised(&self.user_filter) {
                    problem(
                        "user_filter",
                        format!(
                            "{:?} is not a parenthesised LDAP filter (RFC 4515)",
                            self.user_filter
                        ),
                    );
                }
            }
        }
        match (
            &self.bind_dn,
            &self.bind_password_file,
            &self.bind_password_env,
        ) {
            (Some(dn), file, env) => {
                if !dn.contains('=') {
                    problem("bind_dn", format!("{dn:?} is not a DN"));
                }
                match (file, env) {
                    (Some(_), Some(_)) => problem(
                        "bind_password_file",
                        "give bind_password_file or bind_password_env, not both".into(),
                    ),
                    (None, None) => problem(
                        "bind_password_file",
                        "bind_dn needs its password: bind_password_file or bind_password_env"
                            .into(),
                    ),
                    (None, Some(name)) if name.is_empty() => {
                        problem("bind_password_env", "the variable's name is empty".into())
                    }
                    _ => {}
                }
            }
            (None, Some(_), _) => problem(
                "bind_password_file",
                "a service password without bind_dn".into(),
            ),
            (None, None, Some(_)) => problem(
                "bind_password_env",
                "a service password without bind_dn".into(),
            ),
            (None, None, None) => {}
        }
        if self.name_attribute.trim().is_empty() {
            problem("name_attribute", "empty".into());
        }
        match (&self.group_attribute, &self.group_base_dn) {
            (Some(_), Some(_)) => problem(
                "group_attribute",
                "give either group_attribute (e.g. memberOf) or group_base_dn (group search), not both"
                    .into(),
            ),
            (None, None) => problem(
                "group_attribute",
                "give group_attribute (e.g. memberOf) or group_base_dn (group search)".into(),
            ),
            (Some(attribute), None) if attribute.trim().is_empty() => {
                problem("group_attribute", "empty".into())
            }
            (Some(_), None) => {}
            (None, Some(base)) => {
                if !base.contains('=') {
                    problem("group_base_dn", format!("{base:?} is not a DN"));
                }
                if !self.group_filter.contains("{dn}") && !self.group_filter.contains("{login}") {
                    problem(
                        "group_filter",
                        format!(
                            "{:?} contains neither {{dn}} nor {{login}}",
                            self.group_filter
                        ),
                    );
                } else if !is_parenthesised(&self.group_filter) {
                    problem(
                        "group_filter",
                        format!(
                            "{:?} is not a parenthesised LDAP filter (RFC 4515)",
                            self.group_filter
                        ),
                    );
                }
            }
        }
        if self.groups.is_empty() {
            problem(
                "groups",
                "no [[directory.groups]]: nobody could sign in through the directory".into(),
            );
        }
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        for (i, group) in self.groups.iter().enumerate() {
            if !group.dn.contains('=') {
                problem(
                    &format!("groups[{i}].dn"),
                    format!("{:?} is not a DN", group.dn),
                );
            } else if let Some(first) = seen.insert(normalise_dn(&group.dn), i) {
                problem(
                    &format!("groups[{i}].dn"),
                    format!("{:?} is mapped already by groups[{first}]", group.dn),
                );
            }
            for name in group.queues.keys() {
                if name.trim().is_empty() {
                    problem(&format!("groups[{i}].queues"), "an empty queue name".into());
                }
            }
        }
        problems
    }

    /// The runtime settings, reading the service password; `Err` names the field.
    pub fn settings(&self) -> Result<DirectorySettings, ConfigProblem> {
        if let Some(first) = self.validate().into_iter().next() {
            return Err(first);
        }
        let user = match (&self.user_dn, &self.base_dn) {
            (Some(template), _) => UserLookup::Template(template.clone()),
            (None, Some(base_dn)) => UserLookup::Search {
                base_dn: base_dn.clone(),
                filter: self.user_filter.clone(),
                bind: match &self.bind_dn {
                    Some(dn) => Some((dn.clone(), self.bind_password()?)),
                    None => None,
                },
            },
            (None, None) => unreachable!("validated above"),
        };
        let groups = match (&self.group_attribute, &self.group_base_dn) {
            (Some(attribute), _) => GroupLookup::Attribute(attribute.clone()),
            (None, Some(base_dn)) => GroupLookup::Search {
                base_dn: base_dn.clone(),
                filter: self.group_filter.clone(),
            },
            (None, None) => unreachable!("validated above"),
        };
        Ok(DirectorySettings {
            url: self.url.clone(),
            starttls: self.starttls,
            timeout: Duration::from_secs(self.timeout_s),
            user,
            name_attribute: self.name_attribute.clone(),
            groups,
            mapping: self
                .groups
                .iter()
                .map(|g| GroupMapping::new(&g.dn, g.role, g.queues.clone()))
                .collect(),
        })
    }

    fn bind_password(&self) -> Result<String, ConfigProblem> {
        let refuse = |field: &str, message: String| ConfigProblem {
            path: format!("directory.{field}"),
            message,
        };
        let password = if let Some(path) = &self.bind_password_file {
            std::fs::read_to_string(path)
                .map_err(|e| {
                    refuse(
                        "bind_password_file",
                        format!("cannot read {}: {e}", path.display()),
                    )
                })?
                .trim_end_matches(['\r', '\n'])
                .to_string()
        } else if let Some(name) = &self.bind_password_env {
            std::env::var(name).map_err(|e| {
                refuse(
                    "bind_password_env",
                    format!("cannot read the variable {name}: {e}"),
                )
            })?
        } else {
            String::new()
        };
        if password.is_empty() {
            // An empty password makes a simple bind anonymous (RFC 4513 §5.1.2).
            let field = if self.bind_password_file.is_some() {
                "bind_password_file"
            } else {
                "bind_password_env"
            };
            return Err(refuse(field, "the service password is empty".into()));
        }
        Ok(password)
    }
}

fn is_parenthesised(filter: &str) -> bool {
    let f = filter.trim();
    f.starts_with('(')
        && f.ends_with(')')
        && f.chars().filter(|&c| c == '(').count() == f.chars().filter(|&c| c == ')').count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> DirectoryConfig {
        #[derive(Deserialize)]
        struct Envelope {
            directory: DirectoryConfig,
        }
        toml::from_str::<Envelope>(text).unwrap().directory
    }

    const DIRECT: &str = r#"
[directory]
url = "ldap://127.0.0.1:3389"
user_dn = "uid={login},ou=people,dc=example,dc=org"
group_base_dn = "ou=groups,dc=example,dc=org"
[[directory.groups]]
dn = "cn=sportello,ou=groups,dc=example,dc=org"
role = "agent_first_level"
queues = { cittadini = "write", imprese = "read" }
"#;

    fn paths(config: &DirectoryConfig) -> Vec<String> {
        config.validate().into_iter().map(|p| p.path).collect()
    }

    #[test]
    fn a_direct_bind_section_is_valid_and_gives_its_settings() {
        let config = parse(DIRECT);
        assert!(config.validate().is_empty(), "{:?}", config.validate());
        let settings = config.settings().unwrap();
        assert_eq!(
            settings.user,
            UserLookup::Template("uid={login},ou=people,dc=example,dc=org".into())
        );
        assert_eq!(settings.timeout, Duration::from_secs(5));
        assert!(matches!(settings.groups, GroupLookup::Search { .. }));
        assert_eq!(settings.mapping.len(), 1);
    }

    #[test]
    fn each_problem_names_its_field() {
        let mut config = parse(DIRECT);
        config.url = "http://x".into();
        config.timeout_s = 0;
        config.groups[0].dn = "sportello".into();
        assert_eq!(
            paths(&config),
            [
                "directory.url",
                "directory.timeout_s",
                "directory.groups[0].dn"
            ]
        );
        let mut config = parse(DIRECT);
        config.user_dn = Some("ou=people,dc=example,dc=org".into());
        config.url = "ldaps://h:99999".into();
        config.starttls = true;
        assert_eq!(
            paths(&config),
            ["directory.url", "directory.starttls", "directory.user_dn"]
        );
    }

    #[test]
    fn lookups_are_one_or_the_other() {
        let mut config = parse(DIRECT);
        config.base_dn = Some("dc=example,dc=org".into());
        config.group_attribute = Some("memberOf".into());
        assert_eq!(
            paths(&config),
            ["directory.user_dn", "directory.group_attribute"]
        );
        config.user_dn = None;
        config.group_base_dn = None;
        config.user_filter = "uid={login}".into();
        assert_eq!(paths(&config), ["directory.user_filter"]);
    }

    #[test]
    fn a_service_account_needs_exactly_one_password_source() {
        let mut config = parse(DIRECT);
        config.user_dn = None;
        config.base_dn = Some("ou=people,dc=example,dc=org".into());
        config.bind_dn = Some("cn=centralino,dc=example,dc=org".into());
        assert_eq!(paths(&config), ["directory.bind_password_file"]);
        config.bind_password_env = Some("CENTRALINO_TEST_UNSET_VARIABLE".into());
        assert!(paths(&config).is_empty());
        let err = config.settings().unwrap_err();
        assert_eq!(err.path, "directory.bind_password_env");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pw");
        std::fs::write(&file, "s3cret\n").unwrap();
        config.bind_password_env = None;
        config.bind_password_file = Some(file.clone());
        let settings = config.settings().unwrap();
        match &settings.user {
            UserLookup::Search { bind, .. } => {
                assert_eq!(bind.as_ref().unwrap().1, "s3cret")
            }
            other => panic!("{other:?}"),
        }
        assert!(!format!("{settings:?}").contains("s3cret"));
        std::fs::write(&file, "\n").unwrap();
        assert_eq!(
            config.settings().unwrap_err().path,
            "directory.bind_password_file"
        );
    }

    #[test]
    fn duplicate_group_dns_are_refused_whatever_their_case() {
        let mut config = parse(DIRECT);
        let mut twin = config.groups[0].clone();
        twin.dn = "CN=Sportello, OU=groups, DC=example, DC=org".into();
        config.groups.push(twin);
        let problems = config.validate();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].path, "directory.groups[1].dn");
        assert!(problems[0].message.contains("groups[0]"));
    }

    #[test]
    fn unknown_keys_and_roles_are_refused_by_the_parser() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Envelope {
            directory: DirectoryConfig,
        }
        let bad = DIRECT.replace("agent_first_level", "boss");
        assert!(toml::from_str::<Envelope>(&bad).is_err());
        let bad = DIRECT.replace("\"write\"", "\"admin\"");
        assert!(toml::from_str::<Envelope>(&bad).is_err());
        let bad = format!("{DIRECT}\n[directory.extra]\n");
        assert!(toml::from_str::<Envelope>(&bad).is_err());
    }
}
