//! A recorded message becomes a Service Request (R-VM-1): channel voicemail, in the mailbox's
//! queue, for the customer whose number called (or a guest), with the WAV attached and the
//! call linked. A second message from the same number while that customer's voicemail ticket
//! is still `new` joins it as another article.
//!
//! The WAV stays in the data directory whatever happens here: if the database cannot take
//! the ticket after a few tries, the message is logged as pending and nothing is lost.

use std::path::Path;
use std::time::Duration;

use chrono::Utc;
use crm::{
    Actor, ArticleKind, Channel, NewArticle, NewAttachment, NewTicket, State, Store, TicketQuery,
};
use tracing::{info, warn};

/// Attempts before a message is left pending (the WAV is kept either way).
const ATTEMPTS: u32 = 3;

/// What the hand-off produced.
pub(crate) struct Filed {
    pub number: String,
    pub queue: String,
    /// Joined an existing ticket rather than opening one.
    pub joined: bool,
}

/// Files the message at `path` into the CRM; `None` when it could not (logged).
pub(crate) async fn file(
    store: &Store,
    sla: Option<&crm::QueueSla>,
    queue: &str,
    call_id: &str,
    caller: Option<&str>,
    path: &Path,
    seconds: f32,
) -> Option<Filed> {
    let content = match tokio::fs::read(path).await {
        Ok(bytes) => bytes,
        Err(error) => {
            warn!(%error, path = %path.display(), "cannot read the recorded message");
            return None;
        }
    };
    for attempt in 1..=ATTEMPTS {
        match try_file(store, sla, queue, call_id, caller, path, seconds, &content).await {
            Ok(filed) => return Some(filed),
            Err(error) if attempt < ATTEMPTS => {
                warn!(%error, attempt, "voicemail ticket not written yet: retrying");
                tokio::time::sleep(Duration::from_millis(500 * u64::from(attempt))).await;
            }
            Err(error) => {
                warn!(%error, path = %path.display(), "voicemail ticket pending: the message is kept on disk");
            }
        }
    }
    None
}

#[allow(clippy::too_many_arguments)]
async fn try_file(
    store: &Store,
    sla: Option<&crm::QueueSla>,
    queue: &str,
    call_id: &str,
    caller: Option<&str>,
    path: &Path,
    seconds: f32,
    content: &[u8],
) -> crm::Result<Filed> {
    let now = Utc::now();
    let queue_id = store.queue_by_name(queue).await?;
    // The caller's customer, or a guest for the number (none for anonymous calls).
    let customer = match caller.filter(|c| !c.is_empty() && *c != "anonymous") {
        Some(number) => match store.customer_by_phone(number, Actor::System, now).await {
            Ok(Some(c)) => Some(c),
            Ok(None) => store
                .create_guest(Some(number), Actor::System, now)
                .await
                .ok(),
            Err(_) => None, // not a phone number: file it without a customer
        },
        None => None,
    };
    let from = caller.unwrap_or("anonymous caller");
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "message.wav".into());
    let mut article = NewArticle::new(
        ArticleKind::Voicemail,
        from,
        format!("Voicemail from {from}"),
        format!("Message of {seconds:.1} s left by {from} (call {call_id})."),
    );
    article.attachments.push(NewAttachment {
        filename: name,
        content_type: "audio/wav".into(),
        content: content.to_vec(),
    });

    // A voicemail ticket of this customer still new: the message joins it.
    if let Some(c) = &customer {
        let open = store
            .search_tickets(&TicketQuery {
                customer: Some(c.id),
                channel: Some(Channel::Voicemail),
                states: vec![State::New],
                limit: 1,
                ..TicketQuery::default()
            })
            .await?;
        if let Some(t) = open.tickets.first() {
            store.add_article(t.id, Actor::System, article, now).await?;
            info!(ticket = %t.number, "voicemail joined the customer's new voicemail ticket");
            return Ok(Filed {
                number: t.number.to_string(),
                queue: queue.to_string(),
                joined: true,
            });
        }
    }
    let title = match &customer {
        Some(c) if !c.guest => format!("Voicemail from {}", c.full_name),
        _ => format!("Voicemail from {from}"),
    };
    let ticket = store
        .create_ticket(
            NewTicket {
                queue: queue_id,
                customer: customer.as_ref().map(|c| c.id),
                call_id: Some(call_id.to_string()),
                ..NewTicket::new(title, Channel::Voicemail)
            },
            Actor::System,
            now,
        )
        .await?;
    store
        .add_article(ticket.id, Actor::System, article, now)
        .await?;
    info!(ticket = %ticket.number, "voicemail ticket opened");
    if let Some(sla) = sla {
        // Left out of hours, the clock starts at the next opening (R-VM-2).
        let due = store.start_sla(ticket.id, sla, now).await?;
        info!(
            ticket = %ticket.number,
            take_in_charge_by = ?due.first_response_due,
            resolve_by = ?due.solution_due,
            "voicemail ticket clocks started"
        );
    }
    Ok(Filed {
        number: ticket.number.to_string(),
        queue: queue.to_string(),
        joined: false,
    })
}
