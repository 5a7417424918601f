//! A map bounded by bytes: each entry has a size, and the least recently
//! used entries go first when the entries would pass a budget.

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;

/// Entries with sizes, ordered by last use.
#[derive(Debug)]
pub(crate) struct LruBytes<K, V> {
    /// Key → (value, size in bytes, last use).
    map: HashMap<K, (V, usize, u64)>,
    /// Last use → key, oldest first.
    order: BTreeMap<u64, K>,
    bytes: usize,
    tick: u64,
}

impl<K, V> Default for LruBytes<K, V> {
    fn default() -> Self {
        Self {
            map: HashMap::new(),
            order: BTreeMap::new(),
            bytes: 0,
            tick: 0,
        }
    }
}

impl<K: Hash + Eq + Clone, V: Clone> LruBytes<K, V> {
    /// The value of `key`, marked as used now.
    pub fn get(&mut self, key: &K) -> Option<V> {
        self.tick += 1;
        let tick = self.tick;
        let entry = self.map.get_mut(key)?;
        let old = std::mem::replace(&mut entry.2, tick);
        let value = entry.0.clone();
        self.order.remove(&old);
        self.order.insert(tick, key.clone());
        Some(value)
    }

    /// Whether `key` is held (without marking it used).
    pub fn contains(&self, key: &K) -> bool {
        self.map.contains_key(key)
    }

    /// Keeps `value` of `size` bytes under `key` (replacing an older value)
    /// unless it alone passes `budget`, then drops the least recently used
    /// entries until at most `budget` bytes are held.
    pub fn insert(&mut self, key: K, value: V, size: usize, budget: usize) {
        if size > budget {
            return;
        }
        self.tick += 1;
        let tick = self.tick;
        if let Some((_, old_size, old_tick)) = self.map.insert(key.clone(), (value, size, tick)) {
            self.bytes -= old_size;
            self.order.remove(&old_tick);
        }
        self.order.insert(tick, key);
        self.bytes += size;
        self.shrink_to(budget);
    }

    /// Drops the least recently used entries until at most `budget` bytes are held.
    pub fn shrink_to(&mut self, budget: usize) {
        while self.bytes > budget {
            let Some((_, key)) = self.order.pop_first() else {
                break;
            };
            if let Some((_, size, _)) = self.map.remove(&key) {
                self.bytes -= size;
            }
        }
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_least_recently_used_go_first_and_replacements_count_once() {
        let mut lru: LruBytes<&str, u32> = LruBytes::default();
        lru.insert("a", 1, 10, 30);
        lru.insert("b", 2, 10, 30);
        lru.insert("c", 3, 10, 30);
        assert_eq!(lru.get(&"a"), Some(1), "a becomes the most recent");
        lru.insert("d", 4, 10, 30);
        assert_eq!(lru.get(&"b"), None, "b was the least recently used");
        lru.insert("a", 5, 10, 30);
        assert_eq!((lru.get(&"a"), lru.bytes()), (Some(5), 30), "a replaced, counted once");
        lru.insert("big", 6, 31, 30);
        assert!(!lru.contains(&"big"), "an entry over the budget is not kept");
        lru.shrink_to(10);
        assert_eq!(lru.bytes(), 10);
        assert_eq!(lru.get(&"a"), Some(5), "the most recent stays");
    }
}
