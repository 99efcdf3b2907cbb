//! API keys: the bearer tokens IdPs use for SCIM. 256-bit secrets from the OS CSPRNG, shown once,
//! stored as a hash, told apart by a visible prefix; optional expiry (or "never expires", since
//! Entra quarantines its job when a token expires); several live keys so a key can be rotated
//! without downtime.

use chrono::TimeDelta;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, PaginatorTrait,
    QueryFilter, QueryOrder,
};

use crate::domain::activity::{self, NewEntry};
use crate::domain::admin::{self, Principal};
use crate::domain::{Error, Result, Store, new_id, now, secrets};
use crate::entities::api_key;

mod key;

pub use key::{ApiKey, EXPIRY_WARNING};

pub const MAX_EXPIRY_DAYS: i64 = 3650;
pub const MAX_LIVE_KEYS: u64 = 50;
const MAX_NAME_CHARS: usize = 100;

/// A new key: the secret is in here once and nowhere else.
pub struct GeneratedKey {
    pub secret: String,
    pub key: ApiKey,
}

pub async fn list(store: &Store, workspace_id: &str) -> Result<Vec<ApiKey>> {
    Ok(api_key::Entity::find()
        .filter(api_key::Column::WorkspaceId.eq(workspace_id))
        .order_by_desc(api_key::Column::CreatedAt)
        .order_by_asc(api_key::Column::Id)
        .all(store.pool())
        .await?
        .into_iter()
        .map(ApiKey::from)
        .collect())
}

pub async fn generate(
    store: &Store,
    principal: &Principal,
    name: &str,
    expires_in_days: Option<i64>,
) -> Result<GeneratedKey> {
    let name = name.trim();
    if name.is_empty() {
        return Err(Error::invalid(
            "name",
            "give the key a name, e.g. \"Okta production\"",
        ));
    }
    if name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(Error::invalid(
            "name",
            "a key name is at most 100 printable characters",
        ));
    }
    if let Some(days) = expires_in_days
        && !(1..=MAX_EXPIRY_DAYS).contains(&days)
    {
        return Err(Error::invalid(
            "expiresInDays",
            "expiry must be between 1 and 3650 days, or omitted for a key that never expires",
        ));
    }
    let txn = crate::db::begin_write(store.writes()).await?;
    admin::require_admin(&txn, principal).await?;
    let at = now();
    let live = api_key::Entity::find()
        .filter(api_key::Column::WorkspaceId.eq(principal.workspace_id.clone()))
        .filter(api_key::Column::RevokedAt.is_null())
        .filter(
            Expr::col(api_key::Column::ExpiresAt)
                .is_null()
                .or(Expr::col(api_key::Column::ExpiresAt).gt(at)),
        )
        .count(&txn)
        .await?;
    if live >= MAX_LIVE_KEYS {
        return Err(Error::invalid(
            "name",
            format!(
                "a workspace can have at most {MAX_LIVE_KEYS} live keys; revoke unused ones first"
            ),
        ));
    }
    let secret = secrets::generate("scim");
    let row = api_key::Model {
        id: new_id(),
        workspace_id: principal.workspace_id.clone(),
        name: name.to_string(),
        prefix: secret.prefix,
        secret_hash: secret.hash,
        created_by_account_id: Some(principal.account_id.clone()),
        created_at: at,
        expires_at: expires_in_days.map(|d| at + TimeDelta::days(d)),
        last_used_at: None,
        last_used_client: None,
        revoked_at: None,
    };
    api_key::Entity::insert(row.clone().into_active_model().reset_all())
        .exec(&txn)
        .await?;
    let key = ApiKey::from(row);
    let expiry = match key.expires_at {
        Some(e) => format!("expires {}", e.format("%Y-%m-%d")),
        None => "never expires".into(),
    };
    activity::record(
        &txn,
        NewEntry::settings(
            &principal.workspace_id,
            principal.actor(),
            "api_key.generate",
            format!(
                "API key \"{}\" ({}…) generated; {expiry}",
                key.name, key.prefix
            ),
        ),
    )
    .await?;
    txn.commit().await?;
    Ok(GeneratedKey {
        secret: secret.secret,
        key,
    })
}

/// Revokes a key of the caller's workspace; revoking a revoked key changes nothing. Effective
/// at once in this process (the access cache forgets), within `access::ACCESS_TTL` elsewhere.
pub async fn revoke(store: &Store, principal: &Principal, id: &str) -> Result<ApiKey> {
    let txn = crate::db::begin_write(store.writes()).await?;
    admin::require_admin(&txn, principal).await?;
    let Some(row) = api_key::Entity::find_by_id(id.to_string())
        .filter(api_key::Column::WorkspaceId.eq(principal.workspace_id.clone()))
        .one(&txn)
        .await?
    else {
        return Err(Error::NotFound("API key".into()));
    };
    let mut key = ApiKey::from(row);
    if key.revoked_at.is_none() {
        let at = now();
        api_key::Entity::update_many()
            .col_expr(api_key::Column::RevokedAt, Expr::value(at))
            .filter(api_key::Column::Id.eq(key.id.clone()))
            .exec(&txn)
            .await?;
        key.revoked_at = Some(at);
        activity::record(
            &txn,
            NewEntry::settings(
                &principal.workspace_id,
                principal.actor(),
                "api_key.revoke",
                format!("API key \"{}\" ({}…) revoked", key.name, key.prefix),
            ),
        )
        .await?;
    }
    txn.commit().await?;
    store.access().forget_all();
    Ok(key)
}

/// Which IdP is calling, from its User-Agent.
pub fn client_from_user_agent(user_agent: Option<&str>) -> &'static str {
    let ua = user_agent.unwrap_or("").to_ascii_lowercase();
    if ua.contains("okta") {
        "Okta"
    } else if ua.contains("azure")
        || ua.contains("microsoft")
        || ua.contains("entra")
        || ua.contains("aad")
    {
        "Entra"
    } else {
        "Other"
    }
}

/// The secret as presented, trimmed; an empty or oversized one is refused before any hashing.
pub fn presented_secret(secret: &str) -> Result<&str> {
    let secret = secret.trim();
    if secret.is_empty() || secret.len() > 512 {
        return Err(Error::Unauthenticated);
    }
    Ok(secret)
}

/// The live key of `workspace_id` with this secret. A key of another workspace, an unknown,
/// revoked or expired key are all `Unauthenticated`, indistinguishably.
pub async fn authenticate(
    db: &impl ConnectionTrait,
    workspace_id: &str,
    secret: &str,
    user_agent: Option<&str>,
) -> Result<ApiKey> {
    let secret = presented_secret(secret)?;
    let Some(row) = api_key::Entity::find()
        .filter(api_key::Column::SecretHash.eq(secrets::hash(secret)))
        .one(db)
        .await?
    else {
        return Err(Error::Unauthenticated);
    };
    let at = now();
    if row.workspace_id != workspace_id || !secrets::hash_matches(&row.secret_hash, secret) {
        return Err(Error::Unauthenticated);
    }
    let mut key = ApiKey::from(row);
    if !key.is_live(at) {
        return Err(Error::Unauthenticated);
    }
    let client = client_from_user_agent(user_agent);
    let stale = key
        .last_used_at
        .is_none_or(|t| at - t >= secrets::LAST_USED_GRANULARITY);
    if stale || key.last_used_client.as_deref() != Some(client) {
        api_key::Entity::update_many()
            .col_expr(api_key::Column::LastUsedAt, Expr::value(at))
            .col_expr(api_key::Column::LastUsedClient, Expr::value(client))
            .filter(api_key::Column::Id.eq(key.id.clone()))
            .filter(
                Expr::col(api_key::Column::LastUsedAt)
                    .is_null()
                    .or(Expr::col(api_key::Column::LastUsedAt)
                        .lt(at - secrets::LAST_USED_GRANULARITY))
                    .or(Expr::col(api_key::Column::LastUsedClient).ne(client))
                    .or(Expr::col(api_key::Column::LastUsedClient).is_null()),
            )
            .exec(db)
            .await?;
        key.last_used_at = Some(at);
        key.last_used_client = Some(client.to_string());
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_are_recognised_by_user_agent() {
        assert_eq!(
            client_from_user_agent(Some("Okta SCIM Client 1.0.0")),
            "Okta"
        );
        assert_eq!(
            client_from_user_agent(Some("Microsoft.Azure.ActiveDirectory.Provisioning")),
            "Entra"
        );
        assert_eq!(client_from_user_agent(Some("curl/8.0")), "Other");
        assert_eq!(client_from_user_agent(None), "Other");
    }

    #[test]
    fn expiry_flags() {
        let at = now();
        let mut key = ApiKey {
            id: "k".into(),
            workspace_id: "w".into(),
            name: "n".into(),
            prefix: "scim_abc".into(),
            created_at: at,
            expires_at: None,
            last_used_at: None,
            last_used_client: None,
            revoked_at: None,
        };
        assert!(key.is_live(at) && !key.expires_soon(at));
        key.expires_at = Some(at + TimeDelta::days(3));
        assert!(key.is_live(at) && key.expires_soon(at));
        key.expires_at = Some(at - TimeDelta::seconds(1));
        assert!(!key.is_live(at));
        key.expires_at = None;
        key.revoked_at = Some(at);
        assert!(!key.is_live(at));
    }
}

/// Who is calling the SCIM API: a live key of one workspace. Every SCIM domain operation takes
/// one, and acts only on its workspace.
#[derive(Clone, Debug)]
pub struct ScimPrincipal {
    pub workspace_id: String,
    pub key_id: String,
    pub key_prefix: String,
    /// `Okta`, `Entra` or `Other`.
    pub client: &'static str,
    /// The HTTP request acting, for the activity log.
    pub request: Option<RequestInfo>,
}

#[derive(Clone, Debug)]
pub struct RequestInfo {
    pub method: String,
    pub path: String,
    pub started: std::time::Instant,
}

impl ScimPrincipal {
    pub fn from_key(key: &ApiKey, client: &'static str) -> Self {
        ScimPrincipal {
            workspace_id: key.workspace_id.clone(),
            key_id: key.id.clone(),
            key_prefix: key.prefix.clone(),
            client,
            request: None,
        }
    }

    /// An activity entry for a successful change made by this caller.
    pub fn entry(
        &self,
        action: &str,
        status: i32,
        resource_type: &str,
        resource_id: &str,
        summary: String,
    ) -> crate::domain::activity::NewEntry {
        crate::domain::activity::NewEntry {
            workspace_id: self.workspace_id.clone(),
            actor: self.actor(),
            action: action.to_string(),
            summary,
            status,
            succeeded: true,
            method: self.request.as_ref().map(|r| r.method.clone()),
            path: self.request.as_ref().map(|r| r.path.clone()),
            latency_ms: self
                .request
                .as_ref()
                .map(|r| i32::try_from(r.started.elapsed().as_millis()).unwrap_or(i32::MAX)),
            resource_type: Some(resource_type.to_string()),
            resource_id: Some(resource_id.to_string()),
        }
    }

    /// How the activity log names this caller: `key scim_AbCdEfG (Okta)`.
    pub fn actor(&self) -> String {
        Self::actor_of(&self.key_prefix, self.client)
    }

    /// The same name from a key's prefix and client, before a principal exists.
    pub fn actor_of(key_prefix: &str, client: &str) -> String {
        format!("key {key_prefix} ({client})")
    }
}
