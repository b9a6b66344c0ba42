//! An identifier resolved once per request: which of its rule's candidates exist, the object that
//! answers, its cache group and its version. Everything after this step takes a [`Located`], never
//! the identifier string again. Also used by the admin purge endpoint and `tessera cache purge`.

use super::catalog::Catalog;
use crate::cache::{group_of, hash_u64, SourceVersion};
use tessera_source::{Candidate, ObjectVersion, SourceError};

/// One candidate object of an identifier and the version it was found at (asked once).
#[derive(Debug, Clone)]
pub struct Object {
    /// Where it is.
    pub candidate: Candidate,
    /// Its version, or why it has none (an alternate may be missing).
    pub version: Result<ObjectVersion, SourceError>,
    /// Its place in the rule's candidates: 0 for the primary, then the alternates.
    pub alternate: usize,
}

/// An identifier and the objects that may answer it, the first of which exists.
#[derive(Debug, Clone)]
pub struct Located {
    /// The identifier, as requested (for the log).
    pub identifier: String,
    /// The first candidate that exists, then every later one (the alternates), in the rule's order.
    pub objects: Vec<Object>,
    /// The cache group of the object that answers (its derivatives are purged together).
    pub group: String,
    /// Its version, with the alternates' folded in: what derivative keys and ETags are made of.
    pub version: SourceVersion,
}

/// Locate `identifier` without waiting on an origin: `None` when a remote candidate's version is
/// not known fresh, so the caller runs [`locate`] on a blocking thread instead. Local folders answer
/// at once (a `stat`, as cheap as the hop to a blocking thread it saves).
pub fn locate_now(catalog: &dyn Catalog, identifier: &str) -> Option<Result<Located, SourceError>> {
    locate_with(catalog, identifier, |c| catalog.version_now(c))
}

/// Locate `identifier`, asking each candidate for its version once. Blocking.
pub fn locate(catalog: &dyn Catalog, identifier: &str) -> Result<Located, SourceError> {
    locate_with(catalog, identifier, |c| Some(catalog.version(c)))
        .unwrap_or(Err(SourceError::NotFound))
}

/// The candidates are asked in order until one exists; then each later one (the alternates) once,
/// since an alternate answers when the first object cannot be decoded and a change to it must change
/// the cache key and ETag too. `None` as soon as `lookup` cannot answer without waiting.
fn locate_with(
    catalog: &dyn Catalog,
    identifier: &str,
    lookup: impl Fn(&Candidate) -> Option<Result<ObjectVersion, SourceError>>,
) -> Option<Result<Located, SourceError>> {
    let candidates = match catalog.candidates(identifier) {
        Ok(c) => c,
        Err(e) => return Some(Err(e)),
    };
    let mut objects: Vec<Object> = Vec::with_capacity(candidates.len());
    for (alternate, candidate) in candidates.into_iter().enumerate() {
        let version = lookup(&candidate)?;
        if objects.is_empty() {
            match &version {
                Ok(_) => {}
                Err(SourceError::NotFound) => continue,
                Err(e) => return Some(Err(e.clone())),
            }
        }
        objects.push(Object {
            candidate,
            version,
            alternate,
        });
    }
    let Some((first, rest)) = objects.split_first() else {
        return Some(Err(SourceError::NotFound));
    };
    let Ok(v) = &first.version else {
        return Some(Err(SourceError::NotFound));
    };
    let group = group_of(&first.candidate.source, &v.object);
    let version = with_alternates(v.into(), rest);
    Some(Ok(Located {
        identifier: identifier.to_string(),
        objects,
        group,
        version,
    }))
}

/// `first` with the versions of the alternates after it folded into its tag (and the latest
/// modification time), so that replacing, adding or removing an alternate makes a new version. An
/// alternate whose version could not be had counts as changed, which costs a cache miss, never a
/// stale answer.
fn with_alternates(first: SourceVersion, alternates: &[Object]) -> SourceVersion {
    if alternates.is_empty() {
        return first;
    }
    let mut text = first.tag.to_string();
    let mut mtime_ns = first.mtime_ns;
    for (i, alternate) in alternates.iter().enumerate() {
        match &alternate.version {
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
/// of its rule's first candidate (where its derivatives were filed while it existed). Blocking.
pub fn group_for(catalog: &dyn Catalog, identifier: &str) -> Result<String, SourceError> {
    match locate(catalog, identifier) {
        Ok(located) => Ok(located.group),
        Err(SourceError::NotFound) => {
            let candidates = catalog.candidates(identifier)?;
            let first = candidates.first().ok_or(SourceError::NotFound)?;
            Ok(group_of(&first.source, &first.key))
        }
        Err(e) => Err(e),
    }
}
