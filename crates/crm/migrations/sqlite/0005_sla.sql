-- Take-in-charge and resolution clocks (R-VM-2, escalation): due times counted in working
-- time on a business calendar, set when a ticket starts its clock; `first_response_at` stops
-- the first clock (a lock or any operator action). Times are UTC epoch milliseconds.
CREATE TABLE ticket_sla (
    ticket_id BIGINT PRIMARY KEY REFERENCES tickets (id),
    first_response_due BIGINT,
    solution_due BIGINT,
    first_response_at BIGINT
);
CREATE INDEX ticket_sla_first_response_due ON ticket_sla (first_response_due);
CREATE INDEX ticket_sla_solution_due ON ticket_sla (solution_due);
