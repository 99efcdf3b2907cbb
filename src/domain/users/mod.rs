//! SCIM Users: the members of a workspace. A member links a global account (by e-mail); its
//! SCIM attributes are stored in columns where they are filtered or ruled on, and the rest as a
//! JSON document returned as sent. Deactivation keeps the member; DELETE removes it from the
//! workspace and its groups but never deletes the account.
//!
//! This file is the users' rules in order: what a create, an update and a delete check and do.
//! `rules` holds the checks and the wording, `reads` the queries (one statement per page, the
//! identity lookups built once), `writes` the statements a change stores. How statements reach
//! SQLite or PostgreSQL (one round trip to SQLite's writer, a transaction elsewhere) is
//! `db::Writer`'s business.

mod model;
mod reads;
mod rules;
mod statements;
mod writes;

use sea_orm::{ConnectionTrait, EntityTrait};

use crate::db::{PlanReads, Planned};
use crate::domain::activity;
use crate::domain::api_keys::ScimPrincipal;
use crate::domain::roles::{self, Role};
use crate::domain::{Error, Result, Store, workspaces};
use crate::entities::member;

pub(crate) use reads::known_total;

/// Attempts of a write that lost a race with another writer before it takes the row lock.
const RETRIES: usize = 3;
pub use model::{DEFAULT_PAGE, Email, GroupRef, ListQuery, MAX_PAGE, Page, User, UserInput};
pub use reads::{get, list};
use rules::{
    account_email, conflict_user_name, creation_conflict, describe_update, guard_admins,
    guard_owner,
};

/// POST /Users: adds a person to the workspace, linking the account of that e-mail when one
/// exists (inviting them), or creating it. The account is looked up, then the rows go together;
/// an account another request stored meanwhile makes it look again.
pub async fn create(store: &Store, p: &ScimPrincipal, input: UserInput) -> Result<User> {
    rules::validate(&input)?;
    let email = account_email(&input);
    let backend = store.writes().get_database_backend();
    for _ in 0..RETRIES {
        let written = store
            .writer()
            .apply_planned(store.reads(), async |db: &PlanReads<'_>| {
                let found = workspaces::find_account(db, &email).await?;
                Ok::<_, Error>(writes::creation(backend, p, &input, &email, found))
            })
            .await;
        match written {
            Ok(user) => return Ok(user),
            Err(Planned::Plan(e)) => return Err(e),
            Err(Planned::Write(e)) if workspaces::is_account_taken(&e) => continue,
            Err(Planned::Write(e)) => {
                return Err(match Error::from(e) {
                    Error::Conflict(_) => {
                        let (ws, user_name) = (&p.workspace_id, input.user_name.trim());
                        creation_conflict(store.pool(), ws, user_name, &email).await
                    }
                    other => other,
                });
            }
        }
    }
    Err(Error::Conflict(
        "the account of this e-mail is being created by other requests; retry".into(),
    ))
}

/// PUT and PATCH: computes the new state from the current one with `change` and stores it.
/// `if_match` is the version the client last saw (ETag); without it a change that lost a race
/// with another writer is recomputed from the fresh state.
///
/// A change that can't move any role is written only if the version is still the one read
/// (else it reads again, a few times, then takes the row lock); a change that may move a role
/// runs as one transaction that recomputes roles and keeps the workspace an active admin.
pub async fn update<F, E>(
    store: &Store,
    p: &ScimPrincipal,
    id: &str,
    if_match: Option<i64>,
    change: F,
) -> Result<User, E>
where
    F: Fn(&User) -> Result<UserInput, E>,
    E: From<Error>,
{
    let backend = store.writes().get_database_backend();
    for _ in 0..RETRIES {
        let current = get(store, &p.workspace_id, id).await.map_err(E::from)?;
        let Some(plan) = writes::plan_update(backend, p, id, if_match, &current, &change)? else {
            // Nothing changes: no write, no new version.
            return Ok(current);
        };
        if plan.role_may_change {
            break;
        }
        let user_name = plan.user.user_name.clone();
        match store
            .writer()
            .apply_if_returned(plan.update, plan.writes)
            .await
            .map_err(Error::from)
        {
            Ok(true) => return Ok(plan.user),
            Ok(false) if if_match.is_some() => return Err(Error::VersionMismatch.into()),
            Ok(false) => continue,
            // Renaming one person in two workspaces at once: each waits on the other's members.
            Err(e) if e.is_retryable() => continue,
            Err(e) => return Err(E::from(conflict_user_name(&user_name)(e))),
        }
    }
    update_locked(store, p, id, if_match, &change).await
}

/// An update in one transaction with the member's row locked: for a change that may move a
/// role (roles are recomputed, the last-admin guard holds), and for one that kept losing races.
async fn update_locked<F, E>(
    store: &Store,
    p: &ScimPrincipal,
    id: &str,
    if_match: Option<i64>,
    change: &F,
) -> Result<User, E>
where
    F: Fn(&User) -> Result<UserInput, E>,
    E: From<Error>,
{
    for _ in 0..RETRIES {
        let txn = crate::db::begin_write(store.writes())
            .await
            .map_err(|e| E::from(e.into()))?;
        crate::db::lock_rows(&txn, member::Entity::find_by_id(id.to_string()))
            .await
            .map_err(|e| E::from(e.into()))?;
        let current = get(&txn, &p.workspace_id, id).await.map_err(E::from)?;
        let backend = txn.get_database_backend();
        let Some(plan) = writes::plan_update(backend, p, id, if_match, &current, change)? else {
            return Ok(current);
        };
        let written = crate::db::write_returning(&txn, plan.update, plan.writes).await;
        let matched = match written.map_err(Error::from) {
            Ok(matched) => matched,
            Err(e) if e.is_retryable() => {
                txn.rollback().await.map_err(Error::from)?;
                continue;
            }
            Err(e) => return Err(E::from(conflict_user_name(&plan.user.user_name)(e))),
        };
        if matched == 0 {
            txn.rollback().await.map_err(Error::from)?;
            if if_match.is_some() {
                return Err(Error::VersionMismatch.into());
            }
            continue;
        }
        if !plan.role_may_change {
            // Its activity entry went with the writes.
            txn.commit().await.map_err(Error::from)?;
            return Ok(plan.user);
        }
        let role_changes = roles::recompute(&txn, &p.workspace_id, &[id.to_string()])
            .await
            .map_err(E::from)?;
        if current.active && current.effective_role == Role::Admin {
            guard_admins(&txn, &current).await.map_err(E::from)?;
        }
        let user = if role_changes.iter().any(|c| c.member_id == id) {
            // A new role is stored with a version and time of its own: read it all back.
            get(&txn, &p.workspace_id, id).await.map_err(E::from)?
        } else {
            plan.user
        };
        let summary = describe_update(&current, &user, &role_changes);
        activity::record(&txn, p.entry("user.update", 200, "User", &user.id, summary))
            .await
            .map_err(E::from)?;
        txn.commit().await.map_err(Error::from)?;
        return Ok(user);
    }
    Err(Error::Conflict("the user is being changed by other requests; retry".into()).into())
}

/// DELETE /Users/{id}: removes the member from the workspace and its groups; the account stays.
pub async fn delete(
    store: &Store,
    p: &ScimPrincipal,
    id: &str,
    if_match: Option<i64>,
) -> Result<()> {
    let txn = crate::db::begin_write(store.writes()).await?;
    let current = get(&txn, &p.workspace_id, id).await?;
    if if_match.is_some_and(|v| v != current.version) {
        return Err(Error::VersionMismatch);
    }
    guard_owner(&current, None)?;
    writes::remove_member(&txn, &p.workspace_id, id).await?;
    if current.active && current.effective_role == Role::Admin {
        guard_admins(&txn, &current).await?;
    }
    let summary = format!(
        "removed {} from the workspace (the account is kept)",
        current.user_name
    );
    activity::record(
        &txn,
        p.entry("user.delete", 204, "User", &current.id, summary),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}
