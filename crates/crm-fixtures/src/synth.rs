//! Synthetic Service Requests for load tests, benchmarks and a lived-in demo
//! (`centralino gen-tickets N`).
//!
//! [`generate_tickets`] writes `n` invented tickets with Italian-sounding titles and bodies
//! drawn from small word lists, spread over the store's queues, the life-cycle states,
//! priorities, types, channels and customers, each with one article of the kind its channel
//! implies. Ticket `i`'s title and body depend only on `(seed, i)`, the rest on the store's
//! queues, operators and customers too, so two runs with the same seed
//! write the same tickets whatever the number of writers (ids and ticket numbers follow the
//! order in which concurrent writers commit).
//!
//! Tickets are written with [`Store::import_tickets`], through the same code as
//! [`Store::create_ticket`], [`Store::add_article`] and [`Store::act`] (numbers, history,
//! full-text index, life-cycle checks), batched [`BATCH`] per transaction. Creation times are spread evenly over the
//! [`SPAN_DAYS`] days up to `now`; nothing is dated after `now` except pending-reminder times.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use crm::{
    Action, Actor, ArticleKind, Channel, CustomerId, ImportedTicket, NewArticle, NewCustomer,
    NewTicket, Priority, QueueId, Result, Store, TicketType, UserId,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Tickets per transaction.
pub const BATCH: u64 = 200;
/// Days over which creation times are spread, ending at `now`.
pub const SPAN_DAYS: i64 = 365;

const PROBLEMS: &[&str] = &[
    "Richiesta informazioni su",
    "Problema con",
    "Errore nel",
    "Sollecito per",
    "Chiarimenti su",
    "Reclamo per",
    "Guasto:",
    "Mancata ricezione di",
    "Aggiornamento su",
    "Annullamento di",
    "Rimborso per",
    "Segnalazione su",
];

const SUBJECTS: &[&str] = &[
    "certificato di residenza",
    "tassa rifiuti",
    "carta d'identità elettronica",
    "stampante di rete",
    "posta elettronica",
    "accesso al portale",
    "bollettino di pagamento",
    "pagamento online",
    "cambio di indirizzo",
    "permesso di sosta",
    "bonus energia",
    "mensa scolastica",
    "password scaduta",
    "rete wifi",
    "modulo di domanda",
    "pratica edilizia",
    "iscrizione all'asilo nido",
    "contravvenzione",
    "identità digitale SPID",
    "appuntamento allo sportello",
    "trasporto scolastico",
    "servizio idrico",
];

const PLACES: &[&str] = &[
    "ufficio anagrafe",
    "sportello tributi",
    "sede centrale",
    "municipio",
    "biblioteca comunale",
    "ufficio tecnico",
    "scuola primaria",
    "polizia locale",
    "servizi sociali",
    "ufficio protocollo",
];

const OPENINGS: &[&str] = &[
    "Buongiorno, il cittadino segnala che",
    "Il chiamante riferisce che",
    "Scrivo perché",
    "Si segnala che",
    "La richiedente chiede di sapere perché",
    "Come da telefonata,",
];

const FACTS: &[&str] = &[
    "la pratica risulta ancora in lavorazione",
    "il pagamento non compare nel sistema",
    "non riesce ad accedere con le proprie credenziali",
    "il modulo non viene accettato dal portale",
    "la stampante dell'ufficio non stampa da ieri",
    "la comunicazione non è mai arrivata",
    "l'importo richiesto sembra errato",
    "la scadenza indicata è già passata",
    "il servizio è stato sospeso senza preavviso",
    "il documento riporta un indirizzo sbagliato",
    "la linea cade durante l'attesa",
    "la ricevuta non è stata rilasciata",
];

const CLOSINGS: &[&str] = &[
    "Si chiede un riscontro entro la settimana.",
    "Grazie per la disponibilità.",
    "Si allega la documentazione disponibile.",
    "Richiamare nel pomeriggio.",
    "Il cittadino attende una risposta scritta.",
    "Cordiali saluti.",
];

const FIRST_NAMES: &[&str] = &[
    "Alessandra",
    "Bruno",
    "Carla",
    "Davide",
    "Elena",
    "Fabio",
    "Giorgia",
    "Ivo",
    "Laura",
    "Marco",
    "Nadia",
    "Oscar",
    "Paola",
    "Renato",
    "Silvia",
    "Tommaso",
    "Valeria",
    "Walter",
];

const LAST_NAMES: &[&str] = &[
    "Amato",
    "Barbieri",
    "Conti",
    "De Luca",
    "Esposito",
    "Fontana",
    "Gallo",
    "Greco",
    "Lombardi",
    "Mancini",
    "Marini",
    "Neri",
    "Orlando",
    "Pellegrini",
    "Rinaldi",
    "Santoro",
    "Testa",
    "Villa",
];

fn pick<'a>(rng: &mut StdRng, words: &[&'a str]) -> &'a str {
    words[rng.random_range(0..words.len())]
}

/// An invented ticket title, e.g. "Problema con tassa rifiuti (sportello tributi)".
pub fn synthetic_title(rng: &mut StdRng) -> String {
    let mut title = format!("{} {}", pick(rng, PROBLEMS), pick(rng, SUBJECTS));
    if rng.random_bool(0.6) {
        title.push_str(&format!(" ({})", pick(rng, PLACES)));
    }
    title
}

/// An invented article body of two to four sentences.
pub fn synthetic_body(rng: &mut StdRng) -> String {
    let mut body = format!("{} {}.", pick(rng, OPENINGS), pick(rng, FACTS));
    for _ in 0..rng.random_range(0..=2) {
        let fact = pick(rng, FACTS);
        body.push_str(&format!(" Inoltre {fact} presso {}.", pick(rng, PLACES)));
    }
    body.push_str(&format!(
        " Riferimento protocollo n. {}. {}",
        rng.random_range(10_000..100_000),
        pick(rng, CLOSINGS)
    ));
    body
}

/// What [`generate_tickets`] wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SynthReport {
    /// Tickets created.
    pub tickets: u64,
    /// Synthetic customers created for them.
    pub customers: u64,
}

/// The store's queues, operators and customers the tickets are spread over.
struct Pool {
    /// Queues other than `raw` (which gets one ticket in twenty).
    queues: Vec<QueueId>,
    raw: QueueId,
    /// Per queue, the operators who write in it; `agents` when none is granted.
    writers: HashMap<QueueId, Vec<UserId>>,
    agents: Vec<UserId>,
    customers: Vec<(CustomerId, String)>,
}

impl Pool {
    async fn load(store: &Store) -> Result<Pool> {
        let raw = store.raw_queue().await?;
        let queues = store
            .queues()
            .await?
            .into_iter()
            .map(|q| q.id)
            .filter(|q| *q != raw)
            .collect();
        let agents = store.active_agents().await?;
        let mut writers: HashMap<QueueId, Vec<UserId>> = HashMap::new();
        for (queue, user) in store.write_grants().await? {
            writers.entry(queue).or_default().push(user);
        }
        let customers = store.customer_senders().await?;
        Ok(Pool {
            queues,
            raw,
            writers,
            agents,
            customers,
        })
    }
}

/// One ticket's plan, from `(seed, index)` alone.
struct Plan {
    new: NewTicket,
    article: NewArticle,
    created: DateTime<Utc>,
    /// Life-cycle actions after the article, with who and when.
    actions: Vec<(Actor, Action, DateTime<Utc>)>,
}

fn rng_for(seed: u64, index: u64) -> StdRng {
    // SplitMix64 of (seed, index): neighbouring indices get unrelated streams.
    let mut z = seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    StdRng::seed_from_u64(z ^ (z >> 31))
}

fn plan(pool: &Pool, seed: u64, index: u64, n: u64, now: DateTime<Utc>) -> Plan {
    // Text from its own stream, so titles and bodies do not depend on the store's contents.
    let mut text = rng_for(seed, index);
    let title = synthetic_title(&mut text);
    let body = synthetic_body(&mut text);
    let mut rng = rng_for(seed ^ 0x5EED_F00D_CAFE_0001, index);
    let span = Duration::days(SPAN_DAYS).num_milliseconds();
    let back = span - span * (index as i64 + 1) / (n as i64).max(1);
    let created = now - Duration::milliseconds(back) - Duration::minutes(5);
    let queue = if pool.queues.is_empty() || rng.random_bool(0.05) {
        pool.raw
    } else {
        pool.queues[rng.random_range(0..pool.queues.len())]
    };
    let channel = match rng.random_range(0..100) {
        0..60 => Channel::Phone,
        60..80 => Channel::Email,
        80..88 => Channel::Voicemail,
        88..96 => Channel::Web,
        _ => Channel::Fax,
    };
    let customer = if !pool.customers.is_empty() && rng.random_bool(0.7) {
        Some(pool.customers[rng.random_range(0..pool.customers.len())].clone())
    } else {
        None
    };
    let priority = match rng.random_range(0..100) {
        0..5 => 1,
        5..20 => 2,
        20..75 => 3,
        75..93 => 4,
        _ => 5,
    };
    let mut new = NewTicket::new(title.clone(), channel);
    new.queue = Some(queue);
    new.priority = Priority::new(priority).unwrap_or_default();
    new.ticket_type = TicketType::ALL[rng.random_range(0..TicketType::ALL.len())];
    new.customer = customer.as_ref().map(|c| c.0);
    new.service_area = Some(if rng.random_bool(0.5) { "1" } else { "2" }.to_string());
    if channel == Channel::Phone {
        new.call_id = Some(format!("synth-{seed:x}-{index}"));
    }
    let kind = match channel {
        Channel::Phone => ArticleKind::PhoneReceived,
        Channel::Email => ArticleKind::EmailIn,
        Channel::Voicemail => ArticleKind::Voicemail,
        Channel::Web => ArticleKind::Web,
        Channel::Fax => ArticleKind::Fax,
    };
    let sender = customer.map_or_else(|| "sconosciuto".to_string(), |c| c.1);
    let article = NewArticle::new(kind, sender, title, body);

    let candidates = pool
        .writers
        .get(&queue)
        .filter(|w| !w.is_empty())
        .unwrap_or(&pool.agents);
    let who = if candidates.is_empty() {
        Actor::System
    } else {
        Actor::User(candidates[rng.random_range(0..candidates.len())])
    };
    let at = |minutes: i64| (created + Duration::minutes(minutes)).min(now);
    let taken = rng.random_range(1..240);
    let done = taken + rng.random_range(5..2880);
    let mut actions = Vec::new();
    let start = if who == Actor::System {
        Action::Open
    } else {
        Action::Lock
    };
    match rng.random_range(0..100) {
        // new: nobody took it yet
        0..20 => {}
        20..40 => {
            actions.push((who, start, at(taken)));
            if who != Actor::System && rng.random_bool(0.5) {
                actions.push((who, Action::Unlock, at(taken + 1)));
            }
        }
        40..50 => {
            let until = at(taken) + Duration::hours(rng.random_range(1..72));
            actions.push((who, start, at(taken)));
            actions.push((who, Action::Pending { until }, at(taken)));
        }
        p => {
            actions.push((who, start, at(taken)));
            let successful = p < 90;
            actions.push((who, Action::Close { successful }, at(done)));
        }
    }
    Plan {
        new,
        article,
        created,
        actions,
    }
}

/// The `i`-th of the numbers Ofcom keeps for drama, never given to a subscriber
/// (+44 20 7946 0000 to 0999); `i` below 1,000.
pub fn drama_number(i: u64) -> String {
    format!("+442079460{:03}", i % 1000)
}

/// Adds synthetic customers (invented names, `example.org` e-mails, numbers from a range
/// kept for fiction, see [`drama_number`]): one per 20 tickets, at most 500.
async fn add_customers(store: &Store, n: u64, seed: u64, now: DateTime<Utc>) -> Result<u64> {
    let count = (n / 20).min(500);
    let mut rng = rng_for(seed, u64::MAX);
    for i in 0..count {
        let first = pick(&mut rng, FIRST_NAMES);
        let last = pick(&mut rng, LAST_NAMES);
        let email = format!(
            "{}.{}{}@example.org",
            first.to_lowercase(),
            last.to_lowercase().replace(' ', ""),
            i
        );
        store
            .create_customer(
                NewCustomer {
                    full_name: format!("{first} {last}"),
                    organisation: None,
                    email: Some(email),
                    phones: vec![drama_number(i)],
                    pin: None,
                    guest: false,
                },
                Actor::System,
                now,
            )
            .await?;
    }
    Ok(count)
}

/// Writes `n` synthetic tickets with `writers` concurrent writers (at least one); see the
/// module doc. `now` ends the span of creation times.
pub async fn generate_tickets(
    store: &Store,
    n: u64,
    seed: u64,
    writers: usize,
    now: DateTime<Utc>,
) -> Result<SynthReport> {
    let customers = add_customers(store, n, seed, now).await?;
    let pool = Arc::new(Pool::load(store).await?);
    let writers = writers.clamp(1, 64) as u64;
    let batches = n.div_ceil(BATCH);
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..writers {
        let store = store.clone();
        let pool = pool.clone();
        tasks.spawn(async move {
            // Writer w takes batches w, w + writers, …
            let mut b = w;
            while b < batches {
                let range = b * BATCH..((b + 1) * BATCH).min(n);
                write_batch(&store, &pool, seed, range, n, now).await?;
                b += writers;
            }
            Ok::<_, crm::Error>(())
        });
    }
    while let Some(joined) = tasks.join_next().await {
        joined.map_err(|e| crm::Error::Journal(format!("generator task failed: {e}")))??;
    }
    // A bulk load: refresh the planner's statistics now.
    store.refresh_statistics().await?;
    Ok(SynthReport {
        tickets: n,
        customers,
    })
}

async fn write_batch(
    store: &Store,
    pool: &Pool,
    seed: u64,
    range: std::ops::Range<u64>,
    n: u64,
    now: DateTime<Utc>,
) -> Result<()> {
    let batch: Vec<ImportedTicket> = range
        .map(|i| {
            let p = plan(pool, seed, i, n, now);
            ImportedTicket {
                ticket: p.new,
                created: p.created,
                articles: vec![p.article],
                actions: p.actions,
                first_contact: None,
            }
        })
        .collect();
    store.import_tickets(&batch).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool() -> Pool {
        Pool {
            queues: vec![QueueId(2), QueueId(3)],
            raw: QueueId(1),
            writers: HashMap::from([(QueueId(2), vec![UserId(7)])]),
            agents: vec![UserId(7), UserId(8)],
            customers: vec![(CustomerId(1), "maria.rossi@example.org".into())],
        }
    }

    #[test]
    fn plans_depend_only_on_seed_and_index() {
        let now = chrono::DateTime::<Utc>::from_timestamp(1_772_442_000, 0).unwrap();
        let a = plan(&pool(), 7, 42, 1000, now);
        let b = plan(&pool(), 7, 42, 1000, now);
        let c = plan(&pool(), 8, 42, 1000, now);
        assert_eq!(a.new.title, b.new.title);
        assert_eq!(a.article.body, b.article.body);
        assert_eq!(a.actions, b.actions);
        assert!(a.article.body != c.article.body || a.new.title != c.new.title);
    }

    #[test]
    fn plans_spread_and_stay_in_the_past() {
        let now = chrono::DateTime::<Utc>::from_timestamp(1_772_442_000, 0).unwrap();
        let n = 2000;
        let mut queues = std::collections::HashSet::new();
        let mut channels = std::collections::HashSet::new();
        let mut finals = std::collections::HashSet::new();
        for i in 0..n {
            let p = plan(&pool(), 1, i, n, now);
            assert!(p.created < now && p.created > now - Duration::days(SPAN_DAYS + 1));
            for (who, _, at) in &p.actions {
                assert!(*at <= now && *at >= p.created);
                if p.new.queue == Some(QueueId(2)) {
                    assert_eq!(*who, Actor::User(UserId(7)), "a writer of the queue");
                }
            }
            queues.insert(p.new.queue);
            channels.insert(p.new.channel);
            finals.insert(format!("{:?}", p.actions.last().map(|a| &a.1)));
        }
        assert_eq!(queues.len(), 3, "raw and both queues");
        assert_eq!(channels.len(), Channel::ALL.len());
        assert!(finals.len() >= 5, "{finals:?}");
    }

    #[test]
    fn phones_are_fictional_and_distinct() {
        let numbers: std::collections::HashSet<_> = (0..500).map(drama_number).collect();
        assert_eq!(numbers.len(), 500);
        assert!(
            numbers
                .iter()
                .all(|n| n.starts_with("+442079460") && n.len() == 13)
        );
    }

    #[test]
    fn text_is_italian_ish() {
        let mut rng = rng_for(3, 3);
        let body = synthetic_body(&mut rng);
        assert!(body.contains("protocollo n."), "{body}");
        assert!(!synthetic_title(&mut rng).is_empty());
    }
}
