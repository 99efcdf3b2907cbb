//! Who may call SCIM, with a cache of bounded staleness: a key and the workspace's SCIM switch are
//! read from the database at most once per `ACCESS_TTL` per process. A key revoked or a switch
//! turned off takes effect at once on the replica that did it and within `ACCESS_TTL` on the
//! others. Only hashes of secrets are kept in memory.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use foldhash::HashMap; // fast, seeded per process: these maps are on every request's path
use sea_orm::ConnectionTrait;

use crate::domain::api_keys::{self, ApiKey};
use crate::domain::{Error, Result, now, scim_settings, secrets};

pub const ACCESS_TTL: Duration = Duration::from_secs(5);
/// Entries kept before the cache starts over (a bound on memory, far above real key counts).
const MAX_ENTRIES: usize = 10_000;

struct Ttl<V> {
    entries: Mutex<HashMap<String, (Instant, V)>>,
}

impl<V: Clone> Ttl<V> {
    fn new() -> Self {
        Ttl {
            entries: Mutex::new(HashMap::default()),
        }
    }

    fn get(&self, key: &str) -> Option<V> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .get(key)
            .filter(|(at, _)| at.elapsed() < ACCESS_TTL)
            .map(|(_, v)| v.clone())
    }

    fn put(&self, key: String, value: V) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(key, (Instant::now(), value));
    }

    fn clear(&self) {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}

pub struct AccessCache {
    keys: Ttl<Arc<ApiKey>>,
    scim_enabled: Ttl<bool>,
}

impl Default for AccessCache {
    fn default() -> Self {
        AccessCache {
            keys: Ttl::new(),
            scim_enabled: Ttl::new(),
        }
    }
}

impl AccessCache {
    /// After a revocation or a switch change in this process: effective at once here.
    pub fn forget_all(&self) {
        self.keys.clear();
        self.scim_enabled.clear();
    }
}

/// The live key of `workspace_id` for this secret (as `api_keys::authenticate`, which it calls
/// when the cache has no fresh entry; last-used is then written as that function bounds it).
pub async fn scim_key(
    db: &impl ConnectionTrait,
    cache: &AccessCache,
    workspace_id: &str,
    secret: &str,
    user_agent: Option<&str>,
) -> Result<Arc<ApiKey>> {
    let secret = api_keys::presented_secret(secret)?;
    let hash = secrets::hash(secret);
    if let Some(key) = cache.keys.get(&hash) {
        if key.workspace_id == workspace_id && key.is_live(now()) {
            return Ok(key);
        }
        return Err(Error::Unauthenticated);
    }
    let key = Arc::new(api_keys::authenticate(db, workspace_id, secret, user_agent).await?);
    cache.keys.put(hash, Arc::clone(&key));
    Ok(key)
}

/// Whether SCIM is switched on for the workspace.
pub async fn scim_enabled(
    db: &impl ConnectionTrait,
    cache: &AccessCache,
    workspace_id: &str,
) -> Result<bool> {
    if let Some(enabled) = cache.scim_enabled.get(workspace_id) {
        return Ok(enabled);
    }
    let enabled = scim_settings::status(db, workspace_id).await?.enabled;
    cache.scim_enabled.put(workspace_id.to_string(), enabled);
    Ok(enabled)
}
