//! What a SCIM request brings besides its path: a JSON object body, and the versions its
//! `If-Match` / `If-None-Match` headers name.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use serde_json::Value;

use super::error::{ScimError, ScimResult};

/// Most operations one Bulk request may carry; advertised in ServiceProviderConfig.
pub const MAX_BULK_OPERATIONS: usize = 1000;
/// Largest SCIM request body; advertised in ServiceProviderConfig (`bulk.maxPayloadSize`).
pub const MAX_BODY: usize = 1024 * 1024;

/// A JSON object body sent as `application/scim+json` or `application/json` (or with no
/// Content-Type, as some clients do).
pub struct ScimBody(pub serde_json::Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for ScimBody {
    type Rejection = ScimError;

    async fn from_request(req: Request, _: &S) -> Result<Self, Self::Rejection> {
        if let Some(ct) = req.headers().get(header::CONTENT_TYPE) {
            let ct = ct.to_str().unwrap_or("").to_ascii_lowercase();
            let essence = ct.split(';').next().unwrap_or("").trim();
            if !(essence == "application/scim+json"
                || essence == "application/json"
                || essence.is_empty())
            {
                return Err(ScimError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    None,
                    format!(
                        "send the body as application/scim+json or application/json, not {essence}"
                    ),
                ));
            }
        }
        // The limit is applied here rather than by a layer on every SCIM route, which each
        // request would pay for.
        let bytes = match axum::body::to_bytes(req.into_body(), MAX_BODY).await {
            Ok(bytes) => bytes,
            Err(e) => return Err(body_error(&e)),
        };
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ScimError::invalid_syntax(
                "the request has no body; send a JSON object",
            ));
        }
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(map)) => Ok(ScimBody(map)),
            Ok(_) => Err(ScimError::invalid_syntax("the body must be a JSON object")),
            Err(e) => Err(ScimError::invalid_syntax(format!(
                "the body is not valid JSON: {e}"
            ))),
        }
    }
}

fn body_error(e: &axum::Error) -> ScimError {
    let too_large = std::iter::successors(Some(e as &dyn std::error::Error), |e| e.source())
        .any(|e| e.is::<http_body_util::LengthLimitError>());
    if too_large {
        ScimError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            None,
            format!("the request body is larger than {MAX_BODY} bytes"),
        )
    } else {
        ScimError::invalid_syntax(format!("the request body could not be read: {e}"))
    }
}

/// The version an `If-Match` / `If-None-Match` header names; `*` and unparsable values are
/// `Any`.
#[derive(Debug, PartialEq, Eq)]
pub enum Precondition {
    Any,
    Versions(Vec<i64>),
}

pub fn precondition(headers: &HeaderMap, name: header::HeaderName) -> Option<Precondition> {
    parse_precondition(headers.get(name)?)
}

fn parse_precondition(value: &HeaderValue) -> Option<Precondition> {
    let value = value.to_str().ok()?.trim();
    if value == "*" {
        return Some(Precondition::Any);
    }
    let versions = value
        .split(',')
        .filter_map(|tag| {
            let tag = tag.trim();
            let tag = tag.strip_prefix("W/").unwrap_or(tag);
            tag.trim_matches('"').parse::<i64>().ok()
        })
        .collect::<Vec<_>>();
    Some(Precondition::Versions(versions))
}

/// The version `If-Match` requires, for the domain's optimistic check (`*` requires none).
/// A list of several tags can only be checked by the handler; the first is used.
pub fn if_match(headers: &HeaderMap) -> ScimResult<Option<i64>> {
    match precondition(headers, header::IF_MATCH) {
        None | Some(Precondition::Any) => Ok(None),
        Some(Precondition::Versions(v)) => match v.first() {
            Some(version) => Ok(Some(*version)),
            None => Err(ScimError::new(
                StatusCode::PRECONDITION_FAILED,
                None,
                "If-Match does not name a version of this resource",
            )),
        },
    }
}

/// A GET's `If-None-Match` header: the one header a read looks at, taken without copying the
/// others.
pub struct IfNoneMatch(Option<HeaderValue>);

impl<S: Send + Sync> FromRequestParts<S> for IfNoneMatch {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(IfNoneMatch(
            parts.headers.get(header::IF_NONE_MATCH).cloned(),
        ))
    }
}

impl IfNoneMatch {
    /// True when it names the current version (or `*`): answer 304.
    pub fn names(&self, version: i64) -> bool {
        match self.0.as_ref().and_then(parse_precondition) {
            Some(Precondition::Any) => true,
            Some(Precondition::Versions(v)) => v.contains(&version),
            None => false,
        }
    }
}
