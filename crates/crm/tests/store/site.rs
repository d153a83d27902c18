//! People and queues as data (crm::site): queues with their call settings, memberships,
//! permissions, phones with their own secrets; every change audited and counted in the site
//! revision.

use crm::credentials::ha1_md5;
use crm::{
    Access, Actor, Channel, Error, Membership, NewTicket, PhoneKind, QueueSettings, Role, Store,
    UserChange,
};

use crate::common::{both, t0};

fn settings() -> QueueSettings {
    QueueSettings {
        announce_every_s: Some(30),
        ..QueueSettings::default()
    }
}

async fn a_queue_is_created_once_with_its_call_settings(store: Store) {
    let r0 = store.site_revision().await.unwrap();
    let q = store
        .create_site_queue("anagrafe", false, &settings(), Actor::System, t0())
        .await
        .unwrap();
    assert_eq!(q.queue.name, "anagrafe");
    assert!(q.settings.takes_calls);
    assert_eq!(q.settings.announce_every_s, Some(30));
    assert_eq!(store.site_revision().await.unwrap(), r0 + 1);
    // It is the CRM queue too: tickets can go there, people can be granted it.
    assert_eq!(
        store.queue_by_name("anagrafe").await.unwrap(),
        Some(q.queue.id)
    );
    // Once.
    assert!(matches!(
        store
            .create_site_queue("anagrafe", false, &settings(), Actor::System, t0())
            .await,
        Err(Error::Duplicate { .. })
    ));
    // Bad names and settings are refused with what was expected.
    for (name, s) in [
        ("Anagrafe Centrale", settings()),
        (
            "tributi",
            QueueSettings {
                weight: 101,
                ..settings()
            },
        ),
        (
            "tributi",
            QueueSettings {
                max_wait_s: Some(60),
                overflow: Some("nowhere".into()),
                ..settings()
            },
        ),
        (
            "tributi",
            QueueSettings {
                max_wait_s: Some(60),
                overflow: Some("tributi".into()),
                ..settings()
            },
        ),
    ] {
        let refused = store
            .create_site_queue(name, false, &s, Actor::System, t0())
            .await;
        assert!(matches!(refused, Err(Error::Invalid { .. })), "{refused:?}");
    }
    assert_eq!(
        store.site_revision().await.unwrap(),
        r0 + 1,
        "refusals change nothing"
    );

    // Overflow to another queue or to a mailbox; the update is audited with its values.
    let updated = store
        .update_site_queue(
            "anagrafe",
            true,
            &QueueSettings {
                max_wait_s: Some(120),
                overflow: Some("voicemail:main".into()),
                ..settings()
            },
            Actor::System,
            t0(),
        )
        .await
        .unwrap();
    assert!(updated.queue.second_level);
    assert_eq!(updated.settings.overflow.as_deref(), Some("voicemail:main"));
    let audit = store.audit_log("queue:anagrafe").await.unwrap();
    assert_eq!(
        audit.iter().map(|a| a.action.as_str()).collect::<Vec<_>>(),
        ["create", "change"]
    );
    assert!(
        audit[1]
            .detail
            .as_deref()
            .unwrap()
            .contains("after 120 s to voicemail:main"),
        "{audit:?}"
    );
}
both!(a_queue_is_created_once_with_its_call_settings);

async fn a_queue_in_use_cannot_be_deleted(store: Store) {
    let a = store
        .create_site_queue("anagrafe", false, &settings(), Actor::System, t0())
        .await
        .unwrap();
    store
        .create_site_queue(
            "tributi",
            false,
            &QueueSettings {
                max_wait_s: Some(60),
                overflow: Some("anagrafe".into()),
                ..settings()
            },
            Actor::System,
            t0(),
        )
        .await
        .unwrap();
    let in_use = store
        .delete_site_queue("anagrafe", Actor::System, t0())
        .await;
    assert!(
        matches!(&in_use, Err(Error::InUse { by, .. }) if by.contains("tributi")),
        "{in_use:?}"
    );
    assert!(matches!(
        store.delete_site_queue("raw", Actor::System, t0()).await,
        Err(Error::InUse { .. })
    ));
    // A queue with tickets stays (its history is the service's).
    let mut ticket = NewTicket::new("certificato", Channel::Phone);
    ticket.queue = Some(a.queue.id);
    store
        .create_ticket(ticket, Actor::System, t0())
        .await
        .unwrap();
    store
        .delete_site_queue("tributi", Actor::System, t0())
        .await
        .unwrap();
    assert!(matches!(
        store.delete_site_queue("anagrafe", Actor::System, t0()).await,
        Err(Error::InUse { by, .. }) if by.contains("1 tickets")
    ));
    assert!(matches!(
        store
            .delete_site_queue("tributi", Actor::System, t0())
            .await,
        Err(Error::NotFound { .. })
    ));
}
both!(a_queue_in_use_cannot_be_deleted);

async fn agents_serve_queues_with_phones_of_their_own(store: Store) {
    for name in ["anagrafe", "tributi"] {
        store
            .create_site_queue(name, false, &settings(), Actor::System, t0())
            .await
            .unwrap();
    }
    // A queue that takes no calls (written channels only) is not the ACD's.
    store
        .create_site_queue(
            "posta",
            false,
            &QueueSettings {
                takes_calls: false,
                ..settings()
            },
            Actor::System,
            t0(),
        )
        .await
        .unwrap();
    let admin = store
        .add_user(
            "amministratore",
            "Ada Amministratrice",
            Role::Admin,
            "password-lunga",
            Actor::System,
            t0(),
        )
        .await
        .unwrap();
    let by = Actor::User(admin.id);
    for login in ["3001", "3002"] {
        store
            .add_user(
                login,
                &format!("Operatore {login}"),
                Role::AgentFirstLevel,
                "password-lunga",
                by,
                t0(),
            )
            .await
            .unwrap();
    }
    let r0 = store.site_revision().await.unwrap();
    store
        .set_memberships(
            "3001",
            &[
                Membership {
                    queue: "anagrafe".into(),
                    weight: 1,
                },
                Membership {
                    queue: "tributi".into(),
                    weight: 4,
                },
                Membership {
                    queue: "posta".into(),
                    weight: 1,
                },
            ],
            by,
            t0(),
        )
        .await
        .unwrap();
    store
        .set_memberships(
            "3002",
            &[Membership {
                queue: "anagrafe".into(),
                weight: 1,
            }],
            by,
            t0(),
        )
        .await
        .unwrap();
    // A user without a phone has no digest credentials; a phone has its own secret.
    assert!(store.sip_credentials().await.unwrap().is_empty());
    store
        .set_phone("3001", Some(&PhoneKind::Registering), by, t0())
        .await
        .unwrap();
    assert!(
        store.sip_credentials().await.unwrap().is_empty(),
        "no secret yet"
    );
    store
        .set_sip_secret("3001", "Segreto-3001-abc", by, t0())
        .await
        .unwrap();
    let creds = store.sip_credentials().await.unwrap();
    assert_eq!(creds.len(), 1);
    assert_eq!(
        creds[0].ha1_md5,
        ha1_md5("3001", "centralino", "Segreto-3001-abc")
    );
    store
        .set_phone(
            "3002",
            Some(&PhoneKind::Static {
                contact: "sip:3002@192.0.2.20:5060".into(),
            }),
            by,
            t0(),
        )
        .await
        .unwrap();
    assert!(
        store
            .set_phone(
                "3002",
                Some(&PhoneKind::Static {
                    contact: "sip:3002@phone.example.org".into()
                }),
                by,
                t0()
            )
            .await
            .is_err(),
        "a contact needs an IP address"
    );
    assert_eq!(store.site_revision().await.unwrap(), r0 + 5);

    // The site: queues that take calls, active users who serve one, with their phones.
    let site = store.site().await.unwrap();
    assert_eq!(site.revision, r0 + 5);
    let queues: Vec<&str> = site.queues.iter().map(|q| q.queue.name.as_str()).collect();
    assert_eq!(queues, ["anagrafe", "tributi"]);
    let agents: Vec<(&str, Vec<(&str, u32)>)> = site
        .agents
        .iter()
        .map(|a| {
            (
                a.user.login.as_str(),
                a.memberships
                    .iter()
                    .map(|m| (m.queue.as_str(), m.weight))
                    .collect(),
            )
        })
        .collect();
    assert_eq!(
        agents,
        [
            ("3001", vec![("anagrafe", 1), ("tributi", 4)]),
            ("3002", vec![("anagrafe", 1)]),
        ]
    );
    let phone = site.agents[0].phone.as_ref().unwrap();
    assert!(phone.has_secret && phone.kind == PhoneKind::Registering);
    assert_eq!(
        site.agents[1].phone.as_ref().unwrap().kind,
        PhoneKind::Static {
            contact: "sip:3002@192.0.2.20:5060".into()
        }
    );

    // Disabled: out of the site and of the registrar's table at once.
    store
        .update_user(
            "3001",
            &UserChange {
                active: Some(false),
                ..UserChange::default()
            },
            by,
            t0(),
        )
        .await
        .unwrap();
    let site = store.site().await.unwrap();
    assert_eq!(site.agents.len(), 1);
    assert!(store.sip_credentials().await.unwrap().is_empty());
    // Unknown queues and repeated ones are refused.
    for bad in [
        vec![Membership {
            queue: "nessuna".into(),
            weight: 1,
        }],
        vec![
            Membership {
                queue: "anagrafe".into(),
                weight: 1,
            },
            Membership {
                queue: "anagrafe".into(),
                weight: 2,
            },
        ],
        vec![Membership {
            queue: "anagrafe".into(),
            weight: 0,
        }],
    ] {
        assert!(
            store.set_memberships("3002", &bad, by, t0()).await.is_err(),
            "{bad:?}"
        );
    }
    // Removing the phone removes its secret.
    store.set_phone("3001", None, by, t0()).await.unwrap();
    assert!(store.site_user("3001").await.unwrap().phone.is_none());
    // Every change is in the user's audit trail, by the admin.
    let u = store.user_by_login("3001").await.unwrap().unwrap();
    let audit = store.audit_log(&format!("user:{}", u.id)).await.unwrap();
    let details: Vec<&str> = audit.iter().filter_map(|a| a.detail.as_deref()).collect();
    assert_eq!(
        details,
        [
            "3001 (agent_first_level)",
            "queues: anagrafe×1, tributi×4, posta×1",
            "registering phone",
            "phone secret",
            "disabled",
            "phone removed",
        ]
    );
    assert!(audit.iter().all(|a| a.actor == Some(admin.id)));
}
both!(agents_serve_queues_with_phones_of_their_own);

async fn users_get_roles_and_queue_permissions(store: Store) {
    for name in ["anagrafe", "tributi"] {
        store
            .create_site_queue(name, false, &settings(), Actor::System, t0())
            .await
            .unwrap();
    }
    let u = store
        .add_user(
            "m.verdi",
            "Marta Verdi",
            Role::AgentFirstLevel,
            "password-lunga",
            Actor::System,
            t0(),
        )
        .await
        .unwrap();
    assert!(
        store
            .add_user(
                "bad login",
                "X",
                Role::Admin,
                "password-lunga",
                Actor::System,
                t0()
            )
            .await
            .is_err()
    );
    store
        .set_permissions(
            "m.verdi",
            &[
                ("anagrafe".to_string(), Access::Write),
                ("tributi".to_string(), Access::Read),
            ],
            Actor::System,
            t0(),
        )
        .await
        .unwrap();
    let a = store.queue_by_name("anagrafe").await.unwrap().unwrap();
    let t = store.queue_by_name("tributi").await.unwrap().unwrap();
    assert_eq!(
        store.queue_access(u.id, a).await.unwrap(),
        Some(Access::Write)
    );
    assert_eq!(
        store.queue_access(u.id, t).await.unwrap(),
        Some(Access::Read)
    );
    // Replaced whole: tributi's grant is gone.
    store
        .set_permissions(
            "m.verdi",
            &[("anagrafe".to_string(), Access::Read)],
            Actor::System,
            t0(),
        )
        .await
        .unwrap();
    assert_eq!(store.queue_access(u.id, t).await.unwrap(), None);
    let changed = store
        .update_user(
            "m.verdi",
            &UserChange {
                role: Some(Role::AgentSecondLevel),
                full_name: Some("Marta Verdi Neri".into()),
                active: None,
            },
            Actor::System,
            t0(),
        )
        .await
        .unwrap();
    assert_eq!(changed.role, Role::AgentSecondLevel);
    assert_eq!(changed.full_name, "Marta Verdi Neri");
    let shown = store.site_user("m.verdi").await.unwrap();
    assert_eq!(shown.permissions, [("anagrafe".to_string(), Access::Read)]);
    assert!(matches!(
        store.site_user("nessuno").await,
        Err(Error::NotFound { .. })
    ));
}
both!(users_get_roles_and_queue_permissions);
