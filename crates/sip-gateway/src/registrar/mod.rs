//! # The registrar for agents' phones (RFC 3261 §10.3), with digest authentication
//!
//! Agents' phones REGISTER to us; the registrar authenticates them ([`crate::auth`]), keeps
//! their bindings (user → contacts), and tells the switchboard who is reachable, and where.
//!
//! ## Run loop
//! Sans-IO, time injected, like the rest of the crate:
//!
//! ```text
//!   REGISTER (from the transaction layer) ──► handle_register(&request, &source, now) → Response
//!   the deadline from poll_timeout passed ──► handle_timeout(now)      (bindings expire)
//!   after each of those                   ──► while let Some(e) = poll_event() { … }
//! ```
//!
//! The one invariant: call [`Registrar::handle_timeout`] no later than
//! [`Registrar::poll_timeout`], and `now` never goes backwards. [`Registrar::bindings`] filters
//! by `now` too, so a late timer never hands out an expired contact.
//!
//! ## What a REGISTER gets
//! - `403` while the user it claims, at its source address, is in a failed-authentication
//!   cool-down (`max_failures` failures for one user from one address within `failure_window`
//!   start a `lockout`), or while the source address itself is (`max_address_failures`
//!   failures from one address, for any users, within `failure_window`). Other users behind
//!   the same address (an office NAT) are not affected by one phone's wrong password;
//! - `401` with a SHA-256 and an MD5 challenge when it has no (or a wrong) `Authorization`;
//!   `stale=true` when only the nonce was old (RFC 7616 §3.3);
//! - `403` when the authenticated user is not the user of To (§10.3 step 4), or the request
//!   asks for more than `max_contacts_per_user` contacts;
//! - `400` for a `*` Contact that is not alone or not with `Expires: 0` (§10.3 step 6), or a
//!   Contact that is not a SIP URI;
//! - `423` with `Min-Expires` for a non-zero expiry under `min_expires` (§10.3 step 7);
//!   expiries over `max_expires` are shortened to it;
//! - `500` when the Call-ID is the one of an existing binding and the CSeq is not higher
//!   (§10.3 step 7): a reordered or replayed request;
//! - otherwise `200` listing every current binding with its remaining `expires` (§10.3
//!   step 8). Updates are all-or-nothing. When a user would exceed `max_contacts_per_user`,
//!   the bindings refreshed longest ago make room.

mod challenge;
mod contact;
mod limit;

#[cfg(test)]
mod tests;

pub use contact::Binding;

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::fmt;
use std::time::{Duration, Instant};

use rsip::Header;
use rsip::headers::UntypedHeader;
use rsip::prelude::HeadersExt;
use tracing::{debug, info, warn};

use crate::auth::{Algorithm, AuthFailure, Credentials, DigestAuth, parse_digest};
use crate::message::SipMessageExt;
use crate::rng::SipRng;
use crate::transaction::Peer;
use crate::ua::build::{random_token, set_body};
use challenge::ChallengeLimiter;
use contact::{ContactSpec, aor_user, contact_key, parse_contact, parse_delta, secs};
use limit::{FailureLimiter, UserAtAddress, user_at};

/// Runs the registrar's Contact and To readers on one header value: for the fuzz targets
/// (`fuzz/fuzz_targets/sip_headers.rs`), not an API.
#[doc(hidden)]
pub fn fuzz_contact_value(value: &str) {
    if let Some(ContactSpec::Uri { uri, .. }) = parse_contact(value) {
        let _ = contact_key(&uri);
    }
    let _ = aor_user(value);
}

/// Settings of the registrar.
#[derive(Clone)]
pub struct RegistrarConfig {
    /// The digest realm phones authenticate in.
    pub realm: String,
    /// How long a nonce may be used; after that a right answer gets `stale=true`.
    pub nonce_ttl: Duration,
    /// Digest algorithms challenged with, most preferred first (RFC 8760 §2.4), and the only
    /// ones accepted. Default SHA-256 then MD5; `[Md5]` for phones that read only the first
    /// challenge and know only MD5.
    pub algorithms: Vec<Algorithm>,
    /// Shortest non-zero registration we accept (423 below it); RFC 3261 §10.3 suggests 60 s.
    pub min_expires: u32,
    /// Longest registration we grant; longer requests are shortened.
    pub max_expires: u32,
    /// Expiry when the request names none (RFC 3261 §10.3 step 7 lets the registrar choose).
    pub default_expires: u32,
    pub max_contacts_per_user: usize,
    /// Failed authentications for one user from one source IP, within `failure_window`, that
    /// start a `lockout` during which that user's REGISTERs from that IP get 403.
    pub max_failures: u32,
    /// Failed authentications from one source IP for any users, within `failure_window`, that
    /// start a `lockout` of the whole address (a scanner trying many users). Higher than
    /// `max_failures`, so that one misconfigured phone does not lock out its office.
    pub max_address_failures: u32,
    pub failure_window: Duration,
    pub lockout: Duration,
    /// Challenges (401s, and 403s of a cool-down) per second per source address for
    /// REGISTERs that carry no valid credentials; above it, and beyond `challenge_burst`,
    /// they are dropped unanswered and counted ([`RegistrarStats::challenges_dropped`]).
    pub challenge_rate: u32,
    /// Challenges one address may get at once (a whole office's phones refreshing together).
    pub challenge_burst: u32,
    /// The key nonces are signed with; random when `None` (nonces then turn stale on restart,
    /// which phones absorb with one more round trip).
    pub nonce_secret: Option<Vec<u8>>,
}

impl Default for RegistrarConfig {
    fn default() -> Self {
        RegistrarConfig {
            realm: "centralino".into(),
            nonce_ttl: Duration::from_secs(300),
            algorithms: vec![Algorithm::Sha256, Algorithm::Md5],
            min_expires: 60,
            max_expires: 3600,
            default_expires: 3600,
            max_contacts_per_user: 5,
            max_failures: 5,
            max_address_failures: 50,
            failure_window: Duration::from_secs(60),
            lockout: Duration::from_secs(300),
            challenge_rate: 10,
            challenge_burst: 100,
            nonce_secret: None,
        }
    }
}

impl fmt::Debug for RegistrarConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistrarConfig")
            .field("realm", &self.realm)
            .field("nonce_ttl", &self.nonce_ttl)
            .field("algorithms", &self.algorithms)
            .field("min_expires", &self.min_expires)
            .field("max_expires", &self.max_expires)
            .field("default_expires", &self.default_expires)
            .field("max_contacts_per_user", &self.max_contacts_per_user)
            .field("max_failures", &self.max_failures)
            .field("max_address_failures", &self.max_address_failures)
            .field("failure_window", &self.failure_window)
            .field("lockout", &self.lockout)
            .field("challenge_rate", &self.challenge_rate)
            .field("challenge_burst", &self.challenge_burst)
            .finish_non_exhaustive()
    }
}

/// A user's reachability changed: a contact was added or removed, or expired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationEvent {
    pub user: String,
    /// Whether any binding is left.
    pub registered: bool,
    /// The user's bindings after the change.
    pub bindings: Vec<Binding>,
}

/// Counters of the registrar.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegistrarStats {
    pub registers: u64,
    /// 401s sent without a failure (first contact, stale nonce).
    pub challenges: u64,
    /// Authentications that failed (wrong password, unknown user, replay, …).
    pub auth_failures: u64,
    /// REGISTERs refused because their user at their source, or their source, was in a
    /// cool-down.
    pub rate_limited: u64,
    /// Source addresses in a cool-down now (every user refused from them).
    pub blocked_sources: usize,
    /// (user, source address) pairs in a cool-down now.
    pub blocked_users: usize,
    /// REGISTERs without valid credentials dropped unanswered: their source was over
    /// `challenge_rate` (a REGISTER flood).
    pub challenges_dropped: u64,
    /// Source addresses whose challenge rate is being tracked now (bounded).
    pub challenge_sources: usize,
    /// Current bindings and users with at least one.
    pub bindings: usize,
    pub registered_users: usize,
}

#[derive(Debug, Clone)]
struct Stored {
    key: String,
    binding: Binding,
    call_id: String,
    cseq: u32,
}

/// The registrar: authentication, bindings, their expiry. See the module documentation.
pub struct Registrar {
    config: RegistrarConfig,
    credentials: Credentials,
    auth: DigestAuth,
    /// Failures per (claimed user, source address).
    user_limiter: FailureLimiter<UserAtAddress>,
    /// Failures per source address, whatever the user.
    address_limiter: FailureLimiter<std::net::IpAddr>,
    /// Challenges per source address (REGISTER floods).
    challenge_limiter: ChallengeLimiter,
    users: HashMap<String, Vec<Stored>>,
    /// (expiry, user, key) of every binding: the next deadline is the first.
    expiries: BTreeSet<(Instant, String, String)>,
    events: VecDeque<RegistrationEvent>,
    stats: RegistrarStats,
    /// The To tags of our responses; the nonces have their own stream, in `auth`.
    rng: SipRng,
}

/// What one Contact of the request does, once validated.
struct Change {
    key: String,
    uri: String,
    expires: u64,
}

impl Registrar {
    /// A registrar drawing its random values (tags, nonces, the nonce secret when
    /// `config.nonce_secret` is `None`) from the operating system's entropy.
    #[must_use]
    pub fn new(config: RegistrarConfig, credentials: Credentials) -> Registrar {
        Registrar::with_rng(config, credentials, SipRng::from_entropy())
    }

    /// A registrar drawing every random value from `rng`: seeded, the same REGISTERs get the
    /// same responses, byte for byte.
    #[must_use]
    pub fn with_rng(
        config: RegistrarConfig,
        credentials: Credentials,
        mut rng: SipRng,
    ) -> Registrar {
        let secret = config.nonce_secret.clone().unwrap_or_else(|| {
            let mut secret = vec![0u8; 32];
            rng.fill_bytes(&mut secret);
            secret
        });
        Registrar {
            auth: DigestAuth::new(config.realm.clone(), config.nonce_ttl, &secret)
                .with_algorithms(&config.algorithms)
                .with_rng(rng.fork()),
            rng,
            user_limiter: FailureLimiter::new(
                config.max_failures,
                config.failure_window,
                config.lockout,
            ),
            address_limiter: FailureLimiter::new(
                config.max_address_failures,
                config.failure_window,
                config.lockout,
            ),
            challenge_limiter: ChallengeLimiter::new(config.challenge_rate, config.challenge_burst),
            config,
            credentials,
            users: HashMap::new(),
            expiries: BTreeSet::new(),
            events: VecDeque::new(),
            stats: RegistrarStats::default(),
        }
    }

    #[must_use]
    pub fn config(&self) -> &RegistrarConfig {
        &self.config
    }

    /// Replaces who may register (e.g. after a configuration reload). Existing bindings stay
    /// until they expire; their next refresh is checked against the new credentials.
    pub fn set_credentials(&mut self, credentials: Credentials) {
        self.credentials = credentials;
    }

    #[must_use]
    pub fn stats(&self, now: Instant) -> RegistrarStats {
        RegistrarStats {
            blocked_sources: self.address_limiter.blocked(now),
            blocked_users: self.user_limiter.blocked(now),
            challenge_sources: self.challenge_limiter.len(),
            bindings: self.expiries.len(),
            registered_users: self.users.len(),
            ..self.stats.clone()
        }
    }

    /// Failed authentications so far (also in [`Registrar::stats`]).
    #[must_use]
    pub fn auth_failures(&self) -> u64 {
        self.stats.auth_failures
    }

    /// The user's live bindings at `now`, the one expiring last (refreshed most recently)
    /// last.
    #[must_use]
    pub fn bindings(&self, user: &str, now: Instant) -> Vec<Binding> {
        let mut bindings: Vec<Binding> = self
            .users
            .get(user)
            .into_iter()
            .flatten()
            .filter(|s| s.binding.expires_at > now)
            .map(|s| s.binding.clone())
            .collect();
        bindings.sort_by_key(|b| b.expires_at);
        bindings
    }

    /// Users with at least one live binding at `now`, sorted.
    #[must_use]
    pub fn registered_users(&self, now: Instant) -> Vec<String> {
        let mut users: Vec<String> = self
            .users
            .iter()
            .filter(|(_, b)| b.iter().any(|s| s.binding.expires_at > now))
            .map(|(u, _)| u.clone())
            .collect();
        users.sort();
        users
    }

    /// The live binding whose Contact is `uri`, if any: how a call to a registered contact
    /// finds the address the phone registered from.
    #[must_use]
    pub fn binding_for_contact(&self, uri: &str, now: Instant) -> Option<Binding> {
        let key = contact_key(uri);
        self.users
            .values()
            .flatten()
            .find(|s| s.key == key && s.binding.expires_at > now)
            .map(|s| s.binding.clone())
    }

    /// The next instant a binding expires.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.expiries.first().map(|(at, _, _)| *at)
    }

    /// Removes the bindings expired at `now` (one event per user affected) and forgets
    /// expired nonces and finished cool-downs.
    pub fn handle_timeout(&mut self, now: Instant) {
        let mut touched = Vec::new();
        while let Some((at, user, key)) = self.expiries.first().cloned() {
            if at > now {
                break;
            }
            self.expiries.pop_first();
            if let Some(list) = self.users.get_mut(&user) {
                list.retain(|s| s.key != key);
                info!(%user, contact = %key, "registration expired");
            }
            if !touched.contains(&user) {
                touched.push(user);
            }
        }
        for user in touched {
            self.changed(&user);
        }
        self.auth.handle_timeout(now);
        self.user_limiter.handle_timeout(now);
        self.address_limiter.handle_timeout(now);
        self.challenge_limiter.sweep(now);
    }

    /// The flow `peer` is gone (a WebSocket closed): every binding registered over it is
    /// removed at once, one event per user affected, since nothing sent to it could arrive
    /// any more and nothing can reopen it (RFC 7118 §5, RFC 5626 §5.2). Returns how many
    /// bindings went.
    pub fn handle_flow_closed(&mut self, peer: &Peer) -> usize {
        let mut gone: Vec<(String, String)> = Vec::new();
        for (user, list) in &self.users {
            for stored in list.iter().filter(|s| s.binding.peer() == *peer) {
                gone.push((user.clone(), stored.key.clone()));
            }
        }
        let mut touched: Vec<String> = Vec::new();
        for (user, key) in &gone {
            info!(%user, contact = %key, source = %peer.addr, "registration removed: its flow closed");
            self.remove(user, key);
            if !touched.contains(user) {
                touched.push(user.clone());
            }
        }
        for user in touched {
            self.changed(&user);
        }
        gone.len()
    }

    /// Takes one challenge from `ip`'s bucket: `false` when the address is over
    /// `challenge_rate` and the REGISTER must be dropped unanswered (counted). The user agent
    /// asks this before it even parses a REGISTER that carries no `Authorization`
    /// ([`crate::message::is_unauthenticated_register`]), so a flood costs a table lookup per
    /// datagram; [`Registrar::handle_register`] asks it for the challenges and refusals of
    /// REGISTERs whose credentials failed.
    pub fn admit_challenge(&mut self, ip: std::net::IpAddr, now: Instant) -> bool {
        let ip = ip.to_canonical();
        if self.challenge_limiter.admit(ip, now) {
            return true;
        }
        self.stats.challenges_dropped += 1;
        false
    }

    #[must_use]
    pub fn poll_event(&mut self) -> Option<RegistrationEvent> {
        self.events.pop_front()
    }

    /// Handles one REGISTER that came from `source`, returning the final response to send
    /// (RFC 3261 §10.3), or `None` when it must be dropped unanswered: its credentials failed
    /// (or it is in a cool-down) and its source is over `challenge_rate`. Bindings change only
    /// on a 200.
    ///
    /// A REGISTER without `Authorization` is challenged here without taking from the
    /// challenge rate: the caller takes it first, before parsing
    /// ([`Registrar::admit_challenge`]).
    pub fn handle_register(
        &mut self,
        request: &rsip::Request,
        source: &Peer,
        now: Instant,
    ) -> Option<rsip::Response> {
        self.stats.registers += 1;
        // One key per host: an IPv4 client seen on a dual-stack socket (`::ffff:a.b.c.d`) is
        // the same address as seen on an IPv4 one, for lockouts as for the challenge rate.
        let ip = source.addr.ip().to_canonical();
        let authorizations: Vec<&str> = request
            .headers
            .iter()
            .filter_map(|h| match h {
                Header::Authorization(a) => Some(a.value()),
                _ => None,
            })
            .collect();
        // RFC 3261 §22.4: several credentials may be present; ours carry our realm.
        let ours = authorizations
            .iter()
            .find(|v| {
                parse_digest(v).is_ok_and(|p| p.get("realm") == Some(self.config.realm.as_str()))
            })
            .or(authorizations.first());
        // The user this request is for: the one it authenticates as, else the one of To.
        let claimed = ours
            .and_then(|a| parse_digest(a).ok())
            .and_then(|p| p.get("username").map(str::to_string))
            .or_else(|| request.to_header().ok().and_then(|to| aor_user(to.value())))
            .unwrap_or_default();
        let user_key = user_at(&claimed, ip);
        if self.address_limiter.is_blocked(&ip, now) || self.user_limiter.is_blocked(&user_key, now)
        {
            self.stats.rate_limited += 1;
            if ours.is_some() && !self.admit_challenge(ip, now) {
                return None;
            }
            debug!(user = ?claimed, source = %source.addr, "REGISTER refused: in cool-down");
            return Some(self.reply(request, 403));
        }
        let Some(authorization) = ours else {
            self.stats.challenges += 1;
            return Some(self.challenge(request, source, false, now));
        };
        let uri = request.uri.to_string();
        let method = request.method.to_string();
        let user = match self
            .auth
            .verify(&method, &uri, authorization, &self.credentials, now)
        {
            Ok(user) => user,
            Err(AuthFailure::Stale) => {
                if !self.admit_challenge(ip, now) {
                    return None;
                }
                self.stats.challenges += 1;
                debug!(user = ?claimed, source = %source.addr, "stale nonce: new challenge");
                return Some(self.challenge(request, source, true, now));
            }
            Err(failure) => {
                self.stats.auth_failures += 1;
                warn!(
                    user = ?claimed,
                    source = %source.addr,
                    reason = %failure,
                    "REGISTER authentication failed"
                );
                if let Some(until) = self.user_limiter.record_failure(user_key, now) {
                    warn!(
                        user = ?claimed,
                        source = %source.addr,
                        lockout_s = until.saturating_duration_since(now).as_secs(),
                        "too many failed authentications: this user's REGISTERs from this \
                         source refused"
                    );
                }
                if let Some(until) = self.address_limiter.record_failure(ip, now) {
                    warn!(
                        source = %source.addr,
                        lockout_s = until.saturating_duration_since(now).as_secs(),
                        "too many failed authentications: REGISTERs from this source refused"
                    );
                }
                if !self.admit_challenge(ip, now) {
                    return None;
                }
                return Some(self.challenge(request, source, false, now));
            }
        };
        // RFC 3261 §10.3 steps 4–5: the authenticated user may change only its own bindings.
        let to_user = request.to_header().ok().and_then(|to| aor_user(to.value()));
        if to_user.as_deref() != Some(user.as_str()) {
            warn!(%user, to = ?to_user, source = %source.addr, "REGISTER for another user refused");
            return Some(self.reply(request, 403));
        }
        Some(match self.update(request, &user, source, now) {
            Ok(()) => self.ok(request, &user, now),
            Err(response) => response,
        })
    }

    /// Validates every Contact, then commits all changes or none (RFC 3261 §10.3 steps 6–7).
    fn update(
        &mut self,
        request: &rsip::Request,
        user: &str,
        source: &Peer,
        now: Instant,
    ) -> Result<(), rsip::Response> {
        let call_id = request.call_id().unwrap_or_default().to_string();
        let cseq = request.cseq().map(|c| c.seq).unwrap_or(0);
        let header_expires = request.headers.iter().find_map(|h| match h {
            Header::Expires(e) => Some(parse_delta(e.value())),
            _ => None,
        });
        let mut specs = Vec::new();
        for value in request.headers.iter().filter_map(|h| match h {
            Header::Contact(c) => Some(c.value()),
            _ => None,
        }) {
            match parse_contact(value) {
                Some(spec) => specs.push(spec),
                None => return Err(self.reply_reason(request, 400, "Bad Contact")),
            }
        }
        let existing = self.users.get(user).cloned().unwrap_or_default();
        // §10.3 step 7: same Call-ID with a CSeq not higher aborts the whole request.
        let out_of_order = |s: &Stored| s.call_id == call_id && cseq <= s.cseq;
        if specs.contains(&ContactSpec::Wildcard) {
            if specs.len() != 1 || header_expires != Some(Some(0)) {
                return Err(self.reply_reason(
                    request,
                    400,
                    "Contact * needs Expires: 0 and no other Contact",
                ));
            }
            if existing.iter().any(out_of_order) {
                return Err(self.reply_reason(request, 500, "Out of order CSeq"));
            }
            let keys: Vec<String> = existing.iter().map(|s| s.key.clone()).collect();
            for key in keys {
                self.remove(user, &key);
            }
            info!(%user, source = %source.addr, "all registrations removed");
            self.changed(user);
            return Ok(());
        }
        let mut changes: Vec<Change> = Vec::new();
        for spec in specs {
            let ContactSpec::Uri { uri, expires } = spec else {
                unreachable!("wildcard handled above");
            };
            let asked = match expires.or(header_expires) {
                Some(Some(value)) => value,
                // RFC 3261 §20.19, §10.2.1.1: a malformed value counts as the default.
                Some(None) | None => u64::from(self.config.default_expires),
            };
            if asked != 0 && asked < u64::from(self.config.min_expires) {
                let mut resp = self.reply(request, 423);
                resp.headers.push(
                    rsip::headers::MinExpires::new(self.config.min_expires.to_string()).into(),
                );
                return Err(resp);
            }
            let key = contact_key(&uri);
            if let Some(s) = existing.iter().find(|s| s.key == key)
                && out_of_order(s)
            {
                return Err(self.reply_reason(request, 500, "Out of order CSeq"));
            }
            changes.retain(|c| c.key != key);
            changes.push(Change {
                key,
                uri,
                expires: asked.min(u64::from(self.config.max_expires)),
            });
        }
        let wanted = changes.iter().filter(|c| c.expires > 0).count();
        if wanted > self.config.max_contacts_per_user {
            return Err(self.reply_reason(request, 403, "Too Many Contacts"));
        }
        let before: BTreeSet<String> = existing.iter().map(|s| s.key.clone()).collect();
        for change in &changes {
            self.remove(user, &change.key);
            if change.expires == 0 {
                continue;
            }
            let stored = Stored {
                key: change.key.clone(),
                binding: Binding {
                    contact_uri: change.uri.clone(),
                    source: source.addr,
                    transport: source.transport,
                    expires_at: now + secs(change.expires),
                },
                call_id: call_id.clone(),
                cseq,
            };
            self.expiries.insert((
                stored.binding.expires_at,
                user.to_string(),
                stored.key.clone(),
            ));
            self.users.entry(user.to_string()).or_default().push(stored);
        }
        self.evict_excess(user, &changes);
        let after: BTreeSet<String> = self
            .users
            .get(user)
            .into_iter()
            .flatten()
            .map(|s| s.key.clone())
            .collect();
        if before != after {
            info!(%user, source = %source.addr, contacts = after.len(), "registration changed");
            self.changed(user);
        }
        Ok(())
    }

    /// Drops the bindings not in this request that expire first until the user is within
    /// `max_contacts_per_user`.
    fn evict_excess(&mut self, user: &str, changes: &[Change]) {
        loop {
            let Some(list) = self.users.get(user) else {
                return;
            };
            if list.len() <= self.config.max_contacts_per_user {
                return;
            }
            let victim = list
                .iter()
                .filter(|s| !changes.iter().any(|c| c.key == s.key))
                .min_by_key(|s| s.binding.expires_at)
                .map(|s| s.key.clone());
            let Some(key) = victim else { return };
            info!(%user, contact = %key, "binding dropped: too many contacts");
            self.remove(user, &key);
        }
    }

    fn remove(&mut self, user: &str, key: &str) {
        let Some(list) = self.users.get_mut(user) else {
            return;
        };
        if let Some(pos) = list.iter().position(|s| s.key == key) {
            let stored = list.swap_remove(pos);
            self.expiries.remove(&(
                stored.binding.expires_at,
                user.to_string(),
                stored.key.clone(),
            ));
        }
        if list.is_empty() {
            self.users.remove(user);
        }
    }

    /// Queues the event for a user whose binding set changed.
    fn changed(&mut self, user: &str) {
        if self.users.get(user).is_some_and(Vec::is_empty) {
            self.users.remove(user);
        }
        let mut bindings: Vec<Binding> = self
            .users
            .get(user)
            .into_iter()
            .flatten()
            .map(|s| s.binding.clone())
            .collect();
        bindings.sort_by_key(|b| b.expires_at);
        self.events.push_back(RegistrationEvent {
            user: user.to_string(),
            registered: !bindings.is_empty(),
            bindings,
        });
    }

    /// A 401 with one challenge per configured algorithm, in the configured order, except
    /// over a WebSocket: there the MD5 challenge goes last. JsSIP and SIP.js, the browsers'
    /// SIP stacks, keep only the last `WWW-Authenticate` they read and do MD5 only, whereas
    /// RFC 8760 §2.4 clients take the first they support, wherever it is.
    fn challenge(
        &mut self,
        request: &rsip::Request,
        source: &Peer,
        stale: bool,
        now: Instant,
    ) -> rsip::Response {
        let mut resp = self.reply(request, 401);
        // One value per configured algorithm, in that order (DigestAuth::challenge).
        let algorithms = self.auth.algorithms().to_vec();
        let mut values: Vec<(Algorithm, String)> = algorithms
            .into_iter()
            .zip(self.auth.challenge(stale, now))
            .collect();
        if source.transport.is_websocket() {
            // Stable: the other algorithms keep their order.
            values.sort_by_key(|(algorithm, _)| *algorithm == Algorithm::Md5);
        }
        for (_, value) in values {
            resp.headers
                .push(rsip::headers::WwwAuthenticate::new(value).into());
        }
        resp
    }

    /// The 200: every current binding with its remaining time (RFC 3261 §10.3 step 8).
    fn ok(&mut self, request: &rsip::Request, user: &str, now: Instant) -> rsip::Response {
        let mut resp = self.reply(request, 200);
        for b in self.bindings(user, now) {
            resp.headers.push(
                rsip::headers::Contact::new(format!(
                    "<{}>;expires={}",
                    b.contact_uri,
                    b.remaining_secs(now)
                ))
                .into(),
            );
        }
        set_body(&mut resp.headers, &[], None);
        resp
    }

    /// A final response to a REGISTER, with a To tag (RFC 3261 §8.2.6.2).
    fn reply(&mut self, request: &rsip::Request, code: u16) -> rsip::Response {
        let tag = random_token(&mut self.rng);
        let mut resp = crate::ua::build::response(request, code, Some(&tag), "");
        resp.headers.retain(|h| !matches!(h, Header::Server(_)));
        set_body(&mut resp.headers, &[], None);
        resp
    }

    /// [`Self::reply`] with a specific reason phrase.
    fn reply_reason(&mut self, request: &rsip::Request, code: u16, reason: &str) -> rsip::Response {
        let mut resp = self.reply(request, code);
        resp.status_code = rsip::StatusCode::Other(code, reason.to_string());
        resp
    }
}
