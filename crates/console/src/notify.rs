//! Agents' notifications (issue 16, R-SR-9): a new ticket, the citizen writing again, a
//! pending reminder due, a note, a move into a queue; by e-mail and live on the desktop,
//! each naming the ticket and linking to it, for the operators who opted in
//! (`crm::notifications`).
//!
//! - [`notices`] (pure): who is told what about one ticket event. An operator is told of a
//!   kind they chose, about a ticket of a queue they follow or own, in a queue they may read,
//!   never of their own action. A new ticket is told to the queue's followers but not to
//!   the operator who opened it (or whose call opened it); a due reminder to the ticket's owner when it has one, else to the
//!   queue's followers; a move to the followers of the queue it moved into and the owner.
//! - [`Notifier`] (I/O): reads the ticket events of the event log after its cursor
//!   (`crm::Store::ticket_events_after`), so nothing published is missed, even by a notifier
//!   that was down, and nothing is told twice after a restart: the desktop notice is an
//!   `agent.notification` on the bus (the event stream shows it to that agent only), the
//!   mail goes through the persistent outbox keyed `notify:<event id>:<kind>:<login>`. It
//!   runs when a ticket event is published (after the event log writer has written it) and
//!   every [`Notifier::POLL`] besides.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use ::events::{Event, EventBus, NoticeKind, TicketField};
use chrono::{DateTime, Utc};
use crm::{OutgoingMail, Store, Subscriber};
use tokio::sync::{Notify, broadcast};
use tracing::{info, warn};

use crate::record::EventLogWriter;

/// One operator told of one thing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// Who.
    pub login: String,
    /// What.
    pub kind: NoticeKind,
    /// The ticket.
    pub number: String,
    /// Its queue (after the change).
    pub queue: String,
    /// Who did it, when an operator did.
    pub by: Option<String>,
    /// On the desktop.
    pub desktop: bool,
    /// By e-mail, to this address.
    pub email: Option<String>,
}

/// Article kinds written by the citizen (a customer update).
const FROM_CUSTOMER: [&str; 4] = ["email_in", "web", "voicemail", "fax"];

/// One kind of news an event carries: the kind, the queue followed for it, the ticket's
/// owner, who did it, and whether only the owner is told.
type News<'a> = (NoticeKind, &'a str, Option<&'a str>, Option<&'a str>, bool);

/// What one ticket event tells whom (see the module documentation); in subscriber order,
/// then kind order. Events other than ticket events tell nobody.
pub fn notices(event: &Event, subscribers: &[Subscriber]) -> Vec<Notice> {
    let mut told: Vec<News<'_>> = Vec::new();
    let number = match event {
        Event::TicketCreated {
            number,
            queue,
            by,
            owner,
            ..
        } => {
            // Opened by an operator (the API) or for one (the call they answered).
            let author = by.as_deref().or(owner.as_deref());
            told.push((NoticeKind::Created, queue, None, author, false));
            number
        }
        Event::TicketUpdated {
            number,
            queue,
            owner,
            by,
            changes,
        } => {
            let mut kinds = Vec::new();
            for c in changes {
                match (c.field, c.new.as_deref()) {
                    (TicketField::Article, Some(k)) if FROM_CUSTOMER.contains(&k) => {
                        kinds.push(NoticeKind::CustomerUpdate)
                    }
                    (TicketField::Article, Some("note")) => kinds.push(NoticeKind::Note),
                    (TicketField::Queue, _) => kinds.push(NoticeKind::QueueMove),
                    _ => {}
                }
            }
            kinds.sort();
            kinds.dedup();
            for k in kinds {
                told.push((k, queue, owner.as_deref(), by.as_deref(), false));
            }
            number
        }
        Event::TicketReminder {
            number,
            queue,
            owner,
            ..
        } => {
            told.push((
                NoticeKind::Reminder,
                queue,
                owner.as_deref(),
                None,
                owner.is_some(),
            ));
            number
        }
        _ => return Vec::new(),
    };
    let mut out = Vec::new();
    for s in subscribers {
        let email = (s.prefs.by_email)
            .then(|| s.prefs.address.clone())
            .flatten();
        if !s.prefs.on_desktop && email.is_none() {
            continue;
        }
        for &(kind, queue, owner, by, owner_only) in &told {
            let owns = owner == Some(s.login.as_str());
            let follows = s.prefs.queues.iter().any(|q| q == queue);
            let concerned = if owner_only { owns } else { owns || follows };
            if concerned
                && s.prefs.kinds.contains(&kind)
                && s.may_read(queue)
                && by != Some(s.login.as_str())
            {
                out.push(Notice {
                    login: s.login.clone(),
                    kind,
                    number: number.clone(),
                    queue: queue.to_string(),
                    by: by.map(str::to_string),
                    desktop: s.prefs.on_desktop,
                    email: email.clone(),
                });
            }
        }
    }
    out
}

/// Where notification mail comes from.
#[derive(Debug, Clone)]
pub struct NotifyMail {
    /// Our From (`[mail] from`).
    pub from: String,
    /// Right side of our Message-IDs.
    pub message_id_domain: String,
    /// `it` or `en`.
    pub lang: String,
    /// The desktop's address (`[mail] desktop_url`); links are `<url>#ticket=<number>`.
    pub desktop_url: Option<String>,
    /// The outbox sender's wake.
    pub wake: Option<Arc<Notify>>,
}

/// The words of a notification, by language.
fn what(kind: NoticeKind, lang: &str) -> &'static str {
    match (kind, lang) {
        (NoticeKind::Created, "it") => "Nuova richiesta",
        (NoticeKind::CustomerUpdate, "it") => "Il cittadino ha scritto",
        (NoticeKind::Reminder, "it") => "Promemoria scaduto",
        (NoticeKind::Note, "it") => "Nuova nota",
        (NoticeKind::QueueMove, "it") => "Richiesta spostata in coda",
        (NoticeKind::Created, _) => "New request",
        (NoticeKind::CustomerUpdate, _) => "The citizen wrote",
        (NoticeKind::Reminder, _) => "Pending reminder due",
        (NoticeKind::Note, _) => "New note",
        (NoticeKind::QueueMove, _) => "Request moved to queue",
    }
}

/// The mail of `notice` (subject without the `[Ticket#…]` tag: an agent's answer to it must
/// not land on the citizen's ticket).
pub fn mail_of(
    notice: &Notice,
    title: &str,
    event_id: &str,
    m: &NotifyMail,
) -> Option<OutgoingMail> {
    let to = notice.email.clone()?;
    let it = m.lang == "it";
    let link = m
        .desktop_url
        .as_ref()
        .map(|u| format!("{u}#ticket={}", notice.number));
    let label = |it_text: &'static str, en: &'static str| if it { it_text } else { en };
    let mut body = format!(
        "{}: {} \"{}\"\n{}: {}\n",
        what(notice.kind, &m.lang),
        notice.number,
        title,
        label("Coda", "Queue"),
        notice.queue
    );
    if let Some(by) = &notice.by {
        body.push_str(&format!("{}: {by}\n", label("Da", "By")));
    }
    if let Some(l) = &link {
        body.push_str(&format!("\n{}: {l}\n", label("Apri", "Open")));
    }
    body.push_str(label(
        "\nRicevi questo messaggio perché hai scelto queste notifiche: puoi cambiarle dal desktop.\n",
        "\nYou receive this message because you chose these notifications: change them on the desktop.\n",
    ));
    Some(OutgoingMail {
        dedup_key: format!(
            "notify:{event_id}:{}:{}",
            notice.kind.as_str(),
            notice.login
        ),
        ticket: None,
        message_id: format!(
            "{}@{}",
            message_id_left(event_id, notice),
            m.message_id_domain
        ),
        in_reply_to: None,
        sender: m.from.clone(),
        recipient: to,
        subject: format!(
            "[centralino] {} {}: {}",
            what(notice.kind, &m.lang),
            notice.number,
            title.replace(['\r', '\n'], " ")
        ),
        body,
        attachments: Vec::new(),
    })
}

/// The left side of a notice's Message-ID: unique per notice (its outbox key, dots for the rest).
fn message_id_left(event_id: &str, n: &Notice) -> String {
    let clean = |s: &str| {
        s.chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '.' })
            .collect::<String>()
    };
    format!(
        "notify.{}.{}.{}",
        clean(event_id),
        n.kind.as_str(),
        clean(&n.login)
    )
}

/// The running notifier.
#[derive(Clone)]
pub struct Notifier {
    pub store: Store,
    pub bus: EventBus,
    /// `None`: desktop notices only (mail is not configured).
    pub mail: Option<NotifyMail>,
}

/// What one run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Told {
    /// Ticket events read.
    pub events: usize,
    /// Desktop notices published.
    pub desktop: usize,
    /// Mails queued.
    pub mails: usize,
}

/// The cursor's name.
const CURSOR: &str = "agent_notifications";

impl Notifier {
    /// How often it looks besides being woken.
    pub const POLL: Duration = Duration::from_secs(10);

    /// Tells what the ticket events logged since the last run tell (mails queued as of
    /// `now`); the cursor moves after
    /// each event, so a failure repeats at most that event's mails (which the outbox keys
    /// make once) and desktop notices.
    pub async fn run_once(&self, now: DateTime<Utc>) -> Result<Told, crm::Error> {
        let mut cursor = self.store.notify_cursor(CURSOR).await?;
        let mut told = Told::default();
        let mut subscribers: Option<Vec<Subscriber>> = None;
        let mut titles: HashMap<String, String> = HashMap::new();
        loop {
            let batch = self.store.ticket_events_after(cursor, 256).await?;
            if batch.is_empty() {
                break;
            }
            for (id, logged) in batch {
                told.events += 1;
                let event: Event = match serde_json::from_str(&logged.body) {
                    Ok(e) => e,
                    Err(error) => {
                        warn!(%error, event = %logged.event_id, "notifier: unreadable event skipped");
                        self.store.set_notify_cursor(CURSOR, id).await?;
                        cursor = id;
                        continue;
                    }
                };
                if subscribers.is_none() {
                    subscribers = Some(self.store.notification_subscribers().await?);
                }
                let list = notices(&event, subscribers.as_deref().unwrap_or_default());
                for n in list {
                    let title = match titles.get(&n.number) {
                        Some(t) => t.clone(),
                        None => {
                            let t = match self.store.ticket_by_number(&n.number).await {
                                Ok(t) => t.title,
                                Err(crm::Error::NotFound { .. }) => String::new(),
                                Err(e) => return Err(e),
                            };
                            titles.insert(n.number.clone(), t.clone());
                            t
                        }
                    };
                    if let Some(m) = &self.mail
                        && let Some(mail) = mail_of(&n, &title, &logged.event_id, m)
                        && self.store.queue_mail(&mail, now).await?
                    {
                        told.mails += 1;
                        if let Some(w) = &m.wake {
                            w.notify_one();
                        }
                    }
                    if n.desktop {
                        self.bus.publish(Event::AgentNotification {
                            login: n.login.clone(),
                            kind: n.kind,
                            number: n.number.clone(),
                            title,
                            queue: n.queue.clone(),
                            by: n.by.clone(),
                            link: format!("/desktop#ticket={}", n.number),
                        });
                        told.desktop += 1;
                    }
                }
                self.store.set_notify_cursor(CURSOR, id).await?;
                cursor = id;
            }
        }
        Ok(told)
    }

    /// Runs until the bus closes: after every ticket event published (once the event log
    /// writer has written it) and every [`Self::POLL`]. A store failure is logged and tried
    /// again at the next wake.
    pub fn spawn(self, writer: EventLogWriter) -> tokio::task::JoinHandle<()> {
        let mut live = self.bus.subscribe();
        tokio::spawn(async move {
            loop {
                match self.run_once(Utc::now()).await {
                    Ok(t) if t.desktop + t.mails > 0 => {
                        info!(
                            events = t.events,
                            desktop = t.desktop,
                            mails = t.mails,
                            "agents notified"
                        )
                    }
                    Ok(_) => {}
                    Err(error) => warn!(%error, "notifier: will try again"),
                }
                // Wait for a ticket event or the poll.
                let woke = tokio::time::timeout(Self::POLL, async {
                    loop {
                        match live.recv().await {
                            Ok(e) if crm::notifications::TICKET_EVENT_KINDS.contains(&e.kind()) => {
                                return true;
                            }
                            Ok(_) => {}
                            Err(broadcast::error::RecvError::Lagged(_)) => return true,
                            Err(broadcast::error::RecvError::Closed) => return false,
                        }
                    }
                })
                .await;
                match woke {
                    Ok(false) => return,
                    Ok(true) => writer.flush().await,
                    Err(_) => {}
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ::events::TicketChange;
    use crm::{NotificationPrefs, Role};
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    fn sub(login: &str, kinds: &[NoticeKind], queues: &[&str], readable: &[&str]) -> Subscriber {
        Subscriber {
            login: login.into(),
            role: Role::AgentFirstLevel,
            prefs: NotificationPrefs {
                kinds: kinds.to_vec(),
                queues: queues.iter().map(|q| q.to_string()).collect(),
                address: Some(format!("{login}@example.org")),
                by_email: true,
                on_desktop: true,
            },
            readable: Some(readable.iter().map(|q| q.to_string()).collect()),
        }
    }

    fn updated(queue: &str, owner: Option<&str>, by: &str, changes: Vec<TicketChange>) -> Event {
        Event::TicketUpdated {
            number: "2026120310000011".into(),
            queue: queue.into(),
            owner: owner.map(str::to_string),
            by: Some(by.into()),
            changes,
        }
    }

    fn article(kind: &str) -> TicketChange {
        TicketChange {
            field: TicketField::Article,
            old: None,
            new: Some(kind.into()),
        }
    }

    fn who(list: &[Notice]) -> Vec<(&str, NoticeKind)> {
        list.iter().map(|n| (n.login.as_str(), n.kind)).collect()
    }

    use NoticeKind::*;

    #[test]
    fn a_new_ticket_is_told_to_the_followers_of_its_queue() {
        let subs = [
            sub("anna", &[Created], &["urp"], &["urp"]),
            sub("bruno", &[Created], &["tributi"], &["urp", "tributi"]),
            sub("carla", &[Note], &["urp"], &["urp"]),
            // Follows a queue they can no longer read: told nothing.
            sub("dario", &[Created], &["urp"], &[]),
        ];
        let e = Event::TicketCreated {
            number: "1".into(),
            queue: "urp".into(),
            channel: ::events::TicketChannel::Email,
            call_id: None,
            owner: None,
            by: None,
        };
        let told = notices(&e, &subs);
        assert_eq!(who(&told), [("anna", Created)]);
        assert_eq!(told[0].email.as_deref(), Some("anna@example.org"));
        assert!(told[0].desktop);
    }

    #[test]
    fn updates_tell_followers_and_the_owner_never_the_author() {
        let subs = [
            sub("anna", &[Note, CustomerUpdate], &["urp"], &["urp"]),
            sub("bruno", &[Note, QueueMove], &[], &["urp", "tributi"]),
            sub("carla", &[QueueMove], &["tributi"], &["tributi"]),
        ];
        // Anna writes a note on Bruno's ticket: Bruno (owner) is told, Anna is not.
        let note = updated("urp", Some("bruno"), "anna", vec![article("note")]);
        assert_eq!(who(&notices(&note, &subs)), [("bruno", Note)]);
        // The citizen's e-mail (by nobody) tells Anna, who follows urp.
        let mut mail = updated("urp", Some("bruno"), "x", vec![article("email_in")]);
        if let Event::TicketUpdated { by, .. } = &mut mail {
            *by = None;
        }
        assert_eq!(who(&notices(&mail, &subs)), [("anna", CustomerUpdate)]);
        // A move to tributi tells its follower Carla and the owner Bruno, not Anna.
        let moved = updated(
            "tributi",
            Some("bruno"),
            "anna",
            vec![TicketChange {
                field: TicketField::Queue,
                old: Some("urp".into()),
                new: Some("tributi".into()),
            }],
        );
        assert_eq!(
            who(&notices(&moved, &subs)),
            [("bruno", QueueMove), ("carla", QueueMove)]
        );
        // A state change tells nobody.
        let state = updated(
            "urp",
            Some("bruno"),
            "anna",
            vec![TicketChange {
                field: TicketField::State,
                old: Some("new".into()),
                new: Some("open".into()),
            }],
        );
        assert!(notices(&state, &subs).is_empty());
    }

    #[test]
    fn a_reminder_goes_to_the_owner_when_there_is_one() {
        let subs = [
            sub("anna", &[Reminder], &["urp"], &["urp"]),
            sub("bruno", &[Reminder], &[], &["urp"]),
        ];
        let owned = Event::TicketReminder {
            number: "1".into(),
            queue: "urp".into(),
            owner: Some("bruno".into()),
            due: Utc::now(),
        };
        assert_eq!(who(&notices(&owned, &subs)), [("bruno", Reminder)]);
        let unowned = Event::TicketReminder {
            number: "1".into(),
            queue: "urp".into(),
            owner: None,
            due: Utc::now(),
        };
        assert_eq!(who(&notices(&unowned, &subs)), [("anna", Reminder)]);
    }

    #[test]
    fn channels_follow_the_choice() {
        let mut desk_only = sub("anna", &[Created], &["urp"], &["urp"]);
        desk_only.prefs.by_email = false;
        let mut mail_only = sub("bruno", &[Created], &["urp"], &["urp"]);
        mail_only.prefs.on_desktop = false;
        let mut neither = sub("carla", &[Created], &["urp"], &["urp"]);
        neither.prefs.on_desktop = false;
        neither.prefs.address = None;
        let e = Event::TicketCreated {
            number: "1".into(),
            queue: "urp".into(),
            channel: ::events::TicketChannel::Web,
            call_id: None,
            owner: None,
            by: None,
        };
        let told = notices(&e, &[desk_only, mail_only, neither]);
        assert_eq!(who(&told), [("anna", Created), ("bruno", Created)]);
        assert_eq!((told[0].desktop, told[0].email.as_deref()), (true, None));
        assert_eq!(
            (told[1].desktop, told[1].email.as_deref()),
            (false, Some("bruno@example.org"))
        );
    }

    #[test]
    fn the_mail_names_the_ticket_links_to_it_and_carries_no_ticket_tag() {
        let n = Notice {
            login: "anna".into(),
            kind: CustomerUpdate,
            number: "2026120310000011".into(),
            queue: "urp".into(),
            by: None,
            desktop: true,
            email: Some("anna@example.org".into()),
        };
        let m = NotifyMail {
            from: "urp@comune.example.org".into(),
            message_id_domain: "comune.example.org".into(),
            lang: "it".into(),
            desktop_url: Some("https://centralino.example.org/desktop".into()),
            wake: None,
        };
        let mail = mail_of(&n, "Buca\r\nBcc: x@example.org", "b:7", &m).unwrap();
        assert_eq!(mail.dedup_key, "notify:b:7:customer_update:anna");
        assert_eq!(mail.recipient, "anna@example.org");
        assert!(mail.ticket.is_none());
        assert!(!mail.subject.contains("[Ticket#"));
        assert!(!mail.subject.contains('\n') && !mail.subject.contains('\r'));
        assert!(
            mail.subject.contains("2026120310000011"),
            "{}",
            mail.subject
        );
        assert!(
            mail.body
                .contains("https://centralino.example.org/desktop#ticket=2026120310000011"),
            "{}",
            mail.body
        );
        assert!(mail.body.contains("Il cittadino ha scritto"));
    }

    fn any_event() -> impl Strategy<Value = Event> {
        let q = prop::sample::select(vec!["urp", "tributi", "anagrafe"]);
        let login = prop::option::of(prop::sample::select(vec!["a0", "a1", "a2", "a3"]));
        let kind = prop::sample::select(vec![
            "note",
            "email_in",
            "web",
            "phone_received",
            "email_out",
        ]);
        prop_oneof![
            (q.clone(), login.clone(), login.clone()).prop_map(|(q, o, by)| {
                Event::TicketCreated {
                    number: "1".into(),
                    queue: q.into(),
                    channel: ::events::TicketChannel::Email,
                    call_id: None,
                    owner: o.map(str::to_string),
                    by: by.map(str::to_string),
                }
            }),
            (q.clone(), login.clone(), login.clone(), kind, any::<bool>()).prop_map(
                |(q, o, by, k, moved)| {
                    let mut changes = vec![article(k)];
                    if moved {
                        changes.push(TicketChange {
                            field: TicketField::Queue,
                            old: Some("urp".into()),
                            new: Some(q.into()),
                        });
                    }
                    Event::TicketUpdated {
                        number: "1".into(),
                        queue: q.into(),
                        owner: o.map(str::to_string),
                        by: by.map(str::to_string),
                        changes,
                    }
                }
            ),
            (q, login).prop_map(|(q, o)| Event::TicketReminder {
                number: "1".into(),
                queue: q.into(),
                owner: o.map(str::to_string),
                due: Utc::now(),
            }),
        ]
    }

    fn any_subscriber(i: usize) -> impl Strategy<Value = Subscriber> {
        let queues = || {
            prop::collection::btree_set(
                prop::sample::select(vec!["urp", "tributi", "anagrafe"]),
                0..3,
            )
        };
        (
            prop::collection::btree_set(prop::sample::select(NoticeKind::ALL.to_vec()), 0..5),
            queues(),
            queues(),
            any::<bool>(),
        )
            .prop_map(move |(kinds, follows, reads, desktop)| {
                let mut s = sub(&format!("a{i}"), &[], &[], &[]);
                s.prefs.kinds = kinds.into_iter().collect();
                s.prefs.queues = follows.into_iter().map(str::to_string).collect();
                s.readable = Some(
                    reads
                        .into_iter()
                        .map(str::to_string)
                        .collect::<BTreeSet<_>>(),
                );
                s.prefs.on_desktop = desktop;
                s
            })
    }

    proptest! {
        /// Nobody is told of a kind they did not choose, of a queue they may not read, of
        /// their own action, or of a ticket they neither follow nor own; nobody twice.
        #[test]
        fn nobody_is_told_what_they_did_not_ask_for(
            event in any_event(),
            subs in (any_subscriber(0), any_subscriber(1), any_subscriber(2), any_subscriber(3))
        ) {
            let subs = [subs.0, subs.1, subs.2, subs.3];
            let told = notices(&event, &subs);
            let (queue, owner, by) = match &event {
                Event::TicketCreated { queue, by, owner, .. } => (queue.clone(), None, by.clone().or(owner.clone())),
                Event::TicketUpdated { queue, owner, by, .. } => (queue.clone(), owner.clone(), by.clone()),
                Event::TicketReminder { queue, owner, .. } => (queue.clone(), owner.clone(), None),
                _ => unreachable!(),
            };
            let mut seen = BTreeSet::new();
            for n in &told {
                let s = subs.iter().find(|s| s.login == n.login).unwrap();
                prop_assert!(s.prefs.kinds.contains(&n.kind));
                prop_assert!(s.may_read(&queue));
                prop_assert!(by.as_deref() != Some(n.login.as_str()));
                prop_assert!(
                    owner.as_deref() == Some(n.login.as_str())
                        || s.prefs.queues.contains(&queue)
                );
                prop_assert!(seen.insert((n.login.clone(), n.kind)), "told twice");
            }
        }
    }
}
