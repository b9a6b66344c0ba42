//! Opening an image by identifier: the rule's candidates in order, falling back to the next when one is
//! missing or cannot be decoded; which source answered goes to the log and the metrics.

use super::error::ApiError;
use crate::state::AppState;
use axum::http::StatusCode;
use tessera_image::ImageReader;
use tessera_source::SourceError;

/// Open `identifier` and run `work` on its reader, trying alternates as the rule says. Blocking: call it
/// inside a blocking task. Missing or undecodable candidates pass to the next; origin failures
/// (timeouts, 5xx) and request errors (4xx) are answered at once.
pub fn with_image<T>(
    state: &AppState,
    identifier: &str,
    mut work: impl FnMut(&mut dyn ImageReader) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    let candidates = state.sources.candidates(identifier)?;
    let mut last: ApiError = SourceError::NotFound.into();
    for (alternate, candidate) in candidates.iter().enumerate() {
        let opened = match state.sources.open(candidate) {
            Ok(opened) => opened,
            Err(SourceError::NotFound) | Err(SourceError::Ambiguous(_)) => continue,
            Err(e) => return Err(e.into()),
        };
        let result = tessera_image::open(opened.data, &state.read_limits)
            .map_err(ApiError::from)
            .and_then(|mut reader| work(reader.as_mut()));
        if let Some(failure) = opened.failure.take() {
            return Err(failure.into());
        }
        match result {
            Ok(value) => {
                tracing::info!(
                    identifier,
                    source = %candidate.source,
                    kind = %opened.kind,
                    key = %candidate.key,
                    alternate,
                    "image answered"
                );
                state.metrics.answered(&candidate.source, alternate);
                return Ok(value);
            }
            Err(e) if undecodable(&e) => {
                tracing::warn!(
                    identifier,
                    source = %candidate.source,
                    key = %candidate.key,
                    error = %e.message,
                    "cannot decode; trying the next alternate if any"
                );
                last = e;
            }
            Err(e) => return Err(e),
        }
    }
    Err(last)
}

/// A decoding failure (broken or unsupported image), as opposed to a bad request.
fn undecodable(e: &ApiError) -> bool {
    matches!(
        e.status,
        StatusCode::INTERNAL_SERVER_ERROR | StatusCode::NOT_IMPLEMENTED
    )
}
