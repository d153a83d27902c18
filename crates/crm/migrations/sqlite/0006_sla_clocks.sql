-- Escalation clocks on the ticket (crate::sla): first response, update and solution due
-- times in working time, when the first clock stopped, when the update clock last started,
-- and the earliest running due time (NULL once closed), indexed for the escalation list.
-- The clocks of migration 0005 move here. Times are UTC epoch milliseconds.
ALTER TABLE tickets ADD COLUMN first_response_due BIGINT;
ALTER TABLE tickets ADD COLUMN first_response_at BIGINT;
ALTER TABLE tickets ADD COLUMN update_due BIGINT;
ALTER TABLE tickets ADD COLUMN update_from BIGINT;
ALTER TABLE tickets ADD COLUMN solution_due BIGINT;
ALTER TABLE tickets ADD COLUMN sla_next_due BIGINT;

UPDATE tickets SET
    first_response_due = (SELECT s.first_response_due FROM ticket_sla s WHERE s.ticket_id = tickets.id),
    first_response_at = (SELECT s.first_response_at FROM ticket_sla s WHERE s.ticket_id = tickets.id),
    solution_due = (SELECT s.solution_due FROM ticket_sla s WHERE s.ticket_id = tickets.id)
WHERE id IN (SELECT ticket_id FROM ticket_sla);

UPDATE tickets SET sla_next_due = NULLIF(MIN(
    CASE WHEN first_response_at IS NULL THEN COALESCE(first_response_due, 9223372036854775807)
         ELSE 9223372036854775807 END,
    COALESCE(solution_due, 9223372036854775807)), 9223372036854775807)
WHERE state NOT IN ('closed_successful', 'closed_unsuccessful', 'merged')
  AND (first_response_due IS NOT NULL OR solution_due IS NOT NULL);

DROP TABLE ticket_sla;

CREATE INDEX tickets_sla_next_due ON tickets (sla_next_due) WHERE sla_next_due IS NOT NULL;
