//! # voicemail
//!
//! Recorded messages (R-IVR-5) from the moment a call asks to leave one until the message's
//! audio is safe in a Service Request (R-VM-1, R-VM-2) and the file may go.
//!
//! ## How it works
//! - **Mailboxes.** A message is `<dir>/<mailbox>/<call id>.wav`, the mailbox name made a safe
//!   folder name ([`sanitize`]). [`Voicemail::admit`] creates the folder and refuses the
//!   message when one more of the maximum length would pass `max_total_bytes` (all `.wav`
//!   files together) or leave less than `min_free_bytes` on the disk; the call records
//!   where it says. The media engine writes `<call id>.wav.tmp` and renames it to
//!   `<call id>.wav` when the header is final.
//! - **Hand-off.** [`Voicemail::file`] sends the message to the handle's filer task, which
//!   writes a [`crm::CallWrite::Voicemail`] through the [`crm::JournaledStore`] (the same
//!   journal as the call card). The entry names the WAV by path; the CRM reads it when the
//!   entry is applied and, in one transaction, opens the ticket (or joins the caller's
//!   voicemail ticket still `new`) and records the message in `voicemail_messages` keyed by
//!   call id ([`crm::Store::file_voicemail`]). While the database is away the entry waits in
//!   the journal and the call hears its message was saved ([`Filing::Pending`]).
//! - **Exactly once.** The journal delivers at least once (a crash between the commit and the
//!   journal's rewrite replays the entry); the CRM makes that once: an entry whose call id is
//!   in `voicemail_messages` returns the ticket it made and writes nothing. Entries survive
//!   restarts (the journal is an fsynced file), and [`Voicemail::recover`] files again every
//!   message not known to be filed, which the same key makes harmless.
//! - **Knowing a message is filed.** After the commit the handle writes a marker,
//!   `<call id>.filed` (holding the ticket number), beside the WAV. The CRM's
//!   `voicemail_messages` row is the truth; the marker is its cache on disk, written when a
//!   filing returns a ticket, when a pending one is found filed ([`Voicemail::retry_pending`],
//!   every few seconds while some wait), or by the sweep. A crash after the commit and before
//!   the marker leaves a filed message unmarked: the next start or sweep asks the CRM.
//! - **Crash recovery.** [`Voicemail::recover`], at start before calls, repairs every
//!   `.wav.tmp` (RIFF and data sizes set to what was written, a torn last sample cut),
//!   renames it into place, removes those shorter than `min_length`, and files every message
//!   without a marker. The call id comes from the file name; the caller from the call card.
//! - **Retention.** [`Voicemail::sweep`], at start and hourly ([`Voicemail::spawn_maintenance`],
//!   on the blocking pool), deletes messages older than `retention` that are filed (marker,
//!   or the CRM says so); an unfiled one is kept however old, with a warning.
//! - **No blocking on calls.** Folder creation, quota and disk checks, listing and deleting
//!   run on the blocking pool; markers and discards use `tokio::fs`; the journal's writes run
//!   on the filer task, never on the call's.
//!
//! ## Configuration
//! [`VoicemailConfig`] is the `[voicemail]` section; [`VoicemailConfig::validate`] reports its
//! problems by field, [`VoicemailConfig::settings`] gives the [`VoicemailSettings`].

pub mod config;
mod handle;
mod mailbox;
pub mod recovery;

pub use config::{ConfigProblem, VoicemailConfig, VoicemailSettings};
pub use handle::{Clock, Filing, Message, Recovery, Refusal, Sweep, Voicemail};
pub use mailbox::sanitize;
