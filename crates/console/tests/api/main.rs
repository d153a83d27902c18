//! The CRM HTTP API through `Router::oneshot`: every handler, its happy path and its refusals
//! (401, 403 by role and by queue, 404, 409, 422, CSRF), on SQLite and on PostgreSQL.

mod common;

mod api_agents;
mod api_attachments;
mod api_blend;
mod api_calls;
mod api_customers;
mod api_mail_desk;
mod api_notifications;
mod api_openapi;
mod api_phone;
mod api_prompts;
mod api_public_requests;
mod api_report_facts;
mod api_report_mail;
mod api_report_materializer;
mod api_reports;
mod api_reports_live;
mod api_session;
mod api_signin;
mod api_site;
mod api_ticket_actions;
mod api_ticket_events;
mod api_tickets;
mod event_spill;
mod restart;
mod slapd;
