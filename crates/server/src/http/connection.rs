//! One client connection: HTTP/1.1 or cleartext HTTP/2 (prior knowledge), watched so that a client that
//! is slow to send its request, or holds the connection idle, is cut off.
//!
//! A watchdog closes the connection while no request is running on it when
//! - no complete request arrived within `header_read_timeout` of connecting (half-open and slow-loris
//!   clients, a dribbled HTTP/2 preface);
//! - bytes of a next request started arriving more than `header_read_timeout` ago without a complete
//!   request (a slow header on a kept-alive connection);
//! - nothing was read or written for `idle_timeout` since the last request ended (idle keep-alive; a
//!   client that stopped reading a response).
//!
//! Requests being handled are never cut here: `limits.request_timeout_secs` bounds them.

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::watch;
use tower::ServiceExt;

/// The time limits of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Longest wait for a complete request head once one is due (from connecting) or has begun.
    pub header_read: Duration,
    /// Longest quiet time with no request running.
    pub idle: Duration,
}

/// Why the watchdog closed a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expired {
    /// A request head took longer than `header_read`.
    HeaderRead,
    /// The connection was quiet for longer than `idle`.
    Idle,
}

impl Expired {
    /// The metric label.
    pub fn label(self) -> &'static str {
        match self {
            Expired::HeaderRead => "header_timeout",
            Expired::Idle => "idle_timeout",
        }
    }
}

/// "Never" in [`Activity`]'s millisecond fields.
const UNSET: u64 = u64::MAX;

/// What happened on one connection, in milliseconds since it was accepted; shared by its I/O, its
/// request handler and its watchdog.
#[derive(Debug)]
pub struct Activity {
    start: Instant,
    /// Requests running now.
    running: AtomicU64,
    /// Requests started so far.
    started: AtomicU64,
    /// When the last request ended (its response head was produced), or 0.
    last_end: AtomicU64,
    /// When bytes were last written.
    last_write: AtomicU64,
    /// When the first byte arrived while no request was running, or [`UNSET`].
    reading_since: AtomicU64,
}

impl Activity {
    /// A connection accepted now.
    pub fn new() -> Self {
        Self::starting_at(Instant::now())
    }

    fn starting_at(start: Instant) -> Self {
        Self {
            start,
            running: AtomicU64::new(0),
            started: AtomicU64::new(0),
            last_end: AtomicU64::new(0),
            last_write: AtomicU64::new(0),
            reading_since: AtomicU64::new(UNSET),
        }
    }

    fn now_ms(&self, now: Instant) -> u64 {
        u64::try_from(now.saturating_duration_since(self.start).as_millis()).unwrap_or(UNSET - 1)
    }

    fn read(&self, now: Instant) {
        if self.running.load(Ordering::Acquire) == 0 {
            let t = self.now_ms(now);
            let _ =
                self.reading_since
                    .compare_exchange(UNSET, t, Ordering::AcqRel, Ordering::Relaxed);
        }
    }

    fn wrote(&self, now: Instant) {
        self.last_write.store(self.now_ms(now), Ordering::Release);
    }

    /// A request head arrived; the returned guard marks its end when dropped.
    pub fn request(self: &Arc<Self>) -> RequestGuard {
        self.running.fetch_add(1, Ordering::AcqRel);
        self.started.fetch_add(1, Ordering::AcqRel);
        self.reading_since.store(UNSET, Ordering::Release);
        RequestGuard(Arc::clone(self))
    }

    /// When the connection expires if nothing else happens, and why; `None` while a request runs.
    pub fn deadline(&self, limits: Timeouts) -> Option<(Instant, Expired)> {
        if self.running.load(Ordering::Acquire) > 0 {
            return None;
        }
        let at = |ms: u64, d: Duration| self.start + Duration::from_millis(ms) + d;
        if self.started.load(Ordering::Acquire) == 0 {
            return Some((at(0, limits.header_read), Expired::HeaderRead));
        }
        let reading = self.reading_since.load(Ordering::Acquire);
        if reading != UNSET {
            return Some((at(reading, limits.header_read), Expired::HeaderRead));
        }
        let quiet_since = self
            .last_end
            .load(Ordering::Acquire)
            .max(self.last_write.load(Ordering::Acquire));
        Some((at(quiet_since, limits.idle), Expired::Idle))
    }
}

impl Default for Activity {
    fn default() -> Self {
        Self::new()
    }
}

/// A running request; dropping it records the request's end.
#[derive(Debug)]
pub struct RequestGuard(Arc<Activity>);

impl Drop for RequestGuard {
    fn drop(&mut self) {
        let a = &self.0;
        a.last_end
            .store(a.now_ms(Instant::now()), Ordering::Release);
        a.running.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A stream that reports its reads and writes to an [`Activity`].
#[derive(Debug)]
pub struct Tracked<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Tracked<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.read(Instant::now());
        }
        result
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tracked<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.wrote(Instant::now());
        }
        result
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.wrote(Instant::now());
        }
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Give an HTTP/2 request the `Host` header that HTTP/1.1 requests carry: HTTP/2 clients send the
/// host as the `:authority` pseudo-header (RFC 9113, 8.3.1), which hyper puts in the URI, and ids and
/// links are built from `Host`. A request that has a `Host` already keeps it.
fn host_from_authority<B>(request: &mut hyper::Request<B>) {
    if request.headers().contains_key(hyper::header::HOST) {
        return;
    }
    let value = request
        .uri()
        .authority()
        .and_then(|a| hyper::header::HeaderValue::from_str(a.as_str()).ok());
    if let Some(value) = value {
        request.headers_mut().insert(hyper::header::HOST, value);
    }
}

/// The HTTP/1.1 + HTTP/2 connection builder Tessera uses. hyper's own HTTP/1 header timer is off: it
/// would also cut idle keep-alive connections at the header timeout; the watchdog does both jobs.
pub fn builder() -> Builder<TokioExecutor> {
    let mut builder = Builder::new(TokioExecutor::new());
    builder.http1().header_read_timeout(None).keep_alive(true);
    // Cleartext HTTP/2 with prior knowledge (what the spec suggests for viewers fetching many tiles
    // at once, and what an HTTP/2 proxy sends): up to 128 requests in flight on one connection,
    // each a request like any other for admission and timeouts.
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(MAX_STREAMS_PER_CONNECTION);
    builder
}

/// Concurrent HTTP/2 streams one connection may open (browsers open up to about 100).
const MAX_STREAMS_PER_CONNECTION: u32 = 128;

/// Serve `stream` from `peer` with `router` until the client closes it, the watchdog cuts it (its reason
/// is returned), or `stop` turns true (then it is shut down gracefully: running requests finish).
pub async fn serve<S>(
    builder: &Builder<TokioExecutor>,
    stream: S,
    peer: SocketAddr,
    router: Router,
    limits: Timeouts,
    mut stop: watch::Receiver<bool>,
) -> Option<Expired>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Tracked {
        inner: stream,
        activity: Arc::clone(&activity),
    });
    let requests = Arc::clone(&activity);
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        host_from_authority(&mut request);
        let guard = requests.request();
        let router = router.clone();
        async move {
            let response = router.oneshot(request).await;
            drop(guard);
            response
        }
    });
    let connection = builder.serve_connection(io, service);
    tokio::pin!(connection);
    let mut stopping = false;
    loop {
        // Sleep until the deadline, or at most one header timeout: a request head that starts
        // meanwhile can only expire later than that.
        let now = Instant::now();
        let recheck = now + limits.header_read;
        let wake = activity
            .deadline(limits)
            .map_or(recheck, |(at, _)| at.min(recheck));
        tokio::select! {
            _ = connection.as_mut() => return None,
            () = tokio::time::sleep_until(wake.into()) => {
                if let Some((at, why)) = activity.deadline(limits) {
                    if at <= Instant::now() {
                        return Some(why);
                    }
                }
            }
            changed = stop.wait_for(|s| *s), if !stopping => {
                let _ = changed;
                stopping = true;
                connection.as_mut().graceful_shutdown();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Timeouts = Timeouts {
        header_read: Duration::from_secs(10),
        idle: Duration::from_secs(60),
    };

    #[test]
    fn an_http2_authority_becomes_the_host_and_an_existing_host_is_kept() {
        let mut h2 = hyper::Request::get("http://img.example.org:8443/iiif/3/a/info.json")
            .body(())
            .unwrap();
        host_from_authority(&mut h2);
        assert_eq!(h2.headers()[hyper::header::HOST], "img.example.org:8443");
        let mut h1 = hyper::Request::get("/iiif/3/a/info.json")
            .header(hyper::header::HOST, "a.org")
            .body(())
            .unwrap();
        host_from_authority(&mut h1);
        assert_eq!(h1.headers()[hyper::header::HOST], "a.org");
        let mut bare = hyper::Request::get("/x").body(()).unwrap();
        host_from_authority(&mut bare);
        assert!(!bare.headers().contains_key(hyper::header::HOST));
    }

    #[test]
    fn a_new_connection_must_send_a_request_within_the_header_timeout() {
        let start = Instant::now();
        let a = Activity::starting_at(start);
        // Bytes alone (a dribbled header) do not extend it.
        a.read(start + Duration::from_secs(9));
        assert_eq!(
            a.deadline(LIMITS),
            Some((start + LIMITS.header_read, Expired::HeaderRead))
        );
    }

    #[test]
    fn no_deadline_while_a_request_runs_then_idle_then_header_again() {
        let start = Instant::now();
        let a = Arc::new(Activity::starting_at(start));
        let guard = a.request();
        assert_eq!(a.deadline(LIMITS), None);
        drop(guard);
        let (at, why) = a.deadline(LIMITS).unwrap();
        assert_eq!(why, Expired::Idle);
        assert!(at >= start + LIMITS.idle);
        // Writing the response body keeps the connection alive.
        a.wrote(start + Duration::from_secs(30));
        let (later, _) = a.deadline(LIMITS).unwrap();
        assert!(later >= start + Duration::from_secs(90));
        // The next request's first bytes start the header clock.
        a.read(start + Duration::from_secs(40));
        assert_eq!(
            a.deadline(LIMITS),
            Some((start + Duration::from_secs(50), Expired::HeaderRead))
        );
        // Its head arrives: no deadline while it runs.
        let _running = a.request();
        assert_eq!(a.deadline(LIMITS), None);
    }

    #[test]
    fn reads_during_a_request_do_not_start_the_header_clock() {
        let start = Instant::now();
        let a = Arc::new(Activity::starting_at(start));
        let guard = a.request();
        a.read(start + Duration::from_secs(1));
        drop(guard);
        assert_eq!(a.deadline(LIMITS).map(|d| d.1), Some(Expired::Idle));
    }
}
