//! Client transactions: INVITE (RFC 3261 §17.1.1, with RFC 6026's Accepted state) and
//! non-INVITE (RFC 3261 §17.1.2).
//!
//! Each machine is an enum of its states; Terminated is not a state but the [`Next::Terminate`]
//! a handler returns, after which the layer removes the transaction.

use std::time::Duration;

use rsip::{Request, Response};

use super::context::{Ctx, Next};
use super::key::{ack_for, to_tag};
use super::timer::TimerKind;
use super::{TransactionEvent, TransactionState};

/// The INVITE client transaction (RFC 3261 Figure 5, RFC 6026 Figure 3).
#[derive(Debug)]
pub(super) struct InviteClient {
    request: Request,
    state: InviteClientState,
}

#[derive(Debug)]
enum InviteClientState {
    /// Request sent; retransmitting on Timer A (UDP) until a response or Timer B.
    Calling { next_a: Duration },
    /// A provisional arrived: no more retransmissions (RFC 3261 §17.1.1.2).
    Proceeding,
    /// A 2xx arrived (RFC 6026 §8.4): further 2xx go to the TU until Timer M. `to_tags` are the
    /// tags of the 2xx seen so far, to flag retransmissions (a new tag is another fork's answer).
    Accepted { to_tags: Vec<String> },
    /// A 3xx-6xx arrived and was ACKed; retransmissions of it are re-ACKed until Timer D.
    Completed { ack: Request },
}

impl InviteClient {
    /// Sends the INVITE and arms Timers A (UDP) and B (RFC 3261 §17.1.1.2).
    pub(super) fn start(request: Request, ctx: &mut Ctx<'_>) -> Self {
        ctx.send(request.clone());
        let t1 = ctx.config.t1;
        if !ctx.reliable() {
            ctx.arm(TimerKind::A, t1);
        }
        ctx.arm(TimerKind::B, ctx.config.timeout());
        Self {
            request,
            state: InviteClientState::Calling {
                next_a: t1.saturating_mul(2),
            },
        }
    }

    pub(super) fn state(&self) -> TransactionState {
        match self.state {
            InviteClientState::Calling { .. } => TransactionState::Calling,
            InviteClientState::Proceeding => TransactionState::Proceeding,
            InviteClientState::Accepted { .. } => TransactionState::Accepted,
            InviteClientState::Completed { .. } => TransactionState::Completed,
        }
    }

    /// A CANCEL for this INVITE was sent: if no final response comes within 64*T1, give up
    /// (RFC 3261 §9.1).
    pub(super) fn on_cancel_sent(&mut self, ctx: &mut Ctx<'_>) {
        if matches!(
            self.state,
            InviteClientState::Calling { .. } | InviteClientState::Proceeding
        ) {
            ctx.arm(TimerKind::CancelWait, ctx.config.timeout());
        }
    }

    pub(super) fn on_response(&mut self, response: Response, ctx: &mut Ctx<'_>) -> Next {
        let code = response.status_code.code();
        match &mut self.state {
            InviteClientState::Calling { .. } | InviteClientState::Proceeding => match code {
                100..=199 => {
                    ctx.disarm(TimerKind::A);
                    ctx.disarm(TimerKind::B);
                    self.state = InviteClientState::Proceeding;
                    ctx.report(response, false);
                    Next::Stay
                }
                200..=299 => {
                    Self::leave_early_states(ctx);
                    let tag = to_tag(&response.headers).unwrap_or_default();
                    self.state = InviteClientState::Accepted { to_tags: vec![tag] };
                    ctx.arm(TimerKind::M, ctx.config.timeout());
                    ctx.report(response, false);
                    Next::Stay
                }
                300..=699 => {
                    Self::leave_early_states(ctx);
                    let ack = ack_for(&self.request, &response);
                    ctx.send(ack.clone());
                    ctx.report(response, false);
                    let d = ctx.config.timer_d(ctx.peer.transport);
                    if d.is_zero() {
                        return Next::Terminate;
                    }
                    ctx.arm(TimerKind::D, d);
                    self.state = InviteClientState::Completed { ack };
                    Next::Stay
                }
                _ => Next::Stay,
            },
            InviteClientState::Accepted { to_tags } => {
                if (200..=299).contains(&code) {
                    // RFC 6026 §8.4: every 2xx goes to the TU, which re-sends its ACK.
                    let tag = to_tag(&response.headers).unwrap_or_default();
                    let retransmission = to_tags.contains(&tag);
                    if retransmission {
                        ctx.absorbed();
                    } else {
                        to_tags.push(tag);
                    }
                    ctx.report(response, retransmission);
                } else {
                    ctx.absorbed();
                }
                Next::Stay
            }
            InviteClientState::Completed { ack } => {
                if (300..=699).contains(&code) {
                    // RFC 3261 §17.1.1.2: a retransmitted final is ACKed again, not reported.
                    ctx.absorbed();
                    let ack = ack.clone();
                    ctx.resend(ack);
                } else {
                    ctx.absorbed();
                }
                Next::Stay
            }
        }
    }

    fn leave_early_states(ctx: &mut Ctx<'_>) {
        ctx.disarm(TimerKind::A);
        ctx.disarm(TimerKind::B);
        ctx.disarm(TimerKind::CancelWait);
    }

    pub(super) fn on_timer(&mut self, kind: TimerKind, ctx: &mut Ctx<'_>) -> Next {
        match (&mut self.state, kind) {
            (InviteClientState::Calling { next_a }, TimerKind::A) => {
                // Timer A doubles without a cap (RFC 3261 §17.1.1.2); Timer B ends it.
                ctx.resend(self.request.clone());
                let interval = *next_a;
                *next_a = interval.saturating_mul(2);
                ctx.arm(TimerKind::A, interval);
                Next::Stay
            }
            (InviteClientState::Calling { .. }, TimerKind::B)
            | (
                InviteClientState::Calling { .. } | InviteClientState::Proceeding,
                TimerKind::CancelWait,
            ) => {
                ctx.timeout();
                Next::Terminate
            }
            (InviteClientState::Completed { .. }, TimerKind::D)
            | (InviteClientState::Accepted { .. }, TimerKind::M) => Next::Terminate,
            _ => Next::Stay,
        }
    }
}

/// The non-INVITE client transaction (RFC 3261 Figure 6).
#[derive(Debug)]
pub(super) struct NonInviteClient {
    request: Request,
    /// The interval Timer E is re-armed with next.
    next_e: Duration,
    state: NonInviteClientState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NonInviteClientState {
    Trying,
    Proceeding,
    Completed,
}

impl NonInviteClient {
    /// Sends the request and arms Timers E (UDP) and F (RFC 3261 §17.1.2.2).
    pub(super) fn start(request: Request, ctx: &mut Ctx<'_>) -> Self {
        ctx.send(request.clone());
        let t1 = ctx.config.t1;
        if !ctx.reliable() {
            ctx.arm(TimerKind::E, t1);
        }
        ctx.arm(TimerKind::F, ctx.config.timeout());
        Self {
            request,
            next_e: t1.saturating_mul(2).min(ctx.config.t2),
            state: NonInviteClientState::Trying,
        }
    }

    pub(super) fn state(&self) -> TransactionState {
        match self.state {
            NonInviteClientState::Trying => TransactionState::Trying,
            NonInviteClientState::Proceeding => TransactionState::Proceeding,
            NonInviteClientState::Completed => TransactionState::Completed,
        }
    }

    pub(super) fn on_response(&mut self, response: Response, ctx: &mut Ctx<'_>) -> Next {
        let code = response.status_code.code();
        match self.state {
            NonInviteClientState::Trying | NonInviteClientState::Proceeding => match code {
                100..=199 => {
                    // Timer E keeps its current deadline; when it fires in Proceeding it is
                    // re-armed with T2.
                    self.state = NonInviteClientState::Proceeding;
                    ctx.report(response, false);
                    Next::Stay
                }
                200..=699 => {
                    ctx.disarm(TimerKind::E);
                    ctx.disarm(TimerKind::F);
                    ctx.report(response, false);
                    if ctx.reliable() {
                        return Next::Terminate; // Timer K = 0
                    }
                    ctx.arm(TimerKind::K, ctx.config.t4);
                    self.state = NonInviteClientState::Completed;
                    Next::Stay
                }
                _ => Next::Stay,
            },
            NonInviteClientState::Completed => {
                ctx.absorbed();
                Next::Stay
            }
        }
    }

    pub(super) fn on_timer(&mut self, kind: TimerKind, ctx: &mut Ctx<'_>) -> Next {
        match (self.state, kind) {
            (NonInviteClientState::Trying, TimerKind::E) => {
                ctx.resend(self.request.clone());
                let interval = self.next_e;
                self.next_e = interval.saturating_mul(2).min(ctx.config.t2);
                ctx.arm(TimerKind::E, interval);
                Next::Stay
            }
            (NonInviteClientState::Proceeding, TimerKind::E) => {
                ctx.resend(self.request.clone());
                ctx.arm(TimerKind::E, ctx.config.t2);
                Next::Stay
            }
            (NonInviteClientState::Trying | NonInviteClientState::Proceeding, TimerKind::F) => {
                ctx.timeout();
                Next::Terminate
            }
            (NonInviteClientState::Completed, TimerKind::K) => Next::Terminate,
            _ => Next::Stay,
        }
    }
}

impl Ctx<'_> {
    /// Hands a response to the TU.
    fn report(&mut self, response: Response, retransmission: bool) {
        let id = self.id;
        self.emit(TransactionEvent::Response {
            id,
            response,
            retransmission,
        });
    }

    /// Timer B, F or the §9.1 wait fired: the TU treats it as a 408.
    fn timeout(&mut self) {
        self.out.stats.timeouts += 1;
        let id = self.id;
        self.emit(TransactionEvent::Timeout { id });
    }
}
