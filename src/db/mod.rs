//! Connecting to SQLite (default, embedded) or PostgreSQL, and applying migrations.

use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection, DbErr,
    Statement, TransactionTrait,
};

mod errors;
mod handles;
mod postgres_lanes;
mod postgres_reads;
mod postgres_writes;
pub mod prepared;
pub mod rows;
mod sqlite_checkpoints;
mod sqlite_reads;
mod sqlite_writes;
mod statements;

pub use errors::{is_retryable, is_unavailable, unique_violation};
pub use handles::{LaneCounts, PlanReads, Planned, Reads, Writer, handles};
pub use postgres_lanes::Lanes;
pub use sqlite_reads::SqliteReads;
pub use sqlite_writes::SqliteWrites;
pub use statements::{begin_write, execute_all, for_update, lock_rows, write_returning};

pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/scim-gateway.db?mode=rwc";

/// SQLite page cache per connection, in KiB: the read pool's connections serve the colder reads
/// (the hot SCIM reads have their own readers); the writer keeps SQLite's default.
const READ_CACHE_KIB: u32 = 1024;
const WRITE_CACHE_KIB: u32 = 2000;
/// WAL pages at which a committing connection checkpoints by itself: a backstop, 10 times
/// SQLite's default, as `sqlite_checkpoints` does the checkpoints beside the writer.
const AUTOCHECKPOINT_PAGES: u32 = 10_000;
/// Bytes the WAL file keeps when SQLite starts it over after a checkpoint: a burst (a large
/// push, a restore) does not leave a large file behind.
const WAL_KEPT_BYTES: u64 = 64 * 1024 * 1024;

/// Opens a pool. SQLite runs in WAL mode with foreign keys on and a busy timeout, so readers
/// never wait for the writer and writers wait for each other instead of failing.
pub async fn connect(url: &str, max_connections: u32) -> Result<DatabaseConnection, DbErr> {
    open(url, max_connections, READ_CACHE_KIB).await
}

async fn open(
    url: &str,
    max_connections: u32,
    cache_kib: u32,
) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(url.to_string());
    options
        .max_connections(max_connections.max(1))
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(10))
        .sqlx_logging(false)
        .test_before_acquire(false);
    if url.starts_with("sqlite:") {
        ensure_sqlite_dir(url)
            .map_err(|e| DbErr::Custom(format!("cannot create the database folder: {e}")))?;
        options.map_sqlx_sqlite_opts(move |opts| {
            opts.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10))
                // LIKE compares as PostgreSQL does, so SCIM filters behave the same on both.
                .pragma("case_sensitive_like", "ON")
                .pragma("cache_size", format!("-{cache_kib}"))
                .pragma("wal_autocheckpoint", AUTOCHECKPOINT_PAGES.to_string())
                .pragma("journal_size_limit", WAL_KEPT_BYTES.to_string())
        });
    }
    Database::connect(options).await
}

/// The pool for write transactions: one connection on SQLite (writers take turns there anyway,
/// and an async queue beats SQLite's sleeping busy handler), the read pool on PostgreSQL.
pub async fn connect_writer(
    url: &str,
    reads: &DatabaseConnection,
) -> Result<DatabaseConnection, DbErr> {
    if url.starts_with("sqlite:") {
        open(url, 1, WRITE_CACHE_KIB).await
    } else {
        Ok(reads.clone())
    }
}

/// Creates the folder of a SQLite file so the default URL works on a fresh checkout.
fn ensure_sqlite_dir(url: &str) -> std::io::Result<()> {
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let path = path.split('?').next().unwrap_or("");
    if path.is_empty() || path.starts_with(":memory:") {
        return Ok(());
    }
    match std::path::Path::new(path).parent() {
        Some(dir) if !dir.as_os_str().is_empty() => std::fs::create_dir_all(dir),
        _ => Ok(()),
    }
}

/// Applies pending migrations. On PostgreSQL an advisory lock makes replicas that start together
/// take turns instead of racing on the same DDL.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    if db.get_database_backend() == DatabaseBackend::Postgres {
        let lock = db.begin().await?;
        lock.execute_raw(Statement::from_string(
            DatabaseBackend::Postgres,
            "SELECT pg_advisory_xact_lock(7261001)",
        ))
        .await?;
        let result = Migrator::up(db, None).await;
        lock.commit().await?;
        result
    } else {
        Migrator::up(db, None).await
    }
}

/// The database answers a trivial query.
pub async fn ping(db: &DatabaseConnection) -> Result<(), DbErr> {
    db.ping().await
}
