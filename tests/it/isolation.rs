//! Isolation: workspace A's SCIM key and admin token tried against workspace B on every SCIM route
//! and every GraphQL field, with B's URL and B's ids. Nothing of B is shown, and B reads back
//! exactly as before.

use std::time::Duration;

use serde_json::{Value, json};

use crate::common::{Scim, TestApp, enable_scim};
use crate::graphql_protocol::{next_json, ws_connect, ws_send};

const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// Any SCIM request with `key` to `base + path`; the status and the JSON body (`null` when
/// there is none). Also used by other tests that call two workspaces.
pub async fn call(
    app: &TestApp,
    base: &str,
    key: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = app
        .client
        .request(method, format!("{base}{path}"))
        .bearer_auth(key);
    if let Some(body) = body {
        request = request
            .header("Content-Type", "application/scim+json")
            .body(body.to_string());
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Everything B has, as B sees it through SCIM and GraphQL.
async fn snapshot(app: &TestApp, base: &str, key: &str, admin: &str) -> Value {
    let (status, users) = call(app, base, key, "GET", "/Users?count=1000", None).await;
    assert_eq!(status, 200, "{users}");
    let (status, groups) = call(app, base, key, "GET", "/Groups?count=1000", None).await;
    assert_eq!(status, 200, "{groups}");
    let workspace = app
        .gql(
            Some(admin),
            "{ workspace { id slug name saml { configured idpEntityId } scim { enabled } \
               apiKeys { id name prefix status } groupRoleMappings { groupName role } \
               members(first: 100) { nodes { id userName role } } \
               groups(first: 100) { nodes { id displayName memberCount mappedRole } } } }",
            json!({}),
        )
        .await;
    json!({ "users": users["Resources"], "groups": groups["Resources"], "workspace": workspace["data"] })
}

#[tokio::test]
async fn workspace_a_can_neither_see_nor_change_workspace_b() {
    let a = Scim::start().await;
    let app = &a.app;
    let admin_b = app.admin_token("globex", "owner@globex.test").await;
    let (base_b, key_b) = enable_scim(app, &admin_b).await;
    let workspace_b = app.workspace_id(&admin_b).await;
    let workspace_a = app.workspace_id(&a.admin).await;
    app.gql(
        Some(&admin_b),
        "mutation { setGroupRoleMappings(mappings: [{ groupName: \"Globex Admins\", role: ADMIN }]) { mappings { groupName } } }",
        json!({}),
    )
    .await;
    let (status, user_b) = call(
        app,
        &base_b,
        &key_b,
        "POST",
        "/Users",
        Some(json!({ "userName": "secret.agent@globex.test", "externalId": "globex-ext-1" })),
    )
    .await;
    assert_eq!(status, 201);
    let user_b = user_b["id"].as_str().unwrap().to_string();
    let (status, group_b) = call(
        app,
        &base_b,
        &key_b,
        "POST",
        "/Groups",
        Some(json!({ "displayName": "Globex Admins", "members": [{ "value": user_b }] })),
    )
    .await;
    assert_eq!(status, 201);
    let group_b = group_b["id"].as_str().unwrap().to_string();
    let keys_b = app
        .gql(
            Some(&admin_b),
            "{ workspace { apiKeys { id } } }",
            json!({}),
        )
        .await;
    let key_id_b = keys_b["data"]["workspace"]["apiKeys"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let user_a = a.create_user("agent@acme.test", "Ann", "Agent").await;
    let group_a = a.create_group("Acme", &[&user_a]).await;
    let before = snapshot(app, &base_b, &key_b, &admin_b).await;

    // A's key on every SCIM route of B's URL: 401, whatever the method and body.
    let body = Some(
        json!({ "userName": "intruder@acme.test", "displayName": "x", "schemas": [PATCH], "Operations": [] }),
    );
    for (method, path) in [
        ("GET", "/Users".to_string()),
        ("POST", "/Users".to_string()),
        ("POST", "/Users/.search".to_string()),
        ("GET", format!("/Users/{user_b}")),
        ("PUT", format!("/Users/{user_b}")),
        ("PATCH", format!("/Users/{user_b}")),
        ("DELETE", format!("/Users/{user_b}")),
        ("GET", "/Groups".to_string()),
        ("POST", "/Groups".to_string()),
        ("POST", "/Groups/.search".to_string()),
        ("GET", format!("/Groups/{group_b}")),
        ("PUT", format!("/Groups/{group_b}")),
        ("PATCH", format!("/Groups/{group_b}")),
        ("DELETE", format!("/Groups/{group_b}")),
        ("POST", "/.search".to_string()),
        ("POST", "/Bulk".to_string()),
        ("GET", "/ServiceProviderConfig".to_string()),
        ("GET", "/ResourceTypes".to_string()),
        ("GET", "/ResourceTypes/User".to_string()),
        ("GET", "/Schemas".to_string()),
        (
            "GET",
            "/Schemas/urn:ietf:params:scim:schemas:core:2.0:User".to_string(),
        ),
    ] {
        let with_body = matches!(method, "POST" | "PUT" | "PATCH")
            .then(|| body.clone())
            .flatten();
        let (status, answer) = call(app, &base_b, &a.key, method, &path, with_body).await;
        assert_eq!(
            status, 401,
            "{method} {path} on B's URL with A's key: {answer}"
        );
        assert!(!answer.to_string().contains("secret.agent"), "{answer}");
    }

    // A's key on A's URL with B's ids and names: not found, empty, or refused.
    for (method, path) in [
        ("GET", format!("/Users/{user_b}")),
        ("PUT", format!("/Users/{user_b}")),
        ("PATCH", format!("/Users/{user_b}")),
        ("DELETE", format!("/Users/{user_b}")),
        ("GET", format!("/Groups/{group_b}")),
        ("PUT", format!("/Groups/{group_b}")),
        ("PATCH", format!("/Groups/{group_b}")),
        ("DELETE", format!("/Groups/{group_b}")),
    ] {
        let body = match method {
            "PUT" => Some(json!({ "userName": "taken@acme.test", "displayName": "Taken" })),
            "PATCH" => Some(
                json!({ "schemas": [PATCH], "Operations": [{ "op": "replace", "path": "displayName", "value": "Taken" }] }),
            ),
            _ => None,
        };
        let (status, answer) = call(app, &a.base, &a.key, method, &path, body).await;
        assert_eq!(
            status, 404,
            "{method} {path} with B's id on A's URL: {answer}"
        );
    }
    let searches = [
        ("/Users/.search", format!("id eq \"{user_b}\"")),
        (
            "/Users/.search",
            "userName eq \"secret.agent@globex.test\"".to_string(),
        ),
        (
            "/Users/.search",
            "externalId eq \"globex-ext-1\"".to_string(),
        ),
        ("/Users/.search", "userName sw \"secret\"".to_string()),
        ("/Users/.search", "emails.value co \"globex\"".to_string()),
        ("/Groups/.search", format!("id eq \"{group_b}\"")),
        (
            "/Groups/.search",
            "displayName eq \"Globex Admins\"".to_string(),
        ),
        ("/Groups/.search", format!("members.value eq \"{user_b}\"")),
        ("/.search", "userName sw \"secret\"".to_string()),
    ];
    for (path, filter) in searches {
        let body = Some(json!({ "filter": filter }));
        let (status, answer) = call(app, &a.base, &a.key, "POST", path, body).await;
        assert_eq!(
            (status, &answer["totalResults"]),
            (200, &json!(0)),
            "{path} {filter}: {answer}"
        );
    }
    // B's user as a member of A's groups: refused, never linked.
    let (status, answer) = call(
        app,
        &a.base,
        &a.key,
        "POST",
        "/Groups",
        Some(json!({ "displayName": "Grab", "members": [{ "value": user_b }] })),
    )
    .await;
    assert!(status == 400 || status == 404, "{status}: {answer}");
    let (status, answer) = call(app, &a.base, &a.key, "PATCH", &format!("/Groups/{group_a}"), Some(json!({ "schemas": [PATCH], "Operations": [{ "op": "add", "path": "members", "value": [{ "value": user_b }] }] }))).await;
    assert!(status == 400 || status == 404, "{status}: {answer}");
    // Bulk operations naming B's ids fail one by one.
    let (status, answer) = call(app, &a.base, &a.key, "POST", "/Bulk", Some(json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
        "Operations": [
            { "method": "PATCH", "path": format!("/Users/{user_b}"), "data": { "schemas": [PATCH], "Operations": [{ "op": "replace", "path": "active", "value": false }] } },
            { "method": "DELETE", "path": format!("/Groups/{group_b}") },
            { "method": "PUT", "path": format!("/Users/{user_b}"), "data": { "userName": "x@acme.test" } },
        ]
    }))).await;
    assert_eq!(status, 200, "{answer}");
    for op in answer["Operations"].as_array().unwrap() {
        assert_eq!(op["status"], "404", "{op}");
    }

    // GraphQL with A's token: only A's workspace, whatever B's ids are passed.
    let everything = app
        .gql(
            Some(&a.admin),
            "{ workspace { id slug name saml { configured idpEntityId } scim { enabled baseUrl } \
               apiKeys { id name prefix } groupRoleMappings { groupName role } \
               members(first: 100, search: \"secret\") { nodes { id userName } } \
               allMembers: members(first: 100) { nodes { id userName role roleSources { kind groupName } } } \
               groups(first: 100) { nodes { id displayName memberCount mappedRole } } } \
               previewGroupRoleMappings(mappings: [{ groupName: \"Globex Admins\", role: ADMIN }]) { memberId userName groupName } }",
            json!({}),
        )
        .await;
    assert_eq!(
        everything["data"]["workspace"]["id"], workspace_a,
        "{everything}"
    );
    let text = everything.to_string();
    for b_value in [
        user_b.as_str(),
        group_b.as_str(),
        workspace_b.as_str(),
        key_id_b.as_str(),
        "secret.agent",
        "Globex",
        "globex",
    ] {
        assert!(
            !text.contains(b_value),
            "A's GraphQL shows B's {b_value}: {text}"
        );
    }
    // A's activity log echoes A's own failed requests (B's ids A typed) and nothing of B's.
    let activity = app
        .gql(
            Some(&a.admin),
            "{ workspace { activity(first: 100) { nodes { summary actor resourceId } } } }",
            json!({}),
        )
        .await;
    let activity = activity.to_string();
    for b_value in [
        "secret.agent",
        "globex.test",
        "globex-ext-1",
        workspace_b.as_str(),
    ] {
        assert!(
            !activity.contains(b_value),
            "A's activity shows B's {b_value}: {activity}"
        );
    }
    let revoked = app
        .gql_errors(
            Some(&a.admin),
            "mutation($id: ID!) { revokeApiKey(id: $id) { id } }",
            json!({ "id": key_id_b }),
        )
        .await;
    assert_eq!(
        revoked["errors"][0]["extensions"]["code"], "NOT_FOUND",
        "{revoked}"
    );
    // A's mapping edits and switches move nothing of B's (and did take effect in A).
    let edited = app.gql(
        Some(&a.admin),
        "mutation { setGroupRoleMappings(mappings: [{ groupName: \"Globex Admins\", role: REVIEWER }]) { mappings { groupName role } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        edited["data"]["setGroupRoleMappings"]["mappings"],
        json!([{ "groupName": "Globex Admins", "role": "REVIEWER" }]),
        "{edited}"
    );
    let switched = app
        .gql(
            Some(&a.admin),
            "mutation { disableScim { enabled } }",
            json!({}),
        )
        .await;
    assert_eq!(
        switched["data"]["disableScim"]["enabled"], false,
        "{switched}"
    );
    // A cursor of B's pages read with A's token shows A's data only.
    let b_page = app
        .gql(
            Some(&admin_b),
            "{ workspace { members(first: 1) { pageInfo { endCursor } } } }",
            json!({}),
        )
        .await;
    let b_cursor = b_page["data"]["workspace"]["members"]["pageInfo"]["endCursor"].clone();
    let paged = app
        .gql(
            Some(&a.admin),
            "query($c: String) { workspace { members(first: 100, after: $c) { nodes { id } } } }",
            json!({ "c": b_cursor }),
        )
        .await;
    assert!(!paged.to_string().contains(&user_b), "{paged}");

    // A's live activity feed shows A's entries only.
    app.gql(
        Some(&a.admin),
        "mutation { enableScim { enabled } }",
        json!({}),
    )
    .await;
    let mut socket = ws_connect(
        app,
        json!({ "Authorization": format!("Bearer {}", a.admin) }),
    )
    .await;
    ws_send(&mut socket, json!({ "id": "a", "type": "subscribe", "payload": { "query": "subscription { activity { summary } }" } })).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, _) = call(
        app,
        &base_b,
        &key_b,
        "POST",
        "/Users",
        Some(json!({ "userName": "b-live@globex.test" })),
    )
    .await;
    assert_eq!(status, 201);
    a.create_user("a-live@acme.test", "A", "Live").await;
    let next = next_json(&mut socket).await;
    assert!(next.to_string().contains("a-live@acme.test"), "{next}");

    // B reads back exactly as before (but for its own new user), and B's key still works.
    let after = snapshot(app, &base_b, &key_b, &admin_b).await;
    let without_live = |snapshot: &Value| {
        let mut s = snapshot.clone();
        if let Some(users) = s["users"].as_array_mut() {
            users.retain(|u| u["userName"] != "b-live@globex.test");
        }
        if let Some(nodes) = s["workspace"]["workspace"]["members"]["nodes"].as_array_mut() {
            nodes.retain(|u| u["userName"] != "b-live@globex.test");
        }
        s
    };
    assert_eq!(without_live(&after), without_live(&before));
    assert_eq!(before["workspace"]["workspace"]["scim"]["enabled"], true);
}
