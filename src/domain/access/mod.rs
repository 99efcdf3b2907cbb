//! Who may call SCIM, with a cache of bounded staleness: a key and the workspace's SCIM switch are
//! read from the database at most once per `ACCESS_TTL` per process. A key revoked or a switch
//! turned off takes effect at once on the replica that did it and within `ACCESS_TTL` on the
//! others. Only hashes of secrets are kept in memory.

use std::sync::Arc;

use crate::domain::api_keys::{self, ApiKey};
use crate::domain::{Error, Result, Store, now, scim_settings, secrets};

mod cache;

pub use cache::{ACCESS_TTL, AccessCache};

/// The live key of `workspace_id` for this secret (as `api_keys::authenticate`, which it calls
/// when the cache has no fresh entry; last-used is then written as that function bounds it).
pub async fn scim_key(
    store: &Store,
    workspace_id: &str,
    secret: &str,
    user_agent: Option<&str>,
) -> Result<Arc<ApiKey>> {
    let cache = store.access();
    let secret = api_keys::presented_secret(secret)?;
    let hash = secrets::hash(secret);
    if let Some(key) = cache.keys.get(&hash) {
        if key.workspace_id == workspace_id && key.is_live(now()) {
            return Ok(key);
        }
        return Err(Error::Unauthenticated);
    }
    let key =
        Arc::new(api_keys::authenticate(store.pool(), workspace_id, secret, user_agent).await?);
    cache.keys.put(hash, Arc::clone(&key));
    Ok(key)
}

/// Whether SCIM is switched on for the workspace.
pub async fn scim_enabled(store: &Store, workspace_id: &str) -> Result<bool> {
    let cache = store.access();
    if let Some(enabled) = cache.scim_enabled.get(workspace_id) {
        return Ok(enabled);
    }
    let enabled = scim_settings::status(store, workspace_id).await?.enabled;
    cache.scim_enabled.put(workspace_id.to_string(), enabled);
    Ok(enabled)
}
