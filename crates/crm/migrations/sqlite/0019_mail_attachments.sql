-- Attachments of outgoing mail (issue 15: report sets e-mailed as XLSX). A row per file, in
-- the order they are attached; written in the transaction that queues the mail and removed
-- with it. The store refuses more than 10 MiB of attachments per mail (relays commonly
-- refuse messages over 10-25 MB, and base64 adds a third).
CREATE TABLE mail_outbox_attachments (
    outbox_id BIGINT NOT NULL REFERENCES mail_outbox(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    filename TEXT NOT NULL,
    content_type TEXT NOT NULL,
    content BLOB NOT NULL,
    PRIMARY KEY (outbox_id, position)
);
