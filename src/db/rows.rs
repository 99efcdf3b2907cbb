//! Rows read by column index, whichever driver produced them: sea-orm (sqlx, in or out of a
//! transaction) or rusqlite (the SQLite fast readers). Each row shape then has one decoder.

use std::future::Future;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbBackend, DbErr, QueryResult, Statement};

pub trait Cells {
    fn text(&self, i: usize) -> Result<String, DbErr>;
    fn opt_text(&self, i: usize) -> Result<Option<String>, DbErr>;
    fn int(&self, i: usize) -> Result<i64, DbErr>;
    fn flag(&self, i: usize) -> Result<bool, DbErr>;
    fn time(&self, i: usize) -> Result<DateTime<Utc>, DbErr>;

    /// A text cell (NULL reads as ""), read in place where the driver allows it rather than
    /// copied into a String first: JSON columns and role names are parsed, not kept.
    fn read_text<R>(&self, i: usize, read: impl FnOnce(&str) -> R) -> Result<R, DbErr> {
        Ok(read(&self.opt_text(i)?.unwrap_or_default()))
    }
}

/// A row shape with one decoder for every driver.
pub trait FromCells: Sized + Send + 'static {
    fn from_cells(row: &impl Cells) -> Result<Self, DbErr>;
}

impl Cells for QueryResult {
    fn text(&self, i: usize) -> Result<String, DbErr> {
        self.try_get_by_index(i)
    }
    fn opt_text(&self, i: usize) -> Result<Option<String>, DbErr> {
        self.try_get_by_index(i)
    }
    fn int(&self, i: usize) -> Result<i64, DbErr> {
        self.try_get_by_index(i)
    }
    fn flag(&self, i: usize) -> Result<bool, DbErr> {
        self.try_get_by_index(i)
    }
    fn time(&self, i: usize) -> Result<DateTime<Utc>, DbErr> {
        self.try_get_by_index(i)
    }
}

/// How long a read may take: a point read (by key, one or a few rows) runs where it is; a
/// scan may run long and must not hold up the other requests of the thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cost {
    Point,
    Scan,
}

/// Runs a SELECT (built for `backend()`) and decodes its rows: a pool, a transaction, or the
/// fast readers.
pub trait Fetch: Sync {
    fn backend(&self) -> DbBackend;
    fn fetch<T: FromCells>(
        &self,
        stmt: Statement,
        cost: Cost,
    ) -> impl Future<Output = Result<Vec<T>, DbErr>> + Send;
}

pub(super) async fn fetch_with<T: FromCells>(
    db: &impl ConnectionTrait,
    stmt: Statement,
) -> Result<Vec<T>, DbErr> {
    let rows = db.query_all_raw(stmt).await?;
    rows.iter().map(T::from_cells).collect()
}

impl<C: ConnectionTrait + Sync> Fetch for C {
    fn backend(&self) -> DbBackend {
        self.get_database_backend()
    }
    async fn fetch<T: FromCells>(&self, stmt: Statement, _cost: Cost) -> Result<Vec<T>, DbErr> {
        fetch_with(self, stmt).await
    }
}
