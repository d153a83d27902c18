//! Incoming messages: which transaction each belongs to (RFC 3261 §17.1.3, §17.2.3, §9.2, RFC
//! 6026 §8.9), and what happens when none does.

use std::time::Instant;

use rsip::{Method, Request, Response};

use super::TransactionLayer;
use super::context::{Ctx, Next};
use super::key::{self, ack_key, client_key, server_key};
use super::layer::{Index, Machine, Transaction};
use super::server::{InviteServer, NonInviteServer};
use super::timer::TimerSlots;
use super::{Peer, TransactionEvent, TransactionState};

impl TransactionLayer {
    pub(super) fn handle_request(&mut self, request: Request, peer: Peer, now: Instant) {
        let (key, call_id) = match server_key(&request).and_then(|k| {
            key::cseq(&request.headers)?;
            Ok((k, key::call_id(&request.headers)?))
        }) {
            Ok(found) => found,
            Err(e) => {
                self.malformed(&e);
                return;
            }
        };
        if let Some(&id) = self.servers.get(&key) {
            self.with_machine(id, now, |machine, ctx| match machine {
                Machine::InviteServer(m) => m.on_retransmission(ctx),
                Machine::NonInviteServer(m) => m.on_retransmission(ctx),
                Machine::InviteClient(_) | Machine::NonInviteClient(_) => {}
            });
            return;
        }
        if self.transactions.len() >= self.max_transactions {
            tracing::warn!(%call_id, limit = self.max_transactions, "transaction limit reached");
            self.out.stats.overloaded += 1;
            self.out
                .events
                .push_back(TransactionEvent::Overloaded { request, peer });
            return;
        }

        let id = self.allocate_id();
        let method = request.method;
        let cancelled = if method == Method::Cancel {
            self.servers
                .get(&key.with_method(Method::Invite))
                .copied()
                .filter(|invite| self.state(*invite) == Some(TransactionState::Proceeding))
        } else {
            None
        };
        let mut slots = TimerSlots::default();
        let machine = if method == Method::Invite {
            let mut ctx = Ctx {
                id,
                now,
                config: &self.config,
                peer: &peer,
                out: &mut self.out,
                timers: &mut self.timers,
                slots: &mut slots,
            };
            Machine::InviteServer(InviteServer::start(request.clone(), &mut ctx))
        } else {
            Machine::NonInviteServer(NonInviteServer::start())
        };
        tracing::debug!(id = id.0, %call_id, %method, "server transaction started");
        self.out.stats.server_created += 1;
        self.servers.insert(key.clone(), id);
        self.transactions.insert(
            id,
            Transaction {
                peer: peer.clone(),
                call_id,
                index: Index::Server(key),
                ack_key: None,
                slots,
                machine,
            },
        );
        let event = if method == Method::Cancel {
            TransactionEvent::Cancel {
                id,
                invite: cancelled,
                request,
                peer,
            }
        } else {
            TransactionEvent::Request { id, request, peer }
        };
        self.out.events.push_back(event);
    }

    /// RFC 3261 §17.2.1: an ACK matching an INVITE server transaction in Completed or Confirmed
    /// is absorbed; anything else is the ACK for a 2xx, which stops that 2xx's retransmission
    /// (RFC 6026 §8.7) and goes to the TU.
    pub(super) fn handle_ack(&mut self, request: Request, peer: Peer, now: Instant) {
        let key = match server_key(&request) {
            Ok(key) => key.with_method(Method::Invite),
            Err(e) => {
                self.malformed(&e);
                return;
            }
        };
        if let Some(&id) = self.servers.get(&key) {
            let outcome = self.with_machine(id, now, |machine, ctx| match machine {
                Machine::InviteServer(m) => Some(m.on_ack(ctx)),
                _ => None,
            });
            if let Some(Some((next, for_2xx))) = outcome {
                self.apply(id, next);
                if for_2xx {
                    self.out
                        .events
                        .push_back(TransactionEvent::Ack { request, peer });
                }
                return;
            }
        }
        if let Ok(ack) = ack_key(&request.headers)
            && let Some(&id) = self.accepted.get(&ack)
        {
            self.with_machine(id, now, |machine, ctx| {
                if let Machine::InviteServer(m) = machine {
                    m.on_ack_for_2xx(ctx);
                }
            });
        }
        self.out
            .events
            .push_back(TransactionEvent::Ack { request, peer });
    }

    pub(super) fn handle_response(&mut self, response: Response, peer: Peer, now: Instant) {
        let key = match key::cseq(&response.headers)
            .and_then(|cseq| client_key(&response.headers, cseq.method))
        {
            Ok(key) => key,
            Err(e) => {
                self.malformed(&e);
                return;
            }
        };
        let Some(&id) = self.clients.get(&key) else {
            self.out.stats.stray_responses += 1;
            self.out
                .events
                .push_back(TransactionEvent::StrayResponse { response, peer });
            return;
        };
        let next = self.with_machine(id, now, |machine, ctx| match machine {
            Machine::InviteClient(m) => m.on_response(response, ctx),
            Machine::NonInviteClient(m) => m.on_response(response, ctx),
            Machine::InviteServer(_) | Machine::NonInviteServer(_) => Next::Stay,
        });
        if let Some(next) = next {
            self.apply(id, next);
        }
    }

    fn malformed(&mut self, why: &key::Unmatchable) {
        tracing::debug!(reason = %why.0, "message dropped: cannot be matched to a transaction");
        self.out.stats.malformed += 1;
    }
}
