//! An API key as the rules see it (never its secret), and when it counts as live.

use chrono::{DateTime, TimeDelta, Utc};

use crate::entities::api_key;

/// A key expiring within this window is flagged.
pub const EXPIRY_WARNING: TimeDelta = TimeDelta::days(14);
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiKey {
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub last_used_client: Option<String>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl ApiKey {
    pub fn is_expired(&self, at: DateTime<Utc>) -> bool {
        self.expires_at.is_some_and(|e| e <= at)
    }

    pub fn expires_soon(&self, at: DateTime<Utc>) -> bool {
        self.expires_at.is_some_and(|e| e - at <= EXPIRY_WARNING)
    }

    pub fn is_live(&self, at: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && !self.is_expired(at)
    }
}

impl From<api_key::Model> for ApiKey {
    fn from(m: api_key::Model) -> Self {
        ApiKey {
            id: m.id,
            workspace_id: m.workspace_id,
            name: m.name,
            prefix: m.prefix,
            created_at: m.created_at,
            expires_at: m.expires_at,
            last_used_at: m.last_used_at,
            last_used_client: m.last_used_client,
            revoked_at: m.revoked_at,
        }
    }
}
