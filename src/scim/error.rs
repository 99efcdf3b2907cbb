//! RFC 7644 §3.12 errors: every SCIM failure, including 401/403/404/405/413/415 and malformed
//! JSON, answers `application/scim+json` with `schemas`, `status` (a string), `scimType` and
//! `detail`. An internal cause is never sent: it rides on the answer for the serving layer's log
//! line.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::domain;

/// The media type of every SCIM answer, errors included.
pub const SCIM_CONTENT_TYPE: &str = "application/scim+json";
pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

#[derive(Debug, Clone)]
pub struct ScimError {
    pub status: StatusCode,
    pub scim_type: Option<&'static str>,
    pub detail: String,
    /// The cause behind a 500 or a 503, for the log.
    pub failure: Option<domain::Failure>,
}

/// Seconds a 503 asks the client to wait before trying again.
pub const RETRY_AFTER_SECS: u32 = 5;

impl ScimError {
    pub fn new(
        status: StatusCode,
        scim_type: Option<&'static str>,
        detail: impl Into<String>,
    ) -> Self {
        ScimError {
            status,
            scim_type,
            detail: detail.into(),
            failure: None,
        }
    }

    /// Answered because the database was unreachable: counted as an outage, not recorded per
    /// request.
    pub fn is_outage(&self) -> bool {
        self.failure.as_ref().is_some_and(|f| !f.internal)
    }

    pub fn bad_request(scim_type: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Some(scim_type), detail)
    }

    pub fn invalid_syntax(detail: impl Into<String>) -> Self {
        Self::bad_request("invalidSyntax", detail)
    }

    pub fn invalid_value(detail: impl Into<String>) -> Self {
        Self::bad_request("invalidValue", detail)
    }

    pub fn invalid_path(detail: impl Into<String>) -> Self {
        Self::bad_request("invalidPath", detail)
    }

    pub fn no_target(detail: impl Into<String>) -> Self {
        Self::bad_request("noTarget", detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, None, detail)
    }

    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            None,
            "this endpoint does not support that HTTP method",
        )
    }
}

impl From<domain::Error> for ScimError {
    fn from(err: domain::Error) -> Self {
        use domain::Error as E;
        let failure = err.failure();
        let answer = match err {
            E::NotFound(what) => ScimError::not_found(format!("{what} not found")),
            E::Conflict(detail) => ScimError::new(StatusCode::CONFLICT, Some("uniqueness"), detail),
            E::Invalid { reason, .. } => ScimError::invalid_value(reason),
            E::InvalidFilter(reason) => ScimError::bad_request("invalidFilter", reason),
            E::CursorExpired(reason) => ScimError::bad_request("expiredCursor", reason),
            E::Unauthenticated => ScimError::new(
                StatusCode::UNAUTHORIZED,
                None,
                "authentication failed: send a valid API key of this workspace as Authorization: Bearer <key>",
            ),
            E::Forbidden(detail) => ScimError::new(StatusCode::FORBIDDEN, None, detail),
            E::SamlRequired => ScimError::new(
                StatusCode::FORBIDDEN,
                None,
                "SAML is not configured for this workspace",
            ),
            E::DomainTaken(detail) | E::DomainRequired(detail) => {
                ScimError::new(StatusCode::FORBIDDEN, None, detail)
            }
            E::RateLimited(detail) => ScimError::new(StatusCode::TOO_MANY_REQUESTS, None, detail),
            E::VersionMismatch => ScimError::new(
                StatusCode::PRECONDITION_FAILED,
                None,
                "the resource changed since the version in If-Match; read it again and retry",
            ),
            E::Unavailable(_) => ScimError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                None,
                "the database is not reachable right now; nothing was changed: retry after the Retry-After delay",
            ),
            E::Internal(_) => {
                ScimError::new(StatusCode::INTERNAL_SERVER_ERROR, None, "internal error")
            }
        };
        ScimError { failure, ..answer }
    }
}

impl IntoResponse for ScimError {
    fn into_response(self) -> Response {
        let mut body = json!({
            "schemas": [ERROR_SCHEMA],
            "status": self.status.as_u16().to_string(),
            "detail": self.detail,
        });
        if let Some(t) = self.scim_type {
            body["scimType"] = json!(t);
        }
        let mut response = (self.status, body.to_string()).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(SCIM_CONTENT_TYPE),
        );
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"scim\""),
            );
        }
        if let Some(failure) = self.failure.clone() {
            response.extensions_mut().insert(failure);
        }
        // The failure is recorded in the activity log by the SCIM layer's middleware.
        response.extensions_mut().insert(self);
        response
    }
}

pub type ScimResult<T> = Result<T, ScimError>;
