//! scim-gateway: a workspace's SAML & SCIM settings (GraphQL admin API and web page) and the
//! SCIM 2.0 routes identity providers call, over one domain layer and one sea-orm data layer.
//!
//! # Map of the tree
//!
//! Layers, each using only its own and those below (`tests/it/layers.rs` checks it, and that
//! the modules form no import cycle):
//!
//! 1. **serving** — `lib` (this file: the service, its routes), `serving` (what every request
//!    goes through: id, span, timeout, panic guard, metrics, one log line), `connections` (the
//!    accept loop: head and idle timeouts, the connection budget), `request_id`.
//! 2. **protocols** — translate the wire to domain calls and back, no rules of their own:
//!    `scim` (SCIM 2.0 for the IdPs), `graphql` (the admin API), `sso` (SAML's HTTP routes and
//!    the session cookie), `web` (the built page and playground).
//! 3. **shared** — what the protocols share: `state` (the handle every handler gets), `metrics`
//!    (request counts and latencies), `limits` (plain numbers), `config` (flags and environment),
//!    `client_address` (who a request comes from, behind the proxies the operator listed).
//! 4. **domain** — every rule, once; see below.
//! 5. **db** — `db`: connections, migrations, and how statements run: `db::handles` (pools,
//!    the fast readers and SQLite's writer, and how a read-then-write runs on each backend),
//!    `db::prepared` (statements built once with marker values), `db::statements` (write
//!    transactions, batches, row locks), `db::rows` (one row decoder for every driver),
//!    `db::errors` (what an error means, whichever driver reported it), `db::sqlite_reads`,
//!    `db::sqlite_writes`, `db::sqlite_checkpoints`, and PostgreSQL's lanes beside the pool:
//!    `db::postgres_lanes` (tokio-postgres connections), `db::postgres_reads` (pipelined point
//!    reads), `db::postgres_writes` (a transaction in one round trip).
//! 6. **entities** — `entities`: sea-orm entities, one file per table, used only by the domain.
//!
//! Where the rule for X lives, in `domain`:
//!
//! - `domain::store` — the `Store`: the one handle to pools, readers, writer and caches.
//! - `domain::users` — SCIM users (members), the rules in order: create, update, delete;
//!   `domain::users::rules` (validation, owner and last-admin guards, wording),
//!   `domain::users::model`, `domain::users::reads` (queries), `domain::users::writes`
//!   (what a change stores), `domain::users::statements` (the member's hot statements, built
//!   once).
//! - `domain::groups` — pushed groups and their memberships.
//! - `domain::roles` — the effective role: mapped group roles, the direct role, the owner.
//! - `domain::mappings` — the group → role table, replaced whole, members recomputed.
//! - `domain::attributes` — every SCIM attribute's characteristics and where it is stored.
//! - `domain::filter` — SCIM filter grammar; `domain::filter_sql` — filters and sorts as SQL.
//! - `domain::keyset` — cursor paging positions.
//! - `domain::api_keys` — SCIM API keys: issue, list, revoke, verify; `domain::api_keys::key`
//!   (a key, live or not).
//! - `domain::access` — who may call SCIM now: keys and the switch, cached a few seconds
//!   (`domain::access::cache`).
//! - `domain::rate_limit` — each key's request rate.
//! - `domain::scim_settings` — the SCIM switch (only with SAML configured).
//! - `domain::saml` — SAML configuration; `domain::saml::service_provider` (our SP: metadata,
//!   AuthnRequest); `domain::saml::checks` (the checks and a refusal); `domain::saml::precheck` (what a posted document must pass before xmlsec
//!   sees it: bounded parse, the profile's signature form); `domain::saml::verify` (an IdP's
//!   answer: signature and envelope checks).
//! - `domain::sign_in` — signing in through the IdP; `domain::sign_in::requests` (the
//!   AuthnRequests sent), `domain::sign_in::state` (a sign-in in progress, sealed in its
//!   browser's cookie), `domain::sign_in::people` (who an assertion names),
//!   `domain::sign_in::report` (an admin's test sign-in).
//! - `domain::sessions` — browser sessions after SSO.
//! - `domain::admin` — admin tokens (issue, lifetime, verify), principals, "admins only",
//!   re-checking a principal a WebSocket holds, the demo workspace.
//! - `domain::admin_tokens` — the workspace's admin tokens as the page lists and revokes them.
//! - `domain::workspaces` — workspaces, accounts, memberships the settings side creates.
//! - `domain::directory` — the settings page's views of people, groups and activity.
//! - `domain::domain_names` — what a workspace may claim as its e-mail domain.
//! - `domain::domains` — a workspace's claimed domains: claim, check, verify, lapse;
//!   `domain::domains::transitions` (what a lookup does to a claim: statuses and the
//!   schedule), `domain::domains::dns` (TXT lookups through the system's or the configured
//!   resolver).
//! - `domain::activity` — the activity log, written in the transaction of the change.
//! - `domain::request_log` — failed SCIM requests in the activity log; outages' end.
//! - `domain::outages` — database outages, recorded once.
//! - `domain::secrets` — random secrets and their hashes; `domain::values` — ids, time, keys.
//! - `domain::error` — the one error type every protocol maps, and `Failure`, the cause the
//!   serving layer logs once.
//!
//! In `scim`: `scim::paths` (what a path names), `scim::routes` (endpoint → handler, by hand),
//! `scim::auth` (key, rate, switch), `scim::users` and `scim::groups` (handlers),
//! `scim::user_resource` (user JSON in and out), `scim::user_json` (its hand-written fast
//! writer), `scim::json_out`, `scim::list` (list parameters and answers), `scim::search` (root
//! `/.search`), `scim::patch`, `scim::bulk`, `scim::cursor`, `scim::discovery`,
//! `scim::resource` (shared wire pieces), `scim::request`, `scim::response`, `scim::error`.
//! In `graphql`: `graphql::query`, `graphql::mutation`, `graphql::directory` (lists and the
//! activity subscription), `graphql::types`, `graphql::domains` (claimed domains), `graphql::role`, `graphql::caller` (who calls),
//! `graphql::error` (codes).

pub mod client_address;
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

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use futures_util::future::Either;
use tokio::net::TcpListener;

pub use state::{AppState, Settings};

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
        match scim::parse(request.uri().path()) {
            Some(path) => {
                let state = self.state.clone();
                Either::Left(Box::pin(async move {
                    let inner = state.clone();
                    Ok(serving::around(state, request, move |request| {
                        scim::serve(inner, path, request)
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
    let api = graphql::routes(state.clone())
        .merge(sso::router(state.clone()))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(serving::metrics_endpoint));
    api.merge(web::router(&state.settings.web_dir))
        .layer(axum::middleware::map_response(web::content_security_policy))
        .layer(from_fn_with_state(state.clone(), serving::every_request))
        .with_state(state)
}

/// Alive: the process answers.
async fn healthz() -> impl IntoResponse {
    Json(serde_json::json!({ "status": "ok" }))
}

/// Ready: the database answers.
async fn readyz(State(state): State<AppState>) -> Response {
    match tokio::time::timeout(Duration::from_secs(5), state.store.ping()).await {
        Ok(Ok(())) => (
            StatusCode::OK,
            Json(serde_json::json!({ "status": "ready" })),
        )
            .into_response(),
        Ok(Err(e)) => {
            let mut response = (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(
                    serde_json::json!({ "status": "unavailable", "reason": "database not reachable" }),
                ),
            )
                .into_response();
            if let Some(failure) = e.failure() {
                response.extensions_mut().insert(failure);
            }
            response
        }
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({ "status": "unavailable", "reason": "database timed out" })),
        )
            .into_response(),
    }
}

/// Serves until `shutdown` completes, then finishes in-flight requests.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = &state.settings.limits;
    let limits = connections::ConnectionLimits {
        head_timeout: limits.head_timeout,
        idle_timeout: limits.idle_timeout,
        max_connections: limits.max_connections,
    };
    // Claimed domains are looked up in the background while the service serves.
    let checks = domain::domains::spawn_checks(
        state.store.clone(),
        state.domain_checks.clone(),
        state.settings.domain_check_every,
    );
    let served = connections::serve(listener, app(state), limits, shutdown).await;
    checks.abort();
    served
}
