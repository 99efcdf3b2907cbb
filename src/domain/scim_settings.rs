//! The SCIM switch of a workspace. It can be turned on only while SAML is configured; turning it
//! off keeps every user, group and key, and SCIM routes then answer 403.

use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait, sea_query::OnConflict};

use crate::domain::activity::{self, NewEntry};
use crate::domain::admin::{self, Principal};
use crate::domain::{Error, Result, Store, now, saml};
use crate::entities::scim_setting;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScimStatus {
    pub enabled: bool,
}

pub async fn status(store: &Store, workspace_id: &str) -> Result<ScimStatus> {
    status_in(store.pool(), workspace_id).await
}

async fn status_in(db: &impl ConnectionTrait, workspace_id: &str) -> Result<ScimStatus> {
    let row = scim_setting::Entity::find_by_id(workspace_id.to_string())
        .one(db)
        .await?;
    Ok(ScimStatus {
        enabled: row.is_some_and(|r| r.enabled),
    })
}

pub async fn enable(store: &Store, principal: &Principal) -> Result<ScimStatus> {
    set_enabled(store, principal, true).await
}

pub async fn disable(store: &Store, principal: &Principal) -> Result<ScimStatus> {
    set_enabled(store, principal, false).await
}

/// Switches SCIM; effective at once in this process (the access cache forgets), within
/// `access::ACCESS_TTL` on the other replicas.
async fn set_enabled(store: &Store, principal: &Principal, enabled: bool) -> Result<ScimStatus> {
    let txn = crate::db::begin_write(store.writes()).await?;
    admin::require_admin(&txn, principal).await?;
    if enabled && saml::get_in(&txn, &principal.workspace_id).await?.is_none() {
        return Err(Error::SamlRequired);
    }
    let was = status_in(&txn, &principal.workspace_id).await?;
    if was.enabled != enabled {
        scim_setting::Entity::insert(scim_setting::ActiveModel {
            workspace_id: Set(principal.workspace_id.clone()),
            enabled: Set(enabled),
            updated_at: Set(now()),
        })
        .on_conflict(
            OnConflict::column(scim_setting::Column::WorkspaceId)
                .update_columns([
                    scim_setting::Column::Enabled,
                    scim_setting::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec(&txn)
        .await?;
        let (action, summary) = if enabled {
            ("scim.enable", "SCIM provisioning enabled")
        } else {
            (
                "scim.disable",
                "SCIM provisioning disabled; users, groups and keys are kept",
            )
        };
        activity::record(
            &txn,
            NewEntry::settings(
                &principal.workspace_id,
                principal.actor(),
                action,
                summary.into(),
            ),
        )
        .await?;
    }
    txn.commit().await?;
    store.access().forget_all();
    Ok(ScimStatus { enabled })
}
