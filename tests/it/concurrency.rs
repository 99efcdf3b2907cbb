//! Concurrent IdP traffic without lost updates: many connections at once, and two gateway
//! processes over one database (SQLite file or PostgreSQL), each with its own pools, caches and
//! writer.

use serde_json::{Value, json};

use crate::common::fresh_database;
use crate::process::{Server, enable_scim, gql};

const ROLE: &str = "urn:scim-gateway:schemas:extension:workspace:2.0:User";

/// A SCIM client of one process.
#[derive(Clone)]
struct Client {
    http: reqwest::Client,
    base: String,
    key: String,
}

impl Client {
    async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        if_match: Option<&str>,
    ) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.key);
        if let Some(etag) = if_match {
            request = request.header("If-Match", etag);
        }
        if let Some(body) = body {
            request = request
                .header("Content-Type", "application/scim+json")
                .body(body.to_string());
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn role(&self, id: &str) -> String {
        let (_, user) = self
            .call(
                "GET",
                &format!("/Users/{id}?attributes={ROLE}:effectiveRole"),
                None,
                None,
            )
            .await;
        user[ROLE]["effectiveRole"].as_str().unwrap().to_string()
    }
}

fn patch(ops: Value) -> Option<Value> {
    Some(json!({ "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops }))
}

/// How many answers had status `a` and how many `b` (any other status fails the test).
fn tally(answers: &[(u16, Value)], a: u16, b: u16) -> (usize, usize) {
    for (status, body) in answers {
        assert!(*status == a || *status == b, "{status}: {body}");
    }
    let count = |want: u16| answers.iter().filter(|(s, _)| *s == want).count();
    (count(a), count(b))
}

#[tokio::test]
async fn two_processes_on_one_database_lose_no_update() {
    let (url, _db) = fresh_database().await;
    let first = Server::start(&url);
    let lines = first.read_until("listening on");
    let token = Server::sign_in_token(&lines).expect("a sign-in link on first start");
    let base_a = Server::base_url(&lines);
    let second = Server::start(&url);
    let base_b = Server::base_url(&second.read_until("listening on"));

    let http = reqwest::Client::new();
    let (scim_a, key) = enable_scim(&http, &base_a, &token).await;
    gql(
        &http,
        &base_b,
        &token,
        "mutation($m: [GroupRoleMappingInput!]!) { setGroupRoleMappings(mappings: $m) { mappings { groupName } } }",
        json!({ "m": [{ "groupName": "Admins", "role": "ADMIN" }] }),
    )
    .await;
    let a = Client {
        http: http.clone(),
        base: scim_a.clone(),
        key: key.clone(),
    };
    let b = Client {
        http,
        base: scim_a.replacen(&base_a, &base_b, 1),
        key,
    };
    let either = |i: usize| if i.is_multiple_of(2) { &a } else { &b };

    // 21 people, ten of them in the mapped group to start with.
    let mut ids = Vec::new();
    for i in 0..21 {
        let (status, user) = either(i)
            .call(
                "POST",
                "/Users",
                Some(json!({ "userName": format!("p{i}@x.org") })),
                None,
            )
            .await;
        assert_eq!(status, 201, "{user}");
        ids.push(user["id"].as_str().unwrap().to_string());
    }
    let default_role = a.role(&ids[20]).await;
    let initial: Vec<Value> = ids[..10].iter().map(|id| json!({ "value": id })).collect();
    let (status, group) = b
        .call(
            "POST",
            "/Groups",
            Some(json!({ "displayName": "Admins", "members": initial })),
            None,
        )
        .await;
    assert_eq!(status, 201, "{group}");
    let gid = group["id"].as_str().unwrap().to_string();
    assert_eq!(a.role(&ids[0]).await, "admin");

    // Ten removals and ten additions of different members, all at once, through both processes.
    let path = format!("/Groups/{gid}");
    let changes = (0..20).map(|i| {
        let ops = if i < 10 {
            json!([{ "op": "remove", "path": format!("members[value eq \"{}\"]", ids[i]) }])
        } else {
            json!([{ "op": "add", "path": "members", "value": [{ "value": ids[i] }] }])
        };
        either(i).call("PATCH", &path, patch(ops), None)
    });
    for (status, body) in futures_util::future::join_all(changes).await {
        assert_eq!(status, 204, "{body}");
    }
    let (_, group) = a.call("GET", &path, None, None).await;
    let mut members: Vec<&str> = group["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap())
        .collect();
    members.sort_unstable();
    let mut expected: Vec<&str> = ids[10..20].iter().map(String::as_str).collect();
    expected.sort_unstable();
    assert_eq!(members, expected);
    for (i, id) in ids[..20].iter().enumerate() {
        let want = if i < 10 {
            default_role.as_str()
        } else {
            "admin"
        };
        assert_eq!(either(i + 1).role(id).await, want, "p{i}");
    }

    // Eight changes of one user with the same If-Match: exactly one wins.
    let (_, user) = a
        .call("GET", &format!("/Users/{}", ids[0]), None, None)
        .await;
    let etag = user["meta"]["version"].as_str().unwrap().to_string();
    let racers = (0..8).map(|i| {
        let ops =
            json!([{ "op": "replace", "path": "displayName", "value": format!("racer {i}") }]);
        let etag = etag.clone();
        let path = format!("/Users/{}", ids[0]);
        async move {
            either(i)
                .call("PATCH", &path, patch(ops), Some(&etag))
                .await
        }
    });
    let statuses = futures_util::future::join_all(racers).await;
    assert_eq!(tally(&statuses, 200, 412), (1, 7));

    // Eight creates of one userName: one 201, seven 409.
    let posts = (0..8).map(|i| {
        either(i).call(
            "POST",
            "/Users",
            Some(json!({ "userName": "same@x.org" })),
            None,
        )
    });
    let statuses = futures_util::future::join_all(posts).await;
    assert_eq!(tally(&statuses, 201, 409), (1, 7));
    assert!(first.terminate().success());
    assert!(second.terminate().success());
}
