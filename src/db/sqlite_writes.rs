//! Write transactions on SQLite in one round trip to the writer connection: `BEGIN IMMEDIATE`,
//! the statements and `COMMIT` go as one string. Through sea-orm's transaction API each of them
//! (and each read in between) is a hand-off to sqlx's connection thread and back, and the write
//! lock is held across all those hand-offs; here it is held for the statements' own work.
//!
//! Callers read what they need first (from the fast readers, outside the transaction) and make
//! the writes conditional on it: a version check, or a unique key that fails when a concurrent
//! writer got there first. A failed statement rolls the whole transaction back.

use sea_orm::sqlx::{self, Sqlite, pool::PoolConnection, sqlite::SqlitePool};
use sea_orm::{DatabaseBackend, DatabaseConnection, DbErr, RuntimeErr, Statement};
use sea_query_sqlx::SqlxValues;

/// The writer pool of a SQLite database.
#[derive(Clone)]
pub struct SqliteWrites {
    pool: SqlitePool,
}

impl SqliteWrites {
    /// The one-trip writer for `db`, when it is SQLite.
    pub fn of(db: &DatabaseConnection) -> Option<Self> {
        (db.get_database_backend() == DatabaseBackend::Sqlite).then(|| SqliteWrites {
            pool: db.get_sqlite_connection_pool().clone(),
        })
    }

    /// Applies every statement or none, in one round trip.
    pub async fn apply(&self, statements: Vec<Statement>) -> Result<(), DbErr> {
        self.run(statements, Commit::InTheSameTrip).await.map(drop)
    }

    /// Runs `first` (a write with `RETURNING`) and then `rest`, and keeps them only when `first`
    /// returned a row; answers whether it did. Two round trips: the batch, then COMMIT or
    /// ROLLBACK.
    pub async fn apply_if_returned(
        &self,
        first: Statement,
        rest: Vec<Statement>,
    ) -> Result<bool, DbErr> {
        let statements = std::iter::once(first).chain(rest).collect();
        self.run(statements, Commit::WhenFirstReturned).await
    }

    /// Runs in a task of its own: a request that goes away mid-write can't leave the connection
    /// inside an open transaction.
    async fn run(&self, statements: Vec<Statement>, commit: Commit) -> Result<bool, DbErr> {
        let pool = self.pool.clone();
        tokio::spawn(async move {
            let mut conn = pool.acquire().await.map_err(connection_error)?;
            let mut all = Vec::with_capacity(statements.len() + 2);
            all.push(plain("BEGIN IMMEDIATE"));
            all.extend(statements);
            if commit == Commit::InTheSameTrip {
                all.push(plain("COMMIT"));
            }
            let batch = crate::domain::joined(DatabaseBackend::Sqlite, all);
            let values = batch
                .values
                .unwrap_or(sea_orm::sea_query::Values(Vec::new()));
            let outcome = sqlx::query_with(sqlx::AssertSqlSafe(batch.sql), SqlxValues(values))
                .fetch_all(&mut *conn)
                .await;
            let rows = match outcome {
                Ok(rows) => rows,
                Err(e) => {
                    end(&mut conn, "ROLLBACK").await;
                    return Err(exec_error(e));
                }
            };
            match commit {
                Commit::InTheSameTrip => Ok(true),
                Commit::WhenFirstReturned if rows.is_empty() => {
                    end(&mut conn, "ROLLBACK").await;
                    Ok(false)
                }
                Commit::WhenFirstReturned => {
                    if let Err(e) = sqlx::raw_sql("COMMIT").execute(&mut *conn).await {
                        end(&mut conn, "ROLLBACK").await;
                        return Err(exec_error(e));
                    }
                    Ok(true)
                }
            }
        })
        .await
        .map_err(|e| DbErr::Custom(format!("the write task failed: {e}")))?
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Commit {
    InTheSameTrip,
    WhenFirstReturned,
}

fn plain(sql: &str) -> Statement {
    Statement::from_string(DatabaseBackend::Sqlite, sql)
}

/// Ends the transaction if one is open (after a failed BEGIN there is none: that error is moot).
async fn end(conn: &mut PoolConnection<Sqlite>, how: &'static str) {
    if let Err(e) = sqlx::raw_sql(sqlx::AssertSqlSafe(how))
        .execute(&mut **conn)
        .await
    {
        tracing::debug!(error = %e, "{how} after a failed write");
    }
}

fn exec_error(e: sqlx::Error) -> DbErr {
    DbErr::Exec(RuntimeErr::SqlxError(std::sync::Arc::new(e)))
}

fn connection_error(e: sqlx::Error) -> DbErr {
    DbErr::Conn(RuntimeErr::SqlxError(std::sync::Arc::new(e)))
}
