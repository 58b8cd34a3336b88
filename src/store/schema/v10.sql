-- v10: a dependant's documents held by the guardian's device (issue 15, ARCHITECTURE.md
-- decision 52).
-- * dependant_documents: one row per document of a child or ward issued to this device under a
--   mandate (SD-JWT VC bound to this device's key). `sealed` is the sealed JSON of the document,
--   the dependant it is about, the mandate id and the mandate JWS, AAD
--   `dependant_documents.<id>`; only the kind and the time stay in clear (never the dependant's
--   number). Kept apart from `documents` so a parent's own card and the child's never collide
--   and a refresh of the citizen's own set does not erase them.
CREATE TABLE dependant_documents (
    id        TEXT PRIMARY KEY,
    kind      TEXT NOT NULL,
    sealed    BLOB NOT NULL,
    stored_at INTEGER NOT NULL
);
