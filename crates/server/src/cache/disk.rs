//! The disk tier: one file per derivative under `dir/<group>/<key hash>.bin`, written to `dir/tmp`
//! and renamed into place (atomic), indexed by an in-memory LRU that reserves room *before* a file is
//! written, so the folder never holds more than the bound. Readers read whole files; a file evicted
//! while it is being read stays readable until closed (Unix semantics), so no response is cut short.

use super::lru::Lru;
use super::{CacheKey, Entry};
use bytes::Bytes;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::SystemTime;

const MAGIC: &str = "TESSERA-CACHE 1";
const TMP: &str = "tmp";

/// The derivative cache on local disk.
#[derive(Debug)]
pub struct DiskCache {
    dir: PathBuf,
    index: Mutex<Lru<String, ()>>,
    rebuilt: AtomicBool,
    seq: AtomicU64,
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
        std::fs::create_dir_all(dir.join(TMP))?;
        Ok(Self {
            dir: dir.to_path_buf(),
            index: Mutex::new(Lru::new(max_bytes, max_files)),
            rebuilt: AtomicBool::new(false),
            seq: AtomicU64::new(0),
        })
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
        let path = self.dir.join(&rel);
        match tokio::fs::read(&path).await {
            Ok(data) => {
                let size = data.len() as u64;
                let entry = decode(&data, key)?;
                // Record the use on disk too, so recency survives a restart.
                let _ = tokio::task::spawn_blocking(move || {
                    std::fs::File::open(path).and_then(|f| f.set_modified(SystemTime::now()))
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

    /// Store `entry` under `key`: reserve room (evicting), delete the evicted files, write a temporary
    /// file and rename it into place. Errors are logged and otherwise ignored: the cache is best effort.
    pub async fn put(&self, key: &CacheKey, entry: &Entry) {
        let data = encode(key, entry);
        let rel = Self::relative(key);
        let evicted = match self.lock().insert(rel.clone(), (), data.len() as u64) {
            Ok(evicted) => evicted,
            Err(()) => return,
        };
        for (old, ()) in evicted {
            let _ = tokio::fs::remove_file(self.dir.join(old)).await;
        }
        let tmp = self.dir.join(TMP).join(format!(
            "{}-{}",
            std::process::id(),
            self.seq.fetch_add(1, Ordering::Relaxed)
        ));
        let target = self.dir.join(&rel);
        let result = async {
            if let Some(parent) = target.parent() {
                tokio::fs::create_dir_all(parent).await?;
            }
            tokio::fs::write(&tmp, &data).await?;
            tokio::fs::rename(&tmp, &target).await
        }
        .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, "writing to the disk cache failed");
            let _ = tokio::fs::remove_file(&tmp).await;
            self.lock().remove(&rel);
        }
    }

    /// Remove the derivatives of `group`, or everything when `None`.
    pub async fn purge(&self, group: Option<&str>) -> Purged {
        let prefix = group.map(|g| format!("{g}/"));
        let doomed = self
            .lock()
            .remove_where(|rel, ()| prefix.as_ref().is_none_or(|p| rel.starts_with(p)));
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
        for group in read_dir(&self.dir) {
            let name = group.file_name().to_string_lossy().into_owned();
            let path = group.path();
            if name == TMP {
                for tmp in read_dir(&path) {
                    let _ = std::fs::remove_file(tmp.path());
                }
                continue;
            }
            if !path.is_dir() {
                continue;
            }
            for file in read_dir(&path) {
                if let Ok(meta) = file.metadata() {
                    let rel = format!("{name}/{}", file.file_name().to_string_lossy());
                    let mtime = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
                    found.push((mtime, rel, meta.len()));
                }
            }
        }
        // Newest first, each inserted behind everything indexed so far.
        found.sort_by_key(|f| std::cmp::Reverse(f.0));
        let mut dropped = Vec::new();
        for (_, rel, size) in found {
            let mut index = self.lock();
            if !index.contains(&rel) && !index.insert_old(rel.clone(), (), size) {
                dropped.push(rel);
            }
        }
        for rel in dropped {
            let _ = std::fs::remove_file(self.dir.join(rel));
        }
        self.rebuilt.store(true, Ordering::Release);
    }

    /// Bytes and files indexed.
    pub fn usage(&self) -> (u64, usize) {
        let index = self.lock();
        (index.weight(), index.len())
    }

    fn remember(&self, rel: String, size: u64) {
        let evicted = self.lock().insert(rel, (), size).unwrap_or_default();
        for (old, ()) in evicted {
            let _ = std::fs::remove_file(self.dir.join(old));
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Lru<String, ()>> {
        self.index.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Delete the files of `group` (or of every group) under `dir`, without an index: used by the server's
/// purge and by `tessera cache purge` alike.
pub fn purge_dir(dir: &Path, group: Option<&str>) -> Purged {
    let mut purged = Purged::default();
    for entry in read_dir(dir) {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name == TMP || group.is_some_and(|g| g != name) || !entry.path().is_dir() {
            continue;
        }
        for file in read_dir(&entry.path()) {
            let size = file.metadata().map_or(0, |m| m.len());
            if std::fs::remove_file(file.path()).is_ok() {
                purged.files += 1;
                purged.bytes += size;
            }
        }
        let _ = std::fs::remove_dir(entry.path());
    }
    purged
}

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
}
