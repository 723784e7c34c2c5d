-- urpd node state: provisioned users (digest HA1s, never passwords) and the location table's
-- write-behind copy. One SQLite file per node (<state_dir>/urpd.db); not shared between nodes.

CREATE TABLE users (
    name        TEXT PRIMARY KEY NOT NULL,
    -- HA1 = H(user:realm:password) per algorithm (RFC 7616/8760). Password-equivalent for this
    -- realm, so the file must be readable by the daemon only.
    ha1_md5     TEXT NOT NULL,
    ha1_sha256  TEXT NOT NULL,
    realm       TEXT NOT NULL,
    role        TEXT NOT NULL DEFAULT 'agent' CHECK (role IN ('agent', 'gateway', 'admin')),
    created_at  INTEGER,
    updated_at  INTEGER
);

CREATE TABLE bindings (
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
);

-- load_bindings and purge_expired filter on expiry.
CREATE INDEX bindings_expires_at ON bindings (expires_at);
