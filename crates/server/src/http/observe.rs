//! Around every request: the time limit, Prometheus request metrics and the access log line.

use super::error::{ApiError, RETRY_AFTER_SECS};
use crate::metrics::Metrics;
use crate::state::AppState;
use axum::body::HttpBody;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use std::time::Instant;
use tessera_iiif::Mounts;

/// How a response was produced, as far as caching goes (logged and counted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Served from a cache.
    Hit,
    /// Computed by this request.
    Miss,
    /// Computed by an identical concurrent request this one waited for.
    Coalesced,
    /// Answered 304 Not Modified without touching the pixels.
    Revalidated,
}

impl Outcome {
    fn label(self) -> &'static str {
        match self {
            Outcome::Hit => "hit",
            Outcome::Miss => "miss",
            Outcome::Coalesced => "coalesced",
            Outcome::Revalidated => "revalidated",
        }
    }
}

/// Counts a request as in flight for as long as it lives.
struct InFlight(Arc<Metrics>);

impl InFlight {
    fn new(metrics: &Arc<Metrics>) -> Self {
        metrics.in_flight(1);
        Self(Arc::clone(metrics))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight(-1);
    }
}

/// The route label of a path: Tessera's own routes first (they win over a root mount), then the
/// IIIF mounts.
fn route_of(mounts: &Mounts, path: &str) -> &'static str {
    match path {
        "/metrics" => return "metrics",
        p if p.starts_with("/health/") => return "health",
        p if p.starts_with("/admin/") => return "admin",
        "/" | "/viewer" => return "viewer",
        p if p.starts_with("/viewer/") || p.starts_with("/viewer-assets/") => return "viewer",
        _ => {}
    }
    let Some((_, rest)) = mounts.split(path) else {
        return "other";
    };
    if rest.ends_with("/info.json") {
        return "info";
    }
    // identifier/region/size/rotation/quality.format
    if rest.split('/').count() >= 5 {
        "image"
    } else {
        "iiif_other"
    }
}

/// Middleware: time limit, metrics, access log.
pub async fn observe(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let _in_flight = InFlight::new(&state.metrics);
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let response =
        match tokio::time::timeout(state.pipeline.request_timeout(), next.run(request)).await {
            Ok(response) => response,
            Err(_) => {
                state.metrics.rejected("timeout");
                ApiError::unavailable(
                    format!(
                        "the request took longer than {:.1} s",
                        state.pipeline.request_timeout().as_secs_f64()
                    ),
                    RETRY_AFTER_SECS,
                )
                .into_response()
            }
        };
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    let route = route_of(&state.mounts, &path);
    state.metrics.request(route, status, elapsed);
    let cache = response
        .extensions()
        .get::<Outcome>()
        .map_or("bypass", |o| o.label());
    let bytes = response.body().size_hint().exact().unwrap_or(0);
    tracing::info!(
        target: "tessera::access",
        method = %method,
        path = %path,
        route,
        status,
        latency_ms = (elapsed.as_secs_f64() * 1e6).round() / 1e3,
        cache,
        bytes,
        "request"
    );
    response
}

#[cfg(test)]
mod tests {
    use super::route_of;
    use tessera_iiif::Mounts;

    #[test]
    fn routes() {
        let m = Mounts::default();
        let route_of = |p| route_of(&m, p);
        assert_eq!(route_of("/iiif/3/a/info.json"), "info");
        assert_eq!(route_of("/iiif/3/a/full/max/0/default.jpg"), "image");
        assert_eq!(route_of("/iiif/3/a%2Fb/full/max/0/default.jpg"), "image");
        assert_eq!(route_of("/iiif/3/a"), "iiif_other");
        assert_eq!(route_of("/health/ready"), "health");
        assert_eq!(route_of("/metrics"), "metrics");
        assert_eq!(route_of("/"), "viewer");
        assert_eq!(route_of("/viewer/a%2Fb"), "viewer");
        assert_eq!(route_of("/viewer-assets/0123/viewer.js"), "viewer");
        assert_eq!(route_of("/favicon.ico"), "other");
    }

    #[test]
    fn routes_with_2_1_at_the_root() {
        let m = Mounts::new("/", "/iiif/3").unwrap();
        let route_of = |p| route_of(&m, p);
        assert_eq!(route_of("/lax:1/a.tif/full/,1000/0/default.jpg"), "image");
        assert_eq!(route_of("/lax:1/a.tif/info.json"), "info");
        assert_eq!(route_of("/iiif/3/a/info.json"), "info");
        assert_eq!(route_of("/favicon.ico"), "iiif_other");
        assert_eq!(route_of("/health/live"), "health");
        assert_eq!(route_of("/"), "viewer");
    }
}
