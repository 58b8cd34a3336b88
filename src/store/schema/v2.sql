-- v2: public-service requests.
ALTER TABLE account ADD COLUMN submit_counter INTEGER NOT NULL DEFAULT 0;
CREATE TABLE profile (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    data BLOB NOT NULL,
    fetched_at INTEGER NOT NULL
);
CREATE TABLE catalogue (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    etag TEXT,
    data BLOB NOT NULL,
    fetched_at INTEGER NOT NULL
);
CREATE TABLE drafts (
    draft_id TEXT PRIMARY KEY,
    procedure_id TEXT NOT NULL,
    procedure_version INTEGER NOT NULL,
    status TEXT NOT NULL,
    content BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE TABLE draft_files (
    draft_id TEXT NOT NULL REFERENCES drafts(draft_id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (draft_id, key)
);
CREATE TABLE outbox (
    submission_id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL UNIQUE,
    draft_id TEXT NOT NULL,
    procedure_id TEXT NOT NULL,
    payload_sha256 TEXT NOT NULL,
    state TEXT NOT NULL,
    request BLOB NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    not_before INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    case_number TEXT,
    receipt TEXT,
    queued_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE TABLE cases (
    case_number TEXT PRIMARY KEY,
    submission_id TEXT NOT NULL,
    procedure_id TEXT NOT NULL,
    status TEXT NOT NULL,
    note BLOB,
    requested_attachments TEXT NOT NULL DEFAULT '[]',
    updated_at INTEGER NOT NULL
);
CREATE TABLE case_events (
    seq INTEGER PRIMARY KEY,
    case_number TEXT NOT NULL,
    status TEXT NOT NULL,
    event BLOB NOT NULL,
    at INTEGER NOT NULL
);
