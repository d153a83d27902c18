//! The [`TransactionLayer`]: the transaction table, its indexes and timers, and the API the driver
//! and the TU call. Routing an incoming message to its transaction is in `inbound.rs`.

use std::collections::HashMap;
use std::time::Instant;

use rsip::{Method, Request, Response, SipMessage};

use crate::rng::SipRng;

use super::client::{InviteClient, NonInviteClient};
use super::context::{Ctx, Next, Output};
use super::key::{
    self, AckKey, ClientKey, MAGIC_COOKIE, ServerKey, ack_key, client_key, method_key, server_key,
};
use super::server::{InviteServer, NonInviteServer};
use super::timer::{TimerKind, TimerQueue, TimerSlots};
use super::{
    Peer, TimerConfig, TransactionError, TransactionEvent, TransactionId, TransactionState,
    TransactionStats, Transmit,
};

/// How many transactions [`TransactionLayer::new`] allows before refusing new ones.
pub const DEFAULT_MAX_TRANSACTIONS: usize = 100_000;

/// A fresh branch for a client transaction's top Via: the RFC 3261 magic cookie and 22 random
/// alphanumerics (about 130 bits) drawn from `rng`, unique across space and time (RFC 3261
/// §8.1.1.7). The layer draws nothing itself: the branch is the TU's, from the TU's generator.
#[must_use]
pub fn new_branch(rng: &mut SipRng) -> String {
    let mut branch = String::with_capacity(MAGIC_COOKIE.len() + 22);
    branch.push_str(MAGIC_COOKIE);
    rng.push_alphanumeric(&mut branch, 22);
    branch
}

#[derive(Debug)]
pub(super) enum Machine {
    InviteClient(InviteClient),
    NonInviteClient(NonInviteClient),
    InviteServer(InviteServer),
    NonInviteServer(NonInviteServer),
}

impl Machine {
    pub(super) fn state(&self) -> TransactionState {
        match self {
            Self::InviteClient(m) => m.state(),
            Self::NonInviteClient(m) => m.state(),
            Self::InviteServer(m) => m.state(),
            Self::NonInviteServer(m) => m.state(),
        }
    }

    fn on_timer(&mut self, kind: TimerKind, ctx: &mut Ctx<'_>) -> Next {
        match self {
            Self::InviteClient(m) => m.on_timer(kind, ctx),
            Self::NonInviteClient(m) => m.on_timer(kind, ctx),
            Self::InviteServer(m) => m.on_timer(kind, ctx),
            Self::NonInviteServer(m) => m.on_timer(kind),
        }
    }
}

/// Where a transaction is indexed, so that removal can clean up.
#[derive(Debug)]
pub(super) enum Index {
    Client(ClientKey),
    Server(ServerKey),
}

#[derive(Debug)]
pub(super) struct Transaction {
    pub(super) peer: Peer,
    pub(super) call_id: String,
    pub(super) index: Index,
    /// Set while an INVITE server transaction is Accepted: how its 2xx's ACK is recognised.
    pub(super) ack_key: Option<AckKey>,
    pub(super) slots: TimerSlots,
    pub(super) machine: Machine,
}

/// All client and server transactions of one SIP endpoint (RFC 3261 §17), sans-IO.
///
/// See the [module documentation](super) for the run loop the driver must follow.
#[derive(Debug)]
pub struct TransactionLayer {
    pub(super) config: TimerConfig,
    pub(super) max_transactions: usize,
    pub(super) next_id: u64,
    pub(super) transactions: HashMap<TransactionId, Transaction>,
    pub(super) clients: HashMap<ClientKey, TransactionId>,
    pub(super) servers: HashMap<ServerKey, TransactionId>,
    /// INVITE server transactions in Accepted, by what their 2xx's ACK carries.
    pub(super) accepted: HashMap<AckKey, TransactionId>,
    pub(super) timers: TimerQueue,
    pub(super) out: Output,
}

impl TransactionLayer {
    /// A layer with the given timers and room for [`DEFAULT_MAX_TRANSACTIONS`] transactions.
    #[must_use]
    pub fn new(config: TimerConfig) -> Self {
        Self::with_limit(config, DEFAULT_MAX_TRANSACTIONS)
    }

    /// A layer that holds at most `max_transactions` at once. Beyond it a new request yields
    /// [`TransactionEvent::Overloaded`] (the TU answers 503) and [`Self::send_request`] fails
    /// with [`TransactionError::LimitReached`]. The config is
    /// [normalized](TimerConfig::normalized).
    #[must_use]
    pub fn with_limit(config: TimerConfig, max_transactions: usize) -> Self {
        Self {
            config: config.normalized(),
            max_transactions,
            next_id: 1,
            transactions: HashMap::new(),
            clients: HashMap::new(),
            servers: HashMap::new(),
            accepted: HashMap::new(),
            timers: TimerQueue::default(),
            out: Output::default(),
        }
    }

    /// The timer values this layer runs with.
    #[must_use]
    pub fn config(&self) -> &TimerConfig {
        &self.config
    }

    /// Feeds a parsed message from the transport, received from `peer` at `now`.
    ///
    /// Requests are matched to server transactions per RFC 3261 §17.2.3 (branch with the magic
    /// cookie, sent-by and method, ACK matching its INVITE; without the cookie, the RFC 2543
    /// fields). A new request creates a server transaction and a [`TransactionEvent::Request`]
    /// (or [`TransactionEvent::Cancel`]); a retransmission is absorbed, re-sending the last
    /// response. An ACK that no INVITE server transaction in Completed absorbs is reported as
    /// [`TransactionEvent::Ack`].
    ///
    /// Responses are matched to client transactions per RFC 3261 §17.1.3 (branch and CSeq
    /// method); unmatched ones are reported as [`TransactionEvent::StrayResponse`].
    ///
    /// Messages without the headers matching needs (top Via, CSeq, Call-ID) are dropped and
    /// counted in [`TransactionStats::malformed`].
    pub fn handle_message(&mut self, message: SipMessage, peer: Peer, now: Instant) {
        match message {
            SipMessage::Request(request) if request.method == Method::Ack => {
                self.handle_ack(request, peer, now);
            }
            SipMessage::Request(request) => self.handle_request(request, peer, now),
            SipMessage::Response(response) => self.handle_response(response, peer, now),
        }
        self.tidy_timers();
    }

    /// Starts a client transaction for `request` and sends it to `peer`.
    ///
    /// The request must carry a top Via with a branch unique to this transaction (see
    /// [`new_branch`]) and a CSeq whose method is the request's. ACK is refused: it is never a
    /// client transaction (RFC 3261 §17.1.1.3); send it with [`Self::send_stateless`].
    ///
    /// A CANCEL whose branch is that of a live INVITE client transaction also starts the RFC 3261
    /// §9.1 wait on that INVITE: without a final response within 64*T1 it reports
    /// [`TransactionEvent::Timeout`] and terminates.
    pub fn send_request(
        &mut self,
        request: Request,
        peer: Peer,
        now: Instant,
    ) -> Result<TransactionId, TransactionError> {
        if request.method == Method::Ack {
            return Err(TransactionError::AckNotAllowed);
        }
        let invalid = |e: key::Unmatchable| TransactionError::InvalidRequest(e.0);
        let cseq = key::cseq(&request.headers).map_err(invalid)?;
        if method_key(cseq.method) != method_key(request.method) {
            return Err(TransactionError::InvalidRequest(format!(
                "CSeq method {} differs from request method {} (RFC 3261 §8.1.1.5)",
                cseq.method, request.method
            )));
        }
        let call_id = key::call_id(&request.headers).map_err(invalid)?;
        let client = client_key(&request.headers, request.method).map_err(invalid)?;
        if let Some(&existing) = self.clients.get(&client) {
            return Err(TransactionError::DuplicateBranch {
                branch: client.branch,
                existing,
            });
        }
        if self.transactions.len() >= self.max_transactions {
            return Err(TransactionError::LimitReached(self.transactions.len()));
        }

        let id = self.allocate_id();
        let method = request.method;
        let mut slots = TimerSlots::default();
        let machine = {
            let mut ctx = Ctx {
                id,
                now,
                config: &self.config,
                peer: &peer,
                out: &mut self.out,
                timers: &mut self.timers,
                slots: &mut slots,
            };
            if method == Method::Invite {
                Machine::InviteClient(InviteClient::start(request, &mut ctx))
            } else {
                Machine::NonInviteClient(NonInviteClient::start(request, &mut ctx))
            }
        };
        tracing::debug!(id = id.0, %call_id, %method, "client transaction started");
        self.out.stats.client_created += 1;

        if method == Method::Cancel {
            let invite_key = ClientKey {
                branch: client.branch.clone(),
                method: method_key(Method::Invite),
            };
            if let Some(&invite) = self.clients.get(&invite_key) {
                self.with_machine(invite, now, |machine, ctx| {
                    if let Machine::InviteClient(m) = machine {
                        m.on_cancel_sent(ctx);
                    }
                });
            }
        }

        self.clients.insert(client.clone(), id);
        self.transactions.insert(
            id,
            Transaction {
                peer,
                call_id,
                index: Index::Client(client),
                ack_key: None,
                slots,
                machine,
            },
        );
        self.tidy_timers();
        Ok(id)
    }

    /// Sends `response` on server transaction `id`, driving its state machine (RFC 3261 §17.2).
    ///
    /// A 2xx to an INVITE moves it to Accepted (RFC 6026 §8.7): the layer retransmits the 2xx
    /// (T1 doubling up to T2, RFC 3261 §13.3.1.4) until the ACK for it arrives (matched by
    /// Call-ID, CSeq number and the 2xx's To tag) or Timer L fires
    /// ([`TransactionEvent::AckTimeout`]). A 3xx-6xx to an INVITE is retransmitted on Timer G
    /// until its ACK or Timer H.
    pub fn send_response(
        &mut self,
        id: TransactionId,
        response: Response,
        now: Instant,
    ) -> Result<(), TransactionError> {
        let status = response.status_code.code();
        if !(100..=699).contains(&status) {
            return Err(TransactionError::InvalidStatus(status));
        }
        let tx = self
            .transactions
            .get(&id)
            .ok_or(TransactionError::UnknownTransaction(id))?;
        let is_invite = match tx.machine {
            Machine::InviteServer(_) => true,
            Machine::NonInviteServer(_) => false,
            Machine::InviteClient(_) | Machine::NonInviteClient(_) => {
                return Err(TransactionError::NotServerTransaction(id));
            }
        };
        let new_ack_key = if is_invite && (200..300).contains(&status) && tx.ack_key.is_none() {
            ack_key(&response.headers).ok()
        } else {
            None
        };
        let next = self
            .with_machine(id, now, |machine, ctx| match machine {
                Machine::InviteServer(m) => m.send_response(response, ctx),
                Machine::NonInviteServer(m) => m.send_response(response, ctx),
                Machine::InviteClient(_) | Machine::NonInviteClient(_) => {
                    Err(TransactionError::NotServerTransaction(id))
                }
            })
            .ok_or(TransactionError::UnknownTransaction(id))??;
        if let Some(ack) = new_ack_key
            && let Some(tx) = self.transactions.get_mut(&id)
        {
            self.accepted.insert(ack.clone(), id);
            tx.ack_key = Some(ack);
        }
        self.apply(id, next);
        self.tidy_timers();
        Ok(())
    }

    /// Queues a message outside any transaction: the ACK for a 2xx (RFC 3261 §13.2.2.4),
    /// stateless replies such as 503 on [`TransactionEvent::Overloaded`].
    pub fn send_stateless(&mut self, message: SipMessage, peer: Peer) {
        self.out.transmits.push_back(Transmit { peer, message });
    }

    /// Ends server transaction `id` without any response: the TU decided to drop its request
    /// silently (a REGISTER flood, issue 14). A non-INVITE server transaction waiting for its
    /// TU has no timer of its own and would otherwise live for ever. A retransmission of the
    /// request afterwards is a new request to the TU. Client transactions and unknown ids
    /// are left alone; no event is emitted.
    pub fn abandon(&mut self, id: TransactionId) {
        if self.transactions.get(&id).is_some_and(|tx| {
            matches!(
                tx.machine,
                Machine::NonInviteServer(_) | Machine::InviteServer(_)
            )
        }) {
            self.remove(id);
            self.tidy_timers();
        }
    }

    /// The transport could not send for transaction `id`: it terminates and the TU is told with
    /// [`TransactionEvent::TransportError`] (RFC 3261 §17.1.4, §17.2.4). Unknown ids are
    /// ignored.
    pub fn handle_transport_error(&mut self, id: TransactionId, _now: Instant) {
        if self.transactions.contains_key(&id) {
            self.out.stats.transport_errors += 1;
            self.out
                .events
                .push_back(TransactionEvent::TransportError { id });
            self.remove(id);
            self.tidy_timers();
        }
    }

    /// Fires every timer due at `now`, in deadline order. Call it when [`Self::poll_timeout`]'s
    /// instant has passed; earlier calls do nothing.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(entry) = self.timers.peek() {
            if entry.at > now {
                break;
            }
            let _ = self.timers.pop();
            let Some(tx) = self.transactions.get_mut(&entry.id) else {
                continue;
            };
            if !tx.slots.take(entry.kind, entry.seq) {
                continue;
            }
            self.timers.fired();
            let next = self.with_machine(entry.id, now, |machine, ctx| {
                machine.on_timer(entry.kind, ctx)
            });
            if let Some(next) = next {
                self.apply(entry.id, next);
            }
        }
        self.tidy_timers();
    }

    /// When [`Self::handle_timeout`] must next be called, if any timer is armed.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.peek().map(|e| e.at)
    }

    /// The next message to send. Drain after every input.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.out.transmits.pop_front()
    }

    /// The next event for the TU. Drain after every input.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<TransactionEvent> {
        self.out.events.pop_front()
    }

    /// Live transactions, client and server.
    #[must_use]
    pub fn len(&self) -> usize {
        self.transactions.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.transactions.is_empty()
    }

    /// The counters since the layer was created.
    #[must_use]
    pub fn stats(&self) -> TransactionStats {
        self.out.stats
    }

    /// The state of transaction `id`, or `None` once it has terminated.
    #[must_use]
    pub fn state(&self, id: TransactionId) -> Option<TransactionState> {
        self.transactions.get(&id).map(|tx| tx.machine.state())
    }

    /// The live INVITE server transaction a CANCEL matches (RFC 3261 §9.2), whatever its state.
    /// [`TransactionEvent::Cancel`] only names it while it is Proceeding; once it has a final
    /// response, RFC 3261 §9.2 still wants a 200 to the CANCEL rather than a 481.
    #[must_use]
    pub fn cancel_target(&self, cancel: &Request) -> Option<TransactionId> {
        let key = server_key(cancel).ok()?.with_method(Method::Invite);
        let id = *self.servers.get(&key)?;
        matches!(
            self.transactions.get(&id)?.machine,
            Machine::InviteServer(_)
        )
        .then_some(id)
    }

    pub(super) fn allocate_id(&mut self) -> TransactionId {
        let id = TransactionId(self.next_id);
        self.next_id += 1;
        id
    }

    /// Runs `f` on transaction `id`'s machine with a [`Ctx`]; `None` if it does not exist.
    pub(super) fn with_machine<R>(
        &mut self,
        id: TransactionId,
        now: Instant,
        f: impl FnOnce(&mut Machine, &mut Ctx<'_>) -> R,
    ) -> Option<R> {
        let tx = self.transactions.get_mut(&id)?;
        let mut ctx = Ctx {
            id,
            now,
            config: &self.config,
            peer: &tx.peer,
            out: &mut self.out,
            timers: &mut self.timers,
            slots: &mut tx.slots,
        };
        Some(f(&mut tx.machine, &mut ctx))
    }

    pub(super) fn apply(&mut self, id: TransactionId, next: Next) {
        if next == Next::Terminate {
            self.remove(id);
        }
    }

    /// Terminated: forget the transaction, its keys and its timers, and tell the TU.
    pub(super) fn remove(&mut self, id: TransactionId) {
        let Some(mut tx) = self.transactions.remove(&id) else {
            return;
        };
        self.timers.disarm_all(&mut tx.slots);
        match &tx.index {
            Index::Client(key) => {
                if self.clients.get(key) == Some(&id) {
                    self.clients.remove(key);
                }
            }
            Index::Server(key) => {
                if self.servers.get(key) == Some(&id) {
                    self.servers.remove(key);
                }
            }
        }
        if let Some(ack) = &tx.ack_key
            && self.accepted.get(ack) == Some(&id)
        {
            self.accepted.remove(ack);
        }
        tracing::debug!(id = id.0, call_id = %tx.call_id, "transaction terminated");
        self.out
            .events
            .push_back(TransactionEvent::Terminated { id });
    }

    /// Drops stale entries from the top of the timer heap, so that [`Self::poll_timeout`] is
    /// exact, and rebuilds the heap when stale entries pile up below the top.
    pub(super) fn tidy_timers(&mut self) {
        let transactions = &self.transactions;
        let is_live = |e: &super::timer::Entry| {
            transactions
                .get(&e.id)
                .is_some_and(|tx| TimerQueue::is_live(e, &tx.slots))
        };
        while let Some(top) = self.timers.peek() {
            if is_live(&top) {
                break;
            }
            let _ = self.timers.pop();
        }
        if self.timers.needs_compaction() {
            self.timers.compact(is_live);
        }
    }

    #[cfg(test)]
    pub(super) fn timer_heap_len(&self) -> usize {
        self.timers.heap_len()
    }

    /// Sizes of the client, server and ACK indexes: all zero when no transaction is alive.
    #[cfg(test)]
    pub(super) fn index_sizes(&self) -> (usize, usize, usize) {
        (self.clients.len(), self.servers.len(), self.accepted.len())
    }
}
