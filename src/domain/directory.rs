//! The settings page's views of a workspace's people, groups and activity: keyset-paginated
//! reads for admins, with each member's role sources.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::domain::admin::{self, Principal};
use crate::domain::roles::{self, Role, RoleSource};
use crate::domain::{Error, Result, Store};
use crate::entities::{activity, group, group_member, member};

pub const MAX_PAGE: u64 = 200;

pub struct Page<T> {
    pub nodes: Vec<T>,
    pub total: u64,
    pub has_next: bool,
    pub end_cursor: Option<String>,
}

pub struct MemberView {
    pub id: String,
    pub user_name: String,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub active: bool,
    pub role: Role,
    /// Every source that gives a role, the deciding one first.
    pub sources: Vec<(RoleSource, Role)>,
}

pub struct GroupView {
    pub id: String,
    pub display_name: String,
    pub member_count: u64,
    pub mapped_role: Option<Role>,
}

pub struct ActivityView {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub summary: String,
    pub status: i32,
    pub succeeded: bool,
    pub method: Option<String>,
    pub path: Option<String>,
    pub latency_ms: Option<i32>,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    /// How many times it happened within the entry's minute (repeated sign-in refusals of one
    /// client are one entry).
    pub occurrences: i32,
    /// The client address, for entries of the public sign-in routes.
    pub client: Option<String>,
}

impl From<activity::Model> for ActivityView {
    fn from(m: activity::Model) -> Self {
        ActivityView {
            id: m.id,
            at: m.at,
            actor: m.actor,
            action: m.action,
            summary: m.summary,
            status: m.status,
            succeeded: m.succeeded,
            method: m.method,
            path: m.path,
            latency_ms: m.latency_ms,
            resource_type: m.resource_type,
            resource_id: m.resource_id,
            occurrences: m.occurrences,
            client: m.client,
        }
    }
}

fn encode_cursor(parts: &[&str]) -> String {
    URL_SAFE_NO_PAD.encode(parts.join("\u{0}"))
}

fn decode_cursor(cursor: &str, parts: usize) -> Result<Vec<String>> {
    let bad = || Error::invalid("after", "the cursor is not one this API returned");
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let out: Vec<String> = text.split('\u{0}').map(str::to_string).collect();
    if out.len() != parts {
        return Err(bad());
    }
    Ok(out)
}

fn page_size(first: Option<i32>) -> Result<u64> {
    match first {
        None => Ok(50),
        Some(n) if n >= 0 && (n as u64) <= MAX_PAGE => Ok(n as u64),
        Some(_) => Err(Error::invalid(
            "first",
            format!("first must be between 0 and {MAX_PAGE}"),
        )),
    }
}

/// `%search%`, case-folded, with LIKE's wildcards in it escaped.
fn like_pattern(search: &str) -> String {
    format!(
        "%{}%",
        crate::domain::filter_sql::like_escape(&search.trim().to_lowercase())
    )
}

/// Members ordered by userName, with their role and where it comes from.
pub async fn members(
    store: &Store,
    principal: &Principal,
    first: Option<i32>,
    after: Option<&str>,
    search: Option<&str>,
) -> Result<Page<MemberView>> {
    let db = store.pool();
    admin::require_admin(db, principal).await?;
    let limit = page_size(first)?;
    let ws = principal.workspace_id.as_str();
    // The names this workspace's IdP wrote (the member's), not another workspace's.
    let mut select = member::Entity::find().filter(member::Column::WorkspaceId.eq(ws));
    if let Some(search) = search.map(str::trim).filter(|s| !s.is_empty()) {
        let pattern = like_pattern(search);
        let like =
            |e: sea_orm::sea_query::SimpleExpr| e.like(LikeExpr::new(pattern.clone()).escape('\\'));
        select = select.filter(
            like(Expr::col((member::Entity, member::Column::UserNameKey)))
                .or(like(
                    Func::lower(Expr::col((member::Entity, member::Column::GivenName))).into(),
                ))
                .or(like(
                    Func::lower(Expr::col((member::Entity, member::Column::FamilyName))).into(),
                ))
                .or(like(
                    Func::lower(Expr::col((member::Entity, member::Column::DisplayName))).into(),
                )),
        );
    }
    let total = select.clone().count(db).await?;
    if let Some(after) = after {
        let parts = decode_cursor(after, 2)?;
        let (key, id) = (parts[0].clone(), parts[1].clone());
        select = select.filter(
            member::Column::UserNameKey
                .gt(key.clone())
                .or(member::Column::UserNameKey
                    .eq(key)
                    .and(member::Column::Id.gt(id))),
        );
    }
    let mut rows = select
        .order_by_asc(member::Column::UserNameKey)
        .order_by_asc(member::Column::Id)
        .limit(limit + 1)
        .all(db)
        .await?;
    let has_next = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    let end_cursor = rows
        .last()
        .map(|m| encode_cursor(&[&m.user_name_key, &m.id]));

    // Role sources: the page's memberships and the mapping, one query each.
    let ids: Vec<String> = rows.iter().map(|m| m.id.clone()).collect();
    let mappings = roles::load_mapping_table(db, ws).await?;
    let groups_of = roles::mapped_groups(db, &ids, &mappings).await?;
    let nodes = rows
        .into_iter()
        .map(|m| {
            let direct = m.direct_role.as_deref().and_then(Role::parse);
            let resolution = roles::resolve(
                m.is_owner,
                direct,
                groups_of.get(&m.id).map(Vec::as_slice).unwrap_or(&[]),
            );
            MemberView {
                id: m.id,
                user_name: m.user_name,
                given_name: m.given_name,
                family_name: m.family_name,
                active: m.active,
                role: Role::from_stored(&m.effective_role),
                sources: resolution.sources,
            }
        })
        .collect();
    Ok(Page {
        nodes,
        total,
        has_next,
        end_cursor,
    })
}

/// Groups ordered by name, with member counts and the role their name maps to.
pub async fn groups(
    store: &Store,
    principal: &Principal,
    first: Option<i32>,
    after: Option<&str>,
    search: Option<&str>,
) -> Result<Page<GroupView>> {
    let db = store.pool();
    admin::require_admin(db, principal).await?;
    let limit = page_size(first)?;
    let ws = principal.workspace_id.as_str();
    let mut select = group::Entity::find().filter(group::Column::WorkspaceId.eq(ws));
    if let Some(search) = search.map(str::trim).filter(|s| !s.is_empty()) {
        select = select
            .filter(group::Column::NameKey.like(LikeExpr::new(like_pattern(search)).escape('\\')));
    }
    let total = select.clone().count(db).await?;
    if let Some(after) = after {
        let parts = decode_cursor(after, 2)?;
        let (key, id) = (parts[0].clone(), parts[1].clone());
        select = select.filter(
            group::Column::NameKey
                .gt(key.clone())
                .or(group::Column::NameKey.eq(key).and(group::Column::Id.gt(id))),
        );
    }
    let mut rows = select
        .order_by_asc(group::Column::NameKey)
        .order_by_asc(group::Column::Id)
        .limit(limit + 1)
        .all(db)
        .await?;
    let has_next = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    let end_cursor = rows.last().map(|g| encode_cursor(&[&g.name_key, &g.id]));
    let ids: Vec<String> = rows.iter().map(|g| g.id.clone()).collect();
    let counts: HashMap<String, i64> = if ids.is_empty() {
        HashMap::new()
    } else {
        group_member::Entity::find()
            .select_only()
            .column(group_member::Column::GroupId)
            .column_as(Expr::col(group_member::Column::MemberId).count(), "n")
            .filter(group_member::Column::GroupId.is_in(ids))
            .group_by(group_member::Column::GroupId)
            .into_tuple::<(String, i64)>()
            .all(db)
            .await?
            .into_iter()
            .collect()
    };
    let mappings = roles::load_mapping_table(db, ws).await?;
    let nodes = rows
        .into_iter()
        .map(|g| GroupView {
            member_count: counts.get(&g.id).copied().unwrap_or(0) as u64,
            mapped_role: mappings.get(&g.name_key).copied(),
            id: g.id,
            display_name: g.display_name,
        })
        .collect();
    Ok(Page {
        nodes,
        total,
        has_next,
        end_cursor,
    })
}

/// Activity, newest first.
pub async fn activity(
    store: &Store,
    principal: &Principal,
    first: Option<i32>,
    after: Option<&str>,
) -> Result<Page<ActivityView>> {
    let db = store.pool();
    admin::require_admin(db, principal).await?;
    let limit = page_size(first)?;
    let mut select = activity::Entity::find()
        .filter(activity::Column::WorkspaceId.eq(principal.workspace_id.clone()));
    let total = select.clone().count(db).await?;
    if let Some(after) = after {
        let id: i64 = decode_cursor(after, 1)?[0]
            .parse()
            .map_err(|_| Error::invalid("after", "the cursor is not one this API returned"))?;
        select = select.filter(activity::Column::Id.lt(id));
    }
    let mut rows = select
        .order_by_desc(activity::Column::Id)
        .limit(limit + 1)
        .all(db)
        .await?;
    let has_next = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    let end_cursor = rows.last().map(|a| encode_cursor(&[&a.id.to_string()]));
    Ok(Page {
        nodes: rows.into_iter().map(ActivityView::from).collect(),
        total,
        has_next,
        end_cursor,
    })
}

/// Entries of the workspace newer than `after_id`, oldest first (for the live stream).
pub async fn activity_since(
    store: &Store,
    workspace_id: &str,
    after_id: i64,
    limit: u64,
) -> Result<Vec<ActivityView>> {
    let db = store.pool();
    Ok(activity::Entity::find()
        .filter(activity::Column::WorkspaceId.eq(workspace_id))
        .filter(activity::Column::Id.gt(after_id))
        .order_by_asc(activity::Column::Id)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(ActivityView::from)
        .collect())
}

/// The newest entry id of the workspace (0 when none): where a live stream starts.
/// Starts following the workspace's activity (admins only): the id of the newest entry, to
/// continue after with `activity_since`.
pub async fn follow_activity(store: &Store, principal: &Principal) -> Result<i64> {
    admin::require_admin(store.pool(), principal).await?;
    latest_activity_id(store, &principal.workspace_id).await
}

async fn latest_activity_id(store: &Store, workspace_id: &str) -> Result<i64> {
    let db = store.pool();
    let row: Option<i64> = activity::Entity::find()
        .select_only()
        .column(activity::Column::Id)
        .filter(activity::Column::WorkspaceId.eq(workspace_id))
        .order_by_desc(activity::Column::Id)
        .limit(1)
        .into_tuple()
        .one(db)
        .await?;
    Ok(row.unwrap_or(0))
}
