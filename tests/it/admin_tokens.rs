//! Admin tokens: listed for the workspace's admins, revoked at once, refused once expired, made
//! with a lifetime by `admin-token --expires-in-days` (30 days unless told, `--never-expires`
//! asked for explicitly).

use chrono::TimeDelta;
use scim_gateway::domain;
use scim_gateway::entities::{activity, admin_token};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};

use crate::common::{TestApp, days_from_now, error_code, fresh_database};
use crate::process::BIN;

const LIST: &str = "{ workspace { adminTokens { id prefix email name current createdAt lastUsedAt expiresAt expiresSoon revokedAt status } } }";
const REVOKE: &str =
    "mutation($id: ID!) { revokeAdminToken(id: $id) { id email revokedAt status } }";
const WHO: &str = "{ workspace { slug } }";

/// The stored row of a token.
async fn row(db: &DatabaseConnection, token: &str) -> admin_token::Model {
    admin_token::Entity::find()
        .filter(admin_token::Column::TokenHash.eq(domain::secrets::hash(token)))
        .one(db)
        .await
        .unwrap()
        .expect("the token's row")
}

/// The listed tokens, by the admin `token`.
async fn listed(app: &TestApp, token: &str) -> Vec<Value> {
    let body = app.gql(Some(token), LIST, json!({})).await;
    body["data"]["workspace"]["adminTokens"]
        .as_array()
        .unwrap()
        .clone()
}

/// A token issued with a name, as `admin-token --given-name --family-name` does.
async fn named_token(app: &TestApp, slug: &str, email: &str, given: &str, family: &str) -> String {
    let person = domain::admin::PersonName {
        given: Some(given.into()),
        family: Some(family.into()),
    };
    domain::admin::issue_token_named(
        &app.db,
        slug,
        slug,
        email,
        &person,
        domain::admin::Lifetime::default(),
    )
    .await
    .expect("issue a token")
    .token
}

#[tokio::test]
async fn admins_list_their_workspaces_tokens_without_the_secrets() {
    let app = TestApp::spawn().await;
    let owner = app.admin_token("acme", "owner@acme.test").await;
    let second = named_token(&app, "acme", "sam@acme.test", "Sam", "Second").await;
    let foreign = app.admin_token("globex", "owner@globex.test").await;
    // A request with the second token: its last use is recorded.
    app.gql(Some(&second), WHO, json!({})).await;

    let tokens = listed(&app, &owner).await;
    assert_eq!(tokens.len(), 2, "only this workspace's tokens: {tokens:?}");
    let text = Value::Array(tokens.clone()).to_string();
    for secret in [&owner, &second, &foreign] {
        assert!(!text.contains(secret.as_str()), "a secret is listed");
    }
    assert!(!text.contains("globex"), "{text}");
    let sam = &tokens[0];
    assert_eq!(sam["email"], "sam@acme.test", "newest first: {tokens:?}");
    assert_eq!(sam["name"], "Sam Second");
    assert!(second.starts_with(sam["prefix"].as_str().unwrap()));
    assert!(sam["prefix"].as_str().unwrap().len() < second.len() / 2);
    assert_eq!(sam["current"], false);
    assert!(sam["lastUsedAt"].is_string(), "{sam}");
    assert!(
        (29..=30).contains(&days_from_now(&sam["expiresAt"])),
        "30 days by default: {sam}"
    );
    assert_eq!(sam["expiresSoon"], false);
    assert_eq!(sam["revokedAt"], Value::Null);
    assert_eq!(sam["status"], "ACTIVE");
    let own = &tokens[1];
    assert_eq!(own["email"], "owner@acme.test");
    assert_eq!(own["name"], Value::Null);
    assert_eq!(own["current"], true, "the caller's own token is marked");
}

#[tokio::test]
async fn a_revoked_token_is_refused_at_once_and_the_revocation_is_in_the_activity() {
    let app = TestApp::spawn().await;
    let owner = app.admin_token("acme", "owner@acme.test").await;
    let second = app.admin_token("acme", "second@acme.test").await;
    app.gql(Some(&second), WHO, json!({})).await;
    let id = row(&app.db, &second).await.id;

    let body = app.gql(Some(&owner), REVOKE, json!({ "id": id })).await;
    let revoked = &body["data"]["revokeAdminToken"];
    assert_eq!(revoked["status"], "REVOKED", "{body}");
    assert_eq!(revoked["email"], "second@acme.test");
    let at = revoked["revokedAt"].clone();
    assert!(at.is_string(), "{body}");

    let (_, body) = app.gql_raw(Some(&second), WHO, json!({})).await;
    assert_eq!(error_code(&body), "UNAUTHENTICATED", "{body}");
    // Revoking again changes nothing, and writes no second entry.
    let again = app.gql(Some(&owner), REVOKE, json!({ "id": id })).await;
    assert_eq!(again["data"]["revokeAdminToken"]["revokedAt"], at);
    let entries = activity::Entity::find()
        .filter(activity::Column::Action.eq("admin_token.revoke"))
        .order_by_asc(activity::Column::Id)
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(entries.len(), 1, "{entries:?}");
    let prefix = row(&app.db, &second).await.prefix;
    assert_eq!(
        entries[0].summary,
        format!("admin token {prefix}… of second@acme.test revoked")
    );
    assert_eq!(entries[0].actor, "admin owner@acme.test");
    // Listed as revoked.
    let tokens = listed(&app, &owner).await;
    let listed_second = tokens.iter().find(|t| t["id"] == id).unwrap();
    assert_eq!(listed_second["status"], "REVOKED");

    // Revoking one's own token signs oneself out.
    let own = row(&app.db, &owner).await.id;
    app.gql(Some(&owner), REVOKE, json!({ "id": own })).await;
    let (_, body) = app.gql_raw(Some(&owner), WHO, json!({})).await;
    assert_eq!(error_code(&body), "UNAUTHENTICATED", "{body}");
}

#[tokio::test]
async fn another_workspaces_token_is_not_found_and_stays_live() {
    let app = TestApp::spawn().await;
    let owner = app.admin_token("acme", "owner@acme.test").await;
    let foreign = app.admin_token("globex", "owner@globex.test").await;
    let foreign_id = row(&app.db, &foreign).await.id;

    let body = app
        .gql_errors(Some(&owner), REVOKE, json!({ "id": foreign_id }))
        .await;
    assert_eq!(error_code(&body), "NOT_FOUND", "{body}");
    assert_eq!(row(&app.db, &foreign).await.revoked_at, None);
    let body = app.gql(Some(&foreign), WHO, json!({})).await;
    assert_eq!(body["data"]["workspace"]["slug"], "globex");

    let body = app
        .gql_errors(Some(&owner), REVOKE, json!({ "id": "no-such-token" }))
        .await;
    assert_eq!(error_code(&body), "NOT_FOUND", "{body}");
}

#[tokio::test]
async fn only_admins_list_and_revoke_tokens() {
    let app = TestApp::spawn().await;
    let owner = app.admin_token("acme", "owner@acme.test").await;
    let workspace_id = app.workspace_id(&owner).await;
    app.add_member(&workspace_id, "labeler@acme.test", None)
        .await;
    // A token of a member who is not an admin authenticates, but settings are forbidden.
    let labeler = app.admin_token("acme", "labeler@acme.test").await;
    let owner_id = row(&app.db, &owner).await.id;

    let body = app.gql_errors(Some(&labeler), LIST, json!({})).await;
    assert_eq!(error_code(&body), "FORBIDDEN", "{body}");
    let body = app
        .gql_errors(Some(&labeler), REVOKE, json!({ "id": owner_id }))
        .await;
    assert_eq!(error_code(&body), "FORBIDDEN", "{body}");
    assert_eq!(row(&app.db, &owner).await.revoked_at, None);
    app.gql(Some(&owner), WHO, json!({})).await;

    let body = app
        .gql_errors(None, REVOKE, json!({ "id": owner_id }))
        .await;
    assert_eq!(error_code(&body), "UNAUTHENTICATED", "{body}");
}

#[tokio::test]
async fn an_expired_token_is_refused() {
    let app = TestApp::spawn().await;
    let owner = app.admin_token("acme", "owner@acme.test").await;
    let short = domain::admin::issue_token_named(
        &app.db,
        "acme",
        "acme",
        "short@acme.test",
        &domain::admin::PersonName::default(),
        domain::admin::Lifetime::days(1).unwrap(),
    )
    .await
    .unwrap()
    .token;
    app.gql(Some(&short), WHO, json!({})).await;
    let tokens = listed(&app, &owner).await;
    assert_eq!(tokens[0]["expiresSoon"], true, "{tokens:?}");

    // Its day passes.
    let id = row(&app.db, &short).await.id;
    admin_token::Entity::update_many()
        .col_expr(
            admin_token::Column::ExpiresAt,
            Expr::value(domain::now() - TimeDelta::seconds(1)),
        )
        .filter(admin_token::Column::Id.eq(id.clone()))
        .exec(&app.db)
        .await
        .unwrap();
    let (_, body) = app.gql_raw(Some(&short), WHO, json!({})).await;
    assert_eq!(error_code(&body), "UNAUTHENTICATED", "{body}");
    let tokens = listed(&app, &owner).await;
    let expired = tokens.iter().find(|t| t["id"] == id.as_str()).unwrap();
    assert_eq!(expired["status"], "EXPIRED", "{expired}");
}

fn admin_token_cli(database_url: &str, extra: &[&str]) -> std::process::Output {
    std::process::Command::new(BIN)
        .args(["admin-token", "--workspace", "acme", "--email"])
        .arg(format!("{}@acme.test", crate::common::uuid_simple()))
        .args(extra)
        .env("DATABASE_URL", database_url)
        .env("SCIM_GATEWAY_LOG", "warn")
        .output()
        .expect("run scim-gateway")
}

#[tokio::test]
async fn the_cli_sets_the_tokens_lifetime() {
    let (url, _db) = fresh_database().await;
    let mut made = vec![];
    for (flags, days) in [
        (vec![], Some(30)),
        (vec!["--expires-in-days", "3"], Some(3)),
        (vec!["--expires-in-days", "3650"], Some(3650)),
        (vec!["--never-expires"], None),
    ] {
        let out = admin_token_cli(&url, &flags);
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(out.status.success(), "{flags:?}: {stderr}");
        let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
        assert!(token.starts_with("sgat_"), "{flags:?}: {token}");
        match days {
            Some(_) => assert!(stderr.contains("the token expires 20"), "{stderr}"),
            None => assert!(stderr.contains("never expires"), "{stderr}"),
        }
        made.push((flags, token, days));
    }
    let conn = scim_gateway::db::connect(&url, 1).await.unwrap();
    for (flags, token, days) in made {
        let stored = row(&conn, &token).await;
        match days {
            Some(days) => {
                let left = stored.expires_at.expect("an expiry") - domain::now();
                assert!(
                    left <= TimeDelta::days(days)
                        && left > TimeDelta::days(days) - TimeDelta::minutes(5),
                    "{flags:?}: {left}"
                );
            }
            None => assert_eq!(stored.expires_at, None, "{flags:?}"),
        }
    }

    for (flags, words) in [
        (vec!["--expires-in-days", "0"], "1 to 3650 days"),
        (vec!["--expires-in-days", "3651"], "1 to 3650 days"),
        (vec!["--expires-in-days", "soon"], "invalid value"),
        (
            vec!["--expires-in-days", "3", "--never-expires"],
            "cannot be used with",
        ),
    ] {
        let out = admin_token_cli(&url, &flags);
        assert!(!out.status.success(), "{flags:?}");
        assert!(out.stdout.is_empty(), "{flags:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(words), "{flags:?}: {stderr}");
    }
    let out = std::process::Command::new(BIN)
        .args(["admin-token", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("--expires-in-days") && help.contains("--never-expires"),
        "{help}"
    );
}
