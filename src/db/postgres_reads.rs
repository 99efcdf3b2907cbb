//! Point reads on PostgreSQL without sqlx's pool: a few long-lived tokio-postgres connections
//! ("lanes"), each shared by every request, so concurrent reads are pipelined — written to the
//! socket together and answered in order — instead of each checking a connection out of the
//! pool, waiting its round trip alone and handing the connection back through a spawned task.
//! Statements are prepared once per lane with the parameter types sqlx would send, so a read
//! means what it means through the pool. Scans (pages, filters that may read many rows) stay
//! on the pool: one would hold up every read queued behind it on a lane.
//!
//! Hand-written for speed, on purpose. Measured with `scim-bench run --postgres` on 2026-12-05,
//! see the README's Benchmarks section. Pinned to sqlx's reads by `tests/it/read_paths.rs`
//! (`fast_and_pool_reads_give_identical_users`), which reads the same users both ways on the
//! test command's PostgreSQL and compares them field by field.
//!
//! A lane that cannot serve a read (not connected, connection lost, a value of a kind it does
//! not bind) says so and the read goes to the pool, whose errors the outage handling knows.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Value;
use sea_orm::{DbErr, RuntimeErr, Statement};
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use tokio_postgres::{Client, Row};

use crate::db::rows::{Cells, FromCells};

/// Statements kept prepared per lane (the hot reads and the point-read shapes in use).
const STATEMENT_CACHE: usize = 128;
/// How long a lane that could not connect leaves the reads to the pool before trying again.
const RETRY_AFTER: Duration = Duration::from_secs(1);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How the lanes name themselves to the server (`pg_stat_activity`) unless the URL names them.
const LANE_APPLICATION: &str = "scim-gateway read lane";

pub struct PostgresReads {
    lanes: Box<[Arc<Lane>]>,
    next: AtomicUsize,
    /// Reads the lanes answered (tests check that they, not the pool, did).
    served: AtomicU64,
}

struct Lane {
    config: tokio_postgres::Config,
    tls: postgres_openssl::MakeTlsConnector,
    state: Mutex<LaneState>,
}

enum LaneState {
    Unconnected,
    /// An attempt is under way (in a task of its own: a read never waits for a connection).
    Connecting,
    Connected(Arc<Connection>),
    /// The last attempt failed at this time.
    Down(Instant),
}

struct Connection {
    client: Client,
    /// By SQL: the parameter types it was prepared with, and the prepared statement.
    statements: Mutex<HashMap<String, (Vec<Type>, tokio_postgres::Statement)>>,
}

/// Lanes per process unless configured: one per core, as each lane's server process answers
/// its reads one after another.
pub fn default_read_lanes() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 8))
}

/// Why a lane did not answer a read: the caller reads through the pool instead.
pub struct Unserved;

impl PostgresReads {
    /// `lanes` connections to a `postgres://` URL, made on first use; `None` for none, and when
    /// the URL asks for what tokio-postgres does not offer (certificate checks:
    /// `sslmode=verify-*`, `sslrootcert`), which then stays with sqlx.
    pub fn for_url(url: &str, lanes: usize) -> Option<Self> {
        if lanes == 0 {
            return None;
        }
        let mut config = match tokio_postgres::Config::from_str(url) {
            Ok(config) => config,
            Err(e) => {
                tracing::info!(error = %e, "PostgreSQL point reads go through the pool");
                return None;
            }
        };
        if config.get_application_name().is_none() {
            config.application_name(LANE_APPLICATION);
        }
        config.connect_timeout(CONNECT_TIMEOUT);
        // As libpq and sqlx do for `prefer` and `require`: encrypted, the certificate not
        // checked (the modes that check it are refused above).
        let mut tls = openssl::ssl::SslConnector::builder(openssl::ssl::SslMethod::tls()).ok()?;
        tls.set_verify(openssl::ssl::SslVerifyMode::NONE);
        let mut tls = postgres_openssl::MakeTlsConnector::new(tls.build());
        tls.set_callback(|connect, _domain| {
            connect.set_verify_hostname(false);
            Ok(())
        });
        let reads = PostgresReads {
            lanes: (0..lanes)
                .map(|_| {
                    Arc::new(Lane {
                        config: config.clone(),
                        tls: tls.clone(),
                        state: Mutex::new(LaneState::Unconnected),
                    })
                })
                .collect(),
            next: AtomicUsize::new(0),
            served: AtomicU64::new(0),
        };
        // Connected from the start where there is a runtime to connect on (else on first use).
        if tokio::runtime::Handle::try_current().is_ok() {
            for lane in &reads.lanes {
                let _ = Lane::ready(lane);
            }
        }
        Some(reads)
    }

    /// Runs a point read on the next lane.
    pub async fn fetch<T: FromCells>(
        &self,
        stmt: &Statement,
    ) -> Result<Result<Vec<T>, DbErr>, Unserved> {
        let values = stmt.values.as_ref().map_or(&[][..], |v| &v.0[..]);
        let types = values.iter().map(bound_type).collect::<Option<Vec<_>>>();
        let Some(types) = types else {
            return Err(Unserved);
        };
        let lane = &self.lanes[self.next.fetch_add(1, Ordering::Relaxed) % self.lanes.len()];
        let connection = Lane::ready(lane).ok_or(Unserved)?;
        let prepared = match connection.prepared(&stmt.sql, &types).await {
            Ok(prepared) => prepared,
            Err(e) => return self.failed(lane, &connection, e),
        };
        let params: Vec<Param<'_>> = values.iter().map(Param).collect();
        let rows = match connection
            .client
            .query_raw(&prepared, params.iter().map(|p| p as &(dyn ToSql + Sync)))
            .await
        {
            Ok(rows) => rows,
            Err(e) => return self.failed(lane, &connection, e),
        };
        let rows: Vec<Row> = match futures_util::TryStreamExt::try_collect(rows).await {
            Ok(rows) => rows,
            Err(e) => return self.failed(lane, &connection, e),
        };
        self.served.fetch_add(1, Ordering::Relaxed);
        Ok(rows.iter().map(T::from_cells).collect())
    }

    /// How many reads the lanes have answered.
    pub fn served(&self) -> u64 {
        self.served.load(Ordering::Relaxed)
    }

    /// An error from the server is the read's answer; any other (the connection lost, a value
    /// the server would not take) sends the read to the pool, and a lost connection is dropped.
    fn failed<T>(
        &self,
        lane: &Lane,
        connection: &Arc<Connection>,
        e: tokio_postgres::Error,
    ) -> Result<Result<T, DbErr>, Unserved> {
        if e.as_db_error().is_some() && !connection.client.is_closed() {
            return Ok(Err(DbErr::Query(RuntimeErr::Internal(format!(
                "PostgreSQL read: {e}"
            )))));
        }
        if connection.client.is_closed() {
            let mut state = lane.state();
            if matches!(&*state, LaneState::Connected(c) if Arc::ptr_eq(c, connection)) {
                *state = LaneState::Unconnected;
            }
        }
        tracing::debug!(error = %e, "a PostgreSQL point read went to the pool");
        Err(Unserved)
    }

    /// Lanes connected now.
    pub fn connected(&self) -> usize {
        self.lanes
            .iter()
            .filter(
                |lane| matches!(&*lane.state(), LaneState::Connected(c) if !c.client.is_closed()),
            )
            .count()
    }
}

impl Lane {
    fn state(&self) -> std::sync::MutexGuard<'_, LaneState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The lane's open connection; without one, starts connecting unless an attempt is under
    /// way or failed less than `RETRY_AFTER` ago.
    fn ready(lane: &Arc<Lane>) -> Option<Arc<Connection>> {
        let mut state = lane.state();
        match &*state {
            LaneState::Connected(c) if !c.client.is_closed() => return Some(c.clone()),
            LaneState::Connecting => return None,
            LaneState::Down(at) if at.elapsed() < RETRY_AFTER => return None,
            _ => {}
        }
        *state = LaneState::Connecting;
        drop(state);
        tokio::spawn(Lane::connect(lane.clone()));
        None
    }

    async fn connect(lane: Arc<Lane>) {
        let connected = lane.config.connect(lane.tls.clone()).await;
        *lane.state() = match connected {
            Ok((client, connection)) => {
                tokio::spawn(async move {
                    if let Err(e) = connection.await {
                        tracing::debug!(error = %e, "a PostgreSQL read lane closed");
                    }
                });
                LaneState::Connected(Arc::new(Connection {
                    client,
                    statements: Mutex::default(),
                }))
            }
            Err(e) => {
                tracing::debug!(error = %e, "a PostgreSQL read lane could not connect");
                LaneState::Down(Instant::now())
            }
        };
    }
}

impl Connection {
    async fn prepared(
        &self,
        sql: &str,
        types: &[Type],
    ) -> Result<tokio_postgres::Statement, tokio_postgres::Error> {
        {
            let statements = self.statements.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((prepared_types, prepared)) = statements.get(sql)
                && prepared_types == types
            {
                return Ok(prepared.clone());
            }
        }
        let prepared = self.client.prepare_typed(sql, types).await?;
        let mut statements = self.statements.lock().unwrap_or_else(|e| e.into_inner());
        if statements.len() >= STATEMENT_CACHE {
            statements.clear();
        }
        statements.insert(sql.to_string(), (types.to_vec(), prepared.clone()));
        Ok(prepared)
    }
}

/// The type sqlx gives a bound value (`sea-query-sqlx`), so the server resolves the statement
/// alike; `None` for the kinds these reads don't bind.
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
struct Param<'a>(&'a Value);

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
