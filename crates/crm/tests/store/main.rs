//! The CRM store suite: every test runs on SQLite and on PostgreSQL.

mod common;
mod tickets;

mod demo;
mod event_log;
mod first_contact;
mod journal;
mod mail;
mod mail_attachments;
mod maintenance;
mod model;
mod notifications;
mod people;
mod report_facts_read;
mod search;
mod site;
mod sla;
mod work;
