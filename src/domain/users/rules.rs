//! The users' rules: what a user may hold, who may not be deactivated or removed, and how a
//! change or a conflict is put into words for the admin.

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use super::model::{User, UserInput};
use crate::domain::roles;
use crate::domain::{Error, Result, email_key, workspaces};
use crate::entities::member;

const MAX_TEXT: usize = 1024;

fn check_text(attr: &str, value: &str) -> Result<()> {
    if value.chars().count() > MAX_TEXT {
        return Err(Error::invalid(
            attr,
            format!("{attr} is longer than {MAX_TEXT} characters"),
        ));
    }
    if value.chars().any(|c| c.is_control()) {
        return Err(Error::invalid(
            attr,
            format!("{attr} contains control characters"),
        ));
    }
    Ok(())
}

pub(super) fn validate(input: &UserInput) -> Result<()> {
    use crate::domain::attributes::MAX_VALUES;
    if input.user_name.trim().is_empty() {
        return Err(Error::invalid("userName", "userName is required"));
    }
    check_text("userName", &input.user_name)?;
    for (attr, value) in [
        ("externalId", &input.external_id),
        ("displayName", &input.display_name),
        ("name.givenName", &input.given_name),
        ("name.familyName", &input.family_name),
    ] {
        if let Some(v) = value {
            check_text(attr, v)?;
        }
    }
    for e in &input.emails {
        check_text("emails.value", &e.value)?;
    }
    if input.emails.len() > MAX_VALUES {
        return Err(Error::invalid(
            "emails",
            format!("at most {MAX_VALUES} e-mail addresses"),
        ));
    }
    crate::domain::attributes::check_kept(&input.attributes)
}

/// The e-mail that identifies the account: the userName when it is one, else the primary e-mail.
pub(super) fn account_email(input: &UserInput) -> String {
    if input.user_name.contains('@') {
        return input.user_name.trim().to_string();
    }
    input
        .emails
        .iter()
        .find(|e| e.primary)
        .or_else(|| input.emails.first())
        .map(|e| e.value.trim().to_string())
        .unwrap_or_else(|| input.user_name.trim().to_string())
}

pub(super) fn conflict_user_name(user_name: &str) -> impl Fn(Error) -> Error + '_ {
    move |e| match e {
        Error::Conflict(_) => Error::Conflict(format!(
            "a user with userName {user_name:?} already exists in this workspace"
        )),
        other => other,
    }
}

/// Why a new user conflicts, in words an admin reading the IdP's error can act on: the userName
/// is taken, or the e-mail that keys the account already belongs to another member here.
pub(super) async fn creation_conflict(
    db: &impl ConnectionTrait,
    workspace_id: &str,
    user_name: &str,
    email: &str,
) -> Error {
    let holder = |column: member::Column, key: String| {
        member::Entity::find()
            .filter(member::Column::WorkspaceId.eq(workspace_id))
            .filter(column.eq(key))
            .one(db)
    };
    match holder(member::Column::UserNameKey, email_key(user_name)).await {
        Ok(Some(_)) => {
            return Error::Conflict(format!(
                "a user with userName {user_name:?} already exists in this workspace"
            ));
        }
        Ok(None) => {}
        Err(e) => return e.into(),
    }
    let account = match workspaces::find_account(db, email).await {
        Ok(account) => account,
        Err(e) => return e,
    };
    if let Some(account) = account {
        match holder(member::Column::AccountId, account.id).await {
            Ok(Some(member)) => {
                return Error::Conflict(format!(
                    "the e-mail {email} already belongs to member {} of this workspace",
                    member.user_name
                ));
            }
            Ok(None) => {}
            Err(e) => return e.into(),
        }
    }
    Error::Conflict(format!(
        "a user with userName {user_name:?} or e-mail {email} already exists in this workspace"
    ))
}

/// The owner can't be deactivated or removed through SCIM, and no change may leave the workspace
/// without an active admin.
pub(super) fn guard_owner(user: &User, input: Option<&UserInput>) -> Result<()> {
    if user.is_owner && input.is_none_or(|i| !i.active) {
        return Err(Error::invalid(
            "active",
            format!(
                "{} is the workspace owner and can't be deactivated or removed through SCIM",
                user.user_name
            ),
        ));
    }
    Ok(())
}

pub(super) async fn guard_admins(db: &impl ConnectionTrait, user: &User) -> Result<()> {
    if roles::count_active_admins(db, &user.workspace_id).await? == 0 {
        return Err(Error::invalid(
            "roles",
            format!(
                "{} is the workspace's last active admin: it can't be demoted, deactivated or removed through SCIM",
                user.user_name
            ),
        ));
    }
    Ok(())
}

pub(super) fn describe_update(
    before: &User,
    after: &User,
    role_changes: &[roles::RoleChange],
) -> String {
    let mut parts = Vec::new();
    if before.active && !after.active {
        parts.push("deactivated".to_string());
    }
    if !before.active && after.active {
        parts.push("reactivated".to_string());
    }
    if before.user_name != after.user_name {
        parts.push(format!(
            "userName {} → {}",
            before.user_name, after.user_name
        ));
    }
    if (&before.given_name, &before.family_name) != (&after.given_name, &after.family_name) {
        let name = [after.given_name.as_deref(), after.family_name.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        parts.push(format!("name changed to {name}"));
    }
    for change in role_changes {
        parts.push(format!(
            "role {} → {} {}",
            change.from.label(),
            change.to.label(),
            change.decided_by.describe()
        ));
    }
    if parts.is_empty() {
        parts.push("attributes updated".into());
    }
    format!("updated {}: {}", after.user_name, parts.join("; "))
}
