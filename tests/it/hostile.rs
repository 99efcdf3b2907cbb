//! A corpus of malformed and hostile requests sent to every SCIM write and search route: each gets
//! a 4xx with an RFC 7644 error body (or, for a search, an empty result), within seconds, never a
//! 5xx; and the workspace's data reads back the same afterwards.

use std::time::Duration;

use serde_json::{Value, json};

use crate::common::Scim;

const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// Bodies that are not what SCIM expects, by what is wrong with them.
fn bad_bodies() -> Vec<(&'static str, Vec<u8>)> {
    let deep_array = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let deep_object = format!(
        "{{\"userName\":\"x@y.z\",\"name\":{}1{}}}",
        "{\"a\":".repeat(10_000),
        "}".repeat(10_000)
    );
    let mut bodies: Vec<(&'static str, Vec<u8>)> = vec![
        ("empty", b"".to_vec()),
        ("whitespace", b"   \n ".to_vec()),
        (
            "truncated JSON",
            br#"{"userName": "a@b.c", "name": {"#.to_vec(),
        ),
        ("trailing garbage", br#"{"userName": "a@b.c"} xyz"#.to_vec()),
        ("array", b"[1, 2, 3]".to_vec()),
        ("string", br#""userName""#.to_vec()),
        ("null", b"null".to_vec()),
        ("number", b"12".to_vec()),
        ("invalid UTF-8", b"{\"userName\": \"\xff\xfe\"}".to_vec()),
        ("NUL in a key", b"{\"user\x00Name\": \"a@b.c\"}".to_vec()),
        ("lone surrogate", br#"{"userName": "\ud800@b.c"}"#.to_vec()),
        (
            "escaped NUL in values",
            br#"{"userName": "n@b.c", "displayName": "a\u0000b", "title": "\u0000", "Operations": [{"op": "replace", "path": "displayName", "value": "x\u0000"}]}"#.to_vec(),
        ),
        ("deep array", deep_array.into_bytes()),
        ("deep object", deep_object.into_bytes()),
    ];
    let typed: Vec<(&'static str, Value)> = vec![
        (
            "userName an object",
            json!({ "userName": { "value": "a@b.c" } }),
        ),
        ("userName empty", json!({ "userName": "" })),
        (
            "userName control characters",
            json!({ "userName": "a\u{0}\u{7}\u{1b}[31m@b.c" }),
        ),
        (
            "active a number",
            json!({ "userName": "a@b.c", "active": 3 }),
        ),
        (
            "active a huge number",
            json!({ "userName": "a@b.c", "active": 1e300 }),
        ),
        (
            "emails a number",
            json!({ "userName": "a@b.c", "emails": 5 }),
        ),
        (
            "emails without value",
            json!({ "userName": "a@b.c", "emails": [{ "type": "work" }] }),
        ),
        (
            "name an array",
            json!({ "userName": "a@b.c", "name": ["a"] }),
        ),
        (
            "roles unknown",
            json!({ "userName": "a@b.c", "roles": [{ "value": "superuser" }] }),
        ),
        ("displayName missing (group)", json!({ "members": [] })),
        (
            "members a string",
            json!({ "displayName": "G", "members": "everyone" }),
        ),
        (
            "members unknown ids",
            json!({ "displayName": "G", "members": [{ "value": "' OR 1=1 --" }] }),
        ),
        (
            "Operations missing",
            json!({ "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"] }),
        ),
        (
            "Operations an object",
            json!({ "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": { "op": "add" } }),
        ),
        (
            "op unknown",
            json!({ "Operations": [{ "op": "explode", "path": "userName", "value": "x" }] }),
        ),
        (
            "path injection",
            json!({ "Operations": [{ "op": "replace", "path": "userName\"; DROP TABLE members; --", "value": "x" }] }),
        ),
        (
            "path filter injection",
            json!({ "Operations": [{ "op": "remove", "path": "members[value eq \"x\" or 1 eq 1]" }] }),
        ),
        (
            "path deep brackets",
            json!({ "Operations": [{ "op": "remove", "path": format!("emails{}", "[".repeat(5000)) }] }),
        ),
        (
            "huge numbers for a boolean and for members",
            json!({ "Operations": [
                { "op": "replace", "path": "active", "value": 1e308 },
                { "op": "add", "path": "members", "value": 1e308 }
            ] }),
        ),
        (
            "Bulk without Operations",
            json!({ "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"] }),
        ),
        (
            "Bulk op without method",
            json!({ "Operations": [{ "path": "/Users", "data": {} }] }),
        ),
        (
            "Bulk op path outside",
            json!({ "Operations": [{ "method": "POST", "path": "/../../graphql", "data": {} }] }),
        ),
        (
            "Bulk nested Bulk",
            json!({ "Operations": [{ "method": "POST", "path": "/Bulk", "data": { "Operations": [] } }] }),
        ),
        ("search count a string", json!({ "count": "many" })),
        (
            "search count huge",
            json!({ "count": 1e300, "startIndex": -1e300 }),
        ),
        ("search filter a number", json!({ "filter": 7 })),
        (
            "unknown schema only",
            json!({ "schemas": ["urn:evil:schema"], "userName": "a@b.c", "displayName": "G" }),
        ),
    ];
    bodies.extend(
        typed
            .into_iter()
            .map(|(what, v)| (what, v.to_string().into_bytes())),
    );
    bodies
}

/// Filters shaped like injections or nonsense, in every position a filter has.
fn bad_filters() -> Vec<String> {
    let payloads = [
        "' OR '1'='1",
        "\" OR \"1\"=\"1",
        "x\"; DROP TABLE members; --",
        "%' OR 1=1 --",
        "\\",
        "\u{0}",
        "${jndi:ldap://x}",
        "*",
        "_%",
    ];
    let mut filters = Vec::new();
    for p in payloads {
        let quoted = serde_json::to_string(p).unwrap();
        filters.push(format!("userName eq {quoted}"));
        filters.push(format!("userName co {quoted}"));
        filters.push(format!("emails[value sw {quoted}]"));
        filters.push(format!("name.familyName ew {quoted} and active eq true"));
        filters.push(format!("{p} eq \"x\""));
        filters.push(format!("userName {p} \"x\""));
        filters.push(format!("emails[{p}]"));
        filters.push(format!("meta.lastModified gt {quoted}"));
    }
    filters.extend(
        [
            "userName eq",
            "eq \"x\"",
            "((((userName pr",
            "userName eq \"x\")",
            "not userName eq \"x\"",
            "userName eq 1e400",
            "active eq 99999999999999999999999",
            "emails[type eq \"work\"",
            "emails[value eq \"x\"]]",
        ]
        .map(str::to_string),
    );
    // Multi-byte characters where `urn:` prefixes are looked for.
    filters.push("Hé€ eq \"x\"".to_string());
    filters.push("emails[Hé€ eq \"x\"]".to_string());
    filters.push(format!(
        "{}userName pr{}",
        "(".repeat(1000),
        ")".repeat(1000)
    ));
    filters.push(format!("userName eq \"{}\"", "a".repeat(100_000)));
    filters
}

fn assert_error_body(what: &str, status: u16, body: &[u8]) {
    let value: Value = serde_json::from_slice(body)
        .unwrap_or_else(|_| panic!("{what}: not JSON: {}", String::from_utf8_lossy(body)));
    assert_eq!(value["schemas"][0], ERROR_SCHEMA, "{what}: {value}");
    assert_eq!(value["status"], status.to_string(), "{what}: {value}");
    assert!(
        value["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{what}: {value}"
    );
}

#[tokio::test]
async fn hostile_requests_get_protocol_errors_and_change_nothing() {
    let s = Scim::start().await;
    let user = s.create_user("kept@acme.test", "Kept", "User").await;
    let group = s.create_group("Kept", &[&user]).await;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let snapshot = || async {
        let users = s.ok("GET", "/Users", None).await.body;
        let groups = s.ok("GET", "/Groups", None).await.body;
        (users, groups)
    };
    let before = snapshot().await;
    // What a search with nothing in it answers, for each search route.
    let mut plain_searches = std::collections::HashMap::new();
    for path in ["/Users/.search", "/.search"] {
        let r = s.call("POST", path, Some(json!({}))).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(r.body["totalResults"].as_u64().unwrap() >= 2, "{}", r.body);
        plain_searches.insert(path, r.body);
    }

    let routes = [
        ("POST", "/Users".to_string()),
        ("PUT", format!("/Users/{user}")),
        ("PATCH", format!("/Users/{user}")),
        ("POST", "/Groups".to_string()),
        ("PUT", format!("/Groups/{group}")),
        ("PATCH", format!("/Groups/{group}")),
        ("POST", "/Bulk".to_string()),
        ("POST", "/Users/.search".to_string()),
        ("POST", "/.search".to_string()),
    ];
    let content_types = ["application/scim+json", "application/json"];
    let mut sent = 0;
    for (method, path) in &routes {
        for (what, body) in bad_bodies() {
            for content_type in content_types {
                let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
                let response = client
                    .request(method.clone(), format!("{}{path}", s.base))
                    .bearer_auth(&s.key)
                    .header("Content-Type", content_type)
                    .body(body.clone())
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("{method} {path} with {what}: {e}"));
                let status = response.status().as_u16();
                let bytes = response.bytes().await.unwrap();
                let label = format!("{method} {path} with {what} ({content_type})");
                sent += 1;
                if (200..300).contains(&status) {
                    // Only a JSON object can be a request: a search ignores what it doesn't
                    // know (and answers as to an empty search), a Bulk request answers per
                    // operation (each of these must have failed). Anything else is refused.
                    let text = String::from_utf8_lossy(&bytes);
                    let sent: Value = serde_json::from_slice(&body).unwrap_or_else(|_| {
                        panic!("{label}: malformed, accepted with {status}: {text}")
                    });
                    let answer: Value = serde_json::from_slice(&bytes)
                        .unwrap_or_else(|_| panic!("{label}: a {status} that is not JSON: {text}"));
                    if path.ends_with(".search") {
                        let empty_search = &plain_searches[path.as_str()];
                        assert_eq!(
                            &answer, empty_search,
                            "{label}: not the empty search's answer"
                        );
                    } else if path.ends_with("/Bulk") {
                        let ops = sent["Operations"]
                            .as_array()
                            .unwrap_or_else(|| panic!("{label}: no Operations, accepted: {text}"));
                        let answered = answer["Operations"].as_array().unwrap();
                        assert_eq!(answered.len(), ops.len(), "{label}: {answer}");
                        for op in answered {
                            let op_status = op["status"].as_str().unwrap_or("");
                            assert!(op_status.starts_with('4'), "{label}: {op}");
                        }
                    } else {
                        panic!("{label}: accepted with {status}: {text}");
                    }
                    continue;
                }
                assert!((400..500).contains(&status), "{label}: {status}");
                assert_error_body(&label, status, &bytes);
            }
        }
        // Wrong or missing Content-Type, and no body at all.
        for content_type in [Some("text/plain"), Some("application/xml"), None] {
            let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
            let mut request = client
                .request(method, format!("{}{path}", s.base))
                .bearer_auth(&s.key);
            if let Some(ct) = content_type {
                request = request.header("Content-Type", ct).body("<user>x</user>");
            }
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let bytes = response.bytes().await.unwrap();
            let label = format!("{path} with Content-Type {content_type:?}");
            assert!((400..500).contains(&status), "{label}: {status}");
            assert_error_body(&label, status, &bytes);
        }
    }

    for filter in bad_filters() {
        for (method, path, body) in [
            ("POST", "/Users/.search", Some(json!({ "filter": filter }))),
            ("POST", "/Groups/.search", Some(json!({ "filter": filter }))),
        ] {
            let r = s.call(method, path, body).await;
            let label = format!(
                "{path} filter {:?}",
                filter.chars().take(80).collect::<String>()
            );
            match r.status.as_u16() {
                200 => assert_eq!(r.body["totalResults"], 0, "{label}: {}", r.body),
                400 => {
                    assert_eq!(r.body["schemas"][0], ERROR_SCHEMA, "{label}");
                    assert_eq!(r.body["scimType"], "invalidFilter", "{label}: {}", r.body);
                }
                other => panic!("{label}: {other} {}", r.body),
            }
        }
        // The same in a query string, when it fits in a URL.
        if filter.len() > 8192 {
            continue;
        }
        let encoded: String = url::form_urlencoded::byte_serialize(filter.as_bytes()).collect();
        let r = s
            .call("GET", &format!("/Users?filter={encoded}"), None)
            .await;
        match r.status.as_u16() {
            200 => assert_eq!(r.body["totalResults"], 0, "{filter}: {}", r.body),
            400 => assert_eq!(r.body["scimType"], "invalidFilter", "{filter}: {}", r.body),
            other => panic!("{filter}: {other} {}", r.body),
        }
    }
    assert!(sent > 400, "{sent}");

    assert_eq!(
        snapshot().await,
        before,
        "hostile requests changed the data"
    );

    // Multi-byte characters where URN prefixes are looked for (once a panic, found by fuzzing):
    // answered, never a 5xx or a dropped connection.
    let key = format!(
        "{}€:department",
        &"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"[..56]
    );
    // And one right after the whole URN, where its `:` belongs (found by the body fuzzer).
    let after = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User€department";
    let r = s
        .call(
            "POST",
            "/Users",
            Some(json!({ "userName": "mb@acme.test", key: 1, after: 2 })),
        )
        .await;
    assert!(r.status.as_u16() < 500, "{}", r.body);
    let r = s
        .call(
            "PATCH",
            &format!("/Users/{user}"),
            Some(json!({ "Operations": [{ "op": "add", "path": "Hé€x", "value": 1 }] })),
        )
        .await;
    assert!(r.status.as_u16() < 500, "{}", r.body);
    for query in [
        "sortBy=H%C3%A9%E2%82%ACx",
        "attributes=H%C3%A9%E2%82%ACx",
        "excludedAttributes=H%C3%A9%E2%82%ACx",
    ] {
        let r = s.call("GET", &format!("/Users?{query}"), None).await;
        assert!(r.status.as_u16() < 500, "{query}: {}", r.body);
    }
}
