//! A least-recently-used index bounded by total weight and by entry count; it evicts *before* an
//! insert, so the bound holds at every moment, not just eventually.

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;

/// An LRU map with a weight per entry.
#[derive(Debug)]
pub struct Lru<K, V> {
    map: HashMap<K, Slot<V>>,
    order: BTreeMap<u64, K>,
    tick: u64,
    weight: u64,
    max_weight: u64,
    max_entries: usize,
}

#[derive(Debug)]
struct Slot<V> {
    tick: u64,
    weight: u64,
    value: V,
}

impl<K: Hash + Eq + Clone, V> Lru<K, V> {
    /// An empty index holding at most `max_weight` in total and `max_entries` entries.
    pub fn new(max_weight: u64, max_entries: usize) -> Self {
        Self {
            map: HashMap::new(),
            order: BTreeMap::new(),
            // Recency ticks count up from here for new entries and down from the oldest for
            // entries inserted as old, so both have room.
            tick: 1 << 62,
            weight: 0,
            max_weight,
            max_entries,
        }
    }

    /// The value of `key`, marking it most recently used.
    pub fn get(&mut self, key: &K) -> Option<&V> {
        self.tick += 1;
        let slot = self.map.get_mut(key)?;
        self.order.remove(&slot.tick);
        slot.tick = self.tick;
        self.order.insert(self.tick, key.clone());
        Some(&slot.value)
    }

    /// Whether `key` is present (without touching its recency).
    pub fn contains(&self, key: &K) -> bool {
        self.map.contains_key(key)
    }

    /// Insert `key` (replacing any old value), evicting least-recently-used entries first so that the
    /// bounds hold. Returns the evicted entries (and the replaced one), or `Err(value)` if it can never fit.
    pub fn insert(&mut self, key: K, value: V, weight: u64) -> Result<Vec<(K, V)>, V> {
        if weight > self.max_weight || self.max_entries == 0 {
            return Err(value);
        }
        let mut evicted = Vec::new();
        if let Some(old) = self.remove(&key) {
            evicted.push((key.clone(), old));
        }
        while self.weight + weight > self.max_weight || self.map.len() >= self.max_entries {
            match self.pop_oldest() {
                Some(e) => evicted.push(e),
                None => break,
            }
        }
        self.tick += 1;
        self.order.insert(self.tick, key.clone());
        self.map.insert(
            key,
            Slot {
                tick: self.tick,
                weight,
                value,
            },
        );
        self.weight += weight;
        Ok(evicted)
    }

    /// Insert `key` as the *least* recently used entry, unless it is present already or would not fit
    /// without evicting (used when rebuilding from disk, oldest first, while new entries arrive).
    pub fn insert_old(&mut self, key: K, value: V, weight: u64) -> bool {
        if self.map.contains_key(&key)
            || self.weight + weight > self.max_weight
            || self.map.len() >= self.max_entries
        {
            return false;
        }
        let tick = self
            .order
            .keys()
            .next()
            .map_or(self.tick, |t| t.saturating_sub(1));
        if self.order.contains_key(&tick) {
            return false;
        }
        self.order.insert(tick, key.clone());
        self.map.insert(
            key,
            Slot {
                tick,
                weight,
                value,
            },
        );
        self.weight += weight;
        true
    }

    /// Remove `key`.
    pub fn remove(&mut self, key: &K) -> Option<V> {
        let slot = self.map.remove(key)?;
        self.order.remove(&slot.tick);
        self.weight -= slot.weight;
        Some(slot.value)
    }

    /// Remove every entry for which `keep` is false; returns them.
    pub fn remove_where(&mut self, mut drop: impl FnMut(&K, &V) -> bool) -> Vec<(K, V)> {
        let doomed: Vec<K> = self
            .map
            .iter()
            .filter(|(k, s)| drop(k, &s.value))
            .map(|(k, _)| k.clone())
            .collect();
        doomed
            .into_iter()
            .filter_map(|k| self.remove(&k).map(|v| (k, v)))
            .collect()
    }

    /// Remove and return the least recently used entry.
    pub fn pop_oldest(&mut self) -> Option<(K, V)> {
        let (_, key) = self.order.pop_first()?;
        let slot = self.map.remove(&key)?;
        self.weight -= slot.weight;
        Some((key, slot.value))
    }

    /// Total weight held.
    pub fn weight(&self) -> u64 {
        self.weight
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_least_recently_used_and_never_exceeds_bounds() {
        let mut lru = Lru::new(100, 3);
        assert!(lru.insert("a", 1, 40).unwrap().is_empty());
        assert!(lru.insert("b", 2, 40).unwrap().is_empty());
        assert_eq!(lru.get(&"a"), Some(&1));
        // "b" is now the oldest; 40 + 40 + 30 > 100 evicts it.
        assert_eq!(lru.insert("c", 3, 30).unwrap(), vec![("b", 2)]);
        assert_eq!(lru.weight(), 70);
        assert!(lru.insert("d", 4, 101).is_err());
        lru.insert("e", 5, 1).unwrap();
        // Three entries at most.
        assert_eq!(lru.insert("f", 6, 1).unwrap(), vec![("a", 1)]);
        assert_eq!(lru.len(), 3);
        for i in 0..1000u64 {
            lru.insert("k", 0, i % 90).unwrap();
            assert!(lru.weight() <= 100 && lru.len() <= 3);
        }
    }

    #[test]
    fn an_empty_index_takes_many_old_entries() {
        let mut lru = Lru::new(100, 10);
        for k in 0..5 {
            assert!(lru.insert_old(k, (), 10));
        }
        assert_eq!(lru.len(), 5);
        // The last inserted as old is the first evicted.
        assert_eq!(lru.insert(9, (), 60).unwrap(), vec![(4, ())]);
    }

    #[test]
    fn old_entries_go_to_the_back() {
        let mut lru = Lru::new(100, 10);
        lru.insert("new", 1, 10).unwrap();
        assert!(lru.insert_old("old", 2, 10));
        assert!(!lru.insert_old("new", 3, 10));
        assert_eq!(lru.insert("big", 3, 85).unwrap(), vec![("old", 2)]);
        assert_eq!(lru.remove_where(|k, _| *k == "new"), vec![("new", 1)]);
    }
}
