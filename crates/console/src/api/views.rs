//! JSON views of the store's records, with ids turned into the names operators use (queue
//! names, logins, ticket numbers). [`Names`] caches the lookups of one request.

use std::collections::HashMap;

use crm::{Article, CallRecord, Customer, HistoryEntry, QueueId, Ticket, TicketId, UserId};
use serde_json::{Value, json};

use super::Api;
use super::error::ApiResult;

/// Id → name lookups for one request.
pub struct Names<'a> {
    api: &'a Api,
    queues: HashMap<QueueId, String>,
    users: HashMap<UserId, String>,
    tickets: HashMap<TicketId, String>,
}

impl<'a> Names<'a> {
    /// Loads the queue names (a few dozen rows).
    pub async fn new(api: &'a Api) -> ApiResult<Self> {
        let queues = api
            .store()
            .queues()
            .await?
            .into_iter()
            .map(|q| (q.id, q.name))
            .collect();
        Ok(Names {
            api,
            queues,
            users: HashMap::new(),
            tickets: HashMap::new(),
        })
    }

    /// A queue's name (its id if it vanished).
    pub fn queue(&self, id: QueueId) -> String {
        self.queues
            .get(&id)
            .cloned()
            .unwrap_or_else(|| id.to_string())
    }

    /// A user's login (their id if unknown).
    pub async fn user(&mut self, id: UserId) -> ApiResult<String> {
        if let Some(l) = self.users.get(&id) {
            return Ok(l.clone());
        }
        let login = match self.api.store().user(id).await {
            Ok(u) => u.login,
            Err(crm::Error::NotFound { .. }) => id.to_string(),
            Err(e) => return Err(e.into()),
        };
        self.users.insert(id, login.clone());
        Ok(login)
    }

    async fn user_opt(&mut self, id: Option<UserId>) -> ApiResult<Option<String>> {
        match id {
            Some(id) => Ok(Some(self.user(id).await?)),
            None => Ok(None),
        }
    }

    /// A ticket's number.
    pub async fn ticket_number(&mut self, id: TicketId) -> ApiResult<String> {
        if let Some(n) = self.tickets.get(&id) {
            return Ok(n.clone());
        }
        let number = self.api.store().ticket(id).await?.number;
        self.tickets.insert(id, number.clone());
        Ok(number)
    }

    async fn ticket_opt(&mut self, id: Option<TicketId>) -> ApiResult<Option<String>> {
        match id {
            Some(id) => Ok(Some(self.ticket_number(id).await?)),
            None => Ok(None),
        }
    }

    /// The ticket as JSON.
    pub async fn ticket(&mut self, t: &Ticket) -> ApiResult<Value> {
        self.tickets.insert(t.id, t.number.clone());
        Ok(json!({
            "number": t.number,
            "title": t.title,
            "queue": self.queue(t.queue),
            "state": t.state,
            "locked": t.locked,
            "owner": self.user_opt(t.owner).await?,
            "responsible": self.user_opt(t.responsible).await?,
            "priority": t.priority.get(),
            "type": t.ticket_type,
            "channel": t.channel,
            "customer_id": t.customer.map(|c| c.0),
            "call_id": t.call_id,
            "service_area": t.service_area,
            "parent": self.ticket_opt(t.parent).await?,
            "merged_into": self.ticket_opt(t.merged_into).await?,
            "created": t.created,
            "changed": t.changed,
            "closed": t.closed,
            "pending_until": t.pending_until,
        }))
    }

    /// An article as JSON (attachments listed, not inlined).
    pub async fn article(&mut self, a: &Article) -> ApiResult<Value> {
        let number = if a.attachments.is_empty() {
            String::new()
        } else {
            self.ticket_number(a.ticket).await?
        };
        let attachments: Vec<Value> = a
            .attachments
            .iter()
            .map(|x| {
                json!({
                    "sha256": x.sha256,
                    "filename": x.filename,
                    "content_type": x.content_type,
                    "size": x.size,
                    "url": super::attachments::url(&number, &x.sha256),
                })
            })
            .collect();
        Ok(json!({
            "id": a.id.0,
            "kind": a.kind,
            "customer_visible": a.customer_visible,
            "sender": a.sender,
            "subject": a.subject,
            "body": a.body,
            "created": a.created,
            "created_by": self.user_opt(a.created_by).await?,
            "attachments": attachments,
        }))
    }

    /// A history row as JSON; user and queue ids in the values become logins and names.
    pub async fn history(&mut self, h: &HistoryEntry) -> ApiResult<Value> {
        let (old, new) = match h.kind.as_str() {
            "owner" | "responsible" => (
                self.user_text(h.old.as_deref()).await?,
                self.user_text(h.new.as_deref()).await?,
            ),
            "queue" | "assignment" | "assignment_rejected" => (
                self.queue_text(h.old.as_deref()),
                self.queue_text(h.new.as_deref()),
            ),
            _ => (h.old.clone(), h.new.clone()),
        };
        Ok(json!({
            "at": h.at,
            "actor": self.user_opt(h.actor).await?,
            "kind": h.kind,
            "old": old,
            "new": new,
            "note": h.note,
        }))
    }

    async fn user_text(&mut self, v: Option<&str>) -> ApiResult<Option<String>> {
        match v.map(|s| s.parse::<i64>()) {
            Some(Ok(id)) => Ok(Some(self.user(UserId(id)).await?)),
            _ => Ok(v.map(str::to_string)),
        }
    }

    fn queue_text(&self, v: Option<&str>) -> Option<String> {
        match v.map(|s| s.parse::<i64>()) {
            Some(Ok(id)) => Some(self.queue(QueueId(id))),
            _ => v.map(str::to_string),
        }
    }

    /// The call card (CONTRACT.md): caller, dialled, times, IVR path, customer, queue, wait,
    /// agent, outcome, Service Request number.
    pub async fn call(&mut self, c: &CallRecord) -> ApiResult<Value> {
        Ok(json!({
            "call_id": c.call_id,
            "sip_call_id": c.sip_call_id,
            "caller": c.caller,
            "dialled": c.dialled,
            "started": c.started,
            "answered": c.answered,
            "ended": c.ended,
            "ivr_path": c.ivr_path,
            "customer_id": c.customer.map(|x| x.0),
            "identity": c.identity,
            "queue": c.queue,
            "wait_ms": c.wait_ms,
            "agent": c.agent,
            "outcome": c.outcome,
            "ticket": self.ticket_opt(c.ticket).await?,
        }))
    }
}

/// A customer as JSON: the PIN never, only whether one is set.
pub fn customer(c: &Customer) -> Value {
    json!({
        "id": c.id.0,
        "full_name": c.full_name,
        "organisation": c.organisation,
        "email": c.email,
        "guest": c.guest,
        "has_pin": c.has_pin,
        "phones": c.phones,
    })
}
