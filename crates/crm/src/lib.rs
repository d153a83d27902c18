//! The centralino CRM: Service Requests (tickets) in the OTRS manner, their articles and
//! history, customers, operators and call records, stored through `sqlx` on SQLite (default)
//! or PostgreSQL with one schema (R-SR-3..8, R-SR-11, R-PLT-2).
//!
//! Start with [`Store::connect`]; it applies the migrations. Every operation takes the acting
//! [`Actor`] and the time `now` explicitly: the store never reads the clock, so tests run on
//! fake time and the same call replayed from a journal writes the same rows.
//!
//! The store is one database handle, [`Store`] ([`store`]: the pools, migrations, write
//! transactions), and each concern adds its operations to it in a module of its own that
//! holds that concern's SQL. Below the store sit plain values that run no statement.
//!
//! | module | concept |
//! |---|---|
//! | **values** | |
//! | [`types`] | ids, priorities, ticket types, channels, article kinds, actors |
//! | [`lifecycle`] | the transition table (states, lock, owner, queue, …) |
//! | [`error`] | the crate's error (and the value constructors that fail with it) |
//! | [`number`] | OTRS DateChecksum ticket numbers |
//! | [`clocks`] | escalation clocks and queue targets on a business calendar |
//! | [`ticket`] | the ticket, a new ticket, a history row |
//! | [`settings`] | what a deployment decides: database, system id, time zone, secrets |
//! | [`config`] | the `[database]` and `[sla]` sections of the configuration, validated |
//! | **the handle** | |
//! | [`store`] | connection pools, migrations, write transactions |
//! | **concerns** (each `impl Store` with its own SQL) | |
//! | [`tickets`] | create, read, act, history, reminders |
//! | [`queues`] | queues, including `raw` |
//! | [`articles`] | articles and content-addressed attachments |
//! | [`links`] | parent/child links, close cascade, merge |
//! | [`sla`] | escalation targets per queue, clocks on tickets, due lists |
//! | [`assignment`] | second-level assignment and rejection |
//! | [`calls`] | call cards, queue event log, ticket for an answered call |
//! | [`search`] | number wildcards, full text, filters, paging |
//! | [`event_log`] | the append-only event log, and the queue log rows derived from it |
//! | [`voicemail`] | a recorded message filed as a Service Request, once per call |
//! | [`customers`] | customer registry, E.164 phones, PIN HMAC |
//! | [`access`] | operators, roles, queue permissions, audit log |
//! | [`credentials`] | passwords and the SIP digest HA1s derived from them |
//! | [`api_queries`] | reads the console's API needs |
//! | [`import`] | bulk import: tickets with their articles and actions |
//! | [`journal`] | on-disk journal of call writes while the database is away |
//! | [`mail`] | inbound e-mail filed on tickets (raw kept), the outbox, mail templates |
//! | [`mail_desk`] | what a mail about a ticket needs; confirmations, closures and reminders due |
//! | [`notifications`] | operators' notification choices, the ticket events to notify |
//! | [`maintenance`] | backup snapshot, schema version, empty database, administrators |
//!
//! The escalation sweep (`spawn_escalation_sweep`) checks the clocks periodically and
//! publishes `ticket.escalation` once per stage.
//!
//! One private module inserts tickets (`ticket_insert`: number, row, clocks, call link,
//! history), run through sqlx or, for API creates, by a ticket writer that group-commits
//! them with the same statements: a thread on rusqlite for an SQLite file (`writer`), a
//! thread with one PostgreSQL connection for PostgreSQL (`pg_writer`). The demo's data and
//! synthetic tickets are not here: they are the `crm-fixtures` crate.
//!
//! # Databases
//! One schema, written twice (`migrations/sqlite`, `migrations/postgres`) with the same
//! tables and columns; all queries are shared and run through sqlx's `Any` driver. Times are
//! stored as UTC milliseconds since the epoch; flags as `BOOLEAN` (PostgreSQL) or 0/1
//! (SQLite). Full-text search is the one dialect-specific query (FTS5 / tsvector).
//!
//! # Access control
//! The store records who acts but does not decide who may: the API layer checks
//! [`Store::queue_access`] and the role before calling. The life cycle's own rules (a locked
//! ticket is changed only by its owner, …) are enforced here for every caller.
//!
//! # Tests
//! `cargo test -p crm` runs every store test on SQLite (temporary file) and on PostgreSQL (a
//! fresh database per test on `CENTRALINO_TEST_PG`, default
//! `postgres://postgres@127.0.0.1:5432/postgres`, which must be reachable).

#![warn(missing_docs)]

pub mod access;
pub mod api_queries;
pub mod articles;
pub mod assignment;
pub mod calls;
pub mod clocks;
pub mod config;
pub mod credentials;
pub mod customers;
pub mod directory_users;
pub mod error;
pub mod event_log;
pub mod first_contact;
pub mod import;
pub mod journal;
pub mod lifecycle;
pub mod links;
pub mod mail;
pub mod mail_desk;
pub mod maintenance;
pub mod notifications;
pub mod number;
mod pg_writer;
pub mod queues;
pub mod report_facts;
pub mod search;
pub mod settings;
pub mod site;
pub mod sla;
pub mod store;
mod sweep;
pub mod ticket;
mod ticket_insert;
pub mod tickets;
pub mod types;
pub mod voicemail;
pub mod write_queue;
mod writer;
pub mod written;

pub use access::{Access, AuditEntry, PasswordCost, Role, User};
pub use articles::{Article, Attachment, NewArticle, NewAttachment};
pub use calls::{
    AnsweredCall, CallOutcome, CallRecord, IdentityResult, InterruptedCall, NewCall, QueueEvent,
    QueueEventKind,
};
pub use credentials::SipCredential;
pub use customers::{Customer, CustomerUpdate, NewCustomer};
pub use directory_users::{LoginRecord, Provisioned};
pub use error::{Error, Result};
pub use event_log::LoggedEvent;
pub use first_contact::{FirstContact, TicketFacts};
pub use import::ImportedTicket;
pub use journal::{CallWrite, JournalText, JournaledStore, Replay, Written, parse_journal};
pub use lifecycle::{Action, Change, LifecycleError, Snapshot, State};
pub use mail::{
    InboundMail, MailContent, MailFiled, OUTGOING_ATTACHMENTS_MAX_BYTES, OutboxMail, OutgoingMail,
    StoredMail,
};
pub use mail_desk::{LastInbound, MailContext};
pub use notifications::{NotificationPrefs, Subscriber};
pub use number::SystemId;
pub use queues::Queue;
pub use report_facts::{FactBatch, FactCall, FactClosure, FactHour, ReportRead, Watermark};
pub use search::{COUNT_CAP, SearchPage, SortBy, TicketQuery};
pub use settings::SqliteSynchronous;
pub use site::{
    Membership, Phone, PhoneKind, QueueSettings, Site, SiteQueue, SiteUser, UserChange,
};
pub use sla::{Clock, Escalation, EscalationWatch, QueueSla, QueueTargets, Stage, TicketSla};
pub use store::{Backend, Settings, Store};
pub use sweep::spawn_escalation_sweep;
pub use tickets::{HistoryEntry, NewTicket, Ticket};
pub use types::{
    Actor, ArticleId, ArticleKind, Channel, CustomerId, Priority, QueueId, TicketId, TicketType,
    UserId,
};
pub use voicemail::{MessageClocks, VoicemailFiled, VoicemailMessage};
pub use write_queue::{Queued, WriteQueue, WriteQueueReader};
pub use written::{OpenedRequest, WrittenRequest};
