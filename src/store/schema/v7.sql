-- v7: the bookkeeping key (issue 11, ARCHITECTURE.md decision 26).
-- * account.bookkeeping: sealed JSON — alias and public key of the second device key (no user
--   authentication; signs activity entries and anchors only) and, once the server knows it, the
--   statement signed by the device key that registered it (enrollment proof or login).
-- * activity_pending: activity entries waiting for the bookkeeping key (an account enrolled
--   before v7, until its next login registers the key) or whose signature failed; sealed
--   {kind, summary, at}, appended to the log in id order once they can be signed. Never dropped.
ALTER TABLE account ADD COLUMN bookkeeping BLOB;
CREATE TABLE activity_pending (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    sealed BLOB NOT NULL
);
