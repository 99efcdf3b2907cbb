//! Reads on SQLite without sqlx's connection threads: each thread that serves requests keeps its
//! own read-only rusqlite connection to the database file, with its prepared statements cached,
//! and runs a point read where it is: microseconds instead of several thread hand-offs. Scans
//! (pages, filters that may read many rows) go to a few threads of their own, so a long one
//! never holds up the requests of a server thread. Writes still go through sea-orm; WAL lets
//! these readers see each commit.
//!
//! Hand-written for speed, on purpose. Measured with `scim-bench instructions` on 2026-12-05,
//! with and without these readers: a lookup 83,000 against 148,000 instructions, a GET 75,500
//! against 139,600, a page of 100 users 2.86 M against 4.76 M. Pinned to sqlx's reads by
//! `tests/it/read_paths.rs` (`fast_and_pool_reads_give_identical_users`), which reads the
//! same users through both and compares them field by field.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::types::{Value as Sql, ValueRef};
use rusqlite::{Connection, OpenFlags, Row};
use sea_orm::sea_query::Value;
use sea_orm::{DbErr, Statement};

use crate::db::rows::{Cells, Cost, FromCells};

/// Statements kept prepared per connection (the hot reads and the filter shapes in use).
const STATEMENT_CACHE: usize = 128;
/// Page cache per reader connection, in KiB (SQLite's default is 2,000).
const CACHE_KIB: i64 = 1024;

/// Threads that run scans.
const SCAN_THREADS: usize = 2;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

type Job = Box<dyn FnOnce() + Send>;

thread_local! {
    /// This thread's connections, by the `SqliteReads` they belong to.
    static CONNECTIONS: RefCell<Vec<(u64, Connection)>> = const { RefCell::new(Vec::new()) };
}

pub struct SqliteReads {
    file: Database,
    /// Closing it (dropping the readers) ends the scan threads.
    scans: mpsc::Sender<Job>,
}

/// A database file, and the key of its connections in each thread.
#[derive(Clone, Debug)]
struct Database {
    id: u64,
    path: PathBuf,
}

impl SqliteReads {
    /// Readers for a database file; `None` when their threads can't start.
    pub fn for_file(path: &Path) -> Option<Self> {
        let (scans, jobs) = mpsc::channel::<Job>();
        let jobs = Arc::new(Mutex::new(jobs));
        for i in 0..SCAN_THREADS {
            let jobs = jobs.clone();
            std::thread::Builder::new()
                .name(format!("sqlite-scan-{i}"))
                .spawn(move || {
                    loop {
                        let job = jobs.lock().unwrap_or_else(|e| e.into_inner()).recv();
                        match job {
                            // A job that panics loses its answer (the request gets an error),
                            // not the thread.
                            Ok(job) => {
                                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                            }
                            Err(_) => break,
                        }
                    }
                })
                .ok()?;
        }
        Some(SqliteReads {
            file: Database {
                id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
                path: path.to_path_buf(),
            },
            scans,
        })
    }

    pub async fn fetch<T: FromCells>(&self, stmt: Statement, cost: Cost) -> Result<Vec<T>, DbErr> {
        if cost == Cost::Point {
            return self.file.query(&stmt, None);
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        let file = self.file.clone();
        // Dropped with the request (a timeout, a client gone): the scan stops where it is.
        let abandoned = Abandoned::default();
        let flag = abandoned.0.clone();
        let job: Job = Box::new(move || {
            if flag.load(Ordering::Relaxed) {
                return;
            }
            let _ = tx.send(file.query(&stmt, Some(flag)));
        });
        self.scans
            .send(job)
            .map_err(|_| DbErr::Custom("the SQLite scan threads have stopped".into()))?;
        let answer = rx
            .await
            .map_err(|_| DbErr::Custom("a SQLite scan ended without an answer".into()))?;
        drop(abandoned);
        answer
    }
}

/// Set when the future that waits for a scan is dropped; the scan's progress handler reads it.
#[derive(Default)]
struct Abandoned(Arc<AtomicBool>);

impl Drop for Abandoned {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Virtual machine steps between two looks at whether a scan's requester still waits (a few
/// microseconds of work).
const PROGRESS_STEPS: std::os::raw::c_int = 10_000;

impl Database {
    fn open(&self) -> rusqlite::Result<Connection> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(Duration::from_secs(10))?;
        // The same LIKE as the pool's connections and PostgreSQL; and this connection never writes.
        conn.execute_batch(&format!(
            "PRAGMA case_sensitive_like = ON; PRAGMA query_only = ON; PRAGMA cache_size = -{CACHE_KIB};"
        ))?;
        // Cached statements stay prepared across new bound values because the bundled SQLite is
        // built with QPSG on (`.cargo/config.toml`, checked by the test below).
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Ok(conn)
    }

    /// Runs `stmt` on this thread's connection; with `abandoned`, it is interrupted as soon as
    /// that is set.
    fn query<T: FromCells>(
        &self,
        stmt: &Statement,
        abandoned: Option<Arc<AtomicBool>>,
    ) -> Result<Vec<T>, DbErr> {
        let values = stmt.values.as_ref().map_or(&[][..], |v| &v.0[..]);
        let params = values.iter().map(to_sql).collect::<Result<Vec<_>, _>>()?;
        CONNECTIONS.with(|cell| {
            let mut conns = cell.borrow_mut();
            let index = match conns.iter().position(|(id, _)| *id == self.id) {
                Some(i) => i,
                None => {
                    conns.push((self.id, self.open().map_err(db_err)?));
                    conns.len() - 1
                }
            };
            let conn = &conns[index].1;
            let watched = abandoned.is_some();
            if let Some(flag) = abandoned {
                conn.progress_handler(PROGRESS_STEPS, Some(move || flag.load(Ordering::Relaxed)))
                    .map_err(db_err)?;
            }
            let read = (|| {
                let mut prepared = conn.prepare_cached(&stmt.sql).map_err(db_err)?;
                let mut rows = prepared
                    .query(rusqlite::params_from_iter(params.iter()))
                    .map_err(db_err)?;
                let mut out = Vec::new();
                while let Some(row) = rows.next().map_err(db_err)? {
                    out.push(T::from_cells(row)?);
                }
                Ok(out)
            })();
            if watched {
                conn.progress_handler(0, None::<fn() -> bool>)
                    .map_err(db_err)?;
            }
            read
        })
    }
}

fn db_err(e: rusqlite::Error) -> DbErr {
    DbErr::Custom(format!("SQLite read: {e}"))
}

/// A bound value as sqlx would bind it, so comparisons with stored values agree.
fn to_sql(value: &Value) -> Result<Sql, DbErr> {
    fn or_null<T>(v: &Option<T>, f: impl FnOnce(&T) -> Sql) -> Sql {
        v.as_ref().map_or(Sql::Null, f)
    }
    Ok(match value {
        Value::Bool(v) => or_null(v, |b| Sql::Integer(i64::from(*b))),
        Value::TinyInt(v) => or_null(v, |i| Sql::Integer(i64::from(*i))),
        Value::SmallInt(v) => or_null(v, |i| Sql::Integer(i64::from(*i))),
        Value::Int(v) => or_null(v, |i| Sql::Integer(i64::from(*i))),
        Value::BigInt(v) => or_null(v, |i| Sql::Integer(*i)),
        Value::TinyUnsigned(v) => or_null(v, |i| Sql::Integer(i64::from(*i))),
        Value::SmallUnsigned(v) => or_null(v, |i| Sql::Integer(i64::from(*i))),
        Value::Unsigned(v) => or_null(v, |i| Sql::Integer(i64::from(*i))),
        Value::BigUnsigned(v) => match v {
            Some(i) => Sql::Integer(
                i64::try_from(*i).map_err(|_| DbErr::Custom(format!("{i} is out of range")))?,
            ),
            None => Sql::Null,
        },
        Value::Float(v) => or_null(v, |f| Sql::Real(f64::from(*f))),
        Value::Double(v) => or_null(v, |f| Sql::Real(*f)),
        Value::String(v) => or_null(v, |s| Sql::Text(s.clone())),
        Value::Char(v) => or_null(v, |c| Sql::Text(c.to_string())),
        Value::Bytes(v) => or_null(v, |b| Sql::Blob(b.clone())),
        Value::Json(v) => or_null(v, |j| Sql::Text(j.to_string())),
        Value::ChronoDateTimeUtc(v) => or_null(v, |t| Sql::Text(stored_time(t))),
        other => {
            return Err(DbErr::Custom(format!(
                "a value of this kind is not read on SQLite: {other:?}"
            )));
        }
    })
}

/// How sqlx writes a timestamp into SQLite.
fn stored_time(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false)
}

impl Cells for Row<'_> {
    fn text(&self, i: usize) -> Result<String, DbErr> {
        self.get(i).map_err(db_err)
    }
    fn opt_text(&self, i: usize) -> Result<Option<String>, DbErr> {
        self.get(i).map_err(db_err)
    }
    fn int(&self, i: usize) -> Result<i64, DbErr> {
        self.get(i).map_err(db_err)
    }
    fn flag(&self, i: usize) -> Result<bool, DbErr> {
        self.get(i).map_err(db_err)
    }
    fn time(&self, i: usize) -> Result<DateTime<Utc>, DbErr> {
        self.read_text(i, |text| {
            DateTime::parse_from_rfc3339(text)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|e| DbErr::Custom(format!("stored time {text:?}: {e}")))
        })?
    }
    fn read_text<R>(&self, i: usize, read: impl FnOnce(&str) -> R) -> Result<R, DbErr> {
        match self.get_ref(i).map_err(db_err)? {
            ValueRef::Text(bytes) => std::str::from_utf8(bytes)
                .map(read)
                .map_err(|e| DbErr::Custom(format!("SQLite read: column {i}: {e}"))),
            ValueRef::Null => Ok(read("")),
            other => Err(DbErr::Custom(format!(
                "SQLite read: column {i} is {:?}, not text",
                other.data_type()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    /// `.cargo/config.toml` builds the bundled SQLite with QPSG on for every connection: these
    /// readers' and sqlx's.
    #[test]
    fn sqlite_is_built_with_stable_plans() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        let options: Vec<String> = conn
            .prepare("PRAGMA compile_options")
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(
            options.iter().any(|o| o == "ENABLE_QPSG"),
            "compile options: {options:?}"
        );
    }
}
