//! Fragments one version has opened, kept for its later takes.
//!
//! Opening a fragment for a take looks up each of its data files and its
//! deletion vector in the dataset cache (string keys, a lock each) and
//! clones its description. A search that returns ten rows did that for
//! every fragment of its hits on every query; a version's fragments never
//! change, so each is now opened once per version and shared.

use crate::fragment::FragmentReader;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

/// The fragments a take has opened, by position in the fragment list it read.
pub(crate) type Readers = BTreeMap<usize, Arc<FragmentReader>>;

/// Above this many kept fragments the memo is cleared before inserting
/// (each entry holds data-file readers the dataset cache holds anyway).
const MAX_KEPT: usize = 4096;

/// Opened fragments of one version, by fragment id.
#[derive(Debug, Default)]
pub(crate) struct OpenedFragments {
    by_id: Mutex<HashMap<u64, Arc<FragmentReader>>>,
}

impl OpenedFragments {
    /// The kept reader of fragment `id`, if it was opened before.
    pub(crate) fn get(&self, id: u64) -> Option<Arc<FragmentReader>> {
        self.lock().get(&id).cloned()
    }

    /// Keeps `reader` of fragment `id` for later takes.
    pub(crate) fn keep(&self, id: u64, reader: Arc<FragmentReader>) {
        let mut kept = self.lock();
        if kept.len() >= MAX_KEPT && !kept.contains_key(&id) {
            kept.clear();
        }
        kept.insert(id, reader);
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<u64, Arc<FragmentReader>>> {
        self.by_id.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
