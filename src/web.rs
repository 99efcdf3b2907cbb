//! The settings page and the GraphQL playground: static files built from `web/` (Vite) into
//! `web/dist`, served by this process. Without a build, a short page says how to make one.
//! Every HTML page the service answers with (these, and the sign-in pages of `sso`) carries a
//! strict Content-Security-Policy ([`content_security_policy`]).

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use axum::Router;
use axum::http::StatusCode;
use axum::http::header::{self, HeaderValue};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use rand::TryRngCore;
use sha2::{Digest, Sha256};
use tower_http::services::ServeDir;

use crate::state::AppState;

const NOT_BUILT: &str = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>scim-gateway</title></head>\
<body><h1>scim-gateway</h1><p>The web page is not built. Run <code>make run</code> (it builds <code>web/</code>), \
or <code>npm ci &amp;&amp; npm run build</code> in <code>web/</code>.</p><p>The GraphQL API is at <code>/graphql</code>.</p></body></html>";

pub fn router(web_dir: &Path) -> Router<AppState> {
    if !web_dir.join("index.html").is_file() {
        let not_built = || async { (StatusCode::SERVICE_UNAVAILABLE, Html(NOT_BUILT)) };
        return Router::new()
            .route("/", get(not_built))
            .route("/graphql/playground", get(not_built));
    }
    let playground_html = web_dir.join("playground.html");
    Router::new()
        .route(
            "/graphql/playground",
            get(move || playground(playground_html.clone())),
        )
        .fallback_service(ServeDir::new(web_dir))
}

/// The playground page with a fresh style nonce: GraphiQL's dialogs add a `<style>` element
/// (react-remove-scroll), which the policy allows by this nonce (the page hands it to that
/// library as `__webpack_nonce__`). Nothing else inline is allowed; scripts stay `'self'` only.
async fn playground(file: PathBuf) -> Response {
    let html = match tokio::fs::read_to_string(&file).await {
        Ok(html) => html,
        Err(_) => return (StatusCode::SERVICE_UNAVAILABLE, Html(NOT_BUILT)).into_response(),
    };
    let nonce = style_nonce();
    let html = html.replacen(
        "<head>",
        &format!("<head>\n    <meta name=\"csp-style-nonce\" content=\"{nonce}\" />"),
        1,
    );
    let mut response = Html(html).into_response();
    let headers = response.headers_mut();
    if let Ok(policy) = HeaderValue::from_str(&policy(&format!(" 'nonce-{nonce}'"))) {
        headers.insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    // A nonce is good for one response only.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// 128 random bits, base64url.
fn style_nonce() -> String {
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng
        .try_fill_bytes(&mut bytes)
        .expect("the operating system's random number generator failed");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The style of the small pages the service writes itself (the sign-in pages of `sso`), for a
/// `<style>` element: the policy allows exactly this text by its hash.
pub const PAGE_STYLE: &str =
    "body{font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem}";

/// `'sha256-…'` of a text, as CSP names an inline style.
fn csp_hash(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// The Content-Security-Policy of every HTML page: scripts, styles, fonts, images and
/// connections (`/graphql`, also over WebSocket) from this origin only, no inline script, no
/// plugin, no `<base>`, forms posting only here, and no framing. Inline styles only by hash
/// (the sign-in pages' one style).
pub static CONTENT_SECURITY_POLICY: LazyLock<String> = LazyLock::new(|| policy(""));

/// The policy, with `more_styles` (sources) allowed for styles.
fn policy(more_styles: &str) -> String {
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self' {page}{more_styles}; \
         img-src 'self' data:; font-src 'self' data:; connect-src 'self'; manifest-src 'self'; \
         object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        page = csp_hash(PAGE_STYLE),
    )
}

static CSP_VALUE: LazyLock<HeaderValue> = LazyLock::new(|| {
    HeaderValue::from_str(&CONTENT_SECURITY_POLICY).expect("the policy is a valid header value")
});

/// Adds the Content-Security-Policy to every HTML page of the router (a policy a handler set
/// itself, the playground's, is kept). `serving` sets `X-Frame-Options: DENY`, `nosniff` and
/// `Referrer-Policy: no-referrer` on every answer.
pub async fn content_security_policy(mut response: Response) -> Response {
    let html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("text/html"));
    if html {
        response
            .headers_mut()
            .entry(header::CONTENT_SECURITY_POLICY)
            .or_insert_with(|| CSP_VALUE.clone());
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_names_its_inline_styles_by_hash() {
        // Computed independently: `printf %s 'a{}' | openssl dgst -sha256 -binary | base64`.
        assert_eq!(
            csp_hash("a{}"),
            "'sha256-X1RutGBrXCt9KkSaXMK7tHftWiRscFHOhxsS8tv8hBk='"
        );
        let policy = CONTENT_SECURITY_POLICY.as_str();
        assert!(policy.contains(&csp_hash(PAGE_STYLE)), "{policy}");
        for strict in [
            "script-src 'self';",
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
        ] {
            assert!(policy.contains(strict), "{policy}");
        }
        assert!(!policy.contains("unsafe-inline"), "{policy}");
        assert!(!policy.contains("unsafe-eval"), "{policy}");
    }
}
