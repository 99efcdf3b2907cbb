//! Operations: `/metrics` for the holder of its token, JSON logs that carry a request id and never
//! a secret, and a SIGTERM that lets in-flight requests finish.

use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::{Scim, TestApp, enable_scim, fresh_database};
use crate::process::{
    ScimGateway, Server, enable_scim as enable_scim_over_http, gql, start_with_scim,
};

pub const METRICS_TOKEN: &str = "metrics-test-token-4f1c";

/// The value of the sample with exactly these labels (in any order), if exposed.
pub fn sample(text: &str, name: &str, labels: &str) -> Option<f64> {
    // Our label values hold no `",`: the pairs split there.
    let label_set = |labels: &str| {
        let mut pairs: Vec<String> = labels
            .split("\",")
            .filter(|p| !p.is_empty())
            .map(|p| p.trim_end_matches('"').to_string())
            .collect();
        pairs.sort();
        pairs
    };
    let wanted = label_set(labels);
    text.lines().find_map(|line| {
        let rest = line.strip_prefix(name)?;
        let (labels, value) = match rest.strip_prefix('{') {
            Some(rest) => rest.rsplit_once("} ")?,
            None => ("", rest.strip_prefix(' ')?),
        };
        (label_set(labels) == wanted).then(|| value.parse().ok())?
    })
}

#[tokio::test]
async fn metrics_count_requests_and_operations_for_the_token_holder_only() {
    let scim = Scim::start_with(|s| s.with_metrics_token(Some(METRICS_TOKEN))).await;
    let workspace = scim.app.workspace_id(&scim.admin).await;
    let http = &scim.app.client;
    let okta = |r: reqwest::RequestBuilder| {
        r.bearer_auth(&scim.key)
            .header("User-Agent", "Okta SCIM Client 1.0.0")
    };
    let created = okta(http.post(format!("{}/Users", scim.base)))
        .header("Content-Type", "application/scim+json")
        .body(json!({ "userName": "m@acme.test" }).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    // Every answer carries the security headers and a request id, SCIM's, GraphQL's and the rest.
    let health = http
        .get(format!("{}/healthz", scim.app.url))
        .send()
        .await
        .unwrap();
    for response in [&created, &health] {
        let h = response.headers();
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["x-frame-options"], "DENY");
        assert_eq!(h["referrer-policy"], "no-referrer");
        assert_eq!(h["x-request-id"].len(), 36);
    }
    for _ in 0..2 {
        let missing = okta(http.get(format!("{}/Users/nope", scim.base)))
            .send()
            .await
            .unwrap();
        assert_eq!(missing.status(), 404);
    }
    // Another workspace's Entra key.
    let other_admin = scim.app.admin_token("globex", "owner@globex.test").await;
    let other_workspace = scim.app.workspace_id(&other_admin).await;
    let (other_base, other_key) = enable_scim(&scim.app, &other_admin).await;
    let listed = http
        .get(format!("{other_base}/Users"))
        .bearer_auth(&other_key)
        .header("User-Agent", "Azure AD SCIM Provisioning")
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), 200);
    // A made-up workspace id with a bad key: refused, and no series of its own.
    let refused = http
        .get(format!(
            "{}/api/teams/made-up-team/scim/v2/Users",
            scim.app.url
        ))
        .bearer_auth("scim_not-a-key")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);

    // Without the token, or with another: nothing.
    let url = format!("{}/metrics", scim.app.url);
    assert_eq!(http.get(&url).send().await.unwrap().status(), 401);
    let wrong = http.get(&url).bearer_auth("metrics-test-token-4f1d").send();
    assert_eq!(wrong.await.unwrap().status(), 401);

    let response = http
        .get(&url)
        .bearer_auth(METRICS_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text; version=1.0.0")
    );
    let text = response.text().await.unwrap();
    let users = "/api/teams/{teamId}/scim/v2/Users";
    let user = "/api/teams/{teamId}/scim/v2/Users/{id}";
    let requests = |route: &str, method: &str, status: u16| {
        sample(
            &text,
            "http_requests_total",
            &format!("route=\"{route}\",method=\"{method}\",status=\"{status}\""),
        )
    };
    assert_eq!(requests(users, "POST", 201), Some(1.0), "{text}");
    assert_eq!(requests(user, "GET", 404), Some(2.0), "{text}");
    assert_eq!(requests(users, "GET", 200), Some(1.0), "{text}");
    assert_eq!(requests(users, "GET", 401), Some(1.0), "{text}");
    let histogram = |suffix: &str, extra: &str| {
        sample(
            &text,
            &format!("http_request_duration_seconds_{suffix}"),
            &format!("route=\"{user}\",method=\"GET\"{extra}"),
        )
    };
    assert_eq!(histogram("count", ""), Some(2.0), "{text}");
    assert_eq!(histogram("bucket", ",le=\"+Inf\""), Some(2.0), "{text}");
    assert!(histogram("sum", "").is_some_and(|s| s > 0.0), "{text}");

    let operation = |workspace: &str, client: &str, method: &str, resource: &str, status: u16| {
        sample(
            &text,
            "scim_operations_total",
            &format!(
                "workspace=\"{workspace}\",client=\"{client}\",method=\"{method}\",resource=\"{resource}\",status=\"{status}\""
            ),
        )
    };
    assert_eq!(
        operation(&workspace, "Okta", "POST", "/Users", 201),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        operation(&workspace, "Okta", "GET", "/Users/{id}", 404),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        operation(&other_workspace, "Entra", "GET", "/Users", 200),
        Some(1.0),
        "{text}"
    );
    assert!(!text.contains("made-up-team"), "{text}");
    for pool in ["main", "writer"] {
        assert!(
            sample(
                &text,
                "db_pool_connections",
                &format!("pool=\"{pool}\",state=\"idle\"")
            )
            .is_some(),
            "{text}"
        );
    }
    assert!(
        sample(&text, "process_resident_memory_bytes", "").is_some_and(|bytes| bytes > 1e6),
        "{text}"
    );
    assert!(text.ends_with("# EOF\n"), "{text}");
    for secret in [scim.key.as_str(), other_key.as_str(), METRICS_TOKEN] {
        assert!(!text.contains(secret));
    }

    // Without a configured token, /metrics is off.
    let plain = TestApp::spawn().await;
    let off = plain
        .client
        .get(format!("{}/metrics", plain.url))
        .bearer_auth("");
    assert_eq!(off.send().await.unwrap().status(), 404);
}

/// On PostgreSQL the hot SCIM reads and the users' writes run on the lanes, not the pool, and
/// `/metrics` says so; on SQLite there are no lanes to report.
#[tokio::test]
async fn postgres_lanes_carry_user_reads_and_writes_and_metrics_count_them() {
    let scim = Scim::start_with(|s| s.with_metrics_token(Some(METRICS_TOKEN))).await;
    let http = &scim.app.client;
    let metrics = async || {
        let response = http
            .get(format!("{}/metrics", scim.app.url))
            .bearer_auth(METRICS_TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.text().await.unwrap()
    };
    let on_postgres = scim.app.db_url.starts_with("postgres");
    if !on_postgres {
        let text = metrics().await;
        assert!(!text.contains("db_lane"), "{text}");
        return;
    }
    let lane = |text: &str, kind: &str, by: &str| {
        sample(
            text,
            "db_lane_statements_total",
            &format!("kind=\"{kind}\",by=\"{by}\""),
        )
        .unwrap_or_else(|| panic!("no {kind}/{by} lane count: {text}"))
    };
    let ok = async |method: &str, path: &str, body: Option<Value>| {
        let mut request = http
            .request(method.parse().unwrap(), format!("{}{path}", scim.base))
            .bearer_auth(&scim.key)
            .header("Content-Type", "application/scim+json");
        if let Some(body) = body {
            request = request.body(body.to_string());
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert!(status.is_success(), "{method} {path}: {status} {body}");
        body
    };
    // Read lanes connect at start, write lanes at the first write (which the pool takes
    // meanwhile), both in the background.
    ok(
        "POST",
        "/Users",
        Some(json!({ "userName": "first@acme.test" })),
    )
    .await;
    let mut before = metrics().await;
    for _ in 0..500 {
        let connected =
            |kind: &str| sample(&before, "db_lanes_connected", &format!("kind=\"{kind}\""));
        if connected("read") >= Some(1.0) && connected("write") >= Some(1.0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        before = metrics().await;
    }
    let created = ok(
        "POST",
        "/Users",
        Some(json!({ "userName": "lanes@acme.test" })),
    )
    .await;
    let id = created["id"].as_str().unwrap();
    let patch = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [
            { "op": "replace", "path": "name.givenName", "value": "Lane" },
            { "op": "replace", "path": "active", "value": true }
        ]
    });
    // Okta's profile push: a name and `active` as it was (a change that moves no role).
    let patched = ok("PATCH", &format!("/Users/{id}"), Some(patch)).await;
    assert_eq!(patched["name"]["givenName"], "Lane");
    assert_eq!(patched["active"], true);
    let got = ok("GET", &format!("/Users/{id}"), None).await;
    assert_eq!(got["name"]["givenName"], "Lane");
    let found = ok(
        "GET",
        "/Users?filter=userName%20eq%20%22LANES@acme.test%22",
        None,
    )
    .await;
    assert_eq!(found["totalResults"], 1);

    let after = metrics().await;
    let delta = |kind: &str, by: &str| lane(&after, kind, by) - lane(&before, kind, by);
    assert_eq!(
        delta("write", "lane"),
        2.0,
        "the create and the PATCH: {after}"
    );
    assert_eq!(delta("write", "pool"), 0.0, "{after}");
    // The create's account lookup, the PATCH's read, the GET and the lookup at least.
    assert!(delta("read", "lane") >= 4.0, "{after}");
    assert_eq!(delta("read", "pool"), 0.0, "{after}");
}

#[tokio::test]
async fn json_logs_carry_request_ids_and_never_a_secret() {
    let (url, _db) = fresh_database().await;
    let env = [("SCIM_GATEWAY_METRICS_TOKEN", METRICS_TOKEN)];
    let LoggedServer {
        server,
        _log_dir,
        log_path,
        token,
        base,
        http,
        scim_base,
        key,
    } = LoggedServer::start(&url, "debug", &env).await;

    let created = http
        .post(format!("{scim_base}/Users"))
        .bearer_auth(&key)
        .header("X-Request-Id", "ticket-4711")
        .header("Content-Type", "application/scim+json")
        .body(json!({ "userName": "logged@acme.test" }).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    assert_eq!(created.headers()["x-request-id"], "ticket-4711");
    // An id that is not a sane token is replaced by a fresh one.
    let replaced = http
        .get(format!("{scim_base}/Users"))
        .bearer_auth(&key)
        .header("X-Request-Id", "has spaces\tand tabs")
        .send()
        .await
        .unwrap();
    let fresh = replaced.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(fresh.len(), 36, "{fresh}");
    // A wrong key, a failing request, and the metrics endpoint: secrets in headers all along.
    let wrong = http
        .get(format!("{scim_base}/Users"))
        .bearer_auth(format!("{key}x"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let metrics = http
        .get(format!("{base}/metrics"))
        .bearer_auth(METRICS_TOKEN);
    assert_eq!(metrics.send().await.unwrap().status(), 200);
    let generated = gql(
        &http,
        &base,
        &token,
        "mutation { generateApiKey(name: \"second\") { secret } }",
        json!({}),
    )
    .await;
    let second_key = generated["data"]["generateApiKey"]["secret"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(server.terminate().success());

    let log = std::fs::read_to_string(&log_path).unwrap();
    let entries: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not a JSON log line: {l}")))
        .collect();
    let answered = |id: &str| {
        entries
            .iter()
            .find(|e| e["fields"]["message"] == "answered" && e["span"]["request_id"] == id)
    };
    let entry = answered("ticket-4711")
        .unwrap_or_else(|| panic!("no answer logged for ticket-4711:\n{log}"));
    assert_eq!(entry["fields"]["status"], 201, "{entry}");
    assert_eq!(
        entry["fields"]["route"], "/api/teams/{teamId}/scim/v2/Users",
        "{entry}"
    );
    assert!(
        answered(&fresh).is_some(),
        "the generated id names its request's log too"
    );
    for secret in [
        token.as_str(),
        key.as_str(),
        second_key.as_str(),
        METRICS_TOKEN,
    ] {
        assert!(
            !log.contains(secret),
            "a secret reached the logs: {}…",
            &secret[..8]
        );
    }
    // Every request answered has its line, named by its id: 3 GraphQL, 3 SCIM, /metrics.
    let answered_lines: Vec<&Value> = entries
        .iter()
        .filter(|e| e["fields"]["message"] == "answered")
        .collect();
    assert!(answered_lines.len() >= 7, "{log}");
    assert!(
        answered_lines.iter().all(|e| e["span"]["request_id"]
            .as_str()
            .is_some_and(|id| !id.is_empty())),
        "{log}"
    );
    // Statements' values (names, e-mails) stay out of a debug log, whichever driver ran them.
    assert!(!log.contains("logged@acme.test"), "{log}");
}

#[tokio::test]
async fn sigterm_lets_an_in_flight_request_finish() {
    let (url, _db) = fresh_database().await;
    let ScimGateway {
        server,
        http,
        base,
        scim_base,
        key,
    } = start_with_scim(&url).await;
    let addr = base.trim_start_matches("http://").to_string();
    let path = scim_base.trim_start_matches(base.as_str()).to_string() + "/Users";

    // A create whose body is half sent when the signal comes.
    let body = json!({ "userName": "in-flight@acme.test" }).to_string();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {key}\r\nContent-Type: application/scim+json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let (first, rest) = body.as_bytes().split_at(body.len() / 2);
    stream.write_all(first).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.send_terminate();
    tokio::time::sleep(Duration::from_millis(300)).await;

    // No new connections once shutting down...
    let late = reqwest::Client::new()
        .get(format!("{base}/healthz"))
        .timeout(Duration::from_secs(2))
        .send()
        .await;
    assert!(
        late.is_err(),
        "a new request was served after SIGTERM: {late:?}"
    );
    // ...but the request under way is finished.
    stream.write_all(rest).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer))
        .await
        .expect("the in-flight request was answered")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    assert!(server.wait_exit().success(), "a clean exit after finishing");

    // And it was committed.
    let again = Server::start(&url);
    let base = Server::base_url(&again.read_until("listening on"));
    let found = http
        .get(format!(
            "{base}{path}?filter=userName%20eq%20%22in-flight@acme.test%22"
        ))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    let found: Value = found.json().await.unwrap();
    assert_eq!(found["totalResults"], 1, "{found}");
    assert!(again.terminate().success());
}

/// An internal failure (here a table gone from under the service) answers a bare 500, and its
/// cause is logged exactly once: in the request's own "answered" line, at error level.
#[tokio::test]
async fn an_internal_failure_is_logged_once_with_its_cause() {
    let (url, _db) = fresh_database().await;
    let LoggedServer {
        server,
        _log_dir,
        log_path,
        token,
        base,
        http,
        scim_base,
        key,
    } = LoggedServer::start(&url, "info", &[]).await;

    let db = sea_orm::Database::connect(url.as_str()).await.unwrap();
    for table in ["member_emails", "group_role_mappings"] {
        sea_orm::ConnectionTrait::execute_unprepared(&db, &format!("DROP TABLE {table}"))
            .await
            .unwrap();
    }
    db.close().await.unwrap();
    let failed = http
        .post(format!("{scim_base}/Users"))
        .bearer_auth(&key)
        .header("X-Request-Id", "broken-4242")
        .header("Content-Type", "application/scim+json")
        .body(
            json!({ "userName": "e@acme.test", "emails": [{ "value": "e@acme.test" }] })
                .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(failed.status(), 500);
    let body = failed.text().await.unwrap();
    assert!(
        !body.contains("member_emails"),
        "the cause reached the client: {body}"
    );
    // The same through GraphQL: an INTERNAL error without its cause.
    let answer: Value = http
        .post(format!("{base}/graphql"))
        .bearer_auth(&token)
        .header("X-Request-Id", "broken-4243")
        .json(&json!({ "query": "{ workspace { groupRoleMappings { groupName } } }" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        answer["errors"][0]["extensions"]["code"], "INTERNAL",
        "{answer}"
    );
    assert!(
        !answer.to_string().contains("group_role_mappings"),
        "{answer}"
    );
    assert!(server.terminate().success());

    let log = std::fs::read_to_string(&log_path).unwrap();
    for (table, request_id, status) in [
        ("member_emails", "broken-4242", 500),
        ("group_role_mappings", "broken-4243", 200),
    ] {
        let naming_the_cause: Vec<Value> = log
            .lines()
            .filter(|l| l.contains(table))
            .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}")))
            .collect();
        assert_eq!(naming_the_cause.len(), 1, "{table} once:\n{log}");
        let line = &naming_the_cause[0];
        assert_eq!(line["fields"]["message"], "answered", "{line}");
        assert_eq!(line["level"], "ERROR", "{line}");
        assert_eq!(line["span"]["request_id"], request_id, "{line}");
        assert_eq!(line["fields"]["status"], status, "{line}");
    }
}

/// A gateway process writing JSON logs to a file at `level`, signed in, with SCIM on and a key.
struct LoggedServer {
    server: Server,
    _log_dir: tempfile::TempDir,
    log_path: std::path::PathBuf,
    token: String,
    base: String,
    http: reqwest::Client,
    scim_base: String,
    key: String,
}

impl LoggedServer {
    async fn start(url: &str, level: &str, env: &[(&str, &str)]) -> LoggedServer {
        let log_dir = tempfile::tempdir().unwrap();
        let log_path = log_dir.path().join("gateway.log");
        let log_file = std::fs::File::create(&log_path).unwrap();
        let mut all = vec![
            ("SCIM_GATEWAY_LOG", level),
            ("SCIM_GATEWAY_LOG_FORMAT", "json"),
        ];
        all.extend_from_slice(env);
        let server = Server::start_with(url, &all, Stdio::from(log_file));
        let lines = server.read_until("listening on");
        let token = Server::sign_in_token(&lines).expect("a sign-in link on first start");
        let base = Server::base_url(&lines);
        let http = reqwest::Client::new();
        let (scim_base, key) = enable_scim_over_http(&http, &base, &token).await;
        LoggedServer {
            server,
            _log_dir: log_dir,
            log_path,
            token,
            base,
            http,
            scim_base,
            key,
        }
    }
}
