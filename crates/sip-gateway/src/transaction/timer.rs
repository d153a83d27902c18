//! Timers: one binary heap for the whole layer, with lazy deletion.
//!
//! Arming pushes `(deadline, seq, id, kind)` on the heap and records `(kind, seq)` in the
//! transaction's [`TimerSlots`]. Disarming only clears the slot: the heap entry goes stale and is
//! skipped when it reaches the top. So arming, disarming and firing cost `O(log n)` and nothing
//! ever scans all transactions. Stale entries are bounded: [`TimerQueue::needs_compaction`] tells
//! the layer when to drop them in one pass.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

use super::TransactionId;

/// Every timer of RFC 3261 §17 and RFC 6026, plus the layer's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) enum TimerKind {
    /// INVITE client request retransmission (RFC 3261 §17.1.1.2).
    A,
    /// INVITE client transaction timeout.
    B,
    /// INVITE client: wait in Completed for final response retransmissions.
    D,
    /// Non-INVITE client request retransmission (RFC 3261 §17.1.2.2).
    E,
    /// Non-INVITE client transaction timeout.
    F,
    /// INVITE server final response retransmission (RFC 3261 §17.2.1).
    G,
    /// INVITE server: wait for the ACK.
    H,
    /// INVITE server: absorb ACK retransmissions in Confirmed.
    I,
    /// Non-INVITE server: absorb request retransmissions in Completed (RFC 3261 §17.2.2).
    J,
    /// Non-INVITE client: absorb response retransmissions in Completed.
    K,
    /// INVITE server, Accepted (RFC 6026 §8.7).
    L,
    /// INVITE client, Accepted (RFC 6026 §8.4).
    M,
    /// INVITE server, Proceeding: send `100 Trying` if the TU is silent (RFC 3261 §17.2.1).
    Trying,
    /// INVITE server, Accepted: 2xx retransmission (RFC 3261 §13.3.1.4).
    Retransmit2xx,
    /// INVITE client after a CANCEL: give up 64*T1 later if no final response (RFC 3261 §9.1).
    CancelWait,
}

/// The armed timers of one transaction. No state machine arms more than three at once.
#[derive(Debug, Default)]
pub(super) struct TimerSlots([Option<(TimerKind, u64)>; 4]);

impl TimerSlots {
    /// Whether `kind` is armed.
    #[cfg(test)]
    pub(super) fn is_armed(&self, kind: TimerKind) -> bool {
        self.0.iter().flatten().any(|(k, _)| *k == kind)
    }

    /// Whether the heap entry `(kind, seq)` is the live one; if so, clears it (it is firing).
    pub(super) fn take(&mut self, kind: TimerKind, seq: u64) -> bool {
        for slot in &mut self.0 {
            if *slot == Some((kind, seq)) {
                *slot = None;
                return true;
            }
        }
        false
    }

    fn matches(&self, kind: TimerKind, seq: u64) -> bool {
        self.0.contains(&Some((kind, seq)))
    }

    /// Records `kind` as armed with `seq`; returns whether it was not armed before.
    fn set(&mut self, kind: TimerKind, seq: u64) -> bool {
        if let Some(slot) = self.0.iter_mut().flatten().find(|(k, _)| *k == kind) {
            slot.1 = seq;
            return false;
        }
        match self.0.iter_mut().find(|slot| slot.is_none()) {
            Some(slot) => {
                *slot = Some((kind, seq));
                true
            }
            None => {
                debug_assert!(false, "more than four timers armed at once");
                self.0[0] = Some((kind, seq));
                false
            }
        }
    }

    /// Clears `kind`; returns whether it was armed.
    fn clear(&mut self, kind: TimerKind) -> bool {
        for slot in &mut self.0 {
            if matches!(slot, Some((k, _)) if *k == kind) {
                *slot = None;
                return true;
            }
        }
        false
    }

    fn count(&self) -> usize {
        self.0.iter().flatten().count()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Entry {
    pub(super) at: Instant,
    /// Ties on `at` fire in arming order; also tells a live entry from a stale one.
    pub(super) seq: u64,
    pub(super) id: TransactionId,
    pub(super) kind: TimerKind,
}

/// The layer's deadlines.
#[derive(Debug, Default)]
pub(super) struct TimerQueue {
    heap: BinaryHeap<Reverse<Entry>>,
    next_seq: u64,
    /// Armed timers, over all transactions (the heap also holds stale entries).
    live: usize,
}

impl TimerQueue {
    pub(super) fn arm(
        &mut self,
        slots: &mut TimerSlots,
        id: TransactionId,
        kind: TimerKind,
        at: Instant,
    ) {
        let seq = self.next_seq;
        self.next_seq += 1;
        if slots.set(kind, seq) {
            self.live += 1;
        }
        self.heap.push(Reverse(Entry { at, seq, id, kind }));
    }

    pub(super) fn disarm(&mut self, slots: &mut TimerSlots, kind: TimerKind) {
        if slots.clear(kind) {
            self.live -= 1;
        }
    }

    /// Forgets every timer of a transaction being removed.
    pub(super) fn disarm_all(&mut self, slots: &mut TimerSlots) {
        self.live -= slots.count();
        *slots = TimerSlots::default();
    }

    /// A live entry is firing: its slot was cleared with [`TimerSlots::take`].
    pub(super) fn fired(&mut self) {
        self.live -= 1;
    }

    /// The earliest entry, live or stale.
    pub(super) fn peek(&self) -> Option<Entry> {
        self.heap.peek().map(|Reverse(e)| *e)
    }

    /// Removes the earliest entry.
    pub(super) fn pop(&mut self) -> Option<Entry> {
        self.heap.pop().map(|Reverse(e)| e)
    }

    /// Stale entries outnumber live ones by enough that a rebuild pays.
    pub(super) fn needs_compaction(&self) -> bool {
        self.heap.len() > 2 * self.live + 1024
    }

    /// Keeps only the entries `is_live` accepts.
    pub(super) fn compact(&mut self, mut is_live: impl FnMut(&Entry) -> bool) {
        self.heap.retain(|Reverse(e)| is_live(e));
    }

    /// Whether `entry` is still armed in `slots`.
    pub(super) fn is_live(entry: &Entry, slots: &TimerSlots) -> bool {
        slots.matches(entry.kind, entry.seq)
    }

    #[cfg(test)]
    pub(super) fn heap_len(&self) -> usize {
        self.heap.len()
    }

    #[cfg(test)]
    pub(super) fn live(&self) -> usize {
        self.live
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn rearming_makes_the_old_entry_stale() {
        let mut q = TimerQueue::default();
        let mut slots = TimerSlots::default();
        let t0 = Instant::now();
        let id = TransactionId(1);
        q.arm(
            &mut slots,
            id,
            TimerKind::E,
            t0 + Duration::from_millis(500),
        );
        q.arm(
            &mut slots,
            id,
            TimerKind::E,
            t0 + Duration::from_millis(900),
        );
        assert_eq!(q.live(), 1);
        let first = q.pop().expect("two entries");
        assert_eq!(first.at, t0 + Duration::from_millis(500));
        assert!(
            !TimerQueue::is_live(&first, &slots),
            "superseded entry is stale"
        );
        let second = q.pop().expect("two entries");
        assert!(TimerQueue::is_live(&second, &slots));
        assert!(slots.take(second.kind, second.seq));
        q.fired();
        assert_eq!(q.live(), 0);
        assert!(!slots.is_armed(TimerKind::E));
    }

    #[test]
    fn disarm_and_disarm_all_keep_the_live_count() {
        let mut q = TimerQueue::default();
        let mut slots = TimerSlots::default();
        let t0 = Instant::now();
        let id = TransactionId(7);
        q.arm(&mut slots, id, TimerKind::A, t0);
        q.arm(&mut slots, id, TimerKind::B, t0);
        q.arm(&mut slots, id, TimerKind::CancelWait, t0);
        assert_eq!(q.live(), 3);
        q.disarm(&mut slots, TimerKind::A);
        q.disarm(&mut slots, TimerKind::A);
        assert_eq!(q.live(), 2);
        q.disarm_all(&mut slots);
        assert_eq!(q.live(), 0);
        assert_eq!(q.heap_len(), 3, "entries stay until popped or compacted");
        q.compact(|e| TimerQueue::is_live(e, &slots));
        assert_eq!(q.heap_len(), 0);
    }
}
