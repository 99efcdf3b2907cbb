//! `scim-bench`: starts the release gateway on a fresh database, runs what Okta and Entra do with
//! closed-loop keep-alive clients, checks every answer, runs a minimal axum "ceiling" the same way,
//! and prints one table. `make bench` runs it; `--postgres URL` runs it on PostgreSQL.

mod http;
mod instructions;
mod saml_documents;
mod sign_in;

use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::http::{Conn, Reply};

#[derive(Parser)]
#[command(about = "Load benchmark of scim-gateway")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// The ceiling: a minimal axum handler returning a fixed SCIM user.
    Ceiling {
        #[arg(long, default_value = "127.0.0.1:0")]
        bind: String,
    },
    /// Run every workload and print the table.
    Run {
        /// The gateway binary (built with --release).
        #[arg(long, default_value = "target/release/scim-gateway")]
        gateway: String,
        /// PostgreSQL admin URL: run on a fresh database there instead of SQLite.
        #[arg(long)]
        postgres: Option<String>,
        /// Seconds per rate workload.
        #[arg(long, default_value_t = 5)]
        seconds: u64,
        /// Members seeded before the read workloads.
        #[arg(long, default_value_t = 2000)]
        members: usize,
        /// Also seed up to this many members and compare lookups and deep pages with the small
        /// workspace (0: skip).
        #[arg(long, default_value_t = 0)]
        big: usize,
        /// Members of the group another workspace pushes during the fairness workload (0: skip).
        #[arg(long, default_value_t = 10_000)]
        fairness: usize,
        /// Keep the SQLite database of the run and print its folder (to look into a `--big`
        /// database without loading it again).
        #[arg(long)]
        keep_database: bool,
    },
    /// A valid SSO sign-in's latency at the ACS, idle and while one client posts the worst
    /// documents it can from several connections.
    SignIn {
        /// The gateway binary (built with --release).
        #[arg(long, default_value = "target/release/scim-gateway")]
        gateway: String,
        /// Sign-ins measured per phase.
        #[arg(long, default_value_t = 200)]
        sign_ins: usize,
        /// The attacker's connections.
        #[arg(long, default_value_t = 8)]
        attackers: usize,
    },
    /// User-space instructions per lookup and GET, counted by valgrind's callgrind: the same
    /// figure run after run, for comparing a change to the request path.
    Instructions {
        /// The gateway binary (built with --release).
        #[arg(long, default_value = "target/release/scim-gateway")]
        gateway: String,
        /// Requests counted per workload.
        #[arg(long, default_value_t = 400)]
        requests: u64,
        /// Keep callgrind's dumps (one per workload) in this folder, for `callgrind_annotate`.
        #[arg(long)]
        keep: Option<std::path::PathBuf>,
    },
}

const USER_JSON: &str = r#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"2819c223-7f76-453a-919d-413861904646","externalId":"bjensen","userName":"bjensen@example.com","name":{"givenName":"Barbara","familyName":"Jensen"},"displayName":"Babs Jensen","active":true,"emails":[{"value":"bjensen@example.com","type":"work","primary":true}],"meta":{"resourceType":"User","created":"2026-01-23T04:56:22.000Z","lastModified":"2026-05-13T04:42:34.000Z","location":"http://localhost/scim/v2/Users/2819c223-7f76-453a-919d-413861904646","version":"W/\"3\""}}"#;

#[tokio::main]
async fn main() {
    match Cli::parse().command {
        Cmd::Ceiling { bind } => ceiling(&bind).await,
        Cmd::Run {
            gateway,
            postgres,
            seconds,
            members,
            big,
            fairness,
            keep_database,
        } => {
            run(
                &gateway,
                postgres,
                seconds,
                members,
                big,
                fairness,
                keep_database,
            )
            .await
        }
        Cmd::Instructions {
            gateway,
            requests,
            keep,
        } => instructions::run(&gateway, requests, keep.as_deref()).await,
        Cmd::SignIn {
            gateway,
            sign_ins,
            attackers,
        } => sign_in::run(&gateway, sign_ins, attackers).await,
    }
}

async fn ceiling(bind: &str) {
    use axum::routing::get;
    let app = axum::Router::new().route(
        "/Users/{id}",
        get(|| async { ([("content-type", "application/scim+json")], USER_JSON) }),
    );
    let listener = tokio::net::TcpListener::bind(bind).await.expect("bind");
    println!("listening on http://{}", listener.local_addr().unwrap());
    axum::serve(listener, app).await.unwrap();
}

/// `command` (the gateway, or a wrapper given its path) serving `database_url` on a free port.
fn serve(mut command: Command, database_url: &str) -> Command {
    command
        .args([
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--web-dir",
            "/nonexistent",
        ])
        .env("DATABASE_URL", database_url)
        .env("SCIM_GATEWAY_LOG", "warn")
        // Far above any workload here: the per-key check still runs on every request.
        .env("SCIM_GATEWAY_SCIM_RATE_LIMIT", "1000000000");
    command
}

/// A started server process and the address it listens on.
struct Server {
    child: Child,
    addr: String,
    first_lines: Vec<String>,
}

impl Server {
    async fn start(mut command: Command) -> Server {
        command
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        let mut child = command.spawn().expect("start server");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut first_lines = Vec::new();
        loop {
            let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
                .await
                .expect("server start within 60 s")
                .expect("read")
                .expect("server exited before listening");
            let done = line.contains("listening on http://");
            first_lines.push(line.clone());
            if done {
                let addr = line.rsplit("http://").next().unwrap().trim().to_string();
                tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
                if let Some(pid) = child.id() {
                    SERVERS.lock().unwrap().push((addr.clone(), pid));
                }
                return Server {
                    child,
                    addr,
                    first_lines,
                };
            }
        }
    }

    /// The admin token of the sign-in link a first start prints.
    fn sign_in_token(&self) -> String {
        self.first_lines
            .iter()
            .find_map(|l| l.split("#token=").nth(1))
            .expect("sign-in link on first start")
            .trim()
            .to_string()
    }

    /// Peak and current resident memory in MiB, from /proc.
    fn memory(&self) -> (f64, f64) {
        let pid = self.child.id().unwrap_or(0);
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let kib = |key: &str| {
            status
                .lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        (kib("VmHWM:") / 1024.0, kib("VmRSS:") / 1024.0)
    }
}

/// The request a client sends next: (client number, request number) → request.
type Workload = Arc<dyn Fn(usize, u64) -> Op + Send + Sync>;

/// One request of a workload and what its answer must be.
struct Op {
    method: &'static str,
    path: String,
    body: Option<String>,
    status: u16,
    contains: Option<String>,
}

struct Stats {
    name: String,
    clients: usize,
    requests: u64,
    errors: u64,
    elapsed: Duration,
    latencies_us: Vec<u32>,
    /// The ceiling's rate in the slices this workload alternated with, when it did.
    paired_ceiling: Option<f64>,
    /// CPU time the server process spent meanwhile (user + system).
    server_cpu: Duration,
    /// The part of `server_cpu` spent in the kernel (system time: sockets, wake-ups, file reads).
    server_kernel_cpu: Duration,
    /// CPU time this load generator spent meanwhile.
    client_cpu: Duration,
    /// CPU time the local PostgreSQL server's processes spent meanwhile (zero on SQLite, whose
    /// work is the server's own).
    database_cpu: Duration,
}

impl Stats {
    /// One workload's slices as one measurement.
    fn merge(mut self, other: Stats) -> Stats {
        self.requests += other.requests;
        self.errors += other.errors;
        self.elapsed += other.elapsed;
        self.server_cpu += other.server_cpu;
        self.server_kernel_cpu += other.server_kernel_cpu;
        self.client_cpu += other.client_cpu;
        self.database_cpu += other.database_cpu;
        self.latencies_us.extend(other.latencies_us);
        self.latencies_us.sort_unstable();
        self
    }

    fn rate(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }
    /// CPU per request, in µs: steadier than rates on a machine whose speed drifts.
    fn cpu_per_request(&self, cpu: Duration) -> f64 {
        cpu.as_secs_f64() * 1e6 / self.requests.max(1) as f64
    }
    fn percentile(&self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return 0.0;
        }
        let i = ((self.latencies_us.len() as f64 - 1.0) * p).round() as usize;
        self.latencies_us[i] as f64 / 1000.0
    }
}

/// Closed loop: each client sends its next request when the last one answered, for `duration`
/// or `max_per_client` requests, whichever comes first. Every answer is checked.
async fn closed_loop(
    name: &str,
    addr: &str,
    auth: Option<String>,
    clients: usize,
    duration: Duration,
    max_per_client: u64,
    op: Workload,
) -> Stats {
    let cpu_before = (
        server_cpu(addr),
        process_cpu("self"),
        postgres_cpu(),
        server_kernel_cpu(addr),
    );
    let start = Instant::now();
    let deadline = start + duration;
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (addr, auth, op) = (addr.to_string(), auth.clone(), op.clone());
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::open(&addr, auth).await;
            let (mut lat, mut errors, mut n) = (Vec::new(), 0u64, 0u64);
            while Instant::now() < deadline && n < max_per_client {
                let op = op(c, n);
                let t = Instant::now();
                let reply = conn.send(op.method, &op.path, op.body.as_deref()).await;
                lat.push(t.elapsed().as_micros() as u32);
                if !check(&reply, &op) {
                    errors += 1;
                    if errors == 1 {
                        eprintln!(
                            "  unexpected answer {} to {} {}: {}",
                            reply.status,
                            op.method,
                            op.path,
                            String::from_utf8_lossy(&reply.body)
                                .chars()
                                .take(300)
                                .collect::<String>()
                        );
                    }
                }
                n += 1;
            }
            (lat, errors, n)
        }));
    }
    let mut stats = Stats {
        name: name.to_string(),
        clients,
        requests: 0,
        errors: 0,
        elapsed: Duration::ZERO,
        latencies_us: Vec::new(),
        paired_ceiling: None,
        server_cpu: Duration::ZERO,
        server_kernel_cpu: Duration::ZERO,
        client_cpu: Duration::ZERO,
        database_cpu: Duration::ZERO,
    };
    for t in tasks {
        let (lat, errors, n) = t.await.unwrap();
        stats.latencies_us.extend(lat);
        stats.errors += errors;
        stats.requests += n;
    }
    stats.elapsed = start.elapsed();
    stats.server_cpu = server_cpu(addr).saturating_sub(cpu_before.0);
    stats.server_kernel_cpu = server_kernel_cpu(addr).saturating_sub(cpu_before.3);
    stats.client_cpu = process_cpu("self").saturating_sub(cpu_before.1);
    stats.database_cpu = postgres_cpu().saturating_sub(cpu_before.2);
    stats.latencies_us.sort_unstable();
    stats
}

/// The processes this benchmark started, by the address they listen on: a workload names its
/// server by address.
static SERVERS: std::sync::Mutex<Vec<(String, u32)>> = std::sync::Mutex::new(Vec::new());

/// User + system CPU time of the server listening on `addr` (zero if unknown).
fn server_cpu(addr: &str) -> Duration {
    server_pid(addr).map_or(Duration::ZERO, |pid| process_cpu(&pid.to_string()))
}

/// System CPU time of the server listening on `addr` (zero if unknown).
fn server_kernel_cpu(addr: &str) -> Duration {
    server_pid(addr).map_or(Duration::ZERO, |pid| process_times(&pid.to_string()).1)
}

fn server_pid(addr: &str) -> Option<u32> {
    SERVERS
        .lock()
        .unwrap()
        .iter()
        .find(|(a, _)| a == addr)
        .map(|(_, pid)| *pid)
}

/// User + system CPU time of every process named `postgres` on this machine (the local server's
/// backends and helpers), from /proc: what the database spent on a workload.
fn postgres_cpu() -> Duration {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Duration::ZERO;
    };
    entries
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter(|e| {
            std::fs::read_to_string(e.path().join("comm"))
                .is_ok_and(|comm| comm.trim() == "postgres")
        })
        .map(|e| process_cpu(&e.file_name().to_string_lossy()))
        .sum()
}

/// User + system CPU time of a process (`self` or a pid), from /proc.
fn process_cpu(pid: &str) -> Duration {
    let (user, system) = process_times(pid);
    user + system
}

/// User and system CPU time of a process (`self` or a pid), from /proc.
fn process_times(pid: &str) -> (Duration, Duration) {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return (Duration::ZERO, Duration::ZERO);
    };
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and
    // 13th, in clock ticks of 1/100 s on Linux.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (
        Duration::from_millis(ticks(11) * 10),
        Duration::from_millis(ticks(12) * 10),
    )
}

fn check(reply: &Reply, op: &Op) -> bool {
    reply.status == op.status
        && op
            .contains
            .as_ref()
            .is_none_or(|needle| memfind(&reply.body, needle.as_bytes()))
}

fn memfind(haystack: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(haystack, needle).is_some()
}

fn certificate_pem() -> String {
    let mut params = rcgen::CertificateParams::new(vec!["idp.bench".to_string()]).unwrap();
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(365);
    params
        .self_signed(&rcgen::KeyPair::generate().unwrap())
        .unwrap()
        .pem()
}

async fn graphql(addr: &str, token: &str, query: &str, variables: Value) -> Value {
    let mut conn = Conn::open(addr, Some(format!("Bearer {token}"))).await;
    let body = json!({ "query": query, "variables": variables }).to_string();
    let reply = conn.send("POST", "/graphql", Some(&body)).await;
    let value: Value = serde_json::from_slice(&reply.body).expect("GraphQL JSON");
    assert!(value.get("errors").is_none(), "GraphQL error: {value}");
    value["data"].clone()
}

/// Creates `count` users named `{prefix}{i}@bench.test` through /Bulk, 1000 per request; returns
/// their ids in order.
async fn seed(conn: &mut Conn, base: &str, prefix: &str, from: usize, count: usize) -> Vec<String> {
    let mut ids = Vec::with_capacity(count);
    let mut i = from;
    while i < from + count {
        let n = (from + count - i).min(1000);
        let ops: Vec<Value> = (i..i + n)
            .map(|k| {
                json!({ "method": "POST", "path": "/Users", "bulkId": format!("b{k}"),
                    "data": { "userName": format!("{prefix}{k}@bench.test"), "name": { "givenName": "Bench", "familyName": format!("User {k}") },
                              "emails": [{ "value": format!("{prefix}{k}@bench.test"), "type": "work", "primary": true }], "active": true } })
            })
            .collect();
        let body = json!({ "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": ops }).to_string();
        let reply = conn
            .send("POST", &format!("{base}/Bulk"), Some(&body))
            .await;
        assert_eq!(
            reply.status,
            200,
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
        let value: Value = serde_json::from_slice(&reply.body).unwrap();
        for op in value["Operations"].as_array().unwrap() {
            assert_eq!(op["status"], "201", "{op}");
            ids.push(
                op["location"]
                    .as_str()
                    .unwrap()
                    .rsplit('/')
                    .next()
                    .unwrap()
                    .to_string(),
            );
        }
        i += n;
    }
    ids
}

async fn run(
    gateway: &str,
    postgres: Option<String>,
    seconds: u64,
    members: usize,
    big: usize,
    fairness_members: usize,
    keep_database: bool,
) {
    let duration = Duration::from_secs(seconds);
    let machine = format!(
        "{} cores, {}",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0),
        std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(
                |c| c.lines().find(|l| l.starts_with("model name")).map(|l| l
                    .split(':')
                    .nth(1)
                    .unwrap_or("")
                    .trim()
                    .to_string())
            )
            .unwrap_or_default()
    );
    let mut rows: Vec<Stats> = Vec::new();

    // Ceiling.
    let me = std::env::current_exe().unwrap();
    let mut ceiling_cmd = Command::new(&me);
    ceiling_cmd.args(["ceiling"]);
    let ceiling = Server::start(ceiling_cmd).await;
    let ceiling_stats = closed_loop(
        "ceiling: fixed SCIM user (axum)",
        &ceiling.addr,
        None,
        16,
        duration,
        u64::MAX,
        Arc::new(|_, _| Op {
            method: "GET",
            path: "/Users/x".into(),
            body: None,
            status: 200,
            contains: Some("bjensen".into()),
        }),
    )
    .await;

    // The gateway on a fresh database.
    let dir = tempfile::tempdir().unwrap();
    let (database_url, pg_name) = match &postgres {
        Some(admin) => {
            let name = format!("scimgw_bench_{}", std::process::id());
            let status = std::process::Command::new("psql")
                .args([admin.as_str(), "-qc", &format!("create database {name}")])
                .status()
                .expect("psql");
            assert!(status.success(), "create database {name}");
            (database_url(admin, &name), Some(name))
        }
        None => (
            format!("sqlite://{}/bench.db?mode=rwc", dir.path().display()),
            None,
        ),
    };
    let server = Server::start(serve(Command::new(gateway), &database_url)).await;
    let token = server.sign_in_token();
    let addr = server.addr.clone();
    let (base, auth) = enable_scim(&addr, &token).await;
    let mut admin_conn = Conn::open(&addr, auth.clone()).await;

    let t = Instant::now();
    let ids = Arc::new(seed(&mut admin_conn, &base, "u", 0, members).await);
    let seed_time = t.elapsed();
    let n = ids.len();

    // Lookups and gets alternate with the ceiling in slices: their ratios to it hold even when
    // the machine's speed drifts during the run.
    let slice = Ord::max(duration / 3, Duration::from_secs(1));
    let ceiling_op: Workload = Arc::new(|_, _| Op {
        method: "GET",
        path: "/Users/x".into(),
        body: None,
        status: 200,
        contains: Some("bjensen".into()),
    });
    let mut ceiling_stats = ceiling_stats;
    for (name, op) in [
        ("lookup filter=userName eq", lookup_op(base.clone(), "u", n)),
        ("GET /Users/{id}", get_op(base.clone(), ids.clone())),
    ] {
        let (paired, mut stats) = alternating(
            ("ceiling", &ceiling.addr, None, ceiling_op.clone()),
            (name, &addr, auth.clone(), op),
            slice,
        )
        .await;
        stats.paired_ceiling = Some(paired.rate());
        ceiling_stats = ceiling_stats.merge(paired);
        rows.push(stats);
    }
    drop(ceiling);
    let b = base.clone();
    let pages = (n / 100).max(1);
    rows.push(
        closed_loop(
            "list 100 users per page",
            &addr,
            auth.clone(),
            8,
            duration,
            u64::MAX,
            list_op(b, pages),
        )
        .await,
    );
    let b = base.clone();
    rows.push(
        closed_loop(
            "list, deep page (last 100)",
            &addr,
            auth.clone(),
            8,
            duration,
            u64::MAX,
            Arc::new(move |_, _| Op {
                method: "GET",
                path: format!("{b}/Users?startIndex={}&count=100", n.saturating_sub(99)),
                body: None,
                status: 200,
                contains: Some("\"itemsPerPage\":100".into()),
            }),
        )
        .await,
    );
    rows.push(
        closed_loop(
            "create user",
            &addr,
            auth.clone(),
            8,
            duration,
            u64::MAX,
            create_op(base.clone(), "new"),
        )
        .await,
    );
    let (b, ids2) = (base.clone(), ids.clone());
    rows.push(
        closed_loop("PATCH user", &addr, auth.clone(), 8, duration, u64::MAX, Arc::new(move |c, i| {
            let id = &ids2[spread(c, i, n)];
            let body = json!({ "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{ "op": "replace", "path": "displayName", "value": format!("d{c}-{i}") }] }).to_string();
            Op { method: "PATCH", path: format!("{b}/Users/{id}"), body: Some(body), status: 200, contains: Some(format!("d{c}-{i}")) }
        }))
        .await,
    );

    // Okta's "Push Profile Updates": the name and the active flag of random members.
    rows.push(
        closed_loop(
            "profile update (PATCH name + active)",
            &addr,
            auth.clone(),
            8,
            duration,
            u64::MAX,
            profile_op(base.clone(), ids.clone()),
        )
        .await,
    );

    // Group push: 2,000 members in 100-member PATCHes, then removed, in both removal forms.
    let push_n = n.min(2000);
    let mut push_rows = Vec::new();
    for form in ["members[value eq] ops", "Entra value list"] {
        let reply = admin_conn
            .send(
                "POST",
                &format!("{base}/Groups"),
                Some(&json!({ "displayName": format!("Push {form}") }).to_string()),
            )
            .await;
        assert_eq!(reply.status, 201);
        let group: Value = serde_json::from_slice(&reply.body).unwrap();
        let gid = group["id"].as_str().unwrap().to_string();
        let t = Instant::now();
        patch_members(&mut admin_conn, &base, &gid, &ids[..push_n], "add").await;
        let added = t.elapsed();
        let count = member_count(&mut admin_conn, &base, &gid).await;
        assert_eq!(count, push_n, "members after the push");
        let t = Instant::now();
        if form.starts_with("members") {
            for chunk in ids[..push_n].chunks(100) {
                let ops: Vec<Value> = chunk.iter().map(|id| json!({ "op": "remove", "path": format!("members[value eq \"{id}\"]") })).collect();
                let body = json!({ "Operations": ops }).to_string();
                let r = admin_conn
                    .send("PATCH", &format!("{base}/Groups/{gid}"), Some(&body))
                    .await;
                assert_eq!(r.status, 204, "{}", String::from_utf8_lossy(&r.body));
            }
        } else {
            patch_members(&mut admin_conn, &base, &gid, &ids[..push_n], "Remove").await;
        }
        let removed = t.elapsed();
        assert_eq!(
            member_count(&mut admin_conn, &base, &gid).await,
            0,
            "members after removal"
        );
        push_rows.push((form, added, removed));
    }

    // Fairness: another workspace pushes a big group while this one looks users up.
    let fair = if fairness_members > 0 {
        let (pusher_base, pusher_auth) =
            another_workspace(gateway, &database_url, &addr, "pusher").await;
        let mut pusher_conn = Conn::open(&addr, pusher_auth.clone()).await;
        let pusher_ids =
            Arc::new(seed(&mut pusher_conn, &pusher_base, "p", 0, fairness_members).await);
        Some(
            fairness(
                &addr,
                (&pusher_base, pusher_auth),
                (&base, auth.clone()),
                pusher_ids,
                "u",
                n,
                Ord::max(duration * 2, Duration::from_secs(8)),
            )
            .await,
        )
    } else {
        None
    };

    // Two gateway processes on one PostgreSQL under the lookup load, as replicas run: on 2 cores
    // they share the CPU; the point is that nothing serialises them.
    let replicas = if postgres.is_some() {
        let second = Server::start(serve(Command::new(gateway), &database_url)).await;
        let (one, two) = tokio::join!(
            closed_loop(
                "lookup, process 1",
                &addr,
                auth.clone(),
                8,
                duration,
                u64::MAX,
                lookup_op(base.clone(), "u", n)
            ),
            closed_loop(
                "lookup, process 2",
                &second.addr,
                auth.clone(),
                8,
                duration,
                u64::MAX,
                lookup_op(base.clone(), "u", n)
            ),
        );
        let single = rows
            .iter()
            .find(|r| r.name.starts_with("lookup"))
            .map_or(0.0, Stats::rate);
        Some((one, two, single))
    } else {
        None
    };

    // PostgreSQL's own limit on this machine, in the same run.
    let pgbench_tps = postgres.as_deref().map(|admin| pgbench(admin, seconds));

    let (peak, rss) = server.memory();
    println!();
    println!(
        "scim-gateway load benchmark — {} — {machine}",
        if postgres.is_some() {
            "PostgreSQL"
        } else {
            "SQLite"
        }
    );
    println!(
        "seeded {n} members through /Bulk in {:.1} s ({:.0}/s); {seconds} s per workload; closed loop, keep-alive",
        seed_time.as_secs_f64(),
        n as f64 / seed_time.as_secs_f64()
    );
    println!();
    println!(
        "| workload | clients | requests | rate/s | p50 ms | p99 ms | errors | vs ceiling | CPU µs/req server | of it kernel | CPU µs/req bench | CPU µs/req PostgreSQL |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    let ceiling_rate = ceiling_stats.rate();
    for s in std::iter::once(&ceiling_stats).chain(rows.iter()) {
        println!(
            "| {} | {} | {} | {:.0} | {:.2} | {:.2} | {} | {:.2} | {:.1} | {:.1} | {:.1} | {} |",
            s.name,
            s.clients,
            s.requests,
            s.rate(),
            s.percentile(0.5),
            s.percentile(0.99),
            s.errors,
            s.rate() / s.paired_ceiling.unwrap_or(ceiling_rate),
            s.cpu_per_request(s.server_cpu),
            s.cpu_per_request(s.server_kernel_cpu),
            s.cpu_per_request(s.client_cpu),
            if postgres.is_some() {
                format!("{:.1}", s.cpu_per_request(s.database_cpu))
            } else {
                "in the server".to_string()
            }
        );
    }
    println!();
    println!(
        "lookup and GET ran in {:.1} s slices alternating with the ceiling (3 rounds each); their ratio is to the ceiling of those slices ({}); the ceiling row merges all its runs",
        slice.as_secs_f64(),
        rows.iter()
            .filter_map(|r| r.paired_ceiling)
            .map(|c| format!("{c:.0}/s"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    if let Some((one, two, single)) = &replicas {
        println!();
        println!(
            "| two gateway processes on one PostgreSQL, lookups, 8 clients each | rate/s | p50 ms | p99 ms | errors |"
        );
        println!("|---|---|---|---|---|");
        for s in [one, two] {
            println!(
                "| {} | {:.0} | {:.2} | {:.2} | {} |",
                s.name,
                s.rate(),
                s.percentile(0.5),
                s.percentile(0.99),
                s.errors
            );
        }
        println!(
            "| both | {:.0} ({:.2}× one process's {single:.0}/s) | | | |",
            one.rate() + two.rate(),
            (one.rate() + two.rate()) / single
        );
    }
    if let Some(tps) = pgbench_tps {
        let lookup = rows
            .iter()
            .find(|r| r.name.starts_with("lookup"))
            .map_or(0.0, Stats::rate);
        println!();
        println!(
            "PostgreSQL's own limit, same run: pgbench -S -M prepared -c 16 -j 2 (scale 10) {tps:.0} tps; the lookup's rate is {:.2} of it",
            lookup / tps
        );
    }
    println!();
    println!("| group push of {push_n} members, 100 per PATCH | add | remove | total |");
    println!("|---|---|---|---|");
    for (form, added, removed) in &push_rows {
        println!(
            "| removal as {form} | {:.2} s | {:.2} s | {:.2} s |",
            added.as_secs_f64(),
            removed.as_secs_f64(),
            (*added + *removed).as_secs_f64()
        );
    }
    if let Some(f) = &fair {
        let ms = |p: f64| {
            let i = ((f.lookups.len().saturating_sub(1)) as f64 * p).round() as usize;
            f.lookups.get(i).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
        };
        println!();
        println!(
            "| fairness: another workspace pushes {} members ({} pushes + removals, {:.2} s per push) | lookups | p50 ms | p99 ms | max ms | wrong |",
            f.pushed,
            f.pushes,
            f.push_time.as_secs_f64() / f.pushes as f64
        );
        println!("|---|---|---|---|---|---|");
        println!(
            "| this workspace's lookups at 25/s | {} | {:.2} | {:.2} | {:.2} | {} |",
            f.lookups.len(),
            ms(0.5),
            ms(0.99),
            ms(1.0),
            f.wrong
        );
    }
    println!();
    println!("server memory: peak {peak:.1} MiB, now {rss:.1} MiB resident");

    let mut big_errors = 0;
    if big > 0 {
        // A second workspace of `big` members, measured in slices alternating with this one.
        let (big_base, big_auth) = another_workspace(gateway, &database_url, &addr, "big").await;
        let mut big_conn = Conn::open(&addr, big_auth.clone()).await;
        let loading = Instant::now();
        let big_ids = Arc::new(seed(&mut big_conn, &big_base, "b", 0, big).await);
        let load_time = loading.elapsed();
        let total = big_ids.len();
        let (small_lookup, big_lookup) = alternating(
            (
                "lookup",
                &addr,
                auth.clone(),
                lookup_op(base.clone(), "u", n),
            ),
            (
                "lookup",
                &addr,
                big_auth.clone(),
                lookup_op(big_base.clone(), "b", total),
            ),
            slice,
        )
        .await;
        let (small_get, big_get) = alternating(
            (
                "get",
                &addr,
                auth.clone(),
                get_op(base.clone(), ids.clone()),
            ),
            (
                "get",
                &addr,
                big_auth.clone(),
                get_op(big_base.clone(), big_ids.clone()),
            ),
            slice,
        )
        .await;
        big_errors = [&small_lookup, &big_lookup, &small_get, &big_get]
            .iter()
            .map(|s| s.errors)
            .sum();
        let b = big_base.clone();
        let big_deep = closed_loop(
            "deep page (big workspace)",
            &addr,
            big_auth.clone(),
            8,
            duration,
            u64::MAX,
            Arc::new(move |_, _| Op {
                method: "GET",
                path: format!("{b}/Users?startIndex={}&count=100", total - 99),
                body: None,
                status: 200,
                contains: Some("\"itemsPerPage\":100".into()),
            }),
        )
        .await;
        let b = big_base.clone();
        let big_first = closed_loop(
            "first page (big workspace)",
            &addr,
            big_auth.clone(),
            8,
            duration,
            u64::MAX,
            Arc::new(move |_, _| Op {
                method: "GET",
                path: format!("{b}/Users?startIndex=1&count=100"),
                body: None,
                status: 200,
                contains: Some("\"itemsPerPage\":100".into()),
            }),
        )
        .await;
        big_errors += big_first.errors + big_deep.errors;
        let (peak, rss) = server.memory();
        println!();
        println!(
            "| {total} members vs {n} (another workspace, {} s slices alternating) | rate/s | vs {n} | p99 ms | slowdown | CPU µs/req | vs {n} | CPU ratio |",
            slice.as_secs_f64()
        );
        println!("|---|---|---|---|---|---|---|---|");
        // What a request costs the machine: the server, and on PostgreSQL the database too.
        let cost = |s: &Stats| s.cpu_per_request(s.server_cpu + s.database_cpu);
        for (name, small, big) in [
            ("lookup", &small_lookup, &big_lookup),
            ("GET /Users/{id}", &small_get, &big_get),
        ] {
            println!(
                "| {name} | {:.0} | {:.0} | {:.2} | {:.2}× | {:.1} | {:.1} | {:.2}× |",
                big.rate(),
                small.rate(),
                big.percentile(0.99),
                small.rate() / big.rate(),
                cost(big),
                cost(small),
                cost(big) / cost(small)
            );
        }
        println!(
            "| first page of 100 | {:.0} | | {:.2} | | {:.1} | | |",
            big_first.rate(),
            big_first.percentile(0.99),
            cost(&big_first)
        );
        println!(
            "| last page of 100 | {:.0} | | {:.2} | {:.2}× the first page | {:.1} | | |",
            big_deep.rate(),
            big_deep.percentile(0.99),
            big_first.rate() / big_deep.rate(),
            cost(&big_deep)
        );
        println!();
        println!(
            "server memory after {total} members: peak {peak:.1} MiB, now {rss:.1} MiB resident; loaded through /Bulk in {:.0} s ({:.0}/s)",
            load_time.as_secs_f64(),
            total as f64 / load_time.as_secs_f64()
        );
    }

    drop(server);
    if keep_database && postgres.is_none() {
        println!("database kept in {}", dir.keep().display());
    }
    if let (Some(admin), Some(name)) = (&postgres, pg_name) {
        let _ = std::process::Command::new("psql")
            .args([
                admin.as_str(),
                "-qc",
                &format!("drop database if exists {name} with (force)"),
            ])
            .status();
    }
    let errors: u64 = rows.iter().map(|r| r.errors).sum::<u64>()
        + replicas
            .as_ref()
            .map_or(0, |(one, two, _)| one.errors + two.errors)
        + ceiling_stats.errors
        + fair.as_ref().map_or(0, |f| f.wrong)
        + big_errors;
    if errors > 0 {
        eprintln!("{errors} answers were wrong");
        std::process::exit(1);
    }
}

/// The URL of database `name` on the server of `admin`, with the same parameters (`sslmode`…).
fn database_url(admin: &str, name: &str) -> String {
    let (url, query) = match admin.split_once('?') {
        Some((url, query)) => (url, format!("?{query}")),
        None => (admin, String::new()),
    };
    let base = url.rsplit_once('/').map(|(b, _)| b).unwrap_or(url);
    format!("{base}/{name}{query}")
}

/// Select-only pgbench transactions per second on a database of its own next to the gateway's:
/// what PostgreSQL itself answers on this machine (the `pgbench` of the PostgreSQL binaries on
/// the PATH or under /usr/lib/postgresql).
fn pgbench(admin: &str, seconds: u64) -> f64 {
    let binary = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .chain(
            std::fs::read_dir("/usr/lib/postgresql")
                .into_iter()
                .flatten()
                .flatten()
                .map(|version| version.path().join("bin")),
        )
        .map(|dir| dir.join("pgbench"))
        .find(|candidate| candidate.is_file())
        .expect("pgbench (Debian package postgresql-contrib or postgresql)");
    let name = format!("scimgw_pgbench_{}", std::process::id());
    let psql = |sql: &str| {
        let status = std::process::Command::new("psql")
            .args([admin, "-qc", sql])
            .status()
            .expect("psql");
        assert!(status.success(), "psql: {sql}");
    };
    psql(&format!("create database {name}"));
    let url = database_url(admin, &name);
    let init = std::process::Command::new(&binary)
        .args(["-i", "-q", "-s", "10", &url])
        .output()
        .expect("pgbench -i");
    assert!(
        init.status.success(),
        "pgbench -i: {}",
        String::from_utf8_lossy(&init.stderr)
    );
    let run = std::process::Command::new(&binary)
        .args([
            "-S",
            "-M",
            "prepared",
            "-c",
            "16",
            "-j",
            "2",
            "-T",
            &seconds.to_string(),
            &url,
        ])
        .output()
        .expect("pgbench -S");
    psql(&format!("drop database if exists {name} with (force)"));
    let out = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "pgbench -S: {out}{}",
        String::from_utf8_lossy(&run.stderr)
    );
    out.lines()
        .find_map(|l| l.strip_prefix("tps = "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|tps| tps.parse().ok())
        .unwrap_or_else(|| panic!("no tps in pgbench's output: {out}"))
}

/// A second workspace (made with the `admin-token` command) with SCIM on: its base and key.
async fn another_workspace(
    gateway: &str,
    database_url: &str,
    addr: &str,
    slug: &str,
) -> (String, Option<String>) {
    let out = tokio::process::Command::new(gateway)
        .args([
            "admin-token",
            "--workspace",
            slug,
            "--email",
            &format!("owner@{slug}.test"),
        ])
        .env("DATABASE_URL", database_url)
        .env("SCIM_GATEWAY_LOG", "warn")
        .output()
        .await
        .expect("admin-token");
    assert!(
        out.status.success(),
        "admin-token: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8_lossy(&out.stdout).trim().to_string();
    // SAML (which SCIM needs) waits for a verified domain: the operator vouches for the owner's.
    let out = tokio::process::Command::new(gateway)
        .args([
            "domains",
            "verify",
            "--workspace",
            slug,
            &format!("{slug}.test"),
        ])
        .env("DATABASE_URL", database_url)
        .env("SCIM_GATEWAY_LOG", "warn")
        .output()
        .await
        .expect("domains verify");
    assert!(
        out.status.success(),
        "domains verify: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    enable_scim(addr, &token).await
}

/// Which of `n` members client `c` asks about in its `i`th request: spread over all of them, and
/// different for each client.
fn spread(c: usize, i: u64, n: usize) -> usize {
    (c * 7919 + i as usize * 31) % n
}

/// `filter=userName eq` for one of `n` members seeded with `prefix`.
fn lookup_op(base: String, prefix: &'static str, n: usize) -> Workload {
    Arc::new(move |c, i| {
        let k = spread(c, i, n);
        Op {
            method: "GET",
            path: format!("{base}/Users?filter=userName%20eq%20%22{prefix}{k}%40bench.test%22"),
            body: None,
            status: 200,
            contains: Some(format!("\"userName\":\"{prefix}{k}@bench.test\"")),
        }
    })
}

/// One of the first `pages` full pages of 100 users.
fn list_op(base: String, pages: usize) -> Workload {
    Arc::new(move |c, i| {
        let page = (c + i as usize) % pages;
        Op {
            method: "GET",
            path: format!("{base}/Users?startIndex={}&count=100", page * 100 + 1),
            body: None,
            status: 200,
            contains: Some("\"itemsPerPage\":100".into()),
        }
    })
}

/// POST /Users of a new person (client `c`'s `i`th).
fn create_op(base: String, prefix: &'static str) -> Workload {
    Arc::new(move |c, i| {
        let user_name = format!("{prefix}{c}-{i}@bench.test");
        let body = json!({ "userName": user_name, "name": { "givenName": "New", "familyName": "User" }, "active": true }).to_string();
        Op {
            method: "POST",
            path: format!("{base}/Users"),
            body: Some(body),
            status: 201,
            contains: Some(user_name),
        }
    })
}

/// Okta's "Push Profile Updates": PATCH `name.givenName` and `active` (as it was) of a member.
fn profile_op(base: String, ids: Arc<Vec<String>>) -> Workload {
    Arc::new(move |c, i| {
        let id = &ids[spread(c, i, ids.len())];
        let given = format!("G{c}-{i}");
        let body =
            json!({ "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
            { "op": "replace", "path": "name.givenName", "value": given },
            { "op": "replace", "path": "active", "value": true },
        ] })
            .to_string();
        Op {
            method: "PATCH",
            path: format!("{base}/Users/{id}"),
            body: Some(body),
            status: 200,
            contains: Some(given),
        }
    })
}

/// GET /Users/{id} for one of `ids`.
fn get_op(base: String, ids: Arc<Vec<String>>) -> Workload {
    Arc::new(move |c, i| {
        let id = &ids[spread(c, i, ids.len())];
        Op {
            method: "GET",
            path: format!("{base}/Users/{id}"),
            body: None,
            status: 200,
            contains: Some(format!("\"id\":\"{id}\"")),
        }
    })
}

/// A workload against one server: (name, address, key, requests).
type Side<'a> = (&'a str, &'a str, Option<String>, Workload);

/// Two workloads measured in alternating slices, three rounds, 16 clients (so a machine that
/// speeds up or slows down mid-run moves both alike); each side's slices merged.
async fn alternating(a: Side<'_>, b: Side<'_>, slice: Duration) -> (Stats, Stats) {
    async fn run((name, addr, auth, op): &Side<'_>, slice: Duration) -> Stats {
        closed_loop(name, addr, auth.clone(), 16, slice, u64::MAX, op.clone()).await
    }
    let (mut sa, mut sb) = (run(&a, slice).await, run(&b, slice).await);
    for _ in 1..3 {
        sa = sa.merge(run(&a, slice).await);
        sb = sb.merge(run(&b, slice).await);
    }
    (sa, sb)
}

/// SAML, SCIM on and an API key for the workspace of this admin token: its SCIM base path and
/// the Authorization header of the key.
async fn enable_scim(addr: &str, token: &str) -> (String, Option<String>) {
    graphql(addr, token, "mutation($i: SamlInput!) { configureSaml(input: $i) { configured } }", json!({ "i": { "idpEntityId": "https://idp.bench", "ssoUrl": "https://idp.bench/sso", "certificatePem": certificate_pem() } })).await;
    let data = graphql(
        addr,
        token,
        "mutation { enableScim { baseUrl } generateApiKey(name: \"bench\") { secret } }",
        json!({}),
    )
    .await;
    let base_url = data["enableScim"]["baseUrl"].as_str().unwrap();
    let base = base_url
        .split_once(addr)
        .map(|(_, p)| p.to_string())
        .unwrap();
    let secret = data["generateApiKey"]["secret"].as_str().unwrap();
    (base, Some(format!("Bearer {secret}")))
}

/// What another workspace sees while this one pushes big groups.
struct Fairness {
    pushed: usize,
    pushes: usize,
    push_time: Duration,
    lookups: Vec<Duration>,
    wrong: u64,
}

/// Workspace A pushes a group of `n` members in 100-member PATCHes and removes them again, over
/// and over for `duration`; meanwhile workspace B looks users up at Entra's 25 requests/s
/// (open loop: one every 40 ms, whatever the answers' latency).
async fn fairness(
    addr: &str,
    a: (&str, Option<String>),
    b: (&str, Option<String>),
    ids: Arc<Vec<String>>,
    b_prefix: &'static str,
    b_users: usize,
    duration: Duration,
) -> Fairness {
    let (a_base, a_auth) = (a.0.to_string(), a.1);
    let (b_base, b_auth) = (b.0.to_string(), b.1);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut pusher = Conn::open(addr, a_auth).await;
    let reply = pusher
        .send(
            "POST",
            &format!("{a_base}/Groups"),
            Some(&json!({ "displayName": "Everyone" }).to_string()),
        )
        .await;
    assert_eq!(reply.status, 201);
    let gid = serde_json::from_slice::<Value>(&reply.body).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();

    let looker = {
        let (addr, stop) = (addr.to_string(), stop.clone());
        tokio::spawn(async move {
            let mut conn = Conn::open(&addr, b_auth).await;
            let mut latencies = Vec::new();
            let mut wrong = 0;
            let mut tick = tokio::time::interval(Duration::from_millis(40));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            let mut i = 0u64;
            let lookup = lookup_op(b_base, b_prefix, b_users);
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                tick.tick().await;
                let op = lookup(0, i);
                i += 1;
                let t = Instant::now();
                let r = conn.send(op.method, &op.path, None).await;
                latencies.push(t.elapsed());
                if !check(&r, &op) {
                    wrong += 1;
                }
            }
            (latencies, wrong)
        })
    };

    let started = Instant::now();
    let mut pushes = 0;
    let mut push_time = Duration::ZERO;
    while started.elapsed() < duration || pushes == 0 {
        let t = Instant::now();
        patch_members(&mut pusher, &a_base, &gid, &ids, "add").await;
        push_time += t.elapsed();
        pushes += 1;
        assert_eq!(
            member_count(&mut pusher, &a_base, &gid).await,
            ids.len(),
            "members after a push"
        );
        patch_members(&mut pusher, &a_base, &gid, &ids, "remove").await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (mut lookups, wrong) = looker.await.unwrap();
    lookups.sort();
    Fairness {
        pushed: ids.len(),
        pushes,
        push_time,
        lookups,
        wrong,
    }
}

/// Adds or removes members of a group in 100-member PATCHes with a value list (`op`: "add",
/// "remove"), as Okta and Entra push groups.
async fn patch_members(conn: &mut Conn, base: &str, gid: &str, ids: &[String], op: &str) {
    for chunk in ids.chunks(100) {
        let values: Vec<Value> = chunk.iter().map(|id| json!({ "value": id })).collect();
        let body = json!({ "Operations": [{ "op": op, "path": "members", "value": values }] });
        let r = conn
            .send(
                "PATCH",
                &format!("{base}/Groups/{gid}"),
                Some(&body.to_string()),
            )
            .await;
        assert_eq!(r.status, 204, "{}", String::from_utf8_lossy(&r.body));
    }
}

async fn member_count(conn: &mut Conn, base: &str, gid: &str) -> usize {
    let r = conn
        .send(
            "GET",
            &format!("{base}/Groups/{gid}?attributes=members"),
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    let v: Value = serde_json::from_slice(&r.body).unwrap();
    v["members"].as_array().map(Vec::len).unwrap_or(0)
}
