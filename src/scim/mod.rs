//! SCIM 2.0 (RFC 7643/7644) under `/api/teams/{teamId}/scim/v2`: strict in what it sends, lenient
//! in what it accepts. Handlers are thin: wire JSON to domain input, call the domain, render.

mod auth;
pub(crate) mod bulk;
mod discovery;
pub(crate) mod error;
#[doc(hidden)]
pub mod groups;
mod list;
/// Public for the micro-benchmarks in `benches/`.
#[doc(hidden)]
pub mod patch;
mod resource;
pub mod user_json;
#[doc(hidden)]
pub mod users;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, FromRequest, Request};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, any, get, post};
use serde_json::Value;

pub use error::{ScimError, ScimResult};

use crate::state::AppState;

pub const SCIM_CONTENT_TYPE: &str = "application/scim+json";
/// Largest SCIM request body; advertised in ServiceProviderConfig (`bulk.maxPayloadSize`).
pub const MAX_BODY: usize = 1024 * 1024;

/// Where the SCIM routes of a workspace live.
const BASE: &str = "/api/teams/{teamId}/scim/v2";

/// The SCIM routes, each at its full path: not a nested router, which would strip the prefix and
/// route every request twice.
pub fn router(state: AppState) -> Router<AppState> {
    let with_405 =
        |m: MethodRouter<AppState>| m.fallback(|| async { ScimError::method_not_allowed() });
    let routes: [(&str, MethodRouter<AppState>); 13] = [
        ("/Users", get(users::list).post(users::create)),
        ("/Users/.search", post(users::search)),
        (
            "/Users/{id}",
            get(users::get)
                .put(users::replace)
                .patch(users::patch)
                .delete(users::delete),
        ),
        ("/Groups", get(groups::list).post(groups::create)),
        ("/Groups/.search", post(groups::search)),
        (
            "/Groups/{id}",
            get(groups::get)
                .put(groups::replace)
                .patch(groups::patch)
                .delete(groups::delete),
        ),
        ("/.search", post(list::search_all)),
        ("/Bulk", post(bulk::bulk)),
        (
            "/ServiceProviderConfig",
            get(discovery::service_provider_config),
        ),
        ("/ResourceTypes", get(discovery::resource_types)),
        ("/ResourceTypes/{name}", get(discovery::resource_type)),
        ("/Schemas", get(discovery::schemas)),
        ("/Schemas/{urn}", get(discovery::schema)),
    ];
    let mut router = Router::new();
    for (path, methods) in routes {
        router = router.route(&format!("{BASE}{path}"), with_405(methods));
    }
    router
        .route_layer(from_fn_with_state(state, auth::authenticate))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        // Any other path below the base, before a key is checked (as a nested router's fallback
        // would answer it).
        .route(BASE, any(not_found))
        .route(&format!("{BASE}/{{*rest}}"), any(not_found))
}

async fn not_found() -> ScimError {
    ScimError::not_found("no such SCIM endpoint")
}

/// A JSON object body sent as `application/scim+json` or `application/json` (or with no
/// Content-Type, as some clients do).
pub struct ScimBody(pub serde_json::Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for ScimBody {
    type Rejection = ScimError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
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
        let bytes = match Bytes::from_request(req, state).await {
            Ok(bytes) => bytes,
            Err(rejection) => return Err(body_rejection(rejection)),
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

fn body_rejection(rejection: BytesRejection) -> ScimError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ScimError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            None,
            format!("the request body is larger than {MAX_BODY} bytes"),
        )
    } else {
        ScimError::invalid_syntax(rejection.body_text())
    }
}

/// A SCIM JSON response with its status and headers.
pub fn respond(status: StatusCode, body: impl serde::Serialize, headers: HeaderMap) -> Response {
    // Room for one resource up front: growing from serde_json's 128 bytes copies it 3 times.
    let mut out = Vec::with_capacity(1024);
    let body = match serde_json::to_writer(&mut out, &body) {
        Ok(()) => Bytes::from(out),
        Err(e) => {
            tracing::error!(error = %e, "a SCIM answer could not be written as JSON");
            return ScimError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                None,
                "the answer could not be written",
            )
            .into_response();
        }
    };
    let mut response = (status, headers, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(SCIM_CONTENT_TYPE),
    );
    response
}

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
    let value = headers.get(name)?.to_str().ok()?.trim();
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

/// True when `If-None-Match` names the current version (or `*`): answer 304.
pub fn not_modified(headers: &HeaderMap, version: i64) -> bool {
    match precondition(headers, header::IF_NONE_MATCH) {
        Some(Precondition::Any) => true,
        Some(Precondition::Versions(v)) => v.contains(&version),
        None => false,
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
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&etag(version)) {
        headers.insert(header::ETAG, v);
    }
    if status == StatusCode::CREATED
        && let Ok(v) = HeaderValue::from_str(location)
    {
        headers.insert(header::LOCATION, v);
    }
    respond(status, body, headers)
}
