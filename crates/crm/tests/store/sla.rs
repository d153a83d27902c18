//! Escalation clocks on the business calendar (R-VM-2, escalation): voicemail clocks started
//! explicitly, and per-queue first-response, update and solution targets.

use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};
use chrono_tz::Europe::Rome;
use crm::{
    Action, Actor, ArticleKind, Channel, Clock, NewArticle, NewTicket, QueueSla, QueueTargets,
    Role, Store,
};

use crate::common::{both, users};

fn office_hours() -> QueueSla {
    let config: calendar::CalendarConfig = toml::from_str(
        "timezone = \"Europe/Rome\"\nitalian_holidays = true\n\
         mon = [\"08:00-19:00\"]\ntue = [\"08:00-19:00\"]\nwed = [\"08:00-19:00\"]\n\
         thu = [\"08:00-19:00\"]\nfri = [\"08:00-19:00\"]\nsat = [\"08:00-14:00\"]\n",
    )
    .unwrap();
    QueueSla {
        calendar: Arc::new(calendar::BusinessCalendar::new(&config).unwrap()),
        first_response: Some(Duration::hours(4)),
        solution: Some(Duration::hours(24)),
    }
}

async fn a_message_left_friday_evening_is_due_saturday_then_monday(store: Store) {
    let ids = users(&store, &[Role::AgentFirstLevel]).await;
    // Friday 2026-11-20 19:30 Rome: closed until Saturday 08:00; Saturday counts 6 h.
    let friday = Rome
        .with_ymd_and_hms(2026, 11, 20, 19, 30, 0)
        .unwrap()
        .with_timezone(&Utc);
    let t = store
        .create_ticket(
            NewTicket::new("voicemail", Channel::Voicemail),
            Actor::System,
            friday,
        )
        .await
        .unwrap();
    let due = store
        .start_sla(t.id, &office_hours(), friday)
        .await
        .unwrap();
    let at = |y, mo, d, h, mi| {
        Rome.with_ymd_and_hms(y, mo, d, h, mi, 0)
            .unwrap()
            .with_timezone(&Utc)
    };
    assert_eq!(due.first_response_due, Some(at(2026, 11, 21, 12, 0)));
    // 24 working hours: Saturday 6 h, Monday 11 h, Tuesday 7 h → Tuesday 15:00.
    assert_eq!(due.solution_due, Some(at(2026, 11, 24, 15, 0)));
    assert_eq!(store.sla_of(t.id).await.unwrap(), Some(due));

    // Overdue on Monday morning, both clocks listed once the window reaches them.
    let monday = at(2026, 11, 23, 9, 0);
    let late = store.escalations(monday, Duration::hours(1)).await.unwrap();
    assert_eq!(late.len(), 1, "{late:?}");
    assert_eq!(late[0].overdue_by, Some(Duration::hours(45)));
    assert_eq!(late[0].kind, crm::sla::Clock::FirstResponse);
    let later = store.escalations(monday, Duration::days(2)).await.unwrap();
    assert_eq!(later.len(), 2, "{later:?}");

    // An operator locks it: the first clock stops, the resolution clock goes on.
    store
        .act(t.id, Actor::User(ids[0]), Action::Lock, monday)
        .await
        .unwrap();
    let sla = store.sla_of(t.id).await.unwrap().unwrap();
    assert_eq!(sla.first_response_at, Some(monday));
    let left = store.escalations(monday, Duration::days(2)).await.unwrap();
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0].kind, crm::sla::Clock::Solution);
    // Closed: nothing left to escalate.
    store
        .act(
            t.id,
            Actor::User(ids[0]),
            Action::Close { successful: true },
            monday,
        )
        .await
        .unwrap();
    assert!(
        store
            .escalations(monday, Duration::days(9))
            .await
            .unwrap()
            .is_empty()
    );
}
both!(a_message_left_friday_evening_is_due_saturday_then_monday);

async fn easter_monday_is_not_working_time(store: Store) {
    // Friday 2027-03-26 18:30: 30 min on Friday, Saturday 6 h → done with 4 h on Saturday
    // 11:30; with a 12 h target: Saturday's 6 h, Sunday closed, Easter (28th) and Easter
    // Monday (29th) closed, Tuesday 08:00 + 5.5 h = 13:30.
    let friday = Rome
        .with_ymd_and_hms(2027, 3, 26, 18, 30, 0)
        .unwrap()
        .with_timezone(&Utc);
    let t = store
        .create_ticket(
            NewTicket::new("voicemail", Channel::Voicemail),
            Actor::System,
            friday,
        )
        .await
        .unwrap();
    let mut sla = office_hours();
    sla.first_response = Some(Duration::hours(12));
    let due = store.start_sla(t.id, &sla, friday).await.unwrap();
    assert_eq!(
        due.first_response_due,
        Some(
            Rome.with_ymd_and_hms(2027, 3, 30, 13, 30, 0)
                .unwrap()
                .with_timezone(&Utc)
        )
    );
}
both!(easter_monday_is_not_working_time);

/// Mon-Fri 08:00-19:00 in Rome, Italian holidays; first response `first` working hours,
/// update 8 h, solution 40 h.
fn weekdays(first: i64) -> QueueTargets {
    let config: calendar::CalendarConfig = toml::from_str(
        "timezone = \"Europe/Rome\"\nitalian_holidays = true\n\
         mon = [\"08:00-19:00\"]\ntue = [\"08:00-19:00\"]\nwed = [\"08:00-19:00\"]\n\
         thu = [\"08:00-19:00\"]\nfri = [\"08:00-19:00\"]\n",
    )
    .unwrap();
    QueueTargets {
        sla: QueueSla {
            calendar: Arc::new(calendar::BusinessCalendar::new(&config).unwrap()),
            first_response: Some(Duration::hours(first)),
            solution: Some(Duration::hours(40)),
        },
        update: Some(Duration::hours(8)),
    }
}

fn rome(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> chrono::DateTime<Utc> {
    Rome.with_ymd_and_hms(y, mo, d, h, mi, 0)
        .unwrap()
        .with_timezone(&Utc)
}

async fn queue_targets_start_at_creation_and_skip_weekends_and_easter(store: Store) {
    let q = store
        .create_queue("helpdesk", false, rome(2026, 1, 1, 9, 0))
        .await
        .unwrap();
    store.set_queue_sla(q.id, Some(weekdays(4)));
    let create = |at| {
        let store = store.clone();
        async move {
            store
                .create_ticket(
                    NewTicket {
                        queue: Some(q.id),
                        ..NewTicket::new("stampante rotta", Channel::Phone)
                    },
                    Actor::System,
                    at,
                )
                .await
                .unwrap()
        }
    };
    // Friday 2026-11-20 18:30: 30 min on Friday, 3.5 h on Monday.
    let t = create(rome(2026, 11, 20, 18, 30)).await;
    assert_eq!(t.sla.first_response_due, Some(rome(2026, 11, 23, 11, 30)));
    // Update 8 h: 30 min Friday + 7.5 h Monday; solution 40 h: 0.5 + 11 × 3 + 6.5 Thursday.
    assert_eq!(t.sla.update_due, Some(rome(2026, 11, 23, 15, 30)));
    assert_eq!(t.sla.solution_due, Some(rome(2026, 11, 26, 14, 30)));
    assert_eq!(store.ticket(t.id).await.unwrap().sla, t.sla);
    // Friday before Easter 2027: Easter Monday (29 March) is a holiday → Tuesday 11:30.
    let e = create(rome(2027, 3, 26, 18, 30)).await;
    assert_eq!(e.sla.first_response_due, Some(rome(2027, 3, 30, 11, 30)));
    // A queue without targets: no clocks.
    let plain = store
        .create_ticket(
            NewTicket::new("raw", Channel::Phone),
            Actor::System,
            rome(2026, 11, 20, 18, 30),
        )
        .await
        .unwrap();
    assert!(plain.sla.is_empty());
    assert_eq!(store.sla_of(plain.id).await.unwrap(), None);
}
both!(queue_targets_start_at_creation_and_skip_weekends_and_easter);

async fn lock_stops_the_first_clock_and_replies_restart_the_update_clock(store: Store) {
    let ids = users(&store, &[Role::AgentFirstLevel]).await;
    let agent = Actor::User(ids[0]);
    let q = store
        .create_queue("helpdesk", false, rome(2026, 1, 1, 9, 0))
        .await
        .unwrap();
    store.set_queue_sla(q.id, Some(weekdays(4)));
    let t = store
        .create_ticket(
            NewTicket {
                queue: Some(q.id),
                ..NewTicket::new("rimborso", Channel::Phone)
            },
            Actor::System,
            rome(2026, 11, 23, 9, 0),
        )
        .await
        .unwrap();
    // An article from the system (the call's notes) takes nothing in charge.
    store
        .add_article(
            t.id,
            Actor::System,
            NewArticle::new(ArticleKind::PhoneReceived, "ivr", "call", "x"),
            rome(2026, 11, 23, 9, 1),
        )
        .await
        .unwrap();
    assert_eq!(
        store.ticket(t.id).await.unwrap().sla.first_response_at,
        None
    );

    let locked = store
        .act(t.id, agent, Action::Lock, rome(2026, 11, 23, 10, 0))
        .await
        .unwrap();
    assert_eq!(
        locked.sla.first_response_at,
        Some(rome(2026, 11, 23, 10, 0))
    );
    assert_eq!(
        locked.sla.update_due, t.sla.update_due,
        "a lock is no update"
    );
    // At 14:00 the first clock would be overdue, but it stopped: only the update clock is near.
    let at = rome(2026, 11, 23, 14, 0);
    let soon = store.escalations(at, Duration::hours(4)).await.unwrap();
    assert_eq!(
        soon.iter().map(|e| e.kind).collect::<Vec<_>>(),
        vec![Clock::Update]
    );
    assert_eq!(soon[0].overdue_by, None);
    assert_eq!(soon[0].due, rome(2026, 11, 23, 17, 0));

    // An internal note is no update; a customer-visible reply is.
    store
        .add_article(
            t.id,
            agent,
            NewArticle::new(ArticleKind::Note, "a1", "nota", "interna"),
            at,
        )
        .await
        .unwrap();
    assert_eq!(
        store.ticket(t.id).await.unwrap().sla.update_due,
        Some(rome(2026, 11, 23, 17, 0))
    );
    store
        .add_article(
            t.id,
            agent,
            NewArticle::new(ArticleKind::EmailOut, "a1", "re", "risposta"),
            at,
        )
        .await
        .unwrap();
    let replied = store.ticket(t.id).await.unwrap();
    // 14:00 + 8 working hours: 5 h today, 3 h Tuesday → Tuesday 11:00.
    assert_eq!(replied.sla.update_due, Some(rome(2026, 11, 24, 11, 0)));
    assert_eq!(replied.sla.update_from, Some(at));
    assert_eq!(
        replied.sla.first_response_at,
        Some(rome(2026, 11, 23, 10, 0))
    );
}
both!(lock_stops_the_first_clock_and_replies_restart_the_update_clock);

async fn a_move_recomputes_from_the_new_queue(store: Store) {
    let ids = users(&store, &[Role::AgentFirstLevel]).await;
    let created = rome(2026, 11, 23, 9, 0);
    let slow = store.create_queue("slow", false, created).await.unwrap();
    let fast = store.create_queue("fast", false, created).await.unwrap();
    let none = store.create_queue("none", false, created).await.unwrap();
    store.set_queue_sla(slow.id, Some(weekdays(8)));
    store.set_queue_sla(fast.id, Some(weekdays(1)));
    let t = store
        .create_ticket(
            NewTicket {
                queue: Some(slow.id),
                ..NewTicket::new("asilo nido", Channel::Web)
            },
            Actor::System,
            created,
        )
        .await
        .unwrap();
    assert_eq!(t.sla.first_response_due, Some(rome(2026, 11, 23, 17, 0)));
    // Moved by the system (a routing rule) at 9:30: due one working hour from creation.
    let moved = store
        .act(
            t.id,
            Actor::System,
            Action::Move(fast.id),
            rome(2026, 11, 23, 9, 30),
        )
        .await
        .unwrap();
    assert_eq!(
        moved.sla.first_response_due,
        Some(rome(2026, 11, 23, 10, 0))
    );
    assert_eq!(moved.sla.solution_due, t.sla.solution_due);
    let late = store
        .escalations(rome(2026, 11, 23, 10, 30), Duration::zero())
        .await
        .unwrap();
    assert_eq!(late.len(), 1, "{late:?}");
    assert_eq!(
        (late[0].kind, late[0].queue),
        (Clock::FirstResponse, fast.id)
    );
    assert_eq!(late[0].overdue_by, Some(Duration::minutes(30)));
    // Moved by an operator to a queue without targets: the clocks go, the take-in-charge stays.
    let plain = store
        .act(
            t.id,
            Actor::User(ids[0]),
            Action::Move(none.id),
            rome(2026, 11, 23, 11, 0),
        )
        .await
        .unwrap();
    assert!(plain.sla.is_empty());
    assert_eq!(plain.sla.first_response_at, Some(rome(2026, 11, 23, 11, 0)));
    assert!(
        store
            .escalations(rome(2026, 12, 31, 9, 0), Duration::zero())
            .await
            .unwrap()
            .is_empty()
    );
}
both!(a_move_recomputes_from_the_new_queue);

async fn escalations_and_due_lists_show_overdue_open_tickets(store: Store) {
    let ids = users(&store, &[Role::AgentFirstLevel]).await;
    let start = rome(2026, 11, 23, 8, 0);
    let a = store.create_queue("a", false, start).await.unwrap();
    let b = store.create_queue("b", false, start).await.unwrap();
    store.set_queue_sla(a.id, Some(weekdays(1)));
    store.set_queue_sla(b.id, Some(weekdays(2)));
    let mut made = Vec::new();
    for (i, q) in [a.id, b.id, a.id].into_iter().enumerate() {
        let t = store
            .create_ticket(
                NewTicket {
                    queue: Some(q),
                    ..NewTicket::new(format!("t{i}"), Channel::Phone)
                },
                Actor::System,
                start + Duration::minutes(10 * i as i64),
            )
            .await
            .unwrap();
        made.push(t);
    }
    // 10:05: a's first ticket (due 9:00) and third (9:20) are late; b's (due 10:10) is not.
    let now = rome(2026, 11, 23, 10, 5);
    let late = store.escalations(now, Duration::zero()).await.unwrap();
    let late_ids: Vec<_> = late.iter().map(|e| (e.ticket, e.kind)).collect();
    assert_eq!(
        late_ids,
        vec![
            (made[0].id, Clock::FirstResponse),
            (made[2].id, Clock::FirstResponse)
        ]
    );
    assert!(late.iter().all(|e| e.overdue_by.is_some()));
    let soon = store.escalations(now, Duration::minutes(10)).await.unwrap();
    assert_eq!(soon.len(), 3);
    assert_eq!((soon[2].ticket, soon[2].overdue_by), (made[1].id, None));

    let due_a = store
        .due_tickets(&[a.id], now, Duration::hours(1), 0)
        .await
        .unwrap();
    assert_eq!(
        due_a.iter().map(|t| t.id).collect::<Vec<_>>(),
        vec![made[0].id, made[2].id]
    );
    let due_all = store
        .due_tickets(&[], now, Duration::hours(1), 2)
        .await
        .unwrap();
    assert_eq!(due_all.len(), 2, "limit");
    // Closed tickets leave the lists; reopened, they come back with a new update clock.
    let agent = Actor::User(ids[0]);
    store
        .act(made[0].id, agent, Action::Close { successful: true }, now)
        .await
        .unwrap();
    let left = store.escalations(now, Duration::zero()).await.unwrap();
    assert_eq!(
        left.iter().map(|e| e.ticket).collect::<Vec<_>>(),
        vec![made[2].id]
    );
    store
        .act(made[0].id, agent, Action::Open, now)
        .await
        .unwrap();
    let back = store
        .due_tickets(&[a.id], now, Duration::hours(8), 0)
        .await
        .unwrap();
    let reopened = back.iter().find(|t| t.id == made[0].id).expect("listed");
    assert_eq!(reopened.sla.update_due, Some(rome(2026, 11, 23, 18, 5)));
}
both!(escalations_and_due_lists_show_overdue_open_tickets);
