//! scim-gateway: a workspace's SAML & SCIM settings (GraphQL admin API and web page) and the
//! SCIM 2.0 routes identity providers call, over one domain layer and one sea-orm data layer.

pub mod config;
pub mod connections;
pub mod db;
pub mod domain;
pub mod entities;
pub mod graphql;
pub mod limits;
pub mod metrics;
pub mod request_id;
pub mod scim;
mod serving;
pub(crate) mod sso;
pub mod state;
mod web;

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::StatusCode;
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use futures_util::future::Either;
use tokio::net::TcpListener;

pub use state::{AppState, Settings};

/// Largest GraphQL request body: room for 1 MiB of IdP metadata XML.
pub const GRAPHQL_BODY_LIMIT: usize = 2 * 1024 * 1024;

/// The whole service: SCIM's routes are matched by `scim::routes` (the IdPs' calls, the hot
/// path), everything else by an axum router; both go through `serving`.
#[derive(Clone)]
pub struct App {
    state: AppState,
    router: Router,
}

impl tower::Service<Request> for App {
    type Response = Response;
    type Error = Infallible;
    type Future = Either<
        Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>,
        <Router as tower::Service<Request>>::Future,
    >;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        match scim::routes::parse(request.uri().path()) {
            Some(path) => {
                let state = self.state.clone();
                Either::Left(Box::pin(async move {
                    let inner = state.clone();
                    Ok(serving::around(state, request, move |request| {
                        scim::routes::serve(inner, path, request)
                    })
                    .await)
                }))
            }
            None => Either::Right(self.router.call(request)),
        }
    }
}

pub fn app(state: AppState) -> App {
    App {
        router: router(state.clone()),
        state,
    }
}

/// The routes other than SCIM's.
fn router(state: AppState) -> Router {
    let api = Router::new()
        .route(
            "/graphql",
            get(graphql::get_handler).post(graphql::post_handler),
        )
        .layer(DefaultBodyLimit::max(GRAPHQL_BODY_LIMIT))
        .merge(sso::router())
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics::endpoint));
    api.merge(web::router(&state.settings.web_dir))
        .layer(from_fn_with_state(state.clone(), serving::every_request))
        .with_state(state)
}

/// Alive: the process answers.
async fn healthz() -> impl IntoResponse {
    Json(serde_json::json!({ "status": "ok" }))
}

/// Ready: the database answers.
async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    match tokio::time::timeout(Duration::from_secs(5), db::ping(&state.db)).await {
        Ok(Ok(())) => (
            StatusCode::OK,
            Json(serde_json::json!({ "status": "ready" })),
        ),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "database not reachable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(
                    serde_json::json!({ "status": "unavailable", "reason": "database not reachable" }),
                ),
            )
        }
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({ "status": "unavailable", "reason": "database timed out" })),
        ),
    }
}

/// Serves until `shutdown` completes, then finishes in-flight requests.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = state.settings.limits.connections();
    connections::serve(listener, app(state), limits, shutdown).await
}
