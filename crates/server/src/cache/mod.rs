//! The caches: derivatives on disk and small hot responses in memory (both keyed by [`CacheKey`]), and
//! image headers in memory (keyed by file and [`SourceVersion`]). All bounded; all safe to purge live.

pub mod disk;
mod key;
pub mod lru;
mod memory;

pub use key::{group_of, hash_hex, hash_u64, CacheKey, SourceVersion};

use crate::config::CacheConfig;
use crate::metrics::Metrics;
use crate::pipeline::Described;
use bytes::Bytes;
use disk::{DiskCache, Purged};
use lru::Lru;
use memory::MemoryCache;
use std::sync::{Arc, Mutex, PoisonError};

/// A rendered image response, as cached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// `Content-Type`.
    pub media_type: String,
    /// The canonical request tail, for the `Link` header.
    pub canonical: String,
    /// The encoded image.
    pub body: Bytes,
}

impl Entry {
    /// Bytes it occupies, roughly.
    pub fn weight(&self) -> u64 {
        (self.body.len() + self.media_type.len() + self.canonical.len()) as u64
    }
}

/// Where a cached response came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    /// Process memory.
    Memory,
    /// The disk cache.
    Disk,
}

impl Tier {
    /// The metric label.
    pub fn label(self) -> &'static str {
        match self {
            Tier::Memory => "memory",
            Tier::Disk => "disk",
        }
    }
}

/// At most this many bytes of finished `info.json` bodies are kept.
const INFO_BODY_BYTES: u64 = 16 << 20;

/// A finished `info.json` response body and its ETag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InfoBody {
    /// The document, as sent.
    pub body: Bytes,
    /// Its strong ETag.
    pub etag: String,
}

/// The key of a finished `info.json`: everything its bytes depend on. The object's group comes
/// first (purged with it); then its version, the extras' stamp, and the request's side (the
/// service id, which holds the identifier, host and mount; the API version; the content type).
pub fn info_body_key(
    group: &str,
    version: SourceVersion,
    extras_stamp: u64,
    service_id: &str,
    api: &str,
    content_type: &str,
) -> String {
    format!("{group}\n{version}\n{extras_stamp:x}\n{api}\n{content_type}\n{service_id}")
}

/// Every cache the server keeps.
#[derive(Debug)]
pub struct Caches {
    memory: MemoryCache,
    disk: Option<Arc<DiskCache>>,
    info: Mutex<Lru<(String, SourceVersion), Described>>,
    info_bodies: Mutex<Lru<String, InfoBody>>,
    metrics: Arc<Metrics>,
}

impl Caches {
    /// The caches `config` describes. The disk index is rebuilt on a background thread.
    pub fn new(config: &CacheConfig, metrics: Arc<Metrics>) -> std::io::Result<Self> {
        let disk = match &config.dir {
            Some(dir) => {
                let max_files = usize::try_from(config.max_files).unwrap_or(usize::MAX);
                let disk = Arc::new(
                    DiskCache::open(dir, config.max_bytes, max_files)?
                        .keep_free(config.min_free_bytes),
                );
                let scanning = Arc::clone(&disk);
                std::thread::Builder::new()
                    .name("cache-rebuild".into())
                    .spawn(move || scanning.rebuild())?;
                Some(disk)
            }
            None => None,
        };
        Ok(Self {
            memory: MemoryCache::new(
                config.memory_max_bytes,
                usize::MAX,
                config.memory_max_entry_bytes,
            ),
            disk,
            info: Mutex::new(Lru::new(u64::MAX, config.info_entries)),
            info_bodies: Mutex::new(Lru::new(INFO_BODY_BYTES, config.info_entries)),
            metrics,
        })
    }

    /// The cached response for `key`, from the fastest tier that has it. Counts hits and misses per tier.
    pub async fn get(&self, key: &CacheKey) -> Option<(Arc<Entry>, Tier)> {
        if let Some(entry) = self.memory.get(key) {
            self.metrics.cache_hit(Tier::Memory);
            return Some((entry, Tier::Memory));
        }
        self.metrics.cache_miss(Tier::Memory);
        let disk = self.disk.as_ref()?;
        match disk.get(key).await {
            Some(entry) => {
                self.metrics.cache_hit(Tier::Disk);
                let entry = Arc::new(entry);
                self.memory.put(key, Arc::clone(&entry));
                Some((entry, Tier::Disk))
            }
            None => {
                self.metrics.cache_miss(Tier::Disk);
                None
            }
        }
    }

    /// Keep a freshly rendered response in every tier that takes it.
    pub async fn put(&self, key: &CacheKey, entry: Arc<Entry>) {
        self.put_memory(key, Arc::clone(&entry));
        self.put_disk(key, &entry).await;
    }

    /// [`put`](Self::put)'s first half: the memory tier, at once.
    pub fn put_memory(&self, key: &CacheKey, entry: Arc<Entry>) {
        self.memory.put(key, entry);
    }

    /// [`put`](Self::put)'s second half: the disk tier, when there is one.
    pub async fn put_disk(&self, key: &CacheKey, entry: &Entry) {
        if let Some(disk) = &self.disk {
            disk.put(key, entry).await;
        }
    }

    /// The cached description (size, format, tiling, levels) of a version of the object in `group`.
    pub fn info(&self, group: &str, version: SourceVersion) -> Option<Described> {
        let mut info = self.info.lock().unwrap_or_else(PoisonError::into_inner);
        let hit = info.get(&(group.to_string(), version)).cloned();
        match hit {
            Some(_) => self.metrics.cache_hit_info(),
            None => self.metrics.cache_miss_info(),
        }
        hit
    }

    /// Remember the description of a version of the object in `group`.
    pub fn put_info(&self, group: String, version: SourceVersion, described: Described) {
        let mut info = self.info.lock().unwrap_or_else(PoisonError::into_inner);
        let _ = info.insert((group, version), described, 1);
    }

    /// A finished `info.json` body and its ETag, by [`info_body_key`]. A hit counts as an info-tier
    /// hit (the image's description was not needed); a miss is counted by the description's lookup.
    pub fn info_body(&self, key: &str) -> Option<InfoBody> {
        let mut bodies = self
            .info_bodies
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let hit = bodies.get(&key.to_string()).cloned();
        if hit.is_some() {
            self.metrics.cache_hit_info();
        }
        hit
    }

    /// Remember a finished `info.json` body and its ETag.
    pub fn put_info_body(&self, key: String, body: InfoBody) {
        let weight = (key.len() + body.body.len() + body.etag.len()) as u64;
        let mut bodies = self
            .info_bodies
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let _ = bodies.insert(key, body, weight);
    }

    /// Remove everything cached for `group`, or everything when `None`.
    pub async fn purge(&self, group: Option<&str>) -> Purged {
        self.info_bodies
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove_where(|k, _| group.is_none_or(|want| k.split('\n').next() == Some(want)));
        self.memory.purge(group);
        self.info
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove_where(|(g, _), _| group.is_none_or(|want| want == g));
        match &self.disk {
            Some(disk) => disk.purge(group).await,
            None => Purged::default(),
        }
    }

    /// Bytes held per tier, for the metrics: (memory, disk, disk files).
    pub fn usage(&self) -> (u64, u64, u64) {
        let (memory, _) = self.memory.usage();
        let (disk, files) = self.disk.as_ref().map_or((0, 0), |d| d.usage());
        (memory, disk, files as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::CacheConfig;

    #[tokio::test]
    async fn info_bodies_are_keyed_by_everything_they_depend_on_and_purged_by_group() {
        let caches =
            Caches::new(&CacheConfig::default(), Arc::new(Metrics::new())).expect("caches");
        let v = SourceVersion {
            mtime_ns: 1,
            size: 2,
            tag: 3,
        };
        let key = |group, stamp, id| info_body_key(group, v, stamp, id, "3", "application/ld+json");
        let body = |text: &'static str| InfoBody {
            body: Bytes::from_static(text.as_bytes()),
            etag: format!("\"{text}\""),
        };
        caches.put_info_body(key("g1", 0, "http://a/iiif/3/x"), body("one"));
        caches.put_info_body(key("g2", 0, "http://a/iiif/3/y"), body("two"));
        assert_eq!(
            caches.info_body(&key("g1", 0, "http://a/iiif/3/x")),
            Some(body("one"))
        );
        // Another host, another sidecar, another version: other keys.
        assert!(caches
            .info_body(&key("g1", 0, "http://b/iiif/3/x"))
            .is_none());
        assert!(caches
            .info_body(&key("g1", 7, "http://a/iiif/3/x"))
            .is_none());
        let other = info_body_key(
            "g1",
            SourceVersion { tag: 4, ..v },
            0,
            "http://a/iiif/3/x",
            "3",
            "application/ld+json",
        );
        assert!(caches.info_body(&other).is_none());
        caches.purge(Some("g1")).await;
        assert!(caches
            .info_body(&key("g1", 0, "http://a/iiif/3/x"))
            .is_none());
        assert_eq!(
            caches.info_body(&key("g2", 0, "http://a/iiif/3/y")),
            Some(body("two"))
        );
    }
}
