//! The handles the domain reads and writes through: the pools, and on a SQLite file its fast
//! readers, the group-committing writer and the checkpoints beside it.

use std::sync::Arc;

use sea_orm::{
    ConnectionTrait, DatabaseBackend, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr,
    Statement,
};

use super::postgres_lanes::{Lanes, Target};
use super::postgres_reads::PostgresReads;
use super::postgres_writes::{Handed, PostgresWrites};
use super::rows::{Cost, Fetch, FromCells, fetch_with};
use super::sqlite_checkpoints;
use super::statements::{begin_write, execute_all, write_returning};
use super::{SqliteReads, SqliteWrites};

/// The file of a SQLite pool; `None` on PostgreSQL and for an in-memory database (only its pool
/// sees it, so neither the fast readers nor the checkpoint thread can open it).
fn sqlite_file(pool: &DatabaseConnection) -> Option<std::path::PathBuf> {
    if pool.get_database_backend() != DatabaseBackend::Sqlite {
        return None;
    }
    let options = pool.get_sqlite_connection_pool().connect_options();
    let path = options.get_filename();
    let name = path.to_string_lossy();
    let in_memory = name.is_empty() || name.starts_with(":memory:") || name.starts_with("file:");
    (!in_memory).then(|| path.to_path_buf())
}

/// The pool for reads outside transactions, with fast readers beside it: SQLite's when the
/// database is a file (see `sqlite_reads`), PostgreSQL's pipelined lanes for point reads (see
/// `postgres_reads`).
#[derive(Clone)]
pub struct Reads {
    pool: DatabaseConnection,
    sqlite: Option<Arc<SqliteReads>>,
    postgres: Option<Arc<PostgresReads>>,
}

impl Reads {
    /// Over the pool opened from `url`, with `postgres_lanes` lanes on PostgreSQL.
    pub fn new(pool: DatabaseConnection, url: &str, postgres_lanes: usize) -> Self {
        let target = postgres_target(&pool, url);
        Reads::over(pool, target.as_ref(), postgres_lanes)
    }

    fn over(pool: DatabaseConnection, target: Option<&Arc<Target>>, lanes: usize) -> Self {
        let sqlite = sqlite_file(&pool)
            .and_then(|file| SqliteReads::for_file(&file))
            .map(Arc::new);
        let postgres = target
            .and_then(|target| PostgresReads::new(target, lanes))
            .map(Arc::new);
        Reads {
            pool,
            sqlite,
            postgres,
        }
    }

    pub fn pool(&self) -> &DatabaseConnection {
        &self.pool
    }

    pub fn sqlite(&self) -> Option<&SqliteReads> {
        self.sqlite.as_deref()
    }

    /// How many point reads PostgreSQL's lanes have answered; `None` without lanes.
    pub fn postgres_lane_reads(&self) -> Option<u64> {
        self.postgres.as_ref().map(|lanes| lanes.counts().0)
    }

    /// How many of PostgreSQL's lanes are connected now; `None` without lanes.
    pub fn postgres_lanes_connected(&self) -> Option<usize> {
        self.postgres.as_ref().map(|lanes| lanes.connected())
    }
}

/// What PostgreSQL's lanes did: point reads and write transactions, each as (ran on a lane,
/// handed to the pool), and how many lanes of each kind are connected.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LaneCounts {
    pub reads: (u64, u64),
    pub writes: (u64, u64),
    pub reads_connected: usize,
    pub writes_connected: usize,
}

impl LaneCounts {
    /// `None` when neither side has lanes.
    pub fn of(reads: &Reads, writer: &Writer) -> Option<Self> {
        let (r, w) = (reads.postgres.as_deref(), writer.postgres.as_deref());
        if r.is_none() && w.is_none() {
            return None;
        }
        Some(LaneCounts {
            reads: r.map(PostgresReads::counts).unwrap_or_default(),
            writes: w.map(PostgresWrites::counts).unwrap_or_default(),
            reads_connected: r.map_or(0, PostgresReads::connected),
            writes_connected: w.map_or(0, PostgresWrites::connected),
        })
    }
}

/// The read and write handles over their pools, opened from `url`: on PostgreSQL with the
/// lanes asked for, all to one target (the URL read and TLS set up once).
pub fn handles(
    reads: DatabaseConnection,
    writes: DatabaseConnection,
    url: &str,
    lanes: Lanes,
) -> (Reads, Writer) {
    let target = postgres_target(&reads, url);
    (
        Reads::over(reads, target.as_ref(), lanes.reads),
        Writer::over(writes, target.as_ref(), lanes.writes),
    )
}

/// Where PostgreSQL's lanes connect: the pool's URL, when the pool is PostgreSQL's.
fn postgres_target(pool: &DatabaseConnection, url: &str) -> Option<Arc<Target>> {
    (pool.get_database_backend() == DatabaseBackend::Postgres)
        .then(|| Target::for_url(url))
        .flatten()
}

/// The write side: the pool for write transactions and, on SQLite, the group-committing
/// one-trip writer over it (see `sqlite_writes`); on PostgreSQL, lanes that pipeline a
/// transaction (see `postgres_writes`).
#[derive(Clone)]
pub struct Writer {
    pool: DatabaseConnection,
    sqlite: Option<SqliteWrites>,
    postgres: Option<Arc<PostgresWrites>>,
    _checkpoints: Option<Arc<sqlite_checkpoints::SqliteCheckpoints>>,
}

impl Writer {
    /// Over the pool opened from `url`, with `postgres_lanes` lanes on PostgreSQL. Starts the
    /// SQLite writer's task on the current runtime (without one, every write takes the
    /// transaction path).
    pub fn new(pool: DatabaseConnection, url: &str, postgres_lanes: usize) -> Self {
        let target = postgres_target(&pool, url);
        Writer::over(pool, target.as_ref(), postgres_lanes)
    }

    fn over(pool: DatabaseConnection, target: Option<&Arc<Target>>, lanes: usize) -> Self {
        let sqlite = SqliteWrites::of(&pool);
        let checkpoints = sqlite_file(&pool)
            .and_then(|file| sqlite_checkpoints::SqliteCheckpoints::for_file(&file))
            .map(Arc::new);
        let postgres = target
            .and_then(|target| PostgresWrites::new(target, lanes))
            .map(Arc::new);
        Writer {
            pool,
            sqlite,
            postgres,
            _checkpoints: checkpoints,
        }
    }

    pub fn pool(&self) -> &DatabaseConnection {
        &self.pool
    }

    /// How many transactions PostgreSQL's lanes have run; `None` without lanes.
    pub fn postgres_lane_writes(&self) -> Option<u64> {
        self.postgres.as_ref().map(|lanes| lanes.counts().0)
    }

    /// Reads what a write needs with `plan`, then writes the statements it returns, all or none.
    /// With a fast writer (SQLite's, PostgreSQL's lanes) `plan` reads from the fast readers and
    /// the statements go in one round trip (a conditional statement or a unique key catches a
    /// change in between); through the pool `plan` reads in the transaction that writes, on
    /// one pooled connection (each connection checked out and back costs a task).
    pub async fn apply_planned<T, E>(
        &self,
        reads: &Reads,
        plan: impl AsyncFnOnce(&PlanReads<'_>) -> Result<(T, Vec<Statement>), E>,
    ) -> Result<T, Planned<E>> {
        if let Some(sqlite) = &self.sqlite {
            let (planned, statements) =
                plan(&PlanReads::Fast(reads)).await.map_err(Planned::Plan)?;
            sqlite.apply(statements).await.map_err(Planned::Write)?;
            return Ok(planned);
        }
        if let Some(lanes) = &self.postgres {
            let (planned, statements) =
                plan(&PlanReads::Fast(reads)).await.map_err(Planned::Plan)?;
            let written = match lanes.transaction(statements).await {
                Ok(written) => written,
                Err(Handed(statements)) => self.in_transaction(statements).await,
            };
            return written.map(|()| planned).map_err(Planned::Write);
        }
        let txn = begin_write(&self.pool).await.map_err(Planned::Write)?;
        let (planned, statements) = match plan(&PlanReads::Transaction(&txn)).await {
            Ok(plan) => plan,
            Err(e) => {
                let _ = txn.rollback().await;
                return Err(Planned::Plan(e));
            }
        };
        commit_all(txn, statements)
            .await
            .map(|()| planned)
            .map_err(Planned::Write)
    }

    /// Planned statements in a pool transaction, all or none.
    async fn in_transaction(&self, statements: Vec<Statement>) -> Result<(), DbErr> {
        commit_all(begin_write(&self.pool).await?, statements).await
    }

    /// Runs `first` (a write with `RETURNING`, such as an update that matches only the version
    /// read) and then `rest`, and keeps them only when `first` returned a row; answers whether
    /// it did. Same paths as `apply_planned`.
    pub async fn apply_if_returned(
        &self,
        first: Statement,
        rest: Vec<Statement>,
    ) -> Result<bool, DbErr> {
        if let Some(sqlite) = &self.sqlite {
            return sqlite.apply_if_returned(first, rest).await;
        }
        let (first, rest) = match &self.postgres {
            Some(lanes) => match lanes.if_returned(first, rest).await {
                Ok(written) => return written,
                Err(Handed(mut statements)) => {
                    let first = statements.remove(0);
                    (first, statements)
                }
            },
            None => (first, rest),
        };
        let txn = begin_write(&self.pool).await?;
        let written = write_returning(&txn, first, rest)
            .await
            .map(|returned| returned > 0);
        match written {
            Ok(true) => {
                txn.commit().await?;
                Ok(true)
            }
            Ok(false) => {
                txn.rollback().await?;
                Ok(false)
            }
            Err(e) => {
                let _ = txn.rollback().await;
                Err(e)
            }
        }
    }
}

/// Runs `statements` in `txn` and commits, or rolls back at the first error.
async fn commit_all(txn: DatabaseTransaction, statements: Vec<Statement>) -> Result<(), DbErr> {
    match execute_all(&txn, statements).await {
        Ok(()) => txn.commit().await,
        Err(e) => {
            let _ = txn.rollback().await;
            Err(e)
        }
    }
}

/// Reads go to the fast readers where there are some.
impl Fetch for Reads {
    fn backend(&self) -> DbBackend {
        self.pool().get_database_backend()
    }
    async fn fetch<T: FromCells>(&self, stmt: Statement, cost: Cost) -> Result<Vec<T>, DbErr> {
        if let Some(fast) = self.sqlite() {
            return fast.fetch(stmt, cost).await;
        }
        if cost == Cost::Point
            && let Some(lanes) = &self.postgres
            && let Ok(answer) = lanes.fetch(&stmt).await
        {
            return answer;
        }
        fetch_with(self.pool(), stmt).await
    }
}

/// Where a planned write reads (see `Writer::apply_planned`).
pub enum PlanReads<'a> {
    Fast(&'a Reads),
    Transaction(&'a DatabaseTransaction),
}

impl Fetch for PlanReads<'_> {
    fn backend(&self) -> DbBackend {
        match self {
            PlanReads::Fast(reads) => reads.backend(),
            PlanReads::Transaction(txn) => txn.get_database_backend(),
        }
    }

    async fn fetch<T: FromCells>(&self, stmt: Statement, cost: Cost) -> Result<Vec<T>, DbErr> {
        match self {
            PlanReads::Fast(reads) => reads.fetch(stmt, cost).await,
            PlanReads::Transaction(txn) => fetch_with(*txn, stmt).await,
        }
    }
}

/// Why a planned write failed: its plan, or the write.
#[derive(Debug)]
pub enum Planned<E> {
    Plan(E),
    Write(DbErr),
}
