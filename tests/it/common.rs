use std::path::PathBuf;

use reqwest::StatusCode;
use scim_gateway::entities::{group, group_member};
use scim_gateway::{AppState, Settings, db, domain};
use sea_orm::{ActiveValue::Set, ConnectionTrait, DatabaseConnection, EntityTrait, Statement};
use serde_json::{Value, json};
use tokio::sync::oneshot;

/// Where a test's database lives.
pub enum TestDb {
    Sqlite {
        _dir: tempfile::TempDir,
        file: PathBuf,
    },
    Postgres {
        name: String,
    },
}

/// The PostgreSQL admin URL the suite runs on: `TEST_DATABASE_URL` when set (it must then name a
/// PostgreSQL server: anything else is an error, never a silent fall-back to SQLite), `None`
/// when unset (SQLite).
pub fn postgres_admin_url() -> Option<String> {
    let url = match std::env::var("TEST_DATABASE_URL") {
        Ok(url) => url,
        Err(std::env::VarError::NotPresent) => return None,
        Err(e) => panic!("TEST_DATABASE_URL is not usable: {e}"),
    };
    assert!(
        url.starts_with("postgres://") || url.starts_with("postgresql://"),
        "TEST_DATABASE_URL={url:?} is set but is not a postgres:// URL; unset it to test on SQLite"
    );
    Some(url)
}

/// A fresh database: a SQLite file in a temp folder, or a new database on the PostgreSQL server
/// of `TEST_DATABASE_URL` (e.g. `postgres://postgres@127.0.0.1:5432/postgres`).
pub async fn fresh_database() -> (String, TestDb) {
    match postgres_admin_url() {
        Some(admin_url) => {
            let name = format!("scimgw_t_{}", uuid_simple());
            let admin = db::connect(&admin_url, 1)
                .await
                .expect("connect to TEST_DATABASE_URL");
            admin
                .execute_raw(Statement::from_string(
                    admin.get_database_backend(),
                    format!("CREATE DATABASE {name}"),
                ))
                .await
                .expect("create test database");
            admin.close().await.ok();
            let base = admin_url
                .rsplit_once('/')
                .map(|(b, _)| b)
                .unwrap_or(&admin_url);
            (format!("{base}/{name}"), TestDb::Postgres { name })
        }
        None => {
            let dir = tempfile::tempdir().expect("temp dir");
            let file = dir.path().join("test.db");
            let url = format!("sqlite://{}?mode=rwc", file.display());
            (url, TestDb::Sqlite { _dir: dir, file })
        }
    }
}

impl Drop for TestDb {
    /// Drops a test's PostgreSQL database (its connections too) so runs leave nothing behind.
    fn drop(&mut self) {
        let TestDb::Postgres { name } = self else {
            return;
        };
        let (Ok(admin_url), name) = (std::env::var("TEST_DATABASE_URL"), name.clone()) else {
            return;
        };
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                if let Ok(admin) = db::connect(&admin_url, 1).await {
                    let _ = admin
                        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await;
                    admin.close().await.ok();
                }
            });
        })
        .join();
    }
}

pub fn uuid_simple() -> String {
    domain::new_id().replace('-', "")
}

pub struct TestApp {
    pub url: String,
    /// The database's URL, as the server was started with it.
    pub db_url: String,
    pub db: DatabaseConnection,
    pub database: TestDb,
    pub client: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|settings| settings).await
    }

    /// With settings other than the defaults (limits, a metrics token).
    pub async fn spawn_with(configure: impl FnOnce(Settings) -> Settings) -> TestApp {
        let (db_url, database) = fresh_database().await;
        let conn = db::connect(&db_url, 4).await.expect("connect");
        db::migrate(&conn).await.expect("migrate");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let settings = Settings::new(
            &url,
            PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/web/dist")),
        );
        let settings = configure(settings);
        let writer = db::connect_writer(&db_url, &conn)
            .await
            .expect("connect writer");
        let state = AppState::new(&db_url, conn.clone(), writer, settings);
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(async move {
            scim_gateway::serve(listener, state, async {
                let _ = rx.await;
            })
            .await
            .expect("serve");
        });
        TestApp {
            url,
            db_url,
            db: conn,
            database,
            client: reqwest::Client::new(),
            shutdown: Some(tx),
        }
    }

    /// An admin token for `email` in workspace `slug`, as the `admin-token` command makes it.
    pub async fn admin_token(&self, slug: &str, email: &str) -> String {
        domain::admin::issue_token(&self.db, slug, email)
            .await
            .expect("issue admin token")
            .token
    }

    /// Vouches for `domain` on behalf of `workspace` (slug or id), as the operator's
    /// `scim-gateway domains verify` does.
    pub async fn vouch(&self, workspace: &str, domain: &str) {
        domain::domains::vouch(&self.db, workspace, domain)
            .await
            .unwrap_or_else(|e| panic!("vouch for {domain} in {workspace}: {e}"));
    }

    /// Vouches for the e-mail domain of the admin behind `token` in its workspace (what SAML
    /// needs before it can be configured); returns the domain.
    pub async fn vouch_admin_domain(&self, token: &str) -> String {
        let me = self
            .gql(Some(token), "{ me { userName } }", json!({}))
            .await;
        let user_name = me["data"]["me"]["userName"].as_str().expect("me.userName");
        let domain = user_name.rsplit_once('@').expect("an e-mail").1.to_string();
        let workspace = self.workspace_id(token).await;
        self.vouch(&workspace, &domain).await;
        domain
    }

    /// Workspace id of a token, through the API.
    pub async fn workspace_id(&self, token: &str) -> String {
        let body = self
            .gql(Some(token), "{ workspace { id } }", json!({}))
            .await;
        body["data"]["workspace"]["id"]
            .as_str()
            .expect("workspace id")
            .to_string()
    }

    /// POST /graphql that must succeed: a 200 with `data` and no `errors`; returns the body.
    pub async fn gql(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let (status, body) = self.gql_raw(token, query, variables).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body.get("errors").is_none(), "GraphQL errors: {body}");
        assert!(body["data"].is_object(), "no data: {body}");
        body
    }

    /// POST /graphql that must fail: a 200 with at least one error, each with an
    /// `extensions.code`; returns the body (read the code with [`error_code`]).
    pub async fn gql_errors(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let (status, body) = self.gql_raw(token, query, variables).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let errors = body["errors"]
            .as_array()
            .unwrap_or_else(|| panic!("no errors: {body}"));
        assert!(!errors.is_empty(), "no errors: {body}");
        for error in errors {
            assert!(
                error["extensions"]["code"].is_string(),
                "an error without a code: {body}"
            );
        }
        body
    }

    pub async fn gql_raw(
        &self,
        token: Option<&str>,
        query: &str,
        variables: Value,
    ) -> (StatusCode, Value) {
        let mut request = self
            .client
            .post(format!("{}/graphql", self.url))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        let response = request.send().await.expect("request");
        let status = response.status();
        (status, response.json().await.expect("JSON body"))
    }

    /// Creates a member (a person in the workspace) with an optional direct role.
    pub async fn add_member(
        &self,
        workspace_id: &str,
        email: &str,
        direct: Option<domain::roles::Role>,
    ) -> String {
        let account = domain::workspaces::find_or_create_account(&self.db, email)
            .await
            .unwrap();
        domain::workspaces::add_member(&self.db, workspace_id, &account, false, direct)
            .await
            .unwrap()
            .id
    }

    /// Creates a group with members, as an IdP's group push leaves them (before SCIM exists,
    /// straight in the tables), then recomputes their roles like every membership change does.
    pub async fn add_group(&self, workspace_id: &str, name: &str, member_ids: &[&str]) -> String {
        let id = domain::new_id();
        let now = domain::now();
        group::Entity::insert(group::ActiveModel {
            id: Set(id.clone()),
            workspace_id: Set(workspace_id.to_string()),
            display_name: Set(name.to_string()),
            name_key: Set(domain::roles::group_key(name)),
            external_id: Set(None),
            attributes: Set("{}".into()),
            version: Set(1),
            created_at: Set(now),
            updated_at: Set(now),
        })
        .exec(&self.db)
        .await
        .unwrap();
        for member_id in member_ids {
            group_member::Entity::insert(group_member::ActiveModel {
                group_id: Set(id.clone()),
                member_id: Set(member_id.to_string()),
                workspace_id: Set(workspace_id.to_string()),
                created_at: Set(now),
            })
            .exec(&self.db)
            .await
            .unwrap();
        }
        let ids: Vec<String> = member_ids.iter().map(|s| s.to_string()).collect();
        domain::roles::recompute(&self.db, workspace_id, &ids)
            .await
            .unwrap();
        id
    }

    /// Sets a member inactive straight in the table, as leaving the workspace outside SCIM does.
    pub async fn deactivate_outside_scim(&self, member_id: &str) {
        use scim_gateway::entities::member;
        let found = member::Entity::find_by_id(member_id.to_string())
            .one(&self.db)
            .await
            .unwrap()
            .expect("member");
        member::Entity::update(member::ActiveModel {
            active: Set(false),
            ..found.into()
        })
        .exec(&self.db)
        .await
        .unwrap();
    }

    /// A member's stored effective role.
    pub async fn effective_role(&self, member_id: &str) -> String {
        scim_gateway::entities::member::Entity::find_by_id(member_id.to_string())
            .one(&self.db)
            .await
            .unwrap()
            .expect("member")
            .effective_role
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// The `extensions.code` of the first error.
pub fn error_code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no error code in {body}"))
}

/// A self-signed certificate as an IdP would publish, valid from yesterday for `days` days
/// (negative: already expired).
pub fn certificate_pem(days: i64) -> String {
    let mut params = rcgen::CertificateParams::new(vec!["idp.example.com".to_string()]).unwrap();
    let now = time::OffsetDateTime::now_utc();
    if days < 0 {
        params.not_before = now - time::Duration::days(400);
        params.not_after = now + time::Duration::days(days);
    } else {
        params.not_before = now - time::Duration::days(1);
        params.not_after = now + time::Duration::days(days);
    }
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Test IdP signing");
    let key = rcgen::KeyPair::generate().unwrap();
    params.self_signed(&key).unwrap().pem()
}

pub const CONFIGURE_SAML: &str = "mutation($input: SamlInput!) { configureSaml(input: $input) { configured idpEntityId ssoUrl certificateSubject certificateExpiresAt certificateExpiresSoon } }";

/// Configures SAML with valid fields; returns the response body.
pub async fn configure_saml(app: &TestApp, token: &str) -> Value {
    app.vouch_admin_domain(token).await;
    app.gql(
        Some(token),
        CONFIGURE_SAML,
        json!({ "input": {
            "idpEntityId": "http://www.okta.com/exk1test",
            "ssoUrl": "https://example.okta.com/app/sso/saml",
            "certificatePem": certificate_pem(365),
        }}),
    )
    .await
}

/// Whole days from now to an RFC 3339 timestamp in a response.
pub fn days_from_now(ts: &Value) -> i64 {
    let at = chrono::DateTime::parse_from_rfc3339(ts.as_str().expect("a timestamp")).unwrap();
    (at.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_days()
}

/// A workspace with SAML configured, SCIM on and an API key: what an IdP talks to.
pub struct Scim {
    pub app: TestApp,
    pub admin: String,
    pub key: String,
    pub base: String,
}

pub struct ScimResponse {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Scim {
    pub async fn start() -> Scim {
        Self::start_with(|settings| settings).await
    }

    /// The workspace's id, as the SCIM base URL names it.
    pub fn workspace_id(&self) -> String {
        self.base
            .split("/api/teams/")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .expect("a SCIM base URL names its workspace")
            .to_string()
    }

    pub async fn start_with(configure: impl FnOnce(Settings) -> Settings) -> Scim {
        let app = TestApp::spawn_with(configure).await;
        let admin = app.admin_token("acme", "owner@acme.test").await;
        let (base, key) = enable_scim(&app, &admin).await;
        Scim {
            app,
            admin,
            key,
            base,
        }
    }

    /// Any request to `base + path` with the key; `body` as application/scim+json.
    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> ScimResponse {
        self.call_with(method, path, body, &[]).await
    }

    /// A request that must succeed (2xx): for writes whose effect the test reads back next.
    pub async fn ok(&self, method: &str, path: &str, body: Option<Value>) -> ScimResponse {
        let r = self.call(method, path, body).await;
        assert!(
            r.status.is_success(),
            "{method} {path}: {} {}",
            r.status,
            r.body
        );
        r
    }

    pub async fn call_with(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> ScimResponse {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self
            .app
            .client
            .request(method, format!("{}{path}", self.base))
            .header("Authorization", format!("Bearer {}", self.key));
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        if let Some(body) = body {
            request = request
                .header("Content-Type", "application/scim+json")
                .body(body.to_string());
        }
        let response = request.send().await.expect("request");
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
        };
        ScimResponse {
            status,
            headers,
            body,
        }
    }

    /// POST /Users with a typical Okta body; returns the new id.
    pub async fn create_user(&self, email: &str, given: &str, family: &str) -> String {
        let r = self
            .call(
                "POST",
                "/Users",
                Some(json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "userName": email,
                    "name": { "givenName": given, "familyName": family },
                    "emails": [{ "primary": true, "value": email, "type": "work" }],
                    "active": true
                })),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        r.body["id"].as_str().unwrap().to_string()
    }

    pub async fn create_group(&self, name: &str, members: &[&str]) -> String {
        let members: Vec<Value> = members.iter().map(|m| json!({ "value": m })).collect();
        let r = self
            .call(
                "POST",
                "/Groups",
                Some(json!({ "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name, "members": members })),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        r.body["id"].as_str().unwrap().to_string()
    }
}

/// Switches SCIM on and generates a key; [`scim_credentials`] reads the answer.
pub const ENABLE_SCIM_WITH_KEY: &str =
    "mutation { enableScim { baseUrl } generateApiKey(name: \"idp\") { secret } }";

/// (SCIM base URL, key secret) from the answer to [`ENABLE_SCIM_WITH_KEY`].
pub fn scim_credentials(answer: &Value) -> (String, String) {
    let text = |v: &Value| v.as_str().unwrap().to_string();
    (
        text(&answer["data"]["enableScim"]["baseUrl"]),
        text(&answer["data"]["generateApiKey"]["secret"]),
    )
}

/// Configures SAML and SCIM for the admin's workspace and generates a key: (base URL, secret).
pub async fn enable_scim(app: &TestApp, admin: &str) -> (String, String) {
    configure_saml(app, admin).await;
    let answer = app.gql(Some(admin), ENABLE_SCIM_WITH_KEY, json!({})).await;
    scim_credentials(&answer)
}

/// Asserts an RFC 7644 error body with this status (and scimType, when given).
pub fn assert_scim_error(r: &ScimResponse, status: u16, scim_type: Option<&str>) {
    assert_eq!(r.status.as_u16(), status, "{}", r.body);
    assert_eq!(
        r.headers["content-type"], "application/scim+json",
        "{}",
        r.body
    );
    assert_eq!(
        r.body["schemas"],
        json!(["urn:ietf:params:scim:api:messages:2.0:Error"])
    );
    assert_eq!(r.body["status"], status.to_string());
    assert!(
        r.body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{}",
        r.body
    );
    if let Some(t) = scim_type {
        assert_eq!(r.body["scimType"], t, "{}", r.body);
    }
}
