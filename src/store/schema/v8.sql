-- v8: the documents wallet (issue 13 item 1, ARCHITECTURE.md decision 32).
-- * documents: one row per held document (the latest issuance of each kind). `sealed` is the
--   sealed JSON of both forms (mdoc IssuerSigned, SD-JWT VC) and their status-list reference,
--   AAD `documents.<id>`; only the kind (which of the four) and the time stay in clear.
-- * trust_list: the server-signed trust list the documents were checked against (public data:
--   issuing-authority and reader-authentication roots), kept for offline checks.
CREATE TABLE documents (
    id        TEXT PRIMARY KEY,
    kind      TEXT NOT NULL UNIQUE,
    sealed    BLOB NOT NULL,
    stored_at INTEGER NOT NULL
);
CREATE TABLE trust_list (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    jwt        TEXT NOT NULL,
    fetched_at INTEGER NOT NULL
);
