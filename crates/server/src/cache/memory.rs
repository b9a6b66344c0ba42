//! The memory tier: small hot responses, bounded by bytes and entries.

use super::lru::Lru;
use super::{CacheKey, Entry};
use std::sync::{Arc, Mutex, PoisonError};

/// Small rendered responses kept in memory.
#[derive(Debug)]
pub struct MemoryCache {
    lru: Mutex<Lru<String, (String, Arc<Entry>)>>,
    max_entry_bytes: u64,
}

impl MemoryCache {
    /// A tier of at most `max_bytes` in total, holding responses of at most `max_entry_bytes`.
    pub fn new(max_bytes: u64, max_entries: usize, max_entry_bytes: u64) -> Self {
        Self {
            lru: Mutex::new(Lru::new(max_bytes, max_entries)),
            max_entry_bytes,
        }
    }

    /// The entry for `key`, if held.
    pub fn get(&self, key: &CacheKey) -> Option<Arc<Entry>> {
        let mut lru = self.lru.lock().unwrap_or_else(PoisonError::into_inner);
        lru.get(&key.text).map(|(_, e)| Arc::clone(e))
    }

    /// Keep `entry` if it is small enough.
    pub fn put(&self, key: &CacheKey, entry: Arc<Entry>) {
        let weight = entry.weight() + key.text.len() as u64;
        if weight > self.max_entry_bytes {
            return;
        }
        let mut lru = self.lru.lock().unwrap_or_else(PoisonError::into_inner);
        let _ = lru.insert(key.text.clone(), (key.group.clone(), entry), weight);
    }

    /// Drop every entry of `group`, or all when `None`; returns how many.
    pub fn purge(&self, group: Option<&str>) -> usize {
        let mut lru = self.lru.lock().unwrap_or_else(PoisonError::into_inner);
        lru.remove_where(|_, (g, _)| group.is_none_or(|want| want == g))
            .len()
    }

    /// Bytes and entries held.
    pub fn usage(&self) -> (u64, usize) {
        let lru = self.lru.lock().unwrap_or_else(PoisonError::into_inner);
        (lru.weight(), lru.len())
    }
}
