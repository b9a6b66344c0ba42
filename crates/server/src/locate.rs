//! Which object answers an identifier, without reading it: its cache group and version. Shared by the
//! image routes, the admin purge endpoint and `tessera cache purge`.

use crate::cache::{group_of, hash_u64, SourceVersion};
use tessera_source::{ObjectVersion, SourceError, Sources};

/// The cache group and version of the first of `identifier`'s candidates that exists. Blocking: a
/// remote source may be asked for its ETag.
///
/// The version also covers the later candidates (the alternates) that exist: when the first object
/// cannot be decoded an alternate answers, so a change to it must change the cache key and ETag too.
pub fn locate(sources: &Sources, identifier: &str) -> Result<(String, SourceVersion), SourceError> {
    let candidates = sources.candidates(identifier)?;
    for (i, candidate) in candidates.iter().enumerate() {
        match sources.version(candidate) {
            Ok(v) => {
                let alternates = candidates[i + 1..]
                    .iter()
                    .map(|c| sources.version(c))
                    .collect::<Vec<_>>();
                let version = with_alternates((&v).into(), &alternates);
                return Ok((group_of(&candidate.source, &v.object), version));
            }
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
    for (i, candidate) in candidates.iter().enumerate() {
        match sources.version_now(candidate)? {
            Ok(v) => {
                let alternates = candidates[i + 1..]
                    .iter()
                    .map(|c| sources.version_now(c))
                    .collect::<Option<Vec<_>>>()?;
                let version = with_alternates((&v).into(), &alternates);
                return Some(Ok((group_of(&candidate.source, &v.object), version)));
            }
            Err(SourceError::NotFound) => continue,
            Err(e) => return Some(Err(e)),
        }
    }
    Some(Err(SourceError::NotFound))
}

/// `first` with the versions of the alternates after it folded into its tag (and the latest
/// modification time), so that replacing, adding or removing an alternate makes a new version. An
/// alternate whose version could not be had counts as changed, which costs a cache miss, never a
/// stale answer.
fn with_alternates(
    first: SourceVersion,
    alternates: &[Result<ObjectVersion, SourceError>],
) -> SourceVersion {
    if alternates.is_empty() {
        return first;
    }
    let mut text = first.tag.to_string();
    let mut mtime_ns = first.mtime_ns;
    for (i, alternate) in alternates.iter().enumerate() {
        match alternate {
            Ok(v) => {
                text.push_str(&format!("\n{i}:{}:{}:{}", v.modified_ns, v.size, v.tag));
                mtime_ns = mtime_ns.max(v.modified_ns);
            }
            Err(SourceError::NotFound) => text.push_str(&format!("\n{i}:absent")),
            Err(e) => text.push_str(&format!("\n{i}:unknown:{e}")),
        }
    }
    SourceVersion {
        mtime_ns,
        size: first.size,
        tag: hash_u64(text.as_bytes()),
    }
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
