//! The server's storage seam (issue 14, ARCHITECTURE.md decision 36): one writer thread that
//! runs every request's database work and commits it in groups, and a few read-only
//! connections for work that needs no atomicity with anything (looking up a device's public key
//! to check a signature before the request's turn comes).
//!
//! Units of work. Each request's closure ([`crate::api::blocking`]) is one unit: it runs alone
//! on the one write connection (nothing interleaves with it), inside a savepoint of the
//! writer's current transaction. That is what makes every read-check-write of the protocol
//! atomic — a nonce consumed once, a counter window advanced by compare-and-swap, an
//! idempotency key claimed once, OTP attempts and throttle rows counted exactly, QR session
//! state moved once. A closure keeps the statements it ran even when it returns an error (a
//! consumed nonce, a recorded failure stay consumed and recorded, as with autocommit before); a
//! closure that panics is rolled back to its savepoint. Closures open their own nested units
//! with `conn.savepoint()` (never `conn.transaction()`: there is always an outer transaction).
//!
//! Group commit. The writer takes every unit queued while it was busy (up to
//! [`MAX_BATCH`]), runs them one after another in one `BEGIN IMMEDIATE … COMMIT`, and only after
//! the commit (one fsync of the WAL with `synchronous=FULL`) answers them. Durability is
//! unchanged — no request is answered before its writes are on disk — but under load one fsync
//! serves many requests instead of four per login. If the commit fails every unit of the batch
//! gets an internal error.
//!
//! Crypto never runs here: signature checks happen before (with a public key read through a
//! [`Readers`] connection, see `verify::PreVerified`), token signing after.
//!
//! PostgreSQL (issue 14, item 2; decisions 41 and 47). The same closures run as transactions
//! on a pooled connection ([`PgStore`]): `BEGIN ISOLATION LEVEL READ COMMITTED`, the unit's
//! share of a transaction-level advisory lock common to every instance ([`UNIT_LOCK`]), the
//! unit, `COMMIT`. A unit run with [`UnitLock::Whole`] holds that lock exclusively — units of
//! all processes wait for it, exactly the SQLite writer's guarantee. A unit run with
//! [`UnitLock::Keyed`] (the hot paths: challenge, login, refresh, logout, submission, profile,
//! case events) holds it shared, so keyed units overlap with one another, and takes per-key locks
//! ([`crate::sql::Connection::lock_key`]: the account, the submission id, a throttle key)
//! before it reads what it will change; every keyed unit's read-check-write is then either
//! under the key that guards those rows or one atomic statement (decision 47 lists them).
//! The crypto around units runs in parallel on every instance; a unit that meets a
//! serialization failure, a deadlock or a unique violation is rolled back and run again (up to
//! [`PG_ATTEMPTS`] times).
//! Reads outside units (signature pre-checks, inspection) use a pooled connection in
//! autocommit mode.

use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard};

use rusqlite::OpenFlags;

use crate::sql::Connection;

/// Most units in one group commit (bounds the latency a batch adds to its first request).
pub const MAX_BATCH: usize = 256;

/// Whether a unit's answer waits for its writes to be on disk (issue 14: durability where it
/// matters, ARCHITECTURE.md decision 36).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// On disk before the unit is answered: SQLite commits its batch with `synchronous=FULL`
    /// (one fsync of the WAL), PostgreSQL with its synchronous commit. Every unit whose loss
    /// after its answer would matter: a consumed nonce, an accepted counter, a session, a
    /// submission, an audit of a decision.
    Durable,
    /// Committed — every later unit and reader sees it — but possibly not yet on disk when it is
    /// answered: SQLite `synchronous=NORMAL` for a batch made only of such units, PostgreSQL
    /// `synchronous_commit = off` for the transaction. A power cut may then lose the writes;
    /// never part of them, and never a durable unit's (the WAL is written in order, so the next
    /// durable commit or checkpoint carries them to disk). Only for writes whose loss is
    /// harmless: a challenge's nonce (a lost one fails one login, the device asks again; a
    /// nonce is never reissued, so none can be used twice).
    Volatile,
}

/// A unit of work: runs on the write connection and returns what to do once the batch's
/// commit is known (`true`: committed).
pub type Job = Box<dyn FnOnce(&mut Connection) -> Box<dyn FnOnce(bool) + Send> + Send>;

/// The database of a running server: SQLite's single writer, or a PostgreSQL pool.
pub enum Store {
    /// The embedded default.
    Sqlite(SqliteStore),
    /// `--database postgres://…`.
    Pg(PgStore),
}

/// A connection lent for work outside a unit (reads, inspection): SQLite's write connection or
/// a read-only one, or a pooled PostgreSQL connection in autocommit mode.
pub enum DbGuard<'a> {
    /// A SQLite connection behind its mutex.
    Locked(MutexGuard<'a, Connection>),
    /// A PostgreSQL connection, back to the pool when dropped (boxed: it is much larger than a
    /// guard, and the SQLite variant is the common one).
    Pooled(Box<Pooled<'a>>),
}

impl std::ops::Deref for DbGuard<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        match self {
            DbGuard::Locked(g) => g,
            DbGuard::Pooled(p) => p.as_ref(),
        }
    }
}

impl std::ops::DerefMut for DbGuard<'_> {
    fn deref_mut(&mut self) -> &mut Connection {
        match self {
            DbGuard::Locked(g) => &mut *g,
            DbGuard::Pooled(p) => p,
        }
    }
}

impl Store {
    /// Queue a unit of work on the SQLite writer. `false` when the writer has stopped or the
    /// backend is PostgreSQL (whose units run through [`PgStore::run`]).
    pub fn submit(&self, job: Job, durability: Durability) -> bool {
        match self {
            Store::Sqlite(s) => s.submit(job, durability),
            Store::Pg(_) => false,
        }
    }

    /// A connection for inspection between units (tests, operators): SQLite's write
    /// connection (waits for the batch in progress), or a pooled PostgreSQL connection.
    pub fn lock(&self) -> DbGuard<'_> {
        match self {
            Store::Sqlite(s) => DbGuard::Locked(s.lock()),
            Store::Pg(p) => DbGuard::Pooled(Box::new(p.pool.get_or_panic())),
        }
    }

    /// A connection for reads that need no atomicity with a unit (signature pre-checks).
    pub fn reader(&self) -> crate::sql::Result<DbGuard<'_>> {
        match self {
            Store::Sqlite(s) => Ok(DbGuard::Locked(s.readers().get())),
            Store::Pg(p) => Ok(DbGuard::Pooled(Box::new(p.pool.get()?))),
        }
    }

    /// Transactions committed so far (SQLite: each one fsync of the WAL shared by a group).
    pub fn commits(&self) -> u64 {
        match self {
            Store::Sqlite(s) => s.commits(),
            Store::Pg(p) => p.commits.load(Ordering::Relaxed),
        }
    }
}

/// The write connection, its writer thread, and the read-only connections.
pub struct SqliteStore {
    db: Arc<Mutex<Connection>>,
    jobs: Mutex<Option<mpsc::Sender<(Job, Durability)>>>,
    readers: Readers,
    commits: Arc<AtomicU64>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl SqliteStore {
    /// Take over the (migrated) write connection and start the writer thread; open `readers`
    /// read-only connections on the same file.
    pub fn start(conn: Connection, path: &Path, readers: usize) -> crate::sql::Result<Self> {
        let readers = Readers::open(path, readers)?;
        let db = Arc::new(Mutex::new(conn));
        let commits = Arc::new(AtomicU64::new(0));
        let (tx, rx) = mpsc::channel::<(Job, Durability)>();
        let (wdb, wcommits) = (db.clone(), commits.clone());
        let writer = std::thread::Builder::new()
            .name("citizen-db-writer".into())
            .spawn(move || writer_loop(&wdb, &rx, &wcommits))
            .map_err(|e| crate::sql::Error::Conversion(format!("cannot start the database writer: {e}")))?;
        Ok(SqliteStore { db, jobs: Mutex::new(Some(tx)), readers, commits, writer: Mutex::new(Some(writer)) })
    }

    /// Queue a unit of work. `false` when the writer has stopped.
    pub fn submit(&self, job: Job, durability: Durability) -> bool {
        let jobs = self.jobs.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        jobs.as_ref().is_some_and(|tx| tx.send((job, durability)).is_ok())
    }

    /// The write connection, for inspection between units (tests, operators). Waits for the
    /// batch in progress.
    pub fn lock(&self) -> MutexGuard<'_, Connection> {
        self.db.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The read-only connections.
    pub fn readers(&self) -> &Readers {
        &self.readers
    }

    /// Transactions the writer committed so far (each one fsync of the WAL).
    pub fn commits(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        // Closing the queue ends the writer once it has drained it.
        self.jobs.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
        if let Some(w) = self.writer.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take() {
            // The last reference may be dropped on the writer thread itself (a job held it).
            if w.thread().id() != std::thread::current().id() {
                let _ = w.join();
            }
        }
    }
}

fn writer_loop(db: &Mutex<Connection>, rx: &mpsc::Receiver<(Job, Durability)>, commits: &AtomicU64) {
    // The connection opens with `synchronous=FULL` (`db::open`) and is left at FULL between
    // batches: inspection through `SqliteStore::lock` (tests, operators) writes durably.
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(j) => batch.push(j),
                Err(_) => break,
            }
        }
        let mut conn = db.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        // One durable unit makes the whole batch's commit durable.
        let durable = batch.iter().any(|(_, d)| *d == Durability::Durable);
        // Staying at FULL when the switch fails only costs the volatile units an fsync.
        let unsynced = !durable
            && conn
                .execute_batch("PRAGMA synchronous = NORMAL")
                .map_err(|e| tracing::warn!("could not set synchronous=NORMAL: {e}"))
                .is_ok();
        let mut answers: Vec<Box<dyn FnOnce(bool) + Send>> = Vec::with_capacity(batch.len());
        let mut open = begin(&conn);
        for (job, _) in batch {
            if !open {
                // No transaction (BEGIN failed): the unit runs in autocommit mode, as before.
                open = begin(&conn);
            }
            let _ = conn.execute_batch("SAVEPOINT unit");
            match std::panic::catch_unwind(AssertUnwindSafe(|| job(&mut conn))) {
                Ok(answer) => {
                    let _ = conn.execute_batch("RELEASE unit");
                    answers.push(answer);
                }
                Err(_) => {
                    tracing::error!("request handler panicked; its database work is rolled back");
                    let _ = conn.execute_batch("ROLLBACK TO unit; RELEASE unit");
                }
            }
            if open && conn.as_sqlite().is_some_and(rusqlite::Connection::is_autocommit) {
                // SQLite rolled the whole transaction back (disk full, I/O error): the units
                // so far lost their writes.
                tracing::error!("database transaction rolled back by SQLite; failing its requests");
                answers.drain(..).for_each(|a| a(false));
                open = false;
            }
        }
        let committed = !open || commit(&conn, commits);
        if unsynced {
            if let Err(e) = conn.execute_batch("PRAGMA synchronous = FULL") {
                // The next batch must not commit durable units unsynced: stop the writer (its
                // requests then get internal errors) rather than answer them from NORMAL.
                tracing::error!("could not restore synchronous=FULL; the database writer stops: {e}");
                drop(conn);
                answers.into_iter().for_each(|a| a(committed));
                return;
            }
        }
        drop(conn);
        answers.into_iter().for_each(|a| a(committed));
    }
}

fn begin(conn: &Connection) -> bool {
    match conn.execute_batch("BEGIN IMMEDIATE") {
        Ok(()) => true,
        Err(e) => {
            tracing::error!("database BEGIN failed: {e}");
            false
        }
    }
}

fn commit(conn: &Connection, commits: &AtomicU64) -> bool {
    match conn.execute_batch("COMMIT") {
        Ok(()) => {
            commits.fetch_add(1, Ordering::Relaxed);
            true
        }
        Err(e) => {
            tracing::error!("database COMMIT failed: {e}");
            let _ = conn.execute_batch("ROLLBACK");
            false
        }
    }
}

/// Read-only connections (WAL readers see the last committed state and never wait for the
/// writer).
pub struct Readers {
    conns: Vec<Mutex<Connection>>,
    next: AtomicUsize,
}

impl Readers {
    fn open(path: &Path, n: usize) -> rusqlite::Result<Self> {
        let conns = (0..n.max(1))
            .map(|_| {
                let c = rusqlite::Connection::open_with_flags(
                    path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI,
                )?;
                c.busy_timeout(std::time::Duration::from_secs(5))?;
                Ok(Mutex::new(Connection::sqlite(c)))
            })
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(Readers { conns, next: AtomicUsize::new(0) })
    }

    /// A free reader if there is one, else the next in turn. Blocks: call it on a blocking
    /// thread.
    pub fn get(&self) -> MutexGuard<'_, Connection> {
        for c in &self.conns {
            if let Ok(g) = c.try_lock() {
                return g;
            }
        }
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.conns.len();
        self.conns[i].lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Times a PostgreSQL unit is run before its request gets an internal error.
pub const PG_ATTEMPTS: u32 = 40;

/// Transaction-level advisory lock every unit takes first (see [`PgStore::run`]): exclusively
/// for a [`UnitLock::Whole`] unit (it runs alone across every instance, as on the SQLite
/// writer), shared for a [`UnitLock::Keyed`] one.
pub const UNIT_LOCK: i64 = 0x0063_6974_697a_656f;

/// How a PostgreSQL unit is isolated from the others (decision 47). SQLite ignores it: its
/// one writer runs every unit alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnitLock {
    /// Alone: [`UNIT_LOCK`] exclusively, as every unit did before decision 47. The default for
    /// every handler that was not worked through key by key.
    Whole,
    /// [`UNIT_LOCK`] shared (only whole units wait for it), plus the per-key locks the unit
    /// takes itself before each read-check-write (account, submission, throttle key).
    Keyed,
}

/// The PostgreSQL backend: a bounded pool; every unit one serializable transaction.
pub struct PgStore {
    pool: Pool,
    commits: AtomicU64,
    retries: AtomicU64,
    /// Every unit [`UnitLock::Whole`] (`CITIZEN_PG_UNIT_LOCK=whole` at start): decision 41's
    /// behaviour, for measuring decision 47 against it with one binary (README, load benchmark).
    whole_only: bool,
}

/// How a PostgreSQL unit ended.
pub enum PgOutcome<T> {
    /// Committed (with the unit's own answer, which may be an error it chose to keep).
    Committed(T),
    /// Not committed: the unit panicked, a statement failed, or it kept conflicting.
    Failed,
}

impl PgStore {
    /// A pool of at most `max` connections to `url` (the schema is already migrated).
    pub fn new(url: &str, max: usize) -> Self {
        let whole_only = std::env::var("CITIZEN_PG_UNIT_LOCK").is_ok_and(|v| v == "whole");
        if whole_only {
            tracing::warn!("CITIZEN_PG_UNIT_LOCK=whole: every unit runs alone (decision 41), for comparison only");
        }
        PgStore { pool: Pool::new(url, max), commits: AtomicU64::new(0), retries: AtomicU64::new(0), whole_only }
    }

    /// Units run again after a conflict, so far.
    pub fn retries(&self) -> u64 {
        self.retries.load(Ordering::Relaxed)
    }

    /// Run `f` as one transaction that first takes [`UNIT_LOCK`] — exclusively for
    /// [`UnitLock::Whole`] (units of all instances then run one at a time), shared for
    /// [`UnitLock::Keyed`] (keyed units overlap, guarded by their own key locks) — again after a
    /// serialization failure, deadlock or unique violation (two keyed units inserting the same
    /// key, a deadlock between key and row locks). A unit's answer — `Ok` or an error it returned — is committed
    /// either way (a consumed nonce stays consumed, as with SQLite); a unit in which a
    /// statement failed (PostgreSQL aborted its transaction) or that panicked is rolled back.
    /// Blocks: call it on a blocking thread.
    /// A [`Durability::Volatile`] unit commits with `synchronous_commit = off` (its commit
    /// returns before PostgreSQL's WAL flush).
    pub fn run<T>(
        &self,
        lock: UnitLock,
        durability: Durability,
        mut f: impl FnMut(&mut Connection) -> T,
    ) -> PgOutcome<T> {
        let lock = if self.whole_only { UnitLock::Whole } else { lock };
        let mut conn = match self.pool.get() {
            Ok(c) => c,
            Err(e) => {
                tracing::error!("no PostgreSQL connection: {e}");
                return PgOutcome::Failed;
            }
        };
        for attempt in 0..PG_ATTEMPTS {
            if attempt > 0 {
                self.retries.fetch_add(1, Ordering::Relaxed);
                // Back off a little, with jitter, so that two conflicting units do not meet again.
                let jitter = u64::from(citizen_protocol::crypto::random_array::<1>()[0]);
                std::thread::sleep(std::time::Duration::from_micros(
                    (200 << attempt.min(5)) + jitter * 4 * u64::from(attempt.min(10)),
                ));
            }
            conn.reset_failure();
            // READ COMMITTED, not SERIALIZABLE: a serializable snapshot would be taken by the
            // lock statement before it waits, and so miss what the units before committed;
            // under the lock every later statement sees all of them, which is serial execution.
            let mut begin = match lock {
                UnitLock::Whole => {
                    format!("BEGIN ISOLATION LEVEL READ COMMITTED; SELECT pg_advisory_xact_lock({UNIT_LOCK})")
                }
                UnitLock::Keyed => {
                    format!("BEGIN ISOLATION LEVEL READ COMMITTED; SELECT pg_advisory_xact_lock_shared({UNIT_LOCK})")
                }
            };
            if durability == Durability::Volatile {
                begin.push_str("; SET LOCAL synchronous_commit TO OFF");
            }
            if conn.execute_batch(&begin).is_err() {
                let (_, retry) = conn.failure();
                let _ = conn.execute_batch("ROLLBACK");
                if retry {
                    continue;
                }
                return PgOutcome::Failed;
            }
            let answer = match std::panic::catch_unwind(AssertUnwindSafe(|| f(&mut conn))) {
                Ok(a) => a,
                Err(_) => {
                    tracing::error!("request handler panicked; its database work is rolled back");
                    let _ = conn.execute_batch("ROLLBACK");
                    return PgOutcome::Failed;
                }
            };
            match conn.failure() {
                (_, true) => {
                    let _ = conn.execute_batch("ROLLBACK");
                    continue;
                }
                (true, false) => {
                    tracing::error!("a statement of the unit failed, rolled back: {}", conn.last_error());
                    let _ = conn.execute_batch("ROLLBACK");
                    return PgOutcome::Failed;
                }
                (false, false) => {}
            }
            conn.reset_failure();
            if conn.execute_batch("COMMIT").is_ok() {
                self.commits.fetch_add(1, Ordering::Relaxed);
                return PgOutcome::Committed(answer);
            }
            let (_, retry) = conn.failure();
            let _ = conn.execute_batch("ROLLBACK");
            if !retry {
                tracing::error!("PostgreSQL COMMIT failed");
                return PgOutcome::Failed;
            }
        }
        tracing::error!("a unit of work kept conflicting after {PG_ATTEMPTS} attempts: {}", conn.last_error());
        PgOutcome::Failed
    }
}

/// A bounded pool of PostgreSQL connections, opened on demand.
pub struct Pool {
    url: String,
    max: usize,
    idle: Mutex<(Vec<Connection>, usize)>,
    freed: std::sync::Condvar,
}

/// A pooled connection; back to the pool when dropped (or closed, if its session died).
pub struct Pooled<'a> {
    pool: &'a Pool,
    conn: Option<Connection>,
}

impl std::ops::Deref for Pooled<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.conn.as_ref().expect("pooled connection present until drop")
    }
}

impl std::ops::DerefMut for Pooled<'_> {
    fn deref_mut(&mut self) -> &mut Connection {
        self.conn.as_mut().expect("pooled connection present until drop")
    }
}

impl Drop for Pooled<'_> {
    fn drop(&mut self) {
        let mut idle = self.pool.idle.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match self.conn.take() {
            Some(c) if !c.is_closed() => idle.0.push(c),
            _ => idle.1 -= 1,
        }
        drop(idle);
        self.pool.freed.notify_one();
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        // The synchronous driver's clients close through their own runtime: not on an async
        // thread, where the last reference to the state may be dropped.
        let conns = std::mem::take(&mut self.idle.get_mut().unwrap_or_else(std::sync::PoisonError::into_inner).0);
        let _ = std::thread::spawn(move || drop(conns)).join();
    }
}

impl Pool {
    fn new(url: &str, max: usize) -> Self {
        Pool {
            url: url.to_string(),
            max: max.max(1),
            idle: Mutex::new((Vec::new(), 0)),
            freed: std::sync::Condvar::new(),
        }
    }

    /// Open a connection to `url` (no TLS: the database is on loopback or a private network).
    pub fn connect(url: &str) -> crate::sql::Result<Connection> {
        Ok(Connection::pg(postgres::Client::connect(url, postgres::NoTls)?))
    }

    /// A connection: an idle one, a new one while fewer than `max` are open, else wait.
    pub fn get(&self) -> crate::sql::Result<Pooled<'_>> {
        let mut idle = self.idle.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        loop {
            if let Some(c) = idle.0.pop() {
                return Ok(Pooled { pool: self, conn: Some(c) });
            }
            if idle.1 < self.max {
                idle.1 += 1;
                drop(idle);
                return match Self::connect(&self.url) {
                    Ok(c) => Ok(Pooled { pool: self, conn: Some(c) }),
                    Err(e) => {
                        self.idle.lock().unwrap_or_else(std::sync::PoisonError::into_inner).1 -= 1;
                        Err(e)
                    }
                };
            }
            idle = self.freed.wait(idle).unwrap_or_else(std::sync::PoisonError::into_inner);
        }
    }

    fn get_or_panic(&self) -> Pooled<'_> {
        self.get().unwrap_or_else(|e| panic!("PostgreSQL connection: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (SqliteStore, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("store-{}", citizen_protocol::crypto::random_b64url(6)));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.db");
        let conn = crate::db::open(&path).unwrap();
        (SqliteStore::start(conn, &path, 2).unwrap(), dir)
    }

    /// Run one unit and wait for its answer.
    fn run(
        s: &SqliteStore,
        f: impl FnOnce(&mut Connection) -> crate::sql::Result<()> + Send + 'static,
    ) -> Option<bool> {
        let (tx, rx) = mpsc::channel();
        let job: Job = Box::new(move |c| {
            let r = f(c).is_ok();
            Box::new(move |committed| {
                let _ = tx.send(r && committed);
            })
        });
        assert!(s.submit(job, Durability::Durable));
        rx.recv().ok()
    }

    /// Submit a unit that reports the `synchronous` setting its batch commits under (1 NORMAL,
    /// 2 FULL) and inserts `key`.
    fn probe(s: &SqliteStore, key: &'static str, d: Durability) -> mpsc::Receiver<i64> {
        let (tx, rx) = mpsc::channel();
        let job: Job = Box::new(move |c| {
            let level: i64 = c.query_row("PRAGMA synchronous", [], |r| r.get(0)).unwrap();
            c.execute("INSERT INTO meta (key, value) VALUES (?1, x'00')", [key]).unwrap();
            Box::new(move |committed| {
                assert!(committed);
                let _ = tx.send(level);
            })
        });
        assert!(s.submit(job, d));
        rx
    }

    /// Decision 36: a batch of volatile units only commits without waiting for fsync; one
    /// durable unit in a batch makes the whole batch's commit durable; either way the writes
    /// are committed and seen by readers.
    #[test]
    fn only_a_batch_of_volatile_units_commits_unsynced() {
        let (s, dir) = store();
        assert_eq!(probe(&s, "v1", Durability::Volatile).recv().unwrap(), 1, "volatile alone: NORMAL");
        let between: i64 = s.lock().query_row("PRAGMA synchronous", [], |r| r.get(0)).unwrap();
        assert_eq!(between, 2, "FULL again between batches (inspection writes are durable)");
        assert_eq!(probe(&s, "d1", Durability::Durable).recv().unwrap(), 2, "durable: FULL again");
        // Hold the writer in one unit so that the next two are queued together: one batch.
        let (started_tx, started) = mpsc::channel();
        let (release, gate) = mpsc::channel::<()>();
        let held: Job = Box::new(move |_| {
            started_tx.send(()).unwrap();
            gate.recv().unwrap();
            Box::new(|_| {})
        });
        assert!(s.submit(held, Durability::Volatile));
        started.recv().unwrap();
        let v = probe(&s, "v2", Durability::Volatile);
        let d = probe(&s, "d2", Durability::Durable);
        release.send(()).unwrap();
        assert_eq!((v.recv().unwrap(), d.recv().unwrap()), (2, 2), "a mixed batch commits durably");
        assert_eq!(probe(&s, "v3", Durability::Volatile).recv().unwrap(), 1);
        let seen: i64 = s
            .readers()
            .get()
            .query_row("SELECT COUNT(*) FROM meta WHERE key IN ('v1', 'd1', 'v2', 'd2', 'v3')", [], |r| r.get(0))
            .unwrap();
        assert_eq!(seen, 5);
        drop(s);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn readers_see_what_the_writer_committed_and_a_panicking_unit_is_rolled_back() {
        let (s, dir) = store();
        let before = s.commits();
        let ok = run(&s, |c| c.execute("INSERT INTO meta (key, value) VALUES ('a', x'01')", []).map(|_| ()));
        assert_eq!(ok, Some(true));
        assert_eq!(s.commits(), before + 1);
        let seen: i64 =
            s.readers().get().query_row("SELECT COUNT(*) FROM meta WHERE key = 'a'", [], |r| r.get(0)).unwrap();
        assert_eq!(seen, 1);
        // A unit that writes and then panics: no answer (the caller maps that to an internal
        // error) and nothing of it is kept; the writer goes on.
        let answer = run(&s, |c| {
            c.execute("INSERT INTO meta (key, value) VALUES ('b', x'02')", [])?;
            panic!("handler bug");
        });
        assert_eq!(answer, None);
        assert_eq!(
            run(&s, |c| c.execute("INSERT INTO meta (key, value) VALUES ('c', x'03')", []).map(|_| ())),
            Some(true)
        );
        let keys: Vec<String> = {
            let r = s.readers().get();
            let mut st = r.prepare("SELECT key FROM meta WHERE key IN ('a', 'b', 'c') ORDER BY key").unwrap();
            st.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
        };
        assert_eq!(keys, ["a", "c"]);
        // Readers are read-only.
        assert!(s.readers().get().execute("DELETE FROM meta", []).is_err());
        drop(s);
        let _ = std::fs::remove_dir_all(dir);
    }

    /// Handlers run inside the writer's transaction, where `BEGIN` fails at run time: every
    /// nested unit must be a savepoint. Checked over the sources so that a new handler using
    /// `conn.transaction()` fails here, not in production (the migrations in `db.rs` run before
    /// the writer exists).
    #[test]
    fn no_handler_opens_a_transaction() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut offenders = Vec::new();
        let mut dirs = vec![root.clone()];
        while let Some(d) = dirs.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    dirs.push(p);
                } else if p.extension().is_some_and(|x| x == "rs")
                    && !p.ends_with("db.rs")
                    && !p.ends_with("store.rs")
                    && !p.ends_with("pg.rs")
                {
                    let text = std::fs::read_to_string(&p).unwrap();
                    for (i, line) in text.lines().enumerate() {
                        if line.contains(".transaction()")
                            || line.contains(".transaction_with_behavior(")
                            || line.contains(".unchecked_transaction(")
                        {
                            offenders.push(format!("{}:{}", p.display(), i + 1));
                        }
                    }
                }
            }
        }
        assert!(offenders.is_empty(), "use conn.savepoint() inside units of work: {offenders:?}");
    }

    /// A unit that answers an error keeps what it wrote (a consumed nonce stays consumed).
    #[test]
    fn a_unit_that_fails_keeps_its_writes() {
        let (s, dir) = store();
        let answer = run(&s, |c| {
            c.execute("INSERT INTO meta (key, value) VALUES ('kept', x'01')", [])?;
            c.execute("INSERT INTO no_such_table VALUES (1)", []).map(|_| ())
        });
        assert_eq!(answer, Some(false));
        let n: i64 =
            s.readers().get().query_row("SELECT COUNT(*) FROM meta WHERE key = 'kept'", [], |r| r.get(0)).unwrap();
        assert_eq!(n, 1);
        drop(s);
        let _ = std::fs::remove_dir_all(dir);
    }
}
