//! Stateless nonces and the verification of a Digest `Authorization` (RFC 7616 §3.3–3.4).
//!
//! A nonce is 32 bytes in hex: the issue time (milliseconds since this verifier's epoch, the
//! first `now` it saw, big-endian u64), 8 random bytes, and the first 16 bytes of
//! HMAC-SHA-256(secret, issue time ‖ random). Verifying one needs no table; only the highest `nc`
//! used with each nonce is remembered, to refuse replays, until the nonce expires.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::{Algorithm, AuthFailure, Credentials, parse_digest, response_digest};
use crate::rng::SipRng;

/// Nonces whose `nc` we remember at most; beyond it the entries closest to expiry are dropped
/// (their nonces can then be replayed once more within their lifetime, nothing worse).
pub const MAX_TRACKED_NONCES: usize = 65_536;

const TIME_LEN: usize = 8;
const RANDOM_LEN: usize = 8;
const MAC_LEN: usize = 16;
const NONCE_LEN: usize = TIME_LEN + RANDOM_LEN + MAC_LEN;

/// Where a nonce stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NonceState {
    /// Ours and within its lifetime, which ends at this instant.
    Fresh(Instant),
    /// Ours but too old, or not ours at all (another secret: e.g. before a restart).
    Unusable,
}

/// Issues challenges and verifies answers for one realm. Sans-IO: every method takes `now`.
pub struct DigestAuth {
    realm: String,
    nonce_ttl: Duration,
    mac: Hmac<Sha256>,
    epoch: Option<Instant>,
    /// What we challenge with, in order of preference, and accept.
    algorithms: Vec<Algorithm>,
    /// nonce → (highest nc seen, when the nonce expires).
    seen: HashMap<String, (u32, Instant)>,
    /// The random part of each nonce.
    rng: SipRng,
}

impl DigestAuth {
    /// A verifier for `realm` whose nonces live `nonce_ttl`, signed with `secret` (any length;
    /// 32 random bytes is right). The random part of its nonces comes from the operating
    /// system's entropy; [`Self::with_rng`] sets another source.
    #[must_use]
    pub fn new(realm: impl Into<String>, nonce_ttl: Duration, secret: &[u8]) -> DigestAuth {
        DigestAuth {
            realm: realm.into(),
            nonce_ttl,
            mac: Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length"),
            epoch: None,
            algorithms: vec![Algorithm::Sha256, Algorithm::Md5],
            seen: HashMap::new(),
            rng: SipRng::from_entropy(),
        }
    }

    /// Draws the random part of nonces from `rng`: seeded, the same calls issue the same
    /// nonces.
    #[must_use]
    pub fn with_rng(mut self, rng: SipRng) -> DigestAuth {
        self.rng = rng;
        self
    }

    /// Challenges with (and accepts) only `algorithms`, in this order of preference; an empty
    /// list keeps the default, SHA-256 then MD5. For phones that cannot skip a challenge they
    /// do not support (SIPp 3.6 reads only the first, and only knows MD5), `[Md5]`.
    #[must_use]
    pub fn with_algorithms(mut self, algorithms: &[Algorithm]) -> DigestAuth {
        if !algorithms.is_empty() {
            self.algorithms = algorithms.to_vec();
            self.algorithms.dedup();
        }
        self
    }

    /// The algorithms challenged with, most preferred first.
    #[must_use]
    pub fn algorithms(&self) -> &[Algorithm] {
        &self.algorithms
    }

    #[must_use]
    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// Nonces whose `nc` is remembered.
    #[must_use]
    pub fn tracked_nonces(&self) -> usize {
        self.seen.len()
    }

    fn millis_since_epoch(&mut self, now: Instant) -> u64 {
        let epoch = *self.epoch.get_or_insert(now);
        u64::try_from(now.saturating_duration_since(epoch).as_millis()).unwrap_or(u64::MAX)
    }

    fn sign(&self, body: &[u8]) -> [u8; MAC_LEN] {
        let mut mac = self.mac.clone();
        mac.update(body);
        let full = mac.finalize().into_bytes();
        let mut out = [0u8; MAC_LEN];
        out.copy_from_slice(&full[..MAC_LEN]);
        out
    }

    /// A fresh nonce issued at `now`.
    pub fn issue_nonce(&mut self, now: Instant) -> String {
        let issued = self.millis_since_epoch(now);
        let mut raw = [0u8; NONCE_LEN];
        raw[..TIME_LEN].copy_from_slice(&issued.to_be_bytes());
        raw[TIME_LEN..TIME_LEN + RANDOM_LEN].copy_from_slice(&self.rng.next_u64().to_be_bytes());
        let mac = self.sign(&raw[..TIME_LEN + RANDOM_LEN]);
        raw[TIME_LEN + RANDOM_LEN..].copy_from_slice(&mac);
        hex::encode(raw)
    }

    fn nonce_state(&mut self, nonce: &str, now: Instant) -> NonceState {
        let Ok(raw) = hex::decode(nonce) else {
            return NonceState::Unusable;
        };
        if raw.len() != NONCE_LEN {
            return NonceState::Unusable;
        }
        let (body, mac) = raw.split_at(TIME_LEN + RANDOM_LEN);
        if !constant_time_eq(&self.sign(body), mac) {
            return NonceState::Unusable;
        }
        let issued = u64::from_be_bytes(body[..TIME_LEN].try_into().expect("8 bytes"));
        let age_ms = self.millis_since_epoch(now).saturating_sub(issued);
        if Duration::from_millis(age_ms) > self.nonce_ttl {
            return NonceState::Unusable;
        }
        let remaining = self.nonce_ttl - Duration::from_millis(age_ms);
        NonceState::Fresh(now + remaining)
    }

    /// The `WWW-Authenticate` values of a 401 (RFC 3261 §22.2, RFC 8760 §2.4): one challenge
    /// per algorithm, most preferred (SHA-256) first (the client picks the first it supports),
    /// sharing one nonce. `stale` tells a client whose answer was right that only the nonce was old.
    pub fn challenge(&mut self, stale: bool, now: Instant) -> Vec<String> {
        let nonce = self.issue_nonce(now);
        let stale = if stale { ", stale=true" } else { "" };
        self.algorithms
            .iter()
            .map(|alg| {
                format!(
                    "Digest realm=\"{}\", nonce=\"{nonce}\", algorithm={alg}, qop=\"auth\"{stale}",
                    self.realm
                )
            })
            .collect()
    }

    /// Verifies an `Authorization` value for a request with `method` and `request_uri`
    /// (RFC 7616 §3.4, RFC 3261 §22.4). On success returns the authenticated user name.
    ///
    /// `qop=auth` is required (we always offer it, and `nc` is what makes replay detection
    /// possible). The response is checked before the nonce's age, so that only a client that
    /// knows the password learns that its nonce was stale.
    pub fn verify(
        &mut self,
        method: &str,
        request_uri: &str,
        authorization: &str,
        credentials: &Credentials,
        now: Instant,
    ) -> Result<String, AuthFailure> {
        let p = parse_digest(authorization)?;
        let realm = p.require("realm")?;
        if realm != self.realm {
            return Err(AuthFailure::WrongRealm {
                expected: self.realm.clone(),
                got: realm.to_string(),
            });
        }
        let user = p.require("username")?;
        let nonce = p.require("nonce")?;
        let uri = p.require("uri")?;
        let response = p.require("response")?;
        let algorithm = match p.get("algorithm") {
            None => Algorithm::Md5, // RFC 2617 §3.2.1: absent means MD5.
            Some(token) => Algorithm::from_token(token)
                .ok_or_else(|| AuthFailure::UnsupportedAlgorithm(token.to_string()))?,
        };
        if !self.algorithms.contains(&algorithm) {
            return Err(AuthFailure::UnsupportedAlgorithm(algorithm.to_string()));
        }
        let qop = p.get("qop").unwrap_or("");
        if !qop.eq_ignore_ascii_case("auth") {
            return Err(AuthFailure::UnsupportedQop(qop.to_string()));
        }
        let nc_text = p.require("nc")?;
        let nc = (nc_text.len() == 8)
            .then(|| u32::from_str_radix(nc_text, 16).ok())
            .flatten()
            .ok_or_else(|| AuthFailure::Malformed(format!("nc {nc_text:?} is not 8 hex digits")))?;
        let cnonce = p.require("cnonce")?;
        if uri != request_uri && !uri.eq_ignore_ascii_case(request_uri) {
            return Err(AuthFailure::UriMismatch {
                expected: request_uri.to_string(),
                got: uri.to_string(),
            });
        }
        // An unknown user is answered after the same work as a known one with a wrong
        // password (a digest against a stand-in HA1 no password gives), so neither the
        // response nor its timing tells an enumerator (svwar) which users exist.
        let secrets = credentials.get(user);
        let stand_in;
        let ha1 = match secrets {
            Some(secrets) => secrets.get(algorithm),
            None => {
                stand_in = algorithm.hash_hex(&self.sign(user.as_bytes()));
                stand_in.as_str()
            }
        };
        let expected = response_digest(algorithm, ha1, nonce, nc_text, cnonce, qop, method, uri);
        let matches = constant_time_eq(
            expected.as_bytes(),
            response.to_ascii_lowercase().as_bytes(),
        );
        if secrets.is_none() {
            return Err(AuthFailure::UnknownUser);
        }
        if !matches {
            return Err(AuthFailure::WrongResponse);
        }
        let expires = match self.nonce_state(nonce, now) {
            NonceState::Unusable => return Err(AuthFailure::Stale),
            NonceState::Fresh(expires) => expires,
        };
        match self.seen.get_mut(nonce) {
            Some((last, _)) if nc <= *last => {
                return Err(AuthFailure::Replay { nc, last: *last });
            }
            Some((last, _)) => *last = nc,
            None => {
                self.make_room(now);
                self.seen.insert(nonce.to_string(), (nc, expires));
            }
        }
        Ok(user.to_string())
    }

    /// Forgets the `nc` of nonces that expired.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.seen.retain(|_, (_, expires)| *expires > now);
    }

    fn make_room(&mut self, now: Instant) {
        if self.seen.len() < MAX_TRACKED_NONCES {
            return;
        }
        self.handle_timeout(now);
        while self.seen.len() >= MAX_TRACKED_NONCES {
            let oldest = self
                .seen
                .iter()
                .min_by_key(|(_, (_, expires))| *expires)
                .map(|(nonce, _)| nonce.clone());
            match oldest {
                Some(nonce) => self.seen.remove(&nonce),
                None => break,
            };
        }
    }
}

/// Equality that takes the same time wherever the first difference is.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
