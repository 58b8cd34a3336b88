-- SQLite v9 (issue 16, decisions 43-44): the citizen's access log (append-only, hash-chained
-- per citizen), named officials with roles, and the province and filing channel of each case.
CREATE TABLE access_log (
    citizen_id BIGINT NOT NULL REFERENCES citizens(id),
    seq        BIGINT NOT NULL,
    at         BIGINT NOT NULL,
    accessor   TEXT NOT NULL,
    agency     TEXT NOT NULL,
    official   TEXT,
    purpose    TEXT NOT NULL,
    reference  TEXT,
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL,
    PRIMARY KEY (citizen_id, seq)
);
-- Append-only, as SQLite's RAISE(ABORT) triggers make it there.
CREATE FUNCTION access_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'access_log is append-only';
END;
$$;
CREATE TRIGGER access_log_no_update BEFORE UPDATE ON access_log
    FOR EACH ROW EXECUTE FUNCTION access_log_append_only();
CREATE TRIGGER access_log_no_delete BEFORE DELETE ON access_log
    FOR EACH ROW EXECUTE FUNCTION access_log_append_only();
CREATE TABLE officials (
    official_id TEXT PRIMARY KEY,
    agency      TEXT NOT NULL,
    token_hash  TEXT NOT NULL UNIQUE,
    roles       TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
ALTER TABLE cases ADD COLUMN province_code TEXT;
ALTER TABLE cases ADD COLUMN channel TEXT NOT NULL DEFAULT 'online';
CREATE INDEX cases_received ON cases(received_at);
CREATE INDEX case_events_case ON case_events(case_number, status);
