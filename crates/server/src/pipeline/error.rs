//! What can go wrong between an identifier and its bytes, as a domain type: HTTP statuses are
//! chosen from it only at the HTTP edge (`http/error.rs`), `tessera check` names causes from it.

use super::admission::Refused;
use std::sync::Arc;
use tessera_iiif::RequestError;
use tessera_image::ImageError;
use tessera_source::SourceError;

/// A failure of the pipeline.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PipelineError {
    /// Finding or reading the object failed (not found, bad identifier, origin or local I/O).
    #[error(transparent)]
    Source(#[from] SourceError),
    /// The image could not be decoded, or this read of it is not allowed.
    #[error(transparent)]
    Image(Arc<ImageError>),
    /// The request cannot be planned against this image.
    #[error(transparent)]
    Request(#[from] RequestError),
    /// Admission turned the render away (overload).
    #[error(transparent)]
    Refused(#[from] Refused),
    /// The image's `info.json` additions (its sidecar or its rule's template) are invalid.
    #[error("invalid info.json metadata: {0}")]
    Metadata(String),
    /// The work died (a panic in a codec, an aborted task).
    #[error("the image could not be processed ({0})")]
    Failed(&'static str),
    /// A quick render needed bytes that were not in the page cache (`tessera_source::no_wait`):
    /// it is done again where reads may wait, so this never reaches a client.
    #[error("the image's bytes were not in memory")]
    NotInMemory,
}

impl From<ImageError> for PipelineError {
    fn from(e: ImageError) -> Self {
        Self::Image(Arc::new(e))
    }
}

impl PipelineError {
    /// The object at hand cannot give this answer, though another copy of the image might: the rule
    /// that moves on to the next alternate, in `serve` and `check` alike. True for every image
    /// error but a cancelled render and an encoder refusal (about the output, not the object), and
    /// for a local object that cannot be read. Not for a missing object (which is skipped before),
    /// a failing origin (answered at once, so an outage is seen as one), a bad request or overload.
    pub fn is_undecodable(&self) -> bool {
        match self {
            Self::Image(e) => !matches!(**e, ImageError::Cancelled | ImageError::Encode { .. }),
            Self::Source(SourceError::Local(_)) => true,
            Self::Source(_)
            | Self::Request(_)
            | Self::Refused(_)
            | Self::Metadata(_)
            | Self::Failed(_)
            | Self::NotInMemory => false,
        }
    }
}
