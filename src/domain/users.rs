//! SCIM Users: the members of a workspace. A member links a global account (by e-mail); its
//! SCIM attributes are stored in columns where they are filtered or ruled on, and the rest as a
//! JSON document returned as sent. Deactivation keeps the member; DELETE removes it from the
//! workspace and its groups but never deletes the account.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Order};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, JoinType,
    QueryFilter, QueryOrder, QuerySelect, RelationTrait, TransactionSession, TransactionTrait,
};
use serde_json::{Map, Value};

use crate::domain::activity;
use crate::domain::api_keys::ScimPrincipal;
use crate::domain::filter::{AttrPath, Filter};
use crate::domain::roles::{self, Role};
use crate::domain::{Error, Result, email_key, filter_sql, new_id, now, workspaces};
use crate::entities::{account, group, group_member, member, member_email};

/// Largest page a list returns; advertised as `filter.maxResults`.
pub const MAX_PAGE: u64 = 1000;
pub const DEFAULT_PAGE: u64 = 100;
/// Attempts of an update that lost a race with another writer before it gives up.
const RETRIES: usize = 3;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Email {
    pub value: String,
    pub kind: Option<String>,
    pub primary: bool,
}

/// A user as the IdP describes it (POST body, PUT body, or the result of applying a PATCH).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct UserInput {
    pub user_name: String,
    pub external_id: Option<String>,
    pub display_name: Option<String>,
    /// The account's names (shared across workspaces): on update `None` clears them, on create
    /// it leaves a linked account's names as they are.
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub active: bool,
    pub emails: Vec<Email>,
    pub direct_role: Option<Role>,
    /// Every other attribute the IdP sent, kept and returned as sent.
    pub attributes: Map<String, Value>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupRef {
    pub id: String,
    pub display_name: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct User {
    pub id: String,
    pub workspace_id: String,
    pub account_id: String,
    pub user_name: String,
    pub external_id: Option<String>,
    pub display_name: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub active: bool,
    pub direct_role: Option<Role>,
    pub effective_role: Role,
    pub is_owner: bool,
    pub emails: Vec<Email>,
    pub groups: Vec<GroupRef>,
    pub attributes: Map<String, Value>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl User {
    /// The input that would reproduce this user (the base a PATCH applies to).
    pub fn to_input(&self) -> UserInput {
        UserInput {
            user_name: self.user_name.clone(),
            external_id: self.external_id.clone(),
            display_name: self.display_name.clone(),
            given_name: self.given_name.clone(),
            family_name: self.family_name.clone(),
            active: self.active,
            emails: self.emails.clone(),
            direct_role: self.direct_role,
            attributes: self.attributes.clone(),
        }
    }
}

/// `startIndex`/`count`/`sortBy`/`sortOrder`/`filter` of a list request.
#[derive(Clone, Debug, Default)]
pub struct ListQuery {
    pub filter: Option<Filter>,
    pub sort_by: Option<AttrPath>,
    pub descending: bool,
    /// 1-based.
    pub start_index: u64,
    pub count: u64,
}

impl ListQuery {
    pub fn order(&self) -> Order {
        if self.descending {
            Order::Desc
        } else {
            Order::Asc
        }
    }
}

pub struct Page<T> {
    pub total: u64,
    pub items: Vec<T>,
}

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

fn validate(input: &UserInput) -> Result<()> {
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
    if input.emails.len() > 50 {
        return Err(Error::invalid("emails", "at most 50 e-mail addresses"));
    }
    Ok(())
}

/// The e-mail that identifies the account: the userName when it is one, else the primary e-mail.
fn account_email(input: &UserInput) -> String {
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

/// Members with their accounts, then their e-mails and groups in one query each.
async fn assemble(
    db: &impl ConnectionTrait,
    rows: Vec<(member::Model, Option<account::Model>)>,
) -> Result<Vec<User>> {
    let ids: Vec<String> = rows.iter().map(|(m, _)| m.id.clone()).collect();
    let mut emails: HashMap<String, Vec<Email>> = HashMap::new();
    let mut groups: HashMap<String, Vec<GroupRef>> = HashMap::new();
    if !ids.is_empty() {
        for e in member_email::Entity::find()
            .filter(member_email::Column::MemberId.is_in(ids.clone()))
            .order_by_asc(member_email::Column::Id)
            .all(db)
            .await?
        {
            emails.entry(e.member_id).or_default().push(Email {
                value: e.value,
                kind: e.kind,
                primary: e.is_primary,
            });
        }
        let memberships: Vec<(String, String, String)> = group_member::Entity::find()
            .select_only()
            .column(group_member::Column::MemberId)
            .column(group::Column::Id)
            .column(group::Column::DisplayName)
            .join(JoinType::InnerJoin, group_member::Relation::Group.def())
            .filter(group_member::Column::MemberId.is_in(ids))
            .order_by_asc(group::Column::DisplayName)
            .into_tuple()
            .all(db)
            .await?;
        for (member_id, id, display_name) in memberships {
            groups
                .entry(member_id)
                .or_default()
                .push(GroupRef { id, display_name });
        }
    }
    Ok(rows
        .into_iter()
        .map(|(m, a)| {
            let attributes =
                serde_json::from_str::<Map<String, Value>>(&m.attributes).unwrap_or_default();
            User {
                emails: emails.remove(&m.id).unwrap_or_default(),
                groups: groups.remove(&m.id).unwrap_or_default(),
                given_name: a.as_ref().and_then(|a| a.given_name.clone()),
                family_name: a.as_ref().and_then(|a| a.family_name.clone()),
                direct_role: m.direct_role.as_deref().and_then(Role::parse),
                effective_role: Role::from_stored(&m.effective_role),
                id: m.id,
                workspace_id: m.workspace_id,
                account_id: m.account_id,
                user_name: m.user_name,
                external_id: m.external_id,
                display_name: m.display_name,
                active: m.active,
                is_owner: m.is_owner,
                attributes,
                version: m.version,
                created_at: m.created_at,
                updated_at: m.updated_at,
            }
        })
        .collect())
}

pub async fn get(db: &impl ConnectionTrait, workspace_id: &str, id: &str) -> Result<User> {
    let row = member::Entity::find_by_id(id.to_string())
        .filter(member::Column::WorkspaceId.eq(workspace_id))
        .find_also_related(account::Entity)
        .one(db)
        .await?
        .ok_or_else(|| Error::NotFound(format!("user {id}")))?;
    Ok(assemble(db, vec![row]).await?.remove(0))
}

/// One page of the workspace's members matching the filter, in a stable order: the sort key,
/// then creation time and id.
pub async fn list(
    db: &impl ConnectionTrait,
    workspace_id: &str,
    query: &ListQuery,
) -> Result<Page<User>> {
    let condition = match &query.filter {
        Some(filter) => Some(filter_sql::users(filter, db.get_database_backend())?),
        None => None,
    };
    let condition_for_ids = condition.clone();
    // A plain COUNT over the workspace index, not over a subquery of every joined row; accounts
    // are joined only when a filter may name their columns.
    let mut counting = member::Entity::find()
        .select_only()
        .column_as(Expr::col((member::Entity, member::Column::Id)).count(), "n")
        .filter(member::Column::WorkspaceId.eq(workspace_id));
    if let Some(condition) = condition {
        counting = counting
            .join(JoinType::LeftJoin, member::Relation::Account.def())
            .filter(condition);
    }
    let count = || async {
        Ok::<u64, Error>(
            counting
                .clone()
                .into_tuple::<i64>()
                .one(db)
                .await?
                .unwrap_or(0) as u64,
        )
    };
    if query.count == 0 {
        return Ok(Page {
            total: count().await?,
            items: Vec::new(),
        });
    }
    let order = query.order();
    // The page's ids first, walking only the index (an OFFSET deep into a large workspace then
    // skips index entries, not joined rows); then those members with their accounts.
    let mut page_ids = member::Entity::find()
        .select_only()
        .column(member::Column::Id)
        .filter(member::Column::WorkspaceId.eq(workspace_id));
    let needs_accounts = query.filter.is_some() || query.sort_by.is_some();
    if needs_accounts {
        page_ids = page_ids.join(JoinType::LeftJoin, member::Relation::Account.def());
    }
    if let Some(condition) = &condition_for_ids {
        page_ids = page_ids.filter(condition.clone());
    }
    if let Some(sort) = &query.sort_by {
        page_ids = page_ids.order_by(filter_sql::user_sort(sort)?, order.clone());
    }
    let ids: Vec<String> = page_ids
        .order_by(member::Column::CreatedAt, order.clone())
        .order_by(member::Column::Id, order)
        .offset(query.start_index.saturating_sub(1))
        .limit(Ord::min(query.count, MAX_PAGE))
        .into_tuple()
        .all(db)
        .await?;
    let mut rows = if ids.is_empty() {
        Vec::new()
    } else {
        // By primary key only: the ids already come from this workspace, and a workspace
        // condition here lets the planner scan the workspace index instead.
        member::Entity::find()
            .filter(member::Column::Id.is_in(ids.clone()))
            .find_also_related(account::Entity)
            .all(db)
            .await?
    };
    let position: HashMap<&str, usize> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    rows.sort_by_key(|(m, _)| position.get(m.id.as_str()).copied().unwrap_or(usize::MAX));
    let total = match known_total(query, rows.len()) {
        Some(total) => total,
        None => count().await?,
    };
    Ok(Page {
        total,
        items: assemble(db, rows).await?,
    })
}

/// The number of matches when the page itself tells it: a first page that is not full (an
/// identity lookup then costs one query, not two). `None`: a COUNT is needed.
pub(crate) fn known_total(query: &ListQuery, on_page: usize) -> Option<u64> {
    (query.start_index <= 1 && (on_page as u64) < Ord::min(query.count, MAX_PAGE))
        .then_some(on_page as u64)
}

async fn write_emails(
    db: &impl ConnectionTrait,
    workspace_id: &str,
    member_id: &str,
    emails: &[Email],
) -> Result<()> {
    member_email::Entity::delete_many()
        .filter(member_email::Column::MemberId.eq(member_id))
        .exec(db)
        .await?;
    if emails.is_empty() {
        return Ok(());
    }
    member_email::Entity::insert_many(emails.iter().map(|e| member_email::ActiveModel {
        member_id: sea_orm::Set(member_id.to_string()),
        workspace_id: sea_orm::Set(workspace_id.to_string()),
        value: sea_orm::Set(e.value.clone()),
        value_key: sea_orm::Set(email_key(&e.value)),
        kind: sea_orm::Set(e.kind.clone()),
        is_primary: sea_orm::Set(e.primary),
        ..Default::default()
    }))
    .exec(db)
    .await?;
    Ok(())
}

/// Sets the account's names. On create, only the names given (a linked account keeps what it
/// has); on update, exactly the names given (a removed name is cleared).
async fn update_account_name(
    db: &impl ConnectionTrait,
    account_id: &str,
    input: &UserInput,
    clear_missing: bool,
) -> Result<()> {
    if !clear_missing && input.given_name.is_none() && input.family_name.is_none() {
        return Ok(());
    }
    let mut update = account::Entity::update_many()
        .col_expr(account::Column::UpdatedAt, Expr::value(now()))
        .filter(account::Column::Id.eq(account_id));
    if clear_missing || input.given_name.is_some() {
        update = update.col_expr(
            account::Column::GivenName,
            Expr::value(input.given_name.clone()),
        );
    }
    if clear_missing || input.family_name.is_some() {
        update = update.col_expr(
            account::Column::FamilyName,
            Expr::value(input.family_name.clone()),
        );
    }
    update.exec(db).await?;
    Ok(())
}

fn conflict_user_name(user_name: &str) -> impl Fn(Error) -> Error + '_ {
    move |e| match e {
        Error::Conflict(_) => Error::Conflict(format!(
            "a user with userName {user_name:?} already exists in this workspace"
        )),
        other => other,
    }
}

/// POST /Users: adds a person to the workspace, linking the account of that e-mail when one
/// exists (inviting them), or creating it.
pub async fn create(
    db: &impl TransactionTrait,
    p: &ScimPrincipal,
    input: UserInput,
) -> Result<User> {
    validate(&input)?;
    let txn = crate::domain::begin_write(db).await?;
    let email = account_email(&input);
    let existed = account::Entity::find()
        .filter(account::Column::EmailKey.eq(email_key(&email)))
        .one(&txn)
        .await?
        .is_some();
    let account = workspaces::find_or_create_account(&txn, &email).await?;
    update_account_name(&txn, &account.id, &input, false).await?;
    let at = now();
    let effective = roles::resolve(false, input.direct_role, &[]).role;
    let model = member::Model {
        id: new_id(),
        workspace_id: p.workspace_id.clone(),
        account_id: account.id.clone(),
        user_name: input.user_name.trim().to_string(),
        user_name_key: email_key(&input.user_name),
        external_id: input.external_id.clone(),
        display_name: input.display_name.clone(),
        active: input.active,
        direct_role: input.direct_role.map(|r| r.as_str().to_string()),
        effective_role: effective.as_str().to_string(),
        is_owner: false,
        attributes: Value::Object(input.attributes.clone()).to_string(),
        version: 1,
        created_at: at,
        updated_at: at,
    };
    member::Entity::insert(model.clone().into_active_model().reset_all())
        .exec(&txn)
        .await
        .map_err(|e| conflict_user_name(&input.user_name)(e.into()))?;
    write_emails(&txn, &p.workspace_id, &model.id, &input.emails).await?;
    let user = get(&txn, &p.workspace_id, &model.id).await?;
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
    activity::record(&txn, p.entry("user.create", 201, "User", &user.id, summary)).await?;
    txn.commit().await?;
    Ok(user)
}

/// The owner can't be deactivated or removed through SCIM, and no change may leave the workspace
/// without an active admin.
fn guard_owner(user: &User, input: Option<&UserInput>) -> Result<()> {
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

async fn guard_admins(db: &impl ConnectionTrait, user: &User) -> Result<()> {
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

/// PUT and PATCH: computes the new state from the current one with `change` and stores it, in
/// one transaction. `if_match` is the version the client last saw (ETag); without it a change
/// that lost a race with another writer is recomputed from the fresh state.
pub async fn update<F, E>(
    db: &impl TransactionTrait,
    p: &ScimPrincipal,
    id: &str,
    if_match: Option<i64>,
    change: F,
) -> Result<User, E>
where
    F: Fn(&User) -> Result<UserInput, E>,
    E: From<Error>,
{
    for _ in 0..RETRIES {
        let txn = crate::domain::begin_write(db).await.map_err(E::from)?;
        // Concurrent changes of one user take turns (PostgreSQL; SQLite writes are serial).
        crate::domain::for_update(&txn, member::Entity::find_by_id(id.to_string()))
            .one(&txn)
            .await
            .map_err(Error::from)?;
        let current = get(&txn, &p.workspace_id, id).await.map_err(E::from)?;
        if if_match.is_some_and(|v| v != current.version) {
            return Err(Error::VersionMismatch.into());
        }
        let input = change(&current)?;
        validate(&input).map_err(E::from)?;
        guard_owner(&current, Some(&input)).map_err(E::from)?;
        if input == current.to_input() {
            // Nothing changes: no write, no new version.
            return Ok(current);
        }
        let at = now();
        let written = member::Entity::update_many()
            .col_expr(
                member::Column::UserName,
                Expr::value(input.user_name.trim()),
            )
            .col_expr(
                member::Column::UserNameKey,
                Expr::value(email_key(&input.user_name)),
            )
            .col_expr(
                member::Column::ExternalId,
                Expr::value(input.external_id.clone()),
            )
            .col_expr(
                member::Column::DisplayName,
                Expr::value(input.display_name.clone()),
            )
            .col_expr(member::Column::Active, Expr::value(input.active))
            .col_expr(
                member::Column::DirectRole,
                Expr::value(input.direct_role.map(|r| r.as_str())),
            )
            .col_expr(
                member::Column::Attributes,
                Expr::value(Value::Object(input.attributes.clone()).to_string()),
            )
            .col_expr(
                member::Column::Version,
                Expr::col(member::Column::Version).add(1),
            )
            .col_expr(member::Column::UpdatedAt, Expr::value(at))
            .filter(member::Column::Id.eq(id))
            .filter(member::Column::WorkspaceId.eq(p.workspace_id.clone()))
            .filter(member::Column::Version.eq(current.version))
            .exec(&txn)
            .await
            .map_err(|e| E::from(conflict_user_name(&input.user_name)(e.into())))?;
        if written.rows_affected == 0 {
            txn.rollback().await.map_err(Error::from)?;
            if if_match.is_some() {
                return Err(Error::VersionMismatch.into());
            }
            continue;
        }
        if input.emails != current.emails {
            write_emails(&txn, &p.workspace_id, id, &input.emails)
                .await
                .map_err(E::from)?;
        }
        update_account_name(&txn, &current.account_id, &input, true)
            .await
            .map_err(E::from)?;
        let role_changes = roles::recompute(&txn, &p.workspace_id, &[id.to_string()])
            .await
            .map_err(E::from)?;
        if current.active && current.effective_role == Role::Admin {
            guard_admins(&txn, &current).await.map_err(E::from)?;
        }
        let user = get(&txn, &p.workspace_id, id).await.map_err(E::from)?;
        let summary = describe_update(&current, &user, &role_changes);
        activity::record(&txn, p.entry("user.update", 200, "User", &user.id, summary))
            .await
            .map_err(E::from)?;
        txn.commit().await.map_err(Error::from)?;
        return Ok(user);
    }
    Err(Error::Conflict("the user is being changed by other requests; retry".into()).into())
}

fn describe_update(before: &User, after: &User, role_changes: &[roles::RoleChange]) -> String {
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

/// DELETE /Users/{id}: removes the member from the workspace and its groups; the account stays.
pub async fn delete(
    db: &impl TransactionTrait,
    p: &ScimPrincipal,
    id: &str,
    if_match: Option<i64>,
) -> Result<()> {
    let txn = crate::domain::begin_write(db).await?;
    let current = get(&txn, &p.workspace_id, id).await?;
    if if_match.is_some_and(|v| v != current.version) {
        return Err(Error::VersionMismatch);
    }
    guard_owner(&current, None)?;
    member::Entity::delete_many()
        .filter(member::Column::Id.eq(id))
        .filter(member::Column::WorkspaceId.eq(p.workspace_id.clone()))
        .exec(&txn)
        .await?;
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
