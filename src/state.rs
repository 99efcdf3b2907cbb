use std::path::PathBuf;
use std::sync::Arc;

use sea_orm::DatabaseConnection;

/// What every request handler shares (cloned per extractor: one reference count). Holds no
/// state another replica would need.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

pub struct Shared {
    /// The database, as the domain reads and writes it.
    pub store: crate::domain::Store,
    pub settings: Arc<Settings>,
    /// Request counts and latencies for `/metrics`.
    pub metrics: crate::metrics::Metrics,
    /// Each SCIM key's request rate, in this process.
    pub rate: crate::domain::rate_limit::RateLimiter,
    /// Each client's budget on the public sign-in routes, in this process.
    pub public_rate: crate::domain::rate_limit::RateLimiter,
    /// The DNS lookups of claimed domains (the resolver and "Check now"'s budget).
    pub domain_checks: Arc<crate::domain::domains::DomainChecks>,
}

impl AppState {
    /// Over the read and write pools opened from `database_url` (`db::connect`,
    /// `db::connect_writer`).
    pub fn new(
        database_url: &str,
        db: DatabaseConnection,
        writer: DatabaseConnection,
        settings: Settings,
    ) -> Self {
        AppState(Arc::new(Shared {
            store: crate::domain::Store::new(db, writer, database_url, settings.db_lanes),
            metrics: crate::metrics::Metrics::default(),
            rate: crate::domain::rate_limit::RateLimiter::new(
                settings.limits.scim_rate_per_second,
                settings.limits.scim_burst,
            ),
            public_rate: crate::domain::rate_limit::RateLimiter::new(
                settings.limits.public_rate_per_second,
                settings.limits.public_burst,
            ),
            domain_checks: Arc::new(crate::domain::domains::DomainChecks::new(
                settings.dns_server,
            )),
            settings: Arc::new(settings),
        }))
    }
}

#[derive(Clone, Debug)]
pub struct Settings {
    /// How the outside world reaches this service, without a trailing slash.
    pub public_url: String,
    /// The built settings page and playground (`web/dist`).
    pub web_dir: PathBuf,
    pub limits: crate::limits::Limits,
    /// SHA-256 of the token `/metrics` asks for; no token, no metrics.
    pub metrics_token_hash: Option<String>,
    /// How long an SSO session lasts.
    pub session_ttl: chrono::TimeDelta,
    /// PostgreSQL lanes: connections beside the pool for the hot reads and writes
    /// (`db::postgres_lanes`).
    pub db_lanes: crate::db::Lanes,
    /// Reverse proxies whose `X-Forwarded-For` names the client (`client_address`).
    pub trusted_proxies: Vec<crate::client_address::Network>,
    /// The DNS server claimed domains are looked up at; `None`: the system's resolver.
    pub dns_server: Option<std::net::SocketAddr>,
    /// How often the background looks for claimed domains due for a DNS check.
    pub domain_check_every: std::time::Duration,
}

impl Settings {
    pub fn new(public_url: &str, web_dir: PathBuf) -> Self {
        Settings {
            public_url: public_url.trim_end_matches('/').to_string(),
            web_dir,
            limits: crate::limits::Limits::default(),
            metrics_token_hash: None,
            session_ttl: crate::domain::sessions::DEFAULT_TTL,
            db_lanes: crate::db::Lanes::default(),
            trusted_proxies: Vec::new(),
            dns_server: None,
            domain_check_every: std::time::Duration::from_secs(30),
        }
    }

    pub fn with_dns_server(self, dns_server: Option<std::net::SocketAddr>) -> Self {
        Settings { dns_server, ..self }
    }

    pub fn with_domain_check_every(self, domain_check_every: std::time::Duration) -> Self {
        Settings {
            domain_check_every,
            ..self
        }
    }

    pub fn with_db_lanes(self, db_lanes: crate::db::Lanes) -> Self {
        Settings { db_lanes, ..self }
    }

    pub fn with_trusted_proxies(
        self,
        trusted_proxies: Vec<crate::client_address::Network>,
    ) -> Self {
        Settings {
            trusted_proxies,
            ..self
        }
    }

    pub fn with_session_ttl(self, session_ttl: chrono::TimeDelta) -> Self {
        Settings {
            session_ttl,
            ..self
        }
    }

    /// The origin (scheme, host, port) pages of this service are served from; a cookie-carrying
    /// request from any other is refused.
    pub fn public_origin(&self) -> String {
        url::Url::parse(&self.public_url)
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_else(|_| self.public_url.clone())
    }

    /// Cookies are `Secure` (and the session cookie `__Host-` prefixed) when served over https.
    pub fn https(&self) -> bool {
        self.public_url.starts_with("https://")
    }

    pub fn session_cookie_name(&self) -> &'static str {
        if self.https() {
            "__Host-scimgw_session"
        } else {
            "scimgw_session"
        }
    }

    /// Serves `/metrics` to callers that present this token (only its hash is kept).
    pub fn with_metrics_token(self, token: Option<&str>) -> Self {
        let metrics_token_hash = token
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(crate::domain::secrets::hash);
        Settings {
            metrics_token_hash,
            ..self
        }
    }

    pub fn with_limits(self, limits: crate::limits::Limits) -> Self {
        Settings { limits, ..self }
    }

    /// The SCIM base URL admins paste into their IdP.
    pub fn scim_base_url(&self, workspace_id: &str) -> String {
        format!("{}/api/teams/{workspace_id}/scim/v2", self.public_url)
    }

    /// The workspace's SAML service provider (entity ID, ACS URL), at the SCIM base's sibling.
    pub fn saml_service_provider(
        &self,
        workspace_id: &str,
    ) -> crate::domain::saml::ServiceProvider {
        crate::domain::saml::ServiceProvider::at(&format!(
            "{}/api/teams/{workspace_id}/saml",
            self.public_url
        ))
    }

    /// The link that signs the page in with an admin token.
    pub fn sign_in_link(&self, token: &str) -> String {
        format!("{}/#token={token}", self.public_url)
    }
}
