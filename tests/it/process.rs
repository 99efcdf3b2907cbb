//! The gateway binary as a separate process: a running `scim-gateway serve` whose stdout lines
//! are collected.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::{CONFIGURE_SAML, ENABLE_SCIM_WITH_KEY, certificate_pem, scim_credentials};

pub const BIN: &str = env!("CARGO_BIN_EXE_scim-gateway");

pub struct Server {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
}

impl Server {
    /// The server's process id (to read its CPU time from `/proc`).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Starts `serve` on an ephemeral port (no web build) over `database_url`.
    pub fn start(database_url: &str) -> Server {
        Self::start_with(database_url, &[], Stdio::null())
    }

    /// With more environment (over `SCIM_GATEWAY_LOG=warn`), and its log output sent to `stderr`.
    pub fn start_with(database_url: &str, env: &[(&str, &str)], stderr: Stdio) -> Server {
        Self::spawn(Command::new(BIN), database_url, env, stderr)
    }

    /// Under a descriptor limit of `nofile` (soft and hard), as a service manager would start it.
    pub fn start_limited(
        database_url: &str,
        nofile: u64,
        env: &[(&str, &str)],
        stderr: Stdio,
    ) -> Server {
        let mut prlimit = Command::new("prlimit");
        prlimit
            .arg(format!("--nofile={nofile}:{nofile}"))
            .arg("--")
            .arg(BIN);
        Self::spawn(prlimit, database_url, env, stderr)
    }

    fn spawn(
        mut command: Command,
        database_url: &str,
        env: &[(&str, &str)],
        stderr: Stdio,
    ) -> Server {
        let mut child = command
            .args([
                "serve",
                "--bind",
                "127.0.0.1:0",
                "--web-dir",
                "/nonexistent",
            ])
            .env("DATABASE_URL", database_url)
            .env("SCIM_GATEWAY_LOG", "warn")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Server { child, lines: rx }
    }

    /// Lines up to and including the one that contains `needle`.
    pub fn read_until(&self, needle: &str) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut seen = Vec::new();
        while Instant::now() < deadline {
            if let Ok(line) = self.lines.recv_timeout(Duration::from_millis(200)) {
                let done = line.contains(needle);
                seen.push(line);
                if done {
                    return seen;
                }
            }
        }
        panic!("no line with {needle:?} within 30 s; saw {seen:?}");
    }

    /// The address of the `listening on` line among `lines`.
    pub fn base_url(lines: &[String]) -> String {
        let listening = lines
            .iter()
            .find(|l| l.contains("listening on "))
            .expect("a listening line");
        listening
            .rsplit("listening on ")
            .next()
            .unwrap()
            .trim()
            .to_string()
    }

    /// The admin token of the sign-in link printed on a first start, if among `lines`.
    pub fn sign_in_token(lines: &[String]) -> Option<String> {
        lines
            .iter()
            .find_map(|l| l.rsplit_once("#token=").map(|(_, t)| t.trim().to_string()))
    }

    pub fn terminate(self) -> std::process::ExitStatus {
        self.send_terminate();
        self.wait_exit()
    }

    /// SIGKILL: the process dies where it is, as in a crash or an OOM kill.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, without waiting for the process to exit.
    pub fn send_terminate(&self) {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    }

    /// Waits up to 15 s for the process to exit.
    pub fn wait_exit(mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "did not stop within 15 s of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    /// A test that fails midway leaves no server behind.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// GET of a SCIM URL with the key, which must answer 200: the answer.
pub async fn scim_get(http: &reqwest::Client, url: &str, key: &str) -> Value {
    let response = http.get(url).bearer_auth(key).send().await.unwrap();
    assert_eq!(response.status(), 200, "{url}");
    response.json().await.unwrap()
}

/// POST of a SCIM JSON body with the key: (status, answer).
pub async fn scim_post(http: &reqwest::Client, url: &str, key: &str, body: &Value) -> (u16, Value) {
    let response = http
        .post(url)
        .bearer_auth(key)
        .header("Content-Type", "application/scim+json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A GraphQL call that must succeed.
pub async fn gql(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    query: &str,
    variables: Value,
) -> Value {
    let response = http
        .post(format!("{base}/graphql"))
        .bearer_auth(token)
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(body.get("errors").is_none(), "{body}");
    assert!(body["data"].is_object(), "no data: {body}");
    body
}

/// A gateway started for the first time on a database, with SAML configured, SCIM on and a key.
pub struct ScimGateway {
    pub server: Server,
    pub http: reqwest::Client,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    pub scim_base: String,
    pub key: String,
}

/// Starts a gateway on a new database and switches SCIM on with the first start's sign-in link.
pub async fn start_with_scim(database_url: &str) -> ScimGateway {
    start_with_scim_using(Server::start(database_url)).await
}

/// [`start_with_scim`] for a server started otherwise (with more environment, its log kept).
pub async fn start_with_scim_using(server: Server) -> ScimGateway {
    let lines = server.read_until("listening on");
    let token = Server::sign_in_token(&lines).expect("a sign-in link on first start");
    let base = Server::base_url(&lines);
    let http = reqwest::Client::new();
    let (scim_base, key) = enable_scim(&http, &base, &token).await;
    ScimGateway {
        server,
        http,
        base,
        scim_base,
        key,
    }
}

/// Configures SAML, switches SCIM on and generates a key through the admin API of the server
/// at `base`: (SCIM base URL, key secret).
pub async fn enable_scim(http: &reqwest::Client, base: &str, token: &str) -> (String, String) {
    let saml = json!({ "input": {
        "idpEntityId": "http://www.okta.com/exk1test",
        "ssoUrl": "https://example.okta.com/app/sso/saml",
        "certificatePem": certificate_pem(365),
    }});
    gql(http, base, token, CONFIGURE_SAML, saml).await;
    let answer = gql(http, base, token, ENABLE_SCIM_WITH_KEY, json!({})).await;
    scim_credentials(&answer)
}
