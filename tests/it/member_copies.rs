//! A member keeps its own names and e-mails (read without joins): what its workspace's IdP
//! wrote, never another workspace's; and the migration that added them filled them from the
//! rows that were there.

use migration::{Migrator, MigratorTrait};
use scim_gateway::{db, domain};
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

use crate::common::{Scim, enable_scim, fresh_database};
use crate::isolation::call;

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

#[tokio::test]
async fn each_workspace_reads_back_only_the_names_and_emails_its_idp_wrote() {
    let a = Scim::start().await;
    let admin_b = a.app.admin_token("globex", "owner@globex.test").await;
    let (base_b, key_b) = enable_scim(&a.app, &admin_b).await;
    // A request with workspace A's key, or with B's.
    let as_a = async |method: &str, path: &str, body: Option<Value>| {
        call(&a.app, &a.base, &a.key, method, path, body).await
    };
    let as_b = async |method: &str, path: &str, body: Option<Value>| {
        call(&a.app, &base_b, &key_b, method, path, body).await
    };

    let (status, in_a) = as_a("POST",
        "/Users",
        Some(json!({ "schemas": [USER], "userName": "pat@x.org", "name": { "givenName": "Pat", "familyName": "Lee" },
            "emails": [{ "value": "pat@x.org", "type": "work", "primary": true }, { "value": "pat@home.example", "type": "home" }] })),
    )
    .await;
    assert_eq!(status, 201);
    let id_a = in_a["id"].as_str().unwrap().to_string();
    // B links the same account without naming it: it reads back no names (never what A's IdP
    // stored), and no e-mails of A's.
    let (status, in_b) = as_b(
        "POST",
        "/Users",
        Some(json!({ "schemas": [USER], "userName": "pat@x.org" })),
    )
    .await;
    assert_eq!(status, 201);
    assert!(in_b.get("name").is_none(), "{in_b}");
    let id_b = in_b["id"].as_str().unwrap().to_string();
    let (_, read_b) = as_b("GET", &format!("/Users/{id_b}"), None).await;
    assert!(read_b.get("name").is_none(), "{read_b}");
    assert!(
        read_b.get("emails").is_none(),
        "B's member has no e-mails of its own"
    );

    // A renames the person: A's copy follows, B's stays what B wrote (nothing).
    let (status, _) = as_a("PATCH",
        &format!("/Users/{id_a}"),
        Some(json!({ "schemas": [PATCH], "Operations": [{ "op": "replace", "path": "name.givenName", "value": "Patricia" }] })),
    )
    .await;
    assert_eq!(status, 200);
    let (_, read_a) = as_a("GET", &format!("/Users/{id_a}"), None).await;
    assert_eq!(
        read_a["name"],
        json!({ "givenName": "Patricia", "familyName": "Lee" })
    );
    let (_, found) = as_a(
        "GET",
        "/Users?filter=name.givenName%20eq%20%22patricia%22",
        None,
    )
    .await;
    assert_eq!(found["totalResults"], 1, "{found}");
    let (_, read_b) = as_b("GET", &format!("/Users/{id_b}"), None).await;
    assert!(read_b.get("name").is_none(), "{read_b}");
    let (_, found) = as_b(
        "GET",
        "/Users?filter=name.givenName%20eq%20%22patricia%22",
        None,
    )
    .await;
    assert_eq!(found["totalResults"], 0, "{found}");

    // B names the person its own way: only B's copy changes.
    let (status, _) = as_b("PATCH",
        &format!("/Users/{id_b}"),
        Some(json!({ "schemas": [PATCH], "Operations": [{ "op": "replace", "path": "name.givenName", "value": "P." }] })),
    )
    .await;
    assert_eq!(status, 200);
    let (_, read_a) = as_a("GET", &format!("/Users/{id_a}"), None).await;
    assert_eq!(read_a["name"]["givenName"], "Patricia");

    // A PUT without a name clears A's names, not B's.
    let (status, _) = as_a("PUT",
        &format!("/Users/{id_a}"),
        Some(json!({ "schemas": [USER], "userName": "pat@x.org", "emails": [{ "value": "p2@x.org", "primary": true }] })),
    )
    .await;
    assert_eq!(status, 200);
    let (_, read_a) = as_a("GET", &format!("/Users/{id_a}"), None).await;
    assert!(read_a.get("name").is_none(), "{read_a}");
    let (_, read_b) = as_b("GET", &format!("/Users/{id_b}"), None).await;
    assert_eq!(read_b["name"], json!({ "givenName": "P." }));
    // A's e-mails are the PUT's, in its order; B's are untouched.
    let (_, read_a) = as_a("GET", &format!("/Users/{id_a}"), None).await;
    assert_eq!(
        read_a["emails"],
        json!([{ "value": "p2@x.org", "primary": true }])
    );
    assert!(read_b.get("emails").is_none());
    let (_, found) = as_a(
        "GET",
        "/Users?filter=emails.value%20eq%20%22p2@x.org%22",
        None,
    )
    .await;
    assert_eq!(found["totalResults"], 1, "{found}");
}

#[tokio::test]
async fn the_migration_fills_the_copies_from_existing_rows() {
    let (url, _database) = fresh_database().await;
    let conn = db::connect(&url, 1).await.unwrap();
    // The schema before the copies, with a member as it was stored then.
    Migrator::up(&conn, Some(1)).await.unwrap();
    let at = "'2026-11-28T10:00:00+00:00'";
    for sql in [
        format!(
            "INSERT INTO workspaces (id, slug, name, created_at) VALUES ('w1', 'acme', 'Acme', {at})"
        ),
        format!(
            "INSERT INTO accounts (id, email, email_key, given_name, family_name, created_at, updated_at) \
                 VALUES ('a1', 'kim@x.org', 'kim@x.org', 'Kim', 'Park', {at}, {at})"
        ),
        format!(
            "INSERT INTO members (id, workspace_id, account_id, user_name, user_name_key, active, effective_role, \
                 is_owner, attributes, version, created_at, updated_at) \
                 VALUES ('m1', 'w1', 'a1', 'kim@x.org', 'kim@x.org', true, 'labeler', false, '{{}}', 3, {at}, {at})"
        ),
        format!(
            "INSERT INTO accounts (id, email, email_key, created_at, updated_at) \
                 VALUES ('a2', 'lone@x.org', 'lone@x.org', {at}, {at})"
        ),
        format!(
            "INSERT INTO members (id, workspace_id, account_id, user_name, user_name_key, active, effective_role, \
                 is_owner, attributes, version, created_at, updated_at) \
                 VALUES ('m2', 'w1', 'a2', 'lone@x.org', 'lone@x.org', true, 'labeler', false, '{{}}', 1, {at}, {at})"
        ),
        "INSERT INTO member_emails (member_id, workspace_id, value, value_key, kind, is_primary) \
         VALUES ('m1', 'w1', 'kim@x.org', 'kim@x.org', 'work', true)"
            .to_string(),
        "INSERT INTO member_emails (member_id, workspace_id, value, value_key, kind, is_primary) \
         VALUES ('m1', 'w1', 'Kim@Home.example', 'kim@home.example', NULL, false)"
            .to_string(),
    ] {
        conn.execute_unprepared(&sql).await.unwrap();
    }
    Migrator::up(&conn, None).await.unwrap();

    let kim = domain::users::get(&conn, "w1", "m1").await.unwrap();
    assert_eq!(
        (kim.given_name.as_deref(), kim.family_name.as_deref()),
        (Some("Kim"), Some("Park"))
    );
    let emails: Vec<(&str, Option<&str>, bool)> = kim
        .emails
        .iter()
        .map(|e| (e.value.as_str(), e.kind.as_deref(), e.primary))
        .collect();
    assert_eq!(
        emails,
        [
            ("kim@x.org", Some("work"), true),
            ("Kim@Home.example", None, false)
        ]
    );
    assert_eq!(kim.version, 3);
    let lone = domain::users::get(&conn, "w1", "m2").await.unwrap();
    assert_eq!((lone.given_name, lone.family_name), (None, None));
    assert!(lone.emails.is_empty());
}

#[tokio::test]
async fn members_added_outside_scim_get_their_account_email_on_migration() {
    let (url, _database) = fresh_database().await;
    let conn = db::connect(&url, 1).await.unwrap();
    Migrator::up(&conn, Some(3)).await.unwrap();
    let at = "'2026-12-01T10:00:00+00:00'";
    conn.execute_unprepared(&format!(
        "INSERT INTO workspaces (id, slug, name, created_at) VALUES ('w1', 'acme', 'Acme', {at})"
    ))
    .await
    .unwrap();
    // (member, account e-mail, is_owner, direct role, external id)
    let people = [
        ("owner", "Owner@Acme.test", true, "NULL", "NULL"),
        ("token_admin", "it@acme.test", false, "'admin'", "NULL"),
        ("scim_plain", "plain@acme.test", false, "NULL", "NULL"),
        ("scim_admin", "boss@acme.test", false, "'admin'", "'ext-1'"),
    ];
    for (id, email, owner, role, external) in people {
        conn.execute_unprepared(&format!(
            "INSERT INTO accounts (id, email, email_key, created_at, updated_at) \
             VALUES ('a_{id}', '{email}', '{}', {at}, {at})",
            email.to_lowercase()
        ))
        .await
        .unwrap();
        conn.execute_unprepared(&format!(
            "INSERT INTO members (id, workspace_id, account_id, user_name, user_name_key, external_id, active, \
             direct_role, effective_role, is_owner, attributes, emails, version, created_at, updated_at) \
             VALUES ('{id}', 'w1', 'a_{id}', '{email}', '{}', {external}, true, {role}, 'admin', {owner}, '{{}}', '[]', 1, {at}, {at})",
            email.to_lowercase()
        ))
        .await
        .unwrap();
    }
    Migrator::up(&conn, None).await.unwrap();

    let emails_of = |id: &'static str| {
        let conn = conn.clone();
        async move {
            domain::users::get(&conn, "w1", id)
                .await
                .unwrap()
                .emails
                .iter()
                .map(|e| (e.value.clone(), e.kind.clone(), e.primary))
                .collect::<Vec<_>>()
        }
    };
    let work = |v: &str| vec![(v.to_string(), Some("work".to_string()), true)];
    assert_eq!(emails_of("owner").await, work("Owner@Acme.test"));
    assert_eq!(emails_of("token_admin").await, work("it@acme.test"));
    assert_eq!(
        emails_of("scim_plain").await,
        vec![],
        "SCIM members keep what their IdP sent"
    );
    assert_eq!(emails_of("scim_admin").await, vec![]);
    // The rows that filters use came too.
    let found = domain::users::get(&conn, "w1", "owner").await.unwrap();
    assert_eq!(found.emails.len(), 1);
    let rows = conn
        .query_all_raw(sea_orm::Statement::from_string(
            conn.get_database_backend(),
            "SELECT member_id FROM member_emails WHERE value_key = 'owner@acme.test'",
        ))
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
}
