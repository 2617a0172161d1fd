//! A listener wrapper that bounds what idle or half-open clients can hold: a cap on open
//! connections (over it a new connection is closed at once, existing ones are untouched) and
//! a deadline for the first request's header (a client that connects and sends half a header
//! is closed when it passes), and an idle timeout for keep-alive connections between requests
//! (a connection with no request in flight and no traffic for that long is closed). Long-lived
//! streams count in the cap but are never idle: their request stays in flight until the
//! response body ends, which [`crate::conn`] tracks per connection.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use axum::serve::Listener;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Open connections a daemon accepts at once by default (each costs a task and buffers). High
/// enough for a master with tens of thousands of agents, each holding a session stream and a
/// connection for its calls; `--max_connections` changes it.
pub const DEFAULT_MAX_CONNECTIONS: usize = 65_536;

/// How long a client has to send its first request's header by default.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a keep-alive connection may sit with no request in flight by default. Longer than
/// the clients' own pool timeouts (urllib3 and Java clients reuse connections idle for less), so
/// a well-behaved client rarely meets a connection closed under it.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// The bounds a [`Guarded`] listener applies.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Connections open at once; beyond this, new ones are closed on accept.
    pub max_connections: usize,
    /// Deadline for the first request's header, from the accept.
    pub header_read_timeout: Duration,
    /// A connection with no request in flight and no bytes moved for this long is closed.
    pub idle_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: DEFAULT_MAX_CONNECTIONS,
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
        }
    }
}

/// What the request layer tells the connection: how many requests (and response bodies) are
/// in flight, and when the last one ended.
#[derive(Debug)]
pub struct Activity {
    in_flight: AtomicUsize,
    /// When the last request's response ended, in milliseconds since [`base`].
    last_end_ms: std::sync::atomic::AtomicU64,
}

/// The process-wide origin of [`Activity::last_end_ms`].
fn base() -> Instant {
    static BASE: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *BASE.get_or_init(Instant::now)
}

impl Activity {
    fn new() -> Self {
        Activity {
            in_flight: AtomicUsize::new(0),
            last_end_ms: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// A request started; the returned token ends it when dropped (after its response body).
    pub fn start(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight(self.clone())
    }

    fn last_end(&self) -> Instant {
        base() + Duration::from_millis(self.last_end_ms.load(Ordering::Acquire))
    }
}

/// A request in flight on a connection; dropping it ends the request.
#[derive(Debug)]
pub struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let since = u64::try_from(base().elapsed().as_millis()).unwrap_or(u64::MAX);
        self.0.last_end_ms.fetch_max(since, Ordering::AcqRel);
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A listener whose connections are bounded by [`Limits`].
pub struct Guarded<L> {
    inner: L,
    limits: Limits,
    open: Arc<AtomicUsize>,
}

impl<L> Guarded<L> {
    /// Wraps `inner`.
    pub fn new(inner: L, limits: Limits) -> Self {
        Guarded {
            inner,
            limits,
            open: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// The counter of open connections (for tests and metrics).
    pub fn open_connections(&self) -> Arc<AtomicUsize> {
        self.open.clone()
    }
}

impl<L: Listener> Listener for Guarded<L> {
    type Io = GuardedIo<L::Io>;
    type Addr = L::Addr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let (io, addr) = self.inner.accept().await;
            if self.open.load(Ordering::Acquire) >= self.limits.max_connections {
                // Closed now rather than queued: the client sees it at once and retries.
                tracing::debug!(
                    max = self.limits.max_connections,
                    "connection refused: at the connection cap"
                );
                drop(io);
                continue;
            }
            self.open.fetch_add(1, Ordering::AcqRel);
            let slot = Slot(self.open.clone());
            return (
                GuardedIo {
                    io,
                    _slot: slot,
                    header_deadline: Some(Box::pin(tokio::time::sleep(
                        self.limits.header_read_timeout,
                    ))),
                    matched: 0,
                    idle_timeout: self.limits.idle_timeout,
                    idle_deadline: Box::pin(tokio::time::sleep(self.limits.idle_timeout)),
                    last_io: Instant::now(),
                    activity: Arc::new(Activity::new()),
                },
                addr,
            );
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

impl<L> std::fmt::Debug for Guarded<L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guarded")
            .field("limits", &self.limits)
            .field("open", &self.open.load(Ordering::Relaxed))
            .finish()
    }
}

impl<I> std::fmt::Debug for GuardedIo<I> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuardedIo")
            .field("reading_header", &self.header_deadline.is_some())
            .finish()
    }
}

/// Gives a connection's place in the cap back when the connection is dropped.
struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// One accepted connection: until the end of the first request's header (`\r\n\r\n`) has
/// been read, reads fail once the deadline passes, which makes the server close it.
pub struct GuardedIo<I> {
    io: I,
    _slot: Slot,
    header_deadline: Option<Pin<Box<tokio::time::Sleep>>>,
    /// How much of `\r\n\r\n` the bytes read so far end with.
    matched: u8,
    idle_timeout: Duration,
    /// Re-armed lazily: when it fires, the connection is closed only if it has really been idle.
    idle_deadline: Pin<Box<tokio::time::Sleep>>,
    /// When bytes last moved either way.
    last_io: Instant,
    activity: Arc<Activity>,
}

impl<I> GuardedIo<I> {
    /// The connection's request tracking, for the request layer ([`crate::conn`]).
    pub fn activity(&self) -> Arc<Activity> {
        self.activity.clone()
    }

    /// Whether the idle timeout has passed; re-arms the timer (registering the waker) otherwise.
    fn idle_expired(&mut self, cx: &mut Context<'_>) -> bool {
        while self.idle_deadline.as_mut().poll(cx).is_ready() {
            let now = Instant::now();
            let next = if self.activity.in_flight.load(Ordering::Acquire) > 0 {
                // A request or stream is in flight: never idle, look again later.
                now + self.idle_timeout
            } else {
                let since = self.last_io.max(self.activity.last_end());
                let due = since + self.idle_timeout;
                if due <= now {
                    return true;
                }
                due
            };
            self.idle_deadline
                .as_mut()
                .reset(tokio::time::Instant::from_std(next));
        }
        false
    }
}

const HEADER_END: &[u8; 4] = b"\r\n\r\n";

impl<I: AsyncRead + Unpin> AsyncRead for GuardedIo<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if let Some(deadline) = self.header_deadline.as_mut()
            && deadline.as_mut().poll(cx).is_ready()
        {
            return Poll::Ready(Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "no complete request header before the header read timeout",
            )));
        }
        if self.idle_expired(cx) {
            return Poll::Ready(Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "keep-alive connection idle past the idle timeout",
            )));
        }
        let before = buf.filled().len();
        ready!(Pin::new(&mut self.io).poll_read(cx, buf))?;
        if buf.filled().len() > before {
            self.last_io = Instant::now();
        }
        if self.header_deadline.is_some() {
            let mut matched = self.matched;
            for &byte in &buf.filled()[before..] {
                matched = if byte == HEADER_END[matched as usize] {
                    matched + 1
                } else if byte == b'\r' {
                    1
                } else {
                    0
                };
                if matched == 4 {
                    break;
                }
            }
            if matched == 4 {
                self.header_deadline = None;
            }
            self.matched = matched;
        }
        Poll::Ready(Ok(()))
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for GuardedIo<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let written = ready!(Pin::new(&mut self.io).poll_write(cx, data))?;
        self.last_io = Instant::now();
        Poll::Ready(Ok(written))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn serve(limits: Limits) -> (std::net::SocketAddr, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("address");
        let guarded = Guarded::new(listener, limits);
        let open = guarded.open_connections();
        let app = axum::Router::new().route("/", axum::routing::get(|| async { "ok" }));
        tokio::spawn(async move { axum::serve(guarded, app).await });
        (address, open)
    }

    async fn get_ok(address: std::net::SocketAddr) -> bool {
        let Ok(mut stream) = tokio::net::TcpStream::connect(address).await else {
            return false;
        };
        let request = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
        if stream.write_all(request).await.is_err() {
            return false;
        }
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer).await;
        answer.starts_with(b"HTTP/1.1 200")
    }

    async fn until(what: &str, mut condition: impl FnMut() -> bool) {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while !condition() {
            assert!(std::time::Instant::now() < deadline, "timed out: {what}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Half-sent headers are closed after the header timeout; requests still get through
    /// meanwhile, and a complete request's connection is not timed out.
    #[tokio::test]
    async fn half_sent_headers_are_closed_after_the_header_timeout() {
        let (address, open) = serve(Limits {
            max_connections: 10_000,
            header_read_timeout: Duration::from_millis(500),
            idle_timeout: Duration::from_secs(600),
        })
        .await;
        let mut idle = Vec::new();
        for _ in 0..200 {
            let mut stream = tokio::net::TcpStream::connect(address)
                .await
                .expect("connect");
            stream
                .write_all(b"GET / HTTP/1.1\r\nHost:")
                .await
                .expect("half");
            idle.push(stream);
        }
        assert!(get_ok(address).await, "a real request is served meanwhile");
        until("the half-open connections are closed", || {
            open.load(Ordering::Acquire) == 0
        })
        .await;
        for mut stream in idle {
            let mut rest = Vec::new();
            // The server closed it: EOF (or a reset), never a hang.
            let _ = stream.read_to_end(&mut rest).await;
        }
        assert!(get_ok(address).await);
    }

    /// Over the cap new connections are closed at once; the ones already open still work,
    /// and when they go the cap frees up.
    #[tokio::test]
    async fn over_the_cap_new_connections_are_closed_and_existing_ones_unaffected() {
        let (address, open) = serve(Limits {
            max_connections: 3,
            header_read_timeout: Duration::from_secs(600),
            idle_timeout: Duration::from_secs(600),
        })
        .await;
        let mut held = Vec::new();
        for _ in 0..3 {
            held.push(
                tokio::net::TcpStream::connect(address)
                    .await
                    .expect("connect"),
            );
        }
        until("three accepted", || open.load(Ordering::Acquire) == 3).await;
        assert!(
            !get_ok(address).await,
            "the fourth is closed without an answer"
        );
        // An existing connection still gets its answer.
        let stream = &mut held[0];
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .expect("write");
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.expect("answer");
        assert!(answer.starts_with(b"HTTP/1.1 200"), "{answer:?}");
        drop(held);
        until("slots freed", || open.load(Ordering::Acquire) == 0).await;
        assert!(get_ok(address).await);
    }
}
