//! Which database the suite ran on: the one `TEST_DATABASE_URL` names (PostgreSQL), or a SQLite
//! file when it is unset. `scripts/test.sh` also says which pass it is running
//! (`SCIMGW_EXPECT_BACKEND`), so a PostgreSQL pass that quietly ran on SQLite fails here.

use sea_orm::{ConnectionTrait, DatabaseBackend, Statement};
use serde_json::json;

use crate::common::{TestApp, TestDb, postgres_admin_url};

async fn text(app: &TestApp, sql: &str) -> String {
    app.db
        .query_one_raw(Statement::from_string(app.db.get_database_backend(), sql))
        .await
        .unwrap()
        .expect("a row")
        .try_get_by_index::<String>(0)
        .unwrap()
}

#[tokio::test]
async fn the_suite_runs_on_the_database_it_was_given() {
    let app = TestApp::spawn().await;
    let backend = match (&app.database, postgres_admin_url()) {
        (TestDb::Postgres { name }, Some(_)) => {
            assert_eq!(app.db.get_database_backend(), DatabaseBackend::Postgres);
            let version = text(&app, "SELECT version()").await;
            assert!(version.starts_with("PostgreSQL "), "{version}");
            assert_eq!(&text(&app, "SELECT current_database()::text").await, name);
            "postgres"
        }
        (TestDb::Sqlite { file, .. }, None) => {
            assert_eq!(app.db.get_database_backend(), DatabaseBackend::Sqlite);
            let header = std::fs::read(file).unwrap();
            assert!(header.starts_with(b"SQLite format 3\0"), "{file:?}");
            "sqlite"
        }
        (TestDb::Postgres { .. }, None) => {
            panic!("a PostgreSQL database without TEST_DATABASE_URL")
        }
        (TestDb::Sqlite { .. }, Some(url)) => panic!("SQLite although TEST_DATABASE_URL={url}"),
    };
    if let Ok(expected) = std::env::var("SCIMGW_EXPECT_BACKEND") {
        assert_eq!(
            backend, expected,
            "this pass was meant to run on {expected}"
        );
    }

    // The served gateway writes to this very database: a key made through the API is in it.
    let token = app.admin_token("acme", "owner@acme.test").await;
    let made = app
        .gql(
            Some(&token),
            "mutation { generateApiKey(name: \"backend probe\") { apiKey { id } } }",
            json!({}),
        )
        .await;
    let id = made["data"]["generateApiKey"]["apiKey"]["id"]
        .as_str()
        .unwrap();
    let stored = text(
        &app,
        &format!("SELECT name FROM api_keys WHERE id = '{id}'"),
    )
    .await;
    assert_eq!(stored, "backend probe");
}
