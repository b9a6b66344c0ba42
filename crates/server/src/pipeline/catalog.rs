//! The pipeline's seam to the sources: where an identifier may be, each candidate's version, and
//! its bytes. [`Sources`] is the real one; a test can count or fail what passes through it.

use tessera_source::{Candidate, ObjectVersion, Opened, SourceError, Sources};

/// What the pipeline asks of the configured sources.
pub trait Catalog: Send + Sync + std::fmt::Debug {
    /// Where `identifier` may be, in the order to try (no I/O).
    fn candidates(&self, identifier: &str) -> Result<Vec<Candidate>, SourceError>;
    /// The candidate's version when it can be had without waiting on an origin; `None` when it
    /// cannot (then [`Catalog::version`] is asked, on a blocking thread).
    fn version_now(&self, candidate: &Candidate) -> Option<Result<ObjectVersion, SourceError>>;
    /// The candidate's current version. Blocking.
    fn version(&self, candidate: &Candidate) -> Result<ObjectVersion, SourceError>;
    /// Open the candidate for reading. Blocking.
    fn open(&self, candidate: &Candidate) -> Result<Opened, SourceError>;
}

impl Catalog for Sources {
    fn candidates(&self, identifier: &str) -> Result<Vec<Candidate>, SourceError> {
        Sources::candidates(self, identifier)
    }

    fn version_now(&self, candidate: &Candidate) -> Option<Result<ObjectVersion, SourceError>> {
        Sources::version_now(self, candidate)
    }

    fn version(&self, candidate: &Candidate) -> Result<ObjectVersion, SourceError> {
        Sources::version(self, candidate)
    }

    fn open(&self, candidate: &Candidate) -> Result<Opened, SourceError> {
        Sources::open(self, candidate)
    }
}
