//! PostgreSQL: schema migrations (files under `server/migrations/postgres/`, applied in order at
//! start and recorded in `schema_migrations`) and opening the pool (decision 41).
//!
//! Several server processes may start at once on one database: migrating and seeding run under
//! a session advisory lock, so exactly one applies each migration and the others wait and find
//! it applied.

use crate::config::ServerError;
use crate::sql::Connection;
use crate::store::{PgStore, Pool};

/// The migrations, in order: (version, file name, SQL).
pub const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "0001_initial.sql", include_str!("../migrations/postgres/0001_initial.sql")),
    (2, "0002_access_log_dashboard.sql", include_str!("../migrations/postgres/0002_access_log_dashboard.sql")),
    (3, "0003_recovery.sql", include_str!("../migrations/postgres/0003_recovery.sql")),
    (4, "0004_case_number_sequence.sql", include_str!("../migrations/postgres/0004_case_number_sequence.sql")),
    (5, "0005_register_corrections.sql", include_str!("../migrations/postgres/0005_register_corrections.sql")),
    (6, "0006_remote_lock.sql", include_str!("../migrations/postgres/0006_remote_lock.sql")),
    (7, "0007_delegation.sql", include_str!("../migrations/postgres/0007_delegation.sql")),
];

/// Advisory lock key held while migrating ("citizen" in ASCII).
const MIGRATION_LOCK: i64 = 0x0063_6974_697a_656e;

/// Whether a `--database` value names PostgreSQL.
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// Bring the schema up to date and seed the register; refuses a database newer than this
/// server.
pub fn migrate(conn: &Connection) -> Result<(), ServerError> {
    conn.execute_batch(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"))?;
    let r = migrate_locked(conn);
    let _ = conn.execute_batch(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"));
    r
}

fn migrate_locked(conn: &Connection) -> Result<(), ServerError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version    BIGINT PRIMARY KEY,
            name       TEXT NOT NULL,
            applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
        )",
    )?;
    let applied: i64 = conn.query_row("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", [], |r| r.get(0))?;
    let newest = MIGRATIONS.last().map_or(0, |m| m.0);
    if applied > newest {
        return Err(ServerError::Config(format!(
            "PostgreSQL schema version {applied} is newer than this server ({newest})"
        )));
    }
    for (version, name, sql) in MIGRATIONS.iter().filter(|m| m.0 > applied) {
        conn.execute_batch("BEGIN")?;
        let r = conn.execute_batch(sql).and_then(|()| {
            conn.execute(
                "INSERT INTO schema_migrations (version, name) VALUES (?1, ?2)",
                crate::sql::params![*version, *name],
            )
        });
        match r {
            Ok(_) => conn.execute_batch("COMMIT")?,
            Err(e) => {
                let _ = conn.execute_batch("ROLLBACK");
                return Err(ServerError::Config(format!("PostgreSQL migration {name} failed: {e}")));
            }
        }
        tracing::info!(version, name, "PostgreSQL migration applied");
    }
    crate::register::seed(conn)?;
    Ok(())
}

/// Connect, migrate, and return the store with a pool of `pool_size` connections and a
/// connection for the start-up work (secrets).
pub fn open(url: &str, pool_size: usize) -> Result<(PgStore, Connection), ServerError> {
    let conn = Pool::connect(url).map_err(|e| ServerError::Config(format!("cannot connect to PostgreSQL: {e}")))?;
    migrate(&conn)?;
    Ok((PgStore::new(url, pool_size), conn))
}
