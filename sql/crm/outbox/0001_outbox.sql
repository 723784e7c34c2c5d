-- urpd CRM outbox (<state_dir>/outbox.db, node-local SQLite): every CRM write, appended in
-- order before it is replayed to the CRM store, deleted only after the store committed it.
-- Payloads hold callers' numbers: the file lives in the 0700 state directory.
CREATE TABLE records (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    at       INTEGER NOT NULL,
    payload  TEXT NOT NULL
);

-- Records the store refused for a reason other than being unreachable (kept for an operator,
-- never retried automatically).
CREATE TABLE dead (
    seq      INTEGER PRIMARY KEY,
    at       INTEGER NOT NULL,
    payload  TEXT NOT NULL,
    error    TEXT NOT NULL,
    dead_at  INTEGER NOT NULL
);
