//! The provisioning and settings activity log: who did what, with the effect in words. Entries are
//! written in the same transaction as the change they describe, so the log never claims a change
//! that was rolled back.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, Statement,
    Value,
};

use crate::db::prepared::{PerBackend, Template, marked, marker_time};
use crate::domain::Result;
use crate::entities::activity;

/// One entry to record. `method`/`path`/`latency_ms` are for protocol requests (SCIM).
#[derive(Clone, Debug, Default)]
pub struct NewEntry {
    pub workspace_id: String,
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
}

impl NewEntry {
    /// A successful settings change made through the admin API.
    pub fn settings(workspace_id: &str, actor: String, action: &str, summary: String) -> Self {
        NewEntry {
            workspace_id: workspace_id.to_string(),
            actor,
            action: action.to_string(),
            summary,
            status: 200,
            succeeded: true,
            ..Default::default()
        }
    }
}

/// Longest summary kept; a longer one is cut with an ellipsis.
const MAX_SUMMARY_CHARS: usize = 4000;

pub async fn record(db: &impl ConnectionTrait, entry: NewEntry) -> Result<()> {
    db.execute_raw(insert(db.get_database_backend(), entry))
        .await?;
    Ok(())
}

/// What an activity insert takes from its entry (see `db::prepared`).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Slot {
    Workspace,
    At,
    Actor,
    Action,
    Method,
    Path,
    Status,
    Latency,
    ResourceType,
    ResourceId,
    Summary,
    Succeeded,
}

/// Records an entry that can repeat without bound (a refused sign-in from anyone on the
/// internet): within one minute, entries of the same workspace, `client` and `fold` (what was
/// refused and why) are one entry whose `occurrences` counts them. Returns whether this one was
/// new (a repeat adds to the count and is not a new entry for live subscribers).
pub async fn record_folded(
    db: &impl ConnectionTrait,
    mut entry: NewEntry,
    client: &str,
    fold: &str,
) -> Result<bool> {
    use sea_orm::sea_query::{Expr, ExprTrait};

    let at = crate::domain::now();
    let fold_key = format!(
        "{}|{client}|{fold}|{}",
        entry.workspace_id,
        at.timestamp().div_euclid(60)
    );
    let repeated = activity::Entity::update_many()
        .col_expr(
            activity::Column::Occurrences,
            Expr::col(activity::Column::Occurrences).add(1),
        )
        .filter(activity::Column::FoldKey.eq(fold_key.as_str()))
        .exec(db)
        .await?;
    if repeated.rows_affected > 0 {
        return Ok(false);
    }
    cut_summary(&mut entry.summary);
    activity::Entity::insert(activity::ActiveModel {
        occurrences: Set(1),
        client: Set(Some(client.to_string())),
        fold_key: Set(Some(fold_key)),
        ..active_model(entry, at)
    })
    .exec_without_returning(db)
    .await?;
    Ok(true)
}

/// The statement that records an entry, to run with others.
pub fn insert(backend: DbBackend, entry: NewEntry) -> Statement {
    insert_at(backend, entry, crate::domain::now())
}

/// Built once per backend: every SCIM write records an entry, and building the insert per
/// entry cost about as many instructions as building the member's update.
fn insert_at(backend: DbBackend, mut entry: NewEntry, at: DateTime<Utc>) -> Statement {
    static SQL: PerBackend<Template<Slot>> = PerBackend::new();
    cut_summary(&mut entry.summary);
    let template = SQL.get_or_init(backend, || {
        let text = |name: &str| format!("\u{1}{name}");
        let markers = NewEntry {
            workspace_id: text("workspace"),
            actor: text("actor"),
            action: text("action"),
            summary: text("summary"),
            status: 0x5c1e_0001,
            succeeded: true,
            method: Some(text("method")),
            path: Some(text("path")),
            latency_ms: Some(0x5c1e_0002),
            resource_type: Some(text("resource type")),
            resource_id: Some(text("resource id")),
        };
        let slots = marked(&SLOTS, |slot| slot_value(&markers, marker_time(), slot));
        Template::new(built(backend, markers, marker_time()), &slots)
    });
    template.statement(backend, |slot| slot_value(&entry, at, slot))
}

const SLOTS: [Slot; 12] = [
    Slot::Workspace,
    Slot::At,
    Slot::Actor,
    Slot::Action,
    Slot::Method,
    Slot::Path,
    Slot::Status,
    Slot::Latency,
    Slot::ResourceType,
    Slot::ResourceId,
    Slot::Summary,
    Slot::Succeeded,
];

/// The value of an entry (recorded `at`) that goes in `slot`.
fn slot_value(entry: &NewEntry, at: DateTime<Utc>, slot: Slot) -> Value {
    match slot {
        Slot::Workspace => entry.workspace_id.as_str().into(),
        Slot::At => at.into(),
        Slot::Actor => entry.actor.as_str().into(),
        Slot::Action => entry.action.as_str().into(),
        Slot::Method => entry.method.as_deref().into(),
        Slot::Path => entry.path.as_deref().into(),
        Slot::Status => entry.status.into(),
        Slot::Latency => entry.latency_ms.into(),
        Slot::ResourceType => entry.resource_type.as_deref().into(),
        Slot::ResourceId => entry.resource_id.as_deref().into(),
        Slot::Summary => entry.summary.as_str().into(),
        Slot::Succeeded => entry.succeeded.into(),
    }
}

fn cut_summary(summary: &mut String) {
    if summary.chars().count() > MAX_SUMMARY_CHARS {
        *summary = summary.chars().take(MAX_SUMMARY_CHARS - 1).collect();
        summary.push('…');
    }
}

/// The insert as the query builder makes it.
fn built(backend: DbBackend, entry: NewEntry, at: DateTime<Utc>) -> Statement {
    let insert = activity::Entity::insert(active_model(entry, at));
    sea_orm::QueryTrait::build(&insert, backend)
}

/// An entry's row, recorded `at` (the columns a plain entry leaves unset keep their defaults).
fn active_model(entry: NewEntry, at: DateTime<Utc>) -> activity::ActiveModel {
    activity::ActiveModel {
        workspace_id: Set(entry.workspace_id),
        at: Set(at),
        actor: Set(entry.actor),
        action: Set(entry.action),
        method: Set(entry.method),
        path: Set(entry.path),
        status: Set(entry.status),
        latency_ms: Set(entry.latency_ms),
        resource_type: Set(entry.resource_type),
        resource_id: Set(entry.resource_id),
        summary: Set(entry.summary),
        succeeded: Set(entry.succeeded),
        ..Default::default()
    }
}

/// Deletes entries older than `cutoff` (the retention window); returns how many.
pub async fn purge_before(db: &impl ConnectionTrait, cutoff: DateTime<Utc>) -> Result<u64> {
    let result = activity::Entity::delete_many()
        .filter(activity::Column::At.lt(cutoff))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The statement made from the template is the one the query builder makes, for entries
    /// with every field and with the optional ones missing, on both backends.
    #[test]
    fn the_insert_is_the_builders() {
        let at = crate::domain::now();
        let full = NewEntry {
            workspace_id: "w1".into(),
            actor: "key scim_abc (Okta)".into(),
            action: "user.update".into(),
            summary: "x".repeat(MAX_SUMMARY_CHARS + 5),
            status: 200,
            succeeded: true,
            method: Some("PATCH".into()),
            path: Some("/scim/v2/Users/1".into()),
            latency_ms: Some(3),
            resource_type: Some("User".into()),
            resource_id: Some("1".into()),
        };
        let bare = NewEntry {
            succeeded: false,
            ..NewEntry::settings("w2", "owner@x.test".into(), "scim.enable", "on".into())
        };
        for backend in [DbBackend::Sqlite, DbBackend::Postgres] {
            for entry in [full.clone(), bare.clone()] {
                let mut cut = entry.clone();
                cut_summary(&mut cut.summary);
                assert_eq!(
                    insert_at(backend, entry, at),
                    built(backend, cut, at),
                    "{backend:?}"
                );
            }
        }
    }
}
