//! WAL checkpoints on a thread of their own. SQLite's automatic checkpoint runs inside the commit
//! that crosses its threshold, on the one writer connection: every writer waited for its page
//! copies and its fsyncs (a quarter of the writer's time under a create load, measured with
//! `perf`). Here a PASSIVE checkpoint runs beside the writer instead, which never blocks it, and
//! the connections' own automatic checkpoint stays as a backstop at a higher threshold
//! (`AUTOCHECKPOINT_PAGES` in `db`), should this thread ever fall behind.

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

/// How often the WAL is looked at: a checkpoint runs when it was written since the last one.
const POLL: Duration = Duration::from_millis(100);

/// Stops the checkpoint thread when dropped (with the writer it belongs to).
pub struct SqliteCheckpoints {
    _stop: mpsc::Sender<()>,
}

impl SqliteCheckpoints {
    /// Starts checkpointing a database file; `None` when it can't be opened (the backstop then
    /// does the work).
    pub fn for_file(path: &Path) -> Option<Self> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .ok()?;
        conn.busy_timeout(Duration::from_secs(10)).ok()?;
        let mut wal = path.as_os_str().to_owned();
        wal.push("-wal");
        let wal = std::path::PathBuf::from(wal);
        let (stop, stopped) = mpsc::channel::<()>();
        std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || run(&conn, &wal, &stopped))
            .ok()?;
        Some(SqliteCheckpoints { _stop: stop })
    }
}

fn run(conn: &Connection, wal: &Path, stopped: &mpsc::Receiver<()>) {
    let mut checkpointed_at = None;
    let mut failing = false;
    while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(POLL) {
        // The WAL file's modification time tells, without a lock, whether anything committed.
        let written_at = std::fs::metadata(wal).and_then(|m| m.modified()).ok();
        if written_at.is_none() || written_at == checkpointed_at {
            continue;
        }
        // PASSIVE: copies what no reader still needs and never waits for the writer, which
        // starts the WAL over once a checkpoint has copied all of it.
        let copied = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
            Ok((row.get::<_, i64>(1)?, row.get::<_, i64>(2)?))
        });
        match copied {
            Ok((wal_frames, copied)) => {
                checkpointed_at = written_at;
                failing = false;
                // Says which connection did the copying (tests/it/checkpoints.rs reads it).
                tracing::debug!(wal_frames, copied, "SQLite checkpoint beside the writer");
            }
            // Logged once per run of failures, not every 100 ms; meanwhile the connections'
            // own checkpoints take over past their threshold.
            Err(e) if !failing => {
                failing = true;
                tracing::warn!(error = %e, "SQLite checkpoint failed; retrying");
            }
            Err(_) => {}
        }
    }
}
