-- Full-text search (R-SR-4) on SQLite: one FTS5 table over ticket titles and article
-- subjects, bodies and senders, kept by triggers. `doc` is `t<ticket id>` or `a<article id>`.
CREATE VIRTUAL TABLE search_fts USING fts5(
    ticket_id UNINDEXED,
    doc UNINDEXED,
    title,
    body,
    sender,
    tokenize = 'unicode61 remove_diacritics 2'
);

CREATE TRIGGER tickets_search_insert AFTER INSERT ON tickets BEGIN
    INSERT INTO search_fts (ticket_id, doc, title, body, sender)
    VALUES (new.id, 't' || new.id, new.title, '', '');
END;

CREATE TRIGGER articles_search_insert AFTER INSERT ON articles BEGIN
    INSERT INTO search_fts (ticket_id, doc, title, body, sender)
    VALUES (new.ticket_id, 'a' || new.id, new.subject, new.body, new.sender);
END;

CREATE TRIGGER articles_search_move AFTER UPDATE OF ticket_id ON articles BEGIN
    UPDATE search_fts SET ticket_id = new.ticket_id WHERE doc = 'a' || new.id;
END;
