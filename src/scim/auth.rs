//! Every SCIM request: the API key of the workspace in the path (`Authorization: Bearer <key>` or
//! the bare key Okta's header mode sends), then the SCIM switch. Failures answer 401/403 with
//! RFC 7644 bodies; the domain records every failed request (`domain::request_log`).

use std::time::Instant;

use std::future::Future;

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::domain::api_keys::{self, RequestInfo, ScimPrincipal};
use crate::domain::request_log::{self, FailedRequest};
use crate::domain::{access, rate_limit};
use crate::metrics::MatchedRoute;
use crate::scim::ScimError;
use crate::scim::paths::Endpoint;
use crate::state::AppState;

/// Admits a request to `endpoint` of `workspace_id` (see `admit_and_run`), runs it, and counts
/// it for the workspace's metrics.
pub async fn authenticate<F, Fut>(
    state: &AppState,
    workspace_id: &str,
    endpoint: Endpoint,
    request: Request,
    run: F,
) -> Response
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Response>,
{
    let method = request.method().clone();
    let (mut response, client) = admit_and_run(state, workspace_id, request, run).await;
    // Counted per workspace only once its key is verified: a path's workspace id alone could be
    // anything, and each would be a new series.
    if let Some(client) = client {
        state.metrics.scim_operation(
            workspace_id,
            client,
            &method,
            endpoint.resource(),
            response.status().as_u16(),
        );
    }
    response
        .extensions_mut()
        .insert(MatchedRoute::new(endpoint.template()));
    response
}

/// Verifies the key of `workspace_id` (the path's), applies its rate limit and the workspace's
/// SCIM switch, then runs the request; also returns the verified caller's client.
async fn admit_and_run<F, Fut>(
    state: &AppState,
    workspace_id: &str,
    mut request: Request,
    run: F,
) -> (Response, Option<&'static str>)
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Response>,
{
    let started = Instant::now();
    let headers = request.headers();
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    let client = api_keys::client_from_user_agent(user_agent);
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(crate::domain::secrets::from_authorization)
        .unwrap_or("");
    let log = RequestLog {
        workspace_id,
        method: request.method().clone(),
        path: request.uri().path().into(),
        started,
    };
    let key = match access::scim_key(&state.store, workspace_id, presented, user_agent).await {
        Ok(key) => key,
        Err(e) => {
            let response = ScimError::from(e).into_response();
            log.failed(state, format!("unknown key ({client})"), &response)
                .await;
            return (response, None);
        }
    };
    // Throttled requests are not written to the activity log: a flood must not become writes.
    if let Err(wait) = state.rate.take(&key.id, started) {
        return (too_many_requests(wait), Some(client));
    }
    let actor = || ScimPrincipal::actor_of(&key.prefix, client);
    match access::scim_enabled(&state.store, workspace_id).await {
        Ok(true) => {}
        Ok(false) => {
            let response = ScimError::new(
                StatusCode::FORBIDDEN,
                None,
                "SCIM provisioning is switched off for this workspace; an admin can enable it in the SAML & SCIM settings",
            )
            .into_response();
            log.failed(state, actor(), &response).await;
            return (response, Some(client));
        }
        Err(e) => {
            let response = ScimError::from(e).into_response();
            log.failed(state, actor(), &response).await;
            return (response, Some(client));
        }
    }
    // The handler takes the principal out of the request (`Caller`).
    request.extensions_mut().insert(ScimPrincipal {
        request: Some(RequestInfo {
            method: log.method.to_string(),
            path: log.path.to_string(),
            started,
        }),
        ..ScimPrincipal::from_key(&key, client)
    });
    let response = run(request).await;
    if response.status().is_client_error() || response.status().is_server_error() {
        log.failed(state, actor(), &response).await;
    } else {
        request_log::succeeded(&state.store).await;
    }
    (response, Some(client))
}

/// The verified caller of a SCIM handler, taken out of the request the auth layer admitted
/// (not cloned: a handler is its one reader).
pub struct Caller(pub ScimPrincipal);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ScimError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .remove::<ScimPrincipal>()
            .map(Caller)
            .ok_or_else(|| ScimError::from(crate::domain::Error::Unauthenticated))
    }
}

/// 429 with `Retry-After` and an RFC 7644 body.
fn too_many_requests(wait: std::time::Duration) -> Response {
    let seconds = rate_limit::retry_after_secs(wait);
    let mut response = ScimError::new(
        StatusCode::TOO_MANY_REQUESTS,
        None,
        format!("this API key sent more requests than the gateway accepts per second; retry after {seconds} s"),
    )
    .into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    response
}

/// What the activity log needs to know about the request being served.
struct RequestLog<'a> {
    workspace_id: &'a str,
    method: Method,
    path: Box<str>,
    started: Instant,
}

impl RequestLog<'_> {
    /// Has the domain record a failed request. Status and detail are read before the first
    /// await, so the future holds no response.
    fn failed<'a>(
        &'a self,
        state: &'a AppState,
        actor: String,
        response: &Response,
    ) -> impl std::future::Future<Output = ()> + Send + 'a {
        let status = response.status();
        let error = response.extensions().get::<ScimError>();
        let outage = error.is_some_and(ScimError::is_outage);
        let detail = error
            .map(|e| e.detail.clone())
            .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_string());
        request_log::failed(
            &state.store,
            FailedRequest {
                workspace_id: self.workspace_id,
                actor,
                method: self.method.as_str(),
                path: &self.path,
                resource_path: short_path(&self.path),
                status: status.as_u16(),
                detail,
                latency: self.started.elapsed(),
                outage,
            },
        )
    }
}

/// The path below the SCIM base, for summaries: `/Users/123`.
fn short_path(path: &str) -> &str {
    path.find("/scim/v2")
        .map(|i| &path[i + "/scim/v2".len()..])
        .unwrap_or(path)
}
