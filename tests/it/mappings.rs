use scim_gateway::domain::roles::Role;
use scim_gateway::entities::{activity, member};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use crate::common::{TestApp, error_code};

const SET: &str = "mutation($m: [GroupRoleMappingInput!]!) { setGroupRoleMappings(mappings: $m) { mappings { groupName role } changes { memberId userName from to groupName reason } } }";
const PREVIEW: &str = "query($m: [GroupRoleMappingInput!]!) { previewGroupRoleMappings(mappings: $m) { memberId userName active from to groupName reason } }";

struct Fixture {
    app: TestApp,
    token: String,
    jane: String,
    bob: String,
    carol: String,
}

/// jane ∈ {Administrator, QA}, bob ∈ {QA}, carol in no group; no mapping yet.
async fn fixture() -> Fixture {
    let app = TestApp::spawn().await;
    let token = app.admin_token("acme", "owner@acme.test").await;
    let ws = app.workspace_id(&token).await;
    let jane = app.add_member(&ws, "jane@acme.test", None).await;
    let bob = app.add_member(&ws, "bob@acme.test", None).await;
    let carol = app.add_member(&ws, "carol@acme.test", None).await;
    app.add_group(&ws, "Administrator", &[&jane]).await;
    app.add_group(&ws, "QA", &[&jane, &bob]).await;
    Fixture {
        app,
        token,
        jane,
        bob,
        carol,
    }
}

fn seed_mapping() -> Value {
    json!([{ "groupName": "Administrator", "role": "ADMIN" }, { "groupName": "QA", "role": "REVIEWER" }])
}

#[tokio::test]
async fn preview_lists_role_changes_without_saving() {
    let f = fixture().await;
    let body = f
        .app
        .gql(Some(&f.token), PREVIEW, json!({ "m": seed_mapping() }))
        .await;
    let changes = body["data"]["previewGroupRoleMappings"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"));
    assert_eq!(changes.len(), 2, "{body}");
    // Sorted by userName: bob, jane.
    assert_eq!(changes[0]["userName"], "bob@acme.test");
    assert_eq!(
        (changes[0]["from"].as_str(), changes[0]["to"].as_str()),
        (Some("LABELER"), Some("REVIEWER"))
    );
    assert_eq!(changes[0]["groupName"], "QA");
    assert_eq!(changes[1]["userName"], "jane@acme.test");
    assert_eq!(
        changes[1]["to"], "ADMIN",
        "seed example: Administrator + QA ⇒ admin"
    );
    assert_eq!(changes[1]["groupName"], "Administrator");
    assert_eq!(changes[1]["reason"], "via group Administrator");
    assert_eq!(
        f.app.effective_role(&f.jane).await,
        "labeler",
        "preview saves nothing"
    );
    let body = f
        .app
        .gql(
            Some(&f.token),
            "{ workspace { groupRoleMappings { groupName } } }",
            json!({}),
        )
        .await;
    assert_eq!(body["data"]["workspace"]["groupRoleMappings"], json!([]));
}

#[tokio::test]
async fn saving_replaces_the_table_and_recomputes_roles() {
    let f = fixture().await;
    let body = f
        .app
        .gql(Some(&f.token), SET, json!({ "m": seed_mapping() }))
        .await;
    let saved = &body["data"]["setGroupRoleMappings"];
    assert_eq!(saved["mappings"], seed_mapping(), "{body}");
    assert_eq!(saved["changes"].as_array().unwrap().len(), 2);
    assert_eq!(f.app.effective_role(&f.jane).await, "admin");
    assert_eq!(f.app.effective_role(&f.bob).await, "reviewer");
    assert_eq!(f.app.effective_role(&f.carol).await, "labeler");
    let body = f
        .app
        .gql(
            Some(&f.token),
            "{ workspace { groupRoleMappings { groupName role } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        body["data"]["workspace"]["groupRoleMappings"],
        seed_mapping()
    );

    // Dropping the Administrator row demotes jane to what QA gives; names match trimmed and
    // case-insensitively.
    let body = f
        .app
        .gql(
            Some(&f.token),
            SET,
            json!({ "m": [{ "groupName": "  qa ", "role": "REVIEWER" }] }),
        )
        .await;
    let changes = body["data"]["setGroupRoleMappings"]["changes"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(changes.len(), 1, "{body}");
    assert_eq!(changes[0]["userName"], "jane@acme.test");
    assert_eq!(
        (changes[0]["from"].as_str(), changes[0]["to"].as_str()),
        (Some("ADMIN"), Some("REVIEWER"))
    );
    assert_eq!(changes[0]["groupName"], "QA");
    assert_eq!(
        body["data"]["setGroupRoleMappings"]["mappings"][0]["groupName"],
        "qa"
    );
    assert_eq!(f.app.effective_role(&f.jane).await, "reviewer");
    assert_eq!(f.app.effective_role(&f.bob).await, "reviewer");

    // An empty table sends everyone back to the default.
    f.app.gql(Some(&f.token), SET, json!({ "m": [] })).await;
    assert_eq!(f.app.effective_role(&f.jane).await, "labeler");
    assert_eq!(f.app.effective_role(&f.bob).await, "labeler");

    let entries = activity::Entity::find()
        .filter(activity::Column::Action.eq("mapping.replace"))
        .all(&f.app.db)
        .await
        .unwrap();
    assert_eq!(entries.len(), 3);
    assert!(
        entries[0]
            .summary
            .contains("jane@acme.test: role Labeler → Admin via group Administrator"),
        "{}",
        entries[0].summary
    );
}

#[tokio::test]
async fn a_direct_role_still_counts_after_a_mapping_edit() {
    let f = fixture().await;
    let ws = f.app.workspace_id(&f.token).await;
    let dan = f
        .app
        .add_member(&ws, "dan@acme.test", Some(Role::Reviewer))
        .await;
    f.app.add_group(&ws, "Labelers", &[&dan]).await;
    let body = f
        .app
        .gql(
            Some(&f.token),
            SET,
            json!({ "m": [{ "groupName": "Labelers", "role": "LABELER" }] }),
        )
        .await;
    assert_eq!(
        body["data"]["setGroupRoleMappings"]["changes"],
        json!([]),
        "{body}"
    );
    assert_eq!(f.app.effective_role(&dan).await, "reviewer");
}

#[tokio::test]
async fn duplicate_or_empty_names_are_refused_and_nothing_changes() {
    let f = fixture().await;
    f.app
        .gql(Some(&f.token), SET, json!({ "m": seed_mapping() }))
        .await;
    for (rows, field) in [
        (
            json!([{ "groupName": "Admins", "role": "ADMIN" }, { "groupName": "admins ", "role": "REVIEWER" }]),
            "mappings[1].groupName",
        ),
        (
            json!([{ "groupName": "QA", "role": "ADMIN" }, { "groupName": "", "role": "REVIEWER" }]),
            "mappings[1].groupName",
        ),
    ] {
        for query in [SET, PREVIEW] {
            let body = f
                .app
                .gql_errors(Some(&f.token), query, json!({ "m": rows }))
                .await;
            assert_eq!(error_code(&body), "VALIDATION", "{rows}: {body}");
            assert_eq!(body["errors"][0]["extensions"]["field"], field);
        }
    }
    let body = f
        .app
        .gql(
            Some(&f.token),
            "{ workspace { groupRoleMappings { groupName role } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        body["data"]["workspace"]["groupRoleMappings"],
        seed_mapping()
    );
    assert_eq!(f.app.effective_role(&f.jane).await, "admin");
}

#[tokio::test]
async fn an_edit_that_would_leave_no_active_admin_is_refused_atomically() {
    let app = TestApp::spawn().await;
    let owner = app.admin_token("acme", "owner@acme.test").await;
    let ws = app.workspace_id(&owner).await;
    let ada = app.add_member(&ws, "ada@acme.test", None).await;
    app.add_group(&ws, "Admins", &[&ada]).await;
    app.gql(
        Some(&owner),
        SET,
        json!({ "m": [{ "groupName": "Admins", "role": "ADMIN" }] }),
    )
    .await;
    assert_eq!(app.effective_role(&ada).await, "admin");
    let ada_token = app.admin_token("acme", "ada@acme.test").await;
    // The owner leaves (deactivated): ada is the only active admin, through the mapping.
    let owner_member = member::Entity::find()
        .filter(member::Column::UserNameKey.eq("owner@acme.test"))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    member::Entity::update(member::ActiveModel {
        active: Set(false),
        ..owner_member.into()
    })
    .exec(&app.db)
    .await
    .unwrap();

    let body = app
        .gql_errors(
            Some(&ada_token),
            SET,
            json!({ "m": [{ "groupName": "Admins", "role": "REVIEWER" }] }),
        )
        .await;
    assert_eq!(error_code(&body), "VALIDATION", "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("without an active admin")
    );
    assert_eq!(app.effective_role(&ada).await, "admin");
    let body = app
        .gql(
            Some(&ada_token),
            "{ workspace { groupRoleMappings { groupName role } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        body["data"]["workspace"]["groupRoleMappings"],
        json!([{ "groupName": "Admins", "role": "ADMIN" }])
    );
}

#[tokio::test]
async fn the_owner_stays_admin_whatever_the_mapping() {
    let app = TestApp::spawn().await;
    let owner = app.admin_token("acme", "owner@acme.test").await;
    let ws = app.workspace_id(&owner).await;
    let owner_id = member::Entity::find()
        .filter(member::Column::UserNameKey.eq("owner@acme.test"))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
        .id;
    app.add_group(&ws, "Labelers", &[&owner_id]).await;
    let body = app
        .gql(
            Some(&owner),
            SET,
            json!({ "m": [{ "groupName": "Labelers", "role": "LABELER" }] }),
        )
        .await;
    assert_eq!(
        body["data"]["setGroupRoleMappings"]["changes"],
        json!([]),
        "{body}"
    );
    assert_eq!(app.effective_role(&owner_id).await, "admin");
}
