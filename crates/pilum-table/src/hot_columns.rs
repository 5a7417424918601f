//! Decoded copies of the small scalar columns that takes keep reading.
//!
//! A search returns a few rows per query, and a take of them reads, checks
//! and decodes one chunk per row and column. For a scalar column that takes
//! have touched [`ADMIT_AFTER`] times in one data file, and whose decoded
//! values fit in an eighth of the budget, the file's whole column is decoded
//! once and kept; later takes gather from it. Data files never change, so an
//! entry is never stale; the least recently used go when the budget is full.

use crate::lru_bytes::LruBytes;
use arrow_array::{Array, ArrayRef};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Default budget of a dataset handle's decoded columns.
pub const DEFAULT_HOT_COLUMN_BYTES: usize = 64 << 20;

/// Takes that touch a column of a file before it is decoded whole.
const ADMIT_AFTER: u32 = 4;

/// Columns whose touches are counted at most; past it the counts restart.
const MAX_COUNTED: usize = 16_384;

/// A column by data file (its cache key) and position in that file.
pub(crate) type HotKey = (Arc<str>, usize);

/// What a take should do about one column.
pub(crate) enum HotLookup {
    /// The column is held decoded.
    Hit(ArrayRef),
    /// The column has been touched often enough: decode it whole and insert it.
    Load,
    /// Read the rows the usual way.
    Miss,
}

#[derive(Debug, Default)]
struct State {
    held: LruBytes<HotKey, ArrayRef>,
    /// Takes that read each column not held yet.
    touches: HashMap<HotKey, u32>,
}

/// Decoded columns of the data files a dataset handle took rows from.
#[derive(Debug)]
pub(crate) struct HotColumns {
    budget: AtomicUsize,
    state: Mutex<State>,
}

impl Default for HotColumns {
    fn default() -> Self {
        Self {
            budget: AtomicUsize::new(DEFAULT_HOT_COLUMN_BYTES),
            state: Mutex::default(),
        }
    }
}

impl HotColumns {
    /// Sets the budget, dropping entries at once if it shrank (0 turns the cache off).
    pub fn set_budget(&self, bytes: usize) {
        self.budget.store(bytes, Ordering::Relaxed);
        self.lock().held.shrink_to(bytes);
    }

    /// The budget in bytes.
    pub fn budget(&self) -> usize {
        self.budget.load(Ordering::Relaxed)
    }

    /// Bytes held now.
    pub fn bytes(&self) -> usize {
        self.lock().held.bytes()
    }

    /// Looks `key` up for a take, counting the touch; `decoded_bytes` is
    /// what the whole column would take once decoded.
    pub fn lookup(&self, key: &HotKey, decoded_bytes: u64) -> HotLookup {
        let most = (self.budget() / 8) as u64;
        let mut state = self.lock();
        if let Some(array) = state.held.get(key) {
            return HotLookup::Hit(array);
        }
        if decoded_bytes > most {
            return HotLookup::Miss;
        }
        if state.touches.len() >= MAX_COUNTED && !state.touches.contains_key(key) {
            state.touches.clear();
        }
        let touches = state.touches.entry(key.clone()).or_default();
        *touches += 1;
        if *touches >= ADMIT_AFTER {
            HotLookup::Load
        } else {
            HotLookup::Miss
        }
    }

    /// Keeps the decoded column `key` (unless it is larger than an eighth
    /// of the budget), dropping the least recently used to stay within it.
    pub fn insert(&self, key: HotKey, array: ArrayRef) {
        let budget = self.budget();
        let size = array.get_array_memory_size();
        if size > budget / 8 {
            return;
        }
        let mut state = self.lock();
        state.touches.remove(&key);
        if !state.held.contains(&key) {
            state.held.insert(key, array, size, budget);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::Int64Array;

    fn key(file: &str) -> HotKey {
        (Arc::from(file), 0)
    }

    fn column(rows: i64) -> ArrayRef {
        Arc::new(Int64Array::from_iter_values(0..rows))
    }

    #[test]
    fn a_column_is_loaded_on_its_fourth_touch_and_hit_after() {
        let hot = HotColumns::default();
        for _ in 1..ADMIT_AFTER {
            assert!(matches!(hot.lookup(&key("a"), 800), HotLookup::Miss));
        }
        assert!(matches!(hot.lookup(&key("a"), 800), HotLookup::Load));
        hot.insert(key("a"), column(100));
        let HotLookup::Hit(array) = hot.lookup(&key("a"), 800) else {
            panic!("expected a hit");
        };
        assert_eq!(array.len(), 100);
        assert!(
            matches!(hot.lookup(&key("b"), 800), HotLookup::Miss),
            "other files count apart"
        );
    }

    #[test]
    fn columns_over_an_eighth_of_the_budget_are_never_loaded() {
        let hot = HotColumns::default();
        hot.set_budget(8_000);
        for _ in 0..10 {
            assert!(matches!(hot.lookup(&key("a"), 1_001), HotLookup::Miss));
        }
        hot.insert(key("a"), column(10_000));
        assert_eq!(hot.bytes(), 0, "an oversized array is not kept");
    }

    #[test]
    fn the_least_recently_used_column_goes_first() {
        let hot = HotColumns::default();
        let size = column(100).get_array_memory_size();
        hot.set_budget(8 * size);
        let names: Vec<String> = (0..8).map(|i| format!("f{i}")).collect();
        for name in &names {
            hot.insert(key(name), column(100));
        }
        assert_eq!(hot.bytes(), 8 * size, "eight columns of an eighth fill the budget");
        assert!(
            matches!(hot.lookup(&key("f0"), 0), HotLookup::Hit(_)),
            "f0 is now the newest"
        );
        hot.insert(key("new"), column(100));
        assert!(
            matches!(hot.lookup(&key("f1"), 0), HotLookup::Miss),
            "f1 was the oldest"
        );
        for name in ["f0", "f2", "f7", "new"] {
            assert!(matches!(hot.lookup(&key(name), 0), HotLookup::Hit(_)), "{name}");
        }
        assert_eq!(hot.bytes(), 8 * size);
        hot.set_budget(0);
        assert_eq!(hot.bytes(), 0, "a zero budget empties the cache");
    }
}
