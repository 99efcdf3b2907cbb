//! Point reads on PostgreSQL without sqlx's pool: a few lanes (`postgres_lanes`), each shared by
//! every request, so concurrent reads are pipelined — written to the socket together and
//! answered in order — instead of each checking a connection out of the pool, waiting its round
//! trip alone and handing the connection back through a spawned task. Scans (pages, filters
//! that may read many rows) stay on the pool: one would hold up every read queued behind it.
//!
//! Hand-written for speed, on purpose. Measured with `scim-bench run --postgres` on 2026-12-05:
//! a lookup 8,660/s at 89.9 µs of server CPU through the pool, 15,867/s at 45.8 µs on the
//! lanes; a GET 9,899/s against 17,881/s. Pinned to sqlx's reads by `tests/it/read_paths.rs`
//! (`fast_and_pool_reads_give_identical_users`), which reads the same users both ways on the
//! test command's PostgreSQL and compares them field by field.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures_util::TryStreamExt;
use sea_orm::{DbErr, Statement};
use tokio_postgres::Row;

use super::postgres_lanes::{Bound, Lane, Tally, Target, Unserved, lane_error};
use crate::db::rows::FromCells;

pub struct PostgresReads {
    lanes: Box<[Arc<Lane>]>,
    next: AtomicUsize,
    /// Reads the lanes answered, and reads they handed to the pool.
    tally: Tally,
}

impl PostgresReads {
    /// `lanes` shared connections to `target` (none: `None`).
    pub fn new(target: &Arc<Target>, lanes: usize) -> Option<Self> {
        (lanes > 0).then(|| PostgresReads {
            lanes: (0..lanes).map(|_| Lane::new(target, true)).collect(),
            next: AtomicUsize::new(0),
            tally: Tally::default(),
        })
    }

    /// Runs a point read on the next lane. An error from the server is the read's answer; any
    /// other (no connection, the connection lost, a value the lanes don't bind) hands the read
    /// to the pool: a read can always run again.
    pub async fn fetch<T: FromCells>(
        &self,
        stmt: &Statement,
    ) -> Result<Result<Vec<T>, DbErr>, Unserved> {
        let answer = self.try_fetch(stmt).await;
        self.tally.record(&answer);
        answer
    }

    async fn try_fetch<T: FromCells>(
        &self,
        stmt: &Statement,
    ) -> Result<Result<Vec<T>, DbErr>, Unserved> {
        let bound = Bound::new(stmt).ok_or(Unserved)?;
        let lane = &self.lanes[self.next.fetch_add(1, Ordering::Relaxed) % self.lanes.len()];
        let connection = lane.ready()?;
        let rows = async {
            let prepared = connection.prepared(&bound).await?;
            let rows: Vec<Row> = connection
                .client
                .query_raw(&prepared, bound.params())
                .await?
                .try_collect()
                .await?;
            Ok::<_, tokio_postgres::Error>(rows)
        }
        .await;
        match rows {
            Ok(rows) => Ok(rows.iter().map(T::from_cells).collect()),
            Err(e) if e.as_db_error().is_some() => Ok(Err(lane_error(e))),
            Err(e) => {
                tracing::debug!(error = %e, "a PostgreSQL point read went to the pool");
                lane.closed(&connection);
                Err(Unserved)
            }
        }
    }

    /// Reads answered by the lanes, and reads handed to the pool.
    pub fn counts(&self) -> (u64, u64) {
        self.tally.counts()
    }

    /// Lanes connected now.
    pub fn connected(&self) -> usize {
        self.lanes.iter().filter(|lane| lane.is_connected()).count()
    }
}
