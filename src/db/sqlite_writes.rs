//! Write transactions on SQLite in one round trip to the writer connection: `BEGIN IMMEDIATE`,
//! the statements and `COMMIT` go as one string. Through sea-orm's transaction API each of them
//! (and each read in between) is a hand-off to sqlx's connection thread and back, and the write
//! lock is held across all those hand-offs; here it is held for the statements' own work.
//!
//! Callers read what they need first (from the fast readers, outside the transaction) and make
//! the writes conditional on it: a version check, or a unique key that fails when a concurrent
//! writer got there first. A failed statement rolls the whole transaction back.
//!
//! Hand-written for speed, on purpose. Measured with `scim-bench run` when the group commit came
//! in: creates 2.3–2.5k → 4.6–5.1k/s, PATCHes 2.6–2.9k → 6.1–6.7k/s. Pinned to the transaction
//! path (`db::Writer` without this writer, as on PostgreSQL) by the same tests on both
//! databases: `scim_users::concurrent_creates_and_patches_lose_nothing`,
//! `concurrency::two_processes_on_one_database_lose_no_update` and the crash tests.

use sea_orm::sqlx::{self, Sqlite, pool::PoolConnection, sqlite::SqlitePool};
use sea_orm::{DatabaseBackend, DatabaseConnection, DbErr, RuntimeErr, Statement};
use sea_query_sqlx::SqlxValues;
use tokio::sync::{mpsc, oneshot};

/// Write jobs queued at most (senders wait beyond it).
const QUEUE: usize = 1024;
/// Jobs committed together at most.
const GROUP: usize = 64;
/// Groups up to this many jobs keep their statement string prepared.
const PREPARED_GROUP: usize = 8;

/// The one-trip writer of a SQLite database.
///
/// Jobs queue to one task that owns the writer connection while there is work: it sends the
/// jobs waiting at that moment as one transaction (group commit: one BEGIN, one COMMIT, one WAL
/// write for all), and answers each after the COMMIT. A job that fails inside a group (a unique
/// key taken, a version that moved) rolls the group back, and each of its jobs then runs in a
/// transaction of its own, so every job gets its own outcome and none sees another's failure.
#[derive(Clone)]
pub struct SqliteWrites {
    jobs: mpsc::Sender<Job>,
}

struct Job {
    statements: Vec<Statement>,
    commit: Commit,
    answer: oneshot::Sender<Result<bool, DbErr>>,
}

impl SqliteWrites {
    /// The one-trip writer over `db` when it is SQLite (its task runs on the current runtime).
    pub fn of(db: &DatabaseConnection) -> Option<Self> {
        if db.get_database_backend() != DatabaseBackend::Sqlite {
            return None;
        }
        let runtime = tokio::runtime::Handle::try_current().ok()?;
        let (jobs, queue) = mpsc::channel(QUEUE);
        runtime.spawn(write_jobs(db.get_sqlite_connection_pool().clone(), queue));
        Some(SqliteWrites { jobs })
    }

    /// Applies every statement or none, in one round trip.
    pub async fn apply(&self, statements: Vec<Statement>) -> Result<(), DbErr> {
        self.run(statements, Commit::Always).await.map(drop)
    }

    /// Runs `first` (a write with `RETURNING`) and then `rest`, and keeps them only when `first`
    /// returned a row; answers whether it did.
    pub async fn apply_if_returned(
        &self,
        first: Statement,
        rest: Vec<Statement>,
    ) -> Result<bool, DbErr> {
        let statements = std::iter::once(first).chain(rest).collect();
        self.run(statements, Commit::WhenFirstReturned).await
    }

    async fn run(&self, statements: Vec<Statement>, commit: Commit) -> Result<bool, DbErr> {
        let (answer, answered) = oneshot::channel();
        let job = Job {
            statements,
            commit,
            answer,
        };
        let gone = || DbErr::Custom("the SQLite writer has stopped".into());
        self.jobs.send(job).await.map_err(|_| gone())?;
        answered.await.map_err(|_| gone())?
    }
}

/// The writer task: takes the jobs waiting, commits them together, answers them.
async fn write_jobs(pool: SqlitePool, mut queue: mpsc::Receiver<Job>) {
    let mut group = Vec::with_capacity(GROUP);
    while queue.recv_many(&mut group, GROUP).await > 0 {
        let jobs = std::mem::take(&mut group);
        let mut conn = match pool.acquire().await {
            Ok(conn) => conn,
            Err(e) => {
                let e = connection_error(e);
                for job in jobs {
                    let _ = job.answer.send(Err(clone_error(&e)));
                }
                continue;
            }
        };
        if jobs.len() > 1 {
            let all = jobs.iter().flat_map(|job| job.guarded_statements());
            // A small group's string recurs (the same few kinds of job): kept prepared. A large
            // one is one of countless compositions: prepared for this run only (its cost is shared
            // by many jobs), so sqlx's statement cache never holds hundreds of statements each.
            let keep_prepared = jobs.len() <= PREPARED_GROUP;
            if run_batch(&mut conn, all, true, keep_prepared).await.is_ok() {
                for job in jobs {
                    let _ = job.answer.send(Ok(true));
                }
                continue;
            }
        }
        for job in jobs {
            let outcome = run_alone(&mut conn, job.statements, job.commit).await;
            let _ = job.answer.send(outcome);
        }
    }
}

impl Job {
    /// The job's statements for a group: a conditional job fails (and takes the group back to
    /// one-by-one) when its first statement changed no row.
    fn guarded_statements(&self) -> impl Iterator<Item = Statement> + '_ {
        let mut statements: Vec<Statement> = self.statements.clone();
        if self.commit == Commit::WhenFirstReturned {
            // json() of a non-JSON text is an error: the only way plain SQL can refuse to go on.
            statements.insert(
                1,
                plain("SELECT json(CASE changes() WHEN 0 THEN 'missed' ELSE '0' END)"),
            );
        }
        statements.into_iter()
    }
}

/// One job in a transaction of its own: BEGIN IMMEDIATE, the statements and COMMIT in one trip,
/// or for a conditional job the statements, then COMMIT or ROLLBACK.
async fn run_alone(
    conn: &mut PoolConnection<Sqlite>,
    statements: Vec<Statement>,
    commit: Commit,
) -> Result<bool, DbErr> {
    let rows = run_batch(conn, statements, commit == Commit::Always, true).await?;
    if commit == Commit::Always {
        return Ok(true);
    }
    let keep = rows > 0;
    if let Err(e) = sqlx::raw_sql(if keep { "COMMIT" } else { "ROLLBACK" })
        .execute(&mut **conn)
        .await
    {
        end(conn).await;
        return Err(exec_error(e));
    }
    Ok(keep)
}

/// Sends BEGIN IMMEDIATE and the statements (and COMMIT) as one string; answers the number of
/// rows they returned. On an error the transaction is rolled back.
async fn run_batch(
    conn: &mut PoolConnection<Sqlite>,
    statements: impl IntoIterator<Item = Statement>,
    with_commit: bool,
    keep_prepared: bool,
) -> Result<usize, DbErr> {
    let begin = std::iter::once(plain("BEGIN IMMEDIATE"));
    let commit = with_commit.then(|| plain("COMMIT"));
    let batch = super::statements::joined(
        DatabaseBackend::Sqlite,
        begin.chain(statements).chain(commit),
    );
    let values = batch
        .values
        .unwrap_or(sea_orm::sea_query::Values(Vec::new()));
    match sqlx::query_with(sqlx::AssertSqlSafe(batch.sql), SqlxValues(values))
        .persistent(keep_prepared)
        .fetch_all(&mut **conn)
        .await
    {
        Ok(rows) => Ok(rows.len()),
        Err(e) => {
            end(conn).await;
            Err(exec_error(e))
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Commit {
    Always,
    WhenFirstReturned,
}

fn plain(sql: &str) -> Statement {
    Statement::from_string(DatabaseBackend::Sqlite, sql)
}

/// Rolls back the transaction if one is open (after a failed BEGIN there is none: that error
/// is moot).
async fn end(conn: &mut PoolConnection<Sqlite>) {
    if let Err(e) = sqlx::raw_sql("ROLLBACK").execute(&mut **conn).await {
        tracing::debug!(error = %e, "rollback after a failed write");
    }
}

/// The same failure for every job of a group that could not start.
fn clone_error(e: &DbErr) -> DbErr {
    DbErr::Custom(e.to_string())
}

fn exec_error(e: sqlx::Error) -> DbErr {
    DbErr::Exec(RuntimeErr::SqlxError(std::sync::Arc::new(e)))
}

fn connection_error(e: sqlx::Error) -> DbErr {
    DbErr::Conn(RuntimeErr::SqlxError(std::sync::Arc::new(e)))
}
