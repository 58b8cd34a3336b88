-- v4: relying parties, consent receipts, the PID credential, scanned login requests.
CREATE TABLE rp_registry (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    jws TEXT NOT NULL,
    version INTEGER NOT NULL,
    fetched_at INTEGER NOT NULL
);
CREATE TABLE consent_receipts (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    receipt_id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    receipt BLOB NOT NULL,
    issued_at INTEGER NOT NULL
);
CREATE TABLE credentials (
    kind TEXT PRIMARY KEY,
    sd_jwt BLOB NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE TABLE qr_pending (
    session_id TEXT PRIMARY KEY,
    request BLOB NOT NULL,
    expires_at INTEGER NOT NULL
);
