//! The one place for every business rule. GraphQL resolvers and SCIM handlers call these
//! functions; each takes a connection (or the caller's transaction), the acting principal and a
//! domain input, and does its checks, writes, role recomputation and activity record in one
//! transaction.

pub mod access;
pub mod activity;
pub mod admin;
pub mod api_keys;
pub mod attributes;
pub mod directory;
mod error;
pub mod filter;
pub mod filter_sql;
pub mod groups;
pub mod keyset;
pub mod mappings;
pub mod outages;
pub mod rate_limit;
pub mod roles;
pub mod saml;
pub mod scim_settings;
pub mod secrets;
pub mod sessions;
pub mod sign_in;
pub mod users;
pub mod workspaces;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};

pub use error::{Error, Result};

/// A fresh random identifier for a new row.
pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Now, at millisecond precision so that a timestamp reads back equal from SQLite and PostgreSQL.
pub fn now() -> DateTime<Utc> {
    let now = Utc::now();
    now.duration_trunc(TimeDelta::milliseconds(1))
        .unwrap_or(now)
}

/// `text` starts with `prefix`, ASCII case-insensitively. Safe on any text: slicing `text` at
/// `prefix.len()` would panic inside a multi-byte character (found by fuzzing the filter parser).
pub fn starts_with_ignore_case(text: &str, prefix: &str) -> bool {
    text.get(..prefix.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
}

/// Normalised form used for case-insensitive uniqueness of e-mails and user names.
pub fn email_key(email: &str) -> String {
    email.trim().to_lowercase()
}

/// Begins a transaction that will write. On SQLite it takes the write lock up front
/// (`BEGIN IMMEDIATE`), so concurrent writers queue on the busy timeout instead of failing with
/// "database is locked" when a read-then-write transaction finds the database changed under it.
pub async fn begin_write<C: sea_orm::TransactionTrait>(db: &C) -> Result<C::Transaction> {
    Ok(db
        .begin_with_options(sea_orm::TransactionOptions {
            sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Immediate),
            ..Default::default()
        })
        .await?)
}

/// Runs write statements in order, in one round trip on SQLite (it takes a string of statements
/// with their parameters in order: each round trip to sqlx's connection thread costs more than
/// the statement itself), one by one elsewhere. Stops at the first error.
pub async fn execute_all(
    db: &impl sea_orm::ConnectionTrait,
    statements: Vec<sea_orm::Statement>,
) -> std::result::Result<(), sea_orm::DbErr> {
    let backend = db.get_database_backend();
    if backend != sea_orm::DatabaseBackend::Sqlite {
        for statement in statements {
            db.execute_raw(statement).await?;
        }
        return Ok(());
    }
    if !statements.is_empty() {
        db.execute_raw(joined(backend, statements)).await?;
    }
    Ok(())
}

/// Statements as one multi-statement string with their parameters in order (SQLite only).
pub(crate) fn joined(
    backend: sea_orm::DatabaseBackend,
    statements: impl IntoIterator<Item = sea_orm::Statement>,
) -> sea_orm::Statement {
    let mut sql = String::new();
    let mut values = Vec::new();
    for statement in statements {
        if !sql.is_empty() {
            sql.push_str(";\n");
        }
        sql.push_str(&statement.sql);
        values.extend(statement.values.map(|v| v.0).unwrap_or_default());
    }
    sea_orm::Statement::from_sql_and_values(backend, sql, values)
}

/// Runs `first` (a write with `RETURNING`) and then `rest`, like `execute_all`; answers how many
/// rows `first` returned. The caller rolls back when that number says `first` missed.
pub async fn write_returning(
    db: &impl sea_orm::ConnectionTrait,
    first: sea_orm::Statement,
    rest: Vec<sea_orm::Statement>,
) -> Result<usize> {
    let backend = db.get_database_backend();
    if backend != sea_orm::DatabaseBackend::Sqlite {
        let returned = db.query_all_raw(first).await?.len();
        execute_all(db, rest).await?;
        return Ok(returned);
    }
    // The other statements return no rows: every row comes from `first`.
    let all = joined(backend, std::iter::once(first).chain(rest));
    let rows = db.query_all_raw(all).await?;
    Ok(rows.len())
}

/// `SELECT … FOR UPDATE` on PostgreSQL (concurrent writers of one row take turns, also across
/// replicas); SQLite needs nothing, its write transactions are already serial.
pub fn for_update<S: sea_orm::QuerySelect>(db: &impl sea_orm::ConnectionTrait, select: S) -> S {
    if db.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
        select.lock_exclusive()
    } else {
        select
    }
}
