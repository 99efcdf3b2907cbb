//! Browser sessions after an SSO sign-in: a random value in a cookie, stored only as a hash with
//! its expiry. A session is valid while its member is an active member of the workspace, so SCIM
//! deactivation or DELETE ends it at once on every replica; the role is read on every request.

use chrono::TimeDelta;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect,
};

use crate::domain::admin::{Credential, Principal};
use crate::domain::{Error, Result, Store, new_id, now, secrets};
use crate::entities::{account, member, session};

/// How long a session lasts unless configured otherwise.
pub const DEFAULT_TTL: TimeDelta = TimeDelta::hours(12);

/// A session just started: the cookie value is returned once and never stored.
pub struct NewSession {
    pub token: String,
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

/// Starts a session for `member` (in the caller's transaction, beside the sign-in's checks).
pub async fn start(
    db: &impl ConnectionTrait,
    workspace_id: &str,
    member_id: &str,
    ttl: TimeDelta,
) -> Result<NewSession> {
    let secret = secrets::generate("sgss");
    let created_at = now();
    let expires_at = created_at + ttl;
    session::Entity::insert(session::ActiveModel {
        id: Set(new_id()),
        token_hash: Set(secret.hash),
        workspace_id: Set(workspace_id.to_string()),
        member_id: Set(member_id.to_string()),
        created_at: Set(created_at),
        expires_at: Set(expires_at),
    })
    .exec(db)
    .await?;
    // Expired sessions of anyone are dropped as new ones start (indexed by expiry).
    session::Entity::delete_many()
        .filter(session::Column::ExpiresAt.lt(created_at))
        .exec(db)
        .await?;
    Ok(NewSession {
        token: secret.secret,
        expires_at,
    })
}

/// The principal for a session cookie: unexpired, and its member still active in the
/// workspace. Any failure is `Unauthenticated`.
pub async fn authenticate(store: &Store, token: &str) -> Result<Principal> {
    let db = store.pool();
    let token = token.trim();
    if token.is_empty() || token.len() > 512 {
        return Err(Error::Unauthenticated);
    }
    let hash = secrets::hash(token);
    let Some(row) = session::Entity::find()
        .filter(session::Column::TokenHash.eq(hash))
        .filter(session::Column::ExpiresAt.gt(now()))
        .one(db)
        .await?
    else {
        return Err(Error::Unauthenticated);
    };
    if !secrets::hash_matches(&row.token_hash, token) {
        return Err(Error::Unauthenticated);
    }
    let found: Option<(member::Model, Option<account::Model>)> =
        member::Entity::find_by_id(row.member_id.clone())
            .filter(member::Column::WorkspaceId.eq(row.workspace_id.clone()))
            .filter(member::Column::Active.eq(true))
            .find_also_related(account::Entity)
            .limit(1)
            .one(db)
            .await?;
    match found {
        Some((member, Some(account))) => Ok(Principal {
            credential: Credential::Session { id: row.id },
            workspace_id: member.workspace_id,
            account_id: member.account_id,
            email: account.email,
        }),
        _ => Err(Error::Unauthenticated),
    }
}

/// Ends the session with this cookie value, if any (signing out twice is not an error).
pub async fn end(db: &impl ConnectionTrait, token: &str) -> Result<()> {
    session::Entity::delete_many()
        .filter(session::Column::TokenHash.eq(secrets::hash(token.trim())))
        .exec(db)
        .await?;
    Ok(())
}

/// Ends the caller's own session (signing out).
pub async fn end_by_id(store: &Store, id: &str) -> Result<()> {
    let db = store.writes();
    session::Entity::delete_by_id(id.to_string())
        .exec(db)
        .await?;
    Ok(())
}
