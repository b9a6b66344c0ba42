//! A folder of an S3 bucket (`s3://bucket/prefix`) shared by several servers: whole objects copied
//! to and from local files, and leases taken with a conditional create (`If-None-Match: *`), so that
//! one of them does a piece of work while the others wait for its result.
//!
//! Every call blocks: make them on a thread that may block, inside a tokio runtime's context (a
//! blocking-pool thread, or a thread that entered the runtime's handle), never on its workers.

use crate::disk_cache::DiskCache;
use crate::error::SourceError;
use crate::random_access::{FileSource, RandomAccess};
use crate::store::{FetchSettings, SourceConfig};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, WriteMultipart};
use std::future::Future;
use std::io::{self, Write};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Objects up to this size are written with one PUT; larger ones in parts of this size.
const PART_BYTES: u64 = 16 << 20;

/// An object as the store describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedObject {
    /// Size in bytes.
    pub size: u64,
    /// Last-Modified, milliseconds since the Unix epoch.
    pub modified_ms: i64,
}

/// A folder of an S3 bucket shared by the servers of a cluster.
pub struct SharedStore {
    location: String,
    store: Arc<dyn ObjectStore>,
    prefix: String,
    deadline: Duration,
}

impl std::fmt::Debug for SharedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedStore")
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

impl SharedStore {
    /// The store at `location`, `s3://bucket/prefix`, with the endpoint, region and credentials
    /// S3 sources use (`AWS_*` environment, shared credentials file) and `settings`' timeouts and
    /// retries. Nothing is contacted yet.
    pub fn open(location: &str, settings: &FetchSettings) -> Result<Self, String> {
        if !location.starts_with("s3://") || location.len() <= "s3://".len() {
            return Err(format!(
                "{location:?} is not an s3://bucket/prefix location"
            ));
        }
        let built =
            crate::store::build(&SourceConfig::from_location("shared", location), settings)?;
        Ok(Self {
            location: location.to_string(),
            store: built.store,
            prefix: built.prefix,
            deadline: settings.deadline(),
        })
    }

    /// The location it was opened with.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// The full object key of `name` (under the prefix).
    pub fn object_key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    fn path(&self, name: &str) -> Result<Path, SourceError> {
        Path::parse(self.object_key(name)).map_err(|e| SourceError::Invalid(e.to_string()))
    }

    /// The object `name`, if it exists (`Ok(None)` when it does not).
    pub fn head(&self, name: &str) -> Result<Option<SharedObject>, SourceError> {
        let path = self.path(name)?;
        match self.run(self.store.head(&path)) {
            Ok(meta) => Ok(Some(SharedObject {
                size: meta.size,
                modified_ms: meta.last_modified.timestamp_millis(),
            })),
            Err(SourceError::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Create `name` holding `body` unless it exists: `Ok(false)` when it does (S3's
    /// `If-None-Match: *`; the store must support conditional writes).
    pub fn create(&self, name: &str, body: Vec<u8>) -> Result<bool, SourceError> {
        let path = self.path(name)?;
        let options = PutOptions {
            mode: PutMode::Create,
            ..PutOptions::default()
        };
        let handle = handle()?;
        let put = self.store.put_opts(&path, PutPayload::from(body), options);
        match handle.block_on(async { tokio::time::timeout(self.deadline, put).await }) {
            Ok(Ok(_)) => Ok(true),
            Ok(Err(object_store::Error::AlreadyExists { .. })) => Ok(false),
            Ok(Err(e)) => Err(SourceError::from(e)),
            Err(_) => Err(self.timed_out()),
        }
    }

    /// Write `name` holding `body`, replacing what is there.
    pub fn overwrite(&self, name: &str, body: Vec<u8>) -> Result<(), SourceError> {
        let path = self.path(name)?;
        self.run(self.store.put(&path, PutPayload::from(body)))
            .map(|_| ())
    }

    /// Delete `name` (deleting what is not there succeeds).
    pub fn delete(&self, name: &str) -> Result<(), SourceError> {
        let path = self.path(name)?;
        match self.run(self.store.delete(&path)) {
            Ok(()) | Err(SourceError::NotFound) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Copy `file` to `name`: one PUT when small, else a multipart upload in parts of 16 MiB, so
    /// that the object appears whole or not at all and is never held in memory.
    pub fn upload(&self, name: &str, file: &dyn RandomAccess) -> Result<(), SourceError> {
        let path = self.path(name)?;
        let len = file.len();
        let read = |offset: u64, n: u64| {
            file.read_range(offset, usize::try_from(n).unwrap_or(usize::MAX))
                .map_err(|e| SourceError::Local(e.to_string()))
        };
        if len <= PART_BYTES {
            let body = read(0, len)?;
            return self
                .run(self.store.put(&path, PutPayload::from(body)))
                .map(|_| ());
        }
        let upload = self.run(self.store.put_multipart(&path))?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_BYTES as usize);
        let handle = handle()?;
        let mut offset = 0;
        while offset < len {
            let part = match read(offset, PART_BYTES.min(len - offset)) {
                Ok(part) => part,
                Err(e) => {
                    let _ = handle.block_on(writer.abort());
                    return Err(e);
                }
            };
            offset += part.len() as u64;
            // At most two parts in flight: one sending, one being read.
            let waited = handle.block_on(async {
                tokio::time::timeout(self.deadline, writer.wait_for_capacity(2)).await
            });
            match waited {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    let _ = handle.block_on(writer.abort());
                    return Err(SourceError::from(e));
                }
                Err(_) => {
                    let _ = handle.block_on(writer.abort());
                    return Err(self.timed_out());
                }
            }
            writer.put(part.into());
        }
        let deadline = self.deadline.saturating_mul(2);
        match handle.block_on(async { tokio::time::timeout(deadline, writer.finish()).await }) {
            Ok(result) => result.map(|_| ()).map_err(SourceError::from),
            Err(_) => Err(self.timed_out()),
        }
    }

    /// Copy the object `name` whole into `cache` under `key` (by ranges of 16 MiB, each within
    /// the fetch deadline, written to a temporary file and renamed when complete): the stored file,
    /// or `Ok(None)` when there is no such object.
    pub fn download(
        &self,
        name: &str,
        cache: &DiskCache,
        key: &str,
    ) -> Result<Option<FileSource>, SourceError> {
        let Some(object) = self.head(name)? else {
            return Ok(None);
        };
        let path = self.path(name)?;
        let mut failure = None;
        let stored = cache.put_streamed(key, |file| {
            let mut out = io::BufWriter::with_capacity(1 << 20, file);
            let mut offset = 0;
            while offset < object.size {
                let end = object.size.min(offset + PART_BYTES);
                match self.run(self.store.get_range(&path, offset..end)) {
                    Ok(bytes) if bytes.len() as u64 == end - offset => out.write_all(&bytes)?,
                    Ok(_) => {
                        failure = Some(SourceError::Upstream(format!(
                            "{} changed while it was copied",
                            self.object_key(name)
                        )));
                        return Err(io::Error::other("short read"));
                    }
                    Err(e) => {
                        failure = Some(e);
                        return Err(io::Error::other("remote read failed"));
                    }
                }
                offset = end;
            }
            out.flush()
        });
        match (stored, failure) {
            (_, Some(SourceError::NotFound)) => Ok(None),
            (_, Some(e)) => Err(e),
            (Ok(file), None) => Ok(Some(file)),
            (Err(e), None) => Err(SourceError::Local(e.to_string())),
        }
    }

    /// Run `future` on the runtime from this blocking thread, bounded by the fetch deadline.
    fn run<T>(
        &self,
        future: impl Future<Output = object_store::Result<T>>,
    ) -> Result<T, SourceError> {
        let handle = handle()?;
        match handle.block_on(async { tokio::time::timeout(self.deadline, future).await }) {
            Ok(result) => result.map_err(SourceError::from),
            Err(_) => Err(self.timed_out()),
        }
    }

    fn timed_out(&self) -> SourceError {
        SourceError::Timeout(format!(
            "{} did not answer within {:?}",
            self.location, self.deadline
        ))
    }
}

fn handle() -> Result<tokio::runtime::Handle, SourceError> {
    tokio::runtime::Handle::try_current()
        .map_err(|_| SourceError::Local("the shared store needs a tokio runtime".into()))
}

/// Whether a lease last written at `modified_ms` (the store's clock) is older than `bound` at
/// `now_ms`; one written in the future (clocks apart) is not.
pub fn lease_expired(modified_ms: i64, now_ms: i64, bound: Duration) -> bool {
    let bound = i64::try_from(bound.as_millis()).unwrap_or(i64::MAX);
    now_ms.saturating_sub(modified_ms) > bound
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leases_expire_after_their_bound() {
        let bound = Duration::from_secs(600);
        assert!(!lease_expired(1_000_000, 1_000_000, bound));
        assert!(!lease_expired(1_000_000, 1_600_000, bound));
        assert!(lease_expired(1_000_000, 1_600_001, bound));
        // Written "later" than now (clock skew): held.
        assert!(!lease_expired(2_000_000, 1_000_000, bound));
        assert!(lease_expired(i64::MIN, i64::MAX, bound));
    }

    fn settings() -> FetchSettings {
        FetchSettings {
            timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(5),
            retries: 0,
            backoff: Duration::from_millis(10),
            block_size: 1024,
            revalidate_after: Duration::from_secs(60),
            cache_dir: std::env::temp_dir(),
            cache_max_bytes: 1 << 20,
            cache_min_free_bytes: 0,
        }
    }

    #[test]
    fn locations_and_object_keys() {
        let s = SharedStore::open("s3://bucket/some/prefix/", &settings()).unwrap();
        assert_eq!(s.object_key("abc.tif"), "some/prefix/abc.tif");
        let bare = SharedStore::open("s3://bucket", &settings()).unwrap();
        assert_eq!(bare.object_key("abc.lease"), "abc.lease");
        assert!(SharedStore::open("/srv/pyramids", &settings()).is_err());
        assert!(SharedStore::open("s3://", &settings()).is_err());
    }
}
