//! `/admin/*`: operator actions behind a bearer token. Off (404) unless `admin.token` is set.

use super::error::ApiError;
use crate::pipeline::located::group_for;
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use std::sync::Arc;

/// The query of `POST /admin/cache/purge`.
#[derive(Debug, Deserialize)]
pub struct PurgeQuery {
    /// Purge only this identifier's derivatives.
    pub identifier: Option<String>,
}

/// `POST /admin/cache/purge[?identifier=ID]` with `Authorization: Bearer <token>`: drop cached
/// derivatives (disk and memory) and image info, of one identifier or all. Answers what was removed.
pub async fn purge(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(query): Query<PurgeQuery>,
) -> Result<Response, ApiError> {
    authorize(&state, &headers)?;
    let group = match &query.identifier {
        Some(id) => {
            let (st, id) = (Arc::clone(&state), id.clone());
            let group = tokio::task::spawn_blocking(move || group_for(st.pipeline.catalog(), &id))
                .await
                .map_err(|_| {
                    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "purge lookup failed")
                })??;
            Some(group)
        }
        None => None,
    };
    let purged = state.pipeline.caches().purge(group.as_deref()).await;
    state.metrics.purged(purged.files);
    tracing::info!(identifier = ?query.identifier, files = purged.files, bytes = purged.bytes, "cache purged");
    let body = serde_json::json!({
        "identifier": query.identifier,
        "purged_files": purged.files,
        "purged_bytes": purged.bytes,
    });
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response())
}

fn authorize(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(token) = &state.admin_token else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "admin endpoints are off (set admin.token)",
        ));
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if constant_time_eq(given.as_bytes(), token.as_bytes()) {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "a valid admin token is required",
        ))
    }
}

/// Compare without revealing, by timing, how much of a guess was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    #[test]
    fn compares_tokens() {
        assert!(super::constant_time_eq(b"abc", b"abc"));
        assert!(!super::constant_time_eq(b"abc", b"abd"));
        assert!(!super::constant_time_eq(b"abc", b"abcd"));
    }
}
