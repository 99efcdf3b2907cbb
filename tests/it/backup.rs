//! Backup and restore as the README documents them, taken while the service runs: SQLite's
//! `VACUUM INTO`, PostgreSQL's `pg_dump -Fc` and `pg_restore`. A gateway started on the copy
//! serves the same users and groups to the same API key.

use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};

use crate::common::{TestDb, fresh_database};
use crate::process::{ScimGateway, Server, scim_get, scim_post, start_with_scim};

#[tokio::test]
async fn a_backup_taken_while_serving_restores_everything() {
    let (url, db) = fresh_database().await;
    let ScimGateway {
        server,
        http,
        base,
        scim_base,
        key,
    } = start_with_scim(&url).await;
    let scim_path = scim_base.strip_prefix(base.as_str()).unwrap().to_string();
    let mut ids = Vec::new();
    for i in 0..5 {
        let user = json!({ "userName": format!("b{i}@acme.test") });
        let (status, created) = scim_post(&http, &format!("{scim_base}/Users"), &key, &user).await;
        assert_eq!(status, 201, "{created}");
        ids.push(json!({ "value": created["id"] }));
    }
    let group = json!({ "displayName": "Backed up", "members": ids });
    let (status, _) = scim_post(&http, &format!("{scim_base}/Groups"), &key, &group).await;
    assert_eq!(status, 201);
    let users_before = scim_get(&http, &format!("{scim_base}/Users"), &key).await;
    let groups_before = scim_get(&http, &format!("{scim_base}/Groups"), &key).await;

    // The copy, taken while the server runs.
    let dir = tempfile::tempdir().unwrap();
    let (restored_url, _restored_db) = match &db {
        TestDb::Sqlite { .. } => {
            let copy = dir.path().join("backup.db");
            let conn = scim_gateway::db::connect(&url, 1).await.unwrap();
            conn.execute_raw(Statement::from_string(
                conn.get_database_backend(),
                format!("VACUUM INTO '{}'", copy.display()),
            ))
            .await
            .unwrap();
            conn.close().await.unwrap();
            (format!("sqlite://{}?mode=rwc", copy.display()), None)
        }
        TestDb::Postgres { .. } => {
            let dump = dir.path().join("scim.dump");
            let status = std::process::Command::new("pg_dump")
                .args(["-Fc", "-f"])
                .arg(&dump)
                .arg(&url)
                .status()
                .expect("pg_dump");
            assert!(status.success());
            let (target_url, target_db) = fresh_database().await;
            let status = std::process::Command::new("pg_restore")
                .args(["--no-owner", "-d", &target_url])
                .arg(&dump)
                .status()
                .expect("pg_restore");
            assert!(status.success());
            (target_url, Some(target_db))
        }
    };
    assert!(server.terminate().success());

    let restored = Server::start(&restored_url);
    let lines = restored.read_until("listening on");
    assert!(
        Server::sign_in_token(&lines).is_none(),
        "a restored database is not a first start"
    );
    let new_base = Server::base_url(&lines);
    let scim_base = format!("{new_base}{scim_path}");
    // The same resources; only the address in their locations moved.
    let moved = |v: &Value| v.to_string().replace(&base, &new_base);
    let users = scim_get(&http, &format!("{scim_base}/Users"), &key).await;
    assert_eq!(users.to_string(), moved(&users_before));
    assert_eq!(users["totalResults"], 6, "the owner and five users");
    let groups = scim_get(&http, &format!("{scim_base}/Groups"), &key).await;
    assert_eq!(groups.to_string(), moved(&groups_before));
    assert!(restored.terminate().success());
}
