//! Every HTML page carries the strict Content-Security-Policy: the settings page, the
//! playground (with a fresh style nonce that its page carries), the sign-in pages `sso` writes,
//! and the page shown when the web page is not built. The browser tests (web/e2e/csp.test.mjs)
//! show the pages run under it without a violation.

use reqwest::StatusCode;
use serde_json::json;

use crate::common::TestApp;

/// The response's policy, checked for what makes it strict.
fn strict_policy(response: &reqwest::Response, what: &str) -> String {
    let policy = response
        .headers()
        .get("content-security-policy")
        .unwrap_or_else(|| panic!("{what}: no Content-Security-Policy"))
        .to_str()
        .unwrap()
        .to_string();
    for directive in [
        "default-src 'none'",
        "script-src 'self';",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ] {
        assert!(policy.contains(directive), "{what}: {policy}");
    }
    for loose in ["unsafe-inline", "unsafe-eval", "*", "http:", "https:"] {
        assert!(!policy.contains(loose), "{what} allows {loose}: {policy}");
    }
    assert_eq!(response.headers()["x-frame-options"], "DENY", "{what}");
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    policy
}

async fn get(app: &TestApp, path: &str) -> reqwest::Response {
    app.client
        .get(format!("{}{path}", app.url))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn every_html_page_has_the_policy() {
    let dist = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("web/dist/index.html");
    assert!(
        dist.is_file(),
        "web/dist is not built: run `make test` or `scripts/build-web.sh`"
    );
    let app = TestApp::spawn().await;
    for path in [
        "/",
        "/index.html",
        "/api/teams/00000000-0000-4000-8000-000000000000/saml/login",
        "/api/teams/00000000-0000-4000-8000-000000000000/saml/metadata",
    ] {
        let response = get(&app, path).await;
        let html = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html");
        assert!(html, "{path} is not a page");
        let policy = strict_policy(&response, path);
        assert!(!policy.contains("'nonce-"), "{path}: {policy}");
    }

    // The playground: a nonce for GraphiQL's one <style>, new on every answer, in its page too.
    let mut nonces = vec![];
    for _ in 0..2 {
        let response = get(&app, "/graphql/playground").await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["cache-control"], "no-store");
        let policy = strict_policy(&response, "playground");
        let nonce = policy
            .split("'nonce-")
            .nth(1)
            .and_then(|rest| rest.split('\'').next())
            .expect("a style nonce")
            .to_string();
        assert!(nonce.len() >= 22, "{nonce}");
        let style = policy
            .split(';')
            .find(|d| d.trim().starts_with("style-src"))
            .unwrap();
        assert!(
            style.contains(&nonce),
            "the nonce is for styles only: {policy}"
        );
        let page = response.text().await.unwrap();
        assert!(
            page.contains(&format!(
                "<meta name=\"csp-style-nonce\" content=\"{nonce}\" />"
            )),
            "{page}"
        );
        nonces.push(nonce);
    }
    assert_ne!(nonces[0], nonces[1]);

    // Not a page: no policy needed, still nosniff.
    let json = get(&app, "/healthz").await;
    assert!(json.headers().get("content-security-policy").is_none());
    assert_eq!(json.headers()["x-content-type-options"], "nosniff");
    let (status, _) = app.gql_raw(None, "{ __typename }", json!({})).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn the_not_built_page_has_the_policy() {
    let empty = tempfile::tempdir().unwrap();
    let dir = empty.path().to_path_buf();
    let app = TestApp::spawn_with(move |settings| scim_gateway::Settings {
        web_dir: dir,
        ..settings
    })
    .await;
    for path in ["/", "/graphql/playground"] {
        let response = get(&app, path).await;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE, "{path}");
        strict_policy(&response, path);
    }
}
