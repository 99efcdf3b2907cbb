//! What a database error means, whichever driver reported it: sqlx's own, or a PostgreSQL lane's
//! (`postgres_lanes`), which reports the server's error with its SQLSTATE as sqlx does. The
//! domain's error kinds (conflict, unavailable, retry) are read here and nowhere else.

use sea_orm::sqlx::Error as Sqlx;
use sea_orm::{DbErr, RuntimeErr, SqlErr};

/// sqlx's error inside a sea-orm one, when there is one.
fn sqlx_error(err: &DbErr) -> Option<&Sqlx> {
    match err {
        DbErr::Conn(RuntimeErr::SqlxError(e))
        | DbErr::Exec(RuntimeErr::SqlxError(e))
        | DbErr::Query(RuntimeErr::SqlxError(e)) => Some(e.as_ref()),
        _ => None,
    }
}

/// The SQLSTATE of an error the database server reported.
fn sqlstate(err: &DbErr) -> Option<String> {
    match sqlx_error(err)? {
        Sqlx::Database(db) => db.code().map(|code| code.into_owned()),
        _ => None,
    }
}

/// The message of a unique-key violation (SQLite's, or PostgreSQL's 23505 through the pool or a
/// lane); `None` for any other error.
pub fn unique_violation(err: &DbErr) -> Option<String> {
    if let Some(SqlErr::UniqueConstraintViolation(message)) = err.sql_err() {
        return Some(message);
    }
    match sqlx_error(err)? {
        Sqlx::Database(db) if db.code().as_deref() == Some("23505") => {
            Some(db.message().to_string())
        }
        _ => None,
    }
}

/// The database was not there to answer: no connection from the pool in time, a connection
/// lost, or the server shutting down or refusing connections (SQLSTATE classes 08 and 57P, and
/// 53300 too many connections). Not a fault of the request, and nothing of it was committed.
pub fn is_unavailable(err: &DbErr) -> bool {
    if matches!(err, DbErr::ConnectionAcquire(_)) {
        return true;
    }
    match sqlx_error(err) {
        Some(Sqlx::Io(_) | Sqlx::PoolTimedOut | Sqlx::PoolClosed | Sqlx::WorkerCrashed) => true,
        Some(Sqlx::Database(_)) => sqlstate(err).is_some_and(|code| {
            code.starts_with("08") || code.starts_with("57P") || code == "53300"
        }),
        _ => false,
    }
}

/// PostgreSQL gave up one of two transactions waiting on each other's rows (40P01), or one that
/// could not be serialised (40001): the operation can simply run again.
pub fn is_retryable(err: &DbErr) -> bool {
    sqlstate(err).is_some_and(|code| code == "40P01" || code == "40001")
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;
    use std::sync::Arc;

    use super::*;

    /// A server error with this SQLSTATE, as sqlx or a lane reports it.
    #[derive(Debug)]
    struct Coded(&'static str);

    impl std::fmt::Display for Coded {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "error {}", self.0)
        }
    }

    impl std::error::Error for Coded {}

    impl sea_orm::sqlx::error::DatabaseError for Coded {
        fn message(&self) -> &str {
            "server error"
        }
        fn code(&self) -> Option<Cow<'_, str>> {
            Some(Cow::Borrowed(self.0))
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
        fn kind(&self) -> sea_orm::sqlx::error::ErrorKind {
            sea_orm::sqlx::error::ErrorKind::Other
        }
    }

    fn server(code: &'static str) -> DbErr {
        DbErr::Exec(RuntimeErr::SqlxError(Arc::new(Sqlx::Database(Box::new(
            Coded(code),
        )))))
    }

    #[test]
    fn errors_read_as_what_they_mean() {
        let io = DbErr::Query(RuntimeErr::SqlxError(Arc::new(Sqlx::Io(
            std::io::ErrorKind::ConnectionReset.into(),
        ))));
        for unavailable in [
            server("08006"),
            server("57P01"),
            server("53300"),
            io,
            DbErr::Conn(RuntimeErr::SqlxError(Arc::new(Sqlx::PoolTimedOut))),
        ] {
            assert!(is_unavailable(&unavailable), "{unavailable}");
            assert!(!is_retryable(&unavailable), "{unavailable}");
        }
        for retry in [server("40P01"), server("40001")] {
            assert!(is_retryable(&retry), "{retry}");
            assert!(!is_unavailable(&retry), "{retry}");
        }
        assert_eq!(
            unique_violation(&server("23505")).as_deref(),
            Some("server error")
        );
        for other in [server("23503"), server("42P01"), DbErr::Custom("x".into())] {
            assert!(!is_unavailable(&other), "{other}");
            assert!(!is_retryable(&other), "{other}");
            assert_eq!(unique_violation(&other), None, "{other}");
        }
    }
}
