//! Which RTP/RTCP port pair a new leg gets. Sans-IO: the engine binds, this only says in which
//! order to try.
//!
//! Ports are drawn at random in the range (RFC 3550 §5.1 asks for unpredictable SSRCs and
//! sequence numbers for the same reason; RFC 6056 argues it for transport ports): handed out
//! in sequence, the next call's port is known to anyone who saw one call's SDP, and an off-path
//! sender can aim packets at it before the caller's first packet latches the leg. A few random
//! tries are followed by one walk over the whole range from a random place, so a free pair is
//! always found when there is one and the attempts stay bounded (`RANDOM_TRIES` + the number
//! of pairs), and a full range is reported as such.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Random picks tried before walking the range.
pub(crate) const RANDOM_TRIES: usize = 16;

/// Draws the candidate ports of each allocation from its own random source.
#[derive(Debug)]
pub(crate) struct PortPicker {
    /// The first even RTP port of the range.
    first: u16,
    /// How many RTP ports (pairs) the range holds.
    count: usize,
    rng: StdRng,
}

impl PortPicker {
    /// The pairs `first`, `first + 2`, … (`count` of them); `seed` makes the draws repeatable
    /// (tests), `None` seeds from the operating system.
    pub(crate) fn new(first: u16, count: usize, seed: Option<u64>) -> PortPicker {
        let rng = match seed {
            Some(seed) => StdRng::seed_from_u64(seed),
            None => StdRng::from_os_rng(),
        };
        PortPicker { first, count, rng }
    }

    /// The RTP ports to try for one allocation, in order.
    pub(crate) fn candidates(&mut self) -> Candidates {
        let count = self.count.max(1);
        let mut random = [0usize; RANDOM_TRIES];
        for r in &mut random {
            *r = self.rng.random_range(0..count);
        }
        Candidates {
            first: self.first,
            count: self.count,
            random,
            walk_from: self.rng.random_range(0..count),
            next: 0,
        }
    }
}

/// The candidates of one allocation: [`RANDOM_TRIES`] random pairs, then every pair once.
#[derive(Debug)]
pub(crate) struct Candidates {
    first: u16,
    count: usize,
    random: [usize; RANDOM_TRIES],
    walk_from: usize,
    next: usize,
}

impl Iterator for Candidates {
    type Item = u16;

    fn next(&mut self) -> Option<u16> {
        if self.count == 0 {
            return None;
        }
        let i = self.next;
        let index = if i < RANDOM_TRIES.min(self.count) {
            self.random[i]
        } else if i < RANDOM_TRIES.min(self.count) + self.count {
            (self.walk_from + i - RANDOM_TRIES.min(self.count)) % self.count
        } else {
            return None;
        };
        self.next += 1;
        Some(self.first + 2 * index as u16)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// What the kernel does: a port in use cannot be bound. Returns the port taken.
    fn allocate(picker: &mut PortPicker, in_use: &mut BTreeSet<u16>) -> Option<u16> {
        let port = picker.candidates().find(|p| !in_use.contains(p))?;
        in_use.insert(port);
        Some(port)
    }

    #[test]
    fn ports_are_drawn_at_random_and_repeat_with_the_seed() {
        let draw = |seed| {
            let mut picker = PortPicker::new(20_000, 5000, Some(seed));
            let mut in_use = BTreeSet::new();
            (0..50)
                .map(|_| allocate(&mut picker, &mut in_use).unwrap())
                .collect::<Vec<_>>()
        };
        let ports = draw(7);
        assert_eq!(ports, draw(7), "the same seed, the same ports");
        assert_ne!(ports, draw(8));
        assert!(
            ports
                .iter()
                .all(|p| (20_000..30_000).contains(p) && p % 2 == 0)
        );
        // Not a sequence: next-door pairs are as rare as chance makes them.
        let neighbours = ports
            .windows(2)
            .filter(|w| w[1].abs_diff(w[0]) <= 2)
            .count();
        assert!(neighbours <= 1, "{ports:?}");
        let mut sorted = ports.clone();
        sorted.sort_unstable();
        assert_ne!(ports, sorted, "not handed out in order");
        // From the OS's entropy too.
        let mut a = PortPicker::new(20_000, 5000, None);
        let mut b = PortPicker::new(20_000, 5000, None);
        let first = |p: &mut PortPicker| p.candidates().take(RANDOM_TRIES).collect::<Vec<_>>();
        assert_ne!(first(&mut a), first(&mut b));
    }

    #[test]
    fn a_port_in_use_is_never_handed_out_and_a_full_range_says_so() {
        let mut picker = PortPicker::new(30_000, 40, Some(1));
        let mut in_use = BTreeSet::new();
        for _ in 0..40 {
            assert!(allocate(&mut picker, &mut in_use).is_some(), "{in_use:?}");
        }
        assert_eq!(in_use.len(), 40, "every pair once, none twice");
        assert_eq!(allocate(&mut picker, &mut in_use), None);
        // Bounded: the random tries, then each pair once.
        assert_eq!(picker.candidates().count(), RANDOM_TRIES + 40);
        // One pair freed: it is found, however unlucky the draws.
        in_use.remove(&30_050);
        assert_eq!(allocate(&mut picker, &mut in_use), Some(30_050));
    }

    #[test]
    fn a_tiny_range_is_walked_whole() {
        let mut picker = PortPicker::new(40_000, 1, Some(3));
        assert_eq!(picker.candidates().collect::<Vec<_>>(), [40_000, 40_000]);
        let mut empty = PortPicker::new(40_000, 0, Some(3));
        assert_eq!(empty.candidates().count(), 0);
    }
}
