-- Search speed (measured with examples/bench_crm.rs): result pages are sorted by creation or
-- change time, newest first; ticket number prefixes (`2026030242*`) use a pattern index,
-- which LIKE needs whatever the database's collation.
CREATE INDEX tickets_created ON tickets (created);
CREATE INDEX tickets_changed ON tickets (changed);
CREATE INDEX tickets_number_pattern ON tickets (number text_pattern_ops);
