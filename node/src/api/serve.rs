//! Serving the local API with bounded connections, so that nobody on the machine can lock the
//! owner out by holding connections open.
//!
//! Every client is on 127.0.0.1, so addresses tell nothing apart; what does is the token. A
//! connection starts *unauthenticated*: those share a small pool, the oldest is closed when a
//! new one needs its place, and each must complete an authenticated request within a short
//! deadline. An owner's request arrives with its connection and passes the guard within
//! microseconds, so it moves to the *authenticated* pool (its own cap, an idle timeout, a
//! request limit) long before an attacker's newer connections could push it out. Event streams
//! have a third pool of their own and no idle timeout.

use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use tower::Service;

/// The bounds the API server keeps.
#[derive(Clone, Copy, Debug)]
pub struct ConnectionLimits {
    /// Connections that have not yet made an authenticated request.
    pub unauthenticated_max: usize,
    /// How long a connection may stay unauthenticated before it is closed.
    pub authenticate_within: Duration,
    /// Authenticated connections (not counting event streams).
    pub authenticated_max: usize,
    /// Open event streams.
    pub streams_max: usize,
    /// An authenticated connection with no traffic for this long is closed.
    pub idle: Duration,
    /// The whole header of a request must arrive within this.
    pub header_read: Duration,
    /// Requests served on one connection before it is closed.
    pub requests_per_connection: u64,
}

impl Default for ConnectionLimits {
    fn default() -> ConnectionLimits {
        ConnectionLimits {
            unauthenticated_max: 512,
            authenticate_within: Duration::from_secs(2),
            authenticated_max: 128,
            streams_max: 32,
            idle: Duration::from_secs(30),
            // hyper also times the wait for the next request on a kept-alive connection with
            // this, so it is the idle timeout too; the first request of a connection is bounded
            // by `authenticate_within`.
            header_read: Duration::from_secs(30),
            requests_per_connection: 1000,
        }
    }
}

/// Which pool a connection is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pool {
    Unauthenticated,
    Authenticated,
    Stream,
}

/// One connection as the guard sees it (through the request's extensions).
pub struct Connection {
    id: u64,
    registry: Arc<Registry>,
    /// Milliseconds since the registry's epoch of the last byte in either direction.
    last_active: AtomicU64,
    requests: AtomicU64,
    /// Requests being answered now: a connection busy with a slow request is not idle.
    in_flight: AtomicU64,
    close: Notify,
}

/// Why the guard could not take a request on this connection.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// Every event-stream slot is taken.
    #[error("too many event streams are open (at most {0}); close one and retry")]
    TooManyStreams(usize),
    /// The connection was closed (pushed out of its pool, or past its deadline) while its
    /// request was read.
    #[error("this connection was closed by the server; retry on a new one")]
    Closed,
}

impl Connection {
    /// Records an authenticated request: the connection leaves the unauthenticated pool (and
    /// joins the stream pool for an event stream). Returns whether this must be the last
    /// request on the connection.
    pub fn authenticated(&self, stream: bool) -> Result<bool, Refusal> {
        let target = if stream {
            Pool::Stream
        } else {
            Pool::Authenticated
        };
        self.registry.promote(self.id, target)?;
        let served = self.requests.fetch_add(1, Ordering::Relaxed) + 1;
        Ok(served >= self.registry.limits.requests_per_connection)
    }

    /// Marks a request in progress until the returned guard drops.
    pub fn busy(self: &Arc<Self>) -> Busy {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        Busy(Arc::clone(self))
    }

    fn touch(&self) {
        self.last_active
            .store(self.registry.elapsed_ms(), Ordering::Relaxed);
    }
}

/// A request in progress on a connection.
pub struct Busy(Arc<Connection>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.0.touch();
    }
}

struct Entry {
    pool: Pool,
    opened_ms: u64,
    connection: Arc<Connection>,
}

/// Every open connection, by id (ids grow, so the first entries of a pool are its oldest).
struct Registry {
    limits: ConnectionLimits,
    epoch: Instant,
    next_id: AtomicU64,
    entries: Mutex<BTreeMap<u64, Entry>>,
}

impl Registry {
    fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Entry>> {
        // Nothing panics while holding it; recover anyway so the server keeps serving.
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Admits a new connection, closing the oldest unauthenticated one if the pool is full.
    fn admit(self: &Arc<Self>) -> Arc<Connection> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let now = self.elapsed_ms();
        let connection = Arc::new(Connection {
            id,
            registry: Arc::clone(self),
            last_active: AtomicU64::new(now),
            requests: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
            close: Notify::new(),
        });
        let mut entries = self.entries();
        let unauthenticated = entries
            .values()
            .filter(|e| e.pool == Pool::Unauthenticated)
            .count();
        if unauthenticated >= self.limits.unauthenticated_max {
            Self::close_oldest(&mut entries, Pool::Unauthenticated);
        }
        entries.insert(
            id,
            Entry {
                pool: Pool::Unauthenticated,
                opened_ms: now,
                connection: Arc::clone(&connection),
            },
        );
        connection
    }

    fn promote(&self, id: u64, target: Pool) -> Result<(), Refusal> {
        let mut entries = self.entries();
        let current = entries.get(&id).map(|e| e.pool);
        match current {
            // Its close is on the way: run nothing on it.
            None => return Err(Refusal::Closed),
            Some(pool) if pool == target => return Ok(()),
            Some(_) => {}
        }
        let cap = match target {
            Pool::Stream => self.limits.streams_max,
            Pool::Authenticated => self.limits.authenticated_max,
            Pool::Unauthenticated => self.limits.unauthenticated_max,
        };
        let in_target = entries.values().filter(|e| e.pool == target).count();
        if in_target >= cap {
            match target {
                // Streams are long-lived by design; the newcomer is refused, not the oldest.
                Pool::Stream => return Err(Refusal::TooManyStreams(cap)),
                // The owner's own clients: make room by closing the one idle longest.
                _ => {
                    let idle_first = entries
                        .values()
                        .filter(|e| {
                            e.pool == target && e.connection.in_flight.load(Ordering::Relaxed) == 0
                        })
                        .min_by_key(|e| e.connection.last_active.load(Ordering::Relaxed))
                        .map(|e| e.connection.id);
                    if let Some(victim) = idle_first.and_then(|v| entries.remove(&v)) {
                        victim.connection.close.notify_one();
                    }
                }
            }
        }
        if let Some(entry) = entries.get_mut(&id) {
            entry.pool = target;
        }
        Ok(())
    }

    fn close_oldest(entries: &mut BTreeMap<u64, Entry>, pool: Pool) {
        let oldest = entries
            .values()
            .find(|e| e.pool == pool)
            .map(|e| e.connection.id);
        if let Some(entry) = oldest.and_then(|id| entries.remove(&id)) {
            entry.connection.close.notify_one();
        }
    }

    fn remove(&self, id: u64) {
        self.entries().remove(&id);
    }

    /// Closes connections past their deadline: unauthenticated ones too old, authenticated
    /// ones idle too long. Streams are exempt.
    fn sweep(&self) {
        let now = self.elapsed_ms();
        let deadline = u64::try_from(self.limits.authenticate_within.as_millis()).unwrap_or(0);
        let idle = u64::try_from(self.limits.idle.as_millis()).unwrap_or(u64::MAX);
        let mut entries = self.entries();
        entries.retain(|_, e| {
            let expired = match e.pool {
                Pool::Unauthenticated => now.saturating_sub(e.opened_ms) >= deadline,
                Pool::Authenticated => {
                    e.connection.in_flight.load(Ordering::Relaxed) == 0
                        && now.saturating_sub(e.connection.last_active.load(Ordering::Relaxed))
                            >= idle
                }
                Pool::Stream => false,
            };
            if expired {
                e.connection.close.notify_one();
            }
            !expired
        });
    }
}

/// A socket that records when bytes last moved, for the idle timeout.
struct Tracked {
    inner: TcpStream,
    connection: Arc<Connection>,
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.connection.touch();
        }
        result
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(cx, data);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.connection.touch();
        }
        result
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Serves `router` on `listener` within `limits` until `stop` flips.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    mut stop: watch::Receiver<bool>,
) {
    let registry = Arc::new(Registry {
        limits,
        epoch: Instant::now(),
        next_id: AtomicU64::new(0),
        entries: Mutex::new(BTreeMap::new()),
    });
    let sweeper = {
        let registry = Arc::clone(&registry);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(200));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                registry.sweep();
            }
        })
    };
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.changed() => break,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors or similar: back off instead of spinning; the
                // sweeper frees slots meanwhile.
                tracing::warn!("API accept error: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let connection = registry.admit();
        tokio::spawn(serve_connection(stream, router.clone(), connection, limits));
        // Let the new connection read its request before the next accept: under a flood the
        // listener is always ready, and an owner's connection must get to the guard before
        // the pool has turned over.
        tokio::task::yield_now().await;
    }
    sweeper.abort();
    // Close every connection: the node is stopping, and open streams would hold it forever.
    // A request already in the engine's queue completes there or fails as the engine stops.
    let entries = std::mem::take(&mut *registry.entries());
    for entry in entries.into_values() {
        entry.connection.close.notify_one();
    }
}

async fn serve_connection(
    stream: TcpStream,
    router: Router,
    connection: Arc<Connection>,
    limits: ConnectionLimits,
) {
    let io = TokioIo::new(Tracked {
        inner: stream,
        connection: Arc::clone(&connection),
    });
    let for_requests = Arc::clone(&connection);
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(Arc::clone(&for_requests));
        let mut router = router.clone();
        async move { router.call(request).await }
    });
    // Removed from the registry however this ends, a panic in a handler included.
    let _entry = Deregister(Arc::clone(&connection));
    let served = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read)
        // Headers bigger than this are refused: 512 unauthenticated connections each holding
        // hyper's default buffer (~400 KB) would be 200 MB.
        .max_buf_size(HEADER_BUFFER_BYTES)
        .serve_connection(io, service);
    tokio::select! {
        result = served => {
            if let Err(e) = result {
                tracing::debug!("API connection ended: {e}");
            }
        }
        () = connection.close.notified() => {}
    }
}

/// The read buffer of a connection, which bounds a request's header (hyper's minimum is 8 KiB).
const HEADER_BUFFER_BYTES: usize = 16 * 1024;

/// Takes a connection out of the registry when its task ends.
struct Deregister(Arc<Connection>);

impl Drop for Deregister {
    fn drop(&mut self) {
        self.0.registry.remove(self.0.id);
    }
}
