//! Why a source could not give the bytes of an image; the server maps each variant to one status.

use crate::ResolveError;

/// A failure to locate or read a source object.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SourceError {
    /// The identifier can never name an object (400).
    #[error("invalid identifier: {0}")]
    Invalid(String),
    /// No rule matches, or the object does not exist (404).
    #[error("no image with this identifier")]
    NotFound,
    /// Several files match an identifier given without extension (404).
    #[error("ambiguous identifier: it matches {0}")]
    Ambiguous(String),
    /// The origin did not answer in time, even after retries (504).
    #[error("the image origin did not answer in time: {0}")]
    Timeout(String),
    /// The origin answered with an error, even after retries (502).
    #[error("the image origin failed: {0}")]
    Upstream(String),
    /// The local disk (a folder source or the source cache) failed (500).
    #[error("local storage error: {0}")]
    Local(String),
}

impl From<ResolveError> for SourceError {
    fn from(e: ResolveError) -> Self {
        match e {
            ResolveError::Invalid(m) => SourceError::Invalid(m),
            ResolveError::NotFound => SourceError::NotFound,
            ResolveError::Ambiguous(m) => SourceError::Ambiguous(m),
            ResolveError::Io(e) => SourceError::Local(e.to_string()),
        }
    }
}

impl From<object_store::Error> for SourceError {
    fn from(e: object_store::Error) -> Self {
        if let object_store::Error::NotFound { .. } = e {
            return SourceError::NotFound;
        }
        let message = e.to_string();
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&e);
        while let Some(c) = cause {
            if let Some(http) = c.downcast_ref::<object_store::client::HttpError>() {
                if matches!(http.kind(), object_store::client::HttpErrorKind::Timeout) {
                    return SourceError::Timeout(message);
                }
            }
            cause = c.source();
        }
        SourceError::Upstream(message)
    }
}
