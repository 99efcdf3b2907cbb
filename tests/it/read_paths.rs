//! The read paths agree: the hot SCIM reads go through fast readers (`db::Reads`) — per-thread
//! rusqlite readers on a SQLite file, pipelined tokio-postgres lanes on PostgreSQL — everything
//! else through sqlx; all decode the same statements. Users read both ways — times, JSON
//! columns, NULLs, non-ASCII, e-mails, groups — must be identical, so a change to one decoder
//! can't silently diverge from the other.

use scim_gateway::db::Reads;
use scim_gateway::domain::filter;
use scim_gateway::domain::users::{self, ListQuery};
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::json;

use crate::common::Scim;

#[tokio::test]
async fn fast_and_pool_reads_give_identical_users() {
    let s = Scim::start().await;
    let people = [
        json!({ "userName": "zoë@ex.test", "name": { "givenName": "Zoë", "familyName": "Ærø" },
                "displayName": "Zoë 🚀", "emails": [{ "value": "zoë@ex.test", "type": "work", "primary": true }, { "value": "Z@Home.test" }],
                "title": "Ingeniør", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": { "department": "R&D", "manager": { "value": "m-1", "displayName": "Märta" } },
                "roles": [{ "value": "Reviewer", "primary": true }], "externalId": "ext-ü" }),
        json!({ "userName": "plain@ex.test" }),
        json!({ "userName": "nulls@ex.test", "displayName": null, "active": false, "phoneNumbers": [{ "value": "+47 000", "type": "work" }] }),
        json!({ "userName": "日本@ex.test", "name": { "givenName": "太郎" }, "x-custom": { "deep": [1, 2.5, true, null, "s"] } }),
    ];
    let mut ids = Vec::new();
    for p in people {
        ids.push(
            s.ok("POST", "/Users", Some(p)).await.body["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    s.ok(
        "POST",
        "/Groups",
        Some(json!({ "displayName": "Ωmega", "members": [{ "value": ids[0] }, { "value": ids[3] }] })),
    )
    .await;
    let workspace_id = s.workspace_id();

    let fast = Reads::new(s.app.db.clone(), &s.app.db_url, 2);
    let on_sqlite = s.app.db.get_database_backend() == sea_orm::DbBackend::Sqlite;
    assert_eq!(
        fast.sqlite().is_some(),
        on_sqlite,
        "the rusqlite readers serve a SQLite file (and only one)"
    );
    assert_eq!(
        fast.postgres_lane_reads(),
        (!on_sqlite).then_some(0),
        "PostgreSQL's lanes serve PostgreSQL (and only it)"
    );
    let sqlx = &s.app.db;
    if !on_sqlite {
        lanes_connected(&fast, 2).await;
    }

    for id in &ids {
        let a = users::get(&fast, &workspace_id, id).await.unwrap();
        let b = users::get(sqlx, &workspace_id, id).await.unwrap();
        assert_eq!(a, b, "user {id}");
    }
    let zoe = users::get(&fast, &workspace_id, &ids[0]).await.unwrap();
    assert_eq!(zoe.given_name.as_deref(), Some("Zoë"));
    assert_eq!(zoe.groups.len(), 1);
    assert_eq!(zoe.groups[0].display_name, "Ωmega");

    if !on_sqlite {
        // The lanes answered those reads themselves, not the pool behind them.
        assert_eq!(fast.postgres_lane_reads(), Some(ids.len() as u64 + 1));
    }

    for (filter_text, sort_by) in [
        ("", None),
        ("userName eq \"ZOë@EX.test\"", None),
        ("externalId eq \"ext-ü\"", None),
        ("userName pr", Some("userName")),
        ("emails.value co \"home\"", None),
        ("name.givenName eq \"zoë\"", None),
        ("active eq false", None),
        (
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq \"r&d\"",
            None,
        ),
        ("", Some("displayName")),
    ] {
        let query = ListQuery {
            filter: (!filter_text.is_empty()).then(|| filter::parse(filter_text).unwrap()),
            sort_by: sort_by.map(|s| filter::AttrPath::parse(s).unwrap()),
            descending: false,
            start_index: 1,
            count: 100,
            cursor: None,
        };
        let a = users::list(&fast, &workspace_id, &query).await.unwrap();
        let b = users::list(sqlx, &workspace_id, &query).await.unwrap();
        assert_eq!(a.total, b.total, "{filter_text}");
        assert_eq!(a.items, b.items, "{filter_text}");
        assert!(!a.items.is_empty(), "{filter_text} selects someone");
    }
}

/// The identity lookups IdPs send (`userName|externalId|id eq`, built once per backend with
/// marker values) answer exactly what the general list path answers for the same filter (here
/// reached by a `sortBy`, which the lookup does not take): same users, same total, whatever the
/// case of the value.
#[tokio::test]
async fn identity_lookups_answer_what_the_general_path_answers() {
    let s = Scim::start().await;
    for (user_name, external_id) in [("Ada@Ex.test", "ext-Ä1"), ("bob@ex.test", "ext-b2")] {
        s.ok(
            "POST",
            "/Users",
            Some(json!({ "userName": user_name, "externalId": external_id })),
        )
        .await;
    }
    let ada = s
        .ok(
            "GET",
            "/Users?filter=userName%20eq%20%22ada@ex.test%22",
            None,
        )
        .await;
    let ada_id = ada.body["Resources"][0]["id"].as_str().unwrap().to_string();
    let encode = |v: &str| url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>();
    for filter in [
        "userName eq \"ADA@ex.TEST\"".to_string(),
        "userName eq \"nobody@ex.test\"".to_string(),
        "externalId eq \"ext-Ä1\"".to_string(),
        "externalId eq \"EXT-Ä1\"".to_string(),
        format!("id eq \"{ada_id}\""),
    ] {
        let lookup = s
            .ok("GET", &format!("/Users?filter={}", encode(&filter)), None)
            .await;
        let general = s
            .ok(
                "GET",
                &format!("/Users?filter={}&sortBy=userName", encode(&filter)),
                None,
            )
            .await;
        assert_eq!(lookup.body, general.body, "{filter}");
    }
    // The lookup found what it should (not two empty answers agreeing).
    assert_eq!(ada.body["totalResults"], 1, "{}", ada.body);
}

/// A lane whose connection the server ends (a restart, a failover, an administrator) costs no
/// read: the read in flight goes to the pool, and the lane connects again for the next ones.
/// On SQLite there are no lanes.
#[tokio::test]
async fn a_lane_whose_connection_ends_hands_reads_to_the_pool_and_reconnects() {
    let s = Scim::start().await;
    let created = s
        .ok(
            "POST",
            "/Users",
            Some(json!({ "userName": "lane@ex.test" })),
        )
        .await;
    let id = created.body["id"].as_str().unwrap().to_string();
    let workspace_id = s.workspace_id();
    // A lane of its own, named apart from the running server's lanes.
    let name = format!("lane-{}", crate::common::uuid_simple());
    let separator = if s.app.db_url.contains('?') { '&' } else { '?' };
    let url = format!("{}{separator}application_name={name}", s.app.db_url);
    let reads = Reads::new(s.app.db.clone(), &url, 1);
    let db = &s.app.db;
    if db.get_database_backend() == DbBackend::Sqlite {
        assert_eq!(reads.postgres_lane_reads(), None);
        return;
    }
    let lane_pids = async || -> Vec<i32> {
        db.query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() \
             AND application_name = $1 ORDER BY pid",
            [name.as_str().into()],
        ))
        .await
        .unwrap()
        .iter()
        .map(|row| row.try_get_by_index::<i32>(0).unwrap())
        .collect()
    };

    lanes_connected(&reads, 1).await;
    let user = users::get(&reads, &workspace_id, &id).await.unwrap();
    assert_eq!(user.user_name, "lane@ex.test");
    assert_eq!(reads.postgres_lane_reads(), Some(1));
    let before = lane_pids().await;
    assert_eq!(before.len(), 1, "one lane, connected: {before:?}");

    db.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT pg_terminate_backend($1)",
        [before[0].into()],
    ))
    .await
    .unwrap();
    while lane_pids().await == before {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }

    // Every read answers, whichever way it went; within a few the lane is back.
    let mut reads_made = 0;
    while reads.postgres_lane_reads() == Some(1) {
        let again = users::get(&reads, &workspace_id, &id).await.unwrap();
        assert_eq!(again, user);
        reads_made += 1;
        assert!(reads_made < 200, "the lane never came back");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let after = lane_pids().await;
    assert_eq!(after.len(), 1, "{after:?}");
    assert_ne!(after, before, "a new connection");
}

/// Waits for the lanes, which connect in the background, so the reads that follow are theirs.
async fn lanes_connected(reads: &Reads, lanes: usize) {
    for _ in 0..500 {
        if reads.postgres_lanes_connected() == Some(lanes) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!(
        "the lanes did not connect: {:?}",
        reads.postgres_lanes_connected()
    );
}

/// The lanes honour the URL's `sslmode` as libpq and sqlx do: `disable` connects in the clear,
/// `prefer` (the test URL's default) encrypts when the server offers TLS, `require` only connects
/// encrypted; a URL that asks for certificate checks gets no lanes, and its reads go through the
/// pool.
#[tokio::test]
async fn lanes_follow_the_urls_sslmode_and_leave_certificate_checks_to_the_pool() {
    let s = Scim::start().await;
    let created = s
        .ok("POST", "/Users", Some(json!({ "userName": "tls@ex.test" })))
        .await;
    let id = created.body["id"].as_str().unwrap().to_string();
    let workspace_id = s.workspace_id();
    let db = &s.app.db;
    if db.get_database_backend() == DbBackend::Sqlite {
        return;
    }
    let text = async |sql: &str, values: Vec<sea_orm::Value>| -> Option<String> {
        db.query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql,
            values,
        ))
        .await
        .unwrap()
        .map(|row| row.try_get_by_index::<String>(0).unwrap())
    };
    let server_offers_tls = text("SELECT current_setting('ssl')", vec![])
        .await
        .as_deref()
        == Some("on");
    let separator = if s.app.db_url.contains('?') { '&' } else { '?' };
    for mode in ["disable", "prefer", "require"] {
        let name = format!("tls-{mode}-{}", crate::common::uuid_simple());
        let url = format!(
            "{}{separator}sslmode={mode}&application_name={name}",
            s.app.db_url
        );
        let reads = Reads::new(db.clone(), &url, 1);
        let encrypted = mode != "disable" && server_offers_tls;
        if mode == "require" && !server_offers_tls {
            // Refused in the clear: no lane, and the reads still answer through the pool.
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            assert_eq!(reads.postgres_lanes_connected(), Some(0));
        } else {
            lanes_connected(&reads, 1).await;
            let ssl = text(
                "SELECT ssl::text FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) \
                 WHERE application_name = $1",
                vec![name.as_str().into()],
            )
            .await;
            assert_eq!(
                ssl.as_deref(),
                Some(if encrypted { "true" } else { "false" }),
                "sslmode={mode}"
            );
        }
        let user = users::get(&reads, &workspace_id, &id).await.unwrap();
        assert_eq!(user.user_name, "tls@ex.test", "sslmode={mode}");
    }
    let checked = Reads::new(
        db.clone(),
        &format!("{}{separator}sslmode=verify-full", s.app.db_url),
        1,
    );
    assert_eq!(checked.postgres_lane_reads(), None, "no lanes");
    let user = users::get(&checked, &workspace_id, &id).await.unwrap();
    assert_eq!(user.user_name, "tls@ex.test");
}
