-- Search speed (measured with examples/bench_crm.rs): the full-text index stores no content
-- and each document's rowid carries its ticket, `ticket_id * 2^32 + k` (k = 0 for the title,
-- the article id modulo 2^32 for an article), so a match yields ticket ids straight from
-- the index (`rowid >> 32`) without reading any row.
DROP TRIGGER tickets_search_insert;
DROP TRIGGER articles_search_insert;
DROP TRIGGER articles_search_move;
DROP TABLE search_fts;

CREATE VIRTUAL TABLE search_fts USING fts5(
    title,
    body,
    sender,
    content = '',
    contentless_delete = 1,
    tokenize = 'unicode61 remove_diacritics 2'
);

INSERT INTO search_fts (rowid, title, body, sender)
SELECT id * 4294967296, title, '', '' FROM tickets;
INSERT INTO search_fts (rowid, title, body, sender)
SELECT ticket_id * 4294967296 + id % 4294967296, subject, body, sender FROM articles;

CREATE TRIGGER tickets_search_insert AFTER INSERT ON tickets BEGIN
    INSERT INTO search_fts (rowid, title, body, sender)
    VALUES (new.id * 4294967296, new.title, '', '');
END;

CREATE TRIGGER articles_search_insert AFTER INSERT ON articles BEGIN
    INSERT INTO search_fts (rowid, title, body, sender)
    VALUES (new.ticket_id * 4294967296 + new.id % 4294967296, new.subject, new.body, new.sender);
END;

CREATE TRIGGER articles_search_move AFTER UPDATE OF ticket_id ON articles BEGIN
    DELETE FROM search_fts WHERE rowid = old.ticket_id * 4294967296 + old.id % 4294967296;
    INSERT INTO search_fts (rowid, title, body, sender)
    VALUES (new.ticket_id * 4294967296 + new.id % 4294967296, new.subject, new.body, new.sender);
END;
