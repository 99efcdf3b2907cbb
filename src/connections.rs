//! The accept loop, with limits for connections and not just requests: the SCIM base URL is on
//! the internet, so anyone can open connections and send nothing. A connection must send a
//! complete request head within `head_timeout` of its first byte (or of being accepted), may sit
//! idle between requests for `idle_timeout`, and at most `max_connections` are open: past that,
//! the connection idle or stalled longest is closed to make room, so health checks and
//! well-behaved IdPs keep being served while slow or silent ones fill the budget. Connections with
//! a request in progress are never evicted; when all are, new ones wait for a slot.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::extract::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, Semaphore, watch};
use tower::Service;

/// How often each connection checks its clocks.
const TICK: Duration = Duration::from_millis(250);
/// How long shutdown waits for requests in progress.
const DRAIN: Duration = Duration::from_secs(20);

#[derive(Clone, Debug)]
pub struct ConnectionLimits {
    pub head_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
}

/// What a connection is doing, for its clocks and for eviction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Accepted or between requests, nothing received: the idle clock (the head clock for a
    /// connection that has not sent a request yet).
    Waiting { since: Instant, first: bool },
    /// Part of a request head received.
    Head { since: Instant },
    /// A request is being served.
    Busy,
}

const WAITING_FIRST: u8 = 0;
const WAITING: u8 = 1;
const HEAD: u8 = 2;
const BUSY: u8 = 3;

/// A coarse clock the watchdog advances every tick: connections note when a phase began with an
/// atomic load instead of reading the system clock on the request path.
struct Clock {
    epoch: Instant,
    nanos: AtomicU64,
}

impl Clock {
    fn now(&self) -> u64 {
        self.nanos.load(Ordering::Relaxed)
    }

    fn advance(&self) {
        self.nanos
            .store(nanos(self.epoch, Instant::now()), Ordering::Relaxed);
    }
}

/// A connection's phase in two atomics: read on every socket read and twice per request, so no
/// lock and no system clock (measured: a mutex here cost 3–5 % of a lookup's instructions).
struct Connection {
    state: AtomicU8,
    /// When the phase began, on `clock`.
    since: AtomicU64,
    clock: Arc<Clock>,
    close: Notify,
}

impl Connection {
    fn new(clock: Arc<Clock>) -> Connection {
        Connection {
            state: AtomicU8::new(WAITING_FIRST),
            since: AtomicU64::new(clock.now()),
            clock,
            close: Notify::new(),
        }
    }

    fn phase(&self) -> Phase {
        let since = self.clock.epoch + Duration::from_nanos(self.since.load(Ordering::Acquire));
        match self.state.load(Ordering::Acquire) {
            WAITING_FIRST => Phase::Waiting { since, first: true },
            WAITING => Phase::Waiting {
                since,
                first: false,
            },
            HEAD => Phase::Head { since },
            _ => Phase::Busy,
        }
    }

    fn enter(&self, state: u8) {
        self.since.store(self.clock.now(), Ordering::Release);
        self.state.store(state, Ordering::Release);
    }

    /// Bytes arrived: a waiting connection has started a head.
    fn received(&self) {
        let state = self.state.load(Ordering::Acquire);
        if state == WAITING || state == WAITING_FIRST {
            self.enter(HEAD);
        }
    }

    fn request_started(&self) {
        self.state.store(BUSY, Ordering::Release);
    }

    /// The answer is being written: the request is done, the idle clock starts. (Answers are
    /// written whole, and a later write of the same answer only restarts the clock.)
    fn answering(&self) {
        if self.state.load(Ordering::Acquire) == BUSY {
            self.enter(WAITING);
        }
    }

    /// Marked busy so eviction doesn't pick it twice while it closes.
    fn condemn(&self) {
        self.state.store(BUSY, Ordering::Release);
    }

    /// Past its head or idle deadline.
    fn expired(&self, limits: &ConnectionLimits, now: Instant) -> bool {
        match self.phase() {
            Phase::Waiting { since, first: true } | Phase::Head { since } => {
                now.saturating_duration_since(since) > limits.head_timeout
            }
            Phase::Waiting {
                since,
                first: false,
            } => now.saturating_duration_since(since) > limits.idle_timeout,
            Phase::Busy => false,
        }
    }
}

fn nanos(epoch: Instant, at: Instant) -> u64 {
    u64::try_from(at.saturating_duration_since(epoch).as_nanos()).unwrap_or(u64::MAX)
}

/// The open connections, for eviction when the budget is full.
struct Registry {
    next: AtomicU64,
    open: Mutex<HashMap<u64, Arc<Connection>>>,
}

impl Registry {
    fn add(&self, connection: Arc<Connection>) -> u64 {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.open
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, connection);
        id
    }

    fn remove(&self, id: u64) {
        self.open
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
    }

    /// Closes the connections past their head or idle deadline.
    fn close_expired(&self, limits: &ConnectionLimits, now: Instant) {
        let open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        for connection in open.values() {
            if connection.expired(limits, now) {
                connection.condemn();
                connection.close.notify_one();
            }
        }
    }

    /// Closes the connection that has waited or stalled longest without a request in progress;
    /// false when every open connection is serving one.
    fn evict_one(&self) -> bool {
        let open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let victim = open
            .values()
            .filter_map(|c| match c.phase() {
                Phase::Waiting { since, .. } | Phase::Head { since } => Some((since, c)),
                Phase::Busy => None,
            })
            .min_by_key(|(since, _)| *since)
            .map(|(_, c)| c.clone());
        match victim {
            Some(c) => {
                c.condemn();
                c.close.notify_one();
                true
            }
            None => false,
        }
    }
}

/// The socket, noting when bytes arrive.
struct Watched {
    stream: TcpStream,
    connection: Arc<Connection>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.connection.received();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.connection.answering();
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.connection.answering();
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

/// Serves `app` on `listener` until `shutdown` completes, then lets requests in progress finish
/// (up to 20 s).
pub async fn serve<S>(
    listener: TcpListener,
    app: S,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()>
where
    S: Service<Request, Response = axum::response::Response, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let registry = Arc::new(Registry {
        next: AtomicU64::new(0),
        open: Mutex::new(HashMap::new()),
    });
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let (stop, stopping) = watch::channel(false);
    let clock = Arc::new(Clock {
        epoch: Instant::now(),
        nanos: AtomicU64::new(0),
    });
    // One clock for all connections: closes those past their head or idle deadline.
    let watchdog = {
        let (registry, limits, clock) = (registry.clone(), limits.clone(), clock.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(TICK);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                clock.advance();
                registry.close_expired(&limits, Instant::now());
            }
        })
    };
    let mut shutdown = std::pin::pin!(shutdown);
    let mut tasks = tokio::task::JoinSet::new();
    loop {
        let accepted = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of descriptors (EMFILE/ENFILE) or a connection reset before accept: make
                // room, and don't spin.
                tracing::warn!(error = %e, "accept failed");
                registry.evict_one();
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        let permit = match slots.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                registry.evict_one();
                match slots.clone().acquire_owned().await {
                    Ok(permit) => permit,
                    Err(_) => break,
                }
            }
        };
        let _ = stream.set_nodelay(true);
        let connection = Arc::new(Connection::new(clock.clone()));
        let id = registry.add(connection.clone());
        let (app, registry, stopping) = (app.clone(), registry.clone(), stopping.clone());
        tasks.spawn(async move {
            serve_connection(stream, peer, app, connection, stopping).await;
            registry.remove(id);
            drop(permit);
        });
        // Reap finished tasks so the set doesn't grow with every connection ever served.
        while tasks.try_join_next().is_some() {}
    }
    watchdog.abort();
    let _ = stop.send(true);
    let drained =
        tokio::time::timeout(DRAIN, async { while tasks.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tracing::warn!("requests still in progress after 20 s at shutdown were cut off");
    }
    Ok(())
}

async fn serve_connection<S>(
    stream: TcpStream,
    peer: std::net::SocketAddr,
    app: S,
    connection: Arc<Connection>,
    mut stopping: watch::Receiver<bool>,
) where
    S: Service<Request, Response = axum::response::Response, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let io = TokioIo::new(Watched {
        stream,
        connection: connection.clone(),
    });
    let tracked = connection.clone();
    // A request is busy from its head to its answer's first write (see `Watched::poll_write`):
    // no wrapper future and no reference count per request on this path.
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        tracked.request_started();
        let mut request = request.map(axum::body::Body::new);
        // Who sent it, for the public routes' per-client budgets (`client_address`).
        request
            .extensions_mut()
            .insert(axum::extract::ConnectInfo(peer));
        app.clone().call(request)
    });
    // No hyper timer: its header timeout would arm a timer per request; the clocks above do it.
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().keep_alive(true);
    let served = builder.serve_connection_with_upgrades(io, service);
    let mut served = std::pin::pin!(served);
    // Created once: the hot path polls the connection first and these only when it is pending.
    let mut close = std::pin::pin!(connection.close.notified());
    let mut stop = std::pin::pin!(async move {
        let _ = stopping.wait_for(|stopping| *stopping).await;
    });
    tokio::select! {
        biased;
        result = served.as_mut() => {
            if let Err(e) = result {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            return;
        }
        () = &mut close => return,
        () = &mut stop => served.as_mut().graceful_shutdown(),
    }
    // Shutting down: the request in progress finishes, unless the connection is closed first.
    tokio::select! {
        biased;
        _ = served.as_mut() => {}
        () = &mut close => {}
    }
}
