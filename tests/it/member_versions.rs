//! A member's version (`meta.version`, the ETag) moves whenever its representation does (RFC
//! 7644 §3.14): its names, the groups it is in (joined, left, its group renamed or deleted) and
//! its role (a mapping edit). After each kind of change, a write with the version read before it
//! is refused with 412, so an IdP's `If-Match` never overwrites blindly.

use serde_json::{Value, json};

use crate::common::{Scim, ScimResponse};

const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const SET_MAPPINGS: &str = "mutation($m: [GroupRoleMappingInput!]!) { setGroupRoleMappings(mappings: $m) { mappings { groupName } } }";

fn display_name_patch(value: &str) -> Value {
    json!({ "schemas": [PATCH], "Operations": [{ "op": "replace", "path": "displayName", "value": value }] })
}

/// The member's ETag, checked against its `meta.version`.
async fn etag(s: &Scim, id: &str) -> String {
    let r = s.ok("GET", &format!("/Users/{id}"), None).await;
    let header = r.headers["etag"].to_str().unwrap().to_string();
    assert_eq!(r.body["meta"]["version"], header.as_str(), "{}", r.body);
    header
}

/// The version read before `what` no longer writes; the current one does.
async fn assert_stale_after(s: &Scim, id: &str, before: &str, what: &str) {
    let now = etag(s, id).await;
    assert_ne!(now, before, "{what}: the version did not move");
    let path = format!("/Users/{id}");
    let stale: ScimResponse = s
        .call_with(
            "PATCH",
            &path,
            Some(display_name_patch("stale")),
            &[("If-Match", before)],
        )
        .await;
    assert_eq!(stale.status, 412, "{what}: {}", stale.body);
    let fresh = s
        .call_with(
            "PATCH",
            &path,
            Some(display_name_patch(what)),
            &[("If-Match", &now)],
        )
        .await;
    assert_eq!(fresh.status, 200, "{what}: {}", fresh.body);
}

#[tokio::test]
async fn every_change_of_a_members_representation_makes_a_new_version() {
    let s = Scim::start().await;
    let jane = s.create_user("jane@acme.test", "Jane", "Doe").await;
    let path = format!("/Users/{jane}");

    // Names, through the member's own workspace.
    let before = etag(&s, &jane).await;
    s.ok(
        "PATCH",
        &path,
        Some(json!({ "schemas": [PATCH], "Operations": [{ "op": "replace", "path": "name.givenName", "value": "Janet" }] })),
    )
    .await;
    assert_stale_after(&s, &jane, &before, "names").await;

    // Joining a group.
    let before = etag(&s, &jane).await;
    let group = s.create_group("Reviewers", &[&jane]).await;
    let read = s.ok("GET", &path, None).await;
    assert_eq!(read.body["groups"][0]["value"], group.as_str());
    assert_stale_after(&s, &jane, &before, "joined a group").await;

    // The group renamed: the member's `groups[].display` changed.
    let before = etag(&s, &jane).await;
    s.ok(
        "PATCH",
        &format!("/Groups/{group}"),
        Some(json!({ "schemas": [PATCH], "Operations": [{ "op": "replace", "path": "displayName", "value": "Senior reviewers" }] })),
    )
    .await;
    assert_stale_after(&s, &jane, &before, "group renamed").await;

    // Its role, through a mapping of the group.
    let before = etag(&s, &jane).await;
    s.app
        .gql(
            Some(&s.admin),
            SET_MAPPINGS,
            json!({ "m": [{ "groupName": "Senior reviewers", "role": "REVIEWER" }] }),
        )
        .await;
    assert_eq!(s.app.effective_role(&jane).await, "reviewer");
    assert_stale_after(&s, &jane, &before, "role").await;

    // Leaving the group (unmapped first, so no role moves with it).
    s.app
        .gql(Some(&s.admin), SET_MAPPINGS, json!({ "m": [] }))
        .await;
    let before = etag(&s, &jane).await;
    s.ok(
        "PATCH",
        &format!("/Groups/{group}"),
        Some(json!({ "schemas": [PATCH], "Operations": [{ "op": "remove", "path": format!("members[value eq \"{jane}\"]") }] })),
    )
    .await;
    assert!(s.ok("GET", &path, None).await.body.get("groups").is_none());
    assert_stale_after(&s, &jane, &before, "left the group").await;

    // The group deleted while she is in it.
    let other = s.create_group("Labelers", &[&jane]).await;
    let before = etag(&s, &jane).await;
    let r = s.call("DELETE", &format!("/Groups/{other}"), None).await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_stale_after(&s, &jane, &before, "group deleted").await;
}

#[tokio::test]
async fn a_group_change_moves_only_its_members_versions() {
    let s = Scim::start().await;
    let jane = s.create_user("jane@acme.test", "Jane", "Doe").await;
    let bob = s.create_user("bob@acme.test", "Bob", "Roe").await;
    let bob_before = etag(&s, &bob).await;
    s.create_group("Reviewers", &[&jane]).await;
    assert_eq!(etag(&s, &bob).await, bob_before);
}
