//! Written channels: e-mail in and out (issue 16; R-SR-9, R-SR-10).
//!
//! The sans-IO core, no sockets and no clock:
//!
//! | module | what |
//! |---|---|
//! | [`parse`] | raw bytes → [`Parsed`]: sender, subject, ids, text, attachments (mail-parser) |
//! | [`pec`] | certified-mail (PEC) envelopes unwrapped to the original |
//! | [`classify`] | personal, fax, bounce, auto-reply, list: what may be answered |
//! | [`thread`] | the `[Ticket#…]` tag and the referenced ids that find a ticket |
//! | [`template`] | confirmation, pending reminder, closure, Italian and English |
//! | [`outbox`] | queued → sending → sent, retry with back-off, failed |
//!
//! The edge, on tokio: [`ingest`] (parse, classify, file, queue the confirmation),
//! [`imap`] (one fetcher per mailbox: TLS or STARTTLS, IDLE or polling, UID-based, `\Seen`
//! only after the message is stored) and [`smtp`] (the outbox through the relay with
//! `lettre`: STARTTLS or TLS, AUTH), and [`desk`] (operators' replies; the sweep that sends
//! confirmations, pending reminders and closure mails once, time injected into each sweep).
//!
//! The store side (raw messages, the message → ticket mapping, the outbox table) is
//! `crm::mail`; the transport (IMAP in, SMTP out) drives both.

#![warn(missing_docs)]

pub mod classify;
pub mod config;
pub mod desk;
pub mod imap;
pub mod ingest;
pub mod outbox;
pub mod parse;
pub mod pec;
pub mod smtp;
pub mod template;
pub mod thread;

pub use classify::{Class, FaxRule, classify};
pub use parse::{Attachment, Mailbox, ParseError, Parsed, PecEnvelope, parse};
