//! Limits: a SCIM key over its rate is told to wait (429, Retry-After, RFC 7644 body) without
//! slowing other keys; a request that runs past the timeout (here: a client that stalls mid-body)
//! is stopped and answered 503 in its protocol's format.

use std::time::Duration;

use scim_gateway::entities::activity;
use scim_gateway::limits::Limits;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::{Scim, assert_scim_error, enable_scim};

#[tokio::test]
async fn a_key_over_its_rate_waits_and_other_keys_do_not() {
    let scim = Scim::start_with(|s| {
        s.with_limits(Limits {
            scim_rate_per_second: 1.0,
            scim_burst: 3,
            ..Limits::default()
        })
    })
    .await;
    for _ in 0..3 {
        let r = scim.call("GET", "/Users?count=1", None).await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let limited = scim.call("GET", "/Users?count=1", None).await;
    assert_scim_error(&limited, 429, None);
    assert_eq!(limited.headers["retry-after"], "1");
    // A write is refused the same way and changes nothing.
    let refused = scim
        .call(
            "POST",
            "/Users",
            Some(serde_json::json!({ "userName": "late@acme.test" })),
        )
        .await;
    assert_scim_error(&refused, 429, None);

    // Another workspace's key has its own bucket.
    let other_admin = scim.app.admin_token("globex", "owner@globex.test").await;
    let (other_base, other_key) = enable_scim(&scim.app, &other_admin).await;
    let r = scim
        .app
        .client
        .get(format!("{other_base}/Users?count=1"))
        .bearer_auth(&other_key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // Throttled requests leave no activity entries (a flood must not turn into writes).
    let throttled_entries = activity::Entity::find()
        .filter(activity::Column::Status.eq(429))
        .count(&scim.app.db)
        .await
        .unwrap();
    assert_eq!(throttled_entries, 0);

    // After the advertised wait, the key is served again, and the refused create never landed.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let r = scim
        .call(
            "GET",
            "/Users?filter=userName%20eq%20%22late@acme.test%22",
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["totalResults"], 0);
}

/// Sends a request's head and half its body, then stalls; returns the status line and body the
/// server answers with, and how long it took.
async fn stalled_post(url: &str, path: &str, auth: &str) -> (String, Value, Duration) {
    let addr = url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let body = r#"{"userName":"slow@acme.test"}"#;
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {auth}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let started = std::time::Instant::now();
    stream.write_all(head.as_bytes()).await.unwrap();
    stream
        .write_all(&body.as_bytes()[..body.len() / 2])
        .await
        .unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), async {
        let mut buf = [0u8; 4096];
        loop {
            let n = stream.read(&mut buf).await.unwrap_or(0);
            if n == 0 {
                break;
            }
            answer.extend_from_slice(&buf[..n]);
            if let Some(end) = find(&answer, b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&answer[..end]).to_lowercase();
                let length = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .unwrap_or(0);
                if answer.len() >= end + 4 + length {
                    break;
                }
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the server never answered a stalled request");
    let elapsed = started.elapsed();
    let text = String::from_utf8_lossy(&answer).to_string();
    let (head, body) = text.split_once("\r\n\r\n").expect("an HTTP answer");
    let status_line = head.lines().next().unwrap_or("").to_string();
    (
        status_line,
        serde_json::from_str(body).unwrap_or(Value::Null),
        elapsed,
    )
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[tokio::test]
async fn a_request_past_the_timeout_is_stopped_with_a_protocol_error() {
    let scim = Scim::start_with(|s| {
        s.with_limits(Limits {
            request_timeout: Duration::from_millis(300),
            ..Limits::default()
        })
    })
    .await;
    let scim_path = format!(
        "{}/Users",
        scim.base.trim_start_matches(scim.app.url.as_str())
    );
    let (status, body, elapsed) = stalled_post(&scim.app.url, &scim_path, &scim.key).await;
    assert!(status.contains(" 503 "), "{status}");
    assert_eq!(
        body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error",
        "{body}"
    );
    assert_eq!(body["status"], "503");
    assert!(elapsed >= Duration::from_millis(300), "{elapsed:?}");

    let (status, body, _) = stalled_post(&scim.app.url, "/graphql", &scim.admin).await;
    assert!(status.contains(" 503 "), "{status}");
    assert_eq!(body["errors"][0]["extensions"]["code"], "TIMEOUT", "{body}");

    // The server goes on serving, and nothing of the stalled create was applied.
    let r = scim
        .call(
            "GET",
            "/Users?filter=userName%20eq%20%22slow@acme.test%22",
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["totalResults"], 0);
}

#[tokio::test]
async fn advertised_limits_hold_over_http() {
    let scim = Scim::start().await;
    let config = scim.call("GET", "/ServiceProviderConfig", None).await;
    let max_results = config.body["filter"]["maxResults"].as_u64().unwrap() as usize;
    let max_bulk = config.body["bulk"]["maxOperations"].as_u64().unwrap() as usize;

    // A filter longer than 4 KiB, and one nested deeper than 32 levels: invalidFilter.
    let long = format!("userName eq \"{}\"", "a".repeat(5000));
    let r = scim
        .call("POST", "/Users/.search", Some(json!({ "filter": long })))
        .await;
    assert_scim_error(&r, 400, Some("invalidFilter"));
    let deep = format!("{}userName eq \"x\"{}", "(".repeat(40), ")".repeat(40));
    let r = scim
        .call("POST", "/Users/.search", Some(json!({ "filter": deep })))
        .await;
    assert_scim_error(&r, 400, Some("invalidFilter"));

    // Bulk: one operation too many is refused whole.
    let create = |i: usize| {
        json!({ "method": "POST", "path": "/Users", "bulkId": format!("b{i}"),
                "data": { "userName": format!("u{i}@acme.test") } })
    };
    let bulk = |ops: Vec<Value>| json!({ "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": ops });
    let r = scim
        .call(
            "POST",
            "/Bulk",
            Some(bulk((0..=max_bulk).map(create).collect())),
        )
        .await;
    assert_scim_error(&r, 413, Some("tooMany"));

    // A page never holds more than maxResults, whatever count asks for.
    let r = scim
        .call(
            "POST",
            "/Bulk",
            Some(bulk((0..max_bulk).map(create).collect())),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    scim.create_user("one-more@acme.test", "One", "More").await;
    assert!(max_bulk + 2 > max_results, "seed more users for this check");
    let r = scim
        .call("GET", &format!("/Users?count={}", max_results * 5), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body["totalResults"],
        max_bulk + 2,
        "the owner, the bulk, one more"
    );
    assert_eq!(r.body["itemsPerPage"], max_results);
    assert_eq!(r.body["Resources"].as_array().unwrap().len(), max_results);

    // PATCH: more than 10,000 operations is refused whole.
    let id = scim.create_user("patched@acme.test", "Pat", "Ched").await;
    let before = scim.call("GET", &format!("/Users/{id}"), None).await.body;
    let ops: Vec<Value> = (0..10_001)
        .map(|i| json!({ "op": "replace", "path": "displayName", "value": format!("n{i}") }))
        .collect();
    let r = scim
        .call(
            "PATCH",
            &format!("/Users/{id}"),
            Some(json!({ "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops })),
        )
        .await;
    assert_scim_error(&r, 413, Some("tooMany"));
    let after = scim.call("GET", &format!("/Users/{id}"), None).await.body;
    assert_eq!(after, before);
}
