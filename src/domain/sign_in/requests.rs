//! The AuthnRequests this service sends. An SP-initiated sign-in's request lives in the browser
//! that started it (`state`: a sealed cookie), so `/login` stores nothing; an admin's test
//! sign-in's request is kept in the database (single use, ten minutes, any replica can receive
//! the answer) with the report it gets.

use chrono::TimeDelta;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, TransactionSession,
    TransactionTrait,
};

use super::state::{self, Pending};
use crate::domain::saml::{self, SamlConfig, ServiceProvider};
use crate::domain::{Error, Result, Store, now, workspaces};
use crate::entities::saml_request;

/// How long the IdP has to answer a request.
pub const REQUEST_TTL: TimeDelta = TimeDelta::minutes(10);

/// A new request: where to send the browser, and for a sign-in the cookie that holds it.
pub struct Started {
    pub url: String,
    pub browser_binding: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    Test,
}

impl Purpose {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Purpose::Test => "test",
        }
    }
}

/// An NCName (letter first) with 244 random bits.
fn new_request_id() -> String {
    format!(
        "id{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

async fn configured(db: &impl ConnectionTrait, workspace_id: &str) -> Result<SamlConfig> {
    workspaces::get(db, workspace_id).await?;
    saml::get_in(db, workspace_id).await?.ok_or_else(|| {
        Error::NotFound("single sign-on: this workspace has no SAML configuration".into())
    })
}

/// An SP-initiated sign-in: the IdP URL and the sealed cookie that holds the request. Reads
/// only.
pub(super) async fn start_sign_in(
    store: &Store,
    sp: &ServiceProvider,
    workspace_id: &str,
    return_to: Option<String>,
) -> Result<Started> {
    let config = configured(store.pool(), workspace_id).await?;
    let key = store.sign_in_key().await?;
    let id = new_request_id();
    let at = now();
    let url = sp.authn_request_url(&config.sso_url, &id, &id, at)?;
    let pending = Pending {
        request_id: id,
        return_to,
        expires_at: at + REQUEST_TTL,
    };
    Ok(Started {
        url,
        browser_binding: Some(state::seal(&key, workspace_id, &pending)),
    })
}

/// An admin's test sign-in: the request is kept for its report.
pub(super) async fn remember_test(
    db: &(impl TransactionTrait + ConnectionTrait),
    sp: &ServiceProvider,
    workspace_id: &str,
    requested_by: &str,
) -> Result<Started> {
    let config = configured(db, workspace_id).await?;
    let id = new_request_id();
    let at = now();
    let url = sp.authn_request_url(&config.sso_url, &id, &id, at)?;
    let txn = crate::db::begin_write(db).await?;
    saml_request::Entity::insert(saml_request::ActiveModel {
        id: Set(id),
        workspace_id: Set(workspace_id.to_string()),
        purpose: Set(Purpose::Test.as_str().to_string()),
        return_to: Set(None),
        requested_by_account_id: Set(Some(requested_by.to_string())),
        created_at: Set(at),
        expires_at: Set(at + REQUEST_TTL),
        consumed_at: Set(None),
        report: Set(None),
    })
    .exec(&txn)
    .await?;
    // A test request (its report) goes a day after it expired; rows of other purposes that an
    // earlier version kept go when they expire.
    saml_request::Entity::delete_many()
        .filter(
            sea_orm::Condition::any()
                .add(
                    sea_orm::Condition::all()
                        .add(saml_request::Column::Purpose.ne(Purpose::Test.as_str()))
                        .add(saml_request::Column::ExpiresAt.lt(at)),
                )
                .add(saml_request::Column::ExpiresAt.lt(at - TimeDelta::days(1))),
        )
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(Started {
        url,
        browser_binding: None,
    })
}

/// Marks a test request answered; `None` when it is unknown, answered already, or expired.
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
        .filter(saml_request::Column::Purpose.eq(Purpose::Test.as_str()))
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
