//! /Users: what Okta and Entra do to people.

use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

use crate::common::{Scim, assert_scim_error, enable_scim};

fn patch(ops: Value) -> Option<Value> {
    Some(json!({ "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops }))
}

#[tokio::test]
async fn create_returns_the_resource_with_location_and_etag() {
    let s = Scim::start().await;
    let r = s
        .call(
            "POST",
            "/Users",
            Some(json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
                "userName": "Jane@X.org",
                "externalId": "00u1",
                "name": { "givenName": "Jane", "familyName": "Doe", "middleName": "Q" },
                "emails": [{ "primary": true, "value": "jane@x.org", "type": "work" }],
                "phoneNumbers": [{ "value": "+1 555", "type": "mobile" }],
                "active": true,
                "password": "never-stored",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": { "department": "R&D", "manager": { "value": "m1" } }
            })),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["id"].as_str().unwrap();
    assert_eq!(r.headers["location"], format!("{}/Users/{id}", s.base));
    assert_eq!(r.body["meta"]["location"], format!("{}/Users/{id}", s.base));
    assert_eq!(r.headers["etag"], "W/\"1\"");
    assert_eq!(r.body["userName"], "Jane@X.org");
    assert_eq!(r.body["externalId"], "00u1");
    assert_eq!(
        r.body["name"],
        json!({ "middleName": "Q", "givenName": "Jane", "familyName": "Doe" })
    );
    assert_eq!(r.body["phoneNumbers"][0]["value"], "+1 555");
    assert_eq!(
        r.body["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["department"],
        "R&D"
    );
    // The computed role is returned on request only.
    assert!(
        r.body
            .get("urn:scim-gateway:schemas:extension:workspace:2.0:User")
            .is_none()
    );
    let with_role = s
        .call("GET", &format!("/Users/{id}?attributes=userName,urn:scim-gateway:schemas:extension:workspace:2.0:User"), None)
        .await;
    assert_eq!(
        with_role.body["urn:scim-gateway:schemas:extension:workspace:2.0:User"]["effectiveRole"],
        "labeler",
        "{}",
        with_role.body
    );
    assert!(r.body.get("password").is_none());
    assert_eq!(
        r.body["schemas"][0],
        "urn:ietf:params:scim:schemas:core:2.0:User"
    );
    let stored = s.call("GET", &format!("/Users/{id}"), None).await;
    assert_eq!(stored.body, r.body);
}

#[tokio::test]
async fn usernames_are_unique_case_insensitively_even_when_inactive() {
    let s = Scim::start().await;
    let id = s.create_user("jane@x.org", "Jane", "Doe").await;
    let r = s
        .call("POST", "/Users", Some(json!({ "userName": "JANE@x.org" })))
        .await;
    assert_scim_error(&r, 409, Some("uniqueness"));
    s.ok(
        "PATCH",
        &format!("/Users/{id}"),
        patch(json!([{ "op": "replace", "value": { "active": false } }])),
    )
    .await;
    let r = s.ok("GET", &format!("/Users/{id}"), None).await;
    assert_eq!(r.body["active"], false, "{}", r.body);
    for user_name in ["jane@x.org", "Jane@X.org"] {
        let r = s
            .call("POST", "/Users", Some(json!({ "userName": user_name })))
            .await;
        assert_scim_error(&r, 409, Some("uniqueness"));
    }
    // Nor can another user be renamed onto the inactive one's name.
    let bob = s.create_user("bob@x.org", "Bob", "Roe").await;
    let r = s
        .call(
            "PATCH",
            &format!("/Users/{bob}"),
            patch(json!([{ "op": "replace", "path": "userName", "value": "JANE@x.org" }])),
        )
        .await;
    assert_scim_error(&r, 409, Some("uniqueness"));
    let r = s
        .ok(
            "GET",
            "/Users?filter=userName%20eq%20%22jane@x.org%22",
            None,
        )
        .await;
    assert_eq!(r.body["totalResults"], 1, "{}", r.body);
    assert_eq!(r.body["Resources"][0]["id"], id.as_str());
}

#[tokio::test]
async fn identity_lookups_find_people_the_ways_idps_ask() {
    let s = Scim::start().await;
    let jane = s.create_user("jane@x.org", "Jane", "Doe").await;
    let bob = s.create_user("bob@x.org", "Bob", "Roe").await;
    s.ok("PATCH", &format!("/Users/{bob}"), patch(json!([{ "op": "add", "path": "externalId", "value": "ext-BOB" }, { "op": "add", "path": "title", "value": "Engineer" }]))).await;
    s.ok(
        "PATCH",
        &format!("/Users/{jane}"),
        patch(json!([
            { "op": "add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "R&D" },
            { "op": "add", "path": "roles", "value": [{ "value": "reviewer" }] }
        ])),
    )
    .await;
    s.ok(
        "PATCH",
        &format!("/Users/{bob}"),
        patch(json!([{ "op": "add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "Sales" }])),
    )
    .await;
    let eng = s.create_group("Eng", &[&bob]).await;
    // Signs in as "carol.login", mailed at carol@x.org: Okta's `email eq` finds her either way.
    let r = s
        .call(
            "POST",
            "/Users",
            Some(json!({ "userName": "carol.login", "emails": [{ "value": "carol@x.org", "primary": true }] })),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let carol = r.body["id"].as_str().unwrap().to_string();
    let cases = [
        ("userName eq \"jane@x.org\"", vec![&jane]),
        ("userName eq \"JANE@X.ORG\"", vec![&jane]),
        ("userName eq jane@x.org", vec![&jane]),
        ("email eq \"bob@x.org\"", vec![&bob]),
        ("email eq \"carol.login\"", vec![&carol]),
        ("email eq \"CAROL@x.org\"", vec![&carol]),
        ("emails eq \"carol.login\"", vec![]),
        (&format!("groups eq \"{eng}\"") as &str, vec![&bob]),
        (&format!("groups.value eq \"{eng}\""), vec![&bob]),
        ("roles eq \"reviewer\"", vec![&jane]),
        ("roles.value eq \"REVIEWER\"", vec![&jane]),
        ("roles pr", vec![&jane]),
        ("emails eq \"bob@x.org\"", vec![&bob]),
        ("emails.value eq \"BOB@x.org\"", vec![&bob]),
        (
            "emails[type eq \"work\"].value eq \"jane@x.org\"",
            vec![&jane],
        ),
        (
            "emails[type eq \"work\" and value co \"@x.org\"]",
            vec![&jane, &bob],
        ),
        ("externalId eq \"ext-BOB\"", vec![&bob]),
        ("externalId eq \"ext-bob\"", vec![]),
        (&format!("id eq \"{jane}\""), vec![&jane]),
        ("name.familyName sw \"r\"", vec![&bob]),
        (
            "userName ew \"@x.org\" and not (name.givenName eq \"bob\")",
            vec![&jane],
        ),
        ("userName eq \"a\" or userName eq \"bob@x.org\"", vec![&bob]),
        (
            "active eq true and userName co \"x.org\"",
            vec![&jane, &bob],
        ),
        (
            "userName co \"x.org\" and not (active eq \"False\")",
            vec![&jane, &bob],
        ),
        (
            "meta.created gt \"2000-01-01T00:00:00Z\" and userName sw \"jane\"",
            vec![&jane],
        ),
        ("title pr", vec![&bob]),
        ("title eq \"engineer\"", vec![&bob]),
        (
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq \"r&d\"",
            vec![&jane],
        ),
        (
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department pr",
            vec![&jane, &bob],
        ),
        (
            "urn:ietf:params:scim:schemas:core:2.0:User:userName eq \"bob@x.org\"",
            vec![&bob],
        ),
        // Entra's "Test connection": a random GUID finds nobody, with a 200.
        (
            "userName eq \"5f9ab4e0-6d0a-4f5e-9d43-1c2b6e1e8a55\"",
            vec![],
        ),
    ];
    for (filter, expected) in cases {
        let r = s
            .call("GET", &format!("/Users?filter={}", urlencode(filter)), None)
            .await;
        assert_eq!(r.status, 200, "{filter}: {}", r.body);
        let mut found: Vec<String> = r.body["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["id"].as_str().unwrap().to_string())
            .collect();
        let mut expected: Vec<String> = expected.into_iter().cloned().collect();
        found.sort();
        expected.sort();
        assert_eq!(found, expected, "{filter}");
        assert_eq!(r.body["totalResults"], expected.len(), "{filter}");
    }
    // Filters that compare a type with the wrong kind of value are refused, not answered with
    // nobody.
    for filter in [
        "active eq \"yes\"",
        "active gt true",
        "meta.created eq \"yesterday\"",
        "meta.created co \"2026\"",
        "userName gt null",
        // A backslash can't be put in a JSON path safely: such a name is not filtered on.
        "urn:example:a\\b:department eq \"x\"",
    ] {
        let r = s
            .call("GET", &format!("/Users?filter={}", urlencode(filter)), None)
            .await;
        assert_eq!(r.status, 400, "{filter}: {}", r.body);
        assert_scim_error(&r, 400, Some("invalidFilter"));
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn pages_are_stable_and_count_zero_gives_only_totals() {
    let s = Scim::start().await;
    for i in 0..7 {
        s.create_user(&format!("u{i}@x.org"), "U", &format!("{i}"))
            .await;
    }
    // The owner is listed too: 8 members.
    let r = s.call("GET", "/Users?count=0", None).await;
    assert_eq!(r.body["totalResults"], 8);
    assert!(r.body.get("Resources").is_none(), "{}", r.body);
    let mut seen = Vec::new();
    for start in [1, 4, 7] {
        let r = s
            .call(
                "GET",
                &format!("/Users?startIndex={start}&count=3&sortBy=userName"),
                None,
            )
            .await;
        assert_eq!(r.body["startIndex"], start);
        for u in r.body["Resources"].as_array().unwrap() {
            seen.push(u["userName"].as_str().unwrap().to_string());
        }
    }
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted);
    assert_eq!(seen.len(), 8);
    let r = s
        .call(
            "GET",
            "/Users?sortBy=userName&sortOrder=descending&count=1",
            None,
        )
        .await;
    assert_eq!(r.body["Resources"][0]["userName"], "u6@x.org");
    assert_eq!(r.body["itemsPerPage"], 1);
    let r = s.call("GET", "/Users?startIndex=100", None).await;
    assert_eq!(r.body["Resources"], json!([]));
    assert_eq!(r.body["totalResults"], 8);
}

#[tokio::test]
async fn sorting_follows_the_attribute_asked_for() {
    let s = Scim::start().await;
    for (user_name, family) in [
        ("c@x.org", "Able"),
        ("a@x.org", "Cole"),
        ("b@x.org", "Baker"),
    ] {
        s.create_user(user_name, "U", family).await;
    }
    let s = &s;
    let order = move |sort_by: &'static str| async move {
        let r = s
            .ok(
                "GET",
                &format!("/Users?filter=userName%20co%20%22x.org%22&sortBy={sort_by}"),
                None,
            )
            .await;
        r.body["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["userName"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    let by_user_name = ["a@x.org", "b@x.org", "c@x.org"];
    assert_eq!(order("userName").await, by_user_name);
    assert_eq!(
        order("name.familyName").await,
        ["c@x.org", "b@x.org", "a@x.org"]
    );
    // E-mails sort as the userName they key (every member's first e-mail is its userName here).
    assert_eq!(order("emails").await, by_user_name);
    assert_eq!(order("emails.value").await, by_user_name);
    assert_eq!(
        order("urn:ietf:params:scim:schemas:core:2.0:User:userName").await,
        by_user_name
    );
    for sort_by in [
        "emails.type",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:userName",
        "nosuch",
    ] {
        let r = s
            .call("GET", &format!("/Users?sortBy={sort_by}"), None)
            .await;
        assert_eq!(r.status, 400, "{sort_by}: {}", r.body);
        assert_scim_error(&r, 400, Some("invalidValue"));
    }
}

#[tokio::test]
async fn attributes_and_excluded_attributes() {
    let s = Scim::start().await;
    let id = s.create_user("jane@x.org", "Jane", "Doe").await;
    let r = s
        .call(
            "GET",
            &format!("/Users/{id}?attributes=userName,name.familyName"),
            None,
        )
        .await;
    let keys: Vec<&str> = r
        .body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["schemas", "id", "meta", "userName", "name"]);
    assert_eq!(r.body["name"], json!({ "familyName": "Doe" }));
    let r = s
        .call(
            "GET",
            "/Users?excludedAttributes=emails,name&filter=userName%20eq%20%22jane@x.org%22",
            None,
        )
        .await;
    let user = &r.body["Resources"][0];
    assert!(user.get("emails").is_none() && user.get("name").is_none());
    assert_eq!(user["userName"], "jane@x.org");
    let r = s
        .call("POST", "/Users/.search", Some(json!({ "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": "userName eq \"jane@x.org\"", "attributes": ["userName"] })))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["totalResults"], 1);
    assert!(r.body["Resources"][0].get("name").is_none());
}

#[tokio::test]
async fn okta_put_deactivates_and_reactivates_the_same_member() {
    let s = Scim::start().await;
    let id = s.create_user("jane@x.org", "Jane", "Doe").await;
    let mut user = s.call("GET", &format!("/Users/{id}"), None).await.body;
    user["active"] = json!(false);
    let r = s
        .call("PUT", &format!("/Users/{id}"), Some(user.clone()))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["active"], false);
    // Still readable, and found by filters.
    let r = s
        .call("GET", "/Users?filter=active%20eq%20false", None)
        .await;
    assert_eq!(r.body["totalResults"], 1);
    user["active"] = json!(true);
    user["name"]["givenName"] = json!("Janet");
    let r = s.call("PUT", &format!("/Users/{id}"), Some(user)).await;
    assert_eq!(r.body["id"], id.as_str());
    assert_eq!(r.body["active"], true);
    assert_eq!(r.body["name"]["givenName"], "Janet");
}

#[tokio::test]
async fn entra_patch_dialect_is_accepted() {
    let s = Scim::start().await;
    let id = s.create_user("jane@x.org", "Jane", "Doe").await;
    let r = s
        .call(
            "PATCH",
            &format!("/Users/{id}"),
            patch(json!([
                { "op": "Replace", "path": "active", "value": "False" },
                { "op": "Add", "path": "displayName", "value": "Jane D." },
                { "op": "Replace", "path": "emails[type eq \"work\"].value", "value": "jane.doe@x.org" },
                { "op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "Labelling" },
                { "op": "replace", "value": { "name.givenName": "Janet", "id": "ignored" } }
            ])),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["active"], false);
    assert_eq!(r.body["displayName"], "Jane D.");
    assert_eq!(r.body["emails"][0]["value"], "jane.doe@x.org");
    assert_eq!(r.body["name"]["givenName"], "Janet");
    assert_eq!(
        r.body["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["department"],
        "Labelling"
    );
    assert_eq!(r.body["id"], id.as_str());
    // The new e-mail is what filters find now.
    let r = s
        .call(
            "GET",
            "/Users?filter=emails.value%20eq%20%22jane.doe@x.org%22",
            None,
        )
        .await;
    assert_eq!(r.body["totalResults"], 1);
    // A PATCH that breaks the user changes nothing.
    let r = s.call("PATCH", &format!("/Users/{id}"), patch(json!([{ "op": "replace", "path": "displayName", "value": "ok" }, { "op": "remove", "path": "userName" }]))).await;
    assert_scim_error(&r, 400, Some("invalidValue"));
    let r = s.call("GET", &format!("/Users/{id}"), None).await;
    assert_eq!(r.body["displayName"], "Jane D.");
}

#[tokio::test]
async fn delete_removes_the_member_but_keeps_the_account() {
    let s = Scim::start().await;
    // The workspace speaks for x.org, so its IdP's names are the account's.
    s.app.vouch(&s.workspace_id(), "x.org").await;
    let id = s.create_user("jane@x.org", "Jane", "Doe").await;
    // The same person in another workspace shares the account.
    let other = s.app.admin_token("other", "owner@other.test").await;
    let other_ws = s.app.workspace_id(&other).await;
    s.app.add_member(&other_ws, "Jane@x.org", None).await;
    let r = s.call("DELETE", &format!("/Users/{id}"), None).await;
    assert_eq!(r.status, 204);
    let r = s.call("GET", &format!("/Users/{id}"), None).await;
    assert_scim_error(&r, 404, None);
    use scim_gateway::entities::{account, member};
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let acc = account::Entity::find()
        .filter(account::Column::EmailKey.eq("jane@x.org"))
        .one(&s.app.db)
        .await
        .unwrap()
        .expect("account kept");
    assert_eq!(acc.given_name.as_deref(), Some("Jane"));
    let memberships = member::Entity::find()
        .filter(member::Column::AccountId.eq(acc.id.clone()))
        .all(&s.app.db)
        .await
        .unwrap();
    assert_eq!(
        memberships.len(),
        1,
        "the other workspace's membership stays"
    );
    // Re-adding links the same account again.
    let again = s.create_user("jane@x.org", "Jane", "Doe").await;
    assert_ne!(again, id);
    let memberships = member::Entity::find()
        .filter(member::Column::AccountId.eq(acc.id))
        .all(&s.app.db)
        .await
        .unwrap();
    assert_eq!(memberships.len(), 2);
}

#[tokio::test]
async fn roles_set_the_direct_role_and_bad_roles_are_refused() {
    let s = Scim::start().await;
    let r = s
        .call("POST", "/Users", Some(json!({ "userName": "rev@x.org", "roles": [{ "value": "Reviewer", "primary": "True", "type": "WindowsAzureActiveDirectoryRole" }] })))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    // Echoed as the IdP sent it.
    assert_eq!(
        r.body["roles"],
        json!([{ "value": "Reviewer", "primary": "True", "type": "WindowsAzureActiveDirectoryRole" }])
    );
    let id = r.body["id"].as_str().unwrap();
    let r = s
        .call("GET", &format!("/Users/{id}?attributes=urn:scim-gateway:schemas:extension:workspace:2.0:User:effectiveRole"), None)
        .await;
    assert_eq!(
        r.body["urn:scim-gateway:schemas:extension:workspace:2.0:User"]["effectiveRole"],
        "reviewer",
        "{}",
        r.body
    );
    let r = s
        .call(
            "POST",
            "/Users",
            Some(json!({ "userName": "x@x.org", "roles": ["owner"] })),
        )
        .await;
    assert_scim_error(&r, 400, Some("invalidValue"));
}

#[tokio::test]
async fn the_owner_and_the_last_admin_are_protected() {
    let s = Scim::start().await;
    let r = s
        .call(
            "GET",
            "/Users?filter=userName%20eq%20%22owner@acme.test%22",
            None,
        )
        .await;
    let owner = r.body["Resources"][0]["id"].as_str().unwrap().to_string();
    let r = s
        .call(
            "PATCH",
            &format!("/Users/{owner}"),
            patch(json!([{ "op": "replace", "path": "active", "value": false }])),
        )
        .await;
    assert_scim_error(&r, 400, Some("invalidValue"));
    assert!(r.body["detail"].as_str().unwrap().contains("owner"));
    let r = s.call("DELETE", &format!("/Users/{owner}"), None).await;
    assert_scim_error(&r, 400, None);
    let r = s.ok("GET", &format!("/Users/{owner}"), None).await;
    assert_eq!(r.body["active"], true);

    // The last admin: with the owner gone (deactivated outside SCIM), ada, an admin by her
    // direct role, is the only active admin left, and SCIM can neither deactivate, demote nor
    // remove her.
    let ada = s.create_user("ada@acme.test", "Ada", "L").await;
    let r = s
        .ok(
            "PATCH",
            &format!("/Users/{ada}"),
            patch(json!([{ "op": "add", "path": "roles", "value": [{ "value": "admin" }] }])),
        )
        .await;
    assert_eq!(r.body["roles"][0]["value"], "admin", "{}", r.body);
    s.app.deactivate_outside_scim(&owner).await;
    for (method, body) in [
        (
            "PATCH",
            patch(json!([{ "op": "replace", "path": "active", "value": false }])),
        ),
        (
            "PATCH",
            patch(json!([{ "op": "replace", "path": "roles", "value": [{ "value": "labeler" }] }])),
        ),
        (
            "PUT",
            Some(
                json!({ "userName": "ada@acme.test", "active": false, "roles": [{ "value": "admin" }] }),
            ),
        ),
        ("DELETE", None),
    ] {
        let r = s.call(method, &format!("/Users/{ada}"), body).await;
        assert_scim_error(&r, 400, Some("invalidValue"));
        assert!(
            r.body["detail"]
                .as_str()
                .unwrap()
                .contains("last active admin"),
            "{method}: {}",
            r.body
        );
    }
    let r = s.ok("GET", &format!("/Users/{ada}"), None).await;
    assert_eq!(r.body["active"], true);
    assert_eq!(s.app.effective_role(&ada).await, "admin");
    // With a second admin, she can go.
    let bea = s.create_user("bea@acme.test", "Bea", "M").await;
    s.ok(
        "PATCH",
        &format!("/Users/{bea}"),
        patch(json!([{ "op": "add", "path": "roles", "value": [{ "value": "admin" }] }])),
    )
    .await;
    s.ok(
        "PATCH",
        &format!("/Users/{ada}"),
        patch(json!([{ "op": "replace", "path": "active", "value": false }])),
    )
    .await;
}

#[tokio::test]
async fn a_key_of_one_workspace_never_sees_another() {
    let s = Scim::start().await;
    let other = s.app.admin_token("other", "owner@other.test").await;
    let other_ws = s.app.workspace_id(&other).await;
    let stranger = s
        .app
        .add_member(&other_ws, "stranger@other.test", None)
        .await;
    let r = s.call("GET", &format!("/Users/{stranger}"), None).await;
    assert_scim_error(&r, 404, None);
    let r = s.call("DELETE", &format!("/Users/{stranger}"), None).await;
    assert_scim_error(&r, 404, None);
    let r = s
        .call(
            "GET",
            "/Users?filter=userName%20eq%20%22stranger@other.test%22",
            None,
        )
        .await;
    assert_eq!(r.body["totalResults"], 0);
    // The other workspace's URL with this key: 401.
    let r = s
        .app
        .client
        .get(format!("{}/api/teams/{other_ws}/scim/v2/Users", s.app.url))
        .bearer_auth(&s.key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

/// PUT and PATCH answer the state they stored: the same body as a GET right after, through
/// name, e-mail, role, deactivation and kept-attribute changes of a member of a mapped group.
#[tokio::test]
async fn update_answers_are_what_a_get_reads_back() {
    let s = Scim::start().await;
    let id = s.create_user("ann@x.org", "Ann", "Lee").await;
    s.create_group("QA", &[&id]).await;
    let steps = [
        (
            "PATCH",
            patch(json!([
                { "op": "replace", "path": "name.givenName", "value": "Anne" },
                { "op": "add", "path": "emails", "value": [{ "value": "ann@home.example", "type": "home" }] },
                { "op": "add", "path": "roles", "value": [{ "value": "reviewer" }] },
            ])),
        ),
        (
            "PATCH",
            patch(json!([{ "op": "replace", "value": { "active": false, "title": "Lead" } }])),
        ),
        (
            "PATCH",
            patch(json!([
                { "op": "replace", "path": "displayName", "value": "Ann L." },
                { "op": "replace", "path": "name.familyName", "value": "Lea" },
            ])),
        ),
        (
            "PUT",
            Some(json!({
                "userName": "ann@x.org",
                "name": { "familyName": "Lee-Smith" },
                "emails": [{ "value": "ann@x.org", "primary": true }],
                "active": true,
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": { "department": "QA" }
            })),
        ),
    ];
    for (i, (method, body)) in steps.into_iter().enumerate() {
        let r = s.call(method, &format!("/Users/{id}"), body).await;
        assert_eq!(r.status, 200, "step {i}: {}", r.body);
        let stored = s.call("GET", &format!("/Users/{id}"), None).await;
        assert_eq!(r.body, stored.body, "step {i}");
        assert_eq!(r.headers["etag"], stored.headers["etag"], "step {i}");
    }
    let role = s
        .call(
            "GET",
            &format!(
                "/Users/{id}?attributes=urn:scim-gateway:schemas:extension:workspace:2.0:User"
            ),
            None,
        )
        .await;
    assert_eq!(
        role.body["urn:scim-gateway:schemas:extension:workspace:2.0:User"]["effectiveRole"],
        "labeler",
        "the PUT dropped the direct reviewer role: {}",
        role.body
    );
    // Each update was recorded once, in its own words (written in the update's transaction).
    use scim_gateway::entities::activity;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
    let summaries: Vec<String> = activity::Entity::find()
        .filter(activity::Column::Action.eq("user.update"))
        .filter(activity::Column::ResourceId.eq(id.as_str()))
        .order_by_asc(activity::Column::Id)
        .all(&s.app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.summary)
        .collect();
    assert_eq!(summaries.len(), 4, "{summaries:?}");
    assert!(
        summaries[0].contains("name changed to Anne Lee"),
        "{summaries:?}"
    );
    assert!(summaries[0].contains("Reviewer"), "{summaries:?}");
    assert!(summaries[1].contains("deactivated"), "{summaries:?}");
    assert!(
        summaries[2].contains("name changed to Anne Lea"),
        "{summaries:?}"
    );
    assert!(summaries[3].contains("reactivated"), "{summaries:?}");
}

#[tokio::test]
async fn concurrent_creates_and_patches_lose_nothing() {
    let s = Scim::start().await;
    // A second workspace on the same server: the same people, created in both at once, share
    // one account per e-mail.
    let other = s.app.admin_token("globex", "owner@globex.test").await;
    let (other_base, other_key) = enable_scim(&s.app, &other).await;
    let posts = (0..12).map(|i| {
        let (base, key) = if i % 2 == 0 {
            (s.base.as_str(), s.key.as_str())
        } else {
            (other_base.as_str(), other_key.as_str())
        };
        let body = json!({ "userName": format!("Shared{}@X.org", i / 2) });
        let request = s
            .app
            .client
            .post(format!("{base}/Users"))
            .bearer_auth(key)
            .header("Content-Type", "application/scim+json")
            .body(body.to_string());
        async move {
            let r = request.send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    });
    let created = futures_util::future::join_all(posts).await;
    for (status, body) in &created {
        assert_eq!(*status, 201, "{body}");
    }
    let db = &s.app.db;
    let count = |sql: &'static str| async move {
        db.query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            sql,
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get::<i64>("", "n")
        .unwrap()
    };
    let accounts = count("SELECT COUNT(*) AS n FROM accounts WHERE email_key LIKE 'shared%'").await;
    let members = count(
        "SELECT COUNT(*) AS n FROM members m JOIN accounts a ON a.id = m.account_id \
         WHERE a.email_key LIKE 'shared%'",
    )
    .await;
    assert_eq!((accounts, members), (6, 12));

    // Forty creates at once (SQLite commits them in groups, some larger than eight): all land.
    let posts = (0..40).map(|i| {
        s.ok(
            "POST",
            "/Users",
            Some(json!({ "userName": format!("crowd{i}@x.org"), "emails": [{ "value": format!("crowd{i}@x.org") }] })),
        )
    });
    for r in futures_util::future::join_all(posts).await {
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let crowd = s
        .call(
            "GET",
            "/Users?filter=userName%20sw%20%22crowd%22&count=0",
            None,
        )
        .await;
    assert_eq!(crowd.body["totalResults"], 40, "{}", crowd.body);

    // Twelve PATCHes of one user at once, without If-Match: each lands exactly once.
    let id = created[0].1["id"].as_str().unwrap().to_string();
    let path = format!("/Users/{id}");
    let patches = (0..12).map(|i| {
        s.ok(
            "PATCH",
            &path,
            patch(json!([{ "op": "add", "path": "emails", "value": [{ "value": format!("e{i}@x.org"), "type": "other" }] }])),
        )
    });
    for r in futures_util::future::join_all(patches).await {
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let user = s.call("GET", &path, None).await.body;
    let mut emails: Vec<&str> = user["emails"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["value"].as_str().unwrap())
        .collect();
    emails.sort_unstable();
    let mut expected: Vec<String> = (0..12).map(|i| format!("e{i}@x.org")).collect();
    expected.sort_unstable();
    assert_eq!(emails, expected);
    assert_eq!(user["meta"]["version"], "W/\"13\"");
}

/// A 409 says which value conflicts and with whom, in the answer and in the activity log.
#[tokio::test]
async fn conflicts_say_what_conflicts() {
    let s = Scim::start().await;
    let user = |user_name: &str, email: &str| {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": user_name,
            "emails": [{ "value": email, "type": "work", "primary": true }],
        })
    };
    s.ok(
        "POST",
        "/Users",
        Some(user("UserName333", "testing@bob2.com")),
    )
    .await;

    for (user_name, email, detail) in [
        (
            "UserName444",
            "Testing@Bob2.com",
            "the e-mail Testing@Bob2.com already belongs to member UserName333 of this workspace",
        ),
        (
            "username333",
            "other@bob2.com",
            "a user with userName \"username333\" already exists in this workspace",
        ),
    ] {
        let r = s.call("POST", "/Users", Some(user(user_name, email))).await;
        assert_scim_error(&r, 409, Some("uniqueness"));
        assert_eq!(r.body["detail"], detail);
    }

    let logged = s
        .app
        .db
        .query_all_raw(sea_orm::Statement::from_string(
            s.app.db.get_database_backend(),
            "SELECT summary FROM activity WHERE status = 409 ORDER BY id",
        ))
        .await
        .unwrap();
    let summaries: Vec<String> = logged
        .iter()
        .map(|row| row.try_get::<String>("", "summary").unwrap())
        .collect();
    assert_eq!(summaries.len(), 2, "{summaries:?}");
    assert!(
        summaries[0].contains("already belongs to member UserName333"),
        "{summaries:?}"
    );
}

/// Lenient where real IdPs need it, strict where leniency would hide a broken mapping.
#[tokio::test]
async fn types_are_lenient_where_idps_need_it_and_strict_where_it_hides_a_broken_mapping() {
    let s = Scim::start().await;
    // Lenient: no schemas, booleans as Entra's strings, capitalised ops.
    let created = s
        .ok(
            "POST",
            "/Users",
            Some(json!({ "userName": "lenient@acme.test", "active": "True" })),
        )
        .await;
    let id = created.body["id"].as_str().unwrap().to_string();
    assert_eq!(created.body["active"], true);
    let patched = s
        .ok(
            "PATCH",
            &format!("/Users/{id}"),
            Some(
                json!({ "Operations": [{ "op": "Replace", "path": "active", "value": "False" }] }),
            ),
        )
        .await;
    assert_eq!(patched.body["active"], false);

    // Strict: a non-string where a key or name must be a string.
    for (body, attr) in [
        (json!({ "userName": 12345 }), "userName"),
        (json!({ "userName": true }), "userName"),
        (json!({ "userName": { "value": "x" } }), "userName"),
        (json!({ "userName": ["a@acme.test"] }), "userName"),
        (
            json!({ "userName": "e@acme.test", "emails": [{ "value": 42 }] }),
            "emails.value",
        ),
    ] {
        let r = s.call("POST", "/Users", Some(body.clone())).await;
        assert_scim_error(&r, 400, Some("invalidValue"));
        assert!(
            r.body["detail"]
                .as_str()
                .unwrap()
                .starts_with(&format!("{attr} must be a string")),
            "{body}: {}",
            r.body
        );
    }
    let r = s
        .call(
            "PATCH",
            &format!("/Users/{id}"),
            Some(
                json!({ "Operations": [{ "op": "replace", "path": "userName", "value": 12345 }] }),
            ),
        )
        .await;
    assert_scim_error(&r, 400, Some("invalidValue"));
    assert_eq!(
        s.ok("GET", &format!("/Users/{id}"), None).await.body["userName"],
        "lenient@acme.test",
        "nothing changed"
    );

    let group = |body: Value| s.call("POST", "/Groups", Some(body));
    let r = group(json!({ "displayName": 7 })).await;
    assert_scim_error(&r, 400, Some("invalidValue"));
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .starts_with("displayName must be a string")
    );
    let r = group(json!({ "displayName": "G", "members": [{ "value": 7 }] })).await;
    assert_scim_error(&r, 400, Some("invalidValue"));
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .starts_with("members.value must be a string")
    );

    // A PATCH body that names another message is the wrong body.
    let r = s
        .call(
            "PATCH",
            &format!("/Users/{id}"),
            Some(json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "Operations": [{ "op": "replace", "path": "active", "value": true }]
            })),
        )
        .await;
    assert_scim_error(&r, 400, Some("invalidSyntax"));
    assert_eq!(
        s.ok("GET", &format!("/Users/{id}"), None).await.body["active"],
        false
    );
}

/// People who did not arrive through SCIM (the demo owner, `admin-token` admins) are listed with
/// their account e-mail and names, so an IdP import (Okta's SPEC test reads
/// `Resources[0].emails[0].value` and `name.*`) can match them.
#[tokio::test]
async fn members_added_outside_scim_are_listed_with_email_and_name() {
    let app = crate::common::TestApp::spawn().await;
    let issued = scim_gateway::domain::admin::bootstrap_if_empty(&app.db)
        .await
        .unwrap()
        .expect("the demo workspace");
    let (base, key) = enable_scim(&app, &issued.token).await;
    let s = Scim {
        app,
        admin: issued.token,
        key,
        base,
    };
    let body = s
        .ok(
            "GET",
            "/Users?filter=userName%20eq%20%22admin@example.com%22",
            None,
        )
        .await
        .body;
    let owner = &body["Resources"][0];
    assert_eq!(owner["emails"][0]["value"], "admin@example.com", "{body}");
    assert_eq!(owner["emails"][0]["primary"], true);
    assert_eq!(owner["emails"][0]["type"], "work");
    assert_eq!(owner["name"]["givenName"], "Demo");
    assert_eq!(owner["name"]["familyName"], "Admin");
    // And found by e-mail, as an import matches.
    let body = s
        .ok(
            "GET",
            "/Users?filter=emails.value%20eq%20%22ADMIN@example.com%22",
            None,
        )
        .await
        .body;
    assert_eq!(body["totalResults"], 1, "{body}");
}

/// `emails.value` is not caseExact (RFC 7643): a PATCH value filter finds `Other@X.org` by
/// `other@x.org`, as the same filter on GET does.
#[tokio::test]
async fn patch_value_filters_follow_the_schemas_case_rules() {
    let s = Scim::start().await;
    let created = s
        .ok(
            "POST",
            "/Users",
            Some(json!({
                "userName": "pat@x.org",
                "emails": [
                    { "value": "pat@x.org", "type": "work", "primary": true },
                    { "value": "Other@X.org", "type": "home" }
                ]
            })),
        )
        .await;
    let id = created.body["id"].as_str().unwrap().to_string();
    let found = s
        .ok(
            "GET",
            "/Users?filter=emails.value%20eq%20%22other@x.org%22",
            None,
        )
        .await;
    assert_eq!(found.body["totalResults"], 1, "{}", found.body);
    let patched = s
        .ok(
            "PATCH",
            &format!("/Users/{id}"),
            Some(json!({ "Operations": [{ "op": "remove", "path": "emails[value eq \"other@x.org\"]" }] })),
        )
        .await;
    let left: Vec<&str> = patched.body["emails"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["value"].as_str().unwrap())
        .collect();
    assert_eq!(left, ["pat@x.org"], "{}", patched.body);
    let found = s
        .ok(
            "GET",
            "/Users?filter=emails.value%20eq%20%22other@x.org%22",
            None,
        )
        .await;
    assert_eq!(found.body["totalResults"], 0);
}
