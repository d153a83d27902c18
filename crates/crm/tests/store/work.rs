//! Articles, attachments, links, merge and second-level assignment.

use crm::{
    Action, Actor, ArticleKind, Channel, Error, NewArticle, NewAttachment, NewTicket, Role, State,
    Store,
};

use crate::common::{both, t0, users};

async fn articles_and_attachments(store: Store) {
    let ids = users(&store, &[Role::AgentFirstLevel, Role::AgentFirstLevel]).await;
    let (a, b) = (Actor::User(ids[0]), Actor::User(ids[1]));
    let t = store
        .create_ticket(NewTicket::new("noise", Channel::Phone), Actor::System, t0())
        .await
        .unwrap();
    let wav = NewAttachment {
        filename: "message.wav".into(),
        content_type: "audio/wav".into(),
        content: vec![7u8; 600],
    };
    let mut note = NewArticle::new(ArticleKind::Note, "Agent 1", "checked", "line is fine");
    note.attachments.push(wav.clone());
    assert!(!note.customer_visible, "notes start internal");
    let n1 = store
        .add_article(t.id, a, note.clone(), t0())
        .await
        .unwrap();
    let mut visible = NewArticle::new(ArticleKind::Note, "Agent 1", "for you", "visible note");
    visible.customer_visible = true;
    visible.attachments.push(wav.clone());
    store.add_article(t.id, a, visible, t0()).await.unwrap();
    let mail = NewArticle::new(
        ArticleKind::EmailOut,
        "helpdesk@example.org",
        "reply",
        "we are on it",
    );
    store.add_article(t.id, a, mail, t0()).await.unwrap();

    let list = store.articles(t.id).await.unwrap();
    assert_eq!(list.len(), 3);
    assert_eq!(list[0].id, n1);
    assert_eq!(list[0].created_by, Some(ids[0]));
    assert!(!list[0].customer_visible && list[1].customer_visible && list[2].customer_visible);
    assert_eq!(list[0].attachments.len(), 1);
    assert_eq!(list[0].attachments[0].sha256, list[1].attachments[0].sha256);
    assert_eq!(
        store.attachment_blob_count().await.unwrap(),
        1,
        "stored once by hash"
    );
    let bytes = store
        .attachment(&list[0].attachments[0].sha256)
        .await
        .unwrap();
    assert_eq!(bytes, wav.content);

    // Size limit (1024 bytes in the test settings).
    let mut big = NewArticle::new(ArticleKind::Fax, "fax", "scan", "");
    big.attachments.push(NewAttachment {
        content: vec![0u8; 2048],
        ..wav.clone()
    });
    let err = store.add_article(t.id, a, big, t0()).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::AttachmentTooLarge {
                limit: 1024,
                size: 2048
            }
        ),
        "{err}"
    );

    // Locked by a: b may not add articles.
    store.act(t.id, a, Action::Lock, t0()).await.unwrap();
    let err = store.add_article(t.id, b, note, t0()).await.unwrap_err();
    assert!(matches!(err, Error::Lifecycle(_)), "{err}");
    let h = store.history(t.id).await.unwrap();
    assert_eq!(h.iter().filter(|h| h.kind == "article").count(), 3);
}
both!(articles_and_attachments);

async fn closing_parent_closes_children(store: Store) {
    let ids = users(&store, &[Role::AgentFirstLevel, Role::AgentFirstLevel]).await;
    let (a, b) = (Actor::User(ids[0]), Actor::User(ids[1]));
    let new = |t: &str| NewTicket::new(t, Channel::Phone);
    let parent = store.create_ticket(new("outage"), a, t0()).await.unwrap();
    let c1 = store
        .create_ticket(new("same outage 1"), a, t0())
        .await
        .unwrap();
    let c2 = store
        .create_ticket(new("same outage 2"), a, t0())
        .await
        .unwrap();
    let grandchild = store.create_ticket(new("again"), a, t0()).await.unwrap();
    store.link_child(parent.id, c1.id, a, t0()).await.unwrap();
    store.link_child(parent.id, c2.id, a, t0()).await.unwrap();
    store
        .link_child(c1.id, grandchild.id, a, t0())
        .await
        .unwrap();
    assert!(
        store
            .link_child(grandchild.id, parent.id, a, t0())
            .await
            .is_err(),
        "cycle"
    );
    assert!(store.link_child(c1.id, c1.id, a, t0()).await.is_err());
    // c2 is locked by b: the cascade still closes it.
    store.act(c2.id, b, Action::Lock, t0()).await.unwrap();
    assert_eq!(store.children(parent.id).await.unwrap().len(), 2);

    store
        .act(parent.id, a, Action::Close { successful: true }, t0())
        .await
        .unwrap();
    for id in [c1.id, c2.id, grandchild.id] {
        let t = store.ticket(id).await.unwrap();
        assert_eq!(t.state, State::ClosedSuccessful, "{}", t.title);
        assert!(!t.locked);
        let notes = store.articles(id).await.unwrap();
        assert!(
            notes
                .last()
                .unwrap()
                .body
                .contains("closed together with parent")
        );
    }
}
both!(closing_parent_closes_children);

async fn merge_moves_articles_and_freezes_source(store: Store) {
    let ids = users(&store, &[Role::AgentFirstLevel]).await;
    let a = Actor::User(ids[0]);
    let src = store
        .create_ticket(NewTicket::new("dup", Channel::Email), a, t0())
        .await
        .unwrap();
    let dst = store
        .create_ticket(NewTicket::new("orig", Channel::Phone), a, t0())
        .await
        .unwrap();
    let art = NewArticle::new(ArticleKind::EmailIn, "citizen@example.org", "help", "body");
    store.add_article(src.id, a, art, t0()).await.unwrap();
    store.merge(src.id, dst.id, a, t0()).await.unwrap();
    let s = store.ticket(src.id).await.unwrap();
    assert_eq!((s.state, s.merged_into), (State::Merged, Some(dst.id)));
    assert_eq!(store.articles(dst.id).await.unwrap().len(), 1);
    let err = store.act(src.id, a, Action::Open, t0()).await.unwrap_err();
    assert!(err.to_string().contains("merged"), "{err}");
    assert!(
        store.merge(dst.id, src.id, a, t0()).await.is_err(),
        "into a merged ticket"
    );
    let h = store.history(dst.id).await.unwrap();
    assert!(
        h.iter()
            .any(|h| h.kind == "merged_from" && h.new.as_deref() == Some(&src.number))
    );
}
both!(merge_moves_articles_and_freezes_source);

async fn second_level_assignment_and_rejection(store: Store) {
    let ids = users(&store, &[Role::AgentFirstLevel, Role::AgentSecondLevel]).await;
    let (first, second) = (Actor::User(ids[0]), Actor::User(ids[1]));
    let front = store.create_queue("cittadini", false, t0()).await.unwrap();
    let back = store
        .create_queue("secondo-livello", true, t0())
        .await
        .unwrap();
    let tributi = store.create_queue("tributi", true, t0()).await.unwrap();
    let mut new = NewTicket::new("tax question", Channel::Phone);
    new.queue = Some(front.id);
    let t = store.create_ticket(new, first, t0()).await.unwrap();
    store.act(t.id, first, Action::Lock, t0()).await.unwrap();
    let err = store
        .assign_second_level(t.id, front.id, first, None, t0())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("second-level queue"), "{err}");
    let t = store
        .assign_second_level(t.id, back.id, first, Some("needs the tax office"), t0())
        .await
        .unwrap();
    assert_eq!((t.queue, t.locked), (back.id, false));
    assert!(
        store
            .reject_assignment(t.id, second, " ", None, t0())
            .await
            .is_err()
    );
    // Rejected with a suggestion: goes there.
    let t = store
        .reject_assignment(t.id, second, "not ours", Some(tributi.id), t0())
        .await
        .unwrap();
    assert_eq!(t.queue, tributi.id);
    // Rejected without one: back to where it was assigned from.
    let t = store
        .assign_second_level(t.id, back.id, first, None, t0())
        .await
        .unwrap();
    let t = store
        .reject_assignment(t.id, second, "wrong office", None, t0())
        .await
        .unwrap();
    assert_eq!(t.queue, tributi.id);
    let hops = store.assignment_hops(t.id).await.unwrap();
    let kinds: Vec<&str> = hops.iter().map(|h| h.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "queue",
            "assignment",
            "queue",
            "assignment_rejected",
            "queue",
            "assignment",
            "queue",
            "assignment_rejected"
        ]
    );
    assert_eq!(hops[3].note.as_deref(), Some("not ours"));
    assert_eq!(hops[3].actor, Some(ids[1]));
}
both!(second_level_assignment_and_rejection);
