//! The pipeline's seam to the sources: where an identifier may be, each candidate's version, and
//! its bytes. [`Sources`] is the real one; a test can count or fail what passes through it.

use tessera_source::{
    Candidate, ObjectVersion, Opened, Sidecar, SidecarError, SourceError, Sources,
};

/// What the pipeline asks of the configured sources.
pub trait Catalog: Send + Sync + std::fmt::Debug {
    /// Where `identifier` may be, in the order to try (no I/O).
    fn candidates(&self, identifier: &str) -> Result<Vec<Candidate>, SourceError>;
    /// The candidate's version when it can be had without waiting on an origin; `None` when it
    /// cannot (then [`Catalog::version`] is asked, on a blocking thread).
    fn version_now(&self, candidate: &Candidate) -> Option<Result<ObjectVersion, SourceError>>;
    /// Whether the candidate is a file in a local folder: reading a little of it never waits on an
    /// origin.
    fn is_local(&self, _candidate: &Candidate) -> bool {
        false
    }
    /// The candidate's current version. Blocking.
    fn version(&self, candidate: &Candidate) -> Result<ObjectVersion, SourceError>;
    /// Open the candidate for reading. Blocking.
    fn open(&self, candidate: &Candidate) -> Result<Opened, SourceError>;
    /// The `info.json` additions template of the rule serving `identifier`, expanded (no I/O).
    fn info_template(&self, _identifier: &str) -> Option<serde_json::Value> {
        None
    }
    /// The sidecar of `object` (its name in `candidate`'s source), if it has one. Blocking: one open.
    fn sidecar(
        &self,
        _candidate: &Candidate,
        _object: &str,
    ) -> Result<Option<Sidecar>, SidecarError> {
        Ok(None)
    }
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

    fn is_local(&self, candidate: &Candidate) -> bool {
        Sources::is_local(self, candidate)
    }

    fn open(&self, candidate: &Candidate) -> Result<Opened, SourceError> {
        Sources::open(self, candidate)
    }

    fn info_template(&self, identifier: &str) -> Option<serde_json::Value> {
        Sources::info_template(self, identifier)
    }

    fn sidecar(
        &self,
        candidate: &Candidate,
        object: &str,
    ) -> Result<Option<Sidecar>, SidecarError> {
        Sources::sidecar(self, candidate, object)
    }
}
