//! A remote source (S3 or HTTP): object versions known by ETag / Last-Modified and revalidated after a
//! while, tiled formats read by ranges, other formats fetched whole, once, into the source cache.

use crate::disk_cache::DiskCache;
use crate::error::SourceError;
use crate::observer::{SourceKind, SourceObserver};
use crate::ranged::RangedObject;
use crate::sources::ObjectVersion;
use crate::store::FetchSettings;
use crate::{FailureSlot, RandomAccess};
use bytes::Bytes;
use object_store::path::Path;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt};
use std::collections::HashMap;
use std::future::Future;
use std::ops::Range;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

/// One version of an object, as the origin described it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Version {
    /// Size in bytes.
    pub size: u64,
    /// The ETag, when the origin sends one (used as `If-Match` on ranged reads).
    pub etag: Option<String>,
    /// Last-Modified, nanoseconds since the Unix epoch.
    pub modified_ns: u128,
    /// Identifies this version in cache keys: source, path, ETag or Last-Modified, size.
    pub tag: String,
}

/// An S3 bucket or HTTP origin.
#[derive(Debug)]
pub struct RemoteSource {
    name: String,
    kind: SourceKind,
    store: Arc<dyn ObjectStore>,
    prefix: String,
    pub(crate) settings: FetchSettings,
    pub(crate) cache: Arc<DiskCache>,
    pub(crate) observer: Arc<dyn SourceObserver>,
    known: Mutex<HashMap<Path, (Version, Instant)>>,
}

impl RemoteSource {
    pub(crate) fn new(
        name: &str,
        built: crate::store::BuiltStore,
        settings: FetchSettings,
        cache: Arc<DiskCache>,
        observer: Arc<dyn SourceObserver>,
    ) -> Self {
        Self {
            name: name.into(),
            kind: built.kind,
            store: built.store,
            prefix: built.prefix,
            settings,
            cache,
            observer,
            known: Mutex::new(HashMap::new()),
        }
    }

    /// The kind of origin.
    pub fn kind(&self) -> SourceKind {
        self.kind
    }

    /// The current version of `key` (HEAD when unknown or due for revalidation), without reading bytes.
    pub(crate) fn object_version(&self, key: &str) -> Result<ObjectVersion, SourceError> {
        let path = Path::parse(format!("{}{key}", self.prefix))
            .map_err(|e| SourceError::Invalid(e.to_string()))?;
        let v = self.version(&path)?;
        Ok(ObjectVersion {
            object: key.to_string(),
            modified_ns: v.modified_ns,
            size: v.size,
            tag: v.tag,
        })
    }

    /// The version of `key` when it is known and fresh (checked within `revalidate_after`), without
    /// asking the origin; `None` when only the origin can say.
    pub(crate) fn known_version(&self, key: &str) -> Option<ObjectVersion> {
        let path = Path::parse(format!("{}{key}", self.prefix)).ok()?;
        let known = self.lock_known();
        let (v, checked) = known.get(&path)?;
        (checked.elapsed() < self.settings.revalidate_after).then(|| ObjectVersion {
            object: key.to_string(),
            modified_ns: v.modified_ns,
            size: v.size,
            tag: v.tag.clone(),
        })
    }

    /// Open `key` for random access. Must run on a blocking thread of a tokio runtime.
    pub(crate) fn open(
        self: &Arc<Self>,
        key: &str,
        failure: &FailureSlot,
    ) -> Result<Arc<dyn RandomAccess>, SourceError> {
        let path = Path::parse(format!("{}{key}", self.prefix))
            .map_err(|e| SourceError::Invalid(e.to_string()))?;
        let version = self.version(&path)?;
        let whole_key = format!("whole\n{}", version.tag);
        if let Some(file) = self.cache.get_file(&whole_key) {
            return Ok(Arc::new(file));
        }
        let ranged = Arc::new(RangedObject::new(
            Arc::clone(self),
            path.clone(),
            version.clone(),
            failure.clone(),
        ));
        let magic = ranged.read_range(0, 16).map_err(|_| {
            failure
                .take()
                .unwrap_or(SourceError::Upstream("reading the header".into()))
        })?;
        if is_ranged_format(&magic) {
            return Ok(ranged);
        }
        let flight = self.cache.flight(&whole_key);
        let _one_fetch = flight.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(file) = self.cache.get_file(&whole_key) {
            return Ok(Arc::new(file));
        }
        let bytes = self.fetch(&path, &version, None)?;
        match self.cache.put(&whole_key, &bytes) {
            Ok(file) => Ok(Arc::new(file)),
            Err(e) => {
                tracing::warn!(error = %e, "source cache write failed; serving from memory");
                Ok(Arc::new(bytes.to_vec()))
            }
        }
    }

    /// The current version of `path`: remembered, or asked of the origin (HEAD) when unknown or older
    /// than `revalidate_after`. A replaced object gets a new tag, so nothing cached of the old one is used.
    fn version(&self, path: &Path) -> Result<Version, SourceError> {
        let now = Instant::now();
        if let Some((version, checked)) = self.lock_known().get(path) {
            if now.duration_since(*checked) < self.settings.revalidate_after {
                return Ok(version.clone());
            }
        }
        let meta = self.run(self.store.head(path))?;
        let stamp = meta
            .e_tag
            .clone()
            .unwrap_or_else(|| meta.last_modified.to_rfc3339());
        let secs = u128::try_from(meta.last_modified.timestamp()).unwrap_or(0);
        let version = Version {
            size: meta.size,
            modified_ns: secs * 1_000_000_000
                + u128::from(meta.last_modified.timestamp_subsec_nanos()),
            etag: meta.e_tag,
            tag: format!("{}\n{path}\n{stamp}\n{}", self.name, meta.size),
        };
        let previous = self
            .lock_known()
            .insert(path.clone(), (version.clone(), now));
        if let Some((old, _)) = previous.filter(|(old, _)| old.tag != version.tag) {
            tracing::info!(source = %self.name, %path, "object replaced at the origin; cache entry dropped");
            self.cache.remove(&format!("whole\n{}", old.tag));
        }
        Ok(version)
    }

    /// Fetch `range` (or the whole object) of `version`, counting the bytes. A short answer or a changed
    /// object is an error, so nothing partial is ever cached.
    pub(crate) fn fetch(
        &self,
        path: &Path,
        version: &Version,
        range: Option<Range<u64>>,
    ) -> Result<Bytes, SourceError> {
        let expected = range.as_ref().map_or(version.size, |r| r.end - r.start);
        let options = GetOptions {
            range: range.clone().map(GetRange::Bounded),
            if_match: version.etag.clone(),
            ..GetOptions::default()
        };
        let result = self.run(async {
            let got = self.store.get_opts(path, options).await?;
            got.bytes().await
        });
        let bytes = match result {
            Err(e @ SourceError::Upstream(_)) | Err(e @ SourceError::NotFound) => {
                // Possibly replaced or deleted since we learnt its version: ask again next time.
                self.lock_known().remove(path);
                return Err(e);
            }
            other => other?,
        };
        self.observer.bytes_read(self.kind, bytes.len() as u64);
        if bytes.len() as u64 != expected {
            self.lock_known().remove(path);
            return Err(SourceError::Upstream(format!(
                "{path}: expected {expected} bytes, got {}",
                bytes.len()
            )));
        }
        Ok(bytes)
    }

    /// Every object key under the source's prefix (relative to it), from the store's listing; an
    /// HTTP origin without WebDAV cannot be listed and gives an error. Must run on a blocking thread
    /// of a tokio runtime; each page of the listing is bounded by the fetch deadline.
    pub(crate) fn list_keys(&self) -> Result<Vec<String>, SourceError> {
        use futures_util::StreamExt as _;
        let handle = tokio::runtime::Handle::try_current()
            .map_err(|_| SourceError::Local("listing needs a tokio runtime".into()))?;
        let prefix = Path::from(self.prefix.trim_end_matches('/'));
        let mut stream = self
            .store
            .list((!self.prefix.is_empty()).then_some(&prefix));
        let deadline = self.settings.deadline();
        let mut keys = Vec::new();
        loop {
            let next =
                handle.block_on(async { tokio::time::timeout(deadline, stream.next()).await });
            match next {
                Err(_) => {
                    return Err(SourceError::Timeout(format!(
                        "listing: no answer within {deadline:?}"
                    )))
                }
                Ok(None) => break,
                Ok(Some(Err(e))) => return Err(SourceError::from(e)),
                Ok(Some(Ok(meta))) => {
                    let full = meta.location.to_string();
                    if let Some(key) = full.strip_prefix(&self.prefix) {
                        keys.push(key.to_string());
                    }
                }
            }
        }
        Ok(keys)
    }

    /// Run `future` on the runtime from this blocking thread, bounded by the fetch deadline.
    fn run<T>(
        &self,
        future: impl Future<Output = object_store::Result<T>>,
    ) -> Result<T, SourceError> {
        let handle = tokio::runtime::Handle::try_current()
            .map_err(|_| SourceError::Local("remote reads need a tokio runtime".into()))?;
        let deadline = self.settings.deadline();
        match handle.block_on(async { tokio::time::timeout(deadline, future).await }) {
            Ok(result) => result.map_err(SourceError::from),
            Err(_) => Err(SourceError::Timeout(format!(
                "no answer within {deadline:?}"
            ))),
        }
    }

    fn lock_known(&self) -> std::sync::MutexGuard<'_, HashMap<Path, (Version, Instant)>> {
        self.known.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Formats read by byte ranges (tiled TIFF, BigTIFF, JPEG 2000); the others are fetched whole.
fn is_ranged_format(magic: &[u8]) -> bool {
    magic.starts_with(b"II*\0")
        || magic.starts_with(b"MM\0*")
        || magic.starts_with(b"II+\0")
        || magic.starts_with(b"MM\0+")
        || magic.starts_with(&[0, 0, 0, 0x0C, b'j', b'P', b' ', b' '])
        || magic.starts_with(&[0xFF, 0x4F, 0xFF, 0x51])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::BuiltStore;
    use object_store::memory::InMemory;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Duration;

    #[derive(Debug, Default)]
    struct Count(AtomicU64);

    impl SourceObserver for Count {
        fn bytes_read(&self, _kind: SourceKind, bytes: u64) {
            self.0.fetch_add(bytes, Ordering::Relaxed);
        }
    }

    fn settings(dir: &std::path::Path) -> FetchSettings {
        FetchSettings {
            timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(5),
            retries: 0,
            backoff: Duration::from_millis(10),
            block_size: 1024,
            revalidate_after: Duration::from_secs(60),
            cache_dir: dir.to_path_buf(),
            cache_max_bytes: 1 << 20,
            cache_min_free_bytes: 0,
        }
    }

    /// Runs `f` as the server does: on a blocking thread of a tokio runtime.
    fn on_blocking_thread<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let task = rt.spawn_blocking(f);
        rt.block_on(task).unwrap()
    }

    fn source(store: Arc<InMemory>, dir: &std::path::Path, count: Arc<Count>) -> Arc<RemoteSource> {
        let built = BuiltStore {
            store,
            kind: SourceKind::S3,
            prefix: String::new(),
        };
        let cache = Arc::new(DiskCache::open(dir, 1 << 20).unwrap());
        Arc::new(RemoteSource::new("t", built, settings(dir), cache, count))
    }

    #[test]
    fn tiff_is_read_by_blocks_and_cached_others_whole_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(InMemory::new());
        let mut tiff = b"II*\0".to_vec();
        tiff.extend((0..10_000u32).map(|i| (i % 251) as u8));
        let jpeg: Vec<u8> = [0xFF, 0xD8, 0xFF].into_iter().chain([7u8; 3000]).collect();
        let (t, j) = (tiff.clone(), jpeg.clone());
        let rt_store = Arc::clone(&store);
        on_blocking_thread(move || {
            let h = tokio::runtime::Handle::current();
            h.block_on(rt_store.put(&Path::from("a.tif"), t.into()))
                .unwrap();
            h.block_on(rt_store.put(&Path::from("b.jpg"), j.into()))
                .unwrap();
        });
        let count = Arc::new(Count::default());
        let remote = source(Arc::clone(&store), dir.path(), Arc::clone(&count));
        let (r, c) = (Arc::clone(&remote), Arc::clone(&count));
        let expected = tiff.clone();
        on_blocking_thread(move || {
            let slot = FailureSlot::default();
            let object = r.open("a.tif", &slot).unwrap();
            assert_eq!(c.0.load(Ordering::Relaxed), 1024, "only the first block");
            let mut buf = vec![0; 2500];
            object.read_exact_at(5000, &mut buf).unwrap();
            assert_eq!(buf, expected[5000..7500]);
            // Blocks 4..=7 in one run of 4 KiB.
            assert_eq!(c.0.load(Ordering::Relaxed), 1024 + 4096);
            object.read_exact_at(5100, &mut buf[..100]).unwrap();
            assert_eq!(c.0.load(Ordering::Relaxed), 1024 + 4096, "from memory");
            let whole = r.open("b.jpg", &slot).unwrap();
            assert_eq!(whole.read_all().unwrap().len(), 3003);
            let after_whole = c.0.load(Ordering::Relaxed);
            assert_eq!(after_whole, 1024 + 4096 + 1024 + 3003);
            r.open("b.jpg", &slot).unwrap();
            assert_eq!(
                c.0.load(Ordering::Relaxed),
                after_whole,
                "whole file cached"
            );
            assert!(matches!(
                r.open("none.tif", &slot),
                Err(SourceError::NotFound)
            ));
        });
        // A new source on the same cache folder (a restart) reads nothing for the same ranges.
        let count2 = Arc::new(Count::default());
        let again = source(store, dir.path(), Arc::clone(&count2));
        on_blocking_thread(move || {
            let object = again.open("a.tif", &FailureSlot::default()).unwrap();
            let mut buf = vec![0; 2500];
            object.read_exact_at(5000, &mut buf).unwrap();
            assert_eq!(count2.0.load(Ordering::Relaxed), 0);
        });
    }
}
