//! What every request goes through, in one layer: an id, a log span named by it, the request
//! timeout, a guard against panics, the metrics, one log line when it is answered (with the
//! cause of a failure, which the protocols carry out on their answers as a `domain::Failure`;
//! nothing else logs a request's error), and the security headers. One layer rather than one
//! each: every layer boxes and moves the request's future, which the hot SCIM reads feel.

use std::borrow::Cow;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::FutureExt;
use tracing::Instrument;

use crate::domain::Failure;
use crate::metrics::MatchedRoute;
use crate::request_id;
use crate::state::AppState;

/// Requests whose path matched no route (static files, 404s) share one label.
const OTHER_ROUTE: &str = "other";

/// The layer of the axum routes (all but SCIM's, which `around` wraps directly).
pub async fn every_request(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    around(state, request, |request| next.run(request)).await
}

/// Serves `request` with `inner`, and does for it what every request gets.
pub async fn around<F, Fut>(state: AppState, request: Request, inner: F) -> Response
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Response>,
{
    let started = Instant::now();
    let id = request_id::of(request.headers());
    let method = request.method().clone();
    let uri = request.uri().clone();
    let outer_route = request.extensions().get::<MatchedPath>().cloned();
    let span = tracing::info_span!("request", request_id = id.to_str().unwrap_or(""), %method);
    let limit = state.settings.limits.request_timeout;
    // A panic answers 500 in the request's protocol instead of dropping the connection.
    let served = AssertUnwindSafe(inner(request).instrument(span.clone())).catch_unwind();
    let mut response = match tokio::time::timeout(limit, served).await {
        Ok(Ok(response)) => response,
        Ok(Err(panic)) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            let mut response = internal_error_response(uri.path());
            let failure = Failure::internal(format!("the request panicked: {message}"));
            response.extensions_mut().insert(failure);
            response
        }
        Err(_) => {
            let mut response = timeout_response(uri.path(), limit);
            let failure = Failure::internal(format!("stopped after the {limit:?} request timeout"));
            response.extensions_mut().insert(failure);
            response
        }
    };
    // SCIM's routes are matched below this and named on the response.
    let route: Cow<'static, str> = match response.extensions().get::<MatchedRoute>() {
        Some(matched) => Cow::Borrowed(matched.as_str()),
        None => match &outer_route {
            Some(path) => Cow::Owned(path.as_str().to_owned()),
            None => Cow::Borrowed(OTHER_ROUTE),
        },
    };
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    // One line per request, with the cause of a failure the protocol carried out on its answer:
    // errors are logged here and nowhere else.
    let failure = response.extensions().get::<Failure>();
    span.in_scope(|| {
        let route: &str = &route;
        let latency_ms = elapsed.as_secs_f64() * 1000.0;
        let path = uri.path();
        match failure {
            Some(f) if f.internal => {
                tracing::error!(%method, route, path, status, latency_ms, error = %f, "answered")
            }
            // The database is unreachable: `outages` says so once, not every request.
            Some(f) => {
                tracing::debug!(%method, route, path, status, latency_ms, error = %f, "answered")
            }
            None if status >= 500 => tracing::warn!(%method, route, status, latency_ms, "answered"),
            None if status >= 400 => tracing::info!(%method, route, status, latency_ms, "answered"),
            None => tracing::debug!(%method, route, status, latency_ms, "answered"),
        }
    });
    state.metrics.observe(route, &method, status, elapsed);
    let headers = response.headers_mut();
    for (name, value) in SECURITY_HEADERS {
        headers
            .entry(name)
            .or_insert(HeaderValue::from_static(value));
    }
    headers.insert(request_id::HEADER.clone(), id);
    response
}

/// Set on every answer that doesn't set them itself.
const SECURITY_HEADERS: [(HeaderName, &str); 3] = [
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::REFERRER_POLICY, "no-referrer"),
    (header::X_FRAME_OPTIONS, "DENY"),
];

/// The 500 for a request that failed in a way the server did not foresee (a bug: logged with the
/// request's id), in its protocol's format.
pub fn internal_error_response(path: &str) -> Response {
    protocol_error(
        path,
        StatusCode::INTERNAL_SERVER_ERROR,
        crate::graphql::error::INTERNAL,
        "the server failed on this request; it is logged with the request id (X-Request-Id)"
            .to_string(),
    )
}

/// The 503 for a request stopped by the timeout, in its protocol's format. The handler's future
/// was dropped: a transaction it had open rolls back; a SCIM write already queued for commit may
/// still land, as with any timeout the client can't tell apart from a lost answer.
pub fn timeout_response(path: &str, limit: Duration) -> Response {
    let detail = format!(
        "the request did not finish within {} s and was stopped; retry it (a change it made may or may not have been applied)",
        limit.as_secs_f64()
    );
    protocol_error(
        path,
        StatusCode::SERVICE_UNAVAILABLE,
        crate::graphql::error::TIMEOUT,
        detail,
    )
}

/// An error the serving layer answers itself: an RFC 7644 body on SCIM routes, a GraphQL error
/// with `extensions.code` on `/graphql`, plain text elsewhere.
fn protocol_error(path: &str, status: StatusCode, graphql_code: &str, detail: String) -> Response {
    if crate::scim::parse(path).is_some() {
        crate::scim::ScimError::new(status, None, detail).into_response()
    } else if path.starts_with("/graphql") {
        crate::graphql::coded_error_response(status, graphql_code, detail)
    } else {
        (status, detail).into_response()
    }
}

/// `GET /metrics` with `Authorization: Bearer <SCIM_GATEWAY_METRICS_TOKEN>`.
pub async fn metrics_endpoint(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some(expected_hash) = state.settings.metrics_token_hash.as_deref() else {
        return (
            StatusCode::NOT_FOUND,
            "metrics are off: set SCIM_GATEWAY_METRICS_TOKEN to serve them",
        )
            .into_response();
    };
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if !crate::domain::secrets::hash_matches(expected_hash, presented) {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "send Authorization: Bearer <SCIM_GATEWAY_METRICS_TOKEN>",
        )
            .into_response();
    }
    let body = state
        .metrics
        .render(&state.store.pools(), state.store.lane_counts());
    ([(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)], body).into_response()
}
