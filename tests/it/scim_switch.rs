use serde_json::json;

use crate::common::{TestApp, configure_saml, error_code};

#[tokio::test]
async fn enable_scim_needs_saml_first() {
    let app = TestApp::spawn().await;
    let token = app.admin_token("acme", "owner@acme.test").await;
    let body = app
        .gql_errors(
            Some(&token),
            "mutation { enableScim { enabled } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&body), "SAML_REQUIRED");
    let body = app
        .gql(
            Some(&token),
            "{ workspace { scim { enabled } } }",
            json!({}),
        )
        .await;
    assert_eq!(body["data"]["workspace"]["scim"]["enabled"], false);

    configure_saml(&app, &token).await;
    let body = app
        .gql(
            Some(&token),
            "mutation { enableScim { enabled baseUrl } }",
            json!({}),
        )
        .await;
    assert_eq!(body["data"]["enableScim"]["enabled"], true, "{body}");
    let ws = app.workspace_id(&token).await;
    assert_eq!(
        body["data"]["enableScim"]["baseUrl"],
        format!("{}/api/teams/{ws}/scim/v2", app.url)
    );
    let body = app
        .gql(
            Some(&token),
            "{ workspace { scim { enabled } } }",
            json!({}),
        )
        .await;
    assert_eq!(body["data"]["workspace"]["scim"]["enabled"], true);

    let body = app
        .gql(
            Some(&token),
            "mutation { disableScim { enabled } }",
            json!({}),
        )
        .await;
    assert_eq!(body["data"]["disableScim"]["enabled"], false);
    let body = app
        .gql(
            Some(&token),
            "{ workspace { scim { enabled } } }",
            json!({}),
        )
        .await;
    assert_eq!(body["data"]["workspace"]["scim"]["enabled"], false);
}

#[tokio::test]
async fn scim_switch_is_per_workspace() {
    let app = TestApp::spawn().await;
    let a = app.admin_token("alpha", "owner@alpha.test").await;
    let b = app.admin_token("beta", "owner@beta.test").await;
    configure_saml(&app, &a).await;
    let enabled = app
        .gql(Some(&a), "mutation { enableScim { enabled } }", json!({}))
        .await;
    assert_eq!(enabled["data"]["enableScim"]["enabled"], true, "{enabled}");
    let body = app
        .gql_errors(Some(&b), "mutation { enableScim { enabled } }", json!({}))
        .await;
    assert_eq!(error_code(&body), "SAML_REQUIRED");
    let body = app
        .gql(Some(&b), "{ workspace { scim { enabled } } }", json!({}))
        .await;
    assert_eq!(body["data"]["workspace"]["scim"]["enabled"], false);
}
