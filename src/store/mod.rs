//! Local storage: one SQLite database, sensitive fields sealed per field.
//!
//! * Pragmas: WAL with `synchronous=FULL` (a commit survives power loss, not only an app kill),
//!   `secure_delete` (deleted secrets are overwritten, not left in free pages), `temp_store=MEMORY`
//!   (no temp files; Android has no usable temp dir), foreign keys on.
//! * Schema migrations are keyed by `PRAGMA user_version` and run in one transaction each; each
//!   version is a `.sql` file under `src/store/schema/` (`migrations.rs` explains how to add one).
//!   A database of a newer version is refused untouched (`storage.schema_newer`).
//! * State columns are typed (`rows.rs`): Rust enums with `ToSql`/`FromSql`, so the SQL binds
//!   them instead of repeating string literals, and an unknown stored value is a storage error.
//! * The 32-byte data key is generated once, stored only wrapped by the platform
//!   [`DataKeyWrapper`], and unwrapped into a zeroizing [`SecretKey`] at open. Personal data and
//!   tokens are sealed with AES-256-GCM; the associated data names the column, so a sealed
//!   value cannot be moved to another column.
//! * Counters and passcode failures are committed *before* the operation they guard, so a kill
//!   can never hand out a counter twice or forget a failed attempt.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::config::DbConfig;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

use crate::account::passcode::{self, Gate};
use crate::crypto::SecretKey;
use crate::error::{Error, Msg, Result};
use crate::platform::{DataKeyWrapper, KeyWrapError};

mod bookkeeping;
#[cfg(any(test, feature = "test-support"))]
pub mod fixtures;
mod migrations;
pub(crate) mod rows;

pub(crate) use bookkeeping::{BookkeepingKey, PendingActivity};
#[cfg(any(test, feature = "test-support"))]
use migrations::MIGRATIONS;
#[cfg(feature = "test-support")]
pub use migrations::PAUSE_IN_MIGRATION_ENV;
pub use migrations::{CURRENT_VERSION, SCHEMA_INTEGRITY};
use rows::{PendingKind, PendingRow};

/// File name of the database inside the data directory.
pub const DB_FILE: &str = "citizen-core.db";
/// Alias of the platform key that wraps the data key.
pub const DATA_KEY_ALIAS: &str = "citizen-core.data-key.v1";

/// What the device has stored that a later deletion of rows must not hide (sealed in the
/// account row, label [`MARKS_LABEL`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct IntegrityMarks {
    /// Highest anchor stored (0 = none).
    pub(crate) anchor_seq: u64,
    /// Its hash.
    pub(crate) anchor_hash: String,
    /// Last chained receipt stored (0 = none).
    pub(crate) receipt_seq: u64,
    /// Its digest.
    pub(crate) receipt_digest: String,
    /// The device's signed head of the receipt chain (`receipts:<seq>:<digest>`).
    pub(crate) receipt_head: Option<crate::protocol::SignedStatement>,
    /// The marks were found missing or damaged once: kept so the problem stays reported.
    #[serde(default)]
    pub(crate) damaged: bool,
}

/// Associated data of the sealed marks.
const MARKS_LABEL: &str = "account.integrity";

/// Outbox hold reason of a remote lock (`account.outbox_hold`, v9, issue 15).
pub(crate) const OUTBOX_HOLD_LOCKED: &str = "device_locked";
/// Outbox hold reason of a device key rotated after invalidation (`account.outbox_hold`, v9).
pub(crate) const OUTBOX_HOLD_KEY_ROTATED: &str = "key_rotated";

/// Tables whose rows are bound to one enrollment's device key (signed by it, or naming it).
pub(crate) const KEY_BOUND_TABLES: [&str; 8] = [
    "activity_log",
    "activity_anchors",
    "activity_pending",
    "consent_receipts",
    "credentials",
    "qr_pending",
    "documents",
    "dependant_documents",
];

/// The enrolled account as stored.
#[derive(Clone, Debug)]
pub(crate) struct AccountRow {
    /// Server account id (opaque).
    pub(crate) account_id: String,
    /// This device's id.
    pub(crate) device_id: String,
    /// Alias of the device key in the platform key store.
    pub(crate) key_alias: String,
    /// SEC1 public key of the device key (verifies every signature before it is sent).
    pub(crate) public_key: Vec<u8>,
    /// Key store's claim.
    pub(crate) hardware_backed: bool,
    /// Last counter handed out.
    pub(crate) counter: u64,
    /// Unix seconds.
    pub(crate) enrolled_at: i64,
    /// `replaced`, `transferred`, `revoked` once the server says so.
    pub(crate) inactive_status: Option<String>,
}

/// The citizen's identity as entered at enrollment (sealed at rest).
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct Identity {
    /// CCCD number.
    pub(crate) cccd: String,
    /// `YYYY-MM-DD`.
    pub(crate) date_of_birth: String,
    /// E.164.
    pub(crate) phone: String,
}

impl Drop for Identity {
    fn drop(&mut self) {
        self.cccd.zeroize();
        self.date_of_birth.zeroize();
        self.phone.zeroize();
    }
}

/// A counter the store hands out (both committed before the signature using them is made).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CounterKind {
    /// `account.counter`: every statement the device key or the bookkeeping key signs.
    Device,
    /// `account.submit_counter`: submissions (their outbox order).
    Submit,
}

/// A reserved passcode attempt: the gate, the verifier to compare against when it proceeds,
/// and the counter value reserved with it ([`Store::reserve_passcode_attempt_with`]).
pub(crate) type PasscodeAttempt = (Gate, Option<PasscodeRow>, Option<u64>);

/// Passcode verifier state.
#[derive(Clone, Debug)]
pub(crate) struct PasscodeRow {
    /// Random salt.
    pub(crate) salt: Vec<u8>,
    /// HMAC verifier.
    pub(crate) verifier: Vec<u8>,
    /// Consecutive failures.
    pub(crate) failed: u32,
    /// Unix seconds.
    pub(crate) locked_until: Option<i64>,
}

/// Session tokens (sealed at rest, zeroized in memory).
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct Tokens {
    /// Bearer token.
    pub(crate) access_token: String,
    /// Rotating refresh token.
    pub(crate) refresh_token: String,
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
pub(crate) struct SessionRow {
    /// Session (token family) id.
    pub(crate) session_id: String,
    /// Tokens.
    pub(crate) tokens: Tokens,
    /// Unix seconds.
    pub(crate) access_expires_at: i64,
    /// Unix seconds.
    pub(crate) idle_expires_at: i64,
    /// Unix seconds.
    pub(crate) absolute_expires_at: i64,
}

/// Locked (retry later) or lost (re-enroll): what an unwrap failure means for the citizen. Only
/// a wrapper that says the key is gone or the blob does not open makes it "lost"; "locked" and
/// any unexplained failure keep the data and ask to retry, so a shell never offers to erase an
/// account because the phone was locked (issue 11, item 8).
fn data_key_error(e: &KeyWrapError) -> Error {
    match e {
        KeyWrapError::KeyUnavailable { .. } | KeyWrapError::UnwrapFailed { .. } => Error::DataKeyLost,
        KeyWrapError::TemporarilyUnavailable { .. } | KeyWrapError::Failure { .. } => Error::DataKeyLocked,
    }
}

/// Commits of the store since it was opened (feature `test-support`): every write transaction,
/// and those of them that waited for `fsync` (`synchronous=FULL`). Tests assert these counts per
/// operation (decision on grouped commits in ARCHITECTURE.md).
#[cfg(feature = "test-support")]
#[derive(Debug, Default)]
pub struct CommitCounts {
    /// Write transactions committed.
    pub commits: std::sync::atomic::AtomicU64,
    /// Of those, the ones committed with `synchronous=FULL` (one `fsync` of the WAL each).
    pub synced: std::sync::atomic::AtomicU64,
}

/// The database plus the unwrapped data key.
pub(crate) struct Store {
    conn: Mutex<Connection>,
    data_key: SecretKey,
    path: PathBuf,
    /// Set while [`Store::unsynced`] runs (read by the commit counter of the tests).
    #[cfg(feature = "test-support")]
    unsynced: Arc<std::sync::atomic::AtomicBool>,
    #[cfg(feature = "test-support")]
    commits: Arc<CommitCounts>,
}

impl Store {
    /// Open (creating if needed) the database in `dir` and unwrap the data key.
    pub(crate) fn open(dir: &Path, wrapper: &Arc<dyn DataKeyWrapper>) -> Result<Store> {
        crate::datadir::create_private_dir(dir)
            .map_err(|e| Error::Storage(format!("create data dir: {}", e.kind())))?;
        let path = dir.join(DB_FILE);
        // A newer app's database is refused before anything (even SQLite) touches the file.
        migrations::refuse_newer_file(&path)?;
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
        // Checked again through SQLite (a `-wal` file a newer app left can hold a newer header),
        // before the journal mode is set: that pragma writes. Until the version is known good the
        // connection must not checkpoint on close, or a refusal would fold the newer app's WAL
        // into the database.
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)?;
        migrations::check_version(&conn)?;
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, false)?;
        Self::configure(&conn)?;
        migrations::migrate(&mut conn)?;
        let data_key = Self::load_data_key(&conn, wrapper)?;
        migrations::migrate_keyed(&mut conn, &data_key)?;
        migrations::migrate_late(&mut conn)?;
        let store = Store {
            conn: Mutex::new(conn),
            data_key,
            path,
            #[cfg(feature = "test-support")]
            unsynced: Arc::default(),
            #[cfg(feature = "test-support")]
            commits: Arc::default(),
        };
        #[cfg(feature = "test-support")]
        {
            use std::sync::atomic::Ordering::Relaxed;
            let (counts, unsynced) = (store.commits.clone(), store.unsynced.clone());
            store.conn().commit_hook(Some(move || {
                counts.commits.fetch_add(1, Relaxed);
                if !unsynced.load(Relaxed) {
                    counts.synced.fetch_add(1, Relaxed);
                }
                false
            }));
        }
        store.seal_v4_service_rows()?;
        Ok(store)
    }

    /// The commit counts since open (feature `test-support`).
    #[cfg(feature = "test-support")]
    pub(crate) fn commit_counts(&self) -> Arc<CommitCounts> {
        self.commits.clone()
    }

    /// Run `f` on the connection with `synchronous=NORMAL`: what it commits is atomic and survives
    /// a kill of the app (the WAL is written before the commit returns), but is not `fsync`ed; the
    /// next `synchronous=FULL` commit makes it durable against power loss too, because WAL frames
    /// are synced and replayed in order (a later commit is never durable without the earlier
    /// ones). For writes that carry nothing off the phone and acknowledge nothing: a counter
    /// reservation whose only carrier is a row committed `FULL` after it, the `sending` mark of an
    /// outbox item (a lost mark resends with the same idempotency key). Every other write keeps
    /// `synchronous=FULL` (ARCHITECTURE.md, decision on grouped commits).
    pub(crate) fn unsynced<T>(&self, f: impl FnOnce(&mut Connection) -> Result<T>) -> Result<T> {
        let mut c = self.conn();
        c.execute_batch("PRAGMA synchronous=NORMAL;")?;
        #[cfg(feature = "test-support")]
        self.unsynced.store(true, std::sync::atomic::Ordering::Relaxed);
        let out = f(&mut c);
        #[cfg(feature = "test-support")]
        self.unsynced.store(false, std::sync::atomic::Ordering::Relaxed);
        // Back to FULL before the lock is released, even when `f` failed.
        c.execute_batch("PRAGMA synchronous=FULL;")?;
        out
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

    fn load_data_key(conn: &Connection, wrapper: &Arc<dyn DataKeyWrapper>) -> Result<SecretKey> {
        let wrapped: Option<Vec<u8>> =
            conn.query_row("SELECT value FROM meta WHERE name = 'wrapped_data_key'", [], |r| r.get(0)).optional()?;
        match wrapped {
            Some(w) => {
                let raw = Zeroizing::new(wrapper.unwrap(DATA_KEY_ALIAS.to_string(), w).map_err(|e| {
                    tracing::warn!(error = %e, "data key unwrap failed");
                    data_key_error(&e)
                })?);
                SecretKey::from_slice(&raw).ok_or(Error::DataKeyLost)
            }
            None => {
                let key = SecretKey::generate();
                let w = wrapper.wrap(DATA_KEY_ALIAS.to_string(), key.expose().to_vec()).map_err(|e| match e {
                    KeyWrapError::TemporarilyUnavailable { .. } => Error::DataKeyLocked,
                    e => Error::Crypto(format!("wrap data key: {e}")),
                })?;
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
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// A sub-key of the data key for a named purpose (e.g. the passcode verifier).
    pub(crate) fn derive_key(&self, info: &str) -> SecretKey {
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
    #[cfg(test)]
    pub(crate) fn pragmas(&self) -> Result<(String, i64, i64, i64)> {
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
    pub(crate) fn account(&self) -> Result<Option<AccountRow>> {
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
                        counter: r.get(5)?,
                        enrolled_at: r.get(6)?,
                        inactive_status: r.get(7)?,
                    })
                },
            )
            .optional()?)
    }

    /// The identity entered at enrollment.
    pub(crate) fn identity(&self) -> Result<Option<Identity>> {
        let sealed: Option<Vec<u8>> =
            self.conn().query_row("SELECT identity FROM account WHERE id = 1", [], |r| r.get(0)).optional()?;
        sealed.map(|s| self.open_json("account.identity", &s)).transpose()
    }

    /// Store a new enrollment: account, identity and passcode verifier in one transaction, and
    /// drop any pending enrollment and old session. Everything bound to a previous enrollment's
    /// device key goes too ([`KEY_BOUND_TABLES`]): its key is deleted, so its log could never be
    /// extended or verified against the new key, and its receipts and credential name a device
    /// that is no longer this one.
    pub(crate) fn save_enrollment(
        &self,
        account: &AccountRow,
        identity: &Identity,
        passcode: &PasscodeRow,
    ) -> Result<()> {
        let identity = self.seal_json("account.identity", identity)?;
        let marks = self.seal_json(MARKS_LABEL, &IntegrityMarks::default())?;
        let mut c = self.conn();
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute("DELETE FROM account", [])?;
        tx.execute("DELETE FROM session", [])?;
        tx.execute("DELETE FROM pending", [])?;
        for t in KEY_BOUND_TABLES {
            tx.execute(&format!("DELETE FROM {t}"), [])?;
        }
        tx.execute(
            "INSERT INTO account (id, account_id, device_id, key_alias, public_key, hardware_backed, counter, \
             enrolled_at, inactive_status, identity, integrity) VALUES (1, ?1, ?2, ?3, ?8, ?4, ?5, ?6, NULL, ?7, ?9)",
            params![
                account.account_id,
                account.device_id,
                account.key_alias,
                account.hardware_backed,
                account.counter,
                account.enrolled_at,
                identity,
                account.public_key,
                marks
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
    pub(crate) fn next_counter(&self) -> Result<u64> {
        let c = self.conn();
        let v: u64 = c
            .query_row("UPDATE account SET counter = counter + 1 WHERE id = 1 RETURNING counter", [], |r| r.get(0))
            .optional()?
            .ok_or(Error::Domain(Msg::NotEnrolled))?;
        Ok(v)
    }

    /// [`Store::next_counter`] without waiting for `fsync` ([`Store::unsynced`]): only for a
    /// signature whose sole carrier is a row committed with `synchronous=FULL` afterwards (an
    /// activity entry), so the counter is durable whenever anything signed with it is.
    pub(crate) fn next_counter_unsynced(&self) -> Result<u64> {
        self.unsynced(|c| {
            let v: u64 = c
                .query_row("UPDATE account SET counter = counter + 1 WHERE id = 1 RETURNING counter", [], |r| r.get(0))
                .optional()?
                .ok_or(Error::Domain(Msg::NotEnrolled))?;
            Ok(v)
        })
    }

    /// Record that the server no longer accepts this device; drops the session. A remote lock
    /// (`locked`, issue 15) also holds the outbox: its items stay, and are delivered after the
    /// device is re-bound only once the citizen confirms ([`Store::set_outbox_hold`]).
    pub(crate) fn mark_inactive(&self, status: &str) -> Result<()> {
        let mut c = self.conn();
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute("UPDATE account SET inactive_status = ?1 WHERE id = 1", params![status])?;
        if status == "locked" {
            tx.execute("UPDATE account SET outbox_hold = ?1 WHERE id = 1", params![OUTBOX_HOLD_LOCKED])?;
        }
        tx.execute("DELETE FROM session", [])?;
        tx.commit()?;
        Ok(())
    }

    /// The server accepts this device again (a remote lock was lifted): clear the local
    /// inactive status if it was `locked`. The outbox hold stays until the citizen decides.
    /// Returns whether a lock was cleared.
    pub(crate) fn clear_lock(&self) -> Result<bool> {
        let n = self
            .conn()
            .execute("UPDATE account SET inactive_status = NULL WHERE id = 1 AND inactive_status = 'locked'", [])?;
        Ok(n == 1)
    }

    /// The device key was re-bound (issue 15): the account row names the new key, and queued
    /// requests (signed with the old one) are held for the citizen's decision — one
    /// transaction. Returns how many are held.
    pub(crate) fn rotate_device_key(&self, alias: &str, public_key: &[u8]) -> Result<u32> {
        let mut c = self.conn();
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute("UPDATE account SET key_alias = ?1, public_key = ?2 WHERE id = 1", params![alias, public_key])?;
        let held: u32 = tx.query_row(
            "SELECT COUNT(*) FROM outbox WHERE state IN (?1, ?2)",
            params![rows::OutboxState::Queued, rows::OutboxState::Sending],
            |r| r.get(0),
        )?;
        if held > 0 {
            tx.execute(
                "UPDATE account SET outbox_hold = ?1 WHERE id = 1 AND outbox_hold IS NULL",
                params![OUTBOX_HOLD_KEY_ROTATED],
            )?;
        }
        tx.commit()?;
        Ok(held)
    }

    /// Why the outbox waits for the citizen (`device_locked`, `key_rotated`), if it does.
    pub(crate) fn outbox_hold(&self) -> Result<Option<String>> {
        Ok(self
            .conn()
            .query_row("SELECT outbox_hold FROM account WHERE id = 1", [], |r| r.get::<_, Option<String>>(0))
            .optional()?
            .flatten())
    }

    /// Set (or with `None` lift) the outbox hold.
    pub(crate) fn set_outbox_hold(&self, reason: Option<&str>) -> Result<()> {
        self.conn().execute("UPDATE account SET outbox_hold = ?1 WHERE id = 1", params![reason])?;
        Ok(())
    }

    /// Erase the account, passcode, session, pending operations, everything personal of the
    /// services (profile, drafts, outbox, cases) and everything bound to the device key
    /// ([`KEY_BOUND_TABLES`]: the activity log and its anchors, consent receipts, the credential,
    /// pending login requests). The data key, the public catalogue, the RP registry and the
    /// server's public keys stay.
    ///
    /// Why the activity log goes: a wipe deletes the device key, so the entries can neither be
    /// extended nor checked against the next enrollment's key (they would read as tampering
    /// forever), and a wipe after ten wrong passcodes means someone else may hold the phone: the
    /// log (procedures, case numbers, relying parties) must not stay readable to them. The server
    /// keeps its anchors of the old device, and its receipts and audit trail, for the citizen.
    pub(crate) fn wipe_account(&self) -> Result<()> {
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
        ]
        .into_iter()
        .chain(KEY_BOUND_TABLES)
        {
            tx.execute(&format!("DELETE FROM {t}"), [])?;
        }
        tx.commit()?;
        drop(c);
        // Move the erased pages out of the WAL as well.
        let _ = self.conn().execute_batch("PRAGMA wal_checkpoint(TRUNCATE);");
        Ok(())
    }

    // ---- integrity marks -------------------------------------------------------------------

    /// The sealed marks: `Ok(None)` without an account; `Some(marks)` with `damaged` set when the
    /// marks are missing or do not open (rows were edited).
    pub(crate) fn integrity_marks(&self) -> Result<Option<IntegrityMarks>> {
        let row: Option<Option<Vec<u8>>> =
            self.conn().query_row("SELECT integrity FROM account WHERE id = 1", [], |r| r.get(0)).optional()?;
        Ok(row.map(|sealed| Self::open_marks(&self.data_key, sealed.as_deref())))
    }

    fn open_marks(key: &SecretKey, sealed: Option<&[u8]>) -> IntegrityMarks {
        sealed
            .and_then(|s| key.open(MARKS_LABEL.as_bytes(), s))
            .and_then(|plain| serde_json::from_slice(&plain).ok())
            .unwrap_or(IntegrityMarks { damaged: true, ..Default::default() })
    }

    /// Read, change and write the marks inside `tx` (the caller's row change commits with them).
    pub(crate) fn update_marks(
        &self,
        tx: &rusqlite::Transaction<'_>,
        f: impl FnOnce(&mut IntegrityMarks),
    ) -> Result<()> {
        let sealed: Option<Vec<u8>> = tx
            .query_row("SELECT integrity FROM account WHERE id = 1", [], |r| r.get(0))
            .optional()?
            .ok_or(Error::Domain(Msg::NotEnrolled))?;
        let mut m = Self::open_marks(&self.data_key, sealed.as_deref());
        f(&mut m);
        let json = Zeroizing::new(serde_json::to_vec(&m).map_err(|e| Error::Storage(e.to_string()))?);
        tx.execute(
            "UPDATE account SET integrity = ?1 WHERE id = 1",
            params![self.data_key.seal(MARKS_LABEL.as_bytes(), &json)],
        )?;
        Ok(())
    }

    // ---- passcode ------------------------------------------------------------------------

    /// Passcode state.
    pub(crate) fn passcode(&self) -> Result<Option<PasscodeRow>> {
        Ok(self
            .conn()
            .query_row("SELECT salt, verifier, failed, locked_until FROM passcode WHERE id = 1", [], |r| {
                Ok(PasscodeRow { salt: r.get(0)?, verifier: r.get(1)?, failed: r.get(2)?, locked_until: r.get(3)? })
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
    ///
    /// When the attempt proceeds to a comparison and `counter` is given, the next value of that counter reserved in the same fsync'd commit
    /// (decision 46): the operation the passcode unlocks signs with it, so it is durable before
    /// the comparison, let alone the signature. A wrong passcode leaves a gap in the counter,
    /// as a failed challenge does.
    pub(crate) fn reserve_passcode_attempt_with(
        &self,
        now: i64,
        counter: Option<CounterKind>,
    ) -> Result<Option<PasscodeAttempt>> {
        let mut c = self.conn();
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut reserved_counter = None;
        let reserved: Option<(u32, Vec<u8>, Vec<u8>)> = tx
            .query_row(
                "UPDATE passcode SET failed = failed + 1 \
                 WHERE id = 1 AND failed < ?1 AND (locked_until IS NULL OR locked_until <= ?2) \
                 RETURNING failed, salt, verifier",
                params![passcode::WIPE_AFTER, now],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let out = match reserved {
            Some((failed, salt, verifier)) => {
                let delay = passcode::lockout_secs(failed);
                // The lock that applies if this attempt fails, committed with the count.
                let locked_until = (delay > 0).then_some(now.saturating_add(i64::try_from(delay).unwrap_or(i64::MAX)));
                tx.execute("UPDATE passcode SET locked_until = ?1 WHERE id = 1", params![locked_until])?;
                if let Some(kind) = counter {
                    reserved_counter = Some(Self::reserve_counter_in(&tx, kind)?);
                }
                let row = PasscodeRow { salt, verifier, failed, locked_until };
                Some((Gate::Proceed { failed, locked_until }, Some(row)))
            }
            None => {
                // Not reserved: locked, at the wipe threshold, or no passcode at all.
                let state: Option<(u32, Option<i64>)> = tx
                    .query_row("SELECT failed, locked_until FROM passcode WHERE id = 1", [], |r| {
                        Ok((r.get(0)?, r.get(1)?))
                    })
                    .optional()?;
                state.map(|(failed, locked_until)| (passcode::gate(failed, locked_until, now), None))
            }
        };
        tx.commit()?;
        Ok(out.map(|(gate, row)| (gate, row, reserved_counter)))
    }

    /// [`Store::reserve_passcode_attempt_with`] without a counter.
    #[cfg(test)]
    pub(crate) fn reserve_passcode_attempt(&self, now: i64) -> Result<Option<(Gate, Option<PasscodeRow>)>> {
        Ok(self.reserve_passcode_attempt_with(now, None)?.map(|(gate, row, _)| (gate, row)))
    }

    /// The next value of counter `kind`, inside the caller's transaction.
    fn reserve_counter_in(tx: &rusqlite::Transaction<'_>, kind: CounterKind) -> Result<u64> {
        let sql = match kind {
            CounterKind::Device => "UPDATE account SET counter = counter + 1 WHERE id = 1 RETURNING counter",
            CounterKind::Submit => {
                "UPDATE account SET submit_counter = submit_counter + 1 WHERE id = 1 RETURNING submit_counter"
            }
        };
        tx.query_row(sql, [], |r| r.get(0)).optional()?.ok_or(Error::Domain(Msg::NotEnrolled))
    }

    /// A correct passcode whose attempt reserved the counter of the operation it unlocks
    /// ([`Store::reserve_passcode_attempt_with`]): the failures are cleared as by
    /// [`Store::passcode_succeeded`], without waiting for `fsync` ([`Store::unsynced`]). Only
    /// for a caller that commits with `synchronous=FULL` before it returns (the login's signed
    /// activity entry, the enqueued request), which makes this commit durable with it (WAL
    /// order). A power loss before that forgets the success, never a failure: the attempt then
    /// counts as failed, the safe side.
    pub(crate) fn passcode_succeeded_unsynced(&self, reserved: u32) -> Result<()> {
        self.unsynced(|c| {
            c.execute(
                "UPDATE passcode SET \
                   locked_until = CASE WHEN failed <= ?1 THEN NULL ELSE locked_until END, \
                   failed = MAX(failed - ?1, 0) \
                 WHERE id = 1",
                params![i64::from(reserved)],
            )?;
            Ok(())
        })
    }

    /// Make every commit so far durable (a WAL checkpoint, which syncs the WAL first): for a
    /// caller that committed under [`Store::unsynced`] and then could not make the
    /// `synchronous=FULL` commit it counted on.
    pub(crate) fn sync(&self) -> Result<()> {
        self.conn().query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
        Ok(())
    }

    /// A correct passcode for the attempt that reserved `reserved`: the failures up to and
    /// including that reservation are cleared; failures reserved after it (only possible if
    /// attempts overlapped) are kept, as is their lock.
    ///
    /// With `counter`, the next value of that counter is reserved in the same transaction and
    /// returned (one commit instead of two: the operation the passcode unlocked signs with it).
    pub(crate) fn passcode_succeeded(&self, reserved: u32, counter: Option<CounterKind>) -> Result<Option<u64>> {
        let mut c = self.conn();
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "UPDATE passcode SET \
               locked_until = CASE WHEN failed <= ?1 THEN NULL ELSE locked_until END, \
               failed = MAX(failed - ?1, 0) \
             WHERE id = 1",
            params![i64::from(reserved)],
        )?;
        let value = counter.map(|kind| Self::reserve_counter_in(&tx, kind)).transpose()?;
        tx.commit()?;
        Ok(value)
    }

    /// Replace the verifier and clear failures.
    pub(crate) fn set_passcode(&self, row: &PasscodeRow) -> Result<()> {
        self.conn().execute(
            "UPDATE passcode SET salt = ?1, verifier = ?2, failed = 0, locked_until = NULL WHERE id = 1",
            params![row.salt, row.verifier],
        )?;
        Ok(())
    }

    // ---- session -------------------------------------------------------------------------

    /// The stored session.
    pub(crate) fn session(&self) -> Result<Option<SessionRow>> {
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

    /// Store (replace) the session; with `activity`, queue that activity entry in the same
    /// transaction (a login: the session and the entry that records it, one commit).
    pub(crate) fn save_session(&self, s: &SessionRow, activity: Option<&PendingActivity>) -> Result<()> {
        let sealed = self.seal_json("session.tokens", &s.tokens)?;
        let mut c = self.conn();
        Self::save_session_in(&mut c, s, &sealed, activity, self)
    }

    /// [`Store::save_session`] without waiting for `fsync` ([`Store::unsynced`]): only for the
    /// login, which commits its signed activity entry with `synchronous=FULL` (or calls
    /// [`Store::sync`]) before it returns (decision 46). A power loss before that loses the
    /// session and its entry together (the citizen logs in again); a kill of the app loses
    /// nothing (WAL).
    pub(crate) fn save_session_unsynced(&self, s: &SessionRow, activity: Option<&PendingActivity>) -> Result<()> {
        let sealed = self.seal_json("session.tokens", &s.tokens)?;
        self.unsynced(|c| Self::save_session_in(c, s, &sealed, activity, self))
    }

    fn save_session_in(
        c: &mut Connection,
        s: &SessionRow,
        sealed: &[u8],
        activity: Option<&PendingActivity>,
        store: &Store,
    ) -> Result<()> {
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT OR REPLACE INTO session (id, session_id, tokens, access_expires_at, idle_expires_at, \
             absolute_expires_at) VALUES (1, ?1, ?2, ?3, ?4, ?5)",
            params![s.session_id, sealed, s.access_expires_at, s.idle_expires_at, s.absolute_expires_at],
        )?;
        if let Some(p) = activity {
            store.queue_activity_in(&tx, p)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Forget the session.
    pub(crate) fn clear_session(&self) -> Result<()> {
        self.conn().execute("DELETE FROM session", [])?;
        Ok(())
    }

    // ---- pending operations (enrollment, passcode reset) ---------------------------------

    /// Store a pending operation of `kind` with a sealed payload.
    pub(crate) fn put_pending<T: Serialize>(
        &self,
        kind: PendingKind,
        reference: &str,
        expires_at: i64,
        payload: &T,
    ) -> Result<()> {
        let sealed = self.seal_json(&format!("pending.{}", kind.as_str()), payload)?;
        self.conn().execute(
            "INSERT OR REPLACE INTO pending (kind, reference, expires_at, payload) VALUES (?1, ?2, ?3, ?4)",
            params![kind, reference, expires_at, sealed],
        )?;
        Ok(())
    }

    /// A pending operation of `kind`.
    pub(crate) fn pending<T: DeserializeOwned>(&self, kind: PendingKind) -> Result<Option<PendingRow<T>>> {
        let row: Option<(String, i64, Vec<u8>)> = self
            .conn()
            .query_row("SELECT reference, expires_at, payload FROM pending WHERE kind = ?1", params![kind], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()?;
        row.map(|(reference, expires_at, sealed)| {
            Ok(PendingRow {
                reference,
                expires_at,
                payload: self.open_json(&format!("pending.{}", kind.as_str()), &sealed)?,
            })
        })
        .transpose()
    }

    /// Drop a pending operation.
    pub(crate) fn delete_pending(&self, kind: PendingKind) -> Result<()> {
        self.conn().execute("DELETE FROM pending WHERE kind = ?1", params![kind])?;
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_possible_wrap)]
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
        assert_eq!(v as usize, CURRENT_VERSION);
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
            s.save_session(
                &SessionRow {
                    session_id: "sid".into(),
                    tokens: Tokens { access_token: "ACCESS-CANARY".into(), refresh_token: "REFRESH-CANARY".into() },
                    access_expires_at: 1,
                    idle_expires_at: 2,
                    absolute_expires_at: 3,
                },
                None,
            )
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
        assert!(matches!(Store::open(dir.path(), &other), Err(Error::DataKeyLost)));
        // The original wrapper still opens everything.
        assert!(open(dir.path(), &w).identity().unwrap().is_some());
    }

    /// The v5 and v6 (integrity) migrations on a v4 database holding an account, clear anchors and
    /// receipts: anchors come out sealed, the marks name the highest anchor, older receipts stay
    /// readable (unchained) and the chain starts at 1.
    #[test]
    fn upgrade_from_v4_seals_anchors_and_sets_the_marks() {
        let dir = tempfile::tempdir().unwrap();
        let w: Arc<dyn DataKeyWrapper> = Arc::new(MemoryKeyWrapper::new());
        let anchor = |seq: u64| crate::activity::ActivityAnchor {
            seq,
            hash: format!("{seq:064}"),
            anchored_at: 7,
            countersignature: "cs".into(),
        };
        let legacy: crate::protocol::rp::SignedReceipt = serde_json::from_value(serde_json::json!({
            "receipt": {"receipt_id": "r-old", "kind": "qr_login", "rp_id": "dvc-demo", "rp_name": "Cổng",
                "origin": "https://id.example", "purpose": "login", "claims": ["full_name"], "retention_days": 0,
                "request_id": "s", "nonce": "n", "device_id": "dev", "issued_at": 5},
            "device_statement": {"statement": {"purpose": "consent", "audience": "https://id.example", "nonce": "n",
                "device_id": "dev", "counter": 3, "issued_at": 5, "subject": "receipt:x"}, "signature": "s"},
            "device_public_key": "k", "countersignature": "c"
        }))
        .unwrap();
        {
            let mut conn = Connection::open(dir.path().join(DB_FILE)).unwrap();
            Store::configure(&conn).unwrap();
            let tx = conn.transaction().unwrap();
            for sql in &MIGRATIONS[..4] {
                tx.execute_batch(sql).unwrap();
            }
            tx.pragma_update(None, "user_version", 4).unwrap();
            tx.commit().unwrap();
            let key = Store::load_data_key(&conn, &w).unwrap();
            conn.execute(
                "INSERT INTO account (id, account_id, device_id, key_alias, public_key, hardware_backed, counter, \
                 enrolled_at, identity) VALUES (1, 'acc', 'dev', 'alias', X'04', 0, 9, 1, X'00')",
                [],
            )
            .unwrap();
            for seq in [2u64, 5] {
                conn.execute(
                    "INSERT INTO activity_anchors (seq, anchor) VALUES (?1, ?2)",
                    params![seq as i64, serde_json::to_string(&anchor(seq)).unwrap()],
                )
                .unwrap();
            }
            let sealed = key.seal(b"consent_receipts.r-old", &serde_json::to_vec(&legacy).unwrap());
            conn.execute(
                "INSERT INTO consent_receipts (receipt_id, kind, receipt, issued_at) VALUES ('r-old', 'qr_login', ?1, 5)",
                params![sealed],
            )
            .unwrap();
        }
        let s = open(dir.path(), &w);
        let v: i64 = s.conn().query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        assert_eq!(v as usize, CURRENT_VERSION);
        assert_eq!(s.anchors().unwrap(), vec![anchor(2), anchor(5)]);
        let clear: i64 =
            s.conn().query_row("SELECT count(*) FROM activity_anchors WHERE anchor != ''", [], |r| r.get(0)).unwrap();
        assert_eq!(clear, 0, "no anchor left in clear");
        let m = s.integrity_marks().unwrap().unwrap();
        assert_eq!(
            (m.anchor_seq, m.anchor_hash.as_str(), m.receipt_seq, m.damaged),
            (5, anchor(5).hash.as_str(), 0, false)
        );
        let rows = s.receipt_rows().unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!((rows[0].chain_seq, rows[0].receipt.as_ref()), (None, Some(&legacy)));
        assert_eq!(s.next_receipt_link().unwrap(), (1, crate::protocol::rp::RECEIPT_CHAIN_GENESIS.to_string()));
        drop(s);
        // Opening again does not run it twice.
        assert_eq!(open(dir.path(), &w).anchors().unwrap().len(), 2);
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
        s.passcode_succeeded(1, None).unwrap();
        assert_eq!(s.passcode().unwrap().unwrap().failed, 1);
        s.passcode_succeeded(2, None).unwrap();
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

    /// Decision 46: the counter of the operation a passcode unlocks is reserved with the attempt
    /// (one commit), only when the attempt proceeds to a comparison; the unsynced success clears
    /// the failures as the synced one does.
    #[test]
    fn a_counter_is_reserved_with_the_attempt_that_proceeds() {
        let dir = tempfile::tempdir().unwrap();
        let w: Arc<dyn DataKeyWrapper> = Arc::new(MemoryKeyWrapper::new());
        let s = open(dir.path(), &w);
        s.save_enrollment(
            &account(),
            &Identity { cccd: "x".into(), date_of_birth: "y".into(), phone: "z".into() },
            &PasscodeRow { salt: vec![1], verifier: vec![2], failed: 0, locked_until: None },
        )
        .unwrap();
        let start = s.account().unwrap().unwrap().counter;
        let (gate, _, c1) = s.reserve_passcode_attempt_with(0, Some(CounterKind::Device)).unwrap().unwrap();
        assert!(matches!(gate, Gate::Proceed { failed: 1, .. }));
        assert_eq!(c1, Some(start + 1));
        s.passcode_succeeded_unsynced(1).unwrap();
        assert_eq!(s.passcode().unwrap().unwrap().failed, 0);
        let (_, _, c2) = s.reserve_passcode_attempt_with(0, Some(CounterKind::Device)).unwrap().unwrap();
        assert_eq!(c2, Some(start + 2), "a wrong passcode's reservation leaves a gap, never a reuse");
        let (_, _, none) = s.reserve_passcode_attempt_with(0, None).unwrap().unwrap();
        assert_eq!(none, None);
        // Locked: nothing proceeds, no counter is taken.
        s.conn().execute("UPDATE passcode SET locked_until = 1000", []).unwrap();
        let (gate, row, c3) = s.reserve_passcode_attempt_with(0, Some(CounterKind::Device)).unwrap().unwrap();
        assert!(matches!(gate, Gate::Locked(_)) && row.is_none() && c3.is_none());
        assert_eq!(s.account().unwrap().unwrap().counter, start + 2);
        s.sync().unwrap();
    }

    /// Every file of the data directory, by name.
    fn dir_bytes(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| {
                let p = e.unwrap().path();
                (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap())
            })
            .collect()
    }

    /// A database written by a newer app (here: `user_version` one past ours, left by that app in
    /// rollback-journal mode) is refused with `storage.schema_newer` and not touched: same files,
    /// same bytes, no `-wal`/`-shm` created — the newer app must find it as it left it.
    #[test]
    fn a_newer_schema_is_refused_and_left_byte_identical() {
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
        {
            let c = Connection::open(dir.path().join(DB_FILE)).unwrap();
            let mode: String = c.query_row("PRAGMA journal_mode=DELETE", [], |r| r.get(0)).unwrap();
            assert_eq!(mode, "delete");
            c.pragma_update(None, "user_version", (CURRENT_VERSION + 1) as i64).unwrap();
        }
        let before = dir_bytes(dir.path());
        assert_eq!(before.keys().collect::<Vec<_>>(), [DB_FILE]);
        for _ in 0..2 {
            match Store::open(dir.path(), &w) {
                Err(Error::Domain(Msg::SchemaNewer)) => {}
                Err(e) => panic!("wrong error: {e:?}"),
                Ok(_) => panic!("a newer schema was opened"),
            }
            assert!(dir_bytes(dir.path()) == before, "the newer database was changed");
        }
        let e = crate::CitizenError::from(Error::Domain(Msg::SchemaNewer));
        assert!(
            matches!(e, crate::CitizenError::Internal { ref detail } if detail.code == "storage.schema_newer"),
            "{e:?}"
        );
    }

    /// The newer app was killed before it checkpointed: its `user_version` is only in the `-wal`
    /// file (the main file's header still says ours). The refusal comes from SQLite then, and
    /// closing that connection must not checkpoint the newer app's WAL into the database: the
    /// database and the `-wal` stay byte-identical (the `-shm` is a rebuildable index).
    #[test]
    fn a_newer_schema_only_in_the_wal_is_refused_and_not_checkpointed() {
        let dir = tempfile::tempdir().unwrap();
        let w: Arc<dyn DataKeyWrapper> = Arc::new(MemoryKeyWrapper::new());
        drop(open(dir.path(), &w));
        {
            let c = Connection::open(dir.path().join(DB_FILE)).unwrap();
            c.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true).unwrap();
            c.pragma_update(None, "user_version", (CURRENT_VERSION + 1) as i64).unwrap();
        }
        let wal = format!("{DB_FILE}-wal");
        let kept = |m: std::collections::BTreeMap<String, Vec<u8>>| {
            m.into_iter().filter(|(k, _)| k == DB_FILE || *k == wal).collect::<Vec<_>>()
        };
        let before = kept(dir_bytes(dir.path()));
        assert_eq!(before.len(), 2, "database and its -wal");
        match Store::open(dir.path(), &w) {
            Err(Error::Domain(Msg::SchemaNewer)) => {}
            Err(e) => panic!("wrong error: {e:?}"),
            Ok(_) => panic!("a newer schema was opened"),
        }
        assert!(kept(dir_bytes(dir.path())) == before, "the newer app's WAL was checkpointed or changed");
    }

    /// A state this build does not know (written by a newer app or edited at rest) is a storage
    /// error naming the column — before, the façade turned any unknown outbox state into
    /// "queued" and any unknown case status into "received".
    #[test]
    fn an_unknown_stored_state_is_a_storage_error() {
        let dir = tempfile::tempdir().unwrap();
        let w: Arc<dyn DataKeyWrapper> = Arc::new(MemoryKeyWrapper::new());
        let s = open(dir.path(), &w);
        s.conn()
            .execute(
                "INSERT INTO outbox (submission_id, seq, draft_id, procedure_id, payload_sha256, state, request, \
                 next_attempt_at, queued_at, updated_at) VALUES ('sub-1', 1, 'd', '', 'abc', 'archived', X'00', 0, 0, 0)",
                [],
            )
            .unwrap();
        match s.outbox() {
            Err(e) => {
                let u = rows::unknown_value(&e).unwrap_or_else(|| panic!("{e:?}"));
                assert_eq!((u.column, u.value.as_str()), ("outbox.state", "archived"));
            }
            other => panic!("{other:?}"),
        }
        // The worker selects by the known pending states: a row in an unknown state is not sent.
        assert!(matches!(s.outbox_head(), Ok(None)));
        s.conn()
            .execute(
                "INSERT INTO cases (case_number, submission_id, procedure_id, status, updated_at) \
                 VALUES ('k', 's', 'p', 'escalated', 0)",
                [],
            )
            .unwrap();
        let e = s.cases().expect_err("an unknown case status is an error");
        assert_eq!(rows::unknown_value(&e).map(|u| u.value.as_str()), Some("escalated"), "{e:?}");
    }

    #[test]
    fn counter_needs_an_account() {
        let dir = tempfile::tempdir().unwrap();
        let w: Arc<dyn DataKeyWrapper> = Arc::new(MemoryKeyWrapper::new());
        assert!(matches!(open(dir.path(), &w).next_counter(), Err(Error::Domain(Msg::NotEnrolled))));
    }
}
