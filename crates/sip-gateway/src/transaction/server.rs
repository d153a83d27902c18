//! Server transactions: INVITE (RFC 3261 §17.2.1, with RFC 6026's Accepted state) and
//! non-INVITE (RFC 3261 §17.2.2).

use std::time::Duration;

use rsip::{Request, Response, StatusCode};

use super::context::{Ctx, Next};
use super::key::response_to;
use super::timer::TimerKind;
use super::{TransactionError, TransactionEvent, TransactionState};

/// How long the TU has to send a provisional before the layer sends `100 Trying` itself
/// (RFC 3261 §17.2.1).
pub(super) const TRYING_DELAY: Duration = Duration::from_millis(200);

/// The INVITE server transaction (RFC 3261 Figure 7, RFC 6026 Figure 5).
#[derive(Debug)]
pub(super) struct InviteServer {
    state: InviteServerState,
}

#[derive(Debug)]
enum InviteServerState {
    /// Waiting for the TU. `request` is kept to build `100 Trying`; `last` is the most recent
    /// provisional, re-sent when the INVITE is retransmitted.
    Proceeding {
        request: Box<Request>,
        last: Option<Response>,
    },
    /// A 2xx was sent (RFC 6026 §8.7): retransmitted (RFC 3261 §13.3.1.4) until its ACK comes;
    /// INVITE retransmissions are absorbed until Timer L.
    Accepted {
        response: Response,
        next_interval: Duration,
        acked: bool,
    },
    /// A 3xx-6xx was sent: re-sent on Timer G (UDP) and on INVITE retransmissions, until the ACK
    /// or Timer H.
    Completed {
        response: Response,
        next_g: Duration,
    },
    /// The ACK came: absorb ACK retransmissions until Timer I.
    Confirmed,
}

impl InviteServer {
    /// A new INVITE: Proceeding, with 200 ms for the TU to send a provisional.
    pub(super) fn start(request: Request, ctx: &mut Ctx<'_>) -> Self {
        ctx.arm(TimerKind::Trying, TRYING_DELAY);
        Self {
            state: InviteServerState::Proceeding {
                request: Box::new(request),
                last: None,
            },
        }
    }

    pub(super) fn state(&self) -> TransactionState {
        match self.state {
            InviteServerState::Proceeding { .. } => TransactionState::Proceeding,
            InviteServerState::Accepted { .. } => TransactionState::Accepted,
            InviteServerState::Completed { .. } => TransactionState::Completed,
            InviteServerState::Confirmed => TransactionState::Confirmed,
        }
    }

    /// The INVITE was retransmitted (RFC 3261 §17.2.1, RFC 6026 §8.7).
    pub(super) fn on_retransmission(&mut self, ctx: &mut Ctx<'_>) {
        ctx.absorbed();
        match &self.state {
            InviteServerState::Proceeding {
                last: Some(last), ..
            } => ctx.resend(last.clone()),
            InviteServerState::Completed { response, .. } => ctx.resend(response.clone()),
            // Before the TU or the 100 Trying timer speaks there is nothing to re-send; in
            // Accepted the 2xx is retransmitted on its own schedule (RFC 6026 §7.1).
            _ => {}
        }
    }

    /// An ACK that matched this transaction's branch (RFC 3261 §17.2.1). Returns whether it is
    /// the ACK for a 2xx, which the TU must see.
    pub(super) fn on_ack(&mut self, ctx: &mut Ctx<'_>) -> (Next, bool) {
        match self.state {
            InviteServerState::Completed { .. } => {
                ctx.disarm(TimerKind::G);
                ctx.disarm(TimerKind::H);
                if ctx.reliable() {
                    return (Next::Terminate, false); // Timer I = 0
                }
                ctx.arm(TimerKind::I, ctx.config.t4);
                self.state = InviteServerState::Confirmed;
                (Next::Stay, false)
            }
            InviteServerState::Confirmed => {
                ctx.absorbed();
                (Next::Stay, false)
            }
            InviteServerState::Accepted { .. } => {
                self.on_ack_for_2xx(ctx);
                (Next::Stay, true)
            }
            // No final response yet: nothing to acknowledge.
            InviteServerState::Proceeding { .. } => (Next::Stay, false),
        }
    }

    /// The ACK for the 2xx arrived: stop retransmitting it; stay until Timer L to absorb INVITE
    /// retransmissions (RFC 6026 §8.7).
    pub(super) fn on_ack_for_2xx(&mut self, ctx: &mut Ctx<'_>) {
        if let InviteServerState::Accepted { acked, .. } = &mut self.state {
            if *acked {
                ctx.absorbed();
            }
            *acked = true;
            ctx.disarm(TimerKind::Retransmit2xx);
        }
    }

    pub(super) fn send_response(
        &mut self,
        response: Response,
        ctx: &mut Ctx<'_>,
    ) -> Result<Next, TransactionError> {
        let status = response.status_code.code();
        match (&mut self.state, status) {
            (InviteServerState::Proceeding { last, .. }, 100..=199) => {
                ctx.disarm(TimerKind::Trying);
                ctx.send(response.clone());
                *last = Some(response);
            }
            (InviteServerState::Proceeding { .. }, 200..=299) => {
                ctx.disarm(TimerKind::Trying);
                ctx.send(response.clone());
                let t1 = ctx.config.t1;
                ctx.arm(TimerKind::Retransmit2xx, t1);
                ctx.arm(TimerKind::L, ctx.config.timeout());
                self.state = InviteServerState::Accepted {
                    response,
                    next_interval: t1.saturating_mul(2).min(ctx.config.t2),
                    acked: false,
                };
            }
            (InviteServerState::Proceeding { .. }, 300..=699) => {
                ctx.disarm(TimerKind::Trying);
                ctx.send(response.clone());
                let t1 = ctx.config.t1;
                if !ctx.reliable() {
                    ctx.arm(TimerKind::G, t1);
                }
                ctx.arm(TimerKind::H, ctx.config.timeout());
                self.state = InviteServerState::Completed {
                    response,
                    next_g: t1.saturating_mul(2).min(ctx.config.t2),
                };
            }
            // RFC 6026 §8.7: further 2xx from the TU in Accepted are sent.
            (
                InviteServerState::Accepted {
                    response: stored, ..
                },
                200..=299,
            ) => {
                ctx.send(response.clone());
                *stored = response;
            }
            _ => {
                return Err(TransactionError::InvalidState {
                    id: ctx.id,
                    state: self.state(),
                    status,
                });
            }
        }
        Ok(Next::Stay)
    }

    pub(super) fn on_timer(&mut self, kind: TimerKind, ctx: &mut Ctx<'_>) -> Next {
        match (&mut self.state, kind) {
            (InviteServerState::Proceeding { request, last }, TimerKind::Trying) => {
                if last.is_none() {
                    let trying = response_to(request, StatusCode::Trying);
                    ctx.send(trying.clone());
                    ctx.out.stats.trying_sent += 1;
                    *last = Some(trying);
                }
                Next::Stay
            }
            (InviteServerState::Completed { response, next_g }, TimerKind::G) => {
                let interval = *next_g;
                *next_g = interval.saturating_mul(2).min(ctx.config.t2);
                let response = response.clone();
                ctx.resend(response);
                ctx.arm(TimerKind::G, interval);
                Next::Stay
            }
            (
                InviteServerState::Accepted {
                    response,
                    next_interval,
                    acked: false,
                },
                TimerKind::Retransmit2xx,
            ) => {
                let interval = *next_interval;
                *next_interval = interval.saturating_mul(2).min(ctx.config.t2);
                let response = response.clone();
                ctx.resend(response);
                ctx.arm(TimerKind::Retransmit2xx, interval);
                Next::Stay
            }
            (InviteServerState::Completed { response, .. }, TimerKind::H) => {
                let final_status = response.status_code.code();
                ctx.ack_timeout(final_status);
                Next::Terminate
            }
            (
                InviteServerState::Accepted {
                    response, acked, ..
                },
                TimerKind::L,
            ) => {
                if !*acked {
                    let final_status = response.status_code.code();
                    ctx.ack_timeout(final_status);
                }
                Next::Terminate
            }
            (InviteServerState::Confirmed, TimerKind::I) => Next::Terminate,
            _ => Next::Stay,
        }
    }
}

/// The non-INVITE server transaction (RFC 3261 Figure 8).
#[derive(Debug)]
pub(super) struct NonInviteServer {
    state: NonInviteServerState,
}

#[derive(Debug)]
enum NonInviteServerState {
    /// No response yet: retransmissions are absorbed silently.
    Trying,
    /// A provisional was sent; re-sent on retransmissions.
    Proceeding { last: Response },
    /// A final was sent; re-sent on retransmissions until Timer J.
    Completed { last: Response },
}

impl NonInviteServer {
    pub(super) fn start() -> Self {
        Self {
            state: NonInviteServerState::Trying,
        }
    }

    pub(super) fn state(&self) -> TransactionState {
        match self.state {
            NonInviteServerState::Trying => TransactionState::Trying,
            NonInviteServerState::Proceeding { .. } => TransactionState::Proceeding,
            NonInviteServerState::Completed { .. } => TransactionState::Completed,
        }
    }

    /// The request was retransmitted: re-send the last response, if any (RFC 3261 §17.2.2).
    pub(super) fn on_retransmission(&mut self, ctx: &mut Ctx<'_>) {
        ctx.absorbed();
        match &self.state {
            NonInviteServerState::Trying => {}
            NonInviteServerState::Proceeding { last }
            | NonInviteServerState::Completed { last } => {
                ctx.resend(last.clone());
            }
        }
    }

    pub(super) fn send_response(
        &mut self,
        response: Response,
        ctx: &mut Ctx<'_>,
    ) -> Result<Next, TransactionError> {
        let status = response.status_code.code();
        if matches!(self.state, NonInviteServerState::Completed { .. }) {
            return Err(TransactionError::InvalidState {
                id: ctx.id,
                state: self.state(),
                status,
            });
        }
        ctx.send(response.clone());
        if status < 200 {
            self.state = NonInviteServerState::Proceeding { last: response };
            return Ok(Next::Stay);
        }
        if ctx.reliable() {
            return Ok(Next::Terminate); // Timer J = 0
        }
        ctx.arm(TimerKind::J, ctx.config.timeout());
        self.state = NonInviteServerState::Completed { last: response };
        Ok(Next::Stay)
    }

    pub(super) fn on_timer(&mut self, kind: TimerKind) -> Next {
        match (&self.state, kind) {
            (NonInviteServerState::Completed { .. }, TimerKind::J) => Next::Terminate,
            _ => Next::Stay,
        }
    }
}

impl Ctx<'_> {
    /// Timer H or L fired without the ACK.
    fn ack_timeout(&mut self, final_status: u16) {
        self.out.stats.ack_timeouts += 1;
        let id = self.id;
        self.emit(TransactionEvent::AckTimeout { id, final_status });
    }
}
