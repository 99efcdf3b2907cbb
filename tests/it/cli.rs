//! The binary: subcommands, first start, graceful shutdown.

use std::process::Command;

use serde_json::{Value, json};

use crate::common::fresh_database;
use crate::process::Server;

use crate::process::BIN;

fn run(args: &[&str], database_url: &str) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .env("DATABASE_URL", database_url)
        .env("SCIM_GATEWAY_LOG", "warn")
        .output()
        .expect("run scim-gateway")
}

#[test]
fn print_schema_is_the_committed_schema() {
    let out = Command::new(BIN).arg("print-schema").output().unwrap();
    assert!(out.status.success());
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql")).unwrap();
    assert!(
        String::from_utf8(out.stdout).unwrap() == committed,
        "`scim-gateway print-schema` differs from schema.graphql"
    );
}

#[test]
fn help_lists_the_subcommands() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    for word in [
        "serve",
        "migrate",
        "print-schema",
        "admin-token",
        "DATABASE_URL",
        "SCIM_GATEWAY_BIND",
        "SCIM_GATEWAY_PUBLIC_URL",
    ] {
        assert!(help.contains(word), "--help lacks {word}:\n{help}");
    }
}

#[tokio::test]
async fn migrate_and_admin_token_print_only_what_they_should() {
    let (url, _db) = fresh_database().await;
    let out = run(&["migrate"], &url);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty());

    let out = run(
        &[
            "admin-token",
            "--workspace",
            "acme",
            "--email",
            "Owner@Acme.test",
        ],
        &url,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "only the token on stdout: {stdout:?}");
    assert!(lines[0].starts_with("sgat_") && lines[0].len() > 40);
    assert!(String::from_utf8_lossy(&out.stderr).contains("created workspace acme"));

    // Same workspace, another person: added as an admin of the existing workspace.
    let out = run(
        &[
            "admin-token",
            "--workspace",
            "acme",
            "--email",
            "second@acme.test",
            "--given-name",
            "Sam",
            "--family-name",
            "Second",
        ],
        &url,
    );
    assert!(out.status.success());
    assert!(!String::from_utf8_lossy(&out.stderr).contains("created workspace"));
    // The person is named, and has their account e-mail like any SCIM user.
    use scim_gateway::entities::member;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let conn = scim_gateway::db::connect(&url, 1).await.unwrap();
    let row = member::Entity::find()
        .filter(member::Column::UserNameKey.eq("second@acme.test"))
        .one(&conn)
        .await
        .unwrap()
        .expect("the admin is a member");
    let page = scim_gateway::domain::users::get(&conn, &row.workspace_id, &row.id)
        .await
        .unwrap();
    assert_eq!(
        (page.given_name.as_deref(), page.family_name.as_deref()),
        (Some("Sam"), Some("Second"))
    );
    assert_eq!(page.emails.len(), 1);
    assert_eq!(
        (
            page.emails[0].value.as_str(),
            page.emails[0].kind.as_deref(),
            page.emails[0].primary
        ),
        ("second@acme.test", Some("work"), true)
    );

    for (args, words) in [
        (
            vec![
                "admin-token",
                "--workspace",
                "acme",
                "--email",
                "not-an-email",
            ],
            "e-mail",
        ),
        (
            vec![
                "admin-token",
                "--workspace",
                "Bad Slug!",
                "--email",
                "a@b.test",
            ],
            "slug",
        ),
    ] {
        let out = run(&args, &url);
        assert!(!out.status.success(), "{args:?}");
        assert!(out.stdout.is_empty());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(words), "{args:?}: {stderr}");
    }
}

#[tokio::test]
async fn the_operator_vouches_for_a_domain_of_a_workspace() {
    let (url, _db) = fresh_database().await;
    assert!(
        run(
            &[
                "admin-token",
                "--workspace",
                "acme",
                "--email",
                "owner@acme.test"
            ],
            &url
        )
        .status
        .success()
    );
    assert!(
        run(
            &[
                "admin-token",
                "--workspace",
                "globex",
                "--email",
                "owner@globex.test"
            ],
            &url
        )
        .status
        .success()
    );
    let out = run(
        &["domains", "verify", "--workspace", "acme", "Acme.TEST"],
        &url,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("acme.test is verified for workspace acme"),
        "{stderr}"
    );
    // Held by acme: refused for globex, with the reason; a consumer domain for anyone.
    for (workspace, domain, words) in [
        ("globex", "acme.test", "verified by another workspace"),
        ("globex", "gmail.com", "consumer mail domain"),
        ("nowhere", "nowhere.test", "not found"),
    ] {
        let out = run(
            &["domains", "verify", "--workspace", workspace, domain],
            &url,
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{workspace} {domain}");
        assert!(stderr.contains(words), "{workspace} {domain}: {stderr}");
    }
    let db = scim_gateway::db::connect(&url, 1).await.unwrap();
    use scim_gateway::entities::workspace_domain;
    use sea_orm::EntityTrait;
    let rows = workspace_domain::Entity::find().all(&db).await.unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(
        (rows[0].status.as_str(), rows[0].verified_by.as_deref()),
        ("VERIFIED", Some("OPERATOR"))
    );
    assert_eq!(rows[0].next_check_at, None, "never looked up");
}

#[tokio::test]
async fn first_start_prints_a_sign_in_link_that_works_and_sigterm_stops_cleanly() {
    let (url, _db) = fresh_database().await;
    let server = Server::start(&url);
    let lines = server.read_until("listening on");
    let sign_in = lines
        .iter()
        .find(|l| l.contains("#token="))
        .expect("a sign-in link on first start");
    let token = Server::sign_in_token(&lines).unwrap();
    let base = Server::base_url(&lines);
    // The link is the address the server listens on (no public URL is set) with the token.
    assert_eq!(sign_in.trim(), format!("Sign in: {base}/#token={token}"));
    assert!(token.starts_with("sgat_") && token.len() > 20, "{token}");

    let client = reqwest::Client::new();
    let body: Value = client
        .post(format!("{base}/graphql"))
        .bearer_auth(&token)
        .json(&json!({ "query": "{ workspace { id slug name scim { enabled baseUrl } domains { domain status verifiedBy } } }" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["data"]["workspace"]["slug"], "demo", "{body}");
    assert_eq!(body["data"]["workspace"]["name"], "Demo workspace");
    // The demo owner's domain is vouched for, so SAML can be tried at once.
    assert_eq!(
        body["data"]["workspace"]["domains"],
        json!([{ "domain": "example.com", "status": "VERIFIED", "verifiedBy": "OPERATOR" }])
    );
    let id = body["data"]["workspace"]["id"].as_str().unwrap();
    assert_eq!(
        body["data"]["workspace"]["scim"]["baseUrl"],
        format!("{base}/api/teams/{id}/scim/v2"),
        "without SCIM_GATEWAY_PUBLIC_URL the base URL is the bound address"
    );
    let page = client.get(format!("{base}/")).send().await.unwrap();
    assert_eq!(
        page.status(),
        503,
        "no web build: a page that says how to build it"
    );
    assert!(page.text().await.unwrap().contains("make run"));
    assert!(server.terminate().success(), "SIGTERM is a clean exit");

    // A second start on the same database creates nothing and prints no token.
    let server = Server::start(&url);
    let lines = server.read_until("listening on");
    assert!(!lines.iter().any(|l| l.contains("#token=")), "{lines:?}");
    assert!(server.terminate().success());
}
