-- centralino CRM schema (SQLite). Keep in step with ../postgres/0001_init.sql:
-- same tables, columns and meaning; only the dialect differs (identity columns, flags as INTEGER 0/1 because sqlx's Any driver cannot decode SQLite BOOLEAN, BLOB).
-- Times are milliseconds since the Unix epoch, UTC (BIGINT), so both databases compare them alike.

CREATE TABLE queues (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    second_level INTEGER NOT NULL DEFAULT 0,
    created BIGINT NOT NULL
);

CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    login TEXT NOT NULL UNIQUE,
    full_name TEXT NOT NULL,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 1,
    created BIGINT NOT NULL
);

CREATE TABLE queue_permissions (
    user_id BIGINT NOT NULL REFERENCES users(id),
    queue_id BIGINT NOT NULL REFERENCES queues(id),
    can_write INTEGER NOT NULL,
    PRIMARY KEY (user_id, queue_id)
);

CREATE TABLE customers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    full_name TEXT NOT NULL,
    organisation TEXT,
    email TEXT,
    guest INTEGER NOT NULL,
    pin_hmac TEXT UNIQUE,
    created BIGINT NOT NULL,
    changed BIGINT NOT NULL
);

CREATE TABLE customer_phones (
    customer_id BIGINT NOT NULL REFERENCES customers(id),
    e164 TEXT NOT NULL,
    PRIMARY KEY (e164, customer_id)
);

CREATE TABLE ticket_counter (
    day TEXT PRIMARY KEY,
    counter BIGINT NOT NULL
);

CREATE TABLE tickets (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    number TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    queue_id BIGINT NOT NULL REFERENCES queues(id),
    state TEXT NOT NULL,
    locked INTEGER NOT NULL,
    owner_id BIGINT REFERENCES users(id),
    responsible_id BIGINT REFERENCES users(id),
    priority BIGINT NOT NULL,
    ticket_type TEXT NOT NULL,
    channel TEXT NOT NULL,
    customer_id BIGINT REFERENCES customers(id),
    call_id TEXT,
    service_area TEXT,
    parent_id BIGINT REFERENCES tickets(id),
    merged_into BIGINT REFERENCES tickets(id),
    created BIGINT NOT NULL,
    changed BIGINT NOT NULL,
    closed BIGINT,
    pending_until BIGINT,
    -- the pending_until for which the owner was last reminded (one reminder per pending time)
    reminded_for BIGINT
);
CREATE INDEX tickets_queue_state ON tickets (queue_id, state);
CREATE INDEX tickets_customer ON tickets (customer_id);
CREATE INDEX tickets_call ON tickets (call_id);
CREATE INDEX tickets_parent ON tickets (parent_id);
CREATE INDEX tickets_pending ON tickets (state, pending_until);

CREATE TABLE ticket_history (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id BIGINT NOT NULL REFERENCES tickets(id),
    at BIGINT NOT NULL,
    actor_id BIGINT REFERENCES users(id),
    kind TEXT NOT NULL,
    old_value TEXT,
    new_value TEXT,
    note TEXT
);
CREATE INDEX ticket_history_ticket ON ticket_history (ticket_id, id);

CREATE TABLE articles (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id BIGINT NOT NULL REFERENCES tickets(id),
    kind TEXT NOT NULL,
    customer_visible INTEGER NOT NULL,
    sender TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    created BIGINT NOT NULL,
    created_by BIGINT REFERENCES users(id)
);
CREATE INDEX articles_ticket ON articles (ticket_id, id);

CREATE TABLE attachment_blobs (
    sha256 TEXT PRIMARY KEY,
    size BIGINT NOT NULL,
    content BLOB NOT NULL
);

CREATE TABLE article_attachments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    article_id BIGINT NOT NULL REFERENCES articles(id),
    sha256 TEXT NOT NULL REFERENCES attachment_blobs(sha256),
    filename TEXT NOT NULL,
    content_type TEXT NOT NULL
);
CREATE INDEX article_attachments_article ON article_attachments (article_id);

CREATE TABLE calls (
    call_id TEXT PRIMARY KEY,
    sip_call_id TEXT,
    caller TEXT NOT NULL,
    dialled TEXT NOT NULL,
    started BIGINT NOT NULL,
    answered BIGINT,
    ended BIGINT,
    ivr_path TEXT NOT NULL,
    customer_id BIGINT REFERENCES customers(id),
    identity_result TEXT NOT NULL,
    queue TEXT,
    wait_ms BIGINT,
    agent TEXT,
    outcome TEXT,
    ticket_id BIGINT REFERENCES tickets(id)
);
CREATE INDEX calls_sip_call_id ON calls (sip_call_id);

CREATE TABLE queue_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    call_id TEXT NOT NULL,
    queue TEXT NOT NULL,
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    agent TEXT,
    detail TEXT
);
CREATE INDEX queue_events_call ON queue_events (call_id, id);
CREATE INDEX queue_events_queue_at ON queue_events (queue, at);

CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at BIGINT NOT NULL,
    actor_id BIGINT REFERENCES users(id),
    action TEXT NOT NULL,
    object TEXT NOT NULL,
    detail TEXT
);

-- OTRS routes what no rule places into the `raw` queue (seed 000 §4.1, R-SR-3).
INSERT INTO queues (name, second_level, created) VALUES ('raw', FALSE, 0);
