-- v1: foundation.
CREATE TABLE meta (name TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE account (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    account_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    key_alias TEXT NOT NULL,
    public_key BLOB NOT NULL,
    hardware_backed INTEGER NOT NULL,
    counter INTEGER NOT NULL,
    enrolled_at INTEGER NOT NULL,
    inactive_status TEXT,
    identity BLOB NOT NULL
);
CREATE TABLE passcode (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    salt BLOB NOT NULL,
    verifier BLOB NOT NULL,
    failed INTEGER NOT NULL DEFAULT 0,
    locked_until INTEGER
);
CREATE TABLE session (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    session_id TEXT NOT NULL,
    tokens BLOB NOT NULL,
    access_expires_at INTEGER NOT NULL,
    idle_expires_at INTEGER NOT NULL,
    absolute_expires_at INTEGER NOT NULL
);
CREATE TABLE pending (
    kind TEXT PRIMARY KEY,
    reference TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    payload BLOB NOT NULL
);
