-- Voicemail hand-offs (R-VM-1, R-SR-12): one row per recorded message, written in the same
-- transaction as its ticket or article, keyed by the call that left it, so a hand-off
-- replayed from the journal (after an outage or a crash) files the message once.
CREATE TABLE voicemail_messages (
    call_id TEXT PRIMARY KEY,
    ticket_id BIGINT NOT NULL REFERENCES tickets(id),
    article_id BIGINT NOT NULL REFERENCES articles(id),
    joined INTEGER NOT NULL,
    left_at BIGINT NOT NULL
);
CREATE INDEX voicemail_messages_ticket ON voicemail_messages (ticket_id);
