use scim_gateway::domain;
use serde_json::{Value, json};

use crate::common::{TestApp, days_from_now, error_code};

const GENERATE: &str = "mutation($name: String!, $days: Int) { generateApiKey(name: $name, expiresInDays: $days) { secret apiKey { id name prefix createdAt expiresAt expiresSoon lastUsedAt lastUsedClient revokedAt status } } }";
const REVOKE: &str = "mutation($id: ID!) { revokeApiKey(id: $id) { id revokedAt status } }";

#[tokio::test]
async fn generate_shows_the_secret_once_and_lists_the_key_without_it() {
    let app = TestApp::spawn().await;
    let token = app.admin_token("acme", "owner@acme.test").await;
    let body = app
        .gql(
            Some(&token),
            GENERATE,
            json!({ "name": "Okta production", "days": 30 }),
        )
        .await;
    let generated = &body["data"]["generateApiKey"];
    let secret = generated["secret"].as_str().expect("secret");
    assert!(
        secret.starts_with("scim_") && secret.len() >= 48,
        "{secret}"
    );
    let key = &generated["apiKey"];
    assert_eq!(key["name"], "Okta production");
    assert!(secret.starts_with(key["prefix"].as_str().unwrap()));
    assert!(key["prefix"].as_str().unwrap().len() < secret.len() / 2);
    assert!((29..=30).contains(&days_from_now(&key["expiresAt"])));
    assert_eq!(key["expiresSoon"], false);
    assert_eq!(key["status"], "ACTIVE");
    assert_eq!(key["lastUsedAt"], Value::Null);

    let never = app
        .gql(Some(&token), GENERATE, json!({ "name": "Entra" }))
        .await;
    let never_key = &never["data"]["generateApiKey"]["apiKey"];
    assert_eq!(never_key["expiresAt"], Value::Null, "{never}");
    assert_ne!(
        never["data"]["generateApiKey"]["secret"],
        generated["secret"]
    );

    let list = app
        .gql(
            Some(&token),
            "{ workspace { apiKeys { id name prefix expiresAt status } } }",
            json!({}),
        )
        .await;
    let keys = list["data"]["workspace"]["apiKeys"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0]["name"], "Entra", "newest first");
    assert!(
        !list.to_string().contains(secret),
        "the list never shows a secret"
    );

    // A GraphQL query cannot ask for a stored secret: there is no such field.
    let body = app
        .gql_errors(
            Some(&token),
            "{ workspace { apiKeys { secret } } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&body), "VALIDATION");
}

#[tokio::test]
async fn key_expiring_soon_is_flagged() {
    let app = TestApp::spawn().await;
    let token = app.admin_token("acme", "owner@acme.test").await;
    let body = app
        .gql(
            Some(&token),
            GENERATE,
            json!({ "name": "short", "days": 7 }),
        )
        .await;
    assert_eq!(
        body["data"]["generateApiKey"]["apiKey"]["expiresSoon"],
        true
    );
}

#[tokio::test]
async fn bad_names_and_expiries_are_validation_errors() {
    let app = TestApp::spawn().await;
    let token = app.admin_token("acme", "owner@acme.test").await;
    for (vars, field) in [
        (json!({ "name": "   " }), "name"),
        (json!({ "name": "x".repeat(101) }), "name"),
        (json!({ "name": "k", "days": 0 }), "expiresInDays"),
        (json!({ "name": "k", "days": -3 }), "expiresInDays"),
        (json!({ "name": "k", "days": 3651 }), "expiresInDays"),
    ] {
        let body = app.gql_errors(Some(&token), GENERATE, vars.clone()).await;
        assert_eq!(error_code(&body), "VALIDATION", "{vars}");
        assert_eq!(body["errors"][0]["extensions"]["field"], field, "{vars}");
    }
    let list = app
        .gql(Some(&token), "{ workspace { apiKeys { id } } }", json!({}))
        .await;
    assert_eq!(list["data"]["workspace"]["apiKeys"], json!([]));
}

#[tokio::test]
async fn revoke_stops_the_key_and_is_idempotent() {
    let app = TestApp::spawn().await;
    let token = app.admin_token("acme", "owner@acme.test").await;
    let ws = app.workspace_id(&token).await;
    let body = app
        .gql(Some(&token), GENERATE, json!({ "name": "rotate me" }))
        .await;
    let secret = body["data"]["generateApiKey"]["secret"]
        .as_str()
        .unwrap()
        .to_string();
    let id = body["data"]["generateApiKey"]["apiKey"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let other = app
        .gql(Some(&token), GENERATE, json!({ "name": "new key" }))
        .await;
    let other_secret = other["data"]["generateApiKey"]["secret"]
        .as_str()
        .unwrap()
        .to_string();

    let key = domain::api_keys::authenticate(&app.db, &ws, &secret, Some("Okta SCIM Client"))
        .await
        .unwrap();
    assert_eq!(key.id, id);
    let body = app
        .gql(
            Some(&token),
            "{ workspace { apiKeys { id lastUsedAt lastUsedClient } } }",
            json!({}),
        )
        .await;
    let listed = body["data"]["workspace"]["apiKeys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == id.as_str())
        .unwrap()
        .clone();
    assert_eq!(listed["lastUsedClient"], "Okta");
    assert!(listed["lastUsedAt"].is_string());

    let body = app.gql(Some(&token), REVOKE, json!({ "id": id })).await;
    assert_eq!(body["data"]["revokeApiKey"]["status"], "REVOKED", "{body}");
    let revoked_at = body["data"]["revokeApiKey"]["revokedAt"].clone();
    assert!(revoked_at.is_string());
    let again = app.gql(Some(&token), REVOKE, json!({ "id": id })).await;
    assert_eq!(again["data"]["revokeApiKey"]["revokedAt"], revoked_at);

    let err = domain::api_keys::authenticate(&app.db, &ws, &secret, None)
        .await
        .unwrap_err();
    assert!(matches!(err, domain::Error::Unauthenticated));
    // Rotation: the other key still works.
    domain::api_keys::authenticate(&app.db, &ws, &other_secret, None)
        .await
        .unwrap();

    let body = app
        .gql_errors(Some(&token), REVOKE, json!({ "id": "no-such-key" }))
        .await;
    assert_eq!(error_code(&body), "NOT_FOUND");
}

#[tokio::test]
async fn a_key_only_authenticates_for_its_own_workspace() {
    let app = TestApp::spawn().await;
    let a = app.admin_token("alpha", "owner@alpha.test").await;
    let b = app.admin_token("beta", "owner@beta.test").await;
    let ws_a = app.workspace_id(&a).await;
    let ws_b = app.workspace_id(&b).await;
    let body = app
        .gql(Some(&a), GENERATE, json!({ "name": "alpha key" }))
        .await;
    let secret = body["data"]["generateApiKey"]["secret"].as_str().unwrap();
    assert!(
        domain::api_keys::authenticate(&app.db, &ws_a, secret, None)
            .await
            .is_ok()
    );
    let err = domain::api_keys::authenticate(&app.db, &ws_b, secret, None)
        .await
        .unwrap_err();
    assert!(matches!(err, domain::Error::Unauthenticated));
    let err = domain::api_keys::authenticate(&app.db, &ws_a, "scim_wrong", None)
        .await
        .unwrap_err();
    assert!(matches!(err, domain::Error::Unauthenticated));
}

#[tokio::test]
async fn generating_and_revoking_is_recorded_in_the_activity() {
    use scim_gateway::entities::activity;
    use sea_orm::{EntityTrait, QueryOrder};
    let app = TestApp::spawn().await;
    let token = app.admin_token("acme", "owner@acme.test").await;
    let body = app
        .gql(Some(&token), GENERATE, json!({ "name": "Okta" }))
        .await;
    let secret = body["data"]["generateApiKey"]["secret"]
        .as_str()
        .unwrap()
        .to_string();
    let id = body["data"]["generateApiKey"]["apiKey"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.gql(Some(&token), REVOKE, json!({ "id": id })).await;
    let entries = activity::Entity::find()
        .order_by_asc(activity::Column::Id)
        .all(&app.db)
        .await
        .unwrap();
    let actions: Vec<&str> = entries.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["api_key.generate", "api_key.revoke"]);
    assert!(
        entries[0].summary.contains("never expires"),
        "{}",
        entries[0].summary
    );
    for e in &entries {
        assert!(
            !e.summary.contains(&secret),
            "secret in activity: {}",
            e.summary
        );
    }
}
