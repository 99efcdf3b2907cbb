//! /Groups: push groups, membership changes and what they do to roles.

use serde_json::{Value, json};

use crate::common::{Scim, assert_scim_error};

fn patch(ops: Value) -> Option<Value> {
    Some(json!({ "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops }))
}

async fn role(s: &Scim, id: &str) -> String {
    let r = s.call("GET", &format!("/Users/{id}?attributes=urn:scim-gateway:schemas:extension:workspace:2.0:User:effectiveRole"), None).await;
    r.body["urn:scim-gateway:schemas:extension:workspace:2.0:User"]["effectiveRole"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The group's member ids, sorted; the group must exist and list its members (`[]` when none).
async fn member_ids(s: &Scim, group: &str) -> Vec<String> {
    let r = s.call("GET", &format!("/Groups/{group}"), None).await;
    assert_eq!(r.status, 200, "GET /Groups/{group}: {}", r.body);
    assert_eq!(r.body["id"], group, "{}", r.body);
    let mut ids: Vec<String> = r.body["members"]
        .as_array()
        .unwrap_or_else(|| panic!("a group without a members list: {}", r.body))
        .iter()
        .map(|m| m["value"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

async fn map(s: &Scim, rows: Value) {
    let body = s
        .app
        .gql(Some(&s.admin), "mutation($m: [GroupRoleMappingInput!]!) { setGroupRoleMappings(mappings: $m) { mappings { groupName } } }", json!({ "m": rows }))
        .await;
    assert!(body.get("errors").is_none(), "{body}");
}

#[tokio::test]
async fn pushed_group_members_get_the_mapped_role() {
    let s = Scim::start().await;
    map(&s, json!([{ "groupName": "Administrator", "role": "ADMIN" }, { "groupName": "QA", "role": "REVIEWER" }])).await;
    let jane = s.create_user("jane@x.org", "Jane", "Doe").await;
    let bob = s.create_user("bob@x.org", "Bob", "Roe").await;
    let qa = s.create_group("QA", &[&jane, &bob]).await;
    assert_eq!(role(&s, &jane).await, "reviewer");
    let admins = s.create_group("Administrator", &[]).await;
    let r = s
        .call(
            "PATCH",
            &format!("/Groups/{admins}"),
            patch(json!([{ "op": "add", "path": "members", "value": [{ "value": jane }] }])),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(role(&s, &jane).await, "admin", "Administrator + QA ⇒ admin");
    assert_eq!(role(&s, &bob).await, "reviewer");
    // The user resource lists its groups.
    let r = s.call("GET", &format!("/Users/{jane}"), None).await;
    let groups: Vec<&str> = r.body["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["display"].as_str().unwrap())
        .collect();
    assert_eq!(groups, ["Administrator", "QA"]);
    // Removing jane from Administrator demotes her to what QA gives.
    let r = s
        .call(
            "PATCH",
            &format!("/Groups/{admins}"),
            patch(json!([{ "op": "remove", "path": format!("members[value eq \"{jane}\"]") }])),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(role(&s, &jane).await, "reviewer");
    // Deleting QA leaves both with the default.
    let r = s.call("DELETE", &format!("/Groups/{qa}"), None).await;
    assert_eq!(r.status, 204);
    assert_eq!(role(&s, &jane).await, "labeler");
    assert_eq!(role(&s, &bob).await, "labeler");
    // Renaming a group onto a mapped name gives its members that role.
    let g = s.create_group("Temp", &[&bob]).await;
    let r = s
        .call(
            "PATCH",
            &format!("/Groups/{g}"),
            patch(json!([{ "op": "replace", "path": "displayName", "value": "qa" }])),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(role(&s, &bob).await, "reviewer");
    // And renaming it away from a mapped name takes the role back.
    let r = s
        .call(
            "PATCH",
            &format!("/Groups/{g}"),
            patch(json!([{ "op": "replace", "path": "displayName", "value": "QA alumni" }])),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(role(&s, &bob).await, "labeler");
}

#[tokio::test]
async fn membership_patches_in_every_dialect() {
    let s = Scim::start().await;
    let ids: Vec<String> = {
        let mut v = Vec::new();
        for i in 0..5 {
            v.push(
                s.create_user(&format!("u{i}@x.org"), "U", &i.to_string())
                    .await,
            );
        }
        v
    };
    let g = s.create_group("Team", &[&ids[0], &ids[1]]).await;
    // Okta: add several.
    s.ok("PATCH", &format!("/Groups/{g}"), patch(json!([{ "op": "add", "path": "members", "value": [{ "value": ids[2] }, { "value": ids[3] }, { "value": ids[0] }] }]))).await;
    let mut expected = vec![
        ids[0].clone(),
        ids[1].clone(),
        ids[2].clone(),
        ids[3].clone(),
    ];
    expected.sort();
    assert_eq!(member_ids(&s, &g).await, expected);
    // Entra: Remove with a value list removes just those.
    let r = s.call("PATCH", &format!("/Groups/{g}"), patch(json!([{ "op": "Remove", "path": "members", "value": [{ "value": ids[0] }, { "value": ids[2] }] }]))).await;
    assert_eq!(r.status, 204, "{}", r.body);
    let mut expected = vec![ids[1].clone(), ids[3].clone()];
    expected.sort();
    assert_eq!(member_ids(&s, &g).await, expected);
    // Path-less Add of members, or-filters on remove.
    s.ok(
        "PATCH",
        &format!("/Groups/{g}"),
        patch(json!([{ "op": "Add", "value": { "members": [{ "value": ids[4] }] } }])),
    )
    .await;
    s.ok("PATCH", &format!("/Groups/{g}"), patch(json!([{ "op": "remove", "path": format!("members[value eq \"{}\" or value eq \"{}\"]", ids[1], ids[3]) }]))).await;
    assert_eq!(member_ids(&s, &g).await, vec![ids[4].clone()]);
    // Replace sets exactly.
    s.ok("PATCH", &format!("/Groups/{g}"), patch(json!([{ "op": "replace", "path": "members", "value": [{ "value": ids[0] }, { "value": ids[1] }] }]))).await;
    let mut expected = vec![ids[0].clone(), ids[1].clone()];
    expected.sort();
    assert_eq!(member_ids(&s, &g).await, expected);
    // Remove without a value empties the group.
    s.ok(
        "PATCH",
        &format!("/Groups/{g}"),
        patch(json!([{ "op": "remove", "path": "members" }])),
    )
    .await;
    assert!(member_ids(&s, &g).await.is_empty());
    // Asked for, the PATCH answers 200 with the attributes named.
    let r = s
        .call(
            "PATCH",
            &format!("/Groups/{g}?attributes=members"),
            patch(json!([{ "op": "add", "path": "members", "value": [{ "value": ids[2] }] }])),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["members"][0]["value"], ids[2].as_str());
    assert_eq!(
        r.body["displayName"], "Team",
        "displayName is always returned"
    );
    s.ok(
        "PATCH",
        &format!("/Groups/{g}"),
        patch(json!([{ "op": "remove", "path": "members" }])),
    )
    .await;
    // An unknown member fails the whole PATCH; nothing changes.
    let r = s.call("PATCH", &format!("/Groups/{g}"), patch(json!([{ "op": "add", "path": "members", "value": [{ "value": ids[0] }, { "value": "nobody" }] }]))).await;
    assert_scim_error(&r, 400, Some("invalidValue"));
    assert!(member_ids(&s, &g).await.is_empty());
}

#[tokio::test]
async fn okta_put_with_the_full_member_list_applies_the_difference() {
    let s = Scim::start().await;
    let a = s.create_user("a@x.org", "A", "A").await;
    let b = s.create_user("b@x.org", "B", "B").await;
    let c = s.create_user("c@x.org", "C", "C").await;
    let g = s.create_group("Okta Group", &[&a, &b]).await;
    let r = s
        .call(
            "PUT",
            &format!("/Groups/{g}"),
            Some(json!({ "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "id": g, "displayName": "Okta Group", "members": [{ "value": b, "display": "b@x.org" }, { "value": c }] })),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let mut expected = vec![b.clone(), c.clone()];
    expected.sort();
    assert_eq!(member_ids(&s, &g).await, expected);
    assert_eq!(r.body["meta"]["version"], "W/\"2\"");
}

#[tokio::test]
async fn group_filters_read_columns_members_and_extension_attributes() {
    let s = Scim::start().await;
    let a = s.create_user("a@x.org", "A", "A").await;
    let mut ids = Vec::new();
    for (name, external_id, cost_center, members) in [
        ("Eng", "ext-1", "42", vec![a.clone()]),
        ("Sales", "EXT-2", "7", vec![]),
    ] {
        let members: Vec<Value> = members.iter().map(|m| json!({ "value": m })).collect();
        let r = s
            .call(
                "POST",
                "/Groups",
                Some(json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group", "urn:example:ext:1.0:Group"],
                    "displayName": name,
                    "externalId": external_id,
                    "members": members,
                    "urn:example:ext:1.0:Group": { "costCenter": cost_center },
                })),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        ids.push(r.body["id"].as_str().unwrap().to_string());
    }
    let (eng, sales) = (ids[0].as_str(), ids[1].as_str());
    for (filter, expected) in [
        ("displayName eq \"eng\"", vec![eng]),
        (
            "urn:ietf:params:scim:schemas:core:2.0:Group:displayName eq \"SALES\"",
            vec![sales],
        ),
        ("externalId eq \"EXT-2\"", vec![sales]),
        ("externalId eq \"ext-2\"", vec![]),
        ("urn:example:ext:1.0:Group:costCenter eq \"42\"", vec![eng]),
        ("urn:example:ext:1.0:Group:costCenter pr", vec![eng, sales]),
        (&format!("members eq \"{a}\"") as &str, vec![eng]),
        ("members pr", vec![eng]),
        ("not (members pr)", vec![sales]),
        ("meta.created gt \"2000-01-01T00:00:00Z\"", vec![eng, sales]),
        ("meta.lastModified lt \"2000-01-01T00:00:00Z\"", vec![]),
    ] {
        let encoded: String = url::form_urlencoded::byte_serialize(filter.as_bytes()).collect();
        let r = s
            .ok("GET", &format!("/Groups?filter={encoded}"), None)
            .await;
        let mut found: Vec<&str> = r.body["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["id"].as_str().unwrap())
            .collect();
        found.sort();
        let mut expected = expected;
        expected.sort();
        assert_eq!(found, expected, "{filter}: {}", r.body);
    }
}

#[tokio::test]
async fn group_names_are_unique_and_lists_filter() {
    let s = Scim::start().await;
    let a = s.create_user("a@x.org", "A", "A").await;
    let g = s.create_group("Labelers", &[&a]).await;
    let r = s
        .call(
            "POST",
            "/Groups",
            Some(json!({ "displayName": " labelers " })),
        )
        .await;
    assert_scim_error(&r, 409, Some("uniqueness"));
    s.create_group("Reviewers", &[]).await;
    let r = s
        .call(
            "GET",
            "/Groups?filter=displayName%20eq%20%22LABELERS%22",
            None,
        )
        .await;
    assert_eq!(r.body["totalResults"], 1);
    assert_eq!(r.body["Resources"][0]["id"], g.as_str());
    assert_eq!(r.body["Resources"][0]["members"][0]["value"], a.as_str());
    let r = s
        .call(
            "GET",
            &format!("/Groups?filter=members.value%20eq%20%22{a}%22&excludedAttributes=members"),
            None,
        )
        .await;
    assert_eq!(r.body["totalResults"], 1);
    assert!(r.body["Resources"][0].get("members").is_none());
    let r = s
        .call(
            "GET",
            "/Groups?sortBy=displayName&sortOrder=descending",
            None,
        )
        .await;
    assert_eq!(r.body["Resources"][0]["displayName"], "Reviewers");
    let r = s
        .call(
            "POST",
            "/.search",
            Some(json!({ "filter": "displayName sw \"Lab\"" })),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["totalResults"], 1);
}

#[tokio::test]
async fn removing_the_last_admins_group_membership_is_refused() {
    let s = Scim::start().await;
    map(&s, json!([{ "groupName": "Admins", "role": "ADMIN" }])).await;
    let ada = s.create_user("ada@x.org", "Ada", "L").await;
    let g = s.create_group("Admins", &[&ada]).await;
    assert_eq!(role(&s, &ada).await, "admin");
    // The owner leaves: ada is the last active admin.
    use scim_gateway::entities::member;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let owner = member::Entity::find()
        .filter(member::Column::IsOwner.eq(true))
        .one(&s.app.db)
        .await
        .unwrap()
        .unwrap();
    s.app.deactivate_outside_scim(&owner.id).await;
    let r = s
        .call(
            "PATCH",
            &format!("/Groups/{g}"),
            patch(json!([{ "op": "remove", "path": "members" }])),
        )
        .await;
    assert_scim_error(&r, 400, Some("invalidValue"));
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .contains("last active admin")
    );
    assert_eq!(member_ids(&s, &g).await, vec![ada.clone()]);
    let r = s
        .call(
            "PATCH",
            &format!("/Users/{ada}"),
            patch(json!([{ "op": "replace", "path": "active", "value": false }])),
        )
        .await;
    assert_scim_error(&r, 400, Some("invalidValue"));
    assert_eq!(role(&s, &ada).await, "admin");
}

#[tokio::test]
async fn concurrent_pushes_all_land_and_duplicates_conflict() {
    let s = Scim::start().await;
    let mut ids = Vec::new();
    for i in 0..16 {
        ids.push(
            s.create_user(&format!("c{i}@x.org"), "C", &i.to_string())
                .await,
        );
    }
    let g = s.create_group("Concurrent", &[]).await;
    let path = format!("/Groups/{g}");
    let adds = ids.iter().map(|id| {
        s.ok(
            "PATCH",
            &path,
            patch(json!([{ "op": "add", "path": "members", "value": [{ "value": id }] }])),
        )
    });
    let results = futures_util::future::join_all(adds).await;
    for r in &results {
        assert_eq!(r.status, 204, "{}", r.body);
    }
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(member_ids(&s, &g).await, expected);

    let posts = (0..8).map(|_| s.call("POST", "/Users", Some(json!({ "userName": "same@x.org" }))));
    let results = futures_util::future::join_all(posts).await;
    let created = results.iter().filter(|r| r.status == 201).count();
    let conflicts = results.iter().filter(|r| r.status == 409).count();
    assert_eq!(
        (created, conflicts),
        (1, 7),
        "{:?}",
        results.iter().map(|r| r.status).collect::<Vec<_>>()
    );
}
