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
