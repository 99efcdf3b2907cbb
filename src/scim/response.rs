//! SCIM answers: a JSON body as `application/scim+json` with a known length, and a resource's
//! ETag and Location.

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::error::{SCIM_CONTENT_TYPE, ScimError};
use super::resource::etag;

/// A SCIM JSON response with its status and headers.
pub fn respond(status: StatusCode, body: impl serde::Serialize, headers: HeaderMap) -> Response {
    match to_json(&body) {
        Ok(body) => respond_written(status, body, headers),
        Err(cause) => unwritable(cause),
    }
}

/// The JSON of an answer's body, or why it could not be written.
fn to_json(body: &impl serde::Serialize) -> Result<Vec<u8>, serde_json::Error> {
    // Room for one resource up front: growing from serde_json's 128 bytes copies it 3 times.
    let mut out = Vec::with_capacity(ANSWER_BYTES);
    serde_json::to_writer(&mut out, body).map(|()| out)
}

/// The 500 for an answer that could not be written (a bug), with the cause for the log.
fn unwritable(cause: serde_json::Error) -> Response {
    ScimError {
        failure: Some(crate::domain::Failure::internal(format!(
            "a SCIM answer could not be written as JSON: {cause}"
        ))),
        ..ScimError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            None,
            "the answer could not be written",
        )
    }
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
        Ok(body) => resource_response_written(status, body, version, location),
        Err(cause) => unwritable(cause),
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
