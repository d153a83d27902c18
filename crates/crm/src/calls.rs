//! Call records (R-TEL-2): the call card of every call, the queue event log for reports, and
//! [`Store::open_ticket_for_answered_call`], which opens the Service Request of an answered
//! call in one transaction (R-SR-1).
//!
//! Writes coming from calls are idempotent where a replay could repeat them (starting a call,
//! opening its ticket), so a journal replayed after an outage (R-SR-12) writes each row once.

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::articles::NewArticle;
use crate::error::{Error, Result, parse_by_name};
use crate::store::Store;
use crate::tickets::{NewTicket, Ticket};
use crate::types::{
    Actor, ArticleKind, Channel, CustomerId, Priority, QueueId, TicketId, TicketType, UserId,
    from_ms, name_enum, to_ms,
};

name_enum!(
    /// How the caller was identified (R-IVR-4).
    IdentityResult, "identity result", "not_attempted, pin, ani or failed" {
        /// No identification was tried.
        NotAttempted = "not_attempted",
        /// Identified by PIN typed on the keypad.
        Pin = "pin",
        /// Identified by caller number.
        Ani = "ani",
        /// Tried and failed; the call went on unidentified.
        Failed = "failed",
    }
);

name_enum!(
    /// Queue log events, as reports count them (R-ACD-*).
    QueueEventKind, "queue event",
    "enter, offer, connect, ring_no_answer, reject, abandon, left, complete, transfer or timeout" {
        /// The call entered the queue.
        Enter = "enter",
        /// The call was offered to (rang) an agent.
        Offer = "offer",
        /// An agent answered.
        Connect = "connect",
        /// The ringing agent did not answer.
        RingNoAnswer = "ring_no_answer",
        /// The offer failed otherwise (busy, declined, unreachable, withdrawn).
        Reject = "reject",
        /// The caller hung up while waiting.
        Abandon = "abandon",
        /// The call left the queue for another reason (the detail says which: the service
        /// stopped under it). Not an abandon.
        Left = "left",
        /// The conversation ended.
        Complete = "complete",
        /// The call was transferred.
        Transfer = "transfer",
        /// The call left the queue on a timeout.
        Timeout = "timeout",
    }
);

name_enum!(
    /// How a call ended.
    CallOutcome, "call outcome",
    "answered, abandoned, voicemail, ended_in_ivr, out_of_hours or interrupted" {
        /// An agent talked to the caller.
        Answered = "answered",
        /// The caller hung up while queued.
        Abandoned = "abandoned",
        /// The caller left a voicemail.
        Voicemail = "voicemail",
        /// The call ended in the IVR (invalid choices, hang-up).
        EndedInIvr = "ended_in_ivr",
        /// Out of service hours, no message.
        OutOfHours = "out_of_hours",
        /// The process stopped (crashed, killed) during the call; closed at the next start
        /// ([`Store::close_interrupted_calls`]).
        Interrupted = "interrupted",
    }
);

parse_by_name!(IdentityResult, QueueEventKind, CallOutcome);

/// A call as it enters the IVR.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NewCall {
    /// Our call id (unique across nodes).
    pub call_id: String,
    /// The SIP Call-ID.
    pub sip_call_id: Option<String>,
    /// Caller number as received.
    pub caller: String,
    /// Dialled number.
    pub dialled: String,
    /// When the call arrived.
    pub started: DateTime<Utc>,
}

/// The call card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRecord {
    /// Our call id.
    pub call_id: String,
    /// SIP Call-ID.
    pub sip_call_id: Option<String>,
    /// Caller number.
    pub caller: String,
    /// Dialled number.
    pub dialled: String,
    /// Arrival.
    pub started: DateTime<Utc>,
    /// Answer by an agent.
    pub answered: Option<DateTime<Utc>>,
    /// End.
    pub ended: Option<DateTime<Utc>>,
    /// IVR steps in order (choices and their results).
    pub ivr_path: Vec<String>,
    /// Identified customer.
    pub customer: Option<CustomerId>,
    /// Identification result.
    pub identity: IdentityResult,
    /// Queue name.
    pub queue: Option<String>,
    /// Time waited in queue, milliseconds.
    pub wait_ms: Option<u64>,
    /// Agent login.
    pub agent: Option<String>,
    /// Outcome.
    pub outcome: Option<CallOutcome>,
    /// The Service Request it opened.
    pub ticket: Option<TicketId>,
}

/// A call a previous run left open, as [`Store::close_interrupted_calls`] closed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterruptedCall {
    /// Our call id.
    pub call_id: String,
    /// Arrival.
    pub started: DateTime<Utc>,
    /// The end written: the last thing known of the call.
    pub ended: DateTime<Utc>,
}

/// One queue log row.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct QueueEvent {
    /// Call id.
    pub call_id: String,
    /// Queue name.
    pub queue: String,
    /// When.
    pub at: DateTime<Utc>,
    /// What.
    pub kind: QueueEventKind,
    /// Agent login, when one is involved.
    pub agent: Option<String>,
    /// Detail (e.g. transfer target).
    pub detail: Option<String>,
}

/// What the ACD knows when an agent answers.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AnsweredCall {
    /// The queue the call was answered from.
    pub queue: QueueId,
    /// The answering agent's user id (becomes the ticket's owner).
    pub agent: Option<UserId>,
    /// The answering agent's login (the call card keeps it).
    pub agent_login: Option<String>,
    /// Answer time.
    pub answered: DateTime<Utc>,
    /// Time waited in queue, milliseconds.
    pub wait_ms: u64,
    /// Ticket title.
    pub title: String,
    /// Ticket type (from the IVR sub-menu).
    pub ticket_type: TicketType,
    /// IVR service area.
    pub service_area: Option<String>,
}

const CALL_COLUMNS: &str = "call_id, sip_call_id, caller, dialled, started, answered, ended, \
     ivr_path, customer_id, identity_result, queue, wait_ms, agent, outcome, ticket_id";

fn call_from_row(row: &AnyRow) -> Result<CallRecord> {
    let path: String = row.try_get("ivr_path")?;
    Ok(CallRecord {
        call_id: row.try_get("call_id")?,
        sip_call_id: row.try_get("sip_call_id")?,
        caller: row.try_get("caller")?,
        dialled: row.try_get("dialled")?,
        started: from_ms(row.try_get("started")?),
        answered: row.try_get::<Option<i64>, _>("answered")?.map(from_ms),
        ended: row.try_get::<Option<i64>, _>("ended")?.map(from_ms),
        ivr_path: path.lines().map(str::to_string).collect(),
        customer: row
            .try_get::<Option<i64>, _>("customer_id")?
            .map(CustomerId),
        identity: row.try_get::<String, _>("identity_result")?.parse()?,
        queue: row.try_get("queue")?,
        wait_ms: row.try_get::<Option<i64>, _>("wait_ms")?.map(|w| w as u64),
        agent: row.try_get("agent")?,
        outcome: row
            .try_get::<Option<String>, _>("outcome")?
            .map(|o| o.parse())
            .transpose()?,
        ticket: row.try_get::<Option<i64>, _>("ticket_id")?.map(TicketId),
    })
}

impl Store {
    /// Records a call entering the IVR; a repeat with the same call id changes nothing.
    pub async fn start_call(&self, call: &NewCall) -> Result<()> {
        sqlx::query(
            "INSERT INTO calls (call_id, sip_call_id, caller, dialled, started, ivr_path, \
             identity_result) VALUES ($1, $2, $3, $4, $5, '', $6) ON CONFLICT (call_id) DO NOTHING",
        )
        .bind(&call.call_id)
        .bind(call.sip_call_id.clone())
        .bind(&call.caller)
        .bind(&call.dialled)
        .bind(to_ms(call.started))
        .bind(IdentityResult::NotAttempted.as_str())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn update_call(&self, call_id: &str, sql: &str, bind: Vec<Option<String>>) -> Result<()> {
        let mut q = sqlx::query(sql);
        for b in bind {
            q = q.bind(b);
        }
        let done = q.bind(call_id).execute(&self.pool).await?;
        if done.rows_affected() == 0 {
            return Err(Error::not_found("call", call_id));
        }
        Ok(())
    }

    /// Appends one IVR step (e.g. `menu:2`, `pin:ok`) to the call card.
    pub async fn record_ivr_step(&self, call_id: &str, step: &str) -> Result<()> {
        let step = step.replace(['\n', '\r'], " ");
        let c = self.call(call_id).await?;
        let mut path = c.ivr_path;
        path.push(step);
        self.update_call(
            call_id,
            "UPDATE calls SET ivr_path = $1 WHERE call_id = $2",
            vec![Some(path.join("\n"))],
        )
        .await
    }

    /// Records the identification result (R-IVR-4).
    pub async fn set_call_identity(
        &self,
        call_id: &str,
        customer: Option<CustomerId>,
        result: IdentityResult,
    ) -> Result<()> {
        let done = sqlx::query(
            "UPDATE calls SET customer_id = $1, identity_result = $2 WHERE call_id = $3",
        )
        .bind(customer.map(|c| c.0))
        .bind(result.as_str())
        .bind(call_id)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(Error::not_found("call", call_id));
        }
        Ok(())
    }

    /// Records the end of the call.
    pub async fn end_call(
        &self,
        call_id: &str,
        ended: DateTime<Utc>,
        outcome: CallOutcome,
    ) -> Result<()> {
        let done = sqlx::query("UPDATE calls SET ended = $1, outcome = $2 WHERE call_id = $3")
            .bind(to_ms(ended))
            .bind(outcome.as_str())
            .bind(call_id)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(Error::not_found("call", call_id));
        }
        Ok(())
    }

    /// Closes every call record a previous run left open (no end: the process stopped
    /// during the call) with the outcome `interrupted`. Its end is the last time anything
    /// is known of it: its latest event in the event log or queue log, else its start
    /// (the moment of the crash itself is not known; this is the lower bound). Run at start,
    /// after the journal's replay (a journaled end wins: it is replayed first) and before
    /// any call of this run starts. A repeat closes nothing more.
    pub async fn close_interrupted_calls(&self) -> Result<Vec<InterruptedCall>> {
        let mut tx = self.begin_write().await?;
        let rows = sqlx::query(
            "SELECT c.call_id, c.started, \
             (SELECT MAX(e.at) FROM event_log e WHERE e.call_id = c.call_id) AS last_event, \
             (SELECT MAX(q.at) FROM queue_events q WHERE q.call_id = c.call_id) AS last_queue \
             FROM calls c WHERE c.ended IS NULL ORDER BY c.started, c.call_id",
        )
        .fetch_all(&mut *tx)
        .await?;
        let mut closed = Vec::with_capacity(rows.len());
        for r in &rows {
            let started: i64 = r.try_get("started")?;
            let last = [
                r.try_get::<Option<i64>, _>("last_event")?,
                r.try_get::<Option<i64>, _>("last_queue")?,
            ]
            .into_iter()
            .flatten()
            .fold(started, i64::max);
            let call_id: String = r.try_get("call_id")?;
            sqlx::query(
                "UPDATE calls SET ended = $1, outcome = $2 WHERE call_id = $3 AND ended IS NULL",
            )
            .bind(last)
            .bind(CallOutcome::Interrupted.as_str())
            .bind(&call_id)
            .execute(&mut *tx)
            .await?;
            closed.push(InterruptedCall {
                call_id,
                started: from_ms(started),
                ended: from_ms(last),
            });
        }
        tx.commit().await?;
        Ok(closed)
    }

    /// Appends a queue log event (and sets the call card's queue on `enter`).
    pub async fn queue_event(&self, ev: &QueueEvent) -> Result<()> {
        let mut tx = self.begin_write().await?;
        insert_queue_event_in_tx(&mut tx, ev).await?;
        tx.commit().await?;
        Ok(())
    }

    /// A call's queue events in order.
    pub async fn queue_events(&self, call_id: &str) -> Result<Vec<QueueEvent>> {
        let rows = sqlx::query(
            "SELECT call_id, queue, at, kind, agent, detail FROM queue_events WHERE call_id = $1 ORDER BY id",
        )
        .bind(call_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(QueueEvent {
                    call_id: r.try_get("call_id")?,
                    queue: r.try_get("queue")?,
                    at: from_ms(r.try_get("at")?),
                    kind: r.try_get::<String, _>("kind")?.parse()?,
                    agent: r.try_get("agent")?,
                    detail: r.try_get("detail")?,
                })
            })
            .collect()
    }

    /// The call card by our call id.
    pub async fn call(&self, call_id: &str) -> Result<CallRecord> {
        let sql = format!("SELECT {CALL_COLUMNS} FROM calls WHERE call_id = $1");
        let row = sqlx::query(&sql)
            .bind(call_id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| Error::not_found("call", call_id))?;
        call_from_row(&row)
    }

    /// The call card by SIP Call-ID.
    pub async fn call_by_sip_call_id(&self, sip_call_id: &str) -> Result<Option<CallRecord>> {
        let sql = format!("SELECT {CALL_COLUMNS} FROM calls WHERE sip_call_id = $1");
        let row = sqlx::query(&sql)
            .bind(sip_call_id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(call_from_row).transpose()
    }

    /// Opens the Service Request of an answered call, in one transaction (R-SR-1): a `phone`
    /// ticket in the answering queue, owned by the agent, for the identified customer (or the
    /// caller's guest customer, created on the fly when needed), with the
    /// call id and service area; a `phone_received` article naming the caller and the wait;
    /// the call card's answer time, wait, agent and ticket. (The `connect` row of the queue
    /// log is the event log's: it comes from the ACD's `queue.connected` event, written
    /// whether or not a ticket opens, see [`Store::append_event`].)
    /// Called again for the same call, it returns the ticket already opened.
    pub async fn open_ticket_for_answered_call(
        &self,
        call_id: &str,
        answered: AnsweredCall,
        now: DateTime<Utc>,
    ) -> Result<Ticket> {
        let mut tx = self.begin_write().await?;
        let sql = format!(
            "SELECT {CALL_COLUMNS} FROM calls WHERE call_id = $1{}",
            self.for_update()
        );
        let row = sqlx::query(&sql)
            .bind(call_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| Error::not_found("call", call_id))?;
        let call = call_from_row(&row)?;
        if let Some(t) = call.ticket {
            let t = self.ticket_in_tx(&mut tx, t).await?;
            tx.commit().await?;
            return Ok(t);
        }
        let queue_name = crate::queues::queue_name_in_tx(&mut tx, answered.queue).await?;
        let customer = match call.customer {
            Some(c) => Some(c),
            None => {
                self.guest_for_caller_in_tx(&mut tx, &call.caller, now)
                    .await?
            }
        };
        let new = NewTicket {
            title: answered.title.clone(),
            queue: Some(answered.queue),
            priority: Priority::NORMAL,
            ticket_type: answered.ticket_type,
            channel: Channel::Phone,
            customer,
            call_id: Some(call_id.to_string()),
            service_area: answered.service_area.clone(),
            owner: answered.agent,
            responsible: None,
        };
        let actor = answered.agent.map_or(Actor::System, Actor::User);
        let id = self
            .create_in_tx(&mut tx, &new, Actor::System, now)
            .await?
            .id;
        let body = format!(
            "call {call_id} from {} to {}, waited {} s in queue {queue_name}",
            call.caller,
            call.dialled,
            answered.wait_ms / 1000
        );
        let article = NewArticle::new(
            ArticleKind::PhoneReceived,
            &call.caller,
            &answered.title,
            body,
        );
        self.add_article_in_tx(&mut tx, id, actor, &article, now)
            .await?;
        sqlx::query(
            "UPDATE calls SET answered = $1, wait_ms = $2, agent = $3, queue = $4, ticket_id = $5 \
             WHERE call_id = $6",
        )
        .bind(to_ms(answered.answered))
        .bind(answered.wait_ms as i64)
        .bind(answered.agent_login.clone())
        .bind(&queue_name)
        .bind(id.0)
        .bind(call_id)
        .execute(&mut *tx)
        .await?;
        let t = self.ticket_in_tx(&mut tx, id).await?;
        tx.commit().await?;
        Ok(t)
    }
}

/// Writes one queue log row inside `tx` (and sets the call card's queue on `enter`): the one
/// place queue log rows are inserted.
pub(crate) async fn insert_queue_event_in_tx(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    ev: &QueueEvent,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO queue_events (call_id, queue, at, kind, agent, detail) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&ev.call_id)
    .bind(&ev.queue)
    .bind(to_ms(ev.at))
    .bind(ev.kind.as_str())
    .bind(ev.agent.clone())
    .bind(ev.detail.clone())
    .execute(&mut **tx)
    .await?;
    if ev.kind == QueueEventKind::Enter {
        sqlx::query("UPDATE calls SET queue = $1 WHERE call_id = $2")
            .bind(&ev.queue)
            .bind(&ev.call_id)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}
