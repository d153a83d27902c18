//! The events the ticket routes publish (issue 12): `ticket.created` for every ticket the API
//! opens (so `centralino_tickets_created_total` counts every channel) and `ticket.updated`
//! with what changed, by name (logins, queue names, numbers), compared before and after.

use ::events::{Event, TicketChange, TicketChannel, TicketField};
use crm::{ArticleKind, Ticket, User};

use super::Api;
use super::error::ApiResult;
use super::views::Names;

/// Publishes `ticket.created` for `t`, opened by the operator `by` (none: the web form).
pub async fn created(api: &Api, t: &Ticket, by: Option<&User>) -> ApiResult<()> {
    let mut names = Names::new(api).await?;
    let owner = match t.owner {
        Some(id) => Some(names.user(id).await?),
        None => None,
    };
    api.publish(Event::TicketCreated {
        number: t.number.clone(),
        queue: names.queue(t.queue),
        channel: channel(t.channel),
        call_id: t.call_id.clone(),
        owner,
        by: by.map(|u| u.login.clone()),
    });
    Ok(())
}

/// The vocabulary's name of a CRM channel (the same names).
fn channel(c: crm::Channel) -> TicketChannel {
    match c {
        crm::Channel::Phone => TicketChannel::Phone,
        crm::Channel::Email => TicketChannel::Email,
        crm::Channel::Voicemail => TicketChannel::Voicemail,
        crm::Channel::Web => TicketChannel::Web,
        crm::Channel::Fax => TicketChannel::Fax,
    }
}

/// The change of an added article.
pub fn article(kind: ArticleKind) -> TicketChange {
    TicketChange {
        field: TicketField::Article,
        old: None,
        new: Some(kind.as_str().to_string()),
    }
}

/// Publishes `ticket.updated` for what differs between `before` and `after`, plus `extra`
/// (an added article); nothing when nothing changed.
pub async fn updated(
    api: &Api,
    by: &User,
    before: &Ticket,
    after: &Ticket,
    extra: Vec<TicketChange>,
) -> ApiResult<()> {
    let mut names = Names::new(api).await?;
    let mut changes = Vec::new();
    let mut push = |field, old: Option<String>, new: Option<String>| {
        if old != new {
            changes.push(TicketChange { field, old, new });
        }
    };
    let text = |v: &dyn ToString| Some(v.to_string());
    push(TicketField::State, text(&before.state), text(&after.state));
    push(TicketField::Lock, text(&before.locked), text(&after.locked));
    push(
        TicketField::Queue,
        Some(names.queue(before.queue)),
        Some(names.queue(after.queue)),
    );
    push(
        TicketField::Priority,
        text(&before.priority),
        text(&after.priority),
    );
    push(
        TicketField::Type,
        text(&before.ticket_type),
        text(&after.ticket_type),
    );
    push(
        TicketField::PendingUntil,
        before.pending_until.map(|t| t.to_rfc3339()),
        after.pending_until.map(|t| t.to_rfc3339()),
    );
    for (field, old, new) in [
        (TicketField::Owner, before.owner, after.owner),
        (
            TicketField::Responsible,
            before.responsible,
            after.responsible,
        ),
    ] {
        if old != new {
            let old = match old {
                Some(id) => Some(names.user(id).await?),
                None => None,
            };
            let new = match new {
                Some(id) => Some(names.user(id).await?),
                None => None,
            };
            changes.push(TicketChange { field, old, new });
        }
    }
    for (field, old, new) in [
        (TicketField::Parent, before.parent, after.parent),
        (
            TicketField::MergedInto,
            before.merged_into,
            after.merged_into,
        ),
    ] {
        if old != new {
            let old = match old {
                Some(id) => Some(names.ticket_number(id).await?),
                None => None,
            };
            let new = match new {
                Some(id) => Some(names.ticket_number(id).await?),
                None => None,
            };
            changes.push(TicketChange { field, old, new });
        }
    }
    changes.extend(extra);
    if changes.is_empty() {
        return Ok(());
    }
    let owner = match after.owner {
        Some(id) => Some(names.user(id).await?),
        None => None,
    };
    api.publish(Event::TicketUpdated {
        number: after.number.clone(),
        queue: names.queue(after.queue),
        owner,
        by: Some(by.login.clone()),
        changes,
    });
    Ok(())
}

/// Publishes what filing an e-mail did (issue 16): `ticket.created` for a ticket it opened,
/// else `ticket.updated` with the article it added (`email_in`, or `fax` on a fax ticket)
/// and, when it reopened the ticket, the state; by nobody (the citizen wrote).
pub async fn mail_filed(
    store: &crm::Store,
    bus: &::events::EventBus,
    filed: &crm::MailFiled,
) -> crm::Result<()> {
    let t = store.ticket(filed.ticket).await?;
    let queue = store.queue(t.queue).await?.name;
    let owner = match t.owner {
        Some(id) => Some(store.user(id).await?.login),
        None => None,
    };
    if filed.opened {
        bus.publish(Event::TicketCreated {
            number: t.number.clone(),
            queue,
            channel: channel(t.channel),
            call_id: None,
            owner,
            by: None,
        });
        return Ok(());
    }
    let kind = if t.channel == crm::Channel::Fax {
        ArticleKind::Fax
    } else {
        ArticleKind::EmailIn
    };
    let mut changes = Vec::new();
    if filed.reopened {
        changes.push(TicketChange {
            field: TicketField::State,
            old: None,
            new: Some(t.state.to_string()),
        });
    }
    changes.push(article(kind));
    bus.publish(Event::TicketUpdated {
        number: t.number.clone(),
        queue,
        owner,
        by: None,
        changes,
    });
    Ok(())
}
