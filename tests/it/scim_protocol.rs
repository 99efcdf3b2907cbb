//! SCIM transport: authentication, the switch, errors for bad requests, discovery, versioning.

use serde_json::{Value, json};

use crate::common::{Scim, assert_scim_error};
use crate::operations::{METRICS_TOKEN, sample};

#[tokio::test]
async fn wrong_missing_revoked_or_foreign_keys_are_401() {
    let s = Scim::start().await;
    let client = &s.app.client;
    let users = format!("{}/Users", s.base);
    for auth in [
        None,
        Some("Bearer scim_nope".to_string()),
        Some(format!("Bearer {}x", s.key)),
        Some("Basic dXNlcjpwYXNz".into()),
    ] {
        let mut req = client.get(&users);
        if let Some(a) = &auth {
            req = req.header("Authorization", a);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), 401, "{auth:?}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["status"], "401");
        assert_eq!(
            body["schemas"][0],
            "urn:ietf:params:scim:api:messages:2.0:Error"
        );
    }
    // Okta's header mode sends the bare key.
    let r = client
        .get(&users)
        .header("Authorization", &s.key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // A key of another workspace, on this workspace's URL.
    let other = s.app.admin_token("other", "owner@other.test").await;
    let body = s
        .app
        .gql(
            Some(&other),
            "mutation { generateApiKey(name: \"x\") { secret } }",
            json!({}),
        )
        .await;
    let foreign = body["data"]["generateApiKey"]["secret"].as_str().unwrap();
    let r = client
        .get(&users)
        .bearer_auth(foreign)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // Revoked.
    let keys = s
        .app
        .gql(
            Some(&s.admin),
            "{ workspace { apiKeys { id } } }",
            json!({}),
        )
        .await;
    let id = keys["data"]["workspace"]["apiKeys"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    s.app
        .gql(
            Some(&s.admin),
            "mutation($id: ID!) { revokeApiKey(id: $id) { id } }",
            json!({ "id": id }),
        )
        .await;
    let r = s.call("GET", "/Users", None).await;
    assert_scim_error(&r, 401, None);
}

#[tokio::test]
async fn scim_switched_off_is_403_and_keeps_data() {
    let s = Scim::start().await;
    let id = s.create_user("jane@x.org", "Jane", "Doe").await;
    s.app
        .gql(
            Some(&s.admin),
            "mutation { disableScim { enabled } }",
            json!({}),
        )
        .await;
    let r = s.call("GET", &format!("/Users/{id}"), None).await;
    assert_scim_error(&r, 403, None);
    assert!(r.body["detail"].as_str().unwrap().contains("switched off"));
    s.app
        .gql(
            Some(&s.admin),
            "mutation { enableScim { enabled } }",
            json!({}),
        )
        .await;
    let r = s.call("GET", &format!("/Users/{id}"), None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["userName"], "jane@x.org");
}

/// SCIM's routes are matched by hand (`scim::routes`): HEAD, percent-encoded segments, unknown
/// paths below the base (404 before any key is asked for) and the metrics' route names.
#[tokio::test]
async fn hand_matched_routes_behave_as_a_router_would() {
    let s = Scim::start_with(|s| s.with_metrics_token(Some(METRICS_TOKEN))).await;
    let id = s.create_user("head@x.org", "Head", "Case").await;

    let r = s.call("HEAD", &format!("/Users/{id}"), None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, Value::Null, "HEAD answers without a body");
    assert!(r.headers.get("etag").is_some());

    // Each character of the id percent-encoded names the same user.
    let encoded: String = id.bytes().map(|b| format!("%{b:02X}")).collect();
    let r = s.call("GET", &format!("/Users/{encoded}"), None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["id"], id.as_str());
    let r = s
        .call(
            "GET",
            "/Schemas/urn%3Aietf%3Aparams%3Ascim%3Aschemas%3Acore%3A2.0%3AUser",
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["id"], "urn:ietf:params:scim:schemas:core:2.0:User");

    // Unknown paths below the base: SCIM's 404, with or without a key.
    for path in ["", "/", "/Users//", "/Userz", "/Users/a/b", "/Users/%FF"] {
        let r = s.call("GET", path, None).await;
        assert_scim_error(&r, 404, None);
        let anonymous = s
            .app
            .client
            .get(format!("{}{path}", s.base))
            .send()
            .await
            .unwrap();
        assert_eq!(anonymous.status(), 404, "{path}");
        let body: Value = anonymous.json().await.unwrap();
        assert_eq!(body["status"], "404", "{path}");
    }
    // A known endpoint asks for the key first.
    let anonymous = s
        .app
        .client
        .get(format!("{}/Users", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);

    // The metrics name each request by the template of the route it matched (never by its
    // ids or encoding), and everything unmatched as one route.
    let text = s
        .app
        .client
        .get(format!("{}/metrics", s.app.url))
        .bearer_auth(METRICS_TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let requests = |route: &str, method: &str, status: u16| {
        sample(
            &text,
            "http_requests_total",
            &format!("route=\"{route}\",method=\"{method}\",status=\"{status}\""),
        )
    };
    let scim = "/api/teams/{teamId}/scim/v2";
    for (route, method, status) in [
        ("/Users/{id}", "HEAD", 200),
        ("/Users/{id}", "GET", 200),
        ("/Schemas/{urn}", "GET", 200),
        ("/Users", "GET", 401),
        ("/Users", "POST", 201),
    ] {
        let route = format!("{scim}{route}");
        assert_eq!(
            requests(&route, method, status),
            Some(1.0),
            "{route} {method}: {text}"
        );
    }
    // Six unknown paths, each with and without a key.
    assert_eq!(requests("other", "GET", 404), Some(12.0), "{text}");
    for leaked in [id.as_str(), "%FF", "/users", "Users/a/b"] {
        assert!(!text.contains(leaked), "{leaked} in the metrics: {text}");
    }
}

#[tokio::test]
async fn bad_requests_get_rfc_errors() {
    let s = Scim::start().await;
    let r = s.call("GET", "/Nope", None).await;
    assert_scim_error(&r, 404, None);
    let r = s.call("DELETE", "/Users", None).await;
    assert_scim_error(&r, 405, None);
    let r = s
        .call("PUT", "/ServiceProviderConfig", Some(json!({})))
        .await;
    assert_scim_error(&r, 405, None);
    let r = s
        .call("GET", "/Users/00000000-0000-0000-0000-000000000000", None)
        .await;
    assert_scim_error(&r, 404, None);

    let raw = |body: &'static str, content_type: &'static str| {
        s.app
            .client
            .post(format!("{}/Users", s.base))
            .bearer_auth(&s.key)
            .header("Content-Type", content_type)
            .body(body)
            .send()
    };
    let r = raw("{\"userName\": ", "application/scim+json")
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["scimType"], "invalidSyntax");
    let r = raw("[1,2]", "application/json").await.unwrap();
    assert_eq!(r.status(), 400);
    let r = raw("userName=x", "application/x-www-form-urlencoded")
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["status"], "415");
    let r = raw("", "application/scim+json").await.unwrap();
    assert_eq!(r.status(), 400);

    let huge = json!({ "userName": "x@y.z", "title": "t".repeat(2 * 1024 * 1024) });
    let r = s.call("POST", "/Users", Some(huge)).await;
    assert_scim_error(&r, 413, None);

    let r = s
        .call(
            "POST",
            "/Users",
            Some(json!({ "name": { "givenName": "No" } })),
        )
        .await;
    assert_scim_error(&r, 400, Some("invalidValue"));
    let r = s
        .call("GET", "/Users?filter=userName%20xx%20%22a%22", None)
        .await;
    assert_scim_error(&r, 400, Some("invalidFilter"));
    let r = s.call("GET", "/Users?count=abc", None).await;
    assert_scim_error(&r, 400, Some("invalidValue"));

    // Failed requests are in the activity log, with their effect in words.
    use scim_gateway::entities::activity;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let failures = activity::Entity::find()
        .filter(activity::Column::Succeeded.eq(false))
        .all(&s.app.db)
        .await
        .unwrap();
    assert!(failures.len() >= 10, "{}", failures.len());
    assert!(
        failures
            .iter()
            .any(|f| f.status == 415 && f.summary.contains("POST /Users failed (415)"))
    );
    assert!(
        failures
            .iter()
            .all(|f| f.actor.starts_with("key scim_") && !f.summary.contains(&s.key))
    );
}

#[tokio::test]
async fn discovery_describes_what_is_supported() {
    let s = Scim::start().await;
    let r = s.call("GET", "/ServiceProviderConfig", None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.headers["content-type"], "application/scim+json");
    assert_eq!(r.body["patch"]["supported"], true);
    assert_eq!(r.body["filter"]["supported"], true);
    assert_eq!(r.body["filter"]["maxResults"], 1000);
    assert_eq!(r.body["etag"]["supported"], true);
    assert_eq!(r.body["sort"]["supported"], true);
    assert_eq!(r.body["changePassword"]["supported"], false);
    assert_eq!(
        r.body["authenticationSchemes"][0]["type"],
        "oauthbearertoken"
    );

    let r = s.call("GET", "/ResourceTypes", None).await;
    assert_eq!(r.body["totalResults"], 2);
    let r = s.call("GET", "/ResourceTypes/User", None).await;
    assert_eq!(r.body["endpoint"], "/Users");
    let r = s.call("GET", "/Schemas", None).await;
    let ids: Vec<&str> = r.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"urn:ietf:params:scim:schemas:core:2.0:User"));
    assert!(ids.contains(&"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"));
    let r = s
        .call(
            "GET",
            "/Schemas/urn:ietf:params:scim:schemas:core:2.0:Group",
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    assert!(
        r.body["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["name"] == "members")
    );
    let r = s.call("GET", "/Schemas/urn:nope", None).await;
    assert_scim_error(&r, 404, None);
}

#[tokio::test]
async fn etags_if_match_and_if_none_match() {
    let s = Scim::start().await;
    let id = s.create_user("jane@x.org", "Jane", "Doe").await;
    let r = s.call("GET", &format!("/Users/{id}"), None).await;
    let etag = r.headers["etag"].to_str().unwrap().to_string();
    assert!(etag.starts_with("W/\""), "{etag}");
    assert_eq!(r.body["meta"]["version"], etag);

    let r = s
        .call_with(
            "GET",
            &format!("/Users/{id}"),
            None,
            &[("If-None-Match", &etag)],
        )
        .await;
    assert_eq!(r.status, 304);

    let patch = json!({ "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{ "op": "replace", "path": "displayName", "value": "J" }] });
    let r = s
        .call_with(
            "PATCH",
            &format!("/Users/{id}"),
            Some(patch.clone()),
            &[("If-Match", "W/\"999\"")],
        )
        .await;
    assert_scim_error(&r, 412, None);
    let r = s
        .call_with(
            "PATCH",
            &format!("/Users/{id}"),
            Some(patch.clone()),
            &[("If-Match", &etag)],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let new_etag = r.headers["etag"].to_str().unwrap().to_string();
    assert_ne!(new_etag, etag);
    // The old version no longer matches.
    let r = s
        .call_with(
            "PATCH",
            &format!("/Users/{id}"),
            Some(patch),
            &[("If-Match", &etag)],
        )
        .await;
    assert_scim_error(&r, 412, None);
    let r = s
        .call_with(
            "GET",
            &format!("/Users/{id}"),
            None,
            &[("If-None-Match", &etag)],
        )
        .await;
    assert_eq!(r.status, 200);
}

/// Every SCIM route answers the same with one trailing slash (Microsoft's reference collection
/// sends `/Users/?filter=…`).
#[tokio::test]
async fn one_trailing_slash_names_the_same_endpoint() {
    let s = Scim::start().await;
    let user = s
        .ok(
            "POST",
            "/Users/",
            Some(serde_json::json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": "slash@acme.test"
            })),
        )
        .await;
    assert_eq!(user.status.as_u16(), 201, "{}", user.body);
    let id = user.body["id"].as_str().unwrap().to_string();
    for path in [
        "/Users".to_string(),
        "/Users?filter=userName%20eq%20%22slash@acme.test%22".to_string(),
        format!("/Users/{id}"),
        "/Groups".to_string(),
        "/ServiceProviderConfig".to_string(),
        "/ResourceTypes".to_string(),
        "/ResourceTypes/User".to_string(),
        "/Schemas".to_string(),
    ] {
        let plain = s.call("GET", &path, None).await;
        let slashed_path = match path.split_once('?') {
            Some((p, q)) => format!("{p}/?{q}"),
            None => format!("{path}/"),
        };
        let slashed = s.call("GET", &slashed_path, None).await;
        assert_eq!(plain.status.as_u16(), 200, "{path}: {}", plain.body);
        assert_eq!(
            slashed.status, plain.status,
            "{slashed_path}: {}",
            slashed.body
        );
        assert_eq!(slashed.body, plain.body, "{slashed_path}");
    }
    // Endpoint names in any case, as Microsoft's collection sends `/users`.
    for (lower, canonical) in [
        ("/users".to_string(), "/Users".to_string()),
        (format!("/users/{id}"), format!("/Users/{id}")),
        (
            "/serviceproviderconfig".to_string(),
            "/ServiceProviderConfig".to_string(),
        ),
    ] {
        let a = s.call("GET", &lower, None).await;
        let b = s.call("GET", &canonical, None).await;
        assert_eq!(a.status.as_u16(), 200, "{lower}: {}", a.body);
        assert_eq!(a.body, b.body, "{lower}");
    }
    let found = s
        .call(
            "GET",
            "/Users/?filter=userName%20eq%20%22slash@acme.test%22",
            None,
        )
        .await;
    assert_eq!(found.body["totalResults"], 1, "{}", found.body);
    s.ok("DELETE", &format!("/Users/{id}/"), None).await;
    assert_eq!(
        s.call("GET", &format!("/Users/{id}"), None)
            .await
            .status
            .as_u16(),
        404
    );
}

/// A filter naming a schema of the other resource type is an error, not an empty answer; an
/// IdP's own extension stays filterable (it is kept in the document).
#[tokio::test]
async fn a_filter_on_another_resource_types_schema_is_invalid() {
    let s = Scim::start().await;
    for (path, filter) in [
        (
            "/Users",
            "urn:ietf:params:scim:schemas:core:2.0:Group:displayName eq \"x\"",
        ),
        (
            "/Groups",
            "urn:ietf:params:scim:schemas:core:2.0:User:userName eq \"x\"",
        ),
        (
            "/Groups",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq \"x\"",
        ),
    ] {
        let encoded: String = url::form_urlencoded::byte_serialize(filter.as_bytes()).collect();
        let r = s
            .call("GET", &format!("{path}?filter={encoded}"), None)
            .await;
        assert_scim_error(&r, 400, Some("invalidFilter"));
    }
    let encoded: String =
        url::form_urlencoded::byte_serialize(b"urn:example:idp:1.0:User:badge eq \"7\"").collect();
    let r = s
        .call("GET", &format!("/Users?filter={encoded}"), None)
        .await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.body);
}
