-- Search speed (measured with examples/bench_crm.rs): result pages are sorted by creation or
-- change time, newest first; ticket number patterns use the number's index through GLOB.
CREATE INDEX tickets_created ON tickets (created);
CREATE INDEX tickets_changed ON tickets (changed);
