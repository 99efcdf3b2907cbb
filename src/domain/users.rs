//! SCIM Users: the members of a workspace. A member links a global account (by e-mail); its
//! SCIM attributes are stored in columns where they are filtered or ruled on, and the rest as a
//! JSON document returned as sent. Deactivation keeps the member; DELETE removes it from the
//! workspace and its groups but never deletes the account.

use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Order, Query, SelectStatement, SimpleExpr};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, IntoActiveModel,
    JoinType, QueryFilter, QuerySelect, QueryTrait, Statement,
};
use serde_json::{Map, Value};

use crate::db::rows::{Cells, Cost, Fetch, FromCells};
use crate::domain::activity;
use crate::domain::api_keys::ScimPrincipal;
use crate::domain::filter::{AttrPath, CompValue, CompareOp, Filter};
use crate::domain::roles::{self, Role};
use crate::domain::{Error, Result, Store, email_key, filter_sql, keyset, new_id, now, workspaces};
use crate::entities::{account, member, member_email};

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
    /// The workspace roles the IdP assigned directly (`roles`), in any order.
    pub roles: Vec<Role>,
    /// Every other attribute the IdP sent, kept and returned as sent.
    pub attributes: Map<String, Value>,
}

impl UserInput {
    /// The direct role: of several roles sent, the highest, as Entra sends every app role
    /// assigned to a person and the person should get the one that grants most.
    pub fn direct_role(&self) -> Option<Role> {
        self.roles.iter().copied().max()
    }
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
            roles: self.direct_role.into_iter().collect(),
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
    /// Cursor paging (RFC 9865) instead of `start_index`.
    pub cursor: Option<crate::domain::keyset::Cursor>,
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
    /// Cursor paging: whether rows lie beyond this page in the direction it was read.
    pub more: bool,
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

/// The columns of a user: the member (with its copies of the account's names and of its
/// e-mails) and its groups as a JSON array aggregated in the same statement, so a page of any size
/// is one query.
fn user_select(backend: DbBackend) -> SelectStatement {
    use member::Column as M;
    // An unordered aggregate (an ORDER BY inside one costs SQLite a sorter per row); the groups
    // are ordered when decoded.
    let groups = match backend {
        DbBackend::Postgres => {
            "(SELECT COALESCE(json_agg(json_build_array(g.id, g.display_name)), '[]')::text \
             FROM group_members gm JOIN groups g ON g.id = gm.group_id WHERE gm.member_id = members.id)"
        }
        _ => {
            "(SELECT json_group_array(json_array(g.id, g.display_name)) \
             FROM group_members gm JOIN groups g ON g.id = gm.group_id WHERE gm.member_id = members.id)"
        }
    };
    Query::select()
        .columns(
            [
                M::Id,
                M::WorkspaceId,
                M::AccountId,
                M::UserName,
                M::ExternalId,
                M::DisplayName,
                M::Active,
                M::DirectRole,
                M::EffectiveRole,
                M::IsOwner,
                M::Attributes,
                M::Version,
                M::CreatedAt,
                M::UpdatedAt,
                M::GivenName,
                M::FamilyName,
                M::Emails,
            ]
            .map(|c| (member::Entity, c)),
        )
        .expr(Expr::cust(groups))
        .from(member::Entity)
        .to_owned()
}

/// A member's `emails` column: `[[value, type, primary], ...]` in the order given.
fn emails_json(emails: &[Email]) -> String {
    let rows: Vec<(&str, Option<&str>, bool)> = emails
        .iter()
        .map(|e| (e.value.as_str(), e.kind.as_deref(), e.primary))
        .collect();
    serde_json::to_string(&rows).unwrap_or_else(|_| "[]".into())
}

struct UserRow(User);

impl FromCells for UserRow {
    fn from_cells(r: &impl Cells) -> std::result::Result<Self, DbErr> {
        let stored =
            |what: &str, e: serde_json::Error| DbErr::Custom(format!("stored {what}: {e}"));
        let emails: Vec<(String, Option<String>, bool)> = r
            .read_text(16, |t| serde_json::from_str(t))?
            .map_err(|e| stored("e-mails", e))?;
        let mut groups: Vec<(String, String)> = r
            .read_text(17, |t| serde_json::from_str(t))?
            .map_err(|e| stored("groups", e))?;
        groups.sort_unstable_by(|a, b| (&a.1, &a.0).cmp(&(&b.1, &b.0)));
        Ok(UserRow(User {
            id: r.text(0)?,
            workspace_id: r.text(1)?,
            account_id: r.text(2)?,
            user_name: r.text(3)?,
            external_id: r.opt_text(4)?,
            display_name: r.opt_text(5)?,
            active: r.flag(6)?,
            direct_role: r.read_text(7, Role::parse)?,
            effective_role: r.read_text(8, Role::from_stored)?,
            is_owner: r.flag(9)?,
            attributes: r
                .read_text(10, |t| serde_json::from_str(t))?
                .unwrap_or_default(),
            version: r.int(11)?,
            created_at: r.time(12)?,
            updated_at: r.time(13)?,
            given_name: r.opt_text(14)?,
            family_name: r.opt_text(15)?,
            emails: emails
                .into_iter()
                .map(|(value, kind, primary)| Email {
                    value,
                    kind,
                    primary,
                })
                .collect(),
            groups: groups
                .into_iter()
                .map(|(id, display_name)| GroupRef { id, display_name })
                .collect(),
        }))
    }
}

struct Count(u64);

impl FromCells for Count {
    fn from_cells(r: &impl Cells) -> std::result::Result<Self, DbErr> {
        Ok(Count(u64::try_from(r.int(0)?).unwrap_or(0)))
    }
}

/// One user of the workspace, in one query (its SQL is built once per backend).
pub async fn get(db: &impl Fetch, workspace_id: &str, id: &str) -> Result<User> {
    static SQL: [OnceLock<String>; 2] = [OnceLock::new(), OnceLock::new()];
    let backend = db.backend();
    let sql = SQL[usize::from(backend == DbBackend::Postgres)].get_or_init(|| {
        let select = user_select(backend)
            .and_where(Expr::col((member::Entity, member::Column::Id)).eq(""))
            .and_where(Expr::col((member::Entity, member::Column::WorkspaceId)).eq(""))
            .to_owned();
        backend.build(&select).sql
    });
    let stmt =
        Statement::from_sql_and_values(backend, sql.as_str(), [id.into(), workspace_id.into()]);
    db.fetch::<UserRow>(stmt, Cost::Point)
        .await?
        .pop()
        .map(|row| row.0)
        .ok_or_else(|| Error::NotFound(format!("user {id}")))
}

/// One page of the workspace's members matching the filter, in a stable order: the sort key,
/// then creation time and id. One query for the page (a COUNT too when the page can't tell it).
pub async fn list(db: &impl Fetch, workspace_id: &str, query: &ListQuery) -> Result<Page<User>> {
    // Before any SQL is built: the lookup's statement is built once.
    if let Some(page) = identity_lookup(db, workspace_id, query).await? {
        return Ok(page);
    }
    let condition = match &query.filter {
        Some(filter) => Some(filter_sql::users(filter, db.backend())?),
        None => None,
    };
    let cost = if query.start_index <= 1 && query.filter.as_ref().is_some_and(is_identity_lookup) {
        Cost::Point
    } else {
        Cost::Scan
    };
    let count = || count_members(db, workspace_id, condition.clone(), cost);
    if query.count == 0 {
        return Ok(Page {
            total: count().await?,
            items: Vec::new(),
            more: false,
        });
    }
    if let Some(cursor) = &query.cursor {
        return cursor_page(db, workspace_id, query, cursor, condition, cost).await;
    }
    let order = query.order();
    let sort = match &query.sort_by {
        Some(path) => Some(filter_sql::user_sort(path)?),
        None => None,
    };
    let offset = query.start_index.saturating_sub(1);
    let limit = Ord::min(query.count, MAX_PAGE);
    let order_page = |stmt: &mut SelectStatement| {
        if let Some(sort) = &sort {
            stmt.order_by_expr(sort.clone(), order.clone());
        }
        stmt.order_by((member::Entity, member::Column::CreatedAt), order.clone())
            .order_by((member::Entity, member::Column::Id), order.clone());
    };
    let mut stmt = user_select(db.backend());
    if offset == 0 {
        // A first page: the rows themselves, in one plain query.
        first_page(&mut stmt, workspace_id, condition.clone());
        order_page(&mut stmt);
        stmt.limit(limit);
    } else {
        // A deeper page: its ids walk only the index (the OFFSET then skips index entries, not
        // joined rows), and only those members are joined, by primary key.
        let mut page_ids = member::Entity::find()
            .select_only()
            .column_as(member::Column::Id, PAGE_ID)
            .filter(member::Column::WorkspaceId.eq(workspace_id));
        if let Some(condition) = &condition {
            page_ids = page_ids.filter(condition.clone());
        }
        let mut page_ids = page_ids.into_query();
        order_page(&mut page_ids);
        page_ids.offset(offset).limit(limit);
        stmt.join_subquery(
            JoinType::InnerJoin,
            page_ids,
            PAGE,
            Expr::col((PAGE, PAGE_ID)).equals((member::Entity, member::Column::Id)),
        );
        // The same order again: the sort expression names the same tables in this scope.
        order_page(&mut stmt);
    }
    let items: Vec<User> = db
        .fetch::<UserRow>(db.backend().build(&stmt), cost)
        .await?
        .into_iter()
        .map(|row| row.0)
        .collect();
    let total = match known_total(query, items.len()) {
        Some(total) => total,
        None => count().await?,
    };
    Ok(Page {
        total,
        items,
        more: false,
    })
}

/// A cursor page: the rows beyond the cursor's, read in the list's order (or against it, for a
/// previous page), one more than asked for to know whether another page follows.
async fn cursor_page(
    db: &impl Fetch,
    workspace_id: &str,
    query: &ListQuery,
    cursor: &keyset::Cursor,
    condition: Option<SimpleExpr>,
    cost: Cost,
) -> Result<Page<User>> {
    let sort = match &query.sort_by {
        Some(path) => Some(filter_sql::user_sort(path)?),
        None => None,
    };
    let ascending = query.descending == cursor.backwards();
    let order = if ascending { Order::Asc } else { Order::Desc };
    let limit = Ord::min(query.count, MAX_PAGE);
    let mut stmt = user_select(db.backend());
    first_page(&mut stmt, workspace_id, condition.clone());
    if let Some(at) = cursor.position() {
        keyset::require_row(db, &USERS, workspace_id, at).await?;
        stmt.and_where(keyset::beyond(
            &USERS,
            workspace_id,
            sort.as_ref(),
            at,
            ascending,
            db.backend(),
        ));
    }
    if let Some(sort) = &sort {
        stmt.order_by_expr(sort.clone(), order.clone());
    }
    stmt.order_by((member::Entity, member::Column::CreatedAt), order.clone())
        .order_by((member::Entity, member::Column::Id), order)
        .limit(limit + 1);
    let mut items: Vec<User> = db
        .fetch::<UserRow>(db.backend().build(&stmt), cost)
        .await?
        .into_iter()
        .map(|row| row.0)
        .collect();
    let more = items.len() as u64 > limit;
    items.truncate(limit as usize);
    if cursor.backwards() {
        items.reverse();
    }
    let total = if cursor.position().is_none() && !more {
        items.len() as u64
    } else {
        count_members(db, workspace_id, condition, cost).await?
    };
    Ok(Page { total, items, more })
}

/// The members a condition selects: a plain COUNT over the workspace index, not over a subquery
/// of every joined row.
async fn count_members(
    db: &impl Fetch,
    workspace_id: &str,
    condition: Option<SimpleExpr>,
    cost: Cost,
) -> Result<u64> {
    let mut counting = member::Entity::find()
        .select_only()
        .column_as(Expr::col((member::Entity, member::Column::Id)).count(), "n")
        .filter(member::Column::WorkspaceId.eq(workspace_id));
    if let Some(condition) = condition {
        counting = counting.filter(condition);
    }
    let rows = db
        .fetch::<Count>(db.backend().build(counting.as_query()), cost)
        .await?;
    Ok(rows.first().map_or(0, |c| c.0))
}

/// The members table, as cursor pages name it.
const USERS: keyset::Table = keyset::Table {
    name: "members",
    id: "id",
    created_at: "created_at",
    workspace_id: "workspace_id",
};

const PAGE: &str = "page";
const PAGE_ID: &str = "page_id";

/// The conditions of a first page: the workspace, then the filter's.
fn first_page(stmt: &mut SelectStatement, workspace_id: &str, condition: Option<SimpleExpr>) {
    stmt.and_where(Expr::col((member::Entity, member::Column::WorkspaceId)).eq(workspace_id));
    if let Some(condition) = condition {
        stmt.and_where(condition);
    }
}

/// How a looked-up value is compared: as its key (case-insensitive) or as given.
type Compared = fn(&str) -> String;

/// The attributes an IdP looks people up by, and how their value is compared.
const IDENTITY_ATTRIBUTES: [(&str, Compared); 3] = [
    ("userName", email_key),
    ("externalId", str::to_string),
    ("id", str::to_string),
];

/// An identity lookup's SQL, built once per backend and attribute, and where each request's
/// values go in it.
struct LookupSql {
    sql: String,
    slots: Vec<Slot>,
}

enum Slot {
    Workspace,
    Value,
    Limit,
    Fixed(sea_orm::Value),
}

/// `userName|externalId|id eq "…"` on a first page without sortBy, as IdPs send before every
/// create or update: the same statement `list` builds, without building it per request.
async fn identity_lookup(
    db: &impl Fetch,
    workspace_id: &str,
    query: &ListQuery,
) -> Result<Option<Page<User>>> {
    static SQL: [[OnceLock<LookupSql>; 3]; 2] = [
        [OnceLock::new(), OnceLock::new(), OnceLock::new()],
        [OnceLock::new(), OnceLock::new(), OnceLock::new()],
    ];
    let Some(Filter::Compare {
        path,
        op: CompareOp::Eq,
        value: CompValue::Str(value),
    }) = &query.filter
    else {
        return Ok(None);
    };
    if query.start_index > 1
        || query.sort_by.is_some()
        || query.count == 0
        || query.descending
        || query
            .cursor
            .as_ref()
            .is_some_and(|c| c.position().is_some())
    {
        return Ok(None);
    }
    let Some(attribute) = IDENTITY_ATTRIBUTES
        .iter()
        .position(|(name, _)| path.is(name, None))
    else {
        return Ok(None);
    };
    let backend = db.backend();
    let lookup = SQL[usize::from(backend == DbBackend::Postgres)][attribute]
        .get_or_init(|| lookup_sql(backend, path));
    let value = (IDENTITY_ATTRIBUTES[attribute].1)(value);
    let limit = Ord::min(query.count, MAX_PAGE);
    let values = lookup.slots.iter().map(|slot| match slot {
        Slot::Workspace => workspace_id.into(),
        Slot::Value => value.as_str().into(),
        Slot::Limit => limit.into(),
        Slot::Fixed(v) => v.clone(),
    });
    let stmt = Statement::from_sql_and_values(backend, lookup.sql.as_str(), values);
    let items: Vec<User> = db
        .fetch::<UserRow>(stmt, Cost::Point)
        .await?
        .into_iter()
        .map(|row| row.0)
        .collect();
    let total = known_total(query, items.len());
    // A full page of one identity can't happen (the attributes are unique or near it), but if
    // it did, the general path counts.
    Ok(total.map(|total| Page {
        total,
        items,
        more: false,
    }))
}

/// Builds the lookup with marker values and notes where each marker landed.
fn lookup_sql(backend: DbBackend, path: &AttrPath) -> LookupSql {
    const WORKSPACE: &str = "\u{1}workspace";
    const VALUE: &str = "\u{1}value";
    const LIMIT: u64 = 0x5c1e_ca11;
    let filter = Filter::Compare {
        path: path.clone(),
        op: CompareOp::Eq,
        value: CompValue::Str(VALUE.into()),
    };
    let condition = filter_sql::users(&filter, backend).expect("an identity filter translates");
    let mut stmt = user_select(backend);
    first_page(&mut stmt, WORKSPACE, Some(condition));
    stmt.order_by((member::Entity, member::Column::CreatedAt), Order::Asc)
        .order_by((member::Entity, member::Column::Id), Order::Asc)
        .limit(LIMIT);
    let built = backend.build(&stmt);
    let slots = built
        .values
        .map(|v| v.0)
        .unwrap_or_default()
        .into_iter()
        .map(|v| match &v {
            sea_orm::Value::String(Some(s)) if s == WORKSPACE => Slot::Workspace,
            sea_orm::Value::String(Some(s)) if s == VALUE => Slot::Value,
            sea_orm::Value::BigUnsigned(Some(LIMIT)) => Slot::Limit,
            _ => Slot::Fixed(v),
        })
        .collect();
    LookupSql {
        sql: built.sql,
        slots,
    }
}

/// `userName eq …`, `externalId eq …`, `id eq …`: what an IdP sends before it creates or
/// updates someone, answered from a unique or selective index.
fn is_identity_lookup(filter: &Filter) -> bool {
    matches!(filter, Filter::Compare { path, op: CompareOp::Eq, .. }
        if path.urn.is_none() && path.sub.is_none()
            && ["userName", "externalId", "id"].iter().any(|n| path.name.eq_ignore_ascii_case(n)))
}

/// The number of matches when the page itself tells it: a first page that is not full (an
/// identity lookup then costs one query, not two). `None`: a COUNT is needed.
pub(crate) fn known_total(query: &ListQuery, on_page: usize) -> Option<u64> {
    (query.start_index <= 1 && (on_page as u64) < Ord::min(query.count, MAX_PAGE))
        .then_some(on_page as u64)
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

/// The account's names as a statement. On create, only the names given (a linked account keeps
/// what it has); on update, exactly the names given (a removed name is cleared).
fn account_name_update(
    backend: DbBackend,
    account_id: &str,
    input: &UserInput,
    clear_missing: bool,
) -> Option<Statement> {
    if !clear_missing && input.given_name.is_none() && input.family_name.is_none() {
        return None;
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
    Some(update.build(backend))
}

/// Copies the account's names onto every member of it (in every workspace), in the transaction
/// that changed them: members are read without joining accounts.
fn member_names_sync(backend: DbBackend, account_id: &str) -> Statement {
    let name = |column: &str| {
        Expr::cust(format!(
            "(SELECT a.{column} FROM accounts a WHERE a.id = members.account_id)"
        ))
    };
    member::Entity::update_many()
        .col_expr(member::Column::GivenName, name("given_name"))
        .col_expr(member::Column::FamilyName, name("family_name"))
        .filter(member::Column::AccountId.eq(account_id))
        .build(backend)
}

fn conflict_user_name(user_name: &str) -> impl Fn(Error) -> Error + '_ {
    move |e| match e {
        Error::Conflict(_) => Error::Conflict(format!(
            "a user with userName {user_name:?} already exists in this workspace"
        )),
        other => other,
    }
}

/// Why a new user conflicts, in words an admin reading the IdP's error can act on: the userName
/// is taken, or the e-mail that keys the account already belongs to another member here.
async fn creation_conflict(
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

/// POST /Users: adds a person to the workspace, linking the account of that e-mail when one
/// exists (inviting them), or creating it. On SQLite the account is looked up first and the rows
/// go in one round trip; an account stored meanwhile by another request makes it look again.
pub async fn create(store: &Store, p: &ScimPrincipal, input: UserInput) -> Result<User> {
    let (writer, reads) = (store.writer(), store.reads());
    validate(&input)?;
    let email = account_email(&input);

    let backend = writer.pool().get_database_backend();
    if let Some(sqlite) = writer.sqlite() {
        for _ in 0..RETRIES {
            let found = workspaces::find_account(reads, &email).await?;
            let (user, writes) = creation(backend, p, &input, &email, found);
            match sqlite.apply(writes).await {
                Err(e) if workspaces::is_account_taken(&e) => continue,
                Err(e) => match Error::from(e) {
                    Error::Conflict(_) => {
                        let ws = &p.workspace_id;
                        return Err(
                            creation_conflict(writer.pool(), ws, &user.user_name, &email).await,
                        );
                    }
                    other => return Err(other),
                },
                Ok(_) => return Ok(user),
            }
        }
    } else {
        for _ in 0..RETRIES {
            let txn = crate::db::begin_write(writer.pool()).await?;
            let found = workspaces::find_account(&txn, &email).await?;
            let (user, writes) = creation(backend, p, &input, &email, found);
            match crate::db::execute_all(&txn, writes).await {
                Err(e) if workspaces::is_account_taken(&e) => {
                    txn.rollback().await?;
                    continue;
                }
                Err(e) => {
                    txn.rollback().await?;
                    return Err(match Error::from(e) {
                        Error::Conflict(_) => {
                            let ws = &p.workspace_id;
                            creation_conflict(writer.pool(), ws, &user.user_name, &email).await
                        }
                        other => other,
                    });
                }
                Ok(_) => {
                    txn.commit().await?;
                    return Ok(user);
                }
            }
        }
    }
    Err(Error::Conflict(
        "the account of this e-mail is being created by other requests; retry".into(),
    ))
}

/// The user a POST stores and the statements that store it (account when new, names, member,
/// e-mails, activity), given the account found for its e-mail.
fn creation(
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
            let (account, insert) = workspaces::new_account(backend, email);
            writes.push(insert);
            account
        }
    };
    writes.extend(account_name_update(backend, &account.id, input, false));
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
        given_name: input.given_name.clone().or(account.given_name.clone()),
        family_name: input.family_name.clone().or(account.family_name.clone()),
        emails: emails_json(&input.emails),
        version: 1,
        created_at: at,
        updated_at: at,
    };
    writes
        .push(member::Entity::insert(model.clone().into_active_model().reset_all()).build(backend));
    if existed {
        // The account was read before this transaction: its names as they are now. (A new
        // account has exactly the names given, which the member already copies.)
        writes.push(member_names_sync(backend, &account.id));
    }
    writes.extend(emails_insert(
        backend,
        &p.workspace_id,
        &model.id,
        &input.emails,
    ));
    // What was just written (a linked account keeps the names it had unless new ones came).
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
///
/// On SQLite a change that can't move any role reads the user from the fast readers and sends
/// its writes in one batch that holds only if the version is still the one read (else it reads
/// again); a change that may move a role, or that changes nothing, runs as one transaction.
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
    let (writer, reads) = (store.writer(), store.reads());
    if let Some(sqlite) = writer.sqlite() {
        for _ in 0..RETRIES {
            let current = get(reads, &p.workspace_id, id).await.map_err(E::from)?;
            let Some(plan) = plan_update(DbBackend::Sqlite, p, id, if_match, &current, &change)?
            else {
                break;
            };
            if plan.role_may_change {
                break;
            }
            let kept = sqlite
                .apply_if_returned(plan.update, plan.writes)
                .await
                .map_err(|e| E::from(conflict_user_name(&plan.user.user_name)(e.into())))?;
            if kept {
                return Ok(plan.user);
            }
            if if_match.is_some() {
                return Err(Error::VersionMismatch.into());
            }
        }
    }
    for _ in 0..RETRIES {
        let txn = crate::db::begin_write(writer.pool())
            .await
            .map_err(|e| E::from(e.into()))?;
        // Concurrent changes of one user take turns (PostgreSQL; SQLite writes are serial).
        if txn.get_database_backend() == DbBackend::Postgres {
            crate::db::for_update(&txn, member::Entity::find_by_id(id.to_string()))
                .one(&txn)
                .await
                .map_err(Error::from)?;
        }
        let current = get(&txn, &p.workspace_id, id).await.map_err(E::from)?;
        let backend = txn.get_database_backend();
        let Some(plan) = plan_update(backend, p, id, if_match, &current, &change)? else {
            // Nothing changes: no write, no new version.
            return Ok(current);
        };
        let written = crate::db::write_returning(&txn, plan.update, plan.writes).await;
        let matched = match written.map_err(Error::from) {
            Ok(matched) => matched,
            // Renaming one person in two workspaces at once: each waits on the other's members.
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

/// What a PUT or PATCH writes over `current`: the member update (it returns a row only while
/// the version is still `current`'s), the e-mail and name rows, and — when no role can move —
/// the activity entry; `None` when nothing changes.
struct UpdatePlan {
    update: Statement,
    writes: Vec<Statement>,
    /// The user as written (before any role recompute).
    user: User,
    /// The direct role or deactivation changes: roles are recomputed in the transaction.
    role_may_change: bool,
}

fn plan_update<F, E>(
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
    let mut update = member::Entity::update_many()
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
            Expr::value(input.direct_role().map(|r| r.as_str())),
        )
        .col_expr(
            member::Column::Attributes,
            Expr::value(Value::Object(input.attributes.clone()).to_string()),
        )
        .col_expr(
            member::Column::Emails,
            Expr::value(emails_json(&input.emails)),
        )
        .col_expr(
            member::Column::Version,
            Expr::col(member::Column::Version).add(1),
        )
        .col_expr(member::Column::UpdatedAt, Expr::value(at))
        .filter(member::Column::Id.eq(id))
        .filter(member::Column::WorkspaceId.eq(p.workspace_id.clone()))
        .filter(member::Column::Version.eq(current.version))
        .into_query();
    // A row comes back only if the version still matched.
    update.returning_col((member::Entity, member::Column::Version));
    let mut writes = Vec::new();
    if input.emails != current.emails {
        writes.push(
            member_email::Entity::delete_many()
                .filter(member_email::Column::MemberId.eq(id))
                .build(backend),
        );
        writes.extend(emails_insert(backend, &p.workspace_id, id, &input.emails));
    }
    if (&input.given_name, &input.family_name) != (&current.given_name, &current.family_name) {
        writes.extend(account_name_update(
            backend,
            &current.account_id,
            &input,
            true,
        ));
        writes.push(member_names_sync(backend, &current.account_id));
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
        update: backend.build(&update),
        writes,
        user,
        role_may_change,
    }))
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
    store: &Store,
    p: &ScimPrincipal,
    id: &str,
    if_match: Option<i64>,
) -> Result<()> {
    let db = store.writes();
    let txn = crate::db::begin_write(db).await?;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Each lookup statement takes the workspace, the value and the page size once each: a marker
    /// the translation changed (or dropped) would leave a request's value out.
    #[test]
    fn identity_lookups_take_each_value_once() {
        for backend in [DbBackend::Sqlite, DbBackend::Postgres] {
            for (name, _) in IDENTITY_ATTRIBUTES {
                let path = AttrPath::parse(name).unwrap();
                let lookup = lookup_sql(backend, &path);
                let count =
                    |want: fn(&Slot) -> bool| lookup.slots.iter().filter(|s| want(s)).count();
                assert_eq!(
                    count(|s| matches!(s, Slot::Workspace)),
                    1,
                    "{name} {backend:?}"
                );
                assert_eq!(count(|s| matches!(s, Slot::Value)), 1, "{name} {backend:?}");
                assert_eq!(count(|s| matches!(s, Slot::Limit)), 1, "{name} {backend:?}");
                assert!(lookup.sql.contains("LIMIT"), "{}", lookup.sql);
            }
        }
    }
}
