//! The accept loop: at most `server.max_connections` client connections at once (one more is answered
//! `503` and closed at once, never queued), each served by [`connection::serve`], and a graceful stop.

use super::connection::{self, Timeouts};
use crate::metrics::Metrics;
use axum::Router;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};

/// What a refused connection is told (best effort: written only if the socket takes it at once).
const REFUSAL: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n\
X-Content-Type-Options: nosniff\r\nRetry-After: 2\r\nContent-Length: 30\r\nConnection: close\r\n\r\n\
503: too many connections now\n";

/// How connections are limited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Most connections open at once.
    pub max_connections: usize,
    /// Per-connection time limits.
    pub timeouts: Timeouts,
}

/// Accept and serve connections on `listener` until `stop` turns true; then stop accepting, let every
/// connection finish its running requests (idle ones close at once) and return when all are closed or
/// `grace` has passed, whichever is first. Returns whether every connection closed in time.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    metrics: Arc<Metrics>,
    stop: watch::Receiver<bool>,
    grace: Duration,
) -> bool {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let builder = Arc::new(connection::builder());
    let mut stopped = stop.clone();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stopped.wait_for(|s| *s) => break,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                // Out of file descriptors or a connection reset before accept: back off briefly
                // instead of spinning.
                tracing::warn!(error = %e, "accepting a connection failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            metrics.connection_refused();
            let _ = stream.try_write(REFUSAL);
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let (builder, router, metrics, stop) = (
            Arc::clone(&builder),
            router.clone(),
            Arc::clone(&metrics),
            stop.clone(),
        );
        metrics.connections_open(1);
        tokio::spawn(async move {
            let expired =
                connection::serve(&builder, stream, peer, router, limits.timeouts, stop).await;
            if let Some(why) = expired {
                metrics.connection_expired(why.label());
            }
            metrics.connections_open(-1);
            drop(slot);
        });
    }
    drop(listener);
    let permits = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    let all_closed = tokio::time::timeout(grace, slots.acquire_many(permits)).await;
    matches!(all_closed, Ok(Ok(_)))
}

#[cfg(test)]
mod tests {
    use super::REFUSAL;

    #[test]
    fn the_refusal_is_a_complete_response() {
        let text = std::str::from_utf8(REFUSAL).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 503 "));
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(length, body.len());
    }
}
