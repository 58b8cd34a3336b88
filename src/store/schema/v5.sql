-- v5: which services the citizen used is sealed: the outbox's procedure id, case number and
-- receipt, and the identifying fields of cases, go into a sealed `meta` column (cases and
-- case events are keyed by a keyed hash of the case number). Sealing the rows v4 wrote in
-- clear needs the data key, so it runs after the key is loaded
-- (`Store::seal_v4_service_rows`), not in this file.
ALTER TABLE outbox ADD COLUMN meta BLOB;
ALTER TABLE cases ADD COLUMN meta BLOB;
