//! Lanes: long-lived tokio-postgres connections beside sqlx's pool, for the statements that run
//! most (`postgres_reads`, `postgres_writes`). A lane connects in a task of its own (a request
//! never waits for a connection), prepares each statement once with the parameter types sqlx
//! would send (so it means what it means through the pool), and reports its server's errors as
//! sqlx errors with their SQLSTATE, so the domain reads them as it reads the pool's.
//!
//! Whatever a lane cannot do (not connected, a value of a kind it does not bind) it says so
//! before sending anything (`Unserved`), and the statement goes through the pool.

use std::borrow::Cow;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use chrono::{DateTime, Utc};
use foldhash::HashMap; // fast, seeded per process: looked up on every lane statement
use sea_orm::sea_query::Value;
use sea_orm::sqlx;
use sea_orm::{DbErr, RuntimeErr, Statement};
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use tokio_postgres::{Client, Row};

use crate::db::rows::Cells;

/// Statements kept prepared per lane (the hot statements and the point-read shapes in use).
const STATEMENT_CACHE: usize = 128;
/// How long a lane that could not connect leaves its statements to the pool before trying again.
const RETRY_AFTER: Duration = Duration::from_secs(1);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How the lanes name themselves to the server (`pg_stat_activity`) unless the URL names them.
const LANE_APPLICATION: &str = "scim-gateway lane";

/// How many lanes a process keeps, of each kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lanes {
    pub reads: usize,
    pub writes: usize,
}

impl Default for Lanes {
    /// Read lanes: one per two cores (1 to 8). The deeper a lane's pipeline, the fewer system
    /// calls a read costs on both ends, and one lane's server process answers tens of
    /// thousands of point reads a second (2 cores, 2026-12-05: 1 lane 18,311 lookups/s and
    /// 22,687 GETs/s, 2 lanes 16,621 and 18,013, 4 lanes 16,440 and 17,333). Write lanes: 8,
    /// as each holds its transaction through the commit's flush to disk, so fewer would leave
    /// the CPU idle (2 of them: 2,601 creates/s, 8: 3,560/s).
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Lanes {
            reads: (cores / 2).clamp(1, 8),
            writes: 8,
        }
    }
}

/// A lane did not take the statement and sent nothing: the caller uses the pool.
#[derive(Debug)]
pub struct Unserved;

/// What lanes ran, and what they handed to the pool.
#[derive(Default)]
pub struct Tally {
    served: AtomicU64,
    handed_over: AtomicU64,
}

impl Tally {
    /// Counts an answer: served when a lane gave it, handed over when it was refused.
    pub fn record<T, E>(&self, answer: &Result<T, E>) {
        let counter = match answer {
            Ok(_) => &self.served,
            Err(_) => &self.handed_over,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// (served, handed over).
    pub fn counts(&self) -> (u64, u64) {
        (
            self.served.load(Ordering::Relaxed),
            self.handed_over.load(Ordering::Relaxed),
        )
    }
}

/// Where lanes connect, and how.
pub struct Target {
    config: tokio_postgres::Config,
    tls: postgres_openssl::MakeTlsConnector,
}

impl Target {
    /// From a `postgres://` URL; `None` when it asks for what tokio-postgres does not offer
    /// (certificate checks: `sslmode=verify-*`, `sslrootcert`), which then stays with sqlx.
    pub fn for_url(url: &str) -> Option<Arc<Self>> {
        let mut config = match tokio_postgres::Config::from_str(url) {
            Ok(config) => config,
            Err(e) => {
                tracing::info!(error = %e, "PostgreSQL statements all go through the pool");
                return None;
            }
        };
        if config.get_application_name().is_none() {
            config.application_name(LANE_APPLICATION);
        }
        config.connect_timeout(CONNECT_TIMEOUT);
        // As libpq and sqlx do for `prefer` and `require`: encrypted, the certificate not
        // checked (the modes that check it are refused above).
        let mut tls = match openssl::ssl::SslConnector::builder(openssl::ssl::SslMethod::tls()) {
            Ok(tls) => tls,
            Err(e) => {
                tracing::warn!(error = %e, "no TLS for PostgreSQL's lanes: everything goes through the pool");
                return None;
            }
        };
        tls.set_verify(openssl::ssl::SslVerifyMode::NONE);
        let mut tls = postgres_openssl::MakeTlsConnector::new(tls.build());
        tls.set_callback(|connect, _domain| {
            connect.set_verify_hostname(false);
            Ok(())
        });
        Some(Arc::new(Target { config, tls }))
    }
}

pub struct Lane {
    target: Arc<Target>,
    state: Mutex<LaneState>,
}

enum LaneState {
    Unconnected,
    /// An attempt is under way, in a task of its own.
    Connecting,
    Connected(Arc<Connection>),
    /// The last attempt failed at this time.
    Down(Instant),
}

pub struct Connection {
    pub client: Client,
    /// By SQL: the parameter types it was prepared with, and the prepared statement.
    statements: Mutex<HashMap<String, (Vec<Type>, tokio_postgres::Statement)>>,
}

impl Lane {
    /// A lane to `target`; connecting now (when there is a runtime to connect on), or on
    /// first use.
    pub fn new(target: &Arc<Target>, connect_now: bool) -> Arc<Lane> {
        let lane = Arc::new(Lane {
            target: target.clone(),
            state: Mutex::new(LaneState::Unconnected),
        });
        if connect_now && tokio::runtime::Handle::try_current().is_ok() {
            let _ = lane.ready();
        }
        lane
    }

    fn state(&self) -> MutexGuard<'_, LaneState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The lane's open connection; without one, starts connecting unless an attempt is under
    /// way or failed less than `RETRY_AFTER` ago.
    pub fn ready(self: &Arc<Self>) -> Result<Arc<Connection>, Unserved> {
        let mut state = self.state();
        match &*state {
            LaneState::Connected(c) if !c.client.is_closed() => return Ok(c.clone()),
            LaneState::Connecting => return Err(Unserved),
            LaneState::Down(at) if at.elapsed() < RETRY_AFTER => return Err(Unserved),
            _ => {}
        }
        *state = LaneState::Connecting;
        drop(state);
        tokio::spawn(self.clone().connect());
        Err(Unserved)
    }

    pub fn is_connected(&self) -> bool {
        matches!(&*self.state(), LaneState::Connected(c) if !c.client.is_closed())
    }

    /// Forgets `connection` if it is this lane's and closed: the next use connects again.
    pub fn closed(&self, connection: &Arc<Connection>) {
        let mut state = self.state();
        if connection.client.is_closed()
            && matches!(&*state, LaneState::Connected(c) if Arc::ptr_eq(c, connection))
        {
            *state = LaneState::Unconnected;
        }
    }

    async fn connect(self: Arc<Self>) {
        let connected = self.target.config.connect(self.target.tls.clone()).await;
        *self.state() = match connected {
            Ok((client, connection)) => {
                tokio::spawn(async move {
                    if let Err(e) = connection.await {
                        tracing::debug!(error = %e, "a PostgreSQL lane closed");
                    }
                });
                LaneState::Connected(Arc::new(Connection {
                    client,
                    statements: Mutex::default(),
                }))
            }
            Err(e) => {
                tracing::debug!(error = %e, "a PostgreSQL lane could not connect");
                LaneState::Down(Instant::now())
            }
        };
    }
}

/// A statement a lane can run: its SQL, prepared types and values.
pub struct Bound<'a> {
    pub sql: &'a str,
    pub types: Vec<Type>,
    pub params: Vec<Param<'a>>,
}

impl<'a> Bound<'a> {
    /// `None` when a value is of a kind the lanes don't bind.
    pub fn new(stmt: &'a Statement) -> Option<Self> {
        let values = stmt.values.as_ref().map_or(&[][..], |v| &v.0[..]);
        Some(Bound {
            sql: &stmt.sql,
            types: values.iter().map(bound_type).collect::<Option<_>>()?,
            params: values.iter().map(Param).collect(),
        })
    }

    pub fn params(&self) -> impl ExactSizeIterator<Item = &(dyn ToSql + Sync)> {
        self.params.iter().map(|p| p as &(dyn ToSql + Sync))
    }
}

impl Connection {
    /// The statement prepared on this connection, from the cache or now.
    pub async fn prepared(
        &self,
        bound: &Bound<'_>,
    ) -> Result<tokio_postgres::Statement, tokio_postgres::Error> {
        {
            let statements = self.statements.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((types, prepared)) = statements.get(bound.sql)
                && *types == bound.types
            {
                return Ok(prepared.clone());
            }
        }
        let prepared = self.client.prepare_typed(bound.sql, &bound.types).await?;
        let mut statements = self.statements.lock().unwrap_or_else(|e| e.into_inner());
        if statements.len() >= STATEMENT_CACHE {
            statements.clear();
        }
        statements.insert(
            bound.sql.to_string(),
            (bound.types.clone(), prepared.clone()),
        );
        Ok(prepared)
    }
}

/// The type sqlx gives a bound value (`sea-query-sqlx`), so the server resolves the statement
/// alike; `None` for the kinds the lanes don't bind.
fn bound_type(value: &Value) -> Option<Type> {
    Some(match value {
        Value::Bool(_) => Type::BOOL,
        Value::SmallInt(_) | Value::TinyUnsigned(_) => Type::INT2,
        Value::Int(_) | Value::SmallUnsigned(_) => Type::INT4,
        Value::BigInt(_) | Value::Unsigned(_) | Value::BigUnsigned(_) => Type::INT8,
        Value::String(_) => Type::TEXT,
        Value::ChronoDateTimeUtc(_) => Type::TIMESTAMPTZ,
        _ => return None,
    })
}

/// A sea-query value bound as sqlx binds it.
#[derive(Debug)]
pub struct Param<'a>(&'a Value);

impl ToSql for Param<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self.0 {
            Value::Bool(v) => v.to_sql(ty, out),
            Value::SmallInt(v) => v.to_sql(ty, out),
            Value::TinyUnsigned(v) => v.map(i16::from).to_sql(ty, out),
            Value::Int(v) => v.to_sql(ty, out),
            Value::SmallUnsigned(v) => v.map(i32::from).to_sql(ty, out),
            Value::BigInt(v) => v.to_sql(ty, out),
            Value::Unsigned(v) => v.map(i64::from).to_sql(ty, out),
            Value::BigUnsigned(v) => v.map(i64::try_from).transpose()?.to_sql(ty, out),
            Value::String(v) => v.as_deref().to_sql(ty, out),
            Value::ChronoDateTimeUtc(v) => v.to_sql(ty, out),
            other => Err(format!("a value of this kind is not bound here: {other:?}").into()),
        }
    }

    fn accepts(_: &Type) -> bool {
        // Each value checks its type in `to_sql`.
        true
    }

    to_sql_checked!();
}

/// A lane's error as the pool would report it: the server's with its SQLSTATE (a unique key,
/// a deadlock, a shutdown), a lost connection as an I/O error (the database unreachable).
pub fn lane_error(e: tokio_postgres::Error) -> DbErr {
    let sqlx = match e.as_db_error() {
        Some(db) => sqlx::Error::Database(Box::new(ServerError(db.clone()))),
        None if e.is_closed() => sqlx::Error::Io(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            e.to_string(),
        )),
        None => sqlx::Error::Protocol(e.to_string()),
    };
    DbErr::Exec(RuntimeErr::SqlxError(Arc::new(sqlx)))
}

/// An error the server sent on a lane.
#[derive(Debug)]
struct ServerError(tokio_postgres::error::DbError);

impl std::fmt::Display for ServerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for ServerError {}

impl sqlx::error::DatabaseError for ServerError {
    fn message(&self) -> &str {
        self.0.message()
    }

    fn code(&self) -> Option<Cow<'_, str>> {
        Some(Cow::Borrowed(self.0.code().code()))
    }

    fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
        self
    }

    fn constraint(&self) -> Option<&str> {
        self.0.constraint()
    }

    fn table(&self) -> Option<&str> {
        self.0.table()
    }

    fn kind(&self) -> sqlx::error::ErrorKind {
        use sqlx::error::ErrorKind;
        match self.0.code().code() {
            "23505" => ErrorKind::UniqueViolation,
            "23503" => ErrorKind::ForeignKeyViolation,
            "23502" => ErrorKind::NotNullViolation,
            "23514" => ErrorKind::CheckViolation,
            _ => ErrorKind::Other,
        }
    }
}

fn read_err(i: usize, e: tokio_postgres::Error) -> DbErr {
    DbErr::Query(RuntimeErr::Internal(format!(
        "PostgreSQL read: column {i}: {e}"
    )))
}

impl Cells for Row {
    fn text(&self, i: usize) -> Result<String, DbErr> {
        self.try_get(i).map_err(|e| read_err(i, e))
    }
    fn opt_text(&self, i: usize) -> Result<Option<String>, DbErr> {
        self.try_get(i).map_err(|e| read_err(i, e))
    }
    fn int(&self, i: usize) -> Result<i64, DbErr> {
        let column = self
            .columns()
            .get(i)
            .ok_or_else(|| DbErr::Custom(format!("PostgreSQL read: no column {i}")))?;
        match *column.type_() {
            Type::INT2 => self.try_get::<_, i16>(i).map(i64::from),
            Type::INT4 => self.try_get::<_, i32>(i).map(i64::from),
            _ => self.try_get::<_, i64>(i),
        }
        .map_err(|e| read_err(i, e))
    }
    fn flag(&self, i: usize) -> Result<bool, DbErr> {
        self.try_get(i).map_err(|e| read_err(i, e))
    }
    fn time(&self, i: usize) -> Result<DateTime<Utc>, DbErr> {
        self.try_get(i).map_err(|e| read_err(i, e))
    }
    fn read_text<R>(&self, i: usize, read: impl FnOnce(&str) -> R) -> Result<R, DbErr> {
        let text: Option<&str> = self.try_get(i).map_err(|e| read_err(i, e))?;
        Ok(read(text.unwrap_or("")))
    }
}
