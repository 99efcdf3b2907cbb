//! What one request may cost (issue 28): counts are checked before a PATCH is applied, and what a
//! user or group keeps beyond the schema's columns is bounded, each refusal naming its limit in
//! RFC 7644's error format. Nothing refused is stored.

use serde_json::{Value, json};

use crate::common::{Scim, assert_scim_error};

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

fn detail(body: &Value) -> &str {
    body["detail"].as_str().unwrap_or("")
}

#[tokio::test]
async fn a_patch_giving_an_attribute_too_many_values_is_refused_before_it_is_applied() {
    let s = Scim::start().await;
    let id = s.create_user("jane@acme.test", "Jane", "Doe").await;
    let path = format!("/Users/{id}");
    let before = s.ok("GET", &path, None).await.body;
    // 10,000 one-value adds: refused by the count, not after applying them one by one (whose
    // refusal would be the user rule's "at most 50 e-mail addresses").
    let ops: Vec<Value> = (0..10_000)
        .map(|i| json!({ "op": "add", "path": "emails", "value": [{ "value": format!("j{i}@acme.test") }] }))
        .collect();
    let r = s
        .call(
            "PATCH",
            &path,
            Some(json!({ "schemas": [PATCH], "Operations": ops })),
        )
        .await;
    assert_scim_error(&r, 400, Some("invalidValue"));
    assert!(
        detail(&r.body).contains("the operations give emails more than 50 values"),
        "{}",
        r.body
    );
    // Path-less values count too, for any multi-valued attribute.
    let numbers: Vec<Value> = (0..51)
        .map(|i| json!({ "value": format!("+1 555 01{i:02}") }))
        .collect();
    let r = s
        .call(
            "PATCH",
            &path,
            Some(json!({ "schemas": [PATCH], "Operations": [{ "op": "add", "value": { "phoneNumbers": numbers } }] })),
        )
        .await;
    assert_scim_error(&r, 400, Some("invalidValue"));
    assert!(detail(&r.body).contains("phoneNumbers"), "{}", r.body);
    // Within the count, a PATCH applies.
    let r = s
        .call(
            "PATCH",
            &path,
            Some(json!({ "schemas": [PATCH], "Operations": [{ "op": "add", "path": "emails", "value": [{ "value": "j2@acme.test" }] }] })),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_ne!(r.body["meta"]["version"], before["meta"]["version"]);
}

#[tokio::test]
async fn what_a_user_keeps_beyond_its_columns_is_bounded() {
    let s = Scim::start().await;
    // A 1 MiB body of unknown attributes: refused, naming the limit, and not stored.
    let filler: Vec<Value> = (0..100_000).map(|_| json!({})).collect();
    let r = s
        .call(
            "POST",
            "/Users",
            Some(json!({ "schemas": [USER], "userName": "big@acme.test", "x": filler })),
        )
        .await;
    assert_scim_error(&r, 400, Some("invalidValue"));
    assert!(
        detail(&r.body).contains("at most 50 are kept"),
        "{}",
        r.body
    );
    let blob = "a".repeat(70 * 1024);
    let r = s
        .call(
            "POST",
            "/Users",
            Some(json!({ "schemas": [USER], "userName": "big@acme.test", "nickName": blob })),
        )
        .await;
    assert_scim_error(&r, 400, Some("invalidValue"));
    assert!(detail(&r.body).contains("at most 65536"), "{}", r.body);
    let found = s
        .ok(
            "GET",
            "/Users?filter=userName%20eq%20%22big@acme.test%22",
            None,
        )
        .await;
    assert_eq!(found.body["totalResults"], 0);
    // An extension's arrays count as the core's do; a user within the bounds is kept whole.
    let r = s
        .call(
            "POST",
            "/Users",
            Some(json!({ "schemas": [USER], "userName": "ok@acme.test", "nickName": "a".repeat(60 * 1024),
                "urn:example:ext": { "tags": (0..51).collect::<Vec<u32>>() } })),
        )
        .await;
    assert_scim_error(&r, 400, Some("invalidValue"));
    assert!(
        detail(&r.body).contains("urn:example:ext:tags"),
        "{}",
        r.body
    );
    let r = s
        .call(
            "POST",
            "/Users",
            Some(json!({ "schemas": [USER], "userName": "ok@acme.test", "nickName": "a".repeat(60 * 1024) })),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["nickName"].as_str().unwrap().len(), 60 * 1024);
}

#[tokio::test]
async fn what_a_group_keeps_beyond_its_columns_is_bounded() {
    let s = Scim::start().await;
    let r = s
        .call(
            "POST",
            "/Groups",
            Some(json!({ "schemas": [GROUP], "displayName": "Big", "x": "a".repeat(70 * 1024) })),
        )
        .await;
    assert_scim_error(&r, 400, Some("invalidValue"));
    assert!(detail(&r.body).contains("at most 65536"), "{}", r.body);
    let id = s.create_group("Small", &[]).await;
    let r = s
        .call(
            "PATCH",
            &format!("/Groups/{id}"),
            Some(json!({ "schemas": [PATCH], "Operations": [{ "op": "add", "path": "x", "value": "a".repeat(70 * 1024) }] })),
        )
        .await;
    assert_scim_error(&r, 400, Some("invalidValue"));
    let read = s.ok("GET", &format!("/Groups/{id}"), None).await;
    assert!(
        read.body.get("x").is_none(),
        "nothing stored: {}",
        read.body
    );
}

/// `n` terms `{attr} co "q0" or …`.
fn or_terms(attr: &str, n: usize) -> String {
    (0..n)
        .map(|i| format!("{attr} co \"q{i}\""))
        .collect::<Vec<_>>()
        .join(" or ")
}

fn query(filter: &str) -> String {
    url::form_urlencoded::byte_serialize(filter.as_bytes()).collect()
}

#[tokio::test]
async fn a_filter_asking_for_many_passes_over_multi_valued_attributes_is_refused_before_any_sql() {
    let s = Scim::start().await;
    let jane = s.create_user("jane@acme.test", "Jane", "Doe").await;
    s.create_group("Reviewers", &[&jane]).await;
    for (path, filter) in [
        ("/Users", or_terms("emails", 210)),
        ("/Users", or_terms("emails", 17)),
        ("/Users", format!("emails[{}]", or_terms("value", 17))),
        ("/Users", or_terms("groups", 17)),
        ("/Users", format!("not ({})", or_terms("emails.value", 17))),
        ("/Groups", or_terms("members", 17)),
    ] {
        let r = s
            .call("GET", &format!("{path}?filter={}", query(&filter)), None)
            .await;
        assert_scim_error(&r, 400, Some("invalidFilter"));
        assert!(
            detail(&r.body).contains("at most 16 are allowed in one filter"),
            "{filter}: {}",
            r.body
        );
    }
    // At the limit, and any number of comparisons of single-valued attributes, are answered.
    for (path, filter, found) in [
        (
            "/Users",
            format!("{} or emails co \"jane@\"", or_terms("emails", 15)),
            1,
        ),
        ("/Users", format!("emails[{}]", or_terms("value", 16)), 0),
        ("/Users", or_terms("userName", 100), 0),
        ("/Groups", or_terms("members", 16), 0),
    ] {
        let r = s
            .ok("GET", &format!("{path}?filter={}", query(&filter)), None)
            .await;
        assert_eq!(r.body["totalResults"], found, "{filter}: {}", r.body);
    }
}
