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
mod paths;
mod request;
mod resource;
mod response;
pub(crate) mod routes;
mod search;
pub mod user_json;
#[doc(hidden)]
pub mod user_resource;
mod users;

use axum::extract::Request;
use axum::handler::Handler;
use axum::http::Method;
use axum::response::Response;

pub use error::{SCIM_CONTENT_TYPE, ScimError, ScimResult};
pub use paths::{Endpoint, ScimPath, parse};
pub use request::{
    IfNoneMatch, MAX_BODY, MAX_BULK_OPERATIONS, Precondition, ScimBody, if_match, precondition,
};
pub use resource::etag;
pub use response::{
    ANSWER_BYTES, not_modified_response, resource_response, resource_response_written, respond,
    respond_written, versioned_empty,
};

/// Serves a request whose path `paths::parse` placed below a SCIM base; a Bulk request's
/// operations go through `routes` one by one.
pub async fn serve(state: crate::state::AppState, path: ScimPath, request: Request) -> Response {
    routes::serve(state, path, request, with_bulk).await
}

fn with_bulk(
    state: crate::state::AppState,
    endpoint: Endpoint,
    request: Request,
) -> routes::HandlerFuture {
    if endpoint == Endpoint::Bulk && request.method() == Method::POST {
        Box::pin(Handler::call(bulk::bulk, request, state))
    } else {
        routes::call(state, endpoint, request)
    }
}
