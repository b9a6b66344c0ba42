//! Opening an image by identifier: the rule's candidates in order, falling back to the next when one is
//! missing or cannot be decoded; which source answered goes to the log and the metrics. Shared by the
//! image routes and `tessera check`, so both see an identifier the same way.

use crate::reader_pool::Pooled;
use crate::state::AppState;
use tessera_image::{ImageError, ImageReader};
use tessera_source::SourceError;

/// What can go wrong while opening and using an image, for [`with_image`]: any source or image error,
/// and whether it means the candidate could not be decoded (so the next alternate is tried).
pub trait OpenError: From<SourceError> + From<ImageError> {
    /// A broken or unsupported image, as opposed to a bad request or a failing origin.
    fn undecodable(&self) -> bool;
    /// The error in one line, for the log.
    fn message(&self) -> &str;
}

/// Open `identifier` and run `work` on its reader, trying alternates as the rule says. Blocking: call it
/// inside a blocking task. Missing or undecodable candidates pass to the next; origin failures
/// (timeouts, 5xx) and request errors (4xx) are answered at once.
pub fn with_image<T, E: OpenError>(
    state: &AppState,
    identifier: &str,
    mut work: impl FnMut(&mut dyn ImageReader) -> Result<T, E>,
) -> Result<T, E> {
    let candidates = state.sources.candidates(identifier)?;
    let mut last: E = SourceError::NotFound.into();
    for (alternate, candidate) in candidates.iter().enumerate() {
        // A reader kept open for this very version of the object, else the object opened anew.
        let mut tag = match state.sources.version_now(candidate) {
            Some(Ok(v)) => Some(v.tag),
            _ => None,
        };
        let (opened, failure, kind) = match tag.as_deref().and_then(|t| state.readers.take(t)) {
            Some(pooled) => (Ok(pooled.reader), pooled.failure, pooled.kind),
            None => {
                let opened = match state.sources.open(candidate) {
                    Ok(opened) => opened,
                    Err(SourceError::NotFound) | Err(SourceError::Ambiguous(_)) => continue,
                    Err(e) => return Err(e.into()),
                };
                // A folder file is kept under the version of what was really opened (its own fstat).
                if let Some(v) = &opened.version {
                    tag = Some(v.tag.clone());
                }
                let reader = tessera_image::open(opened.data, &state.read_limits);
                (reader.map_err(E::from), opened.failure, opened.kind)
            }
        };
        let result = opened.and_then(|mut reader| {
            let value = work(reader.as_mut())?;
            Ok((value, reader))
        });
        if let Some(failure) = failure.take() {
            return Err(failure.into());
        }
        match result {
            Ok((value, reader)) => {
                if let Some(tag) = tag {
                    state.readers.give(
                        tag,
                        Pooled {
                            reader,
                            failure,
                            kind,
                        },
                    );
                }
                tracing::info!(
                    identifier,
                    source = %candidate.source,
                    kind = %kind,
                    key = %candidate.key,
                    alternate,
                    "image answered"
                );
                state.metrics.answered(&candidate.source, alternate);
                return Ok(value);
            }
            Err(e) if e.undecodable() => {
                tracing::warn!(
                    identifier,
                    source = %candidate.source,
                    key = %candidate.key,
                    error = %e.message(),
                    "cannot decode; trying the next alternate if any"
                );
                last = e;
            }
            Err(e) => return Err(e),
        }
    }
    Err(last)
}
