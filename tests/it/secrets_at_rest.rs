//! Secrets are stored only as hashes: neither an API key nor an admin token appears anywhere in
//! the database, file bytes included.

use sea_orm::{ConnectionTrait, Statement};
use serde_json::json;

use crate::common::{TestApp, TestDb};

#[tokio::test]
async fn no_secret_appears_in_the_database() {
    let app = TestApp::spawn().await;
    let token = app.admin_token("acme", "owner@acme.test").await;
    let mut secrets = vec![token.clone()];
    let mut prefixes = Vec::new();
    for name in ["Okta", "Entra"] {
        let body = app
            .gql(
                Some(&token),
                "mutation($n: String!) { generateApiKey(name: $n) { secret apiKey { prefix } } }",
                json!({ "n": name }),
            )
            .await;
        secrets.push(
            body["data"]["generateApiKey"]["secret"]
                .as_str()
                .unwrap()
                .to_string(),
        );
        prefixes.push(
            body["data"]["generateApiKey"]["apiKey"]["prefix"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    let haystack: Vec<u8> = match &app.database {
        TestDb::Sqlite { file, .. } => {
            let mut bytes = Vec::new();
            for suffix in ["", "-wal", "-shm", "-journal"] {
                let path = format!("{}{suffix}", file.display());
                if let Ok(b) = std::fs::read(&path) {
                    bytes.extend(b);
                }
            }
            bytes
        }
        TestDb::Postgres { .. } => {
            // Every table of the database, as the catalog lists them, as SQLite's whole file.
            let tables: Vec<String> = app
                .db
                .query_all_raw(Statement::from_string(
                    app.db.get_database_backend(),
                    "SELECT table_name::text FROM information_schema.tables \
                     WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
                ))
                .await
                .unwrap()
                .iter()
                .map(|row| row.try_get_by_index::<String>(0).unwrap())
                .collect();
            for table in [
                "api_keys",
                "admin_tokens",
                "activity",
                "members",
                "accounts",
            ] {
                assert!(
                    tables.iter().any(|t| t == table),
                    "{table} not in {tables:?}"
                );
            }
            let mut text = String::new();
            for table in &tables {
                let rows = app
                    .db
                    .query_all_raw(Statement::from_string(
                        app.db.get_database_backend(),
                        format!("SELECT row_to_json(t)::text AS j FROM \"{table}\" t"),
                    ))
                    .await
                    .unwrap();
                for row in rows {
                    text.push_str(&row.try_get::<String>("", "j").unwrap());
                }
            }
            text.into_bytes()
        }
    };
    let contains = |needle: &str| {
        haystack
            .windows(needle.len())
            .any(|w| w == needle.as_bytes())
    };
    // The scan does see what is stored: the visible prefixes are there.
    for prefix in &prefixes {
        assert!(contains(prefix), "prefix {prefix} should be stored");
    }
    for secret in &secrets {
        assert!(!contains(secret), "a secret is stored in the clear");
        // Not even the part after the visible prefix.
        assert!(
            !contains(&secret[12..]),
            "a secret's body is stored in the clear"
        );
    }
}
