//! The disk tier: one file per derivative under `dir/<group>/<key hash>.bin`, written to `dir/tmp`
//! and renamed into place (atomic), indexed by an in-memory LRU that reserves room *before* a file is
//! written, so the folder never holds more than the bound. Readers read whole files; a file evicted
//! while it is being read stays readable until closed (Unix semantics), so no response is cut short.
//! Every file is reached from the folder's descriptor without following symlinks ([`CacheDir`]), so a
//! symlink planted in the folder can make Tessera neither read nor write nor delete outside it.
//! The filesystem's free space bounds it too: before each write, least-recently-used files are deleted
//! until the write leaves `keep_free` bytes free, and a write that still finds the disk full evicts
//! and retries once.

use super::lru::Lru;
use super::{CacheKey, Entry};
use bytes::Bytes;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;
use tessera_source::{CacheDir, EntryKind};

const MAGIC: &str = "TESSERA-CACHE 1";
const TMP: &str = "tmp";

/// The derivative cache on local disk.
#[derive(Debug)]
pub struct DiskCache {
    dir: PathBuf,
    files: CacheDir,
    /// Relative path → file size.
    index: Mutex<Lru<String, u64>>,
    rebuilt: AtomicBool,
    seq: AtomicU64,
    keep_free: u64,
    /// Whether the last write found no room (so a full disk is warned about once, not per request).
    full: AtomicBool,
}

/// What a purge removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Purged {
    /// Files removed.
    pub files: u64,
    /// Bytes removed.
    pub bytes: u64,
}

impl DiskCache {
    /// A cache in `dir` (created if missing) of at most `max_bytes` and `max_files`. The index of what
    /// is already there is rebuilt by [`DiskCache::rebuild`], which the caller runs in the background.
    pub fn open(dir: &Path, max_bytes: u64, max_files: usize) -> io::Result<Self> {
        let files = CacheDir::open(dir)?;
        files.create_dirs(TMP)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            files,
            index: Mutex::new(Lru::new(max_bytes, max_files)),
            rebuilt: AtomicBool::new(false),
            seq: AtomicU64::new(0),
            keep_free: 0,
            full: AtomicBool::new(false),
        })
    }

    /// Keep at least `bytes` free on the cache's filesystem (evicting to do so).
    pub fn keep_free(mut self, bytes: u64) -> Self {
        self.keep_free = bytes;
        self
    }

    fn relative(key: &CacheKey) -> String {
        format!("{}/{}", key.group, key.file_name())
    }

    /// The entry for `key`, if on disk.
    pub async fn get(&self, key: &CacheKey) -> Option<Entry> {
        let rel = Self::relative(key);
        let indexed = self.lock().get(&rel).is_some();
        if !indexed && self.rebuilt.load(Ordering::Acquire) {
            return None;
        }
        let (files, path) = (self.files.clone(), rel.clone());
        let read = tokio::task::spawn_blocking(move || files.read(&path)).await;
        match read.unwrap_or_else(|e| Err(io::Error::other(e))) {
            Ok(data) => {
                let size = data.len() as u64;
                let entry = decode(&data, key)?;
                // Record the use on disk too, so recency survives a restart.
                let (files, path) = (self.files.clone(), rel.clone());
                let _ = tokio::task::spawn_blocking(move || {
                    files
                        .open_file(&path)
                        .and_then(|f| f.set_modified(SystemTime::now()))
                })
                .await;
                if !indexed {
                    // Found before the start-up scan reached it.
                    self.remember(rel, size);
                }
                Some(entry)
            }
            Err(_) => {
                // Purged by `tessera cache purge` or by hand: forget it.
                self.lock().remove(&rel);
                None
            }
        }
    }

    /// Store `entry` under `key`: reserve room (evicting), delete the evicted files, make room on the
    /// filesystem, write a temporary file and rename it into place; a write that finds the disk full
    /// evicts and is retried once. Errors are logged and otherwise ignored: the cache is best effort.
    pub async fn put(&self, key: &CacheKey, entry: &Entry) {
        let data = encode(key, entry);
        let size = data.len() as u64;
        let rel = Self::relative(key);
        let evicted = match self.lock().insert(rel.clone(), size, size) {
            Ok(evicted) => evicted,
            Err(_) => return,
        };
        for (old, _) in evicted {
            let _ = self.files.remove_file(&old);
        }
        let data: Arc<[u8]> = data.into();
        let mut result = Ok(());
        for attempt in 0..2 {
            // The second attempt follows a full disk: free at least this entry's size besides.
            let extra = if attempt == 0 { 0 } else { size };
            if !self.make_room(&rel, size, extra) {
                result = Err(io::Error::from(io::ErrorKind::StorageFull));
                break;
            }
            result = self.write(&rel, &key.group, Arc::clone(&data)).await;
            match &result {
                Err(e) if tessera_source::is_disk_full(e) => continue,
                _ => break,
            }
        }
        match result {
            Ok(()) => self.full.store(false, Ordering::Relaxed),
            Err(e) => {
                self.lock().remove(&rel);
                if !tessera_source::is_disk_full(&e) {
                    tracing::warn!(error = %e, "writing to the disk cache failed");
                } else if !self.full.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        dir = %self.dir.display(),
                        "the disk cache's filesystem is full even with the cache evicted; not caching until there is room"
                    );
                }
            }
        }
    }

    /// Write `data` to a temporary file and rename it to `rel` in `group`'s folder, all from the
    /// cache folder's descriptor.
    async fn write(&self, rel: &str, group: &str, data: Arc<[u8]>) -> io::Result<()> {
        let tmp = format!(
            "{TMP}/{}-{}",
            std::process::id(),
            self.seq.fetch_add(1, Ordering::Relaxed)
        );
        let (files, target, group) = (self.files.clone(), rel.to_string(), group.to_string());
        tokio::task::spawn_blocking(move || {
            let written = files.create_dirs(&group).and_then(|()| {
                files.create_new(&tmp)?.write_all(&data)?;
                files.rename(&tmp, &target)
            });
            if written.is_err() {
                let _ = files.remove_file(&tmp);
            }
            written
        })
        .await
        .unwrap_or_else(|e| Err(io::Error::other(e)))
    }

    /// Delete least-recently-used files (never `keep`, the entry about to be written) until writing
    /// `incoming` bytes leaves `keep_free` bytes free on the filesystem, and at least `extra` bytes were
    /// freed. Returns whether there is room; unknown free space counts as room.
    fn make_room(&self, keep: &str, incoming: u64, extra: u64) -> bool {
        let mut freed = 0u64;
        // Bounded: each round deletes at least one file, or stops.
        for _ in 0..1024 {
            let Ok(available) = tessera_source::available_bytes(&self.dir) else {
                return true;
            };
            let short = tessera_source::shortfall(available, self.keep_free, incoming)
                .max(extra.saturating_sub(freed));
            if short == 0 {
                return true;
            }
            let victims = self.pop_oldest(keep, short);
            if victims.is_empty() {
                return false;
            }
            for (old, size) in victims {
                if self.files.remove_file(&old).is_ok() {
                    freed += size;
                }
            }
        }
        false
    }

    /// Take least-recently-used entries other than `keep` out of the index until they hold `bytes`.
    fn pop_oldest(&self, keep: &str, bytes: u64) -> Vec<(String, u64)> {
        let mut index = self.lock();
        let mut victims = Vec::new();
        let mut total = 0u64;
        while total < bytes {
            let Some((rel, size)) = index.pop_oldest() else {
                break;
            };
            if rel == keep {
                // The newest entry; nothing older is left.
                let _ = index.insert(rel, size, size);
                break;
            }
            // Files take whole blocks: count at least one per file.
            total += size.max(4096);
            victims.push((rel, size));
        }
        victims
    }

    /// Remove the derivatives of `group`, or everything when `None`.
    pub async fn purge(&self, group: Option<&str>) -> Purged {
        let prefix = group.map(|g| format!("{g}/"));
        let doomed = self
            .lock()
            .remove_where(|rel, _| prefix.as_ref().is_none_or(|p| rel.starts_with(p)));
        drop(doomed);
        let dir = self.dir.clone();
        let group = group.map(str::to_string);
        tokio::task::spawn_blocking(move || purge_dir(&dir, group.as_deref()))
            .await
            .unwrap_or_default()
    }

    /// Index what is on disk (by modification time, which a hit refreshes) and delete leftover temporary
    /// files and whatever no longer fits the bounds.
    /// Runs in the background at start-up; entries written meanwhile stay the most recent.
    pub fn rebuild(&self) {
        let mut found: Vec<(SystemTime, String, u64)> = Vec::new();
        for group in entries(&self.files, "") {
            let name = group.name;
            if name == TMP {
                for tmp in entries(&self.files, TMP) {
                    let _ = self.files.remove_file(&format!("{TMP}/{}", tmp.name));
                }
                continue;
            }
            if group.kind != EntryKind::Dir {
                continue;
            }
            for file in entries(&self.files, &name) {
                if file.kind == EntryKind::File {
                    found.push((file.modified, format!("{name}/{}", file.name), file.len));
                }
            }
        }
        // Newest first, each inserted behind everything indexed so far.
        found.sort_by_key(|f| std::cmp::Reverse(f.0));
        let mut dropped = Vec::new();
        for (_, rel, size) in found {
            let mut index = self.lock();
            if !index.contains(&rel) && !index.insert_old(rel.clone(), size, size) {
                dropped.push(rel);
            }
        }
        for rel in dropped {
            let _ = self.files.remove_file(&rel);
        }
        self.rebuilt.store(true, Ordering::Release);
    }

    /// Bytes and files indexed.
    pub fn usage(&self) -> (u64, usize) {
        let index = self.lock();
        (index.weight(), index.len())
    }

    fn remember(&self, rel: String, size: u64) {
        let evicted = self.lock().insert(rel, size, size).unwrap_or_default();
        for (old, _) in evicted {
            let _ = self.files.remove_file(&old);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Lru<String, u64>> {
        self.index.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Delete the files of `group` (or of every group) under `dir`, without an index: used by the server's
/// purge and by `tessera cache purge` alike.
pub fn purge_dir(dir: &Path, group: Option<&str>) -> Purged {
    let mut purged = Purged::default();
    if !dir.is_dir() {
        return purged;
    }
    let Ok(files) = CacheDir::open(dir) else {
        return purged;
    };
    for entry in entries(&files, "") {
        let name = entry.name;
        if name == TMP || group.is_some_and(|g| g != name) || entry.kind != EntryKind::Dir {
            continue;
        }
        for file in entries(&files, &name) {
            let size = if file.kind == EntryKind::File {
                file.len
            } else {
                0
            };
            if file.kind != EntryKind::Dir
                && files.remove_file(&format!("{name}/{}", file.name)).is_ok()
            {
                purged.files += 1;
                purged.bytes += size;
            }
        }
        let _ = files.remove_dir(&name);
    }
    purged
}

/// The entries of the folder `rel` of the cache, none if it cannot be listed.
fn entries(files: &CacheDir, rel: &str) -> Vec<tessera_source::Entry> {
    files.entries(rel).unwrap_or_default()
}

#[cfg(test)]
fn read_dir(dir: &Path) -> impl Iterator<Item = std::fs::DirEntry> {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
}

fn encode(key: &CacheKey, entry: &Entry) -> Vec<u8> {
    let head = format!(
        "{MAGIC}\n{}\n{}\n{}\n",
        key.text, entry.media_type, entry.canonical
    );
    let mut data = Vec::with_capacity(head.len() + entry.body.len());
    data.extend_from_slice(head.as_bytes());
    data.extend_from_slice(&entry.body);
    data
}

/// Parse a cache file, checking that it holds `key` (a hash collision or a foreign file is a miss).
fn decode(data: &[u8], key: &CacheKey) -> Option<Entry> {
    let mut rest = data;
    let mut line = || {
        let end = rest.iter().position(|&b| b == b'\n')?;
        let text = std::str::from_utf8(&rest[..end]).ok()?;
        rest = &rest[end + 1..];
        Some(text.to_string())
    };
    if line()? != MAGIC || line()? != key.text {
        return None;
    }
    let media_type = line()?;
    let canonical = line()?;
    Some(Entry {
        media_type,
        canonical,
        body: Bytes::copy_from_slice(rest),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::key::SourceVersion;

    fn key(n: u32, group: &str) -> CacheKey {
        CacheKey::new(
            "3",
            group,
            SourceVersion {
                mtime_ns: 1,
                size: 2,
                tag: 0,
            },
            &format!("full/{n},/0/default.jpg"),
        )
    }

    fn entry(n: usize) -> Entry {
        Entry {
            media_type: "image/jpeg".into(),
            canonical: "c".into(),
            body: Bytes::from(vec![7u8; n]),
        }
    }

    fn du(dir: &Path) -> u64 {
        read_dir(dir)
            .flat_map(|g| read_dir(&g.path()).collect::<Vec<_>>())
            .map(|f| f.metadata().map_or(0, |m| m.len()))
            .sum()
    }

    #[tokio::test]
    async fn stays_bounded_survives_restart_and_purges() {
        let dir = tempfile::tempdir().unwrap();
        let cache = DiskCache::open(dir.path(), 5_000, 100).unwrap();
        cache.rebuild();
        for n in 0..50 {
            cache.put(&key(n, "g1"), &entry(900)).await;
            assert!(du(dir.path()) <= 5_000);
            assert_eq!(cache.get(&key(n, "g1")).await.unwrap().body.len(), 900);
        }
        assert!(cache.get(&key(0, "g1")).await.is_none());
        cache.put(&key(1, "g2"), &entry(10)).await;
        let (bytes, files) = cache.usage();
        assert!(bytes <= 5_000 && files >= 2);

        let again = DiskCache::open(dir.path(), 5_000, 100).unwrap();
        // Before the scan, entries on disk are still found.
        assert!(again.get(&key(49, "g1")).await.is_some());
        again.rebuild();
        assert_eq!(again.usage(), (bytes, files));

        let purged = again.purge(Some("g1")).await;
        assert_eq!(purged.files as usize, files - 1);
        assert!(again.get(&key(49, "g1")).await.is_none());
        assert!(again.get(&key(1, "g2")).await.is_some());
        assert_eq!(again.purge(None).await.files, 1);
        assert_eq!(du(dir.path()), 0);
    }

    #[tokio::test]
    async fn the_free_space_reserve_evicts_and_a_full_disk_stores_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let roomy = DiskCache::open(dir.path(), 100_000, 100)
            .unwrap()
            .keep_free(0);
        roomy.rebuild();
        for n in 0..3 {
            roomy.put(&key(n, "g"), &entry(900)).await;
        }
        assert_eq!(roomy.usage().1, 3);
        // A reserve no filesystem can keep: every older entry is evicted, and the new one is not
        // written (there is no room for it), instead of failing on every request.
        let full = DiskCache::open(dir.path(), 100_000, 100)
            .unwrap()
            .keep_free(u64::MAX);
        full.rebuild();
        assert_eq!(full.usage().1, 3);
        full.put(&key(9, "g"), &entry(900)).await;
        assert_eq!(full.usage(), (0, 0));
        assert_eq!(du(dir.path()), 0);
        assert!(full.get(&key(9, "g")).await.is_none());
        assert!(full.full.load(Ordering::Relaxed));
    }

    #[tokio::test]
    async fn recency_survives_a_restart_and_a_smaller_bound() {
        let dir = tempfile::tempdir().unwrap();
        let cache = DiskCache::open(dir.path(), 10_000, 100).unwrap();
        cache.rebuild();
        for n in 0..3 {
            cache.put(&key(n, "g"), &entry(900)).await;
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        // Entry 0 was written first but used last.
        assert!(cache.get(&key(0, "g")).await.is_some());
        let smaller = DiskCache::open(dir.path(), 2_500, 100).unwrap();
        smaller.rebuild();
        assert_eq!(smaller.usage().1, 2);
        assert!(smaller.get(&key(0, "g")).await.is_some());
        assert!(smaller.get(&key(2, "g")).await.is_some());
        assert!(smaller.get(&key(1, "g")).await.is_none());
        assert!(du(dir.path()) <= 2_500);
    }

    #[tokio::test]
    async fn planted_symlinks_lead_nowhere_outside() {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        let cache_dir = dir.path().join("cache");
        let cache = DiskCache::open(&cache_dir, 100_000, 100).unwrap();
        cache.rebuild();
        // The group folder of g1 is a symlink out; so is the entry file of key 2 in group g2.
        let k1 = key(1, "g1");
        std::os::unix::fs::symlink(&outside, cache_dir.join("g1")).unwrap();
        let k2 = key(2, "g2");
        std::fs::create_dir(cache_dir.join("g2")).unwrap();
        let victim = outside.join("victim");
        std::fs::write(&victim, encode(&k2, &entry(5))).unwrap();
        std::os::unix::fs::symlink(&victim, cache_dir.join(DiskCache::relative(&k2))).unwrap();
        let victim_in_g1 = outside.join(k1.file_name());
        std::fs::write(&victim_in_g1, encode(&k1, &entry(6))).unwrap();

        // Nothing is read through them (both outside files are valid cache files for their keys).
        assert!(cache.get(&k1).await.is_none());
        assert!(cache.get(&k2).await.is_none());
        // A write into the symlinked group fails and writes nothing outside; a write over the planted
        // entry file replaces the symlink, not its target.
        cache.put(&k1, &entry(7)).await;
        cache.put(&k2, &entry(8)).await;
        assert_eq!(cache.get(&k2).await.unwrap().body.len(), 8);
        let names: Vec<String> = std::fs::read_dir(&outside)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
        assert_eq!(std::fs::read(&victim).unwrap(), encode(&k2, &entry(5)));
        // A purge deletes nothing through the symlinked group.
        purge_dir(&cache_dir, None);
        assert!(victim_in_g1.exists() && victim.exists());
    }
}
