-- Report facts (issue 15): the fold of the event log (reports::ledger) cut at a watermark and
-- stored compact, so a report reads a row per call instead of a dozen JSON events per call.
-- Derived data only: the event log stays the source of truth; these tables are rebuilt from
-- it by emptying them and resetting the watermark. Written by one transaction per chunk of
-- events (see crm::report_facts), so a crash leaves the last committed watermark.

-- One row per final call record (ended, or without events for a day); `body` is
-- reports::facts::encode_call. `first_at` / `last_at`: the earliest and latest instants the
-- record mentions (ms, rounded down), which select the calls a period's reports can count.
CREATE TABLE report_calls (
    call_id TEXT PRIMARY KEY,
    first_at BIGINT NOT NULL,
    last_at BIGINT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX report_calls_first ON report_calls (first_at);

-- Agents' time per clock hour and state (reports::AgentHour), summed over the spans that
-- ended before the watermark. `reason` and `queue`: '' for none, '=' and the text otherwise.
CREATE TABLE report_agent_hours (
    hour BIGINT NOT NULL,
    agent TEXT NOT NULL,
    state TEXT NOT NULL,
    reason TEXT NOT NULL,
    queue TEXT NOT NULL,
    ms BIGINT NOT NULL,
    started BIGINT NOT NULL,
    started_ms BIGINT NOT NULL,
    PRIMARY KEY (hour, agent, state, reason, queue)
);

-- Service Requests closed by an operator (`ticket.updated` to a closed state), each once:
-- written in the transaction that moves the watermark past its event.
CREATE TABLE report_closures (
    at BIGINT NOT NULL,
    number TEXT NOT NULL,
    queue TEXT NOT NULL,
    by_login TEXT
);
CREATE INDEX report_closures_at ON report_closures (at);

-- The watermark: events with `event_log.id <= last_event` are folded; `open_state` is what the
-- fold still held open there (reports::facts::encode_open); `max_span_ms` the longest
-- record stored (how far before a period a call that counts in it may start).
CREATE TABLE report_watermark (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    last_event BIGINT NOT NULL,
    max_span_ms BIGINT NOT NULL,
    open_state TEXT NOT NULL
);
INSERT INTO report_watermark (id, last_event, max_span_ms, open_state) VALUES (1, 0, 0, '');
