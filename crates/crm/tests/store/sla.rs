//! Take-in-charge and resolution clocks on the business calendar (R-VM-2).

use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};
use chrono_tz::Europe::Rome;
use crm::{Action, Actor, Channel, NewTicket, QueueSla, Role, Store};

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
    assert!(late[0].overdue);
    assert_eq!(late[0].clock, crm::sla::Clock::FirstResponse);
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
    assert_eq!(left[0].clock, crm::sla::Clock::Solution);
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
