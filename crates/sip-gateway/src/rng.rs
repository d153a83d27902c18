//! The one source of randomness of the SIP core: tags, branches, Call-IDs, SDP session ids,
//! digest nonces and the nonce secret all come from a [`SipRng`] that the core owns.
//!
//! A core built with a seed ([`UserAgentConfig::rng_seed`](crate::ua::UserAgentConfig::rng_seed))
//! draws the same values for the same inputs, so a failing exchange can be replayed byte for
//! byte in a test. Without one it is seeded from the operating system's entropy, which is what
//! production wants: a known seed makes tags, branches and nonces predictable.
//!
//! The core is single-owner (`&mut self` everywhere), so the generator is a plain owned value:
//! no lock, no thread-local lookup. Parts that live apart from the user agent (the registrar,
//! its nonce source) get their own stream with [`SipRng::fork`], still fixed by the one seed.
//!
//! Replays are exact within one build: the generator's algorithm may change with the `rand`
//! version.

use std::fmt;

use rand::rngs::StdRng;
use rand::{Rng as _, RngCore as _, SeedableRng as _};

/// A seedable random number generator, owned by the core that draws from it.
pub struct SipRng(StdRng);

impl SipRng {
    /// A generator whose every draw is fixed by `seed`.
    #[must_use]
    pub fn from_seed(seed: u64) -> SipRng {
        SipRng(StdRng::seed_from_u64(seed))
    }

    /// A generator seeded from the operating system's entropy.
    #[must_use]
    pub fn from_entropy() -> SipRng {
        SipRng(StdRng::from_os_rng())
    }

    /// [`Self::from_seed`] when a seed is given, [`Self::from_entropy`] otherwise.
    #[must_use]
    pub fn new(seed: Option<u64>) -> SipRng {
        seed.map_or_else(SipRng::from_entropy, SipRng::from_seed)
    }

    /// A new generator seeded from this one: an independent stream for a part that keeps its
    /// own, still determined by this generator's seed.
    #[must_use]
    pub fn fork(&mut self) -> SipRng {
        SipRng(StdRng::from_rng(&mut self.0))
    }

    pub fn next_u32(&mut self) -> u32 {
        self.0.next_u32()
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    pub fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.0.fill_bytes(dest);
    }

    /// Appends `count` random ASCII letters and digits to `out`.
    pub fn push_alphanumeric(&mut self, out: &mut String, count: usize) {
        out.extend(
            (&mut self.0)
                .sample_iter(rand::distr::Alphanumeric)
                .take(count)
                .map(char::from),
        );
    }
}

/// Shows no state: what a generator would draw next is not for logs.
impl fmt::Debug for SipRng {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SipRng { .. }")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draws(rng: &mut SipRng) -> (u64, u32, [u8; 16], String) {
        let mut bytes = [0u8; 16];
        rng.fill_bytes(&mut bytes);
        let mut text = String::new();
        rng.push_alphanumeric(&mut text, 22);
        (rng.next_u64(), rng.next_u32(), bytes, text)
    }

    #[test]
    fn one_seed_gives_one_stream() {
        assert_eq!(
            draws(&mut SipRng::from_seed(7)),
            draws(&mut SipRng::from_seed(7))
        );
        assert_eq!(
            draws(&mut SipRng::new(Some(7))),
            draws(&mut SipRng::from_seed(7))
        );
    }

    #[test]
    fn other_seeds_and_forks_give_other_streams() {
        assert_ne!(
            draws(&mut SipRng::from_seed(7)),
            draws(&mut SipRng::from_seed(8))
        );
        let mut a = SipRng::from_seed(7);
        let mut fork = a.fork();
        assert_ne!(draws(&mut fork), draws(&mut a));
        // A fork is itself fixed by the parent's seed.
        assert_eq!(
            draws(&mut SipRng::from_seed(7).fork()),
            draws(&mut SipRng::from_seed(7).fork())
        );
    }

    #[test]
    fn alphanumerics_are_letters_and_digits() {
        let mut text = String::from("x");
        SipRng::from_seed(1).push_alphanumeric(&mut text, 200);
        assert_eq!(text.len(), 201);
        assert!(text.bytes().all(|b| b.is_ascii_alphanumeric()));
    }

    #[test]
    fn debug_hides_the_state() {
        assert_eq!(format!("{:?}", SipRng::from_seed(1)), "SipRng { .. }");
    }
}
