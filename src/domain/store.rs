//! The store: everything the domain reads and writes through, in one handle the protocols pass
//! along without looking inside — the pool for reads, the SQLite fast readers, the writer, and
//! the caches whose entries a change must drop. Which of them a rule uses is the rule's business:
//! the accessors are visible in `domain` only.

use std::sync::Arc;

use sea_orm::{DatabaseConnection, DbBackend, DbErr, Statement};

use crate::db::rows::{Cost, Fetch, FromCells};
use crate::db::{Reads, Writer};
use crate::domain::Result;
use crate::domain::access::AccessCache;
use crate::domain::outages::Outages;

#[derive(Clone)]
pub struct Store {
    /// Reads outside transactions (and the rare bounded last-used writes).
    pool: DatabaseConnection,
    /// The hot SCIM reads: `pool`, or on a SQLite file per-thread rusqlite readers.
    reads: Reads,
    /// Write transactions. On SQLite a pool of one connection, so writers queue in order
    /// instead of spinning on the busy timeout; on PostgreSQL the same pool as `pool`.
    writer: Writer,
    /// SCIM keys and switches, cached for a few seconds (see `access`).
    access: Arc<AccessCache>,
    /// A database outage in progress, counted to be recorded once.
    outages: Arc<Outages>,
    /// The key that seals sign-in cookies, read from the database once.
    sign_in_key: Arc<tokio::sync::OnceCell<crate::domain::sign_in::state::Key>>,
}

impl Store {
    /// Over a read pool and a write pool (the same one on PostgreSQL), both opened from `url`,
    /// and on PostgreSQL these lanes beside the pools (`db::postgres_lanes`). Starts the SQLite
    /// writer on the current runtime.
    pub fn new(
        pool: DatabaseConnection,
        writer: DatabaseConnection,
        url: &str,
        lanes: crate::db::Lanes,
    ) -> Self {
        let (reads, writer) = crate::db::handles(pool.clone(), writer, url, lanes);
        Store {
            reads,
            pool,
            writer,
            access: Arc::default(),
            outages: Arc::default(),
            sign_in_key: Arc::default(),
        }
    }

    /// The key sign-in cookies are sealed with (made in the database by the first replica that
    /// needs it, then read once per process).
    pub(in crate::domain) async fn sign_in_key(
        &self,
    ) -> Result<crate::domain::sign_in::state::Key> {
        self.sign_in_key
            .get_or_try_init(|| crate::domain::sign_in::state::Key::load(self.writes()))
            .await
            .cloned()
    }

    /// The database answers a trivial query.
    pub async fn ping(&self) -> Result<()> {
        Ok(crate::db::ping(&self.pool).await?)
    }

    /// The pools by name, for the metrics' connection gauges.
    pub fn pools(&self) -> [(&'static str, &DatabaseConnection); 2] {
        [("main", &self.pool), ("writer", self.writer.pool())]
    }

    /// What PostgreSQL's lanes ran and handed to the pool, for the metrics; `None` without.
    pub fn lane_counts(&self) -> Option<crate::db::LaneCounts> {
        crate::db::LaneCounts::of(&self.reads, &self.writer)
    }

    pub(in crate::domain) fn pool(&self) -> &DatabaseConnection {
        &self.pool
    }

    pub(in crate::domain) fn reads(&self) -> &Reads {
        &self.reads
    }

    pub(in crate::domain) fn writer(&self) -> &Writer {
        &self.writer
    }

    /// Where write transactions begin.
    pub(in crate::domain) fn writes(&self) -> &DatabaseConnection {
        self.writer.pool()
    }

    pub(in crate::domain) fn access(&self) -> &AccessCache {
        &self.access
    }

    pub(in crate::domain) fn outages(&self) -> &Outages {
        &self.outages
    }
}

/// The domain's reads of rows by hand-built statements go through the fast readers.
impl Fetch for Store {
    fn backend(&self) -> DbBackend {
        self.reads.backend()
    }

    async fn fetch<T: FromCells>(&self, stmt: Statement, cost: Cost) -> Result<Vec<T>, DbErr> {
        self.reads.fetch(stmt, cost).await
    }
}
