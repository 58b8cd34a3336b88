//! Local storage: one SQLite database, sensitive fields sealed per field.
//!
//! * Pragmas: WAL with `synchronous=FULL` (a commit survives power loss, not only an app kill),
//!   `secure_delete` (deleted secrets are overwritten, not left in free pages), `temp_store=MEMORY`
//!   (no temp files; Android has no usable temp dir), foreign keys on.
//! * Schema migrations are keyed by `PRAGMA user_version` and run in one transaction each.
//! * The 32-byte data key is generated once, stored only wrapped by the platform
//!   [`DataKeyWrapper`], and unwrapped into a zeroizing [`SecretKey`] at open. Personal data and
//!   tokens are sealed with AES-256-GCM; the associated data names the column, so a sealed
//!   value cannot be moved to another column.
//! * Counters and passcode failures are committed *before* the operation they guard, so a kill
//!   can never hand out a counter twice or forget a failed attempt.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

use crate::crypto::SecretKey;
use crate::error::{Error, Msg, Result};
use crate::passcode::{self, Gate};
use crate::platform::DataKeyWrapper;

/// File name of the database inside the data directory.
pub const DB_FILE: &str = "citizen-core.db";
/// Alias of the platform key that wraps the data key.
pub const DATA_KEY_ALIAS: &str = "citizen-core.data-key.v1";

const MIGRATIONS: &[&str] = &[
    // v1: foundation.
    r#"
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
    "#,
    // v2: public-service requests.
    r#"
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
    "#,
    // v3: the activity log (entries sealed; anchors are server countersignatures).
    r#"
    CREATE TABLE activity_log (
        seq INTEGER PRIMARY KEY,
        entry BLOB NOT NULL
    );
    CREATE TABLE activity_anchors (
        seq INTEGER PRIMARY KEY,
        anchor TEXT NOT NULL
    );
    "#,
    // v4: relying parties, consent receipts, the PID credential, scanned login requests.
    r#"
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
    "#,
    // v5: which services the citizen used is sealed: the outbox's procedure id, case number and
    // receipt, and the identifying fields of cases, go into a sealed `meta` column (cases and
    // case events are keyed by a keyed hash of the case number). Sealing the rows v4 wrote in
    // clear needs the data key, so it runs after the key is loaded
    // (`Store::seal_v4_service_rows`), not here.
    r#"
    ALTER TABLE outbox ADD COLUMN meta BLOB;
    ALTER TABLE cases ADD COLUMN meta BLOB;
    "#,
];

/// The enrolled account as stored.
#[derive(Clone, Debug)]
pub struct AccountRow {
    /// Server account id (opaque).
    pub account_id: String,
    /// This device's id.
    pub device_id: String,
    /// Alias of the device key in the platform key store.
    pub key_alias: String,
    /// SEC1 public key of the device key (verifies every signature before it is sent).
    pub public_key: Vec<u8>,
    /// Key store's claim.
    pub hardware_backed: bool,
    /// Last counter handed out.
    pub counter: u64,
    /// Unix seconds.
    pub enrolled_at: i64,
    /// `replaced`, `transferred`, `revoked` once the server says so.
    pub inactive_status: Option<String>,
}

/// The citizen's identity as entered at enrollment (sealed at rest).
#[derive(Clone, Serialize, Deserialize)]
pub struct Identity {
    /// CCCD number.
    pub cccd: String,
    /// `YYYY-MM-DD`.
    pub date_of_birth: String,
    /// E.164.
    pub phone: String,
}

impl Drop for Identity {
    fn drop(&mut self) {
        self.cccd.zeroize();
        self.date_of_birth.zeroize();
        self.phone.zeroize();
    }
}

/// Passcode verifier state.
#[derive(Clone, Debug)]
pub struct PasscodeRow {
    /// Random salt.
    pub salt: Vec<u8>,
    /// HMAC verifier.
    pub verifier: Vec<u8>,
    /// Consecutive failures.
    pub failed: u32,
    /// Unix seconds.
    pub locked_until: Option<i64>,
}

/// Session tokens (sealed at rest, zeroized in memory).
#[derive(Clone, Serialize, Deserialize)]
pub struct Tokens {
    /// Bearer token.
    pub access_token: String,
    /// Rotating refresh token.
    pub refresh_token: String,
}

impl Drop for Tokens {
    fn drop(&mut self) {
        self.access_token.zeroize();
        self.refresh_token.zeroize();
    }
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tokens(<redacted>)")
    }
}

/// A stored session.
#[derive(Clone, Debug)]
pub struct SessionRow {
    /// Session (token family) id.
    pub session_id: String,
    /// Tokens.
    pub tokens: Tokens,
    /// Unix seconds.
    pub access_expires_at: i64,
    /// Unix seconds.
    pub idle_expires_at: i64,
    /// Unix seconds.
    pub absolute_expires_at: i64,
}

/// The database plus the unwrapped data key.
pub struct Store {
    conn: Mutex<Connection>,
    data_key: SecretKey,
    path: PathBuf,
}

impl Store {
    /// Open (creating if needed) the database in `dir` and unwrap the data key.
    pub fn open(dir: &Path, wrapper: &Arc<dyn DataKeyWrapper>) -> Result<Store> {
        crate::datadir::create_private_dir(dir)
            .map_err(|e| Error::Storage(format!("create data dir: {}", e.kind())))?;
        let path = dir.join(DB_FILE);
        // The database is created 0600 by us before SQLite opens it (SQLite would use 0644 less
        // the umask); SQLite then gives `-wal` and `-shm` the same mode. Files of an older
        // version are tightened.
        crate::datadir::open_private_file(&path).map_err(|e| Error::Storage(format!("create db: {}", e.kind())))?;
        for side in ["-wal", "-shm"] {
            let mut p = path.clone().into_os_string();
            p.push(side);
            crate::datadir::restrict(Path::new(&p))
                .map_err(|e| Error::Storage(format!("db permissions: {}", e.kind())))?;
        }
        let mut conn = Connection::open(&path)?;
        Self::configure(&conn)?;
        Self::migrate(&mut conn)?;
        let data_key = Self::load_data_key(&conn, wrapper)?;
        let store = Store { conn: Mutex::new(conn), data_key, path };
        store.seal_v4_service_rows()?;
        Ok(store)
    }

    fn configure(conn: &Connection) -> Result<()> {
        let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(Error::Storage(format!("journal_mode is {mode}")));
        }
        conn.execute_batch(
            "PRAGMA synchronous=FULL; PRAGMA secure_delete=ON; PRAGMA temp_store=MEMORY; \
             PRAGMA foreign_keys=ON; PRAGMA busy_timeout=5000;",
        )?;
        Ok(())
    }

    fn migrate(conn: &mut Connection) -> Result<()> {
        let version: usize = conn.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))? as usize;
        if version > MIGRATIONS.len() {
            return Err(Error::Storage(format!("database schema {version} is newer than this app")));
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)?;
            tx.commit()?;
        }
        Ok(())
    }

    fn load_data_key(conn: &Connection, wrapper: &Arc<dyn DataKeyWrapper>) -> Result<SecretKey> {
        let wrapped: Option<Vec<u8>> =
            conn.query_row("SELECT value FROM meta WHERE name = 'wrapped_data_key'", [], |r| r.get(0)).optional()?;
        match wrapped {
            Some(w) => {
                let raw = Zeroizing::new(wrapper.unwrap(DATA_KEY_ALIAS.to_string(), w).map_err(|e| {
                    tracing::warn!(error = %e, "data key unwrap failed");
                    Error::Domain(Msg::DataKeyUnavailable)
                })?);
                SecretKey::from_slice(&raw).ok_or(Error::Domain(Msg::DataKeyUnavailable))
            }
            None => {
                let key = SecretKey::generate();
                let w = wrapper
                    .wrap(DATA_KEY_ALIAS.to_string(), key.expose().to_vec())
                    .map_err(|e| Error::Crypto(format!("wrap data key: {e}")))?;
                // Prove the wrapper round-trips before relying on it.
                let back = Zeroizing::new(
                    wrapper
                        .unwrap(DATA_KEY_ALIAS.to_string(), w.clone())
                        .map_err(|e| Error::Crypto(format!("unwrap fresh data key: {e}")))?,
                );
                if back.as_slice() != key.expose() {
                    return Err(Error::Crypto("data key wrapper does not round-trip".into()));
                }
                conn.execute("INSERT INTO meta (name, value) VALUES ('wrapped_data_key', ?1)", params![w])?;
                Ok(key)
            }
        }
    }

    /// Path of the database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A sub-key of the data key for a named purpose (e.g. the passcode verifier).
    pub fn derive_key(&self, info: &str) -> SecretKey {
        self.data_key.derive(info)
    }

    pub(crate) fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent (transactions roll back).
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn seal_json<T: Serialize>(&self, label: &str, value: &T) -> Result<Vec<u8>> {
        let json = Zeroizing::new(serde_json::to_vec(value).map_err(|e| Error::Crypto(e.to_string()))?);
        Ok(self.data_key.seal(label.as_bytes(), &json))
    }

    pub(crate) fn open_json<T: DeserializeOwned>(&self, label: &str, sealed: &[u8]) -> Result<T> {
        let plain =
            self.data_key.open(label.as_bytes(), sealed).ok_or(Error::Crypto(format!("{label} does not open")))?;
        serde_json::from_slice(&plain).map_err(|e| Error::Crypto(format!("{label}: {e}")))
    }

    /// Seal raw bytes under the data key (files).
    pub(crate) fn data_key_seal(&self, label: &str, data: &[u8]) -> Vec<u8> {
        self.data_key.seal(label.as_bytes(), data)
    }

    /// Open raw bytes sealed by [`Store::data_key_seal`].
    pub(crate) fn data_key_open(&self, label: &str, sealed: &[u8]) -> Option<Vec<u8>> {
        self.data_key.open(label.as_bytes(), sealed).map(|z| z.to_vec())
    }

    /// Run pragmas back for tests and diagnostics: (journal_mode, synchronous, secure_delete, temp_store).
    pub fn pragmas(&self) -> Result<(String, i64, i64, i64)> {
        let c = self.conn();
        Ok((
            c.query_row("PRAGMA journal_mode", [], |r| r.get(0))?,
            c.query_row("PRAGMA synchronous", [], |r| r.get(0))?,
            c.query_row("PRAGMA secure_delete", [], |r| r.get(0))?,
            c.query_row("PRAGMA temp_store", [], |r| r.get(0))?,
        ))
    }

    // ---- account -------------------------------------------------------------------------

    /// The enrolled account, if any.
    pub fn account(&self) -> Result<Option<AccountRow>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT account_id, device_id, key_alias, public_key, hardware_backed, counter, enrolled_at, \
                 inactive_status FROM account WHERE id = 1",
                [],
                |r| {
                    Ok(AccountRow {
                        account_id: r.get(0)?,
                        device_id: r.get(1)?,
                        key_alias: r.get(2)?,
                        public_key: r.get(3)?,
                        hardware_backed: r.get(4)?,
                        counter: r.get::<_, i64>(5)? as u64,
                        enrolled_at: r.get(6)?,
                        inactive_status: r.get(7)?,
                    })
                },
            )
            .optional()?)
    }

    /// The identity entered at enrollment.
    pub fn identity(&self) -> Result<Option<Identity>> {
        let sealed: Option<Vec<u8>> =
            self.conn().query_row("SELECT identity FROM account WHERE id = 1", [], |r| r.get(0)).optional()?;
        sealed.map(|s| self.open_json("account.identity", &s)).transpose()
    }

    /// Store a new enrollment: account, identity and passcode verifier in one transaction, and
    /// drop any pending enrollment and old session.
    pub fn save_enrollment(&self, account: &AccountRow, identity: &Identity, passcode: &PasscodeRow) -> Result<()> {
        let identity = self.seal_json("account.identity", identity)?;
        let mut c = self.conn();
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute("DELETE FROM account", [])?;
        tx.execute("DELETE FROM session", [])?;
        tx.execute("DELETE FROM pending", [])?;
        tx.execute(
            "INSERT INTO account (id, account_id, device_id, key_alias, public_key, hardware_backed, counter, \
             enrolled_at, inactive_status, identity) VALUES (1, ?1, ?2, ?3, ?8, ?4, ?5, ?6, NULL, ?7)",
            params![
                account.account_id,
                account.device_id,
                account.key_alias,
                account.hardware_backed,
                account.counter as i64,
                account.enrolled_at,
                identity,
                account.public_key
            ],
        )?;
        tx.execute(
            "INSERT OR REPLACE INTO passcode (id, salt, verifier, failed, locked_until) VALUES (1, ?1, ?2, 0, NULL)",
            params![passcode.salt, passcode.verifier],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Hand out the next counter value, committed before it is used.
    pub fn next_counter(&self) -> Result<u64> {
        let c = self.conn();
        let v: i64 = c
            .query_row("UPDATE account SET counter = counter + 1 WHERE id = 1 RETURNING counter", [], |r| r.get(0))
            .optional()?
            .ok_or(Error::Domain(Msg::NotEnrolled))?;
        Ok(v as u64)
    }

    /// Record that the server no longer accepts this device; drops the session.
    pub fn mark_inactive(&self, status: &str) -> Result<()> {
        let mut c = self.conn();
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute("UPDATE account SET inactive_status = ?1 WHERE id = 1", params![status])?;
        tx.execute("DELETE FROM session", [])?;
        tx.commit()?;
        Ok(())
    }

    /// Erase the account, passcode, session, pending operations and everything personal of the
    /// services (profile, drafts, outbox, cases) and of consent (receipts, credential, pending
    /// login requests). The data key, the public catalogue and the RP registry stay.
    pub fn wipe_account(&self) -> Result<()> {
        let mut c = self.conn();
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for t in [
            "account",
            "passcode",
            "session",
            "pending",
            "profile",
            "draft_files",
            "drafts",
            "outbox",
            "cases",
            "case_events",
            "consent_receipts",
            "credentials",
            "qr_pending",
        ] {
            tx.execute(&format!("DELETE FROM {t}"), [])?;
        }
        tx.commit()?;
        drop(c);
        // Move the erased pages out of the WAL as well.
        let _ = self.conn().execute_batch("PRAGMA wal_checkpoint(TRUNCATE);");
        Ok(())
    }

    // ---- passcode ------------------------------------------------------------------------

    /// Passcode state.
    pub fn passcode(&self) -> Result<Option<PasscodeRow>> {
        Ok(self
            .conn()
            .query_row("SELECT salt, verifier, failed, locked_until FROM passcode WHERE id = 1", [], |r| {
                Ok(PasscodeRow {
                    salt: r.get(0)?,
                    verifier: r.get(1)?,
                    failed: r.get::<_, i64>(2)? as u32,
                    locked_until: r.get(3)?,
                })
            })
            .optional()?)
    }

    /// Reserve one passcode attempt under the lockout policy, committed before the passcode is
    /// compared: the failure count is incremented by the database itself
    /// (`failed = failed + 1 … RETURNING failed`) inside one write transaction, and the gate is
    /// decided on the value it returns. A read of the count followed by a write of `read + 1`
    /// lost attempts when several ran at once (each read the same count); here every attempt
    /// that proceeds to a comparison has its own count, across threads and processes alike.
    ///
    /// Returns the gate and, when it is [`Gate::Proceed`], the verifier to compare against;
    /// `None` when no passcode is set (not enrolled).
    pub fn reserve_passcode_attempt(&self, now: i64) -> Result<Option<(Gate, Option<PasscodeRow>)>> {
        let mut c = self.conn();
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let reserved: Option<(i64, Vec<u8>, Vec<u8>)> = tx
            .query_row(
                "UPDATE passcode SET failed = failed + 1 \
                 WHERE id = 1 AND failed < ?1 AND (locked_until IS NULL OR locked_until <= ?2) \
                 RETURNING failed, salt, verifier",
                params![passcode::WIPE_AFTER as i64, now],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let out = match reserved {
            Some((failed, salt, verifier)) => {
                let failed = failed as u32;
                let delay = passcode::lockout_secs(failed);
                // The lock that applies if this attempt fails, committed with the count.
                let locked_until = (delay > 0).then_some(now + delay as i64);
                tx.execute("UPDATE passcode SET locked_until = ?1 WHERE id = 1", params![locked_until])?;
                let row = PasscodeRow { salt, verifier, failed, locked_until };
                Some((Gate::Proceed { failed, locked_until }, Some(row)))
            }
            None => {
                // Not reserved: locked, at the wipe threshold, or no passcode at all.
                let state: Option<(i64, Option<i64>)> = tx
                    .query_row("SELECT failed, locked_until FROM passcode WHERE id = 1", [], |r| {
                        Ok((r.get(0)?, r.get(1)?))
                    })
                    .optional()?;
                state.map(|(failed, locked_until)| (passcode::gate(failed as u32, locked_until, now), None))
            }
        };
        tx.commit()?;
        Ok(out)
    }

    /// A correct passcode for the attempt that reserved `reserved`: the failures up to and
    /// including that reservation are cleared; failures reserved after it (only possible if
    /// attempts overlapped) are kept, as is their lock.
    pub fn passcode_succeeded(&self, reserved: u32) -> Result<()> {
        self.conn().execute(
            "UPDATE passcode SET \
               locked_until = CASE WHEN failed <= ?1 THEN NULL ELSE locked_until END, \
               failed = MAX(failed - ?1, 0) \
             WHERE id = 1",
            params![reserved as i64],
        )?;
        Ok(())
    }

    /// Replace the verifier and clear failures.
    pub fn set_passcode(&self, row: &PasscodeRow) -> Result<()> {
        self.conn().execute(
            "UPDATE passcode SET salt = ?1, verifier = ?2, failed = 0, locked_until = NULL WHERE id = 1",
            params![row.salt, row.verifier],
        )?;
        Ok(())
    }

    // ---- session -------------------------------------------------------------------------

    /// The stored session.
    pub fn session(&self) -> Result<Option<SessionRow>> {
        let row: Option<(String, Vec<u8>, i64, i64, i64)> = self
            .conn()
            .query_row(
                "SELECT session_id, tokens, access_expires_at, idle_expires_at, absolute_expires_at \
                 FROM session WHERE id = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .optional()?;
        row.map(|(session_id, sealed, access_expires_at, idle_expires_at, absolute_expires_at)| {
            Ok(SessionRow {
                session_id,
                tokens: self.open_json("session.tokens", &sealed)?,
                access_expires_at,
                idle_expires_at,
                absolute_expires_at,
            })
        })
        .transpose()
    }

    /// Store (replace) the session.
    pub fn save_session(&self, s: &SessionRow) -> Result<()> {
        let sealed = self.seal_json("session.tokens", &s.tokens)?;
        self.conn().execute(
            "INSERT OR REPLACE INTO session (id, session_id, tokens, access_expires_at, idle_expires_at, \
             absolute_expires_at) VALUES (1, ?1, ?2, ?3, ?4, ?5)",
            params![s.session_id, sealed, s.access_expires_at, s.idle_expires_at, s.absolute_expires_at],
        )?;
        Ok(())
    }

    /// Forget the session.
    pub fn clear_session(&self) -> Result<()> {
        self.conn().execute("DELETE FROM session", [])?;
        Ok(())
    }

    // ---- pending operations (enrollment, passcode reset) ---------------------------------

    /// Store a pending operation of `kind` with a sealed payload.
    pub fn put_pending<T: Serialize>(&self, kind: &str, reference: &str, expires_at: i64, payload: &T) -> Result<()> {
        let sealed = self.seal_json(&format!("pending.{kind}"), payload)?;
        self.conn().execute(
            "INSERT OR REPLACE INTO pending (kind, reference, expires_at, payload) VALUES (?1, ?2, ?3, ?4)",
            params![kind, reference, expires_at, sealed],
        )?;
        Ok(())
    }

    /// A pending operation: (reference, expires_at, payload).
    pub fn pending<T: DeserializeOwned>(&self, kind: &str) -> Result<Option<(String, i64, T)>> {
        let row: Option<(String, i64, Vec<u8>)> = self
            .conn()
            .query_row("SELECT reference, expires_at, payload FROM pending WHERE kind = ?1", params![kind], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()?;
        row.map(|(reference, exp, sealed)| Ok((reference, exp, self.open_json(&format!("pending.{kind}"), &sealed)?)))
            .transpose()
    }

    /// Drop a pending operation.
    pub fn delete_pending(&self, kind: &str) -> Result<()> {
        self.conn().execute("DELETE FROM pending WHERE kind = ?1", params![kind])?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::software::MemoryKeyWrapper;

    fn open(dir: &Path, w: &Arc<dyn DataKeyWrapper>) -> Store {
        Store::open(dir, w).unwrap()
    }

    fn account() -> AccountRow {
        AccountRow {
            account_id: "acc".into(),
            device_id: "dev".into(),
            key_alias: "alias".into(),
            public_key: vec![4; 65],
            hardware_backed: false,
            counter: 1,
            enrolled_at: 1,
            inactive_status: None,
        }
    }

    #[test]
    fn pragmas_are_durable_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let w: Arc<dyn DataKeyWrapper> = Arc::new(MemoryKeyWrapper::new());
        let s = open(dir.path(), &w);
        assert_eq!(s.pragmas().unwrap(), ("wal".to_string(), 2, 1, 2));
        let v: i64 = s.conn().query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        assert_eq!(v as usize, MIGRATIONS.len());
    }

    #[test]
    fn identity_and_tokens_are_sealed_and_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let w: Arc<dyn DataKeyWrapper> = Arc::new(MemoryKeyWrapper::new());
        {
            let s = open(dir.path(), &w);
            let id = Identity {
                cccd: "001090000001".into(),
                date_of_birth: "1990-01-15".into(),
                phone: "+84900000001".into(),
            };
            s.save_enrollment(
                &account(),
                &id,
                &PasscodeRow { salt: vec![1], verifier: vec![2], failed: 0, locked_until: None },
            )
            .unwrap();
            s.save_session(&SessionRow {
                session_id: "sid".into(),
                tokens: Tokens { access_token: "ACCESS-CANARY".into(), refresh_token: "REFRESH-CANARY".into() },
                access_expires_at: 1,
                idle_expires_at: 2,
                absolute_expires_at: 3,
            })
            .unwrap();
            assert_eq!(s.next_counter().unwrap(), 2);
            assert_eq!(s.next_counter().unwrap(), 3);
        }
        let s = open(dir.path(), &w);
        assert_eq!(s.identity().unwrap().unwrap().cccd, "001090000001");
        assert_eq!(s.session().unwrap().unwrap().tokens.refresh_token, "REFRESH-CANARY");
        assert_eq!(s.account().unwrap().unwrap().counter, 3);
        drop(s);
        let mut all = vec![];
        for e in std::fs::read_dir(dir.path()).unwrap() {
            all.extend(std::fs::read(e.unwrap().path()).unwrap());
        }
        for canary in ["001090000001", "+84900000001", "ACCESS-CANARY", "REFRESH-CANARY"] {
            assert!(!all.windows(canary.len()).any(|w| w == canary.as_bytes()), "{canary} found in clear");
        }
    }

    #[test]
    fn a_different_wrapper_cannot_open_the_data_key_and_nothing_is_lost() {
        let dir = tempfile::tempdir().unwrap();
        let w: Arc<dyn DataKeyWrapper> = Arc::new(MemoryKeyWrapper::new());
        let s = open(dir.path(), &w);
        s.save_enrollment(
            &account(),
            &Identity { cccd: "x".into(), date_of_birth: "y".into(), phone: "z".into() },
            &PasscodeRow { salt: vec![1], verifier: vec![2], failed: 0, locked_until: None },
        )
        .unwrap();
        drop(s);
        let other: Arc<dyn DataKeyWrapper> = Arc::new(MemoryKeyWrapper::new());
        assert!(matches!(Store::open(dir.path(), &other), Err(Error::Domain(Msg::DataKeyUnavailable))));
        // The original wrapper still opens everything.
        assert!(open(dir.path(), &w).identity().unwrap().is_some());
    }

    #[cfg(unix)]
    #[test]
    fn data_directory_is_0700_and_database_files_0600() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let w: Arc<dyn DataKeyWrapper> = Arc::new(MemoryKeyWrapper::new());
        let s = open(&data, &w);
        s.save_enrollment(
            &account(),
            &Identity { cccd: "x".into(), date_of_birth: "y".into(), phone: "z".into() },
            &PasscodeRow { salt: vec![1], verifier: vec![2], failed: 0, locked_until: None },
        )
        .unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&data), 0o700, "data directory");
        let mut files = 0;
        for e in std::fs::read_dir(&data).unwrap() {
            let p = e.unwrap().path();
            assert_eq!(mode(&p), 0o600, "{}", p.display());
            files += 1;
        }
        assert!(files >= 3, "db, -wal and -shm expected");
    }

    #[test]
    fn passcode_reservations_are_atomic_and_a_success_keeps_later_failures() {
        let dir = tempfile::tempdir().unwrap();
        let w: Arc<dyn DataKeyWrapper> = Arc::new(MemoryKeyWrapper::new());
        let s = open(dir.path(), &w);
        assert!(s.reserve_passcode_attempt(0).unwrap().is_none(), "no passcode: not enrolled");
        s.save_enrollment(
            &account(),
            &Identity { cccd: "x".into(), date_of_birth: "y".into(), phone: "z".into() },
            &PasscodeRow { salt: vec![1], verifier: vec![2], failed: 0, locked_until: None },
        )
        .unwrap();
        let failed = |g: Option<(Gate, Option<PasscodeRow>)>| match g.unwrap() {
            (Gate::Proceed { failed, .. }, Some(row)) => {
                assert_eq!((row.failed, row.verifier), (failed, vec![2]));
                failed
            }
            other => panic!("{other:?}"),
        };
        // Two overlapping attempts (as from two processes) get distinct counts; the first one's
        // success clears its own reservation and what came before, not the later failure.
        assert_eq!(failed(s.reserve_passcode_attempt(0).unwrap()), 1);
        assert_eq!(failed(s.reserve_passcode_attempt(0).unwrap()), 2);
        s.passcode_succeeded(1).unwrap();
        assert_eq!(s.passcode().unwrap().unwrap().failed, 1);
        s.passcode_succeeded(2).unwrap();
        assert_eq!(s.passcode().unwrap().unwrap().failed, 0);
        // The fifth reservation commits the lock with the count; the next attempt is refused
        // without being counted, and after the wipe threshold nothing proceeds.
        for n in 1..=passcode::FREE_ATTEMPTS {
            assert_eq!(failed(s.reserve_passcode_attempt(100).unwrap()), n);
        }
        assert_eq!(s.passcode().unwrap().unwrap().locked_until, Some(160));
        assert!(matches!(s.reserve_passcode_attempt(159).unwrap(), Some((Gate::Locked(1), None))));
        assert_eq!(s.passcode().unwrap().unwrap().failed, passcode::FREE_ATTEMPTS);
        s.conn().execute("UPDATE passcode SET failed = ?1, locked_until = NULL", [passcode::WIPE_AFTER]).unwrap();
        assert!(matches!(s.reserve_passcode_attempt(10_000).unwrap(), Some((Gate::Wipe, None))));
    }

    #[test]
    fn counter_needs_an_account() {
        let dir = tempfile::tempdir().unwrap();
        let w: Arc<dyn DataKeyWrapper> = Arc::new(MemoryKeyWrapper::new());
        assert!(matches!(open(dir.path(), &w).next_counter(), Err(Error::Domain(Msg::NotEnrolled))));
    }
}
