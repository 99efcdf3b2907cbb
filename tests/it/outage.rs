//! A database outage answered as an outage: a throwaway PostgreSQL cluster this test owns (never
//! the machine's server) is stopped for a few seconds and started again while four writers
//! provision users through a gateway process. Requests caught in the outage get 503 with
//! Retry-After (never a 500, never a hang past the request timeout), every acknowledged write is
//! there afterwards, the gateway serves again without a restart, and the activity log records
//! the outage once.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::sync::Mutex;

use crate::process::{Server, start_with_scim_using};

/// The PostgreSQL server binaries (`initdb`, `pg_ctl`), as Debian installs them.
fn pg_bin() -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|bin| bin.join("initdb").is_file())
        .collect();
    found.sort();
    found.pop().expect(
        "PostgreSQL's server binaries (Debian's postgresql package: the test script installs it)",
    )
}

/// A cluster of this test's own, stopped and removed when dropped.
struct Cluster {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
}

fn as_postgres(program: &Path) -> Command {
    // PostgreSQL refuses to run as root: as its own user then.
    let root = std::env::var("USER").is_ok_and(|u| u == "root")
        || Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.starts_with(b"0"));
    if root {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

impl Cluster {
    fn start() -> Cluster {
        let bin = pg_bin();
        let dir =
            std::env::temp_dir().join(format!("scimgw-outage-{}", crate::common::uuid_simple()));
        std::fs::create_dir_all(&dir).unwrap();
        if Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.starts_with(b"0"))
        {
            let status = Command::new("chown")
                .args(["postgres:postgres"])
                .arg(&dir)
                .status()
                .unwrap();
            assert!(status.success());
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let status = as_postgres(&bin.join("initdb"))
            .arg("-D")
            .arg(dir.join("data"))
            .args([
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-locale",
            ])
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "initdb");
        let cluster = Cluster { bin, dir, port };
        cluster.pg_ctl_start();
        cluster
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn pg_ctl_start(&self) {
        let status = as_postgres(&self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-w", "-l"])
            .arg(self.dir.join("log"))
            .arg("-o")
            .arg(format!(
                "-c listen_addresses=127.0.0.1 -p {} -k {} -c fsync=off",
                self.port,
                self.dir.display()
            ))
            .arg("start")
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "pg_ctl start");
    }

    fn pg_ctl_stop(&self) {
        let status = as_postgres(&self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-m", "fast", "-w", "stop"])
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "pg_ctl stop");
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = as_postgres(&self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-m", "immediate", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_is_answered_as_an_outage() {
    let cluster = Cluster::start();
    let server = Server::start_with(
        &cluster.url(),
        &[
            ("SCIM_GATEWAY_REQUEST_TIMEOUT_SECS", "10"),
            ("SCIM_GATEWAY_DB_MAX_CONNECTIONS", "4"),
            // Four writers in a closed loop send more than a key's default rate.
            ("SCIM_GATEWAY_SCIM_RATE_LIMIT", "0"),
        ],
        Stdio::null(),
    );
    let gateway = start_with_scim_using(server).await;
    let target = Arc::new((gateway.scim_base.clone(), gateway.key.clone()));
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let unavailable = Arc::new(Mutex::new(0u32));
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..4 {
        let (target, acknowledged, unavailable, stop) = (
            target.clone(),
            acknowledged.clone(),
            unavailable.clone(),
            stop.clone(),
        );
        writers.push(tokio::spawn(async move {
            let http = reqwest::Client::builder()
                .timeout(Duration::from_secs(20))
                .build()
                .unwrap();
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let user_name = format!("w{w}-{i}@outage.test");
                i += 1;
                let started = Instant::now();
                let response = http
                    .post(format!("{}/Users", target.0))
                    .header("Authorization", format!("Bearer {}", target.1))
                    .header("Content-Type", "application/scim+json")
                    .body(json!({ "userName": user_name }).to_string())
                    .send()
                    .await
                    .expect("every request is answered");
                let took = started.elapsed();
                assert!(
                    took < Duration::from_secs(12),
                    "a request took {took:?}, past the 10 s request timeout"
                );
                match response.status().as_u16() {
                    201 => acknowledged.lock().await.push(user_name),
                    503 => {
                        assert!(
                            response.headers().contains_key("retry-after"),
                            "a 503 without Retry-After"
                        );
                        let body: serde_json::Value = response.json().await.unwrap();
                        assert_eq!(body["status"], "503", "{body}");
                        *unavailable.lock().await += 1;
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                    other => {
                        let body = response.text().await.unwrap_or_default();
                        panic!("{other} during the outage test: {body}");
                    }
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let before = acknowledged.lock().await.len();
    assert!(before > 0, "writes went through before the outage");
    cluster.pg_ctl_stop();
    tokio::time::sleep(Duration::from_secs(6)).await;
    cluster.pg_ctl_start();
    // Serving again without a restart: new writes are acknowledged.
    let recovered_at = acknowledged.lock().await.len();
    let deadline = Instant::now() + Duration::from_secs(20);
    while acknowledged.lock().await.len() < recovered_at + 20 {
        assert!(
            Instant::now() < deadline,
            "the gateway did not serve again after the outage"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for writer in writers {
        writer.await.expect("a writer failed");
    }
    let answered_503 = *unavailable.lock().await;
    assert!(answered_503 > 0, "no request fell into the outage");
    // The outage is over once nothing has failed for a few seconds (the pool's stale
    // connections fail one by one after the restart); the next request records it.
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let after = gateway
        .http
        .post(format!("{}/Users", gateway.scim_base))
        .header("Authorization", format!("Bearer {}", gateway.key))
        .header("Content-Type", "application/scim+json")
        .body(json!({ "userName": "after@outage.test" }).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(after.status().as_u16(), 201);

    // Every acknowledged write is there.
    let acknowledged = acknowledged.lock().await.clone();
    let mut stored = std::collections::HashSet::new();
    loop {
        let page = crate::process::scim_get(
            &gateway.http,
            &format!(
                "{}/Users?filter=userName%20ew%20%22@outage.test%22&count=1000&startIndex={}",
                gateway.scim_base,
                stored.len() + 1
            ),
            &gateway.key,
        )
        .await;
        let names: Vec<String> = page["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["userName"].as_str().unwrap().to_string())
            .collect();
        if names.is_empty() {
            break;
        }
        stored.extend(names);
    }
    for user_name in &acknowledged {
        assert!(
            stored.contains(user_name),
            "{user_name} was acknowledged but is missing"
        );
    }

    // The outage is in the activity log once, with the count of requests it turned away.
    let db = scim_gateway::db::connect(&cluster.url(), 1).await.unwrap();
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let entries = scim_gateway::entities::activity::Entity::find()
        .filter(scim_gateway::entities::activity::Column::Action.eq("database.outage"))
        .all(&db)
        .await
        .unwrap();
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert!(
        entries[0]
            .summary
            .contains(&format!("{answered_503} SCIM request")),
        "{} (the writers saw {answered_503} answers 503)",
        entries[0].summary
    );
}
