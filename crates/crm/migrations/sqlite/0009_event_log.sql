-- The append-only event log: every event of the bus, in publication order (`id`), as its
-- JSON (`body`, with its `type`). `event_id` is unique per event (the publishing process's
-- random boot id and the event's sequence number), so a journal replayed twice after an
-- outage writes each event once. Nothing updates or deletes rows (see crm::event_log).
CREATE TABLE event_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    call_id TEXT,
    body TEXT NOT NULL
);
CREATE INDEX event_log_at ON event_log (at, id);
CREATE INDEX event_log_call ON event_log (call_id, id);
