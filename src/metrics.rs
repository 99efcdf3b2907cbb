//! `/metrics` in Prometheus' text format: requests by route, method and status with latency
//! histograms, SCIM operations by workspace and client, the database pools and the process's
//! memory. Counted in this process; Prometheus adds across replicas. The endpoint shows every
//! workspace's counts, so it answers only with `SCIM_GATEWAY_METRICS_TOKEN` (and not at all
//! without one).

use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

use axum::http::Method;
use foldhash::HashMap; // fast, seeded per process: these maps are on every request's path
use sea_orm::{DatabaseBackend, DatabaseConnection};

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Default)]
pub struct Metrics {
    /// Route → method → counts.
    requests: Mutex<HashMap<String, Vec<(Method, RouteStats)>>>,
    /// Workspace → (client, method, resource, status) → count.
    scim: Mutex<HashMap<String, HashMap<ScimOperation, u64>>>,
}

#[derive(Default)]
struct RouteStats {
    by_status: Vec<(u16, u64)>,
    /// Cumulative counts are computed when rendered; each slot counts its own bucket.
    buckets: [u64; BUCKETS.len() + 1],
    seconds: f64,
}

#[derive(Clone, PartialEq, Eq, Hash)]
struct ScimOperation {
    client: &'static str,
    method: Method,
    resource: &'static str,
    status: u16,
}

impl Metrics {
    pub fn observe(&self, route: &str, method: &Method, status: u16, elapsed: Duration) {
        let mut requests = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        let methods = match requests.get_mut(route) {
            Some(methods) => methods,
            None => requests.entry(route.to_string()).or_default(),
        };
        let stats = match methods.iter().position(|(m, _)| m == method) {
            Some(i) => &mut methods[i].1,
            None => {
                methods.push((method.clone(), RouteStats::default()));
                &mut methods.last_mut().expect("just pushed").1
            }
        };
        match stats.by_status.iter_mut().find(|(s, _)| *s == status) {
            Some((_, n)) => *n += 1,
            None => stats.by_status.push((status, 1)),
        }
        let seconds = elapsed.as_secs_f64();
        let bucket = BUCKETS
            .iter()
            .position(|le| seconds <= *le)
            .unwrap_or(BUCKETS.len());
        stats.buckets[bucket] += 1;
        stats.seconds += seconds;
    }

    /// One SCIM request of a workspace's client, by the route it matched below the SCIM base.
    pub fn scim_operation(
        &self,
        workspace_id: &str,
        client: &'static str,
        method: &Method,
        resource: &'static str,
        status: u16,
    ) {
        let operation = ScimOperation {
            client,
            method: method.clone(),
            resource,
            status,
        };
        let mut scim = self.scim.lock().unwrap_or_else(|e| e.into_inner());
        let operations = match scim.get_mut(workspace_id) {
            Some(operations) => operations,
            None => scim.entry(workspace_id.to_string()).or_default(),
        };
        *operations.entry(operation).or_default() += 1;
    }

    /// The text exposition format, version 0.0.4.
    pub fn render(&self, pools: &[(&str, &DatabaseConnection)]) -> String {
        let mut out = String::new();
        let requests = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        let mut routes: Vec<_> = requests.iter().collect();
        routes.sort_by(|a, b| a.0.cmp(b.0));
        out.push_str("# HELP http_requests_total HTTP requests answered, by route, method and status.\n# TYPE http_requests_total counter\n");
        for (route, methods) in &routes {
            for (method, stats) in methods.iter() {
                let mut statuses = stats.by_status.clone();
                statuses.sort_unstable();
                for (status, n) in statuses {
                    let _ = writeln!(
                        out,
                        "http_requests_total{{route=\"{}\",method=\"{}\",status=\"{status}\"}} {n}",
                        escape(route),
                        method
                    );
                }
            }
        }
        out.push_str("# HELP http_request_duration_seconds Time to answer, by route and method.\n# TYPE http_request_duration_seconds histogram\n");
        for (route, methods) in &routes {
            for (method, stats) in methods.iter() {
                let labels = format!("route=\"{}\",method=\"{method}\"", escape(route));
                let mut cumulative = 0;
                for (i, le) in BUCKETS.iter().enumerate() {
                    cumulative += stats.buckets[i];
                    let _ = writeln!(
                        out,
                        "http_request_duration_seconds_bucket{{{labels},le=\"{le}\"}} {cumulative}"
                    );
                }
                cumulative += stats.buckets[BUCKETS.len()];
                let _ = writeln!(
                    out,
                    "http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {cumulative}"
                );
                let _ = writeln!(
                    out,
                    "http_request_duration_seconds_sum{{{labels}}} {}",
                    stats.seconds
                );
                let _ = writeln!(
                    out,
                    "http_request_duration_seconds_count{{{labels}}} {cumulative}"
                );
            }
        }
        drop(requests);

        out.push_str("# HELP scim_operations_total SCIM requests by workspace, client (from the User-Agent), method, resource and status.\n# TYPE scim_operations_total counter\n");
        let scim = self.scim.lock().unwrap_or_else(|e| e.into_inner());
        let mut workspaces: Vec<_> = scim.iter().collect();
        workspaces.sort_by(|a, b| a.0.cmp(b.0));
        for (workspace, operations) in workspaces {
            let mut operations: Vec<_> = operations.iter().collect();
            operations.sort_by(|a, b| {
                (a.0.client, a.0.resource, a.0.method.as_str(), a.0.status).cmp(&(
                    b.0.client,
                    b.0.resource,
                    b.0.method.as_str(),
                    b.0.status,
                ))
            });
            for (op, n) in operations {
                let _ = writeln!(
                    out,
                    "scim_operations_total{{workspace=\"{}\",client=\"{}\",method=\"{}\",resource=\"{}\",status=\"{}\"}} {n}",
                    escape(workspace),
                    op.client,
                    op.method,
                    op.resource,
                    op.status
                );
            }
        }
        drop(scim);

        out.push_str("# HELP db_pool_connections Database connections of this process, by pool and state.\n# TYPE db_pool_connections gauge\n");
        for (name, db) in pools {
            let (size, idle) = pool_size(db);
            let _ = writeln!(
                out,
                "db_pool_connections{{pool=\"{name}\",state=\"idle\"}} {idle}"
            );
            let _ = writeln!(
                out,
                "db_pool_connections{{pool=\"{name}\",state=\"in_use\"}} {}",
                size.saturating_sub(idle)
            );
        }
        if let Some(bytes) = resident_bytes() {
            out.push_str("# HELP process_resident_memory_bytes Resident memory of this process.\n# TYPE process_resident_memory_bytes gauge\n");
            let _ = writeln!(out, "process_resident_memory_bytes {bytes}");
        }
        out
    }
}

fn pool_size(db: &DatabaseConnection) -> (u32, u32) {
    match db.get_database_backend() {
        DatabaseBackend::Sqlite => {
            let pool = db.get_sqlite_connection_pool();
            (pool.size(), u32::try_from(pool.num_idle()).unwrap_or(0))
        }
        DatabaseBackend::Postgres => {
            let pool = db.get_postgres_connection_pool();
            (pool.size(), u32::try_from(pool.num_idle()).unwrap_or(0))
        }
        _ => (0, 0),
    }
}

/// Resident memory from /proc (Linux), in bytes.
fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// A label value with `\`, `"` and newlines escaped.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The route a request matched, carried out on its response for `serving::every_request`.
#[derive(Clone)]
pub struct MatchedRoute(&'static str);

impl MatchedRoute {
    pub fn new(route: &'static str) -> Self {
        MatchedRoute(route)
    }

    pub fn as_str(&self) -> &str {
        self.0
    }
}
