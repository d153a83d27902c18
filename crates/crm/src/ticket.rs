//! The Service Request as a value: the stored ticket, what a new one needs, a history row,
//! and how a row of `tickets` reads back. No statements run here.

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::clocks::TicketSla;
use crate::error::Result;
use crate::lifecycle::{Snapshot, State};
use crate::types::{
    Channel, CustomerId, Priority, QueueId, TicketId, TicketType, UserId, flag, from_ms,
};

/// A Service Request as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    /// Internal id.
    pub id: TicketId,
    /// OTRS DateChecksum number, e.g. `2019031942000015`.
    pub number: String,
    /// Title (subject).
    pub title: String,
    /// Current queue.
    pub queue: QueueId,
    /// Life-cycle state.
    pub state: State,
    /// Whether locked by its owner.
    pub locked: bool,
    /// Owner.
    pub owner: Option<UserId>,
    /// Responsible.
    pub responsible: Option<UserId>,
    /// Priority 1–5.
    pub priority: Priority,
    /// Type.
    pub ticket_type: TicketType,
    /// Channel it came in on.
    pub channel: Channel,
    /// Customer, if identified.
    pub customer: Option<CustomerId>,
    /// The call id of the call that opened it (R-SR-1, R-TEL-2).
    pub call_id: Option<String>,
    /// The IVR service area.
    pub service_area: Option<String>,
    /// Parent ticket (R-SR-8).
    pub parent: Option<TicketId>,
    /// The ticket this one was merged into.
    pub merged_into: Option<TicketId>,
    /// Creation time.
    pub created: DateTime<Utc>,
    /// Last change.
    pub changed: DateTime<Utc>,
    /// When it was closed (cleared on reopen).
    pub closed: Option<DateTime<Utc>>,
    /// Pending reminder time.
    pub pending_until: Option<DateTime<Utc>>,
    /// Escalation clocks (first response, update, solution; see [`crate::sla`]).
    pub sla: TicketSla,
}

impl Ticket {
    /// The life-cycle view of this ticket.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            state: self.state,
            locked: self.locked,
            owner: self.owner,
            responsible: self.responsible,
            queue: self.queue,
            priority: self.priority,
            ticket_type: self.ticket_type,
            pending_until: self.pending_until,
        }
    }
}

/// What a new ticket needs; `queue: None` puts it in `raw`.
#[derive(Debug, Clone)]
pub struct NewTicket {
    /// Title.
    pub title: String,
    /// Target queue; `None` is the `raw` queue.
    pub queue: Option<QueueId>,
    /// Priority (default 3).
    pub priority: Priority,
    /// Type (default `other`).
    pub ticket_type: TicketType,
    /// Channel.
    pub channel: Channel,
    /// Customer.
    pub customer: Option<CustomerId>,
    /// Call id.
    pub call_id: Option<String>,
    /// Service area.
    pub service_area: Option<String>,
    /// Owner assigned at creation (seed 000 §4.4.1).
    pub owner: Option<UserId>,
    /// Responsible assigned at creation.
    pub responsible: Option<UserId>,
}

impl NewTicket {
    /// A ticket with defaults: raw queue, priority 3, type other.
    pub fn new(title: impl Into<String>, channel: Channel) -> Self {
        NewTicket {
            title: title.into(),
            queue: None,
            priority: Priority::NORMAL,
            ticket_type: TicketType::Other,
            channel,
            customer: None,
            call_id: None,
            service_area: None,
            owner: None,
            responsible: None,
        }
    }
}

/// One history row: who changed what, old → new, when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    /// When.
    pub at: DateTime<Utc>,
    /// Who (`None`: the system).
    pub actor: Option<UserId>,
    /// What: `created`, `state`, `lock`, `owner`, `queue`, `article`, `link`, …
    pub kind: String,
    /// Old value.
    pub old: Option<String>,
    /// New value.
    pub new: Option<String>,
    /// Free note (reason, article id, …).
    pub note: Option<String>,
}

pub(crate) const TICKET_COLUMNS: &str = "id, number, title, queue_id, state, locked, owner_id, \
     responsible_id, priority, ticket_type, channel, customer_id, call_id, service_area, \
     parent_id, merged_into, created, changed, closed, pending_until, first_response_due, \
     first_response_at, update_due, update_from, solution_due";

pub(crate) fn ticket_from_row(row: &AnyRow) -> Result<Ticket> {
    let priority: i64 = row.try_get("priority")?;
    Ok(Ticket {
        id: TicketId(row.try_get("id")?),
        number: row.try_get("number")?,
        title: row.try_get("title")?,
        queue: QueueId(row.try_get("queue_id")?),
        state: row.try_get::<String, _>("state")?.parse()?,
        locked: flag(row, "locked")?,
        owner: row.try_get::<Option<i64>, _>("owner_id")?.map(UserId),
        responsible: row.try_get::<Option<i64>, _>("responsible_id")?.map(UserId),
        priority: Priority::new(u8::try_from(priority).unwrap_or(0))?,
        ticket_type: row.try_get::<String, _>("ticket_type")?.parse()?,
        channel: row.try_get::<String, _>("channel")?.parse()?,
        customer: row
            .try_get::<Option<i64>, _>("customer_id")?
            .map(CustomerId),
        call_id: row.try_get("call_id")?,
        service_area: row.try_get("service_area")?,
        parent: row.try_get::<Option<i64>, _>("parent_id")?.map(TicketId),
        merged_into: row.try_get::<Option<i64>, _>("merged_into")?.map(TicketId),
        created: from_ms(row.try_get("created")?),
        changed: from_ms(row.try_get("changed")?),
        closed: row.try_get::<Option<i64>, _>("closed")?.map(from_ms),
        pending_until: row.try_get::<Option<i64>, _>("pending_until")?.map(from_ms),
        sla: TicketSla {
            first_response_due: ms(row, "first_response_due")?,
            first_response_at: ms(row, "first_response_at")?,
            update_due: ms(row, "update_due")?,
            update_from: ms(row, "update_from")?,
            solution_due: ms(row, "solution_due")?,
        },
    })
}

fn ms(row: &AnyRow, column: &str) -> Result<Option<DateTime<Utc>>> {
    Ok(row.try_get::<Option<i64>, _>(column)?.map(from_ms))
}
