//! Who an assertion names: the active member of the workspace whose userName or e-mail is the
//! asserted subject, and the workspace someone means on the sign-in screen.

use sea_orm::sea_query::{Query, SelectStatement};
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};

use crate::domain::roles::Role;
use crate::domain::{Result, Store, email_key};
use crate::entities::{account, member, member_email, saml_config, workspace};

/// What a person who may not sign in is told (details go to the activity log, not to them).
pub const NOT_A_MEMBER: &str =
    "not a member of this workspace: ask your admin to assign you in your identity provider";

/// Members whose userName, an e-mail, or account e-mail has this key (`email_key`).
fn named_by(key: &str, workspace_id: Option<&str>) -> Condition {
    let mut by_email: SelectStatement = Query::select()
        .column(member_email::Column::MemberId)
        .from(member_email::Entity)
        .and_where(member_email::Column::ValueKey.eq(key))
        .to_owned();
    if let Some(ws) = workspace_id {
        by_email.and_where(member_email::Column::WorkspaceId.eq(ws));
    }
    let by_account = Query::select()
        .column(account::Column::Id)
        .from(account::Entity)
        .and_where(account::Column::EmailKey.eq(key))
        .to_owned();
    Condition::any()
        .add(member::Column::UserNameKey.eq(key))
        .add(member::Column::Id.in_subquery(by_email))
        .add(member::Column::AccountId.in_subquery(by_account))
}

pub(super) enum Person {
    Active(member::Model),
    Deactivated(member::Model),
    Unknown,
}

/// The member whose userName, e-mail or account e-mail is `subject` (case-insensitively); a
/// userName match wins over an e-mail match.
pub(super) async fn find_person(
    db: &impl ConnectionTrait,
    workspace_id: &str,
    subject: &str,
) -> Result<Person> {
    let key = email_key(subject);
    let mut found = member::Entity::find()
        .filter(member::Column::WorkspaceId.eq(workspace_id))
        .filter(named_by(&key, Some(workspace_id)))
        .all(db)
        .await?;
    found.sort_by_key(|m| (!m.active, m.user_name_key != key, m.created_at));
    Ok(match found.into_iter().next() {
        Some(m) if m.active => Person::Active(m),
        Some(m) => Person::Deactivated(m),
        None => Person::Unknown,
    })
}

pub(super) fn person_detail(person: &Person) -> String {
    match person {
        Person::Active(m) => format!(
            "{} is an active member ({})",
            m.user_name,
            Role::from_stored(&m.effective_role).label()
        ),
        Person::Deactivated(m) => format!(
            "{} is a deactivated member of this workspace: {NOT_A_MEMBER}",
            m.user_name
        ),
        Person::Unknown => format!("nobody with that userName or e-mail: {NOT_A_MEMBER}"),
    }
}

/// The workspace someone means on the sign-in screen: its slug, or their e-mail when exactly one
/// workspace with SAML configured has them as an active member.
pub async fn find_workspace(store: &Store, who: &str) -> Result<Option<String>> {
    let db = store.pool();
    let who = who.trim();
    if who.is_empty() || who.len() > 320 {
        return Ok(None);
    }
    if !who.contains('@') {
        return Ok(workspace::Entity::find()
            .filter(workspace::Column::Slug.eq(who.to_lowercase()))
            .one(db)
            .await?
            .map(|w| w.id));
    }
    let key = email_key(who);
    let with_saml = Query::select()
        .column(saml_config::Column::WorkspaceId)
        .from(saml_config::Entity)
        .to_owned();
    let mut workspaces: Vec<String> = member::Entity::find()
        .filter(member::Column::Active.eq(true))
        .filter(member::Column::WorkspaceId.in_subquery(with_saml))
        .filter(named_by(&key, None))
        .limit(3)
        .all(db)
        .await?
        .into_iter()
        .map(|m| m.workspace_id)
        .collect();
    workspaces.sort();
    workspaces.dedup();
    Ok(match workspaces.as_slice() {
        [only] => Some(only.clone()),
        _ => None,
    })
}
