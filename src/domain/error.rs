use sea_orm::DbErr;

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
    /// Another workspace has verified this domain: one workspace at a time may speak for it.
    #[error("{0}")]
    DomainTaken(String),
    /// SAML signs people in only for domains the workspace has verified.
    #[error("{0}")]
    DomainRequired(String),
    /// Asked again too soon (a budgeted action, such as checking a domain's DNS now).
    #[error("{0}")]
    RateLimited(String),
    #[error("the resource was changed by someone else")]
    VersionMismatch,
    /// A paging cursor that no longer leads anywhere (RFC 9865 `expiredCursor`).
    #[error("{0}")]
    CursorExpired(String),
    /// The database can't be reached (down, restarting, out of connections): try again shortly.
    #[error("the database is not reachable right now")]
    Unavailable(#[source] DbErr),
    #[error("internal error")]
    Internal(#[source] DbErr),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What the serving layer logs of a failed request, once, in the request's log line: the cause
/// a client is never shown. The protocols carry it on their answer.
#[derive(Clone, Debug)]
pub struct Failure {
    pub cause: String,
    /// A bug or a database answer nobody foresaw (logged as an error). Otherwise the database
    /// could not be reached: an outage, which `outages` records once.
    pub internal: bool,
}

impl Failure {
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        Failure {
            cause: cause.to_string(),
            internal: true,
        }
    }

    /// Several failures of one request (GraphQL runs fields side by side) as one.
    pub fn joined(failures: impl IntoIterator<Item = Failure>) -> Option<Failure> {
        failures.into_iter().reduce(|a, b| Failure {
            cause: format!("{}; {}", a.cause, b.cause),
            internal: a.internal || b.internal,
        })
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.cause)
    }
}

impl Error {
    /// The cause worth logging, for the errors that have one.
    pub fn failure(&self) -> Option<Failure> {
        match self {
            Error::Internal(cause) => Some(Failure::internal(cause)),
            Error::Unavailable(cause) => Some(Failure {
                cause: cause.to_string(),
                internal: false,
            }),
            _ => None,
        }
    }

    pub fn invalid(attr: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Invalid {
            attr: attr.into(),
            reason: reason.into(),
        }
    }

    /// PostgreSQL gave up one of two transactions waiting on each other's rows, or one that
    /// could not be serialised: the operation can simply run again.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Error::Internal(err) if crate::db::is_retryable(err))
    }
}

impl From<DbErr> for Error {
    fn from(err: DbErr) -> Self {
        if crate::db::is_unavailable(&err) {
            return Error::Unavailable(err);
        }
        match crate::db::unique_violation(&err) {
            Some(_) => {
                Error::Conflict("a resource with the same unique value already exists".into())
            }
            None => Error::Internal(err),
        }
    }
}
