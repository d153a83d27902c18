//! The store follows the pure life-cycle model: random action sequences (seeded, so the run
//! is deterministic) are applied to the database and to [`crm::lifecycle::apply`]; after every
//! step both agree on the outcome and on the ticket's fields, and the history has one row per
//! change.

use chrono::Duration;
use crm::lifecycle::{Action, Snapshot, apply};
use crm::{Actor, Channel, NewTicket, Priority, QueueId, Role, Store, TicketType, UserId};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::common::{both, t0, users};

fn random_action(rng: &mut StdRng, users: &[UserId], queues: &[QueueId]) -> Action {
    let user = |rng: &mut StdRng| users[rng.random_range(0..users.len())];
    match rng.random_range(0..12) {
        0 => Action::Lock,
        1 => Action::Unlock,
        2 => Action::Open,
        3 => Action::Pending {
            until: t0() + Duration::hours(rng.random_range(-1..4)),
        },
        4 => Action::Close {
            successful: rng.random(),
        },
        5 => Action::SetOwner(rng.random_bool(0.8).then(|| user(rng))),
        6 => Action::SetResponsible(Some(user(rng))),
        7 => Action::Move(queues[rng.random_range(0..queues.len())]),
        8 => Action::SetPriority(Priority::new(rng.random_range(1..=5)).unwrap()),
        9 => Action::SetType(TicketType::ALL[rng.random_range(0..TicketType::ALL.len())]),
        10 => Action::Merge,
        _ => Action::Touch,
    }
}

async fn store_follows_the_model(store: Store) {
    let ids = users(&store, &[Role::AgentFirstLevel; 3]).await;
    let mut queues = vec![store.raw_queue().await.unwrap()];
    for name in ["cittadini", "tecnica"] {
        queues.push(store.create_queue(name, false, t0()).await.unwrap().id);
    }
    let target = store
        .create_ticket(
            NewTicket::new("merge target", Channel::Phone),
            Actor::System,
            t0(),
        )
        .await
        .unwrap();
    let mut rng = StdRng::seed_from_u64(0x0c3a_7a11);
    for round in 0..12 {
        let t = store
            .create_ticket(
                NewTicket::new(format!("model {round}"), Channel::Phone),
                Actor::System,
                t0(),
            )
            .await
            .unwrap();
        let mut model = Snapshot::new_ticket(t.queue, Priority::NORMAL, TicketType::Other);
        let mut changes_total = 0;
        for _ in 0..20 {
            let actor = if rng.random_bool(0.2) {
                Actor::System
            } else {
                Actor::User(ids[rng.random_range(0..ids.len())])
            };
            let action = random_action(&mut rng, &ids, &queues);
            let expected = apply(&model, actor, &action, t0());
            let got = if action == Action::Merge {
                store.merge(t.id, target.id, actor, t0()).await.map(|_| ())
            } else {
                store
                    .act(t.id, actor, action.clone(), t0())
                    .await
                    .map(|_| ())
            };
            match (&expected, &got) {
                (Ok(changes), Ok(())) => {
                    model.apply_changes(changes);
                    changes_total += changes.len();
                    if action == Action::Merge {
                        changes_total += 1; // the `merged_into` row
                    }
                    let ticket = store.ticket(t.id).await.unwrap();
                    assert_eq!(ticket.snapshot(), model, "after {action} by {actor:?}");
                }
                (Err(e), Err(crm::Error::Lifecycle(g))) => assert_eq!(e, g),
                _ => panic!("{action} by {actor:?}: model {expected:?}, store {got:?}"),
            }
        }
        let history = store.history(t.id).await.unwrap();
        assert_eq!(
            history.len(),
            1 + changes_total,
            "created + one row per change"
        );
    }
}
both!(store_follows_the_model);
