//! Crash safety: the gateway process killed (SIGKILL) in the middle of group pushes and of
//! mapping edits, then started again on the same database (SQLite file or PostgreSQL). Every
//! request is then applied entirely or not at all, every effective role agrees with the
//! memberships and the mapping, and no row points at a missing one.

use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use serde_json::{Value, json};

use crate::common::fresh_database;
use crate::process::{Server, enable_scim, gql, scim_post};

const BATCHES: usize = 10;
const BATCH: usize = 100;
const SET_MAPPING: &str = "mutation($m: [GroupRoleMappingInput!]!) { setGroupRoleMappings(mappings: $m) { mappings { groupName } } }";

/// A started gateway and where its SCIM routes are.
struct Running {
    server: Server,
    base: String,
    admin_token: String,
}

fn start(url: &str, admin_token: Option<&str>) -> Running {
    let server = Server::start(url);
    let lines = server.read_until("listening on");
    let admin_token = admin_token
        .map(str::to_string)
        .or_else(|| Server::sign_in_token(&lines))
        .expect("a sign-in link on first start");
    Running {
        base: Server::base_url(&lines),
        server,
        admin_token,
    }
}

/// How a push ended: the batches answered 2xx, in order, and whether the request after them was
/// cut off unanswered (sent on a live connection, which then died) rather than refused.
struct Pushed {
    acknowledged: usize,
    cut_off: bool,
}

/// Sends each batch as one PATCH of the group, in order, until the server goes away. Any answer
/// but a 2xx is a failure of the test: only a dead server may stop a push.
async fn push(
    http: &reqwest::Client,
    group_url: &str,
    key: &str,
    op: &str,
    batches: &[Vec<String>],
) -> Pushed {
    for (i, batch) in batches.iter().enumerate() {
        let sent = http
            .patch(group_url)
            .bearer_auth(key)
            .header("Content-Type", "application/scim+json")
            .body(members_patch(op, batch))
            .send()
            .await;
        match sent {
            Ok(r) => assert!(r.status().is_success(), "batch {i} ({op}): {}", r.status()),
            Err(e) => {
                return Pushed {
                    acknowledged: i,
                    cut_off: !e.is_connect(),
                };
            }
        }
    }
    Pushed {
        acknowledged: batches.len(),
        cut_off: false,
    }
}

/// How a mapping edit ended.
#[derive(Debug, PartialEq)]
enum Edit {
    /// Answered, without GraphQL errors: the new role must be stored.
    Done,
    /// Sent, then the connection died without an answer: either role may be stored.
    CutOff,
    /// Never reached the server.
    Refused,
}

async fn edit_mapping(http: &reqwest::Client, base: &str, token: &str, role: &str) -> Edit {
    let sent = http
        .post(format!("{base}/graphql"))
        .bearer_auth(token)
        .json(&json!({ "query": SET_MAPPING, "variables": { "m": [{ "groupName": "Admins", "role": role }] } }))
        .send()
        .await;
    let response = match sent {
        Ok(response) => response,
        Err(e) if e.is_connect() => return Edit::Refused,
        Err(_) => return Edit::CutOff,
    };
    assert_eq!(response.status(), 200);
    // The answer's body may itself be cut off by the kill.
    let Ok(body) = response.json::<Value>().await else {
        return Edit::CutOff;
    };
    assert!(body.get("errors").is_none(), "{body}");
    Edit::Done
}

async fn set_mapping(http: &reqwest::Client, base: &str, token: &str, role: &str) {
    gql(
        http,
        base,
        token,
        SET_MAPPING,
        json!({ "m": [{ "groupName": "Admins", "role": role }] }),
    )
    .await;
}

/// The one stored mapping row, for the group `Admins`.
async fn stored_mapping(db: &DatabaseConnection) -> String {
    let rows = ids(
        db,
        "SELECT group_key || ' ' || role FROM group_role_mappings",
    )
    .await;
    match rows.as_slice() {
        [row] => row
            .strip_prefix("admins ")
            .unwrap_or_else(|| panic!("the mapping table: {rows:?}"))
            .to_string(),
        _ => panic!("the mapping table: {rows:?}"),
    }
}

/// Which batches the group holds whole (`assert_consistent` has ruled out halves).
async fn held_batches(
    db: &DatabaseConnection,
    group_id: &str,
    batches: &[Vec<String>],
) -> Vec<bool> {
    let in_group = ids(
        db,
        &format!("SELECT member_id FROM group_members WHERE group_id = '{group_id}'"),
    )
    .await;
    batches
        .iter()
        .map(|batch| batch.iter().all(|id| in_group.contains(id)))
        .collect()
}

fn members_patch(op: &str, ids: &[String]) -> String {
    let value: Vec<Value> = ids.iter().map(|id| json!({ "value": id })).collect();
    json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{ "op": op, "path": "members", "value": value }]
    })
    .to_string()
}

async fn count(db: &DatabaseConnection, sql: &str) -> i64 {
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap()
        .unwrap();
    row.try_get_by_index::<i64>(0).unwrap()
}

async fn ids(db: &DatabaseConnection, sql: &str) -> Vec<String> {
    db.query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap()
        .into_iter()
        .map(|row| row.try_get_by_index::<String>(0).unwrap())
        .collect()
}

/// What must hold after any crash.
async fn assert_consistent(db: &DatabaseConnection, group_id: &str, batches: &[Vec<String>]) {
    // No orphans.
    for (what, sql) in [
        (
            "memberships of missing members",
            "SELECT COUNT(*) FROM group_members gm WHERE NOT EXISTS (SELECT 1 FROM members m WHERE m.id = gm.member_id)",
        ),
        (
            "memberships of missing groups",
            "SELECT COUNT(*) FROM group_members gm WHERE NOT EXISTS (SELECT 1 FROM groups g WHERE g.id = gm.group_id)",
        ),
        (
            "e-mails of missing members",
            "SELECT COUNT(*) FROM member_emails e WHERE NOT EXISTS (SELECT 1 FROM members m WHERE m.id = e.member_id)",
        ),
        (
            "members of missing accounts",
            "SELECT COUNT(*) FROM members m WHERE NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = m.account_id)",
        ),
    ] {
        assert_eq!(count(db, sql).await, 0, "{what}");
    }
    // Each PATCH carried one whole batch: the group holds all of a batch or none of it.
    let in_group = ids(
        db,
        &format!("SELECT member_id FROM group_members WHERE group_id = '{group_id}'"),
    )
    .await;
    for (i, batch) in batches.iter().enumerate() {
        let held = batch.iter().filter(|id| in_group.contains(id)).count();
        assert!(
            held == 0 || held == batch.len(),
            "batch {i} is half applied: {held} of {}",
            batch.len()
        );
    }
    // Roles: the owner is an admin; members of the mapped group have the mapped role; the rest,
    // with no direct role, are labelers.
    let mapped = stored_mapping(db).await;
    assert!(["admin", "reviewer"].contains(&mapped.as_str()), "{mapped}");
    let wrong = count(
        db,
        &format!(
            "SELECT COUNT(*) FROM members m WHERE m.effective_role <> CASE \
               WHEN m.is_owner THEN 'admin' \
               WHEN EXISTS (SELECT 1 FROM group_members gm WHERE gm.member_id = m.id AND gm.group_id = '{group_id}') THEN '{mapped}' \
               ELSE 'labeler' END"
        ),
    )
    .await;
    assert_eq!(
        wrong, 0,
        "members whose effective role disagrees (mapping {mapped})"
    );
}

#[tokio::test]
async fn a_killed_process_leaves_whole_requests_and_consistent_roles() {
    let (url, _db) = fresh_database().await;
    let http = reqwest::Client::new();
    let mut running = start(&url, None);
    let (scim_base, key) = enable_scim(&http, &running.base, &running.admin_token).await;
    let scim_path = scim_base
        .strip_prefix(running.base.as_str())
        .unwrap()
        .to_string();
    gql(
        &http,
        &running.base,
        &running.admin_token,
        SET_MAPPING,
        json!({ "m": [{ "groupName": "Admins", "role": "ADMIN" }] }),
    )
    .await;
    let ops: Vec<Value> = (0..BATCHES * BATCH)
        .map(|i| {
            json!({ "method": "POST", "path": "/Users", "bulkId": format!("b{i}"),
                         "data": { "userName": format!("crash{i}@acme.test") } })
        })
        .collect();
    let bulk = json!({ "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": ops });
    let (status, seeded) = scim_post(&http, &format!("{scim_base}/Bulk"), &key, &bulk).await;
    assert_eq!(status, 200, "{seeded}");
    let user_ids: Vec<String> = seeded["Operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|op| {
            op["location"]
                .as_str()
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(user_ids.len(), BATCHES * BATCH);
    let batches: Vec<Vec<String>> = user_ids.chunks(BATCH).map(<[String]>::to_vec).collect();
    let (status, group) = scim_post(
        &http,
        &format!("{scim_base}/Groups"),
        &key,
        &json!({ "displayName": "Admins" }),
    )
    .await;
    assert_eq!(status, 201, "{group}");
    let group_id = group["id"].as_str().unwrap().to_string();
    let db = scim_gateway::db::connect(&url, 1).await.unwrap();
    // The group's address at whichever port the running process listens on.
    let group_url = |running: &Running| format!("{}{scim_path}/Groups/{group_id}", running.base);

    // How long a whole push and a whole mapping edit take here, so that kills land inside them.
    let started = Instant::now();
    push(&http, &group_url(&running), &key, "add", &batches).await;
    let full_push = started.elapsed();
    let started = Instant::now();
    set_mapping(&http, &running.base, &running.admin_token, "REVIEWER").await;
    let full_edit = started.elapsed();
    set_mapping(&http, &running.base, &running.admin_token, "ADMIN").await;
    push(&http, &group_url(&running), &key, "remove", &batches).await;
    assert_consistent(&db, &group_id, &batches).await;

    // Pushes: each round sends whole batches back to back, additions and removals (Entra's
    // value-list form) in turn, and the process is killed a little further into it each time.
    // Every batch answered before the kill stays applied; none after the one in flight is.
    let mut interrupted_pushes = 0;
    for round in 0..8u32 {
        let (op, undo) = if round % 2 == 0 {
            ("add", "remove")
        } else {
            ("remove", "add")
        };
        // From the state this push changes whole, so that any kill before its end shows.
        let reset = push(&http, &group_url(&running), &key, undo, &batches).await;
        assert_eq!(reset.acknowledged, BATCHES);
        let before = held_batches(&db, &group_id, &batches).await;
        let pusher = {
            let (http, key, batches) = (http.clone(), key.clone(), batches.clone());
            let url = group_url(&running);
            tokio::spawn(async move { push(&http, &url, &key, op, &batches).await })
        };
        tokio::time::sleep(full_push * (round + 1) / 9).await;
        running.server.kill();
        let pushed = tokio::time::timeout(Duration::from_secs(30), pusher)
            .await
            .expect("a push still running 30 s after the kill")
            .unwrap();
        assert_consistent(&db, &group_id, &batches).await;
        let after = held_batches(&db, &group_id, &batches).await;
        let wanted = op == "add";
        for (i, (was, is)) in before.iter().zip(&after).enumerate() {
            if i < pushed.acknowledged {
                assert_eq!(
                    *is, wanted,
                    "round {round}: acknowledged batch {i} was lost"
                );
            } else if i > pushed.acknowledged {
                assert_eq!(is, was, "round {round}: batch {i}, never sent, changed");
            }
        }
        let would_change = before.iter().filter(|held| **held != wanted).count();
        let changed = before
            .iter()
            .zip(&after)
            .filter(|(was, is)| was != is)
            .count();
        if pushed.cut_off || (changed > 0 && changed < would_change) {
            interrupted_pushes += 1;
        }
        running = start(&url, Some(&running.admin_token));
    }
    assert!(
        interrupted_pushes >= 4,
        "only {interrupted_pushes} of 8 kills landed inside a push"
    );

    // Everyone into the group, then mapping edits that move every member's role, killed midway.
    let pushed = push(&http, &group_url(&running), &key, "add", &batches).await;
    assert_eq!(pushed.acknowledged, BATCHES);
    let in_group = count(
        &db,
        &format!("SELECT COUNT(*) FROM group_members WHERE group_id = '{group_id}'"),
    )
    .await;
    assert_eq!(in_group as usize, BATCHES * BATCH);
    assert_consistent(&db, &group_id, &batches).await;
    // Each edit asks for the role not stored. The kill comes a fraction of a whole edit in:
    // later after a kill that left the old role (too early), earlier after an answered edit
    // (too late), so that kills gather around the commit. Done when enough kills cut an edit
    // off unanswered and at least one came after an edit's end (the window was spanned).
    let mut fraction = 0.5f64;
    let (mut cut_off, mut committed_unanswered, mut answered, mut rounds) = (0, 0, 0, 0);
    while cut_off < 6 || answered == 0 {
        rounds += 1;
        assert!(
            rounds <= 40,
            "in 40 kills, {cut_off} cut a mapping edit off and {answered} came after one"
        );
        let stored = stored_mapping(&db).await;
        // A first request warms the new process up, as the edit measured above found it.
        gql(
            &http,
            &running.base,
            &running.admin_token,
            "{ workspace { id } }",
            json!({}),
        )
        .await;
        let (role, other) = if stored == "admin" {
            ("REVIEWER", "reviewer")
        } else {
            ("ADMIN", "admin")
        };
        let editor = {
            let (http, base, token) = (
                http.clone(),
                running.base.clone(),
                running.admin_token.clone(),
            );
            tokio::spawn(async move { edit_mapping(&http, &base, &token, role).await })
        };
        tokio::time::sleep(full_edit.mul_f64(fraction)).await;
        running.server.kill();
        let edit = tokio::time::timeout(Duration::from_secs(30), editor)
            .await
            .expect("an edit still running 30 s after the kill")
            .unwrap();
        assert_consistent(&db, &group_id, &batches).await;
        let now = stored_mapping(&db).await;
        match edit {
            Edit::Done => {
                assert_eq!(now, other, "an answered edit was lost");
                answered += 1;
                fraction *= 0.7;
            }
            Edit::CutOff => {
                assert!(now == stored || now == other, "{now}");
                cut_off += 1;
                if now == other {
                    committed_unanswered += 1;
                } else {
                    fraction *= 1.25;
                }
            }
            Edit::Refused => panic!("the edit did not reach a running server"),
        }
        running = start(&url, Some(&running.admin_token));
    }
    eprintln!(
        "kills: {interrupted_pushes} of 8 inside a push; {cut_off} of {rounds} cut a mapping \
         edit off, {committed_unanswered} of them after its commit"
    );

    // Still serving after all of it.
    let r = http
        .get(format!("{}{scim_path}/Groups/{group_id}", running.base))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}
