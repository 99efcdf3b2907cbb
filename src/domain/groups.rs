//! SCIM Groups of a workspace: push groups from the IdP. Membership changes cost work
//! proportional to the members named, not to the group's size, and every change that can move a
//! role (membership, rename, delete) recomputes the affected members' roles in the same
//! transaction.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, JoinType, Order,
    QueryFilter, QueryOrder, QuerySelect, RelationTrait,
};
use serde_json::{Map, Value};

use crate::domain::activity;
use crate::domain::api_keys::ScimPrincipal;
use crate::domain::roles::{self, RoleChange};
use crate::domain::users::{ListQuery, MAX_PAGE, Page};
use crate::domain::{Error, Result, Store, filter_sql, keyset, new_id, now};
use crate::entities::{group, group_member, member};

/// SQLite allows 32766 bound parameters per statement; a membership chunk stays well below.
const CHUNK: usize = 500;
/// Names listed in an activity entry before "and N more".
const NAMES_IN_SUMMARY: usize = 10;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberRef {
    pub id: String,
    pub user_name: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Group {
    pub id: String,
    pub workspace_id: String,
    pub display_name: String,
    pub external_id: Option<String>,
    pub attributes: Map<String, Value>,
    /// `None` when the caller did not ask for members.
    pub members: Option<Vec<MemberRef>>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct GroupInput {
    pub display_name: String,
    pub external_id: Option<String>,
    pub attributes: Map<String, Value>,
    /// Member ids.
    pub members: Vec<String>,
}

/// Edits the kept attributes (those without a column); an `Err` is the reason it can't.
pub type AttributeEdit =
    Box<dyn FnOnce(Map<String, Value>) -> std::result::Result<Map<String, Value>, String> + Send>;

/// One step of a PATCH, in SCIM's order.
pub enum GroupChange {
    DisplayName(String),
    ExternalId(Option<String>),
    Attributes(AttributeEdit),
    AddMembers(Vec<String>),
    RemoveMembers(Vec<String>),
    RemoveAllMembers,
    /// Replace the member list with exactly these.
    SetMembers(Vec<String>),
}

fn validate_name(name: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty() {
        return Err(Error::invalid("displayName", "displayName is required"));
    }
    if name.chars().count() > 256 || name.chars().any(char::is_control) {
        return Err(Error::invalid(
            "displayName",
            "displayName is at most 256 printable characters",
        ));
    }
    Ok(name.to_string())
}

fn conflict_name(name: &str) -> impl Fn(Error) -> Error + '_ {
    move |e| match e {
        Error::Conflict(_) => Error::Conflict(format!(
            "a group named {name:?} already exists in this workspace"
        )),
        other => other,
    }
}

fn from_model(m: group::Model, members: Option<Vec<MemberRef>>) -> Group {
    Group {
        attributes: serde_json::from_str(&m.attributes).unwrap_or_default(),
        id: m.id,
        workspace_id: m.workspace_id,
        display_name: m.display_name,
        external_id: m.external_id,
        members,
        version: m.version,
        created_at: m.created_at,
        updated_at: m.updated_at,
    }
}

/// Members of the given groups, by group, in one query.
async fn members_of(
    db: &impl ConnectionTrait,
    group_ids: &[String],
) -> Result<HashMap<String, Vec<MemberRef>>> {
    let mut out: HashMap<String, Vec<MemberRef>> = HashMap::new();
    for chunk in group_ids.chunks(CHUNK) {
        let rows: Vec<(String, String, String)> = group_member::Entity::find()
            .select_only()
            .column(group_member::Column::GroupId)
            .column(member::Column::Id)
            .column(member::Column::UserName)
            .join(JoinType::InnerJoin, group_member::Relation::Member.def())
            .filter(group_member::Column::GroupId.is_in(chunk.iter().cloned()))
            .order_by_asc(member::Column::UserNameKey)
            .into_tuple()
            .all(db)
            .await?;
        for (group_id, id, user_name) in rows {
            out.entry(group_id)
                .or_default()
                .push(MemberRef { id, user_name });
        }
    }
    Ok(out)
}

async fn find(db: &impl ConnectionTrait, workspace_id: &str, id: &str) -> Result<group::Model> {
    group::Entity::find_by_id(id.to_string())
        .filter(group::Column::WorkspaceId.eq(workspace_id))
        .one(db)
        .await?
        .ok_or_else(|| Error::NotFound(format!("group {id}")))
}

/// `find`, locking the row for the rest of the write transaction: concurrent changes of one
/// group take turns (PostgreSQL; SQLite writes are serial).
async fn find_for_update(
    db: &impl ConnectionTrait,
    workspace_id: &str,
    id: &str,
) -> Result<group::Model> {
    crate::db::for_update(
        db,
        group::Entity::find_by_id(id.to_string())
            .filter(group::Column::WorkspaceId.eq(workspace_id)),
    )
    .one(db)
    .await?
    .ok_or_else(|| Error::NotFound(format!("group {id}")))
}

pub async fn get(store: &Store, workspace_id: &str, id: &str, with_members: bool) -> Result<Group> {
    get_in(store.pool(), workspace_id, id, with_members).await
}

/// `get` within a transaction the rule already holds.
async fn get_in(
    db: &impl ConnectionTrait,
    workspace_id: &str,
    id: &str,
    with_members: bool,
) -> Result<Group> {
    let model = find(db, workspace_id, id).await?;
    let members = if with_members {
        Some(
            members_of(db, std::slice::from_ref(&model.id))
                .await?
                .remove(&model.id)
                .unwrap_or_default(),
        )
    } else {
        None
    };
    Ok(from_model(model, members))
}

pub async fn list(
    store: &Store,
    workspace_id: &str,
    query: &ListQuery,
    with_members: bool,
) -> Result<Page<Group>> {
    let db = store.pool();
    let mut select = group::Entity::find().filter(group::Column::WorkspaceId.eq(workspace_id));
    if let Some(filter) = &query.filter {
        select = select.filter(filter_sql::groups(filter, db.get_database_backend())?);
    }
    // A plain COUNT over the index, not over a subquery.
    let counting = select
        .clone()
        .select_only()
        .column_as(Expr::col((group::Entity, group::Column::Id)).count(), "n");
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
            more: false,
        });
    }
    let sort = match &query.sort_by {
        Some(path) => Some(filter_sql::group_sort(path)?),
        None => None,
    };
    let limit = Ord::min(query.count, MAX_PAGE);
    let cursor = query.cursor.as_ref();
    let backwards = cursor.is_some_and(keyset::Cursor::backwards);
    // A cursor page reads against the list's order for a previous page.
    let ascending = query.descending == backwards;
    let order = if ascending { Order::Asc } else { Order::Desc };
    if let Some(at) = cursor.and_then(keyset::Cursor::position) {
        keyset::require_row(db, &GROUPS, workspace_id, at).await?;
        let backend = db.get_database_backend();
        select = select.filter(keyset::beyond(
            &GROUPS,
            workspace_id,
            sort.as_ref(),
            at,
            ascending,
            backend,
        ));
    }
    if let Some(sort) = sort {
        select = select.order_by(sort, order.clone());
    }
    let select = select
        .order_by(group::Column::CreatedAt, order.clone())
        .order_by(group::Column::Id, order);
    let (mut rows, more) = match cursor {
        None => (
            select
                .offset(query.start_index.saturating_sub(1))
                .limit(limit)
                .all(db)
                .await?,
            false,
        ),
        Some(_) => {
            let mut rows = select.limit(limit + 1).all(db).await?;
            let more = rows.len() as u64 > limit;
            rows.truncate(limit as usize);
            (rows, more)
        }
    };
    if backwards {
        rows.reverse();
    }
    let first_page = cursor.is_none_or(|c| c.position().is_none());
    let total = match crate::domain::users::known_total(query, rows.len()) {
        Some(total) if first_page => total,
        _ => count().await?,
    };
    let mut members = if with_members {
        members_of(db, &rows.iter().map(|g| g.id.clone()).collect::<Vec<_>>()).await?
    } else {
        HashMap::new()
    };
    let items = rows
        .into_iter()
        .map(|m| {
            let list = with_members.then(|| members.remove(&m.id).unwrap_or_default());
            from_model(m, list)
        })
        .collect();
    Ok(Page { total, items, more })
}

/// The groups table, as cursor pages name it.
const GROUPS: keyset::Table = keyset::Table {
    name: "groups",
    id: "id",
    created_at: "created_at",
    workspace_id: "workspace_id",
};

/// The given ids that are members of the workspace; any other is an error naming it.
async fn check_members(
    db: &impl ConnectionTrait,
    workspace_id: &str,
    ids: &[String],
) -> Result<Vec<String>> {
    let wanted: Vec<String> = {
        let mut seen = HashSet::new();
        ids.iter()
            .filter(|id| seen.insert(id.as_str()))
            .cloned()
            .collect()
    };
    let mut found: HashSet<String> = HashSet::new();
    for chunk in wanted.chunks(CHUNK) {
        // The workspace is checked on the rows, not in SQL, where it makes SQLite walk the
        // workspace's index instead of looking the ids up.
        let rows: Vec<(String, String)> = member::Entity::find()
            .select_only()
            .column(member::Column::Id)
            .column(member::Column::WorkspaceId)
            .filter(member::Column::Id.is_in(chunk.iter().cloned()))
            .into_tuple()
            .all(db)
            .await?;
        found.extend(
            rows.into_iter()
                .filter(|(_, ws)| ws == workspace_id)
                .map(|(id, _)| id),
        );
    }
    if let Some(missing) = wanted.iter().find(|id| !found.contains(*id)) {
        return Err(Error::invalid(
            "members",
            format!("no user with id {missing:?} in this workspace"),
        ));
    }
    Ok(wanted)
}

async fn add_members(
    db: &impl ConnectionTrait,
    workspace_id: &str,
    group_id: &str,
    ids: &[String],
) -> Result<Vec<String>> {
    let ids = check_members(db, workspace_id, ids).await?;
    let existing = existing_members(db, group_id, &ids).await?;
    let new: Vec<String> = ids
        .into_iter()
        .filter(|id| !existing.contains(id))
        .collect();
    let at = now();
    for chunk in new.chunks(CHUNK) {
        group_member::Entity::insert_many(chunk.iter().map(|id| group_member::ActiveModel {
            group_id: sea_orm::Set(group_id.to_string()),
            member_id: sea_orm::Set(id.clone()),
            workspace_id: sea_orm::Set(workspace_id.to_string()),
            created_at: sea_orm::Set(at),
        }))
        .on_conflict(
            OnConflict::columns([
                group_member::Column::GroupId,
                group_member::Column::MemberId,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    }
    Ok(new)
}

/// Which of `ids` are in the group (work proportional to `ids`).
async fn existing_members(
    db: &impl ConnectionTrait,
    group_id: &str,
    ids: &[String],
) -> Result<HashSet<String>> {
    let mut out = HashSet::new();
    for chunk in ids.chunks(CHUNK) {
        let rows: Vec<String> = group_member::Entity::find()
            .select_only()
            .column(group_member::Column::MemberId)
            .filter(group_member::Column::GroupId.eq(group_id))
            .filter(group_member::Column::MemberId.is_in(chunk.iter().cloned()))
            .into_tuple()
            .all(db)
            .await?;
        out.extend(rows);
    }
    Ok(out)
}

async fn remove_members(
    db: &impl ConnectionTrait,
    group_id: &str,
    ids: &[String],
) -> Result<Vec<String>> {
    let present: Vec<String> = existing_members(db, group_id, ids)
        .await?
        .into_iter()
        .collect();
    for chunk in present.chunks(CHUNK) {
        group_member::Entity::delete_many()
            .filter(group_member::Column::GroupId.eq(group_id))
            .filter(group_member::Column::MemberId.is_in(chunk.iter().cloned()))
            .exec(db)
            .await?;
    }
    Ok(present)
}

async fn all_member_ids(db: &impl ConnectionTrait, group_id: &str) -> Result<Vec<String>> {
    Ok(group_member::Entity::find()
        .select_only()
        .column(group_member::Column::MemberId)
        .filter(group_member::Column::GroupId.eq(group_id))
        .into_tuple()
        .all(db)
        .await?)
}

async fn user_names(db: &impl ConnectionTrait, ids: &[String]) -> Result<Vec<String>> {
    let shown: Vec<String> = ids.iter().take(NAMES_IN_SUMMARY).cloned().collect();
    let mut names: Vec<String> = member::Entity::find()
        .select_only()
        .column(member::Column::UserName)
        .filter(member::Column::Id.is_in(shown))
        .into_tuple()
        .all(db)
        .await?;
    names.sort();
    if ids.len() > NAMES_IN_SUMMARY {
        names.push(format!("and {} more", ids.len() - NAMES_IN_SUMMARY));
    }
    Ok(names)
}

/// What a change did, for the activity log and role recomputation.
#[derive(Default)]
struct Effect {
    added: Vec<String>,
    removed: Vec<String>,
    renamed: Option<(String, String)>,
}

async fn finish(
    txn: &impl ConnectionTrait,
    p: &ScimPrincipal,
    group: &group::Model,
    effect: &Effect,
    action: &str,
    status: i32,
    lead: String,
) -> Result<Vec<RoleChange>> {
    let mappings = roles::load_mapping_table(txn, &p.workspace_id).await?;
    let mapped = |key: &str| mappings.contains_key(key);
    // Only members of a mapped group (before or after a rename) can change role.
    let mut affected: Vec<String> = Vec::new();
    if let Some((old, new)) = &effect.renamed
        && (mapped(&roles::group_key(old)) || mapped(&roles::group_key(new)))
    {
        affected.extend(all_member_ids(txn, &group.id).await?);
    }
    if mapped(&group.name_key)
        || effect
            .renamed
            .as_ref()
            .is_some_and(|(old, _)| mapped(&roles::group_key(old)))
    {
        affected.extend(effect.added.iter().cloned());
        affected.extend(effect.removed.iter().cloned());
    }
    affected.sort();
    affected.dedup();
    // Every member whose `groups` changed (joined, left, or its group renamed) is a new
    // version of itself (RFC 7644 §3.14): an IdP's If-Match on the old one must fail.
    let mut regrouped: Vec<String> = effect
        .added
        .iter()
        .chain(&effect.removed)
        .cloned()
        .collect();
    if effect.renamed.is_some() {
        regrouped.extend(all_member_ids(txn, &group.id).await?);
    }
    regrouped.sort();
    regrouped.dedup();
    new_versions(txn, &p.workspace_id, &regrouped).await?;
    let changes = roles::plan(txn, &p.workspace_id, &affected, &mappings).await?;
    roles::apply(txn, &p.workspace_id, &changes).await?;
    if changes.iter().any(|c| c.from == roles::Role::Admin)
        && roles::count_active_admins(txn, &p.workspace_id).await? == 0
    {
        let who = changes
            .iter()
            .find(|c| c.from == roles::Role::Admin)
            .map(|c| c.user_name.clone())
            .unwrap_or_default();
        return Err(Error::invalid(
            "members",
            format!("{who} is the workspace's last active admin: this change would demote them"),
        ));
    }
    let mut parts = vec![lead];
    if !effect.added.is_empty() {
        parts.push(format!(
            "added {} ({})",
            plural(effect.added.len(), "member"),
            user_names(txn, &effect.added).await?.join(", ")
        ));
    }
    if !effect.removed.is_empty() {
        parts.push(format!(
            "removed {} ({})",
            plural(effect.removed.len(), "member"),
            user_names(txn, &effect.removed).await?.join(", ")
        ));
    }
    for c in changes.iter().take(NAMES_IN_SUMMARY) {
        parts.push(c.describe());
    }
    if changes.len() > NAMES_IN_SUMMARY {
        parts.push(format!(
            "and {} more role changes",
            changes.len() - NAMES_IN_SUMMARY
        ));
    }
    activity::record(
        txn,
        p.entry(action, status, "Group", &group.id, parts.join("; ")),
    )
    .await?;
    Ok(changes)
}

/// Moves the version (and the modification time) of these members of the workspace.
async fn new_versions(db: &impl ConnectionTrait, workspace_id: &str, ids: &[String]) -> Result<()> {
    let at = now();
    for chunk in ids.chunks(CHUNK) {
        member::Entity::update_many()
            .col_expr(
                member::Column::Version,
                Expr::col(member::Column::Version).add(1),
            )
            .col_expr(member::Column::UpdatedAt, Expr::value(at))
            .filter(member::Column::WorkspaceId.eq(workspace_id))
            .filter(member::Column::Id.is_in(chunk.iter().cloned()))
            .exec(db)
            .await?;
    }
    Ok(())
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

pub async fn create(store: &Store, p: &ScimPrincipal, input: GroupInput) -> Result<Group> {
    let db = store.writes();
    let name = validate_name(&input.display_name)?;
    crate::domain::attributes::check_kept(&input.attributes)?;
    let txn = crate::db::begin_write(db).await?;
    let at = now();
    let model = group::Model {
        id: new_id(),
        workspace_id: p.workspace_id.clone(),
        name_key: roles::group_key(&name),
        display_name: name.clone(),
        external_id: input.external_id.clone(),
        attributes: Value::Object(input.attributes.clone()).to_string(),
        version: 1,
        created_at: at,
        updated_at: at,
    };
    group::Entity::insert(model.clone().into_active_model().reset_all())
        .exec(&txn)
        .await
        .map_err(|e| conflict_name(&name)(e.into()))?;
    let added = add_members(&txn, &p.workspace_id, &model.id, &input.members).await?;
    let effect = Effect {
        added,
        ..Default::default()
    };
    finish(
        &txn,
        p,
        &model,
        &effect,
        "group.create",
        201,
        format!("created group {name}"),
    )
    .await?;
    let group = get_in(&txn, &p.workspace_id, &model.id, true).await?;
    txn.commit().await?;
    Ok(group)
}

/// PATCH (a list of changes) and PUT (`SetMembers` and the scalar fields): applied in order, in
/// one transaction; the version moves once.
pub async fn change(
    store: &Store,
    p: &ScimPrincipal,
    id: &str,
    if_match: Option<i64>,
    changes: Vec<GroupChange>,
    return_members: bool,
) -> Result<Group> {
    let db = store.writes();
    let txn = crate::db::begin_write(db).await?;
    let mut model = find_for_update(&txn, &p.workspace_id, id).await?;
    if if_match.is_some_and(|v| v != model.version) {
        return Err(Error::VersionMismatch);
    }
    let original_name = model.display_name.clone();
    let mut attributes: Map<String, Value> =
        serde_json::from_str(&model.attributes).unwrap_or_default();
    let mut added: Vec<String> = Vec::new();
    let mut removed: Vec<String> = Vec::new();
    let mut fields_changed = false;
    for change in changes {
        match change {
            GroupChange::DisplayName(name) => {
                let name = validate_name(&name)?;
                fields_changed |= name != model.display_name;
                model.name_key = roles::group_key(&name);
                model.display_name = name;
            }
            GroupChange::ExternalId(external_id) => {
                fields_changed |= external_id != model.external_id;
                model.external_id = external_id;
            }
            GroupChange::Attributes(edit) => {
                let edited = edit(attributes.clone())
                    .map_err(|reason| Error::invalid("Operations", reason))?;
                crate::domain::attributes::check_kept(&edited)?;
                fields_changed |= edited != attributes;
                attributes = edited;
            }
            GroupChange::AddMembers(ids) => {
                let new = add_members(&txn, &p.workspace_id, id, &ids).await?;
                removed.retain(|r| !new.contains(r));
                added.extend(new);
            }
            GroupChange::RemoveMembers(ids) => {
                let gone = remove_members(&txn, id, &ids).await?;
                added.retain(|a| !gone.contains(a));
                removed.extend(gone);
            }
            GroupChange::RemoveAllMembers => {
                let all = all_member_ids(&txn, id).await?;
                let gone = remove_members(&txn, id, &all).await?;
                added.retain(|a| !gone.contains(a));
                removed.extend(gone);
            }
            GroupChange::SetMembers(ids) => {
                let wanted: HashSet<String> = check_members(&txn, &p.workspace_id, &ids)
                    .await?
                    .into_iter()
                    .collect();
                let current: HashSet<String> =
                    all_member_ids(&txn, id).await?.into_iter().collect();
                let to_remove: Vec<String> = current.difference(&wanted).cloned().collect();
                let to_add: Vec<String> = wanted.difference(&current).cloned().collect();
                let gone = remove_members(&txn, id, &to_remove).await?;
                let new = add_members(&txn, &p.workspace_id, id, &to_add).await?;
                added.retain(|a| !gone.contains(a));
                removed.retain(|r| !new.contains(r));
                added.extend(new);
                removed.extend(gone);
            }
        }
    }
    if !fields_changed && added.is_empty() && removed.is_empty() {
        let group = get_in(&txn, &p.workspace_id, id, return_members).await?;
        return Ok(group);
    }
    let written = group::Entity::update_many()
        .col_expr(
            group::Column::DisplayName,
            Expr::value(model.display_name.clone()),
        )
        .col_expr(group::Column::NameKey, Expr::value(model.name_key.clone()))
        .col_expr(
            group::Column::ExternalId,
            Expr::value(model.external_id.clone()),
        )
        .col_expr(
            group::Column::Attributes,
            Expr::value(Value::Object(attributes).to_string()),
        )
        .col_expr(
            group::Column::Version,
            Expr::col(group::Column::Version).add(1),
        )
        .col_expr(group::Column::UpdatedAt, Expr::value(now()))
        .filter(group::Column::Id.eq(id))
        .filter(group::Column::Version.eq(model.version))
        .exec(&txn)
        .await
        .map_err(|e| conflict_name(&model.display_name)(e.into()))?;
    if written.rows_affected == 0 {
        return Err(if if_match.is_some() {
            Error::VersionMismatch
        } else {
            Error::Conflict(
                "the group was changed by another request at the same time; retry".into(),
            )
        });
    }
    let renamed = (original_name != model.display_name)
        .then(|| (original_name.clone(), model.display_name.clone()));
    let lead = match &renamed {
        Some((old, new)) => format!("renamed group {old} to {new}"),
        None => format!("updated group {}", model.display_name),
    };
    let effect = Effect {
        added,
        removed,
        renamed,
    };
    finish(&txn, p, &model, &effect, "group.update", 200, lead).await?;
    let group = get_in(&txn, &p.workspace_id, id, return_members).await?;
    txn.commit().await?;
    Ok(group)
}

pub async fn delete(
    store: &Store,
    p: &ScimPrincipal,
    id: &str,
    if_match: Option<i64>,
) -> Result<()> {
    let db = store.writes();
    let txn = crate::db::begin_write(db).await?;
    let model = find_for_update(&txn, &p.workspace_id, id).await?;
    if if_match.is_some_and(|v| v != model.version) {
        return Err(Error::VersionMismatch);
    }
    let members = all_member_ids(&txn, id).await?;
    group::Entity::delete_many()
        .filter(group::Column::Id.eq(id))
        .exec(&txn)
        .await?;
    // The group is gone: its members lose what it gave them.
    let effect = Effect {
        removed: members,
        ..Default::default()
    };
    finish(
        &txn,
        p,
        &model,
        &effect,
        "group.delete",
        204,
        format!("deleted group {}", model.display_name),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}
