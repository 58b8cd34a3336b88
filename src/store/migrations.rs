//! Schema versions of the device database and the code that moves a database between them.
//!
//! Each version is one SQL file in `src/store/schema/` (`v1.sql` … `v6.sql`), compiled in with
//! `include_str!`, so the schema of any version can be read (and reviewed in a diff) as plain
//! SQL, and a test can build a database of any old version from exactly the SQL that version
//! shipped. `PRAGMA user_version` records the version a database is at.
//!
//! * v1–v5 are plain SQL ([`MIGRATIONS`]) and run right after the database is opened.
//! * v6 ([`SCHEMA_INTEGRITY`]) is *keyed*: besides its SQL it seals the clear anchors and sets
//!   the integrity marks, which needs the data key, so it runs once the key is unwrapped
//!   ([`migrate_keyed`]).
//! * v7 and later are plain SQL again ([`LATE_MIGRATIONS`], [`migrate_late`]) and run after the
//!   keyed step.
//! * Each version runs in one `IMMEDIATE` transaction together with the `user_version` bump: a
//!   kill (or power loss: `synchronous=FULL`) in the middle leaves the previous version, intact,
//!   and the next open runs the migration again.
//! * A database whose `user_version` is newer than this build ([`CURRENT_VERSION`]) is refused
//!   with `storage.schema_newer` before anything writes to it (see [`refuse_newer_file`]): an
//!   older app must not convert, migrate or checkpoint a database a newer app will read again.
//!
//! Adding a version: add `schema/v<N>.sql`, append it to [`MIGRATIONS`] (or, if it needs the
//! data key, run it from the keyed step after [`SCHEMA_INTEGRITY`]), raise [`CURRENT_VERSION`],
//! and extend the fixture in `store::fixtures` with rows of the new tables so the upgrade test
//! (`every_old_version_upgrades_with_every_record_readable`) covers it. Never edit a shipped
//! `.sql` file: databases in the field are at that version already.

use std::path::Path;

use rusqlite::{params, Connection, TransactionBehavior};

use crate::crypto::SecretKey;
use crate::error::{Error, Msg, Result};

use super::{IntegrityMarks, MARKS_LABEL};

/// The plain migrations, in order: index `i` brings a database from version `i` to `i + 1`.
pub(crate) const MIGRATIONS: &[&str] = &[
    include_str!("schema/v1.sql"),
    include_str!("schema/v2.sql"),
    include_str!("schema/v3.sql"),
    include_str!("schema/v4.sql"),
    include_str!("schema/v5.sql"),
];

/// Schema version of the keyed migration (`schema/v6.sql`): it runs after every plain migration
/// in [`MIGRATIONS`] (v1–v5) once the data key is loaded.
pub const SCHEMA_INTEGRITY: usize = 6;

/// The plain migrations after the keyed one, in order: index `i` brings a database from version
/// `SCHEMA_INTEGRITY + i` to `SCHEMA_INTEGRITY + i + 1`. v7: the bookkeeping key and the
/// activity entries waiting for it (issue 11, decision 26). v8: the documents wallet (issue 13,
/// decision 32). v9: the outbox hold of a locked or re-keyed device (issue 15).
pub(crate) const LATE_MIGRATIONS: &[&str] = &[
    include_str!("schema/v7.sql"),
    include_str!("schema/v8.sql"),
    include_str!("schema/v9.sql"),
    include_str!("schema/v10.sql"),
];

/// The version this build writes and reads; a database above it is refused.
pub const CURRENT_VERSION: usize = SCHEMA_INTEGRITY + LATE_MIGRATIONS.len();

/// v6: integrity of the activity log and the receipts against deleted rows (issue 9).
/// * `account.integrity`: sealed [`IntegrityMarks`] — the highest anchor and the last chained
///   receipt the device has stored. Deleting anchor or receipt rows no longer goes unnoticed:
///   the marks still name them. The marks live in the account row, so removing them means
///   editing the row that holds the account itself; a NULL or unopenable value is reported.
/// * `activity_anchors.sealed`: anchors sealed like the entries (the clear `anchor` column is
///   emptied by the migration).
/// * `consent_receipts.chain_seq`: the receipt's position in the chain (NULL for receipts made
///   before chaining).
const MIGRATION_INTEGRITY: &str = include_str!("schema/v6.sql");

/// Environment variable of the interrupted-migration test (feature `test-support` only): when
/// it names a version, the migration to that version stops inside its transaction, after its
/// SQL ran and before the commit, prints `PAUSED <version>` and waits to be killed.
#[cfg(feature = "test-support")]
pub const PAUSE_IN_MIGRATION_ENV: &str = "CITIZEN_TEST_PAUSE_IN_MIGRATION";

/// The test hook of [`PAUSE_IN_MIGRATION_ENV`]; nothing in a build without `test-support`.
fn pause_point(version: usize) {
    #[cfg(feature = "test-support")]
    if std::env::var(PAUSE_IN_MIGRATION_ENV).ok().and_then(|v| v.trim().parse::<usize>().ok()) == Some(version) {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "PAUSED {version}");
        let _ = out.flush();
        loop {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        }
    }
    let _ = version;
}

/// The version as a `usize`, or the refusal (a negative `user_version` is refused like a newer one).
fn refuse_newer(version: i64) -> Result<usize> {
    match usize::try_from(version) {
        Ok(v) if v <= CURRENT_VERSION => Ok(v),
        _ => {
            tracing::warn!(version, supported = CURRENT_VERSION, "database schema is newer than this app");
            Err(Error::Domain(Msg::SchemaNewer))
        }
    }
}

/// Refuse a database file whose header says it is newer than this build, reading the header
/// bytes only: SQLite is not involved, so nothing (journal mode, `-wal`/`-shm` files, a
/// checkpoint) can change the file before the refusal. A missing or short file passes (it is
/// new). The header can lag behind a `-wal` file a newer app left uncheckpointed; that case is
/// caught after opening by [`check_version`] (the caller turns checkpoint-on-close off first).
pub(crate) fn refuse_newer_file(path: &Path) -> Result<()> {
    use std::io::Read;
    let mut header = [0u8; 64];
    let Ok(mut f) = std::fs::File::open(path) else { return Ok(()) };
    if f.read_exact(&mut header).is_err() || &header[..16] != b"SQLite format 3\0" {
        return Ok(());
    }
    refuse_newer(i64::from(u32::from_be_bytes([header[60], header[61], header[62], header[63]]))).map(|_| ())
}

/// The database's `user_version`, refused if newer than this build. Run before any pragma that
/// writes (the journal mode).
pub(crate) fn check_version(conn: &Connection) -> Result<usize> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    refuse_newer(version)
}

/// Run the plain migrations the database has not had, one transaction each.
pub(crate) fn migrate(conn: &mut Connection) -> Result<()> {
    let version = check_version(conn)?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i + 1)?;
        pause_point(i + 1);
        tx.commit()?;
    }
    Ok(())
}

/// The v6 migration: its SQL, then the clear anchors sealed and the marks of an existing
/// account set from what is stored, in one transaction (a kill leaves v5 or a complete v6).
pub(crate) fn migrate_keyed(conn: &mut Connection, key: &SecretKey) -> Result<()> {
    if check_version(conn)? >= SCHEMA_INTEGRITY {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute_batch(MIGRATION_INTEGRITY)?;
    let anchors: Vec<(i64, String)> = {
        let mut st = tx.prepare("SELECT seq, anchor FROM activity_anchors ORDER BY seq")?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<rusqlite::Result<Vec<_>>>()?;
        rows
    };
    let mut marks = IntegrityMarks::default();
    for (seq, json) in anchors {
        let sealed = key.seal(format!("activity_anchors.{seq}").as_bytes(), json.as_bytes());
        tx.execute("UPDATE activity_anchors SET sealed = ?2, anchor = '' WHERE seq = ?1", params![seq, sealed])?;
        if let Ok(a) = serde_json::from_str::<crate::activity::ActivityAnchor>(&json) {
            if a.seq >= marks.anchor_seq {
                (marks.anchor_seq, marks.anchor_hash) = (a.seq, a.hash);
            }
        }
    }
    let json = serde_json::to_vec(&marks).map_err(|e| Error::Storage(e.to_string()))?;
    tx.execute("UPDATE account SET integrity = ?1 WHERE id = 1", params![key.seal(MARKS_LABEL.as_bytes(), &json)])?;
    tx.pragma_update(None, "user_version", SCHEMA_INTEGRITY)?;
    pause_point(SCHEMA_INTEGRITY);
    tx.commit()?;
    Ok(())
}

/// Run the plain migrations after the keyed one ([`LATE_MIGRATIONS`]), one transaction each.
pub(crate) fn migrate_late(conn: &mut Connection) -> Result<()> {
    let version = check_version(conn)?;
    for (i, sql) in LATE_MIGRATIONS.iter().enumerate() {
        let target = SCHEMA_INTEGRITY + i + 1;
        if version >= target {
            continue;
        }
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", target)?;
        pause_point(target);
        tx.commit()?;
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_possible_wrap)]
mod tests {
    use super::*;
    use crate::store::fixtures;

    fn files_contain(dir: &Path, needle: &str) -> bool {
        std::fs::read_dir(dir).unwrap().any(|e| {
            let b = std::fs::read(e.unwrap().path()).unwrap_or_default();
            b.windows(needle.len()).any(|w| w == needle.as_bytes())
        })
    }

    /// A populated database of every old version — built from that version's own SQL, rows
    /// sealed by the real sealing code — upgrades to the current version with every record
    /// still readable, and the identifiers v2–v4 kept in clear are sealed afterwards.
    #[test]
    fn every_old_version_upgrades_with_every_record_readable() {
        for version in 1..CURRENT_VERSION {
            let dir = tempfile::tempdir().unwrap();
            fixtures::write(dir.path(), version).unwrap();
            assert_eq!(fixtures::raw_state(dir.path()).unwrap(), (version, "ok".to_string()));
            if version >= 2 {
                assert!(files_contain(dir.path(), fixtures::CASE), "v{version}: the fixture holds the case in clear");
            }
            assert_eq!(fixtures::verify(dir.path(), version), Ok(CURRENT_VERSION), "from v{version}");
            // Opening again migrates nothing and reads the same.
            assert_eq!(fixtures::verify(dir.path(), version), Ok(CURRENT_VERSION), "from v{version}, reopened");
            for canary in [fixtures::CASE, fixtures::RECEIPT, fixtures::CCCD, fixtures::REFRESH] {
                assert!(!files_contain(dir.path(), canary), "v{version}: {canary} in clear after the upgrade");
            }
        }
    }

    /// The header check reads the version SQLite wrote, without SQLite.
    #[test]
    fn the_header_check_reads_user_version() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(super::super::DB_FILE);
        refuse_newer_file(&path).unwrap();
        let c = Connection::open(&path).unwrap();
        c.execute_batch("CREATE TABLE t (x);").unwrap();
        c.pragma_update(None, "user_version", CURRENT_VERSION).unwrap();
        refuse_newer_file(&path).unwrap();
        c.pragma_update(None, "user_version", CURRENT_VERSION + 1).unwrap();
        drop(c);
        assert!(matches!(refuse_newer_file(&path), Err(Error::Domain(Msg::SchemaNewer))));
    }
}
