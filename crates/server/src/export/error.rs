//! Why one image was not exported.

use crate::pipeline::PipelineError;
use std::path::PathBuf;

/// Why one image was not exported.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The identifier cannot name a folder under OUT (empty, absolute, `.` or `..` segments).
    #[error("the identifier cannot be a folder name under OUT: {0:?}")]
    Identifier(String),
    /// Locating, opening or decoding the image failed.
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    /// Writing the tree failed.
    #[error("writing {path}: {source}")]
    Write {
        /// What was being written.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

impl ExportError {
    /// A short, stable category for the summary.
    pub fn cause(&self) -> String {
        match self {
            Self::Identifier(_) => "invalid identifier".into(),
            Self::Pipeline(e) => crate::check::cause(e),
            Self::Write { .. } => "write".into(),
        }
    }
}
