-- Written channels (issue 16). Every message fetched from a mailbox is kept whole (raw bytes,
-- the PEC envelope included), keyed by where it came from (mailbox, UIDVALIDITY, UID) so a
-- message fetched again after a crash is filed once; what it became (ticket, article, class,
-- the note saying why it is not answered) is on the same row.
CREATE TABLE mail_in (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    source_key TEXT NOT NULL UNIQUE,
    mailbox TEXT NOT NULL,
    message_id TEXT,
    sender TEXT,
    subject TEXT NOT NULL,
    class TEXT NOT NULL,
    note TEXT,
    raw BLOB NOT NULL,
    ticket_id BIGINT REFERENCES tickets(id),
    article_id BIGINT REFERENCES articles(id),
    opened INTEGER NOT NULL,
    received BIGINT NOT NULL
);
CREATE INDEX mail_in_message_id ON mail_in (message_id);
CREATE INDEX mail_in_ticket ON mail_in (ticket_id);

-- The persistent outbox: a mail leaves only through here. dedup_key makes a mail that must
-- go once (the confirmation of ticket N) go once, whoever queues it; message_id is fixed at
-- queueing (a resend after a crash carries the same one) and is how replies find the ticket.
CREATE TABLE mail_outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    dedup_key TEXT NOT NULL UNIQUE,
    ticket_id BIGINT REFERENCES tickets(id),
    article_id BIGINT REFERENCES articles(id),
    message_id TEXT NOT NULL UNIQUE,
    in_reply_to TEXT,
    sender TEXT NOT NULL,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    state TEXT NOT NULL,
    failures INTEGER NOT NULL,
    next_attempt BIGINT NOT NULL,
    last_error TEXT,
    queued BIGINT NOT NULL,
    sent BIGINT
);
CREATE INDEX mail_outbox_due ON mail_outbox (state, next_attempt);
CREATE INDEX mail_outbox_ticket ON mail_outbox (ticket_id);

-- Administrators' edits of the built-in templates (crates/mail/src/template.rs).
CREATE TABLE mail_templates (
    purpose TEXT NOT NULL,
    lang TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    changed BIGINT NOT NULL,
    PRIMARY KEY (purpose, lang)
);
