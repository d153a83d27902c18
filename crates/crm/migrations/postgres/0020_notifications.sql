-- Agents' notifications (issue 16, R-SR-9). Each agent opts in: which kinds (created,
-- customer_update, reminder, note, queue_move, comma-separated), by e-mail (to `address`)
-- and/or on the desktop, for the queues they follow (notification_queues) and the tickets
-- they own. No row: no notification. The notifier reads the ticket events of the event log
-- after its cursor (notification_cursor), so a restart neither loses nor repeats one; each
-- notification mail is keyed in mail_outbox.dedup_key besides.
CREATE TABLE notification_prefs (
    user_id BIGINT PRIMARY KEY REFERENCES users(id),
    kinds TEXT NOT NULL,
    address TEXT,
    by_email BOOLEAN NOT NULL,
    on_desktop BOOLEAN NOT NULL,
    changed BIGINT NOT NULL
);
CREATE TABLE notification_queues (
    user_id BIGINT NOT NULL REFERENCES users(id),
    queue_id BIGINT NOT NULL REFERENCES queues(id),
    PRIMARY KEY (user_id, queue_id)
);
CREATE TABLE notification_cursor (
    name TEXT PRIMARY KEY,
    last_id BIGINT NOT NULL
);
-- The notifier (and start-up recovery) read the log by kind.
CREATE INDEX event_log_kind ON event_log (kind, id);
