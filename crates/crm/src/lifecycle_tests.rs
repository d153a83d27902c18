use chrono::{Duration, TimeZone};
use proptest::prelude::*;

use super::*;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap()
}

const A: Actor = Actor::User(UserId(1));
const B: Actor = Actor::User(UserId(2));

fn fresh() -> Snapshot {
    Snapshot::new_ticket(QueueId(1), Priority::NORMAL, TicketType::Other)
}

fn run(t: &mut Snapshot, actor: Actor, action: Action) -> Result<Vec<Change>, LifecycleError> {
    let changes = apply(t, actor, &action, t0())?;
    t.apply_changes(&changes);
    Ok(changes)
}

#[test]
fn lock_opens_a_new_ticket_and_makes_owner() {
    let mut t = fresh();
    run(&mut t, A, Action::Lock).unwrap();
    assert_eq!(t.state, State::Open);
    assert!(t.locked);
    assert_eq!(t.owner, Some(UserId(1)));
    let err = run(&mut t, B, Action::SetPriority(Priority::new(5).unwrap())).unwrap_err();
    assert!(matches!(err, LifecycleError::LockedByOther { .. }), "{err}");
    assert!(matches!(
        run(&mut t, A, Action::Lock).unwrap_err(),
        LifecycleError::AlreadyLocked { .. }
    ));
    run(&mut t, Actor::System, Action::Touch).unwrap();
    run(&mut t, A, Action::Unlock).unwrap();
    assert_eq!(t.state, State::Open);
    assert_eq!(
        run(&mut t, A, Action::Unlock),
        Err(LifecycleError::NotLocked)
    );
}

#[test]
fn closed_needs_reopening_before_pending() {
    let mut t = fresh();
    run(&mut t, A, Action::Lock).unwrap();
    run(&mut t, A, Action::Close { successful: true }).unwrap();
    assert!(!t.locked, "closing releases the lock");
    let until = t0() + Duration::hours(1);
    let err = run(&mut t, A, Action::Pending { until }).unwrap_err();
    assert!(err.to_string().contains("reopen it first"), "{err}");
    assert!(run(&mut t, A, Action::Close { successful: false }).is_err());
    run(&mut t, A, Action::Open).unwrap();
    run(&mut t, A, Action::Pending { until }).unwrap();
    assert_eq!(t.state, State::PendingReminder);
    assert_eq!(t.pending_until, Some(until));
    assert!(matches!(
        run(&mut t, A, Action::Pending { until: t0() }),
        Err(LifecycleError::PendingInPast { .. })
    ));
}

#[test]
fn nothing_leaves_merged() {
    let mut t = fresh();
    run(&mut t, A, Action::Merge).unwrap();
    for action in [
        Action::Open,
        Action::Lock,
        Action::Touch,
        Action::Close { successful: true },
    ] {
        for actor in [A, Actor::System] {
            assert!(matches!(
                run(&mut t, actor, action.clone()),
                Err(LifecycleError::Merged { .. })
            ));
        }
    }
}

#[test]
fn transition_table_by_state() {
    // For each state: which of Lock, Open, Pending, CloseOk, CloseFail, Move are allowed.
    let until = t0() + Duration::hours(2);
    let table: [(State, [bool; 6]); 6] = [
        (State::New, [true, true, true, true, true, true]),
        (State::Open, [true, true, true, true, true, true]),
        (State::PendingReminder, [true, true, true, true, true, true]),
        (
            State::ClosedSuccessful,
            [false, true, false, true, false, false],
        ),
        (
            State::ClosedUnsuccessful,
            [false, true, false, false, true, false],
        ),
        (State::Merged, [false; 6]),
    ];
    for (state, allowed) in table {
        let mut t = fresh();
        t.state = state;
        if state == State::PendingReminder {
            t.pending_until = Some(until);
        }
        let actions = [
            Action::Lock,
            Action::Open,
            Action::Pending { until },
            Action::Close { successful: true },
            Action::Close { successful: false },
            Action::Move(QueueId(9)),
        ];
        for (action, ok) in actions.iter().zip(allowed) {
            assert_eq!(apply(&t, A, action, t0()).is_ok(), ok, "{state} + {action}");
        }
    }
}

fn actor() -> impl Strategy<Value = Actor> {
    prop_oneof![
        Just(Actor::System),
        (1i64..4).prop_map(|u| Actor::User(UserId(u)))
    ]
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        Just(Action::Lock),
        Just(Action::Unlock),
        Just(Action::Open),
        (-2i64..5).prop_map(|h| Action::Pending {
            until: t0() + Duration::hours(h)
        }),
        any::<bool>().prop_map(|successful| Action::Close { successful }),
        proptest::option::of(1i64..4).prop_map(|u| Action::SetOwner(u.map(UserId))),
        proptest::option::of(1i64..4).prop_map(|u| Action::SetResponsible(u.map(UserId))),
        (1i64..4).prop_map(|q| Action::Move(QueueId(q))),
        (1u8..=5).prop_map(|p| Action::SetPriority(Priority::new(p).unwrap())),
        Just(Action::SetType(TicketType::PaymentProblem)),
        prop_oneof![
            Just(Action::Merge),
            Just(Action::Touch),
            Just(Action::Touch)
        ],
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// No sequence of actions reaches a state OTRS forbids.
    #[test]
    fn life_cycle_never_reaches_a_forbidden_state(
        steps in proptest::collection::vec((actor(), action()), 1..40)
    ) {
        let mut t = fresh();
        let mut left_new = false;
        for (who, what) in steps {
            let before = t.clone();
            match apply(&t, who, &what, t0()) {
                Ok(changes) => {
                    t.apply_changes(&changes);
                    // Nothing leaves merged.
                    prop_assert_ne!(before.state, State::Merged);
                    // A locked ticket is changed only by its owner or the system.
                    if before.locked && !changes.is_empty() && let Actor::User(u) = who {
                        prop_assert_eq!(before.owner, Some(u));
                    }
                    // Closed never goes straight to pending.
                    if before.state.is_closed() {
                        prop_assert_ne!(t.state, State::PendingReminder);
                    }
                    // Each change names a field that really changed.
                    for c in &changes {
                        let (old, new) = c.values();
                        prop_assert_ne!(old, new);
                    }
                }
                Err(_) => prop_assert_eq!(&t, &before),
            }
            if t.state != State::New {
                left_new = true;
            }
            prop_assert!(!(left_new && t.state == State::New), "returned to new");
            prop_assert_eq!(t.state == State::PendingReminder, t.pending_until.is_some());
            if t.locked {
                prop_assert!(t.owner.is_some());
                prop_assert!(!t.state.is_closed() && t.state != State::Merged);
            }
            if t.state == State::PendingReminder {
                prop_assert!(t.pending_until.unwrap() > t0());
            }
        }
    }
}
