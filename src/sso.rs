//! Single sign-on over HTTP: each workspace's SAML service provider (`/api/teams/{id}/saml/…`:
//! metadata, login, ACS), the sign-in screen's "Sign in with SSO" entry, and the session cookie.
//! The rules (what is verified, who may sign in) are in `domain::sign_in`.
//!
//! These routes answer anyone: `/metadata`, `/login`, `/acs` and `/api/sso` take from one budget
//! per client
//! (`--public-rate-limit`, `--public-rate-burst`; 429 with `Retry-After` past it) before any
//! other work, the client read by `client_address`.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use crate::domain::{self, sign_in};
use crate::state::{AppState, Settings};

/// The largest ACS form accepted: a signed response with a large attribute statement fits.
const ACS_BODY_LIMIT: usize = 1024 * 1024;

pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/api/teams/{workspace_id}/saml/metadata", get(metadata))
        .route("/api/teams/{workspace_id}/saml/login", get(login))
        .route(
            "/api/teams/{workspace_id}/saml/acs",
            post(acs).layer(axum::extract::DefaultBodyLimit::max(ACS_BODY_LIMIT)),
        )
        .route("/api/sso", get(find_workspace))
        .route_layer(axum::middleware::from_fn_with_state(state, within_budget))
}

/// Bytes of a posted ACS form that cost one request's worth of the budget: a response from Okta
/// or Entra (a few KiB, some tens with large group claims) costs one to a few; a form carrying
/// the largest document the ACS reads (512 KiB, about 700 KiB as base64) about 45, so a client's
/// burst holds one such and its sustained rate one every 20 s or so. Its verification costs what
/// forty small ones do (`cargo bench --bench scim -- saml`).
const ACS_BYTES_PER_REQUEST: u64 = 16 * 1024;

/// What a request costs of its client's budget: one, or for an ACS post its declared size in
/// `ACS_BYTES_PER_REQUEST` (hyper holds a body to its `Content-Length`; without one, the most).
fn budget_cost(request: &Request) -> u32 {
    if request.method() != axum::http::Method::POST {
        return 1;
    }
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(ACS_BODY_LIMIT as u64);
    let size = declared.min(ACS_BODY_LIMIT as u64);
    u32::try_from(1 + size / ACS_BYTES_PER_REQUEST).unwrap_or(u32::MAX)
}

/// The client a public route's request comes from: its budget key (`client_address`).
#[derive(Clone)]
struct Client(String);

/// Takes one request from the client's budget before anything else is done for it.
async fn within_budget(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0)
        .unwrap_or_else(|| std::net::SocketAddr::from(([0, 0, 0, 0], 0)));
    // Read lossily: a line with a stray byte still ends in what the proxy appended.
    let forwarded_for: Vec<String> = request
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .collect();
    let address = crate::client_address::client_address(
        peer,
        forwarded_for.iter().map(String::as_str),
        &state.settings.trusted_proxies,
    );
    let key = crate::client_address::budget_key(address);
    let cost = budget_cost(&request);
    if let Err(wait) = state
        .public_rate
        .take_n(&key, cost, std::time::Instant::now())
    {
        let secs = domain::rate_limit::retry_after_secs(wait);
        let mut response = page(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many sign-in attempts",
            &format!(
                "Too many sign-in attempts came from your network. Wait {secs} seconds and try again."
            ),
        );
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        return response;
    }
    request.extensions_mut().insert(Client(key));
    next.run(request).await
}

/// The workspace's SP metadata, public as IdPs fetch it; 404 for a workspace that doesn't exist.
async fn metadata(State(state): State<AppState>, Path(workspace_id): Path<String>) -> Response {
    let sp = state.settings.saml_service_provider(&workspace_id);
    match sign_in::metadata(&state.store, &sp, &workspace_id).await {
        Ok(xml) => (
            [(header::CONTENT_TYPE, "application/samlmetadata+xml")],
            xml,
        )
            .into_response(),
        Err(e) => error_page(&e),
    }
}

#[derive(Deserialize)]
struct LoginQuery {
    return_to: Option<String>,
}

/// SP-initiated sign-in: off to the IdP with an AuthnRequest.
async fn login(
    State(state): State<AppState>,
    Path(workspace_id): Path<String>,
    Query(query): Query<LoginQuery>,
) -> Response {
    let sp = state.settings.saml_service_provider(&workspace_id);
    match sign_in::begin(&state.store, &sp, &workspace_id, query.return_to.as_deref()).await {
        Ok(started) => {
            let mut response = Redirect::to(&started.url).into_response();
            if let Some(secret) = &started.browser_binding
                && let Ok(value) = HeaderValue::from_str(&binding_cookie(
                    &state.settings,
                    secret,
                    sign_in::REQUEST_TTL,
                ))
            {
                response.headers_mut().append(header::SET_COOKIE, value);
            }
            response
        }
        Err(e) => error_page(&e),
    }
}

/// The IdP's answer (HTTP-POST binding): a session and a redirect, a test report, or a page
/// saying why not.
async fn acs(
    State(state): State<AppState>,
    Path(workspace_id): Path<String>,
    axum::Extension(Client(client)): axum::Extension<Client>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut saml_response = None;
    let mut relay_state = None;
    for (name, value) in url::form_urlencoded::parse(&body) {
        match name.as_ref() {
            "SAMLResponse" => saml_response = Some(value.into_owned()),
            "RelayState" => relay_state = Some(value.into_owned()),
            _ => {}
        }
    }
    let Some(saml_response) = saml_response else {
        return page(
            StatusCode::BAD_REQUEST,
            "Sign-in failed",
            "The identity provider's answer has no SAMLResponse field.",
        );
    };
    let sp = state.settings.saml_service_provider(&workspace_id);
    let answer = sign_in::Answer {
        saml_response,
        relay_state,
        browser_binding: cookie(&headers, binding_cookie_name(&state.settings)),
        client,
    };
    let outcome = sign_in::complete(
        &state.store,
        &sp,
        &workspace_id,
        answer,
        state.settings.session_ttl,
    )
    .await;
    match outcome {
        Ok(sign_in::Outcome::SignedIn { session, return_to }) => {
            let mut response = Redirect::to(&return_to).into_response();
            let cookie =
                session_cookie(&state.settings, &session.token, &state.settings.session_ttl);
            let cleared = binding_cookie(&state.settings, "", chrono::TimeDelta::zero());
            for cookie in [cookie, cleared] {
                if let Ok(value) = HeaderValue::from_str(&cookie) {
                    response.headers_mut().append(header::SET_COOKIE, value);
                }
            }
            response
        }
        Ok(sign_in::Outcome::Tested { request_id }) => {
            let target = format!("/?samlTest={}#saml", urlencode(&request_id));
            Redirect::to(&target).into_response()
        }
        Ok(sign_in::Outcome::Refused(refusal)) => {
            let message = if refusal.check == domain::saml::verify::Check::Person {
                format!("You are {}.", sign_in::NOT_A_MEMBER)
            } else {
                format!(
                    "The identity provider's answer was refused ({refusal}). Nobody was signed in; if this keeps happening, show this message to your admin."
                )
            };
            page(StatusCode::FORBIDDEN, "Sign-in refused", &message)
        }
        Err(e) => error_page(&e),
    }
}

#[derive(Deserialize)]
struct FindQuery {
    who: Option<String>,
    return_to: Option<String>,
}

/// "Sign in with SSO": a workspace slug or an e-mail address → that workspace's login.
async fn find_workspace(State(state): State<AppState>, Query(query): Query<FindQuery>) -> Response {
    let who = query.who.unwrap_or_default();
    match sign_in::find_workspace(&state.store, &who).await {
        Ok(Some(workspace_id)) => {
            let mut target = format!("/api/teams/{}/saml/login", urlencode(&workspace_id));
            if let Some(path) = query.return_to.as_deref().and_then(sign_in::local_path) {
                target.push_str("?return_to=");
                target.push_str(&urlencode(&path));
            }
            Redirect::to(&target).into_response()
        }
        // A code: the page says it in its own fixed words (never text from the address).
        Ok(None) => Redirect::to("/?ssoError=no_workspace").into_response(),
        Err(e) => error_page(&e),
    }
}

/// The cookie that carries a session: HttpOnly, SameSite=Lax, Secure over https.
pub fn session_cookie(settings: &Settings, token: &str, ttl: &chrono::TimeDelta) -> String {
    format!(
        "{}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{}",
        settings.session_cookie_name(),
        ttl.num_seconds().max(0),
        if settings.https() { "; Secure" } else { "" }
    )
}

/// The header that removes the session cookie.
pub fn clear_session_cookie(settings: &Settings) -> String {
    format!(
        "{}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{}",
        settings.session_cookie_name(),
        if settings.https() { "; Secure" } else { "" }
    )
}

/// The cookie that holds an SP-initiated sign-in in the browser that started it (`sealed`, by
/// `sign_in::state`), for as long as the IdP may take to answer; with an empty value and no age,
/// its removal. `SameSite=None` over https, because the IdP's answer is a POST from its own site;
/// over plain http (a local trial) browsers refuse `None` without `Secure`, and `Lax` still
/// reaches a same-site IdP.
fn binding_cookie(settings: &Settings, sealed: &str, max_age: chrono::TimeDelta) -> String {
    format!(
        "{}={sealed}; Path=/; HttpOnly; Max-Age={}{}",
        binding_cookie_name(settings),
        max_age.num_seconds().max(0),
        if settings.https() {
            "; Secure; SameSite=None"
        } else {
            "; SameSite=Lax"
        }
    )
}

fn binding_cookie_name(settings: &Settings) -> &'static str {
    if settings.https() {
        "__Host-scimgw_sso"
    } else {
        "scimgw_sso"
    }
}

/// The session cookie's value in a request, if any.
pub fn session_token(headers: &HeaderMap, settings: &Settings) -> Option<String> {
    cookie(headers, settings.session_cookie_name())
}

/// A cookie's value in a request, if any.
fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// A request that carries the session cookie from a page of another origin (cross-site request
/// forgery): refused. A request without `Origin` (a same-origin GET, a non-browser client) is not.
pub fn cross_origin(headers: &HeaderMap, settings: &Settings) -> bool {
    headers
        .get(header::ORIGIN)
        .is_some_and(|origin| origin.as_bytes() != settings.public_origin().as_bytes())
}

fn urlencode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

fn error_page(e: &domain::Error) -> Response {
    match e {
        domain::Error::NotFound(what) => {
            page(StatusCode::NOT_FOUND, "Not found", &format!("{what}."))
        }
        domain::Error::Invalid { reason, .. } => {
            page(StatusCode::BAD_REQUEST, "Sign-in failed", reason)
        }
        other => {
            let mut response = page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Try again shortly",
                "The sign-in service is not available right now.",
            );
            // Not foreseen on these routes: the cause goes to the log line, not the page.
            let failure = other
                .failure()
                .unwrap_or_else(|| domain::Failure::internal(other));
            response.extensions_mut().insert(failure);
            response
        }
    }
}

/// A small page with a title, a message and a way back to the sign-in screen.
fn page(status: StatusCode, title: &str, message: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title>\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <style>{style}</style></head>\
         <body><h1>{t}</h1><p id=\"message\">{m}</p><p><a href=\"/\">Back to sign-in</a></p></body></html>",
        t = escape(title),
        m = escape(message),
        style = crate::web::PAGE_STYLE
    );
    (status, Html(html)).into_response()
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn the_session_cookie_is_secure_and_host_bound_over_https() {
        let https = Settings::new("https://gw.example.com/", PathBuf::new());
        let cookie = session_cookie(&https, "v", &chrono::TimeDelta::hours(12));
        assert_eq!(
            cookie,
            "__Host-scimgw_session=v; Path=/; HttpOnly; SameSite=Lax; Max-Age=43200; Secure"
        );
        assert!(clear_session_cookie(&https).starts_with("__Host-scimgw_session=; "));
        assert!(clear_session_cookie(&https).contains("Max-Age=0"));
        let http = Settings::new("http://127.0.0.1:8080", PathBuf::new());
        assert!(!session_cookie(&http, "v", &chrono::TimeDelta::hours(1)).contains("Secure"));

        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            "a=1; __Host-scimgw_session=tok; b=2".parse().unwrap(),
        );
        assert_eq!(session_token(&headers, &https).as_deref(), Some("tok"));
        assert_eq!(session_token(&headers, &http), None);
        headers.insert(header::ORIGIN, "https://gw.example.com".parse().unwrap());
        assert!(!cross_origin(&headers, &https));
        headers.insert(
            header::ORIGIN,
            "https://gw.example.com.evil.test".parse().unwrap(),
        );
        assert!(cross_origin(&headers, &https));
    }
}
