//! The centralino CRM: Service Requests (tickets) in the OTRS manner, their articles and
//! history, customers, operators and call records, stored through `sqlx` on SQLite (default)
//! or PostgreSQL with one schema (R-SR-3..8, R-SR-11, R-PLT-2).
//!
//! Start with [`Store::connect`]; it applies the migrations. Every operation takes the acting
//! [`Actor`] and the time `now` explicitly: the store never reads the clock, so tests run on
//! fake time and the same call replayed from a journal writes the same rows.
//!
//! | module | concept |
//! |---|---|
//! | [`number`] | OTRS DateChecksum ticket numbers |
//! | [`lifecycle`] | the transition table (states, lock, owner, queue, …) |
//! | [`tickets`] | create, read, act, history, reminders |
//! | [`queues`] | queues, including `raw` |
//! | [`articles`] | articles and content-addressed attachments |
//! | [`links`] | parent/child links, close cascade, merge |
//! | [`sla`] | escalation clocks: first response, update, solution on a business calendar |
//! | [`assignment`] | second-level assignment and rejection |
//! | [`calls`] | call cards, queue event log, ticket for an answered call |
//! | [`search`] | number wildcards, full text, filters, paging |
//! | [`event_log`] | the append-only event log, and the queue log rows derived from it |
//! | [`journal`] | on-disk journal of call writes while the database is away |
//! | [`voicemail`] | a recorded message filed as a Service Request, once per call |
//! | [`customers`] | customer registry, E.164 phones, PIN HMAC |
//! | [`access`] | operators, roles, queue permissions, audit log |
//! | [`credentials`] | passwords and the SIP digest HA1s derived from them |
//! | [`demo`] | the demo's queues, operators and customers (idempotent) |
//! | [`synth`] | synthetic tickets for benchmarks and `centralino gen-tickets` |
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
pub mod config;
pub mod credentials;
pub mod customers;
pub mod demo;
pub mod error;
pub mod event_log;
pub mod journal;
pub mod lifecycle;
pub mod links;
pub mod number;
pub mod queues;
pub mod search;
pub mod sla;
pub mod store;
mod sweep;
pub mod synth;
pub mod tickets;
pub mod types;
pub mod voicemail;
mod writer;

pub use access::{Access, AuditEntry, PasswordCost, Role, User};
pub use articles::{Article, Attachment, NewArticle, NewAttachment};
pub use calls::{
    AnsweredCall, CallOutcome, CallRecord, IdentityResult, NewCall, QueueEvent, QueueEventKind,
};
pub use credentials::SipCredential;
pub use customers::{Customer, CustomerUpdate, NewCustomer};
pub use demo::{DemoOptions, DemoReport, load_demo_data};
pub use error::{Error, Result};
pub use event_log::LoggedEvent;
pub use journal::{CallWrite, JournaledStore, Replay, Written};
pub use lifecycle::{Action, Change, LifecycleError, Snapshot, State};
pub use number::SystemId;
pub use queues::Queue;
pub use search::{COUNT_CAP, SearchPage, SortBy, TicketQuery};
pub use sla::{Clock, Escalation, EscalationWatch, QueueSla, QueueTargets, Stage, TicketSla};
pub use store::{Backend, Settings, Store};
pub use sweep::spawn_escalation_sweep;
pub use synth::{SynthReport, generate_tickets};
pub use tickets::{HistoryEntry, NewTicket, Ticket};
pub use types::{
    Actor, ArticleId, ArticleKind, Channel, CustomerId, Priority, QueueId, TicketId, TicketType,
    UserId,
};
pub use voicemail::{MessageClocks, VoicemailFiled, VoicemailMessage};
