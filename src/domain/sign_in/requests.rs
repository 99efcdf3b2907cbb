//! The AuthnRequests this service sent: single use, for a few minutes, kept in the database so
//! that any replica can receive the answer. A sign-in request is bound to the browser that
//! started it (a secret cookie whose hash the request keeps), and a workspace keeps at most
//! `MAX_PENDING` unanswered ones: past that the oldest go, so storage stays bounded whoever
//! calls `/login`, and a sign-in in progress is lost only to more than that many new ones
//! within its own round trip to the IdP.

use chrono::TimeDelta;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, TransactionSession, TransactionTrait,
};

use crate::domain::saml::{self, ServiceProvider};
use crate::domain::{Error, Result, now, secrets, workspaces};
use crate::entities::saml_request;

/// How long the IdP has to answer a request.
pub const REQUEST_TTL: TimeDelta = TimeDelta::minutes(10);
/// Unanswered sign-in requests a workspace keeps (the oldest go first).
pub const MAX_PENDING: u64 = 1_000;

/// A new request: where to send the browser, and for a sign-in the secret that binds the answer
/// to this browser (its cookie; only its hash is kept).
pub struct Started {
    pub url: String,
    pub browser_binding: Option<String>,
}
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    SignIn,
    Test,
}

impl Purpose {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Purpose::SignIn => "sign_in",
            Purpose::Test => "test",
        }
    }
}

pub(super) async fn remember_request(
    db: &(impl TransactionTrait + ConnectionTrait),
    sp: &ServiceProvider,
    workspace_id: &str,
    purpose: Purpose,
    return_to: Option<String>,
    requested_by: Option<&str>,
) -> Result<Started> {
    workspaces::get(db, workspace_id).await?;
    let Some(config) = saml::get_in(db, workspace_id).await? else {
        return Err(Error::NotFound(
            "single sign-on: this workspace has no SAML configuration".into(),
        ));
    };
    // An NCName (letter first) with 244 random bits.
    let id = format!(
        "id{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let at = now();
    let url = sp.authn_request_url(&config.sso_url, &id, &id, at)?;
    let browser_binding = (purpose == Purpose::SignIn).then(|| secrets::generate("sso").secret);
    let txn = crate::db::begin_write(db).await?;
    saml_request::Entity::insert(saml_request::ActiveModel {
        id: Set(id),
        workspace_id: Set(workspace_id.to_string()),
        purpose: Set(purpose.as_str().to_string()),
        return_to: Set(return_to),
        requested_by_account_id: Set(requested_by.map(str::to_string)),
        created_at: Set(at),
        expires_at: Set(at + REQUEST_TTL),
        consumed_at: Set(None),
        report: Set(None),
        browser_binding_hash: Set(browser_binding.as_deref().map(secrets::hash)),
    })
    .exec(&txn)
    .await?;
    if purpose == Purpose::SignIn {
        trim_pending(&txn, workspace_id).await?;
    }
    // Sign-in requests go when they expire; test requests (their reports) after a day.
    saml_request::Entity::delete_many()
        .filter(
            sea_orm::Condition::any()
                .add(
                    sea_orm::Condition::all()
                        .add(saml_request::Column::Purpose.eq(Purpose::SignIn.as_str()))
                        .add(saml_request::Column::ExpiresAt.lt(at)),
                )
                .add(saml_request::Column::ExpiresAt.lt(at - TimeDelta::days(1))),
        )
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(Started {
        url,
        browser_binding,
    })
}

/// Deletes the workspace's sign-in requests beyond the newest `MAX_PENDING`.
async fn trim_pending(db: &impl ConnectionTrait, workspace_id: &str) -> Result<()> {
    let pending = || {
        saml_request::Entity::find()
            .filter(saml_request::Column::WorkspaceId.eq(workspace_id))
            .filter(saml_request::Column::Purpose.eq(Purpose::SignIn.as_str()))
    };
    let oldest_kept = pending()
        .order_by_desc(saml_request::Column::CreatedAt)
        .offset(MAX_PENDING - 1)
        .limit(1)
        .one(db)
        .await?;
    if let Some(oldest_kept) = oldest_kept {
        saml_request::Entity::delete_many()
            .filter(saml_request::Column::WorkspaceId.eq(workspace_id))
            .filter(saml_request::Column::Purpose.eq(Purpose::SignIn.as_str()))
            .filter(saml_request::Column::CreatedAt.lt(oldest_kept.created_at))
            .exec(db)
            .await?;
    }
    Ok(())
}

/// Marks the request answered; `None` when it is unknown, answered already, or expired.
pub(super) async fn consume_request(
    db: &impl ConnectionTrait,
    workspace_id: &str,
    id: &str,
) -> Result<Option<saml_request::Model>> {
    let at = now();
    let updated = saml_request::Entity::update_many()
        .col_expr(saml_request::Column::ConsumedAt, Expr::value(at))
        .filter(saml_request::Column::Id.eq(id))
        .filter(saml_request::Column::WorkspaceId.eq(workspace_id))
        .filter(saml_request::Column::ConsumedAt.is_null())
        .filter(saml_request::Column::ExpiresAt.gt(at))
        .exec(db)
        .await?;
    if updated.rows_affected != 1 {
        return Ok(None);
    }
    Ok(saml_request::Entity::find_by_id(id.to_string())
        .one(db)
        .await?)
}
