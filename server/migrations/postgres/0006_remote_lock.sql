-- Issue 15, decision 48: the citizen's own lock of a lost phone from the portal or any other
-- device (SQLite migration v11). Started with the identifiers (OTP to the registered phone),
-- completed with that OTP or a chip read over the lock id; spent once used.
CREATE TABLE remote_locks (
    lock_id        TEXT PRIMARY KEY,
    account_id     TEXT NOT NULL REFERENCES accounts(account_id),
    otp_hash       BYTEA NOT NULL,
    otp_expires_at BIGINT NOT NULL,
    attempts       BIGINT NOT NULL DEFAULT 0,
    created_at     BIGINT NOT NULL,
    consumed_at    BIGINT,
    method         TEXT
);
