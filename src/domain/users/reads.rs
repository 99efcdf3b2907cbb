//! Reading users: one statement per page (a user's groups aggregated in it), deep pages that
//! walk only the index, cursor pages, and the identity lookups IdPs send before every change,
//! built once per backend (`db::prepared`): a lookup is the hottest request there is.
//!
//! The lookups are built once for speed, on purpose. Measured with `scim-bench instructions` on
//! 2026-12-05: a lookup costs 83,000 instructions, 131,000 when its statement is built per
//! request. Pinned to the general list path by `tests/it/read_paths.rs`
//! (`identity_lookups_answer_what_the_general_path_answers`), their slots by the unit tests
//! below.

use sea_orm::sea_query::{Expr, ExprTrait, Order, Query, SelectStatement, SimpleExpr};
use sea_orm::{
    ColumnTrait, DbBackend, DbErr, EntityTrait, JoinType, QueryFilter, QuerySelect, QueryTrait,
};

use super::model::{Email, GroupRef, ListQuery, MAX_PAGE, Page, User};
use crate::db::prepared::{PerBackend, Template};
use crate::db::rows::{Cells, Cost, Fetch, FromCells};
use crate::domain::filter::{AttrPath, CompValue, CompareOp, Filter};
use crate::domain::roles::Role;
use crate::domain::{Error, Result, email_key, filter_sql, keyset};
use crate::entities::member;

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

/// What a user's `get` takes from the request.
#[derive(Clone, Copy, PartialEq)]
enum ById {
    Id,
    Workspace,
}

/// One user of the workspace, in one query (its SQL is built once per backend).
pub async fn get(db: &impl Fetch, workspace_id: &str, id: &str) -> Result<User> {
    static SQL: PerBackend<Template<ById>> = PerBackend::new();
    let backend = db.backend();
    let template = SQL.get_or_init(backend, || {
        const ID: &str = "\u{1}id";
        const WORKSPACE: &str = "\u{1}workspace";
        let select = user_select(backend)
            .and_where(Expr::col((member::Entity, member::Column::Id)).eq(ID))
            .and_where(Expr::col((member::Entity, member::Column::WorkspaceId)).eq(WORKSPACE))
            .to_owned();
        let markers = [(ById::Id, ID.into()), (ById::Workspace, WORKSPACE.into())];
        Template::new(backend.build(&select), &markers)
    });
    let stmt = template.statement(backend, |slot| match slot {
        ById::Id => id.into(),
        ById::Workspace => workspace_id.into(),
    });
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

/// What an identity lookup takes from the request.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Lookup {
    Workspace,
    Value,
    Limit,
}

/// `userName|externalId|id eq "…"` on a first page without sortBy, as IdPs send before every
/// create or update: the same statement `list` builds, without building it per request.
async fn identity_lookup(
    db: &impl Fetch,
    workspace_id: &str,
    query: &ListQuery,
) -> Result<Option<Page<User>>> {
    static SQL: [PerBackend<Template<Lookup>>; 3] =
        [PerBackend::new(), PerBackend::new(), PerBackend::new()];
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
    let lookup = SQL[attribute].get_or_init(backend, || lookup_sql(backend, path));
    let value = (IDENTITY_ATTRIBUTES[attribute].1)(value);
    let limit = Ord::min(query.count, MAX_PAGE);
    let stmt = lookup.statement(backend, |slot| match slot {
        Lookup::Workspace => workspace_id.into(),
        Lookup::Value => value.as_str().into(),
        Lookup::Limit => limit.into(),
    });
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

/// Builds the lookup with marker values (see `db::prepared`).
fn lookup_sql(backend: DbBackend, path: &AttrPath) -> Template<Lookup> {
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
    let markers = [
        (Lookup::Workspace, WORKSPACE.into()),
        (Lookup::Value, VALUE.into()),
        (Lookup::Limit, LIMIT.into()),
    ];
    Template::new(backend.build(&stmt), &markers)
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
                for kind in [Lookup::Workspace, Lookup::Value, Lookup::Limit] {
                    assert_eq!(lookup.occurrences(kind), 1, "{name} {backend:?} {kind:?}");
                }
                let sql = lookup.statement(backend, |_| 0.into()).sql;
                assert!(sql.contains("LIMIT"), "{sql}");
            }
        }
    }

    /// A user's read takes its id and workspace once each.
    #[test]
    fn a_user_read_takes_id_and_workspace_once() {
        for backend in [DbBackend::Sqlite, DbBackend::Postgres] {
            let select = user_select(backend)
                .and_where(Expr::col((member::Entity, member::Column::Id)).eq("\u{1}id"))
                .and_where(Expr::col((member::Entity, member::Column::WorkspaceId)).eq("\u{1}w"))
                .to_owned();
            let markers = [
                (ById::Id, "\u{1}id".into()),
                (ById::Workspace, "\u{1}w".into()),
            ];
            let template = Template::new(backend.build(&select), &markers);
            assert_eq!(template.occurrences(ById::Id), 1);
            assert_eq!(template.occurrences(ById::Workspace), 1);
        }
    }
}
