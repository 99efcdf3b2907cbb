use sea_orm::{DbErr, SqlErr};

/// Every way a domain operation can fail. The protocol layers map these to SCIM error JSON and
/// GraphQL `extensions.code`; `Internal` never shows its cause to a client.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{reason}")]
    Invalid { attr: String, reason: String },
    #[error("invalid filter: {0}")]
    InvalidFilter(String),
    #[error("authentication required")]
    Unauthenticated,
    #[error("{0}")]
    Forbidden(String),
    #[error("SAML must be configured before SCIM can be enabled")]
    SamlRequired,
    #[error("the resource was changed by someone else")]
    VersionMismatch,
    /// A paging cursor that no longer leads anywhere (RFC 9865 `expiredCursor`).
    #[error("{0}")]
    CursorExpired(String),
    #[error("internal error")]
    Internal(#[source] DbErr),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn invalid(attr: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Invalid {
            attr: attr.into(),
            reason: reason.into(),
        }
    }

    /// PostgreSQL gave up one of two transactions waiting on each other's rows (40P01), or one
    /// that could not be serialised (40001): the operation can simply run again.
    pub fn is_retryable(&self) -> bool {
        use sea_orm::RuntimeErr;
        let Error::Internal(
            DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)),
        ) = self
        else {
            return false;
        };
        match e.as_ref() {
            sea_orm::sqlx::Error::Database(e) => {
                matches!(e.code().as_deref(), Some("40P01" | "40001"))
            }
            _ => false,
        }
    }
}

impl From<DbErr> for Error {
    fn from(err: DbErr) -> Self {
        match err.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(_)) => {
                Error::Conflict("a resource with the same unique value already exists".into())
            }
            _ => Error::Internal(err),
        }
    }
}
