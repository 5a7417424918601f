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
}

/// Above this many cached entries a cache is cleared before inserting.
const MAX_ENTRIES: usize = 16_384;

impl DatasetCache {
    /// An open reader of `file` (one request on a miss when its size is known).
    pub async fn file(&self, location: &DatasetLocation, file: &proto::DataFile) -> Result<FileReader> {
        if let Some(reader) = lock(&self.files).get(&file.path) {
            return Ok(reader.clone());
        }
        let object = location.object(&file.path);
        let reader = if file.size > 0 {
            FileReader::open_location_with_size(&object, file.size).await?
        } else {
            FileReader::open_location(&object).await?
        };
        let mut files = lock(&self.files);
        if files.len() >= MAX_ENTRIES {
            files.clear();
        }
        files.insert(file.path.clone(), reader.clone());
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
        if let Some(bitmap) = lock(&self.deletions).get(&file.path) {
            return Ok(bitmap.clone());
        }
        let bitmap = Arc::new(read_deletions(location, fragment).await?);
        let mut deletions = lock(&self.deletions);
        if deletions.len() >= MAX_ENTRIES {
            deletions.clear();
        }
        deletions.insert(file.path.clone(), bitmap.clone());
        Ok(bitmap)
    }
}

/// Locks a mutex, recovering the data if a holder panicked (the maps stay valid).
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
