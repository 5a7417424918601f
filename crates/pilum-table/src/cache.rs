//! Per-dataset caches of open data files and deletion vectors, shared by
//! every version checked out from the same dataset handle.

use crate::deletion::read_deletions;
use crate::error::Result;
use crate::location::DatasetLocation;
use crate::proto;
use pilum_file::FileReader;
use roaring::RoaringBitmap;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Open-file and deletion-vector caches. Data and deletion files are
/// immutable, so entries never go stale.
#[derive(Debug, Default)]
pub struct DatasetCache {
    files: Mutex<HashMap<String, FileReader>>,
    deletions: Mutex<HashMap<String, Arc<RoaringBitmap>>>,
    /// Index segments opened for search.
    pub(crate) segments: crate::index::SegmentCache,
    /// Decoded small scalar columns that takes keep reading.
    pub(crate) hot: Arc<crate::hot_columns::HotColumns>,
}

/// Above this many cached entries a cache is cleared before inserting.
const MAX_ENTRIES: usize = 16_384;

impl DatasetCache {
    /// An open reader of `file` (one request on a miss when its size is known).
    pub async fn file(&self, location: &DatasetLocation, file: &proto::DataFile) -> Result<FileReader> {
        let key = cache_key(file.base_id, &file.path);
        if let Some(reader) = lock(&self.files).get(&key) {
            return Ok(reader.clone());
        }
        let root = location.base(file.base_id)?;
        let reader = crate::metadata_cache::open_file(&root, &file.path, file.size).await?;
        let mut files = lock(&self.files);
        if files.len() >= MAX_ENTRIES {
            files.clear();
        }
        files.insert(key, reader.clone());
        Ok(reader)
    }

    /// The deletion vector of `fragment` (empty when it has none).
    pub async fn deletions(
        &self,
        location: &DatasetLocation,
        fragment: &proto::Fragment,
    ) -> Result<Arc<RoaringBitmap>> {
        let Some(file) = &fragment.deletion else {
            return Ok(Arc::new(RoaringBitmap::new()));
        };
        let key = cache_key(file.base_id, &file.path);
        if let Some(bitmap) = lock(&self.deletions).get(&key) {
            return Ok(bitmap.clone());
        }
        let bitmap = Arc::new(read_deletions(location, fragment).await?);
        let mut deletions = lock(&self.deletions);
        if deletions.len() >= MAX_ENTRIES {
            deletions.clear();
        }
        deletions.insert(key, bitmap.clone());
        Ok(bitmap)
    }
}

/// Files of different roots may share a relative path.
pub(crate) fn cache_key(base_id: u32, path: &str) -> String {
    if base_id == 0 {
        path.to_string()
    } else {
        format!("{base_id}:{path}")
    }
}

/// Locks a mutex, recovering the data if a holder panicked (the maps stay valid).
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
