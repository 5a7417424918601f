//! Loaded index partitions, bounded by bytes: the least recently used are
//! dropped when the cache passes its budget, and read again from their
//! index file when a query probes them next. Index files never change, so
//! an entry is never stale.

use crate::lru_bytes::LruBytes;
use pilum_index::{Partition, Payload};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Default budget of a dataset handle's loaded partitions.
pub const DEFAULT_INDEX_CACHE_BYTES: usize = 4 << 30;

/// A partition by segment uuid and number.
type Key = (Arc<str>, u32);

/// Loaded partitions of every segment a dataset handle searched.
#[derive(Debug)]
pub(crate) struct PartitionCache {
    budget: AtomicUsize,
    entries: Mutex<LruBytes<Key, Arc<Partition>>>,
}

impl Default for PartitionCache {
    fn default() -> Self {
        Self {
            budget: AtomicUsize::new(DEFAULT_INDEX_CACHE_BYTES),
            entries: Mutex::default(),
        }
    }
}

impl PartitionCache {
    /// Sets the budget, dropping entries at once if it shrank.
    pub fn set_budget(&self, bytes: usize) {
        self.budget.store(bytes, Ordering::Relaxed);
        self.lock().shrink_to(bytes);
    }

    /// The budget in bytes.
    pub fn budget(&self) -> usize {
        self.budget.load(Ordering::Relaxed)
    }

    /// Bytes held now.
    pub fn bytes(&self) -> usize {
        self.lock().bytes()
    }

    /// Partition `number` of segment `uuid`, if loaded (marked as used).
    pub fn get(&self, uuid: &Arc<str>, number: u32) -> Option<Arc<Partition>> {
        self.lock().get(&(uuid.clone(), number))
    }

    /// Keeps `partition` (unless it alone exceeds the budget), dropping the
    /// least recently used entries to stay within the budget.
    pub fn insert(&self, uuid: &Arc<str>, number: u32, partition: Arc<Partition>) {
        let size = partition_bytes(&partition);
        let budget = self.budget();
        self.lock().insert((uuid.clone(), number), partition, size, budget);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LruBytes<Key, Arc<Partition>>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Memory a loaded partition holds, about.
fn partition_bytes(partition: &Partition) -> usize {
    let payload = match &partition.payload {
        Payload::Vectors(values) => values.len() * 4,
        Payload::Codes(codes) => codes.len(),
        Payload::FastScan(packed) => packed.byte_size(),
        Payload::Graph(graph) => graph.codes.len() + 4 * (graph.graph.links().len() + graph.graph.starts().len()),
    };
    partition.ids.len() * 8 + payload + 64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn partition(n: usize) -> Arc<Partition> {
        Arc::new(Partition {
            ids: (0..n as u64).collect(),
            payload: Payload::Codes(vec![0; n * 8]),
        })
    }

    #[test]
    fn least_recently_used_partitions_go_first_and_bytes_stay_within_budget() {
        let cache = PartitionCache::default();
        let one = partition_bytes(&partition(10));
        cache.set_budget(3 * one);
        let (a, b): (Arc<str>, Arc<str>) = (Arc::from("a"), Arc::from("b"));
        cache.insert(&a, 0, partition(10));
        cache.insert(&a, 1, partition(10));
        cache.insert(&b, 0, partition(10));
        assert!(cache.get(&a, 0).is_some(), "a/0 becomes the most recent");
        cache.insert(&b, 1, partition(10));
        assert!(cache.get(&a, 1).is_none(), "a/1 was the least recently used");
        assert!(cache.get(&a, 0).is_some() && cache.get(&b, 0).is_some() && cache.get(&b, 1).is_some());
        assert_eq!(cache.bytes(), 3 * one);
        cache.insert(&a, 2, partition(1000));
        assert!(cache.get(&a, 2).is_none(), "a partition over the budget is not kept");
        cache.set_budget(one);
        assert_eq!(cache.bytes(), one);
        cache.set_budget(0);
        assert_eq!(cache.bytes(), 0);
    }
}
