//! What sources report while they work, for metrics: bytes read by kind, and which source answered.

use std::fmt;

/// The kinds of source, as labelled in metrics (`folder`, `s3`, `http`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SourceKind {
    /// A folder on local disk.
    Folder,
    /// An S3 bucket (AWS or S3-compatible).
    S3,
    /// An HTTP(S) origin.
    Http,
}

impl SourceKind {
    /// The metric label value.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Folder => "folder",
            SourceKind::S3 => "s3",
            SourceKind::Http => "http",
        }
    }
}

impl fmt::Display for SourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Receives source events; the server implements it with Prometheus counters.
pub trait SourceObserver: Send + Sync + fmt::Debug {
    /// `bytes` were read from an origin (or a local folder) of `kind`; source-cache hits are not counted.
    fn bytes_read(&self, kind: SourceKind, bytes: u64);
}

/// An observer that ignores everything (tests, tools).
#[derive(Debug, Default)]
pub struct NoObserver;

impl SourceObserver for NoObserver {
    fn bytes_read(&self, _kind: SourceKind, _bytes: u64) {}
}
