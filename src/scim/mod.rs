//! SCIM 2.0 (RFC 7643/7644) under `/api/teams/{teamId}/scim/v2`: strict in what it sends, lenient
//! in what it accepts. Handlers are thin: wire JSON to domain input, call the domain, render.

mod auth;
pub(crate) mod bulk;
pub(crate) mod cursor;
mod discovery;
pub(crate) mod error;
#[doc(hidden)]
pub mod groups;
/// Public for the micro-benchmarks in `benches/`.
#[doc(hidden)]
pub mod json_out;
mod list;
/// Public for the micro-benchmarks in `benches/`.
#[doc(hidden)]
pub mod patch;
mod resource;
pub(crate) mod routes;
pub mod user_json;
#[doc(hidden)]
pub mod users;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

pub use error::{ScimError, ScimResult};

pub const SCIM_CONTENT_TYPE: &str = "application/scim+json";
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

/// A SCIM JSON response with its status and headers.
pub fn respond(status: StatusCode, body: impl serde::Serialize, headers: HeaderMap) -> Response {
    match to_json(&body) {
        Some(body) => respond_written(status, body, headers),
        None => unwritable(),
    }
}

/// The JSON of an answer's body; `None` (logged) when it can't be written.
fn to_json(body: &impl serde::Serialize) -> Option<Vec<u8>> {
    // Room for one resource up front: growing from serde_json's 128 bytes copies it 3 times.
    let mut out = Vec::with_capacity(ANSWER_BYTES);
    match serde_json::to_writer(&mut out, body) {
        Ok(()) => Some(out),
        Err(e) => {
            tracing::error!(error = %e, "a SCIM answer could not be written as JSON");
            None
        }
    }
}

fn unwritable() -> Response {
    ScimError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        None,
        "the answer could not be written",
    )
    .into_response()
}

/// Room for one resource's JSON.
pub const ANSWER_BYTES: usize = 1024;

/// An answer whose JSON body is already written.
pub fn respond_written(status: StatusCode, body: Vec<u8>, mut headers: HeaderMap) -> Response {
    // Room for every header the answer will carry (its own, these two, and the serving
    // layer's four) so the map is not grown along the way; a known length spares the router
    // and hyper from working it out.
    headers.reserve(ANSWER_HEADERS);
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(SCIM_CONTENT_TYPE),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    let mut response = Response::new(axum::body::Body::from(Bytes::from(body)));
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response
}

/// Headers a SCIM answer usually carries: ETag, Location, Content-Type, Content-Length, and the
/// serving layer's request id and three security headers.
const ANSWER_HEADERS: usize = 8;

/// `W/"<version>"`.
pub fn etag(version: i64) -> String {
    resource::ETag(version).to_string()
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

pub fn not_modified_response(version: i64) -> Response {
    versioned_empty(StatusCode::NOT_MODIFIED, version)
}

/// A bodiless answer (304, or 204 for a PATCH) that still names the resource's version.
pub fn versioned_empty(status: StatusCode, version: i64) -> Response {
    let mut response = status.into_response();
    if let Ok(v) = HeaderValue::from_str(&etag(version)) {
        response.headers_mut().insert(header::ETAG, v);
    }
    response
}

/// One resource as the answer: its ETag, and for a 201 its Location.
pub fn resource_response(
    status: StatusCode,
    body: impl serde::Serialize,
    version: i64,
    location: &str,
) -> Response {
    match to_json(&body) {
        Some(body) => resource_response_written(status, body, version, location),
        None => unwritable(),
    }
}

/// `resource_response` for a body already written.
pub fn resource_response_written(
    status: StatusCode,
    body: Vec<u8>,
    version: i64,
    location: &str,
) -> Response {
    let mut headers = HeaderMap::with_capacity(ANSWER_HEADERS);
    if let Ok(v) = HeaderValue::from_str(&etag(version)) {
        headers.insert(header::ETAG, v);
    }
    if status == StatusCode::CREATED
        && let Ok(v) = HeaderValue::from_str(location)
    {
        headers.insert(header::LOCATION, v);
    }
    respond_written(status, body, headers)
}
