//! Where blended routing's items come from (R-ACD-5): every open (new or open), unowned
//! ticket of a written channel (e-mail, web, voicemail, fax) in a queue the ACD knows is an
//! item of that channel in that queue.
//!
//! The CRM is the truth; the ACD's items follow it:
//! - at start, and every `[acd.blend] rescan_s`, the open written tickets are read and each
//!   one is synced ([`AcdHandle::sync_item`]); an item whose ticket is no longer open leaves.
//!   This is what makes items restart-safe, and what catches tickets whose creation no event
//!   announced (mail ingest, a voicemail replayed from the journal after an outage);
//! - between rescans, every `ticket.created` and `ticket.updated` of the bus syncs its ticket
//!   at once, so a web request or a reply is offered within moments.
//!
//! A sync decides, in the ACD's driver ([`crate::queues`]): a new unowned open ticket is
//! queued; a ticket taken by someone other than the agent holding its item, closed, set
//! pending or merged leaves (`item.done` with the reason); a ticket moved to another queue
//! is queued again there.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use acd::ItemChannel;
use crm::{Actor, Channel, CustomerId, QueueId, State, Store, Ticket, TicketQuery, UserId};
use tokio::sync::broadcast::error::RecvError;
use tracing::{debug, warn};

use crate::events::{Event, EventBus, TicketChannel};
use crate::queues::{AcdHandle, TicketItem};

/// The written channels and their item channel.
fn item_channel(channel: Channel) -> Option<ItemChannel> {
    match channel {
        Channel::Email => Some(ItemChannel::Email),
        Channel::Web => Some(ItemChannel::Web),
        Channel::Voicemail => Some(ItemChannel::Voicemail),
        Channel::Fax => Some(ItemChannel::Fax),
        Channel::Phone => None,
    }
}

/// Starts the feeder: a first rescan now, then the bus's ticket events and a rescan every
/// `rescan`.
pub fn spawn_feeder(
    store: Store,
    bus: &EventBus,
    acd: AcdHandle,
    rescan: Duration,
) -> tokio::task::JoinHandle<()> {
    // Subscribed before the first rescan: nothing created meanwhile is missed.
    let mut events = bus.subscribe();
    tokio::spawn(async move {
        let mut feeder = Feeder {
            store,
            acd,
            queues: HashMap::new(),
            users: HashMap::new(),
            customers: HashMap::new(),
        };
        let mut tick = tokio::time::interval(rescan);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => { feeder.rescan().await; }
                event = events.recv() => match event {
                    Ok(Event::TicketCreated { number, queue, channel, owner, .. }) => {
                        feeder.created(&number, &queue, channel, owner).await;
                    }
                    Ok(Event::TicketUpdated { number, .. }) => feeder.updated(&number).await,
                    Ok(_) => {}
                    // Events were missed: the CRM has them.
                    Err(RecvError::Lagged(_)) => { feeder.rescan().await; }
                    Err(RecvError::Closed) => return,
                },
            }
        }
    })
}

/// One rescan now, as the feeder does every `rescan_s` (benchmarks, tools): syncs every open
/// written ticket with the ACD; returns how many it read. The ACD has taken them all once a
/// later command (a snapshot, say) is answered.
pub async fn rescan_once(store: &Store, acd: &AcdHandle) -> usize {
    let mut feeder = Feeder {
        store: store.clone(),
        acd: acd.clone(),
        queues: HashMap::new(),
        users: HashMap::new(),
        customers: HashMap::new(),
    };
    feeder.rescan().await
}

struct Feeder {
    store: Store,
    acd: AcdHandle,
    queues: HashMap<QueueId, String>,
    users: HashMap<UserId, String>,
    /// Customers' names, read (and audited) once per customer, for announced tickets.
    customers: HashMap<CustomerId, String>,
}

impl Feeder {
    async fn queue(&mut self, id: QueueId) -> Option<String> {
        if !self.queues.contains_key(&id) {
            let q = self.store.queue(id).await.ok()?;
            self.queues.insert(id, q.name);
        }
        self.queues.get(&id).cloned()
    }

    async fn user(&mut self, id: UserId) -> Option<String> {
        if !self.users.contains_key(&id) {
            let u = self.store.user(id).await.ok()?;
            self.users.insert(id, u.login);
        }
        self.users.get(&id).cloned()
    }

    async fn customer(&mut self, id: CustomerId) -> Option<String> {
        if !self.customers.contains_key(&id) {
            let c = self
                .store
                .customer(id, Actor::System, chrono::Utc::now())
                .await
                .ok()?;
            self.customers.insert(id, c.full_name);
        }
        self.customers.get(&id).cloned()
    }

    /// The ticket as the ACD's driver judges it; `None` for a phone ticket. `with_customer`:
    /// read its customer's name for the pop (an announced ticket; a rescan does not, so it
    /// stays cheap and writes no audit rows: the desktop reads the customer then).
    async fn item(&mut self, t: &Ticket, with_customer: bool) -> Option<TicketItem> {
        let channel = item_channel(t.channel)?;
        let queue = self.queue(t.queue).await?;
        let owner = match t.owner {
            Some(id) => Some(self.user(id).await.unwrap_or_else(|| format!("#{}", id.0))),
            None => None,
        };
        let customer = match t.customer {
            // Only an item shows its customer.
            Some(id) if with_customer && t.owner.is_none() => self.customer(id).await,
            _ => None,
        };
        Some(TicketItem {
            number: t.number.clone(),
            queue,
            channel,
            owner,
            open: matches!(t.state, State::New | State::Open),
            subject: Some(t.title.clone()).filter(|s| !s.is_empty()),
            customer,
        })
    }

    async fn created(
        &mut self,
        number: &str,
        queue: &str,
        channel: TicketChannel,
        owner: Option<String>,
    ) {
        if channel == TicketChannel::Phone {
            return;
        }
        match self.store.ticket_by_number(number).await {
            Ok(t) => self.sync(&t, true).await,
            // A write still in the journal (a voicemail during an outage): the event says
            // enough to queue it; the rescan completes it.
            Err(error) => {
                debug!(%error, ticket = number, "new ticket not in the CRM yet");
                let Some(channel) = crm::Channel::ALL
                    .iter()
                    .find(|c| c.as_str() == channel.as_str())
                    .and_then(|&c| item_channel(c))
                else {
                    return;
                };
                self.acd.sync_item(TicketItem {
                    number: number.to_string(),
                    queue: queue.to_string(),
                    channel,
                    owner,
                    open: true,
                    subject: None,
                    customer: None,
                });
            }
        }
    }

    async fn updated(&mut self, number: &str) {
        match self.store.ticket_by_number(number).await {
            Ok(t) => self.sync(&t, true).await,
            Err(error) => debug!(%error, ticket = number, "updated ticket not found"),
        }
    }

    async fn sync(&mut self, t: &Ticket, with_customer: bool) {
        if let Some(item) = self.item(t, with_customer).await {
            self.acd.sync_item(item);
        }
    }

    /// Reads every open written ticket and syncs it; items whose ticket is not among them
    /// leave. Returns how many were read.
    async fn rescan(&mut self) -> usize {
        let Some(mark) = self.acd.rescan_mark().await else {
            return 0;
        };
        let mut open = HashSet::new();
        for channel in [
            Channel::Email,
            Channel::Web,
            Channel::Voicemail,
            Channel::Fax,
        ] {
            let mut offset = 0;
            loop {
                let query = TicketQuery {
                    states: vec![State::New, State::Open],
                    channel: Some(channel),
                    limit: 1000,
                    offset,
                    ..TicketQuery::default()
                };
                let page = match self.store.search_tickets(&query).await {
                    Ok(page) => page,
                    Err(error) => {
                        // Nothing is withdrawn on a failed read: the next rescan tries again.
                        warn!(%error, "cannot read the open written tickets");
                        return 0;
                    }
                };
                let n = page.tickets.len();
                for t in &page.tickets {
                    open.insert(t.number.clone());
                    self.sync(t, false).await;
                }
                if n < 1000 {
                    break;
                }
                offset += 1000;
            }
        }
        let read = open.len();
        self.acd.rescanned(mark, open);
        read
    }
}
