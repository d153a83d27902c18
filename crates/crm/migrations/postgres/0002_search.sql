-- Full-text search (R-SR-4) on PostgreSQL: generated tsvector columns with the Italian
-- (stemmed) and simple (exact words, e-mail addresses, numbers) configurations, GIN-indexed.
ALTER TABLE tickets ADD COLUMN title_search tsvector GENERATED ALWAYS AS (
    to_tsvector('italian', title) || to_tsvector('simple', title)
) STORED;
CREATE INDEX tickets_title_search ON tickets USING GIN (title_search);

ALTER TABLE articles ADD COLUMN search tsvector GENERATED ALWAYS AS (
    to_tsvector('italian', subject || ' ' || body)
    || to_tsvector('simple', subject || ' ' || body || ' ' || sender)
) STORED;
CREATE INDEX articles_search ON articles USING GIN (search);
