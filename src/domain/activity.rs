//! The provisioning and settings activity log: who did what, with the effect in words. Entries are
//! written in the same transaction as the change they describe, so the log never claims a change
//! that was rolled back.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

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

/// The statement that records an entry, to run with others.
pub fn insert(backend: sea_orm::DbBackend, entry: NewEntry) -> sea_orm::Statement {
    let mut summary = entry.summary;
    if summary.chars().count() > MAX_SUMMARY_CHARS {
        summary = summary.chars().take(MAX_SUMMARY_CHARS - 1).collect();
        summary.push('…');
    }
    let insert = activity::Entity::insert(activity::ActiveModel {
        workspace_id: Set(entry.workspace_id),
        at: Set(crate::domain::now()),
        actor: Set(entry.actor),
        action: Set(entry.action),
        method: Set(entry.method),
        path: Set(entry.path),
        status: Set(entry.status),
        latency_ms: Set(entry.latency_ms),
        resource_type: Set(entry.resource_type),
        resource_id: Set(entry.resource_id),
        summary: Set(summary),
        succeeded: Set(entry.succeeded),
        ..Default::default()
    });
    sea_orm::QueryTrait::build(&insert, backend)
}

/// Deletes entries older than `cutoff` (the retention window); returns how many.
pub async fn purge_before(db: &impl ConnectionTrait, cutoff: DateTime<Utc>) -> Result<u64> {
    let result = activity::Entity::delete_many()
        .filter(activity::Column::At.lt(cutoff))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}
