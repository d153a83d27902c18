//! What a state machine handler may touch while it runs: [`Ctx`], and what it returns: [`Next`].

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use rsip::SipMessage;

use super::timer::{TimerKind, TimerQueue, TimerSlots};
use super::{Peer, TimerConfig, TransactionEvent, TransactionId, TransactionStats, Transmit};

/// What a state machine handler tells the layer to do with its transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub(super) enum Next {
    Stay,
    /// Go to Terminated: the layer removes the transaction and reports it.
    Terminate,
}

/// Everything queued for the driver, and the counters.
#[derive(Debug, Default)]
pub(super) struct Output {
    pub(super) transmits: VecDeque<Transmit>,
    pub(super) events: VecDeque<TransactionEvent>,
    pub(super) stats: TransactionStats,
}

/// What a state machine handler may touch: its peer, its timers, the output queues.
pub(super) struct Ctx<'a> {
    pub(super) id: TransactionId,
    pub(super) now: Instant,
    pub(super) config: &'a TimerConfig,
    pub(super) peer: &'a Peer,
    pub(super) out: &'a mut Output,
    pub(super) timers: &'a mut TimerQueue,
    pub(super) slots: &'a mut TimerSlots,
}

impl Ctx<'_> {
    pub(super) fn reliable(&self) -> bool {
        self.peer.transport.is_reliable()
    }

    /// Queues a message for this transaction's peer.
    pub(super) fn send(&mut self, message: impl Into<SipMessage>) {
        self.out.transmits.push_back(Transmit {
            peer: self.peer.clone(),
            message: message.into(),
        });
    }

    /// Queues a message the layer re-sends by itself.
    pub(super) fn resend(&mut self, message: impl Into<SipMessage>) {
        self.out.stats.retransmissions_sent += 1;
        self.send(message);
    }

    /// Counts a retransmission recognised and absorbed.
    pub(super) fn absorbed(&mut self) {
        self.out.stats.retransmissions_absorbed += 1;
    }

    pub(super) fn emit(&mut self, event: TransactionEvent) {
        self.out.events.push_back(event);
    }

    /// Arms (or re-arms) `kind` to fire `after` from now.
    pub(super) fn arm(&mut self, kind: TimerKind, after: Duration) {
        // A deadline beyond what `Instant` can hold never comes: leave the timer unarmed.
        if let Some(at) = self.now.checked_add(after) {
            self.timers.arm(self.slots, self.id, kind, at);
        }
    }

    pub(super) fn disarm(&mut self, kind: TimerKind) {
        self.timers.disarm(self.slots, kind);
    }
}
