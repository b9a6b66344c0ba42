//! `/health/live` (the process answers) and `/health/ready` (it takes work: started, not draining),
//! and `/metrics`.

use super::error::ApiError;
use crate::metrics::CONTENT_TYPE;
use crate::state::AppState;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// `GET /health/live`
pub async fn live() -> &'static str {
    "live\n"
}

/// `GET /health/ready`: 200, or 503 while starting or draining.
pub async fn ready(State(state): State<Arc<AppState>>) -> Response {
    if state.health.ready() {
        "ready\n".into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready\n").into_response()
    }
}

/// `GET /metrics`: Prometheus text format.
pub async fn metrics(State(state): State<Arc<AppState>>) -> Result<Response, ApiError> {
    let text = state
        .metrics
        .render(state.pipeline.caches().usage())
        .map_err(|_| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the metrics could not be rendered",
            )
        })?;
    Ok(([(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response())
}
