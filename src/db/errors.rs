//! What a database error means, whichever driver reported it: sqlx's own, or a PostgreSQL lane's
//! (`postgres_lanes`), which reports the server's error with its SQLSTATE as sqlx does.

use sea_orm::{DbErr, RuntimeErr, SqlErr};

/// The message of a unique-key violation (SQLite's, or PostgreSQL's 23505 through the pool or a
/// lane); `None` for any other error.
pub fn unique_violation(err: &DbErr) -> Option<String> {
    if let Some(SqlErr::UniqueConstraintViolation(message)) = err.sql_err() {
        return Some(message);
    }
    match err {
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            match e.as_ref() {
                sea_orm::sqlx::Error::Database(db) if db.code().as_deref() == Some("23505") => {
                    Some(db.message().to_string())
                }
                _ => None,
            }
        }
        _ => None,
    }
}
