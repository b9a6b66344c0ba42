//! The HTTP face: routes, CORS, URL limits.

mod accept;
mod admin;
mod base_url;
mod conditional;
mod connection;
mod error;
mod forwarded;
mod health;
mod iiif;
mod negotiate;
mod observe;
pub mod trusted_proxies;
mod viewer;

pub use accept::{serve, ConnectionLimits};
pub use connection::Timeouts;
pub use error::ApiError;
pub use trusted_proxies::TrustedProxies;
pub use viewer::ViewerState;

use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use std::sync::Arc;

/// The whole application.
pub fn router(state: Arc<AppState>) -> Router {
    let pages = match state.viewer {
        Some(_) => viewer::routes(),
        None => Router::new().route("/", get(index)),
    };
    // The IIIF services are the fallback: every named route wins over an identifier at a root mount.
    Router::new()
        .merge(pages)
        .route("/health/live", get(health::live))
        .route("/health/ready", get(health::ready))
        .route("/metrics", get(health::metrics))
        .route("/admin/cache/purge", post(admin::purge))
        .fallback(iiif::mounted)
        .layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            limit_url,
        ))
        .layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            forwarded::forwarded,
        ))
        .layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            observe::observe,
        ))
        .layer(middleware::map_response(shared_headers))
        .with_state(state)
}

/// Refuse overlong URLs before any work.
async fn limit_url(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let len = request
        .uri()
        .path_and_query()
        .map_or(0, |p| p.as_str().len());
    if len > state.max_url_bytes {
        return ApiError::new(
            StatusCode::URI_TOO_LONG,
            format!("the URL is longer than {} bytes", state.max_url_bytes),
        )
        .into_response();
    }
    next.run(request).await
}

/// On every response, errors included: CORS, and `nosniff` so that no browser reads an error body that
/// echoes the request (`text/plain`) as HTML.
async fn shared_headers(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("Link, Content-Type, Content-Length, ETag, Retry-After"),
    );
    response
}

/// `OPTIONS`: a CORS preflight answer.
pub(crate) async fn preflight(headers: HeaderMap) -> Response {
    let allow_headers = headers
        .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
        .cloned()
        .unwrap_or_else(|| HeaderValue::from_static("*"));
    (
        StatusCode::NO_CONTENT,
        [
            (
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static("GET, HEAD, OPTIONS"),
            ),
            (header::ACCESS_CONTROL_ALLOW_HEADERS, allow_headers),
            (
                header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from_static("86400"),
            ),
            (
                header::ALLOW,
                HeaderValue::from_static("GET, HEAD, OPTIONS"),
            ),
        ],
    )
        .into_response()
}

/// `/` when the viewer is off: where to start.
async fn index(State(state): State<Arc<AppState>>) -> String {
    let m = &state.mounts;
    format!(
        "Tessera IIIF Image API server.\nImage API 3.0: {}/{{identifier}}/info.json\nImage API 2.1: {}/{{identifier}}/info.json\n",
        m.prefix(tessera_iiif::ApiVersion::V3),
        m.prefix(tessera_iiif::ApiVersion::V2)
    )
}

/// A path that no route and no IIIF mount takes.
pub(crate) fn not_found(mounts: &tessera_iiif::Mounts) -> ApiError {
    let at = |v| match mounts.prefix(v) {
        "" => "/".to_string(),
        p => format!("{p}/"),
    };
    ApiError::new(
        StatusCode::NOT_FOUND,
        format!(
            "nothing here; the IIIF services live under {} (2.1) and {} (3.0)",
            at(tessera_iiif::ApiVersion::V2),
            at(tessera_iiif::ApiVersion::V3)
        ),
    )
}
