//! The page's views: members with role sources, groups, activity, and the live stream.

use serde_json::{Value, json};

use crate::common::{Scim, error_code};
use crate::graphql_protocol::{next_json, ws_connect, ws_send};

const MEMBERS: &str = "query($first: Int, $after: String, $search: String) { workspace { members(first: $first, after: $after, search: $search) { nodes { id userName givenName familyName active role roleSources { kind groupName role } } totalCount pageInfo { hasNextPage endCursor } } } }";

async fn setup() -> (Scim, String, String) {
    let s = Scim::start().await;
    s.app
        .gql(
            Some(&s.admin),
            "mutation { setGroupRoleMappings(mappings: [{ groupName: \"Administrator\", role: ADMIN }, { groupName: \"QA\", role: REVIEWER }]) { mappings { groupName } } }",
            json!({}),
        )
        .await;
    let jane = s.create_user("jane@x.org", "Jane", "Doe").await;
    let bob = s.create_user("bob@x.org", "Bob", "Roe").await;
    s.create_group("Administrator", &[&jane]).await;
    s.create_group("QA", &[&jane, &bob]).await;
    s.create_group("Unmapped", &[&bob]).await;
    (s, jane, bob)
}

#[tokio::test]
async fn members_show_role_and_where_it_comes_from() {
    let (s, _, _) = setup().await;
    let body = s.app.gql(Some(&s.admin), MEMBERS, json!({})).await;
    let members = &body["data"]["workspace"]["members"];
    assert_eq!(members["totalCount"], 3, "{body}");
    let nodes = members["nodes"].as_array().unwrap();
    let names: Vec<&str> = nodes
        .iter()
        .map(|n| n["userName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["bob@x.org", "jane@x.org", "owner@acme.test"]);
    assert_eq!(nodes[1]["role"], "ADMIN");
    assert_eq!(nodes[1]["givenName"], "Jane");
    assert_eq!(
        nodes[1]["roleSources"],
        json!([{ "kind": "GROUP", "groupName": "Administrator", "role": "ADMIN" }, { "kind": "GROUP", "groupName": "QA", "role": "REVIEWER" }])
    );
    assert_eq!(nodes[0]["role"], "REVIEWER");
    assert_eq!(
        nodes[2]["roleSources"],
        json!([{ "kind": "OWNER", "groupName": null, "role": "ADMIN" }])
    );

    let body = s
        .app
        .gql(Some(&s.admin), MEMBERS, json!({ "search": "DOE" }))
        .await;
    assert_eq!(body["data"]["workspace"]["members"]["totalCount"], 1);
    assert_eq!(
        body["data"]["workspace"]["members"]["nodes"][0]["userName"],
        "jane@x.org"
    );

    // Pages follow each other without gaps or repeats.
    let first = s
        .app
        .gql(Some(&s.admin), MEMBERS, json!({ "first": 2 }))
        .await;
    let page = &first["data"]["workspace"]["members"];
    assert_eq!(page["pageInfo"]["hasNextPage"], true);
    let cursor = page["pageInfo"]["endCursor"].as_str().unwrap();
    let second = s
        .app
        .gql(
            Some(&s.admin),
            MEMBERS,
            json!({ "first": 2, "after": cursor }),
        )
        .await;
    let page2 = &second["data"]["workspace"]["members"];
    assert_eq!(page2["nodes"].as_array().unwrap().len(), 1);
    assert_eq!(page2["nodes"][0]["userName"], "owner@acme.test");
    assert_eq!(page2["pageInfo"]["hasNextPage"], false);

    let bad = s
        .app
        .gql_errors(Some(&s.admin), MEMBERS, json!({ "after": "not-a-cursor!" }))
        .await;
    assert_eq!(error_code(&bad), "VALIDATION");
    let bad = s
        .app
        .gql_errors(Some(&s.admin), MEMBERS, json!({ "first": 100000 }))
        .await;
    assert_eq!(error_code(&bad), "VALIDATION");
}

#[tokio::test]
async fn groups_show_member_counts_and_mapped_roles() {
    let (s, _, _) = setup().await;
    let body = s
        .app
        .gql(Some(&s.admin), "{ workspace { groups { nodes { id displayName memberCount mappedRole } totalCount } } }", json!({}))
        .await;
    let nodes = body["data"]["workspace"]["groups"]["nodes"]
        .as_array()
        .unwrap()
        .clone();
    let summary: Vec<(String, u64, Value)> = nodes
        .iter()
        .map(|g| {
            (
                g["displayName"].as_str().unwrap().to_string(),
                g["memberCount"].as_u64().unwrap(),
                g["mappedRole"].clone(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            ("Administrator".to_string(), 1, json!("ADMIN")),
            ("QA".to_string(), 2, json!("REVIEWER")),
            ("Unmapped".to_string(), 1, Value::Null)
        ]
    );
}

#[tokio::test]
async fn activity_lists_provisioning_newest_first() {
    let (s, _, _) = setup().await;
    let r = s.call("GET", "/Users?filter=bad%20filter", None).await;
    assert_eq!(r.status, 400);
    let body = s
        .app
        .gql(Some(&s.admin), "{ workspace { activity(first: 3) { nodes { at actor action summary status succeeded method path } totalCount pageInfo { hasNextPage endCursor } } } }", json!({}))
        .await;
    let activity = &body["data"]["workspace"]["activity"];
    let nodes = activity["nodes"].as_array().unwrap();
    assert_eq!(nodes[0]["action"], "scim.request_failed", "{body}");
    assert_eq!(nodes[0]["succeeded"], false);
    assert_eq!(nodes[0]["status"], 400);
    assert_eq!(nodes[0]["method"], "GET");
    assert_eq!(nodes[1]["action"], "group.create");
    assert!(
        nodes[1]["summary"]
            .as_str()
            .unwrap()
            .contains("created group Unmapped"),
        "{}",
        nodes[1]["summary"]
    );
    assert!(nodes[1]["actor"].as_str().unwrap().starts_with("key scim_"));
    assert_eq!(activity["pageInfo"]["hasNextPage"], true);
    let cursor = activity["pageInfo"]["endCursor"].as_str().unwrap();
    let next = s
        .app
        .gql(Some(&s.admin), "query($a: String) { workspace { activity(first: 100, after: $a) { nodes { action summary } } } }", json!({ "a": cursor }))
        .await;
    let rest = next["data"]["workspace"]["activity"]["nodes"]
        .as_array()
        .unwrap();
    let summaries: Vec<&str> = rest
        .iter()
        .map(|n| n["summary"].as_str().unwrap())
        .collect();
    assert!(
        summaries
            .iter()
            .any(|s| s.contains("added jane@x.org as Labeler")),
        "{summaries:?}"
    );
    assert!(
        summaries
            .iter()
            .any(|s| s.contains("jane@x.org: role Labeler → Admin via group Administrator")),
        "{summaries:?}"
    );
    let total = activity["totalCount"].as_u64().unwrap();
    assert_eq!(rest.len() as u64 + 3, total);
}

#[tokio::test]
async fn the_activity_subscription_streams_new_entries() {
    let s = Scim::start().await;
    let mut socket = ws_connect(
        &s.app,
        json!({ "Authorization": format!("Bearer {}", s.admin) }),
    )
    .await;
    ws_send(&mut socket, json!({ "id": "a", "type": "subscribe", "payload": { "query": "subscription { activity { action summary actor succeeded } }" } })).await;
    // Let the subscription start before the change it should see.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    s.create_user("live@x.org", "Live", "One").await;
    let next = next_json(&mut socket).await;
    assert_eq!(next["type"], "next", "{next}");
    let entry = &next["payload"]["data"]["activity"];
    assert_eq!(entry["action"], "user.create");
    assert_eq!(entry["summary"], "added live@x.org as Labeler");
    let r = s.call("DELETE", "/Users/nope", None).await;
    assert_eq!(r.status, 404);
    let next = next_json(&mut socket).await;
    assert_eq!(
        next["payload"]["data"]["activity"]["succeeded"], false,
        "{next}"
    );

    // Without a token the subscription is refused.
    let mut anon = ws_connect(&s.app, json!({})).await;
    ws_send(&mut anon, json!({ "id": "b", "type": "subscribe", "payload": { "query": "subscription { activity { action } }" } })).await;
    let msg = next_json(&mut anon).await;
    assert_eq!(
        msg["payload"]["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{msg}"
    );
}
