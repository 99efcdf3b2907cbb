//! Domain errors as GraphQL errors: every error carries `extensions.code`; a field error also
//! `extensions.field`. An internal cause is never shown to clients: it travels as the error's
//! source to the HTTP answer, for the serving layer's log line (`failure_of`).

use async_graphql::ErrorExtensions;

use crate::domain::Error;

pub const UNAUTHENTICATED: &str = "UNAUTHENTICATED";
pub const FORBIDDEN: &str = "FORBIDDEN";
pub const SAML_REQUIRED: &str = "SAML_REQUIRED";
pub const DOMAIN_TAKEN: &str = "DOMAIN_TAKEN";
pub const DOMAIN_REQUIRED: &str = "DOMAIN_REQUIRED";
pub const RATE_LIMITED: &str = "RATE_LIMITED";
pub const VALIDATION: &str = "VALIDATION";
pub const NOT_FOUND: &str = "NOT_FOUND";
pub const CONFLICT: &str = "CONFLICT";
pub const INTERNAL: &str = "INTERNAL";
/// The database can't be reached right now: try again shortly.
pub const UNAVAILABLE: &str = "UNAVAILABLE";
/// The request ran past the server's request timeout.
pub const TIMEOUT: &str = "TIMEOUT";

pub fn code_of(err: &Error) -> &'static str {
    match err {
        Error::NotFound(_) => NOT_FOUND,
        Error::Conflict(_) | Error::VersionMismatch => CONFLICT,
        Error::Invalid { .. } | Error::InvalidFilter(_) | Error::CursorExpired(_) => VALIDATION,
        Error::Unauthenticated => UNAUTHENTICATED,
        Error::Forbidden(_) => FORBIDDEN,
        Error::SamlRequired => SAML_REQUIRED,
        Error::DomainTaken(_) => DOMAIN_TAKEN,
        Error::DomainRequired(_) => DOMAIN_REQUIRED,
        Error::RateLimited(_) => RATE_LIMITED,
        Error::Unavailable(_) => UNAVAILABLE,
        Error::Internal(_) => INTERNAL,
    }
}

impl ErrorExtensions for Error {
    fn extend(&self) -> async_graphql::Error {
        let message = match self {
            Error::Unauthenticated => {
                "sign in: with single sign-on (a session cookie) or a valid admin token (Authorization: Bearer <token>)".to_string()
            }
            other => other.to_string(),
        };
        let error = async_graphql::Error::new(message).extend_with(|_, ext| {
            ext.set("code", code_of(self));
            if let Error::Invalid { attr, .. } = self {
                ext.set("field", attr.as_str());
            }
        });
        async_graphql::Error {
            source: self
                .failure()
                .map(|f| std::sync::Arc::new(f) as std::sync::Arc<_>),
            ..error
        }
    }
}

/// The causes behind a response's errors, as one failure for the log.
pub fn failure_of(response: &async_graphql::Response) -> Option<crate::domain::Failure> {
    crate::domain::Failure::joined(response.errors.iter().filter_map(|e| {
        e.source
            .as_ref()?
            .downcast_ref::<crate::domain::Failure>()
            .cloned()
    }))
}

/// `domain::Result<T>` to `async_graphql::Result<T>` with the code attached. Resolvers use this
/// instead of a bare `?`, which would show any error's `Display` without a code.
pub trait GqlResultExt<T> {
    fn gql(self) -> async_graphql::Result<T>;
}

impl<T> GqlResultExt<T> for crate::domain::Result<T> {
    fn gql(self) -> async_graphql::Result<T> {
        self.map_err(|e| e.extend())
    }
}

/// Errors async-graphql raises itself (syntax, unknown fields, wrong argument types, depth and
/// complexity limits) have no code: they are the client's invalid request.
pub fn ensure_codes(response: &mut async_graphql::Response) {
    for error in &mut response.errors {
        let has_code = error
            .extensions
            .as_ref()
            .is_some_and(|ext| ext.get("code").is_some());
        if !has_code {
            error
                .extensions
                .get_or_insert_with(Default::default)
                .set("code", VALIDATION);
        }
    }
}
