//! SCIM requests as the activity log sees them: a failed request gets an entry (the admin's
//! first place to look when a push fails), unless the database was unreachable, when it is
//! counted as part of the outage instead; a request that succeeds ends an outage.

use std::time::Duration;

use crate::domain::activity::{self, NewEntry};
use crate::domain::{Store, workspaces};

/// A SCIM request answered with an error.
pub struct FailedRequest<'a> {
    /// The workspace its path names (checked here: anyone can send a made-up id).
    pub workspace_id: &'a str,
    pub actor: String,
    pub method: &'a str,
    /// The whole path, and the part below the SCIM base that the summary names.
    pub path: &'a str,
    pub resource_path: &'a str,
    pub status: u16,
    /// What the client was told.
    pub detail: String,
    pub latency: Duration,
    /// Answered 503 because the database could not be reached.
    pub outage: bool,
}

/// Records a failed request for the workspace in its path, when there is such a workspace. A
/// failure to record is logged, never the caller's failure.
pub async fn failed(store: &Store, request: FailedRequest<'_>) {
    if request.outage {
        store.outages().note(request.workspace_id);
        return;
    }
    if workspaces::get(store.pool(), request.workspace_id)
        .await
        .is_err()
    {
        return;
    }
    let entry = NewEntry {
        workspace_id: request.workspace_id.to_string(),
        actor: request.actor,
        action: "scim.request_failed".into(),
        summary: format!(
            "{} {} failed ({}): {}",
            request.method, request.resource_path, request.status, request.detail
        ),
        status: i32::from(request.status),
        succeeded: false,
        method: Some(request.method.to_string()),
        path: Some(request.path.to_string()),
        latency_ms: Some(i32::try_from(request.latency.as_millis()).unwrap_or(i32::MAX)),
        resource_type: None,
        resource_id: None,
    };
    if let Err(e) = activity::record(store.writes(), entry).await {
        tracing::warn!(error = %e, "could not record a failed SCIM request");
    }
}

/// A request was served: an outage in progress is over once the database has answered for a
/// few quiet seconds (one entry per workspace it touched, see `outages`).
pub async fn succeeded(store: &Store) {
    if store.outages().active() {
        store.outages().recovered(store.writes()).await;
    }
}
