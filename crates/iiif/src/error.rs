//! Why a request cannot be answered, as the IIIF spec classifies it.

/// A request the server refuses. Each variant maps to one HTTP status.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RequestError {
    /// The URL does not follow the grammar (400).
    #[error("invalid {part}: {message}")]
    Syntax {
        /// Which segment: `region`, `size`, `rotation`, `quality` or `format`.
        part: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// Well formed, but impossible for this image: an empty region, a region outside the image,
    /// a size under one pixel or over the limits (400).
    #[error("{0}")]
    OutOfBounds(String),
    /// A valid request this server does not do (501).
    #[error("not implemented: {0}")]
    NotImplemented(String),
}

impl RequestError {
    /// A syntax error in `part`.
    pub fn syntax(part: &'static str, message: impl Into<String>) -> Self {
        RequestError::Syntax {
            part,
            message: message.into(),
        }
    }

    /// A request outside what this image allows.
    pub fn bounds(message: impl Into<String>) -> Self {
        RequestError::OutOfBounds(message.into())
    }
}
