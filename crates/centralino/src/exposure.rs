//! The demo's accounts have published passwords (CONTRACT.md, "The demo"): `serve` never
//! offers them on an address other hosts can reach unless the operator says so with
//! `--force-demo`, and then it says so in the log at every start.
//!
//! Two checks: the configuration (`database.demo_data = true` with a non-loopback
//! `http.listen` or `sip.listen`), before anything is opened; and the database (demo
//! operators whose demo password still works, left from an earlier demo run), once it is.

use std::net::SocketAddr;

use tracing::warn;

use crate::config::Config;
use crate::maintenance::Refused;

/// The listening addresses other hosts can reach, with their setting's name.
fn public_listeners(config: &Config) -> Vec<(&'static str, SocketAddr)> {
    [
        ("http.listen", config.http.listen),
        ("sip.listen", config.sip.listen),
    ]
    .into_iter()
    .filter(|(_, addr)| !addr.ip().is_loopback())
    .collect()
}

fn describe(listeners: &[(&'static str, SocketAddr)]) -> String {
    listeners
        .iter()
        .map(|(name, addr)| {
            format!(
                "{addr} ({name} or --{})",
                name.replace(".listen", "-listen")
            )
        })
        .collect::<Vec<_>>()
        .join(" and ")
}

/// Refuses the demo data on a non-loopback address (a warning instead with `force`).
pub fn refuse_public_demo(config: &Config, force: bool) -> anyhow::Result<()> {
    let public = public_listeners(config);
    if !config.database.demo_data || public.is_empty() {
        return Ok(());
    }
    let listeners = describe(&public);
    if force {
        warn!(
            "--force-demo: the demo accounts, whose passwords are published, are served on \
             {listeners}; anyone who reaches it can sign in as admin"
        );
        return Ok(());
    }
    Err(Refused(format!(
        "refusing to serve the demo accounts (database.demo_data = true; their passwords are \
         published) on {listeners}, which is not a loopback address. For a real site use a \
         configuration with database.demo_data = false (README, \"Going live\"); to expose \
         the demo anyway, pass --force-demo"
    ))
    .into())
}

/// Refuses a database that still holds demo operators with their demo passwords when
/// serving on a non-loopback address (a warning instead with `force`). Checked only then:
/// each check is a password verification.
pub async fn refuse_demo_accounts(
    config: &Config,
    store: &crm::Store,
    force: bool,
) -> anyhow::Result<()> {
    let public = public_listeners(config);
    if public.is_empty() || config.database.demo_data {
        // Loopback only, or already decided by `refuse_public_demo`.
        return Ok(());
    }
    let mut found = Vec::new();
    for user in crm_fixtures::demo::DEMO_USERS {
        if store
            .authenticate(user.login, user.password)
            .await?
            .is_some()
        {
            found.push(user.login);
        }
    }
    if found.is_empty() {
        return Ok(());
    }
    let listeners = describe(&public);
    if force {
        warn!(
            accounts = %found.join(", "),
            "--force-demo: demo accounts with their published passwords are served on {listeners}"
        );
        return Ok(());
    }
    Err(Refused(format!(
        "refusing to serve on {listeners}: the database still has demo accounts with their \
         published passwords ({}). Change their passwords or disable them, or pass \
         --force-demo",
        found.join(", ")
    ))
    .into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_is_refused_on_any_address_but_loopback() {
        let mut config = Config::demo();
        assert!(refuse_public_demo(&config, false).is_ok(), "loopback");
        config.http.listen = "0.0.0.0:8080".parse().unwrap();
        let error = refuse_public_demo(&config, false).unwrap_err();
        let text = error.to_string();
        assert!(error.is::<Refused>());
        assert!(text.contains("database.demo_data"), "{text}");
        assert!(text.contains("--force-demo"), "{text}");
        assert!(
            text.contains("0.0.0.0:8080 (http.listen or --http-listen)"),
            "{text}"
        );
        assert!(refuse_public_demo(&config, true).is_ok());
        config.http.listen = "[::1]:8080".parse().unwrap();
        config.sip.listen = "192.0.2.10:5060".parse().unwrap();
        let text = refuse_public_demo(&config, false).unwrap_err().to_string();
        assert!(text.contains("sip.listen"), "{text}");
        config.database.demo_data = false;
        assert!(refuse_public_demo(&config, false).is_ok(), "no demo data");
    }
}
