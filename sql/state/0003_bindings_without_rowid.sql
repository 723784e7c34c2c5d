-- The bindings table is the location table's write-behind copy: written on every REGISTER
-- (refreshes included), read once at startup. As a rowid table with a (aor, contact) key and
-- an expiry index, each upsert touched three B-trees (the rows, the key's index, the expiry
-- index, whose entry moves on every refresh); WITHOUT ROWID it touches one. The startup load
-- and `purge_expired` scan the table instead of the expiry index (100k rows: milliseconds,
-- once, off the SIP path). Rows are ~200 bytes, within SQLite's advice for WITHOUT ROWID.
CREATE TABLE bindings_new (
    aor             TEXT NOT NULL,
    contact         TEXT NOT NULL,
    q               INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    call_id         TEXT NOT NULL,
    cseq            INTEGER NOT NULL,
    received_proto  TEXT NOT NULL,
    received_addr   TEXT NOT NULL,
    user_agent      TEXT,
    updated_at      INTEGER NOT NULL,
    PRIMARY KEY (aor, contact)
) WITHOUT ROWID;
INSERT INTO bindings_new (aor, contact, q, expires_at, call_id, cseq, received_proto, received_addr, user_agent, updated_at)
    SELECT aor, contact, q, expires_at, call_id, cseq, received_proto, received_addr, user_agent, updated_at FROM bindings;
DROP TABLE bindings;
ALTER TABLE bindings_new RENAME TO bindings;
