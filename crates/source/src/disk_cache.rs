//! The source cache: fetched bytes (whole objects and blocks) on local disk, bounded in size with
//! least-recently-used eviction, written atomically (temp file, then rename), with one fetch at a time per key.
//! The filesystem's free space bounds it too: a write first evicts until it leaves `keep_free` bytes
//! free, and one that still finds the disk full evicts and retries once.

use crate::cache_dir::{CacheDir, EntryKind};
use crate::random_access::FileSource;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

/// Prefix of files being written; never served, removed at startup.
const TEMP_PREFIX: &str = ".tmp-";

/// A bounded LRU cache of byte blobs in one folder. Each key is stored as one file named by its SHA-256.
/// Files are reached from the folder's descriptor, never through a symlink planted in it.
#[derive(Debug)]
pub struct DiskCache {
    dir: CacheDir,
    max_bytes: u64,
    keep_free: u64,
    index: Mutex<Index>,
    flights: Mutex<HashMap<String, Weak<Mutex<()>>>>,
    temp_counter: AtomicU64,
}

#[derive(Debug, Default)]
struct Index {
    /// File name → (size, last use).
    entries: HashMap<String, (u64, u64)>,
    /// Last use → file name, oldest first.
    by_use: BTreeMap<u64, String>,
    total: u64,
    clock: u64,
}

impl Index {
    fn touch(&mut self, name: &str) -> bool {
        self.clock += 1;
        let clock = self.clock;
        let Some(entry) = self.entries.get_mut(name) else {
            return false;
        };
        self.by_use.remove(&entry.1);
        entry.1 = clock;
        self.by_use.insert(clock, name.to_string());
        true
    }

    fn insert(&mut self, name: String, size: u64) {
        self.remove(&name);
        self.clock += 1;
        self.entries.insert(name.clone(), (size, self.clock));
        self.by_use.insert(self.clock, name);
        self.total += size;
    }

    fn remove(&mut self, name: &str) -> bool {
        match self.entries.remove(name) {
            Some((size, used)) => {
                self.by_use.remove(&used);
                self.total -= size;
                true
            }
            None => false,
        }
    }
}

impl DiskCache {
    /// A cache in `dir` (created if missing) holding at most `max_bytes`. Files left by an earlier run are
    /// kept (oldest modified evicted first); unfinished temp files are removed.
    pub fn open(dir: &Path, max_bytes: u64) -> io::Result<Self> {
        let files = CacheDir::open(dir)?;
        let mut found = Vec::new();
        for entry in files.entries("")? {
            if entry.name.starts_with(TEMP_PREFIX) {
                let _ = files.remove_file(&entry.name);
            } else if entry.kind == EntryKind::File && entry.name.len() == 64 {
                found.push((entry.modified, entry.name, entry.len));
            }
        }
        found.sort();
        let cache = Self {
            dir: files,
            max_bytes,
            keep_free: 0,
            index: Mutex::new(Index::default()),
            flights: Mutex::new(HashMap::new()),
            temp_counter: AtomicU64::new(0),
        };
        {
            let mut index = cache.lock_index();
            for (_, name, size) in found {
                index.insert(name, size);
            }
        }
        cache.evict();
        Ok(cache)
    }

    /// Keep at least `bytes` free on the cache's filesystem (evicting to do so).
    pub fn keep_free(mut self, bytes: u64) -> Self {
        self.keep_free = bytes;
        self
    }

    /// Bytes currently held.
    pub fn total_bytes(&self) -> u64 {
        self.lock_index().total
    }

    /// The cached bytes of `key`, if any (marks it used).
    pub fn get(&self, key: &str) -> Option<Vec<u8>> {
        let name = file_name(key);
        if !self.lock_index().touch(&name) {
            return None;
        }
        match self.dir.read(&name) {
            Ok(bytes) => Some(bytes),
            Err(_) => {
                self.lock_index().remove(&name);
                None
            }
        }
    }

    /// Whether `key` is held, by the index alone: no file is opened and it is not marked used. (A
    /// file removed behind the cache's back is found missing, and forgotten, by the next get.)
    pub fn contains(&self, key: &str) -> bool {
        self.lock_index().entries.contains_key(&file_name(key))
    }

    /// The cached file of `key`, opened, if any (marks it used). It stays readable even if evicted later.
    pub fn get_file(&self, key: &str) -> Option<FileSource> {
        let name = file_name(key);
        if !self.lock_index().touch(&name) {
            return None;
        }
        match self.dir.open_file(&name).and_then(FileSource::from_opened) {
            Ok(file) => Some(file),
            Err(_) => {
                self.lock_index().remove(&name);
                None
            }
        }
    }

    /// Store `bytes` under `key` atomically and return the stored file, opened. Older entries are evicted
    /// to stay within the bound (possibly this one, if it alone is larger: the returned file stays readable).
    pub fn put(&self, key: &str, bytes: &[u8]) -> io::Result<FileSource> {
        let name = file_name(key);
        let size = bytes.len() as u64;
        let mut result = Err(io::Error::from(io::ErrorKind::StorageFull));
        for attempt in 0..2 {
            // The second attempt follows a full disk: free at least this entry's size besides.
            self.make_room(size, if attempt == 0 { 0 } else { size });
            result = self.write(&name, bytes);
            match &result {
                Err(e) if crate::is_disk_full(e) => continue,
                _ => break,
            }
        }
        let opened = result?;
        self.lock_index().insert(name, size);
        self.evict();
        Ok(opened)
    }

    /// Store what `write` writes under `key` atomically (to a temporary file in the cache's folder,
    /// then renamed), for values too large to hold in memory; returns the stored file, opened.
    /// `write` gets the file positioned at its start and may seek within it. Nothing is stored
    /// when it fails. Older entries are evicted to stay within the bound, as for [`Self::put`].
    pub fn put_streamed(
        &self,
        key: &str,
        write: impl FnOnce(&mut std::fs::File) -> io::Result<()>,
    ) -> io::Result<FileSource> {
        let name = file_name(key);
        let n = self.temp_counter.fetch_add(1, Ordering::Relaxed);
        let temp = format!("{TEMP_PREFIX}{}-{n}", std::process::id());
        let result = (|| -> io::Result<FileSource> {
            let mut file = self.dir.create_new(&temp)?;
            write(&mut file)?;
            file.flush()?;
            file.sync_data()?;
            let size = file.metadata()?.len();
            self.make_room(size, 0);
            let opened = FileSource::from_file(file, size);
            self.dir.rename(&temp, &name)?;
            self.lock_index().insert(name.clone(), size);
            Ok(opened)
        })();
        if result.is_err() {
            let _ = self.dir.remove_file(&temp);
        }
        let opened = result?;
        self.evict();
        Ok(opened)
    }

    /// Write `bytes` to a temporary file, open it, and rename it to `name`.
    fn write(&self, name: &str, bytes: &[u8]) -> io::Result<FileSource> {
        let n = self.temp_counter.fetch_add(1, Ordering::Relaxed);
        let temp = format!("{TEMP_PREFIX}{}-{n}", std::process::id());
        let result = (|| -> io::Result<FileSource> {
            let mut file = self.dir.create_new(&temp)?;
            file.write_all(bytes)?;
            file.flush()?;
            let opened = FileSource::from_file(file, bytes.len() as u64);
            self.dir.rename(&temp, name)?;
            Ok(opened)
        })();
        if result.is_err() {
            let _ = self.dir.remove_file(&temp);
        }
        result
    }

    /// Delete least-recently-used files until writing `incoming` bytes leaves `keep_free` bytes free on
    /// the filesystem and at least `extra` bytes were freed, or nothing is left to delete.
    fn make_room(&self, incoming: u64, extra: u64) {
        let mut freed = 0u64;
        // Bounded: each round deletes at least one file, or stops.
        for _ in 0..1024 {
            let Ok(available) = crate::available_bytes(self.dir.path()) else {
                return;
            };
            let mut short = crate::shortfall(available, self.keep_free, incoming)
                .max(extra.saturating_sub(freed));
            if short == 0 {
                return;
            }
            let mut doomed = Vec::new();
            {
                let mut index = self.lock_index();
                while short > 0 {
                    let Some((_, name)) = index.by_use.pop_first() else {
                        break;
                    };
                    if let Some((size, _)) = index.entries.remove(&name) {
                        index.total -= size;
                        // Files take whole blocks: count at least one per file.
                        short = short.saturating_sub(size.max(4096));
                        doomed.push((name, size));
                    }
                }
            }
            if doomed.is_empty() {
                return;
            }
            for (name, size) in doomed {
                if self.dir.remove_file(&name).is_ok() {
                    freed += size;
                }
            }
        }
    }

    /// Forget `key` and delete its file.
    pub fn remove(&self, key: &str) {
        let name = file_name(key);
        if self.lock_index().remove(&name) {
            let _ = self.dir.remove_file(&name);
        }
    }

    /// A lock held while `key` is being fetched, so that concurrent requests for it wait for one fetch
    /// instead of starting their own. Other keys are never blocked by it.
    pub fn flight(&self, key: &str) -> Arc<Mutex<()>> {
        let mut flights = self
            .flights
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(existing) = flights.get(key).and_then(Weak::upgrade) {
            return existing;
        }
        flights.retain(|_, w| w.strong_count() > 0);
        let lock = Arc::new(Mutex::new(()));
        flights.insert(key.to_string(), Arc::downgrade(&lock));
        lock
    }

    fn evict(&self) {
        let mut doomed = Vec::new();
        {
            let mut index = self.lock_index();
            while index.total > self.max_bytes {
                let Some((_, name)) = index.by_use.pop_first() else {
                    break;
                };
                if let Some((size, _)) = index.entries.remove(&name) {
                    index.total -= size;
                }
                doomed.push(name);
            }
        }
        for name in doomed {
            let _ = self.dir.remove_file(&name);
        }
    }

    fn lock_index(&self) -> MutexGuard<'_, Index> {
        self.index
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The file name of `key`: its SHA-256 in hex.
fn file_name(key: &str) -> String {
    Sha256::digest(key.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RandomAccess;
    use std::fs;
    use std::io::Seek;

    #[test]
    fn stores_reads_and_evicts_least_recently_used() {
        let dir = tempfile::tempdir().unwrap();
        let cache = DiskCache::open(dir.path(), 250).unwrap();
        cache.put("a", &[1; 100]).unwrap();
        cache.put("b", &[2; 100]).unwrap();
        assert_eq!(cache.get("a").unwrap(), vec![1; 100]); // a is now newer than b
        cache.put("c", &[3; 100]).unwrap();
        assert!(cache.get("b").is_none(), "b was least recently used");
        assert!(cache.get("a").is_some() && cache.get("c").is_some());
        assert_eq!(cache.total_bytes(), 200);
        let files = fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(files, 2, "evicted files are deleted, no temp files remain");
    }

    #[test]
    fn contains_reads_the_index_only_and_does_not_mark_used() {
        let dir = tempfile::tempdir().unwrap();
        let cache = DiskCache::open(dir.path(), 250).unwrap();
        cache.put("a", &[1; 100]).unwrap();
        cache.put("b", &[2; 100]).unwrap();
        assert!(cache.contains("a") && !cache.contains("z"));
        cache.put("c", &[3; 100]).unwrap();
        assert!(!cache.contains("a"), "a stayed least recently used");
    }

    #[test]
    fn a_streamed_entry_appears_whole_or_not_at_all() {
        let dir = tempfile::tempdir().unwrap();
        let cache = DiskCache::open(dir.path(), 1000).unwrap();
        let file = cache
            .put_streamed("s", |f| {
                f.write_all(&[9; 300])?;
                f.seek(std::io::SeekFrom::Start(0))?;
                f.write_all(&[8; 2])
            })
            .unwrap();
        assert_eq!(file.read_all().unwrap()[..3], [8, 8, 9]);
        assert_eq!(cache.total_bytes(), 300);
        let failed = cache.put_streamed("t", |f| {
            f.write_all(&[1; 50])?;
            Err(io::Error::other("the writer failed"))
        });
        assert!(failed.is_err());
        assert!(!cache.contains("t"));
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temp file is left"
        );
    }

    #[test]
    fn an_oversized_entry_is_readable_but_not_kept() {
        let dir = tempfile::tempdir().unwrap();
        let cache = DiskCache::open(dir.path(), 10).unwrap();
        let file = cache.put("big", &[7; 50]).unwrap();
        assert_eq!(file.read_all().unwrap(), vec![7; 50]);
        assert!(cache.get("big").is_none());
        assert_eq!(cache.total_bytes(), 0);
    }

    #[test]
    fn survives_a_restart_and_drops_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        {
            let cache = DiskCache::open(dir.path(), 1000).unwrap();
            cache.put("k", b"hello").unwrap();
        }
        fs::write(dir.path().join(".tmp-1-1"), b"partial").unwrap();
        let cache = DiskCache::open(dir.path(), 1000).unwrap();
        assert_eq!(cache.get("k").unwrap(), b"hello");
        assert!(!dir.path().join(".tmp-1-1").exists());
        cache.remove("k");
        assert!(cache.get("k").is_none());
    }

    #[test]
    fn planted_symlinks_are_neither_read_nor_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("victim");
        fs::write(&outside, b"precious").unwrap();
        let cache_dir = dir.path().join("cache");
        fs::create_dir(&cache_dir).unwrap();
        // A cached entry's file name and the next temp file's name, both planted as symlinks out.
        std::os::unix::fs::symlink(&outside, cache_dir.join(file_name("k"))).unwrap();
        let cache = DiskCache::open(&cache_dir, 1000).unwrap();
        let temp = format!("{TEMP_PREFIX}{}-0", std::process::id());
        std::os::unix::fs::symlink(&outside, cache_dir.join(temp)).unwrap();
        assert!(cache.get("k").is_none(), "a symlink is not an entry");
        // The write refuses the planted temp name (O_EXCL) instead of writing through it...
        assert!(cache.put("k", b"new").is_err());
        // ...and the next one replaces the planted entry itself, not what it pointed at.
        assert_eq!(cache.put("k", b"new").unwrap().read_all().unwrap(), b"new");
        assert_eq!(cache.get("k").unwrap(), b"new");
        assert!(!fs::symlink_metadata(cache_dir.join(file_name("k")))
            .unwrap()
            .file_type()
            .is_symlink());
        cache.remove("k");
        assert_eq!(fs::read(&outside).unwrap(), b"precious");
    }

    #[test]
    fn a_reserve_larger_than_the_disk_evicts_everything_older_but_still_stores() {
        let dir = tempfile::tempdir().unwrap();
        let cache = DiskCache::open(dir.path(), 10_000)
            .unwrap()
            .keep_free(u64::MAX);
        cache.put("a", &[1; 100]).unwrap();
        cache.put("b", &[2; 100]).unwrap();
        // No free space is ever enough: each write evicts all older entries first.
        assert!(cache.get("a").is_none());
        assert_eq!(cache.get("b").unwrap(), vec![2; 100]);
        assert_eq!(cache.total_bytes(), 100);
    }

    #[test]
    fn flights_are_shared_per_key() {
        let dir = tempfile::tempdir().unwrap();
        let cache = DiskCache::open(dir.path(), 1000).unwrap();
        let a = cache.flight("x");
        let b = cache.flight("x");
        let c = cache.flight("y");
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &c));
    }
}
