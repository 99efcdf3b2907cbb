//! The group-to-role mapping table of a workspace: rows `(group name → role)`, replaced as a whole
//! and atomically; every member whose effective role the edit changes is recomputed in the same
//! transaction. A preview runs the same plan without writing.

use std::collections::{HashMap, HashSet};

use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    TransactionTrait,
};

use crate::domain::activity::{self, NewEntry};
use crate::domain::admin::{self, Principal};
use crate::domain::roles::{self, MappingTable, Role, RoleChange};
use crate::domain::{Error, Result, Store};
use crate::entities::{group_role_mapping, workspace};

pub const MAX_ROWS: usize = 500;
const MAX_NAME_CHARS: usize = 256;
/// Role changes spelled out in the activity entry of one edit; the rest are counted.
const CHANGES_IN_SUMMARY: usize = 20;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mapping {
    pub group_name: String,
    pub role: Role,
}

pub async fn list(store: &Store, workspace_id: &str) -> Result<Vec<Mapping>> {
    let db = store.pool();
    Ok(group_role_mapping::Entity::find()
        .filter(group_role_mapping::Column::WorkspaceId.eq(workspace_id))
        .order_by_asc(group_role_mapping::Column::Position)
        .all(db)
        .await?
        .into_iter()
        .map(|row| Mapping {
            group_name: row.group_name,
            role: Role::from_stored(&row.role),
        })
        .collect())
}

/// Trims names; refuses empty, over-long and duplicate (case-insensitive) names. Errors name the
/// row: `mappings[2].groupName`.
pub fn validate(rows: &[Mapping]) -> Result<Vec<Mapping>> {
    if rows.len() > MAX_ROWS {
        return Err(Error::invalid(
            "mappings",
            format!("at most {MAX_ROWS} rows"),
        ));
    }
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut out = Vec::with_capacity(rows.len());
    for (i, row) in rows.iter().enumerate() {
        let field = format!("mappings[{i}].groupName");
        let name = row.group_name.trim();
        if name.is_empty() {
            return Err(Error::invalid(field, "the group name is empty"));
        }
        if name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
            return Err(Error::invalid(
                field,
                "a group name is at most 256 printable characters",
            ));
        }
        if let Some(first) = seen.insert(roles::group_key(name), i) {
            return Err(Error::invalid(
                field,
                format!("group \"{name}\" is already mapped in row {}", first + 1),
            ));
        }
        out.push(Mapping {
            group_name: name.to_string(),
            role: row.role,
        });
    }
    Ok(out)
}

fn table_of(rows: &[Mapping]) -> MappingTable {
    rows.iter()
        .map(|m| (roles::group_key(&m.group_name), m.role))
        .collect()
}

/// Members whose role the new table would change, from → to, with the source that decides.
async fn plan(
    db: &impl ConnectionTrait,
    workspace_id: &str,
    new_rows: &[Mapping],
) -> Result<Vec<RoleChange>> {
    let old = roles::load_mapping_table(db, workspace_id).await?;
    let new = table_of(new_rows);
    let keys: HashSet<&String> = old.keys().chain(new.keys()).collect();
    let changed: Vec<String> = keys
        .into_iter()
        .filter(|k| old.get(*k) != new.get(*k))
        .cloned()
        .collect();
    if changed.is_empty() {
        return Ok(Vec::new());
    }
    let affected = roles::members_in_groups(db, workspace_id, &changed).await?;
    roles::plan(db, workspace_id, &affected, &new).await
}

pub async fn preview(
    store: &Store,
    principal: &Principal,
    rows: &[Mapping],
) -> Result<Vec<RoleChange>> {
    let db = store.pool();
    let rows = validate(rows)?;
    let txn = db.begin().await?;
    admin::require_admin(&txn, principal).await?;
    let changes = plan(&txn, &principal.workspace_id, &rows).await?;
    txn.rollback().await?;
    Ok(changes)
}

/// Replaces the whole table and applies the role changes it causes, or changes nothing. Refused
/// when it would leave the workspace without an active admin.
pub async fn replace(
    store: &Store,
    principal: &Principal,
    rows: &[Mapping],
) -> Result<(Vec<Mapping>, Vec<RoleChange>)> {
    let db = store.writes();
    let rows = validate(rows)?;
    let txn = crate::db::begin_write(db).await?;
    admin::require_admin(&txn, principal).await?;
    let ws = principal.workspace_id.as_str();
    // Concurrent edits of one workspace's mapping take turns.
    crate::db::lock_rows(&txn, workspace::Entity::find_by_id(ws.to_string())).await?;
    let changes = plan(&txn, ws, &rows).await?;
    group_role_mapping::Entity::delete_many()
        .filter(group_role_mapping::Column::WorkspaceId.eq(ws))
        .exec(&txn)
        .await?;
    if !rows.is_empty() {
        group_role_mapping::Entity::insert_many(rows.iter().enumerate().map(|(i, m)| {
            group_role_mapping::ActiveModel {
                workspace_id: Set(ws.to_string()),
                group_name: Set(m.group_name.clone()),
                group_key: Set(roles::group_key(&m.group_name)),
                role: Set(m.role.as_str().to_string()),
                position: Set(i as i32),
                ..Default::default()
            }
        }))
        .exec(&txn)
        .await?;
    }
    roles::apply(&txn, ws, &changes).await?;
    if roles::count_active_admins(&txn, ws).await? == 0 {
        return Err(Error::invalid(
            "mappings",
            "this mapping would leave the workspace without an active admin",
        ));
    }
    activity::record(
        &txn,
        NewEntry::settings(
            ws,
            principal.actor(),
            "mapping.replace",
            summarize(&rows, &changes),
        ),
    )
    .await?;
    txn.commit().await?;
    Ok((rows, changes))
}

fn summarize(rows: &[Mapping], changes: &[RoleChange]) -> String {
    let table = if rows.is_empty() {
        "no rows".to_string()
    } else {
        rows.iter()
            .map(|m| format!("{} → {}", m.group_name, m.role.label()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut out = format!("group-to-role mapping saved ({table})");
    match changes.len() {
        0 => out.push_str("; no member's role changed"),
        n => {
            out.push_str(&format!(
                "; {n} role{} changed: ",
                if n == 1 { "" } else { "s" }
            ));
            let listed: Vec<String> = changes
                .iter()
                .take(CHANGES_IN_SUMMARY)
                .map(RoleChange::describe)
                .collect();
            out.push_str(&listed.join("; "));
            if n > CHANGES_IN_SUMMARY {
                out.push_str(&format!("; and {} more", n - CHANGES_IN_SUMMARY));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(name: &str, role: Role) -> Mapping {
        Mapping {
            group_name: name.into(),
            role,
        }
    }

    #[test]
    fn duplicates_are_found_case_insensitively_after_trimming() {
        let err = validate(&[m("Admins", Role::Admin), m(" admins ", Role::Reviewer)]).unwrap_err();
        assert!(
            matches!(err, Error::Invalid { ref attr, .. } if attr == "mappings[1].groupName"),
            "{err:?}"
        );
    }

    #[test]
    fn empty_names_are_refused_and_names_trimmed() {
        assert!(validate(&[m("  ", Role::Admin)]).is_err());
        let ok = validate(&[m(" QA ", Role::Reviewer)]).unwrap();
        assert_eq!(ok[0].group_name, "QA");
    }
}
