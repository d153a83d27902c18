-- The SQLite migration of the same number rebuilds its full-text index with ticket ids in the
-- rowids; PostgreSQL's GIN indexes need no change (the search query unions the two index
-- scans instead). Kept so both dialects carry the same migration numbers.
SELECT 1;
