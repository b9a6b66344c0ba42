//! Errors of reading, transforming and encoding images.

/// What can go wrong with pixels. Each variant maps to one HTTP status in the server.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// The bytes are not in any format Tessera reads.
    #[error("unsupported or unrecognised image format")]
    UnknownFormat,
    /// A format Tessera recognises but a feature of this file it cannot read (e.g. a TIFF compression).
    #[error("unsupported image feature: {0}")]
    Unsupported(String),
    /// The file is broken: truncated, corrupt, or lying about its size.
    #[error("broken image: {0}")]
    Corrupt(String),
    /// Decoding would need more pixels or memory than the configured limits allow.
    #[error("image too large: {0}")]
    TooLarge(String),
    /// This request would decode more pixels than the per-read limit allows, though the image itself
    /// is fine: a smaller region or size (or a pyramid level) can be served.
    #[error("request too large: {0}")]
    OverBudget(String),
    /// Reading the source failed.
    #[error("reading source: {0}")]
    Io(#[from] std::io::Error),
    /// The work was abandoned before it finished: its request timed out or every client waiting
    /// for it went away ([`crate::cancel`]).
    #[error("the work was abandoned: its time was up or its clients went away")]
    Cancelled,
    /// Encoding the output failed.
    #[error("encoding {format}: {message}")]
    Encode {
        /// Output format name.
        format: &'static str,
        /// What the encoder said.
        message: String,
    },
}
