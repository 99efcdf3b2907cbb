//! The SCIM routes, matched by hand below `/api/teams/{teamId}/scim/v2`. SCIM's paths are a
//! small fixed set, and an axum router cost a lookup, percent-decoded parameters and a boxed
//! service per layer on every request; reads are the IdPs' most frequent calls.
//!
//! Hand-written for speed, on purpose. Measured with `scim-bench instructions` (callgrind) on
//! 2026-11-29: an axum router here cost 12% of a GET (100,633 → 88,608 instructions per GET,
//! 106,833 → 102,332 per lookup). Pinned to what a router would do by `scim::paths`' unit tests
//! and `tests/it/scim_protocol.rs` (`hand_matched_routes_behave_as_a_router_would`,
//! `one_trailing_slash_names_the_same_endpoint`).

use axum::extract::Request;
use axum::handler::Handler;
use axum::http::Method;
use axum::response::{IntoResponse, Response};

use crate::scim::paths::{Endpoint, ResourceId, ScimPath, no_such_endpoint, parse};
use crate::scim::{ScimError, auth, discovery, groups, search, users};
use crate::state::AppState;

/// Serves a request whose path `parse` placed below a SCIM base: the key, then `handlers`.
pub async fn serve(
    state: AppState,
    path: ScimPath,
    request: Request,
    handlers: Handlers,
) -> Response {
    let ScimPath::Endpoint {
        workspace_id,
        endpoint,
        id,
    } = path
    else {
        return no_such_endpoint().into_response();
    };
    let handler_state = state.clone();
    auth::authenticate(
        &state,
        &workspace_id,
        endpoint,
        request,
        move |mut request| {
            if let Some(id) = id {
                request.extensions_mut().insert(ResourceId(id));
            }
            handlers(handler_state, endpoint, request)
        },
    )
    .await
}

/// Serves a request of a bulk operation, as if it had come on its own (a Bulk inside it is not
/// an endpoint).
pub async fn serve_one(state: AppState, request: Request) -> Response {
    match parse(request.uri().path()) {
        Some(path) => serve(state, path, request, call).await,
        None => no_such_endpoint().into_response(),
    }
}

pub type HandlerFuture = std::pin::Pin<Box<dyn std::future::Future<Output = Response> + Send>>;

/// Finds and runs the handler of an endpoint.
pub type Handlers = fn(AppState, Endpoint, Request) -> HandlerFuture;

/// The handler of an endpoint and method (HEAD as GET; hyper leaves out the body), for every
/// endpoint but Bulk, whose operations come back here (`scim::serve` adds it).
pub fn call(state: AppState, endpoint: Endpoint, request: Request) -> HandlerFuture {
    use Endpoint as E;
    let method = request.method().clone();
    let get = method == Method::GET || method == Method::HEAD;
    macro_rules! run {
        ($handler:expr) => {
            Handler::call($handler, request, state)
        };
    }
    match (endpoint, method) {
        (E::Users, _) if get => run!(users::list),
        (E::Users, Method::POST) => run!(users::create),
        (E::UsersSearch, Method::POST) => run!(users::search),
        (E::User, _) if get => run!(users::get),
        (E::User, Method::PUT) => run!(users::replace),
        (E::User, Method::PATCH) => run!(users::patch),
        (E::User, Method::DELETE) => run!(users::delete),
        (E::Groups, _) if get => run!(groups::list),
        (E::Groups, Method::POST) => run!(groups::create),
        (E::GroupsSearch, Method::POST) => run!(groups::search),
        (E::Group, _) if get => run!(groups::get),
        (E::Group, Method::PUT) => run!(groups::replace),
        (E::Group, Method::PATCH) => run!(groups::patch),
        (E::Group, Method::DELETE) => run!(groups::delete),
        (E::Search, Method::POST) => run!(search::search_all),
        (E::ServiceProviderConfig, _) if get => run!(discovery::service_provider_config),
        (E::ResourceTypes, _) if get => run!(discovery::resource_types),
        (E::ResourceType, _) if get => run!(discovery::resource_type),
        (E::Schemas, _) if get => run!(discovery::schemas),
        (E::Schema, _) if get => run!(discovery::schema),
        _ => Box::pin(async { ScimError::method_not_allowed().into_response() }),
    }
}
