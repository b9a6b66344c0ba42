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

/// Every cache the server keeps.
#[derive(Debug)]
pub struct Caches {
    memory: MemoryCache,
    disk: Option<Arc<DiskCache>>,
    info: Mutex<Lru<(String, SourceVersion), Described>>,
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
        self.memory.put(key, Arc::clone(&entry));
        if let Some(disk) = &self.disk {
            disk.put(key, &entry).await;
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

    /// Remove everything cached for `group`, or everything when `None`.
    pub async fn purge(&self, group: Option<&str>) -> Purged {
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
