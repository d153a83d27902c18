//! People and queues come from the database (`crm::site`); this module applies them to the
//! running service: the ACD's queues and agents, the registrar's digest credentials and the
//! switchboard's static phones. It applies them at start, whenever the site revision moves
//! (an administrator's change through the API, the admin pages or the command line, in this
//! process or another one) and at a configuration reload.
//!
//! The file's `[[acd.queues]]`, `[[acd.agents]]` and `[[phones]]` are provisioning: at start
//! (and reload) what they name and the database lacks is created there; what the database
//! already has is never overwritten, so the administrators' changes stand (a `[[phones]]`
//! entry turns a registering phone into that fixed address; a static one stays).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use crm::{Actor, Membership, PhoneKind, QueueSettings, Site, Store};
use events::{Event, EventBus};
use sip_gateway::gateway::Gateway;
use switchboard::{AcdHandle, PhoneBook};
use tracing::{error, info, warn};

use crate::config::Config;

/// How often the revision is read, for changes made by another process (the command line).
pub const WATCH_EVERY: Duration = Duration::from_secs(2);

/// Creates in the database the queues, memberships and static phones the file lists and the
/// database lacks. Returns what it did, one line each.
pub async fn provision(store: &Store, config: &Config) -> anyhow::Result<Vec<String>> {
    let mut done = Vec::new();
    let now = Utc::now();
    // Queues first (an overflow may name a later one: create them all, then set overflows).
    let existing = store.site_queues().await?;
    let mut adopted = Vec::new();
    for q in &config.acd.queues {
        let settings = QueueSettings {
            takes_calls: true,
            weight: q.weight,
            announce_every_s: q.announce_every_s,
            max_wait_s: None,
            overflow: None,
            expected_wait_s: q.default_expected_wait_s,
            service_level_s: q.service_level_s,
            transfers_at_head: q.transfers_at_head,
        };
        match existing.iter().find(|e| e.queue.name == q.name) {
            None => {
                store
                    .create_site_queue(&q.name, false, &settings, Actor::System, now)
                    .await
                    .with_context(|| format!("cannot create queue {}", q.name))?;
                done.push(format!("queue {} created from the file", q.name));
                adopted.push(q);
            }
            // A CRM queue that took no calls yet (the demo's, or one made before queues
            // carried their settings) takes the file's settings once.
            Some(e) if !e.settings.takes_calls => {
                store
                    .update_site_queue(&q.name, e.queue.second_level, &settings, Actor::System, now)
                    .await
                    .with_context(|| format!("cannot set up queue {}", q.name))?;
                done.push(format!("queue {} takes calls, as the file says", q.name));
                adopted.push(q);
            }
            Some(_) => {}
        }
    }
    for q in adopted.into_iter().filter(|q| q.max_wait_s.is_some()) {
        let current = store.site_queue(&q.name).await?;
        let settings = QueueSettings {
            max_wait_s: q.max_wait_s,
            overflow: q.overflow.clone(),
            ..current.settings
        };
        store
            .update_site_queue(
                &q.name,
                current.queue.second_level,
                &settings,
                Actor::System,
                now,
            )
            .await
            .with_context(|| format!("cannot set the overflow of queue {}", q.name))?;
    }
    for agent in &config.acd.agents {
        let Some(user) = store.site_user(&agent.login).await.ok() else {
            warn!(
                login = %agent.login,
                "[[acd.agents]]: no such user in the database; create it (centralino user add) \
                 and it will serve its queues"
            );
            continue;
        };
        if user.memberships.is_empty() {
            let memberships: Vec<Membership> = agent
                .queues
                .iter()
                .enumerate()
                .map(|(i, queue)| Membership {
                    queue: queue.clone(),
                    weight: agent.weights.get(i).copied().unwrap_or(1),
                })
                .collect();
            store
                .set_memberships(&agent.login, &memberships, Actor::System, now)
                .await
                .with_context(|| format!("cannot set the queues of {}", agent.login))?;
            done.push(format!(
                "agent {} serves {} as the file says",
                agent.login,
                agent.queues.join(", ")
            ));
        }
    }
    for phone in &config.phones {
        match store.site_user(&phone.login).await {
            // A registering phone (the demo's, say) becomes the file's fixed address; a
            // static one the administrators set stays.
            Ok(user)
                if !matches!(
                    user.phone.as_ref().map(|p| &p.kind),
                    Some(PhoneKind::Static { .. })
                ) =>
            {
                let kind = PhoneKind::Static {
                    contact: phone.contact.clone(),
                };
                store
                    .set_phone(&phone.login, Some(&kind), Actor::System, now)
                    .await
                    .with_context(|| format!("cannot set the phone of {}", phone.login))?;
                done.push(format!("phone of {} at {}", phone.login, phone.contact));
            }
            Ok(_) => {}
            Err(_) => warn!(login = %phone.login, "[[phones]]: no such user in the database"),
        }
    }
    Ok(done)
}

/// The ACD's configuration: the database's queues and agents, the file's timers.
pub fn acd_config(site: &Site, ring_timeout_s: u64, wrap_up_s: u64) -> acd::AcdConfig {
    acd::AcdConfig {
        queues: site
            .queues
            .iter()
            .map(|q| acd::QueueConfig {
                name: q.queue.name.clone(),
                weight: q.settings.weight,
                announce_every_s: q.settings.announce_every_s,
                max_wait_s: q.settings.max_wait_s,
                overflow: q.settings.overflow.clone(),
                default_expected_wait_s: q.settings.expected_wait_s,
                service_level_s: q.settings.service_level_s,
                transfers_at_head: q.settings.transfers_at_head,
            })
            .collect(),
        agents: site
            .agents
            .iter()
            .map(|a| acd::AgentConfig {
                login: a.user.login.clone(),
                queues: a.memberships.iter().map(|m| m.queue.clone()).collect(),
                weights: a.memberships.iter().map(|m| m.weight).collect(),
                static_contact: matches!(
                    a.phone.as_ref().map(|p| &p.kind),
                    Some(PhoneKind::Static { .. })
                ),
            })
            .collect(),
        ring_timeout_s,
        wrap_up_s,
        // Read by the ACD's driver at start ([acd.blend]); the engine does not use it.
        blend: acd::BlendSection::default(),
    }
}

/// The agents' phones at fixed addresses.
pub fn static_phones(site: &Site) -> HashMap<String, switchboard::StaticPhone> {
    site.agents
        .iter()
        .filter_map(|a| match &a.phone.as_ref()?.kind {
            PhoneKind::Static { contact } => {
                let phone = switchboard::config::static_phone(contact);
                if phone.is_none() {
                    warn!(login = %a.user.login, %contact, "unusable static contact");
                }
                Some((a.user.login.clone(), phone?))
            }
            PhoneKind::Registering => None,
        })
        .collect()
}

/// The registrar's user table: every active user's phone secret for the realm in force.
pub async fn credentials(store: &Store) -> anyhow::Result<sip_gateway::auth::Credentials> {
    let mut credentials = sip_gateway::auth::Credentials::default();
    for c in store
        .sip_credentials()
        .await
        .context("cannot read the phones' SIP credentials")?
    {
        credentials.insert(
            c.login,
            sip_gateway::auth::UserHa1 {
                ha1_md5: c.ha1_md5,
                ha1_sha256: c.ha1_sha256,
            },
        );
    }
    Ok(credentials)
}

/// The queue names the IVR `ivr` routes to that take no calls in `site`.
pub fn missing_routes(ivr: &ivr::IvrConfig, site: &Site) -> Vec<String> {
    let mut missing: Vec<String> = ivr
        .nodes
        .values()
        .filter_map(|node| match node {
            ivr::NodeConfig::Route(route)
                if !site.queues.iter().any(|q| q.queue.name == route.queue) =>
            {
                Some(route.queue.clone())
            }
            _ => None,
        })
        .collect();
    missing.sort();
    missing.dedup();
    missing
}

/// Applies the database's people and queues to the running service.
pub struct SiteApplier {
    store: Store,
    acd: AcdHandle,
    gateway: Gateway,
    phones: PhoneBook,
    /// The file's `[acd]` timers: ring time-out and wrap-up, in seconds.
    timers: Mutex<(u64, u64)>,
    /// The revision last applied.
    applied: Mutex<Option<i64>>,
}

impl SiteApplier {
    pub fn new(
        store: Store,
        acd: AcdHandle,
        gateway: Gateway,
        phones: PhoneBook,
        config: &Config,
    ) -> Self {
        SiteApplier {
            store,
            acd,
            gateway,
            phones,
            timers: Mutex::new((config.acd.ring_timeout_s, config.acd.wrap_up_s)),
            applied: Mutex::new(None),
        }
    }

    /// Takes a reloaded file's timers (applied with the next [`SiteApplier::apply`]).
    pub fn set_timers(&self, config: &Config) {
        *self.timers.lock().unwrap_or_else(|e| e.into_inner()) =
            (config.acd.ring_timeout_s, config.acd.wrap_up_s);
    }

    /// Reads the site and applies it: the ACD's queues and agents (calls waiting or talking
    /// go on), the registrar's credentials, the static phones. A site the ACD finds invalid
    /// (it cannot be, from the administration's checks, but a hand-edited database could) is
    /// not applied: the service keeps the last one and the problems are returned.
    pub async fn apply(&self) -> anyhow::Result<i64> {
        let site = self.store.site().await.context("cannot read the site")?;
        let (ring, wrap) = *self.timers.lock().unwrap_or_else(|e| e.into_inner());
        let acd = acd_config(&site, ring, wrap);
        let problems = acd.validate();
        if !problems.is_empty() {
            let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
            anyhow::bail!("the site's queues are not valid:\n{}", text.join("\n"));
        }
        let (queues, agents) = (acd.queues.len(), acd.agents.len());
        self.acd.input(acd::Input::Reconfigure(acd));
        if !self
            .gateway
            .set_credentials(credentials(&self.store).await?)
            .await
        {
            warn!("the SIP gateway has stopped: phones' credentials not replaced");
        }
        self.phones.replace(static_phones(&site));
        *self.applied.lock().unwrap_or_else(|e| e.into_inner()) = Some(site.revision);
        info!(
            revision = site.revision,
            queues, agents, "people and queues applied"
        );
        Ok(site.revision)
    }

    /// Applies again when the revision has moved since the last time.
    async fn apply_if_changed(&self) {
        let revision = match self.store.site_revision().await {
            Ok(r) => r,
            // The database is away: the service keeps what it has.
            Err(_) => return,
        };
        let applied = *self.applied.lock().unwrap_or_else(|e| e.into_inner());
        if applied != Some(revision)
            && let Err(e) = self.apply().await
        {
            error!("site not applied: {e:#}");
        }
    }

    /// Watches for changes: at once on a `site.changed` event of this process, and every
    /// [`WATCH_EVERY`] for those of others.
    pub fn spawn_watch(self: std::sync::Arc<Self>, bus: &EventBus) {
        let mut events = bus.subscribe();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(WATCH_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    event = events.recv() => match event {
                        Ok(Event::SiteChanged { .. })
                        | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                        Ok(_) => continue,
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                    },
                    _ = tick.tick() => {}
                }
                self.apply_if_changed().await;
            }
        });
    }
}
