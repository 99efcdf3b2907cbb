//! Writes on PostgreSQL in one round trip: a transaction's `BEGIN`, statements and `COMMIT`
//! pipelined on a lane (`postgres_lanes`) that one writer holds at a time, instead of a pool
//! checkout and a round trip per statement. After a failed statement the server refuses the
//! rest and turns the `COMMIT` into a rollback, so a transaction stays all or nothing; an
//! update that must match first (a version check) is made to fail when it does not. A
//! transaction of plain inserts (a create) goes as one statement instead (`inserts_as_one`).
//!
//! A transaction's requests all leave before the writer first waits (see `pipelined`): a
//! request that goes away (a timeout, a client that hung up) never leaves a transaction open on
//! the lane for the next writer to land in.
//!
//! Hand-written for speed, on purpose: measured with `scim-bench run --postgres`, see the
//! README's Benchmarks section. The users' create and update tests, the concurrency tests (an
//! `If-Match` race, duplicate creates, renames racing across workspaces) and the crash tests run
//! through it on the test command's PostgreSQL; `tests/it/operations.rs` checks in `/metrics`
//! that the lanes, not the pool, carried the writes.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::Poll;

use sea_orm::{DbErr, Statement};

use tokio_postgres::types::Type;

use super::postgres_lanes::{Bound, Connection, Lane, Param, Tally, Target, Unserved, lane_error};

pub struct PostgresWrites {
    lanes: Box<[WriteLane]>,
    next: AtomicUsize,
    /// Transactions the lanes ran, and transactions they handed to the pool.
    tally: Tally,
}

/// Statements a lane did not try, handed back for the pool.
pub struct Handed(pub Vec<Statement>);

struct WriteLane {
    lane: Arc<Lane>,
    /// One transaction at a time on a lane.
    turn: Arc<tokio::sync::Mutex<()>>,
}

/// How a transaction's statements are kept.
#[derive(Clone, Copy, PartialEq)]
enum Keep {
    /// All of them, or none on an error.
    All,
    /// The rest only if the first touched a row.
    IfFirstTouched,
}

impl PostgresWrites {
    /// `lanes` connections to `target` (none: `None`).
    pub fn new(target: &Arc<Target>, lanes: usize) -> Option<Self> {
        (lanes > 0).then(|| PostgresWrites {
            lanes: (0..lanes)
                .map(|_| WriteLane {
                    lane: Lane::new(target, false),
                    turn: Arc::default(),
                })
                .collect(),
            next: AtomicUsize::new(0),
            tally: Tally::default(),
        })
    }

    /// Runs `statements` as one transaction, all or none, in one round trip; or hands them
    /// back untried.
    pub async fn transaction(
        &self,
        statements: Vec<Statement>,
    ) -> Result<Result<(), DbErr>, Handed> {
        self.run(statements, Keep::All)
            .await
            .map(|answer| answer.map(|_| ()))
    }

    /// Runs `first` (a write with `RETURNING`) and then `rest`, in one transaction, only when
    /// `first` touched a row; answers whether it did (a miss writes nothing). One round trip.
    /// Or hands the statements back untried, `first` first.
    pub async fn if_returned(
        &self,
        first: Statement,
        rest: Vec<Statement>,
    ) -> Result<Result<bool, DbErr>, Handed> {
        let statements = std::iter::once(first).chain(rest).collect();
        self.run(statements, Keep::IfFirstTouched).await
    }

    /// Transactions the lanes ran, and transactions they handed to the pool.
    pub fn counts(&self) -> (u64, u64) {
        self.tally.counts()
    }

    /// Lanes connected now.
    pub fn connected(&self) -> usize {
        self.lanes
            .iter()
            .filter(|lane| lane.lane.is_connected())
            .count()
    }

    async fn run(
        &self,
        statements: Vec<Statement>,
        keep: Keep,
    ) -> Result<Result<bool, DbErr>, Handed> {
        let answer = match statements
            .iter()
            .map(Bound::new)
            .collect::<Option<Vec<_>>>()
        {
            Some(bound) => match self.free_lane().await {
                Some((lane, _turn)) => run_on(&lane, bound, keep).await,
                None => Err(Unserved),
            },
            None => Err(Unserved),
        };
        self.tally.record(&answer);
        answer.map_err(|Unserved| Handed(statements))
    }
}

impl PostgresWrites {
    /// The first connected lane nobody holds, in order, so a quiet process keeps one lane busy
    /// and connects no more; the first free lane that is not connected starts connecting. When
    /// every connected lane is held, the next one in turn, once free; with none connected,
    /// `None`.
    async fn free_lane(&self) -> Option<(Arc<Lane>, tokio::sync::OwnedMutexGuard<()>)> {
        let mut connected = Vec::new();
        // One more lane at a time comes up, only when the ones before it are all held.
        let mut coming_up = false;
        for (i, write_lane) in self.lanes.iter().enumerate() {
            let lane = &write_lane.lane;
            let Ok(turn) = write_lane.turn.clone().try_lock_owned() else {
                if lane.is_connected() {
                    connected.push(i);
                }
                continue;
            };
            if lane.is_connected() {
                return Some((lane.clone(), turn));
            }
            if !coming_up {
                let _ = lane.ready();
                coming_up = true;
            }
        }
        let i =
            *connected.get(self.next.fetch_add(1, Ordering::Relaxed) % connected.len().max(1))?;
        let turn = self.lanes[i].turn.clone().lock_owned().await;
        Some((self.lanes[i].lane.clone(), turn))
    }
}

/// One transaction on a lane the caller holds.
async fn run_on(
    lane: &Arc<Lane>,
    mut bound: Vec<Bound<'_>>,
    keep: Keep,
) -> Result<Result<bool, DbErr>, Unserved> {
    let connection = lane.ready()?;
    // A create's inserts go as one statement, which is its own transaction.
    let joined_sql;
    let (mut bound, joined) = match keep {
        Keep::All => match inserts_as_one(&mut bound) {
            Some((sql, types, params)) => {
                joined_sql = sql;
                let sql = &joined_sql;
                (vec![Bound { sql, types, params }], true)
            }
            None => (bound, false),
        },
        Keep::IfFirstTouched => (bound, false),
    };
    // The update that must touch a row, made to fail when it touches none (a division by its
    // count of zero): the server then skips the rest and rolls back, so the whole transaction
    // goes in one flight and a writer that lost the race still touches nothing else.
    let guarded;
    if keep == Keep::IfFirstTouched {
        guarded = format!(
            "WITH touched AS ({}) SELECT 1 / COUNT(*) FROM touched",
            bound[0].sql
        );
        bound[0].sql = &guarded;
    }
    let mut prepared = Vec::with_capacity(bound.len());
    for statement in &bound {
        match connection.prepared(statement).await {
            Ok(p) => prepared.push(p),
            Err(e) if e.as_db_error().is_some() => return Ok(Err(lane_error(e))),
            Err(_) => {
                lane.closed(&connection);
                return Err(Unserved);
            }
        }
    }
    if connection.client.is_closed() {
        lane.closed(&connection);
        return Err(Unserved);
    }
    if joined {
        // Sent whole on the first poll, or not at all.
        return match connection
            .client
            .execute_raw(&prepared[0], bound[0].params())
            .await
        {
            Ok(_) => Ok(Ok(true)),
            Err(error) => Ok(Err(ended(lane, &connection, error))),
        };
    }
    let statements: Vec<_> = prepared.iter().zip(&bound).collect();
    let all = pipelined(&connection, &statements).await;
    match all {
        Ok(_) => Ok(Ok(true)),
        // The guard of an update that missed: nothing ran after it, nothing was kept.
        Err(Failed {
            statement: Some(0),
            error,
        }) if keep == Keep::IfFirstTouched
            && error.code() == Some(&tokio_postgres::error::SqlState::DIVISION_BY_ZERO) =>
        {
            Ok(Ok(false))
        }
        Err(Failed { error, .. }) => Ok(Err(ended(lane, &connection, error))),
    }
}

/// The error of a transaction whose `COMMIT` was sent: refused (the server rolled it back), or,
/// when the connection was lost on the way, of unknown outcome — reported as the database being
/// unreachable, as the pool would.
fn ended(lane: &Lane, connection: &Arc<Connection>, error: tokio_postgres::Error) -> DbErr {
    if error.as_db_error().is_none() {
        lane.closed(connection);
    }
    lane_error(error)
}

type Sent<'a> = Pin<Box<dyn Future<Output = Result<u64, tokio_postgres::Error>> + Send + 'a>>;

/// The first error of a flight, and which statement it came from (`None`: `BEGIN` or
/// `COMMIT`).
struct Failed {
    statement: Option<usize>,
    error: tokio_postgres::Error,
}

/// Sends `BEGIN`, the statements and `COMMIT` in one flight, in that order, and waits for all
/// their answers: the rows each statement touched, or the first error.
///
/// tokio-postgres sends a request on its future's first poll, so one poll of every future in
/// order sends them in order, all before this function first yields: a caller that goes away
/// after that leaves a whole transaction behind it, never half of one. A statement whose values
/// fail to encode is not sent at all, and then the flight ends with `ROLLBACK`, not `COMMIT`.
async fn pipelined(
    connection: &Connection,
    statements: &[(&tokio_postgres::Statement, &Bound<'_>)],
) -> Result<Vec<u64>, Failed> {
    let client = &connection.client;
    let simple = |sql: &'static str| -> Sent<'_> {
        Box::pin(async move { client.batch_execute(sql).await.map(|()| 0) })
    };
    let mut sent: Vec<Sent<'_>> = Vec::with_capacity(statements.len() + 2);
    sent.push(simple("BEGIN"));
    for (prepared, bound) in statements {
        sent.push(Box::pin(client.execute_raw(*prepared, bound.params())));
    }
    let mut answers: Vec<Option<Result<u64, tokio_postgres::Error>>> =
        (0..statements.len() + 2).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, answer) in sent.iter_mut().zip(answers.iter_mut()) {
            if answer.is_none() {
                match future.as_mut().poll(cx) {
                    Poll::Ready(done) => *answer = Some(done),
                    Poll::Pending => pending = true,
                }
            }
        }
        if sent.len() == statements.len() + 1 {
            let refused = answers.iter().any(|a| matches!(a, Some(Err(_))));
            sent.push(simple(if refused { "ROLLBACK" } else { "COMMIT" }));
            match sent[statements.len() + 1].as_mut().poll(cx) {
                Poll::Ready(done) => answers[statements.len() + 1] = Some(done),
                Poll::Pending => pending = true,
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    let mut touched = Vec::with_capacity(statements.len());
    for (i, answer) in answers.into_iter().flatten().enumerate() {
        match answer {
            Ok(rows) if (1..=statements.len()).contains(&i) => touched.push(rows),
            Ok(_) => {}
            Err(error) => {
                let statement = (1..=statements.len()).contains(&i).then(|| i - 1);
                return Err(Failed { statement, error });
            }
        }
    }
    Ok(touched)
}

/// A transaction of plain inserts (`INSERT … VALUES`, as a create is) as one statement:
/// `WITH w0 AS (INSERT …), w1 AS (INSERT …) SELECT 1`, each insert's parameters renumbered
/// after the ones before. The server answers it with one reply instead of one per statement
/// plus `BEGIN` and `COMMIT` (measured: an eighth less CPU per create, in PostgreSQL and in the
/// gateway; see the README). Only inserts of values: they read nothing, so seeing the
/// statement's snapshot rather than each other's rows changes nothing, and foreign keys are
/// checked at the end of the statement, when every row is in. `None` (and `bound` untouched)
/// for anything else.
fn inserts_as_one<'a>(bound: &mut Vec<Bound<'a>>) -> Option<(String, Vec<Type>, Vec<Param<'a>>)> {
    if bound.len() < 2 || !bound.iter().all(|b| is_plain_insert(b.sql)) {
        return None;
    }
    let mut sql = String::new();
    let (mut types, mut params) = (Vec::new(), Vec::new());
    for (i, b) in bound.drain(..).enumerate() {
        let with = if i == 0 { "WITH" } else { "," };
        let insert = renumbered(b.sql, types.len());
        sql.push_str(&format!("{with} w{i} AS ({insert})"));
        types.extend(b.types);
        params.extend(b.params);
    }
    sql.push_str(" SELECT 1");
    Some((sql, types, params))
}

/// `INSERT INTO … VALUES …` with no query in it, as the query builder writes one.
fn is_plain_insert(sql: &str) -> bool {
    sql.starts_with("INSERT INTO ")
        && sql.contains(" VALUES ")
        && !sql.contains("SELECT")
        && !sql.contains("RETURNING")
}

/// `sql` with each parameter `$n` made `$(n + offset)`; quoted text and names are left alone.
fn renumbered(sql: &str, offset: usize) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut chars = sql.chars().peekable();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        match quote {
            Some(q) => {
                out.push(c);
                if c == q {
                    quote = None;
                }
            }
            None if c == '\'' || c == '"' => {
                quote = Some(c);
                out.push(c);
            }
            None if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) => {
                let mut n = 0usize;
                while let Some(d) = chars.peek().and_then(|d| d.to_digit(10)) {
                    n = n * 10 + d as usize;
                    chars.next();
                }
                out.push('$');
                out.push_str(&(n + offset).to_string());
            }
            None => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_renumbered_outside_quotes() {
        assert_eq!(
            renumbered(
                r#"INSERT INTO "t$1" ("a", "b") VALUES ($1, $12) -- '$2'"#,
                3
            ),
            r#"INSERT INTO "t$1" ("a", "b") VALUES ($4, $15) -- '$2'"#
        );
        assert_eq!(renumbered("SELECT $1", 0), "SELECT $1");
    }

    #[test]
    fn only_plain_inserts_are_joined() {
        assert!(is_plain_insert(r#"INSERT INTO "a" ("x") VALUES ($1)"#));
        for other in [
            r#"UPDATE "a" SET "x" = $1"#,
            r#"INSERT INTO "a" ("x") SELECT "x" FROM "b""#,
            r#"INSERT INTO "a" ("x") VALUES ((SELECT "x" FROM "b"))"#,
            r#"INSERT INTO "a" ("x") VALUES ($1) RETURNING "id""#,
            r#"DELETE FROM "a""#,
        ] {
            assert!(!is_plain_insert(other), "{other}");
        }
    }
}
