//! SQLite storage: opening, pragmas, schema migrations (by `user_version`) and the audit log.
//!
//! One write connection, owned by the writer thread of [`crate::store`]: every request's
//! database work is one unit of work run alone on it (so each read-check-write sequence is
//! atomic with respect to other requests), group-committed with the units queued beside it.

use std::path::Path;

use rusqlite::Connection as SqliteConnection;

use crate::config::ServerError;
use crate::sql::{params, Connection, OptionalExtension};

/// Schema migrations; index + 1 is the `user_version` after applying it.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
CREATE TABLE citizens (
    id                INTEGER PRIMARY KEY,
    cccd              TEXT NOT NULL UNIQUE,
    full_name         TEXT NOT NULL,
    date_of_birth     TEXT NOT NULL,
    sex               TEXT NOT NULL CHECK (sex IN ('male', 'female')),
    phone             TEXT NOT NULL,
    nationality       TEXT NOT NULL,
    ethnicity         TEXT NOT NULL,
    permanent_address TEXT NOT NULL
);
CREATE TABLE accounts (
    account_id           TEXT PRIMARY KEY,
    citizen_id           INTEGER NOT NULL UNIQUE REFERENCES citizens(id),
    created_at           INTEGER NOT NULL,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    locked_at            INTEGER
);
CREATE TABLE enrollments (
    enrollment_id     TEXT PRIMARY KEY,
    citizen_id        INTEGER NOT NULL REFERENCES citizens(id),
    otp_hash          BLOB NOT NULL,
    otp_expires_at    INTEGER NOT NULL,
    attempts          INTEGER NOT NULL DEFAULT 0,
    created_at        INTEGER NOT NULL,
    consumed_at       INTEGER,
    approved_by_device TEXT
);
CREATE TABLE devices (
    device_id         TEXT PRIMARY KEY,
    account_id        TEXT NOT NULL REFERENCES accounts(account_id),
    public_key        BLOB NOT NULL,
    hardware_backed   INTEGER NOT NULL,
    attestation_chain TEXT NOT NULL,
    platform          TEXT NOT NULL,
    label             TEXT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('active', 'replaced', 'transferred', 'revoked')),
    status_changed_at INTEGER NOT NULL,
    last_counter      INTEGER NOT NULL,
    enrolled_at       INTEGER NOT NULL,
    last_login_at     INTEGER
);
CREATE INDEX devices_account ON devices(account_id);
CREATE UNIQUE INDEX one_active_device ON devices(account_id) WHERE status = 'active';
CREATE TABLE nonces (
    nonce      TEXT PRIMARY KEY,
    device_id  TEXT NOT NULL REFERENCES devices(device_id),
    purpose    TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE TABLE sessions (
    session_id          TEXT PRIMARY KEY,
    account_id          TEXT NOT NULL REFERENCES accounts(account_id),
    device_id           TEXT NOT NULL REFERENCES devices(device_id),
    created_at          INTEGER NOT NULL,
    idle_expires_at     INTEGER NOT NULL,
    absolute_expires_at INTEGER NOT NULL,
    revoked_at          INTEGER,
    revoke_reason       TEXT
);
CREATE INDEX sessions_device ON sessions(device_id);
CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions(session_id),
    created_at INTEGER NOT NULL,
    used_at    INTEGER
);
CREATE TABLE passcode_resets (
    reset_id       TEXT PRIMARY KEY,
    device_id      TEXT NOT NULL REFERENCES devices(device_id),
    otp_hash       BLOB NOT NULL,
    otp_expires_at INTEGER NOT NULL,
    attempts       INTEGER NOT NULL DEFAULT 0,
    created_at     INTEGER NOT NULL,
    consumed_at    INTEGER
);
CREATE TABLE rate_events (
    key TEXT NOT NULL,
    at  INTEGER NOT NULL
);
CREATE INDEX rate_events_key ON rate_events(key, at);
CREATE TABLE audit_log (
    id         INTEGER PRIMARY KEY,
    at         INTEGER NOT NULL,
    event      TEXT NOT NULL,
    outcome    TEXT NOT NULL,
    account_id TEXT,
    device_id  TEXT
);
"#,
    r#"
-- v2: full register records, public-service submissions, cases and their events.
ALTER TABLE citizens ADD COLUMN religion TEXT NOT NULL DEFAULT 'Không';
ALTER TABLE citizens ADD COLUMN place_of_origin TEXT NOT NULL DEFAULT '';
ALTER TABLE citizens ADD COLUMN permanent_residence TEXT NOT NULL DEFAULT '{}';
ALTER TABLE citizens ADD COLUMN current_residence TEXT NOT NULL DEFAULT '{}';
ALTER TABLE citizens ADD COLUMN household_head_name TEXT NOT NULL DEFAULT '';
ALTER TABLE citizens ADD COLUMN relationship_to_head TEXT NOT NULL DEFAULT '';
ALTER TABLE citizens ADD COLUMN email TEXT;
ALTER TABLE citizens ADD COLUMN updated_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE devices ADD COLUMN last_submit_counter INTEGER NOT NULL DEFAULT 0;
CREATE TABLE cases (
    case_number       TEXT PRIMARY KEY,
    account_id        TEXT NOT NULL REFERENCES accounts(account_id),
    submission_id     TEXT NOT NULL,
    procedure_id      TEXT NOT NULL,
    procedure_version INTEGER NOT NULL,
    status            TEXT NOT NULL,
    received_at       INTEGER NOT NULL,
    due_date          TEXT NOT NULL,
    updated_at        INTEGER NOT NULL
);
CREATE INDEX cases_account ON cases(account_id);
CREATE TABLE submissions (
    submission_id  TEXT PRIMARY KEY,
    account_id     TEXT NOT NULL REFERENCES accounts(account_id),
    device_id      TEXT NOT NULL REFERENCES devices(device_id),
    payload_sha256 TEXT NOT NULL,
    payload        TEXT NOT NULL,
    case_number    TEXT NOT NULL REFERENCES cases(case_number),
    http_status    INTEGER NOT NULL,
    response       TEXT NOT NULL,
    created_at     INTEGER NOT NULL
);
CREATE TABLE submission_attachments (
    submission_id TEXT NOT NULL REFERENCES submissions(submission_id),
    key           TEXT NOT NULL,
    file_name     TEXT NOT NULL,
    mime_type     TEXT NOT NULL,
    size          INTEGER NOT NULL,
    sha256        TEXT NOT NULL,
    data          BLOB NOT NULL,
    PRIMARY KEY (submission_id, key)
);
CREATE TABLE case_events (
    seq                   INTEGER PRIMARY KEY AUTOINCREMENT,
    case_number           TEXT NOT NULL REFERENCES cases(case_number),
    account_id            TEXT NOT NULL,
    status                TEXT NOT NULL,
    note_vi               TEXT,
    note_en               TEXT,
    requested_attachments TEXT NOT NULL DEFAULT '[]',
    at                    INTEGER NOT NULL
);
CREATE INDEX case_events_account ON case_events(account_id, seq);
"#,
    // Activity-log anchors: the heads devices asked the server to countersign.
    r#"
CREATE TABLE activity_anchors (
    device_id   TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    hash        TEXT NOT NULL,
    anchored_at INTEGER NOT NULL,
    PRIMARY KEY (device_id, seq)
);
"#,
    // Relying parties (issue 4). Each helper-owned table may gain columns here until released.
    // QR login sessions (handlers/qr.rs).
    r#"
CREATE TABLE qr_sessions (
    session_id        TEXT PRIMARY KEY,
    rp_id             TEXT NOT NULL,
    origin            TEXT NOT NULL,
    nonce             TEXT NOT NULL,
    claims            TEXT NOT NULL,
    same_device       INTEGER NOT NULL,
    redirect_uri      TEXT,
    request           BLOB NOT NULL,
    secret            BLOB NOT NULL,
    poll_token_hash   TEXT NOT NULL,
    issued_at         INTEGER NOT NULL,
    expires_at        INTEGER NOT NULL,
    state             TEXT NOT NULL,
    account_id        TEXT,
    device_id         TEXT,
    verification_code TEXT,
    decided_at        INTEGER,
    id_token          TEXT
);
-- Receipts the server countersigned (QR logins and data shares); no claim values, only names.
CREATE TABLE consent_receipts (
    receipt_id       TEXT PRIMARY KEY,
    account_id       TEXT NOT NULL,
    device_id        TEXT NOT NULL,
    kind             TEXT NOT NULL,
    rp_id            TEXT NOT NULL,
    digest           TEXT NOT NULL,
    counter          INTEGER NOT NULL,
    countersigned_at INTEGER NOT NULL
);
-- The demo bank's verifier state (an RP's own database in real life): issued share requests,
-- each answerable once.
CREATE TABLE rp_share_requests (
    request_id  TEXT PRIMARY KEY,
    rp_id       TEXT NOT NULL,
    nonce       TEXT NOT NULL,
    required    TEXT NOT NULL,
    optional    TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    answered_at INTEGER,
    result      TEXT
);
"#,
    // v5 (issue 9): anti-replay windows (verify::accept_counter). Bit i marks `highest − i` as
    // used. Existing devices, and every new device, start with all 64 bits set: counters at or
    // below the stored highest are treated as used, as the strict policy did.
    r#"
ALTER TABLE devices ADD COLUMN counter_window INTEGER NOT NULL DEFAULT -1;
ALTER TABLE devices ADD COLUMN submit_counter_window INTEGER NOT NULL DEFAULT -1;
"#,
    // v6 (issue 11, decision 26): the device's bookkeeping key (no user authentication on the
    // phone), registered by a statement the device key signed (enrollment proof or login), and
    // accepted for activity anchors only, with its own anti-replay counter so that it can never
    // move the device key's window. NULL for devices enrolled before (until their next login).
    r#"
ALTER TABLE devices ADD COLUMN bookkeeping_public_key BLOB;
ALTER TABLE devices ADD COLUMN bookkeeping_counter INTEGER NOT NULL DEFAULT 0;
ALTER TABLE devices ADD COLUMN bookkeeping_counter_window INTEGER NOT NULL DEFAULT 0;
"#,
    // v7 (issue 12, decision 30): identity level from the chip. Every existing account is level
    // 1. One row per accepted chip proof, keyed by the server nonce it answered (a replayed
    // proof is recognised before anything else), keeping only fingerprints: the document
    // signer certificate's and DG15's SHA-256, never the chip's personal data.
    r#"
ALTER TABLE accounts ADD COLUMN level INTEGER NOT NULL DEFAULT 1;
ALTER TABLE accounts ADD COLUMN level_upgraded_at INTEGER;
CREATE TABLE chip_verifications (
    nonce          TEXT PRIMARY KEY,
    account_id     TEXT NOT NULL REFERENCES accounts(account_id),
    device_id      TEXT NOT NULL,
    signer_sha256  TEXT NOT NULL,
    dg15_sha256    TEXT NOT NULL,
    verified_at    INTEGER NOT NULL
);
"#,
    // v8 (issue 13, decision 32): issued documents (mdoc + SD-JWT VC), each with a random
    // index in the token status list; `revoked_at` set by an official sets its bit. No personal
    // data: the documents themselves are rebuilt from the register at each issuance.
    r#"
CREATE TABLE issued_documents (
    document_id  TEXT PRIMARY KEY,
    account_id   TEXT NOT NULL REFERENCES accounts(account_id),
    device_id    TEXT NOT NULL,
    kind         TEXT NOT NULL,
    status_idx   INTEGER NOT NULL UNIQUE,
    issued_at    INTEGER NOT NULL,
    valid_until  INTEGER NOT NULL,
    revoked_at   INTEGER
);
"#,
    // v9 (issue 16, decisions 43-44): the citizen's access log
    // (every read of a register record, hash-chained per citizen, `access_log.rs`); named
    // officials with roles (the dashboard role; `officials.rs`); and, on cases, the province and
    // the filing channel the officials' dashboard groups by (NULL province = filed before v9).
    r#"
CREATE TABLE access_log (
    citizen_id INTEGER NOT NULL REFERENCES citizens(id),
    seq        INTEGER NOT NULL,
    at         INTEGER NOT NULL,
    accessor   TEXT NOT NULL,
    agency     TEXT NOT NULL,
    official   TEXT,
    purpose    TEXT NOT NULL,
    reference  TEXT,
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL,
    PRIMARY KEY (citizen_id, seq)
);
CREATE TRIGGER access_log_no_update BEFORE UPDATE ON access_log
BEGIN SELECT RAISE(ABORT, 'access_log is append-only'); END;
CREATE TRIGGER access_log_no_delete BEFORE DELETE ON access_log
BEGIN SELECT RAISE(ABORT, 'access_log is append-only'); END;
CREATE TABLE officials (
    official_id TEXT PRIMARY KEY,
    agency      TEXT NOT NULL,
    token_hash  TEXT NOT NULL UNIQUE,
    roles       TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);
ALTER TABLE cases ADD COLUMN province_code TEXT;
ALTER TABLE cases ADD COLUMN channel TEXT NOT NULL DEFAULT 'online';
CREATE INDEX cases_received ON cases(received_at);
CREATE INDEX case_events_case ON case_events(case_number, status);
"#,
    // v10 (issue 15, decision 42): losing, changing and re-binding the phone.
    // * devices.locked_at: a remote lock in force (the device stays the account's one device,
    //   refused with `device_locked` until unlocked or replaced by a recovery).
    // * device_locks: who locked or unlocked which device, when and why (the official's
    //   identity, or `portal` for the citizen's own lock from the portal).
    // * recoveries: a new device waiting to replace the old one (chip + OTP, or an official at a
    //   counter), with its waiting period, and how it ended. At most one waiting per account.
    // * key_rotations: a device key replaced on the same device after invalidation.
    // * rebindings: the OTP of a key re-binding (like passcode resets).
    // * enrollments.approved_by_official (a counter recovery), approved_secret_sha256 (the
    //   digest of the transfer QR code's secret the old phone signed: proximity check).
    r#"
ALTER TABLE devices ADD COLUMN locked_at INTEGER;
ALTER TABLE enrollments ADD COLUMN approved_by_official TEXT;
ALTER TABLE enrollments ADD COLUMN approved_secret_sha256 TEXT;
CREATE TABLE device_locks (
    id          INTEGER PRIMARY KEY,
    device_id   TEXT NOT NULL,
    account_id  TEXT NOT NULL,
    action      TEXT NOT NULL CHECK (action IN ('lock', 'unlock')),
    actor       TEXT NOT NULL,
    reason      TEXT NOT NULL,
    at          INTEGER NOT NULL
);
CREATE TABLE recoveries (
    recovery_id            TEXT PRIMARY KEY,
    account_id             TEXT NOT NULL REFERENCES accounts(account_id),
    old_device_id          TEXT,
    new_device_id          TEXT NOT NULL UNIQUE,
    registration           TEXT NOT NULL,
    public_key             BLOB NOT NULL,
    bookkeeping_public_key BLOB,
    counter                INTEGER NOT NULL,
    method                 TEXT NOT NULL CHECK (method IN ('chip', 'counter')),
    started_by             TEXT NOT NULL,
    state                  TEXT NOT NULL CHECK (state IN ('waiting', 'cancelled', 'completed')),
    started_at             INTEGER NOT NULL,
    ready_at               INTEGER NOT NULL,
    ended_at               INTEGER,
    ended_by               TEXT,
    notice_seen_at         INTEGER
);
CREATE UNIQUE INDEX one_waiting_recovery ON recoveries(account_id) WHERE state = 'waiting';
CREATE TABLE key_rotations (
    id             INTEGER PRIMARY KEY,
    device_id      TEXT NOT NULL REFERENCES devices(device_id),
    old_public_key BLOB NOT NULL,
    new_public_key BLOB NOT NULL,
    at             INTEGER NOT NULL
);
CREATE TABLE rebindings (
    rebind_id      TEXT PRIMARY KEY,
    device_id      TEXT NOT NULL REFERENCES devices(device_id),
    otp_hash       BLOB NOT NULL,
    otp_expires_at INTEGER NOT NULL,
    attempts       INTEGER NOT NULL DEFAULT 0,
    created_at     INTEGER NOT NULL,
    consumed_at    INTEGER
);
"#,
    // v11 (issue 16 item 1, decision 50): corrections and enrichment of the register by the
    // citizen (`corrections.rs`).
    // * register_enrichment: what the citizen added that the base record has no column for
    //   (occupation, education, blood group, contact address), one row per field.
    // * register_corrections: one per correction case (field, proposed value, state); at most
    //   one pending per citizen and field.
    // * register_history: every decided correction (old value, new value, decision, official,
    //   agency, time), append-only like the access log.
    r#"
CREATE TABLE register_enrichment (
    citizen_id INTEGER NOT NULL REFERENCES citizens(id),
    field      TEXT NOT NULL,
    value      TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (citizen_id, field)
);
CREATE TABLE register_corrections (
    case_number TEXT PRIMARY KEY REFERENCES cases(case_number),
    citizen_id  INTEGER NOT NULL REFERENCES citizens(id),
    field       TEXT NOT NULL,
    proposed    TEXT NOT NULL,
    reason      TEXT NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'rejected')),
    created_at  INTEGER NOT NULL
);
CREATE UNIQUE INDEX one_pending_correction ON register_corrections(citizen_id, field) WHERE state = 'pending';
CREATE TABLE register_history (
    id          INTEGER PRIMARY KEY,
    citizen_id  INTEGER NOT NULL REFERENCES citizens(id),
    field       TEXT NOT NULL,
    old_value   TEXT,
    new_value   TEXT NOT NULL,
    decision    TEXT NOT NULL CHECK (decision IN ('approved', 'rejected')),
    case_number TEXT NOT NULL,
    official_id TEXT NOT NULL,
    agency      TEXT NOT NULL,
    at          INTEGER NOT NULL
);
CREATE INDEX register_history_citizen ON register_history(citizen_id, id);
CREATE TRIGGER register_history_no_update BEFORE UPDATE ON register_history
BEGIN SELECT RAISE(ABORT, 'register_history is append-only'); END;
CREATE TRIGGER register_history_no_delete BEFORE DELETE ON register_history
BEGIN SELECT RAISE(ABORT, 'register_history is append-only'); END;
"#,
    // v12 (issue 15, decision 48): the citizen's own lock of a lost phone from the portal or any
    // other device. A request is started with the identifiers (OTP sent to the registered
    // phone) and completed with that OTP or a chip read over its id; once used it is spent.
    r#"
CREATE TABLE remote_locks (
    lock_id        TEXT PRIMARY KEY,
    account_id     TEXT NOT NULL REFERENCES accounts(account_id),
    otp_hash       BLOB NOT NULL,
    otp_expires_at INTEGER NOT NULL,
    attempts       INTEGER NOT NULL DEFAULT 0,
    created_at     INTEGER NOT NULL,
    consumed_at    INTEGER,
    method         TEXT
);
"#,
    // v13 (issue 15 item 5, decision 49): delegation — acting for a child or ward.
    // * guardianships: the register's relations (a parent of a child, a guardian of a ward), with
    //   the scope a ward's guardianship gives (a parent's is the server's child scope) and its
    //   dates; a parent's relation ends at the child's 14th birthday (computed, not stored).
    // * mandates: the grant of one relation (at most one per relation, ever: a revoked mandate is
    //   not granted again automatically), its end and its revocation (who, when, why).
    // * mandate_uses: every on-behalf statement accepted (device + counter unique: a statement
    //   is used once; a second use is `delegation.replayed`).
    // * cases.dependant_cccd / cases.mandate_id: a case filed on behalf of a dependant.
    r#"
CREATE TABLE guardianships (
    id             INTEGER PRIMARY KEY,
    guardian_cccd  TEXT NOT NULL,
    dependant_cccd TEXT NOT NULL,
    relation       TEXT NOT NULL CHECK (relation IN ('parent', 'guardian')),
    procedures     TEXT NOT NULL,
    document_types TEXT NOT NULL,
    since          TEXT NOT NULL,
    until          TEXT,
    UNIQUE (guardian_cccd, dependant_cccd)
);
CREATE TABLE mandates (
    mandate_id      TEXT PRIMARY KEY,
    guardianship_id INTEGER NOT NULL UNIQUE REFERENCES guardianships(id),
    guardian_cccd   TEXT NOT NULL,
    dependant_cccd  TEXT NOT NULL,
    procedures      TEXT NOT NULL,
    document_types  TEXT NOT NULL,
    issued_at       INTEGER NOT NULL,
    ends_at         INTEGER NOT NULL,
    revoked_at      INTEGER,
    revoked_by      TEXT,
    revoke_reason   TEXT
);
CREATE INDEX mandates_dependant ON mandates(dependant_cccd);
CREATE TABLE mandate_uses (
    device_id     TEXT NOT NULL,
    counter       INTEGER NOT NULL,
    mandate_id    TEXT NOT NULL REFERENCES mandates(mandate_id),
    submission_id TEXT NOT NULL,
    at            INTEGER NOT NULL,
    PRIMARY KEY (device_id, counter)
);
ALTER TABLE cases ADD COLUMN dependant_cccd TEXT;
ALTER TABLE cases ADD COLUMN mandate_id TEXT;
CREATE INDEX cases_dependant ON cases(dependant_cccd) WHERE dependant_cccd IS NOT NULL;
"#,
];

/// Open (creating if needed) the database and bring its schema up to date.
pub fn open(path: &Path) -> Result<Connection, ServerError> {
    let mut conn = SqliteConnection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", true)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    migrate(&mut conn)?;
    let conn = Connection::sqlite(conn);
    crate::register::seed(&conn)?;
    Ok(conn)
}

fn migrate(conn: &mut SqliteConnection) -> Result<(), ServerError> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    // A negative version (SQLite's user_version is signed) is refused like a newer one.
    let Some(applied) = usize::try_from(version).ok().filter(|v| *v <= MIGRATIONS.len()) else {
        return Err(ServerError::Config(format!(
            "database schema version {version} is newer than this server ({})",
            MIGRATIONS.len()
        )));
    };
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(applied) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i + 1)?;
        tx.commit()?;
    }
    Ok(())
}

/// A random secret stored in `meta` under `key`, created on first use. Several server
/// processes starting at once on one PostgreSQL database agree on one value: the first insert
/// wins, every process reads what is stored.
pub fn meta_secret(conn: &Connection, key: &str) -> crate::sql::Result<Vec<u8>> {
    if let Some(v) = conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0)).optional()? {
        return Ok(v);
    }
    let v = citizen_protocol::crypto::random_array::<32>().to_vec();
    conn.execute("INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO NOTHING", params![key, v])?;
    conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
}

/// One audit record. Carries no personal data: no CCCD number, phone, OTP, nonce or token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEvent {
    /// Unix seconds.
    pub at: i64,
    /// What happened (`enroll_start`, `login`, `refresh_reuse`, …).
    pub event: String,
    /// `ok` or an error code from `protocol::codes`.
    pub outcome: String,
    /// Opaque account id, when known.
    pub account_id: Option<String>,
    /// Device id, when known.
    pub device_id: Option<String>,
}

/// Append to the audit log and mirror it to tracing.
pub fn audit(
    conn: &Connection,
    at: i64,
    event: &str,
    outcome: &str,
    account_id: Option<&str>,
    device_id: Option<&str>,
) {
    tracing::info!(event, outcome, account = account_id.unwrap_or("-"), device = device_id.unwrap_or("-"), "audit");
    if let Err(e) = conn.execute(
        "INSERT INTO audit_log (at, event, outcome, account_id, device_id) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![at, event, outcome, account_id, device_id],
    ) {
        // Not after a conflict that makes the unit run again (PostgreSQL), where every later
        // statement of the attempt fails.
        if conn.failure().1 {
            tracing::debug!("audit write skipped in a unit to be retried: {e}");
        } else {
            tracing::error!("audit write failed: {e}");
        }
    }
}

/// The whole audit log, oldest first.
pub fn audit_events(conn: &Connection) -> crate::sql::Result<Vec<AuditEvent>> {
    let mut st = conn.prepare("SELECT at, event, outcome, account_id, device_id FROM audit_log ORDER BY id")?;
    let rows = st.query_map([], |r| {
        Ok(AuditEvent {
            at: r.get(0)?,
            event: r.get(1)?,
            outcome: r.get(2)?,
            account_id: r.get(3)?,
            device_id: r.get(4)?,
        })
    })?;
    rows.collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_apply_once_and_seed_is_idempotent() {
        let dir = std::env::temp_dir().join(format!("db-{}", citizen_protocol::crypto::random_b64url(6)));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("t.db");
        let c = open(&p).unwrap();
        let s1 = meta_secret(&c, "k").unwrap();
        drop(c);
        let c = open(&p).unwrap();
        let v: i64 = c.as_sqlite().unwrap().pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
        assert_eq!(v as usize, MIGRATIONS.len());
        let n: i64 = c.query_row("SELECT COUNT(*) FROM citizens", [], |r| r.get(0)).unwrap();
        assert_eq!(n, crate::register::SEED.len() as i64);
        assert_eq!(meta_secret(&c, "k").unwrap(), s1);
        let mode: String = c.as_sqlite().unwrap().pragma_query_value(None, "journal_mode", |r| r.get(0)).unwrap();
        assert_eq!(mode.to_lowercase(), "wal");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn v1_database_is_upgraded_in_place() {
        let dir = std::env::temp_dir().join(format!("db-{}", citizen_protocol::crypto::random_b64url(6)));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("t.db");
        {
            // A database as the previous server left it: schema v1, v1 seed, one account.
            let c = SqliteConnection::open(&p).unwrap();
            c.execute_batch(MIGRATIONS[0]).unwrap();
            c.pragma_update(None, "user_version", 1).unwrap();
            for s in crate::register::SEED {
                c.execute(
                    "INSERT INTO citizens (cccd, full_name, date_of_birth, sex, phone, nationality, ethnicity, permanent_address)
                     VALUES (?1, ?2, ?3, ?4, ?5, 'Việt Nam', 'Kinh', ?6)",
                    rusqlite::params![s.cccd, s.full_name, s.date_of_birth, s.sex, s.phone, s.permanent_address],
                )
                .unwrap();
            }
            c.execute("INSERT INTO accounts (account_id, citizen_id, created_at) VALUES ('acc', 1, 0)", []).unwrap();
        }
        let c = open(&p).unwrap();
        let v: i64 = c.as_sqlite().unwrap().pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
        assert_eq!(v as usize, MIGRATIONS.len());
        let profile = crate::register::profile_of_account(&c, "acc").unwrap().unwrap();
        assert_eq!(profile.cccd, "001090000001");
        assert_eq!(profile.permanent_residence.province_code, "01");
        assert_eq!(profile.place_of_origin, "Xã Đông Anh, Thành phố Hà Nội");
        assert_eq!(profile.updated_at, crate::register::PROFILE_UPDATED_AT);
        let n: i64 = c.query_row("SELECT COUNT(*) FROM citizens WHERE updated_at = 0", [], |r| r.get(0)).unwrap();
        assert_eq!(n, 0);
        let counter: i64 = c.query_row("SELECT COUNT(last_submit_counter) FROM devices", [], |r| r.get(0)).unwrap();
        assert_eq!(counter, 0);
        let _ = std::fs::remove_dir_all(dir);
    }

    /// v9 (issue 16): a v8 database keeps its cases (no province, filed online) and gains an
    /// empty, append-only access log and officials' table.
    #[test]
    fn v8_database_upgrades_to_the_access_log_and_dashboard_columns() {
        let dir = std::env::temp_dir().join(format!("db-{}", citizen_protocol::crypto::random_b64url(6)));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("t.db");
        {
            let c = crate::sql::Connection::sqlite(SqliteConnection::open(&p).unwrap());
            for sql in &MIGRATIONS[..8] {
                c.execute_batch(sql).unwrap();
            }
            c.as_sqlite().unwrap().pragma_update(None, "user_version", 8).unwrap();
            crate::register::seed_citizens(&c).unwrap();
            c.execute("INSERT INTO accounts (account_id, citizen_id, created_at) VALUES ('acc', 1, 0)", []).unwrap();
            c.execute(
                "INSERT INTO cases (case_number, account_id, submission_id, procedure_id, procedure_version, status,
                                    received_at, due_date, updated_at)
                 VALUES ('HS-260101-000001', 'acc', 's', 'residence-notification', 1, 'received', 5, '2026-01-02', 5)",
                [],
            )
            .unwrap();
        }
        let c = open(&p).unwrap();
        let v: i64 = c.as_sqlite().unwrap().pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
        assert_eq!(v as usize, MIGRATIONS.len());
        let (province, channel): (Option<String>, String) =
            c.query_row("SELECT province_code, channel FROM cases", [], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
        assert_eq!((province, channel.as_str()), (None, "online"));
        let n: i64 = c.query_row("SELECT COUNT(*) FROM access_log", [], |r| r.get(0)).unwrap();
        assert_eq!(n, 0);
        let e = crate::access_log::record(&c, 1, 7, &crate::access_log::prefill("HS-260101-000001")).unwrap();
        assert_eq!((e.seq, e.prev_hash.as_str()), (1, citizen_protocol::activity::GENESIS));
        assert!(c.execute("DELETE FROM access_log", []).is_err(), "append-only");
        assert!(c.execute("UPDATE access_log SET at = 8", []).is_err(), "append-only");
        let _ = std::fs::remove_dir_all(dir);
    }

    /// v6 (issue 11): a device of a v5 database keeps its key, counters and windows and has no
    /// bookkeeping key (it registers one with its next login), its bookkeeping window empty.
    #[test]
    fn v5_devices_upgrade_without_a_bookkeeping_key() {
        let dir = std::env::temp_dir().join(format!("db-{}", citizen_protocol::crypto::random_b64url(6)));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("t.db");
        {
            let c = SqliteConnection::open(&p).unwrap();
            for sql in &MIGRATIONS[..5] {
                c.execute_batch(sql).unwrap();
            }
            c.pragma_update(None, "user_version", 5).unwrap();
            c.pragma_update(None, "foreign_keys", false).unwrap(); // no register seed needed here
            c.execute("INSERT INTO accounts (account_id, citizen_id, created_at) VALUES ('acc', 1, 0)", []).unwrap();
            c.execute(
                "INSERT INTO devices (device_id, account_id, public_key, hardware_backed, attestation_chain, platform,
                                      label, status, status_changed_at, last_counter, enrolled_at)
                 VALUES ('dev', 'acc', X'04', 1, '[]', 'android', 'phone', 'active', 0, 41, 0)",
                [],
            )
            .unwrap();
        }
        let c = open(&p).unwrap();
        let v: i64 = c.as_sqlite().unwrap().pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
        assert_eq!(v as usize, MIGRATIONS.len());
        let dev = crate::verify::load_device(&c, "dev").unwrap().unwrap();
        assert_eq!((dev.public_key, dev.last_counter, dev.bookkeeping_public_key), (vec![4], 41, None));
        let (counter, window): (i64, i64) = c
            .query_row("SELECT bookkeeping_counter, bookkeeping_counter_window FROM devices", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!((counter, window), (0, 0));
        let _ = std::fs::remove_dir_all(dir);
    }

    /// v10 (issue 15): a device of a v8 database is unlocked, keeps its key and counters, and the
    /// new tables start empty; a lock, a recovery and a rotation can then be recorded.
    #[test]
    fn v8_devices_upgrade_unlocked_with_empty_recovery_tables() {
        let dir = std::env::temp_dir().join(format!("db-{}", citizen_protocol::crypto::random_b64url(6)));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("t.db");
        {
            let c = SqliteConnection::open(&p).unwrap();
            for sql in &MIGRATIONS[..8] {
                c.execute_batch(sql).unwrap();
            }
            c.pragma_update(None, "user_version", 8).unwrap();
            c.pragma_update(None, "foreign_keys", false).unwrap();
            c.execute("INSERT INTO accounts (account_id, citizen_id, created_at) VALUES ('acc', 1, 0)", []).unwrap();
            c.execute(
                "INSERT INTO devices (device_id, account_id, public_key, hardware_backed, attestation_chain, platform,
                                      label, status, status_changed_at, last_counter, enrolled_at)
                 VALUES ('dev', 'acc', X'04', 1, '[]', 'android', 'phone', 'active', 0, 41, 0)",
                [],
            )
            .unwrap();
        }
        let c = open(&p).unwrap();
        let v: i64 = c.as_sqlite().unwrap().pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
        assert_eq!(usize::try_from(v).unwrap(), MIGRATIONS.len(), "upgraded to the newest version");
        let dev = crate::verify::load_device(&c, "dev").unwrap().unwrap();
        assert_eq!((dev.last_counter, dev.locked_at, dev.shown_status()), (41, None, "active"));
        for t in ["device_locks", "recoveries", "key_rotations", "rebindings"] {
            let n: i64 = c.query_row(&format!("SELECT COUNT(*) FROM {t}"), [], |r| r.get(0)).unwrap();
            assert_eq!(n, 0, "{t}");
        }
        c.execute("UPDATE devices SET locked_at = 5 WHERE device_id = 'dev'", []).unwrap();
        let dev = crate::verify::load_device(&c, "dev").unwrap().unwrap();
        assert_eq!(dev.shown_status(), "locked");
        let _ = std::fs::remove_dir_all(dir);
    }
}
