-- A version number that moves only when users change, so the daemon reloads its credential
-- cache for `urpd user …` written by another process, and not for its own binding writes
-- (PRAGMA data_version moves on both: with 100k users that cost a full reload per REGISTER).
CREATE TABLE IF NOT EXISTS users_version (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
);
INSERT OR IGNORE INTO users_version (id, version) VALUES (1, 0);
CREATE TRIGGER IF NOT EXISTS users_version_insert AFTER INSERT ON users
BEGIN UPDATE users_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER IF NOT EXISTS users_version_update AFTER UPDATE ON users
BEGIN UPDATE users_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER IF NOT EXISTS users_version_delete AFTER DELETE ON users
BEGIN UPDATE users_version SET version = version + 1 WHERE id = 1; END;
