//! Workspaces, the accounts they share, and memberships as the settings side creates them.

use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel,
    QueryFilter, QuerySelect, QueryTrait,
};

use crate::db::prepared::{PerBackend, Template, marked, marker_time};
use crate::db::rows::{Cells, Cost, Fetch, FromCells};
use crate::domain::roles::{self, Role};
use crate::domain::{Error, Result, email_key, new_id, now};
use crate::entities::{account, member, member_email, scim_setting, workspace};

/// A workspace as the protocol layers see it.
#[derive(Clone, Debug)]
pub struct Workspace {
    pub id: String,
    pub slug: String,
    pub name: String,
}

impl From<workspace::Model> for Workspace {
    fn from(m: workspace::Model) -> Self {
        Workspace {
            id: m.id,
            slug: m.slug,
            name: m.name,
        }
    }
}

pub async fn get(db: &impl ConnectionTrait, id: &str) -> Result<Workspace> {
    workspace::Entity::find_by_id(id.to_string())
        .one(db)
        .await?
        .map(Workspace::from)
        .ok_or_else(|| Error::NotFound("workspace".into()))
}

/// A slug: 1–63 characters of `a-z`, `0-9` and inner `-`.
pub fn validate_slug(slug: &str) -> Result<String> {
    let slug = slug.trim().to_lowercase();
    let valid = !slug.is_empty()
        && slug.len() <= 63
        && slug
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !slug.starts_with('-')
        && !slug.ends_with('-');
    if valid {
        Ok(slug)
    } else {
        Err(Error::invalid(
            "slug",
            "a workspace slug is 1–63 characters of a–z, 0–9 and inner hyphens",
        ))
    }
}

pub async fn create(db: &impl ConnectionTrait, slug: &str, name: &str) -> Result<workspace::Model> {
    let slug = validate_slug(slug)?;
    let model = workspace::Model {
        id: new_id(),
        slug,
        name: name.trim().to_string(),
        created_at: now(),
    };
    workspace::Entity::insert(model.clone().into_active_model().reset_all())
        .exec(db)
        .await
        .map_err(|e| match Error::from(e) {
            Error::Conflict(_) => {
                Error::Conflict(format!("workspace {:?} already exists", model.slug))
            }
            other => other,
        })?;
    scim_setting::Entity::insert(scim_setting::ActiveModel {
        workspace_id: Set(model.id.clone()),
        enabled: Set(false),
        updated_at: Set(model.created_at),
    })
    .exec(db)
    .await?;
    Ok(model)
}

/// The account for an e-mail (case-insensitive), created when nobody has it yet.
pub async fn find_or_create_account(
    db: &impl ConnectionTrait,
    email: &str,
) -> Result<account::Model> {
    match find_account(db, email).await? {
        Some(found) => Ok(found),
        None => create_account(db, email).await,
    }
}

/// The account of an e-mail, compared case-insensitively.
pub async fn find_account(db: &impl Fetch, email: &str) -> Result<Option<account::Model>> {
    let backend = db.backend();
    let select = account::Entity::find()
        .filter(account::Column::EmailKey.eq(email_key(email)))
        .limit(1)
        .build(backend);
    Ok(db
        .fetch::<AccountRow>(select, Cost::Point)
        .await?
        .pop()
        .map(|r| r.0))
}

/// The insert of an account lost to another request storing the same e-mail first (the
/// unique key on `accounts.email_key`, as SQLite and PostgreSQL name it).
pub fn is_account_taken(e: &sea_orm::DbErr) -> bool {
    crate::db::unique_violation(e)
        .is_some_and(|m| m.contains("accounts") && m.contains("email_key"))
}

struct AccountRow(account::Model);

impl FromCells for AccountRow {
    // Columns in the entity's order (`Entity::find` selects them so).
    fn from_cells(r: &impl Cells) -> std::result::Result<Self, sea_orm::DbErr> {
        Ok(AccountRow(account::Model {
            id: r.text(0)?,
            email: r.text(1)?,
            email_key: r.text(2)?,
            email_domain: r.opt_text(3)?,
            given_name: r.opt_text(4)?,
            family_name: r.opt_text(5)?,
            created_at: r.time(6)?,
            updated_at: r.time(7)?,
        }))
    }
}

/// A new account for an e-mail no account has.
pub async fn create_account(db: &impl ConnectionTrait, email: &str) -> Result<account::Model> {
    let (model, insert) = new_account(db.get_database_backend(), email, None, None);
    db.execute_raw(insert).await?;
    Ok(model)
}

/// A new account with these names and the statement that stores it, to run with others.
pub fn new_account(
    backend: sea_orm::DbBackend,
    email: &str,
    given_name: Option<String>,
    family_name: Option<String>,
) -> (account::Model, sea_orm::Statement) {
    let at = now();
    let model = account::Model {
        id: new_id(),
        email: email.trim().to_string(),
        email_key: email_key(email),
        email_domain: Some(crate::domain::account_domain(email).unwrap_or_default()),
        given_name,
        family_name,
        created_at: at,
        updated_at: at,
    };
    let insert = account_insert(backend, &model);
    (model, insert)
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum AccountColumn {
    Id,
    Email,
    EmailKey,
    EmailDomain,
    GivenName,
    FamilyName,
    CreatedAt,
    UpdatedAt,
}

/// Built once per backend (see `db::prepared`): a SCIM create of a new person inserts one.
fn account_insert(backend: sea_orm::DbBackend, model: &account::Model) -> sea_orm::Statement {
    use AccountColumn as C;
    static SQL: PerBackend<Template<AccountColumn>> = PerBackend::new();
    const COLUMNS: [AccountColumn; 8] = [
        C::Id,
        C::Email,
        C::EmailKey,
        C::EmailDomain,
        C::GivenName,
        C::FamilyName,
        C::CreatedAt,
        C::UpdatedAt,
    ];
    fn value(model: &account::Model, column: AccountColumn) -> sea_orm::Value {
        match column {
            C::Id => model.id.as_str().into(),
            C::Email => model.email.as_str().into(),
            C::EmailKey => model.email_key.as_str().into(),
            C::EmailDomain => model.email_domain.as_deref().into(),
            C::GivenName => model.given_name.as_deref().into(),
            C::FamilyName => model.family_name.as_deref().into(),
            C::CreatedAt => model.created_at.into(),
            C::UpdatedAt => model.updated_at.into(),
        }
    }
    let template = SQL.get_or_init(backend, || {
        let text = |name: &str| format!("\u{1}{name}");
        let markers = account::Model {
            id: text("id"),
            email: text("email"),
            email_key: text("key"),
            email_domain: Some(text("domain")),
            given_name: Some(text("givenName")),
            family_name: Some(text("familyName")),
            created_at: marker_time(),
            updated_at: marker_time() + chrono::TimeDelta::seconds(1),
        };
        let slots = marked(&COLUMNS, |column| value(&markers, column));
        Template::new(account_insert_built(backend, &markers), &slots)
    });
    template.statement(backend, |column| value(model, column))
}

/// The account's insert as the query builder makes it.
fn account_insert_built(backend: sea_orm::DbBackend, model: &account::Model) -> sea_orm::Statement {
    account::Entity::insert(model.clone().into_active_model().reset_all()).build(backend)
}

/// Sets the names given (a `None` keeps the name) on an account and on its member in
/// `workspace_id` (the operator names someone for one workspace; other workspaces' members keep
/// what their IdPs wrote).
pub async fn rename_account(
    db: &impl ConnectionTrait,
    workspace_id: &str,
    account: account::Model,
    given: Option<String>,
    family: Option<String>,
) -> Result<account::Model> {
    let mut renamed = account;
    if given.is_some() {
        renamed.given_name = given;
    }
    if family.is_some() {
        renamed.family_name = family;
    }
    renamed.updated_at = now();
    let renamed = account::Entity::update(renamed.into_active_model().reset_all())
        .exec(db)
        .await?;
    member::Entity::update_many()
        .col_expr(
            member::Column::GivenName,
            sea_orm::sea_query::Expr::value(renamed.given_name.clone()),
        )
        .col_expr(
            member::Column::FamilyName,
            sea_orm::sea_query::Expr::value(renamed.family_name.clone()),
        )
        .filter(member::Column::AccountId.eq(renamed.id.clone()))
        .filter(member::Column::WorkspaceId.eq(workspace_id))
        .exec(db)
        .await?;
    Ok(renamed)
}

/// Adds an account to a workspace with its e-mail as userName and as its one e-mail (primary,
/// work), so SCIM lists it as an IdP import expects; the effective role is resolved from the owner
/// flag and direct role (a new member is in no group yet).
pub async fn add_member(
    db: &impl ConnectionTrait,
    workspace_id: &str,
    account: &account::Model,
    is_owner: bool,
    direct_role: Option<Role>,
) -> Result<member::Model> {
    let at = now();
    let effective = roles::resolve(is_owner, direct_role, &[]).role;
    let model = member::Model {
        id: new_id(),
        workspace_id: workspace_id.to_string(),
        account_id: account.id.clone(),
        user_name: account.email.clone(),
        user_name_key: account.email_key.clone(),
        external_id: None,
        display_name: None,
        active: true,
        direct_role: direct_role.map(|r| r.as_str().to_string()),
        effective_role: effective.as_str().to_string(),
        is_owner,
        attributes: "{}".into(),
        // Its own names come from this workspace (its IdP, or the operator naming it), never
        // from what another workspace wrote on the account.
        given_name: None,
        family_name: None,
        emails: serde_json::json!([[account.email, "work", true]]).to_string(),
        version: 1,
        created_at: at,
        updated_at: at,
    };
    member::Entity::insert(model.clone().into_active_model().reset_all())
        .exec(db)
        .await?;
    member_email::Entity::insert(member_email::ActiveModel {
        member_id: Set(model.id.clone()),
        workspace_id: Set(workspace_id.to_string()),
        value: Set(account.email.clone()),
        value_key: Set(account.email_key.clone()),
        kind: Set(Some("work".into())),
        is_primary: Set(true),
        ..Default::default()
    })
    .exec(db)
    .await?;
    Ok(model)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The account insert made from its template is the one the query builder makes.
    #[test]
    fn the_account_insert_is_the_builders() {
        let at = now();
        for backend in [sea_orm::DbBackend::Sqlite, sea_orm::DbBackend::Postgres] {
            for (given, family) in [(Some("Ann"), None), (None, Some("Lee"))] {
                let model = account::Model {
                    id: new_id(),
                    email: "Ann@X.test".into(),
                    email_key: email_key("Ann@X.test"),
                    email_domain: Some("x.test".into()),
                    given_name: given.map(str::to_string),
                    family_name: family.map(str::to_string),
                    created_at: at,
                    updated_at: at,
                };
                assert_eq!(
                    account_insert(backend, &model),
                    account_insert_built(backend, &model),
                    "{backend:?}"
                );
            }
        }
    }
}
