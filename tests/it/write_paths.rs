//! The write paths keep a transaction whole, whichever runs it: SQLite's one-trip writer, or
//! PostgreSQL's write lanes, which pipeline `BEGIN`, the statements and `COMMIT` in one flight
//! and make a version-checked first statement fail when it misses. Each case is one an
//! attacker of the data's integrity would try: a lost race that must write nothing, a failing
//! statement after a successful one that must take it back with it.

use scim_gateway::db::{Lanes, PlanReads, Planned, Reads, Writer};
use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement, Value};
use serde_json::json;

use crate::common::Scim;

/// A statement in the backend's placeholder style (`$1`, or `?` on SQLite).
fn statement(backend: DbBackend, sql: &str, values: Vec<Value>) -> Statement {
    let mut sql = sql.to_string();
    if backend == DbBackend::Sqlite {
        for i in (1..=values.len()).rev() {
            sql = sql.replace(&format!("${i}"), "?");
        }
    }
    Statement::from_sql_and_values(backend, sql, values)
}

/// A member's version, display name and external id.
type Row = (i64, Option<String>, Option<String>);

async fn row(db: &impl ConnectionTrait, id: &str) -> Row {
    let found = db
        .query_one_raw(statement(
            db.get_database_backend(),
            "SELECT version, display_name, external_id FROM members WHERE id = $1",
            vec![id.into()],
        ))
        .await
        .unwrap()
        .expect("the member");
    (
        found.try_get_by_index(0).unwrap(),
        found.try_get_by_index(1).unwrap(),
        found.try_get_by_index(2).unwrap(),
    )
}

fn expected(version: i64, display_name: &str, external_id: &str) -> Row {
    (
        version,
        Some(display_name.to_string()),
        Some(external_id.to_string()),
    )
}

#[tokio::test]
async fn a_write_is_all_or_nothing_and_a_missed_version_check_writes_nothing() {
    let s = Scim::start().await;
    let mut ids = Vec::new();
    for user_name in ["first@ex.test", "second@ex.test"] {
        let created = s
            .ok("POST", "/Users", Some(json!({ "userName": user_name })))
            .await;
        ids.push(created.body["id"].as_str().unwrap().to_string());
    }
    let (id, other) = (&ids[0], &ids[1]);
    let db = &s.app.db;
    let backend = db.get_database_backend();
    let writer = Writer::new(db.clone(), &s.app.db_url, 1);
    let reads = Reads::new(db.clone(), &s.app.db_url, Lanes::default().reads);
    let update = |sql: &str, values: Vec<Value>| statement(backend, sql, values);
    let version_checked = |version: i64, name: &str| {
        update(
            "UPDATE members SET version = version + 1, display_name = $1 \
             WHERE id = $2 AND version = $3 RETURNING version",
            vec![name.into(), id.as_str().into(), version.into()],
        )
    };
    let external_id = |value: &str| {
        update(
            "UPDATE members SET external_id = $1 WHERE id = $2",
            vec![value.into(), id.as_str().into()],
        )
    };
    // The other member's key: a unique violation when it is given to this one.
    let stolen_user_name = update(
        "UPDATE members SET user_name_key = (SELECT user_name_key FROM members WHERE id = $1) \
         WHERE id = $2",
        vec![other.as_str().into(), id.as_str().into()],
    );

    // On PostgreSQL the lane connects on first use (that write goes to the pool meanwhile):
    // harmless writes until the lane runs one, so the cases below are the lane's.
    if let Some(before) = writer.postgres_lane_writes() {
        let mut tries = 0;
        while writer.postgres_lane_writes() == Some(before) {
            let touched = writer
                .apply_if_returned(version_checked(1, "warm-up"), Vec::new())
                .await
                .unwrap();
            assert!(touched, "the member is at version 1 until it is not");
            db.execute_raw(update(
                "UPDATE members SET version = 1, display_name = NULL WHERE id = $1",
                vec![id.as_str().into()],
            ))
            .await
            .unwrap();
            tries += 1;
            assert!(tries < 200, "the write lane never connected");
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }
    let lane_writes = writer.postgres_lane_writes();
    assert_eq!(row(db, id).await.0, 1);

    // A lost race: the version moved on, so the first statement misses and nothing after it
    // may run.
    let touched = writer
        .apply_if_returned(version_checked(7, "lost"), vec![external_id("lost")])
        .await
        .unwrap();
    assert!(!touched);
    assert_eq!(row(db, id).await, (1, None, None));

    // The version matches: both statements are kept.
    let touched = writer
        .apply_if_returned(version_checked(1, "won"), vec![external_id("won")])
        .await
        .unwrap();
    assert!(touched);
    assert_eq!(row(db, id).await, expected(2, "won", "won"));

    // A statement after a kept first one fails: the first is taken back with it.
    let failed = writer
        .apply_if_returned(
            version_checked(2, "undone"),
            vec![external_id("undone"), stolen_user_name.clone()],
        )
        .await;
    let error = failed.expect_err("a unique key stolen");
    assert!(
        scim_gateway::db::unique_violation(&error).is_some(),
        "reported as the unique violation it is: {error:?}"
    );
    assert_eq!(row(db, id).await, expected(2, "won", "won"));

    // A planned transaction whose last statement fails keeps none of the ones before it.
    let planned = writer
        .apply_planned(&reads, async |_: &PlanReads<'_>| {
            Ok::<_, DbErr>(((), vec![external_id("planned"), stolen_user_name.clone()]))
        })
        .await;
    assert!(planned.is_err());
    assert_eq!(row(db, id).await, expected(2, "won", "won"));

    // And one that succeeds keeps all of them.
    writer
        .apply_planned(&reads, async |_: &PlanReads<'_>| {
            Ok::<_, DbErr>((
                (),
                vec![external_id("planned"), version_checked(2, "planned")],
            ))
        })
        .await
        .map_err(|_| "the planned write failed")
        .unwrap();
    assert_eq!(row(db, id).await, expected(3, "planned", "planned"));

    // Inserts alone (a create's shape; PostgreSQL's lanes send them as one statement): a
    // failing last one keeps none, and the others all go in, a row that needs another row of
    // the same transaction included.
    let workspace = s.workspace_id();
    let account = |id: &str, email: &str| {
        update(
            "INSERT INTO accounts (id, email, email_key, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5)",
            vec![
                id.into(),
                email.into(),
                email.to_lowercase().into(),
                chrono::Utc::now().into(),
                chrono::Utc::now().into(),
            ],
        )
    };
    let member_email = |account_id: &str| {
        update(
            "INSERT INTO member_emails (member_id, workspace_id, value, value_key, is_primary) \
             VALUES ($1, $2, $3, $4, $5)",
            vec![
                id.as_str().into(),
                workspace.as_str().into(),
                format!("{account_id}@ex.test").into(),
                format!("{account_id}@ex.test").into(),
                false.into(),
            ],
        )
    };
    let accounts_named = async |email: &str| -> i64 {
        let found = db
            .query_one_raw(statement(
                backend,
                "SELECT COUNT(*) FROM accounts WHERE email_key = $1",
                vec![email.into()],
            ))
            .await
            .unwrap()
            .expect("a count");
        found.try_get_by_index(0).unwrap()
    };
    let failed = writer
        .apply_planned(&reads, async |_: &PlanReads<'_>| {
            Ok::<_, DbErr>((
                (),
                vec![
                    account("acc-kept-not", "kept-not@ex.test"),
                    member_email("kept-not"),
                    // The first member's account: its e-mail is taken.
                    account("acc-taken", "first@ex.test"),
                ],
            ))
        })
        .await;
    let Err(Planned::Write(error)) = failed else {
        panic!("an e-mail taken: a write error");
    };
    assert!(
        scim_gateway::db::unique_violation(&error).is_some(),
        "reported as the unique violation it is: {error:?}"
    );
    assert_eq!(accounts_named("kept-not@ex.test").await, 0);
    writer
        .apply_planned(&reads, async |_: &PlanReads<'_>| {
            Ok::<_, DbErr>((
                (),
                vec![
                    account("acc-new", "new@ex.test"),
                    member_email("new"),
                    // The member refers to the account inserted before it in the same
                    // transaction (a foreign key).
                    update(
                        "INSERT INTO members (id, workspace_id, account_id, user_name, \
                         user_name_key, active, effective_role, is_owner, attributes, emails, \
                         version, created_at, updated_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
                        vec![
                            "member-new".into(),
                            workspace.as_str().into(),
                            "acc-new".into(),
                            "new@ex.test".into(),
                            "new@ex.test".into(),
                            false.into(),
                            "member".into(),
                            false.into(),
                            "{}".into(),
                            "[]".into(),
                            1_i64.into(),
                            chrono::Utc::now().into(),
                            chrono::Utc::now().into(),
                        ],
                    ),
                ],
            ))
        })
        .await
        .map_err(|_| "the inserts failed")
        .unwrap();
    assert_eq!(accounts_named("new@ex.test").await, 1);

    // On PostgreSQL every one of those ran on the lane, none through the pool.
    if let Some(before) = lane_writes {
        assert_eq!(writer.postgres_lane_writes(), Some(before + 7));
    }
}
