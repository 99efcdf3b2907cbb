//! Admin tokens as the settings page lists them: whose each is, when it was made and last used,
//! when it expires; an admin of the workspace revokes them. A presented token is read from the
//! database on every request (`admin::authenticate`, no cache), so a revoked or expired token is
//! refused at once, on every replica. Their lifetime and liveness are `admin`'s, which issues and
//! checks them.

use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::domain::activity::{self, NewEntry};
use crate::domain::admin::{self, Credential, Principal};
use crate::domain::{Error, Result, Store, now};
use crate::entities::{account, admin_token, member};

/// A token expiring within this window is flagged on the page.
pub const EXPIRY_WARNING: TimeDelta = TimeDelta::days(7);

/// An admin token as the page shows it (never its secret or hash).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdminToken {
    pub id: String,
    pub prefix: String,
    pub email: String,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl AdminToken {
    fn new(row: admin_token::Model, account: Option<account::Model>) -> Self {
        let (email, given_name, family_name) = match account {
            Some(a) => (a.email, a.given_name, a.family_name),
            None => (String::new(), None, None),
        };
        AdminToken {
            id: row.id,
            prefix: row.prefix,
            email,
            given_name,
            family_name,
            created_at: row.created_at,
            last_used_at: row.last_used_at,
            expires_at: row.expires_at,
            revoked_at: row.revoked_at,
        }
    }

    pub fn is_expired(&self, at: DateTime<Utc>) -> bool {
        self.expires_at.is_some_and(|e| e <= at)
    }

    pub fn expires_soon(&self, at: DateTime<Utc>) -> bool {
        self.expires_at.is_some_and(|e| e - at <= EXPIRY_WARNING)
    }

    /// The holder's name, `Given Family`, when the account has one.
    pub fn name(&self) -> Option<String> {
        let name = [self.given_name.as_deref(), self.family_name.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        (!name.is_empty()).then_some(name)
    }
}

/// Every admin token of the workspace, newest first, revoked and expired ones included. The
/// caller has been checked to be the workspace's admin (`admin::workspace_of`).
pub async fn list(store: &Store, workspace_id: &str) -> Result<Vec<AdminToken>> {
    let db = store.pool();
    let rows = admin_token::Entity::find()
        .filter(admin_token::Column::WorkspaceId.eq(workspace_id))
        .find_also_related(account::Entity)
        .order_by_desc(admin_token::Column::CreatedAt)
        .order_by_asc(admin_token::Column::Id)
        .all(db)
        .await?;
    // The holders' names as this workspace has them (its members'), not the global profile
    // another workspace's IdP may have written.
    let names: std::collections::HashMap<String, (Option<String>, Option<String>)> =
        member::Entity::find()
            .filter(member::Column::WorkspaceId.eq(workspace_id))
            .filter(member::Column::AccountId.is_in(rows.iter().map(|(r, _)| r.account_id.clone())))
            .all(db)
            .await?
            .into_iter()
            .map(|m| (m.account_id, (m.given_name, m.family_name)))
            .collect();
    Ok(rows
        .into_iter()
        .map(|(row, account)| {
            let (given, family) = names.get(&row.account_id).cloned().unwrap_or_default();
            AdminToken {
                given_name: given,
                family_name: family,
                ..AdminToken::new(row, account)
            }
        })
        .collect())
}

/// Whether `principal` calls with the token `id`.
pub fn is_current(principal: &Principal, id: &str) -> bool {
    matches!(&principal.credential, Credential::AdminToken { id: current } if current == id)
}

/// Revokes a token of the caller's workspace (admins only); revoking a revoked token changes
/// nothing. A token of another workspace is `NotFound`, as one that doesn't exist.
pub async fn revoke(store: &Store, principal: &Principal, id: &str) -> Result<AdminToken> {
    let txn = crate::db::begin_write(store.writes()).await?;
    admin::require_admin(&txn, principal).await?;
    let Some((row, account)) = admin_token::Entity::find_by_id(id.to_string())
        .filter(admin_token::Column::WorkspaceId.eq(principal.workspace_id.clone()))
        .find_also_related(account::Entity)
        .one(&txn)
        .await?
    else {
        return Err(Error::NotFound("admin token".into()));
    };
    let mut token = AdminToken::new(row, account);
    if token.revoked_at.is_none() {
        let at = now();
        admin_token::Entity::update_many()
            .col_expr(admin_token::Column::RevokedAt, Expr::value(at))
            .filter(admin_token::Column::Id.eq(token.id.clone()))
            .exec(&txn)
            .await?;
        token.revoked_at = Some(at);
        activity::record(
            &txn,
            NewEntry::settings(
                &principal.workspace_id,
                principal.actor(),
                "admin_token.revoke",
                format!("admin token {}… of {} revoked", token.prefix, token.email),
            ),
        )
        .await?;
    }
    txn.commit().await?;
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::admin::{DEFAULT_LIFETIME_DAYS, Lifetime, MAX_LIFETIME_DAYS, token_is_live};

    #[test]
    fn lifetimes() {
        let at = now();
        assert_eq!(Lifetime::default(), Lifetime::Days(DEFAULT_LIFETIME_DAYS));
        assert_eq!(
            Lifetime::days(30).unwrap().expires_at(at),
            Some(at + TimeDelta::days(30))
        );
        assert_eq!(Lifetime::Never.expires_at(at), None);
        assert!(Lifetime::days(0).is_err());
        assert!(Lifetime::days(MAX_LIFETIME_DAYS + 1).is_err());
        assert!(Lifetime::days(MAX_LIFETIME_DAYS).is_ok());
    }

    #[test]
    fn live_tokens() {
        let at = now();
        let mut row = admin_token::Model {
            id: "t".into(),
            workspace_id: "w".into(),
            account_id: "a".into(),
            prefix: "sgat_abc".into(),
            token_hash: "h".into(),
            created_at: at,
            last_used_at: None,
            revoked_at: None,
            expires_at: None,
        };
        assert!(token_is_live(&row, at));
        row.expires_at = Some(at + TimeDelta::seconds(1));
        assert!(token_is_live(&row, at));
        row.expires_at = Some(at);
        assert!(!token_is_live(&row, at), "a token is expired at its expiry");
        row.expires_at = None;
        row.revoked_at = Some(at);
        assert!(!token_is_live(&row, at));
    }
}
