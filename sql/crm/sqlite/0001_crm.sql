-- urpd CRM (SQLite flavour; sql/crm/postgres/ has the same tables for PostgreSQL).
-- Times are milliseconds since the Unix epoch (INTEGER) on both backends.
-- Personal data: callers.number and contacts.from_number/to_number. Everything but ratings
-- is deleted by the retention purge; ratings never hold a caller, a case or a call.

-- Nodes that have written to this database (a federation shares one PostgreSQL database).
CREATE TABLE nodes (
    id          TEXT PRIMARY KEY NOT NULL,
    first_seen  INTEGER NOT NULL,
    last_seen   INTEGER NOT NULL
);

-- Administrations (URPs, ministries' contact centers), created on first use.
CREATE TABLE administrations (
    code        TEXT PRIMARY KEY NOT NULL,
    name        TEXT,
    created_at  INTEGER NOT NULL
);

-- Citizens by number (From / P-Asserted-Identity of a gateway's call).
CREATE TABLE callers (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    number      TEXT NOT NULL UNIQUE,
    first_seen  INTEGER NOT NULL,
    last_seen   INTEGER NOT NULL
);
CREATE INDEX callers_last_seen ON callers (last_seen);

-- Cases ("pratiche"). token = "{node}:{ulid}", no personal data. topic '' = none.
CREATE TABLE cases (
    token           TEXT PRIMARY KEY NOT NULL,
    caller_id       INTEGER,
    administration  TEXT NOT NULL,
    topic           TEXT NOT NULL DEFAULT '',
    status          TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    opened_at       INTEGER NOT NULL,
    closed_at       INTEGER,
    updated_at      INTEGER NOT NULL,
    opened_by       TEXT NOT NULL
);
-- The reuse lookup of on_incoming and "open cases of this caller".
CREATE INDEX cases_caller ON cases (caller_id, status, administration, topic, opened_at);
CREATE INDEX cases_opened_at ON cases (opened_at);
CREATE INDEX cases_updated_at ON cases (updated_at);

-- Contacts: one row per citizen call (leg) that reached a node.
CREATE TABLE contacts (
    id              TEXT PRIMARY KEY NOT NULL,
    case_token      TEXT,
    caller_id       INTEGER,
    call_id         TEXT NOT NULL,
    from_number     TEXT NOT NULL,
    to_number       TEXT NOT NULL,
    administration  TEXT NOT NULL,
    node            TEXT NOT NULL,
    started_at      INTEGER NOT NULL,
    answered_at     INTEGER,
    ended_at        INTEGER,
    outcome         TEXT
);
CREATE INDEX contacts_caller ON contacts (caller_id, started_at);
CREATE INDEX contacts_call_id ON contacts (call_id);
CREATE INDEX contacts_started_at ON contacts (started_at);

-- Case timeline. id is unique so that an outbox replay after a crash never duplicates.
-- No foreign key to cases: another node's events may land before its case does.
CREATE TABLE events (
    id          TEXT PRIMARY KEY NOT NULL,
    case_token  TEXT NOT NULL,
    node        TEXT NOT NULL,
    at          INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    leg         TEXT,
    detail      TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX events_case ON events (case_token, at);
CREATE INDEX events_at ON events (at);

-- Questions and answers agents record on cases: the shared Q&A, searchable across
-- administrations.
CREATE TABLE notes (
    id              TEXT PRIMARY KEY NOT NULL,
    case_token      TEXT NOT NULL,
    administration  TEXT NOT NULL,
    node            TEXT NOT NULL,
    at              INTEGER NOT NULL,
    question        TEXT NOT NULL,
    answer          TEXT NOT NULL
);
CREATE INDEX notes_case ON notes (case_token, at);
CREATE INDEX notes_at ON notes (at);

CREATE VIRTUAL TABLE notes_fts USING fts5(
    question, answer, content='notes', content_rowid='rowid',
    tokenize='unicode61 remove_diacritics 2'
);
CREATE TRIGGER notes_fts_ai AFTER INSERT ON notes BEGIN
    INSERT INTO notes_fts (rowid, question, answer) VALUES (new.rowid, new.question, new.answer);
END;
CREATE TRIGGER notes_fts_ad AFTER DELETE ON notes BEGIN
    INSERT INTO notes_fts (notes_fts, rowid, question, answer) VALUES ('delete', old.rowid, old.question, old.answer);
END;
CREATE TRIGGER notes_fts_au AFTER UPDATE ON notes BEGIN
    INSERT INTO notes_fts (notes_fts, rowid, question, answer) VALUES ('delete', old.rowid, old.question, old.answer);
    INSERT INTO notes_fts (rowid, question, answer) VALUES (new.rowid, new.question, new.answer);
END;

-- Anonymous ratings ("Mettiamoci la faccia": 1 positive, 2 sufficient, 3 negative), kept as
-- counters per administration, topic, channel and hour: no caller, no case, no call, and no
-- per-vote row whose order could be matched against contacts.
CREATE TABLE ratings (
    administration  TEXT NOT NULL,
    topic           TEXT NOT NULL DEFAULT '',
    channel         TEXT NOT NULL,
    bucket          INTEGER NOT NULL,
    value           INTEGER NOT NULL CHECK (value BETWEEN 1 AND 3),
    n               INTEGER NOT NULL,
    PRIMARY KEY (administration, topic, channel, bucket, value)
);

-- Random ids of ratings already counted (outbox replay idempotency). Holds no value, no
-- administration: nothing links an id to a vote.
CREATE TABLE rating_ids (
    id      TEXT PRIMARY KEY NOT NULL,
    bucket  INTEGER NOT NULL
);
CREATE INDEX rating_ids_bucket ON rating_ids (bucket);
