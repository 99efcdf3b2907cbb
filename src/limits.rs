//! Limits every request is held to: how long it may take, and how fast one SCIM key may send.
//! Plain data: the serving layer answers past them in each protocol's format.
//! Body sizes, filter size and depth, page size, Bulk and PATCH operation counts and GraphQL
//! depth and complexity are enforced where those requests are read.

use std::time::Duration;

#[derive(Clone, Debug)]
pub struct Limits {
    /// Requests per second one SCIM API key may send, after its burst (0: no limit).
    pub scim_rate_per_second: f64,
    /// Requests one SCIM API key may send at once.
    pub scim_burst: u32,
    /// Requests per second one client (an IPv4 address or an IPv6 /64) may send to the public
    /// sign-in routes (`/login`, `/acs`, `/api/sso`) after its burst (0: no limit).
    pub public_rate_per_second: f64,
    /// Requests one client may send to the public sign-in routes at once.
    pub public_burst: u32,
    /// Longest a request may run before it is answered 503.
    pub request_timeout: Duration,
    /// Longest a client may take to send a request head, from its first byte (or from connecting).
    pub head_timeout: Duration,
    /// Longest a keep-alive connection may sit idle between requests.
    pub idle_timeout: Duration,
    /// Most connections open at once; past it the longest idle or stalled one is closed.
    pub max_connections: usize,
}

/// Descriptors kept free of connections: the database pool, the SQLite files, logs and sockets
/// the process opens itself.
pub const DESCRIPTOR_HEADROOM: u64 = 64;

impl Limits {
    /// The connection budget a descriptor limit allows, beside `pool` database connections.
    pub fn connection_budget(nofile: u64, pool: u32) -> usize {
        nofile
            .saturating_sub(DESCRIPTOR_HEADROOM + u64::from(pool))
            .max(16) as usize
    }
}

impl Default for Limits {
    /// Entra sends up to 25 requests per second per workspace and Okta bursts when an admin
    /// pushes groups: both stay well inside.
    fn default() -> Self {
        Limits {
            scim_rate_per_second: 100.0,
            scim_burst: 1000,
            // A sign-in is three requests; an office behind one address signs in a few hundred
            // people over a morning. An attacker gets two verifications a second.
            public_rate_per_second: 2.0,
            public_burst: 60,
            request_timeout: Duration::from_secs(30),
            head_timeout: Duration::from_secs(10),
            // Longer than the 60 s idle timeout of the common load balancers, so the balancer,
            // not the gateway, closes a pooled connection (no 502 on a race).
            idle_timeout: Duration::from_secs(75),
            max_connections: Limits::connection_budget(1024, 8),
        }
    }
}
