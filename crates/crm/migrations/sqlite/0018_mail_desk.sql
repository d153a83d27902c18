-- The agent's e-mail desk (issue 16). The server's mail task sends, on its own, the
-- confirmation to phone, voicemail and web requesters with an e-mail address, the closure
-- mail and the pending reminder. Each mail is keyed in mail_outbox.dedup_key (sent once);
-- these marks say from when each kind is looked for, so a first start does not write to
-- every citizen of the past and a restart resumes where the task was.
CREATE TABLE mail_desk_marks (
    name TEXT PRIMARY KEY,
    at BIGINT NOT NULL
);
CREATE INDEX tickets_closed ON tickets (closed);
