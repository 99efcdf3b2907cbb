//! Command line and environment. Every flag has an environment variable; flags win.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::limits::Limits;

#[derive(Parser, Debug)]
#[command(
    name = "scim-gateway",
    version,
    about = "SAML & SCIM settings (GraphQL + web page) and SCIM 2.0 provisioning for Okta and Microsoft Entra ID"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Database: `sqlite://path?mode=rwc` (default) or `postgres://user@host/db`.
    #[arg(long, env = "DATABASE_URL", default_value = crate::db::DEFAULT_DATABASE_URL, global = true)]
    pub database_url: String,

    /// Database pool size per process.
    #[arg(
        long,
        env = "SCIM_GATEWAY_DB_MAX_CONNECTIONS",
        default_value_t = 8,
        global = true
    )]
    pub db_max_connections: u32,

    /// PostgreSQL connections per process beside the pool that pipeline the hot point reads
    /// (default: half the CPU count, 1 to 8); 0 sends them through the pool.
    #[arg(long, env = "SCIM_GATEWAY_DB_READ_LANES", global = true)]
    pub db_read_lanes: Option<u32>,

    /// PostgreSQL connections per process beside the pool that send a user's create or update
    /// as one transaction in one round trip (default: 8, opened as concurrent writes need them); 0
    /// sends them through the pool.
    #[arg(long, env = "SCIM_GATEWAY_DB_WRITE_LANES", global = true)]
    pub db_write_lanes: Option<u32>,

    /// Address to listen on.
    #[arg(
        long,
        env = "SCIM_GATEWAY_BIND",
        default_value = "127.0.0.1:8080",
        global = true
    )]
    pub bind: String,

    /// How users and IdPs reach this service (for the SCIM base URL and sign-in links);
    /// default `http://<the bound address>`.
    #[arg(long, env = "SCIM_GATEWAY_PUBLIC_URL", global = true)]
    pub public_url: Option<String>,

    /// Folder of the built settings page and playground.
    #[arg(
        long,
        env = "SCIM_GATEWAY_WEB_DIR",
        default_value = "web/dist",
        global = true
    )]
    pub web_dir: PathBuf,

    /// Activity entries older than this many days are deleted.
    #[arg(
        long,
        env = "SCIM_GATEWAY_ACTIVITY_RETENTION_DAYS",
        default_value_t = 90,
        global = true
    )]
    pub activity_retention_days: u32,

    /// Requests per second one SCIM API key may send after its burst, per process (0: no limit).
    #[arg(
        long,
        env = "SCIM_GATEWAY_SCIM_RATE_LIMIT",
        default_value_t = Limits::default().scim_rate_per_second,
        value_parser = rate,
        global = true
    )]
    pub scim_rate_limit: f64,

    /// Requests one SCIM API key may send at once before the rate limit applies.
    #[arg(
        long,
        env = "SCIM_GATEWAY_SCIM_RATE_BURST",
        default_value_t = Limits::default().scim_burst,
        global = true
    )]
    pub scim_rate_burst: u32,

    /// Requests per second one client (an IPv4 address, an IPv6 /64) may send to the public
    /// sign-in routes after its burst, per process (0: no limit).
    #[arg(
        long,
        env = "SCIM_GATEWAY_PUBLIC_RATE_LIMIT",
        default_value_t = Limits::default().public_rate_per_second,
        value_parser = rate,
        global = true
    )]
    pub public_rate_limit: f64,

    /// Requests one client may send to the public sign-in routes at once.
    #[arg(
        long,
        env = "SCIM_GATEWAY_PUBLIC_RATE_BURST",
        default_value_t = Limits::default().public_burst,
        global = true
    )]
    pub public_rate_burst: u32,

    /// Reverse proxies (addresses or networks, comma-separated) whose X-Forwarded-For names the
    /// client; from any other peer the header is ignored.
    #[arg(
        long,
        env = "SCIM_GATEWAY_TRUSTED_PROXIES",
        value_parser = crate::client_address::parse_networks,
        default_value = "",
        global = true
    )]
    pub trusted_proxies: std::vec::Vec<crate::client_address::Network>,

    /// The DNS server claimed domains' TXT records are looked up at, as `address:port` (e.g.
    /// `10.0.0.2:53`); unset, the system's resolver (`/etc/resolv.conf`).
    #[arg(long, env = "SCIM_GATEWAY_DNS_SERVER", global = true)]
    pub dns_server: Option<std::net::SocketAddr>,

    /// Seconds between the background rounds that look up claimed domains due for a check
    /// (each domain keeps its own schedule: pending every 10 minutes, verified daily).
    #[arg(
        long,
        env = "SCIM_GATEWAY_DOMAIN_CHECK_SECS",
        default_value_t = 30,
        value_parser = clap::value_parser!(u64).range(1..=3600),
        global = true
    )]
    pub domain_check_secs: u64,

    /// Seconds a request may run before it is stopped and answered 503.
    #[arg(
        long,
        env = "SCIM_GATEWAY_REQUEST_TIMEOUT_SECS",
        default_value_t = Limits::default().request_timeout.as_secs(),
        global = true
    )]
    pub request_timeout_secs: u64,

    /// Seconds a client may take to send a request head (from its first byte, or from
    /// connecting) before the connection is closed.
    #[arg(
        long,
        env = "SCIM_GATEWAY_HEAD_TIMEOUT_SECS",
        default_value_t = Limits::default().head_timeout.as_secs(),
        global = true
    )]
    pub head_timeout_secs: u64,
    /// Seconds a keep-alive connection may stay idle between requests.
    #[arg(
        long,
        env = "SCIM_GATEWAY_IDLE_TIMEOUT_SECS",
        default_value_t = Limits::default().idle_timeout.as_secs(),
        global = true
    )]
    pub idle_timeout_secs: u64,
    /// Most connections open at once (past it, the longest idle or stalled one is closed);
    /// default: the descriptor limit less the database pool and 64.
    #[arg(long, env = "SCIM_GATEWAY_MAX_CONNECTIONS", global = true)]
    pub max_connections: Option<usize>,
    /// Hours an SSO session lasts; signing out, SCIM deactivation or removal end it sooner.
    #[arg(
        long,
        env = "SCIM_GATEWAY_SESSION_HOURS",
        default_value_t = 12,
        value_parser = clap::value_parser!(u32).range(1..=720),
        global = true
    )]
    pub session_hours: u32,
    /// Bearer token `/metrics` asks for (Prometheus' `authorization` setting); unset, `/metrics`
    /// is off.
    #[arg(
        long,
        env = "SCIM_GATEWAY_METRICS_TOKEN",
        hide_env_values = true,
        global = true
    )]
    pub metrics_token: Option<String>,

    /// Log filter, as RUST_LOG (e.g. `info`, `scim_gateway=debug,sqlx=warn`).
    #[arg(long, env = "SCIM_GATEWAY_LOG", default_value = "info", global = true)]
    pub log: String,

    /// Log format.
    #[arg(long, env = "SCIM_GATEWAY_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
}

#[derive(Subcommand, Debug, Clone)]
pub enum Command {
    /// Apply migrations and serve (the default).
    Serve,
    /// Apply pending migrations and exit.
    Migrate,
    /// Print the GraphQL schema (SDL) and exit.
    PrintSchema,
    /// Create an admin token, creating the workspace (with this account as its owner) or the
    /// admin membership when missing. Prints only the token on stdout.
    AdminToken {
        /// Workspace slug.
        #[arg(long)]
        workspace: String,
        /// The admin's e-mail.
        #[arg(long)]
        email: String,
        /// The admin's given name, shown in SCIM (`name.givenName`) and on the page.
        #[arg(long)]
        given_name: Option<String>,
        /// The admin's family name (`name.familyName`).
        #[arg(long)]
        family_name: Option<String>,
        /// Days until the token expires, 1 to 3650 (default 30).
        #[arg(long, value_name = "DAYS", conflicts_with = "never_expires")]
        expires_in_days: Option<i64>,
        /// A token that works until revoked (break-glass, kept offline).
        #[arg(long)]
        never_expires: bool,
    },
    /// A workspace's claimed e-mail domains, as the operator manages them.
    Domains {
        #[command(subcommand)]
        action: DomainsCommand,
    },
}

#[derive(Subcommand, Debug, Clone)]
pub enum DomainsCommand {
    /// Vouch for DOMAIN on behalf of a workspace, without DNS: it is verified at once (recorded
    /// as verified by the operator) and never looked up. Refused when another workspace has
    /// verified it.
    Verify {
        /// Workspace slug (or id).
        #[arg(long)]
        workspace: String,
        /// The e-mail domain, e.g. acme.com.
        domain: String,
    },
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

impl Cli {
    /// PostgreSQL's lanes per process (`--db-read-lanes`, `--db-write-lanes`); unused on
    /// SQLite.
    pub fn db_lanes(&self) -> crate::db::Lanes {
        let default = crate::db::Lanes::default();
        crate::db::Lanes {
            reads: self.db_read_lanes.map_or(default.reads, |n| n as usize),
            writes: self.db_write_lanes.map_or(default.writes, |n| n as usize),
        }
    }

    /// The limits, with the connection budget derived from `nofile` (the descriptor limit the
    /// process runs with) unless `--max-connections` sets it.
    pub fn limits(&self, nofile: u64) -> Limits {
        let secs = |s: u64| std::time::Duration::from_secs(s.max(1));
        Limits {
            scim_rate_per_second: self.scim_rate_limit,
            scim_burst: self.scim_rate_burst,
            public_rate_per_second: self.public_rate_limit,
            public_burst: self.public_rate_burst,
            request_timeout: secs(self.request_timeout_secs),
            head_timeout: secs(self.head_timeout_secs),
            idle_timeout: secs(self.idle_timeout_secs),
            max_connections: match self.max_connections {
                Some(n) if n > 0 => n,
                _ => {
                    let lanes = self.db_lanes();
                    let connections = self.db_max_connections + (lanes.reads + lanes.writes) as u32;
                    Limits::connection_budget(nofile, connections)
                }
            },
        }
    }

    /// The configured public URL without a trailing slash; `None` means "the bound address".
    pub fn public_url(&self) -> Option<String> {
        self.public_url
            .as_deref()
            .map(|u| u.trim().trim_end_matches('/').to_string())
            .filter(|u| !u.is_empty())
    }
}

/// A rate: a finite number, 0 or more.
fn rate(value: &str) -> Result<f64, String> {
    match value.trim().parse::<f64>() {
        Ok(r) if r.is_finite() && r >= 0.0 => Ok(r),
        _ => Err(format!(
            "{value:?} is not a rate (requests per second, 0 or more)"
        )),
    }
}

/// Every `SCIM_GATEWAY_*` variable this program reads.
pub const KNOWN_ENV: &[&str] = &[
    "SCIM_GATEWAY_DB_MAX_CONNECTIONS",
    "SCIM_GATEWAY_DB_READ_LANES",
    "SCIM_GATEWAY_DB_WRITE_LANES",
    "SCIM_GATEWAY_BIND",
    "SCIM_GATEWAY_PUBLIC_URL",
    "SCIM_GATEWAY_WEB_DIR",
    "SCIM_GATEWAY_ACTIVITY_RETENTION_DAYS",
    "SCIM_GATEWAY_SCIM_RATE_LIMIT",
    "SCIM_GATEWAY_SCIM_RATE_BURST",
    "SCIM_GATEWAY_PUBLIC_RATE_LIMIT",
    "SCIM_GATEWAY_PUBLIC_RATE_BURST",
    "SCIM_GATEWAY_TRUSTED_PROXIES",
    "SCIM_GATEWAY_DNS_SERVER",
    "SCIM_GATEWAY_DOMAIN_CHECK_SECS",
    "SCIM_GATEWAY_REQUEST_TIMEOUT_SECS",
    "SCIM_GATEWAY_HEAD_TIMEOUT_SECS",
    "SCIM_GATEWAY_IDLE_TIMEOUT_SECS",
    "SCIM_GATEWAY_MAX_CONNECTIONS",
    "SCIM_GATEWAY_SESSION_HOURS",
    "SCIM_GATEWAY_METRICS_TOKEN",
    "SCIM_GATEWAY_LOG",
    "SCIM_GATEWAY_LOG_FORMAT",
];

/// `SCIM_GATEWAY_*` names that this program does not read: most likely typos, worth a warning.
pub fn unknown_env_vars(names: impl Iterator<Item = String>) -> Vec<String> {
    let mut unknown: Vec<String> = names
        .filter(|n| n.starts_with("SCIM_GATEWAY_") && !KNOWN_ENV.contains(&n.as_str()))
        .collect();
    unknown.sort();
    unknown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn misspelled_variables_are_reported() {
        let names = [
            "SCIM_GATEWAY_BIND",
            "SCIM_GATEWAY_PUBLIC_ULR",
            "PATH",
            "SCIM_GATEWAY_LOG",
        ];
        assert_eq!(
            unknown_env_vars(names.iter().map(|s| s.to_string())),
            ["SCIM_GATEWAY_PUBLIC_ULR"]
        );
    }

    #[test]
    fn every_known_variable_is_a_flag() {
        use clap::CommandFactory;
        let command = Cli::command();
        let envs: Vec<String> = command
            .get_arguments()
            .filter_map(|a| a.get_env().map(|e| e.to_string_lossy().into_owned()))
            .collect();
        for name in KNOWN_ENV {
            assert!(
                envs.iter().any(|e| e == name),
                "{name} is not read by any flag"
            );
        }
        for env in envs.iter().filter(|e| e.starts_with("SCIM_GATEWAY_")) {
            assert!(
                KNOWN_ENV.contains(&env.as_str()),
                "{env} is missing from KNOWN_ENV"
            );
        }
    }
}
