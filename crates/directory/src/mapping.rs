//! The pure part of a directory sign-in: which credentials are worth sending, and what the
//! groups a directory returned give (role and queue permissions).

use std::collections::BTreeMap;

use serde::Deserialize;

/// What a mapped group gives in one queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueueAccess {
    /// See tickets.
    Read,
    /// See and change tickets.
    Write,
}

impl From<QueueAccess> for crm::Access {
    fn from(a: QueueAccess) -> Self {
        match a {
            QueueAccess::Read => crm::Access::Read,
            QueueAccess::Write => crm::Access::Write,
        }
    }
}

/// One row of the mapping table: members of `dn` get `role` and `queues`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMapping {
    /// The group's DN as configured.
    pub dn: String,
    /// Its DN normalised ([`normalise_dn`]), for comparison.
    key: String,
    /// The role it gives.
    pub role: crm::Role,
    /// Queue name → access.
    pub queues: BTreeMap<String, QueueAccess>,
}

impl GroupMapping {
    /// A row.
    pub fn new(dn: &str, role: crm::Role, queues: BTreeMap<String, QueueAccess>) -> Self {
        GroupMapping {
            dn: dn.to_string(),
            key: normalise_dn(dn),
            role,
            queues,
        }
    }
}

/// What a signed-in directory user gets: the highest role of their mapped groups and, per
/// queue, the widest access any of them gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// Role.
    pub role: crm::Role,
    /// Queue name → access.
    pub queues: BTreeMap<String, QueueAccess>,
    /// The mapped groups that gave it (configured DNs), for the audit log.
    pub groups: Vec<String>,
}

/// A DN for comparison: attribute names and values lower-cased, blanks around `,`, `=` and
/// `+` dropped (`CN=Sportello, OU=Groups` = `cn=sportello,ou=groups`). Attribute values in
/// directory groups' DNs (cn, ou, dc) compare case-insensitively (RFC 4519); escaped
/// separators (`\,`) are kept as they are.
pub fn normalise_dn(dn: &str) -> String {
    let mut out = String::with_capacity(dn.len());
    let mut chars = dn.trim().chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                out.push('\\');
                if let Some(next) = chars.next() {
                    out.extend(next.to_lowercase());
                }
            }
            ',' | '=' | '+' => {
                while out.ends_with(' ') && !out.ends_with("\\ ") {
                    out.pop();
                }
                out.push(c);
                while chars.peek() == Some(&' ') {
                    chars.next();
                }
            }
            c => out.extend(c.to_lowercase()),
        }
    }
    out
}

fn role_rank(role: crm::Role) -> u8 {
    match role {
        crm::Role::AgentFirstLevel => 0,
        crm::Role::AgentSecondLevel => 1,
        crm::Role::Supervisor => 2,
        crm::Role::Admin => 3,
    }
}

/// What the groups `member_of` (DNs as the directory returned them) give under `mapping`;
/// `None` when none of them is mapped: that user may not sign in.
pub fn decide(member_of: &[String], mapping: &[GroupMapping]) -> Option<Grant> {
    let keys: Vec<String> = member_of.iter().map(|dn| normalise_dn(dn)).collect();
    let mut grant: Option<Grant> = None;
    for row in mapping.iter().filter(|row| keys.contains(&row.key)) {
        let g = grant.get_or_insert_with(|| Grant {
            role: row.role,
            queues: BTreeMap::new(),
            groups: Vec::new(),
        });
        if role_rank(row.role) > role_rank(g.role) {
            g.role = row.role;
        }
        for (queue, &access) in &row.queues {
            let entry = g.queues.entry(queue.clone()).or_insert(access);
            *entry = (*entry).max(access);
        }
        g.groups.push(row.dn.clone());
    }
    grant
}

/// Why credentials are not sent to the directory at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unsendable {
    /// An empty password: a simple bind with a DN and no password is an unauthenticated
    /// bind, which many servers accept (RFC 4513 §5.1.2). Never a sign-in.
    EmptyPassword,
    /// An empty login, one longer than 256 bytes, or one with control characters.
    BadLogin,
}

/// Whether `login` and `password` may be sent to the directory.
pub fn sendable(login: &str, password: &str) -> Result<(), Unsendable> {
    if login.trim().is_empty() || login.len() > 256 || login.chars().any(char::is_control) {
        return Err(Unsendable::BadLogin);
    }
    if password.is_empty() {
        return Err(Unsendable::EmptyPassword);
    }
    Ok(())
}

/// `template` with each `{name}` of `values` replaced in one pass (a value that itself
/// contains `{login}` or `{dn}` is not replaced again); unknown `{…}` are kept.
pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    'scan: while let Some(at) = rest.find('{') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        for (name, value) in values {
            if let Some(after) = rest
                .strip_prefix('{')
                .and_then(|r| r.strip_prefix(*name))
                .and_then(|r| r.strip_prefix('}'))
            {
                out.push_str(value);
                rest = after;
                continue 'scan;
            }
        }
        out.push('{');
        rest = &rest[1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crm::Role;

    fn row(dn: &str, role: Role, queues: &[(&str, QueueAccess)]) -> GroupMapping {
        GroupMapping::new(
            dn,
            role,
            queues.iter().map(|(q, a)| (q.to_string(), *a)).collect(),
        )
    }

    fn mapping() -> Vec<GroupMapping> {
        use QueueAccess::*;
        vec![
            row(
                "cn=sportello,ou=groups,dc=example,dc=org",
                Role::AgentFirstLevel,
                &[("cittadini", Write), ("imprese", Read)],
            ),
            row(
                "cn=backoffice,ou=groups,dc=example,dc=org",
                Role::AgentSecondLevel,
                &[("imprese", Write), ("secondo-livello", Write)],
            ),
            row("cn=capi,ou=groups,dc=example,dc=org", Role::Supervisor, &[]),
        ]
    }

    #[test]
    fn dns_compare_without_case_or_blanks() {
        assert_eq!(
            normalise_dn(" CN=Sportello , OU=Groups,DC=Example, DC=org "),
            "cn=sportello,ou=groups,dc=example,dc=org"
        );
        assert_eq!(
            normalise_dn(r"cn=Rossi\, Anna,dc=x"),
            r"cn=rossi\, anna,dc=x"
        );
    }

    #[test]
    fn no_mapped_group_means_no_sign_in() {
        assert_eq!(decide(&[], &mapping()), None);
        let other = vec!["cn=staff,ou=groups,dc=example,dc=org".to_string()];
        assert_eq!(decide(&other, &mapping()), None);
    }

    #[test]
    fn one_group_gives_its_role_and_queues() {
        let g = decide(
            &["CN=Sportello,OU=Groups,DC=example,DC=org".to_string()],
            &mapping(),
        )
        .unwrap();
        assert_eq!(g.role, Role::AgentFirstLevel);
        assert_eq!(g.queues["cittadini"], QueueAccess::Write);
        assert_eq!(g.queues["imprese"], QueueAccess::Read);
        assert_eq!(g.groups, ["cn=sportello,ou=groups,dc=example,dc=org"]);
    }

    #[test]
    fn several_groups_give_the_highest_role_and_the_widest_access() {
        let member_of = [
            "cn=staff,ou=groups,dc=example,dc=org",
            "cn=backoffice,ou=groups,dc=example,dc=org",
            "cn=sportello,ou=groups,dc=example,dc=org",
        ]
        .map(String::from);
        let g = decide(&member_of, &mapping()).unwrap();
        assert_eq!(g.role, Role::AgentSecondLevel);
        assert_eq!(g.queues["imprese"], QueueAccess::Write, "write beats read");
        assert_eq!(g.queues["cittadini"], QueueAccess::Write);
        assert_eq!(g.queues.len(), 3);
        assert_eq!(g.groups.len(), 2);
        let with_capi = [
            &member_of[..],
            &["cn=capi,ou=groups,dc=example,dc=org".into()],
        ]
        .concat();
        assert_eq!(
            decide(&with_capi, &mapping()).unwrap().role,
            Role::Supervisor
        );
    }

    #[test]
    fn placeholders_are_filled_once() {
        let f = fill(
            "(|(member={dn})(memberUid={login}){other})",
            &[("dn", "uid={login},dc=x"), ("login", "anna")],
        );
        assert_eq!(f, "(|(member=uid={login},dc=x)(memberUid=anna){other})");
        assert_eq!(fill("{", &[("a", "b")]), "{");
        assert_eq!(fill("é{a}", &[("a", "b")]), "éb");
    }

    #[test]
    fn empty_passwords_and_odd_logins_are_never_sent() {
        assert_eq!(sendable("anna", ""), Err(Unsendable::EmptyPassword));
        assert_eq!(sendable("", "pw"), Err(Unsendable::BadLogin));
        assert_eq!(sendable("an\u{0}na", "pw"), Err(Unsendable::BadLogin));
        assert_eq!(sendable(&"a".repeat(257), "pw"), Err(Unsendable::BadLogin));
        assert_eq!(sendable("anna.rossi", "pw"), Ok(()));
    }
}
