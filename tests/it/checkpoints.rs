//! SQLite's WAL is checkpointed beside the writer, not in the commit that crosses SQLite's
//! threshold: after a burst of writes far below the connections' own (backstop) threshold, the
//! pages reach the database file within moments, and everything reads back after a restart.
//! SQLite only, on a file of its own, whichever database the rest of the suite runs on.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::process::{ScimGateway, Server, scim_get, scim_post, start_with_scim_using};

/// Frames the checkpoint thread says it copied, from its debug lines in the (JSON) log.
fn copied_by_the_thread(log: &std::path::Path) -> u64 {
    std::fs::read_to_string(log)
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|l| l["fields"]["message"] == "SQLite checkpoint beside the writer")
        .map(|l| {
            l["fields"]["copied"]
                .as_u64()
                .expect("a count of copied frames")
        })
        .sum()
}

#[tokio::test]
async fn the_wal_is_checkpointed_beside_the_writer() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("gateway.db");
    let url = format!("sqlite://{}?mode=rwc", file.display());
    let log = dir.path().join("gateway.log");
    let server = Server::start_with(
        &url,
        &[
            (
                "SCIM_GATEWAY_LOG",
                "warn,scim_gateway::db::sqlite_checkpoints=debug",
            ),
            ("SCIM_GATEWAY_LOG_FORMAT", "json"),
        ],
        std::fs::File::create(&log).unwrap().into(),
    );
    let ScimGateway {
        server,
        http,
        scim_base,
        key,
        ..
    } = start_with_scim_using(server).await;

    // Whatever start-up wrote is copied first, so the file's size is settled before the burst.
    let settled = |wait: Duration| async move {
        let mut size = std::fs::metadata(&file).unwrap().len();
        let until = Instant::now() + wait;
        while Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(300)).await;
            let now = std::fs::metadata(&file).unwrap().len();
            if now == size {
                break;
            }
            size = now;
        }
        size
    };
    let before = settled(Duration::from_secs(5)).await;
    let copied_before = copied_by_the_thread(&log);

    // ~100 commits of a dozen pages each: a few thousand WAL frames, under the 10,000 at which
    // a committing connection would checkpoint by itself.
    for i in 0..100 {
        let user = json!({
            "userName": format!("c{i}@acme.test"),
            "name": { "givenName": "C", "familyName": format!("{i}") },
            "emails": [{ "value": format!("c{i}@acme.test"), "primary": true }],
        });
        let (status, _) = scim_post(&http, &format!("{scim_base}/Users"), &key, &user).await;
        assert_eq!(status, 201);
    }
    let until = Instant::now() + Duration::from_secs(10);
    let mut size = before;
    while size <= before && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(100)).await;
        size = std::fs::metadata(dir.path().join("gateway.db"))
            .unwrap()
            .len();
    }
    assert!(
        size > before,
        "the database file stayed at {before} bytes: no checkpoint copied the new pages"
    );
    // And the checkpoint thread is the one that copied them, not a committing connection.
    let until = Instant::now() + Duration::from_secs(5);
    while copied_by_the_thread(&log) == copied_before && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let copied = copied_by_the_thread(&log) - copied_before;
    assert!(
        copied >= 100,
        "the checkpoint thread copied {copied} frames of the burst"
    );

    // Killed without a shutdown, restarted on the same file: every user is there.
    drop(server);
    let server = Server::start(&url);
    let lines = server.read_until("listening on");
    let base = Server::base_url(&lines);
    let scim_base = format!(
        "{base}{}",
        scim_base
            .split_once("/api/")
            .map(|(_, p)| format!("/api/{p}"))
            .unwrap()
    );
    let page = scim_get(&http, &format!("{scim_base}/Users?count=0"), &key).await;
    assert_eq!(page["totalResults"], 101, "{page}");
}
