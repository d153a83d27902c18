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

/// Free text where each ticket matches in its title and in several articles: every ticket
/// is listed and counted once, pages follow creation order both ways, filters apply, and a
/// count past the cap says so.
async fn text_matches_count_each_ticket_once_in_creation_order(store: Store) {
    let a = Actor::System;
    let mut made = Vec::new();
    for i in 0..5i64 {
        let t = store
            .create_ticket(
                NewTicket::new(format!("lampione spento {i}"), Channel::Phone),
                a,
                t0() + Duration::minutes(i),
            )
            .await
            .unwrap();
        for k in 0..3 {
            let art = NewArticle::new(
                ArticleKind::EmailIn,
                "cittadino@example.org",
                "lampione",
                format!("il lampione di via Roma è ancora spento ({k})"),
            );
            store.add_article(t.id, a, art, t0()).await.unwrap();
        }
        made.push(t);
    }
    store.act(made[3].id, a, Action::Open, t0()).await.unwrap();
    let page = |descending: bool, limit: u32, offset: u32, states: Vec<State>| TicketQuery {
        text: Some("lampione spento".into()),
        descending,
        limit,
        offset,
        states,
        ..TicketQuery::default()
    };
    let ids = |p: &crm::SearchPage| p.tickets.iter().map(|t| t.id).collect::<Vec<_>>();

    let first = store
        .search_tickets(&page(true, 2, 0, vec![]))
        .await
        .unwrap();
    assert_eq!((first.total, first.total_exact), (5, true));
    assert_eq!(ids(&first), [made[4].id, made[3].id]);
    let second = store
        .search_tickets(&page(true, 2, 2, vec![]))
        .await
        .unwrap();
    assert_eq!(ids(&second), [made[2].id, made[1].id]);
    let last = store
        .search_tickets(&page(true, 2, 4, vec![]))
        .await
        .unwrap();
    assert_eq!(ids(&last), [made[0].id]);
    let oldest = store
        .search_tickets(&page(false, 3, 0, vec![]))
        .await
        .unwrap();
    assert_eq!(ids(&oldest), [made[0].id, made[1].id, made[2].id]);

    let open = store
        .search_tickets(&page(true, 10, 0, vec![State::Open]))
        .await
        .unwrap();
    assert_eq!((open.total, ids(&open)), (1, vec![made[3].id]));
}
both!(text_matches_count_each_ticket_once_in_creation_order);

/// More matches than the count cap: the count stops at the cap and says it is not exact.
async fn text_count_stops_at_the_cap(store: Store) {
    let titles: Vec<NewTicket> = (0..crm::COUNT_CAP + 5)
        .map(|i| NewTicket::new(format!("fontanella rotta {i}"), Channel::Web))
        .collect();
    for (i, n) in titles.into_iter().enumerate() {
        store
            .create_ticket(n, Actor::System, t0() + Duration::seconds(i as i64))
            .await
            .unwrap();
    }
    let q = TicketQuery {
        text: Some("fontanella".into()),
        limit: 10,
        ..TicketQuery::default()
    };
    let page = store.search_tickets(&q).await.unwrap();
    assert_eq!((page.total, page.total_exact), (crm::COUNT_CAP, false));
    assert_eq!(page.tickets.len(), 10);
}
both!(text_count_stops_at_the_cap);
