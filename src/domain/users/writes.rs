//! The statements a change of users stores: a new member (and its account when new), an
//! update that holds only while the version is the one read, e-mail rows, and the account's
//! names. A member's names are what its own workspace's IdP wrote, never copied from the
//! account or from another workspace; the account's names (the person's global profile) change
//! only through the workspace that verified the account's e-mail domain, which the statement
//! itself checks.

use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryTrait, Statement,
};
use serde_json::Value;

use super::model::{Email, User, UserInput};
use super::rules::{describe_update, guard_owner, validate};
use super::statements::{MemberChange, account_names_update, member_insert, member_update};
use crate::domain::activity;
use crate::domain::api_keys::ScimPrincipal;
use crate::domain::roles;
use crate::domain::{Error, Result, email_key, new_id, now, workspaces};
use crate::entities::{account, member, member_email};

/// A member's `emails` column: `[[value, type, primary], ...]` in the order given.
fn emails_json(emails: &[Email]) -> String {
    let rows: Vec<(&str, Option<&str>, bool)> = emails
        .iter()
        .map(|e| (e.value.as_str(), e.kind.as_deref(), e.primary))
        .collect();
    serde_json::to_string(&rows).unwrap_or_else(|_| "[]".into())
}

/// The member's e-mails as one insert (none when there are none).
fn emails_insert(
    backend: DbBackend,
    workspace_id: &str,
    member_id: &str,
    emails: &[Email],
) -> Option<Statement> {
    if emails.is_empty() {
        return None;
    }
    let insert =
        member_email::Entity::insert_many(emails.iter().map(|e| member_email::ActiveModel {
            member_id: sea_orm::Set(member_id.to_string()),
            workspace_id: sea_orm::Set(workspace_id.to_string()),
            value: sea_orm::Set(e.value.clone()),
            value_key: sea_orm::Set(email_key(&e.value)),
            kind: sea_orm::Set(e.kind.clone()),
            is_primary: sea_orm::Set(e.primary),
            ..Default::default()
        }));
    Some(insert.build(backend))
}

/// The account's names as a statement, effective only when `workspace_id` verified the
/// account's domain. On create, only the names given (a linked account keeps what it has); on
/// update, exactly the names given (a removed name is cleared).
fn account_name_update(
    backend: DbBackend,
    account_id: &str,
    workspace_id: &str,
    input: &UserInput,
    clear_missing: bool,
) -> Option<Statement> {
    if !clear_missing && input.given_name.is_none() && input.family_name.is_none() {
        return None;
    }
    fn set(name: &Option<String>, clear_missing: bool) -> Option<Option<&str>> {
        (clear_missing || name.is_some()).then_some(name.as_deref())
    }
    Some(account_names_update(
        backend,
        account_id,
        workspace_id,
        set(&input.given_name, clear_missing),
        set(&input.family_name, clear_missing),
        now(),
    ))
}

/// The user a POST stores and the statements that store it (account when new, names, member,
/// e-mails, activity), given the account found for its e-mail.
pub(super) fn creation(
    backend: DbBackend,
    p: &ScimPrincipal,
    input: &UserInput,
    email: &str,
    found: Option<account::Model>,
) -> (User, Vec<Statement>) {
    let existed = found.is_some();
    let mut writes = Vec::new();
    let account = match found {
        Some(account) => account,
        None => {
            let (account, insert) = workspaces::new_account(backend, email, None, None);
            writes.push(insert);
            account
        }
    };
    let ws = p.workspace_id.as_str();
    writes.extend(account_name_update(backend, &account.id, ws, input, false));
    let at = now();
    let effective = roles::resolve(false, input.direct_role(), &[]).role;
    let model = member::Model {
        id: new_id(),
        workspace_id: p.workspace_id.clone(),
        account_id: account.id.clone(),
        user_name: input.user_name.trim().to_string(),
        user_name_key: email_key(&input.user_name),
        external_id: input.external_id.clone(),
        display_name: input.display_name.clone(),
        active: input.active,
        direct_role: input.direct_role().map(|r| r.as_str().to_string()),
        effective_role: effective.as_str().to_string(),
        is_owner: false,
        attributes: Value::Object(input.attributes.clone()).to_string(),
        // What this workspace's IdP wrote, never what another's stored on the account.
        given_name: input.given_name.clone(),
        family_name: input.family_name.clone(),
        emails: emails_json(&input.emails),
        version: 1,
        created_at: at,
        updated_at: at,
    };
    writes.push(member_insert(backend, &model));
    writes.extend(emails_insert(
        backend,
        &p.workspace_id,
        &model.id,
        &input.emails,
    ));
    let user = User {
        id: model.id,
        workspace_id: model.workspace_id,
        account_id: model.account_id,
        user_name: model.user_name,
        external_id: model.external_id,
        display_name: model.display_name,
        given_name: model.given_name,
        family_name: model.family_name,
        active: model.active,
        direct_role: input.direct_role(),
        effective_role: effective,
        is_owner: false,
        emails: input.emails.clone(),
        groups: Vec::new(),
        attributes: input.attributes.clone(),
        version: model.version,
        created_at: at,
        updated_at: at,
    };
    let mut summary = format!(
        "added {} as {}",
        user.user_name,
        user.effective_role.label()
    );
    if existed {
        summary.push_str(" (linked the existing account)");
    }
    if !user.active {
        summary.push_str(", deactivated");
    }
    writes.push(activity::insert(
        backend,
        p.entry("user.create", 201, "User", &user.id, summary),
    ));
    (user, writes)
}

/// What a PUT or PATCH writes over `current`: the member update (it returns a row only while
/// the version is still `current`'s), the e-mail and name rows, and — when no role can move —
/// the activity entry; `None` when nothing changes.
pub(super) struct UpdatePlan {
    pub update: Statement,
    pub writes: Vec<Statement>,
    /// The user as written (before any role recompute).
    pub user: User,
    /// The direct role or deactivation changes: roles are recomputed in the transaction.
    pub role_may_change: bool,
}

pub(super) fn plan_update<F, E>(
    backend: DbBackend,
    p: &ScimPrincipal,
    id: &str,
    if_match: Option<i64>,
    current: &User,
    change: &F,
) -> Result<Option<UpdatePlan>, E>
where
    F: Fn(&User) -> Result<UserInput, E>,
    E: From<Error>,
{
    if if_match.is_some_and(|v| v != current.version) {
        return Err(Error::VersionMismatch.into());
    }
    let input = change(current)?;
    validate(&input).map_err(E::from)?;
    guard_owner(current, Some(&input)).map_err(E::from)?;
    if input == current.to_input() {
        return Ok(None);
    }
    let at = now();
    let names_change =
        (&input.given_name, &input.family_name) != (&current.given_name, &current.family_name);
    let user_name_key = email_key(&input.user_name);
    let attributes = Value::Object(input.attributes.clone()).to_string();
    let emails = emails_json(&input.emails);
    let update = member_update(
        backend,
        &MemberChange {
            id,
            workspace_id: &p.workspace_id,
            read_version: current.version,
            user_name: input.user_name.trim(),
            user_name_key: &user_name_key,
            external_id: input.external_id.as_deref(),
            display_name: input.display_name.as_deref(),
            active: input.active,
            direct_role: input.direct_role().map(|r| r.as_str()),
            attributes: &attributes,
            emails: &emails,
            updated_at: at,
            // The member's new names, as given (missing ones cleared).
            names: names_change
                .then_some((input.given_name.as_deref(), input.family_name.as_deref())),
        },
    );
    let mut writes = Vec::new();
    if input.emails != current.emails {
        writes.push(
            member_email::Entity::delete_many()
                .filter(member_email::Column::MemberId.eq(id))
                .build(backend),
        );
        writes.extend(emails_insert(backend, &p.workspace_id, id, &input.emails));
    }
    if names_change {
        writes.extend(account_name_update(
            backend,
            &current.account_id,
            &p.workspace_id,
            &input,
            true,
        ));
    }
    // Only the direct role and deactivation of a user's own attributes reach its role: when
    // neither changes, the activity row goes with the update.
    let role_may_change =
        input.direct_role() != current.direct_role || input.active != current.active;
    let user = User {
        user_name: input.user_name.trim().to_string(),
        external_id: input.external_id.clone(),
        display_name: input.display_name.clone(),
        given_name: input.given_name.clone(),
        family_name: input.family_name.clone(),
        active: input.active,
        direct_role: input.direct_role(),
        emails: input.emails.clone(),
        attributes: input.attributes.clone(),
        version: current.version + 1,
        updated_at: at,
        ..current.clone()
    };
    if !role_may_change {
        let summary = describe_update(current, &user, &[]);
        writes.push(activity::insert(
            backend,
            p.entry("user.update", 200, "User", id, summary),
        ));
    }
    Ok(Some(UpdatePlan {
        update,
        writes,
        user,
        role_may_change,
    }))
}

/// Removes the member from the workspace (its e-mails and group memberships go with it).
pub(super) async fn remove_member(
    txn: &impl ConnectionTrait,
    workspace_id: &str,
    id: &str,
) -> Result<()> {
    member::Entity::delete_many()
        .filter(member::Column::Id.eq(id))
        .filter(member::Column::WorkspaceId.eq(workspace_id))
        .exec(txn)
        .await?;
    Ok(())
}
