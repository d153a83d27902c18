-- Resolved at first contact (SLA.C.4, issue 15): a Service Request opened by an answered call
-- and closed by the operator who took the call, during the call or its wrap-up. Set when the
-- ticket is closed; the operator (or a supervisor) can correct it, which is recorded in the
-- ticket's history and marks the row `corrected`. One row per ticket, absent until judged.
CREATE TABLE ticket_first_contact (
    ticket_id BIGINT PRIMARY KEY REFERENCES tickets(id),
    first_contact BOOLEAN NOT NULL,
    corrected BOOLEAN NOT NULL,
    by_id BIGINT REFERENCES users(id),
    at BIGINT NOT NULL
);
