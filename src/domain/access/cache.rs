//! The cache of keys and switches: entries live `ACCESS_TTL`, and the cache starts over past
//! `MAX_ENTRIES`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use foldhash::HashMap; // fast, seeded per process: these maps are on every request's path

use crate::domain::api_keys::ApiKey;

pub const ACCESS_TTL: Duration = Duration::from_secs(5);
/// Entries kept before the cache starts over (a bound on memory, far above real key counts).
const MAX_ENTRIES: usize = 10_000;

pub(super) struct Ttl<V> {
    entries: Mutex<HashMap<String, (Instant, V)>>,
}

impl<V: Clone> Ttl<V> {
    fn new() -> Self {
        Ttl {
            entries: Mutex::new(HashMap::default()),
        }
    }

    pub(super) fn get(&self, key: &str) -> Option<V> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .get(key)
            .filter(|(at, _)| at.elapsed() < ACCESS_TTL)
            .map(|(_, v)| v.clone())
    }

    pub(super) fn put(&self, key: String, value: V) {
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
    pub(super) keys: Ttl<Arc<ApiKey>>,
    pub(super) scim_enabled: Ttl<bool>,
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
    pub(in crate::domain) fn forget_all(&self) {
        self.keys.clear();
        self.scim_enabled.clear();
    }
}
