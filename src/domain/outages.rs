//! Database outages, recorded once: while the database can't be reached, SCIM requests are
//! answered 503 with Retry-After and counted here per workspace (writing an activity entry per
//! request would be a write per request, and can't succeed anyway); when a request succeeds
//! again — and none has failed for a few seconds, as a pool's stale connections fail one by one
//! after a restart — each affected workspace gets one entry saying how long and how many.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{DateTime, Utc};
use sea_orm::TransactionTrait;

use crate::domain::activity::{self, NewEntry};

#[derive(Default)]
pub struct Outages {
    /// Set while an outage is recorded: the common path checks only this.
    active: AtomicBool,
    current: Mutex<Option<Outage>>,
}

struct Outage {
    since: DateTime<Utc>,
    last: DateTime<Utc>,
    answered: HashMap<String, u64>,
}

/// How long after its last failure an outage counts as over.
pub const QUIET: chrono::TimeDelta = chrono::TimeDelta::seconds(3);

impl Outages {
    /// A request of `workspace_id` was answered 503 because the database was unreachable.
    pub fn note(&self, workspace_id: &str) {
        let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        let outage = current.get_or_insert_with(|| {
            tracing::warn!("the database is unreachable: answering 503 with Retry-After");
            Outage {
                since: crate::domain::now(),
                last: crate::domain::now(),
                answered: HashMap::new(),
            }
        });
        outage.last = crate::domain::now();
        *outage.answered.entry(workspace_id.to_string()).or_default() += 1;
        self.active.store(true, Ordering::Release);
    }

    pub fn active(&self) -> bool {
        self.active.load(Ordering::Acquire)
    }

    /// The database answered again: one activity entry per workspace the outage touched.
    pub async fn recovered(&self, db: &impl TransactionTrait) {
        let until = crate::domain::now();
        let outage = {
            let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
            match current.as_ref() {
                Some(outage) if until - outage.last >= QUIET => current.take(),
                _ => None,
            }
        };
        let Some(outage) = outage else {
            return;
        };
        self.active.store(false, Ordering::Release);
        let until = outage.last;
        let seconds = (until - outage.since).num_milliseconds() as f64 / 1000.0;
        tracing::info!(seconds, "the database is reachable again");
        let entries = outage.answered.into_iter().map(|(workspace_id, n)| NewEntry {
            workspace_id,
            actor: "scim-gateway".into(),
            action: "database.outage".into(),
            summary: format!(
                "the database was unreachable for {seconds:.1} s (from {}): {n} SCIM request{} answered 503 with Retry-After, none applied",
                outage.since.format("%Y-%m-%d %H:%M:%S UTC"),
                if n == 1 { " was" } else { "s were" }
            ),
            status: 503,
            succeeded: false,
            ..Default::default()
        });
        let txn = match crate::db::begin_write(db).await {
            Ok(txn) => txn,
            Err(e) => {
                tracing::warn!(error = %e, "could not record the database outage");
                return;
            }
        };
        for entry in entries {
            if let Err(e) = activity::record(&txn, entry).await {
                tracing::warn!(error = %e, "could not record the database outage");
                return;
            }
        }
        if let Err(e) = sea_orm::TransactionSession::commit(txn).await {
            tracing::warn!(error = %e, "could not record the database outage");
        }
    }
}
