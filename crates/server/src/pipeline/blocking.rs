//! Where decoding work runs: off the async threads, with a panic in a codec contained as a failed
//! image, never a dead server or checker. The one place panics are caught.

use super::error::PipelineError;

/// Run `work`, turning a panic into [`PipelineError::Failed`].
pub fn contained<T>(work: impl FnOnce() -> Result<T, PipelineError>) -> Result<T, PipelineError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(work))
        .unwrap_or(Err(PipelineError::Failed("decoder failure")))
}

/// Run `work` on a blocking thread of the runtime, [`contained`].
pub async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, PipelineError> + Send + 'static,
) -> Result<T, PipelineError> {
    tokio::task::spawn_blocking(move || contained(work))
        .await
        .unwrap_or(Err(PipelineError::Failed("worker failure")))
}
