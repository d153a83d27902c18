//! Search: number wildcards, full text, filters, paging.

use chrono::Duration;
use crm::{
    Action, Actor, ArticleKind, Channel, NewArticle, NewTicket, Priority, Role, SortBy, State,
    Store, TicketQuery, TicketType,
};

use crate::common::{both, t0, users};

async fn search_by_number_text_and_filters(store: Store) {
    let ids = users(&store, &[Role::AgentFirstLevel]).await;
    let a = Actor::User(ids[0]);
    let q = store.create_queue("tecnica", false, t0()).await.unwrap();
    let mut made = Vec::new();
    for (i, title) in [
        "Stampante rotta al terzo piano",
        "Richiesta certificato di residenza",
        "Pagamento tassa rifiuti non registrato",
    ]
    .iter()
    .enumerate()
    {
        let mut n = NewTicket::new(*title, Channel::Phone);
        if i == 0 {
            n.queue = Some(q.id);
            n.priority = Priority::new(5).unwrap();
            n.ticket_type = TicketType::TechnicalProblem;
        }
        made.push(
            store
                .create_ticket(n, a, t0() + Duration::minutes(i as i64))
                .await
                .unwrap(),
        );
    }
    let next_day = store
        .create_ticket(
            NewTicket::new("altro", Channel::Email),
            a,
            t0() + Duration::days(1),
        )
        .await
        .unwrap();
    let art = NewArticle::new(
        ArticleKind::EmailIn,
        "cittadino@example.org",
        "sollecito",
        "Ho pagato il bollettino ma risulta insoluto",
    );
    store.add_article(made[2].id, a, art, t0()).await.unwrap();
    store.act(made[1].id, a, Action::Lock, t0()).await.unwrap();

    let numbers = |page: crm::SearchPage| -> Vec<String> {
        page.tickets.into_iter().map(|t| t.number).collect()
    };
    let query = |f: &dyn Fn(&mut TicketQuery)| {
        let mut q = TicketQuery::default();
        f(&mut q);
        q
    };
    // Number with wildcards.
    let day = &made[0].number[..8];
    let page = store
        .search_tickets(&query(&|q| q.number = Some(format!("{day}*"))))
        .await
        .unwrap();
    assert_eq!(page.total, 3);
    let exact = made[1].number.clone();
    let page = store
        .search_tickets(&query(&|q| q.number = Some(exact.clone())))
        .await
        .unwrap();
    assert_eq!(numbers(page), [exact.as_str()]);
    let mid = format!("*{}", &made[2].number[10..]);
    let page = store
        .search_tickets(&query(&|q| q.number = Some(mid.clone())))
        .await
        .unwrap();
    assert_eq!(numbers(page), [made[2].number.clone()]);
    assert!(
        store
            .search_tickets(&query(&|q| q.number = Some("20%".into())))
            .await
            .is_err()
    );

    // Full text over title, body and sender.
    for (text, expect) in [
        ("stampante", &made[0]),
        ("bollettino insoluto", &made[2]),
        ("cittadino@example.org", &made[2]),
        ("certificato residenza", &made[1]),
    ] {
        let page = store
            .search_tickets(&query(&|q| q.text = Some(text.into())))
            .await
            .unwrap();
        assert_eq!(numbers(page), [expect.number.as_str()], "text {text}");
    }
    let page = store
        .search_tickets(&query(&|q| q.text = Some("inesistente".into())))
        .await
        .unwrap();
    assert_eq!(page.total, 0);

    // Filters.
    let page = store
        .search_tickets(&query(&|q| {
            q.queues = vec![made[0].queue];
            q.priorities = vec![Priority::new(5).unwrap()];
            q.types = vec![TicketType::TechnicalProblem];
        }))
        .await
        .unwrap();
    assert_eq!(numbers(page), [made[0].number.clone()]);
    let page = store
        .search_tickets(&query(&|q| {
            q.states = vec![State::Open];
            q.owner = Some(ids[0]);
        }))
        .await
        .unwrap();
    assert_eq!(numbers(page), [exact.as_str()]);
    let page = store
        .search_tickets(&query(&|q| q.channel = Some(Channel::Email)))
        .await
        .unwrap();
    assert_eq!(numbers(page), [next_day.number.as_str()]);
    let page = store
        .search_tickets(&query(&|q| {
            q.created_from = Some(t0() + Duration::minutes(1));
            q.created_to = Some(t0() + Duration::hours(1));
        }))
        .await
        .unwrap();
    assert_eq!(page.total, 2);

    // Sorting and paging.
    let page = store
        .search_tickets(&query(&|q| {
            q.sort = SortBy::Created;
            q.descending = true;
            q.limit = 2;
            q.offset = 1;
        }))
        .await
        .unwrap();
    assert_eq!(page.total, 4);
    assert_eq!(
        numbers(page),
        [made[2].number.clone(), made[1].number.clone()]
    );
}
both!(search_by_number_text_and_filters);

async fn merged_articles_are_found_on_the_target(store: Store) {
    let a = Actor::System;
    let src = store
        .create_ticket(NewTicket::new("doppione", Channel::Email), a, t0())
        .await
        .unwrap();
    let dst = store
        .create_ticket(NewTicket::new("originale", Channel::Email), a, t0())
        .await
        .unwrap();
    let art = NewArticle::new(
        ArticleKind::EmailIn,
        "x@example.org",
        "s",
        "lampione spento",
    );
    store.add_article(src.id, a, art, t0()).await.unwrap();
    store.merge(src.id, dst.id, a, t0()).await.unwrap();
    let q = TicketQuery {
        text: Some("lampione".into()),
        ..TicketQuery::default()
    };
    let page = store.search_tickets(&q).await.unwrap();
    assert_eq!(page.tickets.len(), 1);
    assert_eq!(page.tickets[0].id, dst.id);
}
both!(merged_articles_are_found_on_the_target);
