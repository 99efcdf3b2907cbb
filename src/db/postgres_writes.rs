//! Writes on PostgreSQL in one or two round trips: a transaction's `BEGIN`, statements and
//! `COMMIT` pipelined on a lane (`postgres_lanes`) that one writer holds at a time, instead of
//! a pool checkout and a round trip per statement. After a failed statement the server refuses
//! the rest and turns the `COMMIT` into a rollback, so a transaction stays all or nothing.
//!
//! Each transaction runs in a task of its own: a request that goes away (a timeout, a client
//! that hung up) never leaves a transaction open on the lane for the next writer to land in.
//!
//! Hand-written for speed, on purpose: measured with `scim-bench run --postgres`, see the
//! README's Benchmarks section. The users' create and update tests, the concurrency tests (an
//! `If-Match` race, duplicate creates, renames racing across workspaces) and the crash tests run
//! through it on the test command's PostgreSQL; `tests/it/operations.rs` checks in `/metrics`
//! that the lanes, not the pool, carried the writes.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::Poll;

use sea_orm::{DbErr, Statement};

use super::postgres_lanes::{Bound, Connection, Lane, Target, Unserved, lane_error};

pub struct PostgresWrites {
    lanes: Box<[WriteLane]>,
    next: AtomicUsize,
    /// Transactions the lanes ran, and transactions they handed to the pool.
    served: Arc<AtomicU64>,
    handed_over: Arc<AtomicU64>,
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
            served: Arc::default(),
            handed_over: Arc::default(),
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
    /// `first` touched a row; answers whether it did (a miss writes nothing). Two round trips.
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
        (
            self.served.load(Ordering::Relaxed),
            self.handed_over.load(Ordering::Relaxed),
        )
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
        if statements.iter().any(|s| Bound::new(s).is_none()) {
            self.handed_over.fetch_add(1, Ordering::Relaxed);
            return Err(Handed(statements));
        }
        let Some((lane, turn)) = self.free_lane().await else {
            self.handed_over.fetch_add(1, Ordering::Relaxed);
            return Err(Handed(statements));
        };
        let (served, handed_over) = (self.served.clone(), self.handed_over.clone());
        let task = tokio::spawn(async move {
            let _turn = turn;
            let answer = run_on(&lane, &statements, keep).await;
            let counter = if answer.is_ok() { served } else { handed_over };
            counter.fetch_add(1, Ordering::Relaxed);
            answer.map_err(|Unserved| Handed(statements))
        });
        match task.await {
            Ok(answer) => answer,
            // The task panicked before sending its transaction's end: nothing of it is kept.
            Err(e) => Ok(Err(DbErr::Custom(format!(
                "a PostgreSQL write lane failed: {e}"
            )))),
        }
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
    statements: &[Statement],
    keep: Keep,
) -> Result<Result<bool, DbErr>, Unserved> {
    let connection = lane.ready()?;
    let bound: Vec<Bound<'_>> = statements.iter().filter_map(Bound::new).collect();
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
    let statements: Vec<_> = prepared.iter().zip(&bound).collect();
    match keep {
        Keep::All => {
            let all = pipelined(&connection, Some("BEGIN"), &statements, Some("COMMIT")).await;
            Ok(ended(lane, &connection, all))
        }
        Keep::IfFirstTouched => {
            let first = pipelined(&connection, Some("BEGIN"), &statements[..1], None).await;
            match first {
                Ok(touched) if touched[0] > 0 => {
                    let rest = pipelined(&connection, None, &statements[1..], Some("COMMIT")).await;
                    Ok(ended(lane, &connection, rest))
                }
                Ok(_) => match connection.client.batch_execute("ROLLBACK").await {
                    Ok(()) => Ok(Ok(false)),
                    Err(e) => Ok(Err(lane_error(e))),
                },
                // Nothing was committed: a transaction dies with its connection, and one the
                // server refused ends here.
                Err(e) if e.as_db_error().is_some() => {
                    let ended = connection.client.batch_execute("ROLLBACK").await;
                    if ended.is_err() {
                        lane.closed(&connection);
                    }
                    Ok(Err(lane_error(e)))
                }
                Err(_) => {
                    lane.closed(&connection);
                    Err(Unserved)
                }
            }
        }
    }
}

/// A transaction whose `COMMIT` was sent: kept, refused (the server rolled it back), or, when
/// the connection was lost on the way, of unknown outcome — reported as the database being
/// unreachable, as the pool would.
fn ended(
    lane: &Lane,
    connection: &Arc<Connection>,
    answer: Result<Vec<u64>, tokio_postgres::Error>,
) -> Result<bool, DbErr> {
    answer.map(|_| true).map_err(|e| {
        if e.as_db_error().is_none() {
            lane.closed(connection);
        }
        lane_error(e)
    })
}

type Sent<'a> = Pin<Box<dyn Future<Output = Result<u64, tokio_postgres::Error>> + Send + 'a>>;

/// Sends `before`, the statements and `after` in one flight, in that order, and waits for all
/// their answers: the rows each statement touched, or the first error.
async fn pipelined(
    connection: &Connection,
    before: Option<&'static str>,
    statements: &[(&tokio_postgres::Statement, &Bound<'_>)],
    after: Option<&'static str>,
) -> Result<Vec<u64>, tokio_postgres::Error> {
    let client = &connection.client;
    let simple = |sql: &'static str| -> Sent<'_> {
        Box::pin(async move { client.batch_execute(sql).await.map(|()| 0) })
    };
    let mut sent: Vec<Sent<'_>> = Vec::with_capacity(statements.len() + 2);
    sent.extend(before.map(simple));
    for (prepared, bound) in statements {
        sent.push(Box::pin(client.execute_raw(*prepared, bound.params())));
    }
    sent.extend(after.map(simple));
    let answers = in_order(sent).await;
    let mut touched = Vec::with_capacity(statements.len());
    let offset = usize::from(before.is_some());
    for (i, answer) in answers.into_iter().enumerate() {
        let rows = answer?;
        if i >= offset && touched.len() < statements.len() {
            touched.push(rows);
        }
    }
    Ok(touched)
}

/// Polls every future in order until all are done: tokio-postgres sends a request on its
/// future's first poll, so the requests leave in this order.
async fn in_order<'a>(mut futures: Vec<Sent<'a>>) -> Vec<Result<u64, tokio_postgres::Error>> {
    let mut answers: Vec<Option<Result<u64, tokio_postgres::Error>>> =
        futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, answer) in futures.iter_mut().zip(answers.iter_mut()) {
            if answer.is_none() {
                match future.as_mut().poll(cx) {
                    Poll::Ready(done) => *answer = Some(done),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    answers.into_iter().flatten().collect()
}
