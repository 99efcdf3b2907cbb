//! RFC 9865 cursor paging against the real server: every order walked by cursors, forwards and
//! back, gives exactly the pages index paging gives, on SQLite and PostgreSQL (whose NULLs sort
//! differently), and cursors are bound to their query and workspace.

use serde_json::{Value, json};

use crate::common::{Scim, assert_scim_error, enable_scim};

fn ids(body: &Value) -> Vec<String> {
    body["Resources"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|r| r["id"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Walks a list by cursors from the first page to the last and back; returns the pages.
async fn walk(s: &Scim, path: &str, query: &str, count: u64) -> Vec<Vec<String>> {
    let sep = if query.is_empty() { "" } else { "&" };
    let mut pages = Vec::new();
    let mut cursor = String::new();
    let mut total = None;
    loop {
        let r = s
            .ok(
                "GET",
                &format!(
                    "{path}?{query}{sep}count={count}&cursor={}",
                    encode(&cursor)
                ),
                None,
            )
            .await;
        let body = r.body;
        assert!(
            body.get("startIndex").is_none(),
            "no startIndex with cursors: {body}"
        );
        assert_eq!(
            body.get("previousCursor").is_some(),
            !pages.is_empty(),
            "previousCursor on every page but the first: {body}"
        );
        let t = body["totalResults"].as_u64().unwrap();
        assert_eq!(
            *total.get_or_insert(t),
            t,
            "totalResults changed between pages"
        );
        pages.push(ids(&body));
        match body.get("nextCursor").and_then(Value::as_str) {
            Some(next) => cursor = next.to_string(),
            None => break,
        }
        assert!(pages.len() < 50, "runaway paging");
    }
    // And back, by previousCursor, from the last page.
    let mut back = vec![pages.last().unwrap().clone()];
    let mut body = s
        .ok(
            "GET",
            &format!(
                "{path}?{query}{sep}count={count}&cursor={}",
                encode(&cursor)
            ),
            None,
        )
        .await
        .body;
    if pages.len() == 1 {
        cursor.clear();
        body = s
            .ok(
                "GET",
                &format!("{path}?{query}{sep}count={count}&cursor="),
                None,
            )
            .await
            .body;
    }
    while let Some(previous) = body.get("previousCursor").and_then(Value::as_str) {
        body = s
            .ok(
                "GET",
                &format!(
                    "{path}?{query}{sep}count={count}&cursor={}",
                    encode(previous)
                ),
                None,
            )
            .await
            .body;
        back.push(ids(&body));
    }
    back.reverse();
    assert_eq!(back, pages, "{query}: walking back gives the same pages");
    pages
}

/// The same list by startIndex, in pages of `count`.
async fn by_index(s: &Scim, path: &str, query: &str, count: u64) -> Vec<Vec<String>> {
    let sep = if query.is_empty() { "" } else { "&" };
    let mut pages = Vec::new();
    let mut start = 1;
    loop {
        let body = s
            .ok(
                "GET",
                &format!("{path}?{query}{sep}count={count}&startIndex={start}"),
                None,
            )
            .await
            .body;
        let page = ids(&body);
        if page.is_empty() {
            break;
        }
        start += page.len();
        pages.push(page);
    }
    pages
}

#[tokio::test]
async fn cursors_walk_every_order_as_index_paging_does() {
    let s = Scim::start().await;
    // Display names with ties, case differences and missing ones (NULL), titles in the JSON.
    let people = [
        ("ann@x.org", Some("beta"), Some("Eng")),
        ("bob@x.org", None, None),
        ("cid@x.org", Some("Alpha"), Some("ops")),
        ("dee@x.org", Some("beta"), None),
        ("eve@x.org", None, Some("eng")),
        ("fay@x.org", Some("gamma"), Some("Ops")),
        ("gus@x.org", Some("alpha"), None),
    ];
    for (user_name, display, title) in people {
        let mut body = json!({ "userName": user_name });
        if let Some(d) = display {
            body["displayName"] = json!(d);
        }
        if let Some(t) = title {
            body["title"] = json!(t);
        }
        s.ok("POST", "/Users", Some(body)).await;
    }
    for query in [
        "",
        "sortBy=displayName",
        "sortBy=displayName&sortOrder=descending",
        "sortBy=userName&sortOrder=descending",
        "sortBy=name.givenName",
        "sortBy=externalId&sortOrder=descending",
        "sortBy=meta.created&sortOrder=descending",
        "filter=userName%20sw%20%22%22%20and%20not%20(userName%20eq%20%22bob@x.org%22)&sortBy=displayName",
    ] {
        for count in [1, 2, 3, 10] {
            let cursored = walk(&s, "/Users", query, count).await;
            let indexed = by_index(&s, "/Users", query, count).await;
            assert_eq!(cursored, indexed, "{query} count={count}");
        }
    }
    // POST /Users/.search takes the cursor in the body.
    let first = s
        .ok(
            "POST",
            "/Users/.search",
            Some(json!({ "sortBy": "displayName", "count": 3, "cursor": "" })),
        )
        .await
        .body;
    let next = first["nextCursor"].as_str().unwrap();
    let second = s
        .ok(
            "POST",
            "/Users/.search",
            Some(json!({ "sortBy": "displayName", "count": 3, "cursor": next })),
        )
        .await
        .body;
    let indexed = by_index(&s, "/Users", "sortBy=displayName", 3).await;
    assert_eq!(ids(&second), indexed[1]);

    // Groups page the same way.
    for i in 0..5 {
        s.ok(
            "POST",
            "/Groups",
            Some(json!({ "displayName": format!("G{}", 4 - i) })),
        )
        .await;
    }
    for query in [
        "",
        "sortBy=displayName",
        "sortBy=displayName&sortOrder=descending",
    ] {
        assert_eq!(
            walk(&s, "/Groups", query, 2).await,
            by_index(&s, "/Groups", query, 2).await,
            "groups {query}"
        );
    }
}

#[tokio::test]
async fn cursors_are_bound_to_their_query_workspace_and_count() {
    let s = Scim::start().await;
    for i in 0..4 {
        s.ok(
            "POST",
            "/Users",
            Some(json!({ "userName": format!("u{i}@x.org") })),
        )
        .await;
    }
    let spc = s.ok("GET", "/ServiceProviderConfig", None).await.body;
    assert_eq!(spc["pagination"]["cursor"], true, "{spc}");
    assert_eq!(spc["pagination"]["index"], true);
    assert_eq!(spc["pagination"]["defaultPaginationMethod"], "index");
    assert_eq!(spc["pagination"]["cursorTimeout"], 3600);

    let first = s.ok("GET", "/Users?count=2&cursor=", None).await.body;
    let next = first["nextCursor"].as_str().unwrap().to_string();
    for (path, scim_type) in [
        ("/Users?count=2&cursor=garbage".to_string(), "invalidCursor"),
        (
            format!("/Users?count=2&cursor={next}&filter=userName%20pr"),
            "invalidCursor",
        ),
        (
            format!("/Users?count=2&cursor={next}&sortBy=userName"),
            "invalidCursor",
        ),
        (format!("/Users?count=3&cursor={next}"), "invalidCount"),
        (format!("/Groups?count=2&cursor={next}"), "invalidCursor"),
        (
            format!("/Users?count=2&cursor={next}&startIndex=2"),
            "invalidValue",
        ),
    ] {
        let r = s.call("GET", &path, None).await;
        assert_scim_error(&r, 400, Some(scim_type));
    }
    // Another workspace can't use it.
    let other_admin = s.app.admin_token("globex", "owner@globex.test").await;
    let (other_base, other_key) = enable_scim(&s.app, &other_admin).await;
    let r = s
        .app
        .client
        .get(format!("{other_base}/Users?count=2&cursor={next}"))
        .header("Authorization", format!("Bearer {other_key}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["scimType"], "invalidCursor", "{body}");

    // The row a cursor stands on was deleted: the client starts again.
    let last_of_first = ids(&first)[1].clone();
    s.ok("DELETE", &format!("/Users/{last_of_first}"), None)
        .await;
    let r = s
        .call("GET", &format!("/Users?count=2&cursor={next}"), None)
        .await;
    assert_scim_error(&r, 400, Some("expiredCursor"));
    // The root search pages by index only.
    let r = s
        .call("POST", "/.search", Some(json!({ "cursor": "" })))
        .await;
    assert_scim_error(&r, 400, Some("invalidValue"));
}
