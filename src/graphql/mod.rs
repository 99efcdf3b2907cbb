//! The GraphQL admin API behind the settings page: `/graphql` over HTTP POST, and over WebSocket
//! (graphql-ws and graphql-transport-ws) on `GET /graphql` with an upgrade. Resolvers are thin:
//! they take the principal from the request, call the domain, and map the result.

mod caller;
mod directory;
mod domains;
pub(crate) mod error;
mod mutation;
mod query;
mod role;
mod types;

use async_graphql::http::ALL_WEBSOCKET_PROTOCOLS;
use async_graphql::{Data, ErrorExtensions, Schema};
use async_graphql_axum::{GraphQLProtocol, GraphQLResponse, GraphQLWebSocket};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequestParts, State, WebSocketUpgrade};
use axum::http::{HeaderMap, Request, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};

use caller::caller_for;
pub use error::{GqlResultExt, code_of};

use crate::domain;
use crate::state::AppState;

pub type AppSchema = Schema<query::QueryRoot, mutation::MutationRoot, directory::SubscriptionRoot>;

/// Deep enough for GraphiQL's introspection query, far below anything abusive.
pub const MAX_DEPTH: usize = 16;
pub const MAX_COMPLEXITY: usize = 2000;

/// The schema with its limits and no data: the server adds state per request, and `print-schema`
/// and the SDL test need none.
pub fn schema_builder() -> async_graphql::SchemaBuilder<
    query::QueryRoot,
    mutation::MutationRoot,
    directory::SubscriptionRoot,
> {
    Schema::build(
        query::QueryRoot,
        mutation::MutationRoot,
        directory::SubscriptionRoot,
    )
    .limit_depth(MAX_DEPTH)
    .limit_complexity(MAX_COMPLEXITY)
    .extension(caller::Reauthenticate)
}

pub fn schema() -> AppSchema {
    schema_builder().finish()
}

/// What the `/graphql` handlers share: the service's state and the schema built once.
#[derive(Clone)]
pub struct Endpoint {
    state: AppState,
    schema: AppSchema,
}

/// `/graphql` (POST, and GET for WebSocket and the playground redirect), with its body limit.
pub fn routes<S: Clone + Send + Sync + 'static>(state: AppState) -> axum::Router<S> {
    axum::Router::new()
        .route(
            "/graphql",
            axum::routing::get(get_handler).post(post_handler),
        )
        .layer(axum::extract::DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(Endpoint {
            state,
            schema: schema(),
        })
}

/// Largest GraphQL request body: room for 1 MiB of IdP metadata XML.
pub const BODY_LIMIT: usize = 2 * 1024 * 1024;

/// The SDL of the served schema, as committed in `schema.graphql`.
pub fn sdl() -> String {
    schema().sdl()
}

/// Cross-site use of the session cookie is refused: a foreign `Origin`, or (for POST) a body
/// that is not `application/json`, which a plain HTML form could send.
fn refuse_cross_site(
    headers: &HeaderMap,
    state: &AppState,
    session: Option<&str>,
    post: bool,
) -> Option<Response> {
    session?;
    if crate::sso::cross_origin(headers, &state.settings) {
        return Some(coded_error_response(
            StatusCode::FORBIDDEN,
            "FORBIDDEN",
            "a request from another site may not use this site's sign-in".into(),
        ));
    }
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if post && !json {
        return Some(coded_error_response(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "VALIDATION",
            "send GraphQL requests as application/json".into(),
        ));
    }
    None
}

/// One error with this `extensions.code`, for answers the serving layer gives itself (a timeout,
/// a panic).
pub(crate) fn coded_error_response(status: StatusCode, code: &str, detail: String) -> Response {
    let err = async_graphql::Error::new(detail).extend_with(|_, ext| ext.set("code", code));
    error_response(status, err)
}

/// A response made of one error, in GraphQL's own format.
fn error_response(status: StatusCode, err: async_graphql::Error) -> Response {
    let server_error = err.into_server_error(Default::default());
    let mut response = async_graphql::Response::from_errors(vec![server_error]);
    error::ensure_codes(&mut response);
    answer(status, response)
}

/// The HTTP answer of a GraphQL response, carrying its errors' causes for the log.
fn answer(status: StatusCode, response: async_graphql::Response) -> Response {
    let failure = error::failure_of(&response);
    let mut answer = (status, GraphQLResponse::from(response)).into_response();
    if let Some(failure) = failure {
        answer.extensions_mut().insert(failure);
    }
    answer
}

async fn post_handler(
    State(Endpoint { state, schema }): State<Endpoint>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(rejection) => {
            let status = rejection.status();
            let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
                "the request body is larger than the 2 MiB limit".to_string()
            } else {
                rejection.body_text()
            };
            return error_response(status, domain::Error::invalid("body", message).extend());
        }
    };
    let request: async_graphql::Request = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(e) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                domain::Error::invalid(
                    "body",
                    format!("the body is not a GraphQL request in JSON: {e}"),
                )
                .extend(),
            );
        }
    };
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let session = crate::sso::session_token(&headers, &state.settings);
    if let Some(refused) = refuse_cross_site(&headers, &state, session.as_deref(), true) {
        return refused;
    }
    let caller = match caller_for(&state, token, session.as_deref()).await {
        Ok(caller) => caller,
        Err(e) => return error_response(StatusCode::INTERNAL_SERVER_ERROR, e.extend()),
    };
    let request = request.data(state.clone()).data(caller);
    let mut response = schema.execute(request).await;
    error::ensure_codes(&mut response);
    answer(StatusCode::OK, response)
}

/// `GET /graphql`: a WebSocket upgrade speaks GraphQL over WebSocket; a browser is sent to the
/// playground.
async fn get_handler(
    State(Endpoint { state, schema }): State<Endpoint>,
    request: Request<axum::body::Body>,
) -> Response {
    let (mut parts, _body) = request.into_parts();
    if !parts.headers.contains_key(header::UPGRADE) {
        return Redirect::to("/graphql/playground").into_response();
    }
    let session = crate::sso::session_token(&parts.headers, &state.settings);
    if let Some(refused) = refuse_cross_site(&parts.headers, &state, session.as_deref(), false) {
        return refused;
    }
    // A client that names no subprotocol gets graphql-transport-ws, what current clients speak.
    if !parts.headers.contains_key(header::SEC_WEBSOCKET_PROTOCOL) {
        parts.headers.insert(
            header::SEC_WEBSOCKET_PROTOCOL,
            header::HeaderValue::from_static("graphql-transport-ws"),
        );
    }
    let protocol = match GraphQLProtocol::from_request_parts(&mut parts, &()).await {
        Ok(protocol) => protocol,
        Err(status) => {
            return error_response(
                status,
                domain::Error::invalid(
                    "Sec-WebSocket-Protocol",
                    "speak graphql-transport-ws or graphql-ws",
                )
                .extend(),
            );
        }
    };
    let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
        Ok(upgrade) => upgrade,
        Err(rejection) => return rejection.into_response(),
    };
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| {
            let mut data = Data::default();
            data.insert(state.clone());
            GraphQLWebSocket::new(socket, schema, protocol)
                .with_data(data)
                .on_connection_init(move |payload| async move {
                    let token = payload
                        .get("Authorization")
                        .or_else(|| payload.get("authorization"))
                        .or_else(|| payload.get("authToken"))
                        .and_then(|v| v.as_str())
                        .map(str::to_string);
                    let caller = caller_for(&state, token.as_deref(), session.as_deref())
                        .await
                        .map_err(|e| e.extend())?;
                    let mut data = Data::default();
                    data.insert(caller);
                    data.insert(caller::OverWebSocket);
                    Ok(data)
                })
                .serve()
        })
}
