//! Which object answers an identifier, without reading it: its cache group and version. Shared by the
//! image routes, the admin purge endpoint and `tessera cache purge`.

use crate::cache::{group_of, SourceVersion};
use tessera_source::{SourceError, Sources};

/// The cache group and version of the first of `identifier`'s candidates that exists. Blocking: a
/// remote source may be asked for its ETag.
pub fn locate(sources: &Sources, identifier: &str) -> Result<(String, SourceVersion), SourceError> {
    for candidate in sources.candidates(identifier)? {
        match sources.version(&candidate) {
            Ok(v) => return Ok((group_of(&candidate.source, &v.object), (&v).into())),
            Err(SourceError::NotFound) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(SourceError::NotFound)
}

/// [`locate`] without waiting on an origin: `None` when a remote candidate's version is not known
/// fresh, so the caller runs [`locate`] on a blocking thread instead. Local folders answer at once
/// (a `stat`, as cheap as the hop to a blocking thread it saves).
pub fn locate_now(
    sources: &Sources,
    identifier: &str,
) -> Option<Result<(String, SourceVersion), SourceError>> {
    let candidates = match sources.candidates(identifier) {
        Ok(c) => c,
        Err(e) => return Some(Err(e)),
    };
    for candidate in candidates {
        match sources.version_now(&candidate)? {
            Ok(v) => return Some(Ok((group_of(&candidate.source, &v.object), (&v).into()))),
            Err(SourceError::NotFound) => continue,
            Err(e) => return Some(Err(e)),
        }
    }
    Some(Err(SourceError::NotFound))
}

/// The cache group of `identifier`: that of the object that answers it or, when none exists any more,
/// of its rule's first candidate (where its derivatives were filed while it existed).
pub fn group_for(sources: &Sources, identifier: &str) -> Result<String, SourceError> {
    match locate(sources, identifier) {
        Ok((group, _)) => Ok(group),
        Err(SourceError::NotFound) => {
            let candidates = sources.candidates(identifier)?;
            let first = candidates.first().ok_or(SourceError::NotFound)?;
            Ok(group_of(&first.source, &first.key))
        }
        Err(e) => Err(e),
    }
}
