//! A request past its timeout stops its work, not only its answer: on SQLite a scan whose
//! request has gone is interrupted by its progress handler, so the server's CPU falls idle
//! within a second of the 503. SQLite only, on a file of its own, whichever database the rest of
//! the suite runs on.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::process::{ScimGateway, Server, start_with_scim_using};

/// CPU seconds (user + system) the process has used, from `/proc/<pid>/stat`.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // The fields after the command name, which is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    ticks as f64 / 100.0
}

#[tokio::test]
async fn a_timed_out_filter_stops_burning_cpu_within_a_second_of_its_503() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("gw.db").display());
    let server = Server::start_with(
        &url,
        &[
            ("SCIM_GATEWAY_REQUEST_TIMEOUT_SECS", "2"),
            ("SCIM_GATEWAY_SCIM_RATE_LIMIT", "0"),
        ],
        std::process::Stdio::null(),
    );
    let ScimGateway {
        server,
        http,
        scim_base,
        key,
        ..
    } = start_with_scim_using(server).await;
    for batch in 0..40 {
        let operations: Vec<_> = (0..50)
            .map(|i| {
                let n = batch * 50 + i;
                json!({ "method": "POST", "path": "/Users", "bulkId": format!("u{n}"), "data": {
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "userName": format!("user{n}@example.com"),
                    "displayName": "a".repeat(1000),
                    "emails": [{ "value": format!("user{n}@example.com"), "primary": true },
                               { "value": format!("u{n}@home.example"), "type": "home" }],
                }})
            })
            .collect();
        let response = http
            .post(format!("{scim_base}/Bulk"))
            .bearer_auth(&key)
            .json(&json!({ "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": operations }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    // ~4 KB of `displayName co` terms that almost match: each compares a 200-character pattern
    // at every place of every member's 1,000-character name (a filter within every limit, and
    // seconds of work).
    let near_miss = format!("{}b", "a".repeat(199));
    let mut filter = String::new();
    while filter.len() + near_miss.len() + 30 < 4000 {
        if !filter.is_empty() {
            filter.push_str(" or ");
        }
        filter.push_str(&format!("displayName co \"{near_miss}\""));
    }
    let encoded: String = url::form_urlencoded::byte_serialize(filter.as_bytes()).collect();
    let started = Instant::now();
    let response = http
        .get(format!("{scim_base}/Users?filter={encoded}"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503, "{}", response.text().await.unwrap());
    assert!(started.elapsed() < Duration::from_secs(6));
    // A second after the answer the scan is over: the server spends (almost) nothing.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after_a_second = cpu_seconds(server.pid());
    tokio::time::sleep(Duration::from_secs(2)).await;
    let spent = cpu_seconds(server.pid()) - after_a_second;
    assert!(
        spent < 0.3,
        "the server spent {spent:.2} s of CPU in the 2 s after its 503 settled"
    );
    // And it still answers.
    let response = http
        .get(format!("{scim_base}/Users?count=1"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    drop(server);
}
